//! dHash, the difference hash: the image shrunk to 9×8 grey pixels, then
//! one bit per horizontally adjacent pair, set when the right pixel is
//! brighter than the left (8 pairs × 8 rows = 64 bits, row by row). Cheap
//! and robust to scaling, re-encoding and small colour changes; weak
//! against crops and flips.

use super::{pack_bits, shrink_luma, ImageHasher};
use vigil_hashdb::SignalType;

pub struct Dhash;

impl ImageHasher for Dhash {
    fn signal_type(&self) -> SignalType {
        SignalType::Dhash
    }

    fn hash_rgb(&self, width: usize, height: usize, rgb: &[u8]) -> Option<u64> {
        let g = shrink_luma(width, height, rgb, 9, 8)?;
        let bits = (0..8).flat_map(|y| {
            let row = &g[y * 9..y * 9 + 9];
            (0..8).map(move |x| row[x + 1] > row[x])
        });
        Some(pack_bits(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_left_to_right_ramp_sets_every_bit() {
        let (w, h) = (90, 80);
        let mut rgb = Vec::with_capacity(w * h * 3);
        for _ in 0..h {
            for x in 0..w {
                let v = (x * 255 / (w - 1)) as u8;
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
        assert_eq!(Dhash.hash_rgb(w, h, &rgb), Some(u64::MAX));
        // Mirrored: every pair gets darker to the right.
        let mirrored: Vec<u8> = rgb
            .chunks_exact(w * 3)
            .flat_map(|row| {
                row.chunks_exact(3)
                    .rev()
                    .flatten()
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(Dhash.hash_rgb(w, h, &mirrored), Some(0));
    }
}
