//! The retro-hunt loop (issue 8, docs/self-correction.md): past uploads
//! against bank entries that arrived after them.
//!
//! Every verdict keeps its upload's hashes (never media) in the store for
//! the retention period. A pass reads the live bank entries changed since
//! the stored cursor, indexes just those ([`vigil_hashdb::retro::RetroHunt`]),
//! and runs every retained upload that passed (`none`) within the retention
//! window through that small index. A hit becomes a late verdict through the
//! pure [`vigil_pipeline::retrohunt::late_verdict`]: stored idempotently
//! under `<policy version>+retro` (a review item with it when borderline, an
//! action in the outbox when it acts), published on `vigil.verdicts` (and
//! the review item on `vigil.review`), and recorded as a miss at the time
//! of upload with its delay. Then the cursor moves past the entries hunted.
//! Each pass also purges retained hashes older than the retention period.
//!
//! The loop runs in the process that serves review (`vigil serve`, `vigil
//! review`); `vigil retrohunt run` does one pass from the command line.
//! Passes are safe to repeat and to run from two places at once: every
//! write is idempotent.

use crate::metrics;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;
use vigil_hashdb::retro::RetroHunt;
use vigil_hashdb::{BankEntry, MatchDetail, SignalType, Signals};
use vigil_pipeline::analyze::match_evidence;
use vigil_pipeline::retrohunt::{late_verdict, retro_version, signals_from_hex};
use vigil_pipeline::{SharedPolicy, UploadId};
use vigil_store::retro::{EntryCursor, RetainedRow, RetroHitRow};
use vigil_store::{Store, StoreError};
use vigil_stream::{Producer, StreamError};

/// The cursor's name in the store (one retro-hunt per deployment).
pub const CURSOR: &str = "default";
/// New entries indexed per batch.
const ENTRY_BATCH: i64 = 10_000;
/// Retained uploads read per page.
const UPLOAD_PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum RetroError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a late verdict is stored but could not be published: {0}")]
    Publish(#[from] StreamError),
}

/// Where late verdicts and their review items are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetroTopics {
    pub verdicts: String,
    pub review: String,
}

/// Runs retro-hunt passes.
#[derive(Clone)]
pub struct RetroHunter {
    pub store: Store,
    /// `None` where no broker is reachable (the CLI on the embedded
    /// defaults): late verdicts are then only stored (and their actions
    /// queued in the outbox).
    pub producer: Option<Producer>,
    pub topics: RetroTopics,
    /// The policy in force (reloaded while serving): late verdicts are
    /// decided under it.
    pub policy: SharedPolicy,
    /// Retained hashes older than this are purged, and not hunted.
    pub retention: chrono::Duration,
    /// Entries changed less than this long ago wait for the next pass, so
    /// a writer whose transaction commits late is not skipped.
    pub settle: chrono::Duration,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PassSummary {
    /// New or changed bank entries hunted for.
    pub entries: u64,
    /// Retained passed uploads compared with them (summed over batches).
    pub uploads_scanned: u64,
    /// New hits recorded (an upload found by an entry).
    pub hits: u64,
    /// Late verdicts written (one per upload).
    pub late_verdicts: u64,
    /// Of those, sent to review.
    pub review_items: u64,
    /// Retained uploads purged for age.
    pub purged: u64,
    /// New hits per bank.
    pub by_bank: BTreeMap<String, u64>,
}

impl PassSummary {
    /// One line for the CLI and the logs.
    pub fn line(&self) -> String {
        let banks: Vec<String> = self
            .by_bank
            .iter()
            .map(|(b, n)| format!("{b}={n}"))
            .collect();
        format!(
            "retrohunt entries={} uploads_scanned={} hits={} late_verdicts={} review_items={} purged={}{}",
            self.entries,
            self.uploads_scanned,
            self.hits,
            self.late_verdicts,
            self.review_items,
            self.purged,
            if banks.is_empty() {
                String::new()
            } else {
                format!(" by_bank={}", banks.join(","))
            }
        )
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Where a first pass starts: entries changed before the oldest retained
/// passed upload cannot have arrived after it, so they need no hunting.
/// With nothing retained, from `now` on.
pub fn initial_cursor(oldest_retained: Option<&str>, now: DateTime<Utc>) -> EntryCursor {
    EntryCursor {
        updated_at: oldest_retained.map_or_else(|| ts(now), str::to_string),
        bank: String::new(),
        entry_id: String::new(),
    }
}

/// The leading entries of a batch changed at or before `upto` (the rest
/// wait for a later pass). Returns how many.
pub fn settled(batch: &[(EntryCursor, BankEntry)], upto: &str) -> usize {
    batch
        .iter()
        .take_while(|(c, _)| c.updated_at.as_str() <= upto)
        .count()
}

/// Hits grouped per upload (by index into the uploads hunted), in order.
pub fn by_upload(hits: Vec<(usize, MatchDetail)>) -> BTreeMap<usize, Vec<MatchDetail>> {
    let mut out: BTreeMap<usize, Vec<MatchDetail>> = BTreeMap::new();
    for (i, m) in hits {
        out.entry(i).or_default().push(m);
    }
    out
}

/// Decode a retained row into a lookup query (`None`: a corrupt or
/// incomplete row, skipped).
fn query_of(r: &RetainedRow) -> Option<Signals> {
    let pdq = match (&r.pdq, r.pdq_quality) {
        (Some(h), Some(q)) => Some((h.as_str(), q.clamp(0, 100) as u8)),
        _ => None,
    };
    let mut q = signals_from_hex(r.md5.as_deref()?, r.sha256.as_deref()?, pdq)?;
    // A malformed 64-bit hash only loses that signal, not the upload.
    for (t, hex) in [(SignalType::Dhash, &r.dhash), (SignalType::Phash, &r.phash)] {
        if let Some(h) = hex
            .as_deref()
            .and_then(|h| vigil_hashdb::signal::hash64_from_hex(t, h).ok())
        {
            q.set_hash64(t, h);
        }
    }
    Some(q)
}

impl RetroHunter {
    /// One pass at `now`: purge, then hunt every settled entry changed
    /// since the cursor, advancing the cursor batch by batch.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<PassSummary, RetroError> {
        let mut summary = PassSummary::default();
        let since = ts(now - self.retention);
        summary.purged = self.store.purge_retained(&since).await?;
        if summary.purged > 0 {
            metrics::RETAINED_PURGED.inc_by(summary.purged);
            tracing::info!(purged = summary.purged, "retained upload hashes purged");
        }
        let mut cursor = match self.store.retrohunt_cursor(CURSOR).await? {
            Some(c) => c,
            None => {
                let oldest = self.store.retained_passed(&since, None, 1).await?;
                let c = initial_cursor(oldest.first().map(|r| r.received_at.as_str()), now);
                self.store.set_retrohunt_cursor(CURSOR, &c).await?;
                c
            }
        };
        let upto = ts(now - self.settle);
        loop {
            let mut batch = self
                .store
                .entries_changed_after(&cursor, ENTRY_BATCH)
                .await?;
            let full = batch.len() as i64 == ENTRY_BATCH;
            let n = settled(&batch, &upto);
            let more = full && n == batch.len();
            batch.truncate(n);
            let Some((last, _)) = batch.last() else {
                break;
            };
            let last = last.clone();
            let entries: Vec<BankEntry> = batch.into_iter().map(|(_, e)| e).collect();
            self.hunt(entries, &since, now, &mut summary).await?;
            self.store.set_retrohunt_cursor(CURSOR, &last).await?;
            cursor = last;
            if !more {
                break;
            }
        }
        metrics::RETROHUNT_PASSES.inc();
        Ok(summary)
    }

    /// Match the retained passed uploads received since `since` against
    /// `entries` and act on every hit.
    async fn hunt(
        &self,
        entries: Vec<BankEntry>,
        since: &str,
        now: DateTime<Utc>,
        summary: &mut PassSummary,
    ) -> Result<(), RetroError> {
        summary.entries += entries.len() as u64;
        metrics::RETROHUNT_ENTRIES.inc_by(entries.len() as u64);
        let banks = self.store.banks().await?;
        let (hunt, errors) = RetroHunt::new(banks, entries);
        if !errors.is_empty() {
            tracing::warn!(
                count = errors.len(),
                "some changed bank entries could not be indexed for the retro-hunt"
            );
        }
        if hunt.is_empty() {
            return Ok(());
        }
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self
                .store
                .retained_passed(
                    since,
                    after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                    UPLOAD_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.received_at.clone(), last.upload_id.clone()));
            let rows: Vec<(&RetainedRow, Signals)> = page
                .iter()
                .filter_map(|r| query_of(r).map(|q| (r, q)))
                .collect();
            summary.uploads_scanned += rows.len() as u64;
            metrics::RETROHUNT_UPLOADS_SCANNED.inc_by(rows.len() as u64);
            let hits = hunt.hunt(rows.iter().map(|(_, q)| q));
            for (i, matches) in by_upload(hits) {
                self.on_hit(rows[i].0, matches, now, summary).await?;
            }
            if (page.len() as i64) < UPLOAD_PAGE {
                break;
            }
        }
        Ok(())
    }

    /// One past upload matched new entries: write and publish its late
    /// verdict (when the matches ask for more than the original did) and
    /// record each new (upload, entry) hit with its delay.
    async fn on_hit(
        &self,
        row: &RetainedRow,
        matches: Vec<MatchDetail>,
        now: DateTime<Utc>,
        summary: &mut PassSummary,
    ) -> Result<(), RetroError> {
        let Ok(uid) = UploadId::parse(&row.upload_id) else {
            return Ok(());
        };
        let Some(original) = self.store.verdict_for(&uid, &row.policy_version).await? else {
            return Ok(());
        };
        let context = self
            .store
            .get_upload(&uid)
            .await?
            .map(|u| u.msg.platform_context)
            .unwrap_or_default();
        let Some(received_at) = parse_ts(&row.received_at) else {
            return Ok(());
        };
        let evidence: Vec<_> = matches.into_iter().map(match_evidence).collect();
        let policy = self.policy.current();
        let Some((verdict, review)) = late_verdict(
            &original,
            &context,
            received_at,
            evidence.clone(),
            &policy,
            now,
        ) else {
            // The new entries ask for no more than was done: no miss.
            return Ok(());
        };
        let inserted = self.store.write_verdict(&verdict, review.as_ref()).await?;
        let stored = if inserted {
            summary.late_verdicts += 1;
            if review.is_some() {
                summary.review_items += 1;
            }
            metrics::RETROHUNT_LATE_VERDICTS
                .with_label_values(&[verdict.action.as_str()])
                .inc();
            verdict
        } else {
            self.store
                .verdict_for(&uid, &retro_version(&policy))
                .await?
                .unwrap_or(verdict)
        };
        let known: BTreeSet<(String, String)> = self
            .store
            .retro_hits_for(&row.upload_id)
            .await?
            .into_iter()
            .map(|h| (h.bank, h.entry_id))
            .collect();
        let fresh: Vec<_> = evidence
            .iter()
            .filter(|e| !known.contains(&(e.m.bank.clone(), e.m.entry_id.clone())))
            .collect();
        // Publish before recording the hits: if publishing fails, the next
        // pass finds the hits unrecorded and publishes again.
        if inserted || !fresh.is_empty() {
            if let Some(p) = &self.producer {
                if let Some(item) = review.as_ref().filter(|_| inserted) {
                    p.send_json(&self.topics.review, item.upload_id.as_str(), item)
                        .await?;
                }
                p.send_json(&self.topics.verdicts, stored.upload_id.as_str(), &stored)
                    .await?;
            }
        }
        let delay = (now - received_at).num_milliseconds().max(0) as f64 / 1000.0;
        for e in fresh {
            let new = self
                .store
                .record_retro_hit(&RetroHitRow {
                    upload_id: row.upload_id.clone(),
                    bank: e.m.bank.clone(),
                    entry_id: e.m.entry_id.clone(),
                    received_at: row.received_at.clone(),
                    found_at: ts(now),
                    delay_seconds: delay,
                    late_action: stored.action.as_str().to_string(),
                })
                .await?;
            if new {
                summary.hits += 1;
                *summary.by_bank.entry(e.m.bank.clone()).or_default() += 1;
                metrics::RETROHUNT_HITS
                    .with_label_values(&[e.m.bank.as_str()])
                    .inc();
                metrics::RETROHUNT_DELAY.observe(delay);
            }
        }
        Ok(())
    }

    /// Run a pass every `every` until `shutdown` flips; errors are logged
    /// and the next pass tries again.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        metrics::register();
        loop {
            match self.run_once(Utc::now()).await {
                Ok(s) if s.hits > 0 || s.purged > 0 => tracing::info!(
                    hits = s.hits,
                    late_verdicts = s.late_verdicts,
                    entries = s.entries,
                    purged = s.purged,
                    "retro-hunt pass found past uploads"
                ),
                Ok(_) => {}
                Err(e) => {
                    metrics::RETROHUNT_ERRORS.inc();
                    tracing::warn!(error = %e, "retro-hunt pass failed; retrying at the next one");
                }
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_hashdb::SignalType;

    fn at(s: &str) -> EntryCursor {
        EntryCursor {
            updated_at: s.into(),
            bank: "b".into(),
            entry_id: s.into(),
        }
    }

    #[test]
    fn a_first_pass_starts_at_the_oldest_retained_upload() {
        let now = parse_ts("2026-05-01T00:00:00Z").unwrap();
        let c = initial_cursor(Some("2026-04-01T00:00:00.000000Z"), now);
        assert_eq!(c.updated_at, "2026-04-01T00:00:00.000000Z");
        assert!(c.bank.is_empty() && c.entry_id.is_empty(), "inclusive");
        assert_eq!(
            initial_cursor(None, now).updated_at,
            "2026-05-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn only_settled_entries_are_hunted() {
        let e = || BankEntry::derived("b", SignalType::Md5, &"ab".repeat(16));
        let batch = vec![
            (at("2026-01-01T00:00:01.000000Z"), e()),
            (at("2026-01-01T00:00:02.000000Z"), e()),
            (at("2026-01-01T00:00:09.000000Z"), e()),
        ];
        assert_eq!(settled(&batch, "2026-01-01T00:00:02.000000Z"), 2);
        assert_eq!(settled(&batch, "2026-01-01T00:00:00.000000Z"), 0);
        assert_eq!(settled(&batch, "2027-01-01T00:00:00.000000Z"), 3);
    }

    #[test]
    fn retained_rows_decode_or_are_skipped() {
        let mut r = RetainedRow {
            upload_id: "u".into(),
            policy_version: "p".into(),
            action: "none".into(),
            received_at: "2026-01-01T00:00:00.000000Z".into(),
            md5: Some("ab".repeat(16)),
            sha256: Some("cd".repeat(32)),
            pdq: Some("0f".repeat(32)),
            pdq_quality: Some(300),
            dhash: Some("0f0f3c3cf0f0a5a5".into()),
            phash: Some("not hex".into()),
        };
        let q = query_of(&r).unwrap();
        assert_eq!(q.pdq.unwrap().1, 100, "quality clamped");
        assert_eq!(q.dhash, Some(0x0f0f_3c3c_f0f0_a5a5));
        assert_eq!(q.phash, None, "a bad 64-bit hash drops that signal only");
        r.pdq_quality = None;
        assert!(query_of(&r).unwrap().pdq.is_none());
        r.md5 = None;
        assert!(query_of(&r).is_none());
    }

    #[test]
    fn summary_line_names_banks_not_uploads() {
        let mut s = PassSummary {
            hits: 2,
            ..Default::default()
        };
        s.by_bank.insert("late".into(), 2);
        assert_eq!(
            s.line(),
            "retrohunt entries=0 uploads_scanned=0 hits=2 late_verdicts=0 review_items=0 purged=0 by_bank=late=2"
        );
    }
}
