//! Metrics owned by the Kafka side (DESIGN.md §9).

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge_vec,
    Histogram, IntCounter, IntCounterVec, IntGaugeVec,
};
use std::sync::LazyLock;

pub static VERDICTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_worker_verdicts_total",
        "Verdicts written, by action.",
        &["action"]
    )
    .expect("metric registers once")
});

pub static DLQ: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_worker_dlq_total",
        "Records sent to the dead-letter topic, by error kind.",
        &["error_kind"]
    )
    .expect("metric registers once")
});

pub static POISON: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "vigil_worker_poison_records_total",
        "Uploads not analysed because their analysis was started worker.max_attempts times without finishing; each is dead-lettered (error_kind=\"poison\") and sent to human review."
    )
    .expect("metric registers once")
});

pub static REDELIVERED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_worker_redelivered_total",
        "Records that already had a verdict (redelivery after a crash or rebalance); the stored verdict is re-sent, nothing is decided twice.",
        &["topic"]
    )
    .expect("metric registers once")
});

pub static RETRIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_worker_retries_total",
        "Transient failures retried by the worker, by operation.",
        &["operation"]
    )
    .expect("metric registers once")
});

pub static CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "vigil_worker_consumer_lag_messages",
        "Messages behind the partition's high watermark, per assigned partition.",
        &["topic", "partition"]
    )
    .expect("metric registers once")
});

pub static UPLOAD_TO_VERDICT: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "vigil_worker_upload_to_verdict_seconds",
        "Time from the hook accepting an upload to its verdict being written.",
        vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]
    )
    .expect("metric registers once")
});

pub static AUDIT_SAMPLES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_audit_samples_total",
        "Verdicts drawn for blind audit, by kind (takedown, pass, shadow).",
        &["kind"]
    )
    .expect("metric registers once")
});

pub static SHADOW_DISAGREEMENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_shadow_disagreements_total",
        "Uploads on which the shadow policy's action differed from the live one, by both actions.",
        &["live", "shadow"]
    )
    .expect("metric registers once")
});

pub static PRODUCER_RESTARTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_kafka_producer_restarts_total",
        "Kafka producers replaced by a new one after a fatal error or after its sends kept timing out for several delivery timeouts, by client and reason.",
        &["client", "reason"]
    )
    .expect("metric registers once")
});
