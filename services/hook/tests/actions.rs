//! The action relay against the real things: librdkafka's mock cluster as
//! the broker, an axum server on 127.0.0.1 as the platform's webhook
//! receiver (checking every signature), SQLite and PostgreSQL as the
//! store. Every test drives the relay with `run_once` until the outbox is
//! empty, so nothing depends on timing: backoff is skipped by passing a
//! `now` past every next attempt.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{Duration as ChronoDuration, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vigil_hook::{Relay, RelayConfig, WebhookConfig, WebhookSecret};
use vigil_pipeline::{
    Action, ActionCause, ActionMsg, PlatformAction, UploadId, UploadMsg, Verdict, MESSAGE_VERSION,
};
use vigil_store::{Decision, DecisionInput, Role, Store};
use vigil_stream::{EmbeddedKafka, Producer, Topics};

const SECRET: &str = "test-webhook-secret-0123456789abcdef";

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/actions.db", dir.path().display());
    (Store::connect(&url, 8, None).await.unwrap(), dir)
}

async fn postgres() -> (Store, String) {
    let schema = format!("relay_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&pg_url(), 8, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test (run scripts/ensure-postgres.sh)");
    (store, schema)
}

/// One request the receiver got, signature already checked.
#[derive(Debug, Clone)]
struct Received {
    idempotency_key: String,
    attempt: String,
    msg: ActionMsg,
    answered: u16,
}

/// The platform's side: answers from a script (then 200), records every
/// request, refuses any whose signature does not verify.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<Received>>>,
    bad_signatures: Arc<Mutex<usize>>,
}

impl Receiver {
    fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
    fn accepted(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.answered == 200)
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let verified = vigil_hook::verify_webhook(
        SECRET.as_bytes(),
        &h("x-vigil-timestamp"),
        &h("x-vigil-signature"),
        &body,
        Utc::now().timestamp(),
        300,
    );
    if verified.is_err() || h("content-type") != "application/json" {
        *r.bad_signatures.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let msg: ActionMsg = serde_json::from_slice(&body).expect("the body is an ActionMsg");
    let answered = r.script.lock().unwrap().pop_front().unwrap_or(200);
    r.got.lock().unwrap().push(Received {
        idempotency_key: h("idempotency-key"),
        attempt: h("x-vigil-attempt"),
        msg,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

/// The receiver on a random loopback port; returns its URL.
async fn start_receiver(r: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/vigil/actions", post(receive))
        .with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/vigil/actions")
}

struct Setup {
    kafka: EmbeddedKafka,
    topics: Topics,
    receiver: Receiver,
    url: String,
}

async fn setup() -> Setup {
    let topics = Topics::default();
    let kafka = EmbeddedKafka::start(1, 3, &topics).unwrap();
    let receiver = Receiver::default();
    let url = start_receiver(receiver.clone()).await;
    Setup {
        kafka,
        topics,
        receiver,
        url,
    }
}

impl Setup {
    fn relay(&self, store: &Store, owner: &str, webhook: bool) -> Relay {
        let producer = Producer::new(
            self.kafka.bootstrap_servers(),
            owner,
            Duration::from_secs(10),
        )
        .unwrap();
        let webhook = webhook.then(|| WebhookConfig {
            url: self.url.clone(),
            secret: WebhookSecret::new(SECRET).unwrap(),
            timeout: Duration::from_secs(10),
        });
        let mut config = RelayConfig::new(
            self.topics.actions.clone(),
            webhook,
            Duration::from_secs(300),
        );
        config.batch = 8;
        Relay::new(store.clone(), producer, config, owner.to_string()).unwrap()
    }

    /// Every record on `vigil.actions` up to its high watermarks, in
    /// partition order, with its key.
    fn topic(&self) -> Vec<(String, ActionMsg)> {
        let topic = self.topics.actions.as_str();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("group.id", "relay-test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut ends = BTreeMap::new();
        let mut tpl = TopicPartitionList::new();
        for p in 0..3 {
            let (lo, hi) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(30))
                .unwrap();
            if hi > lo {
                ends.insert(p, hi);
                tpl.add_partition_offset(topic, p, Offset::Beginning)
                    .unwrap();
            }
        }
        let mut out = Vec::new();
        if ends.is_empty() {
            return out;
        }
        consumer.assign(&tpl).unwrap();
        while !ends.is_empty() {
            match consumer.poll(Duration::from_millis(500)) {
                Some(Ok(m)) => {
                    let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                    let msg: ActionMsg = serde_json::from_slice(m.payload().unwrap()).unwrap();
                    out.push((key, msg));
                    if ends
                        .get(&m.partition())
                        .is_some_and(|hi| m.offset() + 1 >= *hi)
                    {
                        ends.remove(&m.partition());
                    }
                }
                Some(Err(e)) => panic!("reading vigil.actions: {e}"),
                None => {}
            }
        }
        out
    }
}

fn action(upload: &str, action: PlatformAction, decision: Option<&str>) -> ActionMsg {
    ActionMsg {
        v: MESSAGE_VERSION,
        action_id: uuid::Uuid::now_v7().to_string(),
        upload_id: UploadId::parse(upload).unwrap(),
        action,
        cause: if decision.is_some() {
            ActionCause::Human
        } else {
            ActionCause::Automated
        },
        policy_version: "p1".into(),
        decision_id: decision.map(str::to_string),
        reasons: vec!["test".into()],
        statement_of_reasons: None,
        created_at: Utc::now(),
    }
}

/// Run relays in rounds until a round claims nothing: every action is
/// then delivered, parked, or waiting behind a parked one of its upload.
/// `now` moves an hour per round, so backoff never has to be waited out
/// (every claim of a round ends within it, so leases never matter).
async fn drain(relays: &[Relay]) {
    let mut now = Utc::now();
    for _ in 0..1000 {
        now += ChronoDuration::hours(1);
        let rounds = relays.iter().map(|r| r.run_once(now));
        let mut claimed = 0;
        for r in futures::future::join_all(rounds).await {
            claimed += r.unwrap();
        }
        if claimed == 0 {
            return;
        }
    }
    panic!("the relays never ran out of work");
}

fn count_by_id<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for id in ids {
        *out.entry(id.to_string()).or_insert(0) += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_once_to_each_sink_signed_and_in_order() {
    let s = setup().await;
    let (store, _dir) = sqlite().await;
    let takedown = action("u1", PlatformAction::Takedown, None);
    let restrict = action(
        "u2",
        PlatformAction::Restrict {
            jurisdictions: vec!["DE".into(), "FR".into()],
        },
        None,
    );
    let reinstate = action("u1", PlatformAction::Reinstate, Some("d1"));
    for a in [&takedown, &restrict, &reinstate] {
        store.enqueue_action(a).await.unwrap();
    }
    let relay = s.relay(&store, "relay-a", true);
    drain(std::slice::from_ref(&relay)).await;
    // Nothing is due any more: another round sends nothing.
    assert_eq!(
        relay
            .run_once(Utc::now() + ChronoDuration::days(1))
            .await
            .unwrap(),
        0
    );

    let got = s.receiver.got();
    assert_eq!(*s.receiver.bad_signatures.lock().unwrap(), 0);
    assert_eq!(got.len(), 3, "{got:?}");
    for r in &got {
        assert_eq!(r.idempotency_key, r.msg.action_id);
        assert_eq!(r.attempt, "1");
    }
    let by_id: BTreeMap<&str, &ActionMsg> = got
        .iter()
        .map(|r| (r.msg.action_id.as_str(), &r.msg))
        .collect();
    assert_eq!(by_id[restrict.action_id.as_str()], &restrict);
    // u1: the takedown, then its reinstatement, on both sinks.
    let u1_webhook: Vec<&str> = got
        .iter()
        .filter(|r| r.msg.upload_id.as_str() == "u1")
        .map(|r| r.msg.action.as_str())
        .collect();
    assert_eq!(u1_webhook, ["takedown", "reinstate"]);
    let topic = s.topic();
    assert_eq!(topic.len(), 3, "once each on vigil.actions");
    for (key, msg) in &topic {
        assert_eq!(key, msg.upload_id.as_str());
    }
    let u1_topic: Vec<&str> = topic
        .iter()
        .filter(|(k, _)| k == "u1")
        .map(|(_, m)| m.action.as_str())
        .collect();
    assert_eq!(u1_topic, ["takedown", "reinstate"]);
    for row in store.actions_for(&takedown.upload_id).await.unwrap() {
        assert!(row.kafka_done && row.webhook_done && row.delivered_at.is_some());
    }
    let metrics = vigil_hook::render_metrics();
    assert!(metrics.contains("vigil_actions_delivered_total{kind=\"reinstate\",sink=\"webhook\"}"));
    assert!(metrics.contains("vigil_action_delivery_seconds_count"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_the_action_until_it_accepts_it_once() {
    let s = setup().await;
    let (store, _dir) = sqlite().await;
    let a = action("u1", PlatformAction::Takedown, None);
    store.enqueue_action(&a).await.unwrap();
    s.receiver.answer_next(&[503, 429, 500]);
    let relay = s.relay(&store, "relay-a", true);
    drain(std::slice::from_ref(&relay)).await;

    let got = s.receiver.got();
    let answers: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(
        answers,
        [503, 429, 500, 200],
        "three failures, then exactly once more"
    );
    let attempts: Vec<&str> = got.iter().map(|r| r.attempt.as_str()).collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    assert!(got.iter().all(|r| r.idempotency_key == a.action_id));
    assert_eq!(s.receiver.accepted().len(), 1);
    // Kafka acknowledged the first time and was never sent to again.
    assert_eq!(s.topic().len(), 1);
    let row = &store.actions_for(&a.upload_id).await.unwrap()[0];
    assert!(row.delivered_at.is_some());
    assert_eq!(row.attempts, 3);
    assert_eq!(row.last_error.as_deref(), Some("webhook: HTTP 500"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_parks_the_action_until_an_operator_requeues_it() {
    let s = setup().await;
    let (store, _dir) = sqlite().await;
    let a = action("u1", PlatformAction::Takedown, None);
    let later = action("u1", PlatformAction::Reinstate, Some("d1"));
    let other = action("u2", PlatformAction::Takedown, None);
    for x in [&a, &later] {
        store.enqueue_action(x).await.unwrap();
    }
    // The receiver answers in arrival order, so u1's takedown must be the
    // only request in flight when the 400 is handed out.
    s.receiver.answer_next(&[400]);
    let relay = s.relay(&store, "relay-a", true);
    drain(std::slice::from_ref(&relay)).await;
    store.enqueue_action(&other).await.unwrap();
    drain(std::slice::from_ref(&relay)).await;

    // The refused takedown is parked (and holds back u1's reinstatement);
    // u2 is delivered.
    let got = s.receiver.got();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|r| r.answered == 400).count(), 1);
    assert_eq!(s.receiver.accepted()[0].msg.action_id, other.action_id);
    assert_eq!(store.parked_action_count().await.unwrap(), 1);
    assert_eq!(store.pending_action_count().await.unwrap(), 2);
    let rows = store.actions_for(&a.upload_id).await.unwrap();
    assert!(rows[0].parked_at.is_some() && rows[0].kafka_done && !rows[0].webhook_done);
    assert_eq!(rows[0].last_error.as_deref(), Some("webhook: HTTP 400"));
    let metrics = vigil_hook::render_metrics();
    let rejected = metrics
        .lines()
        .find(|l| {
            l.starts_with("vigil_action_delivery_failures_total")
                && l.contains("reason=\"rejected\"")
        })
        .unwrap();
    assert!(!rejected.ends_with(" 0"), "{rejected}");
    // Nothing more is sent however long we wait.
    assert_eq!(
        relay
            .run_once(Utc::now() + ChronoDuration::days(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.receiver.got().len(), 2);

    // Fixed on the platform's side: re-queued, delivered in order, and the
    // Kafka sink (which acknowledged) gets nothing twice.
    assert_eq!(store.requeue_parked_actions().await.unwrap(), 1);
    drain(std::slice::from_ref(&relay)).await;
    assert_eq!(store.pending_action_count().await.unwrap(), 0);
    let all = s.receiver.got();
    let u1: Vec<(&str, u16)> = all
        .iter()
        .filter(|r| r.msg.upload_id.as_str() == "u1")
        .map(|r| (r.msg.action.as_str(), r.answered))
        .collect();
    assert_eq!(
        u1,
        [("takedown", 400), ("takedown", 200), ("reinstate", 200)]
    );
    let topic = s.topic();
    let counts = count_by_id(topic.iter().map(|(_, m)| m.action_id.as_str()));
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

/// Two relays (as in two hook processes) drain the same outbox at once:
/// every action reaches each sink exactly once.
async fn two_relays(store: Store) {
    let s = setup().await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let a = action(&format!("c{i}"), PlatformAction::Takedown, None);
        store.enqueue_action(&a).await.unwrap();
        ids.push(a.action_id);
        if i % 3 == 0 {
            let r = action(
                &format!("c{i}"),
                PlatformAction::Reinstate,
                Some(&format!("d{i}")),
            );
            store.enqueue_action(&r).await.unwrap();
            ids.push(r.action_id);
        }
    }
    // A few transient failures along the way.
    s.receiver.answer_next(&[503, 200, 503, 200, 200, 429]);
    let relays = [
        s.relay(&store, "relay-a", true),
        s.relay(&store, "relay-b", true),
    ];
    drain(&relays).await;
    assert_eq!(store.pending_action_count().await.unwrap(), 0);

    let accepted = s.receiver.accepted();
    let webhook = count_by_id(accepted.iter().map(|r| r.msg.action_id.as_str()));
    assert_eq!(webhook.len(), ids.len());
    assert!(webhook.values().all(|n| *n == 1), "{webhook:?}");
    let topic = s.topic();
    let kafka = count_by_id(topic.iter().map(|(_, m)| m.action_id.as_str()));
    assert_eq!(kafka.len(), ids.len());
    assert!(kafka.values().all(|n| *n == 1), "{kafka:?}");
    // Per upload, the reinstatement came after the takedown on both sinks.
    for i in (0..60).step_by(3) {
        let u = format!("c{i}");
        let on_webhook: Vec<&str> = accepted
            .iter()
            .filter(|r| r.msg.upload_id.as_str() == u)
            .map(|r| r.msg.action.as_str())
            .collect();
        assert_eq!(on_webhook, ["takedown", "reinstate"], "{u}");
        let on_topic: Vec<&str> = topic
            .iter()
            .filter(|(k, _)| *k == u)
            .map(|(_, m)| m.action.as_str())
            .collect();
        assert_eq!(on_topic, ["takedown", "reinstate"], "{u}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_deliver_each_action_once_on_sqlite() {
    let (store, _dir) = sqlite().await;
    two_relays(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relays_deliver_each_action_once_on_postgres() {
    let (store, schema) = postgres().await;
    two_relays(store.clone()).await;
    store.drop_schema(&schema).await.unwrap();
}

/// The whole path: an automated takedown, an appeal a reviewer overturns,
/// and the relay delivers the takedown, then the reinstatement (the store
/// writes both actions; Kafka only here, no webhook configured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overturned_takedown_is_reinstated_after_it() {
    let s = setup().await;
    let (store, _dir) = sqlite().await;
    let id = UploadId::parse("appealed").unwrap();
    store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: id.clone(),
            media_url: "file:///media/appealed".into(),
            content_type: None,
            platform_context: Default::default(),
            received_at: Utc::now(),
            platform: None,
            sample_key: None,
        })
        .await
        .unwrap();
    let verdict = Verdict {
        v: MESSAGE_VERSION,
        upload_id: id.clone(),
        policy_version: "p1".into(),
        action: Action::Takedown,
        signals: vec![],
        matches: vec![],
        classifier: None,
        reasons: vec!["matched a banked entry".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    assert!(store.write_verdict(&verdict, None).await.unwrap());
    let relay = s.relay(&store, "relay-a", false);
    // The takedown goes out first, on its own.
    drain(std::slice::from_ref(&relay)).await;

    store
        .file_appeal("appealed", None, "platform", None)
        .await
        .unwrap();
    let claim = store
        .claim_next("lina", Role::Lead, Duration::from_secs(300))
        .await
        .unwrap()
        .expect("the appeal is queued");
    store
        .decide(&DecisionInput {
            upload_id: "appealed",
            policy_version: "p1",
            round: claim.round,
            reviewer: "lina",
            decision: Decision::Overturn,
            reason: "false_match",
            note: None,
        })
        .await
        .unwrap();
    drain(std::slice::from_ref(&relay)).await;

    let topic = s.topic();
    let kinds: Vec<(&str, ActionCause)> = topic
        .iter()
        .map(|(_, m)| (m.action.as_str(), m.cause))
        .collect();
    assert_eq!(
        kinds,
        [
            ("takedown", ActionCause::Automated),
            ("reinstate", ActionCause::Human)
        ]
    );
    assert!(topic.iter().all(|(k, _)| k == "appealed"));
    assert!(s.receiver.got().is_empty(), "no webhook configured");
}
