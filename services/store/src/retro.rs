//! Self-correction in the database (issue 8), and the actions outbox
//! (issue 7).
//!
//! - **Retained signals**: each decided upload's hashes (MD5, SHA-256, PDQ
//!   with quality; never media) with its received time, written with the
//!   verdict and purged after the retention period, for retro-hunts.
//! - **Retro-hunt bookkeeping**: the cursor over `bank_entries` (entries
//!   already hunted for) and the hits found (misses at upload time).
//! - **Entry events**: matches, upheld and overturned decisions and
//!   disputed opinions per bank entry, each keyed so it counts once.
//! - **Quarantine** state of entries and banks, with an audit-log row for
//!   every quarantine and restore.
//! - **Actions outbox**: takedown / restrict / reinstate records, written in
//!   the transaction of the verdict or decision that causes them, and
//!   marked per sink (Kafka, webhook) once delivered. Relays claim due
//!   actions with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one
//!   `UPDATE … RETURNING` under SQLite's write lock), never an action while
//!   an older one of the same upload is undelivered (so a reinstatement
//!   never overtakes its takedown), and park an action the platform refused
//!   for good until an operator re-queues it.

use crate::db::{json, now, ts, Store, StoreError};
use crate::review::{Decision, DecisionRow};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;
use vigil_hashdb::{BankEntry, SignalType};
use vigil_pipeline::actions::{
    action_for_decision, action_for_verdict, HumanDecision, HumanOutcome,
};
use vigil_pipeline::quarantine::EntryCounts;
use vigil_pipeline::{ActionMsg, UploadId, Verdict};

/// One upload's retained signals.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedRow {
    pub upload_id: String,
    pub policy_version: String,
    pub action: String,
    pub received_at: String,
    pub md5: Option<String>,
    pub sha256: Option<String>,
    pub pdq: Option<String>,
    pub pdq_quality: Option<i64>,
    /// The 64-bit image hashes, when the upload was an image that decoded
    /// (and was decided after they were computed).
    pub dhash: Option<String>,
    pub phash: Option<String>,
}

/// Where a retro-hunt stopped reading `bank_entries`: `(updated_at, bank, entry_id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryCursor {
    pub updated_at: String,
    pub bank: String,
    pub entry_id: String,
}

/// A retro-hunt hit as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RetroHitRow {
    pub upload_id: String,
    pub bank: String,
    pub entry_id: String,
    pub received_at: String,
    pub found_at: String,
    pub delay_seconds: f64,
    pub late_action: String,
}

/// One entry's counts since it was last restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCountsRow {
    pub bank: String,
    pub entry_id: String,
    pub counts: EntryCounts,
}

/// An entry (or a whole bank, `entry_id` empty) under quarantine, or restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub bank: String,
    pub entry_id: String,
    /// `quarantined` or `restored`.
    pub state: String,
    pub cause: String,
    pub since: String,
    pub actor: String,
    pub reason: String,
}

/// An action waiting for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAction {
    pub msg: ActionMsg,
    pub kafka_done: bool,
    pub webhook_done: bool,
    pub attempts: i64,
}

/// An action's delivery state, for operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub msg: ActionMsg,
    pub kafka_done: bool,
    pub webhook_done: bool,
    pub delivered_at: Option<String>,
    /// Set when a sink refused the action for good; not retried until
    /// [`Store::requeue_parked_actions`].
    pub parked_at: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A delivery sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Kafka,
    Webhook,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Append an audit-log record inside a transaction.
async fn audit(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    action: &str,
    reason: &str,
    detail: String,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (audit_id, at, actor, action, upload_id, policy_version, decision, reason, note, detail)
         VALUES ($1, $2, $3, $4, NULL, NULL, NULL, $5, NULL, $6)",
    )
    .bind(new_id())
    .bind(now())
    .bind(actor)
    .bind(action)
    .bind(reason)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    bank: &str,
    entry_id: &str,
    kind: &str,
    reference: &str,
    at: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO entry_events (bank, entry_id, kind, ref, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (bank, entry_id, kind, ref) DO NOTHING",
    )
    .bind(bank)
    .bind(entry_id)
    .bind(kind)
    .bind(reference)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

async fn insert_action(tx: &mut Transaction<'_, Any>, msg: &ActionMsg) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO actions (action_id, upload_id, source, kind, body, created_at, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $6) ON CONFLICT (upload_id, source) DO NOTHING",
    )
    .bind(msg.action_id.as_str())
    .bind(msg.upload_id.as_str())
    .bind(msg.source())
    .bind(msg.action.as_str())
    .bind(json(msg))
    .bind(ts(msg.created_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inside the verdict's transaction (a new verdict only): retain its
/// signals, count a match on every matched entry, and queue the action it
/// causes.
pub(crate) async fn after_verdict(
    tx: &mut Transaction<'_, Any>,
    v: &Verdict,
) -> Result<(), sqlx::Error> {
    let value = |t: SignalType| v.signals.iter().find(|s| s.signal_type == t);
    let pdq = value(SignalType::Pdq);
    sqlx::query(
        "INSERT INTO retained_signals (upload_id, policy_version, action, received_at, md5, sha256, pdq, pdq_quality, dhash, phash)
         VALUES ($1, $2, $3, COALESCE((SELECT received_at FROM uploads WHERE upload_id = $1), $4), $5, $6, $7, $8, $9, $10)
         ON CONFLICT (upload_id) DO NOTHING",
    )
    .bind(v.upload_id.as_str())
    .bind(v.policy_version.as_str())
    .bind(v.action.as_str())
    .bind(ts(v.decided_at))
    .bind(value(SignalType::Md5).map(|s| s.value.clone()))
    .bind(value(SignalType::Sha256).map(|s| s.value.clone()))
    .bind(pdq.map(|s| s.value.clone()))
    .bind(pdq.and_then(|s| s.quality).map(i64::from))
    .bind(value(SignalType::Dhash).map(|s| s.value.clone()))
    .bind(value(SignalType::Phash).map(|s| s.value.clone()))
    .execute(&mut **tx)
    .await?;
    let reference = format!("{}/{}", v.upload_id, v.policy_version);
    // Counted when recorded, so a restore (which restarts counts) compares
    // against the same clock.
    let at = now();
    for m in &v.matches {
        insert_event(tx, &m.bank, &m.entry_id, "match", &reference, &at).await?;
    }
    if let Some(msg) = action_for_verdict(v, new_id()) {
        insert_action(tx, &msg).await?;
    }
    Ok(())
}

/// Inside a decision's transaction: count the decision on every entry the
/// decided verdict matched (once per decision), and queue the takedown or
/// reinstatement it causes.
pub(crate) async fn after_decision(
    tx: &mut Transaction<'_, Any>,
    row: &DecisionRow,
    decision: Decision,
) -> Result<(), sqlx::Error> {
    let outcome = match decision {
        Decision::Uphold | Decision::Exempt => HumanOutcome::Remove,
        Decision::Overturn => HumanOutcome::Keep,
        Decision::Escalate => return Ok(()),
    };
    let body: Option<String> =
        sqlx::query("SELECT body FROM verdicts WHERE upload_id = $1 AND policy_version = $2")
            .bind(row.upload_id.as_str())
            .bind(row.policy_version.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get("body"))
            .transpose()?;
    let Some(verdict) = body.and_then(|b| serde_json::from_str::<Verdict>(&b).ok()) else {
        return Ok(());
    };
    let kind = if outcome == HumanOutcome::Keep {
        "overturned"
    } else {
        "upheld"
    };
    for m in &verdict.matches {
        insert_event(tx, &m.bank, &m.entry_id, kind, &row.decision_id, &now()).await?;
    }
    // Exempt keeps a violating upload up: for the platform it is a keep.
    let platform_outcome = if decision == Decision::Exempt {
        HumanOutcome::Keep
    } else {
        outcome
    };
    let last: Option<String> = sqlx::query(
        "SELECT kind FROM actions WHERE upload_id = $1 ORDER BY action_id DESC LIMIT 1",
    )
    .bind(row.upload_id.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.try_get("kind"))
    .transpose()?;
    let removed = last.is_some_and(|k| k != "reinstate");
    let decided_at = DateTime::parse_from_rfc3339(&row.decided_at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let d = HumanDecision {
        upload_id: &verdict.upload_id,
        policy_version: &row.policy_version,
        decision_id: &row.decision_id,
        reason: &row.reason,
        outcome: platform_outcome,
        decided_at,
    };
    if let Some(msg) = action_for_decision(&d, removed, new_id()) {
        insert_action(tx, &msg).await?;
    }
    Ok(())
}

fn retained_row(r: &AnyRow) -> Result<RetainedRow, sqlx::Error> {
    Ok(RetainedRow {
        upload_id: r.try_get("upload_id")?,
        policy_version: r.try_get("policy_version")?,
        action: r.try_get("action")?,
        received_at: r.try_get("received_at")?,
        md5: r.try_get("md5")?,
        sha256: r.try_get("sha256")?,
        pdq: r.try_get("pdq")?,
        pdq_quality: r.try_get("pdq_quality")?,
        dhash: r.try_get("dhash")?,
        phash: r.try_get("phash")?,
    })
}

fn action_row(r: &AnyRow) -> Result<(ActionMsg, AnyRowExtra), StoreError> {
    let body: String = r.try_get("body")?;
    let msg: ActionMsg = serde_json::from_str(&body).map_err(|e| corrupt("action", e))?;
    Ok((
        msg,
        AnyRowExtra {
            kafka_done: r.try_get::<Option<String>, _>("kafka_done_at")?.is_some(),
            webhook_done: r.try_get::<Option<String>, _>("webhook_done_at")?.is_some(),
            delivered_at: r.try_get("delivered_at")?,
            parked_at: r.try_get("parked_at")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
        },
    ))
}

struct AnyRowExtra {
    kafka_done: bool,
    webhook_done: bool,
    delivered_at: Option<String>,
    parked_at: Option<String>,
    attempts: i64,
    last_error: Option<String>,
}

const ACTION_COLUMNS: &str =
    "body, kafka_done_at, webhook_done_at, delivered_at, parked_at, attempts, last_error";

fn pending_action(r: &AnyRow) -> Result<PendingAction, StoreError> {
    let (msg, x) = action_row(r)?;
    Ok(PendingAction {
        msg,
        kafka_done: x.kafka_done,
        webhook_done: x.webhook_done,
        attempts: x.attempts,
    })
}

impl Store {
    // ---- retained signals ----

    /// Retained uploads received at or after `since` whose verdict at
    /// upload time was `none` (the ones a retro-hunt can find missed),
    /// after `(received_at, upload_id)` = `after`, oldest first.
    pub async fn retained_passed(
        &self,
        since: &str,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<RetainedRow>, StoreError> {
        let (at, id) = after.unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT upload_id, policy_version, action, received_at, md5, sha256, pdq, pdq_quality, dhash, phash
             FROM retained_signals
             WHERE action = 'none' AND received_at >= $1 AND (received_at > $2 OR (received_at = $2 AND upload_id > $3))
             ORDER BY received_at, upload_id LIMIT $4",
        )
        .bind(since)
        .bind(at)
        .bind(id)
        .bind(limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(retained_row).collect::<Result<_, _>>()?)
    }

    /// The retained signals of one upload.
    pub async fn retained_for(&self, upload_id: &str) -> Result<Option<RetainedRow>, StoreError> {
        let row = sqlx::query(
            "SELECT upload_id, policy_version, action, received_at, md5, sha256, pdq, pdq_quality, dhash, phash
             FROM retained_signals WHERE upload_id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(retained_row).transpose()?)
    }

    /// Delete retained signals of uploads received before `before`
    /// (RFC 3339). Returns how many were deleted.
    pub async fn purge_retained(&self, before: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM retained_signals WHERE received_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    // ---- retro-hunt ----

    /// Live entries changed after `cursor`, in cursor order (entries added
    /// or re-imported by any path: CLI, API, import, change log).
    pub async fn entries_changed_after(
        &self,
        cursor: &EntryCursor,
        limit: i64,
    ) -> Result<Vec<(EntryCursor, BankEntry)>, StoreError> {
        let rows = sqlx::query(
            "SELECT bank, entry_id, body, updated_at FROM bank_entries
             WHERE deleted = 0 AND (updated_at > $1 OR (updated_at = $1 AND (bank > $2 OR (bank = $2 AND entry_id > $3))))
             ORDER BY updated_at, bank, entry_id LIMIT $4",
        )
        .bind(cursor.updated_at.as_str())
        .bind(cursor.bank.as_str())
        .bind(cursor.entry_id.as_str())
        .bind(limit.clamp(1, 100_000))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let body: String = r.try_get("body")?;
            let entry: BankEntry =
                serde_json::from_str(&body).map_err(|e| corrupt("bank entry", e))?;
            out.push((
                EntryCursor {
                    updated_at: r.try_get("updated_at")?,
                    bank: r.try_get("bank")?,
                    entry_id: r.try_get("entry_id")?,
                },
                entry,
            ));
        }
        Ok(out)
    }

    /// Where the retro-hunt `name` stopped; `None` before its first run.
    pub async fn retrohunt_cursor(&self, name: &str) -> Result<Option<EntryCursor>, StoreError> {
        let row =
            sqlx::query("SELECT updated_at, bank, entry_id FROM retrohunt_cursor WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(EntryCursor {
                updated_at: r.try_get("updated_at")?,
                bank: r.try_get("bank")?,
                entry_id: r.try_get("entry_id")?,
            }),
            None => None,
        })
    }

    pub async fn set_retrohunt_cursor(
        &self,
        name: &str,
        cursor: &EntryCursor,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO retrohunt_cursor (name, updated_at, bank, entry_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at, bank = excluded.bank,
                entry_id = excluded.entry_id",
        )
        .bind(name)
        .bind(cursor.updated_at.as_str())
        .bind(cursor.bank.as_str())
        .bind(cursor.entry_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Record a retro-hunt hit. Idempotent; returns whether it was new.
    pub async fn record_retro_hit(&self, hit: &RetroHitRow) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO retrohunt_hits (upload_id, bank, entry_id, received_at, found_at, delay_seconds, late_action)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (upload_id, bank, entry_id) DO NOTHING",
        )
        .bind(hit.upload_id.as_str())
        .bind(hit.bank.as_str())
        .bind(hit.entry_id.as_str())
        .bind(hit.received_at.as_str())
        .bind(hit.found_at.as_str())
        .bind(hit.delay_seconds)
        .bind(hit.late_action.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Retro-hunt misses per bank among uploads *received* in `[from, to)`
    /// (RFC 3339): distinct uploads, for the transparency report.
    pub async fn retro_misses(
        &self,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT bank, COUNT(DISTINCT upload_id) AS n FROM retrohunt_hits
             WHERE received_at >= $1 AND received_at < $2 GROUP BY bank ORDER BY bank",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(r.try_get("bank")?, r.try_get("n")?);
        }
        Ok(out)
    }

    /// Every retro-hunt hit on uploads *received* in `[from, to)` (RFC 3339).
    pub async fn retro_hits_received(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<RetroHitRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT upload_id, bank, entry_id, received_at, found_at, delay_seconds, late_action
             FROM retrohunt_hits WHERE received_at >= $1 AND received_at < $2
             ORDER BY bank, upload_id, entry_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hit_row).collect()
    }

    /// Every retro-hunt hit on one upload.
    pub async fn retro_hits_for(&self, upload_id: &str) -> Result<Vec<RetroHitRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT upload_id, bank, entry_id, received_at, found_at, delay_seconds, late_action
             FROM retrohunt_hits WHERE upload_id = $1 ORDER BY bank, entry_id",
        )
        .bind(upload_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hit_row).collect()
    }

    // ---- entry counters ----

    /// Count a disputed opinion on an entry (`reference` names the
    /// exchange record). Idempotent; returns whether it was new.
    pub async fn record_dispute(
        &self,
        bank: &str,
        entry_id: &str,
        reference: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = insert_event(&mut tx, bank, entry_id, "disputed", reference, &now()).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Counts per entry since each entry's last restore (all time if never
    /// restored).
    pub async fn entry_counts_since_restore(&self) -> Result<Vec<EntryCountsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.bank AS bank, e.entry_id AS entry_id,
                COALESCE(SUM(CASE WHEN e.kind = 'match' THEN 1 ELSE 0 END), 0) AS matches,
                COALESCE(SUM(CASE WHEN e.kind = 'upheld' THEN 1 ELSE 0 END), 0) AS upheld,
                COALESCE(SUM(CASE WHEN e.kind = 'overturned' THEN 1 ELSE 0 END), 0) AS overturned,
                COALESCE(SUM(CASE WHEN e.kind = 'disputed' THEN 1 ELSE 0 END), 0) AS disputed
             FROM entry_events e
             LEFT JOIN entry_quarantine q ON q.bank = e.bank AND q.entry_id = e.entry_id
             WHERE q.since IS NULL OR q.state = 'quarantined' OR e.at > q.since
             GROUP BY e.bank, e.entry_id ORDER BY e.bank, e.entry_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(counts_row).collect()
    }

    /// Counts per bank (summed over its entries) since the bank's last restore.
    pub async fn bank_counts_since_restore(
        &self,
    ) -> Result<BTreeMap<String, EntryCounts>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.bank AS bank, '' AS entry_id,
                COALESCE(SUM(CASE WHEN e.kind = 'match' THEN 1 ELSE 0 END), 0) AS matches,
                COALESCE(SUM(CASE WHEN e.kind = 'upheld' THEN 1 ELSE 0 END), 0) AS upheld,
                COALESCE(SUM(CASE WHEN e.kind = 'overturned' THEN 1 ELSE 0 END), 0) AS overturned,
                COALESCE(SUM(CASE WHEN e.kind = 'disputed' THEN 1 ELSE 0 END), 0) AS disputed
             FROM entry_events e
             LEFT JOIN entry_quarantine q ON q.bank = e.bank AND q.entry_id = ''
             WHERE q.since IS NULL OR q.state = 'quarantined' OR e.at > q.since
             GROUP BY e.bank ORDER BY e.bank",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let c = counts_row(r)?;
            out.insert(c.bank, c.counts);
        }
        Ok(out)
    }

    /// Lifetime counts of one entry (restores do not reset these).
    pub async fn entry_lifetime_counts(
        &self,
        bank: &str,
        entry_id: &str,
    ) -> Result<EntryCounts, StoreError> {
        let r = sqlx::query(
            "SELECT $1 AS bank, $2 AS entry_id,
                COALESCE(SUM(CASE WHEN kind = 'match' THEN 1 ELSE 0 END), 0) AS matches,
                COALESCE(SUM(CASE WHEN kind = 'upheld' THEN 1 ELSE 0 END), 0) AS upheld,
                COALESCE(SUM(CASE WHEN kind = 'overturned' THEN 1 ELSE 0 END), 0) AS overturned,
                COALESCE(SUM(CASE WHEN kind = 'disputed' THEN 1 ELSE 0 END), 0) AS disputed
             FROM entry_events WHERE bank = $1 AND entry_id = $2",
        )
        .bind(bank)
        .bind(entry_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(counts_row(&r)?.counts)
    }

    // ---- quarantine ----

    /// Record that an entry (or, with `entry_id` empty, a bank) was
    /// quarantined, with an audit-log row. Returns false when it already was.
    pub async fn record_quarantine(
        &self,
        bank: &str,
        entry_id: &str,
        cause: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        self.set_quarantine_state(bank, entry_id, "quarantined", cause, actor, cause)
            .await
    }

    /// Record that an entry (or bank) was restored by `actor` for `reason`,
    /// with an audit-log row; its counts start again from now. Returns
    /// false when it was not quarantined.
    pub async fn record_restore(
        &self,
        bank: &str,
        entry_id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.set_quarantine_state(bank, entry_id, "restored", "restored", actor, reason)
            .await
    }

    async fn set_quarantine_state(
        &self,
        bank: &str,
        entry_id: &str,
        state: &str,
        cause: &str,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let t = now();
        let mut tx = self.pool.begin().await?;
        let q = if state == "quarantined" {
            sqlx::query(
                "INSERT INTO entry_quarantine (bank, entry_id, state, cause, since, actor, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (bank, entry_id) DO UPDATE SET state = excluded.state, cause = excluded.cause,
                    since = excluded.since, actor = excluded.actor, reason = excluded.reason
                 WHERE entry_quarantine.state <> excluded.state",
            )
        } else {
            sqlx::query(
                "UPDATE entry_quarantine SET state = $3, cause = $4, since = $5, actor = $6, reason = $7
                 WHERE bank = $1 AND entry_id = $2 AND state = 'quarantined'",
            )
        };
        let changed = q
            .bind(bank)
            .bind(entry_id)
            .bind(state)
            .bind(cause)
            .bind(t.as_str())
            .bind(actor)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !changed {
            tx.rollback().await?;
            return Ok(false);
        }
        let (what, target) = if entry_id.is_empty() {
            ("bank", bank.to_string())
        } else {
            ("entry", format!("{bank}/{entry_id}"))
        };
        let verb = if state == "quarantined" {
            "quarantine"
        } else {
            "restore"
        };
        audit(&mut tx, actor, &format!("{verb}_{what}"), reason, target).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Entries and banks under quarantine now, oldest first.
    pub async fn quarantined(&self) -> Result<Vec<QuarantineRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT bank, entry_id, state, cause, since, actor, reason FROM entry_quarantine
             WHERE state = 'quarantined' ORDER BY since, bank, entry_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuarantineRow {
                    bank: r.try_get("bank")?,
                    entry_id: r.try_get("entry_id")?,
                    state: r.try_get("state")?,
                    cause: r.try_get("cause")?,
                    since: r.try_get("since")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    /// Entries quarantined now, per bank (whole-bank quarantines not
    /// included), for the transparency report and the gauge.
    pub async fn quarantined_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT bank, COUNT(*) AS n FROM entry_quarantine WHERE state = 'quarantined' AND entry_id <> ''
             GROUP BY bank ORDER BY bank",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(r.try_get("bank")?, r.try_get("n")?);
        }
        Ok(out)
    }

    // ---- actions outbox ----

    /// Queue an action outside a verdict or decision (e.g. an operator's
    /// re-send). Idempotent on `(upload_id, source)`.
    pub async fn enqueue_action(&self, msg: &ActionMsg) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_action(&mut tx, msg).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Undelivered, unparked actions due at `now`, oldest first (claimed
    /// or not: for operators and tests; relays use
    /// [`Store::claim_due_actions`]).
    pub async fn due_actions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PendingAction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions
             WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at <= $1
             ORDER BY created_at, action_id LIMIT $2"
        ))
        .bind(ts(now))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pending_action).collect()
    }

    /// Claim up to `limit` due actions for `owner` until `now + lease`,
    /// oldest first. An action is due when it is undelivered, not parked,
    /// its next attempt is at or before `now`, nobody holds an unexpired
    /// lease on it, and no older action of the same upload is undelivered
    /// (per-upload order: a reinstatement waits for its takedown). Two
    /// relays never get the same action while a lease runs; a relay that
    /// dies loses its claims when the lease expires.
    pub async fn claim_due_actions(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<PendingAction>, StoreError> {
        let lock = if self.is_postgres() {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE actions SET claimed_by = $1, lease_expires_at = $2
             WHERE action_id IN (
                SELECT a.action_id FROM actions a
                WHERE a.delivered_at IS NULL AND a.parked_at IS NULL AND a.next_attempt_at <= $3
                  AND (a.lease_expires_at IS NULL OR a.lease_expires_at <= $3)
                  AND NOT EXISTS (SELECT 1 FROM actions p WHERE p.upload_id = a.upload_id
                                  AND p.delivered_at IS NULL AND p.action_id < a.action_id)
                ORDER BY a.created_at, a.action_id
                LIMIT $4 {lock})
             AND delivered_at IS NULL AND parked_at IS NULL
             AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
             RETURNING created_at, action_id, {ACTION_COLUMNS}"
        );
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(ts(until))
            .bind(ts(now))
            .bind(limit.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let created: String = r.try_get("created_at")?;
            let id: String = r.try_get("action_id")?;
            out.push(((created, id), pending_action(r)?));
        }
        // RETURNING keeps no order.
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(_, p)| p).collect())
    }

    /// Mark one sink done for an action (the first time wins); when
    /// `all_done`, the action is delivered.
    pub async fn mark_action_sink(
        &self,
        action_id: &str,
        sink: Sink,
        all_done: bool,
    ) -> Result<(), StoreError> {
        let col = match sink {
            Sink::Kafka => "kafka_done_at",
            Sink::Webhook => "webhook_done_at",
        };
        let delivered = if all_done {
            "COALESCE(delivered_at, $1)"
        } else {
            "delivered_at"
        };
        sqlx::query(&format!(
            "UPDATE actions SET {col} = COALESCE({col}, $1), delivered_at = {delivered} WHERE action_id = $2"
        ))
        .bind(now())
        .bind(action_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Mark an action delivered (every configured sink done, or none configured).
    pub async fn mark_action_delivered(&self, action_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE actions SET delivered_at = COALESCE(delivered_at, $1) WHERE action_id = $2",
        )
        .bind(now())
        .bind(action_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Record a failed attempt and release the claim; the action is tried
    /// again at `next_attempt_at`.
    pub async fn mark_action_failed(
        &self,
        action_id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE actions SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2,
                    claimed_by = NULL, lease_expires_at = NULL
             WHERE action_id = $3 AND delivered_at IS NULL",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(ts(next_attempt_at))
        .bind(action_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Park an action a sink refused for good (the platform answered a
    /// 4xx other than 408/429): it stays undelivered, and no relay tries it
    /// again until [`Store::requeue_parked_actions`]. Nothing is dropped.
    pub async fn park_action(&self, action_id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE actions SET attempts = attempts + 1, last_error = $1, parked_at = COALESCE(parked_at, $2),
                    claimed_by = NULL, lease_expires_at = NULL
             WHERE action_id = $3 AND delivered_at IS NULL",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(now())
        .bind(action_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Make every parked action due again (after the platform was fixed).
    /// Returns how many were re-queued.
    pub async fn requeue_parked_actions(&self) -> Result<u64, StoreError> {
        let at = now();
        Ok(sqlx::query(
            "UPDATE actions SET parked_at = NULL, next_attempt_at = $1
             WHERE parked_at IS NOT NULL AND delivered_at IS NULL",
        )
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Actions parked after a permanent refusal.
    pub async fn parked_action_count(&self) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM actions WHERE parked_at IS NOT NULL AND delivered_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get("n")?)
    }

    /// Actions not yet delivered (parked ones included).
    pub async fn pending_action_count(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM actions WHERE delivered_at IS NULL")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Every action for an upload, oldest first.
    pub async fn actions_for(&self, upload_id: &UploadId) -> Result<Vec<ActionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE upload_id = $1 ORDER BY action_id"
        ))
        .bind(upload_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (msg, x) = action_row(r)?;
                Ok(ActionRow {
                    msg,
                    kafka_done: x.kafka_done,
                    webhook_done: x.webhook_done,
                    delivered_at: x.delivered_at,
                    parked_at: x.parked_at,
                    attempts: x.attempts,
                    last_error: x.last_error,
                })
            })
            .collect()
    }
}

fn hit_row(r: &AnyRow) -> Result<RetroHitRow, StoreError> {
    Ok(RetroHitRow {
        upload_id: r.try_get("upload_id")?,
        bank: r.try_get("bank")?,
        entry_id: r.try_get("entry_id")?,
        received_at: r.try_get("received_at")?,
        found_at: r.try_get("found_at")?,
        delay_seconds: r.try_get("delay_seconds")?,
        late_action: r.try_get("late_action")?,
    })
}

fn counts_row(r: &AnyRow) -> Result<EntryCountsRow, StoreError> {
    let n = |c: &str| -> Result<u64, StoreError> { Ok(r.try_get::<i64, _>(c)?.max(0) as u64) };
    Ok(EntryCountsRow {
        bank: r.try_get("bank")?,
        entry_id: r.try_get("entry_id")?,
        counts: EntryCounts {
            matches: n("matches")?,
            upheld: n("upheld")?,
            overturned: n("overturned")?,
            disputed: n("disputed")?,
        },
    })
}
