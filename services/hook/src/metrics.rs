//! Metrics owned by the upload hook (DESIGN.md §9).

use prometheus::{
    register_histogram, register_histogram_vec, register_int_counter_vec, register_int_gauge,
    Histogram, HistogramVec, IntCounterVec, IntGauge,
};
use std::sync::LazyLock;

pub static UPLOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_uploads_received_total",
        "Uploads received by the hook, by outcome (accepted, duplicate, rejected, invalid).",
        &["outcome"]
    )
    .expect("metric registers once")
});

pub static BAD_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_bad_requests_total",
        "Requests refused with a 4xx problem, by problem kind.",
        &["kind"]
    )
    .expect("metric registers once")
});

pub static MISLABELLED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_mislabelled_uploads_total",
        "Uploads whose declared content type disagrees with their bytes (accepted; decode sniffs the bytes).",
        &["declared"]
    )
    .expect("metric registers once")
});

pub static REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "vigil_hook_request_duration_seconds",
        "Time to answer hook requests, by route.",
        &["route"],
        vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    )
    .expect("metric registers once")
});

pub static AUTH_REJECTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_auth_rejections_total",
        "Requests refused by authentication or per-key limits, by reason.",
        &["reason"]
    )
    .expect("metric registers once")
});

pub static AUTHENTICATED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_authenticated_requests_total",
        "Requests that passed authentication, by method (bearer, signed).",
        &["method"]
    )
    .expect("metric registers once")
});

pub static BACKPRESSURE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_backpressure_rejections_total",
        "Uploads answered 503 with Retry-After, by reason (in_flight, broker_unavailable, database_unavailable, media_store_unavailable).",
        &["reason"]
    )
    .expect("metric registers once")
});

pub static ENQUEUE_IN_FLIGHT: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_hook_enqueue_in_flight_requests",
        "Uploads waiting for the broker's acknowledgement."
    )
    .expect("metric registers once")
});

pub static CHECKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hook_checks_total",
        "Synchronous checks (POST /v1/check), by suggested action.",
        &["suggested_action"]
    )
    .expect("metric registers once")
});

// ---- action delivery (`actions.rs`) ----

pub static ACTIONS_DELIVERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_actions_delivered_total",
        "Actions acknowledged by a sink, by kind (takedown, restrict, reinstate) and sink (kafka, webhook).",
        &["kind", "sink"]
    )
    .expect("metric registers once")
});

pub static ACTION_DELIVERY_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_action_delivery_failures_total",
        "Failed action deliveries, by sink and reason (broker, timeout, connect, transport, server_error, throttled, redirect, unexpected_status: retried; rejected: parked).",
        &["sink", "reason"]
    )
    .expect("metric registers once")
});

pub static ACTIONS_PENDING: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_actions_pending",
        "Actions not yet delivered to every sink (parked ones included), from the database."
    )
    .expect("metric registers once")
});

pub static ACTION_DELIVERY_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "vigil_action_delivery_seconds",
        "Time from an action's creation (its verdict or decision) to its delivery to every sink.",
        vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0]
    )
    .expect("metric registers once")
});

/// Register the action metrics with a zero series for every bounded label
/// value, so rates and alerts work before the first event.
pub fn register_actions() {
    for kind in ["takedown", "restrict", "reinstate"] {
        for sink in ["kafka", "webhook"] {
            ACTIONS_DELIVERED.with_label_values(&[kind, sink]);
        }
    }
    ACTION_DELIVERY_FAILURES.with_label_values(&["kafka", "broker"]);
    for reason in [
        "timeout",
        "connect",
        "transport",
        "server_error",
        "throttled",
        "redirect",
        "unexpected_status",
        "rejected",
    ] {
        ACTION_DELIVERY_FAILURES.with_label_values(&["webhook", reason]);
    }
    LazyLock::force(&ACTIONS_PENDING);
    LazyLock::force(&ACTION_DELIVERY_SECONDS);
}
