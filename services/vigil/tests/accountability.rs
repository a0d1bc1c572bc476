//! Accountability end to end: uploads go through the hook and the workers
//! under a policy that audits every takedown and pass; reviewers answer the
//! blind audit items through the review API without seeing the automated
//! outcome; the false-positive and miss gauges with their Wilson bounds
//! appear on `/metrics`; the transparency report reads the same numbers.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vigil_hashdb::{BankAction, BankEntry, SignalType};
use vigil_models::synth;
use vigil_store::Role;

const PASSWORD: &str = "correct horse battery staple";

async fn bearer(t: &TestApp, user: &str) -> String {
    let (status, r) = t
        .post_json(
            "/api/login",
            serde_json::json!({"username": user, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    r["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blind_audits_feed_the_error_rate_gauges() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let text = vigil_pipeline::policy::DEFAULT_POLICY_TOML
        .replace("takedown_sample_rate = 0.05", "takedown_sample_rate = 1.0")
        .replace("pass_sample_rate = 0.01", "pass_sample_rate = 1.0");
    std::fs::write(&policy, text).unwrap();
    let mut config = test_config(dir.path());
    config.policy_file = Some(policy);
    config.accountability.refresh_secs = 1;
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    let emblem = synth::emblem_image(11, 384);
    let o = vigil_pdq::hash_rgb(384, 384, emblem.as_raw()).unwrap();
    vigil::banks::create_bank(
        &t.app.banks(),
        "acc-bank",
        BankAction::Takedown,
        &["gifct:glorification".into()],
    )
    .await
    .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), "acc-bank", "test")
        .await
        .unwrap();
    t.app
        .store
        .upsert_entries(&[BankEntry::new(
            "acc-bank",
            "e-1",
            SignalType::Pdq,
            &o.hash.to_hex(),
        )])
        .await
        .unwrap();
    t.app.reload_hashdb().await.unwrap();

    let takedown = t.upload_ok(png(&emblem), "image/png").await;
    let pass = t
        .upload_ok(png(&synth::benign_image(5, 384)), "image/png")
        .await;
    assert_eq!(t.verdict(&takedown).await["verdict"]["action"], "takedown");
    assert_eq!(t.verdict(&pass).await["verdict"]["action"], "none");
    // The worker counts a sample just after the verdict it can be read by
    // is committed: wait for both counters (with a deadline).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (takedowns, passes) = loop {
        let metrics = t.metrics().await;
        let counts = (
            metric_value(&metrics, "vigil_audit_samples_total{kind=\"takedown\"}"),
            metric_value(&metrics, "vigil_audit_samples_total{kind=\"pass\"}"),
        );
        if counts == (1.0, 1.0) || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (takedowns, passes),
        (1.0, 1.0),
        "audit samples (takedown, pass)"
    );

    vigil_review::add_user(&t.app.store, "auditor", Role::Reviewer, PASSWORD)
        .await
        .unwrap();
    let token = bearer(&t, "auditor").await;
    for _ in 0..2 {
        let r = t
            .client
            .post(format!("{}/api/review/claim", t.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let claim: serde_json::Value = r.json().await.unwrap();
        assert_eq!(claim["kind"], "audit");
        assert_eq!(claim["queue_reason"], "blind_audit", "{claim}");
        let id = claim["upload_id"].as_str().unwrap().to_string();
        let pv = claim["policy_version"].as_str().unwrap().to_string();
        let case: serde_json::Value = t
            .client
            .get(format!("{}/api/review/items/{id}/{pv}", t.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(case["blind_audit"], true);
        assert!(
            case["verdict"].is_null(),
            "the automated outcome is withheld"
        );
        assert_eq!(case["item"]["queue_reason"], "blind_audit");
        let text = case.to_string();
        assert!(
            !text.contains("takedown") && !text.contains("acc-bank"),
            "{text}"
        );
        // Neither is violating: the takedown was a false positive, the
        // pass was right.
        assert!(id == takedown || id == pass);
        let (decision, reason) = ("overturn", "not_violating");
        let r = t
            .client
            .post(format!("{}/api/review/items/{id}/{pv}/decision", t.base))
            .bearer_auth(&token)
            .json(&serde_json::json!({"round": 0, "decision": decision, "reason": reason}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }

    // The refresher recomputes the gauges from the database.
    let deadline = Instant::now() + Duration::from_secs(30);
    let fp = "vigil_accountability_false_positive_rate{by=\"all\",group=\"all\"}";
    let metrics = loop {
        let m = t.metrics().await;
        if m.contains(fp) && m.contains("vigil_accountability_miss_rate{by=\"all\"") {
            break m;
        }
        assert!(Instant::now() < deadline, "no accountability gauges:\n{m}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(metric_value(&metrics, fp), 1.0);
    let w = vigil_accountability::wilson(1, 1).unwrap();
    let lower = metric_value(
        &metrics,
        "vigil_accountability_false_positive_rate_lower{by=\"all\",group=\"all\"}",
    );
    assert!((lower - w.lower).abs() < 1e-6, "{lower}");
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_accountability_false_positive_rate_upper{by=\"all\",group=\"all\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_accountability_false_positive_sample_size{by=\"bank\",group=\"acc-bank\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(
            &metrics,
            "vigil_accountability_miss_rate{by=\"all\",group=\"all\"}"
        ),
        0.0
    );
    assert!(
        metric_value(
            &metrics,
            "vigil_accountability_miss_rate_upper{by=\"all\",group=\"all\"}"
        ) > 0.5
    );

    let report = vigil::report::transparency(&t.app.store, &Default::default())
        .await
        .unwrap();
    assert_eq!(report.actions.automated_removals, 1);
    assert_eq!(report.false_positive[0].estimate.n, 1);
    t.app.shutdown().await.unwrap();
}
