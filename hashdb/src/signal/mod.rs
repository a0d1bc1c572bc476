//! Signal types: the kinds of hash Vigil computes and matches.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use vigil_pdq::PdqHash;

/// A kind of signal. The string forms are the ones used in exchange formats,
/// messages and metric labels.
///
/// `Vpdq` is a video: its signal is the reference vPDQ text (one
/// `frame_number,quality,pdq_hex,timestamp_seconds` line per kept frame),
/// kept in banks like any other signal but matched by `vigil-vpdq`'s video
/// index, not by [`crate::HashDb::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalType {
    Pdq,
    Md5,
    Sha256,
    Vpdq,
}

impl SignalType {
    pub fn as_str(&self) -> &'static str {
        match self {
            SignalType::Pdq => "pdq",
            SignalType::Md5 => "md5",
            SignalType::Sha256 => "sha256",
            SignalType::Vpdq => "vpdq",
        }
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown signal type {0:?}")]
pub struct UnknownSignalType(pub String);

impl FromStr for SignalType {
    type Err = UnknownSignalType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pdq" => Ok(SignalType::Pdq),
            "md5" => Ok(SignalType::Md5),
            "sha256" | "sha-256" => Ok(SignalType::Sha256),
            "vpdq" => Ok(SignalType::Vpdq),
            other => Err(UnknownSignalType(other.to_string())),
        }
    }
}

/// An exact (cryptographic) hash value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExactHash {
    Md5([u8; 16]),
    Sha256([u8; 32]),
}

/// The signals computed for one piece of media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signals {
    pub md5: [u8; 16],
    pub sha256: [u8; 32],
    /// PDQ hash and quality, when the media is an image that decoded.
    pub pdq: Option<(PdqHash, u8)>,
}
