//! Media decoding: the only code in Vigil that parses untrusted bytes.
//!
//! It sniffs the format from the bytes (never trusting the declared content
//! type), enforces byte and pixel limits *before* allocating pixel buffers,
//! and converts every supported image to packed 8-bit RGB the way Pillow's
//! `convert("RGB")` does (alpha dropped, palette expanded, 16-bit scaled),
//! because that is what the PDQ reference hashes.
#![forbid(unsafe_code)]

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
    Corrupt { format: &'static str, detail: String },
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
        }
    }
}

/// A decoded still image (first frame for animations), as packed RGB8.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    pub format: MediaFormat,
    pub rgb: RgbImage,
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

/// Decode an image within `limits`.
pub fn decode_image(bytes: &[u8], limits: &Limits) -> Result<DecodedImage, DecodeError> {
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
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.set_format(match format {
        MediaFormat::Jpeg => image::ImageFormat::Jpeg,
        MediaFormat::Png => image::ImageFormat::Png,
        MediaFormat::Gif => image::ImageFormat::Gif,
        MediaFormat::Webp => image::ImageFormat::WebP,
        MediaFormat::Bmp => image::ImageFormat::Bmp,
        MediaFormat::Tiff => image::ImageFormat::Tiff,
    });
    let (width, height) = reader.into_dimensions().map_err(|e| DecodeError::Corrupt {
        format: format.as_str(),
        detail: e.to_string(),
    })?;
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
    let mut img_limits = image::Limits::default();
    img_limits.max_image_width = Some(limits.max_dimension);
    img_limits.max_image_height = Some(limits.max_dimension);
    img_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), match format {
        MediaFormat::Jpeg => image::ImageFormat::Jpeg,
        MediaFormat::Png => image::ImageFormat::Png,
        MediaFormat::Gif => image::ImageFormat::Gif,
        MediaFormat::Webp => image::ImageFormat::WebP,
        MediaFormat::Bmp => image::ImageFormat::Bmp,
        MediaFormat::Tiff => image::ImageFormat::Tiff,
    });
    reader.limits(img_limits);
    let img = reader.decode().map_err(|e| DecodeError::Corrupt {
        format: format.as_str(),
        detail: e.to_string(),
    })?;
    Ok(DecodedImage {
        format,
        rgb: img.to_rgb8(),
    })
}
