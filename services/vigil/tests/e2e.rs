//! End to end over HTTP and the embedded broker: an upload goes in through
//! the hook and comes out as a verdict with its reasons, a review item, or a
//! dead-letter record.

mod common;

use common::*;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use std::time::Duration;
use vigil_hashdb::{BankAction, BankEntry, PdqHash, SignalType};
use vigil_models::synth;

fn pdq_of(img: &image::RgbImage) -> (PdqHash, u8) {
    let o = vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw()).unwrap();
    (o.hash, o.quality)
}

/// Flip the first `n` bits of a hash.
fn flip_bits(h: PdqHash, n: usize) -> PdqHash {
    let mut b = h.0;
    for i in 0..n {
        b[i / 8] ^= 1 << (i % 8);
    }
    PdqHash(b)
}

async fn dlq_records(bootstrap: &str, topic: &str, want: usize) -> Vec<serde_json::Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-dlq-{}", uuid_like()))
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

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_get_takedown_none_review_and_dlq() {
    let t = spawn_app().await;
    let emblem = synth::emblem_image(1, 384);
    let near = synth::benign_image(7, 384);
    let benign = synth::benign_image(3, 384);
    let (emblem_hash, _) = pdq_of(&emblem);
    let (near_hash, near_quality) = pdq_of(&near);
    assert!(
        near_quality >= 50,
        "the near-threshold image must be matchable"
    );

    vigil::banks::create_bank(
        &t.app.banks(),
        "test-bank",
        BankAction::Takedown,
        &["fictional-emblem".into()],
    )
    .await
    .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), "test-bank", "test")
        .await
        .unwrap();
    // A bank entry 25 bits from the near image: above the auto threshold
    // (20), within the review threshold (31).
    let entries = vec![
        BankEntry::new(
            "test-bank",
            "emblem-1",
            SignalType::Pdq,
            &emblem_hash.to_hex(),
        ),
        BankEntry::new(
            "test-bank",
            "near-1",
            SignalType::Pdq,
            &flip_bits(near_hash, 25).to_hex(),
        ),
    ];
    t.app.store.upsert_entries(&entries).await.unwrap();
    t.app.reload_hashdb().await.unwrap();

    let resized = image::imageops::resize(&emblem, 300, 300, image::imageops::FilterType::Triangle);
    let id_emblem = t.upload_ok(jpeg(&resized), "image/jpeg").await;
    let id_benign = t.upload_ok(png(&benign), "image/png").await;
    let id_near = t.upload_ok(png(&near), "image/png").await;
    let mut corrupt = jpeg(&benign);
    corrupt.truncate(300);
    let id_corrupt = t.upload_ok(corrupt, "image/jpeg").await;

    let v = t.verdict(&id_emblem).await;
    assert_eq!(v["verdict"]["action"], "takedown", "{v}");
    let m = &v["verdict"]["matches"][0];
    assert_eq!(m["bank"], "test-bank");
    assert_eq!(m["entry_id"], "emblem-1");
    assert!(m["distance"].as_u64().unwrap() <= 20, "{m}");
    assert_eq!(
        v["verdict"]["policy_version"],
        vigil_pipeline::Policy::builtin().version
    );
    let sor = &v["verdict"]["statement_of_reasons"];
    assert_eq!(sor["action"], "takedown", "{sor}");
    assert_eq!(sor["automated_decision"], true);
    assert!(sor["facts"].to_string().contains("test-bank"), "{sor}");
    assert!(sor["redress"].as_str().unwrap().contains("/v1/appeals"));
    assert!(
        !sor.to_string()
            .contains(v["verdict"]["signals"][0]["value"].as_str().unwrap()),
        "no content hashes in the statement shown to uploaders"
    );

    let v = t.verdict(&id_benign).await;
    assert_eq!(v["verdict"]["action"], "none", "{v}");
    assert!(v["verdict"]["classifier"]["score"].as_f64().unwrap() < 0.6);

    let v = t.verdict(&id_near).await;
    assert_eq!(v["verdict"]["action"], "review", "{v}");
    assert_eq!(v["verdict"]["matches"][0]["distance"], 25);
    // The review API needs a signed-in user (services/vigil/tests/review_ui.rs);
    // here the store shows the item was queued.
    let items = t.app.store.open_review_items(100).await.unwrap();
    assert!(items.iter().any(|i| i.upload_id == id_near.as_str()));

    let v = t.verdict(&id_corrupt).await;
    assert_eq!(v["verdict"]["decode_error"], "corrupt", "{v}");
    assert_eq!(v["verdict"]["action"], "none");
    let dlq = dlq_records(&t.app.bootstrap, &t.app.topics.dlq, 1).await;
    assert!(
        dlq.iter()
            .any(|r| r["upload_id"] == id_corrupt.as_str() && r["error_kind"] == "corrupt"),
        "{dlq:?}"
    );

    let metrics = t.metrics().await;
    assert!(metric_value(&metrics, "vigil_worker_verdicts_total{action=\"takedown\"}") >= 1.0);
    assert!(metric_value(&metrics, "vigil_worker_dlq_total{error_kind=\"corrupt\"}") >= 1.0);
    assert!(metrics.contains("vigil_build_info"));
    assert!(metrics.contains("vigil_worker_stage_duration_seconds_bucket{stage=\"pdq\""));
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.max_upload_bytes = 1024 * 1024;
    config.classifier.enabled = false;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;

    // Empty file part.
    let r = t.upload(Vec::new(), "image/png", "feed").await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:vigil:problem:empty_body");

    // Wrong request content type, wrong media type.
    let r = t
        .client
        .post(format!("{}/v1/uploads", t.base))
        .body("hello")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = t.upload(b"<html>".to_vec(), "text/html", "feed").await;
    assert_eq!(r.status().as_u16(), 415);

    // Over the body limit.
    // On its own connection: the server answers 413 before reading the
    // whole body and closes the connection, as HTTP/1.1 servers do, so a
    // client still sending may see the connection reset instead of the
    // answer. Either way the refusal is counted (checked below).
    let part = reqwest::multipart::Part::bytes(vec![0u8; 2 * 1024 * 1024])
        .file_name("f")
        .mime_str("image/png")
        .unwrap();
    let sent = reqwest::Client::new()
        .post(format!("{}/v1/uploads", t.base))
        .header("connection", "close")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    match sent {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "unexpected error: {e}"),
    }

    // Hostile JSON: a media_url outside the media store; unknown fields.
    let r = t
        .client
        .post(format!("{}/v1/uploads", t.base))
        .json(&serde_json::json!({"media_url": "file:///etc/passwd"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = t
        .client
        .post(format!("{}/v1/uploads", t.base))
        .json(&serde_json::json!({"media_url": "x", "evil": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let r = t
        .client
        .get(format!("{}/v1/uploads/..%2Fetc", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = t
        .client
        .get(format!("{}/v1/uploads/unknown-id", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // A decompression bomb: a PNG header claiming 20000x20000 pixels.
    let bomb = png_header_only(20_000, 20_000);
    let id_bomb = t.upload_ok(bomb, "image/png").await;
    // A truncated JPEG.
    let mut truncated = jpeg(&synth::benign_image(5, 256));
    truncated.truncate(300);
    let id_trunc = t.upload_ok(truncated, "image/jpeg").await;
    // Mislabelled: a PNG declared as JPEG is accepted and decoded by its bytes.
    let id_mislabelled = t
        .upload_ok(png(&synth::benign_image(6, 256)), "image/jpeg")
        .await;

    let v = t.verdict(&id_bomb).await;
    assert_eq!(v["verdict"]["decode_error"], "too_many_pixels", "{v}");
    let v = t.verdict(&id_trunc).await;
    assert_eq!(v["verdict"]["decode_error"], "corrupt", "{v}");
    let v = t.verdict(&id_mislabelled).await;
    assert!(v["verdict"]["decode_error"].is_null(), "{v}");
    assert_eq!(v["verdict"]["action"], "none");

    // Still serving normal uploads.
    let id = t
        .upload_ok(png(&synth::benign_image(8, 256)), "image/png")
        .await;
    assert_eq!(t.verdict(&id).await["verdict"]["action"], "none");

    let m = t.metrics().await;
    for kind in [
        "empty_body",
        "unsupported_content_type",
        "unsupported_media_type",
        "too_large",
        "media_outside_store",
    ] {
        assert!(
            metric_value(
                &m,
                &format!("vigil_hook_bad_requests_total{{kind=\"{kind}\"}}")
            ) >= 1.0,
            "{kind}\n{m}"
        );
    }
    assert!(
        metric_value(
            &m,
            "vigil_worker_decode_errors_total{kind=\"too_many_pixels\"}"
        ) >= 1.0
    );
    assert!(
        metric_value(
            &m,
            "vigil_hook_mislabelled_uploads_total{declared=\"image/jpeg\"}"
        ) >= 1.0
    );
    t.app.shutdown().await.unwrap();
}

/// A valid PNG signature and IHDR chunk for a `w`×`h` RGB image, a tiny
/// IDAT and IEND: tiny on the wire, gigabytes if decoded naively.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
