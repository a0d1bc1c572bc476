//! Starting from a snapshot of the hash database instead of loading every
//! bank from the database, and writing that snapshot while running
//! (`[hashdb]` in `vigil.toml`; docs/hashdb.md, "Starting from a snapshot").
//!
//! # The cursor: a position in the database's change log
//!
//! The database is the system of record for banks: every change to a bank
//! or entry row appends a record to the governance change log
//! (`gov_changelog`) *in the same transaction*, and a record can only be
//! appended after the committed head, so the log's sequence numbers are
//! the order in which bank changes committed. The change is published on
//! `vigil.hashdb` only afterwards, and not always: with the embedded broker
//! a CLI in another process cannot reach the topic, and a publish can fail
//! after the commit. Those changes reach running processes only through
//! the database. A snapshot therefore records where its banks stand in
//! the *database's* change log, `(seq, hash)`, not offsets of the topic:
//!
//! * **Invariant** kept by every process that writes snapshots: its banks
//!   in memory reflect every bank change with a sequence number up to its
//!   position `P`. It holds after a full load (the head is read *before*
//!   the rows, and seqs commit in order), after replaying the change log's
//!   records after `P` (then `P` moves to the last record replayed), and
//!   it is kept by everything else that changes the banks in memory, which
//!   only applies changes that are in the database too.
//!
//! * **A start from a snapshot** first pins the end offsets of
//!   `vigil.hashdb` (as a start from the database does), then reads the
//!   snapshot, checks that this database's change log holds the record
//!   `seq` with the same `hash` (the same database and history, not
//!   another or a restored one), replays every bank change after `seq`
//!   from the database, and follows the topic from the pinned offsets.
//!   Every change committed before the replay's last read is in the
//!   snapshot (seq ≤ P) or replayed (seq > P); every change committed
//!   after it is published after the offsets were pinned, so the follower
//!   applies it. That is exactly what a start from the database sees: the
//!   rows as of the load, then the topic from offsets pinned before it.
//!   The topic's own offsets are deliberately not the cursor: following
//!   from an older offset would re-apply records the database has since
//!   superseded (a delete made through the CLI would be undone by an older
//!   upsert still on the topic), retention or compaction may have dropped
//!   records, and the embedded broker's topic starts empty on every run.
//!
//! * **Reconciliation.** What the snapshot holds beyond its changes (a
//!   record produced straight onto the topic without the database, or an
//!   older record applied after a newer change that never reached the
//!   topic) is what the writing process held too; its periodic full reload
//!   (`worker.hashdb_reload_secs`) removes it there. A process that
//!   started from a snapshot runs that full reload once at once, in the
//!   background, so within one load time it holds exactly what a start
//!   from the database would, while it already matches from the snapshot.
//!
//! Anything that makes a snapshot unusable (missing, truncated, corrupt,
//! another format version, a cursor this database does not hold, more
//! changes to replay than the snapshot holds entries) is logged, counted in
//! `vigil_hashdb_snapshot_loads_total{result}` and followed by the full
//! load, as without snapshots. Logs never name hashes.
//!
//! # Writing
//!
//! Every `hashdb.snapshot_interval_secs` the process replays the change
//! log's new records (advancing `P`; read first, then applied under one
//! write lock, so no reader sees an older state of an entry in between),
//! and when `P` moved since its last snapshot it writes a new one: to a temporary file of its own in the
//! snapshot's folder, fsynced, renamed over the snapshot, and the folder
//! fsynced. Processes sharing one path (several workers on a machine) each
//! write whole files and the rename is atomic, so a reader always sees one
//! complete snapshot. The database is read-locked while it is serialised
//! (matching goes on); the change-log follower waits on the gate
//! ([`vigil_stream::hashdb_log::ApplyGate`]) instead of queueing for the
//! write lock, which would stall every new reader behind it.

use anyhow::Context;
use prometheus::{
    register_histogram, register_int_counter_vec, Histogram, HistogramOpts, IntCounterVec,
};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use vigil_hashdb::snapshot::{self, SnapshotError};
use vigil_hashdb::HashDb;
use vigil_pipeline::SharedHashDb;
use vigil_store::{BankChangeRecord, Store};
use vigil_stream::hashdb_log::ApplyGate;

/// Change-log records read per database query.
const REPLAY_BATCH: i64 = 1000;
/// Most change-log records applied under one write lock.
pub const ATOMIC_REPLAY: usize = 10_000;
/// Temporary files of writers that died are removed after this long.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// The cursor's format.
const CURSOR_VERSION: u32 = 1;

static LOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hashdb_snapshot_loads_total",
        "Starts that tried the hash database snapshot, by result (loaded, missing, corrupt, unsupported, unusable, stale, error).",
        &["result"]
    )
    .expect("metric registers once")
});

static WRITES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hashdb_snapshot_writes_total",
        "Hash database snapshots written by this process, by result (ok, error).",
        &["result"]
    )
    .expect("metric registers once")
});

static WRITE_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(HistogramOpts::new(
        "vigil_hashdb_snapshot_write_seconds",
        "Time to write one hash database snapshot, fsync and rename included."
    )
    .buckets(vec![
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
    ]))
    .expect("metric registers once")
});

static LOCKED_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(HistogramOpts::new(
        "vigil_hashdb_snapshot_locked_seconds",
        "Time the hash database was read-locked, and change-log records held back, while a snapshot was serialised."
    )
    .buckets(vec![0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]))
    .expect("metric registers once")
});

/// Register the snapshot metrics (so they are exported before the first use).
/// Both write results start at zero, so `VigilHashdbSnapshotFailing` can
/// compare them from the first failure on.
pub fn register() {
    LazyLock::force(&LOADS);
    for result in ["ok", "error"] {
        WRITES.with_label_values(&[result]);
    }
    LazyLock::force(&WRITE_SECONDS);
    LazyLock::force(&LOCKED_SECONDS);
}

/// Where banks in memory stand in the database's change log: they reflect
/// every bank change up to record `seq` (whose chain hash is `hash`).
/// `seq` 0 is the empty log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub seq: i64,
    pub hash: String,
}

/// The cursor a snapshot stores (JSON).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    v: u32,
    changelog_seq: i64,
    changelog_hash: String,
    written_at: String,
}

/// The change log's head, read before loading rows (see the module docs).
pub async fn head(store: &Store) -> anyhow::Result<Position> {
    Ok(match store.changelog_head().await? {
        Some((seq, hash)) => Position { seq, hash },
        None => Position::default(),
    })
}

/// Replay the bank changes recorded after `pos` onto `db` and move `pos`
/// to the last one. Applying a change already applied is harmless. Returns
/// how many were replayed.
///
/// The records are read first and applied under one write lock, up to
/// [`ATOMIC_REPLAY`] at a time: a reader never sees a state in between
/// (an entry upserted and deleted again within the tail is never briefly
/// back). Longer tails, which only a bulk import or a long outage leaves,
/// are applied in such steps.
pub async fn catch_up(
    store: &Store,
    db: &SharedHashDb,
    gate: &ApplyGate,
    pos: &mut Position,
) -> anyhow::Result<u64> {
    let mut replayed = 0u64;
    let mut tail: Vec<BankChangeRecord> = Vec::new();
    loop {
        let after = tail.last().map_or(pos.seq, |r| r.seq);
        let batch = store
            .bank_changes_after(after, REPLAY_BATCH)
            .await
            .context("cannot read bank changes from the change log")?;
        let complete = (batch.len() as i64) < REPLAY_BATCH;
        tail.extend(batch);
        if complete || tail.len() >= ATOMIC_REPLAY {
            replayed += apply_tail(db, gate, pos, std::mem::take(&mut tail)).await;
        }
        if complete {
            return Ok(replayed);
        }
    }
}

/// Apply `tail` under one write lock and move `pos` to its last record.
async fn apply_tail(
    db: &SharedHashDb,
    gate: &ApplyGate,
    pos: &mut Position,
    tail: Vec<BankChangeRecord>,
) -> u64 {
    let Some(last) = tail.last() else {
        return 0;
    };
    let next = Position {
        seq: last.seq,
        hash: last.hash.clone(),
    };
    let n = tail.len() as u64;
    {
        let _gate = gate.lock().await;
        let mut db = db.write().unwrap_or_else(|p| p.into_inner());
        for r in tail {
            if let Err(e) = db.apply(r.change) {
                tracing::warn!(seq = r.seq, error = %e, "a bank change from the change log does not apply");
            }
        }
    }
    *pos = next;
    n
}

/// Why a snapshot was not used, as counted and logged.
#[derive(Debug)]
struct Unused {
    result: &'static str,
    why: String,
}

impl Unused {
    fn new(result: &'static str, why: impl Into<String>) -> Unused {
        Unused {
            result,
            why: why.into(),
        }
    }
}

/// A hash database started from the snapshot at `path`, caught up from the
/// change log: the database and its position. `None` when the snapshot is
/// not usable; why is logged and counted, and the caller loads from the
/// database.
pub async fn load(store: &Store, path: &Path) -> Option<(HashDb, Position)> {
    let started = Instant::now();
    match try_load(store, path).await {
        Ok((db, pos, replayed)) => {
            LOADS.with_label_values(&["loaded"]).inc();
            tracing::info!(
                path = %path.display(),
                entries = db.len(),
                changelog_seq = pos.seq,
                replayed,
                seconds = started.elapsed().as_secs_f64(),
                "hash database started from its snapshot"
            );
            Some((db, pos))
        }
        Err(u) => {
            LOADS.with_label_values(&[u.result]).inc();
            if u.result == "missing" {
                tracing::info!(path = %path.display(), "no hash database snapshot yet: loading the banks from the database");
            } else {
                tracing::warn!(path = %path.display(), result = u.result, reason = %u.why, "hash database snapshot not used: loading the banks from the database");
            }
            None
        }
    }
}

async fn try_load(store: &Store, path: &Path) -> Result<(HashDb, Position, u64), Unused> {
    let p = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> Result<_, Unused> {
        let file = match std::fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unused::new("missing", "no snapshot file"))
            }
            Err(e) => return Err(Unused::new("error", format!("cannot open it: {e}"))),
        };
        snapshot::read_snapshot(file).map_err(|e| match e {
            SnapshotError::UnsupportedVersion(_) => Unused::new("unsupported", e.to_string()),
            SnapshotError::Io(_) => Unused::new("error", e.to_string()),
            // Details of these may name entries: kept out of the log.
            SnapshotError::Corrupt(_) | SnapshotError::Entry(_) => {
                Unused::new("corrupt", "the snapshot is corrupt")
            }
            SnapshotError::BadMagic | SnapshotError::Truncated | SnapshotError::Checksum { .. } => {
                Unused::new("corrupt", e.to_string())
            }
        })
    })
    .await
    .map_err(|e| Unused::new("error", format!("snapshot reader failed: {e}")))?;
    let (db, info) = read?;
    let cursor: Cursor = serde_json::from_str(&info.cursor)
        .map_err(|e| Unused::new("unusable", format!("its cursor does not parse: {e}")))?;
    if cursor.v != CURSOR_VERSION {
        return Err(Unused::new(
            "unusable",
            format!("cursor version {} is not {CURSOR_VERSION}", cursor.v),
        ));
    }
    if cursor.changelog_seq <= 0 {
        return Err(Unused::new(
            "unusable",
            "it was written before any recorded bank change, so it cannot be tied to this database",
        ));
    }
    let held = store
        .changelog_hash_at(cursor.changelog_seq)
        .await
        .map_err(|e| Unused::new("error", format!("cannot read the change log: {e}")))?;
    if held.as_deref() != Some(cursor.changelog_hash.as_str()) {
        return Err(Unused::new(
            "unusable",
            format!(
                "this database's change log does not hold its position (record {}): another or a restored database",
                cursor.changelog_seq
            ),
        ));
    }
    let pending = store
        .bank_changes_count_after(cursor.changelog_seq)
        .await
        .map_err(|e| Unused::new("error", format!("cannot read the change log: {e}")))?;
    let limit = info.entries.max(10_000);
    if pending as u64 > limit {
        return Err(Unused::new(
            "stale",
            format!(
                "{pending} bank changes were made since it was written (written at {}), more than a full load costs",
                cursor.written_at
            ),
        ));
    }
    let shared: SharedHashDb = Arc::new(std::sync::RwLock::new(db));
    let mut pos = Position {
        seq: cursor.changelog_seq,
        hash: cursor.changelog_hash,
    };
    let gate = ApplyGate::default();
    let replayed = catch_up(store, &shared, &gate, &mut pos)
        .await
        .map_err(|e| Unused::new("error", format!("{e:#}")))?;
    let db = Arc::try_unwrap(shared)
        .map_err(|_| Unused::new("error", "the database is still shared"))?
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    Ok((db, pos, replayed))
}

/// Writes the snapshot of one process's hash database.
pub struct SnapshotWriter {
    pub path: PathBuf,
    /// The position of the last snapshot this process wrote (or read).
    pub last_written: Option<i64>,
}

impl SnapshotWriter {
    /// Write `db` (whose banks stand at `pos`) as a snapshot unless the
    /// last one is at `pos` already. `gate` is the change-log follower's.
    /// Returns whether one was written.
    pub async fn write_if_changed(
        &mut self,
        db: &SharedHashDb,
        gate: &ApplyGate,
        pos: &Position,
    ) -> anyhow::Result<bool> {
        if self.last_written == Some(pos.seq) || pos.seq <= 0 {
            return Ok(false);
        }
        let cursor = serde_json::to_string(&Cursor {
            v: CURSOR_VERSION,
            changelog_seq: pos.seq,
            changelog_hash: pos.hash.clone(),
            written_at: chrono::Utc::now().to_rfc3339(),
        })?;
        // Hold the follower back while serialising, so it never waits for
        // the write lock (which would stall new readers behind it).
        let gate = gate.clone().lock_owned().await;
        let (path, db) = (self.path.clone(), db.clone());
        let started = Instant::now();
        let written =
            tokio::task::spawn_blocking(move || write_file(&path, &db, &cursor, gate)).await?;
        match written {
            Ok(w) => {
                WRITES.with_label_values(&["ok"]).inc();
                WRITE_SECONDS.observe(started.elapsed().as_secs_f64());
                LOCKED_SECONDS.observe(w.locked.as_secs_f64());
                tracing::info!(
                    path = %self.path.display(),
                    entries = w.entries,
                    bytes = w.bytes,
                    changelog_seq = pos.seq,
                    locked_ms = w.locked.as_millis() as u64,
                    seconds = started.elapsed().as_secs_f64(),
                    "hash database snapshot written"
                );
                self.last_written = Some(pos.seq);
                Ok(true)
            }
            Err(e) => {
                WRITES.with_label_values(&["error"]).inc();
                Err(e)
            }
        }
    }
}

/// What one write did.
pub struct Written {
    pub entries: usize,
    pub bytes: u64,
    /// How long the database was read-locked (and the gate held).
    pub locked: Duration,
}

/// Write `db` to `path` atomically: a temporary file of this process in the
/// same folder, fsynced, renamed over `path`, then the folder fsynced. The
/// database is read-locked, and `gate` held, only while it is serialised.
pub fn write_file<G>(
    path: &Path,
    db: &SharedHashDb,
    cursor: &str,
    gate: G,
) -> anyhow::Result<Written> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the snapshot path names no file")?
        .to_string();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the snapshot folder {}", dir.display()))?;
    remove_stale_temps(&dir, &name);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    let result = (|| -> anyhow::Result<Written> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let locked_at = Instant::now();
        let entries = {
            let db = db.read().unwrap_or_else(|p| p.into_inner());
            snapshot::write_snapshot(&db, cursor, &mut file)
                .context("cannot write the snapshot")?;
            db.len()
        };
        let locked = locked_at.elapsed();
        drop(gate);
        file.flush()?;
        file.sync_all().context("cannot fsync the snapshot")?;
        let bytes = file.metadata()?.len();
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename the snapshot into {}", path.display()))?;
        // The rename is durable once the folder is.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(Written {
            entries,
            bytes,
            locked,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Remove temporary files of `name` left by writers that died mid-write.
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for e in read.flatten() {
        let file_name = e.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        if !(n.starts_with(&prefix) && n.ends_with(".tmp")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
