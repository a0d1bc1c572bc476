//! Poison records and one effective verdict per upload (docs/hardening.md).
//!
//! - Every start of an upload's analysis is counted here first
//!   ([`Store::start_analysis`]); a worker that sees the count pass its
//!   limit does not analyse the upload again (a file that kills the
//!   process parsing it would otherwise be redelivered to each worker in
//!   turn, forever).
//! - A worker decides an upload only by taking its row in
//!   `decided_uploads`, in the verdict's own transaction: a record
//!   redelivered after a policy change re-publishes the stored verdict.
//!   Deciding again is explicit ([`Store::release_decision`], `vigil upload
//!   redecide`).

use crate::db::{now, ts};
use crate::{Store, StoreError};
use sqlx::Row;
use vigil_pipeline::{UploadId, Verdict};

impl Store {
    /// Count one more start of analysis for `id`, durably, before the
    /// analysis starts. Returns the number of starts, this one included.
    pub async fn start_analysis(&self, id: &UploadId) -> Result<u32, StoreError> {
        let t = now();
        let row = sqlx::query(
            "INSERT INTO analysis_attempts (upload_id, attempts, first_started_at, last_started_at)
             VALUES ($1, 1, $2, $2)
             ON CONFLICT (upload_id) DO UPDATE
                SET attempts = analysis_attempts.attempts + 1, last_started_at = $2
             RETURNING attempts",
        )
        .bind(id.as_str())
        .bind(t)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("attempts")?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// How many times analysis of `id` was started (0 when never).
    pub async fn analysis_attempts(&self, id: &UploadId) -> Result<u32, StoreError> {
        let row = sqlx::query("SELECT attempts FROM analysis_attempts WHERE upload_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("attempts")?,
            None => 0,
        };
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The verdict in effect for a decided upload: the latest stored under
    /// any policy version. `None` while the upload is undecided, including
    /// after its decision was released for an explicit re-decision.
    pub async fn effective_verdict(&self, id: &UploadId) -> Result<Option<Verdict>, StoreError> {
        if !self.is_decided(id).await? {
            return Ok(None);
        }
        self.latest_verdict(id).await
    }

    /// Whether an upload has an effective verdict (a worker decided it, or a
    /// retro-hunt or referral gave it one).
    pub async fn is_decided(&self, id: &UploadId) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM decided_uploads WHERE upload_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Let the next delivery of `id` decide it again, under the policy in
    /// force then: the explicit re-decision (`vigil upload redecide`). Its
    /// attempt count starts over, its status goes back to `enqueued` (so
    /// the embedded broker's restart re-enqueues it) and the audit log
    /// records who asked and why. Returns `false` when it was not decided.
    pub async fn release_decision(
        &self,
        id: &UploadId,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query("DELETE FROM decided_uploads WHERE upload_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !released {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM analysis_attempts WHERE upload_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE uploads SET status = 'enqueued', error_kind = NULL, updated_at = $1 WHERE upload_id = $2",
        )
        .bind(now())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        crate::review::Audit {
            actor,
            action: "redecide_requested",
            upload_id: Some(id.as_str()),
            policy_version: None,
            decision: None,
            reason: None,
            note: Some(reason),
            detail: None,
        }
        .insert(&now(), &mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Take `v`'s upload's decided claim inside a verdict's transaction.
/// Returns `false` when another verdict already holds it.
pub(crate) async fn claim_decision(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    v: &Verdict,
) -> Result<bool, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO decided_uploads (upload_id, policy_version, decided_at) VALUES ($1, $2, $3)
         ON CONFLICT (upload_id) DO NOTHING",
    )
    .bind(v.upload_id.as_str())
    .bind(v.policy_version.as_str())
    .bind(ts(v.decided_at))
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}
