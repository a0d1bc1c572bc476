//! MD5 of the file's bytes: an exact signal (128 bits), matched only at
//! distance 0.

use super::{Matching, SignalKind, SignalType};

pub struct Md5;

impl SignalKind for Md5 {
    fn signal_type(&self) -> SignalType {
        SignalType::Md5
    }
    fn name(&self) -> &'static str {
        "md5"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["video_md5", "photo_md5"]
    }
    fn hex_digits(&self) -> Option<usize> {
        Some(32)
    }
    fn matching(&self) -> Matching {
        Matching::Exact
    }
    fn description(&self) -> &'static str {
        "exact file hash"
    }
    fn te_type(&self) -> &'static str {
        "HASH_MD5"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "MD5"
    }
    fn snapshot_code(&self) -> u8 {
        2
    }
}
