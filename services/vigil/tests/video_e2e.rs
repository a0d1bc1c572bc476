//! A video upload end to end: decoded by the sandboxed FFmpeg child within
//! limits, hashed, decided; a corrupt video gets a verdict with its error
//! kind and a dead-letter record. Needs Debian's ffmpeg (`make setup`).

mod common;

use common::*;
use std::process::Command;

fn make_video(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=3:size=160x120:rate=10",
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
    let work = tempfile::tempdir().unwrap();
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    let video = make_video(work.path());
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
    let m = t.metrics().await;
    assert!(m.contains("vigil_worker_dlq_total"), "{m}");
    t.app.shutdown().await.unwrap();
}
