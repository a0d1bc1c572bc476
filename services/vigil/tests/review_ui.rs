//! The review service end to end over HTTP, in-process on a random port:
//! sign-in, claim, the case page with blurred media served through the
//! authenticated media route, decisions (form and API), the decision
//! produced to `vigil.decisions`, appeals to a different reviewer, the
//! audit log, and hostile requests (no session, wrong role, bad CSRF,
//! deciding an item someone else holds, unknown reasons, injection strings).

mod common;

use chrono::Utc;
use common::*;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use std::time::Duration;
use vigil::Roles;
use vigil_hashdb::{Match, SignalType};
use vigil_pipeline::{Action, ReviewItem, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_store::Role;

const PASSWORD: &str = "correct horse battery staple";

async fn seed(t: &TestApp, id: &str, priority: f64) -> Vec<u8> {
    let img = vigil_models::synth::benign_image(priority as u64 + 3, 128);
    let bytes = png(&img);
    seed_media(t, id, priority, bytes, "image/png").await
}

/// A review item for `bytes` stored as the upload's media.
async fn seed_media(
    t: &TestApp,
    id: &str,
    priority: f64,
    bytes: Vec<u8>,
    content_type: &str,
) -> Vec<u8> {
    let url = t.app.media.put(id, &bytes).await.unwrap();
    let upload_id = UploadId::parse(id).unwrap();
    let msg = UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        media_url: url,
        content_type: Some(content_type.into()),
        platform_context: vigil_pipeline::PlatformContext {
            surface: "feed".into(),
            reach: Some(1200),
            ..Default::default()
        },
        received_at: Utc::now(),
        platform: None,
        sample_key: None,
    };
    t.app.store.record_upload(&msg).await.unwrap();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "builtin-1".into(),
        action: Action::Review,
        signals: vec![],
        matches: vec![Match {
            bank: "tve-demo".into(),
            entry_id: "e-42".into(),
            signal_type: SignalType::Pdq,
            distance: 25,
            labels: vec!["gifct:glorification".into()],
        }],
        classifier: None,
        reasons: vec!["pdq match in bank tve-demo at distance 25 (review threshold 31)".into()],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    let item = ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "builtin-1".into(),
        queue_reason: "borderline_match".into(),
        priority,
        created_at: Utc::now(),
    };
    t.app.store.write_verdict(&v, Some(&item)).await.unwrap();
    bytes
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign in through the form; returns the session cookie.
async fn sign_in(c: &reqwest::Client, base: &str, user: &str, password: &str) -> Option<String> {
    let r = c
        .post(format!("{base}/review/login"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers().get("set-cookie")?.to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    Some(cookie.split(';').next().unwrap().to_string())
}

async fn bearer(c: &reqwest::Client, base: &str, user: &str) -> String {
    let r: serde_json::Value = c
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_string()
}

async fn page(c: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let r = c.get(url).header("cookie", cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("page has a CSRF field")
        + 19;
    html[at..at + 64].to_string()
}

async fn decisions_on_topic(bootstrap: &str, topic: &str, want: usize) -> Vec<serde_json::Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-decisions")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while out.len() < want && tokio::time::Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(2), consumer.recv()).await {
            out.push(serde_json::from_slice(m.payload().unwrap()).unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviewers_work_the_queue_through_the_web_ui_and_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    // The platform files its users' appeals with a key of its own.
    let platform = platform_key(&mut config, dir.path(), "appeals:write");
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let t = spawn_app_with(config, roles, dir).await;
    let base = t.base.clone();
    let c = no_redirects();
    for (name, role) in [
        ("alice", Role::Reviewer),
        ("bob", Role::Reviewer),
        ("lena", Role::Lead),
    ] {
        assert!(vigil_review::add_user(&t.app.store, name, role, PASSWORD)
            .await
            .unwrap());
    }
    assert!(
        vigil_review::add_user(&t.app.store, "weak", Role::Reviewer, "short")
            .await
            .is_err()
    );
    let bytes = seed(&t, "case-1", 0.9).await;

    // No session: pages redirect to sign-in, the API answers 401.
    let r = c.get(format!("{base}/review/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/review/login");
    for url in [
        "/api/review/items",
        "/v1/review/items",
        "/api/audit",
        "/api/review/items/case-1/builtin-1",
    ] {
        let r = c.get(format!("{base}{url}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{url}");
    }
    let r = c
        .post(format!("{base}/v1/appeals"))
        .json(&serde_json::json!({"upload_id": "case-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .get(format!("{base}/api/review/items"))
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(sign_in(&c, &base, "alice", "wrong password!")
        .await
        .is_none());

    // Alice signs in and claims through the form; a POST without the CSRF token is refused.
    let alice = sign_in(&c, &base, "alice", PASSWORD)
        .await
        .expect("alice signs in");
    let (status, html) = page(&c, &format!("{base}/review/"), &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("Claim next item"));
    let csrf = csrf_of(&html);
    let r = c
        .post(format!("{base}/review/claim"))
        .header("cookie", &alice)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(format!("{base}/review/claim"))
        .header("cookie", &alice)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/review/case/case-1/builtin-1");

    // The case page: media hidden by default, the reasons shown, no media path leaked.
    let (status, html) = page(&c, &format!("{base}/review/case/case-1/builtin-1"), &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-state=\"hidden\""));
    assert!(html.contains("tve-demo") && html.contains("gifct:glorification"));
    assert!(!html.contains("file://") && !html.contains(&t.app.media.root().display().to_string()));
    let r = c
        .get(format!("{base}/review/media/case-1/builtin-1"))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The case page renews the lease with the CSRF token in a header.
    let renew = format!("{base}/api/review/items/case-1/builtin-1/renew");
    let r = c
        .post(&renew)
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "no CSRF header");
    let r = c
        .post(&renew)
        .header("cookie", &alice)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Bob holds nothing: no media, no case, no deciding Alice's item.
    let bob = bearer(&c, &base, "bob").await;
    let r = c
        .get(format!("{base}/review/media/case-1/builtin-1"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(format!("{base}/api/review/items/case-1/builtin-1/decision"))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"round": 0, "decision": "overturn", "reason": "false_match"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:vigil:problem:not_held");

    // Alice: an unknown reason is refused; then she upholds with a hostile note.
    let form = |reason: &str, note: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("round", "0".to_string()),
            ("decision", "uphold".to_string()),
            ("reason", reason.to_string()),
            ("note", note.to_string()),
        ]
    };
    let r = c
        .post(format!("{base}/review/case/case-1/builtin-1/decide"))
        .header("cookie", &alice)
        .form(&form("because", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let note = "<script>alert('x')</script> '); DROP TABLE audit_log; --";
    let r = c
        .post(format!("{base}/review/case/case-1/builtin-1/decide"))
        .header("cookie", &alice)
        .form(&form("glorification", note))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    // The same submission again is idempotent.
    let r = c
        .post(format!("{base}/review/case/case-1/builtin-1/decide"))
        .header("cookie", &alice)
        .form(&form("glorification", note))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        t.app
            .store
            .review_outcome("case-1")
            .await
            .unwrap()
            .as_deref(),
        Some("taken_down")
    );

    // The decision reaches vigil.decisions once.
    let recs = decisions_on_topic(&t.app.bootstrap, &t.app.topics.decisions, 1).await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["upload_id"], "case-1");
    assert_eq!(recs[0]["decision"], "uphold");
    assert_eq!(recs[0]["reason"], "glorification");
    assert_eq!(recs[0]["outcome"], "taken_down");

    // Reviewers cannot read the audit log; leads can, and the note is inert HTML.
    let (status, _) = page(&c, &format!("{base}/review/audit"), &alice).await;
    assert_eq!(status, 403);
    let lena = sign_in(&c, &base, "lena", PASSWORD).await.unwrap();
    let (status, html) = page(&c, &format!("{base}/review/audit?q=DROP+TABLE"), &lena).await;
    assert_eq!(status, 200);
    assert!(html.contains("&lt;script&gt;alert"), "notes are escaped");
    assert!(!html.contains("<script>alert"));
    let (status, html) = page(&c, &format!("{base}/review/case/case-1/builtin-1"), &lena).await;
    assert_eq!(status, 200, "leads can read any case");
    assert!(html.contains("Read only"));

    // The uploader appeals (filed by the platform's API client); it goes to Bob, not Alice.
    // A reviewer cannot file one.
    let r = c
        .post(format!("{base}/v1/appeals"))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"upload_id": "case-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(format!("{base}/v1/appeals"))
        .bearer_auth(&platform)
        .json(
            &serde_json::json!({"upload_id": "case-1", "statement": "This is from a news report."}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = c
        .post(format!("{base}/v1/appeals"))
        .bearer_auth(&platform)
        .json(&serde_json::json!({"upload_id": "../../etc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let alice_token = bearer(&c, &base, "alice").await;
    let r = c
        .post(format!("{base}/api/review/claim"))
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "Alice decided it before");
    let claim: serde_json::Value = c
        .post(format!("{base}/api/review/claim"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            claim["upload_id"].as_str(),
            claim["kind"].as_str(),
            claim["round"].as_i64()
        ),
        (Some("case-1"), Some("appeal"), Some(1))
    );
    let case: serde_json::Value = c
        .get(format!("{base}/api/review/items/case-1/builtin-1"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        case["decisions"][0]["reviewer"], "alice",
        "the original context travels with the appeal"
    );
    assert_eq!(case["appeal_statements"][0], "This is from a news report.");
    let r = c
        .post(format!("{base}/api/review/items/case-1/builtin-1/decision"))
        .bearer_auth(&bob)
        .json(&serde_json::json!({"round": 1, "decision": "exempt", "reason": "journalism", "note": "BBC footage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(
        t.app
            .store
            .review_outcome("case-1")
            .await
            .unwrap()
            .as_deref(),
        Some("exempted")
    );
    let appeals = t
        .app
        .store
        .appeals_for("case-1", "builtin-1")
        .await
        .unwrap();
    assert_eq!(
        appeals[0].4.as_deref(),
        Some("exempt"),
        "the appeal's outcome is recorded"
    );

    // Reviewers cannot read the audit API; leads see every action.
    let r = c
        .get(format!("{base}/api/audit"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let lena_token = bearer(&c, &base, "lena").await;
    let audit: serde_json::Value = c
        .get(format!("{base}/api/audit?upload_id=case-1"))
        .bearer_auth(&lena_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["decide", "claim", "appeal", "decide", "claim"],
        "newest first"
    );

    // Full-text search over the audit log and its cases.
    let found: serde_json::Value = c
        .get(format!("{base}/api/audit"))
        .query(&[("q", "bank:tve-demo AND decision:uphold")])
        .bearer_auth(&lena_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found = found["entries"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["actor"], "alice");
    let (status, _) = page(
        &c,
        &format!("{base}/review/audit?q=%22%27%29%3B+DROP"),
        &lena,
    )
    .await;
    assert_eq!(status, 200, "hostile search text is inert");

    // Once the evidence is purged the media route says so.
    assert!(t
        .app
        .store
        .mark_media_purged("case-1", "system", "test")
        .await
        .unwrap());
    let r = c
        .get(format!("{base}/review/media/case-1/builtin-1"))
        .bearer_auth(&lena_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 410);

    let metrics = t.metrics().await;
    assert!(
        metric_value(
            &metrics,
            "vigil_review_decisions_total{decision=\"uphold\",kind=\"review\"}"
        ) >= 1.0
    );
    assert!(metric_value(&metrics, "vigil_review_refusals_total{kind=\"csrf\"}") >= 1.0);
    t.app.shutdown().await.unwrap();
}

/// A video under review is shown as a contact sheet of still frames (made
/// by the confined FFmpeg decoder at request time), blurred and greyscale
/// until revealed like an image, never as a playing video; the sheet is
/// served only through the authenticated media routes, to the claim holder
/// or a lead. Needs Debian's ffmpeg (`make setup`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_case_shows_a_blurred_contact_sheet_and_never_plays() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let work = tempfile::tempdir().unwrap();
    let clip = work.path().join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=9:size=320x240:rate=10")
        .args(["-pix_fmt", "yuv420p"])
        .arg(&clip)
        .status()
        .expect("ffmpeg is installed (make setup)");
    assert!(status.success());
    let t = spawn_app_with(config, roles, dir).await;
    for (name, role) in [
        ("alice", Role::Reviewer),
        ("bob", Role::Reviewer),
        ("lena", Role::Lead),
    ] {
        vigil_review::add_user(&t.app.store, name, role, PASSWORD)
            .await
            .unwrap();
    }
    let video = std::fs::read(&clip).unwrap();
    seed_media(&t, "video-1", 0.9, video, "video/mp4").await;
    let base = t.base.clone();
    let c = no_redirects();
    let sheet_url = format!("{base}/review/media/video-1/builtin-1/sheet");

    // Nobody signed in: no sheet.
    let r = c.get(&sheet_url).send().await.unwrap();
    assert_ne!(r.status().as_u16(), 200);

    let alice = sign_in(&c, &base, "alice", PASSWORD).await.unwrap();
    let (_, html) = page(&c, &format!("{base}/review/"), &alice).await;
    let r = c
        .post(format!("{base}/review/claim"))
        .header("cookie", &alice)
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/review/case/video-1/builtin-1");
    let (status, html) = page(&c, &format!("{base}/review/case/video-1/builtin-1"), &alice).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-state=\"hidden\""), "media start hidden");
    assert!(
        html.contains("src=\"/review/media/video-1/builtin-1/sheet\""),
        "{html}"
    );
    assert!(html.contains("9 frames evenly spaced"));
    assert!(!html.contains("<video"), "no player on the page");
    assert!(!html.contains("autoplay"));

    let r = c
        .get(&sheet_url)
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    let jpeg = r.bytes().await.unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");

    // Another reviewer who does not hold the claim gets no sheet; a lead does.
    let bob = bearer(&c, &base, "bob").await;
    let r = c.get(&sheet_url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let lena = bearer(&c, &base, "lena").await;
    let r = c.get(&sheet_url).bearer_auth(&lena).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // An image item has no contact sheet.
    seed(&t, "image-1", 0.1).await;
    let r = c
        .get(format!("{base}/review/media/image-1/builtin-1/sheet"))
        .bearer_auth(&lena)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let t = spawn_app_with(config, roles, dir).await;
    vigil_review::add_user(&t.app.store, "mallory", Role::Reviewer, PASSWORD)
        .await
        .unwrap();
    let c = no_redirects();
    for _ in 0..5 {
        let r = c
            .post(format!("{}/api/login", t.base))
            .json(&serde_json::json!({"username": "mallory", "password": "guess guess guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let r = c
        .post(format!("{}/api/login", t.base))
        .json(&serde_json::json!({"username": "mallory", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        429,
        "even the right password waits out the lock"
    );
    t.app.shutdown().await.unwrap();
}

/// The bank overview and the summary page: signed-in people see banks with
/// their charter, size and overturns, and the queue and error estimates;
/// without a session both send to the sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_overview_and_summary_pages() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let t = spawn_app_with(config, roles, dir).await;
    vigil::banks::create_bank(
        &t.app.banks(),
        "overview-bank",
        vigil_hashdb::BankAction::Takedown,
        &["gifct:glorification".into()],
    )
    .await
    .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), "overview-bank", "test")
        .await
        .unwrap();
    t.app
        .store
        .upsert_entries(&vigil::banks::pdq_entries(
            "overview-bank",
            &["f".repeat(64), "e".repeat(64)],
        ))
        .await
        .unwrap();
    vigil::banks::create_bank(
        &t.app.banks(),
        "uncharted-bank",
        vigil_hashdb::BankAction::ReviewOnly,
        &[],
    )
    .await
    .unwrap();
    seed(&t, "summary-1", 0.5).await;
    vigil_review::add_user(&t.app.store, "rosa", Role::Reviewer, PASSWORD)
        .await
        .unwrap();
    let c = no_redirects();
    for path in ["/review/banks", "/review/metrics"] {
        let r = c.get(format!("{}{path}", t.base)).send().await.unwrap();
        assert!(
            r.status().is_redirection() || r.status().as_u16() == 401,
            "{path} without a session: {}",
            r.status()
        );
    }
    let cookie = sign_in(&c, &t.base, "rosa", PASSWORD).await.unwrap();
    let (status, html) = page(&c, &format!("{}/review/banks", t.base), &cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("overview-bank") && html.contains("uncharted-bank"),
        "{html}"
    );
    assert!(html.contains("pdq=2"), "entry counts: {html}");
    assert!(
        html.contains("none: review only"),
        "the bank without a charter: {html}"
    );
    let (status, html) = page(&c, &format!("{}/review/metrics", t.base), &cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Queue now") && html.contains("False-positive rate"),
        "{html}"
    );
    assert!(html.contains("No audited items yet."), "{html}");
    t.app.shutdown().await.unwrap();
}

/// Not a check: seeds a realistic queue and keeps the UI up so it can be
/// screenshotted (`VIGIL_SCREENSHOT_DIR=/tmp/shots cargo test -p vigil --test
/// review_ui -- --ignored`). Writes `base`, `alice.cookie` and `lena.cookie`
/// there and serves until `stop` appears in the folder (or 10 minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn serve_for_screenshots() {
    let out = std::path::PathBuf::from(
        std::env::var("VIGIL_SCREENSHOT_DIR").unwrap_or_else(|_| "/tmp/vigil-shots".into()),
    );
    std::fs::create_dir_all(&out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let roles = Roles {
        hook: false,
        workers: false,
        review: true,
    };
    let t = spawn_app_with(config, roles, dir).await;
    for (name, role) in [
        ("alice", Role::Reviewer),
        ("bob", Role::Reviewer),
        ("lena", Role::Lead),
    ] {
        vigil_review::add_user(&t.app.store, name, role, PASSWORD)
            .await
            .unwrap();
    }
    for (i, p) in [0.92, 0.81, 0.64, 0.55, 0.41, 0.33, 0.2].iter().enumerate() {
        seed(&t, &format!("0194c1d2-7a3b-7c1e-9f{i:02}-5e1a2b3c4d5e"), *p).await;
    }
    let c = no_redirects();
    let alice = sign_in(&c, &t.base, "alice", PASSWORD).await.unwrap();
    let lena = sign_in(&c, &t.base, "lena", PASSWORD).await.unwrap();
    // Bob decides two, one of which is appealed, so there is history.
    let bob = bearer(&c, &t.base, "bob").await;
    let lena_api = bearer(&c, &t.base, "lena").await;
    for (decision, reason, note) in [
        (
            "overturn",
            "false_match",
            "Different flag; only the colours are similar.",
        ),
        (
            "uphold",
            "glorification",
            "Caption praises the attacker by name.",
        ),
    ] {
        let claim: serde_json::Value = c
            .post(format!("{}/api/review/claim", t.base))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (u, pv) = (
            claim["upload_id"].as_str().unwrap(),
            claim["policy_version"].as_str().unwrap(),
        );
        c.post(format!("{}/api/review/items/{u}/{pv}/decision", t.base))
            .bearer_auth(&bob)
            .json(&serde_json::json!({"round": 0, "decision": decision, "reason": reason, "note": note}))
            .send()
            .await
            .unwrap();
        if decision == "uphold" {
            // Filed by a lead here (platforms file with a key of their own).
            c.post(format!("{}/v1/appeals", t.base))
                .bearer_auth(&lena_api)
                .json(&serde_json::json!({"upload_id": u, "statement": "I am a journalist; this is footage from our report on the attack."}))
                .send()
                .await
                .unwrap();
        }
    }
    // One emblem case with a classifier score, claimed by Alice.
    let id = "0194c1d2-7a3b-7c1e-9fff-emblem000001";
    let img = vigil_models::synth::emblem_image(5, 384);
    let url = t.app.media.put(id, &png(&img)).await.unwrap();
    let upload_id = UploadId::parse(id).unwrap();
    t.app
        .store
        .record_upload(&UploadMsg {
            v: MESSAGE_VERSION,
            upload_id: upload_id.clone(),
            media_url: url,
            content_type: Some("image/png".into()),
            platform_context: vigil_pipeline::PlatformContext {
                surface: "news".into(),
                reach: Some(48_000),
                language: Some("ar".into()),
                account_age_days: Some(912),
            },
            received_at: Utc::now(),
            platform: None,
            sample_key: None,
        })
        .await
        .unwrap();
    let v = Verdict {
        v: MESSAGE_VERSION,
        upload_id: upload_id.clone(),
        policy_version: "builtin-1".into(),
        action: Action::Review,
        signals: vec![],
        matches: vec![Match {
            bank: "tve-demo".into(),
            entry_id: "gifct-0042".into(),
            signal_type: SignalType::Pdq,
            distance: 27,
            labels: vec!["gifct:glorification".into(), "source:hash-sharing".into()],
        }],
        classifier: Some(vigil_models::ClassifierOutput {
            model: "emblem".into(),
            version: "v1".into(),
            score: 0.87,
        }),
        reasons: vec![
            "pdq match in bank tve-demo (entry gifct-0042) at distance 27: above auto threshold 20, within review threshold 31".into(),
            "classifier emblem v1 score 0.870 above review_above 0.60 (auto action off)".into(),
            "trusted surface news: routed to review, never automated takedown".into(),
        ],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    };
    let item = ReviewItem {
        v: MESSAGE_VERSION,
        upload_id,
        policy_version: "builtin-1".into(),
        queue_reason: "trusted_surface".into(),
        priority: 1.4,
        created_at: Utc::now() - chrono::Duration::minutes(47),
    };
    t.app.store.write_verdict(&v, Some(&item)).await.unwrap();
    let csrf = csrf_of(&page(&c, &format!("{}/review/", t.base), &alice).await.1);
    c.post(format!("{}/review/claim", t.base))
        .header("cookie", &alice)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    std::fs::write(out.join("base"), &t.base).unwrap();
    std::fs::write(out.join("alice.cookie"), &alice).unwrap();
    std::fs::write(out.join("lena.cookie"), &lena).unwrap();
    std::fs::write(out.join("case"), format!("/review/case/{id}/builtin-1")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while !out.join("stop").exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    t.app.shutdown().await.unwrap();
}
