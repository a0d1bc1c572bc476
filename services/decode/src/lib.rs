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
//! [`DecodeError`]; nothing here panics (see the property and fuzz tests).
#![forbid(unsafe_code)]

use image::{DynamicImage, ImageDecoder};

pub mod luma;
pub mod video;
mod webp;

pub use luma::{decode_for_hash, DecodedForHash, HashPixels, LumaImage};

pub use image::RgbaImage;

pub use image::RgbImage;

/// Limits applied before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Largest accepted width or height, in pixels.
    pub max_dimension: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 50 * 1024 * 1024,
            max_dimension: 20_000,
            max_pixels: 100_000_000,
        }
    }
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

/// Check the byte limit and the header's dimensions against `limits`
/// without decoding any pixels. Returns the format and `(width, height)`.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<(MediaFormat, u32, u32), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image_format(format));
    let (width, height) = reader.into_dimensions().map_err(|e| map_err(format, e))?;
    check_dimensions(format, width, height, limits)?;
    Ok((format, width, height))
}

fn check_dimensions(
    format: MediaFormat,
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt {
            format: format.as_str(),
            detail: "zero width or height".into(),
        });
    }
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
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
    let (format, native) = decode_native(bytes, limits, options)?;
    let rgb = match native {
        Native::Rgb(rgb) => rgb,
        Native::Dynamic(img) => to_rgb_like_pillow(img),
    };
    Ok(DecodedImage { format, rgb })
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
pub(crate) fn decode_native(
    bytes: &[u8],
    limits: &Limits,
    options: &DecodeOptions,
) -> Result<(MediaFormat, Native), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(DecodeError::UnsupportedFormat)?;
    if format == MediaFormat::Gif {
        let img = decode_gif_first_frame(bytes, limits)?;
        return Ok((img.format, Native::Rgb(img.rgb)));
    }
    // Building the decoder reads the header only; no pixel buffer exists
    // until `from_decoder` below, after the dimensions have been checked.
    let reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), image_format(format));
    let mut decoder = reader.into_decoder().map_err(|e| map_err(format, e))?;
    let (dw, dh) = decoder.dimensions();
    check_dimensions(format, dw, dh, limits)?;
    let mut img_limits = image::Limits::default();
    img_limits.max_image_width = Some(limits.max_dimension);
    img_limits.max_image_height = Some(limits.max_dimension);
    // The largest decoded buffer is 4 channels of 16 bits; allow one extra
    // full-size buffer of decoder scratch on top.
    img_limits.max_alloc = Some(u64::from(dw) * u64::from(dh) * 16 + (16 << 20));
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
    check_dimensions(MediaFormat::Gif, sw, sh, limits)?;
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
