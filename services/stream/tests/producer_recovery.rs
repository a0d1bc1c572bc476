//! The producer against librdkafka's mock cluster under broker faults: it
//! delivers again once the broker is back, and a producer that keeps
//! failing is replaced by a new one (counted in
//! `vigil_kafka_producer_restarts_total`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_stream::metrics::PRODUCER_RESTARTS;
use vigil_stream::{EmbeddedKafka, Producer, Topics};

/// Send `n` records with `concurrency` senders; the number that succeeded.
async fn burst(producer: &Producer, topic: &str, n: u64, concurrency: u64) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (producer, topic, next, ok) = (
            producer.clone(),
            topic.to_string(),
            next.clone(),
            ok.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let key = format!("k{i}");
                if producer.send_bytes(&topic, &key, b"{}").await.is_ok() {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed)
}

/// Bursts until one delivers everything, or the deadline passes.
async fn delivers_again(producer: &Producer, topic: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if burst(producer, topic, 200, 12).await == 200 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "the producer did not deliver again within {within:?} of the broker coming back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A mock cluster and a producer on it with a 1 s delivery timeout and a
/// 3 s `stuck_after`, warmed up (metadata, producer id) until a whole burst
/// is delivered, then idle long enough for any warm-up timeouts to age out
/// of a run.
async fn warmed_up(
    brokers: i32,
    partitions: i32,
    client: &str,
) -> (EmbeddedKafka, Topics, Producer) {
    let topics = Topics::with_prefix("vigil");
    let kafka = EmbeddedKafka::start(brokers, partitions, &topics).unwrap();
    let producer = Producer::new(kafka.bootstrap_servers(), client, Duration::from_secs(1))
        .unwrap()
        .with_stuck_after(Duration::from_secs(3));
    delivers_again(&producer, &topics.uploads, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    (kafka, topics, producer)
}

/// Replacements of `client`'s producer for a run of timeouts.
fn stuck_restarts(client: &str) -> u64 {
    PRODUCER_RESTARTS
        .with_label_values(&[client, "stuck"])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivers_again_after_broker_outages() {
    let topics = Topics::with_prefix("vigil");
    let kafka = EmbeddedKafka::start(3, 6, &topics).unwrap();
    let producer = Producer::new(
        kafka.bootstrap_servers(),
        "test-outage",
        Duration::from_secs(3),
    )
    .unwrap();
    assert_eq!(burst(&producer, &topics.uploads, 500, 12).await, 500);
    for round in 0..3 {
        // Sends run through the outage: some time out, none hang.
        let during = {
            let (producer, topic) = (producer.clone(), topics.uploads.clone());
            tokio::spawn(async move { burst(&producer, &topic, 3_000, 12).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        kafka.broker_down(2).unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        kafka.broker_up(2).unwrap();
        let delivered = tokio::time::timeout(Duration::from_secs(120), during)
            .await
            .expect("sends during the outage end (delivery timeout)")
            .unwrap();
        let took = delivers_again(&producer, &topics.uploads, Duration::from_secs(60)).await;
        eprintln!(
            "round {round}: {delivered}/3000 delivered around the outage, all again after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_failing_for_long_is_replaced() {
    let (kafka, topics, producer) = warmed_up(1, 1, "test-stuck").await;
    let restarts = || stuck_restarts("test-stuck");
    let before = restarts();
    assert_eq!(burst(&producer, &topics.uploads, 200, 12).await, 200);
    assert_eq!(restarts(), before, "no replacement while sends succeed");
    // The only broker goes away: every send times out, and after three
    // seconds of nothing but failures the producer is replaced.
    kafka.broker_down(1).unwrap();
    let start = Instant::now();
    while restarts() == before {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a producer failing for 30 s was never replaced"
        );
        assert!(producer
            .send_bytes(&topics.uploads, "k", b"{}")
            .await
            .is_err());
    }
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "not replaced before stuck_after"
    );
    // The new producer works once the broker is back.
    kafka.broker_up(1).unwrap();
    delivers_again(&producer, &topics.uploads, Duration::from_secs(60)).await;
}

/// The stuck state can hold only the partitions one broker leads while the
/// others deliver: a run of timeouts replaces the producer although sends
/// to the other partitions succeed in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_producer_stuck_on_some_partitions_is_replaced() {
    let (kafka, topics, producer) = warmed_up(3, 6, "test-partial").await;
    let restarts = || stuck_restarts("test-partial");
    let before = restarts();
    // One broker of three goes away: sends to the partitions it leads time
    // out, the rest deliver.
    kafka.broker_down(2).unwrap();
    let start = Instant::now();
    let (mut sent, mut delivered) = (0, 0);
    while restarts() == before {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a producer timing out on some partitions for 30 s was never replaced \
             ({delivered}/{sent} delivered)"
        );
        delivered += burst(&producer, &topics.uploads, 60, 12).await;
        sent += 60;
    }
    assert!(
        delivered > 0 && delivered < sent,
        "the outage was partial: {delivered}/{sent} delivered"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "not replaced before stuck_after"
    );
    kafka.broker_up(2).unwrap();
    delivers_again(&producer, &topics.uploads, Duration::from_secs(60)).await;
}
