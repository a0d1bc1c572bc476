//! SHA-256 of the file's bytes: an exact signal (256 bits), matched only
//! at distance 0.

use super::{Matching, SignalKind, SignalType};

pub struct Sha256;

impl SignalKind for Sha256 {
    fn signal_type(&self) -> SignalType {
        SignalType::Sha256
    }
    fn name(&self) -> &'static str {
        "sha256"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["sha-256", "sha_256"]
    }
    fn hex_digits(&self) -> Option<usize> {
        Some(64)
    }
    fn matching(&self) -> Matching {
        Matching::Exact
    }
    fn description(&self) -> &'static str {
        "exact file hash"
    }
    fn te_type(&self) -> &'static str {
        "HASH_SHA256"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "SHA256"
    }
    fn snapshot_code(&self) -> u8 {
        3
    }
}
