//! The action relay (DESIGN.md §1 "action callback"): takes due actions
//! (takedown, restrict, reinstate) from the store's outbox and delivers
//! each to the platform through two sinks:
//!
//! - **Kafka** `vigil.actions`: key `upload_id`, value the `ActionMsg` JSON,
//!   through the idempotent producer;
//! - **webhook** (when configured): `POST` of the same JSON with the action
//!   id as `Idempotency-Key` and an HMAC-SHA256 signature over timestamp
//!   and body ([`crate::auth::sign_webhook`]; docs/actions.md).
//!
//! Each sink is marked done on its own, so a retry never re-sends to a sink
//! that acknowledged. A failure backs off exponentially up to a cap and is
//! retried for ever; a 4xx other than 408/429 is a permanent refusal: the
//! action is parked (kept, counted, logged) until an operator re-queues it.
//! Relays in several processes claim actions with a lease, so two never
//! deliver the same action at once, and an action waits until the older
//! actions of its upload are delivered (a reinstatement never overtakes its
//! takedown). Delivery is at-least-once: after a crash between a send and
//! its mark, the action is sent again with the same id.

use crate::metrics;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::watch;
use vigil_pipeline::ActionMsg;
use vigil_store::retro::{PendingAction, Sink};
use vigil_store::{Store, StoreError};
use vigil_stream::Producer;

/// The webhook's shared secret; never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Shortest accepted secret, as for the hook's API keys.
    pub const MIN_LEN: usize = 32;

    /// A secret from its text (surrounding whitespace trimmed).
    pub fn new(text: &str) -> Result<WebhookSecret, RelayError> {
        let t = text.trim();
        if t.len() < Self::MIN_LEN {
            return Err(RelayError::WeakSecret);
        }
        Ok(WebhookSecret(t.as_bytes().to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Where and how to call the platform.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL that receives the POSTs.
    pub url: String,
    pub secret: WebhookSecret,
    /// Limit for one request, connection included.
    pub timeout: Duration,
}

/// The relay's settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The Kafka topic (`vigil.actions` with the default prefix).
    pub topic: String,
    pub webhook: Option<WebhookConfig>,
    /// Pause between polls when nothing was due.
    pub poll_interval: Duration,
    /// Wait after the first failure; doubled per failure up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Actions claimed and delivered at once.
    pub batch: usize,
    /// How long a claim lasts: longer than one delivery to both sinks.
    pub lease: Duration,
}

impl RelayConfig {
    /// Defaults around `topic`, `webhook` and the backoff cap.
    pub fn new(
        topic: String,
        webhook: Option<WebhookConfig>,
        max_backoff: Duration,
    ) -> RelayConfig {
        let timeout = webhook
            .as_ref()
            .map(|w| w.timeout)
            .unwrap_or(Duration::ZERO);
        RelayConfig {
            topic,
            webhook,
            poll_interval: Duration::from_secs(1),
            min_backoff: Duration::from_secs(1),
            max_backoff: max_backoff.max(Duration::from_secs(1)),
            batch: 16,
            // A Kafka send (bounded by the producer's 30 s delivery
            // timeout) and one webhook request, with room to spare.
            lease: Duration::from_secs(90) + timeout * 2,
        }
    }
}

/// A relay that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "the webhook secret must be at least {} characters",
        WebhookSecret::MIN_LEN
    )]
    WeakSecret,
    #[error("the webhook URL must start with http:// or https://")]
    BadUrl,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What a webhook answer means for the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again after the backoff; the reason is a metric label.
    Retry(&'static str),
    /// The platform refused it for good; the reason is a metric label.
    Refused(&'static str),
}

/// The meaning of an HTTP status: 2xx delivered; 408 and 429 throttled and
/// 5xx failed (retried); 3xx is not followed (retried: a wrong URL is
/// fixed by configuration); any other 4xx is a permanent refusal.
pub fn classify_status(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 => Outcome::Retry("throttled"),
        300..=399 => Outcome::Retry("redirect"),
        400..=499 => Outcome::Refused("rejected"),
        500..=599 => Outcome::Retry("server_error"),
        _ => Outcome::Retry("unexpected_status"),
    }
}

/// The wait before attempt `failures + 1`: `min` doubled per earlier
/// failure, capped at `max`. `failures` counts this one (≥ 1).
pub fn backoff(failures: i64, min: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).clamp(0, 30) as u32;
    min.saturating_mul(1u32 << doublings).min(max)
}

/// Sinks and the metric labels they use.
fn sink_label(sink: Sink) -> &'static str {
    match sink {
        Sink::Kafka => "kafka",
        Sink::Webhook => "webhook",
    }
}

/// A failed delivery to one sink.
struct Failure {
    sink: Sink,
    reason: &'static str,
    permanent: bool,
    /// What the store records (no response bodies).
    detail: String,
    /// The platform's `Retry-After`, if it sent one.
    retry_after: Option<Duration>,
}

/// The relay; cheap to clone.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    producer: Producer,
    http: Option<reqwest::Client>,
    config: RelayConfig,
    owner: String,
}

impl Relay {
    /// A relay delivering `store`'s actions through `producer` (and the
    /// webhook, when configured). `owner` names this relay's claims.
    pub fn new(
        store: Store,
        producer: Producer,
        config: RelayConfig,
        owner: String,
    ) -> Result<Relay, RelayError> {
        metrics::register_actions();
        let http = match &config.webhook {
            None => None,
            Some(w) => {
                if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                    return Err(RelayError::BadUrl);
                }
                let client = reqwest::Client::builder()
                    .timeout(w.timeout)
                    .connect_timeout(w.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| RelayError::Client(e.to_string()))?;
                Some(client)
            }
        };
        Ok(Relay {
            store,
            producer,
            http,
            config,
            owner,
        })
    }

    /// Deliver until `shutdown`: claim due actions, deliver them, and poll
    /// again at once while there is work, else after the poll interval.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            webhook = self.config.webhook.is_some(),
            topic = %self.config.topic,
            "action relay started"
        );
        let mut counted: Option<std::time::Instant> = None;
        loop {
            let busy = match self.run_once(Utc::now()).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim actions; will retry");
                    false
                }
            };
            // The backlog gauge, at most once per poll interval.
            if counted.is_none_or(|t| t.elapsed() >= self.config.poll_interval) {
                counted = Some(std::time::Instant::now());
                if let Ok(n) = self.store.pending_action_count().await {
                    metrics::ACTIONS_PENDING.set(n);
                }
            }
            if busy {
                if *shutdown.borrow() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Claim the actions due at `now` (one batch) and deliver them
    /// concurrently. Returns how many were claimed.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let batch = self
            .store
            .claim_due_actions(
                &self.owner,
                now,
                self.config.lease,
                self.config.batch.max(1) as i64,
            )
            .await?;
        let n = batch.len();
        futures::future::join_all(batch.into_iter().map(|p| self.deliver(p))).await;
        Ok(n)
    }

    /// Deliver one claimed action to every sink not yet done, and record
    /// the outcome.
    async fn deliver(&self, p: PendingAction) {
        let body = serde_json::to_vec(&p.msg).expect("actions serialise");
        let kind = p.msg.action.as_str();
        let id = p.msg.action_id.as_str();
        let mut kafka_done = p.kafka_done;
        let webhook_done = p.webhook_done || self.http.is_none();
        let mut result = Ok(());
        if !kafka_done {
            match self
                .producer
                .send_bytes(&self.config.topic, p.msg.upload_id.as_str(), &body)
                .await
            {
                Ok(()) => {
                    kafka_done = true;
                    self.delivered(&p.msg, Sink::Kafka, webhook_done).await;
                }
                Err(e) => {
                    result = Err(Failure {
                        sink: Sink::Kafka,
                        reason: "broker",
                        permanent: false,
                        detail: format!("kafka: {e}"),
                        retry_after: None,
                    })
                }
            }
        }
        if result.is_ok() && !webhook_done {
            result = match self.post(&p, &body).await {
                Ok(()) => {
                    self.delivered(&p.msg, Sink::Webhook, kafka_done).await;
                    Ok(())
                }
                Err(f) => Err(f),
            };
        }
        match result {
            Ok(()) if p.kafka_done && webhook_done => {
                // Both sinks were done already (the webhook was switched
                // off since): only the final mark was missing.
                if let Err(e) = self.store.mark_action_delivered(id).await {
                    tracing::warn!(error = %e, "cannot mark an action delivered; it will be retried");
                } else {
                    metrics::ACTION_DELIVERY_SECONDS.observe(age(&p.msg));
                }
            }
            Ok(()) => {}
            Err(f) => self.failed(&p, kind, f).await,
        }
    }

    /// Mark one sink done; when every sink is, the action is delivered.
    async fn delivered(&self, msg: &ActionMsg, sink: Sink, others_done: bool) {
        metrics::ACTIONS_DELIVERED
            .with_label_values(&[msg.action.as_str(), sink_label(sink)])
            .inc();
        match self
            .store
            .mark_action_sink(&msg.action_id, sink, others_done)
            .await
        {
            Ok(()) if others_done => metrics::ACTION_DELIVERY_SECONDS.observe(age(msg)),
            Ok(()) => {}
            Err(e) => tracing::warn!(
                sink = sink_label(sink),
                error = %e,
                "cannot record a delivery; the action will be sent to that sink again"
            ),
        }
    }

    async fn failed(&self, p: &PendingAction, kind: &str, f: Failure) {
        let sink = sink_label(f.sink);
        metrics::ACTION_DELIVERY_FAILURES
            .with_label_values(&[sink, f.reason])
            .inc();
        let id = p.msg.action_id.as_str();
        let stored = if f.permanent {
            tracing::error!(
                sink,
                reason = f.reason,
                kind,
                "the platform refused an action for good; it is parked until an operator re-queues it (vigil actions requeue)"
            );
            self.store.park_action(id, &f.detail).await
        } else {
            let failures = p.attempts + 1;
            let mut wait = backoff(failures, self.config.min_backoff, self.config.max_backoff);
            if let Some(asked) = f.retry_after {
                wait = wait.max(asked.min(self.config.max_backoff));
            }
            tracing::warn!(
                sink,
                reason = f.reason,
                kind,
                failures,
                retry_in_s = wait.as_secs_f64(),
                "action delivery failed; will retry"
            );
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.store.mark_action_failed(id, &f.detail, next).await
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, "cannot record a failed delivery; the claim expires and the action is retried");
        }
    }

    /// POST the action to the platform's webhook.
    async fn post(&self, p: &PendingAction, body: &[u8]) -> Result<(), Failure> {
        let (Some(http), Some(w)) = (&self.http, &self.config.webhook) else {
            return Ok(());
        };
        let timestamp = Utc::now().timestamp();
        let signature = crate::auth::sign_webhook(w.secret.as_bytes(), timestamp, body);
        let failure = |reason, detail: String| Failure {
            sink: Sink::Webhook,
            reason,
            permanent: false,
            detail,
            retry_after: None,
        };
        let response = http
            .post(&w.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", p.msg.action_id.as_str())
            .header("X-Vigil-Timestamp", timestamp.to_string())
            .header("X-Vigil-Signature", signature)
            .header("X-Vigil-Attempt", (p.attempts + 1).to_string())
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                let reason = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "transport"
                };
                failure(reason, format!("webhook: {reason}"))
            })?;
        let status = response.status().as_u16();
        match classify_status(status) {
            Outcome::Delivered => Ok(()),
            Outcome::Retry(reason) => Err(Failure {
                retry_after: retry_after(response.headers()),
                ..failure(reason, format!("webhook: HTTP {status}"))
            }),
            Outcome::Refused(reason) => Err(Failure {
                permanent: true,
                ..failure(reason, format!("webhook: HTTP {status}"))
            }),
        }
    }
}

/// Seconds from an action's creation to now.
fn age(msg: &ActionMsg) -> f64 {
    (Utc::now() - msg.created_at)
        .to_std()
        .unwrap_or_default()
        .as_secs_f64()
}

/// A `Retry-After` given in seconds (the HTTP-date form is ignored: the
/// backoff applies).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_delivered_retry_or_refused() {
        assert_eq!(classify_status(200), Outcome::Delivered);
        assert_eq!(classify_status(204), Outcome::Delivered);
        assert_eq!(classify_status(408), Outcome::Retry("throttled"));
        assert_eq!(classify_status(429), Outcome::Retry("throttled"));
        assert_eq!(classify_status(500), Outcome::Retry("server_error"));
        assert_eq!(classify_status(503), Outcome::Retry("server_error"));
        assert_eq!(classify_status(301), Outcome::Retry("redirect"));
        assert_eq!(classify_status(400), Outcome::Refused("rejected"));
        assert_eq!(classify_status(401), Outcome::Refused("rejected"));
        assert_eq!(classify_status(404), Outcome::Refused("rejected"));
        assert_eq!(classify_status(422), Outcome::Refused("rejected"));
        assert_eq!(classify_status(100), Outcome::Retry("unexpected_status"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(300));
        let waits: Vec<u64> = (1..=11).map(|f| backoff(f, min, max).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0, min, max), min);
        assert_eq!(backoff(i64::MAX, min, max), max, "no overflow, ever");
    }

    #[test]
    fn secrets_are_long_and_never_printed() {
        assert!(matches!(
            WebhookSecret::new("short"),
            Err(RelayError::WeakSecret)
        ));
        let s = WebhookSecret::new(" 0123456789abcdef0123456789abcdef\n").unwrap();
        assert_eq!(s.as_bytes(), b"0123456789abcdef0123456789abcdef");
        assert!(!format!("{s:?}").contains("0123"));
    }

    #[test]
    fn retry_after_in_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
