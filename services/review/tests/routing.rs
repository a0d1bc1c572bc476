//! Review routing on SQLite and PostgreSQL: items are placed in queues by
//! the rules (bank + label, language, surface, signal), reviewers assigned
//! to queues claim only from them, unassigned reviewers and leads claim from
//! every queue.

use chrono::Utc;
use vigil_hashdb::{Match, SignalType};
use vigil_pipeline::{
    Action, PlatformContext, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION,
};
use vigil_review::routing::{Route, Routing};
use vigil_review::{ReviewConfig, ReviewState};
use vigil_store::{MediaStore, Role, Store};

fn pg_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn rules() -> Routing {
    Routing {
        default_queue: "general".into(),
        routes: vec![
            Route {
                queue: "gifct".into(),
                bank: Some("gifct-shared".into()),
                label: Some("gifct:glorification".into()),
                ..Default::default()
            },
            Route {
                queue: "arabic".into(),
                language: Some("ar".into()),
                ..Default::default()
            },
            Route {
                queue: "news-desk".into(),
                surface: Some("news".into()),
                ..Default::default()
            },
        ],
    }
}

async fn seed(
    store: &Store,
    id: &str,
    priority: f64,
    bank: Option<(&str, &str)>,
    surface: &str,
    language: Option<&str>,
) {
    let upload_id = UploadId::parse(id).unwrap();
    store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: upload_id.clone(),
            media_url: format!("file:///media/{id}"),
            content_type: None,
            platform_context: PlatformContext {
                surface: surface.into(),
                language: language.map(str::to_string),
                ..Default::default()
            },
            received_at: Utc::now(),
            platform: None,
            sample_key: None,
        })
        .await
        .unwrap();
    let matches = bank
        .map(|(bank, label)| Match {
            bank: bank.into(),
            entry_id: "e-1".into(),
            signal_type: SignalType::Pdq,
            distance: 20,
            labels: vec![label.into()],
        })
        .into_iter()
        .collect();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "p1".into(),
        action: Action::Review,
        signals: vec![],
        matches,
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
        priority,
        created_at: Utc::now(),
    };
    store.write_verdict(&v, Some(&item)).await.unwrap();
}

async fn exercise(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let media = MediaStore::open(dir.path()).unwrap();
    let config = ReviewConfig {
        routing: rules(),
        ..ReviewConfig::default()
    };
    let state = ReviewState::new(store.clone(), media, None, config);
    // Higher priority for items that should NOT reach a queue-bound reviewer,
    // so a missing filter would show.
    seed(
        &store,
        "gif",
        0.5,
        Some(("gifct-shared", "gifct:glorification")),
        "feed",
        None,
    )
    .await;
    seed(
        &store,
        "gif-other-label",
        0.9,
        Some(("gifct-shared", "gifct:recruitment")),
        "feed",
        None,
    )
    .await;
    seed(&store, "arabic", 0.8, None, "feed", Some("ar")).await;
    seed(&store, "news", 0.7, None, "news", None).await;
    seed(&store, "plain", 0.6, None, "feed", None).await;

    assert_eq!(state.route_pending().await.unwrap(), 5);
    assert_eq!(
        state.route_pending().await.unwrap(),
        0,
        "routing is done once"
    );
    let mut by_queue = store.open_by_queue().await.unwrap();
    by_queue.sort();
    assert_eq!(
        by_queue,
        vec![
            (Some("arabic".to_string()), 1),
            (Some("general".to_string()), 2),
            (Some("gifct".to_string()), 1),
            (Some("news-desk".to_string()), 1),
        ]
    );

    for (name, role) in [
        ("amira", Role::Reviewer),
        ("gus", Role::Reviewer),
        ("any", Role::Reviewer),
        ("lena", Role::Lead),
    ] {
        vigil_review::add_user(&store, name, role, "correct horse battery staple")
            .await
            .unwrap();
    }
    store
        .set_user_queues(
            "amira",
            Some(&["arabic".to_string(), "news-desk".to_string()]),
        )
        .await
        .unwrap();
    store
        .set_user_queues("gus", Some(&["gifct".to_string()]))
        .await
        .unwrap();
    // Lead queues are ignored: leads serve every queue.
    store
        .set_user_queues("lena", Some(&["gifct".to_string()]))
        .await
        .unwrap();
    assert_eq!(
        store.user_queues("amira").await.unwrap(),
        Some(vec!["arabic".to_string(), "news-desk".to_string()])
    );
    assert_eq!(store.user_queues("any").await.unwrap(), None);
    assert!(store
        .set_user_queues("any", Some(&["a,b".to_string()]))
        .await
        .is_err());

    let claim = |who: &'static str, role: Role| {
        let state = state.clone();
        async move {
            state
                .claim_for(who, role)
                .await
                .unwrap()
                .map(|c| c.upload_id)
        }
    };
    // Amira: her two queues, by priority, then nothing.
    assert_eq!(
        claim("amira", Role::Reviewer).await.as_deref(),
        Some("arabic")
    );
    assert_eq!(
        claim("amira", Role::Reviewer).await.as_deref(),
        Some("news")
    );
    assert_eq!(claim("amira", Role::Reviewer).await, None);
    // Gus: only the gifct queue.
    assert_eq!(claim("gus", Role::Reviewer).await.as_deref(), Some("gif"));
    assert_eq!(claim("gus", Role::Reviewer).await, None);
    // The lead takes from any queue: the highest priority left.
    assert_eq!(
        claim("lena", Role::Lead).await.as_deref(),
        Some("gif-other-label")
    );
    // An unassigned reviewer serves every queue.
    assert_eq!(claim("any", Role::Reviewer).await.as_deref(), Some("plain"));

    // Items that arrive later are routed at the next claim.
    seed(&store, "late-arabic", 0.1, None, "feed", Some("AR")).await;
    assert_eq!(
        claim("amira", Role::Reviewer).await.as_deref(),
        Some("late-arabic")
    );
    let c = store
        .review_case("late-arabic", "p1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.queue.as_deref(), Some("arabic"));
}

#[tokio::test]
async fn items_are_routed_and_claimed_by_queue_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/routing.db", dir.path().display());
    exercise(Store::connect(&url, 2, None).await.unwrap()).await;

    let schema = format!("routing_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), 4, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test (run scripts/ensure-postgres.sh)");
    exercise(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}
