//! The worker loop: consume `vigil.uploads` in a consumer group, run the
//! stage chain off the async runtime, decide, durably write the verdict (and
//! review item), publish it, and only then mark the offset for commit.
//!
//! Delivery is at-least-once; every write is idempotent on
//! `(upload_id, policy_version)`, so a redelivered record re-sends the stored
//! verdict instead of deciding again. A record that cannot be processed goes
//! to `vigil.dlq` with a bounded error kind; transient failures (database,
//! broker, media store) are retried with backoff and never skipped.

use crate::metrics;
use crate::producer::Producer;
use crate::topics::Topics;
use crate::StreamError;
use chrono::Utc;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Statistics};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vigil_pipeline::audit::{compare_shadow, sample_verdict, AuditSample};
use vigil_pipeline::sor::add_provenance;
use vigil_pipeline::{
    decide_with_video, Analyzer, DlqRecord, Evidence, Policy, SharedPolicy, UploadMsg, Verdict,
    MESSAGE_VERSION,
};
use vigil_store::{MediaStore, Store, UploadStatus};

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub bootstrap: String,
    pub group_id: String,
    pub client_id: String,
    /// How often stored offsets are committed.
    pub commit_interval: Duration,
    /// How long the group waits for a silent member before reassigning its
    /// partitions.
    pub session_timeout: Duration,
    /// The group's rebalance timeout: how long a rebalance waits for members
    /// to rejoin (librdkafka's `max.poll.interval.ms`; at least the session
    /// timeout). A member that was killed holds its partitions this long.
    pub max_poll_interval: Duration,
}

/// What a worker needs besides its consumer; shared by all workers of a process.
pub struct WorkerDeps {
    pub store: Store,
    pub media: MediaStore,
    pub analyzer: Analyzer,
    /// The policy in force; an approved new version replaces it while the
    /// worker runs (each record is decided under one version).
    pub policy: SharedPolicy,
    /// A candidate policy evaluated on the same evidence without acting;
    /// its disagreements with `policy` are counted, stored and sampled to
    /// blind review.
    pub shadow_policy: Option<Arc<Policy>>,
    pub producer: Producer,
    pub topics: Topics,
}

/// Reports per-partition consumer lag from librdkafka's statistics.
pub struct LagContext;

impl ClientContext for LagContext {
    fn stats(&self, stats: Statistics) {
        for (topic, t) in stats.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    metrics::CONSUMER_LAG
                        .with_label_values(&[topic.as_str(), partition.to_string().as_str()])
                        .set(p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for LagContext {}

/// How one record ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new verdict was written and published.
    Decided(&'static str),
    /// The record already had a verdict; it was re-published.
    Redelivered,
    /// The record went to the DLQ.
    DeadLettered(String),
}

pub struct Worker {
    consumer: StreamConsumer<LagContext>,
    deps: Arc<WorkerDeps>,
}

impl Worker {
    pub fn new(cfg: &WorkerConfig, deps: Arc<WorkerDeps>) -> Result<Worker, StreamError> {
        let consumer: StreamConsumer<LagContext> = ClientConfig::new()
            .set("bootstrap.servers", &cfg.bootstrap)
            .set("group.id", &cfg.group_id)
            .set("client.id", &cfg.client_id)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.commit.interval.ms",
                cfg.commit_interval.as_millis().max(1).to_string(),
            )
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                cfg.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (cfg.session_timeout.as_millis() / 4).max(100).to_string(),
            )
            .set("statistics.interval.ms", "5000")
            .set(
                "max.poll.interval.ms",
                cfg.max_poll_interval.as_millis().to_string(),
            )
            .create_with_context(LagContext)?;
        consumer.subscribe(&[deps.topics.uploads.as_str()])?;
        Ok(Worker { consumer, deps })
    }

    /// Consume until `shutdown` turns true, then commit what was processed.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), StreamError> {
        loop {
            let msg = tokio::select! {
                _ = shutdown.changed() => break,
                m = self.consumer.recv() => m,
            };
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "consumer error");
                    metrics::RETRIES.with_label_values(&["consume"]).inc();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let (topic, partition, offset) =
                (msg.topic().to_string(), msg.partition(), msg.offset());
            match process_record(
                &self.deps,
                msg.payload(),
                &topic,
                partition,
                offset,
                &shutdown,
            )
            .await
            {
                Ok(_) => {
                    self.consumer.store_offset(&topic, partition, offset)?;
                }
                Err(StreamError::Shutdown) => break,
                Err(e) => return Err(e),
            }
            if *shutdown.borrow() {
                break;
            }
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => {}
            // Nothing stored since the last commit.
            Err(rdkafka::error::KafkaError::ConsumerCommit(
                rdkafka::types::RDKafkaErrorCode::NoOffset,
            )) => {}
            // Another member left at the same time: its partitions move and
            // whoever gets them resumes from the last commit.
            Err(
                e @ rdkafka::error::KafkaError::ConsumerCommit(
                    rdkafka::types::RDKafkaErrorCode::RebalanceInProgress,
                ),
            ) => {
                tracing::info!(error = %e, "final offset commit skipped during a rebalance; the last records will be redelivered")
            }
            Err(e) => {
                tracing::warn!(error = %e, "final offset commit failed; records will be redelivered")
            }
        }
        Ok(())
    }
}

/// Retry `op` with backoff until it succeeds or shutdown is requested.
async fn retry<T, E, F, Fut>(
    what: &'static str,
    shutdown: &watch::Receiver<bool>,
    mut op: F,
) -> Result<T, StreamError>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = Duration::from_millis(50);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                metrics::RETRIES.with_label_values(&[what]).inc();
                tracing::warn!(operation = what, error = %e, retry_in_ms = delay.as_millis() as u64, "transient failure");
            }
        }
        if *shutdown.borrow() {
            return Err(StreamError::Shutdown);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn dead_letter(
    deps: &WorkerDeps,
    shutdown: &watch::Receiver<bool>,
    record: DlqRecord,
) -> Result<Outcome, StreamError> {
    let key = record
        .upload_id
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_else(|| format!("{}-{}", record.partition, record.offset));
    retry("produce_dlq", shutdown, || {
        deps.producer.send_json(&deps.topics.dlq, &key, &record)
    })
    .await?;
    metrics::DLQ
        .with_label_values(&[record.error_kind.as_str()])
        .inc();
    Ok(Outcome::DeadLettered(record.error_kind))
}

/// Process one `vigil.uploads` record to a durable, published outcome.
/// Returns `Err(Shutdown)` only if shutdown interrupted a retry; the record
/// is then left uncommitted and will be redelivered.
pub async fn process_record(
    deps: &WorkerDeps,
    payload: Option<&[u8]>,
    topic: &str,
    partition: i32,
    offset: i64,
    shutdown: &watch::Receiver<bool>,
) -> Result<Outcome, StreamError> {
    let dlq = |upload_id, error_kind: &str, error: String| DlqRecord {
        v: MESSAGE_VERSION,
        source_topic: topic.to_string(),
        partition,
        offset,
        upload_id,
        error_kind: error_kind.to_string(),
        error,
        failed_at: Utc::now(),
    };
    let msg: UploadMsg = match payload.map(serde_json::from_slice::<UploadMsg>) {
        Some(Ok(m)) if m.v == MESSAGE_VERSION => m,
        Some(Ok(m)) => {
            return dead_letter(
                deps,
                shutdown,
                dlq(
                    Some(m.upload_id),
                    "bad_version",
                    format!("unsupported message version {}", m.v),
                ),
            )
            .await
        }
        Some(Err(e)) => {
            return dead_letter(deps, shutdown, dlq(None, "bad_message", e.to_string())).await
        }
        None => {
            return dead_letter(
                deps,
                shutdown,
                dlq(None, "bad_message", "empty payload".into()),
            )
            .await
        }
    };
    let policy = deps.policy.current();

    // A redelivered record: re-publish what was decided, decide nothing twice.
    let existing = retry("db_read", shutdown, || {
        deps.store.verdict_for(&msg.upload_id, &policy.version)
    })
    .await?;
    if let Some(v) = existing {
        publish_verdict(deps, shutdown, &v).await?;
        metrics::REDELIVERED.with_label_values(&[topic]).inc();
        return Ok(Outcome::Redelivered);
    }

    let bytes = loop {
        match deps.media.get(&msg.media_url, max_media_bytes(deps)).await {
            Ok(b) => break b,
            Err(e) if e.is_transient() => {
                metrics::RETRIES.with_label_values(&["media_read"]).inc();
                tracing::warn!(error = %e, "media store read failed; retrying");
                if *shutdown.borrow() {
                    return Err(StreamError::Shutdown);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                let kind = e.kind();
                retry("db_write", shutdown, || {
                    deps.store
                        .set_upload_status(&msg.upload_id, UploadStatus::Failed, Some(kind))
                })
                .await?;
                return dead_letter(
                    deps,
                    shutdown,
                    dlq(Some(msg.upload_id.clone()), kind, e.to_string()),
                )
                .await;
            }
        }
    };

    let analyzer = deps.analyzer.clone();
    let analysis = tokio::task::spawn_blocking(move || analyzer.analyze(&bytes))
        .await
        .map_err(|e| StreamError::Embedded(format!("analysis task failed: {e}")))?;
    if let Some(e) = &analysis.classifier_error {
        tracing::warn!(error = %e, "classifier failed; deciding without it");
    }
    let evidence = Evidence {
        upload_id: msg.upload_id.clone(),
        context: msg.platform_context.clone(),
        signals: analysis.signals,
        pdq_quality: analysis.pdq_quality,
        matches: analysis.matches,
        classifier: analysis.classifier,
        decode_error: analysis.decode_error.as_ref().map(|e| e.kind().to_string()),
        now: Utc::now(),
    };
    let video_matches = analysis
        .video
        .as_ref()
        .map(|v| v.matches.as_slice())
        .unwrap_or(&[]);
    let (mut verdict, review) = decide_with_video(&evidence, video_matches, &policy);
    if let Some(mut sor) = verdict.statement_of_reasons.take() {
        let db = deps
            .analyzer
            .hashdb
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        add_provenance(&mut sor, &verdict, |bank, entry| {
            db.entry(bank, entry).and_then(|e| e.provenance.clone())
        });
        drop(db);
        verdict.statement_of_reasons = Some(sor);
    }
    // Accountability: blind audit sampling and the shadow policy are pure
    // functions of the verdict and the policies; `decide` stays untouched.
    let surface = msg.platform_context.surface.as_str();
    let mut samples: Vec<AuditSample> = Vec::new();
    if review.is_none() {
        samples.extend(sample_verdict(&verdict, surface, &policy));
    }
    // Once the candidate is approved and in force, there is nothing to compare.
    let candidate = deps
        .shadow_policy
        .as_ref()
        .filter(|sp| sp.version != policy.version);
    let shadow = candidate.and_then(|sp| {
        let (sv, _) = decide_with_video(&evidence, video_matches, sp);
        compare_shadow(&verdict, &sv, surface, &policy)
    });
    if let Some(s) = shadow.as_ref().and_then(|d| d.sample.clone()) {
        samples.push(s);
    }
    let inserted = retry("db_write", shutdown, || {
        deps.store
            .write_verdict_audited(&verdict, review.as_ref(), &samples, shadow.as_ref())
    })
    .await?;
    // If another worker won a race for the same record, publish its verdict.
    let verdict = if inserted {
        verdict
    } else {
        retry("db_read", shutdown, || {
            deps.store.verdict_for(&msg.upload_id, &policy.version)
        })
        .await?
        .unwrap_or(verdict)
    };
    if let Some(item) = review.as_ref().filter(|_| inserted) {
        retry("produce_review", shutdown, || {
            deps.producer
                .send_json(&deps.topics.review, item.upload_id.as_str(), item)
        })
        .await?;
    }
    publish_verdict(deps, shutdown, &verdict).await?;
    if let Some(e) = &analysis.decode_error {
        dead_letter(
            deps,
            shutdown,
            dlq(Some(msg.upload_id.clone()), e.kind(), e.to_string()),
        )
        .await?;
    }
    if inserted {
        metrics::VERDICTS
            .with_label_values(&[verdict.action.as_str()])
            .inc();
        for s in &samples {
            metrics::AUDIT_SAMPLES
                .with_label_values(&[s.kind.as_str()])
                .inc();
        }
        if let Some(d) = &shadow {
            metrics::SHADOW_DISAGREEMENTS
                .with_label_values(&[d.live_action.as_str(), d.shadow_action.as_str()])
                .inc();
        }
        let latency = (verdict.decided_at - msg.received_at)
            .to_std()
            .unwrap_or_default();
        metrics::UPLOAD_TO_VERDICT.observe(latency.as_secs_f64());
    }
    Ok(Outcome::Decided(verdict.action.as_str()))
}

fn max_media_bytes(deps: &WorkerDeps) -> u64 {
    deps.analyzer.limits.max_bytes as u64
}

async fn publish_verdict(
    deps: &WorkerDeps,
    shutdown: &watch::Receiver<bool>,
    v: &Verdict,
) -> Result<(), StreamError> {
    retry("produce_verdict", shutdown, || {
        deps.producer
            .send_json(&deps.topics.verdicts, v.upload_id.as_str(), v)
    })
    .await
}
