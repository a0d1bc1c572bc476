//! PDQ: Meta's 256-bit perceptual image hash (with a quality 0–100).
//! Matched by Hamming distance in the multi-index [`crate::PdqIndex`],
//! within each bank's `pdq_threshold` (default 31, at most 63).

use super::{Matching, SignalKind, SignalType};

pub struct Pdq;

impl SignalKind for Pdq {
    fn signal_type(&self) -> SignalType {
        SignalType::Pdq
    }
    fn name(&self) -> &'static str {
        "pdq"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["photo_pdq"]
    }
    fn hex_digits(&self) -> Option<usize> {
        Some(64)
    }
    fn matching(&self) -> Matching {
        Matching::Hamming {
            bits: 256,
            default_threshold: 31,
            max_threshold: crate::index::MAX_RADIUS,
        }
    }
    fn description(&self) -> &'static str {
        "perceptual image hash (PDQ)"
    }
    fn te_type(&self) -> &'static str {
        "HASH_PDQ"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "PDQ"
    }
    fn snapshot_code(&self) -> u8 {
        1
    }
}
