//! Accountability records and aggregates on both backends: blind audit
//! samples written with their verdict, answers through the review store,
//! the estimators' inputs, appeals, shadow disagreements and the report.
//! PostgreSQL at 127.0.0.1:5432/test, a fresh schema per test (override
//! with `VIGIL_TEST_POSTGRES_URL`).

use chrono::Utc;
use std::time::Duration;
use vigil_hashdb::{Match, SignalType};
use vigil_pipeline::audit::{AuditSample, ShadowDisagreement};
use vigil_pipeline::{
    Action, PlatformContext, SampleKind, UploadId, UploadMsg, Verdict, MESSAGE_VERSION,
};
use vigil_store::accountability::Period;
use vigil_store::{Decision, DecisionInput, Role, Store};

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
    let url = format!("sqlite://{}/acc.db", dir.path().display());
    f(Store::connect(&url, 4, None).await.unwrap()).await;
    let schema = format!("acc_{}", uuid::Uuid::new_v4().simple());
    let pg = Store::connect(&pg_url(), 4, Some(&schema))
        .await
        .expect("PostgreSQL at 127.0.0.1:5432/test");
    f(pg.clone()).await;
    pg.drop_schema(&schema).await.unwrap();
}

fn verdict(id: &str, action: Action, bank: Option<&str>) -> Verdict {
    Verdict {
        v: MESSAGE_VERSION,
        upload_id: UploadId::parse(id).unwrap(),
        policy_version: "p1".into(),
        action,
        signals: vec![],
        matches: bank
            .map(|b| Match {
                bank: b.into(),
                entry_id: "e1".into(),
                signal_type: SignalType::Pdq,
                distance: 3,
                labels: vec!["gifct:glorification".into()],
            })
            .into_iter()
            .collect(),
        classifier: None,
        reasons: vec![],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    }
}

async fn record(store: &Store, id: &str, surface: &str) {
    let msg = UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: UploadId::parse(id).unwrap(),
        media_url: format!("file:///m/{id}"),
        content_type: Some("image/png".into()),
        platform_context: PlatformContext {
            surface: surface.into(),
            ..Default::default()
        },
        received_at: Utc::now(),
        platform: None,
        sample_key: None,
    };
    store.record_upload(&msg).await.unwrap();
}

/// An automated verdict sampled for audit at `rate`.
async fn sampled(store: &Store, id: &str, action: Action, bank: Option<&str>, rate: f64) {
    record(store, id, "feed").await;
    let v = verdict(id, action.clone(), bank);
    let kind = if action == Action::None {
        SampleKind::Pass
    } else {
        SampleKind::Takedown
    };
    let s = AuditSample {
        kind,
        stratum: kind.as_str().into(),
        rate,
        strata: vigil_pipeline::audit::strata_of(&v, "feed"),
        live_action: action.as_str().into(),
        shadow_action: None,
        shadow_policy_version: None,
    };
    assert!(store
        .write_verdict_audited(&v, None, std::slice::from_ref(&s), None)
        .await
        .unwrap());
    // Idempotent: a redelivery writes nothing twice.
    assert!(!store
        .write_verdict_audited(&v, None, std::slice::from_ref(&s), None)
        .await
        .unwrap());
}

/// Claim the next item as `who` and answer it.
async fn answer(store: &Store, who: &str, decision: Decision, reason: &str) -> String {
    let c = store
        .claim_next(who, Role::Reviewer, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("an item to claim");
    assert_eq!(c.kind, "audit");
    store
        .decide(&DecisionInput {
            upload_id: &c.upload_id,
            policy_version: &c.policy_version,
            round: c.round,
            reviewer: who,
            decision,
            reason,
            note: None,
        })
        .await
        .unwrap();
    c.upload_id
}

async fn audits_feed_the_estimates(store: Store) {
    // Ten audited takedowns from bank a: 2 answered not violating.
    for i in 0..10 {
        sampled(&store, &format!("t{i}"), Action::Takedown, Some("a"), 0.5).await;
    }
    // Twenty audited passes: 1 answered violating.
    for i in 0..20 {
        sampled(&store, &format!("p{i}"), Action::None, None, 0.5).await;
    }
    let items = store.review_cases("open", 100).await.unwrap();
    assert_eq!(items.len(), 30);
    assert!(items.iter().all(|i| i.kind == "audit"));
    assert!(items.iter().any(|i| i.queue_reason == "audit_takedown"));
    assert!(items.iter().any(|i| i.queue_reason == "audit_pass"));
    assert_eq!(
        store.audit_samples_for("t3").await.unwrap()[0].0,
        "takedown"
    );

    let (mut fp_left, mut miss_left) = (2, 1);
    for i in 0..30 {
        let who = format!("rev{i}");
        let c = store
            .claim_next(&who, Role::Reviewer, Duration::from_secs(60))
            .await
            .unwrap()
            .expect("an audit item");
        let takedown = c.queue_reason == "audit_takedown";
        let (d, r) = if takedown && fp_left > 0 {
            fp_left -= 1;
            (Decision::Overturn, "not_violating")
        } else if takedown {
            (Decision::Uphold, "tve_content")
        } else if miss_left > 0 {
            miss_left -= 1;
            (Decision::Uphold, "tve_content")
        } else {
            (Decision::Overturn, "not_violating")
        };
        store
            .decide(&DecisionInput {
                upload_id: &c.upload_id,
                policy_version: &c.policy_version,
                round: c.round,
                reviewer: &who,
                decision: d,
                reason: r,
                note: None,
            })
            .await
            .unwrap();
    }
    let est = store
        .accountability_estimates(&Period::default())
        .await
        .unwrap();
    let get = |v: &[vigil_accountability::GroupEstimate], by: &str, g: &str| {
        v.iter()
            .find(|e| e.by == by && e.group == g)
            .unwrap_or_else(|| panic!("{by}/{g} in {v:?}"))
            .estimate
    };
    let fp = get(&est.false_positive, "all", "all");
    assert_eq!((fp.errors, fp.n), (2, 10));
    assert!((fp.rate - 0.2).abs() < 1e-9);
    let w = vigil_accountability::wilson(2, 10).unwrap();
    assert!((fp.lower - w.lower).abs() < 1e-9 && (fp.upper - w.upper).abs() < 1e-9);
    assert_eq!(get(&est.false_positive, "bank", "a").n, 10);
    assert_eq!(
        get(&est.false_positive, "label", "gifct:glorification").errors,
        2
    );
    assert_eq!(get(&est.false_positive, "signal", "pdq").n, 10);
    let miss = get(&est.miss, "all", "all");
    assert_eq!((miss.errors, miss.n), (1, 20));
    assert_eq!(get(&est.miss, "surface", "feed").n, 20);
    assert!(est.false_positive.iter().all(|e| e.by != "surface"));

    // A period before the samples holds none.
    let empty = store
        .accountability_estimates(&Period {
            from: None,
            to: Some("2000-01-01T00:00:00Z".into()),
        })
        .await
        .unwrap();
    assert!(empty.false_positive.is_empty() && empty.miss.is_empty());

    let report = store
        .transparency_report(&Period::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(report.actions.automated_removals, 10);
    assert_eq!(report.actions.by_cause[0].key, "pdq_match");
    assert_eq!(report.actions.by_label[0].n, 10);
    assert_eq!(report.review.decisions, 30);
    assert!(report.review.median_seconds.is_some());
    let sampled_n: u64 = report.audits.sampled.iter().map(|c| c.n).sum();
    let answered_n: u64 = report.audits.answered.iter().map(|c| c.n).sum();
    assert_eq!((sampled_n, answered_n), (30, 30));
    assert!(report.to_html().contains("n=10"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_estimates_on_sqlite_and_postgres() {
    on_both(audits_feed_the_estimates).await;
}

async fn appeals_and_shadow(store: Store) {
    // Two automated takedowns appealed: one reversed, one upheld.
    for (i, (d, r)) in [
        (Decision::Overturn, "false_match"),
        (Decision::Uphold, "tve_content"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("ap{i}");
        record(&store, &id, "feed").await;
        store
            .write_verdict(&verdict(&id, Action::Takedown, Some("b")), None)
            .await
            .unwrap();
        store
            .file_appeal(&id, None, "platform", Some("it is news"))
            .await
            .unwrap();
        let c = store
            .claim_next("carol", Role::Reviewer, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.kind, "appeal");
        store
            .decide(&DecisionInput {
                upload_id: &c.upload_id,
                policy_version: &c.policy_version,
                round: c.round,
                reviewer: "carol",
                decision: d,
                reason: r,
                note: None,
            })
            .await
            .unwrap();
    }
    // A shadow disagreement, sampled, answered violating: shadow was right.
    record(&store, "sh1", "feed").await;
    let live = verdict("sh1", Action::None, None);
    let sample = AuditSample {
        kind: SampleKind::Shadow,
        stratum: "shadow".into(),
        rate: 1.0,
        strata: vec![("all".into(), "all".into())],
        live_action: "none".into(),
        shadow_action: Some("takedown".into()),
        shadow_policy_version: Some("candidate".into()),
    };
    let d = ShadowDisagreement {
        live_action: "none".into(),
        shadow_action: "takedown".into(),
        shadow_policy_version: "candidate".into(),
        sample: Some(sample.clone()),
    };
    store
        .write_verdict_audited(&live, None, &[sample], Some(&d))
        .await
        .unwrap();
    let c = store.review_case("sh1", "p1").await.unwrap().unwrap();
    assert_eq!(
        (c.kind.as_str(), c.queue_reason.as_str()),
        ("audit", "audit_shadow")
    );
    answer(&store, "dave", Decision::Uphold, "tve_content").await;

    let est = store
        .accountability_estimates(&Period::default())
        .await
        .unwrap();
    let all = est
        .appeal_overturn
        .iter()
        .find(|e| e.by == "all")
        .unwrap()
        .estimate;
    assert_eq!((all.errors, all.n), (1, 2));
    assert!(est
        .appeal_overturn
        .iter()
        .any(|e| e.by == "bank" && e.group == "b"));
    assert!(est.false_positive.is_empty(), "appeals are not audits");
    let sr = est.shadow_right.unwrap();
    assert_eq!((sr.errors, sr.n), (1, 1));

    let report = store
        .transparency_report(&Period::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (
            report.appeals.filed,
            report.appeals.reversed,
            report.appeals.upheld
        ),
        (2, 1, 1)
    );
    let sh = report.shadow.unwrap();
    assert_eq!(sh.shadow_policy_versions, vec!["candidate".to_string()]);
    assert_eq!(sh.disagreements[0].n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeals_and_shadow_on_sqlite_and_postgres() {
    on_both(appeals_and_shadow).await;
}
