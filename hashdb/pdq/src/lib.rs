//! PDQ perceptual hashing (256-bit), bit-exact with Meta's reference
//! implementation when fed the same pixels. Pure computation over pixel
//! buffers: no IO, no logging, no panics on any input.
//!
//! The crate owns the whole algorithm: luma ([`luma`]), the Jarosz tent
//! filter and 64x64 decimation ([`filter`]), the DCT, dihedral variants,
//! median threshold and bit packing ([`dct`]), the quality metric, and the
//! [`PdqHash`] type with the reference's hex format. [`reference`] is a plain
//! transcription of the algorithm used as a test oracle.
//!
//! Entry points: [`hash_rgb`] (packed RGB8), [`hash_rgb_dihedral`],
//! [`hash_luma`], or a reusable [`PdqHasher`] that keeps its buffers between
//! calls, and [`hash_batch`] to spread many images over cores.
// The only unsafe code is the CPU-feature dispatch in `dispatch.rs`.
#![deny(unsafe_code)]

use std::fmt;

pub mod dct;
mod dispatch;
pub mod filter;
pub mod luma;
pub mod reference;

pub use dct::{DctCoefficients, Dihedral};
pub use luma::LumaPrecision;

use filter::{Downsampler, LumaSource};

/// Images with a side shorter than this get the all-zero hash and quality 0,
/// as in the reference.
pub const MIN_HASHABLE_DIM: usize = 5;

/// Errors from hashing a pixel buffer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdqError {
    #[error("pixel buffer has {got} bytes, expected {expected} for {width}x{height} pixels")]
    BufferSize {
        width: usize,
        height: usize,
        expected: usize,
        got: usize,
    },
    #[error("image has zero width or height")]
    Empty,
    #[error("invalid PDQ hex: {0}")]
    BadHex(String),
    #[error("image dimensions {width}x{height} overflow the address space")]
    TooLarge { width: usize, height: usize },
}

/// A 256-bit PDQ hash. Byte 0 is the first two hex digits of the reference's
/// hex format (the hex string is the big-endian 256-bit integer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    pub fn from_hex(s: &str) -> Result<Self, PdqError> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PdqError::BadHex(format!(
                "expected 64 hex digits, got {} characters",
                s.len()
            )));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                .map_err(|e| PdqError::BadHex(e.to_string()))?;
        }
        Ok(PdqHash(out))
    }

    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }

    /// Bit `k` in the reference's numbering: `k = 16 i + j` for DCT
    /// coefficient `(i, j)`; set when that coefficient exceeds the median.
    pub fn bit(&self, k: usize) -> bool {
        k < 256 && (self.0[31 - k / 8] >> (k % 8)) & 1 == 1
    }

    /// Hamming distance to another hash (0..=256).
    pub fn distance(&self, other: &PdqHash) -> u32 {
        self.0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({})", self.to_hex())
    }
}

/// A hash with its quality metric (0..=100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdqOutput {
    pub hash: PdqHash,
    pub quality: u8,
}

/// The eight dihedral hashes of one image, in the reference's order
/// ([`Dihedral::ALL`]), sharing one quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DihedralOutput {
    pub hashes: [PdqHash; 8],
    pub quality: u8,
}

impl DihedralOutput {
    pub fn get(&self, which: Dihedral) -> PdqOutput {
        let idx = Dihedral::ALL.iter().position(|d| *d == which).unwrap_or(0);
        PdqOutput {
            hash: self.hashes[idx],
            quality: self.quality,
        }
    }
}

/// The reference's gradient-based quality metric on the 64x64 block: the sum
/// of quantised absolute differences between neighbours, `/ 90`, capped at
/// 100. Each difference is `trunc(((u - v) * 100) / 255)` in `f32`.
pub fn quality_of(block: &[[f32; 64]; 64]) -> u8 {
    let mut sum: i64 = 0;
    for (upper, lower) in block.iter().zip(block.iter().skip(1)) {
        for (&u, &v) in upper.iter().zip(lower.iter()) {
            let d = ((u - v) * 100.0) / 255.0;
            sum += (d as i32).unsigned_abs() as i64;
        }
    }
    for row in block.iter() {
        for (&u, &v) in row.iter().zip(row.iter().skip(1)) {
            let d = ((u - v) * 100.0) / 255.0;
            sum += (d as i32).unsigned_abs() as i64;
        }
    }
    (sum / 90).min(100) as u8
}

fn check_dims(width: usize, height: usize, got: usize, per_pixel: usize) -> Result<(), PdqError> {
    if width == 0 || height == 0 {
        return Err(PdqError::Empty);
    }
    let expected = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(per_pixel))
        .ok_or(PdqError::TooLarge { width, height })?;
    if got != expected {
        return Err(PdqError::BufferSize {
            width,
            height,
            expected,
            got,
        });
    }
    Ok(())
}

/// A PDQ hasher that keeps its work buffers between calls. One per thread.
#[derive(Default)]
pub struct PdqHasher {
    precision: LumaPrecision,
    portable: bool,
    down: Downsampler,
}

impl PdqHasher {
    /// A hasher with the default luma precision ([`LumaPrecision::Pdqhash`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A hasher with the given luma precision.
    pub fn with_precision(precision: LumaPrecision) -> Self {
        PdqHasher {
            precision,
            portable: false,
            down: Downsampler::new(),
        }
    }

    /// Never use the CPU-specific (AVX2) build of the filter, only the
    /// portable one. Results are identical either way; this exists so tests
    /// and benchmarks can compare the two.
    pub fn portable(mut self, portable: bool) -> Self {
        self.portable = portable;
        self
    }

    /// The DCT coefficients and quality; `None` for images smaller than
    /// [`MIN_HASHABLE_DIM`] on a side (the reference's zero hash).
    /// `shortcut_64`: copy a 64x64 input without filtering, as the
    /// reference's single-hash path does (its dihedral path does not).
    fn dct(
        &mut self,
        width: usize,
        height: usize,
        src: LumaSource<'_>,
        shortcut_64: bool,
    ) -> Option<(DctCoefficients, u8)> {
        if width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM {
            return None;
        }
        let block = if shortcut_64 && width == 64 && height == 64 {
            Downsampler::copy_64(src)
        } else {
            self.down.downsample(height, width, src, self.portable)
        };
        let quality = quality_of(&block);
        Some((dct::dct_64_to_16(&block), quality))
    }

    fn single(&mut self, width: usize, height: usize, src: LumaSource<'_>) -> PdqOutput {
        match self.dct(width, height, src, true) {
            Some((d, quality)) => PdqOutput {
                hash: dct::dct_to_hash(&d),
                quality,
            },
            None => PdqOutput {
                hash: PdqHash([0; 32]),
                quality: 0,
            },
        }
    }

    fn dihedral(&mut self, width: usize, height: usize, src: LumaSource<'_>) -> DihedralOutput {
        match self.dct(width, height, src, false) {
            Some((d, quality)) => DihedralOutput {
                hashes: Dihedral::ALL.map(|w| dct::dct_to_hash(&d.dihedral(w))),
                quality,
            },
            None => DihedralOutput {
                hashes: [PdqHash([0; 32]); 8],
                quality: 0,
            },
        }
    }

    /// Hash packed RGB8 (`width * height * 3` bytes, row-major).
    pub fn hash_rgb(
        &mut self,
        width: usize,
        height: usize,
        rgb: &[u8],
    ) -> Result<PdqOutput, PdqError> {
        check_dims(width, height, rgb.len(), 3)?;
        Ok(self.single(width, height, LumaSource::Rgb(rgb, self.precision)))
    }

    /// The eight dihedral hashes of packed RGB8, derived from one DCT.
    pub fn hash_rgb_dihedral(
        &mut self,
        width: usize,
        height: usize,
        rgb: &[u8],
    ) -> Result<DihedralOutput, PdqError> {
        check_dims(width, height, rgb.len(), 3)?;
        Ok(self.dihedral(width, height, LumaSource::Rgb(rgb, self.precision)))
    }

    /// Hash packed RGBA8 (`width * height * 4` bytes, row-major). Alpha is
    /// ignored, exactly as if it had been dropped first (Pillow's
    /// `convert("RGB")`), so this equals [`PdqHasher::hash_rgb`] on the RGB
    /// channels without copying them out.
    pub fn hash_rgba(
        &mut self,
        width: usize,
        height: usize,
        rgba: &[u8],
    ) -> Result<PdqOutput, PdqError> {
        check_dims(width, height, rgba.len(), 4)?;
        Ok(self.single(width, height, LumaSource::Rgba(rgba, self.precision)))
    }

    /// Hash 8-bit grey (`width * height` bytes), treated as R = G = B.
    pub fn hash_grey(
        &mut self,
        width: usize,
        height: usize,
        grey: &[u8],
    ) -> Result<PdqOutput, PdqError> {
        check_dims(width, height, grey.len(), 1)?;
        Ok(self.single(width, height, LumaSource::Grey(grey, self.precision)))
    }

    /// Hash a float luma image (`width * height` values), like the
    /// reference's `pdqHash256FromFloatLuma`.
    pub fn hash_luma(
        &mut self,
        width: usize,
        height: usize,
        luma: &[f32],
    ) -> Result<PdqOutput, PdqError> {
        check_dims(width, height, luma.len(), 1)?;
        Ok(self.single(width, height, LumaSource::Float(luma)))
    }

    /// The eight dihedral hashes of a float luma image.
    pub fn hash_luma_dihedral(
        &mut self,
        width: usize,
        height: usize,
        luma: &[f32],
    ) -> Result<DihedralOutput, PdqError> {
        check_dims(width, height, luma.len(), 1)?;
        Ok(self.dihedral(width, height, LumaSource::Float(luma)))
    }

    /// The unthresholded 16x16 DCT and quality of packed RGB8 (the
    /// reference's `pdqFloat256FromFloatLuma`); `None` below 5x5.
    pub fn dct_rgb(
        &mut self,
        width: usize,
        height: usize,
        rgb: &[u8],
    ) -> Result<Option<(DctCoefficients, u8)>, PdqError> {
        check_dims(width, height, rgb.len(), 3)?;
        Ok(self.dct(width, height, LumaSource::Rgb(rgb, self.precision), true))
    }
}

/// Hash a packed 8-bit RGB buffer (`width * height * 3` bytes, row-major).
pub fn hash_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<PdqOutput, PdqError> {
    PdqHasher::new().hash_rgb(width, height, rgb)
}

/// The eight dihedral hashes of a packed RGB8 buffer, in the reference's
/// order: original, rotate 90, rotate 180, rotate 270, flip x, flip y,
/// flip +1 (transpose), flip -1 (anti-transpose).
pub fn hash_rgb_dihedral(
    width: usize,
    height: usize,
    rgb: &[u8],
) -> Result<DihedralOutput, PdqError> {
    PdqHasher::new().hash_rgb_dihedral(width, height, rgb)
}

/// Hash a float luma buffer (`width * height` values, row-major).
pub fn hash_luma(width: usize, height: usize, luma: &[f32]) -> Result<PdqOutput, PdqError> {
    PdqHasher::new().hash_luma(width, height, luma)
}

/// One image of a batch: packed RGB8 with its dimensions.
#[derive(Debug, Clone, Copy)]
pub struct RgbRef<'a> {
    pub width: usize,
    pub height: usize,
    pub rgb: &'a [u8],
}

/// Hash many images on the current rayon pool, one hasher per worker.
pub fn hash_batch(images: &[RgbRef<'_>]) -> Vec<Result<PdqOutput, PdqError>> {
    use rayon::prelude::*;
    images
        .par_iter()
        .map_init(PdqHasher::new, |h, img| {
            h.hash_rgb(img.width, img.height, img.rgb)
        })
        .collect()
}
