//! Governance metrics (DESIGN.md §6a, §9). Labels are bounded: proposal
//! kind and outcome, rejection reason, referral outcome.

use prometheus::{register_int_counter_vec, register_int_gauge, IntCounterVec, IntGauge};
use std::sync::LazyLock;

pub static PROPOSALS_PENDING: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_governance_proposals_pending",
        "Guarded changes waiting for a second person's approval."
    )
    .expect("metric registers once")
});

pub static PROPOSALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_governance_proposals_total",
        "Guarded changes, by kind and outcome (proposed, approved, rejected, auto_approved, refused).",
        &["kind", "outcome"]
    )
    .expect("metric registers once")
});

pub static CHANGELOG_RECORDS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_governance_changelog_records",
        "Records in the hash-chained change log."
    )
    .expect("metric registers once")
});

pub static IMPORT_REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_governance_import_rejected_total",
        "Imported entries refused by their bank's charter, by reason (label_outside_charter, unlabelled).",
        &["reason"]
    )
    .expect("metric registers once")
});

pub static REFERRALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_governance_referrals_total",
        "Referrals and removal orders, by outcome (recorded, acted, contested, refused).",
        &["outcome"]
    )
    .expect("metric registers once")
});

/// Touch every metric so it is exported before its first event.
pub fn register() {
    LazyLock::force(&PROPOSALS_PENDING);
    LazyLock::force(&PROPOSALS);
    LazyLock::force(&CHANGELOG_RECORDS);
    LazyLock::force(&IMPORT_REJECTED);
    LazyLock::force(&REFERRALS);
}
