//! The database: connection, migrations, and every query Vigil's services
//! run. Writes that can be repeated (a worker reprocessing a message after a
//! crash) are idempotent on their natural keys, so at-least-once delivery
//! has exactly-once effect (DESIGN.md §3.3).

use crate::migrations::MIGRATIONS;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_hashdb::{Bank, BankEntry, Change, SignalType};
use vigil_pipeline::{ReviewItem, UploadId, UploadMsg, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("unsupported database url (use sqlite://… or postgres://…)")]
    UnsupportedUrl,
    #[error("invalid schema name {0:?}")]
    BadSchema(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Db(_) => "db",
            StoreError::UnsupportedUrl => "config",
            StoreError::BadSchema(_) => "config",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Invalid(_) => "invalid",
        }
    }
}

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    /// Accepted by the hook and recorded; maybe not yet on the topic.
    Accepted,
    /// On the topic (the broker acknowledged it).
    Enqueued,
    /// A verdict is stored.
    Decided,
    /// The record could not be processed at all (e.g. media missing).
    Failed,
    /// The hook could not enqueue it and told the client to retry.
    Rejected,
}

impl UploadStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UploadStatus::Accepted => "accepted",
            UploadStatus::Enqueued => "enqueued",
            UploadStatus::Decided => "decided",
            UploadStatus::Failed => "failed",
            UploadStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "accepted" => UploadStatus::Accepted,
            "enqueued" => UploadStatus::Enqueued,
            "decided" => UploadStatus::Decided,
            "failed" => UploadStatus::Failed,
            "rejected" => UploadStatus::Rejected,
            other => return Err(StoreError::Corrupt(format!("upload status {other:?}"))),
        })
    }
}

#[derive(Debug, Clone)]
pub struct UploadRow {
    pub msg: UploadMsg,
    pub status: UploadStatus,
    pub error_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItemRow {
    pub upload_id: String,
    pub policy_version: String,
    pub queue_reason: String,
    pub priority: f64,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn now() -> String {
    ts(Utc::now())
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Connect, creating the SQLite file or the PostgreSQL `schema` as
    /// needed, and run migrations.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        schema: Option<&str>,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        if let Some(s) = schema {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::BadSchema(s.to_string()));
            }
        }
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_string()
        };
        if let (Backend::Postgres, Some(s)) = (backend, schema) {
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await?;
            pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {s}").as_str())
                .await?;
            pool.close().await;
        }
        let schema = schema.map(str::to_string);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                        }
                        Backend::Postgres => {
                            if let Some(s) = schema {
                                conn.execute(format!("SET search_path TO {s}").as_str())
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.pool
            .execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .await?;
        for (version, statements) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            for stmt in *statements {
                tx.execute(*stmt).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied database migration");
        }
        Ok(())
    }

    /// Drop a PostgreSQL schema and everything in it (test clean-up).
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        if !schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StoreError::BadSchema(schema.to_string()));
        }
        self.pool
            .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
            .await?;
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    // ---- uploads (the outbox) ----

    /// Record an accepted upload. Idempotent on `upload_id`; returns whether
    /// it was new.
    pub async fn record_upload(&self, msg: &UploadMsg) -> Result<bool, StoreError> {
        let t = now();
        let r = sqlx::query(
            "INSERT INTO uploads (upload_id, msg, status, received_at, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (upload_id) DO NOTHING",
        )
        .bind(msg.upload_id.as_str())
        .bind(json(msg))
        .bind(UploadStatus::Accepted.as_str())
        .bind(ts(msg.received_at))
        .bind(t)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Accept again an upload the hook refused (status `rejected`) when the
    /// client retries it with the same id. Returns whether it was revived.
    pub async fn revive_upload(&self, msg: &UploadMsg) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE uploads SET msg = $1, status = $2, error_kind = NULL, received_at = $3, updated_at = $4
             WHERE upload_id = $5 AND status = 'rejected'",
        )
        .bind(json(msg))
        .bind(UploadStatus::Accepted.as_str())
        .bind(ts(msg.received_at))
        .bind(now())
        .bind(msg.upload_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Move an upload forward, never backwards out of `decided`/`failed`.
    pub async fn set_upload_status(
        &self,
        id: &UploadId,
        status: UploadStatus,
        error_kind: Option<&str>,
    ) -> Result<(), StoreError> {
        let t = now();
        let enqueued_at = (status == UploadStatus::Enqueued).then(|| t.clone());
        sqlx::query(
            "UPDATE uploads SET status = $1, error_kind = COALESCE($2, error_kind),
                enqueued_at = COALESCE($3, enqueued_at), updated_at = $4
             WHERE upload_id = $5 AND status NOT IN ('decided', 'failed')",
        )
        .bind(status.as_str())
        .bind(error_kind.map(str::to_string))
        .bind(enqueued_at)
        .bind(t)
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_upload(&self, id: &UploadId) -> Result<Option<UploadRow>, StoreError> {
        let row = sqlx::query("SELECT msg, status, error_kind FROM uploads WHERE upload_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| upload_row(&r)).transpose()
    }

    /// Uploads accepted but neither decided, failed nor rejected: what a
    /// restarted embedded process must put back on the topic.
    pub async fn undecided_uploads(&self, limit: i64) -> Result<Vec<UploadMsg>, StoreError> {
        let rows = sqlx::query(
            "SELECT msg, status, error_kind FROM uploads WHERE status IN ('accepted', 'enqueued')
             ORDER BY received_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| upload_row(r).map(|u| u.msg)).collect()
    }

    // ---- verdicts and review items ----

    /// Durably write a verdict and its review item in one transaction.
    /// Idempotent on `(upload_id, policy_version)`: returns `false` when a
    /// verdict was already stored (a redelivered message).
    pub async fn write_verdict(
        &self,
        v: &Verdict,
        review: Option<&ReviewItem>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = write_verdict_in(&mut tx, v, review).await?;
        if inserted {
            // A late verdict (retro-hunt, referral) on an upload no worker
            // decided yet makes it decided too.
            crate::attempts::claim_decision(&mut tx, v).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// The stored verdict for an upload under a policy version.
    pub async fn verdict_for(
        &self,
        id: &UploadId,
        policy_version: &str,
    ) -> Result<Option<Verdict>, StoreError> {
        let row =
            sqlx::query("SELECT body FROM verdicts WHERE upload_id = $1 AND policy_version = $2")
                .bind(id.as_str())
                .bind(policy_version)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| from_json(&r.try_get::<String, _>("body")?, "verdict"))
            .transpose()
    }

    /// The most recent verdict for an upload, under any policy version.
    pub async fn latest_verdict(&self, id: &UploadId) -> Result<Option<Verdict>, StoreError> {
        let row = sqlx::query(
            "SELECT body FROM verdicts WHERE upload_id = $1 ORDER BY decided_at DESC LIMIT 1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| from_json(&r.try_get::<String, _>("body")?, "verdict"))
            .transpose()
    }

    /// Number of verdicts by action.
    pub async fn verdict_counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let rows = sqlx::query("SELECT action, COUNT(*) AS n FROM verdicts GROUP BY action")
            .fetch_all(&self.pool)
            .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(r.try_get::<String, _>("action")?, r.try_get::<i64, _>("n")?);
        }
        Ok(out)
    }

    /// Number of verdict rows for one upload (all policy versions).
    pub async fn verdict_count_for(&self, id: &UploadId) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM verdicts WHERE upload_id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    /// Open review items, most urgent first.
    pub async fn open_review_items(&self, limit: i64) -> Result<Vec<ReviewItemRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT upload_id, policy_version, queue_reason, priority, status, created_at FROM review_items
             WHERE status = 'open' ORDER BY priority DESC, created_at ASC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReviewItemRow {
                    upload_id: r.try_get("upload_id")?,
                    policy_version: r.try_get("policy_version")?,
                    queue_reason: r.try_get("queue_reason")?,
                    priority: r.try_get("priority")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    // ---- banks ----

    pub async fn upsert_bank(&self, bank: &Bank) -> Result<(), StoreError> {
        self.apply_changes(&[Change::UpsertBank { bank: bank.clone() }])
            .await?;
        Ok(())
    }

    /// Insert or update entries (idempotent on `(bank, entry_id)`; a
    /// re-import of a tombstoned entry revives it). Returns how many were new
    /// or changed.
    pub async fn upsert_entries(&self, entries: &[BankEntry]) -> Result<u64, StoreError> {
        let changes: Vec<Change> = entries
            .iter()
            .map(|e| Change::UpsertEntry { entry: e.clone() })
            .collect();
        self.apply_changes(&changes).await
    }

    /// Tombstone an entry. Returns whether a live entry was deleted.
    pub async fn delete_entry(&self, bank: &str, entry_id: &str) -> Result<bool, StoreError> {
        let change = Change::DeleteEntry {
            bank: bank.to_string(),
            entry_id: entry_id.to_string(),
        };
        Ok(self.apply_changes(&[change]).await? == 1)
    }

    pub async fn banks(&self) -> Result<Vec<Bank>, StoreError> {
        let rows = sqlx::query("SELECT body FROM banks ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| from_json(&r.try_get::<String, _>("body")?, "bank"))
            .collect()
    }

    /// Live entries per bank and signal type.
    pub async fn entry_counts(&self) -> Result<Vec<(String, SignalType, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT bank, signal_type, COUNT(*) AS n FROM bank_entries WHERE deleted = 0 GROUP BY bank, signal_type ORDER BY bank, signal_type",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let t: String = r.try_get("signal_type")?;
                let t = t
                    .parse()
                    .map_err(|e: vigil_hashdb::signal::UnknownSignalType| {
                        StoreError::Corrupt(e.to_string())
                    })?;
                Ok((r.try_get("bank")?, t, r.try_get("n")?))
            })
            .collect()
    }
}

/// The body of [`Store::write_verdict`], inside a caller's transaction (so
/// accountability records commit together with the verdict).
pub(crate) async fn write_verdict_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    v: &Verdict,
    review: Option<&ReviewItem>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO verdicts (upload_id, policy_version, action, body, decided_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (upload_id, policy_version) DO NOTHING",
    )
    .bind(v.upload_id.as_str())
    .bind(v.policy_version.as_str())
    .bind(v.action.as_str())
    .bind(json(v))
    .bind(ts(v.decided_at))
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        if let Some(item) = review {
            sqlx::query(
                "INSERT INTO review_items (upload_id, policy_version, queue_reason, priority, status, created_at)
                 VALUES ($1, $2, $3, $4, 'open', $5) ON CONFLICT (upload_id, policy_version) DO NOTHING",
            )
            .bind(item.upload_id.as_str())
            .bind(item.policy_version.as_str())
            .bind(item.queue_reason.as_str())
            .bind(item.priority)
            .bind(ts(item.created_at))
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query("UPDATE uploads SET status = 'decided', error_kind = $1, updated_at = $2 WHERE upload_id = $3")
            .bind(v.decode_error.clone())
            .bind(now())
            .bind(v.upload_id.as_str())
            .execute(&mut **tx)
            .await?;
        // Retained signals, entry match counts and the action outbox
        // row commit with the verdict (crate::retro).
        crate::retro::after_verdict(tx, v).await?;
    }
    Ok(inserted)
}

fn upload_row(r: &AnyRow) -> Result<UploadRow, StoreError> {
    Ok(UploadRow {
        msg: from_json(&r.try_get::<String, _>("msg")?, "upload")?,
        status: UploadStatus::parse(&r.try_get::<String, _>("status")?)?,
        error_kind: r.try_get("error_kind")?,
    })
}
