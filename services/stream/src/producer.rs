//! A JSON producer: idempotent, acks from all in-sync replicas, every send
//! awaited until the broker acknowledges it, and self-healing.
//!
//! Self-healing: librdkafka's idempotent producer can end in a state it
//! never leaves by itself. A *fatal* error (e.g. the broker fenced the
//! producer id) fails every later send, and after a broker outage that timed
//! messages out the producer must drain and bump its epoch, which some
//! brokers (and, rarely, the mock cluster) never let finish, so every send
//! times out although the broker is back. Both look, from outside, like a
//! broker that is down forever. So the producer is replaced by a new one
//! (new producer id, fresh connections) when librdkafka reports a fatal
//! error, or when sends have kept timing out for `stuck_after` (four
//! delivery timeouts, at least 10 s; see [`FailureRun`]). Successes in
//! between do not stop the clock: the stuck state can hold only the
//! partitions led by one broker while the others deliver. A replaced
//! producer's in-flight sends still end with their own result; nothing is
//! resent here (callers retry, and every consumer de-duplicates by upload
//! id). Replacements are counted in `vigil_kafka_producer_restarts_total`.

use crate::StreamError;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One librdkafka producer and its failure bookkeeping.
struct Generation {
    /// Counts replacements; tells a late answer from an older producer.
    generation: u64,
    producer: FutureProducer,
    timeouts: FailureRun,
}

/// A run of send timeouts: it starts when a send times out and goes on
/// while each next timed-out send was *sent* less than `stuck_after` after
/// the previous timeout, whatever succeeded in between. (Measured from the
/// send, not its failure: one send can wait several seconds to time out,
/// and back-to-back failing sends are one run however long each waits.)
/// A producer whose run has lasted `stuck_after` is stuck: some of its
/// partitions (at least) have not delivered for that long. Sparse
/// timeouts, further apart than `stuck_after`, never add up to a run.
///
/// Pure bookkeeping over the instants it is given, so it is tested without
/// a broker.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailureRun {
    started: Option<Instant>,
    last: Option<Instant>,
}

impl FailureRun {
    /// Record a send made at `sent` that timed out at `now`; true when the
    /// run has lasted `stuck_after`.
    pub fn timed_out(&mut self, sent: Instant, now: Instant, stuck_after: Duration) -> bool {
        let continues = self
            .last
            .is_some_and(|last| sent.saturating_duration_since(last) < stuck_after);
        if !continues {
            self.started = Some(now);
        }
        self.last = Some(now);
        self.lasted(now) >= stuck_after
    }

    /// How long the current run has lasted at `now` (zero without one).
    pub fn lasted(&self, now: Instant) -> Duration {
        self.started
            .map(|s| now.saturating_duration_since(s))
            .unwrap_or_default()
    }
}

#[derive(Clone)]
pub struct Producer {
    config: ClientConfig,
    client_id: Arc<str>,
    stuck_after: Duration,
    current: Arc<Mutex<Generation>>,
}

impl Producer {
    /// `delivery_timeout` bounds how long a send may wait for the broker
    /// (librdkafka's `message.timeout.ms`): short in the hook, so it can
    /// answer 503 quickly; longer in workers.
    pub fn new(
        bootstrap: &str,
        client_id: &str,
        delivery_timeout: Duration,
    ) -> Result<Producer, StreamError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("compression.type", "lz4")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().max(1).to_string(),
            );
        let producer: FutureProducer = config.create()?;
        Ok(Producer {
            config,
            client_id: client_id.into(),
            stuck_after: (delivery_timeout * 4).max(Duration::from_secs(10)),
            current: Arc::new(Mutex::new(Generation {
                generation: 0,
                producer,
                timeouts: FailureRun::default(),
            })),
        })
    }

    /// Replace the producer when its sends have kept timing out for this
    /// long (default: four delivery timeouts, at least 10 s).
    pub fn with_stuck_after(mut self, stuck_after: Duration) -> Producer {
        self.stuck_after = stuck_after;
        self
    }

    /// Send one JSON record and wait for the broker's acknowledgement.
    pub async fn send_json<T: Serialize>(
        &self,
        topic: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StreamError> {
        let payload = serde_json::to_vec(value).expect("records serialise");
        self.send_bytes(topic, key, &payload).await
    }

    pub async fn send_bytes(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<(), StreamError> {
        let (generation, producer) = self.producer();
        let sent = Instant::now();
        let record = FutureRecord::to(topic).key(key).payload(payload);
        let result = producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e);
        if let Err(e) = &result {
            self.after_failure(generation, &producer, sent, e);
        }
        result.map_err(StreamError::Kafka)
    }

    fn producer(&self) -> (u64, FutureProducer) {
        let current = self.lock();
        (current.generation, current.producer.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generation> {
        // A panic while holding this lock cannot leave it inconsistent (two
        // plain fields), so a poisoned lock is used as it is.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bookkeeping after a failed send on `used`: a fatal error, or
    /// timeouts for `stuck_after`, replace the producer (once: a send on an
    /// older generation changes nothing). Other errors (a record too large,
    /// an unknown topic) are the caller's and change nothing here.
    fn after_failure(
        &self,
        generation: u64,
        used: &FutureProducer,
        sent: Instant,
        error: &KafkaError,
    ) {
        let mut current = self.lock();
        if current.generation != generation {
            return;
        }
        let now = Instant::now();
        let timed_out = matches!(
            error,
            KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut)
        );
        let stuck = timed_out && current.timeouts.timed_out(sent, now, self.stuck_after);
        let failing_secs = current.timeouts.lasted(now).as_secs();
        let fatal = used.client().fatal_error();
        if fatal.is_none() && !stuck {
            return;
        }
        let reason = if fatal.is_some() { "fatal" } else { "stuck" };
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                tracing::warn!(
                    client = %self.client_id,
                    reason,
                    fatal = ?fatal.map(|(code, msg)| format!("{code:?}: {msg}")),
                    failing_secs,
                    "kafka producer replaced"
                );
                crate::metrics::PRODUCER_RESTARTS
                    .with_label_values(&[&self.client_id, reason])
                    .inc();
                *current = Generation {
                    generation: generation + 1,
                    producer: fresh,
                    timeouts: FailureRun::default(),
                };
            }
            Err(e) => {
                tracing::error!(client = %self.client_id, error = %e, "cannot create a new kafka producer");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailureRun;
    use std::time::{Duration, Instant};

    const STUCK: Duration = Duration::from_secs(12);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn timeouts_close_together_add_up_to_stuck() {
        let t0 = Instant::now();
        let mut run = FailureRun::default();
        // One partition's sends time out every 3 s (successes elsewhere in
        // between are not reported here and do not matter).
        for s in 0..4u64 {
            let now = at(t0, s * 3_000);
            assert!(!run.timed_out(now, now, STUCK), "at {s}");
        }
        let now = at(t0, 12_000);
        assert!(run.timed_out(now, now, STUCK));
        assert_eq!(run.lasted(now), STUCK);
    }

    #[test]
    fn back_to_back_slow_timeouts_are_one_run() {
        let t0 = Instant::now();
        let mut run = FailureRun::default();
        // Each send waits 13 s (more than STUCK) to time out, and the next
        // is sent right after: still one run.
        assert!(!run.timed_out(at(t0, 0), at(t0, 13_000), STUCK));
        assert!(run.timed_out(at(t0, 13_000), at(t0, 26_000), STUCK));
    }

    #[test]
    fn sparse_timeouts_never_make_a_run() {
        let t0 = Instant::now();
        let mut run = FailureRun::default();
        for s in 0..20u64 {
            let now = at(t0, s * 13_000);
            assert!(!run.timed_out(at(t0, (s * 13_000).saturating_sub(500)), now, STUCK));
            assert_eq!(run.lasted(now), Duration::ZERO);
        }
    }

    #[test]
    fn a_gap_starts_a_new_run() {
        let t0 = Instant::now();
        let mut run = FailureRun::default();
        assert!(!run.timed_out(at(t0, 0), at(t0, 0), STUCK));
        assert!(!run.timed_out(at(t0, 11_000), at(t0, 11_000), STUCK));
        // 13 s with no failing send: the next timeout starts from zero.
        assert!(!run.timed_out(at(t0, 24_000), at(t0, 24_500), STUCK));
        assert_eq!(run.lasted(at(t0, 24_500)), Duration::ZERO);
        assert!(!run.timed_out(at(t0, 35_000), at(t0, 35_500), STUCK));
        assert!(run.timed_out(at(t0, 36_000), at(t0, 36_500), STUCK));
    }

    #[test]
    fn no_timeouts_no_run() {
        let run = FailureRun::default();
        assert_eq!(run.lasted(Instant::now()), Duration::ZERO);
    }
}
