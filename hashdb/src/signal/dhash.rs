//! dHash: a 64-bit difference hash of an image (greyscale shrunk to 9×8,
//! one bit per horizontally adjacent pair: left brighter than right is 0,
//! right brighter is 1), 16 hex digits, most significant bit first.
//! Optional and weaker than PDQ: matched by Hamming distance within each
//! bank's dHash threshold (default 10 of 64 bits, at most 16), by a linear
//! scan; matches only ever route to review (`vigil-pipeline`'s policy).

use super::{Matching, SignalKind, SignalType};

pub struct Dhash;

impl SignalKind for Dhash {
    fn signal_type(&self) -> SignalType {
        SignalType::Dhash
    }
    fn name(&self) -> &'static str {
        "dhash"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["photo_dhash", "difference_hash"]
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
        "perceptual image hash (dHash, 64-bit)"
    }
    fn te_type(&self) -> &'static str {
        "HASH_DHASH"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "DHASH"
    }
    fn snapshot_code(&self) -> u8 {
        5
    }
    fn supports_automation(&self) -> bool {
        false
    }
}
