//! Metrics owned by the upload hook (DESIGN.md §9).

use prometheus::{register_histogram_vec, register_int_counter_vec, HistogramVec, IntCounterVec};
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
