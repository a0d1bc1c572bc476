//! Self-correction end to end (docs/self-correction.md), with the loops the
//! process serving review runs:
//! - the retro-hunt turns a past upload that passed into a late verdict once
//!   a matching entry arrives, counts it as a miss at the time of upload
//!   with its delay, and finds nothing new on the next pass;
//! - an entry whose automated takedowns people keep overturning (blind
//!   audits) is quarantined: its matches go to review, not takedown; two
//!   different leads restore it (proposal and approval), and it acts again.

mod common;

use common::*;
use std::time::{Duration, Instant};
use vigil_hashdb::{BankAction, BankEntry, SignalType};
use vigil_models::synth;
use vigil_pipeline::UploadId;
use vigil_store::Role;

async fn bank_with_entry(t: &TestApp, bank: &str, entry: &str, img: &image::RgbImage) {
    let (w, h) = img.dimensions();
    let o = vigil_pdq::hash_rgb(w as usize, h as usize, img.as_raw()).unwrap();
    vigil::banks::create_bank(
        &t.app.banks(),
        bank,
        BankAction::Takedown,
        &["gifct:glorification".into()],
    )
    .await
    .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), bank, "test")
        .await
        .unwrap();
    t.app
        .store
        .upsert_entries(&[BankEntry::new(
            bank,
            entry,
            SignalType::Pdq,
            &o.hash.to_hex(),
        )])
        .await
        .unwrap();
    t.app.reload_hashdb().await.unwrap();
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retro_hunt_finds_past_passes_and_counts_them_as_misses() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.retrohunt.interval_secs = 1;
    config.retrohunt.settle_secs = 0;
    let retro_config = config.clone();
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    // An upload passes: nothing in any bank matches it yet.
    let img = synth::emblem_image(23, 384);
    let id = t.upload_ok(png(&img), "image/png").await;
    let first = t.verdict(&id).await;
    assert_eq!(first["verdict"]["action"], "none", "{first}");
    let pv = first["verdict"]["policy_version"]
        .as_str()
        .unwrap()
        .to_string();

    // Later, an exchange shares the hash; the serving loop hunts for it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    bank_with_entry(&t, "late-bank", "late-1", &img).await;
    let uid = UploadId::parse(&id).unwrap();
    let retro_pv = format!("{pv}+retro");
    // A pass stores the late verdict, publishes it, then records the hit:
    // wait for the hit, the last of them.
    let hits = eventually("the retro-hunt hit", || {
        let (store, id) = (t.app.store.clone(), id.clone());
        async move {
            let hits = store.retro_hits_for(&id).await.unwrap();
            (!hits.is_empty()).then_some(hits)
        }
    })
    .await;
    let late = t
        .app
        .store
        .verdict_for(&uid, &retro_pv)
        .await
        .unwrap()
        .expect("a late verdict");
    assert_eq!(late.action, vigil_pipeline::Action::Takedown);
    assert!(
        late.matches
            .iter()
            .any(|m| m.bank == "late-bank" && m.entry_id == "late-1"),
        "{late:?}"
    );
    // The original verdict stays as it was: it is the record of the miss.
    assert_eq!(
        t.app
            .store
            .verdict_for(&uid, &pv)
            .await
            .unwrap()
            .unwrap()
            .action,
        vigil_pipeline::Action::None
    );
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].bank.as_str(), hits[0].entry_id.as_str()),
        ("late-bank", "late-1")
    );
    assert!(hits[0].delay_seconds > 0.0, "{hits:?}");
    assert_eq!(hits[0].late_action, "takedown");

    eventually("the hit on /metrics", || async {
        let m = t.metrics().await;
        (metric_value(&m, "vigil_retrohunt_hits_total{bank=\"late-bank\"}") == 1.0).then_some(())
    })
    .await;
    let report = vigil::report::transparency(&t.app.store, &Default::default())
        .await
        .unwrap();
    let retro = report.retro_hunt.expect("a retro-hunt section");
    assert_eq!(retro.matches, 1);
    assert!(retro.median_delay_seconds.unwrap() > 0.0);

    // Another pass (the CLI's, beside the loop) finds nothing new.
    let again = vigil::app::retro_hunter(
        &retro_config,
        t.app.store.clone(),
        None,
        &t.app.topics,
        t.app.policy.clone(),
    )
    .run_once(chrono::Utc::now())
    .await
    .unwrap();
    assert_eq!((again.hits, again.late_verdicts), (0, 0), "{again:?}");
    assert_eq!(t.app.store.retro_hits_for(&id).await.unwrap().len(), 1);
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overturned_entries_are_quarantined_and_two_leads_restore_them() {
    let dir = tempfile::tempdir().unwrap();
    // Every takedown is audited, so people see (blind) what the entry did.
    let policy = dir.path().join("policy.toml");
    let text = vigil_pipeline::policy::DEFAULT_POLICY_TOML
        .replace("takedown_sample_rate = 0.05", "takedown_sample_rate = 1.0");
    std::fs::write(&policy, text).unwrap();
    let mut config = test_config(dir.path());
    config.policy_file = Some(policy);
    config.classifier.enabled = false;
    config.accountability.quarantine_secs = 1;
    config.retrohunt.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    let img = synth::emblem_image(31, 384);
    bank_with_entry(&t, "q-bank", "q-1", &img).await;
    let mut taken_down = Vec::new();
    for _ in 0..5 {
        let id = t.upload_ok(png(&img), "image/png").await;
        assert_eq!(t.verdict(&id).await["verdict"]["action"], "takedown");
        taken_down.push(id);
    }

    // Reviewers overturn 4 of the 5 blind audits (default thresholds: 5
    // decisions, 3 overturns, rate above one half).
    let reviewer = api_user(&t, "auditor", Role::Reviewer).await;
    for n in 0..5 {
        let (status, claim) =
            bearer_post(&t, "/api/review/claim", &reviewer, serde_json::json!({})).await;
        assert_eq!(status, 200, "{claim}");
        assert_eq!(claim["kind"], "audit", "{claim}");
        let (id, pv) = (
            claim["upload_id"].as_str().unwrap(),
            claim["policy_version"].as_str().unwrap(),
        );
        assert!(taken_down.iter().any(|t| t == id));
        let (decision, reason) = if n < 4 {
            ("overturn", "not_violating")
        } else {
            ("uphold", "tve_content")
        };
        let (status, body) = bearer_post(
            &t,
            &format!("/api/review/items/{id}/{pv}/decision"),
            &reviewer,
            serde_json::json!({"round": 0, "decision": decision, "reason": reason}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    // The quarantine loop stops the entry from acting.
    let lead_a = api_user(&t, "lead-a", Role::Lead).await;
    let listed = eventually("the entry's quarantine", || {
        let (client, base, token) = (t.client.clone(), t.base.clone(), lead_a.clone());
        async move {
            let v: serde_json::Value = client
                .get(format!("{base}/api/quarantine"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let rows = v["quarantined"].as_array().cloned().unwrap_or_default();
            rows.into_iter().find(|r| r["entry_id"] == "q-1")
        }
    })
    .await;
    assert_eq!(listed["bank"], "q-bank");
    assert_eq!(listed["counts"]["overturned"], 4, "{listed}");
    assert_eq!(listed["counts"]["upheld"], 1, "{listed}");
    eventually("the quarantine gauge", || async {
        let m = t.metrics().await;
        (metric_value(&m, "vigil_quarantined_entries{bank=\"q-bank\"}") == 1.0).then_some(())
    })
    .await;
    let id = t.upload_ok(png(&img), "image/png").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["action"], "review", "{v}");
    assert!(v.to_string().contains("quarantine"), "{v}");

    // Lifting it takes two different leads.
    let (status, proposed) = bearer_post(
        &t,
        "/api/quarantine/q-bank/q-1/restore",
        &lead_a,
        serde_json::json!({"reason": "hash re-checked against the exchange's original: it was a collision with a news photo, now excluded by an allow-list entry"}),
    )
    .await;
    assert_eq!(status, 202, "{proposed}");
    let proposal = proposed["proposal_id"].as_str().unwrap().to_string();
    let (status, refused) = bearer_post(
        &t,
        &format!("/v1/proposals/{proposal}/approve"),
        &lead_a,
        serde_json::json!({}),
    )
    .await;
    assert!(
        status >= 400,
        "the proposer cannot approve: {status} {refused}"
    );
    let id = t.upload_ok(png(&img), "image/png").await;
    assert_eq!(
        t.verdict(&id).await["verdict"]["action"],
        "review",
        "nothing acts on a pending proposal"
    );
    let lead_b = api_user(&t, "lead-b", Role::Lead).await;
    let (status, approved) = bearer_post(
        &t,
        &format!("/v1/proposals/{proposal}/approve"),
        &lead_b,
        serde_json::json!({"note": "agreed"}),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    eventually("the restored entry to act again", || {
        let t = &t;
        let img = img.clone();
        async move {
            let id = t.upload_ok(png(&img), "image/png").await;
            (t.verdict(&id).await["verdict"]["action"] == "takedown").then_some(())
        }
    })
    .await;
    // Its counts start again from zero: the next passes leave it alone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !t.app
            .store
            .quarantined()
            .await
            .unwrap()
            .iter()
            .any(|q| q.entry_id == "q-1"),
        "re-quarantined after the approved restore"
    );
    t.app.shutdown().await.unwrap();
}
