//! Snapshots: the whole [`HashDb`] (banks and entries) in a versioned,
//! checksummed binary file, so a worker starts fast and then catches up from
//! the change log.
//!
//! Owns the snapshot format (`docs/formats.md` describes it byte by byte):
//!
//! ```text
//! header   b"VIGILHDB"  version: u32 LE (1 or 2)  reserved: u32 (= 0)
//! body     cursor: str   banks: u32 count × (JSON str)
//!          entries: u64 count × entry (see write_entry)
//! trailer  b"VHDBEND\0"  crc32: u32 LE over every byte before the trailer
//! ```
//!
//! `str` is a `u32` LE byte length and UTF-8 bytes. The `cursor` is opaque to
//! the library: the services store their change-log position there (e.g.
//! Kafka offsets as JSON) and resume from it after loading.
//!
//! Version 2 adds the 64-bit signal types (dHash, pHash: codes 5 and 6,
//! 8 raw bytes) and banks' `thresholds`. A writer uses version 1 while
//! the database holds none of them, so older builds still read its
//! snapshots; a snapshot that needs version 2 gives an older build a clear
//! [`SnapshotError::UnsupportedVersion`] instead of a corrupt-entry error.
//! This build reads both.
//!
//! Reading never half-loads: the database is built only after the trailer's
//! checksum matches and nothing follows it; a truncated, corrupted or foreign
//! file gives a typed [`SnapshotError`]. The PDQ index itself is not stored;
//! it is bulk-built on load (about a second per ten million hashes).

use crate::bank::{Bank, BankEntry, EntryCounters, HashDb, HashDbError, Opinion, Provenance};
use crate::signal::{kind, SignalType};
use std::io::{self, BufReader, BufWriter, Read, Write};

/// The magic bytes that open a snapshot.
pub const MAGIC: &[u8; 8] = b"VIGILHDB";
/// The magic bytes of the trailer.
pub const TRAILER: &[u8; 8] = b"VHDBEND\0";
/// The newest format version this build writes and reads (it reads
/// every version from 1 on, and writes the lowest that can hold the
/// database: [`needed_version`]).
pub const VERSION: u32 = 2;
/// The version before the 64-bit signal types (dHash, pHash).
pub const VERSION_1: u32 = 1;
/// Longest string accepted in a snapshot (guards allocation on corrupt input).
pub const MAX_STR: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a Vigil hash database snapshot (bad magic bytes)")]
    BadMagic,
    #[error(
        "snapshot format version {0} is not supported (this build reads versions 1 to {VERSION})"
    )]
    UnsupportedVersion(u32),
    #[error("snapshot is truncated")]
    Truncated,
    #[error("snapshot checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("snapshot is corrupt: {0}")]
    Corrupt(String),
    #[error("snapshot holds an invalid entry: {0}")]
    Entry(#[from] HashDbError),
    #[error("snapshot I/O error: {0}")]
    Io(io::Error),
}

impl From<io::Error> for SnapshotError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            SnapshotError::Truncated
        } else {
            SnapshotError::Io(e)
        }
    }
}

/// What a snapshot holds besides the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub version: u32,
    pub banks: usize,
    pub entries: u64,
    /// The change-log position the writer recorded.
    pub cursor: String,
}

struct CrcWriter<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct CrcReader<R: Read> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for CrcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

fn put_u8(w: &mut impl Write, v: u8) -> io::Result<()> {
    w.write_all(&[v])
}
fn put_u32(w: &mut impl Write, v: u32) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_u64(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    put_u32(w, s.len() as u32)?;
    w.write_all(s.as_bytes())
}
fn put_opt_str(w: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        Some(s) => {
            put_u8(w, 1)?;
            put_str(w, s)
        }
        None => put_u8(w, 0),
    }
}

fn get_u8(r: &mut impl Read) -> Result<u8, SnapshotError> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}
fn get_u32(r: &mut impl Read) -> Result<u32, SnapshotError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}
fn get_u64(r: &mut impl Read) -> Result<u64, SnapshotError> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
fn get_str(r: &mut impl Read) -> Result<String, SnapshotError> {
    let len = get_u32(r)? as usize;
    if len > MAX_STR {
        return Err(SnapshotError::Corrupt(format!("string of {len} bytes")));
    }
    let mut b = vec![0u8; len];
    r.read_exact(&mut b)?;
    String::from_utf8(b).map_err(|_| SnapshotError::Corrupt("string is not UTF-8".into()))
}
fn get_opt_str(r: &mut impl Read) -> Result<Option<String>, SnapshotError> {
    match get_u8(r)? {
        0 => Ok(None),
        1 => Ok(Some(get_str(r)?)),
        t => Err(SnapshotError::Corrupt(format!("option tag {t}"))),
    }
}

fn signal_code(t: SignalType) -> u8 {
    kind(t).snapshot_code()
}

/// Whether a signal type can be written in a version 1 snapshot.
fn in_version_1(t: SignalType) -> bool {
    matches!(
        t,
        SignalType::Pdq | SignalType::Md5 | SignalType::Sha256 | SignalType::Vpdq
    )
}

/// The lowest format version that holds `db`: 1 unless an entry is of a
/// type added later (dHash, pHash) or a bank sets `thresholds`.
pub fn needed_version(db: &HashDb) -> u32 {
    let newer = db.banks().any(|b| !b.thresholds.is_empty())
        || db.entries().any(|e| !in_version_1(e.signal_type));
    if newer {
        VERSION
    } else {
        VERSION_1
    }
}

fn opinion_code(o: Option<Opinion>) -> u8 {
    match o {
        None => 0,
        Some(Opinion::Positive) => 1,
        Some(Opinion::Negative) => 2,
        Some(Opinion::InvestigationSeed) => 3,
    }
}

const HAS_PROVENANCE: u8 = 1;
const HAS_NOTE: u8 = 2;
const HAS_COUNTERS: u8 = 4;
const QUARANTINED: u8 = 8;

/// Write `db` with the change-log position `cursor`.
pub fn write_snapshot<W: Write>(db: &HashDb, cursor: &str, out: W) -> Result<(), SnapshotError> {
    let mut w = CrcWriter {
        inner: BufWriter::with_capacity(1 << 20, out),
        crc: crc32fast::Hasher::new(),
    };
    w.write_all(MAGIC)?;
    put_u32(&mut w, needed_version(db))?;
    put_u32(&mut w, 0)?;
    put_str(&mut w, cursor)?;
    let mut banks: Vec<&Bank> = db.banks().collect();
    banks.sort_by(|a, b| a.name.cmp(&b.name));
    put_u32(&mut w, banks.len() as u32)?;
    for b in &banks {
        let json = serde_json::to_string(b).map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
        put_str(&mut w, &json)?;
    }
    let bank_index: std::collections::HashMap<&str, u32> = banks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.name.as_str(), i as u32))
        .collect();
    put_u64(&mut w, db.len() as u64)?;
    for e in db.entries() {
        let bi = bank_index
            .get(e.bank.as_str())
            .copied()
            .ok_or_else(|| SnapshotError::Corrupt(format!("entry in unknown bank {}", e.bank)))?;
        write_entry(&mut w, bi, e)?;
    }
    w.flush()?;
    let crc = w.crc.clone().finalize();
    let mut inner = w.inner;
    inner.write_all(TRAILER)?;
    inner.write_all(&crc.to_le_bytes())?;
    inner.flush()?;
    Ok(())
}

fn write_entry(w: &mut impl Write, bank: u32, e: &BankEntry) -> Result<(), SnapshotError> {
    put_u32(w, bank)?;
    put_str(w, &e.entry_id)?;
    put_u8(w, signal_code(e.signal_type))?;
    if e.signal_type == SignalType::Vpdq {
        // A video: its canonical vPDQ text, as a string.
        put_str(w, &e.signal)?;
    } else {
        let raw = crate::bank::signal_bytes(e.signal_type, &e.signal).ok_or_else(|| {
            SnapshotError::Corrupt(format!("entry {} has a bad signal", e.entry_id))
        })?;
        w.write_all(&raw.0[..raw.1])?;
    }
    put_u32(w, e.labels.len() as u32)?;
    for l in &e.labels {
        put_str(w, l)?;
    }
    let mut flags = 0;
    if e.provenance.is_some() {
        flags |= HAS_PROVENANCE;
    }
    if e.note.is_some() {
        flags |= HAS_NOTE;
    }
    if e.counters != EntryCounters::default() {
        flags |= HAS_COUNTERS;
    }
    if e.quarantined {
        flags |= QUARANTINED;
    }
    put_u8(w, flags)?;
    if let Some(p) = &e.provenance {
        put_str(w, &p.exchange)?;
        put_str(w, &p.shared_by)?;
        put_opt_str(w, p.shared_at.as_deref())?;
        put_u8(w, opinion_code(p.opinion))?;
        put_opt_str(w, p.source_id.as_deref())?;
    }
    if let Some(n) = &e.note {
        put_str(w, n)?;
    }
    if flags & HAS_COUNTERS != 0 {
        put_u64(w, e.counters.matches)?;
        put_u64(w, e.counters.upheld)?;
        put_u64(w, e.counters.overturned)?;
    }
    Ok(())
}

fn read_entry(r: &mut impl Read, banks: &[Bank], version: u32) -> Result<BankEntry, SnapshotError> {
    let bi = get_u32(r)? as usize;
    let bank = banks
        .get(bi)
        .ok_or_else(|| SnapshotError::Corrupt(format!("bank index {bi}")))?;
    let entry_id = get_str(r)?;
    let code = get_u8(r)?;
    let signal_type = SignalType::from_snapshot_code(code)
        .filter(|t| version >= VERSION || in_version_1(*t))
        .ok_or_else(|| SnapshotError::Corrupt(format!("signal type code {code}")))?;
    let signal = match kind(signal_type).hex_digits() {
        None => get_str(r)?,
        Some(digits) => {
            let len = (digits / 2).min(32);
            let mut raw = [0u8; 32];
            r.read_exact(&mut raw[..len])?;
            crate::bank::to_hex(&raw[..len])
        }
    };
    let mut e = BankEntry {
        bank: bank.name.clone(),
        entry_id,
        signal_type,
        signal,
        labels: Vec::new(),
        provenance: None,
        note: None,
        counters: EntryCounters::default(),
        quarantined: false,
    };
    let labels = get_u32(r)? as usize;
    if labels > MAX_STR {
        return Err(SnapshotError::Corrupt(format!("{labels} labels")));
    }
    for _ in 0..labels {
        e.labels.push(get_str(r)?);
    }
    let flags = get_u8(r)?;
    if flags & !(HAS_PROVENANCE | HAS_NOTE | HAS_COUNTERS | QUARANTINED) != 0 {
        return Err(SnapshotError::Corrupt(format!("entry flags {flags:#x}")));
    }
    if flags & HAS_PROVENANCE != 0 {
        let exchange = get_str(r)?;
        let shared_by = get_str(r)?;
        let shared_at = get_opt_str(r)?;
        let opinion = match get_u8(r)? {
            0 => None,
            1 => Some(Opinion::Positive),
            2 => Some(Opinion::Negative),
            3 => Some(Opinion::InvestigationSeed),
            c => return Err(SnapshotError::Corrupt(format!("opinion code {c}"))),
        };
        let source_id = get_opt_str(r)?;
        e.provenance = Some(Provenance {
            exchange,
            shared_by,
            shared_at,
            opinion,
            source_id,
        });
    }
    if flags & HAS_NOTE != 0 {
        e.note = Some(get_str(r)?);
    }
    e.quarantined = flags & QUARANTINED != 0;
    if flags & HAS_COUNTERS != 0 {
        e.counters = EntryCounters {
            matches: get_u64(r)?,
            upheld: get_u64(r)?,
            overturned: get_u64(r)?,
        };
    }
    Ok(e)
}

/// Reads entries one by one; stops at the first error and keeps it.
struct EntryStream<'a, R: Read> {
    r: &'a mut R,
    banks: &'a [Bank],
    version: u32,
    left: u64,
    failure: &'a mut Option<SnapshotError>,
}

impl<R: Read> Iterator for EntryStream<'_, R> {
    type Item = BankEntry;
    fn next(&mut self) -> Option<BankEntry> {
        if self.left == 0 || self.failure.is_some() {
            return None;
        }
        self.left -= 1;
        match read_entry(self.r, self.banks, self.version) {
            Ok(e) => Some(e),
            Err(e) => {
                *self.failure = Some(e);
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // The file's count; `HashDb::load` only reserves it with
        // `try_reserve`, so a corrupt count cannot abort the process.
        (usize::try_from(self.left).unwrap_or(usize::MAX), None)
    }
}

/// Entries handed from the reading thread to the building one at a time.
const BATCH: usize = 8192;

/// The building side of a load: entries as the reading thread sends them.
struct Received<'a> {
    rx: &'a std::sync::mpsc::Receiver<Vec<BankEntry>>,
    batch: std::vec::IntoIter<BankEntry>,
    /// The file's entry count, for `HashDb::load`'s reservation.
    hint: usize,
}

impl Iterator for Received<'_> {
    type Item = BankEntry;
    fn next(&mut self) -> Option<BankEntry> {
        loop {
            if let Some(e) = self.batch.next() {
                return Some(e);
            }
            self.batch = self.rx.recv().ok()?.into_iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // As `EntryStream`: only ever reserved with `try_reserve`.
        (self.hint, None)
    }
}

/// Read a snapshot: the database and what else the file holds. Nothing is
/// returned unless the whole file is intact.
///
/// Two threads share the work: one reads, checksums and decodes entries,
/// the other validates them and builds the database (maps and the PDQ
/// index), so a load takes about the longer of the two instead of their sum.
pub fn read_snapshot<R: Read + Send>(input: R) -> Result<(HashDb, SnapshotInfo), SnapshotError> {
    let mut r = CrcReader {
        inner: BufReader::with_capacity(1 << 20, input),
        crc: crc32fast::Hasher::new(),
    };
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => SnapshotError::BadMagic,
        _ => SnapshotError::Io(e),
    })?;
    if &magic != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let version = get_u32(&mut r)?;
    if !(VERSION_1..=VERSION).contains(&version) {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let reserved = get_u32(&mut r)?;
    if reserved != 0 {
        return Err(SnapshotError::Corrupt(format!(
            "reserved header field {reserved}"
        )));
    }
    let cursor = get_str(&mut r)?;
    let nbanks = get_u32(&mut r)? as usize;
    if nbanks > MAX_STR {
        return Err(SnapshotError::Corrupt(format!("{nbanks} banks")));
    }
    let mut banks = Vec::with_capacity(nbanks.min(1024));
    for _ in 0..nbanks {
        let json = get_str(&mut r)?;
        let b: Bank = serde_json::from_str(&json)
            .map_err(|e| SnapshotError::Corrupt(format!("bank record: {e}")))?;
        if version < VERSION && !b.thresholds.is_empty() {
            return Err(SnapshotError::Corrupt(format!(
                "bank record with thresholds in a version {version} snapshot"
            )));
        }
        banks.push(b);
    }
    let nentries = get_u64(&mut r)?;
    // Entries stream straight into the database being built; it is dropped
    // (never returned) if anything after this point fails.
    let mut failure: Option<SnapshotError> = None;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<BankEntry>>(4);
    let (db, errors) = std::thread::scope(|scope| {
        let (r, banks_ref, failure) = (&mut r, &banks, &mut failure);
        scope.spawn(move || {
            let mut entries = EntryStream {
                r,
                banks: banks_ref,
                version,
                left: nentries,
                failure,
            };
            loop {
                let batch: Vec<BankEntry> = entries.by_ref().take(BATCH).collect();
                // A closed channel means the builder is gone: stop reading.
                if batch.is_empty() || tx.send(batch).is_err() {
                    break;
                }
            }
        });
        let hint = usize::try_from(nentries).unwrap_or(usize::MAX);
        HashDb::load(
            banks.clone(),
            Received {
                rx: &rx,
                batch: Vec::new().into_iter(),
                hint,
            },
        )
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let computed = r.crc.clone().finalize();
    let mut inner = r.inner;
    let mut trailer = [0u8; 12];
    inner.read_exact(&mut trailer)?;
    if &trailer[..8] != TRAILER {
        return Err(SnapshotError::Corrupt("missing trailer".into()));
    }
    let stored = u32::from_le_bytes([trailer[8], trailer[9], trailer[10], trailer[11]]);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    let mut extra = [0u8; 1];
    if inner.read(&mut extra)? != 0 {
        return Err(SnapshotError::Corrupt("bytes after the trailer".into()));
    }
    let info = SnapshotInfo {
        version,
        banks: db.banks().count(),
        entries: nentries,
        cursor,
    };
    if let Some(e) = errors.into_iter().next() {
        return Err(SnapshotError::Entry(e));
    }
    Ok((db, info))
}
