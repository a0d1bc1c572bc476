//! The optional 64-bit image hashes: dHash ([`dhash`]) and pHash
//! ([`phash`]), one file per hasher behind [`ImageHasher`], computed for
//! every image that decodes ([`hash_all`]) next to PDQ.
//!
//! Both start from the same greyscale thumbnail ([`shrink_luma`]): ITU-R
//! 601 luma (Pillow's `convert("L")` weights) averaged over a box per
//! target pixel. Hex is 16 digits, the first row's first bit the most
//! significant, as the Python `imagehash` package writes them; hashes made
//! by other tools agree within a few bits (their resampling filters
//! differ), which the banks' thresholds absorb. Adding a hasher is one
//! file implementing [`ImageHasher`] and an entry in [`HASHERS`] (its
//! signal type comes from `vigil_hashdb::signal`).

pub mod dhash;
pub mod phash;

use vigil_hashdb::SignalType;

/// A 64-bit hash of an image's pixels.
pub trait ImageHasher: Send + Sync {
    /// The signal type the hash is banked and matched as.
    fn signal_type(&self) -> SignalType;
    /// The hash of packed 8-bit RGB pixels; `None` for an empty image or
    /// a buffer that is not `width * height * 3` bytes.
    fn hash_rgb(&self, width: usize, height: usize, rgb: &[u8]) -> Option<u64>;
}

/// Every image hasher the pipeline runs, in this order.
pub const HASHERS: [&dyn ImageHasher; 2] = [&dhash::Dhash, &phash::Phash];

/// Every hasher's hash of one image (those that could hash it).
pub fn hash_all(width: usize, height: usize, rgb: &[u8]) -> Vec<(SignalType, u64)> {
    HASHERS
        .iter()
        .filter_map(|h| Some((h.signal_type(), h.hash_rgb(width, height, rgb)?)))
        .collect()
}

/// The image as `tw × th` luma values (0..=255, row-major): each source
/// pixel is averaged into the one target pixel its position falls in (a
/// box filter); a target pixel no source pixel falls in (the source is
/// smaller than the target) takes the nearest source pixel. `None` for an
/// empty image or a buffer of the wrong size.
pub fn shrink_luma(
    width: usize,
    height: usize,
    rgb: &[u8],
    tw: usize,
    th: usize,
) -> Option<Vec<f32>> {
    if width == 0 || height == 0 || tw == 0 || th == 0 {
        return None;
    }
    if width.checked_mul(height)?.checked_mul(3)? != rgb.len() {
        return None;
    }
    let luma = |p: &[u8]| 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
    // Source pixel x belongs to target column x * tw / width: column t
    // holds the pixels from first(t) to first(t + 1), a contiguous run.
    let first = |t: usize, n: usize, tn: usize| (t * n).div_ceil(tn);
    let runs: Vec<(usize, usize)> = (0..tw)
        .map(|t| (first(t, width, tw) * 3, first(t + 1, width, tw) * 3))
        .collect();
    let mut sums = vec![0u64; tw * th];
    let mut counts = vec![0u32; tw * th];
    for ty in 0..th {
        let rows = first(ty, height, th)..first(ty + 1, height, th);
        let n_rows = rows.len() as u32;
        for row in rgb.chunks_exact(width * 3).take(rows.end).skip(rows.start) {
            for (sum, &(a, b)) in sums[ty * tw..(ty + 1) * tw].iter_mut().zip(&runs) {
                *sum += row[a..b]
                    .chunks_exact(3)
                    .map(|p| u64::from(luma(p)))
                    .sum::<u64>();
            }
        }
        for (count, &(a, b)) in counts[ty * tw..(ty + 1) * tw].iter_mut().zip(&runs) {
            *count = n_rows * ((b - a) / 3) as u32;
        }
    }
    let mut out = Vec::with_capacity(tw * th);
    for ty in 0..th {
        for tx in 0..tw {
            let i = ty * tw + tx;
            let v = if counts[i] > 0 {
                sums[i] as f64 / f64::from(counts[i])
            } else {
                let (sx, sy) = (tx * width / tw, ty * height / th);
                let o = (sy * width + sx) * 3;
                f64::from(luma(&rgb[o..o + 3]))
            };
            out.push((v / 1000.0) as f32);
        }
    }
    Some(out)
}

/// Pack 64 booleans, the first the most significant bit.
pub(crate) fn pack_bits(bits: impl IntoIterator<Item = bool>) -> u64 {
    bits.into_iter()
        .take(64)
        .fold(0u64, |acc, b| acc << 1 | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_averages_boxes_and_handles_small_images() {
        // 4×2 image: left half black, right half white.
        let mut rgb = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 0 } else { 255 };
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        assert_eq!(shrink_luma(4, 2, &rgb, 2, 1).unwrap(), vec![0.0, 255.0]);
        // Upscaling takes the nearest pixel.
        let up = shrink_luma(4, 2, &rgb, 8, 4).unwrap();
        assert_eq!(up.len(), 32);
        assert_eq!((up[0], up[7]), (0.0, 255.0));
        assert!(shrink_luma(0, 2, &[], 2, 2).is_none());
        assert!(shrink_luma(4, 2, &rgb[1..], 2, 2).is_none());
        assert_eq!(pack_bits([true, false, true]), 0b101);
    }

    #[test]
    fn every_hasher_hashes_a_one_pixel_image() {
        let got = hash_all(1, 1, &[10, 20, 30]);
        assert_eq!(got.len(), HASHERS.len());
        assert!(hash_all(2, 2, &[0; 3]).is_empty());
    }
}
