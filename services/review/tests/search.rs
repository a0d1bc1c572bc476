//! Full-text search over the audit log and its cases, on SQLite and
//! PostgreSQL (a fresh schema per test; override the server with
//! `VIGIL_TEST_POSTGRES_URL`).

use chrono::Utc;
use std::time::Duration;
use vigil_hashdb::{Match, SignalType};
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_review::search::SearchIndex;
use vigil_store::{Decision, DecisionInput, Role, Store};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn seed(store: &Store, id: &str, bank: &str, label: &str) {
    let upload_id = UploadId::parse(id).unwrap();
    store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: upload_id.clone(),
            media_url: format!("file:///m/{id}"),
            content_type: None,
            platform_context: Default::default(),
            received_at: Utc::now(),
            platform: None,
            sample_key: None,
        })
        .await
        .unwrap();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "p1".into(),
        action: Action::Review,
        signals: vec![],
        matches: vec![Match {
            bank: bank.into(),
            entry_id: "e1".into(),
            signal_type: SignalType::Pdq,
            distance: 20,
            labels: vec![label.into()],
        }],
        classifier: None,
        reasons: vec![],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    let item = ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "p1".into(),
        queue_reason: "borderline_match".into(),
        priority: 0.5,
        created_at: Utc::now(),
    };
    store.write_verdict(&v, Some(&item)).await.unwrap();
}

async fn decide(store: &Store, who: &str, decision: Decision, reason: &str, note: &str) {
    let c = store
        .claim_next(who, Role::Reviewer, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    store
        .decide(&DecisionInput {
            upload_id: &c.upload_id,
            policy_version: &c.policy_version,
            round: c.round,
            reviewer: who,
            decision,
            reason,
            note: Some(note),
        })
        .await
        .unwrap();
}

async fn hits(index: &SearchIndex, store: &Store, q: &str) -> Vec<(String, String)> {
    index
        .search(store, q, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.actor, h.action))
        .collect()
}

async fn exercise(store: Store) {
    seed(&store, "a1", "tve-demo", "gifct:glorification").await;
    seed(&store, "a2", "other-bank", "gifct:recruitment").await;
    decide(
        &store,
        "alice",
        Decision::Uphold,
        "glorification",
        "Caption names the attacker",
    )
    .await;
    decide(
        &store,
        "bob",
        Decision::Exempt,
        "journalism",
        "Reuters report on the trial",
    )
    .await;
    let index = SearchIndex::new().unwrap();
    let pair = |a: &str, b: &str| vec![(a.to_string(), b.to_string())];
    assert_eq!(hits(&index, &store, "reuters").await, pair("bob", "decide"));
    assert_eq!(
        hits(&index, &store, "bank:tve-demo AND action:decide").await,
        pair("alice", "decide")
    );
    assert_eq!(hits(&index, &store, "decision:exempt").await.len(), 1);
    assert_eq!(
        hits(&index, &store, "label:recruitment").await.len(),
        2,
        "claim and decision of a2"
    );
    assert_eq!(
        hits(&index, &store, "actor:alice").await.len(),
        2,
        "claim and decision"
    );
    // Hostile strings are inert: no error, no match.
    assert!(
        hits(&index, &store, "'); DROP TABLE audit_log; -- <script>")
            .await
            .is_empty()
    );
    assert!(hits(&index, &store, "\"unbalanced (").await.is_empty());
    // New records are picked up before the next search.
    store
        .append_audit("lena", "sign_in", None, Some("reuters desk"))
        .await
        .unwrap();
    assert_eq!(hits(&index, &store, "reuters").await.len(), 2);
    // Date ranges.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let n = index
        .search(&store, "reuters", Some(&today), Some(&today), 10)
        .await
        .unwrap()
        .len();
    assert_eq!(n, 2);
    let n = index
        .search(
            &store,
            "reuters",
            Some("2001-01-01"),
            Some("2001-12-31"),
            10,
        )
        .await
        .unwrap()
        .len();
    assert_eq!(n, 0);
    assert!(index
        .search(&store, "reuters", Some("yesterday"), None, 10)
        .await
        .is_err());
    // The SQL side: records after a cursor, oldest first.
    let all = store.audit_after(None, 100).await.unwrap();
    let last = &all[all.len() - 2];
    let rest = store
        .audit_after(Some((&last.at, &last.audit_id)), 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].actor, "lena");
}

#[tokio::test]
async fn search_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/s.db", dir.path().display());
    exercise(Store::connect(&url, 2, None).await.unwrap()).await;
    let schema = format!("search_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), 2, Some(&schema)).await.unwrap();
    exercise(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}
