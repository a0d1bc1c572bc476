//! The review store (claims, leases, decisions, appeals, users, sessions,
//! audit log) on both backends: a SQLite file and the local PostgreSQL
//! (127.0.0.1:5432, database `test`, a fresh schema per test; override with
//! `VIGIL_TEST_POSTGRES_URL`).

use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_store::{AppealError, AuditQuery, DecideError, Decision, DecisionInput, Role, Store};

const LEASE: Duration = Duration::from_secs(300);

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Run `f` against a fresh SQLite file and a fresh PostgreSQL schema.
async fn on_both<F, Fut>(max_connections: u32, f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/review.db", dir.path().display());
    f(Store::connect(&url, max_connections, None).await.unwrap()).await;

    let schema = format!("review_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), max_connections, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test (run scripts/ensure-postgres.sh)");
    assert!(pg.is_postgres());
    f(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}

async fn add_item(store: &Store, id: &str, action: Action, priority: Option<f64>) {
    let upload_id = UploadId::parse(id).unwrap();
    let msg = UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        media_url: format!("file:///media/{id}"),
        content_type: Some("image/png".into()),
        platform_context: Default::default(),
        received_at: Utc::now(),
        platform: None,
        sample_key: None,
    };
    store.record_upload(&msg).await.unwrap();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "p1".into(),
        action,
        signals: vec![],
        matches: vec![],
        classifier: None,
        reasons: vec!["test".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    let item = priority.map(|priority| ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "p1".into(),
        queue_reason: "borderline_match".into(),
        priority,
        created_at: Utc::now(),
    });
    store.write_verdict(&v, item.as_ref()).await.unwrap();
}

fn input<'a>(
    id: &'a str,
    round: i64,
    reviewer: &'a str,
    decision: Decision,
    reason: &'a str,
) -> DecisionInput<'a> {
    DecisionInput {
        upload_id: id,
        policy_version: "p1",
        round,
        reviewer,
        decision,
        reason,
        note: None,
    }
}

async fn claims_decisions_and_refusals(store: Store) {
    add_item(&store, "low", Action::Review, Some(0.2)).await;
    add_item(&store, "high", Action::Review, Some(0.9)).await;

    // Most urgent first; the two reviewers get different items.
    let a = store
        .claim_next("alice", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.upload_id.as_str(), a.round, a.kind.as_str()),
        ("high", 0, "review")
    );
    let b = store
        .claim_next("bob", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.upload_id, "low");
    assert!(store
        .claim_next("carol", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.claims_of("alice").await.unwrap().len(), 1);

    // Hostile: an unknown reason, a reason of another decision, a note too long,
    // deciding an item someone else holds.
    let e = store
        .decide(&input("high", 0, "alice", Decision::Uphold, "journalism"))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::BadReason(..)), "{e}");
    let e = store
        .decide(&input(
            "high",
            0,
            "alice",
            Decision::Uphold,
            "'; DROP TABLE review_items; --",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::BadReason(..)), "{e}");
    let long = "x".repeat(5000);
    let e = store
        .decide(&DecisionInput {
            note: Some(&long),
            ..input("high", 0, "alice", Decision::Uphold, "tve_content")
        })
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::NoteTooLong), "{e}");
    let e = store
        .decide(&input("high", 0, "bob", Decision::Overturn, "false_match"))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::NotHeld), "{e}");
    let e = store
        .decide(&input("nope", 0, "bob", Decision::Overturn, "false_match"))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::NotFound), "{e}");

    // Alice decides; the same submission again is a replay, a different one a conflict.
    let note = "<script>alert(1)</script> ' OR 1=1 --";
    let d = store
        .decide(&DecisionInput {
            note: Some(note),
            ..input("high", 0, "alice", Decision::Uphold, "tve_content")
        })
        .await
        .unwrap();
    assert!(!d.replayed);
    assert_eq!(
        d.row.note.as_deref(),
        Some(note),
        "notes are stored verbatim"
    );
    let again = store
        .decide(&DecisionInput {
            note: Some(note),
            ..input("high", 0, "alice", Decision::Uphold, "tve_content")
        })
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.row.decision_id, d.row.decision_id);
    let e = store
        .decide(&input(
            "high",
            0,
            "alice",
            Decision::Overturn,
            "false_match",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::AlreadyDecided), "{e}");
    assert_eq!(
        store.review_outcome("high").await.unwrap().as_deref(),
        Some("taken_down")
    );
    assert_eq!(
        store
            .review_case("high", "p1")
            .await
            .unwrap()
            .unwrap()
            .status,
        "decided"
    );
    assert_eq!(store.unpublished_decisions(10).await.unwrap().len(), 1);
    store
        .mark_decision_published(&d.row.decision_id)
        .await
        .unwrap();
    assert!(store.unpublished_decisions(10).await.unwrap().is_empty());

    // Bob releases; the item is open again and can be claimed.
    assert!(store.release_claim("low", "p1", "bob").await.unwrap());
    assert!(!store.release_claim("low", "p1", "bob").await.unwrap());
    let c = store
        .claim_next("carol", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.upload_id, "low");

    // Carol escalates: round 1 goes to leads only, never back to Carol.
    store
        .decide(&input(
            "low",
            0,
            "carol",
            Decision::Escalate,
            "needs_specialist",
        ))
        .await
        .unwrap();
    assert!(store
        .claim_next("dave", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .is_none());
    assert!(
        store
            .claim_next("carol", Role::Lead, LEASE)
            .await
            .unwrap()
            .is_none(),
        "decided it before"
    );
    let l = store
        .claim_next("lena", Role::Lead, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (l.upload_id.as_str(), l.round, l.tier.as_str()),
        ("low", 1, "lead")
    );
    let e = store
        .decide(&input("low", 0, "lena", Decision::Exempt, "journalism"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, DecideError::AlreadyDecided),
        "a stale round is refused: {e}"
    );
    store
        .decide(&input("low", 1, "lena", Decision::Exempt, "journalism"))
        .await
        .unwrap();
    assert_eq!(
        store.review_outcome("low").await.unwrap().as_deref(),
        Some("exempted")
    );
    let rounds = store.decisions_for("low", "p1").await.unwrap();
    assert_eq!(
        rounds
            .iter()
            .map(|d| d.decision.as_str())
            .collect::<Vec<_>>(),
        ["escalate", "exempt"]
    );

    // The audit log has every claim, release and decision, with who and why.
    let log = store
        .audit_log(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "claim").count(),
        4,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "decide").count(),
        3,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "release").count(),
        1,
        "{actions:?}"
    );
    let found = store
        .audit_log(&AuditQuery {
            text: Some("SCRIPT>alert".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].actor, "alice");
    let by_lena = store
        .audit_log(&AuditQuery {
            actor: Some("lena".into()),
            action: Some("decide".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_lena.len(), 1);
    assert_eq!(by_lena[0].reason.as_deref(), Some("journalism"));
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.open, stats.claimed, stats.decided), (0, 0, 2));
}

#[tokio::test]
async fn claims_decisions_and_refusals_on_both_backends() {
    on_both(4, claims_decisions_and_refusals).await;
}

async fn leases_expire(store: Store) {
    add_item(&store, "i1", Action::Review, Some(0.5)).await;
    let a = store
        .claim_next("alice", Role::Reviewer, Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    assert!(store
        .claim_next("bob", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .renew_claim("i1", "p1", "alice", Duration::from_millis(300))
        .await
        .unwrap()
        .is_some());
    assert!(store
        .renew_claim("i1", "p1", "bob", LEASE)
        .await
        .unwrap()
        .is_none());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Alice's lease ran out: she can neither renew nor decide.
    assert!(store
        .renew_claim("i1", "p1", "alice", LEASE)
        .await
        .unwrap()
        .is_none());
    let e = store
        .decide(&input(
            "i1",
            a.round,
            "alice",
            Decision::Uphold,
            "tve_content",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::LeaseExpired), "{e}");
    // The item is back in the queue: Bob gets it and decides it.
    let b = store
        .claim_next("bob", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.upload_id, "i1");
    let e = store
        .decide(&input(
            "i1",
            a.round,
            "alice",
            Decision::Uphold,
            "tve_content",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, DecideError::NotHeld), "{e}");
    store
        .decide(&input(
            "i1",
            b.round,
            "bob",
            Decision::Overturn,
            "not_violating",
        ))
        .await
        .unwrap();
    assert_eq!(
        store.review_outcome("i1").await.unwrap().as_deref(),
        Some("left_up")
    );
}

#[tokio::test]
async fn leases_expire_on_both_backends() {
    on_both(4, leases_expire).await;
}

async fn appeals_go_to_a_different_reviewer(store: Store) {
    add_item(&store, "auto", Action::Takedown, None).await;
    add_item(&store, "rev", Action::Review, Some(0.5)).await;
    add_item(&store, "fine", Action::None, None).await;

    // Hostile and pointless appeals.
    assert!(matches!(
        store.file_appeal("missing", None, "platform", None).await,
        Err(AppealError::NotFound)
    ));
    assert!(matches!(
        store.file_appeal("fine", None, "platform", None).await,
        Err(AppealError::NotAppealable)
    ));
    assert!(matches!(
        store.file_appeal("rev", None, "platform", None).await,
        Err(AppealError::InReview)
    ));

    // Alice upholds the reviewed item; its uploader appeals.
    let c = store
        .claim_next("alice", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.upload_id, "rev");
    store
        .decide(&input("rev", 0, "alice", Decision::Uphold, "recruitment"))
        .await
        .unwrap();
    let ap = store
        .file_appeal(
            "rev",
            Some("p1"),
            "platform",
            Some("This is a news report."),
        )
        .await
        .unwrap();
    assert_eq!((ap.round, ap.replayed), (1, false));
    let again = store
        .file_appeal("rev", None, "platform", None)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.appeal_id, ap.appeal_id);

    // An automated takedown gets a review item through its appeal.
    let auto = store
        .file_appeal("auto", None, "platform", None)
        .await
        .unwrap();
    assert_eq!(auto.round, 0);

    // Alice decided "rev" before: she only gets the automated one.
    let a = store
        .claim_next("alice", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.upload_id.as_str(), a.kind.as_str()), ("auto", "appeal"));
    assert!(store
        .claim_next("alice", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .is_none());
    let b = store
        .claim_next("bob", Role::Reviewer, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (b.upload_id.as_str(), b.round, b.kind.as_str()),
        ("rev", 1, "appeal")
    );
    store
        .decide(&input("rev", 1, "bob", Decision::Exempt, "journalism"))
        .await
        .unwrap();
    let appeals = store.appeals_for("rev", "p1").await.unwrap();
    assert_eq!(appeals.len(), 1);
    assert_eq!(appeals[0].2.as_deref(), Some("This is a news report."));
    assert_eq!(
        (appeals[0].3.as_str(), appeals[0].4.as_deref()),
        ("decided", Some("exempt"))
    );
    // Agreement: Bob's look at Alice's decision disagreed.
    let stats = store.reviewer_stats("2000-01-01T00:00:00Z").await.unwrap();
    let alice = stats.iter().find(|s| s.reviewer == "alice").unwrap();
    assert_eq!(
        (
            alice.decisions,
            alice.uphold,
            alice.second_looks,
            alice.agreed
        ),
        (1, 1, 1, 0)
    );
    let bob = stats.iter().find(|s| s.reviewer == "bob").unwrap();
    assert_eq!((bob.decisions, bob.exempt, bob.second_looks), (1, 1, 0));
    assert!(store
        .reviewer_stats("2999-01-01T00:00:00Z")
        .await
        .unwrap()
        .is_empty());
    // Left up now: nothing more to appeal.
    assert!(matches!(
        store.file_appeal("rev", None, "platform", None).await,
        Err(AppealError::NotAppealable)
    ));
}

#[tokio::test]
async fn appeals_go_to_a_different_reviewer_on_both_backends() {
    on_both(4, appeals_go_to_a_different_reviewer).await;
}

async fn users_and_sessions(store: Store) {
    assert!(store
        .upsert_user("alice", Role::Reviewer, "$argon2id$fake")
        .await
        .unwrap());
    assert!(!store
        .upsert_user("alice", Role::Lead, "$argon2id$fake2")
        .await
        .unwrap());
    let u = store.user("alice").await.unwrap().unwrap();
    assert_eq!(
        (u.role, u.password_hash.as_str(), u.disabled),
        (Role::Lead, "$argon2id$fake2", false)
    );
    assert!(store.user("bob").await.unwrap().is_none());
    store
        .create_session("h1", "alice", "csrf1", LEASE)
        .await
        .unwrap();
    store
        .create_session("h2", "alice", "csrf2", Duration::from_millis(1))
        .await
        .unwrap();
    let s = store.session("h1").await.unwrap().unwrap();
    assert_eq!(
        (s.username.as_str(), s.role, s.csrf_token.as_str()),
        ("alice", Role::Lead, "csrf1")
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store.session("h2").await.unwrap().is_none(), "expired");
    assert!(store.session("nope").await.unwrap().is_none());
    store.delete_session("h1").await.unwrap();
    assert!(store.session("h1").await.unwrap().is_none());
    assert_eq!(store.users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn users_and_sessions_on_both_backends() {
    on_both(2, users_and_sessions).await;
}

/// 8 concurrent reviewers drain 1,000 items: every item is decided exactly
/// once, and no decision was ever refused for a claim the decider held.
async fn concurrent_reviewers(store: Store) {
    const ITEMS: usize = 1000;
    for i in 0..ITEMS {
        add_item(
            &store,
            &format!("c{i}"),
            Action::Review,
            Some((i % 17) as f64),
        )
        .await;
    }
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for r in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let me = format!("reviewer{r}");
            let mut decided = Vec::new();
            while let Some(c) = store.claim_next(&me, Role::Reviewer, LEASE).await.unwrap() {
                let d = store
                    .decide(&input(
                        &c.upload_id,
                        c.round,
                        &me,
                        Decision::Overturn,
                        "false_match",
                    ))
                    .await
                    .unwrap();
                assert!(!d.replayed);
                decided.push(c.upload_id);
            }
            decided
        }));
    }
    let mut all = Vec::new();
    let mut busy_reviewers = 0;
    for t in tasks {
        let d = t.await.unwrap();
        busy_reviewers += usize::from(!d.is_empty());
        all.extend(d);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), ITEMS, "every item decided");
    assert_eq!(unique.len(), ITEMS, "no item decided twice");
    assert!(busy_reviewers >= 2, "the work was shared");
    let stats = store.queue_stats().await.unwrap();
    assert_eq!(
        (stats.open, stats.claimed, stats.decided),
        (0, 0, ITEMS as i64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_reviewers_decide_every_item_once_on_both_backends() {
    on_both(8, concurrent_reviewers).await;
}
