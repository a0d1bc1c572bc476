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
    vigil::governance::seed_charter(&service, "live", "test")
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

async fn login(t: &TestApp, user: &str, role: vigil_store::Role) -> String {
    let password = format!("{user}-password-long");
    vigil_review::add_user(&t.app.store, user, role, &password)
        .await
        .unwrap();
    let (status, body) = t
        .post_json(
            "/api/login",
            json!({"username": user, "password": password}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn send(
    t: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut r = t.client.request(method, format!("{}{path}", t.base));
    if let Some(tok) = token {
        r = r.bearer_auth(tok);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn banks_api_creates_updates_looks_up_and_removes_under_the_two_person_rule() {
    use reqwest::Method;
    let t = no_classifier_app().await;
    let alice = login(&t, "alice", vigil_store::Role::Lead).await;
    let bob = login(&t, "bob", vigil_store::Role::Admin).await;
    let rita = login(&t, "rita", vigil_store::Role::Reviewer).await;
    let emblem = synth::emblem_image(7, 320);
    let hex = pdq_hex(&emblem);
    let approve = |id: String, tok: &str| {
        let tok = tok.to_string();
        let t = &t;
        async move {
            send(
                t,
                Method::POST,
                &format!("/v1/proposals/{id}/approve"),
                Some(&tok),
                Some(json!({"note": "checked"})),
            )
            .await
        }
    };

    // Changes need a signed-in user.
    let bank = json!({"name": "api-bank", "action": "takedown", "labels": ["demo"]});
    assert_eq!(t.post_json("/v1/banks", bank.clone()).await.0, 401);
    // An actioning bank is a proposal: nothing exists until approved.
    let (status, p) = send(
        &t,
        Method::POST,
        "/v1/banks",
        Some(&alice),
        Some(bank.clone()),
    )
    .await;
    assert_eq!(status, 202, "{p}");
    assert_eq!(p["kind"], "bank_widen");
    let bank_prop = p["proposal_id"].as_str().unwrap().to_string();
    assert_eq!(
        t.get_json_as("/v1/banks/api-bank", &rita).await["status"],
        404
    );
    // The proposer cannot approve their own; a reviewer cannot approve.
    let (status, body) = approve(bank_prop.clone(), &alice).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["title"], "own_proposal");
    assert_eq!(approve(bank_prop.clone(), &rita).await.0, 403);
    let (_, pending) = send(
        &t,
        Method::GET,
        "/v1/proposals?status=pending",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(pending["proposals"].as_array().unwrap().len(), 1);
    let (status, done) = approve(bank_prop.clone(), &bob).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "approved");
    assert_eq!(done["decided_role"], "admin");
    assert_eq!(
        t.get_json_as("/v1/banks/api-bank", &rita).await["action"],
        "takedown"
    );
    assert_eq!(approve(bank_prop, &bob).await.0, 403, "decided once");
    let (status, _) = send(&t, Method::POST, "/v1/banks", Some(&alice), Some(bank)).await;
    assert_eq!(status, 409);
    let bad = json!({"name": "bad/name", "action": "takedown"});
    assert_eq!(
        send(&t, Method::POST, "/v1/banks", Some(&alice), Some(bad))
            .await
            .0,
        422
    );

    // Entries into an actioning bank wait for a second person too.
    let entry = |signal: &str| json!({"signal_type": "pdq", "signal": signal, "note": "demo"});
    let path = "/v1/banks/api-bank/entries";
    assert_eq!(
        send(&t, Method::POST, path, Some(&alice), Some(entry("zz")))
            .await
            .0,
        422
    );
    assert_eq!(
        send(
            &t,
            Method::POST,
            "/v1/banks/nope/entries",
            Some(&alice),
            Some(entry(&hex))
        )
        .await
        .0,
        404
    );
    let (status, added) = send(&t, Method::POST, path, Some(&alice), Some(entry(&hex))).await;
    assert_eq!(status, 202, "{added}");
    assert_eq!(added["kind"], "entries_add");
    let entry_id = added["entry_id"].as_str().unwrap().to_string();
    let hits = t
        .get_json_as(&format!("/v1/lookup?pdq={hex}&max_distance=10"), &rita)
        .await;
    assert_eq!(
        hits["hits"].as_array().unwrap().len(),
        0,
        "not before approval"
    );
    let id = t.upload_ok(png(&emblem), "image/png").await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "none");
    assert_eq!(
        approve(added["proposal_id"].as_str().unwrap().into(), &alice)
            .await
            .0,
        403
    );
    assert_eq!(
        approve(added["proposal_id"].as_str().unwrap().into(), &bob)
            .await
            .0,
        200
    );
    let hits = t
        .get_json_as(&format!("/v1/lookup?pdq={hex}&max_distance=10"), &rita)
        .await;
    assert_eq!(hits["hits"][0]["entry_id"], entry_id.as_str());
    assert_eq!(hits["hits"][0]["distance"], 0);
    assert_eq!(
        t.get_json_as("/v1/banks/api-bank", &rita).await["stats"]["entries"],
        1
    );

    // Without a charter the bank only routes to review.
    let id = t.upload_ok(png(&emblem), "image/png").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["action"], "review", "{v}");
    // A charter is a proposal as well; approved, the bank acts.
    let charter = json!({
        "scope": "API test bank", "allowed_labels": ["gifct:glorification"],
        "legal_basis": [{"kind": "terms_of_service", "reference": "ToS 4.2"}],
        "owner": "ct-team", "jurisdictions": ["*"], "allowed_actions": ["takedown"]
    });
    let (status, cp) = send(
        &t,
        Method::PUT,
        "/v1/banks/api-bank/charter",
        Some(&alice),
        Some(charter),
    )
    .await;
    assert_eq!(status, 202, "{cp}");
    assert_eq!(cp["kind"], "charter_change");
    assert_eq!(
        approve(cp["proposal_id"].as_str().unwrap().into(), &alice)
            .await
            .0,
        403
    );
    assert_eq!(
        approve(cp["proposal_id"].as_str().unwrap().into(), &bob)
            .await
            .0,
        200
    );
    let id = t.upload_ok(png(&emblem), "image/png").await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "takedown");
    // Entries outside the charter are refused with a reason.
    let mut other = entry(&hex.replace('0', "1"));
    other["labels"] = json!(["gifct:recruitment"]);
    let (status, body) = send(&t, Method::POST, path, Some(&alice), Some(other)).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("outside the bank's charter"));

    // Raising the threshold is a proposal; narrowing (disabling) is not.
    let (status, p) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"pdq_threshold": 40})),
    )
    .await;
    assert_eq!(status, 202, "{p}");
    assert_eq!(p["kind"], "threshold_raise");
    assert_eq!(
        t.get_json_as("/v1/banks/api-bank", &rita).await["pdq_threshold"],
        31
    );
    // So is a dHash threshold above its default (10); one out of range is
    // refused; a lower pHash one applies at once.
    let (status, p) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"thresholds": {"dhash": 12}})),
    )
    .await;
    assert_eq!(
        (status, &p["kind"]),
        (202, &json!("threshold_raise")),
        "{p}"
    );
    let (status, p) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"thresholds": {"dhash": 40}})),
    )
    .await;
    assert_eq!(status, 422, "{p}");
    let (status, p) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"thresholds": {"phash": 6}})),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        t.get_json_as("/v1/banks/api-bank", &rita).await["thresholds"],
        json!({"phash": 6})
    );
    let (status, _) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(status, 200);
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
    // Re-enabling an actioning bank widens again: a proposal.
    let (status, p) = send(
        &t,
        Method::PATCH,
        "/v1/banks/api-bank",
        Some(&alice),
        Some(json!({"status": "active"})),
    )
    .await;
    assert_eq!((status, p["kind"].as_str()), (202, Some("bank_widen")));

    let del = format!("/v1/banks/api-bank/entries/{entry_id}");
    assert_eq!(send(&t, Method::DELETE, &del, None, None).await.0, 401);
    assert_eq!(
        send(&t, Method::DELETE, &del, Some(&alice), None).await.0,
        204
    );
    assert_eq!(
        send(&t, Method::DELETE, &del, Some(&alice), None).await.0,
        404
    );
    let hits = t.get_json_as(&format!("/v1/lookup?pdq={hex}"), &rita).await;
    assert_eq!(hits["hits"].as_array().unwrap().len(), 0);

    // dHash entries: added the same way, looked up by Hamming distance.
    let dhash = json!({"signal_type": "dhash", "signal": "0f0f3c3cf0f0a5a5",
                       "labels": ["gifct:glorification"]});
    let (status, added) = send(&t, Method::POST, path, Some(&alice), Some(dhash)).await;
    assert!(status == 200 || status == 202, "{status} {added}");
    if status == 202 {
        let proposal = added["proposal_id"].as_str().unwrap().to_string();
        assert_eq!(approve(proposal, &bob).await.0, 200);
    }
    let hits = t
        .get_json_as("/v1/lookup?dhash=0f0f3c3cf0f0a5a4&max_distance=1", &rita)
        .await;
    assert_eq!(hits["hits"][0]["entry_id"], added["entry_id"], "{hits}");
    assert_eq!(hits["hits"][0]["distance"], 1);
    assert_eq!(
        t.get_json_as("/v1/lookup?phash=0f0f3c3cf0f0a5a5", &rita)
            .await["hits"],
        json!([])
    );
    for bad in [
        "dhash=0f0f",
        "dhash=0f0f3c3cf0f0a5a5&pdq=00",
        "max_distance=3",
    ] {
        let (status, _) = send(
            &t,
            Method::GET,
            &format!("/v1/lookup?{bad}"),
            Some(&rita),
            None,
        )
        .await;
        assert_eq!(status, 400, "{bad}");
    }

    // Every change is in the chained log with who made it and who approved.
    let log = t.app.store.changelog().await.unwrap();
    assert!(log
        .iter()
        .any(|r| r.kind == "proposal_approved" && r.actor == "bob"));
    assert!(log
        .iter()
        .any(|r| r.kind == "entry_added" && r.actor == "bob"));
    assert!(log
        .iter()
        .any(|r| r.kind == "entry_delete" && r.actor == "alice"));
    assert!(vigil_governance::chain::verify(&log, &[], None).is_ok());
    let m = t.metrics().await;
    assert!(
        metric_value(
            &m,
            "vigil_governance_proposals_total{kind=\"entries_add\",outcome=\"approved\"}"
        ) >= 1.0,
        "{m}"
    );
    t.app.shutdown().await.unwrap();
}
