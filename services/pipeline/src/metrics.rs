//! Metrics owned by the stage chain (DESIGN.md §9). Labels are bounded:
//! stage names and error kinds, never content or user data.

use prometheus::{register_histogram_vec, register_int_counter_vec, HistogramVec, IntCounterVec};
use std::sync::LazyLock;

pub static STAGE_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "vigil_worker_stage_duration_seconds",
        "Time spent in each stage of the worker's chain.",
        &["stage"],
        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    )
    .expect("metric registers once")
});

pub static DECODE_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_worker_decode_errors_total",
        "Media that could not be decoded, by error kind.",
        &["kind"]
    )
    .expect("metric registers once")
});
