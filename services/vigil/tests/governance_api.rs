//! Governance over the HTTP API on the running service. Referrals: a
//! removal order naming an upload restricts it in the order's
//! jurisdictions only (the policy's default), the verdict is stored,
//! published on `vigil.verdicts` and queued in the actions outbox, its
//! statement of reasons names the order, a reviewer contests it, and the
//! governance report and the transparency report count it. The two-person
//! rule: no single user takes a guarded change to effect over the API. A
//! policy version approved here or by the CLI in another process is put in
//! force in the running workers without a restart.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Every record on `topic` now, as `(key, payload)`.
async fn read_topic(bootstrap: &str, topic: &str) -> Vec<(String, Vec<u8>)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "governance-test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let md = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(30))
            .unwrap();
        let mut ends = std::collections::HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for p in md.topics()[0].partitions() {
            let (lo, hi) = consumer
                .fetch_watermarks(&topic, p.id(), Duration::from_secs(30))
                .unwrap();
            if hi > lo {
                ends.insert(p.id(), hi);
                tpl.add_partition_offset(&topic, p.id(), Offset::Beginning)
                    .unwrap();
            }
        }
        let mut out = Vec::new();
        if ends.is_empty() {
            return out;
        }
        consumer.assign(&tpl).unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ends.is_empty() {
            assert!(Instant::now() < deadline, "could not read all of {topic}");
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
                out.push((key, m.payload().unwrap_or_default().to_vec()));
                if ends
                    .get(&m.partition())
                    .is_some_and(|hi| m.offset() + 1 >= *hi)
                {
                    ends.remove(&m.partition());
                }
            }
        }
        out
    })
    .await
    .unwrap()
}

/// A request with a bearer token (none: unauthenticated); the status and
/// the JSON answer (`null` when there is none).
async fn call(
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
async fn referral_restricts_in_its_jurisdictions_with_reasons_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;
    let password = "lena-password-long";
    vigil_review::add_user(&t.app.store, "lena", vigil_store::Role::Lead, password)
        .await
        .unwrap();
    let (_, login) = t
        .post_json(
            "/api/login",
            json!({"username": "lena", "password": password}),
        )
        .await;
    let token = login["token"].as_str().unwrap().to_string();

    let img = vigil_models::synth::benign_image(5, 256);
    let id = t.upload_ok(png(&img), "image/png").await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "none");

    let order = json!({
        "issuer": "Europol IRU",
        "legal_basis": "EU TCO Regulation 2021/784 art. 3 removal order",
        "reference": "RO-2026-0042",
        "jurisdictions": ["DE", "FR"],
        "deadline": "2026-11-24T18:00:00Z",
        "targets": [{"type": "upload", "upload_id": id}]
    });
    // Unauthenticated: refused. A worldwide "jurisdiction": refused.
    assert_eq!(t.post_json("/v1/referrals", order.clone()).await.0, 401);
    let post = |body: serde_json::Value| {
        let (t, token) = (&t, token.clone());
        async move {
            let r = t
                .client
                .post(format!("{}/v1/referrals", t.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let mut everywhere = order.clone();
    everywhere["jurisdictions"] = json!(["*"]);
    assert_eq!(post(everywhere).await.0, 422);

    let (status, created) = post(order).await;
    assert_eq!(status, 201, "{created}");
    let rid = created["referral_id"].as_str().unwrap().to_string();
    assert_eq!(created["actions"][0]["action"], "restrict");

    // The upload's latest verdict is the scoped restriction, naming the order.
    let v = t.verdict(&id).await;
    assert_eq!(
        v["verdict"]["action"],
        json!({"restrict": {"jurisdictions": ["DE", "FR"]}}),
        "{v}"
    );
    assert_eq!(v["verdict"]["policy_version"], format!("referral/{rid}"));
    let sor_json = &v["verdict"]["statement_of_reasons"];
    assert_eq!(
        sor_json["referral"]["referral_id"],
        rid.as_str(),
        "{sor_json}"
    );
    assert_eq!(sor_json["automated_decision"], false);
    let sor = sor_json["decision"].as_str().unwrap().to_string();
    assert!(sor.contains(&rid) && sor.contains("RO-2026-0042"), "{sor}");
    assert!(sor.contains("restricted in DE, FR only"), "{sor}");
    assert!(
        sor.contains("Europol IRU") && sor.contains("2021/784"),
        "{sor}"
    );

    // The verdict is published on vigil.verdicts like a worker's, and its
    // action waits in the actions outbox for delivery to the platform.
    let published = read_topic(&t.app.bootstrap, &t.app.topics.verdicts).await;
    let ours: Vec<serde_json::Value> = published
        .iter()
        .filter(|(k, _)| *k == id)
        .map(|(_, v)| serde_json::from_slice(v).unwrap())
        .filter(|v: &serde_json::Value| v["policy_version"] == format!("referral/{rid}"))
        .collect();
    assert_eq!(ours.len(), 1, "{published:?}");
    assert_eq!(
        ours[0]["action"],
        json!({"restrict": {"jurisdictions": ["DE", "FR"]}})
    );
    assert_eq!(
        ours[0]["statement_of_reasons"]["referral"]["referral_id"],
        rid.as_str()
    );
    let uid = vigil_pipeline::UploadId::parse(&id).unwrap();
    let rows = t.app.store.actions_for(&uid).await.unwrap();
    let queued: Vec<_> = rows
        .iter()
        .filter(|a| a.msg.policy_version == format!("referral/{rid}"))
        .collect();
    assert_eq!(
        queued.len(),
        1,
        "one outbox action for the referral's verdict"
    );
    let msg = serde_json::to_value(&queued[0].msg).unwrap();
    assert_eq!(
        msg["action"],
        json!({"restrict": {"jurisdictions": ["DE", "FR"]}}),
        "{msg}"
    );
    assert_eq!(
        msg["statement_of_reasons"]["referral"]["referral_id"],
        rid.as_str()
    );

    // Contested by a reviewer, with a reason.
    let r = t
        .client
        .post(format!("{}/v1/referrals/{rid}/contest", t.base))
        .bearer_auth(&token)
        .json(&json!({"reason": "documentation of a crime by a news outlet"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let list: serde_json::Value = t
        .client
        .get(format!("{}/v1/referrals", t.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["referrals"][0]["status"], "contested");
    assert!(list["referrals"][0]["handled_at"].is_string());

    let report: serde_json::Value = t
        .client
        .get(format!("{}/v1/governance/report", t.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["referrals"]["total"], 1);
    assert_eq!(report["referrals"]["contested"], 1);
    assert_eq!(report["referrals_by_issuer"]["Europol IRU"]["total"], 1);
    assert_eq!(report["referrals_by_jurisdiction"]["FR"]["total"], 1);
    assert!(report["referrals"]["median_handling_seconds"].is_number());
    // The transparency report shows the same numbers, in JSON and HTML.
    let tr = vigil::report::transparency(&t.app.store, &Default::default())
        .await
        .unwrap();
    let g = tr.governance.as_ref().expect("governance section");
    assert_eq!(g.referrals.contested, 1);
    assert_eq!(g.referrals_by_jurisdiction["DE"].total, 1);
    let j: serde_json::Value = serde_json::from_str(&tr.to_json()).unwrap();
    assert_eq!(
        j["governance"]["referrals_by_issuer"]["Europol IRU"]["contested"],
        1
    );
    assert!(tr
        .to_html()
        .contains("<td>Europol IRU</td><td>1</td><td>0 (0.0%)</td><td>1 (100.0%)</td>"));
    // The scoped action is counted among the actions.
    assert!(
        j["actions"]["by_action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "restrict" && c["n"] == 1),
        "{j}"
    );

    let m = t.metrics().await;
    assert_eq!(
        metric_value(&m, "vigil_governance_referrals_total{outcome=\"acted\"}"),
        1.0,
        "{m}"
    );
    assert!(m.contains("vigil_governance_changelog_records"));
    t.app.shutdown().await.unwrap();
}

/// Sign in through the review form; the session cookie and the page's CSRF token.
async fn sign_in_form(t: &TestApp, user: &str, password: &str) -> (String, String) {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(format!("{}/review/login", t.base))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = c
        .get(format!("{}/review/proposals", t.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    (cookie, html[at..at + 64].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_proposals_page_lets_only_a_second_lead_approve_with_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;
    for (u, role) in [
        ("alice", vigil_store::Role::Lead),
        ("bob", vigil_store::Role::Admin),
        ("rita", vigil_store::Role::Reviewer),
    ] {
        vigil_review::add_user(&t.app.store, u, role, &format!("{u}-password-long"))
            .await
            .unwrap();
    }
    // alice proposes an actioning bank through the API.
    let (_, login) = t
        .post_json(
            "/api/login",
            json!({"username": "alice", "password": "alice-password-long"}),
        )
        .await;
    let r = t
        .client
        .post(format!("{}/v1/banks", t.base))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&json!({"name": "ui-bank", "action": "takedown"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["proposal_id"]
        .as_str()
        .unwrap()
        .to_string();

    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let decide = |cookie: String, csrf: String, decision: &'static str| {
        let (c, url) = (
            c.clone(),
            format!("{}/review/proposals/{id}/decide", t.base),
        );
        async move {
            let r = c
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("decision", decision),
                    ("note", "ok"),
                ])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };

    // A reviewer cannot see the page.
    let (rita, _) = {
        let c2 = c.clone();
        let r = c2
            .post(format!("{}/review/login", t.base))
            .form(&[("username", "rita"), ("password", "rita-password-long")])
            .send()
            .await
            .unwrap();
        let ck = r.headers()["set-cookie"].to_str().unwrap();
        (ck.split(';').next().unwrap().to_string(), ())
    };
    let r = c
        .get(format!("{}/review/proposals", t.base))
        .header("cookie", &rita)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The proposer sees it without buttons and cannot decide it.
    let (alice, alice_csrf) = sign_in_form(&t, "alice", "alice-password-long").await;
    let page = c
        .get(format!("{}/review/proposals", t.base))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&id) && page.contains("bank_widen"), "{page}");
    assert!(page.contains("+ bank ui-bank action=Takedown"), "{page}");
    assert!(page.contains("Your proposal"));
    assert_eq!(decide(alice, alice_csrf, "approve").await.0, 403);

    // bob: a wrong CSRF token is refused; the right one approves.
    let (bob, bob_csrf) = sign_in_form(&t, "bob", "bob-password-long").await;
    let (status, _) = decide(bob.clone(), "0".repeat(64), "approve").await;
    assert_eq!(status, 403);
    assert_eq!(
        t.app.store.proposal(&id).await.unwrap().unwrap().status,
        vigil_governance::Status::Pending
    );
    let (status, _) = decide(bob, bob_csrf, "approve").await;
    assert_eq!(status, 303);
    let p = t.app.store.proposal(&id).await.unwrap().unwrap();
    assert_eq!(p.status, vigil_governance::Status::Approved);
    assert_eq!(p.decided_by.as_deref(), Some("bob"));
    assert!(t
        .app
        .store
        .banks()
        .await
        .unwrap()
        .iter()
        .any(|b| b.name == "ui-bank"));
    t.app.shutdown().await.unwrap();
}

struct People {
    alice: String,
    bob: String,
    rita: String,
}

/// A guarded change alice proposed (`answer`: the API's 202) takes no
/// effect (`in_effect` stays false) until a second person approves it: not
/// alice, not a reviewer, not an unauthenticated caller; bob (admin) does.
async fn only_a_second_person_approves<F, Fut>(
    t: &TestApp,
    who: &People,
    answer: (u16, serde_json::Value),
    kind: &str,
    in_effect: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (status, body) = answer;
    assert_eq!(status, 202, "{kind}: {body}");
    assert_eq!(body["outcome"], "proposed", "{body}");
    assert_eq!(body["kind"], kind, "{body}");
    let id = body["proposal_id"].as_str().unwrap().to_string();
    assert!(!in_effect().await, "{kind} in effect before approval");
    let path = format!("/v1/proposals/{id}/approve");
    let post = reqwest::Method::POST;
    let (s, b) = call(t, post.clone(), &path, Some(&who.alice), None).await;
    assert_eq!((s, b["title"].as_str()), (403, Some("own_proposal")), "{b}");
    let (s, b) = call(t, post.clone(), &path, Some(&who.rita), None).await;
    assert_eq!(s, 403, "{b}");
    let (s, _) = call(t, post.clone(), &path, None, None).await;
    assert_eq!(s, 401);
    // Rejecting is deciding too: the proposer cannot.
    let reject = format!("/v1/proposals/{id}/reject");
    assert_eq!(
        call(t, post.clone(), &reject, Some(&who.alice), None)
            .await
            .0,
        403
    );
    assert!(
        !in_effect().await,
        "{kind} in effect after refused approvals"
    );
    // Leads, admins and auditors read proposals; a reviewer does not.
    let (status, _) = call(
        t,
        reqwest::Method::GET,
        "/v1/proposals",
        Some(&who.rita),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (_, pending) = call(
        t,
        reqwest::Method::GET,
        "/v1/proposals",
        Some(&who.alice),
        None,
    )
    .await;
    assert!(pending.to_string().contains(&id), "{pending}");
    let (s, b) = call(
        t,
        post.clone(),
        &path,
        Some(&who.bob),
        Some(json!({"note": "checked"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "approved");
    assert_eq!(b["decided_role"], "admin");
    assert!(in_effect().await, "{kind} not in effect after approval");
    // Decided once.
    assert_ne!(call(t, post, &path, Some(&who.bob), None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_single_user_can_widen_removal_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;
    let who = People {
        alice: api_user(&t, "alice", vigil_store::Role::Lead).await,
        bob: api_user(&t, "bob", vigil_store::Role::Admin).await,
        rita: api_user(&t, "rita", vigil_store::Role::Reviewer).await,
    };
    let (post, patch, put, delete) = (
        reqwest::Method::POST,
        reqwest::Method::PATCH,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    );
    // What is in effect, as anyone signed in sees it.
    let (tr, rita) = (&t, who.rita.as_str());
    let bank = move || async move {
        call(tr, reqwest::Method::GET, "/v1/banks/tk", Some(rita), None)
            .await
            .1
    };

    // bank_widen: an actioning bank.
    let answer = call(
        &t,
        post.clone(),
        "/v1/banks",
        Some(&who.alice),
        Some(json!({"name": "tk", "action": "takedown"})),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "bank_widen", move || async move {
        bank().await["name"] == "tk"
    })
    .await;

    // entries_add: a new entry matches nothing before approval.
    let h1 = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
    let matches = move || async move {
        let hits = tr
            .get_json_as(&format!("/v1/lookup?pdq={h1}&max_distance=0"), rita)
            .await;
        !hits["hits"].as_array().unwrap().is_empty()
    };
    let answer = call(
        &t,
        post.clone(),
        "/v1/banks/tk/entries",
        Some(&who.alice),
        Some(json!({"signal_type": "pdq", "signal": h1})),
    )
    .await;
    let entry_id = answer.1["entry_id"].as_str().unwrap().to_string();
    only_a_second_person_approves(&t, &who, answer, "entries_add", matches).await;

    // entries_add: re-enabling a removed entry waits as well.
    let (s, _) = call(
        &t,
        delete,
        &format!("/v1/banks/tk/entries/{entry_id}"),
        Some(&who.alice),
        None,
    )
    .await;
    assert_eq!(s, 204, "removing narrows: at once");
    assert!(!matches().await);
    let answer = call(
        &t,
        post.clone(),
        "/v1/banks/tk/entries",
        Some(&who.alice),
        Some(json!({"signal_type": "pdq", "signal": h1})),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "entries_add", matches).await;

    // threshold_raise: lowering applies at once, raising waits.
    let (s, b) = call(
        &t,
        patch.clone(),
        "/v1/banks/tk",
        Some(&who.alice),
        Some(json!({"pdq_threshold": 8})),
    )
    .await;
    assert_eq!((s, b["pdq_threshold"].as_u64()), (200, Some(8)), "{b}");
    let answer = call(
        &t,
        patch.clone(),
        "/v1/banks/tk",
        Some(&who.alice),
        Some(json!({"pdq_threshold": 24})),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "threshold_raise", move || async move {
        bank().await["pdq_threshold"] == 24
    })
    .await;

    // bank_widen: re-activating a disabled actioning bank.
    let (s, _) = call(
        &t,
        patch.clone(),
        "/v1/banks/tk",
        Some(&who.alice),
        Some(json!({"status": "disabled"})),
    )
    .await;
    assert_eq!(s, 200);
    let answer = call(
        &t,
        patch,
        "/v1/banks/tk",
        Some(&who.alice),
        Some(json!({"status": "active"})),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "bank_widen", move || async move {
        bank().await["status"] == "active"
    })
    .await;

    // charter_change.
    let charter = json!({
        "scope": "Attacker manifestos", "allowed_labels": ["gifct:attacker_manifesto"],
        "legal_basis": [{"kind": "law", "reference": "Online Safety Act 2023 s.10"}],
        "owner": "ct-team", "jurisdictions": ["GB"], "allowed_actions": ["restrict"],
        "trusted_sources": []
    });
    let answer = call(
        &t,
        put,
        "/v1/banks/tk/charter",
        Some(&who.alice),
        Some(charter),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "charter_change", move || async move {
        let (_, c) = call(
            tr,
            reqwest::Method::GET,
            "/v1/banks/tk/charter",
            Some(rita),
            None,
        )
        .await;
        !c["charter"].is_null()
    })
    .await;

    // policy_version: the running workers decide under it once approved.
    let base = vigil_pipeline::policy::DEFAULT_POLICY_TOML;
    let current = vigil_pipeline::Policy::builtin().version;
    let v2 = base.replace(
        &format!("version = \"{current}\""),
        "version = \"gov-api-2\"",
    );
    assert_ne!(v2, base);
    let (s, b) = call(
        &t,
        post.clone(),
        "/v1/policies",
        Some(&who.alice),
        Some(json!({"toml": base})),
    )
    .await;
    assert_eq!(s, 422, "the version in force again: {b}");
    let answer = call(
        &t,
        post.clone(),
        "/v1/policies",
        Some(&who.alice),
        Some(json!({"toml": v2})),
    )
    .await;
    only_a_second_person_approves(&t, &who, answer, "policy_version", move || async move {
        tr.app.policy.current().version == "gov-api-2"
    })
    .await;
    let img = vigil_models::synth::benign_image(11, 256);
    let id = t.upload_ok(png(&img), "image/png").await;
    assert_eq!(
        t.verdict(&id).await["verdict"]["policy_version"],
        "gov-api-2"
    );

    // classifier_auto_action: enabling the classifier's automated action.
    let v3 = v2
        .replace("version = \"gov-api-2\"", "version = \"gov-api-3\"")
        .replace("[classifier]", "[classifier]\nauto_above = 0.99");
    let answer = call(
        &t,
        post,
        "/v1/policies",
        Some(&who.alice),
        Some(json!({"toml": v3})),
    )
    .await;
    only_a_second_person_approves(
        &t,
        &who,
        answer,
        "classifier_auto_action",
        move || async move { tr.app.policy.current().classifier.auto_above == Some(0.99) },
    )
    .await;

    let report = vigil::report::transparency(&t.app.store, &Default::default())
        .await
        .unwrap()
        .governance
        .unwrap();
    assert_eq!(report.bank_changes_by_approver_role.get("admin"), Some(&8));
    assert_eq!(report.bank_changes_by_kind["entries_add"]["approved"], 2);
    t.app.shutdown().await.unwrap();
}

/// A policy version proposed and approved with the CLI, in other processes,
/// against the same database: the running service's workers put it in
/// force within `worker.policy_reload_secs`, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_approved_by_the_cli_reaches_running_workers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut config = test_config(&data);
    config.classifier.enabled = false;
    config.worker.policy_reload_secs = 1;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;
    for (u, role) in [
        ("alice", vigil_store::Role::Lead),
        ("bob", vigil_store::Role::Admin),
    ] {
        vigil_review::add_user(&t.app.store, u, role, &format!("{u}-password-long"))
            .await
            .unwrap();
    }
    let before = vigil_pipeline::Policy::builtin().version;
    let img = vigil_models::synth::benign_image(3, 256);
    let id = t.upload_ok(png(&img), "image/png").await;
    assert_eq!(
        t.verdict(&id).await["verdict"]["policy_version"],
        before.as_str()
    );

    let cli = |user: &str, args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .env("VIGIL_DATA_DIR", &data)
            .env("VIGIL_LOG", "warn")
            .env("VIGIL_AS", user)
            .env("VIGIL_PASSWORD", format!("{user}-password-long"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let v2 = vigil_pipeline::policy::DEFAULT_POLICY_TOML.replace(
        &format!("version = \"{before}\""),
        "version = \"cli-approved-2\"",
    );
    let file = data.join("p2.toml");
    std::fs::write(&file, v2).unwrap();
    let out = cli("alice", &["policy", "propose", file.to_str().unwrap()]);
    let pid = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("proposal="))
        .unwrap()
        .to_string();
    assert_eq!(
        t.app.policy.current().version,
        before,
        "not before approval"
    );
    cli("bob", &["proposal", "approve", &pid]);

    // New uploads are decided under the approved version once the running
    // process has looked (every second here); no restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let id = t.upload_ok(png(&img), "image/png").await;
        let v = t.verdict(&id).await;
        if v["verdict"]["policy_version"] == "cli-approved-2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the approved policy never reached the workers: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(t.app.policy.current().version, "cli-approved-2");
    t.app.shutdown().await.unwrap();
}
