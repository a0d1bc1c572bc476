//! Banks change while Vigil runs: a hash added through the change log is
//! matched by running workers within moments, and the banks HTTP API
//! creates, updates, looks up and removes entries.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use vigil_hashdb::{Bank, BankAction, BankEntry, Change, SignalType};
use vigil_models::synth;
use vigil_stream::Producer;

fn pdq_hex(img: &image::RgbImage) -> String {
    vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw())
        .unwrap()
        .hash
        .to_hex()
}

async fn no_classifier_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    spawn_app_with(config, vigil::Roles::ALL, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hash_published_on_the_change_log_is_matched_by_running_workers() {
    let t = no_classifier_app().await;
    let emblem = synth::emblem_image(42, 320);
    let id = t.upload_ok(png(&emblem), "image/png").await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "none");

    // Another process (no shared memory with the workers) adds the hash:
    // only the database and `vigil.hashdb` carry it.
    let service = vigil_banks::BankService {
        store: t.app.store.clone(),
        producer: Some(
            Producer::new(&t.app.bootstrap, "test-bank-cli", Duration::from_secs(10)).unwrap(),
        ),
        topic: t.app.topics.hashdb.clone(),
        local: None,
    };
    service
        .put_bank(Bank::new("live", BankAction::Takedown))
        .await
        .unwrap();
    let added = Instant::now();
    service
        .apply(vec![Change::UpsertEntry {
            entry: BankEntry::derived("live", SignalType::Pdq, &pdq_hex(&emblem)),
        }])
        .await
        .unwrap();

    // Poll with fresh uploads until one is taken down.
    let deadline = added + Duration::from_secs(30);
    loop {
        let id = t.upload_ok(png(&emblem), "image/png").await;
        let v = t.verdict(&id).await;
        if v["verdict"]["action"] == "takedown" {
            assert_eq!(v["verdict"]["matches"][0]["bank"], "live");
            break;
        }
        if Instant::now() >= deadline {
            let m = t.metrics().await;
            panic!(
                "the new hash was not matched in time: {}",
                m.lines()
                    .filter(|l| l.contains("hashdb"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "hash matched by running workers {:?} after it was published",
        added.elapsed()
    );
    let m = t.metrics().await;
    assert!(
        metric_value(
            &m,
            "vigil_hashdb_changes_applied_total{outcome=\"inserted\"}"
        ) >= 1.0,
        "{m}"
    );
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn banks_api_creates_updates_looks_up_and_removes() {
    let t = no_classifier_app().await;
    let c = &t.client;
    let url = |p: &str| format!("{}{p}", t.base);
    let emblem = synth::emblem_image(7, 320);
    let hex = pdq_hex(&emblem);

    let bank = json!({"name": "api-bank", "action": "takedown", "labels": ["demo"]});
    assert_eq!(t.post_json("/v1/banks", bank.clone()).await.0, 201);
    assert_eq!(t.post_json("/v1/banks", bank).await.0, 409);
    let bad = json!({"name": "bad/name", "action": "takedown"});
    assert_eq!(t.post_json("/v1/banks", bad).await.0, 422);

    let entry = |signal: &str| json!({"signal_type": "pdq", "signal": signal, "note": "demo"});
    assert_eq!(
        t.post_json("/v1/banks/api-bank/entries", entry("zz"))
            .await
            .0,
        422
    );
    assert_eq!(
        t.post_json("/v1/banks/nope/entries", entry(&hex)).await.0,
        404
    );
    let (status, added) = t.post_json("/v1/banks/api-bank/entries", entry(&hex)).await;
    assert_eq!(status, 201);
    let entry_id = added["entry_id"].as_str().unwrap().to_string();

    let hits = t
        .get_json(&format!("/v1/lookup?pdq={hex}&max_distance=10"))
        .await;
    assert_eq!(hits["hits"][0]["entry_id"], entry_id.as_str());
    assert_eq!(hits["hits"][0]["distance"], 0);
    assert_eq!(
        t.get_json("/v1/banks/api-bank").await["stats"]["entries"],
        1
    );

    let id = t.upload_ok(png(&emblem), "image/png").await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "takedown");

    // Disabling the bank stops matches at once.
    let r = c
        .patch(url("/v1/banks/api-bank"))
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = t.upload_ok(png(&emblem), "image/png").await;
        if t.verdict(&id).await["verdict"]["action"] == "none" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "disabling the bank did not reach the workers"
        );
    }

    let r = c
        .delete(url(&format!("/v1/banks/api-bank/entries/{entry_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = c
        .delete(url(&format!("/v1/banks/api-bank/entries/{entry_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let hits: serde_json::Value = c
        .get(url(&format!("/v1/lookup?pdq={hex}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hits["hits"].as_array().unwrap().len(), 0);
    t.app.shutdown().await.unwrap();
}
