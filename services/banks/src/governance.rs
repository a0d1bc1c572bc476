//! The guarded path for changes made by people (CLI and HTTP API): changes
//! that widen what Vigil removes become proposals that take effect only
//! when a different user with the lead or admin role approves them; the
//! approved change is then applied and published on `vigil.hashdb` like any
//! other. Charters are enforced on every entry that goes into a chartered
//! bank. Referrals from authorities are recorded and acted on here.
//!
//! The pure rules live in `vigil-governance`; this module wires them to the
//! store and the bank service.

use crate::metrics;
use crate::{BankError, BankService, ImportReport};
use rand::seq::SliceRandom;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use vigil_governance::proposal::{classify_bank, classify_entry, widens_classifier};
use vigil_governance::referral::statement_of_reasons;
use vigil_governance::{
    Charter, CharterAction, NewReferral, Payload, ProposalKind, Status, Target,
};
use vigil_hashdb::formats::{self, Format, ImportEvent, ImportOptions, RejectReason, Rejection};
use vigil_hashdb::{Bank, BankAction, BankEntry, Change, CharterScope};
use vigil_pipeline::{
    Action, Policy, ReferralActionPolicy, SharedPolicy, UploadId, Verdict, MESSAGE_VERSION,
};
use vigil_store::{DecideProposalError, NewProposal, ProposalRecord, StoreError};

/// Entries shown as a random sample in an import batch's summary.
const SAMPLE: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum GovError {
    #[error(transparent)]
    Bank(#[from] BankError),
    #[error(transparent)]
    Decide(#[from] DecideProposalError),
    #[error("invalid charter: {0}")]
    Charter(#[from] vigil_governance::CharterError),
    #[error("invalid referral: {0}")]
    Referral(#[from] vigil_governance::ReferralError),
    #[error("invalid policy: {0}")]
    Policy(String),
    #[error("entry {entry_id}: {reason}")]
    OutsideCharter { entry_id: String, reason: String },
    #[error("no referral {0:?}")]
    NoSuchReferral(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<StoreError> for GovError {
    fn from(e: StoreError) -> Self {
        GovError::Bank(BankError::Store(e))
    }
}

/// What submitting a change did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// Nothing in it widens removal: applied at once.
    Applied { changed: u64 },
    /// Waiting for a second person. Unguarded parts were applied.
    Proposed {
        proposal_id: String,
        kind: ProposalKind,
        applied: u64,
    },
}

/// What a governed import did.
#[derive(Debug, Default)]
pub struct GovernedImport {
    pub report: ImportReport,
    /// Entries refused by the charter (also in `report.summary.rejected`).
    pub charter_rejected: u64,
    /// The pending batch, for a bank that allows automated action.
    pub proposal: Option<String>,
    /// True when the charter trusts the batch's source and it was applied
    /// without a second person (logged as such).
    pub auto_approved: bool,
}

/// The guarded front of [`BankService`].
#[derive(Clone)]
pub struct Governance {
    pub banks: BankService,
    /// Where verdicts of referrals acted on are published (`vigil.verdicts`)
    /// when `banks.producer` is set; without a broker they are stored, and
    /// their actions queued in the actions outbox, only.
    pub verdicts_topic: Option<String>,
    /// The policy in force in this process: an approved policy version is
    /// put in force here at once (other processes poll the database).
    pub policy: Option<SharedPolicy>,
}

fn scope_of(c: &Charter) -> CharterScope {
    let takedown = c.allowed_actions.contains(&CharterAction::Takedown);
    let restrict = c.allowed_actions.contains(&CharterAction::Restrict);
    CharterScope {
        takedown,
        restrict_jurisdictions: if restrict && !takedown {
            c.jurisdictions
                .iter()
                .filter(|j| *j != "*")
                .cloned()
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn refresh_pending(n: Result<i64, StoreError>) {
    if let Ok(n) = n {
        metrics::PROPOSALS_PENDING.set(n);
    }
}

impl Governance {
    pub fn new(banks: BankService) -> Governance {
        metrics::register();
        Governance {
            banks,
            verdicts_topic: None,
            policy: None,
        }
    }

    /// Publish verdicts of referrals acted on to `topic`.
    pub fn with_verdicts_topic(mut self, topic: &str) -> Governance {
        self.verdicts_topic = Some(topic.to_string());
        self
    }

    /// Put approved policy versions in force in `policy` at once.
    pub fn with_policy(mut self, policy: SharedPolicy) -> Governance {
        self.policy = Some(policy);
        self
    }

    fn store(&self) -> &vigil_store::Store {
        &self.banks.store
    }

    async fn propose(&self, actor: &str, p: NewProposal) -> Result<String, GovError> {
        let id = self.store().create_proposal(actor, &p).await?;
        metrics::PROPOSALS
            .with_label_values(&[p.kind.as_str(), "proposed"])
            .inc();
        refresh_pending(self.store().pending_proposal_count().await);
        tracing::info!(proposal = %id, kind = p.kind.as_str(), "guarded change proposed");
        Ok(id)
    }

    /// Check an entry against its bank's charter.
    fn check_entry(charter: Option<&Charter>, e: &BankEntry) -> Result<(), GovError> {
        if let Some(c) = charter {
            if let Err(r) = c.check_labels(&e.labels) {
                metrics::IMPORT_REJECTED
                    .with_label_values(&[r.reason()])
                    .inc();
                return Err(GovError::OutsideCharter {
                    entry_id: e.entry_id.clone(),
                    reason: r.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Submit bank changes as `actor`. Changes that widen what is removed
    /// go into one proposal; the rest apply at once. A bank's charter scope
    /// is never changed here (only by an approved charter).
    pub async fn submit(
        &self,
        actor: &str,
        changes: Vec<Change>,
        summary: &str,
    ) -> Result<Submitted, GovError> {
        let banks: BTreeMap<String, Bank> = self
            .store()
            .banks()
            .await?
            .into_iter()
            .map(|b| (b.name.clone(), b))
            .collect();
        let mut direct = Vec::new();
        let mut guarded: Vec<(ProposalKind, Change, String)> = Vec::new();
        for c in changes {
            match c {
                Change::UpsertBank { mut bank } => {
                    let old = banks.get(&bank.name);
                    bank.charter = old.and_then(|o| o.charter.clone());
                    match classify_bank(old, &bank) {
                        Some(k) => {
                            let diff = bank_diff(old, &bank);
                            guarded.push((k, Change::UpsertBank { bank }, diff));
                        }
                        None => direct.push(Change::UpsertBank { bank }),
                    }
                }
                Change::UpsertEntry { entry } => {
                    let bank = banks
                        .get(&entry.bank)
                        .ok_or_else(|| BankError::NoSuchBank(entry.bank.clone()))?;
                    let charter = self.store().charter(&entry.bank).await?;
                    Self::check_entry(charter.as_ref(), &entry)?;
                    let old = self
                        .store()
                        .live_entry(&entry.bank, &entry.entry_id)
                        .await?;
                    match classify_entry(bank, old.as_ref(), &entry) {
                        Some(k) => {
                            let diff = format!(
                                "+ {}/{} {} labels=[{}]{}",
                                entry.bank,
                                entry.entry_id,
                                entry.signal_type,
                                entry.labels.join(","),
                                if old.as_ref().is_some_and(|o| o.quarantined) {
                                    " (quarantine lifted)"
                                } else {
                                    ""
                                }
                            );
                            guarded.push((k, Change::UpsertEntry { entry }, diff));
                        }
                        None => direct.push(Change::UpsertEntry { entry }),
                    }
                }
                other => direct.push(other),
            }
        }
        let applied = if direct.is_empty() {
            0
        } else {
            self.record_restores(actor, summary, &direct).await?;
            self.banks.apply_as(actor, direct).await?
        };
        if guarded.is_empty() {
            return Ok(Submitted::Applied { changed: applied });
        }
        let kind = guarded.iter().map(|g| g.0).min().expect("not empty");
        let diff: Vec<String> = guarded.iter().map(|g| g.2.clone()).collect();
        let changes: Vec<Change> = guarded.into_iter().map(|g| g.1).collect();
        let id = self
            .propose(
                actor,
                NewProposal {
                    kind,
                    summary: summary.to_string(),
                    payload: Payload::BankChanges { changes },
                    diff: diff.join("\n"),
                },
            )
            .await?;
        Ok(Submitted::Proposed {
            proposal_id: id,
            kind,
            applied,
        })
    }

    /// Propose a charter for `bank` (or its removal with `None`). Always a
    /// proposal: charters decide what a bank may do.
    pub async fn propose_charter(
        &self,
        actor: &str,
        bank: &str,
        charter: Option<Charter>,
    ) -> Result<String, GovError> {
        self.banks.bank(bank).await?;
        if let Some(c) = &charter {
            c.validate()?;
        }
        let old = self.store().charter(bank).await?;
        let fmt = |c: &Option<Charter>| {
            c.as_ref()
                .map(|c| serde_json::to_string_pretty(c).expect("serialises"))
                .unwrap_or_else(|| "(no charter: review only)".into())
        };
        let widened = match (&old, &charter) {
            (Some(o), Some(n)) => o.widened_by(n),
            (None, Some(_)) => true,
            _ => false,
        };
        self.propose(
            actor,
            NewProposal {
                kind: ProposalKind::CharterChange,
                summary: format!(
                    "charter of bank {bank}{}",
                    if widened { " (widens it)" } else { "" }
                ),
                diff: format!("- {}\n+ {}", fmt(&old), fmt(&charter)),
                payload: Payload::Charter {
                    bank: bank.to_string(),
                    charter,
                },
            },
        )
        .await
    }

    /// Propose publishing a new policy version. `current` is the policy in
    /// force, to word the diff and to tell a classifier widening apart.
    pub async fn propose_policy(
        &self,
        actor: &str,
        toml_text: &str,
        current: &Policy,
    ) -> Result<String, GovError> {
        let new = Policy::from_toml(toml_text).map_err(|e| GovError::Policy(e.to_string()))?;
        if new.version == current.version {
            return Err(GovError::Policy(format!(
                "version {:?} is the one in force; bump it",
                new.version
            )));
        }
        let kind = if widens_classifier(current.classifier.auto_above, new.classifier.auto_above) {
            ProposalKind::ClassifierAutoAction
        } else {
            ProposalKind::PolicyVersion
        };
        self.propose(
            actor,
            NewProposal {
                kind,
                summary: format!("publish policy {} (replacing {})", new.version, current.version),
                diff: format!(
                    "version {} -> {}\nclassifier.auto_above {:?} -> {:?}\nclassifier.review_above {} -> {}\npdq auto/review {}/{} -> {}/{}",
                    current.version,
                    new.version,
                    current.classifier.auto_above,
                    new.classifier.auto_above,
                    current.classifier.review_above,
                    new.classifier.review_above,
                    current.pdq.auto_threshold,
                    current.pdq.review_threshold,
                    new.pdq.auto_threshold,
                    new.pdq.review_threshold
                ),
                payload: Payload::Policy {
                    version: new.version.clone(),
                    toml: toml_text.to_string(),
                },
            },
        )
        .await
    }

    /// Propose lifting the quarantine of `bank/entry_id`, with a reason.
    /// Only a lead or admin proposes it; a different lead or admin
    /// approves it, and the entry's overturn counts then start from zero.
    pub async fn propose_restore(
        &self,
        actor: &str,
        bank: &str,
        entry_id: &str,
        reason: &str,
    ) -> Result<String, GovError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(GovError::Invalid(
                "a restore needs a reason (--reason)".into(),
            ));
        }
        let lead = self
            .store()
            .user(actor)
            .await?
            .filter(|u| !u.disabled)
            .is_some_and(|u| u.role >= vigil_store::Role::Lead);
        if !lead {
            return Err(GovError::Invalid(format!(
                "{actor:?} may not propose a restore: a lead or admin account proposes it (--as USER)"
            )));
        }
        self.banks.bank(bank).await?;
        let mut entry = self
            .store()
            .live_entry(bank, entry_id)
            .await?
            .ok_or_else(|| {
                GovError::Invalid(format!("bank {bank} has no live entry {entry_id:?}"))
            })?;
        let recorded = self
            .store()
            .quarantined()
            .await?
            .into_iter()
            .find(|q| q.bank == bank && q.entry_id == entry_id);
        if !entry.quarantined && recorded.is_none() {
            return Err(GovError::Invalid(format!(
                "entry {bank}/{entry_id} is not quarantined"
            )));
        }
        let counts = self.store().entry_lifetime_counts(bank, entry_id).await?;
        entry.quarantined = false;
        self.propose(
            actor,
            NewProposal {
                kind: ProposalKind::QuarantineRestore,
                summary: format!("restore quarantined entry {bank}/{entry_id}: {reason}"),
                diff: format!(
                    "~ {bank}/{entry_id} {} labels=[{}]: quarantine lifted, automated action resumes, counts restart from zero\n  quarantined for: {}\n  lifetime: {} matches, {} upheld, {} overturned, {} disputed",
                    entry.signal_type,
                    entry.labels.join(","),
                    recorded.map(|q| q.cause).unwrap_or_else(|| "(no recorded cause)".into()),
                    counts.matches,
                    counts.upheld,
                    counts.overturned,
                    counts.disputed
                ),
                payload: Payload::BankChanges {
                    changes: vec![Change::UpsertEntry { entry }],
                },
            },
        )
        .await
    }

    /// Record the restore of every recorded quarantine that `changes` lift
    /// (an entry upserted unflagged, a bank upserted with another status),
    /// so counts start from zero. Runs before the changes apply, so the
    /// quarantine loop never sees a lifted flag without its restore.
    async fn record_restores(
        &self,
        actor: &str,
        reason: &str,
        changes: &[Change],
    ) -> Result<(), GovError> {
        let recorded = self.store().quarantined().await?;
        if recorded.is_empty() {
            return Ok(());
        }
        let keys: HashSet<(&str, &str)> = recorded
            .iter()
            .map(|q| (q.bank.as_str(), q.entry_id.as_str()))
            .collect();
        for c in changes {
            let (bank, entry_id, target) = match c {
                Change::UpsertEntry { entry } if !entry.quarantined => {
                    (entry.bank.as_str(), entry.entry_id.as_str(), "entry")
                }
                Change::UpsertBank { bank }
                    if bank.status != vigil_hashdb::BankStatus::Quarantined =>
                {
                    (bank.name.as_str(), "", "bank")
                }
                _ => continue,
            };
            if keys.contains(&(bank, entry_id))
                && self
                    .store()
                    .record_restore(bank, entry_id, actor, reason)
                    .await?
            {
                metrics::QUARANTINE_EVENTS
                    .with_label_values(&[target, "restored"])
                    .inc();
                tracing::info!(bank, entry_id, "quarantine lifted; counts start from zero");
            }
        }
        Ok(())
    }

    /// Approve a proposal as `decider` (two-person rule checked by the
    /// store in the deciding transaction) and apply it.
    pub async fn approve(
        &self,
        id: &str,
        decider: &str,
        note: Option<&str>,
    ) -> Result<ProposalRecord, GovError> {
        let p = match self.store().decide_proposal(id, decider, true, note).await {
            Ok(p) => p,
            Err(e) => {
                if let DecideProposalError::Rule(_) = &e {
                    metrics::PROPOSALS
                        .with_label_values(&["any", "refused"])
                        .inc();
                }
                return Err(e.into());
            }
        };
        // Only a restore (or a bank's re-activation) lifts a recorded
        // quarantine; any other change that clears the flag (an import
        // batch re-sharing the entry) has it put back by the quarantine loop.
        if let (
            ProposalKind::QuarantineRestore | ProposalKind::BankWiden,
            Payload::BankChanges { changes },
        ) = (p.kind, &p.payload)
        {
            let reason = format!("{} (proposed by {})", p.summary, p.proposed_by);
            self.record_restores(decider, &reason, changes).await?;
        }
        self.apply_payload(decider, &p.payload).await?;
        self.store().mark_proposal_applied(id).await?;
        metrics::PROPOSALS
            .with_label_values(&[p.kind.as_str(), "approved"])
            .inc();
        refresh_pending(self.store().pending_proposal_count().await);
        tracing::info!(proposal = %id, kind = p.kind.as_str(), "proposal approved and applied");
        Ok(p)
    }

    pub async fn reject(
        &self,
        id: &str,
        decider: &str,
        note: Option<&str>,
    ) -> Result<ProposalRecord, GovError> {
        let p = self
            .store()
            .decide_proposal(id, decider, false, note)
            .await?;
        metrics::PROPOSALS
            .with_label_values(&[p.kind.as_str(), "rejected"])
            .inc();
        refresh_pending(self.store().pending_proposal_count().await);
        Ok(p)
    }

    async fn apply_payload(&self, actor: &str, payload: &Payload) -> Result<(), GovError> {
        match payload {
            Payload::BankChanges { changes } => {
                self.banks.apply_as(actor, changes.clone()).await?;
            }
            Payload::Charter { bank, charter } => {
                self.set_charter_now(actor, bank, charter.as_ref()).await?;
            }
            Payload::Policy { version, toml } => {
                self.store().publish_policy(actor, version, toml).await?;
                if let Some(shared) = &self.policy {
                    let p = Policy::from_toml(toml).map_err(|e| GovError::Policy(e.to_string()))?;
                    if shared.replace(p) {
                        tracing::info!(policy_version = %version, "approved policy version now in force");
                    }
                }
            }
        }
        Ok(())
    }

    /// Store a charter and give the bank its scope, at once. Only for an
    /// approved proposal, or for seeding a fresh install (the demo): the
    /// change log records who did it either way.
    pub async fn set_charter_now(
        &self,
        actor: &str,
        bank: &str,
        charter: Option<&Charter>,
    ) -> Result<(), GovError> {
        if let Some(c) = charter {
            c.validate()?;
        }
        let mut b = self.banks.bank(bank).await?;
        self.store().set_charter(actor, bank, charter).await?;
        b.charter = charter.map(scope_of);
        self.banks
            .apply_as(actor, vec![Change::UpsertBank { bank: b }])
            .await?;
        Ok(())
    }

    /// Import an exchange file into a bank as `actor`. Entries outside the
    /// bank's charter are refused line by line. Into a bank that allows
    /// automated action, the accepted entries land as one pending batch
    /// with a summary (or, when the charter trusts the batch's source, are
    /// applied and logged as auto-approved); elsewhere they apply at once.
    pub async fn import<R: BufRead + Send + 'static>(
        &self,
        actor: &str,
        format: Format,
        input: R,
        opts: ImportOptions,
    ) -> Result<GovernedImport, GovError> {
        let bank = self.banks.bank(&opts.bank).await?;
        let charter = self.store().charter(&opts.bank).await?;
        let guarded = vigil_governance::proposal::actioning(&bank);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ImportEvent>>(4);
        let parser = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(1000);
            let summary = formats::import(format, input, &opts, |ev| {
                batch.push(ev);
                if batch.len() >= 1000 {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(1000));
                    let _ = tx.blocking_send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            summary
        });
        let mut out = GovernedImport::default();
        let mut pending: Vec<BankEntry> = Vec::new();
        while let Some(batch) = rx.recv().await {
            let mut changes = Vec::new();
            for ev in batch {
                match ev {
                    ImportEvent::Record(r) => {
                        let position = r.position;
                        match r.op.into_change() {
                            Change::UpsertEntry { entry } => {
                                if let Some(c) = &charter {
                                    if let Err(rej) = c.check_labels(&entry.labels) {
                                        metrics::IMPORT_REJECTED
                                            .with_label_values(&[rej.reason()])
                                            .inc();
                                        out.charter_rejected += 1;
                                        let reason = match rej {
                                            vigil_governance::LabelRejection::Unlabelled => {
                                                RejectReason::Unlabelled
                                            }
                                            vigil_governance::LabelRejection::OutsideCharter(l) => {
                                                RejectReason::OutsideCharter(l)
                                            }
                                        };
                                        out.report.rejected.push(Rejection { position, reason });
                                        continue;
                                    }
                                }
                                if guarded {
                                    pending.push(entry);
                                } else {
                                    changes.push(Change::UpsertEntry { entry });
                                }
                            }
                            other => changes.push(other),
                        }
                    }
                    ImportEvent::Rejected(r) => {
                        if out.report.rejected.len() < 10_000 {
                            out.report.rejected.push(r)
                        }
                    }
                }
            }
            if !changes.is_empty() {
                out.report.changed += self.banks.apply_as(actor, changes).await?;
            }
        }
        out.report.summary = parser
            .await
            .map_err(|e| BankError::Invalid(format!("import parser failed: {e}")))?
            .map_err(BankError::from)?;
        out.report.summary.rejected += out.charter_rejected;
        out.report.summary.upserts = out
            .report
            .summary
            .upserts
            .saturating_sub(out.charter_rejected);
        if pending.is_empty() {
            return Ok(out);
        }
        let summary = self.batch_summary(&bank.name, &pending).await?;
        let source = pending
            .iter()
            .filter_map(|e| e.provenance.as_ref())
            .map(|p| p.exchange.clone())
            .collect::<HashSet<_>>();
        let trusted_source = match (&charter, source.len()) {
            (Some(c), 1) => {
                let s = source.into_iter().next().expect("one");
                c.trusts(&s).then_some(s)
            }
            _ => None,
        };
        let changes: Vec<Change> = pending
            .into_iter()
            .map(|entry| Change::UpsertEntry { entry })
            .collect();
        let p = NewProposal {
            kind: ProposalKind::EntriesAdd,
            summary: summary.0,
            diff: summary.1,
            payload: Payload::BankChanges { changes },
        };
        match trusted_source {
            Some(src) => {
                let id = self.store().record_auto_approved(actor, &p, &src).await?;
                if let Payload::BankChanges { changes } = p.payload {
                    out.report.changed += self.banks.apply_as(actor, changes).await?;
                }
                self.store().mark_proposal_applied(&id).await?;
                metrics::PROPOSALS
                    .with_label_values(&[p.kind.as_str(), Status::AutoApproved.as_str()])
                    .inc();
                tracing::info!(proposal = %id, "import batch auto-approved: the charter trusts its source");
                out.proposal = Some(id);
                out.auto_approved = true;
            }
            None => out.proposal = Some(self.propose(actor, p).await?),
        }
        Ok(out)
    }

    /// The summary an approver sees for an import batch: counts by label
    /// and opinion, overlap with the bank's live entries and with
    /// allow-list banks, and a random sample. `(one line, full text)`.
    async fn batch_summary(
        &self,
        bank: &str,
        entries: &[BankEntry],
    ) -> Result<(String, String), GovError> {
        let allow: HashSet<String> = self
            .store()
            .banks()
            .await?
            .into_iter()
            .filter(|b| b.action == BankAction::Allow)
            .map(|b| b.name)
            .collect();
        let mut in_bank = HashSet::new();
        let mut in_allow = HashSet::new();
        for (b, t, s) in self.store().live_signals().await? {
            if b == bank {
                in_bank.insert((t.clone(), s.clone()));
            }
            if allow.contains(&b) {
                in_allow.insert((t, s));
            }
        }
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        let mut opinions: BTreeMap<String, u64> = BTreeMap::new();
        let (mut overlap_bank, mut overlap_allow) = (0u64, 0u64);
        for e in entries {
            for l in &e.labels {
                *labels.entry(l.clone()).or_default() += 1;
            }
            let op = e
                .provenance
                .as_ref()
                .and_then(|p| p.opinion)
                .map(|o| o.as_str())
                .unwrap_or("unstated");
            *opinions.entry(op.to_string()).or_default() += 1;
            let key = (e.signal_type.as_str().to_string(), e.signal.clone());
            if in_bank.contains(&key) {
                overlap_bank += 1;
            }
            if in_allow.contains(&key) {
                overlap_allow += 1;
            }
        }
        let mut sample: Vec<&BankEntry> = entries.iter().collect();
        sample.shuffle(&mut rand::thread_rng());
        sample.truncate(SAMPLE);
        let fmt = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let line = format!(
            "import of {} entries into bank {bank}: {} already in the bank, {} also in allow-list banks",
            entries.len(),
            overlap_bank,
            overlap_allow
        );
        let mut text = format!(
            "{line}\nby label: {}\nby opinion: {}\nrandom sample:\n",
            fmt(&labels),
            fmt(&opinions)
        );
        for e in sample {
            text.push_str(&format!(
                "  {} {} {} labels=[{}] source={}\n",
                e.entry_id,
                e.signal_type,
                e.signal,
                e.labels.join(","),
                e.provenance
                    .as_ref()
                    .map(|p| format!("{}/{}", p.exchange, p.shared_by))
                    .unwrap_or_default()
            ));
        }
        Ok((line, text))
    }

    // ---- referrals ----

    /// Record a referral as `actor` and, with `act`, act on every upload it
    /// names: a verdict under policy version `referral/<id>` whose action
    /// is `restrict` in the referral's jurisdictions (or a takedown, as the
    /// policy says) and whose statement of reasons names the order. Hashes
    /// it names are recorded for retro-hunting, not banked.
    pub async fn add_referral(
        &self,
        actor: &str,
        r: &NewReferral,
        policy: ReferralActionPolicy,
        act: bool,
    ) -> Result<String, GovError> {
        r.validate()?;
        let received = chrono::Utc::now();
        let id = self
            .store()
            .add_referral(
                actor,
                r,
                &received.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            )
            .await?;
        metrics::REFERRALS.with_label_values(&["recorded"]).inc();
        if act {
            self.act_on_referral(actor, &id, policy).await?;
        }
        Ok(id)
    }

    /// Act on a recorded referral's uploads (idempotent).
    pub async fn act_on_referral(
        &self,
        actor: &str,
        id: &str,
        policy: ReferralActionPolicy,
    ) -> Result<usize, GovError> {
        let rec = self
            .store()
            .referral(id)
            .await?
            .ok_or_else(|| GovError::NoSuchReferral(id.to_string()))?;
        let r = &rec.referral;
        let restrict = policy == ReferralActionPolicy::Restrict;
        let action = if restrict {
            Action::Restrict {
                jurisdictions: r.jurisdictions.clone(),
            }
        } else {
            Action::Takedown
        };
        let policy_version = format!("referral/{id}");
        let mut acted = 0;
        for t in &r.targets {
            let Target::Upload { upload_id } = t else {
                continue;
            };
            let Ok(uid) = UploadId::parse(upload_id) else {
                continue;
            };
            let signals = match self.store().latest_verdict(&uid).await? {
                Some(v) => v.signals,
                None => Vec::new(),
            };
            let v = Verdict {
                v: MESSAGE_VERSION,
                upload_id: uid.clone(),
                policy_version: policy_version.clone(),
                action: action.clone(),
                signals,
                matches: vec![],
                classifier: None,
                reasons: vec![format!(
                    "referral {id} from {} ({}) for {}",
                    r.issuer,
                    r.legal_basis,
                    r.jurisdictions.join(", ")
                )],
                statement_of_reasons: Some(vigil_pipeline::sor::StatementOfReasons {
                    action: action.as_str().to_string(),
                    decision: statement_of_reasons(id, r, restrict),
                    facts: vec![format!(
                        "an authority's referral {id} from {} named this upload",
                        r.issuer
                    )],
                    automated_detection: false,
                    automated_decision: false,
                    grounds: vec![vigil_pipeline::sor::Ground {
                        kind: vigil_pipeline::sor::GroundKind::Referral,
                        bank: None,
                        labels: vec![],
                        basis: r.legal_basis.clone(),
                    }],
                    policy_version: policy_version.clone(),
                    redress: format!(
                        "You can appeal this decision ({}); the platform may also contest the order.",
                        vigil_pipeline::sor::APPEAL_ENDPOINT
                    ),
                    referral: Some(vigil_pipeline::sor::ReferralRef {
                        referral_id: id.to_string(),
                        issuer: r.issuer.clone(),
                        legal_basis: r.legal_basis.clone(),
                        jurisdictions: r.jurisdictions.clone(),
                    }),
                }),
                decode_error: None,
                decided_at: chrono::Utc::now(),
            };
            // Stored with its action in the actions outbox (one transaction),
            // then published like a worker's verdict. Acting again is
            // idempotent: the stored verdict is published again.
            let stored = if self.store().write_verdict(&v, None).await? {
                v
            } else {
                self.store()
                    .verdict_for(&uid, &policy_version)
                    .await?
                    .unwrap_or(v)
            };
            if let (Some(p), Some(topic)) = (&self.banks.producer, &self.verdicts_topic) {
                p.send_json(topic, stored.upload_id.as_str(), &stored)
                    .await
                    .map_err(BankError::Publish)?;
            }
            self.store()
                .record_referral_action(
                    id,
                    upload_id,
                    action.as_str(),
                    if restrict { &r.jurisdictions } else { &[] },
                    &policy_version,
                    actor,
                )
                .await?;
            acted += 1;
        }
        if acted > 0 {
            self.store()
                .set_referral_status(id, vigil_governance::ReferralStatus::Acted, actor, None)
                .await?;
            metrics::REFERRALS.with_label_values(&["acted"]).inc();
        }
        Ok(acted)
    }

    /// Contest (or with `refuse` refuse) a referral, with a reason.
    pub async fn contest_referral(
        &self,
        actor: &str,
        id: &str,
        reason: &str,
        refuse: bool,
    ) -> Result<(), GovError> {
        if reason.trim().is_empty() {
            return Err(vigil_governance::ReferralError::NoReason.into());
        }
        let status = if refuse {
            vigil_governance::ReferralStatus::Refused
        } else {
            vigil_governance::ReferralStatus::Contested
        };
        if !self
            .store()
            .set_referral_status(id, status, actor, Some(reason))
            .await?
        {
            return Err(GovError::NoSuchReferral(id.to_string()));
        }
        metrics::REFERRALS
            .with_label_values(&[status.as_str()])
            .inc();
        Ok(())
    }
}

/// The other distance thresholds' part of a bank diff (dHash, pHash);
/// empty when they are unchanged.
fn thresholds_diff(
    old: &std::collections::BTreeMap<vigil_hashdb::SignalType, u32>,
    new: &std::collections::BTreeMap<vigil_hashdb::SignalType, u32>,
) -> String {
    if old == new {
        return String::new();
    }
    let show = |m: &std::collections::BTreeMap<vigil_hashdb::SignalType, u32>| {
        m.iter()
            .map(|(t, v)| format!("{t}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(", thresholds [{}] -> [{}]", show(old), show(new))
}

/// The vPDQ thresholds' part of a bank diff; empty when they are unchanged.
fn vpdq_diff(old: &vigil_hashdb::VpdqThresholds, new: &vigil_hashdb::VpdqThresholds) -> String {
    if old == new {
        return String::new();
    }
    format!(
        ", vpdq query/compared/distance {}%/{}%/{} -> {}%/{}%/{}",
        old.query_pct,
        old.compared_pct,
        old.distance_tolerance,
        new.query_pct,
        new.compared_pct,
        new.distance_tolerance
    )
}

fn bank_diff(old: Option<&Bank>, new: &Bank) -> String {
    match old {
        None => format!(
            "+ bank {} action={:?} threshold={} labels=[{}]",
            new.name,
            new.action,
            new.pdq_threshold,
            new.labels.join(",")
        ),
        Some(o) => format!(
            "bank {}: action {:?} -> {:?}, status {:?} -> {:?}, pdq_threshold {} -> {}, sampling {:?} -> {:?}{}",
            new.name,
            o.action,
            new.action,
            o.status,
            new.status,
            o.pdq_threshold,
            new.pdq_threshold,
            o.sampling_rate,
            new.sampling_rate,
            vpdq_diff(&o.vpdq, &new.vpdq) + &thresholds_diff(&o.thresholds, &new.thresholds)
        ),
    }
}
