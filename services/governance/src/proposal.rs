//! The two-person rule: which changes widen what Vigil removes (and so wait
//! as proposals), what a proposal carries, and who may approve it.

use crate::charter::Charter;
use serde::{Deserialize, Serialize};
use vigil_hashdb::{Bank, BankAction, BankStatus, Change};

/// The guarded change kinds (bounded: a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    /// Adding or re-enabling entries in a bank that allows automated action
    /// (including an exchange import into one, as a pending batch).
    EntriesAdd,
    /// Raising a bank's PDQ distance threshold.
    ThresholdRaise,
    /// Giving a bank automated action, or re-activating a disabled or
    /// quarantined actioning bank.
    BankWiden,
    /// Setting or changing a bank's charter.
    CharterChange,
    /// Restoring a quarantined entry.
    QuarantineRestore,
    /// Enabling or widening the classifier's automated action.
    ClassifierAutoAction,
    /// Publishing a new policy version.
    PolicyVersion,
}

impl ProposalKind {
    pub const ALL: [ProposalKind; 7] = [
        ProposalKind::EntriesAdd,
        ProposalKind::ThresholdRaise,
        ProposalKind::BankWiden,
        ProposalKind::CharterChange,
        ProposalKind::QuarantineRestore,
        ProposalKind::ClassifierAutoAction,
        ProposalKind::PolicyVersion,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ProposalKind::EntriesAdd => "entries_add",
            ProposalKind::ThresholdRaise => "threshold_raise",
            ProposalKind::BankWiden => "bank_widen",
            ProposalKind::CharterChange => "charter_change",
            ProposalKind::QuarantineRestore => "quarantine_restore",
            ProposalKind::ClassifierAutoAction => "classifier_auto_action",
            ProposalKind::PolicyVersion => "policy_version",
        }
    }

    pub fn parse(s: &str) -> Option<ProposalKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a proposal does once approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Bank changes applied (and published on `vigil.hashdb`) at approval.
    BankChanges { changes: Vec<Change> },
    /// A charter for `bank` (None: remove it, which makes the bank review-only).
    Charter {
        bank: String,
        charter: Option<Charter>,
    },
    /// A policy (TOML text) that becomes the active version.
    Policy { version: String, toml: String },
}

/// A proposal's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    /// Applied without a second person because the charter trusts its source.
    AutoApproved,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::AutoApproved => "auto_approved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Pending,
            Status::Approved,
            Status::Rejected,
            Status::AutoApproved,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Roles as governance sees them (mirrors the review accounts' roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reviewer,
    Lead,
    Admin,
}

/// Why someone may not decide a proposal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the proposer cannot approve or reject their own proposal; a second person with the lead or admin role must")]
    OwnProposal,
    #[error("deciding proposals needs the lead or admin role")]
    RoleTooLow,
    #[error("the proposal is already {0}")]
    NotPending(&'static str),
}

impl RuleError {
    pub fn reason(&self) -> &'static str {
        match self {
            RuleError::OwnProposal => "own_proposal",
            RuleError::RoleTooLow => "role",
            RuleError::NotPending(_) => "not_pending",
        }
    }
}

/// The two-person rule: `decider` may approve or reject a pending proposal
/// by `proposer` only if they are a different person with role lead or
/// admin.
pub fn may_decide(
    status: Status,
    proposer: &str,
    decider: &str,
    role: Role,
) -> Result<(), RuleError> {
    if status != Status::Pending {
        return Err(RuleError::NotPending(status.as_str()));
    }
    if proposer == decider {
        return Err(RuleError::OwnProposal);
    }
    if role < Role::Lead {
        return Err(RuleError::RoleTooLow);
    }
    Ok(())
}

/// Whether a bank lets its matches act automatically (its entries are then
/// guarded).
pub fn actioning(bank: &Bank) -> bool {
    bank.action == BankAction::Takedown
}

/// Which guarded kind a bank upsert is, given the bank as it is now (None:
/// a new bank). `None` when it only narrows or keeps what is removed.
pub fn classify_bank(old: Option<&Bank>, new: &Bank) -> Option<ProposalKind> {
    match old {
        None => actioning(new).then_some(ProposalKind::BankWiden),
        Some(old) => {
            if actioning(new) && !actioning(old) {
                return Some(ProposalKind::BankWiden);
            }
            if actioning(new)
                && new.status == BankStatus::Active
                && old.status != BankStatus::Active
            {
                return Some(ProposalKind::BankWiden);
            }
            if actioning(new) && widens_sampling(old.sampling_rate, new.sampling_rate) {
                return Some(ProposalKind::BankWiden);
            }
            // A higher PDQ, dHash or pHash distance, or looser vPDQ
            // thresholds.
            new.thresholds_looser_than(old)
                .then_some(ProposalKind::ThresholdRaise)
        }
    }
}

fn widens_sampling(old: Option<f64>, new: Option<f64>) -> bool {
    match (old, new) {
        (Some(_), None) => true,
        (Some(o), Some(n)) => n > o,
        _ => false,
    }
}

/// Which guarded kind an entry upsert is: adding a new entry to an
/// actioning bank, re-enabling a deleted one there, or lifting an entry's
/// quarantine. `old` is the live entry with that id, if any; `was_deleted`
/// says a tombstoned one exists.
pub fn classify_entry(
    bank: &Bank,
    old: Option<&vigil_hashdb::BankEntry>,
    new: &vigil_hashdb::BankEntry,
) -> Option<ProposalKind> {
    if let Some(o) = old {
        if o.quarantined && !new.quarantined {
            return Some(ProposalKind::QuarantineRestore);
        }
        if !actioning(bank) {
            return None;
        }
        // Widening the labels of a live entry also widens what it stands for.
        let new_label = new.labels.iter().any(|l| !o.labels.contains(l));
        return new_label.then_some(ProposalKind::EntriesAdd);
    }
    actioning(bank).then_some(ProposalKind::EntriesAdd)
}

/// Whether a policy change enables or widens the classifier's automated
/// action (a lower `auto_above` acts on more uploads).
pub fn widens_classifier(old_auto_above: Option<f32>, new_auto_above: Option<f32>) -> bool {
    match (old_auto_above, new_auto_above) {
        (None, Some(_)) => true,
        (Some(o), Some(n)) => n < o,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_hashdb::{BankEntry, SignalType};

    #[test]
    fn the_proposer_never_decides_and_reviewers_never_do() {
        assert_eq!(
            may_decide(Status::Pending, "alice", "alice", Role::Admin),
            Err(RuleError::OwnProposal)
        );
        assert_eq!(
            may_decide(Status::Pending, "alice", "bob", Role::Reviewer),
            Err(RuleError::RoleTooLow)
        );
        assert_eq!(
            may_decide(Status::Pending, "alice", "bob", Role::Lead),
            Ok(())
        );
        assert_eq!(
            may_decide(Status::Pending, "alice", "bob", Role::Admin),
            Ok(())
        );
        assert_eq!(
            may_decide(Status::Approved, "alice", "bob", Role::Admin),
            Err(RuleError::NotPending("approved"))
        );
    }

    #[test]
    fn bank_changes_that_widen_are_guarded_and_narrowing_is_not() {
        let review = Bank::new("b", BankAction::ReviewOnly);
        let takedown = Bank::new("b", BankAction::Takedown);
        assert_eq!(classify_bank(None, &review), None);
        assert_eq!(
            classify_bank(None, &takedown),
            Some(ProposalKind::BankWiden)
        );
        assert_eq!(
            classify_bank(Some(&review), &takedown),
            Some(ProposalKind::BankWiden)
        );
        assert_eq!(classify_bank(Some(&takedown), &review), None);
        let mut raised = takedown.clone();
        raised.pdq_threshold = 40;
        assert_eq!(
            classify_bank(Some(&takedown), &raised),
            Some(ProposalKind::ThresholdRaise)
        );
        assert_eq!(classify_bank(Some(&raised), &takedown), None);
        // Looser vPDQ thresholds widen what matches, like a PDQ raise.
        let mut loose_video = takedown.clone();
        loose_video.vpdq.query_pct = 50.0;
        assert_eq!(
            classify_bank(Some(&takedown), &loose_video),
            Some(ProposalKind::ThresholdRaise)
        );
        assert_eq!(classify_bank(Some(&loose_video), &takedown), None);
        let mut wide_video = takedown.clone();
        wide_video.vpdq.distance_tolerance = 40;
        assert_eq!(
            classify_bank(Some(&takedown), &wide_video),
            Some(ProposalKind::ThresholdRaise)
        );
        // So does a higher dHash or pHash threshold (also from the default).
        let mut wide_dhash = takedown.clone();
        wide_dhash
            .thresholds
            .insert(vigil_hashdb::SignalType::Dhash, 12);
        assert_eq!(
            classify_bank(Some(&takedown), &wide_dhash),
            Some(ProposalKind::ThresholdRaise)
        );
        assert_eq!(classify_bank(Some(&wide_dhash), &takedown), None);
        let mut narrow_phash = takedown.clone();
        narrow_phash
            .thresholds
            .insert(vigil_hashdb::SignalType::Phash, 4);
        assert_eq!(classify_bank(Some(&takedown), &narrow_phash), None);
        let mut disabled = takedown.clone();
        disabled.status = BankStatus::Disabled;
        assert_eq!(classify_bank(Some(&takedown), &disabled), None);
        assert_eq!(
            classify_bank(Some(&disabled), &takedown),
            Some(ProposalKind::BankWiden)
        );
        let mut sampled = takedown.clone();
        sampled.sampling_rate = Some(0.1);
        assert_eq!(
            classify_bank(Some(&sampled), &takedown),
            Some(ProposalKind::BankWiden)
        );
    }

    #[test]
    fn entries_into_actioning_banks_and_quarantine_restores_are_guarded() {
        let h = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
        let takedown = Bank::new("b", BankAction::Takedown);
        let review = Bank::new("b", BankAction::ReviewOnly);
        let e = BankEntry::derived("b", SignalType::Pdq, h);
        assert_eq!(
            classify_entry(&takedown, None, &e),
            Some(ProposalKind::EntriesAdd)
        );
        assert_eq!(classify_entry(&review, None, &e), None);
        assert_eq!(classify_entry(&takedown, Some(&e), &e), None);
        let mut q = e.clone();
        q.quarantined = true;
        assert_eq!(
            classify_entry(&review, Some(&q), &e),
            Some(ProposalKind::QuarantineRestore)
        );
        assert_eq!(classify_entry(&takedown, Some(&e), &q), None);
        let mut relabelled = e.clone();
        relabelled.labels.push("gifct:glorification".into());
        assert_eq!(
            classify_entry(&takedown, Some(&e), &relabelled),
            Some(ProposalKind::EntriesAdd)
        );
    }

    #[test]
    fn classifier_widening() {
        assert!(widens_classifier(None, Some(0.99)));
        assert!(widens_classifier(Some(0.99), Some(0.9)));
        assert!(!widens_classifier(Some(0.9), Some(0.99)));
        assert!(!widens_classifier(Some(0.9), None));
        assert!(!widens_classifier(None, None));
    }

    #[test]
    fn kinds_round_trip() {
        for k in ProposalKind::ALL {
            assert_eq!(ProposalKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ProposalKind::parse("nope"), None);
    }
}
