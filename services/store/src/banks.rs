//! Banks and entries in the database, the system of record for what Vigil
//! may match (DESIGN.md §3.3). Changes arrive as [`Change`] records, the same
//! ones published on `vigil.hashdb`, and are applied idempotently: applying
//! a change twice leaves the database as applying it once. Every change that
//! alters a row is appended to the governance change log in the same
//! transaction, with the actor who made it.

use crate::db::{json, now, Store, StoreError};
use crate::governance::{append_in_tx, is_conflict};
use sqlx::{Any, Row, Transaction};
use vigil_governance::NewRecord;
use vigil_hashdb::{Bank, BankEntry, Change, HashDb};

/// The change-log records that are bank changes: the kinds `apply_one`
/// records.
const BANK_CHANGE: &str =
    "kind IN ('bank_upsert', 'bank_delete', 'entry_added', 'entry_updated', 'entry_delete')";

/// One bank change from the change log, with its place in the chain.
#[derive(Debug, Clone)]
pub struct BankChangeRecord {
    pub seq: i64,
    pub hash: String,
    pub change: Change,
}

impl Store {
    /// Apply changes in one transaction as `system`. Returns how many rows
    /// changed (0 for a replay of changes already applied).
    pub async fn apply_changes(&self, changes: &[Change]) -> Result<u64, StoreError> {
        self.apply_changes_as("system", changes).await
    }

    /// Apply changes in one transaction, logging each one that changed a
    /// row as made by `actor`. Retried when another writer appended to
    /// the change log first.
    pub async fn apply_changes_as(
        &self,
        actor: &str,
        changes: &[Change],
    ) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_apply(actor, changes).await {
                Err(e) if is_conflict(&e) && attempt < 50 => {
                    tokio::time::sleep(std::time::Duration::from_millis(2 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_apply(&self, actor: &str, changes: &[Change]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let t = now();
        let mut changed = 0;
        let mut records = Vec::new();
        for c in changes {
            let (n, kind) = apply_one(&mut tx, c, &t).await?;
            if n > 0 {
                records.push(NewRecord {
                    actor: actor.to_string(),
                    kind: kind.to_string(),
                    payload: serde_json::to_value(c).expect("changes serialise"),
                });
            }
            changed += n;
        }
        append_in_tx(&mut tx, &records).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// The live entry `entry_id` of `bank`, if any.
    pub async fn live_entry(
        &self,
        bank: &str,
        entry_id: &str,
    ) -> Result<Option<BankEntry>, StoreError> {
        let r = sqlx::query(
            "SELECT body FROM bank_entries WHERE bank = $1 AND entry_id = $2 AND deleted = 0",
        )
        .bind(bank)
        .bind(entry_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            serde_json::from_str::<BankEntry>(&r.try_get::<String, _>("body")?)
                .map_err(|e| StoreError::Corrupt(format!("bank entry: {e}")))
        })
        .transpose()
    }

    /// `(bank, signal_type, signal)` of every live entry.
    pub async fn live_signals(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT bank, signal_type, signal FROM bank_entries WHERE deleted = 0")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("bank")?,
                    r.try_get("signal_type")?,
                    r.try_get("signal")?,
                ))
            })
            .collect()
    }

    /// Build the in-memory hash database from every bank and live entry in
    /// one bulk load. Entries that no longer validate are left out and
    /// counted.
    pub async fn load_hashdb(&self) -> Result<(HashDb, usize), StoreError> {
        let banks = self.banks().await?;
        let rows = sqlx::query("SELECT body FROM bank_entries WHERE deleted = 0")
            .fetch_all(&self.pool)
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let body: String = r.try_get("body")?;
            entries.push(
                serde_json::from_str::<BankEntry>(&body)
                    .map_err(|e| StoreError::Corrupt(format!("bank entry: {e}")))?,
            );
        }
        let (db, errors) = HashDb::load(banks, entries);
        for e in &errors {
            tracing::warn!(error = %e, "skipping stored bank entry that does not load");
        }
        Ok((db, errors.len()))
    }

    /// Bank changes recorded in the change log after position `after_seq`,
    /// oldest first, at most `limit`. Every change that
    /// altered a bank or entry row is there, in the order it committed
    /// (the records are appended in the same transaction as the rows, and
    /// a record can only follow a committed head), so replaying them onto
    /// a hash database built from the rows at `after_seq` gives the rows'
    /// state now.
    pub async fn bank_changes_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<BankChangeRecord>, StoreError> {
        let rows = sqlx::query(
            &format!("SELECT seq, hash, payload FROM gov_changelog WHERE seq > $1 AND {BANK_CHANGE} ORDER BY seq LIMIT $2"),
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let payload: String = r.try_get("payload")?;
                let change = serde_json::from_str::<Change>(&payload).map_err(|e| {
                    StoreError::Corrupt(format!("bank change in the change log: {e}"))
                })?;
                Ok(BankChangeRecord {
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                    change,
                })
            })
            .collect()
    }

    /// How many bank changes the change log holds after `after_seq`.
    pub async fn bank_changes_count_after(&self, after_seq: i64) -> Result<i64, StoreError> {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM gov_changelog WHERE seq > $1 AND {BANK_CHANGE}"
        ))
        .bind(after_seq)
        .fetch_one(&self.pool)
        .await?;
        Ok(r.try_get("n")?)
    }

    /// The hash of change-log record `seq`, when there is one.
    pub async fn changelog_hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let r = sqlx::query("SELECT hash FROM gov_changelog WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| r.try_get::<String, _>("hash").map_err(StoreError::from))
            .transpose()
    }
}

/// Apply one change: rows changed, and the change-log kind.
async fn apply_one(
    tx: &mut Transaction<'_, Any>,
    c: &Change,
    t: &str,
) -> Result<(u64, &'static str), StoreError> {
    let changed = match c {
        Change::UpsertBank { bank } => (upsert_bank(tx, bank, t).await?, "bank_upsert"),
        Change::DeleteBank { name } => {
            let a = sqlx::query("UPDATE bank_entries SET deleted = 1, updated_at = $1 WHERE bank = $2 AND deleted = 0")
                .bind(t)
                .bind(name.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            let b = sqlx::query("DELETE FROM banks WHERE name = $1")
                .bind(name.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
            (a + b, "bank_delete")
        }
        Change::UpsertEntry { entry } => {
            let live = sqlx::query(
                "SELECT deleted FROM bank_entries WHERE bank = $1 AND entry_id = $2",
            )
            .bind(entry.bank.as_str())
            .bind(entry.entry_id.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<i64, _>("deleted"))
            .transpose()?
                == Some(0);
            let n = sqlx::query(
                "INSERT INTO bank_entries (bank, entry_id, signal_type, signal, body, deleted, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 0, $6)
                 ON CONFLICT (bank, entry_id) DO UPDATE SET signal_type = excluded.signal_type,
                    signal = excluded.signal, body = excluded.body, deleted = 0, updated_at = excluded.updated_at
                 WHERE bank_entries.body <> excluded.body OR bank_entries.deleted <> 0",
            )
            .bind(entry.bank.as_str())
            .bind(entry.entry_id.as_str())
            .bind(entry.signal_type.as_str())
            .bind(entry.signal.as_str())
            .bind(json(entry))
            .bind(t)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            (n, if live { "entry_updated" } else { "entry_added" })
        }
        Change::DeleteEntry { bank, entry_id } => (
            sqlx::query(
            "UPDATE bank_entries SET deleted = 1, updated_at = $1 WHERE bank = $2 AND entry_id = $3 AND deleted = 0",
        )
        .bind(t)
        .bind(bank.as_str())
            .bind(entry_id.as_str())
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            "entry_delete",
        ),
    };
    Ok(changed)
}

async fn upsert_bank(
    tx: &mut Transaction<'_, Any>,
    bank: &Bank,
    t: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO banks (name, body, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
         WHERE banks.body <> excluded.body",
    )
    .bind(bank.name.as_str())
    .bind(json(bank))
    .bind(t)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
