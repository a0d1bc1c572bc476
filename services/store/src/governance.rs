//! Governance records (issue 12): bank charters, proposals awaiting a second
//! approver, the hash-chained change log and its signed checkpoints,
//! referrals with the actions taken on them, and approved policy versions.
//!
//! Appends to the change log are serialised by the database: a record's
//! `seq` is the primary key and its `prev_hash` is unique, so two writers
//! that read the same head cannot both append after it; the loser's
//! transaction fails and is retried on the new head.

use crate::accountability::Period;
use crate::db::{now, Store, StoreError};
use sqlx::{Any, Row, Transaction};
use vigil_governance::chain::{next_record, ChainRecord, Checkpoint, NewRecord};
use vigil_governance::proposal::{may_decide, Payload, ProposalKind, RuleError, Status};
use vigil_governance::referral::{NewReferral, ReferralStatus, Target};
use vigil_governance::report::{GovernanceReport, ProposalRow, ReferralRow};
use vigil_governance::{Charter, Role as GovRole};

/// How often an append is retried after losing a race for the head.
const APPEND_ATTEMPTS: usize = 50;

/// A stored proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRecord {
    pub proposal_id: String,
    pub kind: ProposalKind,
    pub summary: String,
    pub payload: Payload,
    /// Human-readable diff (before → after), for the approver.
    pub diff: String,
    pub status: Status,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_role: Option<String>,
    pub decided_at: Option<String>,
    pub note: Option<String>,
    pub applied_at: Option<String>,
}

/// What a new proposal carries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProposal {
    pub kind: ProposalKind,
    pub summary: String,
    pub payload: Payload,
    pub diff: String,
}

/// A stored referral.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralRecord {
    pub referral_id: String,
    pub referral: NewReferral,
    pub status: ReferralStatus,
    pub recorded_by: String,
    pub received_at: String,
    pub handled_at: Option<String>,
    pub handled_by: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecideProposalError {
    #[error("no proposal {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether an error is a lost race (another writer took the head, or the
/// database was busy): worth retrying.
pub(crate) fn is_conflict(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(d)) => {
            d.is_unique_violation() || {
                let m = d.message().to_ascii_lowercase();
                m.contains("unique") || m.contains("locked") || m.contains("busy")
            }
        }
        _ => false,
    }
}

/// Append `records` after the current head inside `tx`.
pub(crate) async fn append_in_tx(
    tx: &mut Transaction<'_, Any>,
    records: &[NewRecord],
) -> Result<Vec<ChainRecord>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let head = sqlx::query("SELECT seq, hash FROM gov_changelog ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let mut head: Option<(i64, String)> = match head {
        Some(r) => Some((r.try_get("seq")?, r.try_get("hash")?)),
        None => None,
    };
    let at = now();
    let mut out = Vec::with_capacity(records.len());
    for new in records {
        let rec = next_record(head.as_ref().map(|(s, h)| (*s, h.as_str())), &at, new);
        sqlx::query(
            "INSERT INTO gov_changelog (seq, at, actor, kind, payload, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rec.seq)
        .bind(rec.at.as_str())
        .bind(rec.actor.as_str())
        .bind(rec.kind.as_str())
        .bind(rec.payload.as_str())
        .bind(rec.prev_hash.as_str())
        .bind(rec.hash.as_str())
        .execute(&mut **tx)
        .await?;
        head = Some((rec.seq, rec.hash.clone()));
        out.push(rec);
    }
    Ok(out)
}

fn record(actor: &str, kind: &str, payload: serde_json::Value) -> NewRecord {
    NewRecord {
        actor: actor.to_string(),
        kind: kind.to_string(),
        payload,
    }
}

fn role_of(r: crate::Role) -> GovRole {
    match r {
        // Auditors read; they never decide proposals.
        crate::Role::Auditor | crate::Role::Reviewer => GovRole::Reviewer,
        crate::Role::Lead => GovRole::Lead,
        crate::Role::Admin => GovRole::Admin,
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

impl Store {
    /// Append records to the change log in their own transaction, retrying
    /// when another writer appended first.
    pub async fn append_changelog(
        &self,
        records: &[NewRecord],
    ) -> Result<Vec<ChainRecord>, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = async {
                let mut tx = self.pool.begin().await?;
                let out = append_in_tx(&mut tx, records).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(out)
            }
            .await;
            match r {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(2 * attempt as u64)).await;
                }
                other => return other,
            }
        }
    }

    /// One record, for callers outside this crate.
    pub async fn log_change(
        &self,
        actor: &str,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<ChainRecord, StoreError> {
        let mut v = self
            .append_changelog(&[record(actor, kind, payload)])
            .await?;
        Ok(v.remove(0))
    }

    /// The whole change log, in seq order.
    pub async fn changelog(&self) -> Result<Vec<ChainRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, kind, payload, prev_hash, hash FROM gov_changelog ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChainRecord {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    kind: r.try_get("kind")?,
                    payload: r.try_get("payload")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// `(seq, hash)` of the newest record.
    pub async fn changelog_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        let r = sqlx::query("SELECT seq, hash FROM gov_changelog ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("seq")?, r.try_get("hash")?)),
            None => None,
        })
    }

    pub async fn changelog_len(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM gov_changelog")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Store a signed checkpoint (idempotent on its seq).
    pub async fn add_checkpoint(&self, c: &Checkpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO gov_checkpoints (seq, hash, at, public_key, signature) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(c.seq)
        .bind(c.hash.as_str())
        .bind(c.at.as_str())
        .bind(c.public_key.as_str())
        .bind(c.signature.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, hash, at, public_key, signature FROM gov_checkpoints ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                    at: r.try_get("at")?,
                    public_key: r.try_get("public_key")?,
                    signature: r.try_get("signature")?,
                })
            })
            .collect()
    }

    // ---- charters ----

    /// Set (or with `None` remove) a bank's charter, logged. Callers make
    /// sure a second person approved it.
    pub async fn set_charter(
        &self,
        actor: &str,
        bank: &str,
        charter: Option<&Charter>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = async {
                let mut tx = self.pool.begin().await?;
                match charter {
                    Some(c) => {
                        sqlx::query(
                            "INSERT INTO gov_charters (bank, body, updated_by, updated_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (bank) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by,
                                updated_at = excluded.updated_at",
                        )
                        .bind(bank)
                        .bind(crate::db::json(c))
                        .bind(actor)
                        .bind(now())
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM gov_charters WHERE bank = $1")
                            .bind(bank)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                append_in_tx(
                    &mut tx,
                    &[record(
                        actor,
                        "charter_set",
                        serde_json::json!({"bank": bank, "charter": charter}),
                    )],
                )
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match r {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    pub async fn charter(&self, bank: &str) -> Result<Option<Charter>, StoreError> {
        let r = sqlx::query("SELECT body FROM gov_charters WHERE bank = $1")
            .bind(bank)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            serde_json::from_str(&r.try_get::<String, _>("body")?)
                .map_err(|e| corrupt("charter", e))
        })
        .transpose()
    }

    pub async fn charters(&self) -> Result<Vec<(String, Charter)>, StoreError> {
        let rows = sqlx::query("SELECT bank, body FROM gov_charters ORDER BY bank")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body")?;
                Ok((
                    r.try_get("bank")?,
                    serde_json::from_str(&body).map_err(|e| corrupt("charter", e))?,
                ))
            })
            .collect()
    }

    // ---- proposals ----

    /// Record a pending proposal (logged). Returns its id.
    pub async fn create_proposal(
        &self,
        proposer: &str,
        p: &NewProposal,
    ) -> Result<String, StoreError> {
        let id = format!("prop-{}", uuid::Uuid::now_v7().simple());
        let payload = crate::db::json(&p.payload);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = async {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO gov_proposals (proposal_id, kind, summary, payload, diff, status, proposed_by, proposed_at)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
                )
                .bind(id.as_str())
                .bind(p.kind.as_str())
                .bind(p.summary.as_str())
                .bind(payload.as_str())
                .bind(p.diff.as_str())
                .bind(proposer)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                append_in_tx(
                    &mut tx,
                    &[record(
                        proposer,
                        "proposal_created",
                        serde_json::json!({"proposal_id": id, "kind": p.kind.as_str(), "summary": p.summary, "payload": p.payload}),
                    )],
                )
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match r {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other.map(|_| id),
            }
        }
    }

    pub async fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM gov_proposals WHERE proposal_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| proposal_row(&r)).transpose()
    }

    /// Proposals, newest first; only those in `status` when given.
    pub async fn proposals(
        &self,
        status: Option<Status>,
        limit: i64,
    ) -> Result<Vec<ProposalRecord>, StoreError> {
        let rows = match status {
            Some(s) => sqlx::query(
                "SELECT * FROM gov_proposals WHERE status = $1 ORDER BY proposed_at DESC LIMIT $2",
            )
            .bind(s.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query("SELECT * FROM gov_proposals ORDER BY proposed_at DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(proposal_row).collect()
    }

    pub async fn pending_proposal_count(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM gov_proposals WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Approve or reject a pending proposal as `decider` (whose current role
    /// is read from the accounts table, not taken from the caller). The
    /// two-person rule is checked here, in the same transaction that
    /// flips the status, so a proposal is decided once.
    pub async fn decide_proposal(
        &self,
        id: &str,
        decider: &str,
        approve: bool,
        note: Option<&str>,
    ) -> Result<ProposalRecord, DecideProposalError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_decide(id, decider, approve, note).await {
                Err(DecideProposalError::Store(e))
                    if is_conflict(&e) && attempt < APPEND_ATTEMPTS =>
                {
                    continue
                }
                other => return other,
            }
        }
    }

    async fn try_decide(
        &self,
        id: &str,
        decider: &str,
        approve: bool,
        note: Option<&str>,
    ) -> Result<ProposalRecord, DecideProposalError> {
        let user = self.user(decider).await?;
        let role = match &user {
            Some(u) if !u.disabled => role_of(u.role),
            _ => GovRole::Reviewer,
        };
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        let row = sqlx::query("SELECT * FROM gov_proposals WHERE proposal_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| DecideProposalError::NotFound(id.to_string()))?;
        let p = proposal_row(&row)?;
        may_decide(p.status, &p.proposed_by, decider, role)?;
        let status = if approve {
            Status::Approved
        } else {
            Status::Rejected
        };
        let role_name = match role {
            GovRole::Reviewer => "reviewer",
            GovRole::Lead => "lead",
            GovRole::Admin => "admin",
        };
        let t = now();
        let n = sqlx::query(
            "UPDATE gov_proposals SET status = $1, decided_by = $2, decided_role = $3, decided_at = $4, note = $5
             WHERE proposal_id = $6 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(decider)
        .bind(role_name)
        .bind(t.as_str())
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if n != 1 {
            return Err(RuleError::NotPending("decided").into());
        }
        append_in_tx(
            &mut tx,
            &[record(
                decider,
                if approve {
                    "proposal_approved"
                } else {
                    "proposal_rejected"
                },
                serde_json::json!({"proposal_id": id, "kind": p.kind.as_str(), "proposed_by": p.proposed_by, "role": role_name, "note": note}),
            )],
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(ProposalRecord {
            status,
            decided_by: Some(decider.to_string()),
            decided_role: Some(role_name.to_string()),
            decided_at: Some(t),
            note: note.map(str::to_string),
            ..p
        })
    }

    /// Record an import batch applied without a second person because the
    /// bank's charter trusts its source (logged as such).
    pub async fn record_auto_approved(
        &self,
        actor: &str,
        p: &NewProposal,
        source: &str,
    ) -> Result<String, StoreError> {
        let id = format!("prop-{}", uuid::Uuid::now_v7().simple());
        let t = now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = async {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO gov_proposals (proposal_id, kind, summary, payload, diff, status, proposed_by, proposed_at,
                        decided_by, decided_role, decided_at, note)
                     VALUES ($1, $2, $3, $4, $5, 'auto_approved', $6, $7, 'charter', 'charter', $7, $8)",
                )
                .bind(id.as_str())
                .bind(p.kind.as_str())
                .bind(p.summary.as_str())
                .bind(crate::db::json(&p.payload))
                .bind(p.diff.as_str())
                .bind(actor)
                .bind(t.as_str())
                .bind(format!("trusted source {source}"))
                .execute(&mut *tx)
                .await?;
                append_in_tx(
                    &mut tx,
                    &[record(
                        actor,
                        "proposal_auto_approved",
                        serde_json::json!({"proposal_id": id, "kind": p.kind.as_str(), "summary": p.summary, "trusted_source": source}),
                    )],
                )
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match r {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other.map(|_| id.clone()),
            }
        }
    }

    pub async fn mark_proposal_applied(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE gov_proposals SET applied_at = $1 WHERE proposal_id = $2")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- policies ----

    /// Make an approved policy version the active one (logged).
    pub async fn publish_policy(
        &self,
        approver: &str,
        version: &str,
        toml: &str,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = async {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO gov_policies (version, toml, approved_by, approved_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(version)
                .bind(toml)
                .bind(approver)
                .bind(now())
                .execute(&mut *tx)
                .await?;
                append_in_tx(
                    &mut tx,
                    &[record(
                        approver,
                        "policy_published",
                        serde_json::json!({"version": version, "toml": toml}),
                    )],
                )
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match r {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// The newest approved policy `(version, toml)`, if any.
    pub async fn active_policy(&self) -> Result<Option<(String, String)>, StoreError> {
        let r = sqlx::query(
            "SELECT version, toml FROM gov_policies ORDER BY approved_at DESC, version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("version")?, r.try_get("toml")?)),
            None => None,
        })
    }

    // ---- referrals ----

    /// Record a referral as received (logged). Returns its id.
    pub async fn add_referral(
        &self,
        recorded_by: &str,
        r: &NewReferral,
        received_at: &str,
    ) -> Result<String, StoreError> {
        let id = format!("ref-{}", uuid::Uuid::now_v7().simple());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = async {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO gov_referrals (referral_id, issuer, legal_basis, reference, jurisdictions, deadline, targets,
                        status, recorded_by, received_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)",
                )
                .bind(id.as_str())
                .bind(r.issuer.as_str())
                .bind(r.legal_basis.as_str())
                .bind(r.reference.as_deref())
                .bind(crate::db::json(&r.jurisdictions))
                .bind(r.deadline.as_deref())
                .bind(crate::db::json(&r.targets))
                .bind(recorded_by)
                .bind(received_at)
                .execute(&mut *tx)
                .await?;
                append_in_tx(
                    &mut tx,
                    &[record(
                        recorded_by,
                        "referral_recorded",
                        serde_json::json!({"referral_id": id, "referral": r}),
                    )],
                )
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match res {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other.map(|_| id.clone()),
            }
        }
    }

    pub async fn referral(&self, id: &str) -> Result<Option<ReferralRecord>, StoreError> {
        let r = sqlx::query("SELECT * FROM gov_referrals WHERE referral_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| referral_row(&r)).transpose()
    }

    pub async fn referrals(&self, limit: i64) -> Result<Vec<ReferralRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM gov_referrals ORDER BY received_at DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(referral_row).collect()
    }

    /// Record that `upload_id` was acted on for a referral (idempotent).
    pub async fn record_referral_action(
        &self,
        referral_id: &str,
        upload_id: &str,
        action: &str,
        jurisdictions: &[String],
        policy_version: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO gov_referral_actions (referral_id, upload_id, action, jurisdictions, policy_version, acted_by, acted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (referral_id, upload_id) DO NOTHING",
        )
        .bind(referral_id)
        .bind(upload_id)
        .bind(action)
        .bind(crate::db::json(&jurisdictions))
        .bind(policy_version)
        .bind(by)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `(upload_id, action, jurisdictions, policy_version)` per action taken on a referral.
    pub async fn referral_actions(
        &self,
        referral_id: &str,
    ) -> Result<Vec<(String, String, Vec<String>, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT upload_id, action, jurisdictions, policy_version FROM gov_referral_actions
             WHERE referral_id = $1 ORDER BY upload_id",
        )
        .bind(referral_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let j: String = r.try_get("jurisdictions")?;
                Ok((
                    r.try_get("upload_id")?,
                    r.try_get("action")?,
                    serde_json::from_str(&j).map_err(|e| corrupt("jurisdictions", e))?,
                    r.try_get("policy_version")?,
                ))
            })
            .collect()
    }

    /// Move a referral to `status` (acted, contested, refused), logged.
    /// The first handling sets `handled_at`; a contest after an action keeps it.
    pub async fn set_referral_status(
        &self,
        id: &str,
        status: ReferralStatus,
        by: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = async {
                let mut tx = self.pool.begin().await?;
                let t = now();
                let n = sqlx::query(
                    "UPDATE gov_referrals SET status = $1, handled_by = $2, reason = COALESCE($3, reason),
                        handled_at = COALESCE(handled_at, $4)
                     WHERE referral_id = $5",
                )
                .bind(status.as_str())
                .bind(by)
                .bind(reason)
                .bind(t.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 1 {
                    append_in_tx(
                        &mut tx,
                        &[record(
                            by,
                            &format!("referral_{}", status.as_str()),
                            serde_json::json!({"referral_id": id, "reason": reason}),
                        )],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok::<_, StoreError>(n == 1)
            }
            .await;
            match res {
                Err(e) if is_conflict(&e) && attempt < APPEND_ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    // ---- report ----

    /// The governance section of the transparency report for `period`:
    /// referrals received, proposals made and entries added in it.
    pub async fn governance_report(&self, period: &Period) -> Result<GovernanceReport, StoreError> {
        let (r, p, e) = self.governance_report_rows_in(period).await?;
        Ok(vigil_governance::report::build(&r, &p, &e))
    }

    /// The rows the governance report aggregates: referrals received,
    /// proposals made, and `(bank, YYYY-MM)` per entry added (from the
    /// change log) in `period`.
    pub async fn governance_report_rows_in(
        &self,
        period: &Period,
    ) -> Result<(Vec<ReferralRow>, Vec<ProposalRow>, Vec<(String, String)>), StoreError> {
        let (from, to) = period.bounds();
        let rows = sqlx::query(
            "SELECT * FROM gov_referrals WHERE received_at >= $1 AND received_at < $2 ORDER BY received_at",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut referrals = Vec::with_capacity(rows.len());
        for row in &rows {
            let r = referral_row(row)?;
            let handling_seconds = r.handled_at.as_deref().and_then(|h| {
                let a = chrono::DateTime::parse_from_rfc3339(&r.received_at).ok()?;
                let b = chrono::DateTime::parse_from_rfc3339(h).ok()?;
                Some((b - a).num_milliseconds() as f64 / 1000.0)
            });
            referrals.push(ReferralRow {
                issuer: r.referral.issuer,
                jurisdictions: r.referral.jurisdictions,
                status: r.status.as_str().to_string(),
                handling_seconds,
            });
        }
        let proposals = sqlx::query(
            "SELECT kind, status, decided_role FROM gov_proposals WHERE proposed_at >= $1 AND proposed_at < $2",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
            .map(|r| {
                Ok(ProposalRow {
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    decided_role: r.try_get("decided_role")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Entries added: inserts of entries that were not live before show
        // in the log as `entry_added`.
        let rows = sqlx::query(
            "SELECT at, payload FROM gov_changelog WHERE kind = 'entry_added' AND at >= $1 AND at < $2",
        )
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut added = Vec::with_capacity(rows.len());
        for r in rows {
            let at: String = r.try_get("at")?;
            let payload: String = r.try_get("payload")?;
            let v: serde_json::Value =
                serde_json::from_str(&payload).map_err(|e| corrupt("changelog payload", e))?;
            let bank = v["entry"]["bank"].as_str().unwrap_or("").to_string();
            added.push((bank, at.chars().take(7).collect()));
        }
        Ok((referrals, proposals, added))
    }
}

fn proposal_row(r: &sqlx::any::AnyRow) -> Result<ProposalRecord, StoreError> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    let payload: String = r.try_get("payload")?;
    Ok(ProposalRecord {
        proposal_id: r.try_get("proposal_id")?,
        kind: ProposalKind::parse(&kind).ok_or_else(|| corrupt("proposal kind", &kind))?,
        summary: r.try_get("summary")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("proposal payload", e))?,
        diff: r.try_get("diff")?,
        status: Status::parse(&status).ok_or_else(|| corrupt("proposal status", &status))?,
        proposed_by: r.try_get("proposed_by")?,
        proposed_at: r.try_get("proposed_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_role: r.try_get("decided_role")?,
        decided_at: r.try_get("decided_at")?,
        note: r.try_get("note")?,
        applied_at: r.try_get("applied_at")?,
    })
}

fn referral_row(r: &sqlx::any::AnyRow) -> Result<ReferralRecord, StoreError> {
    let status: String = r.try_get("status")?;
    let j: String = r.try_get("jurisdictions")?;
    let targets: String = r.try_get("targets")?;
    Ok(ReferralRecord {
        referral_id: r.try_get("referral_id")?,
        referral: NewReferral {
            issuer: r.try_get("issuer")?,
            legal_basis: r.try_get("legal_basis")?,
            reference: r.try_get("reference")?,
            jurisdictions: serde_json::from_str(&j).map_err(|e| corrupt("jurisdictions", e))?,
            deadline: r.try_get("deadline")?,
            targets: serde_json::from_str::<Vec<Target>>(&targets)
                .map_err(|e| corrupt("targets", e))?,
        },
        status: ReferralStatus::parse(&status)
            .ok_or_else(|| corrupt("referral status", &status))?,
        recorded_by: r.try_get("recorded_by")?,
        received_at: r.try_get("received_at")?,
        handled_at: r.try_get("handled_at")?,
        handled_by: r.try_get("handled_by")?,
        reason: r.try_get("reason")?,
    })
}
