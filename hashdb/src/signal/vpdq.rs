//! vPDQ: a video as the reference vPDQ text (one PDQ per kept frame). Not
//! a single hex value: checked and normalised by [`crate::video`], kept in
//! banks, and matched by `vigil-vpdq`'s video index with each bank's vPDQ
//! thresholds, never by [`crate::HashDb::lookup`].

use super::{Matching, SignalKind, SignalType};

pub struct Vpdq;

impl SignalKind for Vpdq {
    fn signal_type(&self) -> SignalType {
        SignalType::Vpdq
    }
    fn name(&self) -> &'static str {
        "vpdq"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["video_vpdq"]
    }
    fn hex_digits(&self) -> Option<usize> {
        None
    }
    fn matching(&self) -> Matching {
        Matching::Video
    }
    fn description(&self) -> &'static str {
        "video hash (vPDQ)"
    }
    fn te_type(&self) -> &'static str {
        "HASH_VPDQ"
    }
    fn tcap_algorithm(&self) -> &'static str {
        "VPDQ"
    }
    fn snapshot_code(&self) -> u8 {
        4
    }
}
