//! Still WebP through libwebp, the decoder Pillow itself uses.
//!
//! `image-webp` (pure Rust, behind the `image` crate) decodes lossy VP8
//! about three times slower than libwebp, and lossless VP8L 1.3-1.9 times
//! slower, which made WebP the slowest format in `bench-pdq`. For a still
//! image this module decodes with libwebp 1.5 (built from the
//! `libwebp-sys2` crate's bundled source, through the safe `libwebp`
//! wrapper) straight into an RGB buffer; the pixels are those Pillow's
//! `convert("RGB")` gives (alpha, if any, is ignored, not composited).
//! Animated WebP (first frame) stays with `image-webp`.
//!
//! libwebp is C: it is the one decoder here not written in Rust, chosen
//! because it is the reference's own decoder (so the pixels are Pillow's by
//! construction) and it is fuzzed upstream (OSS-Fuzz). The caller has
//! already checked the header's dimensions against the limits; this module
//! also requires libwebp's own reading of the header to agree with them
//! before it allocates the output, and libwebp never writes past that
//! buffer (it is passed with its length).

use crate::{DecodeError, MediaFormat, RgbImage};

fn corrupt(detail: &str) -> DecodeError {
    DecodeError::Corrupt {
        format: MediaFormat::Webp.as_str(),
        detail: detail.to_string(),
    }
}

/// Whether `bytes` hold a still (not animated) WebP, judged by
/// `image-webp`'s parse of the RIFF chunks.
fn is_still(bytes: &[u8]) -> bool {
    match image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)) {
        Ok(d) => !d.is_animated(),
        Err(_) => false,
    }
}

/// The canvas size as libwebp reads it from the header; `None` when it
/// cannot.
pub(crate) fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    libwebp::WebPGetInfo(bytes).ok()
}

/// Decode a still WebP of `width` x `height` (already checked against the
/// limits) to RGB8. `Ok(None)` when the file is animated (or `image-webp`
/// cannot parse its chunks), which the caller decodes with `image-webp`.
pub(crate) fn decode_still(
    bytes: &[u8],
    width: u32,
    height: u32,
) -> Result<Option<RgbImage>, DecodeError> {
    if !is_still(bytes) {
        return Ok(None);
    }
    let info = libwebp::WebPGetInfo(bytes).map_err(|_| corrupt("invalid header"))?;
    if info != (width, height) {
        return Err(corrupt("frame size differs from the canvas size"));
    }
    let stride = width
        .checked_mul(3)
        .ok_or_else(|| corrupt("width overflows"))?;
    let mut rgb = vec![0u8; stride as usize * height as usize];
    libwebp::WebPDecodeRGBInto(bytes, &mut rgb, stride)
        .map_err(|_| corrupt("invalid or truncated image data"))?;
    RgbImage::from_raw(width, height, rgb)
        .map(Some)
        .ok_or_else(|| corrupt("inconsistent frame size"))
}
