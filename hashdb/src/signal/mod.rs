//! Signal types: the kinds of hash Vigil computes and matches.
//!
//! Owns [`SignalType`] (the closed list of kinds, with their names in
//! formats, messages and metric labels), the [`SignalKind`] trait that
//! describes one kind (hex length, how it is matched, its distance, its
//! per-bank threshold range, its names in the exchange formats and its
//! snapshot code), the registry [`kind`], and [`Signals`] (an upload's
//! hashes).
//!
//! Each kind lives in its own file ([`pdq`], [`md5`], [`sha256`],
//! [`dhash`], [`phash`], [`vpdq`]). Adding a kind is that one file plus
//! its registration: a variant of [`SignalType`], an arm in [`kind`] and an
//! entry in [`SignalType::ALL`]. Banks, lookups, snapshots and formats go
//! through the trait; the bank database stores a kind according to its
//! [`Matching`] (exact kinds in a hash map, 256-bit kinds in the PDQ index,
//! 64-bit kinds in a linearly scanned table), and a match carries the
//! kind's name.

pub mod dhash;
pub mod md5;
pub mod pdq;
pub mod phash;
pub mod sha256;
pub mod vpdq;

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
///
/// `Dhash` and `Phash` are optional 64-bit perceptual image hashes
/// (difference hash and DCT hash), matched by Hamming distance against each
/// bank's threshold for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalType {
    Pdq,
    Md5,
    Sha256,
    Vpdq,
    Dhash,
    Phash,
}

/// How the bank database matches a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// Equal values only (distance 0): kept in a hash map.
    Exact,
    /// Hamming distance over `bits` bits, up to a per-bank threshold
    /// (`default_threshold` unless the bank sets one, at most
    /// `max_threshold`). 256-bit kinds go to the multi-index
    /// [`crate::PdqIndex`], 64-bit ones to a linearly scanned table.
    Hamming {
        bits: u32,
        default_threshold: u32,
        max_threshold: u32,
    },
    /// A video (vPDQ text), matched by the video index.
    Video,
}

/// Why a signal's text is not a valid value of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("{signal_type} signal is not hex")]
    NotHex { signal_type: SignalType },
    #[error("{signal_type} signal has {got} hex digits, expected {expected}")]
    WrongLength {
        signal_type: SignalType,
        expected: usize,
        got: usize,
    },
    #[error("{0} signal is not a single hex value")]
    NotHexKind(SignalType),
}

/// What Vigil knows about one kind of signal. One implementation per file
/// in this module; [`kind`] returns the one for a [`SignalType`].
pub trait SignalKind: Send + Sync + 'static {
    /// The type this describes.
    fn signal_type(&self) -> SignalType;
    /// The name in formats, messages and metric labels (lowercase).
    fn name(&self) -> &'static str;
    /// Other spellings accepted on import (lowercase; a `hash_` prefix is
    /// removed before comparing), e.g. `photo_pdq`.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// The number of hex digits of a signal; `None` when the signal is not
    /// one hex value (a video).
    fn hex_digits(&self) -> Option<usize>;
    /// How banks match it.
    fn matching(&self) -> Matching;
    /// Plain words for statements of reasons ("exact file hash").
    fn description(&self) -> &'static str;
    /// The ThreatExchange type name written on export (`HASH_PDQ`).
    fn te_type(&self) -> &'static str;
    /// The TCAP algorithm name written on export (`PDQ`).
    fn tcap_algorithm(&self) -> &'static str;
    /// The signal type's code in snapshot files (unique, never reused).
    fn snapshot_code(&self) -> u8;
    /// Whether a match of this kind may, on its own, trigger an automated
    /// action where the bank and policy allow one. False for the weak
    /// 64-bit hashes (dHash, pHash), whose matches only ever go to review.
    fn supports_automation(&self) -> bool {
        true
    }
    /// The distance between two values of this kind (raw bytes, as
    /// [`SignalKind::parse`] gives them): the number of differing bits.
    /// Exact kinds match only at 0.
    fn distance(&self, a: &[u8], b: &[u8]) -> u32 {
        hamming_bytes(a, b)
    }
    /// Decode a signal's hex (either case, surrounding space ignored)
    /// into its raw bytes.
    fn parse(&self, s: &str) -> Result<Vec<u8>, SignalError> {
        let t = self.signal_type();
        let Some(digits) = self.hex_digits() else {
            return Err(SignalError::NotHexKind(t));
        };
        let s = s.trim();
        let mut out = vec![0u8; digits / 2];
        check_hex_len(t, s, digits)?;
        if !decode_hex_into(s.as_bytes(), &mut out) {
            return Err(SignalError::NotHex { signal_type: t });
        }
        Ok(out)
    }
}

/// The description of a signal type.
pub fn kind(t: SignalType) -> &'static dyn SignalKind {
    match t {
        SignalType::Pdq => &pdq::Pdq,
        SignalType::Md5 => &md5::Md5,
        SignalType::Sha256 => &sha256::Sha256,
        SignalType::Vpdq => &vpdq::Vpdq,
        SignalType::Dhash => &dhash::Dhash,
        SignalType::Phash => &phash::Phash,
    }
}

impl SignalType {
    /// Every signal type, in declaration order.
    pub const ALL: [SignalType; 6] = [
        SignalType::Pdq,
        SignalType::Md5,
        SignalType::Sha256,
        SignalType::Vpdq,
        SignalType::Dhash,
        SignalType::Phash,
    ];

    pub fn as_str(&self) -> &'static str {
        kind(*self).name()
    }

    /// This type's [`SignalKind`].
    pub fn kind(&self) -> &'static dyn SignalKind {
        kind(*self)
    }

    /// How banks match this type.
    pub fn matching(&self) -> Matching {
        kind(*self).matching()
    }

    /// Whether this type matches only at distance 0.
    pub fn is_exact(&self) -> bool {
        self.matching() == Matching::Exact
    }

    /// The type with this snapshot code.
    pub fn from_snapshot_code(code: u8) -> Option<SignalType> {
        SignalType::ALL
            .into_iter()
            .find(|t| kind(*t).snapshot_code() == code)
    }

    /// Parse a name or one of the exchanges' spellings (case-insensitive,
    /// `hash_` prefix optional).
    pub fn parse_loose(s: &str) -> Option<SignalType> {
        let t = s.trim().to_ascii_lowercase();
        SignalType::named(t.strip_prefix("hash_").unwrap_or(&t))
    }

    /// The type whose name or one of whose aliases is `lower` exactly.
    fn named(lower: &str) -> Option<SignalType> {
        SignalType::ALL.into_iter().find(|t| {
            let k = kind(*t);
            k.name() == lower || k.aliases().contains(&lower)
        })
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
        let lower = s.trim().to_ascii_lowercase();
        SignalType::named(&lower).ok_or(UnknownSignalType(lower))
    }
}

/// Hex digit values; 0xff marks a byte that is not a hex digit.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decode `2 * out.len()` hex digits (either case) into `out`; false if
/// the length differs or any digit is not hex.
pub(crate) fn decode_hex_into(s: &[u8], out: &mut [u8]) -> bool {
    if s.len() != 2 * out.len() {
        return false;
    }
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | (lo & 15);
    }
    bad & 0xf0 == 0
}

/// The typed error for a trimmed hex signal that is not `digits` long or
/// not hex (the not-hex error wins, as the formats report it).
fn check_hex_len(t: SignalType, s: &str, digits: usize) -> Result<(), SignalError> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignalError::NotHex { signal_type: t });
    }
    if s.len() != digits {
        return Err(SignalError::WrongLength {
            signal_type: t,
            expected: digits,
            got: s.len(),
        });
    }
    Ok(())
}

/// Why `s` (trimmed) is not a valid hex signal of type `t`; `Ok` if it is.
pub fn check_hex(t: SignalType, s: &str) -> Result<(), SignalError> {
    match kind(t).hex_digits() {
        Some(d) => check_hex_len(t, s, d),
        None => Err(SignalError::NotHexKind(t)),
    }
}

/// Number of differing bits between two byte strings of equal length
/// (extra bytes of the longer one count as differing in full).
pub fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
    let common: u32 = a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum();
    let extra = a.len().abs_diff(b.len()) as u32 * 8;
    common + extra
}

/// A 64-bit hash as its 16 lowercase hex digits (most significant first).
pub fn hash64_to_hex(h: u64) -> String {
    format!("{h:016x}")
}

/// A 64-bit hash from 16 hex digits (most significant first).
pub fn hash64_from_hex(t: SignalType, s: &str) -> Result<u64, SignalError> {
    let s = s.trim();
    check_hex_len(t, s, 16)?;
    let mut b = [0u8; 8];
    if !decode_hex_into(s.as_bytes(), &mut b) {
        return Err(SignalError::NotHex { signal_type: t });
    }
    Ok(u64::from_be_bytes(b))
}

/// An exact (cryptographic) hash value: its type and its bytes
/// (zero-padded to 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExactHash {
    signal_type: SignalType,
    bytes: [u8; 32],
}

impl ExactHash {
    /// `None` when `bytes` is longer than 32.
    pub fn new(signal_type: SignalType, bytes: &[u8]) -> Option<ExactHash> {
        let mut b = [0u8; 32];
        b.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(ExactHash {
            signal_type,
            bytes: b,
        })
    }

    pub fn md5(b: [u8; 16]) -> ExactHash {
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(&b);
        ExactHash {
            signal_type: SignalType::Md5,
            bytes,
        }
    }

    pub fn sha256(b: [u8; 32]) -> ExactHash {
        ExactHash {
            signal_type: SignalType::Sha256,
            bytes: b,
        }
    }

    pub fn signal_type(&self) -> SignalType {
        self.signal_type
    }

    /// The hash's bytes (as long as its kind's hex digits say).
    pub fn bytes(&self) -> &[u8] {
        let n = kind(self.signal_type).hex_digits().unwrap_or(64) / 2;
        &self.bytes[..n.min(32)]
    }
}

/// The signals computed for one piece of media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signals {
    pub md5: [u8; 16],
    pub sha256: [u8; 32],
    /// PDQ hash and quality, when the media is an image that decoded.
    pub pdq: Option<(PdqHash, u8)>,
    /// 64-bit difference hash, when computed (an image that decoded).
    pub dhash: Option<u64>,
    /// 64-bit DCT perceptual hash, when computed (an image that decoded).
    pub phash: Option<u64>,
}

impl Signals {
    /// Only the exact hashes (media that did not decode, a video's file).
    pub fn exact(md5: [u8; 16], sha256: [u8; 32]) -> Signals {
        Signals {
            md5,
            sha256,
            pdq: None,
            dhash: None,
            phash: None,
        }
    }

    /// The 64-bit hash of `t` (`Dhash` or `Phash`), when present.
    pub fn hash64(&self, t: SignalType) -> Option<u64> {
        match t {
            SignalType::Dhash => self.dhash,
            SignalType::Phash => self.phash,
            _ => None,
        }
    }

    /// Set the 64-bit hash of `t`; other types are ignored.
    pub fn set_hash64(&mut self, t: SignalType, h: u64) {
        match t {
            SignalType::Dhash => self.dhash = Some(h),
            SignalType::Phash => self.phash = Some(h),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_are_unique() {
        let mut codes = std::collections::HashSet::new();
        for t in SignalType::ALL {
            assert_eq!(kind(t).signal_type(), t);
            assert_eq!(t.as_str().parse::<SignalType>(), Ok(t));
            assert_eq!(SignalType::parse_loose(kind(t).te_type()), Some(t));
            assert_eq!(SignalType::parse_loose(kind(t).tcap_algorithm()), Some(t));
            assert!(codes.insert(kind(t).snapshot_code()), "{t}");
            assert_eq!(
                SignalType::from_snapshot_code(kind(t).snapshot_code()),
                Some(t)
            );
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            if let Matching::Hamming {
                default_threshold,
                max_threshold,
                ..
            } = t.matching()
            {
                assert!(default_threshold <= max_threshold, "{t}");
            }
        }
    }

    #[test]
    fn parse_checks_hex_and_length() {
        let d = kind(SignalType::Dhash);
        assert_eq!(
            d.parse(" 00FF00ff00ff00ff ").unwrap(),
            vec![0, 255, 0, 255, 0, 255, 0, 255]
        );
        assert_eq!(
            d.parse("00ff00ff00ff00f"),
            Err(SignalError::WrongLength {
                signal_type: SignalType::Dhash,
                expected: 16,
                got: 15
            })
        );
        assert_eq!(
            d.parse("00ff00ff00ff00fg"),
            Err(SignalError::NotHex {
                signal_type: SignalType::Dhash
            })
        );
        assert!(kind(SignalType::Vpdq).parse("00").is_err());
        assert_eq!(
            hash64_from_hex(SignalType::Phash, "8000000000000001"),
            Ok(0x8000_0000_0000_0001)
        );
        assert_eq!(hash64_to_hex(0x8000_0000_0000_0001), "8000000000000001");
        assert_eq!(d.distance(&[0xff, 0], &[0x0f, 1]), 5);
    }
}
