//! A JSON producer: idempotent, acks from all in-sync replicas, every send
//! awaited until the broker acknowledges it.

use crate::StreamError;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
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
        let inner: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("client.id", client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("compression.type", "lz4")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().max(1).to_string(),
            )
            .create()?;
        Ok(Producer { inner })
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
        let record = FutureRecord::to(topic).key(key).payload(payload);
        self.inner
            .send(record, Timeout::Never)
            .await
            .map(|_| ())
            .map_err(|(e, _)| StreamError::Kafka(e))
    }
}
