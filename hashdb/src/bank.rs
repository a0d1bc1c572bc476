//! Banks and their entries, the change log that updates them, and the
//! in-memory lookup over all of them.
//!
//! Owns: [`Bank`], [`BankEntry`] (with provenance, note and counters),
//! [`Change`] (one record of the `vigil.hashdb` change log) and [`HashDb`],
//! which keeps exact signals (MD5, SHA-256) in a hash map, PDQ hashes in the
//! exact Hamming [`PdqIndex`] and 64-bit signals (dHash, pHash) in a
//! linearly scanned table per type; where a kind goes follows its
//! [`Matching`].

use crate::index::{self, Hit, PdqIndex, MAX_RADIUS};
use crate::signal::{kind, ExactHash, Matching, SignalType, Signals};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use vigil_pdq::PdqHash;

/// What a match in a bank may trigger automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankAction {
    Takedown,
    ReviewOnly,
    /// An allow-list: a match suppresses automated action and routes to review.
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankStatus {
    Active,
    Disabled,
    Quarantined,
}

impl BankAction {
    /// The serialised name (`takedown`, `review_only`, `allow`).
    pub fn as_str(&self) -> &'static str {
        match self {
            BankAction::Takedown => "takedown",
            BankAction::ReviewOnly => "review_only",
            BankAction::Allow => "allow",
        }
    }
}

impl BankStatus {
    /// The serialised name (`active`, `disabled`, `quarantined`).
    pub fn as_str(&self) -> &'static str {
        match self {
            BankStatus::Active => "active",
            BankStatus::Disabled => "disabled",
            BankStatus::Quarantined => "quarantined",
        }
    }
}

/// A bank of hashes with its labels and matching rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    pub name: String,
    pub labels: Vec<String>,
    pub action: BankAction,
    pub status: BankStatus,
    /// Largest PDQ Hamming distance that counts as a match in this bank
    /// (the per-signal threshold for PDQ; clamped to 63). Exact signals
    /// (MD5, SHA-256) match at distance 0 only.
    pub pdq_threshold: u32,
    #[serde(default)]
    pub description: String,
    /// Gradual roll-out: the share (0.0..=1.0) of media for which this bank's
    /// matches are reported, chosen deterministically from the media's
    /// SHA-256. `None` reports every match.
    #[serde(default)]
    pub sampling_rate: Option<f64>,
    /// What the bank's approved charter lets a match do automatically. Set
    /// only by governance when a second person approves a charter; `None`
    /// (no charter) means matches in this bank only ever route to review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charter: Option<CharterScope>,
    /// When a banked video (a `vpdq` entry) of this bank matches an upload
    /// (the per-signal thresholds for vPDQ). Left out of the stored form
    /// while it is the default.
    #[serde(default, skip_serializing_if = "VpdqThresholds::is_default")]
    pub vpdq: VpdqThresholds,
    /// Per-bank Hamming thresholds of the other distance-matched signal
    /// types (`dhash`, `phash`): the largest distance that counts as a
    /// match. A type left out uses its kind's default (10 of 64 bits for
    /// dHash and pHash); values above the kind's maximum (16) are rejected
    /// by [`HashDb::upsert_bank_checked`]. PDQ keeps its own
    /// `pdq_threshold`. Left out of the stored form while empty, so banks
    /// stored before it existed read unchanged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub thresholds: BTreeMap<SignalType, u32>,
}

/// A bank's vPDQ thresholds (docs/video.md). A banked video matches an
/// upload when at least `query_pct` percent of the upload's kept frames and
/// `compared_pct` percent of the banked video's kept frames have a
/// counterpart at a Hamming distance strictly below `distance_tolerance`.
/// The defaults are the reference's: 80%, 0% and 31.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VpdqThresholds {
    /// Share of the upload's frames that must match, in percent (0..=100).
    pub query_pct: f64,
    /// Share of the banked video's frames that must match, in percent (0..=100).
    pub compared_pct: f64,
    /// Frames match when their PDQ distance is strictly below this (1..=64).
    pub distance_tolerance: u32,
}

impl Default for VpdqThresholds {
    fn default() -> Self {
        VpdqThresholds {
            query_pct: 80.0,
            compared_pct: 0.0,
            distance_tolerance: 31,
        }
    }
}

impl VpdqThresholds {
    pub fn is_default(&self) -> bool {
        *self == VpdqThresholds::default()
    }

    /// Why these thresholds cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("query_pct", self.query_pct),
            ("compared_pct", self.compared_pct),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("vpdq {name} {v} is not in 0..=100"));
            }
        }
        if !(1..=MAX_RADIUS + 1).contains(&self.distance_tolerance) {
            return Err(format!(
                "vpdq distance_tolerance {} is not in 1..={}",
                self.distance_tolerance,
                MAX_RADIUS + 1
            ));
        }
        Ok(())
    }

    /// Whether `self` lets more pairs of videos match than `old` does (a
    /// lower share or a wider distance).
    pub fn looser_than(&self, old: &VpdqThresholds) -> bool {
        self.query_pct < old.query_pct
            || self.compared_pct < old.compared_pct
            || self.distance_tolerance > old.distance_tolerance
    }
}

/// A change to some of a bank's vPDQ thresholds (API and CLI); fields left
/// unset keep the bank's current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VpdqThresholdsPatch {
    pub query_pct: Option<f64>,
    pub compared_pct: Option<f64>,
    pub distance_tolerance: Option<u32>,
}

impl VpdqThresholdsPatch {
    pub fn apply(&self, t: &mut VpdqThresholds) {
        if let Some(v) = self.query_pct {
            t.query_pct = v;
        }
        if let Some(v) = self.compared_pct {
            t.compared_pct = v;
        }
        if let Some(v) = self.distance_tolerance {
            t.distance_tolerance = v;
        }
    }
}

/// The part of a bank's charter that matching needs: whether a match may
/// take content down everywhere, or only restrict it in named
/// jurisdictions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharterScope {
    /// A global takedown is allowed.
    pub takedown: bool,
    /// Where a restriction applies when takedown is not allowed (ISO 3166
    /// codes); empty with `takedown = false` means review only.
    #[serde(default)]
    pub restrict_jurisdictions: Vec<String>,
}

impl CharterScope {
    /// Whether the charter allows any automated action.
    pub fn may_act(&self) -> bool {
        self.takedown || !self.restrict_jurisdictions.is_empty()
    }
}

impl Bank {
    /// A new active bank with no labels and the default PDQ threshold (31).
    pub fn new(name: &str, action: BankAction) -> Bank {
        Bank {
            name: name.to_string(),
            labels: Vec::new(),
            action,
            status: BankStatus::Active,
            pdq_threshold: 31,
            description: String::new(),
            sampling_rate: None,
            charter: None,
            vpdq: VpdqThresholds::default(),
            thresholds: BTreeMap::new(),
        }
    }

    /// The largest distance at which a signal of type `t` matches in this
    /// bank: `pdq_threshold` for PDQ (at most 63), the bank's entry in
    /// `thresholds` or the kind's default for other distance-matched
    /// types (at most the kind's maximum), 0 for exact types.
    pub fn threshold(&self, t: SignalType) -> u32 {
        match kind(t).matching() {
            Matching::Hamming {
                default_threshold,
                max_threshold,
                ..
            } => {
                let v = if t == SignalType::Pdq {
                    self.pdq_threshold
                } else {
                    self.thresholds
                        .get(&t)
                        .copied()
                        .unwrap_or(default_threshold)
                };
                v.min(max_threshold)
            }
            Matching::Exact | Matching::Video => 0,
        }
    }

    /// Why `thresholds` cannot be used, if it cannot: a type that is not
    /// distance-matched, PDQ (which has `pdq_threshold`), or a value above
    /// the kind's maximum.
    pub fn check_thresholds(&self) -> Result<(), String> {
        for (&t, &v) in &self.thresholds {
            match kind(t).matching() {
                Matching::Hamming { .. } if t == SignalType::Pdq => {
                    return Err("the pdq threshold is set with pdq_threshold".into())
                }
                Matching::Hamming { max_threshold, .. } => {
                    if v > max_threshold {
                        return Err(format!("{t} threshold {v} is not in 0..={max_threshold}"));
                    }
                }
                Matching::Exact | Matching::Video => {
                    return Err(format!("{t} has no distance threshold"))
                }
            }
        }
        Ok(())
    }

    /// Whether `self` lets more hashes match than `old` does: a higher
    /// distance threshold for any distance-matched type (PDQ, dHash,
    /// pHash) or looser vPDQ thresholds.
    pub fn thresholds_looser_than(&self, old: &Bank) -> bool {
        SignalType::ALL
            .into_iter()
            .filter(|t| matches!(t.matching(), Matching::Hamming { .. }))
            .any(|t| self.threshold(t) > old.threshold(t))
            || self.vpdq.looser_than(&old.vpdq)
    }

    /// Whether media with this SHA-256 falls in the bank's sample.
    pub fn samples(&self, sha256: &[u8; 32]) -> bool {
        let Some(rate) = self.sampling_rate else {
            return true;
        };
        // FNV-1a over the bank name and the media hash: stable across runs.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in self.name.bytes().chain(sha256.iter().copied()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

/// What the sharer of an entry thinks of it (ThreatExchange-style opinions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opinion {
    /// The sharer says it violates.
    Positive,
    /// The sharer disputes it (false positive, not violating).
    Negative,
    /// Shared to start an investigation, not as a verdict.
    InvestigationSeed,
}

impl Opinion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Opinion::Positive => "positive",
            Opinion::Negative => "negative",
            Opinion::InvestigationSeed => "investigation_seed",
        }
    }

    /// Parse the names used by exchanges (`positive`, `negative`, `disputed`,
    /// `false_positive`, `investigation_seed`, ...), case-insensitively.
    pub fn parse(s: &str) -> Option<Opinion> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "positive" | "true_positive" | "tp" => Some(Opinion::Positive),
            "negative" | "disputed" | "false_positive" | "fp" => Some(Opinion::Negative),
            "investigation_seed" | "seed" => Some(Opinion::InvestigationSeed),
            _ => None,
        }
    }
}

/// Where an entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The exchange or programme (e.g. `gifct-hsdb`, `threatexchange:1234`, `local`).
    #[serde(default)]
    pub exchange: String,
    /// Who shared it (an organisation or user name as the exchange gives it).
    #[serde(default)]
    pub shared_by: String,
    /// When it was shared, as the exchange gives it (RFC 3339 or Unix seconds).
    #[serde(default)]
    pub shared_at: Option<String>,
    #[serde(default)]
    pub opinion: Option<Opinion>,
    /// The exchange's own id for the record.
    #[serde(default)]
    pub source_id: Option<String>,
}

/// Per-entry outcome counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryCounters {
    pub matches: u64,
    pub upheld: u64,
    pub overturned: u64,
}

/// One hash in a bank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankEntry {
    pub bank: String,
    pub entry_id: String,
    pub signal_type: SignalType,
    /// Lowercase hex of the hash.
    pub signal: String,
    pub labels: Vec<String>,
    #[serde(default)]
    pub provenance: Option<Provenance>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub counters: EntryCounters,
    /// A quarantined entry still matches, but never triggers automated
    /// action (e.g. its overturn rate passed a threshold).
    #[serde(default)]
    pub quarantined: bool,
}

impl BankEntry {
    pub fn new(bank: &str, entry_id: &str, signal_type: SignalType, signal: &str) -> BankEntry {
        BankEntry {
            bank: bank.to_string(),
            entry_id: entry_id.to_string(),
            signal_type,
            signal: signal.to_string(),
            labels: Vec::new(),
            provenance: None,
            note: None,
            counters: EntryCounters::default(),
            quarantined: false,
        }
    }

    /// The deterministic entry id for a signal in a bank: the same bank,
    /// signal type and (normalised) signal always give the same id, so
    /// re-importing a list changes nothing. Form: `pdq-` + 24 hex digits of
    /// SHA-256 over `bank \0 type \0 signal`.
    pub fn derive_id(bank: &str, signal_type: SignalType, signal: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(bank.as_bytes());
        h.update([0]);
        h.update(signal_type.as_str().as_bytes());
        h.update([0]);
        h.update(signal.trim().to_ascii_lowercase().as_bytes());
        let d = h.finalize();
        format!("{}-{}", signal_type.as_str(), hex::encode(&d[..12]))
    }

    /// A new entry whose id is [`BankEntry::derive_id`].
    pub fn derived(bank: &str, signal_type: SignalType, signal: &str) -> BankEntry {
        let signal = signal.trim().to_ascii_lowercase();
        let id = Self::derive_id(bank, signal_type, &signal);
        BankEntry::new(bank, &id, signal_type, &signal)
    }
}

/// A match of an upload's signal against a bank entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub bank: String,
    pub entry_id: String,
    pub signal_type: SignalType,
    pub distance: u32,
    pub labels: Vec<String>,
}

/// A match with what policy needs to act on it.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchDetail {
    pub m: Match,
    pub bank_action: BankAction,
    pub bank_status: BankStatus,
    /// The sharer's opinion of the entry, when known.
    pub opinion: Option<Opinion>,
    /// True when this match must stop automated action: an allow-list bank,
    /// a quarantined bank, or an entry its sharer disputes. Policy routes
    /// such uploads to review with [`MatchDetail::reason`].
    pub suppresses_automation: bool,
    pub reason: Option<String>,
    /// The entry itself is quarantined.
    pub entry_quarantined: bool,
    /// The bank's charter scope (None: no charter, review only).
    pub charter: Option<CharterScope>,
}

/// One record of the change log (`vigil.hashdb`, keyed by [`Change::key`]).
/// Applying the same record twice is harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    UpsertBank {
        bank: Bank,
    },
    /// Remove a bank and every entry in it.
    DeleteBank {
        name: String,
    },
    UpsertEntry {
        entry: BankEntry,
    },
    /// A tombstone: the entry is gone everywhere it propagates.
    DeleteEntry {
        bank: String,
        entry_id: String,
    },
}

impl Change {
    /// The compacted-topic key: `bank/entry_id` for entries, `bank/` for the
    /// bank record itself.
    pub fn key(&self) -> String {
        match self {
            Change::UpsertBank { bank } => format!("{}/", bank.name),
            Change::DeleteBank { name } => format!("{name}/"),
            Change::UpsertEntry { entry } => format!("{}/{}", entry.bank, entry.entry_id),
            Change::DeleteEntry { bank, entry_id } => format!("{bank}/{entry_id}"),
        }
    }
}

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Inserted,
    Updated,
    /// Already in exactly this state (re-import, replayed record).
    Unchanged,
    Deleted,
    /// A delete for something that was not there.
    Absent,
}

/// Outcome of a human decision on a match, for the entry counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Matched,
    Upheld,
    Overturned,
}

/// Per-bank statistics.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BankStats {
    pub entries: usize,
    pub by_signal: BTreeMap<SignalType, usize>,
    pub matches: u64,
    pub upheld: u64,
    pub overturned: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashDbError {
    #[error("entry {entry_id} names unknown bank {bank}")]
    UnknownBank { bank: String, entry_id: String },
    #[error("entry {entry_id}: {detail}")]
    BadSignal { entry_id: String, detail: String },
    #[error("bank {bank}: {detail}")]
    BadBank { bank: String, detail: String },
}

const NO_SLOT: u32 = u32::MAX;

/// A fast, non-cryptographic hasher (FxHash) for the in-memory maps. Keys are
/// entry ids and hashes from the bank database, not from uploads.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits down: hashbrown uses both ends.
        self.hash ^ (self.hash >> 29)
    }
}

type Fx = std::hash::BuildHasherDefault<FxHasher>;
/// One bank's entry ids: a table of places in `HashDb::entries`, hashed by
/// the id stored there. Only the 4-byte place is kept, not a second copy of
/// the id (at ten million entries that is ~70 MB instead of ~540 MB and ten
/// million fewer allocations on load).
type IdMap = hashbrown::HashTable<u32>;

fn id_hash(id: &str) -> u64 {
    use std::hash::Hasher as _;
    let mut h = FxHasher::default();
    h.write(id.as_bytes());
    h.finish()
}

/// The id of the entry at `place` ("" for a free place, which no table
/// holds).
fn id_at(entries: &[Option<Stored>], place: u32) -> &str {
    entries[place as usize]
        .as_ref()
        .map_or("", |s| s.entry.entry_id.as_str())
}

/// Where the entry `id` is stored, if the table holds it.
fn find_id(ids: &IdMap, entries: &[Option<Stored>], id: &str) -> Option<u32> {
    ids.find(id_hash(id), |&p| id_at(entries, p) == id).copied()
}

#[derive(Debug, Clone)]
struct Stored {
    entry: BankEntry,
    /// The PDQ index slot (PDQ entries), the slot in its type's
    /// [`Hash64Table`] (dHash, pHash), or `NO_SLOT`.
    slot: u32,
}

/// Check and normalise an entry's signal.
pub fn parse_signal(signal_type: SignalType, signal: &str) -> Result<(String, ExactOrPdq), String> {
    if signal_type == SignalType::Vpdq {
        let (canonical, frames) = crate::video::normalise_vpdq(signal)?;
        return Ok((canonical, ExactOrPdq::Video { frames }));
    }
    let s = signal.trim();
    let v = parse_signal_value(signal_type, s)?;
    Ok((s.to_ascii_lowercase(), v))
}

/// The raw bytes of a hex signal: a 32-byte buffer and the used length.
pub(crate) fn signal_bytes(signal_type: SignalType, s: &str) -> Option<([u8; 32], usize)> {
    let mut out = [0u8; 32];
    match parse_signal_value(signal_type, s).ok()? {
        ExactOrPdq::Pdq(h) => out = h.0,
        ExactOrPdq::Exact(e) => {
            let b = e.bytes();
            out[..b.len()].copy_from_slice(b);
            return Some((out, b.len()));
        }
        ExactOrPdq::Hash64 { hash, .. } => {
            out[..8].copy_from_slice(&hash.to_be_bytes());
            return Some((out, 8));
        }
        ExactOrPdq::Video { .. } => return None,
    }
    Some((out, 32))
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Check and decode a trimmed hex signal (either case), without allocating.
/// Where the value goes follows its kind's [`Matching`].
fn parse_signal_value(signal_type: SignalType, s: &str) -> Result<ExactOrPdq, String> {
    let k = kind(signal_type);
    let matching = k.matching();
    if matching == Matching::Video {
        return crate::video::check_vpdq(s).map(|frames| ExactOrPdq::Video { frames });
    }
    let digits = k.hex_digits().unwrap_or(0);
    let mut raw = [0u8; 32];
    let n = digits / 2;
    let ok = n <= 32 && crate::signal::decode_hex_into(s.as_bytes(), &mut raw[..n.min(32)]);
    if !ok {
        return Err(match crate::signal::check_hex(signal_type, s) {
            Err(e) => e.to_string(),
            Ok(()) => format!("{signal_type} signal is not valid"),
        });
    }
    let v = match matching {
        Matching::Hamming { bits: 256, .. } => ExactOrPdq::Pdq(PdqHash(raw)),
        Matching::Hamming { bits: 64, .. } => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[..8]);
            ExactOrPdq::Hash64 {
                signal_type,
                hash: u64::from_be_bytes(b),
            }
        }
        Matching::Exact => match ExactHash::new(signal_type, &raw[..n]) {
            Some(e) => ExactOrPdq::Exact(e),
            None => return Err(format!("{signal_type} signal is too long")),
        },
        Matching::Hamming { bits, .. } => {
            return Err(format!("{bits}-bit {signal_type} signals are not indexed"))
        }
        Matching::Video => unreachable!("handled above"),
    };
    Ok(v)
}

/// A parsed signal value, by where the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExactOrPdq {
    Pdq(PdqHash),
    Exact(ExactHash),
    /// A 64-bit distance-matched hash (dHash, pHash).
    Hash64 {
        signal_type: SignalType,
        hash: u64,
    },
    /// A banked video (vPDQ text) with this many kept frames; matched by
    /// `vigil-vpdq`'s video index, never by [`HashDb::lookup`].
    Video {
        frames: usize,
    },
}

/// The 64-bit hashes of one signal type, scanned linearly on lookup:
/// `hashes[i]` belongs to the entry at place `owner[i]`. Deletes move the
/// last hash into the freed slot, so the table never holds dead hashes.
#[derive(Debug, Default, Clone)]
struct Hash64Table {
    hashes: Vec<u64>,
    owner: Vec<u32>,
}

impl Hash64Table {
    /// Append a hash owned by `place`; returns its slot.
    fn push(&mut self, hash: u64, place: u32) -> u32 {
        self.hashes.push(hash);
        self.owner.push(place);
        (self.hashes.len() - 1) as u32
    }

    /// Remove `slot`; returns the place whose hash moved into it, if any.
    fn swap_remove(&mut self, slot: u32) -> Option<u32> {
        let i = slot as usize;
        if i >= self.hashes.len() {
            return None;
        }
        self.hashes.swap_remove(i);
        self.owner.swap_remove(i);
        self.owner.get(i).copied()
    }

    /// Slots within `radius` of `q`, with their distances.
    fn within(&self, q: u64, radius: u32, out: &mut Vec<(u32, u32)>) {
        crate::kernel::scan64(&self.hashes, q, radius, out)
    }

    fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 8 + self.owner.capacity() * 4
    }
}

/// All loaded banks and entries.
#[derive(Debug, Default, Clone)]
pub struct HashDb {
    banks: HashMap<String, Bank>,
    /// Entry storage; `None` marks a free place (reused by later inserts).
    entries: Vec<Option<Stored>>,
    free: Vec<u32>,
    /// bank → entry id → place in `entries`.
    by_bank: HashMap<String, IdMap>,
    exact: HashMap<ExactHash, Vec<u32>, Fx>,
    pdq: PdqIndex,
    /// PDQ slot → place in `entries` (`NO_SLOT` once deleted).
    pdq_owner: Vec<u32>,
    /// 64-bit signals (dHash, pHash), one table per type.
    hash64: BTreeMap<SignalType, Hash64Table>,
    live: usize,
    /// Bumped whenever a video (vPDQ) entry is added, replaced or removed,
    /// or a bank changes, so a video index built from this database knows
    /// when to rebuild.
    video_generation: u64,
}

impl HashDb {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build a database in one go (a snapshot load, or the services' initial
    /// load from SQL): much faster than upserting one by one because the PDQ
    /// index is bulk-built. Entries that fail validation are returned with
    /// their error and left out; a later entry with the same bank and id
    /// replaces an earlier one.
    pub fn load(
        banks: Vec<Bank>,
        entries: impl IntoIterator<Item = BankEntry>,
    ) -> (HashDb, Vec<HashDbError>) {
        let mut db = HashDb::new();
        let mut errors = Vec::new();
        for b in banks {
            if let Err(e) = db.upsert_bank_checked(b) {
                errors.push(e);
            }
        }
        let entries = entries.into_iter();
        // Reserve for the announced number of entries when the memory is
        // there (`try_reserve` fails cleanly on an absurd hint; growth then
        // proceeds as usual).
        let hint = entries.size_hint().0;
        let _ = db.entries.try_reserve(hint);
        let mut hashes = Vec::new();
        let _ = hashes.try_reserve(hint);
        let _ = db.pdq_owner.try_reserve(hint);
        if db.banks.len() == 1 {
            let name = db.banks.keys().next().cloned().unwrap_or_default();
            let mut ids = IdMap::new();
            let _ = ids.try_reserve(hint.min(1 << 25), |_| 0);
            db.by_bank.insert(name, ids);
        }
        for mut entry in entries {
            let parsed = match db.validate(&mut entry) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            // A repeated key replaces the earlier entry inside `place`.
            let slot = match &parsed {
                ExactOrPdq::Pdq(h) => {
                    hashes.push(index::words(h));
                    (hashes.len() - 1) as u32
                }
                ExactOrPdq::Exact(_) | ExactOrPdq::Hash64 { .. } | ExactOrPdq::Video { .. } => {
                    NO_SLOT
                }
            };
            db.place(entry, parsed, slot);
        }
        // Slots of entries replaced during the load are dead in the index.
        let mut alive_slots = vec![false; hashes.len()];
        for s in db.entries.iter().flatten() {
            if s.slot != NO_SLOT && s.entry.signal_type == SignalType::Pdq {
                alive_slots[s.slot as usize] = true;
            }
        }
        // The reservations assumed every entry is PDQ: give back the rest.
        hashes.shrink_to_fit();
        db.pdq_owner.shrink_to_fit();
        db.pdq = PdqIndex::from_hashes(hashes);
        for (slot, alive) in alive_slots.iter().enumerate() {
            if !alive {
                db.pdq.remove(slot as u32);
            }
        }
        (db, errors)
    }

    /// Insert or replace a bank. A bank that [`HashDb::upsert_bank_checked`]
    /// would reject (empty name, a `/` in it, a sampling rate outside 0..=1,
    /// vPDQ thresholds out of range) is ignored; call that instead to see the error.
    pub fn upsert_bank(&mut self, bank: Bank) {
        let _ = self.upsert_bank_checked(bank);
    }

    /// Insert or replace a bank, rejecting bad settings.
    pub fn upsert_bank_checked(&mut self, mut bank: Bank) -> Result<Applied, HashDbError> {
        if bank.name.is_empty() || bank.name.contains('/') {
            return Err(HashDbError::BadBank {
                bank: bank.name,
                detail: "a bank name must be non-empty and contain no '/'".into(),
            });
        }
        if let Some(r) = bank.sampling_rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(HashDbError::BadBank {
                    bank: bank.name,
                    detail: format!("sampling rate {r} is not in 0..=1"),
                });
            }
        }
        if let Err(detail) = bank.vpdq.check() {
            return Err(HashDbError::BadBank {
                bank: bank.name,
                detail,
            });
        }
        if let Err(detail) = bank.check_thresholds() {
            return Err(HashDbError::BadBank {
                bank: bank.name,
                detail,
            });
        }
        bank.pdq_threshold = bank.pdq_threshold.min(MAX_RADIUS);
        let applied = match self.banks.get(&bank.name) {
            Some(old) if *old == bank => Applied::Unchanged,
            Some(_) => Applied::Updated,
            None => Applied::Inserted,
        };
        if applied != Applied::Unchanged {
            // A bank's status and vPDQ thresholds decide how its videos
            // are indexed.
            self.video_generation += 1;
        }
        self.banks.insert(bank.name.clone(), bank);
        Ok(applied)
    }

    /// Remove a bank and all its entries. Returns whether it existed.
    pub fn delete_bank(&mut self, name: &str) -> bool {
        if let Some(places) = self.by_bank.remove(name) {
            for place in places {
                self.drop_stored(place);
            }
        }
        self.maybe_compact();
        self.banks.remove(name).is_some()
    }

    pub fn bank(&self, name: &str) -> Option<&Bank> {
        self.banks.get(name)
    }

    pub fn banks(&self) -> impl Iterator<Item = &Bank> {
        self.banks.values()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The entry with this id, if present.
    pub fn entry(&self, bank: &str, entry_id: &str) -> Option<&BankEntry> {
        let place = find_id(self.by_bank.get(bank)?, &self.entries, entry_id)?;
        self.entries[place as usize].as_ref().map(|s| &s.entry)
    }

    /// A bank's entries, sorted by entry id (for export).
    pub fn entries_of(&self, bank: &str) -> Vec<&BankEntry> {
        let mut out: Vec<&BankEntry> = self
            .by_bank
            .get(bank)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter_map(|&p| self.entries[p as usize].as_ref().map(|s| &s.entry))
            .collect();
        out.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        out
    }

    /// Every live entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &BankEntry> {
        self.entries.iter().flatten().map(|s| &s.entry)
    }

    /// Statistics of one bank.
    pub fn bank_stats(&self, bank: &str) -> Option<BankStats> {
        self.banks.get(bank)?;
        let mut st = BankStats::default();
        for e in self.entries_of(bank) {
            st.entries += 1;
            *st.by_signal.entry(e.signal_type).or_default() += 1;
            st.matches += e.counters.matches;
            st.upheld += e.counters.upheld;
            st.overturned += e.counters.overturned;
        }
        Some(st)
    }

    /// Entries that have had at least `min_decisions` human decisions and
    /// whose overturned share exceeds `max_overturn_rate`, and are not yet
    /// quarantined: candidates for automatic quarantine (the caller records
    /// the change and applies it as an `UpsertEntry` with `quarantined`).
    pub fn quarantine_candidates(
        &self,
        min_decisions: u64,
        max_overturn_rate: f64,
    ) -> Vec<&BankEntry> {
        let mut out: Vec<&BankEntry> = self
            .entries()
            .filter(|e| {
                let c = e.counters;
                let decided = c.upheld + c.overturned;
                !e.quarantined
                    && decided >= min_decisions.max(1)
                    && c.overturned as f64 / decided as f64 > max_overturn_rate
            })
            .collect();
        out.sort_by(|a, b| (&a.bank, &a.entry_id).cmp(&(&b.bank, &b.entry_id)));
        out
    }

    /// The PDQ index (for statistics and memory reports).
    /// Changes whenever the video (vPDQ) entries or any bank change; equal
    /// values mean the same video entries in the same banks.
    pub fn video_generation(&self) -> u64 {
        self.video_generation
    }

    /// Every live video (vPDQ) entry.
    pub fn video_entries(&self) -> impl Iterator<Item = &BankEntry> {
        self.entries().filter(|e| e.signal_type == SignalType::Vpdq)
    }

    pub fn pdq_index(&self) -> &PdqIndex {
        &self.pdq
    }

    /// Check an entry and normalise its signal in place (trimmed, lowercase).
    fn validate(&self, entry: &mut BankEntry) -> Result<ExactOrPdq, HashDbError> {
        if !self.banks.contains_key(&entry.bank) {
            return Err(HashDbError::UnknownBank {
                bank: entry.bank.clone(),
                entry_id: entry.entry_id.clone(),
            });
        }
        if entry.entry_id.is_empty() {
            return Err(HashDbError::BadSignal {
                entry_id: String::new(),
                detail: "empty entry id".into(),
            });
        }
        if entry.signal_type == SignalType::Vpdq {
            let (canonical, frames) =
                crate::video::normalise_vpdq(&entry.signal).map_err(|detail| {
                    HashDbError::BadSignal {
                        entry_id: entry.entry_id.clone(),
                        detail,
                    }
                })?;
            entry.signal = canonical;
            return Ok(ExactOrPdq::Video { frames });
        }
        let trimmed = entry.signal.trim();
        let v = parse_signal_value(entry.signal_type, trimmed).map_err(|detail| {
            HashDbError::BadSignal {
                entry_id: entry.entry_id.clone(),
                detail,
            }
        })?;
        if trimmed.len() != entry.signal.len() {
            entry.signal = trimmed.to_string();
        }
        entry.signal.make_ascii_lowercase();
        Ok(v)
    }

    /// Insert or replace an entry.
    pub fn upsert_entry(&mut self, entry: BankEntry) -> Result<(), HashDbError> {
        self.upsert_entry_applied(entry).map(|_| ())
    }

    /// Insert or replace an entry, saying what changed.
    pub fn upsert_entry_applied(&mut self, mut entry: BankEntry) -> Result<Applied, HashDbError> {
        let parsed = self.validate(&mut entry)?;
        if let Some(old) = self.entry(&entry.bank, &entry.entry_id) {
            if *old == entry {
                return Ok(Applied::Unchanged);
            }
        }
        let existed = self.remove_key(&entry.bank, &entry.entry_id);
        let slot = match &parsed {
            ExactOrPdq::Pdq(h) => self.pdq.insert(h),
            ExactOrPdq::Exact(_) | ExactOrPdq::Hash64 { .. } | ExactOrPdq::Video { .. } => NO_SLOT,
        };
        self.place(entry, parsed, slot);
        if existed {
            self.maybe_compact();
        }
        Ok(if existed {
            Applied::Updated
        } else {
            Applied::Inserted
        })
    }

    /// Store `entry` at a free place. `slot` is its PDQ index slot (PDQ
    /// entries); a 64-bit hash gets its table slot here.
    fn place(&mut self, entry: BankEntry, parsed: ExactOrPdq, mut slot: u32) {
        let place = match self.free.pop() {
            Some(p) => p,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        match parsed {
            ExactOrPdq::Pdq(_) => {
                if self.pdq_owner.len() <= slot as usize {
                    self.pdq_owner.resize(slot as usize + 1, NO_SLOT);
                }
                self.pdq_owner[slot as usize] = place;
            }
            ExactOrPdq::Exact(e) => self.exact.entry(e).or_default().push(place),
            ExactOrPdq::Hash64 { signal_type, hash } => {
                slot = self
                    .hash64
                    .entry(signal_type)
                    .or_default()
                    .push(hash, place);
            }
            ExactOrPdq::Video { .. } => self.video_generation += 1,
        }
        if !self.by_bank.contains_key(&entry.bank) {
            self.by_bank.insert(entry.bank.clone(), IdMap::new());
        }
        self.entries[place as usize] = Some(Stored { entry, slot });
        self.live += 1;
        let entries = &self.entries;
        let stored = &entries[place as usize]
            .as_ref()
            .expect("stored above")
            .entry;
        let ids = self
            .by_bank
            .get_mut(&stored.bank)
            .expect("the bank's table exists");
        let id = stored.entry_id.as_str();
        let h = id_hash(id);
        // A repeated id: the table now points at the new place and the old
        // entry is freed below.
        let replaced = match ids.find_mut(h, |&p| p != place && id_at(entries, p) == id) {
            Some(p) => Some(std::mem::replace(p, place)),
            None => {
                ids.insert_unique(h, place, |&p| id_hash(id_at(entries, p)));
                None
            }
        };
        if let Some(old) = replaced {
            self.drop_stored(old);
        }
    }

    /// Remove an entry (a tombstone). Returns whether it existed.
    pub fn delete_entry(&mut self, bank: &str, entry_id: &str) -> bool {
        let existed = self.remove_key(bank, entry_id);
        self.maybe_compact();
        existed
    }

    fn remove_key(&mut self, bank: &str, entry_id: &str) -> bool {
        let entries = &self.entries;
        let Some(ids) = self.by_bank.get_mut(bank) else {
            return false;
        };
        let Ok(found) = ids.find_entry(id_hash(entry_id), |&p| id_at(entries, p) == entry_id)
        else {
            return false;
        };
        let (place, _) = found.remove();
        self.drop_stored(place)
    }

    /// Free a stored entry whose key is already gone from `by_bank`.
    fn drop_stored(&mut self, place: u32) -> bool {
        let Some(stored) = self.entries[place as usize].take() else {
            return false;
        };
        let e = &stored.entry;
        if stored.slot != NO_SLOT && e.signal_type == SignalType::Pdq {
            self.pdq.remove(stored.slot);
            self.pdq_owner[stored.slot as usize] = NO_SLOT;
        }
        if stored.slot != NO_SLOT && e.signal_type != SignalType::Pdq {
            // A 64-bit hash: the table's last hash moves into the slot.
            let moved = self
                .hash64
                .get_mut(&e.signal_type)
                .and_then(|t| t.swap_remove(stored.slot));
            if let Some(p) = moved {
                if let Some(m) = self.entries[p as usize].as_mut() {
                    m.slot = stored.slot;
                }
            }
        }
        // Exact signals are found again from the stored (validated) hex.
        if e.signal_type == SignalType::Vpdq {
            self.video_generation += 1;
        } else if let Ok(ExactOrPdq::Exact(key)) = parse_signal_value(e.signal_type, &e.signal) {
            if let Some(v) = self.exact.get_mut(&key) {
                v.retain(|&p| p != place);
                if v.is_empty() {
                    self.exact.remove(&key);
                }
            }
        }
        self.free.push(place);
        self.live -= 1;
        true
    }

    /// Rebuild the PDQ index when tombstones outnumber live hashes (and are
    /// many): keeps memory proportional to live entries.
    fn maybe_compact(&mut self) {
        if self.pdq.dead() < 65_536 || self.pdq.dead() < self.pdq.len() {
            return;
        }
        self.compact();
    }

    /// Rebuild the PDQ index over live entries only.
    pub fn compact(&mut self) {
        let mut hashes = Vec::with_capacity(self.pdq.len());
        let mut owner = Vec::with_capacity(self.pdq.len());
        for (place, stored) in self.entries.iter_mut().enumerate() {
            if let Some(s) = stored {
                if s.slot != NO_SLOT && s.entry.signal_type == SignalType::Pdq {
                    let h = self.pdq.get(s.slot).unwrap_or(PdqHash([0; 32]));
                    s.slot = hashes.len() as u32;
                    hashes.push(index::words(&h));
                    owner.push(place as u32);
                }
            }
        }
        self.pdq = PdqIndex::from_hashes(hashes);
        self.pdq_owner = owner;
    }

    /// Apply one change-log record. Idempotent: replaying a record returns
    /// [`Applied::Unchanged`] or [`Applied::Absent`].
    pub fn apply(&mut self, change: Change) -> Result<Applied, HashDbError> {
        match change {
            Change::UpsertBank { bank } => self.upsert_bank_checked(bank),
            Change::DeleteBank { name } => Ok(if self.delete_bank(&name) {
                Applied::Deleted
            } else {
                Applied::Absent
            }),
            Change::UpsertEntry { entry } => self.upsert_entry_applied(entry),
            Change::DeleteEntry { bank, entry_id } => Ok(if self.delete_entry(&bank, &entry_id) {
                Applied::Deleted
            } else {
                Applied::Absent
            }),
        }
    }

    /// Count an outcome on an entry. Returns whether the entry exists.
    pub fn record_outcome(&mut self, bank: &str, entry_id: &str, outcome: Outcome) -> bool {
        let Some(place) = self
            .by_bank
            .get(bank)
            .and_then(|m| find_id(m, &self.entries, entry_id))
        else {
            return false;
        };
        let Some(s) = self.entries[place as usize].as_mut() else {
            return false;
        };
        let c = &mut s.entry.counters;
        match outcome {
            Outcome::Matched => c.matches += 1,
            Outcome::Upheld => c.upheld += 1,
            Outcome::Overturned => c.overturned += 1,
        }
        true
    }

    /// Every match of `signals` in active or quarantined banks (quarantined
    /// matches are returned so policy can route them to review), sorted by
    /// distance, bank, entry id.
    pub fn lookup(&self, signals: &Signals) -> Vec<Match> {
        self.lookup_detailed(signals)
            .into_iter()
            .map(|d| d.m)
            .collect()
    }

    /// Like [`HashDb::lookup`], with each bank's action and status and the
    /// entry's opinion, and whether the match must suppress automation.
    pub fn lookup_detailed(&self, signals: &Signals) -> Vec<MatchDetail> {
        let mut out = Vec::new();
        for e in [
            ExactHash::md5(signals.md5),
            ExactHash::sha256(signals.sha256),
        ] {
            if let Some(places) = self.exact.get(&e) {
                for &p in places {
                    self.push_match(p, 0, signals, &mut out);
                }
            }
        }
        if let Some((q, _quality)) = &signals.pdq {
            if let Some(radius) = self.search_radius(SignalType::Pdq) {
                let mut hits: Vec<Hit> = Vec::new();
                self.pdq.range(q, radius, &mut hits);
                for h in hits {
                    let place = self.pdq_owner[h.slot as usize];
                    if place != NO_SLOT {
                        self.push_match(place, h.distance, signals, &mut out);
                    }
                }
            }
        }
        for (&t, table) in &self.hash64 {
            let Some(q) = signals.hash64(t) else {
                continue;
            };
            if let Some(radius) = self.search_radius(t) {
                let mut hits = Vec::new();
                table.within(q, radius, &mut hits);
                for (slot, distance) in hits {
                    self.push_match(table.owner[slot as usize], distance, signals, &mut out);
                }
            }
        }
        out.sort_by(|a, b| {
            a.m.distance
                .cmp(&b.m.distance)
                .then_with(|| a.m.bank.cmp(&b.m.bank))
                .then_with(|| a.m.entry_id.cmp(&b.m.entry_id))
        });
        out
    }

    /// How far a lookup of type `t` must search: the widest threshold for
    /// it among the banks that are not disabled (`None` without any).
    fn search_radius(&self, t: SignalType) -> Option<u32> {
        self.banks
            .values()
            .filter(|b| b.status != BankStatus::Disabled)
            .map(|b| b.threshold(t))
            .max()
    }

    /// Every live PDQ entry within `radius` (at most 63) of `q`, nearest
    /// first, whatever the banks' thresholds and status: for operators'
    /// lookups and `vigil match`, not for decisions.
    pub fn pdq_within(&self, q: &PdqHash, radius: u32) -> Vec<(u32, &BankEntry)> {
        let mut hits: Vec<Hit> = Vec::new();
        self.pdq.range(q, radius.min(MAX_RADIUS), &mut hits);
        let mut out: Vec<(u32, &BankEntry)> = hits
            .into_iter()
            .filter_map(|h| {
                let place = self.pdq_owner[h.slot as usize];
                if place == NO_SLOT {
                    return None;
                }
                self.entries[place as usize]
                    .as_ref()
                    .map(|s| (h.distance, &s.entry))
            })
            .collect();
        nearest_first(&mut out);
        out
    }

    /// Every live entry of the 64-bit type `t` (dHash, pHash) within
    /// `radius` of `q`, nearest first, whatever the banks' thresholds and
    /// status: for operators' lookups, not for decisions.
    pub fn hash64_within(&self, t: SignalType, q: u64, radius: u32) -> Vec<(u32, &BankEntry)> {
        let Some(table) = self.hash64.get(&t) else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        table.within(q, radius, &mut hits);
        let mut out: Vec<(u32, &BankEntry)> = hits
            .into_iter()
            .filter_map(|(slot, d)| {
                let place = table.owner[slot as usize];
                self.entries[place as usize].as_ref().map(|s| (d, &s.entry))
            })
            .collect();
        nearest_first(&mut out);
        out
    }

    fn push_match(&self, place: u32, distance: u32, signals: &Signals, out: &mut Vec<MatchDetail>) {
        let Some(s) = &self.entries[place as usize] else {
            return;
        };
        let e = &s.entry;
        let Some(bank) = self.banks.get(&e.bank) else {
            return;
        };
        if bank.status == BankStatus::Disabled {
            return;
        }
        if distance > bank.threshold(e.signal_type) {
            return;
        }
        if !bank.samples(&signals.sha256) {
            return;
        }
        let mut labels = bank.labels.clone();
        for l in &e.labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
        let opinion = e.provenance.as_ref().and_then(|p| p.opinion);
        let reason = if bank.action == BankAction::Allow {
            Some(format!(
                "allow-list bank {} matched: automated action suppressed",
                bank.name
            ))
        } else if bank.status == BankStatus::Quarantined {
            Some(format!("bank {} is quarantined", bank.name))
        } else if e.quarantined {
            Some(format!("entry {} is quarantined", e.entry_id))
        } else if opinion == Some(Opinion::Negative) {
            Some(format!("entry {} is disputed by its sharer", e.entry_id))
        } else {
            None
        };
        out.push(MatchDetail {
            m: Match {
                bank: e.bank.clone(),
                entry_id: e.entry_id.clone(),
                signal_type: e.signal_type,
                distance,
                labels,
            },
            bank_action: bank.action,
            bank_status: bank.status,
            opinion,
            suppresses_automation: reason.is_some(),
            reason,
            entry_quarantined: e.quarantined,
            charter: bank.charter.clone(),
        });
    }

    /// Resident bytes of the indexes (PDQ, 64-bit tables) and an estimate
    /// for the entry store.
    pub fn memory_bytes(&self) -> MemoryReport {
        let index = self.pdq.memory_bytes()
            + self.pdq_owner.capacity() * 4
            + self
                .hash64
                .values()
                .map(Hash64Table::memory_bytes)
                .sum::<usize>();
        let mut entries = self.entries.capacity() * std::mem::size_of::<Option<Stored>>();
        for s in self.entries.iter().flatten() {
            let e = &s.entry;
            entries += e.bank.capacity() + e.entry_id.capacity() + e.signal.capacity();
            entries += e.labels.iter().map(|l| l.capacity() + 24).sum::<usize>();
            entries += e.note.as_ref().map_or(0, |n| n.capacity());
        }
        // The id tables: a 4-byte place and a control byte per bucket.
        entries += self
            .by_bank
            .values()
            .map(|m| m.capacity() * 5)
            .sum::<usize>();
        MemoryReport { index, entries }
    }
}

/// Operators' lookups in order: nearest first, then by bank and entry id.
fn nearest_first(hits: &mut [(u32, &BankEntry)]) {
    hits.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.bank.cmp(&b.1.bank))
            .then_with(|| a.1.entry_id.cmp(&b.1.entry_id))
    });
}

/// Memory use of a [`HashDb`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    /// The PDQ index and slot map and the 64-bit tables, exact.
    pub index: usize,
    /// Entry metadata, estimated from string capacities.
    pub entries: usize,
}
