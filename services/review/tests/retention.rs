//! Evidence retention on SQLite and PostgreSQL: the media of removed
//! uploads are purged from the media store after the retention period, the
//! purge is audited, and media of uploads left up are kept.

use chrono::Utc;
use std::time::Duration;
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_review::{ReviewConfig, ReviewState};
use vigil_store::{AuditQuery, Decision, DecisionInput, MediaStore, Role, Store};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn seed(store: &Store, media: &MediaStore, id: &str, action: Action, review: bool) -> String {
    let upload_id = UploadId::parse(id).unwrap();
    let url = media.put(id, b"\x89PNG\r\n\x1a\nfake").await.unwrap();
    store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: upload_id.clone(),
            media_url: url.clone(),
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
        action,
        signals: vec![],
        matches: vec![],
        classifier: None,
        reasons: vec![],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    let item = review.then(|| ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "p1".into(),
        queue_reason: "borderline_match".into(),
        priority: 0.5,
        created_at: Utc::now(),
    });
    store.write_verdict(&v, item.as_ref()).await.unwrap();
    url
}

async fn decide_next(store: &Store, decision: Decision, reason: &str) {
    let c = store
        .claim_next("alice", Role::Reviewer, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    store
        .decide(&DecisionInput {
            upload_id: &c.upload_id,
            policy_version: &c.policy_version,
            round: c.round,
            reviewer: "alice",
            decision,
            reason,
            note: None,
        })
        .await
        .unwrap();
}

async fn exercise(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let media = MediaStore::open(dir.path()).unwrap();
    let gone = seed(&store, &media, "gone", Action::Review, true).await;
    decide_next(&store, Decision::Uphold, "tve_content").await;
    let up = seed(&store, &media, "up", Action::Review, true).await;
    decide_next(&store, Decision::Overturn, "false_match").await;
    let auto = seed(&store, &media, "auto", Action::Takedown, false).await;
    let fine = seed(&store, &media, "fine", Action::None, false).await;

    // Within the retention period nothing goes.
    let keep = ReviewState::new(store.clone(), media.clone(), None, ReviewConfig::default());
    assert_eq!(keep.purge_expired_evidence().await.unwrap(), 0);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let config = ReviewConfig {
        evidence_retention: Duration::ZERO,
        ..ReviewConfig::default()
    };
    let state = ReviewState::new(store.clone(), media.clone(), None, config);
    assert_eq!(
        state.purge_expired_evidence().await.unwrap(),
        2,
        "the reviewed and the automated takedown"
    );
    assert_eq!(state.purge_expired_evidence().await.unwrap(), 0, "once");
    assert!(media.get(&gone, 100).await.is_err());
    assert!(media.get(&auto, 100).await.is_err());
    assert!(
        media.get(&up, 100).await.is_ok(),
        "left up: not evidence of a removal"
    );
    assert!(media.get(&fine, 100).await.is_ok());
    assert!(store.media_purged_at("gone").await.unwrap().is_some());
    assert!(store.media_purged_at("up").await.unwrap().is_none());
    let purges = store
        .audit_log(&AuditQuery {
            action: Some("purge".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(purges.len(), 2);
    assert!(purges
        .iter()
        .all(|p| p.actor == "system" && p.reason.as_deref() == Some("retention_expired")));
}

#[tokio::test]
async fn evidence_is_purged_after_retention_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/r.db", dir.path().display());
    exercise(Store::connect(&url, 2, None).await.unwrap()).await;
    let schema = format!("retention_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), 2, Some(&schema)).await.unwrap();
    exercise(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}
