//! The automatic quarantine loop (issue 8, docs/self-correction.md).
//!
//! Periodically reads what people decided about each bank entry's matches
//! since its last restore (the store's entry events), evaluates the counts
//! against the policy's `[quarantine]` thresholds with the pure
//! [`vigil_pipeline::quarantine::evaluate`], and quarantines the entries
//! and banks that pass them through the [`BankService`]: the database
//! first, then `vigil.hashdb`, so workers stop acting on them at once —
//! their matches go to review with the reason. The quarantine is recorded
//! (with an audit-log row) and counted.
//!
//! Lifting a quarantine is a guarded change (DESIGN.md §6a): a lead
//! proposes it with a reason ([`crate::Governance::propose_restore`]), a
//! different lead or admin approves it, and the entry's counts start again
//! from zero. A pass also puts the flag back on a recorded quarantine that
//! some other path lifted without that approval (e.g. an exchange
//! re-sharing the entry).

use crate::{metrics, BankError, BankService};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::watch;
use vigil_hashdb::{BankStatus, Change};
use vigil_pipeline::quarantine::{evaluate, EntryState, QuarantineOrder};
use vigil_pipeline::SharedPolicy;
use vigil_store::retro::{EntryCountsRow, QuarantineRow};

/// Who quarantines, in the change log and the audit log.
pub const ACTOR: &str = "vigil-quarantine";

/// Runs quarantine passes.
#[derive(Clone)]
pub struct Quarantiner {
    pub banks: BankService,
    /// The policy in force (reloaded while serving): its `[quarantine]`
    /// thresholds.
    pub policy: SharedPolicy,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantinePass {
    /// Quarantined in this pass: `(bank, entry_id)` (`entry_id` empty: the bank).
    pub quarantined: Vec<(String, String)>,
    /// Recorded quarantines whose flag was put back.
    pub reapplied: Vec<(String, String)>,
}

/// Every entry's counts with whether a quarantine is recorded for it.
pub fn entry_states(counts: Vec<EntryCountsRow>, recorded: &[QuarantineRow]) -> Vec<EntryState> {
    let q: BTreeSet<(&str, &str)> = recorded
        .iter()
        .filter(|r| !r.entry_id.is_empty())
        .map(|r| (r.bank.as_str(), r.entry_id.as_str()))
        .collect();
    counts
        .into_iter()
        .map(|c| EntryState {
            quarantined: q.contains(&(c.bank.as_str(), c.entry_id.as_str())),
            bank: c.bank,
            entry_id: c.entry_id,
            counts: c.counts,
        })
        .collect()
}

impl Quarantiner {
    /// One pass: quarantine what passes the thresholds, re-apply recorded
    /// quarantines that were lifted without approval, refresh the gauges.
    pub async fn run_once(&self) -> Result<QuarantinePass, BankError> {
        let store = &self.banks.store;
        let mut pass = QuarantinePass::default();
        let recorded = store.quarantined().await?;
        let banks = store.banks().await?;
        let mut banks_quarantined: Vec<String> = recorded
            .iter()
            .filter(|r| r.entry_id.is_empty())
            .map(|r| r.bank.clone())
            .collect();
        banks_quarantined.extend(
            banks
                .iter()
                .filter(|b| b.status == BankStatus::Quarantined)
                .map(|b| b.name.clone()),
        );
        let entries = entry_states(store.entry_counts_since_restore().await?, &recorded);
        let bank_counts = store.bank_counts_since_restore().await?;
        let orders = evaluate(
            &entries,
            &bank_counts,
            &banks_quarantined,
            &self.policy.current().quarantine,
        );
        for o in orders {
            if self.quarantine(&o).await? {
                pass.quarantined
                    .push((o.bank.clone(), o.entry_id.clone().unwrap_or_default()));
            }
        }
        for r in store.quarantined().await? {
            if self.reapply(&r).await? {
                pass.reapplied.push((r.bank, r.entry_id));
            }
        }
        self.refresh_gauges().await?;
        Ok(pass)
    }

    /// Flag the entry (or bank) through the bank service, then record it.
    /// False when there is nothing live to quarantine.
    async fn quarantine(&self, o: &QuarantineOrder) -> Result<bool, BankError> {
        let store = &self.banks.store;
        let target = match &o.entry_id {
            Some(id) => {
                let Some(mut e) = store.live_entry(&o.bank, id).await? else {
                    return Ok(false);
                };
                e.quarantined = true;
                self.banks
                    .apply_as(ACTOR, vec![Change::UpsertEntry { entry: e }])
                    .await?;
                "entry"
            }
            None => {
                let mut b = self.banks.bank(&o.bank).await?;
                b.status = BankStatus::Quarantined;
                self.banks
                    .apply_as(ACTOR, vec![Change::UpsertBank { bank: b }])
                    .await?;
                "bank"
            }
        };
        let entry_id = o.entry_id.as_deref().unwrap_or("");
        if store
            .record_quarantine(&o.bank, entry_id, &o.cause, ACTOR)
            .await?
        {
            metrics::QUARANTINE_EVENTS
                .with_label_values(&[target, "quarantined"])
                .inc();
            tracing::warn!(
                bank = %o.bank,
                entry_id,
                cause = %o.cause,
                "quarantined: its matches go to review until a lead's restore is approved"
            );
        }
        Ok(true)
    }

    /// Put the flag back on a recorded quarantine that is not in force.
    async fn reapply(&self, r: &QuarantineRow) -> Result<bool, BankError> {
        let store = &self.banks.store;
        if r.entry_id.is_empty() {
            let Ok(mut b) = self.banks.bank(&r.bank).await else {
                return Ok(false);
            };
            if b.status == BankStatus::Quarantined {
                return Ok(false);
            }
            b.status = BankStatus::Quarantined;
            self.banks
                .apply_as(ACTOR, vec![Change::UpsertBank { bank: b }])
                .await?;
        } else {
            let Some(mut e) = store.live_entry(&r.bank, &r.entry_id).await? else {
                return Ok(false);
            };
            if e.quarantined {
                return Ok(false);
            }
            e.quarantined = true;
            self.banks
                .apply_as(ACTOR, vec![Change::UpsertEntry { entry: e }])
                .await?;
        }
        tracing::warn!(bank = %r.bank, entry_id = %r.entry_id, "a quarantine was lifted without an approved restore; put back");
        Ok(true)
    }

    /// Set `vigil_quarantined_entries{bank}` and `vigil_quarantined_banks`
    /// from the store.
    pub async fn refresh_gauges(&self) -> Result<(), BankError> {
        let store = &self.banks.store;
        let counts: BTreeMap<String, i64> = store.quarantined_counts().await?;
        metrics::QUARANTINED_ENTRIES.reset();
        for (bank, n) in &counts {
            metrics::QUARANTINED_ENTRIES
                .with_label_values(&[bank.as_str()])
                .set(*n);
        }
        let banks = store
            .quarantined()
            .await?
            .iter()
            .filter(|r| r.entry_id.is_empty())
            .count();
        metrics::QUARANTINED_BANKS.set(banks as i64);
        Ok(())
    }

    /// Run a pass every `every` until `shutdown` flips; errors are logged
    /// and the next pass tries again.
    pub async fn run(self, every: Duration, mut shutdown: watch::Receiver<bool>) {
        metrics::register();
        loop {
            if let Err(e) = self.run_once().await {
                tracing::warn!(error = %e, "quarantine pass failed; retrying at the next one");
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
    use vigil_pipeline::quarantine::EntryCounts;

    #[test]
    fn entry_states_know_recorded_quarantines() {
        let row = |bank: &str, entry: &str| EntryCountsRow {
            bank: bank.into(),
            entry_id: entry.into(),
            counts: EntryCounts {
                matches: 4,
                upheld: 0,
                overturned: 4,
                disputed: 0,
            },
        };
        let q = |bank: &str, entry: &str| QuarantineRow {
            bank: bank.into(),
            entry_id: entry.into(),
            state: "quarantined".into(),
            cause: "c".into(),
            since: "t".into(),
            actor: ACTOR.into(),
            reason: "c".into(),
        };
        let states = entry_states(
            vec![row("a", "e1"), row("a", "e2"), row("b", "e1")],
            &[q("a", "e1"), q("b", "")],
        );
        let flags: Vec<bool> = states.iter().map(|s| s.quarantined).collect();
        assert_eq!(
            flags,
            vec![true, false, false],
            "a whole-bank row is no entry's"
        );
        assert_eq!(states[2].counts.overturned, 4);
    }
}
