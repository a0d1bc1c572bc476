//! A video upload end to end: decoded by the sandboxed FFmpeg child within
//! the `[video]` limits, hashed, decided; a corrupt video, or one past a
//! limit, gets a verdict with its error kind and a dead-letter record. Needs Debian's ffmpeg (`make setup`).

mod common;

use common::*;
use std::process::Command;

fn make_video(dir: &std::path::Path, seconds: u32) -> Vec<u8> {
    let out = dir.join(format!("clip-{seconds}.mp4"));
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc=duration={seconds}:size=160x120:rate=10"),
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .expect("ffmpeg is installed (make setup)");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn video_uploads_are_decided_and_corrupt_ones_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    // The `[video]` section reaches the worker's decoder.
    config.video.max_duration_seconds = 5.0;
    let work = tempfile::tempdir().unwrap();
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    let video = make_video(work.path(), 3);
    let id = t.upload_ok(video.clone(), "video/mp4").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["action"], "none", "{v}");
    assert!(v["verdict"]["decode_error"].is_null(), "{v}");

    // Keep the container's signature, destroy the rest.
    let mut corrupt = video[..64.min(video.len())].to_vec();
    corrupt.extend(std::iter::repeat_n(0xAB, 4096));
    let id = t.upload_ok(corrupt, "video/mp4").await;
    let v = t.verdict(&id).await;
    assert!(!v["verdict"]["decode_error"].is_null(), "{v}");
    assert_eq!(v["verdict"]["action"], "none");
    // The dead-letter record is produced just after the verdict is written.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let m = t.metrics().await;
        if m.contains("vigil_worker_dlq_total") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{m}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Past the configured duration: the same outcome as an oversize image
    // (a verdict with the decode error, exact hashes matched, a metric by
    // kind, a dead-letter record), with the limit named in the record.
    let long = make_video(work.path(), 7);
    let id = t.upload_ok(long, "video/mp4").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["decode_error"], "limit_exceeded", "{v}");
    assert_eq!(v["verdict"]["action"], "none", "{v}");
    assert_eq!(v["verdict"]["signals"].as_array().unwrap().len(), 2, "{v}");
    let m = t.metrics().await;
    assert!(
        m.contains("vigil_worker_decode_errors_total{kind=\"too_long\"} 1"),
        "{m}"
    );
    t.app.shutdown().await.unwrap();
}

/// `PATCH /v1/banks/videos` as the bearer of `token`.
async fn patch_bank(t: &TestApp, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = t
        .client
        .patch(format!("{}/v1/banks/videos", t.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A video banked while Vigil runs (its reference vPDQ text, through the
/// banks API, as a hash-sharing partner sends it) is matched by the running
/// worker: a grey re-encode of it is taken down with both shares in the
/// reasons; an unrelated video passes; the banked entry exports back in the
/// same format. Uses `shared/testdata/vpdq` (read at run time).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_video_banked_at_run_time_takes_down_its_copies() {
    let testdata = vigil_testdata::require("vpdq");
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    // A chartered takedown bank (seeded: governance is tested elsewhere).
    vigil::banks::create_bank(
        &t.app.banks(),
        "videos",
        vigil_hashdb::BankAction::Takedown,
        &["fictional-emblem".into()],
    )
    .await
    .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), "videos", "test")
        .await
        .unwrap();
    let alice = api_user(&t, "alice", vigil_store::Role::Lead).await;
    let bob = api_user(&t, "bob", vigil_store::Role::Admin).await;
    let text =
        std::fs::read_to_string(testdata.join("vpdq/sample-hashes/chair-orig-22-sd-bar.txt"))
            .unwrap();
    let entry = serde_json::json!({"signal_type": "vpdq", "signal": text, "labels": ["gifct:attacker_manifesto"]});
    // Into an actioning bank: a proposal a second person approves.
    let (status, added) = bearer_post(&t, "/v1/banks/videos/entries", &alice, entry).await;
    assert_eq!(status, 202, "{added}");
    let approve = format!(
        "/v1/proposals/{}/approve",
        added["proposal_id"].as_str().unwrap()
    );
    let (status, body) = bearer_post(&t, &approve, &bob, serde_json::json!({})).await;
    assert_eq!(status, 200, "{body}");
    let bad = serde_json::json!({"signal_type": "vpdq", "signal": "0,100,zz,0.0", "labels": ["gifct:attacker_manifesto"]});
    assert_eq!(
        bearer_post(&t, "/v1/banks/videos/entries", &alice, bad)
            .await
            .0,
        422
    );

    let copy = std::fs::read(testdata.join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let id = t.upload_ok(copy, "video/mp4").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["action"], "takedown", "{v}");
    let reasons = v["verdict"]["reasons"].to_string();
    assert!(reasons.contains("vpdq match in bank videos"), "{reasons}");
    assert!(reasons.contains("query frames"), "{reasons}");

    // The bank's own vPDQ thresholds, over the API: asking for 50% of the
    // banked video's frames (the copy covers about 28%) applies at once, and the
    // same copy is no longer matched; loosening again is a proposal; out of
    // range is refused.
    let (status, body) = patch_bank(
        &t,
        &alice,
        serde_json::json!({"vpdq": {"compared_pct": 50.0}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let bank = t.get_json_as("/v1/banks/videos", &alice).await;
    assert_eq!(bank["vpdq"]["compared_pct"], 50.0, "{bank}");
    assert_eq!(bank["vpdq"]["query_pct"], 80.0, "{bank}");
    // The change reaches the workers through the change log.
    let copy = std::fs::read(testdata.join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let id = t.upload_ok(copy.clone(), "video/mp4").await;
        let v = t.verdict(&id).await;
        if v["verdict"]["action"] == "none" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stricter thresholds did not reach the workers: {v}"
        );
    }
    let (status, body) = patch_bank(
        &t,
        &alice,
        serde_json::json!({"vpdq": {"compared_pct": 0.0}}),
    )
    .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (202, Some("threshold_raise")),
        "{body}"
    );
    let (status, _) = patch_bank(
        &t,
        &alice,
        serde_json::json!({"vpdq": {"query_pct": 150.0}}),
    )
    .await;
    assert_eq!(status, 422);

    let other = std::fs::read(testdata.join("tmk/sample-videos/pattern-sd-grey-bar.mp4")).unwrap();
    let id = t.upload_ok(other, "video/mp4").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["action"], "none", "{v}");

    let mut out = Vec::new();
    vigil::banks::export(
        &t.app.banks().store,
        "videos",
        vigil_hashdb::formats::Format::Vpdq,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains(&format!("# entry {}", added["entry_id"].as_str().unwrap())));
    assert_eq!(
        vigil_vpdq::parse_features(&out).unwrap(),
        vigil_vpdq::parse_features(&text).unwrap()
    );
    t.app.shutdown().await.unwrap();
}
