//! Hash-sharing exchange formats: streaming import and export.
//!
//! Owns the parsing and writing of four formats (`docs/formats.md` has the
//! details and examples):
//!
//! * [`Format::HashList`]: `pdq <hex>` / `md5 <hex>` / `sha256 <hex>` /
//!   `dhash <hex>` / `phash <hex>` lines, `#` comments ([`hashlist`]);
//! * [`Format::TeCsv`]: ThreatExchange-style CSV with a header naming
//!   `signal_type` and `signal` (or `signal_str`) and optional label and
//!   provenance columns ([`csv`]);
//! * [`Format::TeJson`]: ThreatExchange update records, one JSON object per
//!   line (`type: HASH_PDQ`, `indicator`, `should_delete`, `tags`, ...), or a
//!   `{"data": [...]}` page on a line ([`te_json`]);
//! * [`Format::Tcap`]: TCAP-style JSON pages, `results[]` of
//!   `{hash_digest, algorithm, ...}` with `next` / `checkpoint` ([`tcap`]);
//! * [`Format::Vpdq`]: the reference vPDQ text of one video per file, or of
//!   several videos each opened by a `# entry <id>` line ([`vpdq`]).
//!
//! Video (vPDQ) signals travel in the one-line forms as ThreatExchange's
//! JSON array of `"pdq_hex,quality,timestamp"` strings.
//!
//! Import is pure: it reads a [`BufRead`] and hands each accepted record or
//! rejected line to a callback, never stopping at a bad line. It is:
//! *streaming* (one line in memory, lines capped at
//! [`ImportOptions::max_line_bytes`]), *idempotent* (entry ids are derived
//! from bank + signal with [`BankEntry::derive_id`], so a re-import upserts
//! identical entries), and *resumable* (every record has a position; pass the
//! summary's `cursor` as [`ImportOptions::resume_after`] to continue).
//! BOMs and CRLF line ends are accepted.

pub mod csv;
pub mod hashlist;
pub mod tcap;
pub mod te_json;
pub mod vpdq;

use crate::bank::{BankEntry, Change, Provenance};
use crate::signal::{SignalError, SignalType};
use std::collections::HashMap;
use std::io::{self, BufRead};
use std::str::FromStr;

/// An exchange format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    HashList,
    TeCsv,
    TeJson,
    Tcap,
    Vpdq,
}

impl Format {
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::HashList => "hashlist",
            Format::TeCsv => "te-csv",
            Format::TeJson => "te-json",
            Format::Tcap => "tcap",
            Format::Vpdq => "vpdq",
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hashlist" | "list" | "txt" => Ok(Format::HashList),
            "te-csv" | "csv" => Ok(Format::TeCsv),
            "te-json" | "json" | "jsonl" => Ok(Format::TeJson),
            "tcap" => Ok(Format::Tcap),
            "vpdq" => Ok(Format::Vpdq),
            other => Err(format!(
                "unknown format {other:?} (hashlist, te-csv, te-json, tcap, vpdq)"
            )),
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The bank entries go into.
    pub bank: String,
    /// Skip records at positions `<=` this (a previous run's cursor).
    pub resume_after: u64,
    /// Longer lines are rejected (and skipped without being held in memory).
    pub max_line_bytes: usize,
    /// PDQ records with a quality below this are rejected.
    pub pdq_quality_floor: Option<u8>,
    /// Labels added to every imported entry.
    pub labels: Vec<String>,
    /// Provenance defaults; fields a record gives override them.
    pub provenance: Provenance,
    /// Report repeated signals within one import as rejections (remembers up
    /// to this many distinct signals; 0 turns the check off). Repeats are
    /// harmless either way: they derive the same entry id.
    pub duplicate_window: usize,
}

impl ImportOptions {
    pub fn new(bank: &str) -> Self {
        ImportOptions {
            bank: bank.to_string(),
            resume_after: 0,
            max_line_bytes: 64 * 1024,
            pdq_quality_floor: None,
            labels: Vec::new(),
            provenance: Provenance::default(),
            duplicate_window: 1_000_000,
        }
    }
}

/// What an accepted record asks for.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum ImportOp {
    Upsert(BankEntry),
    /// The exchange withdrew the signal: a tombstone.
    Delete {
        bank: String,
        entry_id: String,
    },
}

impl ImportOp {
    /// The change-log record to apply and publish.
    pub fn into_change(self) -> Change {
        match self {
            ImportOp::Upsert(entry) => Change::UpsertEntry { entry },
            ImportOp::Delete { bank, entry_id } => Change::DeleteEntry { bank, entry_id },
        }
    }
}

/// Why a line or record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("unknown signal type {0:?}")]
    UnknownSignalType(String),
    #[error("{signal_type} signal is not hex")]
    BadHex { signal_type: SignalType },
    #[error("{signal_type} signal has {got} hex digits, expected {expected}")]
    WrongLength {
        signal_type: SignalType,
        expected: usize,
        got: usize,
    },
    #[error("PDQ quality {quality} is below the floor {floor}")]
    QualityBelowFloor { quality: u8, floor: u8 },
    #[error("unknown opinion {0:?}")]
    BadOpinion(String),
    #[error("bad quality value {0:?}")]
    BadQuality(String),
    #[error("line is {len} bytes, longer than the limit of {max}")]
    LineTooLong { len: usize, max: usize },
    #[error("line is not UTF-8")]
    NotUtf8,
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("unexpected extra field {0:?}")]
    ExtraField(String),
    #[error("row has {got} fields, the header has {expected}")]
    FieldCount { expected: usize, got: usize },
    #[error("unterminated quoted field")]
    UnterminatedQuote,
    #[error("CSV header lacks a {0} column")]
    BadHeader(&'static str),
    #[error("bad JSON: {0}")]
    BadJson(String),
    #[error("duplicate of the signal at position {first}")]
    Duplicate { first: u64 },
    #[error("{0}")]
    BadVpdq(String),
    /// Governance: the entry carries a label its bank's charter does not allow.
    #[error("label {0:?} is outside the bank's charter")]
    OutsideCharter(String),
    /// Governance: a chartered bank needs a behaviour label on every entry.
    #[error("entry has no behaviour label; the bank's charter needs one of its allowed labels")]
    Unlabelled,
}

/// One accepted record.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRecord {
    /// Line number (1-based); for TCAP pages, the record's index in `results`.
    pub position: u64,
    pub op: ImportOp,
}

/// One rejected line or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub position: u64,
    pub reason: RejectReason,
}

/// What the import callback receives.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum ImportEvent {
    Record(ImportRecord),
    Rejected(Rejection),
}

/// The end-of-import summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Lines (or records) read, including comments and skipped ones.
    pub read: u64,
    pub upserts: u64,
    pub deletes: u64,
    pub rejected: u64,
    /// Records skipped because they were at or before `resume_after`.
    pub skipped: u64,
    /// The last position fully processed: resume from here.
    pub cursor: u64,
    /// TCAP: the next page to fetch, if the page names one.
    pub next_page: Option<String>,
    /// TCAP: the page's checkpoint token, if any.
    pub checkpoint: Option<String>,
}

/// Errors that stop an import (bad lines never do).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading the import: {0}")]
    Io(#[from] io::Error),
    #[error("TCAP page is not a JSON object with results[]: {0}")]
    BadPage(String),
}

/// Import `input` in `format`, calling `sink` for every accepted record and
/// every rejection, in order.
pub fn import<R: BufRead>(
    format: Format,
    input: R,
    opts: &ImportOptions,
    sink: impl FnMut(ImportEvent),
) -> Result<ImportSummary, ImportError> {
    let mut ctx = Ctx::new(opts, sink);
    match format {
        Format::HashList => hashlist::import(input, &mut ctx)?,
        Format::TeCsv => csv::import(input, &mut ctx)?,
        Format::TeJson => te_json::import(input, &mut ctx)?,
        Format::Tcap => tcap::import(input, &mut ctx)?,
        Format::Vpdq => vpdq::import(input, &mut ctx)?,
    }
    Ok(ctx.summary)
}

/// Import state shared by the format parsers.
pub(crate) struct Ctx<'a, F: FnMut(ImportEvent)> {
    pub opts: &'a ImportOptions,
    sink: F,
    pub summary: ImportSummary,
    seen: HashMap<String, u64>,
}

/// A record as a format parser found it, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawRecord<'s> {
    pub signal_type: Option<&'s str>,
    pub signal: Option<&'s str>,
    pub quality: Option<&'s str>,
    pub labels: Vec<String>,
    pub delete: bool,
    pub entry_id: Option<String>,
    pub exchange: Option<String>,
    pub shared_by: Option<String>,
    pub shared_at: Option<String>,
    pub opinion: Option<String>,
    pub source_id: Option<String>,
    pub note: Option<String>,
}

impl<'a, F: FnMut(ImportEvent)> Ctx<'a, F> {
    fn new(opts: &'a ImportOptions, sink: F) -> Self {
        Ctx {
            opts,
            sink,
            summary: ImportSummary::default(),
            seen: HashMap::new(),
        }
    }

    /// Whether `position` is to be processed (not before the resume cursor).
    pub fn take(&mut self, position: u64) -> bool {
        self.summary.read += 1;
        if position <= self.opts.resume_after {
            self.summary.skipped += 1;
            return false;
        }
        true
    }

    pub fn done(&mut self, position: u64) {
        self.summary.cursor = self.summary.cursor.max(position);
    }

    pub fn reject(&mut self, position: u64, reason: RejectReason) {
        self.summary.rejected += 1;
        (self.sink)(ImportEvent::Rejected(Rejection { position, reason }));
    }

    /// Validate a raw record and emit it.
    pub fn record(&mut self, position: u64, raw: RawRecord<'_>) {
        match self.build(position, raw) {
            Ok(op) => {
                match &op {
                    ImportOp::Upsert(_) => self.summary.upserts += 1,
                    ImportOp::Delete { .. } => self.summary.deletes += 1,
                }
                (self.sink)(ImportEvent::Record(ImportRecord { position, op }));
            }
            Err(reason) => self.reject(position, reason),
        }
    }

    fn build(&mut self, position: u64, raw: RawRecord<'_>) -> Result<ImportOp, RejectReason> {
        let t = raw
            .signal_type
            .ok_or(RejectReason::MissingField("signal_type"))?;
        let signal_type = parse_signal_type(t)?;
        let signal = raw.signal.ok_or(RejectReason::MissingField("signal"))?;
        let signal = if signal_type == SignalType::Vpdq {
            crate::video::normalise_vpdq(signal)
                .map_err(RejectReason::BadVpdq)?
                .0
        } else {
            check_hex(signal_type, signal)?
        };
        if let (Some(q), SignalType::Pdq) = (raw.quality, signal_type) {
            let q = q.trim();
            if !q.is_empty() {
                let quality: u8 = q
                    .parse()
                    .ok()
                    .filter(|&v: &u8| v <= 100)
                    .ok_or_else(|| RejectReason::BadQuality(q.to_string()))?;
                if let Some(floor) = self.opts.pdq_quality_floor {
                    if quality < floor {
                        return Err(RejectReason::QualityBelowFloor { quality, floor });
                    }
                }
            }
        }
        let bank = &self.opts.bank;
        let entry_id = match raw.entry_id.filter(|s| !s.is_empty()) {
            Some(id) => id,
            None => BankEntry::derive_id(bank, signal_type, &signal),
        };
        if raw.delete {
            self.seen.remove(&entry_id);
            return Ok(ImportOp::Delete {
                bank: bank.clone(),
                entry_id,
            });
        }
        if self.opts.duplicate_window > 0 {
            if let Some(&first) = self.seen.get(&entry_id) {
                return Err(RejectReason::Duplicate { first });
            }
            if self.seen.len() < self.opts.duplicate_window {
                self.seen.insert(entry_id.clone(), position);
            }
        }
        let mut e = BankEntry::new(bank, &entry_id, signal_type, &signal);
        e.labels = self.opts.labels.clone();
        for l in raw.labels {
            let l = l.trim().to_string();
            if !l.is_empty() && !e.labels.contains(&l) {
                e.labels.push(l);
            }
        }
        let d = &self.opts.provenance;
        let opinion = match raw
            .opinion
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(o) => Some(
                crate::bank::Opinion::parse(o)
                    .ok_or_else(|| RejectReason::BadOpinion(o.to_string()))?,
            ),
            None => d.opinion,
        };
        let p = Provenance {
            exchange: raw.exchange.unwrap_or_else(|| d.exchange.clone()),
            shared_by: raw.shared_by.unwrap_or_else(|| d.shared_by.clone()),
            shared_at: raw.shared_at.or_else(|| d.shared_at.clone()),
            opinion,
            source_id: raw.source_id.or_else(|| d.source_id.clone()),
        };
        if p != Provenance::default() {
            e.provenance = Some(p);
        }
        e.note = raw.note.filter(|n| !n.is_empty());
        Ok(ImportOp::Upsert(e))
    }
}

/// Parse a signal type as exchanges spell it (`pdq`, `HASH_PDQ`, `PDQ`,
/// `md5`, `HASH_MD5`, `video_md5`, `sha256`, `SHA-256`, `HASH_SHA256`,
/// `dhash`, `HASH_DHASH`, `phash`, `HASH_PHASH`, ...): each kind's name and
/// aliases ([`crate::signal::SignalKind::aliases`]).
pub fn parse_signal_type(s: &str) -> Result<SignalType, RejectReason> {
    SignalType::parse_loose(s).ok_or_else(|| RejectReason::UnknownSignalType(s.trim().to_string()))
}

/// Normalise and check a hex signal (lowercase, right length).
pub fn check_hex(signal_type: SignalType, s: &str) -> Result<String, RejectReason> {
    let s = s.trim();
    if s.is_empty() {
        return Err(RejectReason::MissingField("signal"));
    }
    match crate::signal::check_hex(signal_type, s) {
        Ok(()) => Ok(s.to_ascii_lowercase()),
        Err(SignalError::NotHex { signal_type }) => Err(RejectReason::BadHex { signal_type }),
        Err(SignalError::WrongLength {
            signal_type,
            expected,
            got,
        }) => Err(RejectReason::WrongLength {
            signal_type,
            expected,
            got,
        }),
        Err(SignalError::NotHexKind(_)) => Err(RejectReason::BadVpdq(
            "a vpdq signal is frame lines or a JSON array, not one hex value".into(),
        )),
    }
}

/// An entry's signal as it travels on one line of an exchange format: the
/// hex itself, or for a video the ThreatExchange JSON array form.
pub fn exchange_signal(e: &BankEntry) -> String {
    if e.signal_type != SignalType::Vpdq {
        return e.signal.clone();
    }
    match crate::video::parse_features(&e.signal) {
        Ok(f) => crate::video::format_te_signal(&f),
        Err(_) => "[]".into(),
    }
}

/// What [`read_line`] found.
pub(crate) enum Line {
    /// A line (without its line end), BOM removed on the first line.
    Text(String),
    TooLong(usize),
    NotUtf8,
}

/// Read one line of at most `max` bytes into memory; longer lines are
/// consumed and reported by length. `None` at end of input.
pub(crate) fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    first: bool,
) -> io::Result<Option<Line>> {
    buf.clear();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        any = true;
        let (chunk, used, end) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        total += chunk.len();
        if buf.len() < max + 1 {
            let room = max + 1 - buf.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        r.consume(used);
        if end {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
        total -= 1;
    }
    if total > max {
        return Ok(Some(Line::TooLong(total)));
    }
    let mut bytes = &buf[..];
    if first {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Some(Line::Text(s.to_string()))),
        Err(_) => Ok(Some(Line::NotUtf8)),
    }
}

/// Run `f` over every line with its 1-based number, handling limits, BOM,
/// CRLF, resume and UTF-8 errors.
pub(crate) fn for_each_line<R: BufRead, F: FnMut(ImportEvent)>(
    mut input: R,
    ctx: &mut Ctx<'_, F>,
    mut f: impl FnMut(&mut Ctx<'_, F>, u64, &str),
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut n = 0u64;
    let max = ctx.opts.max_line_bytes;
    while let Some(line) = read_line(&mut input, &mut buf, max, n == 0)? {
        n += 1;
        if !ctx.take(n) {
            continue;
        }
        match line {
            Line::Text(s) => f(ctx, n, &s),
            Line::TooLong(len) => ctx.reject(n, RejectReason::LineTooLong { len, max }),
            Line::NotUtf8 => ctx.reject(n, RejectReason::NotUtf8),
        }
        ctx.done(n);
    }
    Ok(())
}
