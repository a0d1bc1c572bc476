//! Governance and self-correction metrics (DESIGN.md §6a, §8, §9). Labels
//! are bounded: proposal kind and outcome, rejection reason, referral
//! outcome, bank name, action, quarantine target and event. Never an upload
//! id or a hash.

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge,
    register_int_gauge_vec, Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
};
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

pub static RETROHUNT_HITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_retrohunt_hits_total",
        "Past uploads found by bank entries added after them (misses at the time of upload), by the entry's bank.",
        &["bank"]
    )
    .expect("metric registers once")
});

pub static RETROHUNT_DELAY: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "vigil_retrohunt_delay_seconds",
        "Time from an upload to its retro-hunt hit.",
        vec![
            60.0,
            600.0,
            3600.0,
            6.0 * 3600.0,
            86_400.0,
            7.0 * 86_400.0,
            30.0 * 86_400.0,
            90.0 * 86_400.0,
            365.0 * 86_400.0
        ]
    )
    .expect("metric registers once")
});

pub static RETROHUNT_LATE_VERDICTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_retrohunt_late_verdicts_total",
        "Late verdicts written by the retro-hunt, by action (takedown, restrict, review, ...).",
        &["action"]
    )
    .expect("metric registers once")
});

pub static RETROHUNT_PASSES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_retrohunt_passes_total",
        "Retro-hunt passes completed."
    )
    .expect("metric registers once")
});

pub static RETROHUNT_ERRORS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_retrohunt_errors_total",
        "Retro-hunt passes that failed (retried at the next pass)."
    )
    .expect("metric registers once")
});

pub static RETROHUNT_ENTRIES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_retrohunt_entries_total",
        "New or changed bank entries hunted for."
    )
    .expect("metric registers once")
});

pub static RETROHUNT_UPLOADS_SCANNED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_retrohunt_uploads_scanned_total",
        "Retained passed uploads compared with new entries (once per batch of entries)."
    )
    .expect("metric registers once")
});

pub static RETAINED_PURGED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_retained_uploads_purged_total",
        "Retained upload hashes deleted after the retention period."
    )
    .expect("metric registers once")
});

pub static QUARANTINED_ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_quarantined_entries",
        "Bank entries under quarantine now (their matches go to review), by bank.",
        &["bank"]
    )
    .expect("metric registers once")
});

pub static QUARANTINED_BANKS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_quarantined_banks",
        "Whole banks under quarantine now."
    )
    .expect("metric registers once")
});

pub static QUARANTINE_EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_quarantine_events_total",
        "Quarantines and restores, by target (entry, bank) and event (quarantined, restored).",
        &["target", "event"]
    )
    .expect("metric registers once")
});

/// Touch every metric so it is exported before its first event.
pub fn register() {
    LazyLock::force(&RETROHUNT_HITS);
    LazyLock::force(&RETROHUNT_DELAY);
    LazyLock::force(&RETROHUNT_LATE_VERDICTS);
    LazyLock::force(&RETROHUNT_PASSES);
    LazyLock::force(&RETROHUNT_ERRORS);
    LazyLock::force(&RETROHUNT_ENTRIES);
    LazyLock::force(&RETROHUNT_UPLOADS_SCANNED);
    LazyLock::force(&RETAINED_PURGED);
    LazyLock::force(&QUARANTINED_ENTRIES);
    LazyLock::force(&QUARANTINED_BANKS);
    LazyLock::force(&QUARANTINE_EVENTS);
    LazyLock::force(&PROPOSALS_PENDING);
    LazyLock::force(&PROPOSALS);
    LazyLock::force(&CHANGELOG_RECORDS);
    LazyLock::force(&IMPORT_REJECTED);
    LazyLock::force(&REFERRALS);
}
