//! Bank management: every change to what Vigil may match goes through
//! [`BankService`], which writes it to the database (the system of record)
//! and then publishes it on `vigil.hashdb`, so running workers apply it
//! within moments. Imports stream exchange files in bounded batches. The
//! HTTP API (`/v1/banks…`, `/v1/lookup`, `/api/quarantine`) is a thin
//! layer over the service. The self-correcting loops live here too: the
//! retro-hunt ([`retrohunt`]) and automatic quarantine ([`quarantine`]).
#![forbid(unsafe_code)]

mod api;
pub mod governance;
pub mod metrics;
pub mod quarantine;
pub mod retrohunt;

pub use api::{route_list, router};
pub use governance::{GovError, Governance, GovernedImport, Submitted};

use std::io::BufRead;
use std::sync::{Arc, RwLock};
use vigil_hashdb::formats::{self, Format, ImportEvent, ImportOptions, ImportSummary, Rejection};
use vigil_hashdb::{Bank, Change, HashDb};
use vigil_store::{Store, StoreError};
use vigil_stream::{Producer, StreamError};

/// Records per database transaction and change-log batch during imports.
const IMPORT_BATCH: usize = 1000;
/// Rejections kept with their reasons in an import report.
const MAX_KEPT_REJECTIONS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum BankError {
    #[error("no bank named {0:?}")]
    NoSuchBank(String),
    #[error("invalid bank: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the change is stored but could not be published: {0}")]
    Publish(#[from] StreamError),
    #[error(transparent)]
    Import(#[from] formats::ImportError),
}

/// Applies bank changes: database first, then the change log.
#[derive(Clone)]
pub struct BankService {
    pub store: Store,
    /// `None` when no broker is reachable from here (the CLI on the
    /// embedded defaults): running processes then pick changes up on their
    /// next reload from the database.
    pub producer: Option<Producer>,
    pub topic: String,
    /// The process's own hash database, updated at once when present.
    pub local: Option<Arc<RwLock<HashDb>>>,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub summary: ImportSummary,
    pub changed: u64,
    pub rejected: Vec<Rejection>,
}

impl BankService {
    /// Write changes durably, apply them locally, then publish them. The
    /// change log records them as made by `system`: use [`Governance`] for
    /// changes people make, so guarded ones wait for a second person.
    pub async fn apply(&self, changes: Vec<Change>) -> Result<u64, BankError> {
        self.apply_as("system", changes).await
    }

    /// [`BankService::apply`], logged as made by `actor`.
    pub async fn apply_as(&self, actor: &str, changes: Vec<Change>) -> Result<u64, BankError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let changed = self.store.apply_changes_as(actor, &changes).await?;
        if let Some(local) = &self.local {
            let mut db = local.write().unwrap_or_else(|p| p.into_inner());
            for c in &changes {
                if let Err(e) = db.apply(c.clone()) {
                    tracing::warn!(error = %e, "change stored but not applicable locally");
                }
            }
        }
        if let Some(p) = &self.producer {
            vigil_stream::hashdb_log::publish_changes(p, &self.topic, &changes).await?;
        }
        Ok(changed)
    }

    pub async fn bank(&self, name: &str) -> Result<Bank, BankError> {
        self.store
            .banks()
            .await?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| BankError::NoSuchBank(name.to_string()))
    }

    /// Create or replace a bank, after validating it.
    pub async fn put_bank(&self, bank: Bank) -> Result<(), BankError> {
        HashDb::new()
            .upsert_bank_checked(bank.clone())
            .map_err(|e| BankError::Invalid(e.to_string()))?;
        self.apply(vec![Change::UpsertBank { bank }]).await?;
        Ok(())
    }

    /// Stream an exchange file into a bank. Parsing runs on a blocking
    /// thread and hands over bounded batches, so memory stays flat however
    /// long the file is. `progress` sees the running count of records.
    pub async fn import<R: BufRead + Send + 'static>(
        &self,
        format: Format,
        input: R,
        opts: ImportOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportReport, BankError> {
        self.bank(&opts.bank).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ImportEvent>>(4);
        let parser = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(IMPORT_BATCH);
            let summary = formats::import(format, input, &opts, |ev| {
                batch.push(ev);
                if batch.len() >= IMPORT_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH));
                    // The receiver only goes away on an error, which is reported below.
                    let _ = tx.blocking_send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            summary
        });
        let mut report = ImportReport::default();
        let mut seen = 0u64;
        while let Some(batch) = rx.recv().await {
            let mut changes = Vec::with_capacity(batch.len());
            for ev in batch {
                seen += 1;
                match ev {
                    ImportEvent::Record(r) => changes.push(r.op.into_change()),
                    // Every rejection is counted in the summary; the first
                    // ones are kept with their reasons for the report.
                    ImportEvent::Rejected(r) if report.rejected.len() < MAX_KEPT_REJECTIONS => {
                        report.rejected.push(r)
                    }
                    ImportEvent::Rejected(_) => {}
                }
            }
            report.changed += self.apply(changes).await?;
            progress(seen);
        }
        report.summary = parser
            .await
            .map_err(|e| BankError::Invalid(format!("import parser failed: {e}")))??;
        Ok(report)
    }
}
