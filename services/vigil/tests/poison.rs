//! Poison records (docs/hardening.md): an upload whose analysis kills the
//! process every time is stopped after `worker.max_attempts` starts, goes
//! to the DLQ and to human review, and never takes the service down for
//! good; every other upload keeps flowing. And the palette PNG that used to
//! end `vigil serve` is now just a corrupt upload.
//!
//! The killing file is made with the debug-build failpoint
//! `VIGIL_FAILPOINT_ABORT_SHA256` (services/pipeline/src/failpoint.rs): the
//! process really aborts (SIGABRT) in the middle of that upload's analysis,
//! as a decoder that aborts, a crash in C code or an OOM kill would end it.

mod common;

use common::*;
use sha2::Digest;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_models::synth;
use vigil_pipeline::UploadId;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `vigil serve` on the embedded defaults in `data`, armed to abort on the
/// upload whose SHA-256 is `poison`.
fn serve(data: &std::path::Path, port: u16, poison: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("serve")
        .env("VIGIL_DATA_DIR", data)
        .env("VIGIL_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("VIGIL_KAFKA__EMBEDDED_BROKERS", "1")
        .env("VIGIL_KAFKA__PARTITIONS", "3")
        .env("VIGIL_KAFKA__SESSION_TIMEOUT_MS", "6000")
        .env("VIGIL_KAFKA__MAX_POLL_INTERVAL_MS", "8000")
        .env("VIGIL_WORKER__COUNT", "2")
        .env("VIGIL_WORKER__MAX_ATTEMPTS", "3")
        .env("VIGIL_CLASSIFIER__ENABLED", "false")
        .env("VIGIL_RETROHUNT__ENABLED", "false")
        .env("VIGIL_LOG", "warn")
        .env("VIGIL_FAILPOINT_ABORT_SHA256", poison)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil runs")
}

/// Wait until `base` answers `/readyz`, or the child exits (`false`).
async fn ready(client: &reqwest::Client, base: &str, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                return true;
            }
        }
        assert!(Instant::now() < deadline, "vigil serve never got ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn upload(client: &reqwest::Client, base: &str, id: &str, bytes: Vec<u8>) -> u16 {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("f")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("upload_id", id.to_string());
    match client
        .post(format!("{base}/v1/uploads"))
        .multipart(form)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        // The server died under us (the poison upload was being analysed).
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_kills_the_process_is_stopped_after_max_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let poison_png = png(&synth::benign_image(4242, 96));
    let poison_sha = hex::encode(sha2::Sha256::digest(&poison_png));
    let benign: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("ok-{i}"), png(&synth::benign_image(i, 96))))
        .collect();

    // Start, upload everything (the poison first), and restart the server
    // each time it dies, until it stays up with every upload decided.
    let mut child = serve(dir.path(), port, &poison_sha);
    assert!(
        ready(&client, &base, &mut child).await,
        "first start failed"
    );
    let mut sent = upload(&client, &base, "poison", poison_png.clone()).await == 202;
    let mut pending: Vec<&(String, Vec<u8>)> = benign.iter().collect();
    let mut deaths = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let store = vigil_store::Store::connect(
        &format!("sqlite://{}", dir.path().join("vigil.db").display()),
        2,
        None,
    )
    .await
    .unwrap();
    loop {
        assert!(
            Instant::now() < deadline,
            "the uploads never all got a verdict"
        );
        if child.try_wait().unwrap().is_some() {
            deaths += 1;
            assert!(deaths <= 3, "the server died a {deaths}th time");
            child = serve(dir.path(), port, &poison_sha);
            if !ready(&client, &base, &mut child).await {
                continue;
            }
        }
        if !sent {
            sent = upload(&client, &base, "poison", poison_png.clone()).await == 202;
        }
        while let Some((id, bytes)) = pending.first() {
            if upload(&client, &base, id, bytes.clone()).await != 202 {
                break;
            }
            pending.remove(0);
        }
        let mut all = sent && pending.is_empty();
        for id in std::iter::once("poison").chain(benign.iter().map(|(id, _)| id.as_str())) {
            all &= store
                .latest_verdict(&UploadId::parse(id).unwrap())
                .await
                .unwrap()
                .is_some();
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deaths, 3, "each of the three attempts killed the server");
    assert!(ready(&client, &base, &mut child).await);

    // The poison upload: started 3 times and died, the 4th start was not
    // analysed; it is in review with a reason that says so.
    let id = UploadId::parse("poison").unwrap();
    assert_eq!(store.analysis_attempts(&id).await.unwrap(), 4);
    let body: serde_json::Value = client
        .get(format!("{base}/v1/uploads/poison"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = &body["verdict"];
    assert_eq!(v["action"], "review", "{body}");
    assert_eq!(v["decode_error"], "poison", "{body}");
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("could not be analysed")),
        "{body}"
    );
    let open = store.open_review_items(100).await.unwrap();
    let item = open
        .iter()
        .find(|i| i.upload_id == "poison")
        .expect("the poison upload is in the review queue");
    assert_eq!(item.queue_reason, vigil_pipeline::NOT_ANALYSED_QUEUE);

    // Everything else was analysed and decided once.
    for (id, _) in &benign {
        let uid = UploadId::parse(id).unwrap();
        assert_eq!(store.verdict_count_for(&uid).await.unwrap(), 1, "{id}");
        let v = store.latest_verdict(&uid).await.unwrap().unwrap();
        assert!(v.decode_error.is_none(), "{id}: {:?}", v.decode_error);
        assert!(store.analysis_attempts(&uid).await.unwrap() >= 1);
    }
    assert_eq!(store.verdict_count_for(&id).await.unwrap(), 1);

    // The last process counted it in the DLQ and as a poison record.
    let m = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(&m, "vigil_worker_dlq_total{error_kind=\"poison\"}"),
        1.0
    );
    assert_eq!(metric_value(&m, "vigil_worker_poison_records_total"), 1.0);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The palette PNG (a PLTE chunk whose length is not a multiple of 3) that
/// used to panic the PNG decoder and end `vigil serve` is a corrupt upload:
/// decided on its exact hashes and dead-lettered, through the hook, the
/// synchronous check and `vigil hash`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ragged_palette_png_is_a_corrupt_upload_not_a_crash() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/decode/png-palette-length-7"
    ))
    .unwrap();
    let t = spawn_app().await;
    let id = t.upload_ok(bytes.clone(), "image/png").await;
    let v = t.verdict(&id).await;
    assert_eq!(v["verdict"]["decode_error"], "corrupt", "{v}");
    assert_eq!(v["verdict"]["action"], "none", "{v}");

    let part = reqwest::multipart::Part::bytes(bytes.clone())
        .file_name("f")
        .mime_str("image/png")
        .unwrap();
    let r = t
        .client
        .post(format!("{}/v1/check", t.base))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["decode_error"], "corrupt", "{body}");
    // Still serving.
    let id2 = t
        .upload_ok(png(&synth::benign_image(1, 64)), "image/png")
        .await;
    assert_eq!(t.verdict(&id2).await["verdict"]["action"], "none");
    t.app.shutdown().await.unwrap();

    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("hash")
        .arg(f.path())
        .env("VIGIL_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error=corrupt"),
        "{out:?}"
    );
}
