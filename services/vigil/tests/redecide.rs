//! One effective verdict per upload (docs/hardening.md): a record
//! redelivered after the policy changed re-publishes the stored verdict;
//! deciding again under the new policy is the explicit `redecide`.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vigil_models::synth;
use vigil_pipeline::{Policy, UploadId};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redelivery_after_a_policy_change_does_not_decide_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let policy_file = dir.path().join("policy.toml");
    let t = spawn_app_with(config.clone(), vigil::Roles::ALL, dir).await;
    let id = t
        .upload_ok(png(&synth::benign_image(7, 96)), "image/png")
        .await;
    let first = t.verdict(&id).await["verdict"].clone();
    let uid = UploadId::parse(&id).unwrap();
    let old_version = first["policy_version"].as_str().unwrap().to_string();

    // A new policy version comes in force, then the record is delivered
    // again (a rebalance, a restarted worker, a re-enqueue).
    let new_toml = include_str!("../../pipeline/src/default_policy.toml").replace(
        &format!("version = \"{old_version}\""),
        "version = \"redecide-test-2\"",
    );
    assert_ne!(
        new_toml,
        include_str!("../../pipeline/src/default_policy.toml")
    );
    t.app.policy.replace(Policy::from_toml(&new_toml).unwrap());
    let msg = t.app.store.get_upload(&uid).await.unwrap().unwrap().msg;
    let producer =
        vigil_stream::Producer::new(&t.app.bootstrap, "test", Duration::from_secs(10)).unwrap();
    let redelivered =
        |m: &str| metric_value(m, "vigil_worker_redelivered_total{topic=\"vigil.uploads\"}");
    let before = redelivered(&t.metrics().await);
    producer
        .send_json(&t.app.topics.uploads, uid.as_str(), &msg)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while redelivered(&t.metrics().await) <= before {
        assert!(Instant::now() < deadline, "the record was not redelivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(t.app.store.verdict_count_for(&uid).await.unwrap(), 1);
    let stored = t.app.store.latest_verdict(&uid).await.unwrap().unwrap();
    assert_eq!(stored.policy_version, old_version);

    // Deciding again is explicit: released (with who and why in the audit
    // log) and put on the topic, then decided under the new version.
    std::fs::write(&policy_file, &new_toml).unwrap();
    let mut cli_config = config.clone();
    cli_config.policy_file = Some(policy_file);
    cli_config.kafka.bootstrap_servers = Some(t.app.bootstrap.clone());
    let done = vigil::redecide::redecide(
        &cli_config,
        &t.app.store,
        "operator",
        &[uid.clone(), UploadId::parse("no-such-upload").unwrap()],
        "policy redecide-test-2 reviews news uploads differently",
    )
    .await
    .unwrap();
    assert_eq!(done[0].1, vigil::redecide::Redecided::Released);
    assert_eq!(done[1].1, vigil::redecide::Redecided::Unknown);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let latest = t.app.store.latest_verdict(&uid).await.unwrap().unwrap();
        if latest.policy_version == "redecide-test-2" {
            break;
        }
        assert!(Instant::now() < deadline, "not decided again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(t.app.store.verdict_count_for(&uid).await.unwrap(), 2);
    let audit = t
        .app
        .store
        .audit_log(&vigil_store::AuditQuery {
            action: Some("redecide_requested".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "operator");

    // Asking again under the same version changes nothing.
    let again = vigil::redecide::redecide(
        &cli_config,
        &t.app.store,
        "operator",
        std::slice::from_ref(&uid),
        "again",
    )
    .await
    .unwrap();
    assert!(matches!(
        again[0].1,
        vigil::redecide::Redecided::SamePolicy(_)
    ));
    t.app.shutdown().await.unwrap();
}
