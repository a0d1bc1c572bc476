//! vPDQ: video similarity from PDQ hashes of sampled frames, as specified by
//! Meta's reference (facebook/ThreatExchange `vpdq/`).
//!
//! This crate owns the pure parts, with no IO and no decoding:
//!
//! * [`feature`]: one hashed frame ([`VpdqFeature`]) and the reference text
//!   format `frame_number,quality,pdq_hex,timestamp_seconds`, parsed and
//!   written;
//! * [`hasher`]: turning decoded RGB frames into features (PDQ per frame);
//! * [`matching`]: quality filter, de-duplication of consecutive identical
//!   hashes, the share of query frames and of compared frames that have a
//!   counterpart within the distance tolerance, and the matched time ranges;
//! * [`index`]: a candidate index from frame hashes to banked videos, so a
//!   query only scores the videos that share at least one close frame.
//!
//! Frames come from `vigil_decode::video`, the only code that parses video
//! bytes.
#![forbid(unsafe_code)]

pub mod feature;
pub mod hasher;
pub mod index;
pub mod matching;

pub use feature::{
    format_features, format_te_signal, parse_features, parse_signal, parse_te_signal, VpdqError,
    VpdqFeature,
};
pub use hasher::{hash_frame, VpdqHasher};
pub use index::{VideoHit, VideoIndex};
pub use matching::{
    dedupe_consecutive, match_videos, prepare, quality_filter, MatchConfig, TimeRange, VideoMatch,
};
pub use vigil_pdq::PdqHash;

/// Quality below which the reference skips a frame when matching.
pub const DEFAULT_QUALITY_TOLERANCE: u8 = 50;
/// The reference's distance tolerance: frames match when their Hamming
/// distance is strictly below it.
pub const DEFAULT_DISTANCE_TOLERANCE: u32 = 31;
