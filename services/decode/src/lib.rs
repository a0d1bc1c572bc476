//! Media decoding: the only code in Vigil that parses untrusted bytes.
//!
//! It sniffs the format from the bytes (never trusting the declared content
//! type), enforces byte and pixel limits *before* allocating pixel buffers
//! (dimensions are read from the header first; the decoder then runs under
//! an allocation cap), decodes only the first frame of animations, and
//! converts every supported image to packed 8-bit RGB the way Pillow's
//! `convert("RGB")` does, because that is what the PDQ reference hashes:
//!
//! * alpha is dropped, never composited;
//! * palette images are expanded to their colours (not their indices);
//! * grey is replicated into R, G and B;
//! * 16-bit grey (Pillow mode `I;16`) is clipped to 255, not scaled;
//! * other 16-bit samples (RGB, RGBA, grey+alpha) keep their high byte.
//!
//! EXIF orientation is not applied by default, like the reference; set
//! [`DecodeOptions::apply_exif_orientation`] to apply it.
//!
//! Any input, however malformed, gives either an image or a typed
//! [`DecodeError`]. Every call into a third-party decoder runs inside
//! [`contain`]: a panic there (a decoder bug an uploader found) becomes
//! [`DecodeError::DecoderPanic`] instead of unwinding into the caller.
//! Aborts, stack overflows and crashes in C code cannot be caught this way;
//! the worker's attempt count stops those (docs/hardening.md).
#![forbid(unsafe_code)]

use image::{DynamicImage, ImageDecoder};

pub mod luma;
mod tiff_palette;
pub mod video;
mod webp;

pub use luma::{decode_for_hash, DecodedForHash, HashPixels, LumaImage};

pub use image::RgbaImage;

pub use image::RgbImage;

/// Limits applied before any pixel buffer is allocated.
///
/// The pixel budget, not a per-side limit, decides what is too big: a
/// 1 x 1,000,000 strip needs no more memory than a 1000 x 1000 square, and
/// the reference hashes both. An image passes when its width × height is
/// within `max_pixels` and its estimated peak memory (the decoder's own
/// buffer, the RGB conversion and scratch: [`peak_bytes`]) within
/// `max_memory_bytes`; the decoder then runs under that allocation cap too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Memory one decode may use for pixel buffers, in bytes.
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    /// 50 MB files; 40 megapixels; 256 MiB of pixel buffers (a 40 MP RGBA
    /// PNG needs about 280 MiB, an RGB one or a JPEG about 160 MiB).
    fn default() -> Self {
        Limits {
            max_bytes: 50 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_memory_bytes: 256 << 20,
        }
    }
}

/// The widest or tallest image any decoder here accepts (the formats' own
/// field widths allow more; the pixel budget is what bounds memory).
pub const MAX_SIDE: u32 = 1 << 24;

/// Estimated peak bytes of pixel buffers for decoding a `width` x `height`
/// image whose decoder produces `native_bytes_per_pixel` bytes per pixel:
/// the decoder's buffer, the packed RGB copy made from it (none when the
/// decoder already produces RGB8), and a fixed 16 MiB of decoder scratch
/// (row buffers, Huffman and LZW tables).
pub fn peak_bytes(width: u32, height: u32, native_bytes_per_pixel: u64) -> u64 {
    let pixels = u64::from(width) * u64::from(height);
    let conversion = if native_bytes_per_pixel == 3 { 0 } else { 3 };
    pixels.saturating_mul(native_bytes_per_pixel + conversion) + (16 << 20)
}

/// The container format found by sniffing the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Tiff,
}

impl MediaFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaFormat::Jpeg => "jpeg",
            MediaFormat::Png => "png",
            MediaFormat::Gif => "gif",
            MediaFormat::Webp => "webp",
            MediaFormat::Bmp => "bmp",
            MediaFormat::Tiff => "tiff",
        }
    }
}

/// Why a piece of media could not be decoded. `kind()` is a bounded label
/// suitable for metrics and the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input is {size} bytes, over the limit of {limit}")]
    TooManyBytes { size: usize, limit: usize },
    #[error("image is {width}x{height}, over the limits")]
    TooManyPixels { width: u32, height: u32 },
    #[error("empty input")]
    Empty,
    #[error("unsupported or unrecognised media format")]
    UnsupportedFormat,
    #[error("corrupt {format} data: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    #[error("{format} image needs more memory than the limits allow: {detail}")]
    LimitExceeded {
        format: &'static str,
        detail: String,
    },
    #[error("unsupported {format} feature: {detail}")]
    UnsupportedFeature {
        format: &'static str,
        detail: String,
    },
    /// A third-party decoder panicked on this input: a decoder bug, most
    /// likely found on purpose. The panic was contained; the upload is
    /// handled like any other undecodable one.
    #[error("the {format} decoder failed on this input (a decoder bug; contained)")]
    DecoderPanic { format: &'static str },
}

impl DecodeError {
    /// A short, bounded label for metrics and dead-letter records.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooManyBytes { .. } => "too_many_bytes",
            DecodeError::TooManyPixels { .. } => "too_many_pixels",
            DecodeError::Empty => "empty",
            DecodeError::UnsupportedFormat => "unsupported_format",
            DecodeError::Corrupt { .. } => "corrupt",
            DecodeError::LimitExceeded { .. } => "limit_exceeded",
            DecodeError::UnsupportedFeature { .. } => "unsupported_feature",
            DecodeError::DecoderPanic { .. } => "decoder_panic",
        }
    }
}

/// A decoded still image (first frame for animations), as packed RGB8.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub format: MediaFormat,
    pub rgb: RgbImage,
}

/// Options beyond the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Rotate/flip by the EXIF orientation tag. Off by default: the PDQ
    /// reference (C++ and `pdqhash` on Pillow) hashes the stored pixels.
    pub apply_exif_orientation: bool,
}

/// Identify the format from magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<MediaFormat> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Some(MediaFormat::Jpeg),
        image::ImageFormat::Png => Some(MediaFormat::Png),
        image::ImageFormat::Gif => Some(MediaFormat::Gif),
        image::ImageFormat::WebP => Some(MediaFormat::Webp),
        image::ImageFormat::Bmp => Some(MediaFormat::Bmp),
        image::ImageFormat::Tiff => Some(MediaFormat::Tiff),
        _ => None,
    }
}

fn image_format(format: MediaFormat) -> image::ImageFormat {
    match format {
        MediaFormat::Jpeg => image::ImageFormat::Jpeg,
        MediaFormat::Png => image::ImageFormat::Png,
        MediaFormat::Gif => image::ImageFormat::Gif,
        MediaFormat::Webp => image::ImageFormat::WebP,
        MediaFormat::Bmp => image::ImageFormat::Bmp,
        MediaFormat::Tiff => image::ImageFormat::Tiff,
    }
}

fn map_err(format: MediaFormat, e: image::ImageError) -> DecodeError {
    let fmt = format.as_str();
    match e {
        image::ImageError::Limits(l) => DecodeError::LimitExceeded {
            format: fmt,
            detail: l.to_string(),
        },
        image::ImageError::Unsupported(u) => DecodeError::UnsupportedFeature {
            format: fmt,
            detail: u.to_string(),
        },
        other => DecodeError::Corrupt {
            format: fmt,
            detail: other.to_string(),
        },
    }
}

/// Run `decode`, a call into third-party decoding code, so that a panic
/// inside it becomes [`DecodeError::DecoderPanic`] for `bytes`' format.
///
/// `catch_unwind` is enough for panics: decoders here share no state
/// between calls, so nothing a panicking call leaves half-written is seen
/// again (the input and output are dropped with the unwinding frames).
/// It does not stop aborts or crashes in C code; the pipeline's attempt
/// count does (docs/hardening.md).
pub fn contain<T>(
    bytes: &[u8],
    decode: impl FnOnce() -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(DecodeError::DecoderPanic {
            format: sniff(bytes).map_or("unknown", |f| f.as_str()),
        })
    })
}

/// Check the byte limit and the header's dimensions against `limits`
/// without decoding any pixels. Returns the format and `(width, height)`.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<(MediaFormat, u32, u32), DecodeError> {
    let format = check_bytes(bytes, limits)?;
    contain(bytes, || {
        let reader =
            image::ImageReader::with_format(std::io::Cursor::new(bytes), image_format(format));
        let decoder = reader.into_decoder().map_err(|e| map_err(format, e))?;
        let (width, height) = decoder.dimensions();
        // GIF is decoded as one index byte per pixel (see decode_gif_first_frame).
        let native_bpp = match format {
            MediaFormat::Gif => 1,
            _ => u64::from(decoder.color_type().bytes_per_pixel()),
        };
        check_dimensions(format, width, height, native_bpp, limits)?;
        Ok((format, width, height))
    })
}

/// The checks every decode starts with: not empty, within the byte limit,
/// a format this crate decodes. Returns the sniffed format.
pub(crate) fn check_bytes(bytes: &[u8], limits: &Limits) -> Result<MediaFormat, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    sniff(bytes).ok_or(DecodeError::UnsupportedFormat)
}

/// The header's dimensions against the pixel budget and the memory budget
/// (for a decoder producing `native_bytes_per_pixel`), before any pixel
/// buffer exists.
pub(crate) fn check_dimensions(
    format: MediaFormat,
    width: u32,
    height: u32,
    native_bytes_per_pixel: u64,
    limits: &Limits,
) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt {
            format: format.as_str(),
            detail: "zero width or height".into(),
        });
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > MAX_SIDE
        || height > MAX_SIDE
        || peak_bytes(width, height, native_bytes_per_pixel) > limits.max_memory_bytes
    {
        return Err(DecodeError::TooManyPixels { width, height });
    }
    Ok(())
}

/// Decode an image within `limits`, with default options (EXIF orientation
/// not applied).
pub fn decode_image(bytes: &[u8], limits: &Limits) -> Result<DecodedImage, DecodeError> {
    decode_image_with(bytes, limits, &DecodeOptions::default())
}

/// Decode an image within `limits`, with `options`.
pub fn decode_image_with(
    bytes: &[u8],
    limits: &Limits,
    options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
    contain(bytes, || {
        let (format, native) = decode_native(bytes, limits, options)?;
        let rgb = match native {
            Native::Rgb(rgb) => rgb,
            Native::Dynamic(img) => to_rgb_like_pillow(img),
        };
        Ok(DecodedImage { format, rgb })
    })
}

/// Decoded pixels before the conversion to RGB: what the decoder produced,
/// so that a hash-only caller can read grey or RGBA without a copy.
pub(crate) enum Native {
    /// Already Pillow's RGB (GIF, lossy WebP).
    Rgb(RgbImage),
    /// The `image` crate's output, in the file's own layout.
    Dynamic(DynamicImage),
}

/// Everything [`decode_image_with`] does except the final conversion.
/// Callers run it inside [`contain`].
pub(crate) fn decode_native(
    bytes: &[u8],
    limits: &Limits,
    options: &DecodeOptions,
) -> Result<(MediaFormat, Native), DecodeError> {
    let format = check_bytes(bytes, limits)?;
    if format == MediaFormat::Gif {
        let img = decode_gif_first_frame(bytes, limits)?;
        return Ok((img.format, Native::Rgb(img.rgb)));
    }
    if format == MediaFormat::Png {
        check_png_palette(bytes)?;
    }
    if format == MediaFormat::Tiff && tiff_palette::is_palette(bytes) {
        return Ok((format, Native::Rgb(tiff_palette::decode(bytes, limits)?)));
    }
    // Building the decoder reads the header only; no pixel buffer exists
    // until `from_decoder` below, after the dimensions have been checked.
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image_format(format));
    let mut decoder = reader.into_decoder().map_err(|e| map_err(format, e))?;
    let (mut dw, mut dh) = decoder.dimensions();
    if format == MediaFormat::Webp && (dw == 0 || dh == 0) {
        // image-webp 0.2 reads a lossless side of 16384 as 0; libwebp
        // reads the same header right (and decodes the still image).
        if let Some((w, h)) = webp::dimensions(bytes) {
            (dw, dh) = (w, h);
        }
    }
    let native_bpp = u64::from(decoder.color_type().bytes_per_pixel());
    check_dimensions(format, dw, dh, native_bpp, limits)?;
    // The decoder itself may allocate at most the memory budget (its
    // output buffer and scratch together), whatever its header claimed.
    let mut img_limits = image::Limits::default();
    img_limits.max_image_width = Some(MAX_SIDE);
    img_limits.max_image_height = Some(MAX_SIDE);
    img_limits.max_alloc = Some(limits.max_memory_bytes);
    decoder
        .set_limits(img_limits)
        .map_err(|e| map_err(format, e))?;
    if format == MediaFormat::Webp && !options.apply_exif_orientation {
        if let Some(rgb) = webp::decode_still(bytes, dw, dh)? {
            return Ok((format, Native::Rgb(rgb)));
        }
    }
    let orientation = if options.apply_exif_orientation {
        decoder.orientation().ok()
    } else {
        None
    };
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| map_err(format, e))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok((format, Native::Dynamic(img)))
}

/// Refuse a PNG whose `PLTE` chunk is not a whole number of RGB entries
/// (at most 256): the `png` crate indexes past the end of such a palette
/// and panics. Walks the chunks before the image data only.
fn check_png_palette(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut at = 8usize;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        match &head[4..8] {
            b"PLTE" if !len.is_multiple_of(3) || len > 768 || len == 0 => {
                return Err(DecodeError::Corrupt {
                    format: MediaFormat::Png.as_str(),
                    detail: format!("PLTE chunk of {len} bytes is not 1 to 256 RGB entries"),
                })
            }
            b"IDAT" | b"IEND" => return Ok(()),
            _ => {}
        }
        // Length, type, data and CRC.
        at = match at.checked_add(12).and_then(|a| a.checked_add(len)) {
            Some(next) => next,
            None => return Ok(()),
        };
    }
    Ok(())
}

/// The first frame of a GIF as Pillow shows it in mode `P` and converts it
/// to RGB: a logical-screen-sized canvas filled with the frame's
/// transparent index (or index 0), the frame's indices pasted at its offset
/// (transparent ones included, as indices), then every index replaced by
/// its palette colour (the frame's local palette, else the global one).
/// Transparent pixels therefore show the palette colour of the transparent
/// index, not black.
fn decode_gif_first_frame(bytes: &[u8], limits: &Limits) -> Result<DecodedImage, DecodeError> {
    let corrupt = |e: gif::DecodingError| DecodeError::Corrupt {
        format: "gif",
        detail: e.to_string(),
    };
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let frame_limit = std::num::NonZeroU64::new(limits.max_pixels.max(1));
    opts.set_memory_limit(match frame_limit {
        Some(n) => gif::MemoryLimit::Bytes(n),
        None => gif::MemoryLimit::Unlimited,
    });
    let mut decoder = opts
        .read_info(std::io::Cursor::new(bytes))
        .map_err(corrupt)?;
    let (sw, sh) = (u32::from(decoder.width()), u32::from(decoder.height()));
    // One index byte per pixel, then RGB.
    check_dimensions(MediaFormat::Gif, sw, sh, 1, limits)?;
    let global: Vec<u8> = decoder
        .global_palette()
        .map(|p| p.to_vec())
        .unwrap_or_default();
    let frame = decoder
        .read_next_frame()
        .map_err(corrupt)?
        .ok_or(DecodeError::Corrupt {
            format: "gif",
            detail: "no image frame".into(),
        })?;
    let (fw, fh) = (usize::from(frame.width), usize::from(frame.height));
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    let (sw, sh) = (sw as usize, sh as usize);
    let fill = frame.transparent.unwrap_or(0);
    let mut indices = vec![fill; sw * sh];
    // A frame may lie partly or wholly outside the logical screen; only the
    // part inside is pasted (none at all when it starts right of the screen).
    let copy_w = fw.min(sw.saturating_sub(left));
    let copy_h = if copy_w == 0 {
        0
    } else {
        fh.min(sh.saturating_sub(top))
    };
    for y in 0..copy_h {
        let src = frame.buffer.get(y * fw..).unwrap_or(&[]);
        let n = copy_w.min(src.len());
        let at = (top + y) * sw + left;
        indices[at..at + n].copy_from_slice(&src[..n]);
    }
    let palette: &[u8] = frame.palette.as_deref().unwrap_or(&global);
    // Every index's colour, looked up once per pixel below.
    let colours: [[u8; 3]; 256] = std::array::from_fn(|i| {
        let at = i * 3;
        match palette.get(at..at + 3) {
            Some(c) => [c[0], c[1], c[2]],
            // No palette at all: Pillow reads the image as grey levels.
            None if palette.is_empty() => [i as u8; 3],
            None => [0, 0, 0],
        }
    });
    let mut rgb = vec![0u8; sw * sh * 3];
    for (px, &i) in rgb.chunks_exact_mut(3).zip(indices.iter()) {
        px.copy_from_slice(&colours[usize::from(i)]);
    }
    let rgb = RgbImage::from_raw(sw as u32, sh as u32, rgb).ok_or(DecodeError::Corrupt {
        format: "gif",
        detail: "inconsistent frame size".into(),
    })?;
    Ok(DecodedImage {
        format: MediaFormat::Gif,
        rgb,
    })
}

/// Convert any decoded image to RGB8 the way Pillow's `convert("RGB")`
/// treats the mode Pillow would have opened the same file in.
pub fn to_rgb_like_pillow(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    match img {
        DynamicImage::ImageRgb8(rgb) => return rgb,
        DynamicImage::ImageRgba8(rgba) => {
            for px in rgba.as_raw().chunks_exact(4) {
                out.extend_from_slice(&px[..3]);
            }
        }
        DynamicImage::ImageLuma8(l) => {
            for &v in l.as_raw() {
                out.extend_from_slice(&[v, v, v]);
            }
        }
        DynamicImage::ImageLumaA8(la) => {
            for px in la.as_raw().chunks_exact(2) {
                out.extend_from_slice(&[px[0], px[0], px[0]]);
            }
        }
        // Pillow opens 16-bit grey as "I;16"; its RGB conversion clips.
        DynamicImage::ImageLuma16(l) => {
            for &v in l.as_raw() {
                let g = v.min(255) as u8;
                out.extend_from_slice(&[g, g, g]);
            }
        }
        // Pillow unpacks other 16-bit samples to their high byte.
        DynamicImage::ImageLumaA16(la) => {
            for px in la.as_raw().chunks_exact(2) {
                let g = (px[0] >> 8) as u8;
                out.extend_from_slice(&[g, g, g]);
            }
        }
        DynamicImage::ImageRgb16(rgb) => {
            out.extend(rgb.as_raw().iter().map(|&v| (v >> 8) as u8));
        }
        DynamicImage::ImageRgba16(rgba) => {
            for px in rgba.as_raw().chunks_exact(4) {
                out.extend(px[..3].iter().map(|&v| (v >> 8) as u8));
            }
        }
        other => return other.to_rgb8(),
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}
