//! The embedded broker: librdkafka's mock cluster, a real Kafka protocol
//! server on a local port, run in-process for `vigil serve`, `vigil
//! kafka-dev` and tests. It keeps messages in memory only; the uploads table
//! is the outbox that makes a whole-process crash lose nothing.
//!
//! The mock cluster handle is not `Send`, so it lives on a thread of its own
//! and is driven through a channel.

use crate::topics::Topics;
use crate::StreamError;
use rdkafka::mocking::MockCluster;
use std::sync::mpsc;
use std::thread::JoinHandle;

enum Command {
    BrokerDown(i32, mpsc::Sender<Result<(), String>>),
    BrokerUp(i32, mpsc::Sender<Result<(), String>>),
    Stop,
}

/// A running mock cluster with Vigil's topics created.
pub struct EmbeddedKafka {
    bootstrap: String,
    tx: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedKafka {
    /// Start `brokers` mock brokers and create every topic with `partitions`
    /// partitions (the bank change log with one, to keep its order).
    pub fn start(
        brokers: i32,
        partitions: i32,
        topics: &Topics,
    ) -> Result<EmbeddedKafka, StreamError> {
        let (tx, rx) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let names: Vec<String> = topics.all().iter().map(|s| s.to_string()).collect();
        let hashdb_topic = topics.hashdb.clone();
        let replication = brokers.min(3);
        let thread = std::thread::Builder::new()
            .name("vigil-mock-kafka".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                for name in &names {
                    // The bank change log is one partition: a bank's record
                    // must reach every follower before its entries.
                    let partitions = if *name == hashdb_topic { 1 } else { partitions };
                    if let Err(e) = cluster.create_topic(name, partitions, replication) {
                        let _ = ready_tx.send(Err(format!("create topic {name}: {e}")));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                while let Ok(cmd) = rx.recv() {
                    match cmd {
                        Command::BrokerDown(id, reply) => {
                            let _ = reply.send(cluster.broker_down(id).map_err(|e| e.to_string()));
                        }
                        Command::BrokerUp(id, reply) => {
                            let _ = reply.send(cluster.broker_up(id).map_err(|e| e.to_string()));
                        }
                        Command::Stop => break,
                    }
                }
                drop(cluster);
            })
            .map_err(|e| StreamError::Embedded(e.to_string()))?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|_| StreamError::Embedded("mock cluster thread died".into()))?
            .map_err(StreamError::Embedded)?;
        tracing::info!(%bootstrap, brokers, partitions, "embedded kafka (librdkafka mock cluster) started");
        Ok(EmbeddedKafka {
            bootstrap,
            tx,
            thread: Some(thread),
        })
    }

    /// The `bootstrap.servers` value for clients.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    fn call(
        &self,
        make: impl FnOnce(mpsc::Sender<Result<(), String>>) -> Command,
    ) -> Result<(), StreamError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.tx
            .send(make(reply_tx))
            .map_err(|_| StreamError::Embedded("mock cluster stopped".into()))?;
        reply_rx
            .recv()
            .map_err(|_| StreamError::Embedded("mock cluster stopped".into()))?
            .map_err(StreamError::Embedded)
    }

    /// Fault injection: take broker `id` (1-based) down.
    pub fn broker_down(&self, id: i32) -> Result<(), StreamError> {
        self.call(|r| Command::BrokerDown(id, r))
    }

    /// Fault injection: bring broker `id` back.
    pub fn broker_up(&self, id: i32) -> Result<(), StreamError> {
        self.call(|r| Command::BrokerUp(id, r))
    }
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
