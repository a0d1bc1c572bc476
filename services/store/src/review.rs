//! The human review store: claims with leases, decision rounds, appeals,
//! reviewer accounts and sessions, and the append-only audit log
//! (DESIGN.md §7).
//!
//! A review item (`review_items`, keyed `(upload_id, policy_version)`) is
//! decided in *rounds*. A reviewer claims the most urgent open item with a
//! lease; only the holder of an unexpired lease can decide the round. A
//! final decision (uphold, overturn, exempt) closes the item; escalate
//! opens the next round for leads; an appeal re-opens a closed item as the
//! next round. Nobody is ever given an item they decided in an earlier
//! round, so appeals and escalations reach a *different* person.
//!
//! Claiming is one `UPDATE … WHERE key = (SELECT … LIMIT 1) RETURNING`
//! statement: on PostgreSQL the inner select takes the row with `FOR UPDATE
//! SKIP LOCKED`, so concurrent claimers never wait on or share a row; on
//! SQLite the single statement runs under the database's write lock, which
//! serialises claimers. Deciding is a transaction whose first statement is
//! the conditional update of the held claim, so two reviewers can never
//! both decide a round. Every claim, release, decision, appeal and sign-in
//! is written to `audit_log`, which this module only ever appends to.

use crate::db::ts;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::fmt;
use std::time::Duration;

/// A review account's role (auditor, reviewer, lead, admin): defined with
/// the access table in `vigil-authz`.
pub use vigil_authz::Role;

/// What a reviewer decides about a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The automated or proposed action stands: the media is taken down.
    Uphold,
    /// Leave up / reinstate.
    Overturn,
    /// Hand the item to a lead.
    Escalate,
    /// Violating on its face, but kept up for a recognised public interest.
    Exempt,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Uphold,
        Decision::Overturn,
        Decision::Escalate,
        Decision::Exempt,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Uphold => "uphold",
            Decision::Overturn => "overturn",
            Decision::Escalate => "escalate",
            Decision::Exempt => "exempt",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Whether the decision closes the item (everything but escalate).
    pub fn is_final(&self) -> bool {
        !matches!(self, Decision::Escalate)
    }

    /// What the decision means for the upload.
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Uphold => "taken_down",
            Decision::Overturn => "left_up",
            Decision::Escalate => "escalated",
            Decision::Exempt => "exempted",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed list of reasons: `(decision, code, label)`. A decision must
/// carry one of the reasons listed for it.
pub const REASONS: &[(Decision, &str, &str)] = &[
    (
        Decision::Uphold,
        "tve_content",
        "Terrorist or violent extremist content",
    ),
    (
        Decision::Uphold,
        "known_content_match",
        "Confirmed match of known content",
    ),
    (
        Decision::Uphold,
        "glorification",
        "Glorification of an attack or perpetrator",
    ),
    (Decision::Uphold, "recruitment", "Recruitment or propaganda"),
    (Decision::Uphold, "incitement", "Incitement to violence"),
    (
        Decision::Overturn,
        "false_match",
        "Not the matched content (false match)",
    ),
    (
        Decision::Overturn,
        "not_violating",
        "Does not violate policy",
    ),
    (
        Decision::Overturn,
        "insufficient_evidence",
        "Insufficient evidence to act",
    ),
    (
        Decision::Exempt,
        "journalism",
        "Journalism or news reporting",
    ),
    (Decision::Exempt, "counter_speech", "Counter-speech"),
    (
        Decision::Exempt,
        "documentation",
        "Documentation or evidence of abuses",
    ),
    (Decision::Exempt, "research", "Academic or policy research"),
    (
        Decision::Escalate,
        "needs_specialist",
        "Needs a specialist (language, region, group)",
    ),
    (
        Decision::Escalate,
        "policy_unclear",
        "Policy does not clearly cover it",
    ),
    (
        Decision::Escalate,
        "legal_question",
        "Legal question or authority request",
    ),
    (
        Decision::Escalate,
        "imminent_harm",
        "Possible imminent harm",
    ),
];

/// The label of a reason valid for `decision`, or `None`.
pub fn reason_label(decision: Decision, code: &str) -> Option<&'static str> {
    REASONS
        .iter()
        .find(|(d, c, _)| *d == decision && *c == code)
        .map(|(_, _, l)| *l)
}

/// The longest note a decision, appeal or audit entry keeps.
pub const MAX_NOTE_CHARS: usize = 2000;

/// An item handed to a reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub upload_id: String,
    pub policy_version: String,
    pub round: i64,
    /// `review` or `appeal`.
    pub kind: String,
    /// `reviewer` or `lead` (escalated).
    pub tier: String,
    pub queue_reason: String,
    pub priority: f64,
    pub created_at: String,
    pub lease_expires_at: String,
}

/// A review item as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCase {
    pub upload_id: String,
    pub policy_version: String,
    pub queue_reason: String,
    pub priority: f64,
    /// `open`, `claimed` or `decided`.
    pub status: String,
    pub created_at: String,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<String>,
    pub tier: String,
    pub kind: String,
    pub round: i64,
    /// The routing queue (`None` until the review service routed it).
    pub queue: Option<String>,
}

/// A review item the routing rules have not placed yet, with what they
/// look at: the verdict and the upload message (JSON, as stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Unrouted {
    pub upload_id: String,
    pub policy_version: String,
    pub verdict: Option<String>,
    pub upload: Option<String>,
}

/// One decided round.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    pub decision_id: String,
    pub upload_id: String,
    pub policy_version: String,
    pub round: i64,
    pub kind: String,
    pub reviewer: String,
    pub decision: String,
    pub reason: String,
    pub note: Option<String>,
    pub decided_at: String,
}

/// What a reviewer submits.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a> {
    pub upload_id: &'a str,
    pub policy_version: &'a str,
    pub round: i64,
    pub reviewer: &'a str,
    pub decision: Decision,
    pub reason: &'a str,
    pub note: Option<&'a str>,
}

/// A decision that was stored, or had already been stored identically.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub row: DecisionRow,
    /// True when this call stored nothing new (a repeated submission).
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no such review item")]
    NotFound,
    #[error("{0:?} is not a reason for {1}")]
    BadReason(String, Decision),
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error("you do not hold a claim on this item")]
    NotHeld,
    #[error("your claim on this item expired; claim it again")]
    LeaseExpired,
    #[error("this round was already decided")]
    AlreadyDecided,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for DecideError {
    fn from(e: sqlx::Error) -> Self {
        DecideError::Store(StoreError::Db(e))
    }
}

impl DecideError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecideError::NotFound => "not_found",
            DecideError::BadReason(..) => "bad_reason",
            DecideError::NoteTooLong => "note_too_long",
            DecideError::NotHeld => "not_held",
            DecideError::LeaseExpired => "lease_expired",
            DecideError::AlreadyDecided => "already_decided",
            DecideError::Store(_) => "store",
        }
    }
}

/// A filed appeal.
#[derive(Debug, Clone, PartialEq)]
pub struct AppealFiled {
    pub appeal_id: String,
    pub upload_id: String,
    pub policy_version: String,
    pub round: i64,
    /// True when an open appeal already existed and was returned.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AppealError {
    #[error("no verdict for this upload")]
    NotFound,
    #[error("nothing to appeal: the upload was not taken down")]
    NotAppealable,
    #[error("the item is being reviewed already")]
    InReview,
    #[error("the statement is longer than {MAX_NOTE_CHARS} characters")]
    StatementTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppealError {
    fn from(e: sqlx::Error) -> Self {
        AppealError::Store(StoreError::Db(e))
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
}

/// A live session with its user.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub username: String,
    pub role: Role,
    pub csrf_token: String,
    pub expires_at: String,
}

/// One audit record: who did what, when and why.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub audit_id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub upload_id: Option<String>,
    pub policy_version: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub detail: Option<String>,
}

/// Filters for reading the audit log; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub upload_id: Option<String>,
    /// Case-insensitive substring of the note or reason.
    pub text: Option<String>,
    /// RFC 3339 bounds on `at`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: i64,
}

/// One reviewer's throughput and agreement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewerStats {
    pub reviewer: String,
    pub decisions: i64,
    pub uphold: i64,
    pub overturn: i64,
    pub escalate: i64,
    pub exempt: i64,
    /// Final decisions of this reviewer that another reviewer later decided again.
    pub second_looks: i64,
    /// Of those, how many got the same decision.
    pub agreed: i64,
}

/// Queue depth by state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub open: i64,
    pub open_escalated: i64,
    pub open_appeals: i64,
    pub claimed: i64,
    pub decided: i64,
    /// `created_at` of the oldest open item.
    pub oldest_open: Option<String>,
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> String {
    ts(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(15)))
}

fn truncate_note(note: Option<&str>) -> Result<Option<String>, ()> {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(()),
        Some(n) => Ok(Some(n.to_string())),
    }
}

const CASE_COLUMNS: &str =
    "upload_id, policy_version, queue_reason, priority, status, created_at, claimed_by, \
     lease_expires_at, tier, kind, round, queue";

fn case_row(r: &AnyRow) -> Result<ReviewCase, sqlx::Error> {
    Ok(ReviewCase {
        upload_id: r.try_get("upload_id")?,
        policy_version: r.try_get("policy_version")?,
        queue_reason: r.try_get("queue_reason")?,
        priority: r.try_get("priority")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        claimed_by: r.try_get("claimed_by")?,
        lease_expires_at: r.try_get("lease_expires_at")?,
        tier: r.try_get("tier")?,
        kind: r.try_get("kind")?,
        round: r.try_get("round")?,
        queue: r.try_get("queue")?,
    })
}

const DECISION_COLUMNS: &str =
    "decision_id, upload_id, policy_version, round, kind, reviewer, decision, reason, note, decided_at";

fn decision_row(r: &AnyRow) -> Result<DecisionRow, sqlx::Error> {
    Ok(DecisionRow {
        decision_id: r.try_get("decision_id")?,
        upload_id: r.try_get("upload_id")?,
        policy_version: r.try_get("policy_version")?,
        round: r.try_get("round")?,
        kind: r.try_get("kind")?,
        reviewer: r.try_get("reviewer")?,
        decision: r.try_get("decision")?,
        reason: r.try_get("reason")?,
        note: r.try_get("note")?,
        decided_at: r.try_get("decided_at")?,
    })
}

fn audit_row(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        audit_id: r.try_get("audit_id")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        upload_id: r.try_get("upload_id")?,
        policy_version: r.try_get("policy_version")?,
        decision: r.try_get("decision")?,
        reason: r.try_get("reason")?,
        note: r.try_get("note")?,
        detail: r.try_get("detail")?,
    })
}

/// The fields of one audit record, written inside a caller's transaction.
pub(crate) struct Audit<'a> {
    pub(crate) actor: &'a str,
    pub(crate) action: &'a str,
    pub(crate) upload_id: Option<&'a str>,
    pub(crate) policy_version: Option<&'a str>,
    pub(crate) decision: Option<&'a str>,
    pub(crate) reason: Option<&'a str>,
    pub(crate) note: Option<&'a str>,
    pub(crate) detail: Option<String>,
}

impl Audit<'_> {
    pub(crate) async fn insert<'c, E>(&self, at: &str, exec: E) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO audit_log (audit_id, at, actor, action, upload_id, policy_version, decision, reason, note, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new_id())
        .bind(at)
        .bind(self.actor)
        .bind(self.action)
        .bind(self.upload_id)
        .bind(self.policy_version)
        .bind(self.decision)
        .bind(self.reason)
        .bind(self.note)
        .bind(self.detail.clone())
        .execute(exec)
        .await?;
        Ok(())
    }
}

impl Store {
    // ---- claims ----

    /// Claim the most urgent item `reviewer` may take and has never decided,
    /// for `lease`. Escalated items go to leads and admins only, before
    /// everything else. An item whose lease ran out is claimable again.
    pub async fn claim_next(
        &self,
        reviewer: &str,
        role: Role,
        lease: Duration,
    ) -> Result<Option<Claim>, StoreError> {
        self.claim_next_in(reviewer, role, lease, None).await
    }

    /// [`Store::claim_next`], limited to items routed to one of `queues`
    /// (`None`: any queue, routed or not).
    pub async fn claim_next_in(
        &self,
        reviewer: &str,
        role: Role,
        lease: Duration,
        queues: Option<&[String]>,
    ) -> Result<Option<Claim>, StoreError> {
        let now = Utc::now();
        // `r.queue IN ($5, $6, …)`, one placeholder per queue.
        let queue_filter = match queues {
            None => String::new(),
            Some([]) => "AND 1 = 0".to_string(),
            Some(qs) => format!(
                "AND r.queue IN ({})",
                (0..qs.len())
                    .map(|i| format!("${}", i + 5))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let lock = if self.is_postgres() {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        // `r.status IN ('open', 'claimed')` and the ORDER BY match the
        // partial index `review_items_claim_order` (migration 10): the
        // most urgent claimable item is the first index entry that passes
        // the filters, with no sort of the queue.
        let sql = format!(
            "UPDATE review_items SET status = 'claimed', claimed_by = $1, lease_expires_at = $2, updated_at = $3
             WHERE (upload_id, policy_version) = (
                SELECT r.upload_id, r.policy_version FROM review_items r
                WHERE r.status IN ('open', 'claimed') AND (r.status = 'open' OR r.lease_expires_at <= $3)
                  AND ($4 = 1 OR r.tier = 'reviewer') {queue_filter}
                  AND NOT EXISTS (SELECT 1 FROM review_decisions d WHERE d.upload_id = r.upload_id
                                  AND d.policy_version = r.policy_version AND d.reviewer = $1)
                ORDER BY CASE WHEN r.tier = 'lead' THEN 0 ELSE 1 END, r.priority DESC, r.created_at ASC
                LIMIT 1 {lock})
             AND (status = 'open' OR (status = 'claimed' AND lease_expires_at <= $3))
             RETURNING upload_id, policy_version, round, kind, tier, queue_reason, priority, created_at, lease_expires_at"
        );
        let now_s = ts(now);
        let mut tx = self.pool.begin().await?;
        if self.is_postgres() {
            // Walk the claim-order index instead of sorting the queue, even
            // when the planner's statistics are stale (after a bulk load,
            // before autovacuum's ANALYZE, or with autovacuum off): with
            // too-low row estimates it prefers a bitmap scan and a sort of
            // every open item (1.8 s at 100,000 items) to reading the
            // first index entry (milliseconds). Only this transaction.
            sqlx::query("SET LOCAL enable_sort = off")
                .execute(&mut *tx)
                .await?;
        }
        let mut q = sqlx::query(&sql)
            .bind(reviewer)
            .bind(lease_end(now, lease))
            .bind(now_s.as_str())
            .bind(i64::from(role.takes_escalations()));
        for queue in queues.unwrap_or(&[]) {
            q = q.bind(queue.as_str());
        }
        let row = q.fetch_optional(&mut *tx).await?;
        let Some(r) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let claim = Claim {
            upload_id: r.try_get("upload_id")?,
            policy_version: r.try_get("policy_version")?,
            round: r.try_get("round")?,
            kind: r.try_get("kind")?,
            tier: r.try_get("tier")?,
            queue_reason: r.try_get("queue_reason")?,
            priority: r.try_get("priority")?,
            created_at: r.try_get("created_at")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
        };
        Audit {
            actor: reviewer,
            action: "claim",
            upload_id: Some(&claim.upload_id),
            policy_version: Some(&claim.policy_version),
            decision: None,
            reason: None,
            note: None,
            detail: Some(format!("round {}", claim.round)),
        }
        .insert(&now_s, &mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(claim))
    }

    /// Extend a held, unexpired claim. Returns the new expiry, or `None`
    /// when `reviewer` does not hold a live claim on the item.
    pub async fn renew_claim(
        &self,
        upload_id: &str,
        policy_version: &str,
        reviewer: &str,
        lease: Duration,
    ) -> Result<Option<String>, StoreError> {
        let now = Utc::now();
        let until = lease_end(now, lease);
        let r = sqlx::query(
            "UPDATE review_items SET lease_expires_at = $1, updated_at = $2
             WHERE upload_id = $3 AND policy_version = $4 AND status = 'claimed' AND claimed_by = $5
               AND lease_expires_at > $2",
        )
        .bind(until.as_str())
        .bind(ts(now))
        .bind(upload_id)
        .bind(policy_version)
        .bind(reviewer)
        .execute(&self.pool)
        .await?;
        Ok((r.rows_affected() == 1).then_some(until))
    }

    /// Give a held claim back to the queue. Returns whether one was held.
    pub async fn release_claim(
        &self,
        upload_id: &str,
        policy_version: &str,
        reviewer: &str,
    ) -> Result<bool, StoreError> {
        let now = ts(Utc::now());
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE review_items SET status = 'open', claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
             WHERE upload_id = $2 AND policy_version = $3 AND status = 'claimed' AND claimed_by = $4",
        )
        .bind(now.as_str())
        .bind(upload_id)
        .bind(policy_version)
        .bind(reviewer)
        .execute(&mut *tx)
        .await?;
        let released = r.rows_affected() == 1;
        if released {
            Audit {
                actor: reviewer,
                action: "release",
                upload_id: Some(upload_id),
                policy_version: Some(policy_version),
                decision: None,
                reason: None,
                note: None,
                detail: None,
            }
            .insert(&now, &mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(released)
    }

    /// Items `reviewer` holds a live claim on.
    pub async fn claims_of(&self, reviewer: &str) -> Result<Vec<ReviewCase>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM review_items WHERE status = 'claimed' AND claimed_by = $1
               AND lease_expires_at > $2 ORDER BY lease_expires_at"
        ))
        .bind(reviewer)
        .bind(ts(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(case_row).collect::<Result<_, _>>()?)
    }

    /// One review item.
    pub async fn review_case(
        &self,
        upload_id: &str,
        policy_version: &str,
    ) -> Result<Option<ReviewCase>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM review_items WHERE upload_id = $1 AND policy_version = $2"
        ))
        .bind(upload_id)
        .bind(policy_version)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(case_row).transpose()?)
    }

    /// Items in a state (`open`, `claimed`, `decided`), most urgent first.
    pub async fn review_cases(
        &self,
        status: &str,
        limit: i64,
    ) -> Result<Vec<ReviewCase>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM review_items WHERE status = $1
             ORDER BY CASE WHEN tier = 'lead' THEN 0 ELSE 1 END, priority DESC, created_at ASC LIMIT $2"
        ))
        .bind(status)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(case_row).collect::<Result<_, _>>()?)
    }

    /// Queue depth for the dashboard and metrics.
    pub async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let rows = sqlx::query("SELECT status, tier, kind, COUNT(*) AS n FROM review_items GROUP BY status, tier, kind")
            .fetch_all(&self.pool)
            .await?;
        let mut s = QueueStats::default();
        for r in rows {
            let status: String = r.try_get("status")?;
            let tier: String = r.try_get("tier")?;
            let kind: String = r.try_get("kind")?;
            let n: i64 = r.try_get("n")?;
            match status.as_str() {
                "open" => {
                    s.open += n;
                    if tier == "lead" {
                        s.open_escalated += n;
                    }
                    if kind == "appeal" {
                        s.open_appeals += n;
                    }
                }
                "claimed" => s.claimed += n,
                _ => s.decided += n,
            }
        }
        let oldest =
            sqlx::query("SELECT MIN(created_at) AS t FROM review_items WHERE status = 'open'")
                .fetch_one(&self.pool)
                .await?;
        s.oldest_open = oldest.try_get("t")?;
        Ok(s)
    }

    // ---- routing ----

    /// Items not yet placed in a queue, oldest first, with their verdict and
    /// upload message.
    pub async fn unrouted_items(&self, limit: i64) -> Result<Vec<Unrouted>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.upload_id, r.policy_version, v.body, u.msg FROM review_items r
             LEFT JOIN verdicts v ON v.upload_id = r.upload_id AND v.policy_version = r.policy_version
             LEFT JOIN uploads u ON u.upload_id = r.upload_id
             WHERE r.queue IS NULL ORDER BY r.created_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Unrouted {
                    upload_id: r.try_get("upload_id")?,
                    policy_version: r.try_get("policy_version")?,
                    verdict: r.try_get("body")?,
                    upload: r.try_get("msg")?,
                })
            })
            .collect()
    }

    /// Place an unrouted item in `queue`; an item already routed keeps its
    /// queue. Returns whether this call placed it.
    pub async fn set_queue(
        &self,
        upload_id: &str,
        policy_version: &str,
        queue: &str,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE review_items SET queue = $1 WHERE upload_id = $2 AND policy_version = $3 AND queue IS NULL",
        )
        .bind(queue)
        .bind(upload_id)
        .bind(policy_version)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Open items per routing queue (`None`: not routed yet).
    pub async fn open_by_queue(&self) -> Result<Vec<(Option<String>, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT queue, COUNT(*) AS n FROM review_items WHERE status = 'open' GROUP BY queue ORDER BY queue",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("queue")?, r.try_get("n")?)))
            .collect()
    }

    /// The queues `username` serves (`None`: every queue).
    pub async fn user_queues(&self, username: &str) -> Result<Option<Vec<String>>, StoreError> {
        let row = sqlx::query("SELECT queues FROM review_users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let queues: Option<String> = row.try_get("queues")?;
        Ok(queues.map(|q| {
            q.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }))
    }

    /// Assign `username` to `queues` (`None`: every queue). Audited.
    pub async fn set_user_queues(
        &self,
        username: &str,
        queues: Option<&[String]>,
    ) -> Result<(), StoreError> {
        if let Some(bad) = queues
            .unwrap_or(&[])
            .iter()
            .find(|q| q.is_empty() || q.contains(','))
        {
            return Err(StoreError::Invalid(format!("queue name {bad:?}")));
        }
        let joined = queues.map(|q| q.join(","));
        sqlx::query("UPDATE review_users SET queues = $1, updated_at = $2 WHERE username = $3")
            .bind(joined.clone())
            .bind(ts(Utc::now()))
            .bind(username)
            .execute(&self.pool)
            .await?;
        self.append_audit(
            "system",
            "user_queues",
            None,
            Some(&format!(
                "{username} serves {}",
                joined.as_deref().unwrap_or("every queue")
            )),
        )
        .await?;
        Ok(())
    }

    // ---- decisions ----

    /// Decide the round `input.round` of an item the reviewer holds.
    /// Idempotent: repeating the same decision returns the stored one with
    /// `replayed: true`; a different decision on a decided round, a claim
    /// held by someone else or an expired lease is refused.
    pub async fn decide(&self, input: &DecisionInput<'_>) -> Result<Decided, DecideError> {
        if reason_label(input.decision, input.reason).is_none() {
            return Err(DecideError::BadReason(
                input.reason.to_string(),
                input.decision,
            ));
        }
        let note = truncate_note(input.note).map_err(|()| DecideError::NoteTooLong)?;
        let now = ts(Utc::now());
        let (status, tier_sql, next_round) = if input.decision.is_final() {
            ("decided", "tier", 0)
        } else {
            ("open", "'lead'", 1)
        };
        let mut tx = self.pool.begin().await?;
        // The held claim is the lock: only one transaction can move it.
        let moved = sqlx::query(&format!(
            "UPDATE review_items SET status = $1, tier = {tier_sql}, round = round + $2, claimed_by = NULL,
                lease_expires_at = NULL, updated_at = $3
             WHERE upload_id = $4 AND policy_version = $5 AND round = $6 AND status = 'claimed'
               AND claimed_by = $7 AND lease_expires_at > $3"
        ))
        .bind(status)
        .bind(next_round)
        .bind(now.as_str())
        .bind(input.upload_id)
        .bind(input.policy_version)
        .bind(input.round)
        .bind(input.reviewer)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return self.diagnose_refused(input, note.as_deref()).await;
        }
        let kind: String = sqlx::query(
            "SELECT kind FROM review_items WHERE upload_id = $1 AND policy_version = $2",
        )
        .bind(input.upload_id)
        .bind(input.policy_version)
        .fetch_one(&mut *tx)
        .await?
        .try_get("kind")?;
        let row = DecisionRow {
            decision_id: new_id(),
            upload_id: input.upload_id.to_string(),
            policy_version: input.policy_version.to_string(),
            round: input.round,
            kind,
            reviewer: input.reviewer.to_string(),
            decision: input.decision.as_str().to_string(),
            reason: input.reason.to_string(),
            note,
            decided_at: now.clone(),
        };
        sqlx::query(&format!(
            "INSERT INTO review_decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(row.decision_id.as_str())
        .bind(row.upload_id.as_str())
        .bind(row.policy_version.as_str())
        .bind(row.round)
        .bind(row.kind.as_str())
        .bind(row.reviewer.as_str())
        .bind(row.decision.as_str())
        .bind(row.reason.as_str())
        .bind(row.note.as_deref())
        .bind(row.decided_at.as_str())
        .execute(&mut *tx)
        .await?;
        Audit {
            actor: input.reviewer,
            action: "decide",
            upload_id: Some(input.upload_id),
            policy_version: Some(input.policy_version),
            decision: Some(input.decision.as_str()),
            reason: Some(input.reason),
            note: row.note.as_deref(),
            detail: Some(format!("round {} ({})", row.round, row.kind)),
        }
        .insert(&now, &mut *tx)
        .await?;
        sqlx::query(
            "UPDATE uploads SET review_outcome = $1, review_outcome_at = $2 WHERE upload_id = $3",
        )
        .bind(input.decision.outcome())
        .bind(now.as_str())
        .bind(input.upload_id)
        .execute(&mut *tx)
        .await?;
        // Entry counters and the takedown/reinstate action commit with the
        // decision (crate::retro).
        crate::retro::after_decision(&mut tx, &row, input.decision).await?;
        if input.decision.is_final() && row.kind == "appeal" {
            sqlx::query(
                "UPDATE review_appeals SET status = 'decided', outcome = $1, decided_at = $2
                 WHERE upload_id = $3 AND policy_version = $4 AND status = 'open'",
            )
            .bind(input.decision.as_str())
            .bind(now.as_str())
            .bind(input.upload_id)
            .bind(input.policy_version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Decided {
            row,
            replayed: false,
        })
    }

    /// Why a decision could not move the claim: a replay, or which refusal.
    async fn diagnose_refused(
        &self,
        input: &DecisionInput<'_>,
        note: Option<&str>,
    ) -> Result<Decided, DecideError> {
        let existing = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM review_decisions WHERE upload_id = $1 AND policy_version = $2 AND round = $3"
        ))
        .bind(input.upload_id)
        .bind(input.policy_version)
        .bind(input.round)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(r) = existing {
            let row = decision_row(&r)?;
            let same = row.reviewer == input.reviewer
                && row.decision == input.decision.as_str()
                && row.reason == input.reason
                && row.note.as_deref() == note;
            return if same {
                Ok(Decided {
                    row,
                    replayed: true,
                })
            } else {
                Err(DecideError::AlreadyDecided)
            };
        }
        let Some(case) = self
            .review_case(input.upload_id, input.policy_version)
            .await?
        else {
            return Err(DecideError::NotFound);
        };
        if case.round != input.round {
            return Err(DecideError::AlreadyDecided);
        }
        if case.status == "claimed" && case.claimed_by.as_deref() == Some(input.reviewer) {
            return Err(DecideError::LeaseExpired);
        }
        Err(DecideError::NotHeld)
    }

    /// Every decided round of an item, oldest first.
    pub async fn decisions_for(
        &self,
        upload_id: &str,
        policy_version: &str,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM review_decisions WHERE upload_id = $1 AND policy_version = $2 ORDER BY round"
        ))
        .bind(upload_id)
        .bind(policy_version)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(decision_row).collect::<Result<_, _>>()?)
    }

    /// Recent decisions, newest first, optionally of one reviewer.
    pub async fn recent_decisions(
        &self,
        reviewer: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM review_decisions WHERE ($1 IS NULL OR reviewer = $1)
             ORDER BY decided_at DESC LIMIT $2"
        ))
        .bind(reviewer)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(decision_row).collect::<Result<_, _>>()?)
    }

    /// Decisions not yet acknowledged by the broker (the decision outbox).
    pub async fn unpublished_decisions(&self, limit: i64) -> Result<Vec<DecisionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM review_decisions WHERE published_at IS NULL ORDER BY decided_at LIMIT $1"
        ))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(decision_row).collect::<Result<_, _>>()?)
    }

    pub async fn mark_decision_published(&self, decision_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE review_decisions SET published_at = $1 WHERE decision_id = $2 AND published_at IS NULL")
            .bind(ts(Utc::now()))
            .bind(decision_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The human outcome recorded on an upload (`taken_down`, `left_up`,
    /// `exempted`, `escalated`), if any.
    pub async fn review_outcome(&self, upload_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT review_outcome FROM uploads WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("review_outcome")?,
            None => None,
        })
    }

    /// Per reviewer since `since` (RFC 3339): decisions by kind, and how
    /// often a later reviewer of the same item (an appeal or a second look)
    /// reached the same final decision. Escalations are not compared.
    pub async fn reviewer_stats(&self, since: &str) -> Result<Vec<ReviewerStats>, StoreError> {
        let rows = sqlx::query(
            "SELECT reviewer, COUNT(*) AS n,
                COALESCE(SUM(CASE WHEN decision = 'uphold' THEN 1 ELSE 0 END), 0) AS uphold,
                COALESCE(SUM(CASE WHEN decision = 'overturn' THEN 1 ELSE 0 END), 0) AS overturn,
                COALESCE(SUM(CASE WHEN decision = 'escalate' THEN 1 ELSE 0 END), 0) AS escalate,
                COALESCE(SUM(CASE WHEN decision = 'exempt' THEN 1 ELSE 0 END), 0) AS exempt
             FROM review_decisions WHERE decided_at >= $1 GROUP BY reviewer ORDER BY n DESC, reviewer",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(ReviewerStats {
                reviewer: r.try_get("reviewer")?,
                decisions: r.try_get("n")?,
                uphold: r.try_get("uphold")?,
                overturn: r.try_get("overturn")?,
                escalate: r.try_get("escalate")?,
                exempt: r.try_get("exempt")?,
                second_looks: 0,
                agreed: 0,
            });
        }
        let pairs = sqlx::query(
            "SELECT a.reviewer AS reviewer, COUNT(*) AS pairs,
                COALESCE(SUM(CASE WHEN a.decision = b.decision THEN 1 ELSE 0 END), 0) AS agreed
             FROM review_decisions a JOIN review_decisions b
               ON a.upload_id = b.upload_id AND a.policy_version = b.policy_version AND b.round > a.round
             WHERE a.decided_at >= $1 AND a.decision <> 'escalate' AND b.decision <> 'escalate'
               AND a.reviewer <> b.reviewer
             GROUP BY a.reviewer",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for r in pairs {
            let who: String = r.try_get("reviewer")?;
            if let Some(s) = out.iter_mut().find(|s| s.reviewer == who) {
                s.second_looks = r.try_get("pairs")?;
                s.agreed = r.try_get("agreed")?;
            }
        }
        Ok(out)
    }

    // ---- evidence retention ----

    /// Removed uploads whose media are still kept and whose removal is
    /// older than `before` (RFC 3339): taken down by a reviewer, or by an
    /// automated takedown or upload block that no reviewer changed.
    /// Returns `(upload_id, media_url)`.
    pub async fn evidence_due(
        &self,
        before: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.upload_id, u.msg FROM uploads u
             WHERE u.media_purged_at IS NULL AND (
                (u.review_outcome = 'taken_down' AND u.review_outcome_at < $1)
                OR (u.review_outcome IS NULL AND EXISTS (
                    SELECT 1 FROM verdicts v WHERE v.upload_id = u.upload_id
                      AND v.action IN ('takedown', 'block_upload') AND v.decided_at < $1)))
             ORDER BY u.upload_id LIMIT $2",
        )
        .bind(before)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let msg: vigil_pipeline::UploadMsg =
                serde_json::from_str(&r.try_get::<String, _>("msg")?)
                    .map_err(|e| StoreError::Corrupt(format!("upload: {e}")))?;
            out.push((r.try_get("upload_id")?, msg.media_url));
        }
        Ok(out)
    }

    /// Record that an upload's media were purged, with an audit record.
    /// Returns false if it was already recorded.
    pub async fn mark_media_purged(
        &self,
        upload_id: &str,
        actor: &str,
        why: &str,
    ) -> Result<bool, StoreError> {
        let now = ts(Utc::now());
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE uploads SET media_purged_at = $1 WHERE upload_id = $2 AND media_purged_at IS NULL")
            .bind(now.as_str())
            .bind(upload_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            Audit {
                actor,
                action: "purge",
                upload_id: Some(upload_id),
                policy_version: None,
                decision: None,
                reason: Some("retention_expired"),
                note: Some(why),
                detail: None,
            }
            .insert(&now, &mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// When an upload's media were purged, if they were.
    pub async fn media_purged_at(&self, upload_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT media_purged_at FROM uploads WHERE upload_id = $1")
            .bind(upload_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("media_purged_at")?,
            None => None,
        })
    }

    // ---- appeals ----

    /// File an uploader's appeal against a takedown. A decided item whose
    /// last decision upheld the takedown re-opens as the next round; an
    /// automated takedown that never had a review item gets one. Either way
    /// the people who decided earlier rounds never get it. Filing again
    /// while an appeal is open returns that appeal.
    pub async fn file_appeal(
        &self,
        upload_id: &str,
        policy_version: Option<&str>,
        filed_by: &str,
        statement: Option<&str>,
    ) -> Result<AppealFiled, AppealError> {
        let statement = truncate_note(statement).map_err(|()| AppealError::StatementTooLong)?;
        let verdict_row = match policy_version {
            Some(pv) => {
                sqlx::query("SELECT policy_version, action FROM verdicts WHERE upload_id = $1 AND policy_version = $2")
                    .bind(upload_id)
                    .bind(pv)
                    .fetch_optional(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(
                    "SELECT policy_version, action FROM verdicts WHERE upload_id = $1 ORDER BY decided_at DESC LIMIT 1",
                )
                .bind(upload_id)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        let Some(v) = verdict_row else {
            return Err(AppealError::NotFound);
        };
        let pv: String = v.try_get("policy_version")?;
        let action: String = v.try_get("action")?;
        let open = sqlx::query(
            "SELECT appeal_id, round FROM review_appeals WHERE upload_id = $1 AND policy_version = $2 AND status = 'open'",
        )
        .bind(upload_id)
        .bind(pv.as_str())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(a) = open {
            return Ok(AppealFiled {
                appeal_id: a.try_get("appeal_id")?,
                upload_id: upload_id.to_string(),
                policy_version: pv,
                round: a.try_get("round")?,
                replayed: true,
            });
        }
        let case = self.review_case(upload_id, &pv).await?;
        let last_decision = self
            .decisions_for(upload_id, &pv)
            .await?
            .pop()
            .map(|d| d.decision);
        let now = ts(Utc::now());
        // Writes come first in the transaction (SQLite takes its write lock
        // there); the conditional update re-checks what was read above.
        let mut tx = self.pool.begin().await?;
        let round = match &case {
            Some(c) => {
                if c.status != "decided" {
                    return Err(AppealError::InReview);
                }
                if last_decision.as_deref() != Some(Decision::Uphold.as_str()) {
                    return Err(AppealError::NotAppealable);
                }
                let moved = sqlx::query(
                    "UPDATE review_items SET status = 'open', kind = 'appeal', tier = 'reviewer', round = round + 1,
                        priority = priority + 1.0, claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
                     WHERE upload_id = $2 AND policy_version = $3 AND status = 'decided' AND round = $4",
                )
                .bind(now.as_str())
                .bind(upload_id)
                .bind(pv.as_str())
                .bind(c.round)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved != 1 {
                    return Err(AppealError::InReview);
                }
                c.round + 1
            }
            None => {
                if !matches!(action.as_str(), "takedown" | "block_upload" | "restrict") {
                    return Err(AppealError::NotAppealable);
                }
                let inserted = sqlx::query(
                    "INSERT INTO review_items (upload_id, policy_version, queue_reason, priority, status, created_at,
                        tier, kind, round, updated_at)
                     VALUES ($1, $2, 'appeal', 1.5, 'open', $3, 'reviewer', 'appeal', 0, $3)
                     ON CONFLICT (upload_id, policy_version) DO NOTHING",
                )
                .bind(upload_id)
                .bind(pv.as_str())
                .bind(now.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted != 1 {
                    return Err(AppealError::InReview);
                }
                0
            }
        };
        let appeal_id = new_id();
        sqlx::query(
            "INSERT INTO review_appeals (appeal_id, upload_id, policy_version, round, filed_by, statement, status, filed_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(appeal_id.as_str())
        .bind(upload_id)
        .bind(pv.as_str())
        .bind(round)
        .bind(filed_by)
        .bind(statement.as_deref())
        .bind(now.as_str())
        .execute(&mut *tx)
        .await?;
        Audit {
            actor: filed_by,
            action: "appeal",
            upload_id: Some(upload_id),
            policy_version: Some(&pv),
            decision: None,
            reason: None,
            note: statement.as_deref(),
            detail: Some(format!("round {round}")),
        }
        .insert(&now, &mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AppealFiled {
            appeal_id,
            upload_id: upload_id.to_string(),
            policy_version: pv,
            round,
            replayed: false,
        })
    }

    /// Appeals of an item: `(appeal_id, round, statement, status, outcome, filed_at)`.
    #[allow(clippy::type_complexity)]
    pub async fn appeals_for(
        &self,
        upload_id: &str,
        policy_version: &str,
    ) -> Result<Vec<(String, i64, Option<String>, String, Option<String>, String)>, StoreError>
    {
        let rows = sqlx::query(
            "SELECT appeal_id, round, statement, status, outcome, filed_at FROM review_appeals
             WHERE upload_id = $1 AND policy_version = $2 ORDER BY filed_at",
        )
        .bind(upload_id)
        .bind(policy_version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("appeal_id")?,
                    r.try_get("round")?,
                    r.try_get("statement")?,
                    r.try_get("status")?,
                    r.try_get("outcome")?,
                    r.try_get("filed_at")?,
                ))
            })
            .collect()
    }

    // ---- users and sessions ----

    /// Create a user, or replace the role and password of an existing one.
    /// Returns whether the user was new. `password_hash` is a PHC string.
    pub async fn upsert_user(
        &self,
        username: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = ts(Utc::now());
        let existed = self.user(username).await?.is_some();
        sqlx::query(
            "INSERT INTO review_users (username, role, password_hash, disabled, created_at, updated_at)
             VALUES ($1, $2, $3, 0, $4, $4)
             ON CONFLICT (username) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
                disabled = 0, updated_at = excluded.updated_at",
        )
        .bind(username)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now.as_str())
        .execute(&self.pool)
        .await?;
        self.append_audit(
            "system",
            "user_upsert",
            None,
            Some(&format!("{username} as {role}")),
        )
        .await?;
        // Users and roles decide who may approve guarded changes: every
        // change to them goes into the hash-chained change log (never the
        // password hash).
        self.log_change(
            "operator",
            "user_upsert",
            serde_json::json!({"username": username, "role": role.as_str(), "created": !existed}),
        )
        .await?;
        Ok(!existed)
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(
            "SELECT username, role, password_hash, disabled FROM review_users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let role: String = r.try_get("role")?;
            Ok(UserRow {
                username: r.try_get("username")?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                password_hash: r.try_get("password_hash")?,
                disabled: r.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Every account: `(username, role, disabled)`.
    pub async fn users(&self) -> Result<Vec<(String, String, bool)>, StoreError> {
        let rows =
            sqlx::query("SELECT username, role, disabled FROM review_users ORDER BY username")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("username")?,
                    r.try_get("role")?,
                    r.try_get::<i64, _>("disabled")? != 0,
                ))
            })
            .collect()
    }

    /// Store a session under the hash of its token.
    pub async fn create_session(
        &self,
        token_hash: &str,
        username: &str,
        csrf_token: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO review_sessions (token_hash, username, csrf_token, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(username)
        .bind(csrf_token)
        .bind(ts(now))
        .bind(lease_end(now, ttl))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session of a token hash, with its (enabled) user.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT s.username, u.role, s.csrf_token, s.expires_at FROM review_sessions s
             JOIN review_users u ON u.username = s.username
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(ts(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let role: String = r.try_get("role")?;
            Ok(SessionRow {
                username: r.try_get("username")?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                csrf_token: r.try_get("csrf_token")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM review_sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(token_hash)
            .bind(ts(Utc::now()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- audit log ----

    /// Append one record that is not part of a decision (sign-in, sign-out,
    /// media reveal, user changes).
    pub async fn append_audit(
        &self,
        actor: &str,
        action: &str,
        item: Option<(&str, &str)>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        Audit {
            actor,
            action,
            upload_id: item.map(|i| i.0),
            policy_version: item.map(|i| i.1),
            decision: None,
            reason: None,
            note,
            detail: None,
        }
        .insert(&ts(Utc::now()), &self.pool)
        .await?;
        Ok(())
    }

    /// Audit records after `(at, audit_id)`, oldest first: what a search
    /// index that has seen everything up to that record still lacks.
    pub async fn audit_after(
        &self,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (at, id) = after.unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT audit_id, at, actor, action, upload_id, policy_version, decision, reason, note, detail FROM audit_log
             WHERE at > $1 OR (at = $1 AND audit_id > $2) ORDER BY at, audit_id LIMIT $3",
        )
        .bind(at)
        .bind(id)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }

    /// Read the audit log, newest first.
    pub async fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let text = q.text.as_ref().map(|t| format!("%{}%", t.to_lowercase()));
        let rows = sqlx::query(
            "SELECT audit_id, at, actor, action, upload_id, policy_version, decision, reason, note, detail FROM audit_log
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR upload_id = $3)
               AND ($4 IS NULL OR LOWER(COALESCE(note, '')) LIKE $4 OR LOWER(COALESCE(reason, '')) LIKE $4)
               AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at <= $6)
             ORDER BY at DESC, audit_id DESC LIMIT $7",
        )
        .bind(q.actor.as_deref())
        .bind(q.action.as_deref())
        .bind(q.upload_id.as_deref())
        .bind(text)
        .bind(q.from.as_deref())
        .bind(q.to.as_deref())
        .bind(q.limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }
}
