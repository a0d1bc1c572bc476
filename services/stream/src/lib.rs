//! Vigil's Kafka side: topic names, the embedded mock cluster, JSON
//! producers, and the worker loop that turns `vigil.uploads` into verdicts
//! with at-least-once delivery and exactly-once effect (DESIGN.md §3.3).
//! Policy lives in `vigil-pipeline`; this crate only moves records.
#![forbid(unsafe_code)]

pub mod embedded;
pub mod hashdb_log;
pub mod metrics;
pub mod producer;
pub mod topics;
pub mod worker;

pub use embedded::EmbeddedKafka;
pub use producer::Producer;
pub use topics::Topics;
pub use worker::{AnalysisGate, Worker, WorkerConfig, WorkerDeps, DEFAULT_MAX_ATTEMPTS};

/// Errors from the Kafka side.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("kafka error: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("embedded kafka: {0}")]
    Embedded(String),
    #[error("store error: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("shutting down")]
    Shutdown,
}
