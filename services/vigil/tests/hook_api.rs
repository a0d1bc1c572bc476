//! The hook's API beyond plain uploads: authentication (bearer keys, signed
//! requests, every rejection as problem+json), per-key limits, the
//! synchronous `POST /v1/check`, and backpressure when the broker is gone.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vigil::Roles;
use vigil_hashdb::{BankAction, BankEntry, SignalType};
use vigil_models::synth;

const SECRET_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SECRET_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SECRET_SMALL: &str = "ssssssssssssssssssssssssssssssssssss";

fn form(bytes: Vec<u8>, id: Option<&str>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("f")
        .mime_str("image/png")
        .unwrap();
    let f = reqwest::multipart::Form::new()
        .part("file", part)
        .text("surface", "feed");
    match id {
        Some(id) => f.text("upload_id", id.to_string()),
        None => f,
    }
}

async fn problem(r: reqwest::Response) -> (u16, serde_json::Value) {
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "refusals are problem+json"
    );
    (status, r.json().await.unwrap())
}

async fn spawn_with_keys(rate: f64, burst: u32) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("hook-keys");
    std::fs::write(
        &keys,
        format!(
            "# two keys for acme: a rotation in progress\nacme-2025 acme {SECRET_A}\nacme-2026 acme {SECRET_B}\nsmall other {SECRET_SMALL} 2000\n"
        ),
    )
    .unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.hook.auth_required = true;
    config.hook.keys_file = Some(keys);
    config.hook.rate_per_key_per_s = rate;
    config.hook.burst_per_key = burst;
    spawn_app_with(config, Roles::ALL, dir).await
}

/// Sign like a platform would: HMAC-SHA256 over the canonical string.
fn signed(
    t: &TestApp,
    key_id: &str,
    secret: &str,
    ts: i64,
    path: &str,
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::RequestBuilder {
    let sig = vigil_hook::sign(secret.as_bytes(), ts, "POST", path, &body);
    t.client
        .post(format!("{}{path}", t.base))
        .header("x-vigil-key", key_id)
        .header("x-vigil-timestamp", ts.to_string())
        .header("x-vigil-signature", sig)
        .header("content-type", content_type)
        .body(body)
}

fn json_upload(id: &str) -> Vec<u8> {
    // A media_url outside the media store: accepted by auth, refused (422)
    // by the upload handler, which is enough to tell auth passed.
    serde_json::to_vec(&serde_json::json!({"media_url": "file:///etc/passwd", "upload_id": id}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_is_typed_and_valid_keys_pass() {
    let t = spawn_with_keys(1000.0, 1000).await;
    let url = format!("{}/v1/uploads", t.base);
    let img = png(&synth::benign_image(1, 64));

    // No credentials.
    let r = t
        .client
        .post(&url)
        .multipart(form(img.clone(), None))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:missing_credentials"))
    );

    // Unknown key, wrong secret, malformed header.
    for (token, kind) in [
        (format!("nobody.{SECRET_A}"), "unknown_key"),
        (format!("acme-2025.{SECRET_B}"), "bad_secret"),
        (SECRET_A.to_string(), "malformed_credentials"),
    ] {
        let r = t
            .client
            .post(&url)
            .bearer_auth(&token)
            .multipart(form(img.clone(), None))
            .send()
            .await
            .unwrap();
        let (s, p) = problem(r).await;
        assert_eq!(s, 401, "{kind}");
        assert_eq!(p["type"], format!("urn:vigil:problem:{kind}"));
    }

    // Both keys of the rotation work.
    for token in [
        format!("acme-2025.{SECRET_A}"),
        format!("acme-2026.{SECRET_B}"),
    ] {
        let r = t
            .client
            .post(&url)
            .bearer_auth(&token)
            .multipart(form(img.clone(), None))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
    }
    // GET needs a key too.
    let r = t
        .client
        .get(format!("{}/v1/uploads/x1", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Signed requests.
    let now = chrono::Utc::now().timestamp();
    let body = json_upload("signed-1");
    let r = signed(
        &t,
        "acme-2025",
        SECRET_A,
        now,
        "/v1/uploads",
        body.clone(),
        "application/json",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.status().as_u16(),
        422,
        "auth passed, the handler judged the body"
    );
    // The identical request again: a replay.
    let r = signed(
        &t,
        "acme-2025",
        SECRET_A,
        now,
        "/v1/uploads",
        body.clone(),
        "application/json",
    )
    .send()
    .await
    .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:replayed_request"))
    );
    // Signed with the wrong secret.
    let r = signed(
        &t,
        "acme-2025",
        SECRET_B,
        now + 1,
        "/v1/uploads",
        body.clone(),
        "application/json",
    )
    .send()
    .await
    .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:bad_signature"))
    );
    // A body changed after signing.
    let sig = vigil_hook::sign(SECRET_A.as_bytes(), now + 2, "POST", "/v1/uploads", &body);
    let r = t
        .client
        .post(&url)
        .header("x-vigil-key", "acme-2025")
        .header("x-vigil-timestamp", (now + 2).to_string())
        .header("x-vigil-signature", sig)
        .header("content-type", "application/json")
        .body(json_upload("signed-2"))
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:bad_signature"))
    );
    // Too old.
    let r = signed(
        &t,
        "acme-2025",
        SECRET_A,
        now - 3600,
        "/v1/uploads",
        body.clone(),
        "application/json",
    )
    .send()
    .await
    .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:stale_timestamp"))
    );
    // Unknown key id.
    let r = signed(
        &t,
        "nobody",
        SECRET_A,
        now,
        "/v1/uploads",
        body.clone(),
        "application/json",
    )
    .send()
    .await
    .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("urn:vigil:problem:unknown_key"))
    );
    // Signed but the timestamp header missing.
    let r = t
        .client
        .post(&url)
        .header("x-vigil-key", "acme-2025")
        .header("x-vigil-signature", "v1=00")
        .body("x")
        .send()
        .await
        .unwrap();
    let (s, _) = problem(r).await;
    assert_eq!(s, 401);

    // The small key's own size limit (2000 bytes).
    let big = png(&synth::benign_image(2, 256));
    assert!(big.len() > 2000);
    let r = t
        .client
        .post(&url)
        .bearer_auth(format!("small.{SECRET_SMALL}"))
        .multipart(form(big, None))
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (413, Some("urn:vigil:problem:too_large"))
    );

    let m = t.metrics().await;
    for reason in [
        "missing_credentials",
        "unknown_key",
        "bad_secret",
        "bad_signature",
        "stale_timestamp",
        "replayed_request",
        "too_large",
    ] {
        assert!(
            metric_value(
                &m,
                &format!("vigil_hook_auth_rejections_total{{reason=\"{reason}\"}}")
            ) >= 1.0,
            "{reason} is counted"
        );
    }
    // Metrics and health stay open.
    let r = t
        .client
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_key_answers_429_with_retry_after() {
    // One request per second sustained, three at once.
    let t = spawn_with_keys(1.0, 3).await;
    let url = format!("{}/v1/uploads/x", t.base);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = t
            .client
            .get(&url)
            .bearer_auth(format!("acme-2025.{SECRET_A}"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let (_, p) = problem(r).await;
            assert_eq!(p["type"], "urn:vigil:problem:rate_limited");
        }
    }
    assert_eq!(&statuses[..3], &[404, 404, 404], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Another key of the same platform has its own bucket.
    let r = t
        .client
        .get(&url)
        .bearer_auth(format!("acme-2026.{SECRET_B}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_required_without_keys_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.hook.auth_required = true;
    let err = match vigil::App::start(&config, Roles::ALL).await {
        Ok(_) => panic!("started without keys"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("auth_required"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_matches_synchronously_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let t = spawn_app_with(config, Roles::ALL, dir).await;
    vigil::banks::create_bank(
        &t.app.banks(),
        "b",
        BankAction::Takedown,
        &["fictional-emblem".into()],
    )
    .await
    .unwrap();
    // Automated action needs a charter (governance).
    vigil::governance::seed_charter(&t.app.banks(), "b", "test")
        .await
        .unwrap();
    let emblem = synth::emblem_image(7, 256);
    let h = vigil_pdq::hash_rgb(
        emblem.width() as usize,
        emblem.height() as usize,
        emblem.as_raw(),
    )
    .unwrap();
    t.app
        .store
        .upsert_entries(&[BankEntry::new("b", "e7", SignalType::Pdq, &h.hash.to_hex())])
        .await
        .unwrap();
    t.app.reload_hashdb().await.unwrap();

    let check = |bytes: Vec<u8>| {
        t.client
            .post(format!("{}/v1/check", t.base))
            .multipart(form(bytes, None))
            .send()
    };
    // The banked emblem, re-encoded as JPEG: a near match blocks.
    let r = check(jpeg(&emblem)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["suggested_action"], "block_upload", "{b}");
    assert_eq!(b["policy_action"], "takedown");
    assert_eq!(b["matches"][0]["bank"], "b");
    assert_eq!(b["matches"][0]["entry_id"], "e7");
    assert!(b["reasons"].as_array().is_some_and(|r| !r.is_empty()));

    let r = check(png(&synth::benign_image(3, 256))).await.unwrap();
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["suggested_action"], "none", "{b}");
    assert_eq!(b["matches"].as_array().map(|m| m.len()), Some(0));

    // Corrupt bytes: answered, with the decode error.
    let r = check(b"\x89PNG\r\n\x1a\n-truncated".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(b["decode_error"].is_string(), "{b}");

    // No file: a problem.
    let r = t
        .client
        .post(format!("{}/v1/check", t.base))
        .multipart(reqwest::multipart::Form::new().text("surface", "feed"))
        .send()
        .await
        .unwrap();
    let (s, p) = problem(r).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (400, Some("urn:vigil:problem:missing_file"))
    );

    // Nothing was recorded or decided.
    assert!(t.app.store.verdict_counts().await.unwrap().is_empty());
    let m = t.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            "vigil_hook_checks_total{suggested_action=\"block_upload\"}"
        ),
        1.0
    );
    t.app.shutdown().await.unwrap();
}

fn kafka_dev() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["kafka-dev", "--brokers", "1", "--partitions", "3"])
        .env("VIGIL_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bootstrap = line
        .trim()
        .strip_prefix("bootstrap.servers=")
        .expect("first line names the brokers")
        .to_string();
    (child, bootstrap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_outage_is_a_quick_503_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut broker, bootstrap) = kafka_dev();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.kafka.bootstrap_servers = Some(bootstrap);
    config.kafka.hook_delivery_timeout_ms = 1500;
    config.hook.broker_cooldown_ms = 5000;
    let hook_only = Roles {
        hook: true,
        workers: false,
        review: false,
    };
    let data = dir.path().to_path_buf();
    let t = spawn_app_with(config.clone(), hook_only, dir).await;

    // Accepted while the broker is up (no worker yet: they wait on the topic).
    let mut accepted = Vec::new();
    for seed in 0..5 {
        accepted.push(
            t.upload_ok(png(&synth::benign_image(seed, 64)), "image/png")
                .await,
        );
    }
    // The broker dies, taking its in-memory topics with it.
    broker.kill().unwrap();
    broker.wait().unwrap();
    let post = |id: &'static str| {
        t.client
            .post(format!("{}/v1/uploads", t.base))
            .multipart(form(png(&synth::benign_image(99, 64)), Some(id)))
            .timeout(Duration::from_secs(60))
            .send()
    };
    let r = post("after-outage").await.expect("answered, not hung");
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let (_, p) = problem(r).await;
    assert_eq!(p["type"], "urn:vigil:problem:unavailable");
    // Within the cool-down the next one is refused without waiting on the broker.
    let r = post("during-cooldown").await.expect("answered");
    assert_eq!(r.status().as_u16(), 503);
    let m = t.metrics().await;
    assert!(
        metric_value(
            &m,
            "vigil_hook_backpressure_rejections_total{reason=\"broker_unavailable\"}"
        ) >= 2.0
    );
    t.app.shutdown().await.unwrap();

    // A new broker; the operator re-enqueues what the old one lost; the
    // hook and workers run against it.
    let (mut broker2, bootstrap2) = kafka_dev();
    config.kafka.bootstrap_servers = Some(bootstrap2.clone());
    let store = vigil_store::Store::connect(&config.database_url(), 2, None)
        .await
        .unwrap();
    let producer =
        vigil_stream::Producer::new(&bootstrap2, "requeue", Duration::from_secs(30)).unwrap();
    let requeued = vigil::requeue_undecided(
        &store,
        &producer,
        &vigil_stream::Topics::with_prefix("vigil."),
    )
    .await
    .unwrap();
    assert_eq!(
        requeued,
        accepted.len(),
        "only uploads answered 202 are re-enqueued"
    );
    let dir2 = tempfile::TempDir::new_in(data.parent().unwrap()).unwrap();
    let t2 = spawn_app_with(config, Roles::ALL, dir2).await;
    for id in &accepted {
        let v = t2.verdict(id).await;
        assert_eq!(v["verdict"]["action"], "none");
    }
    // The upload refused with 503, retried with its id, is accepted now.
    let r = t2
        .client
        .post(format!("{}/v1/uploads", t2.base))
        .multipart(form(
            png(&synth::benign_image(99, 64)),
            Some("after-outage"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["duplicate"], false);
    t2.verdict("after-outage").await;
    t2.app.shutdown().await.unwrap();
    broker2.kill().unwrap();
    broker2.wait().unwrap();
}

/// Send raw request `head` (no body follows, whatever it declares) and
/// return the answer (head and problem body), which must come within
/// five seconds: the guard answers before it reads a byte of the body.
async fn answered_before_the_body(t: &TestApp, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let read = async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            // The head and the problem+json body that follows it.
            if n == 0 || (got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"}")) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("answered without waiting for the body");
    String::from_utf8_lossy(&got).into_owned()
}

fn post_head(key: &str, path: &str, content_length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: {content_length}\r\n\r\n"
    )
}

/// Pre-authentication amplification (docs/hardening.md): a key pays its
/// rate token, one of its body slots and its body's share of the body
/// memory before a byte of its body is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costs_are_paid_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("hook-keys");
    std::fs::write(
        &keys,
        format!("acme-2025 acme {SECRET_A}\nacme-2026 acme {SECRET_B}\n"),
    )
    .unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.hook.auth_required = true;
    config.hook.keys_file = Some(keys);
    config.hook.rate_per_key_per_s = 0.001;
    config.hook.burst_per_key = 2;
    config.hook.max_bodies_per_key = 1;
    config.hook.body_memory_bytes = 1 << 20;
    let t = spawn_app_with(config, Roles::ALL, dir).await;
    let a = format!("acme-2025.{SECRET_A}");
    let b = format!("acme-2026.{SECRET_B}");

    // A body that would pass the process's body memory: 503 at once.
    let r = answered_before_the_body(&t, &post_head(&b, "/v1/uploads", 2 << 20)).await;
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.to_ascii_lowercase().contains("retry-after"), "{r}");

    // Key A's one body slot is held by a body that never arrives ...
    use tokio::io::AsyncWriteExt;
    let addr = t.base.trim_start_matches("http://").to_string();
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(post_head(&a, "/v1/uploads", 1000).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... so its next body is refused before it is read.
    let r = answered_before_the_body(&t, &post_head(&a, "/v1/uploads", 1000)).await;
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    assert!(r.contains("too_many_in_flight"), "{r}");
    // Key A's burst of two is now spent (the stalled request and this
    // one took a token each): refused for its rate, body unread.
    let r = answered_before_the_body(&t, &post_head(&a, "/v1/check", 1000)).await;
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    assert!(r.contains("rate_limited"), "{r}");
    drop(stalled);
    let m = t.metrics().await;
    assert_eq!(
        metric_value(
            &m,
            "vigil_hook_auth_rejections_total{reason=\"too_many_in_flight\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(
            &m,
            "vigil_hook_backpressure_rejections_total{reason=\"body_memory\"}"
        ),
        1.0
    );
    t.app.shutdown().await.unwrap();
}

/// `POST /v1/check` runs at most `hook.check_concurrency` analyses at once;
/// one more is answered 503 with Retry-After before its body is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_beyond_the_concurrency_bound_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    config.hook.check_concurrency = 1;
    let t = spawn_app_with(config, Roles::ALL, dir).await;
    use tokio::io::AsyncWriteExt;
    let addr = t.base.trim_start_matches("http://").to_string();
    let head = "POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: 1000\r\n\r\n";
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = answered_before_the_body(&t, head).await;
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.to_ascii_lowercase().contains("retry-after: 1"), "{r}");
    drop(stalled);
    // The slot comes back: a real check passes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = t
            .client
            .post(format!("{}/v1/check", t.base))
            .multipart(form(png(&synth::benign_image(1, 64)), None))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 200 {
            break;
        }
        assert_eq!(r.status().as_u16(), 503);
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.app.shutdown().await.unwrap();
}
