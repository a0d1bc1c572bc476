//! The bank change log on the compacted topic `vigil.hashdb`: publishing
//! changes after they are written to the database, and following the topic
//! in every worker process so banks change without a restart.
//!
//! A follower pins the topic's end offsets *before* its process loads the
//! banks (from the database, or from a snapshot caught up from the
//! database's change log), then reads from those offsets: a change that
//! lands between the two is applied twice, which is harmless, and never
//! missed.
//!
//! The follower takes the [`ApplyGate`] before the database's write lock.
//! A snapshot writer holds the gate while it serialises the database under
//! the read lock, so records wait for it at the gate instead of queueing
//! for the write lock, where they would hold back every new reader
//! (matching) until the snapshot is written.

use crate::producer::Producer;
use crate::StreamError;
use prometheus::{register_int_counter_vec, IntCounterVec};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use vigil_hashdb::{Change, HashDb};

static APPLIED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "vigil_hashdb_changes_applied_total",
        "Bank change-log records applied by this process, by outcome.",
        &["outcome"]
    )
    .expect("metric registers once")
});

/// Taken by the follower before it write-locks the database; held by a
/// snapshot writer while it reads the whole database.
pub type ApplyGate = Arc<tokio::sync::Mutex<()>>;

/// Publish changes (already durable in the database) to the change log.
pub async fn publish_changes(
    producer: &Producer,
    topic: &str,
    changes: &[Change],
) -> Result<(), StreamError> {
    for c in changes {
        producer.send_json(topic, &c.key(), c).await?;
    }
    Ok(())
}

/// End offsets of every partition of `topic`, to start following from.
/// Blocking: call it from `spawn_blocking`.
pub fn end_offsets(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
) -> Result<TopicPartitionList, StreamError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "vigil-hashdb-probe")
        .create()?;
    let md = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            let (_, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(high))?;
        }
    }
    if tpl.count() == 0 {
        return Err(StreamError::Embedded(format!(
            "topic {topic} has no partitions"
        )));
    }
    Ok(tpl)
}

/// Apply change-log records from `from` onwards to `db` until shutdown.
pub async fn follow(
    bootstrap: &str,
    client_id: &str,
    from: TopicPartitionList,
    db: Arc<RwLock<HashDb>>,
    gate: ApplyGate,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StreamError> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{client_id}-hashdb"))
        .set("client.id", client_id)
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.assign(&from)?;
    loop {
        let msg = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            m = consumer.recv() => m,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "hash database change log: consumer error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let change = match msg.payload().map(serde_json::from_slice::<Change>) {
            Some(Ok(c)) => c,
            _ => {
                APPLIED.with_label_values(&["malformed"]).inc();
                tracing::warn!(
                    partition = msg.partition(),
                    offset = msg.offset(),
                    "skipping a malformed change-log record"
                );
                continue;
            }
        };
        let outcome = {
            let _gate = tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                g = gate.lock() => g,
            };
            db.write().unwrap_or_else(|p| p.into_inner()).apply(change)
        };
        match outcome {
            Ok(applied) => APPLIED.with_label_values(&[applied_label(applied)]).inc(),
            Err(e) => {
                APPLIED.with_label_values(&["rejected"]).inc();
                tracing::warn!(error = %e, "change-log record does not apply");
            }
        }
    }
}

fn applied_label(a: vigil_hashdb::Applied) -> &'static str {
    use vigil_hashdb::Applied::*;
    match a {
        Inserted => "inserted",
        Updated => "updated",
        Unchanged => "unchanged",
        Deleted => "deleted",
        Absent => "absent",
    }
}
