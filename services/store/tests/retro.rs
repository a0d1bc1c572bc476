//! Self-correction tables on both backends: retained signals, the
//! retro-hunt cursor and hits, per-entry counters from verdicts and human
//! decisions, quarantine and restore, and the actions outbox.

use chrono::{Duration, TimeZone, Utc};
use vigil_hashdb::{Bank, BankAction, BankEntry, Match, SignalType};
use vigil_pipeline::{
    Action, PlatformAction, SignalValue, UploadId, UploadMsg, Verdict, MESSAGE_VERSION,
};
use vigil_store::retro::{EntryCursor, RetroHitRow, Sink};
use vigil_store::{AuditQuery, Decision, DecisionInput, Role, Store};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn on_both<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/retro.db", dir.path().display());
    f(Store::connect(&url, 4, None).await.unwrap()).await;
    let schema = format!("retro_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), 4, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test (run scripts/ensure-postgres.sh)");
    f(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}

const PDQ: &str = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";

async fn decided(store: &Store, id: &str, action: Action, matches: Vec<Match>, days_ago: i64) {
    let upload_id = UploadId::parse(id).unwrap();
    let received = Utc::now() - Duration::days(days_ago);
    store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: upload_id.clone(),
            media_url: format!("file:///media/{id}"),
            content_type: None,
            platform_context: Default::default(),
            received_at: received,
            platform: None,
            sample_key: None,
        })
        .await
        .unwrap();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "p1".into(),
        action: action.clone(),
        signals: vec![
            SignalValue {
                signal_type: SignalType::Md5,
                value: "ab".repeat(16),
                quality: None,
            },
            SignalValue {
                signal_type: SignalType::Sha256,
                value: "cd".repeat(32),
                quality: None,
            },
            SignalValue {
                signal_type: SignalType::Pdq,
                value: PDQ.into(),
                quality: Some(88),
            },
            SignalValue {
                signal_type: SignalType::Dhash,
                value: "0f0f3c3cf0f0a5a5".into(),
                quality: None,
            },
        ],
        matches,
        classifier: None,
        reasons: vec!["test".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: received + Duration::seconds(1),
    };
    let item = (action == Action::Review).then(|| vigil_pipeline::ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "p1".into(),
        queue_reason: "borderline_match".into(),
        priority: 0.5,
        created_at: Utc::now(),
    });
    assert!(store.write_verdict(&v, item.as_ref()).await.unwrap());
    assert!(
        !store.write_verdict(&v, item.as_ref()).await.unwrap(),
        "redelivery"
    );
}

fn m(entry: &str) -> Match {
    Match {
        bank: "b1".into(),
        entry_id: entry.into(),
        signal_type: SignalType::Pdq,
        distance: 3,
        labels: vec![],
    }
}

async fn retained_signals_and_retro_bookkeeping(store: Store) {
    decided(&store, "old", Action::None, vec![], 400).await;
    decided(&store, "pass", Action::None, vec![], 2).await;
    decided(&store, "down", Action::Takedown, vec![m("e1")], 1).await;
    let since = (Utc::now() - Duration::days(30)).to_rfc3339();
    let rows = store.retained_passed(&since, None, 10).await.unwrap();
    assert_eq!(rows.len(), 1, "only recent passed uploads: {rows:?}");
    assert_eq!(rows[0].upload_id, "pass");
    assert_eq!(rows[0].pdq.as_deref(), Some(PDQ));
    assert_eq!(rows[0].pdq_quality, Some(88));
    assert_eq!(rows[0].dhash.as_deref(), Some("0f0f3c3cf0f0a5a5"));
    assert_eq!(rows[0].phash, None);
    assert_eq!(rows[0].md5.as_deref(), Some("ab".repeat(16).as_str()));
    let after = (rows[0].received_at.as_str(), rows[0].upload_id.as_str());
    assert!(store
        .retained_passed(&since, Some(after), 10)
        .await
        .unwrap()
        .is_empty());
    let cutoff = (Utc::now() - Duration::days(180)).to_rfc3339();
    assert_eq!(store.purge_retained(&cutoff).await.unwrap(), 1);
    assert!(store.retained_for("old").await.unwrap().is_none());
    assert!(store.retained_for("down").await.unwrap().is_some());

    // Entry cursor: every live entry once, in order, resumable.
    store
        .upsert_bank(&Bank::new("b1", BankAction::Takedown))
        .await
        .unwrap();
    let entries: Vec<BankEntry> = (0..3)
        .map(|i| BankEntry::new("b1", &format!("e{i}"), SignalType::Pdq, PDQ))
        .collect();
    store.upsert_entries(&entries).await.unwrap();
    assert_eq!(store.retrohunt_cursor("main").await.unwrap(), None);
    let first = store
        .entries_changed_after(&EntryCursor::default(), 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    store
        .set_retrohunt_cursor("main", &first[1].0)
        .await
        .unwrap();
    let cur = store.retrohunt_cursor("main").await.unwrap().unwrap();
    let rest = store.entries_changed_after(&cur, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].1.entry_id, first[0].1.entry_id);
    assert_ne!(rest[0].1.entry_id, first[1].1.entry_id);

    let hit = RetroHitRow {
        upload_id: "pass".into(),
        bank: "b1".into(),
        entry_id: "e0".into(),
        received_at: rows[0].received_at.clone(),
        found_at: Utc::now().to_rfc3339(),
        delay_seconds: 172_800.0,
        late_action: "takedown".into(),
    };
    assert!(store.record_retro_hit(&hit).await.unwrap());
    assert!(!store.record_retro_hit(&hit).await.unwrap());
    let from = (Utc::now() - Duration::days(7)).to_rfc3339();
    let to = Utc::now().to_rfc3339();
    assert_eq!(
        store.retro_misses(&from, &to).await.unwrap().get("b1"),
        Some(&1)
    );
    assert_eq!(store.retro_hits_for("pass").await.unwrap().len(), 1);
}

#[tokio::test]
async fn retained_signals_and_retro_bookkeeping_on_both_backends() {
    on_both(retained_signals_and_retro_bookkeeping).await;
}

async fn decide(store: &Store, id: &str, reviewer: &str, decision: Decision, reason: &str) {
    let c = store
        .claim_next(reviewer, Role::Lead, std::time::Duration::from_secs(300))
        .await
        .unwrap()
        .expect("an item to claim");
    assert_eq!(c.upload_id, id);
    store
        .decide(&DecisionInput {
            upload_id: id,
            policy_version: "p1",
            round: c.round,
            reviewer,
            decision,
            reason,
            note: None,
        })
        .await
        .unwrap();
}

async fn counters_actions_and_quarantine(store: Store) {
    // An automated takedown matching e1: one match, one takedown action.
    decided(&store, "auto", Action::Takedown, vec![m("e1")], 0).await;
    let acts = store
        .actions_for(&UploadId::parse("auto").unwrap())
        .await
        .unwrap();
    assert_eq!(acts.len(), 1, "redelivery queued nothing twice");
    assert_eq!(acts[0].msg.action, PlatformAction::Takedown);
    // Its appeal is overturned: a reinstatement, an overturn on e1.
    store
        .file_appeal("auto", None, "platform", None)
        .await
        .unwrap();
    decide(&store, "auto", "alice", Decision::Overturn, "false_match").await;
    let acts = store
        .actions_for(&UploadId::parse("auto").unwrap())
        .await
        .unwrap();
    assert_eq!(
        acts.iter()
            .map(|a| a.msg.action.as_str())
            .collect::<Vec<_>>(),
        vec!["takedown", "reinstate"]
    );
    assert!(acts[1].msg.decision_id.is_some());

    // A borderline match upheld by a person: a human takedown, an uphold on e1.
    decided(&store, "rev", Action::Review, vec![m("e1"), m("e2")], 0).await;
    decide(&store, "rev", "bob", Decision::Uphold, "tve_content").await;
    let acts = store
        .actions_for(&UploadId::parse("rev").unwrap())
        .await
        .unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].msg.action, PlatformAction::Takedown);
    assert_eq!(acts[0].msg.cause, vigil_pipeline::ActionCause::Human);

    let c = store.entry_lifetime_counts("b1", "e1").await.unwrap();
    assert_eq!((c.matches, c.upheld, c.overturned), (2, 1, 1));
    assert!(store.record_dispute("b1", "e1", "te:123").await.unwrap());
    assert!(!store.record_dispute("b1", "e1", "te:123").await.unwrap());
    let all = store.entry_counts_since_restore().await.unwrap();
    let e1 = all.iter().find(|r| r.entry_id == "e1").unwrap();
    assert_eq!(e1.counts.disputed, 1);
    let banks = store.bank_counts_since_restore().await.unwrap();
    assert_eq!(banks["b1"].matches, 3);

    // Quarantine, list, restore: counts start again after a restore.
    assert!(store
        .record_quarantine("b1", "e1", "3 of 3 overturned", "system")
        .await
        .unwrap());
    assert!(!store
        .record_quarantine("b1", "e1", "again", "system")
        .await
        .unwrap());
    let q = store.quarantined().await.unwrap();
    assert_eq!((q.len(), q[0].entry_id.as_str()), (1, "e1"));
    assert_eq!(
        store.quarantined_counts().await.unwrap().get("b1"),
        Some(&1)
    );
    assert!(!store
        .record_restore("b1", "e9", "lead", "never quarantined")
        .await
        .unwrap());
    assert!(store
        .record_restore("b1", "e1", "lead", "checked: a true match")
        .await
        .unwrap());
    assert!(store.quarantined().await.unwrap().is_empty());
    let all = store.entry_counts_since_restore().await.unwrap();
    assert!(
        all.iter().all(|r| r.entry_id != "e1"),
        "e1 restarts from zero: {all:?}"
    );
    let audit = store
        .audit_log(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "quarantine_entry" && a.actor == "system"));
    assert!(audit.iter().any(
        |a| a.action == "restore_entry" && a.reason.as_deref() == Some("checked: a true match")
    ));

    // The outbox: due, marked per sink, failures postponed, delivered once.
    let now = Utc::now() + Duration::seconds(1);
    let due = store.due_actions(now, 100).await.unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(store.pending_action_count().await.unwrap(), 3);
    let (a, b, c) = (
        &due[0].msg.action_id,
        &due[1].msg.action_id,
        &due[2].msg.action_id,
    );
    store.mark_action_sink(a, Sink::Kafka, false).await.unwrap();
    store
        .mark_action_failed(a, "webhook: 503", now + Duration::hours(1))
        .await
        .unwrap();
    store.mark_action_sink(b, Sink::Kafka, false).await.unwrap();
    store
        .mark_action_sink(b, Sink::Webhook, true)
        .await
        .unwrap();
    store.mark_action_delivered(c).await.unwrap();
    let due = store.due_actions(now, 100).await.unwrap();
    assert!(due.is_empty(), "a is postponed, b and c delivered: {due:?}");
    let later = store
        .due_actions(now + Duration::hours(2), 100)
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert!(later[0].kafka_done && !later[0].webhook_done);
    assert_eq!(later[0].attempts, 1);
    assert_eq!(store.pending_action_count().await.unwrap(), 1);
    let _ = Utc.timestamp_opt(0, 0);
}

#[tokio::test]
async fn counters_actions_and_quarantine_on_both_backends() {
    on_both(counters_actions_and_quarantine).await;
}
