//! pHash, the DCT perceptual hash: the image shrunk to 32×32 grey pixels,
//! a 2-D DCT-II, and the 8×8 lowest-frequency coefficients (the DC term
//! included) each compared with their median: a bit is set when the
//! coefficient is above it (64 bits, vertical frequency by vertical
//! frequency). Robust to scaling, re-encoding, blur and contrast changes;
//! weak against crops, rotations and flips.

use super::{pack_bits, shrink_luma, ImageHasher};
use vigil_hashdb::SignalType;

pub struct Phash;

/// Side of the thumbnail the DCT runs on.
const N: usize = 32;
/// Side of the low-frequency block that is kept.
const K: usize = 8;

impl ImageHasher for Phash {
    fn signal_type(&self) -> SignalType {
        SignalType::Phash
    }

    fn hash_rgb(&self, width: usize, height: usize, rgb: &[u8]) -> Option<u64> {
        let g = shrink_luma(width, height, rgb, N, N)?;
        // cos_table[k][n] = cos(pi * (2n + 1) * k / 2N); the DCT's scale
        // factors do not change which coefficients exceed the median.
        let mut cos_table = [[0f64; N]; K];
        for (k, row) in cos_table.iter_mut().enumerate() {
            for (n, c) in row.iter_mut().enumerate() {
                *c = (std::f64::consts::PI * (2 * n + 1) as f64 * k as f64 / (2 * N) as f64).cos();
            }
        }
        // Along each row, only the K lowest horizontal frequencies.
        let mut rows = [[0f64; K]; N];
        for (y, out) in rows.iter_mut().enumerate() {
            let line = &g[y * N..(y + 1) * N];
            for (u, o) in out.iter_mut().enumerate() {
                *o = line
                    .iter()
                    .zip(&cos_table[u])
                    .map(|(&p, &c)| f64::from(p) * c)
                    .sum();
            }
        }
        // Then down the columns: coefficient (v, u).
        let mut coef = [0f64; K * K];
        for v in 0..K {
            for u in 0..K {
                coef[v * K + u] = (0..N).map(|y| rows[y][u] * cos_table[v][y]).sum();
            }
        }
        let mut sorted = coef;
        sorted.sort_by(f64::total_cmp);
        let median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
        Some(pack_bits(coef.iter().map(|&c| c > median)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let v = f(x, y);
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        rgb
    }

    #[test]
    fn scaling_keeps_the_hash_and_inversion_flips_it() {
        let pattern = |x: usize, y: usize, s: usize| {
            let (fx, fy) = (x as f64 / s as f64, y as f64 / s as f64);
            (128.0 + 60.0 * (6.0 * fx).sin() + 50.0 * (4.0 * fy + 2.0 * fx).cos()) as u8
        };
        let big = Phash
            .hash_rgb(256, 256, &image(256, 256, |x, y| pattern(x, y, 256)))
            .unwrap();
        let small = Phash
            .hash_rgb(64, 64, &image(64, 64, |x, y| pattern(x, y, 64)))
            .unwrap();
        assert!((big ^ small).count_ones() <= 4, "{big:016x} {small:016x}");
        let inverted = Phash
            .hash_rgb(256, 256, &image(256, 256, |x, y| 255 - pattern(x, y, 256)))
            .unwrap();
        // Every coefficient but DC changes sign: most bits flip.
        assert!(
            (big ^ inverted).count_ones() >= 50,
            "{big:016x} {inverted:016x}"
        );
    }
}
