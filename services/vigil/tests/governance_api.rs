//! Referrals over the HTTP API on the running service: a removal order
//! naming an upload restricts it in the order's jurisdictions only (the
//! policy's default), the statement of reasons names the order, a reviewer
//! contests it, and the governance report counts it.

mod common;

use common::*;
use serde_json::json;

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
