//! Metrics owned by human review (DESIGN.md §9). Labels are bounded:
//! decision, outcome, refusal kind, queue state. Never user names or ids.

use prometheus::{
    register_gauge_vec, register_int_counter, register_int_counter_vec, register_int_gauge_vec,
    GaugeVec, IntCounter, IntCounterVec, IntGaugeVec,
};
use std::sync::LazyLock;

pub static CLAIMS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_claims_total",
        "Claim attempts, by outcome (claimed, empty).",
        &["outcome"]
    )
    .expect("metric registers once")
});

pub static DECISIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_decisions_total",
        "Decisions stored, by decision (uphold, overturn, escalate, exempt) and kind (review, appeal).",
        &["decision", "kind"]
    )
    .expect("metric registers once")
});

pub static REFUSALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_refusals_total",
        "Requests refused, by kind (not_held, lease_expired, bad_reason, csrf, forbidden, …).",
        &["kind"]
    )
    .expect("metric registers once")
});

pub static LOGINS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_logins_total",
        "Sign-in attempts, by outcome (ok, bad_credentials, rate_limited: over a sign-in limit, busy: no password-check slot in time).",
        &["outcome"]
    )
    .expect("metric registers once")
});

pub static APPEALS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_appeals_total",
        "Appeals, by outcome (filed, replayed, not_found, not_appealable, in_review).",
        &["outcome"]
    )
    .expect("metric registers once")
});

pub static PUBLISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_decisions_published_total",
        "Decision records produced to the decisions topic, by outcome (ok, error).",
        &["outcome"]
    )
    .expect("metric registers once")
});

pub static QUEUE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_review_queue_items",
        "Review items by state (open, escalated, appeals, claimed).",
        &["state"]
    )
    .expect("metric registers once")
});

pub static QUEUE_AGE: LazyLock<GaugeVec> = LazyLock::new(|| {
    register_gauge_vec!(
        "vigil_review_queue_oldest_age_seconds",
        "Age of the oldest item waiting in the queue, by state (open); 0 when none waits.",
        &["state"]
    )
    .expect("metric registers once")
});

pub static ROUTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_review_routed_total",
        "Review items placed in a routing queue, by queue (names from the routing config).",
        &["queue"]
    )
    .expect("metric registers once")
});

pub static ROUTING_QUEUE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_review_routing_queue_items",
        "Open review items per routing queue (names from the routing config).",
        &["queue"]
    )
    .expect("metric registers once")
});

pub static PURGED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_review_evidence_purged_total",
        "Media of removed uploads purged after the evidence retention period."
    )
    .expect("metric registers once")
});

/// Register the unlabelled metrics now, so they are rendered (at 0) from
/// the first scrape rather than from their first event.
pub fn register() {
    LazyLock::force(&PURGED);
}
