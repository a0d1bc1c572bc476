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
//! error, or when sends have failed without a single success for
//! `stuck_after` (four delivery timeouts, at least 10 s). A replaced
//! producer's in-flight sends still end with their own result; nothing is
//! resent here (callers retry, and every consumer de-duplicates by upload
//! id). Replacements are counted in `vigil_kafka_producer_restarts_total`.

use crate::StreamError;
use rdkafka::config::ClientConfig;
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
    /// When the first failure without a success since happened.
    failing_since: Option<Instant>,
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
                failing_since: None,
            })),
        })
    }

    /// Replace the producer when it has been failing for this long without
    /// a success (default: four delivery timeouts, at least 10 s).
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
        let record = FutureRecord::to(topic).key(key).payload(payload);
        let result = producer
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(e, _)| StreamError::Kafka(e));
        self.after_send(generation, &producer, result.is_ok());
        result
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

    /// Bookkeeping after a send on `used`: a success clears the failure
    /// clock; a fatal error, or failures for `stuck_after`, replace the
    /// producer (once: a send on an older generation changes nothing).
    fn after_send(&self, generation: u64, used: &FutureProducer, ok: bool) {
        let mut current = self.lock();
        if current.generation != generation {
            return;
        }
        if ok {
            current.failing_since = None;
            return;
        }
        let now = Instant::now();
        let since = *current.failing_since.get_or_insert(now);
        let fatal = used.client().fatal_error();
        let stuck = now.duration_since(since) >= self.stuck_after;
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
                    failing_secs = now.duration_since(since).as_secs(),
                    "kafka producer replaced"
                );
                crate::metrics::PRODUCER_RESTARTS
                    .with_label_values(&[&self.client_id, reason])
                    .inc();
                *current = Generation {
                    generation: generation + 1,
                    producer: fresh,
                    failing_since: None,
                };
            }
            Err(e) => {
                tracing::error!(client = %self.client_id, error = %e, "cannot create a new kafka producer");
            }
        }
    }
}
