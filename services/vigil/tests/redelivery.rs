//! Kill a worker mid-stream, before it commits, and start another in the
//! same consumer group: every upload ends with exactly one verdict and one
//! review item at most; redelivered records are re-published, not re-decided.

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::Roles;
use vigil_hashdb::{BankAction, BankEntry, SignalType};
use vigil_models::synth;
use vigil_pipeline::{Analyzer, Policy, SharedPolicy, UploadId};
use vigil_stream::{Producer, Worker, WorkerConfig, WorkerDeps};

fn worker(t: &TestApp, commit_interval: Duration, name: &str) -> Worker {
    let app = &t.app;
    let deps = Arc::new(WorkerDeps {
        store: app.store.clone(),
        media: app.media.clone(),
        analyzer: Analyzer::new(app.hashdb.clone(), None, vigil_decode::Limits::default()),
        shadow_policy: None,
        policy: SharedPolicy::new(Policy::builtin()),
        producer: Producer::new(&app.bootstrap, name, Duration::from_secs(30)).unwrap(),
        topics: app.topics.clone(),
        max_attempts: vigil_stream::DEFAULT_MAX_ATTEMPTS,
        isolation: vigil_stream::AnalysisGate::default(),
    });
    let cfg = WorkerConfig {
        bootstrap: app.bootstrap.clone(),
        group_id: "redelivery-test".into(),
        client_id: name.into(),
        commit_interval,
        session_timeout: Duration::from_secs(6),
        max_poll_interval: Duration::from_secs(8),
    };
    Worker::new(&cfg, deps).unwrap()
}

async fn decided(t: &TestApp, ids: &[String]) -> usize {
    let mut n = 0;
    for id in ids {
        if t.app
            .store
            .verdict_count_for(&UploadId::parse(id).unwrap())
            .await
            .unwrap()
            > 0
        {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_worker_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.classifier.enabled = false;
    // Only the hook runs in the app; the test drives the workers itself.
    let t = spawn_app_with(
        config,
        Roles {
            hook: true,
            workers: false,
            review: true,
        },
        dir,
    )
    .await;
    vigil::banks::create_bank(&t.app.banks(), "b", BankAction::Takedown, &[])
        .await
        .unwrap();
    vigil::governance::seed_charter(&t.app.banks(), "b", "test")
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut entries = Vec::new();
    for seed in 0..24u64 {
        let img = if seed % 3 == 0 {
            synth::emblem_image(seed, 256)
        } else {
            synth::benign_image(seed, 256)
        };
        if seed % 3 == 0 {
            let h = vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw())
                .unwrap();
            entries.push(BankEntry::new(
                "b",
                &format!("e{seed}"),
                SignalType::Pdq,
                &h.hash.to_hex(),
            ));
        }
        ids.push(t.upload_ok(png(&img), "image/png").await);
    }
    t.app.store.upsert_entries(&entries).await.unwrap();
    t.app.reload_hashdb().await.unwrap();

    // Worker A is a separate `vigil worker` process that never commits on
    // its own (an hour between commits); it is SIGKILLed as soon as it has
    // decided a few uploads, so nothing it processed was committed.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("worker")
        .env("VIGIL_DATA_DIR", t._dir.path())
        .env("VIGIL_HTTP__LISTEN", "127.0.0.1:0")
        .env("VIGIL_KAFKA__BOOTSTRAP_SERVERS", &t.app.bootstrap)
        .env("VIGIL_KAFKA__GROUP_ID", "redelivery-test")
        .env("VIGIL_KAFKA__COMMIT_INTERVAL_MS", "3600000")
        .env("VIGIL_KAFKA__SESSION_TIMEOUT_MS", "6000")
        .env("VIGIL_KAFKA__MAX_POLL_INTERVAL_MS", "8000")
        .env("VIGIL_WORKER__COUNT", "1")
        .env("VIGIL_CLASSIFIER__ENABLED", "false")
        .env("VIGIL_LOG", "warn")
        .spawn()
        .expect("vigil binary runs");
    let deadline = Instant::now() + Duration::from_secs(90);
    while decided(&t, &ids).await < 5 {
        assert!(Instant::now() < deadline, "worker A decided nothing");
        assert!(child.try_wait().unwrap().is_none(), "worker A exited early");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let decided_by_a = decided(&t, &ids).await;

    // Worker B in the same group finishes the job.
    let b = worker(&t, Duration::from_millis(200), "worker-b");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(b.run(stop_rx));
    let deadline = Instant::now() + Duration::from_secs(90);
    while decided(&t, &ids).await < ids.len() {
        assert!(
            Instant::now() < deadline,
            "not every upload was decided after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    handle.await.unwrap().unwrap();

    for id in &ids {
        assert_eq!(
            t.app
                .store
                .verdict_count_for(&UploadId::parse(id).unwrap())
                .await
                .unwrap(),
            1,
            "upload {id}"
        );
    }
    let counts = t.app.store.verdict_counts().await.unwrap();
    assert_eq!(counts.values().sum::<i64>(), ids.len() as i64);
    assert_eq!(counts.get("takedown"), Some(&8));
    let m = t.metrics().await;
    let redelivered = metric_value(
        &m,
        "vigil_worker_redelivered_total{topic=\"vigil.uploads\"}",
    );
    assert!(
        redelivered >= decided_by_a as f64,
        "worker A's {decided_by_a} uncommitted records must all be redelivered to B (saw {redelivered})"
    );
    t.app.shutdown().await.unwrap();
}

/// A process dropped without `App::shutdown` (a panic, an early return)
/// must still wind down: its consumers close against the embedded broker,
/// which the app keeps alive for them, instead of hanging the runtime (and a
/// failing test with it) forever.
#[test]
fn an_app_dropped_without_shutdown_lets_its_runtime_end() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let t = spawn_app().await;
            let id = t
                .upload_ok(png(&synth::benign_image(3, 128)), "image/png")
                .await;
            assert_eq!(t.verdict(&id).await["verdict"]["action"], "none");
            drop(t); // no shutdown
        });
        let started = Instant::now();
        drop(rt);
        let _ = done_tx.send(started.elapsed());
    });
    let took = done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the runtime of a dropped app never finished shutting down");
    assert!(took < Duration::from_secs(60), "{took:?}");
}
