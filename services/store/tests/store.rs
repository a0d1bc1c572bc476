//! The store against both backends: a SQLite file and the local PostgreSQL
//! (127.0.0.1:5432, database `test`, a fresh schema per test; override with
//! `VIGIL_TEST_POSTGRES_URL`).

use chrono::Utc;
use vigil_hashdb::{Bank, BankAction, BankEntry, SignalType};
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_store::{Store, UploadStatus};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn upload(id: &str) -> UploadMsg {
    UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: UploadId::parse(id).unwrap(),
        media_url: format!("file:///media/{id}"),
        content_type: Some("image/png".into()),
        platform_context: Default::default(),
        received_at: Utc::now(),
        platform: None,
        sample_key: None,
    }
}

fn verdict(id: &str, action: Action) -> Verdict {
    Verdict {
        v: MESSAGE_VERSION,
        upload_id: UploadId::parse(id).unwrap(),
        policy_version: "p1".into(),
        action,
        signals: vec![],
        matches: vec![],
        classifier: None,
        reasons: vec!["test".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    }
}

async fn exercise(store: &Store) {
    // Uploads: idempotent record, status moves forward only.
    let u = upload("u1");
    assert!(store.record_upload(&u).await.unwrap());
    assert!(
        !store.record_upload(&u).await.unwrap(),
        "second record is a no-op"
    );
    store
        .set_upload_status(&u.upload_id, UploadStatus::Enqueued, None)
        .await
        .unwrap();
    let row = store.get_upload(&u.upload_id).await.unwrap().unwrap();
    assert_eq!(row.status, UploadStatus::Enqueued);
    assert_eq!(row.msg, u);
    assert_eq!(store.undecided_uploads(10).await.unwrap().len(), 1);

    // Verdicts: exactly one per (upload, policy version), review item with it.
    let v = verdict("u1", Action::Review);
    let item = ReviewItem {
        v: MESSAGE_VERSION,
        upload_id: v.upload_id.clone(),
        policy_version: "p1".into(),
        queue_reason: "borderline_match".into(),
        priority: 0.7,
        created_at: Utc::now(),
    };
    assert!(store.write_verdict(&v, Some(&item)).await.unwrap());
    assert!(
        !store.write_verdict(&v, Some(&item)).await.unwrap(),
        "redelivery writes nothing"
    );
    assert_eq!(store.verdict_count_for(&v.upload_id).await.unwrap(), 1);
    assert_eq!(store.open_review_items(10).await.unwrap().len(), 1);
    assert_eq!(
        store
            .verdict_for(&v.upload_id, "p1")
            .await
            .unwrap()
            .unwrap(),
        v
    );
    assert_eq!(
        store
            .get_upload(&u.upload_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        UploadStatus::Decided
    );
    assert!(store.undecided_uploads(10).await.unwrap().is_empty());
    // A decided upload never moves back.
    store
        .set_upload_status(&u.upload_id, UploadStatus::Failed, Some("x"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_upload(&u.upload_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        UploadStatus::Decided
    );
    assert_eq!(
        store.verdict_counts().await.unwrap().get("review"),
        Some(&1)
    );

    // Banks: idempotent entries, tombstones, load into the hash database.
    let mut bank = Bank::new("b1", BankAction::Takedown);
    bank.labels = vec!["demo".into()];
    store.upsert_bank(&bank).await.unwrap();
    store.upsert_bank(&bank).await.unwrap();
    let pdq = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
    let entries = vec![
        BankEntry::new("b1", "e1", SignalType::Pdq, pdq),
        BankEntry::new(
            "b1",
            "e2",
            SignalType::Md5,
            "d41d8cd98f00b204e9800998ecf8427e",
        ),
    ];
    assert_eq!(store.upsert_entries(&entries).await.unwrap(), 2);
    assert_eq!(
        store.upsert_entries(&entries).await.unwrap(),
        0,
        "re-import changes nothing"
    );
    let (db, rejected) = store.load_hashdb().await.unwrap();
    assert_eq!((db.len(), rejected), (2, 0));
    assert!(store.delete_entry("b1", "e1").await.unwrap());
    assert!(!store.delete_entry("b1", "e1").await.unwrap());
    assert_eq!(store.load_hashdb().await.unwrap().0.len(), 1);
    assert_eq!(
        store.upsert_entries(&entries[..1]).await.unwrap(),
        1,
        "re-import revives a tombstone"
    );
    assert_eq!(store.entry_counts().await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::connect(&url, 4, None).await.unwrap();
    exercise(&store).await;
    // Reopening runs no migration twice.
    drop(store);
    let again = Store::connect(&url, 4, None).await.unwrap();
    assert_eq!(
        again.verdict_counts().await.unwrap().get("review"),
        Some(&1)
    );
}

#[tokio::test]
async fn postgres_store() {
    let schema = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&pg_url(), 4, Some(&schema))
        .await
        .expect("PostgreSQL must be running on 127.0.0.1:5432 with database `test` (see README)");
    assert!(store.is_postgres());
    exercise(&store).await;
    let again = Store::connect(&pg_url(), 2, Some(&schema)).await.unwrap();
    assert_eq!(
        again.verdict_counts().await.unwrap().get("review"),
        Some(&1)
    );
    drop(again);
    drop(store);
    let admin = Store::connect(&pg_url(), 1, None).await.unwrap();
    admin.drop_schema(&schema).await.unwrap();
}

#[tokio::test]
async fn rejects_bad_urls_and_schemas() {
    assert!(Store::connect("mysql://x", 1, None).await.is_err());
    assert!(Store::connect(&pg_url(), 1, Some("x; DROP TABLE y"))
        .await
        .is_err());
}
