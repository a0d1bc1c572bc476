//! `vigil kafka-dev` runs the mock cluster as its own process: other
//! processes produce to and consume from it over the Kafka protocol.

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_dev_serves_other_processes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["kafka-dev", "--brokers", "1", "--partitions", "2"])
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bootstrap = line
        .trim()
        .strip_prefix("bootstrap.servers=")
        .expect("first line names the brokers")
        .to_string();
    assert!(!bootstrap.is_empty());

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to("vigil.uploads").key("k").payload("hello"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "kafka-dev-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    // Read both partitions directly: no group join to wait for.
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset("vigil.uploads", p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message in time")
        .unwrap();
    assert_eq!(m.payload(), Some(&b"hello"[..]));
    child.kill().unwrap();
    child.wait().unwrap();
}
