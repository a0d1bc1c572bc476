//! pHash: a 64-bit DCT perceptual hash of an image (greyscale shrunk to
//! 32×32, 2-D DCT-II, the 8×8 lowest frequencies compared with their
//! median), 16 hex digits, most significant bit first. Optional and weaker
//! than PDQ: matched by Hamming distance within each bank's pHash threshold
//! (default 10 of 64 bits, at most 16), by a linear scan; matches only ever
//! route to review (`vigil-pipeline`'s policy).

use super::{Matching, SignalKind, SignalType};

pub struct Phash;

impl SignalKind for Phash {
    fn signal_type(&self) -> SignalType {
        SignalType::Phash
    }
    fn name(&self) -> &'static str {
        "phash"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["photo_phash", "perceptual_hash"]
    }
    fn hex_digits(&self) -> Option<usize> {
        Some(16)
    }
    fn matching(&self) -> Matching {
        Matching::Hamming {
            bits: 64,
            default_threshold: 10,
            max_threshold: 16,
        }
    }
    fn description(&self) -> &'static str {
        "perceptual image hash (pHash, 64-bit)"
    }
    fn te_type(&self) -> &'static str {
        "HASH_PHASH"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "PHASH"
    }
    fn snapshot_code(&self) -> u8 {
        6
    }
    fn supports_automation(&self) -> bool {
        false
    }
}
