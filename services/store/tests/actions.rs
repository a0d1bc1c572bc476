//! Claiming actions for delivery on both backends: leases keep relays
//! apart, an action waits for the older actions of its upload, parked
//! actions wait for an operator, and concurrent claimers get every action
//! exactly once.

use chrono::{Duration, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use vigil_pipeline::{ActionCause, ActionMsg, PlatformAction, UploadId, MESSAGE_VERSION};
use vigil_store::retro::Sink;
use vigil_store::Store;

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn on_both<F, Fut>(connections: u32, f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/actions.db", dir.path().display());
    f(Store::connect(&url, connections, None).await.unwrap()).await;
    let schema = format!("actions_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), connections, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test (run scripts/ensure-postgres.sh)");
    f(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
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

async fn claims_leases_order_and_parking(store: Store) {
    let takedown = action("u1", PlatformAction::Takedown, None);
    let reinstate = action("u1", PlatformAction::Reinstate, Some("d1"));
    let other = action("u2", PlatformAction::Takedown, None);
    for a in [&takedown, &reinstate, &other] {
        store.enqueue_action(a).await.unwrap();
    }
    let now = Utc::now() + Duration::seconds(1);

    // The reinstatement waits for its takedown; one relay gets the rest.
    let first = store.claim_due_actions("r1", now, LEASE, 10).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|p| p.msg.action_id.as_str()).collect();
    assert_eq!(ids, [takedown.action_id.as_str(), other.action_id.as_str()]);
    // A second relay finds nothing while the lease runs.
    assert!(store
        .claim_due_actions("r2", now, LEASE, 10)
        .await
        .unwrap()
        .is_empty());

    // The takedown is delivered; only then is the reinstatement due.
    store
        .mark_action_sink(&takedown.action_id, Sink::Kafka, true)
        .await
        .unwrap();
    let second = store.claim_due_actions("r2", now, LEASE, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].msg.action, PlatformAction::Reinstate);

    // A failure releases the claim and postpones the action.
    store
        .mark_action_failed(
            &reinstate.action_id,
            "webhook: 503",
            now + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(store
        .claim_due_actions("r1", now, LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    let later = store
        .claim_due_actions("r1", now + Duration::hours(2), LEASE, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = later.iter().map(|p| p.msg.action_id.as_str()).collect();
    assert_eq!(
        ids,
        [reinstate.action_id.as_str(), other.action_id.as_str()],
        "the postponed one, and u2 whose lease expired"
    );
    assert_eq!(later[0].attempts, 1);

    // A relay that died: its lease expires and another relay takes over.
    let t = now + Duration::hours(2) + Duration::seconds(61);
    let taken = store.claim_due_actions("r3", t, LEASE, 10).await.unwrap();
    assert_eq!(taken.len(), 2);

    // A permanent refusal parks the action: not due, still pending.
    store
        .park_action(&other.action_id, "webhook: 400")
        .await
        .unwrap();
    let t = t + Duration::hours(1);
    let due: Vec<String> = store
        .claim_due_actions("r1", t, LEASE, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.msg.action_id)
        .collect();
    assert_eq!(due, std::slice::from_ref(&reinstate.action_id));
    assert_eq!(store.pending_action_count().await.unwrap(), 2);
    assert_eq!(store.parked_action_count().await.unwrap(), 1);
    let rows = store
        .actions_for(&UploadId::parse("u2").unwrap())
        .await
        .unwrap();
    assert!(rows[0].parked_at.is_some());
    assert_eq!(rows[0].last_error.as_deref(), Some("webhook: 400"));

    // An operator re-queues it.
    assert_eq!(store.requeue_parked_actions().await.unwrap(), 1);
    let t = t + Duration::hours(1);
    let due = store.claim_due_actions("r1", t, LEASE, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(store.parked_action_count().await.unwrap(), 0);
}

#[tokio::test]
async fn claims_leases_order_and_parking_on_both_backends() {
    on_both(4, claims_leases_order_and_parking).await;
}

/// 8 relays drain 300 actions (two per upload for half of them): every
/// action is claimed exactly once, and no reinstatement is claimed before
/// its takedown was delivered.
async fn concurrent_relays(store: Store) {
    const UPLOADS: usize = 200;
    let mut expected = BTreeSet::new();
    for i in 0..UPLOADS {
        let u = format!("c{i}");
        let t = action(&u, PlatformAction::Takedown, None);
        store.enqueue_action(&t).await.unwrap();
        expected.insert(t.action_id);
        if i % 2 == 0 {
            let r = action(&u, PlatformAction::Reinstate, Some(&format!("d{i}")));
            store.enqueue_action(&r).await.unwrap();
            expected.insert(r.action_id);
        }
    }
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for r in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let me = format!("relay{r}");
            let mut got = Vec::new();
            loop {
                let now = Utc::now();
                let batch = store.claim_due_actions(&me, now, LEASE, 4).await.unwrap();
                if batch.is_empty() {
                    if store.pending_action_count().await.unwrap() == 0 {
                        break;
                    }
                    // Others hold the rest, or a reinstatement waits for a
                    // takedown another relay is delivering.
                    tokio::task::yield_now().await;
                    continue;
                }
                for p in batch {
                    if p.msg.action == PlatformAction::Reinstate {
                        let all = store.actions_for(&p.msg.upload_id).await.unwrap();
                        assert!(
                            all[0].delivered_at.is_some(),
                            "a reinstatement was claimed before its takedown was delivered"
                        );
                    }
                    store
                        .mark_action_sink(&p.msg.action_id, Sink::Kafka, true)
                        .await
                        .unwrap();
                    got.push(p.msg.action_id);
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), unique.len(), "an action was claimed twice");
    assert_eq!(unique, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_relays_claim_every_action_once_on_both_backends() {
    on_both(8, concurrent_relays).await;
}
