//! The worker loop: consume `vigil.uploads` in a consumer group, run the
//! stage chain off the async runtime, decide, durably write the verdict (and
//! review item), publish it, and only then mark the offset for commit.
//!
//! Delivery is at-least-once; an upload is decided once, whatever the policy
//! version (the verdict's transaction takes the upload's decided claim), so
//! a redelivered record re-sends the stored verdict instead of deciding
//! again. A record that cannot be processed goes to `vigil.dlq` with a
//! bounded error kind; transient failures (database, broker, media store)
//! are retried with backoff and never skipped.
//!
//! Hostile media cannot stop a worker (docs/hardening.md): a panic in
//! analysis is contained and the upload decided on its exact hashes; every
//! start of an analysis is counted in the database first, and an upload
//! whose analysis started `max_attempts` times without finishing (the
//! process died each time: an abort, a crash in C code, an OOM kill) is a
//! poison record: never analysed again, dead-lettered (`poison`) and sent
//! to human review.

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
    decide_with_video, Analysis, Analyzer, DlqRecord, Evidence, Policy, SharedPolicy, UploadId,
    UploadMsg, Verdict, MESSAGE_VERSION, POISON,
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
    /// Starts of an upload's analysis after which it is a poison record:
    /// not analysed again, dead-lettered and sent to review
    /// (`worker.max_attempts`, docs/hardening.md).
    pub max_attempts: u32,
    /// Shared by the process's workers: an upload whose earlier analysis
    /// never finished is analysed alone, so that a crash then is its own
    /// and never counts against an innocent upload that was in flight.
    pub isolation: AnalysisGate,
}

/// Analyses share it; an upload under suspicion (an earlier start never
/// finished) holds it alone.
#[derive(Clone, Default)]
pub struct AnalysisGate(Arc<tokio::sync::RwLock<()>>);

/// The default of [`WorkerDeps::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

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
        // Exported from the start, at 0, for the dashboards and alerts.
        std::sync::LazyLock::force(&metrics::POISON);
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

    // A redelivered record: re-publish what was decided, decide nothing
    // twice, not even under a policy version that came in force since.
    let effective = retry("db_read", shutdown, || {
        deps.store.effective_verdict(&msg.upload_id)
    })
    .await?;
    if let Some(v) = effective {
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

    // Counted before it starts: an analysis that kills the process leaves
    // this count behind and nothing else.
    let attempts = retry("db_write", shutdown, || {
        deps.store.start_analysis(&msg.upload_id)
    })
    .await?;
    let poison = attempts > deps.max_attempts;
    // A start that never finished may have been another upload's crash:
    // from the second start on, nothing else is analysed beside it.
    let (_shared, _alone) = if attempts > 1 {
        (None, Some(deps.isolation.0.write().await))
    } else {
        (Some(deps.isolation.0.read().await), None)
    };
    let (analysis, dlq_error) = if poison {
        metrics::POISON.inc();
        tracing::error!(
            attempts = attempts - 1,
            "an upload's analysis was started and never finished too often; not analysing it again (poison record)"
        );
        let analysis = run_analysis(deps, bytes, Analyzer::analyze_exact).await?;
        let detail = format!(
            "analysis was started {} times and never finished (the process died each time); not analysed again",
            attempts - 1
        );
        (analysis, Some((POISON.to_string(), detail)))
    } else {
        let analysis = run_analysis(deps, bytes, Analyzer::analyze).await?;
        let dlq_error = analysis
            .decode_error
            .as_ref()
            .map(|e| (e.kind().to_string(), e.to_string()));
        (analysis, dlq_error)
    };
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
        decode_error: dlq_error.as_ref().map(|(kind, _)| kind.clone()),
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
    // If another worker won a race for the same upload, publish its verdict.
    let verdict = if inserted {
        verdict
    } else {
        stored_verdict(deps, shutdown, &msg.upload_id)
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
    if let Some((kind, detail)) = dlq_error {
        dead_letter(
            deps,
            shutdown,
            dlq(Some(msg.upload_id.clone()), &kind, detail),
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

/// The upload's latest stored verdict, under any policy version.
async fn stored_verdict(
    deps: &WorkerDeps,
    shutdown: &watch::Receiver<bool>,
    id: &UploadId,
) -> Result<Option<Verdict>, StreamError> {
    retry("db_read", shutdown, || deps.store.latest_verdict(id)).await
}

/// Run `analyze` on the blocking pool. A panic that escaped the analyzer's
/// own containment still costs only this upload: it is decided on its
/// exact hashes, with the panic reported as its decode error.
async fn run_analysis(
    deps: &WorkerDeps,
    bytes: Vec<u8>,
    analyze: fn(&Analyzer, &[u8]) -> Analysis,
) -> Result<Analysis, StreamError> {
    let bytes = Arc::new(bytes);
    let (analyzer, media) = (deps.analyzer.clone(), bytes.clone());
    match tokio::task::spawn_blocking(move || analyze(&analyzer, &media)).await {
        Ok(a) => Ok(a),
        Err(e) if e.is_panic() => {
            tracing::error!("analysis task panicked; deciding on exact hashes");
            let analyzer = deps.analyzer.clone();
            let mut a = tokio::task::spawn_blocking(move || analyzer.analyze_exact(&bytes))
                .await
                .map_err(|e| StreamError::Embedded(format!("exact hashing failed: {e}")))?;
            a.decode_error = Some(vigil_decode::DecodeError::DecoderPanic { format: "unknown" });
            Ok(a)
        }
        // Cancelled: the runtime is shutting down.
        Err(_) => Err(StreamError::Shutdown),
    }
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
