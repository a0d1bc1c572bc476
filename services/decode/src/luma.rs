//! Decoding for hashing only: the pixels a perceptual hash needs, and no
//! more.
//!
//! PDQ hashes luma (`0.299 R + 0.587 G + 0.114 B`), and a baseline or
//! progressive JPEG stores exactly that as its Y channel (JFIF uses the same
//! coefficients). For a YCbCr or greyscale JPEG this module therefore decodes
//! the Y channel alone: the chroma planes are entropy-decoded (the bitstream
//! interleaves them) but never inverse-transformed, upsampled or converted,
//! which is most of the work of a colour decode. Every other input (PNG, GIF,
//! WebP, BMP, TIFF, and CMYK/YCCK/Adobe-RGB JPEGs) is decoded exactly as
//! [`crate::decode_image`] decodes it, but handed over in the decoder's own
//! layout where that is cheaper to hash and gives the same hash: 8-bit grey
//! (and grey+alpha, alpha dropped) as [`HashPixels::Grey`], 8-bit RGBA as
//! [`HashPixels::Rgba`] (alpha ignored by the hasher), everything else as
//! Pillow's RGB. For these, hashing is bit-identical to hashing the RGB of
//! [`crate::decode_image`]; only [`HashPixels::Luma`] is approximate.
//!
//! The Y channel equals the luma of the RGB a full decode would produce up to
//! the rounding of R, G and B to integers and their clamping to 0..=255, so a
//! hash of it is within a few bits of the hash of the RGB decode (tests check
//! this on every JPEG test vector), not bit-identical. Use [`crate::decode_image`]
//! where pixels must match the reference exactly (golden tests, the
//! classifier); use this for hash-only paths (`vigil hash`, synchronous
//! checks, bulk hashing) where throughput matters.
//!
//! The same limits apply, checked on the header before any pixel buffer is
//! allocated.

use crate::{
    check_bytes, check_dimensions, contain, decode_native, to_rgb_like_pillow, DecodeError,
    DecodeOptions, Limits, MediaFormat, Native, RgbImage, RgbaImage, MAX_SIDE,
};
use image::DynamicImage;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// 8-bit luma, row-major, `width * height` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LumaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// What a hash-only decode produced.
#[derive(Debug, Clone)]
pub enum HashPixels {
    /// The JPEG's own Y channel: within a few bits of the RGB decode's hash.
    Luma(LumaImage),
    /// 8-bit grey that Pillow's RGB conversion replicates into R, G and B
    /// (grey, grey+alpha, 1-bit): hash as grey, exactly.
    Grey(LumaImage),
    /// Packed RGBA8 whose RGB is Pillow's (alpha to be ignored, not
    /// composited): hash as RGBA, exactly.
    Rgba(RgbaImage),
    /// Packed RGB8, Pillow's, for every other input.
    Rgb(RgbImage),
}

/// A decoded still image (first frame for animations) in the cheapest form
/// a perceptual hash can use.
#[derive(Debug, Clone)]
pub struct DecodedForHash {
    pub format: MediaFormat,
    pub pixels: HashPixels,
}

impl DecodedForHash {
    pub fn dimensions(&self) -> (u32, u32) {
        match &self.pixels {
            HashPixels::Luma(l) | HashPixels::Grey(l) => (l.width, l.height),
            HashPixels::Rgba(rgba) => rgba.dimensions(),
            HashPixels::Rgb(rgb) => rgb.dimensions(),
        }
    }
}

/// Decode `bytes` within `limits` for hashing: JPEG luma directly when the
/// file allows it, else RGB (see the module docs for how close the two are).
pub fn decode_for_hash(bytes: &[u8], limits: &Limits) -> Result<DecodedForHash, DecodeError> {
    contain(bytes, || decode_for_hash_inner(bytes, limits))
}

fn decode_for_hash_inner(bytes: &[u8], limits: &Limits) -> Result<DecodedForHash, DecodeError> {
    if check_bytes(bytes, limits)? == MediaFormat::Jpeg {
        if let Some(luma) = jpeg_luma(bytes, limits)? {
            return Ok(DecodedForHash {
                format: MediaFormat::Jpeg,
                pixels: HashPixels::Luma(luma),
            });
        }
    }
    let (format, native) = decode_native(bytes, limits, &DecodeOptions::default())?;
    let pixels = match native {
        Native::Rgb(rgb) | Native::Dynamic(DynamicImage::ImageRgb8(rgb)) => HashPixels::Rgb(rgb),
        Native::Dynamic(DynamicImage::ImageRgba8(rgba)) => HashPixels::Rgba(rgba),
        Native::Dynamic(DynamicImage::ImageLuma8(l)) => HashPixels::Grey(LumaImage {
            width: l.width(),
            height: l.height(),
            pixels: l.into_raw(),
        }),
        Native::Dynamic(DynamicImage::ImageLumaA8(la)) => {
            // Drop alpha in place: byte i takes byte 2i (never ahead of it).
            let (width, height) = la.dimensions();
            let mut pixels = la.into_raw();
            let n = pixels.len() / 2;
            for i in 0..n {
                pixels[i] = pixels[2 * i];
            }
            pixels.truncate(n);
            HashPixels::Grey(LumaImage {
                width,
                height,
                pixels,
            })
        }
        Native::Dynamic(other) => HashPixels::Rgb(to_rgb_like_pillow(other)),
    };
    Ok(DecodedForHash { format, pixels })
}

/// The Y channel of a YCbCr or greyscale JPEG; `Ok(None)` for colour
/// spaces whose luma is not stored (CMYK, YCCK, Adobe RGB), which the
/// caller decodes in full instead.
fn jpeg_luma(bytes: &[u8], limits: &Limits) -> Result<Option<LumaImage>, DecodeError> {
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| DecodeError::Corrupt {
        format: MediaFormat::Jpeg.as_str(),
        detail: e.to_string(),
    };
    // JPEG's own fields are 16 bits wide; the pixel budget is what bounds memory.
    let max = MAX_SIDE.min(u32::from(u16::MAX)) as usize;
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(max)
        .set_max_height(max)
        .jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(corrupt)?;
    let (w, h) = decoder.dimensions().ok_or_else(|| DecodeError::Corrupt {
        format: MediaFormat::Jpeg.as_str(),
        detail: "no frame header".to_string(),
    })?;
    let (width, height) = (
        u32::try_from(w).unwrap_or(u32::MAX),
        u32::try_from(h).unwrap_or(u32::MAX),
    );
    // One luma byte per pixel out, about as much again of decoder state.
    check_dimensions(MediaFormat::Jpeg, width, height, 2, limits)?;
    match decoder.input_colorspace() {
        Some(ColorSpace::YCbCr | ColorSpace::Luma) => {}
        _ => return Ok(None),
    }
    let pixels = decoder.decode().map_err(corrupt)?;
    if pixels.len() != w * h {
        return Err(DecodeError::Corrupt {
            format: MediaFormat::Jpeg.as_str(),
            detail: format!("decoder returned {} bytes for {w}x{h} luma", pixels.len()),
        });
    }
    Ok(Some(LumaImage {
        width,
        height,
        pixels,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_image;
    use image::{ImageBuffer, Luma, LumaA, Rgba};

    /// The RGB a hasher sees in `pixels`: grey replicated, alpha dropped.
    fn as_rgb(pixels: &HashPixels) -> Vec<u8> {
        match pixels {
            HashPixels::Luma(l) | HashPixels::Grey(l) => {
                l.pixels.iter().flat_map(|&g| [g, g, g]).collect()
            }
            HashPixels::Rgba(rgba) => rgba
                .as_raw()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
            HashPixels::Rgb(rgb) => rgb.as_raw().clone(),
        }
    }

    fn png<P: image::PixelWithColorType>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
    where
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn native_layouts_carry_exactly_the_rgb_decode() {
        let (w, h) = (13u32, 7u32);
        let v = |x: u32, y: u32, k: u32| ((x * 37 + y * 11 + k * 59) % 256) as u8;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "L",
                png(&ImageBuffer::from_fn(w, h, |x, y| Luma([v(x, y, 0)]))),
            ),
            (
                "LA",
                png(&ImageBuffer::from_fn(w, h, |x, y| {
                    LumaA([v(x, y, 0), v(x, y, 1)])
                })),
            ),
            (
                "RGBA",
                png(&ImageBuffer::from_fn(w, h, |x, y| {
                    Rgba([v(x, y, 0), v(x, y, 1), v(x, y, 2), v(x, y, 3)])
                })),
            ),
            (
                "RGB",
                png(&RgbImage::from_fn(w, h, |x, y| {
                    image::Rgb([v(x, y, 0), v(x, y, 1), v(x, y, 2)])
                })),
            ),
            (
                "I;16",
                png(&ImageBuffer::from_fn(w, h, |x, y| {
                    Luma([u16::from(v(x, y, 0)) * 3])
                })),
            ),
        ];
        for (mode, bytes) in cases {
            let fast = decode_for_hash(&bytes, &Limits::default()).unwrap();
            let rgb = decode_image(&bytes, &Limits::default()).unwrap().rgb;
            assert_eq!(fast.dimensions(), (w, h), "{mode}");
            assert_eq!(&as_rgb(&fast.pixels), rgb.as_raw(), "{mode}");
            let expected_kind = match mode {
                "L" | "LA" => "grey",
                "RGBA" => "rgba",
                _ => "rgb",
            };
            let kind = match fast.pixels {
                HashPixels::Luma(_) => "luma",
                HashPixels::Grey(_) => "grey",
                HashPixels::Rgba(_) => "rgba",
                HashPixels::Rgb(_) => "rgb",
            };
            assert_eq!(kind, expected_kind, "{mode}");
        }
    }

    fn jpeg(width: u32, height: u32, grey: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
        if grey {
            let img = image::GrayImage::from_fn(width, height, |x, y| {
                image::Luma([((x * 7 + y * 3) % 256) as u8])
            });
            img.write_with_encoder(enc).unwrap();
        } else {
            let img = RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
            });
            img.write_with_encoder(enc).unwrap();
        }
        out
    }

    #[test]
    fn colour_and_grey_jpegs_give_luma_close_to_the_rgb_decode() {
        for grey in [false, true] {
            let bytes = jpeg(97, 61, grey);
            let fast = decode_for_hash(&bytes, &Limits::default()).unwrap();
            let HashPixels::Luma(luma) = fast.pixels else {
                panic!("expected the luma path for a JPEG");
            };
            assert_eq!((luma.width, luma.height), (97, 61));
            let rgb = decode_image(&bytes, &Limits::default()).unwrap().rgb;
            let mut worst = 0f32;
            for (y, px) in luma.pixels.iter().zip(rgb.pixels()) {
                let [r, g, b] = px.0.map(f32::from);
                let l = 0.299 * r + 0.587 * g + 0.114 * b;
                worst = worst.max((l - f32::from(*y)).abs());
            }
            assert!(worst <= 3.0, "luma differs by {worst} levels (grey={grey})");
        }
    }

    #[test]
    fn other_formats_fall_back_to_rgb() {
        let mut png = Vec::new();
        RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let d = decode_for_hash(&png, &Limits::default()).unwrap();
        assert_eq!(d.format, MediaFormat::Png);
        assert!(matches!(d.pixels, HashPixels::Rgb(_)));
        assert_eq!(d.dimensions(), (8, 8));
    }

    #[test]
    fn limits_apply_before_decoding() {
        let bytes = jpeg(300, 200, false);
        let small = Limits {
            max_pixels: 1000,
            ..Limits::default()
        };
        assert!(matches!(
            decode_for_hash(&bytes, &small),
            Err(DecodeError::TooManyPixels { .. })
        ));
        let tiny = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            decode_for_hash(&bytes, &tiny),
            Err(DecodeError::TooManyBytes { .. })
        ));
    }

    #[test]
    fn truncated_and_garbage_jpegs_are_typed_errors() {
        let bytes = jpeg(64, 64, false);
        for cut in [3, 20, 100, bytes.len() / 2] {
            // A truncated scan may still decode (zune pads missing data) but
            // must never panic; a truncated header must be an error.
            let _ = decode_for_hash(&bytes[..cut], &Limits::default());
        }
        assert!(decode_for_hash(&bytes[..20], &Limits::default()).is_err());
        let mut garbage = vec![0xFF, 0xD8, 0xFF];
        garbage.extend(std::iter::repeat_n(0xAB, 500));
        assert!(decode_for_hash(&garbage, &Limits::default()).is_err());
    }
}
