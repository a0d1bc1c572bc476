//! Starting from a hash database snapshot (docs/hashdb.md, "Starting from a
//! snapshot"): a restarted process starts from the snapshot, replays the
//! bank changes the database recorded since, and follows the change log;
//! a corrupt, truncated, foreign or stale snapshot is reported, counted and
//! replaced by the full load from the database. The ignored test measures
//! start-up from the database against start-up from a snapshot.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};
use vigil::{App, Config, Roles};
use vigil_hashdb::{Bank, BankAction, BankEntry, Change, SignalType};
use vigil_models::synth;
use vigil_stream::Producer;

fn pdq_hex(img: &image::RgbImage) -> String {
    vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw())
        .unwrap()
        .hash
        .to_hex()
}

fn config(dir: &Path) -> Config {
    let mut c = test_config(dir);
    c.classifier.enabled = false;
    c
}

/// Changes as another process makes them: into the database, and onto
/// the change log only when `publish_via` names a broker.
fn other_process(app: &App, publish_via: Option<&str>) -> vigil_banks::BankService {
    vigil_banks::BankService {
        store: app.store.clone(),
        producer: publish_via
            .map(|b| Producer::new(b, "test-other-process", Duration::from_secs(10)).unwrap()),
        topic: app.topics.hashdb.clone(),
        local: None,
    }
}

fn entry(seed: u64) -> BankEntry {
    BankEntry::derived(
        "snap",
        SignalType::Pdq,
        &pdq_hex(&synth::emblem_image(seed, 320)),
    )
}

fn holds(app: &App, e: &BankEntry) -> bool {
    app.hashdb
        .read()
        .unwrap()
        .entry(&e.bank, &e.entry_id)
        .is_some()
}

/// A fresh process on `dir` with a bank `snap` holding entry 1, and its
/// snapshot written.
async fn first_run(dir: &tempfile::TempDir) -> TestApp {
    let t = spawn_app_with(config(dir.path()), Roles::ALL, tempfile::tempdir().unwrap()).await;
    let svc = t.app.banks();
    svc.put_bank(Bank::new("snap", BankAction::Takedown))
        .await
        .unwrap();
    vigil::governance::seed_charter(&svc, "snap", "test")
        .await
        .unwrap();
    svc.apply(vec![Change::UpsertEntry { entry: entry(1) }])
        .await
        .unwrap();
    let path = config(dir.path()).hashdb_snapshot_path();
    assert!(t.app.write_hashdb_snapshot(&path).await.unwrap());
    t
}

fn loads(metrics: &str, result: &str) -> f64 {
    metric_value(
        metrics,
        &format!("vigil_hashdb_snapshot_loads_total{{result=\"{result}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_worker_starts_from_its_snapshot_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let t = first_run(&dir).await;
    assert!(loads(&t.metrics().await, "missing") >= 1.0);
    // After the snapshot, a change made where no broker is reachable (the
    // CLI on the embedded defaults): only the database has it.
    other_process(&t.app, None)
        .apply(vec![Change::UpsertEntry { entry: entry(2) }])
        .await
        .unwrap();
    t.app.shutdown().await.unwrap();

    let started = Instant::now();
    let t = spawn_app_with(config(dir.path()), Roles::ALL, tempfile::tempdir().unwrap()).await;
    eprintln!("restarted from the snapshot in {:?}", started.elapsed());
    assert_eq!(loads(&t.metrics().await, "loaded"), 1.0);
    // The snapshot's entry, and the later database-only change replayed
    // from the change log before the start returned.
    assert!(holds(&t.app, &entry(1)));
    assert!(holds(&t.app, &entry(2)));
    let head = t.app.store.changelog_head().await.unwrap().unwrap();
    assert_eq!(t.app.hashdb_position().await.seq, head.0);

    // A change published on the change log after the start is followed.
    other_process(&t.app, Some(&t.app.bootstrap))
        .apply(vec![Change::UpsertEntry { entry: entry(3) }])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !holds(&t.app, &entry(3)) {
        assert!(
            Instant::now() < deadline,
            "the published change never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And uploads are matched against all of them.
    for seed in [1, 2, 3] {
        let id = t
            .upload_ok(png(&synth::emblem_image(seed, 320)), "image/png")
            .await;
        let v = t.verdict(&id).await;
        assert_eq!(v["verdict"]["matches"][0]["bank"], "snap", "{v}");
    }
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_or_truncated_snapshot_falls_back_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let t = first_run(&dir).await;
    t.app.shutdown().await.unwrap();
    let path = config(dir.path()).hashdb_snapshot_path();
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    let t = spawn_app_with(config(dir.path()), Roles::ALL, tempfile::tempdir().unwrap()).await;
    let m = t.metrics().await;
    assert_eq!(loads(&m, "corrupt"), 1.0, "{m}");
    assert_eq!(loads(&m, "loaded"), 0.0);
    assert!(holds(&t.app, &entry(1)), "loaded from the database");
    t.app.shutdown().await.unwrap();

    std::fs::write(&path, &good[..good.len() - 5]).unwrap();
    let t = spawn_app_with(config(dir.path()), Roles::ALL, tempfile::tempdir().unwrap()).await;
    let m = t.metrics().await;
    assert_eq!(loads(&m, "corrupt"), 2.0, "{m}");
    assert!(holds(&t.app, &entry(1)), "loaded from the database");
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_of_another_database_or_without_a_cursor_is_not_used() {
    // A snapshot written against one database...
    let first = tempfile::tempdir().unwrap();
    let t = first_run(&first).await;
    t.app.shutdown().await.unwrap();
    let snapshot = config(first.path()).hashdb_snapshot_path();

    // ...offered to a process on another database, which has bank changes
    // of its own: its change log does not hold the snapshot's position.
    let second = tempfile::tempdir().unwrap();
    let mut c = config(second.path());
    c.hashdb.snapshot_path = Some(snapshot.clone());
    let t = spawn_app_with(c.clone(), Roles::ALL, tempfile::tempdir().unwrap()).await;
    assert_eq!(loads(&t.metrics().await, "unusable"), 1.0);
    assert!(!holds(&t.app, &entry(1)), "nothing of the other database");
    let svc = t.app.banks();
    svc.put_bank(Bank::new("other", BankAction::ReviewOnly))
        .await
        .unwrap();
    t.app.shutdown().await.unwrap();
    let t = spawn_app_with(c.clone(), Roles::ALL, tempfile::tempdir().unwrap()).await;
    let m = t.metrics().await;
    assert_eq!(loads(&m, "unusable"), 2.0, "{m}");
    assert_eq!(loads(&m, "loaded"), 0.0, "{m}");
    assert!(!holds(&t.app, &entry(1)));
    assert!(t.app.hashdb.read().unwrap().bank("other").is_some());
    t.app.shutdown().await.unwrap();

    // A well-formed snapshot whose cursor is not one Vigil wrote.
    let mut f = std::fs::File::create(&snapshot).unwrap();
    vigil_hashdb::snapshot::write_snapshot(
        &vigil_hashdb::HashDb::new(),
        "{\"partition_offsets\":[0]}",
        &mut f,
    )
    .unwrap();
    drop(f);
    let t = spawn_app_with(c, Roles::ALL, tempfile::tempdir().unwrap()).await;
    assert_eq!(loads(&t.metrics().await, "unusable"), 3.0);
    assert!(t.app.hashdb.read().unwrap().bank("other").is_some());
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_with_more_changes_since_than_entries_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let t = first_run(&dir).await;
    // More bank changes since the snapshot than a replay is worth (the
    // snapshot holds one entry; the floor is 10,000 changes).
    let changes: Vec<Change> = (0..10_001u64)
        .map(|i| Change::UpsertEntry {
            entry: BankEntry::derived("snap", SignalType::Md5, &format!("{i:032x}")),
        })
        .collect();
    for chunk in changes.chunks(2500) {
        t.app.store.apply_changes(chunk).await.unwrap();
    }
    t.app.shutdown().await.unwrap();
    let t = spawn_app_with(config(dir.path()), Roles::ALL, tempfile::tempdir().unwrap()).await;
    let m = t.metrics().await;
    assert_eq!(loads(&m, "stale"), 1.0, "{m}");
    assert_eq!(
        t.app.hashdb.read().unwrap().len(),
        10_002,
        "loaded from the database"
    );
    t.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_sharing_a_snapshot_path_write_it_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.hashdb.snapshot_interval_secs = 1;
    let workers = Roles {
        hook: false,
        workers: true,
        review: false,
    };
    let a = spawn_app_with(c.clone(), workers, tempfile::tempdir().unwrap()).await;
    let b = spawn_app_with(c.clone(), workers, tempfile::tempdir().unwrap()).await;
    let svc = a.app.banks();
    svc.put_bank(Bank::new("snap", BankAction::Takedown))
        .await
        .unwrap();
    for seed in 1..=20 {
        other_process(&a.app, None)
            .apply(vec![Change::UpsertEntry { entry: entry(seed) }])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Both processes catch up from the change log and write in turn.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written =
            |m: &str| metric_value(m, "vigil_hashdb_snapshot_writes_total{result=\"ok\"}");
        let (ma, mb) = (a.metrics().await, b.metrics().await);
        // Both apps share this process's registry: count all writes.
        if written(&ma) >= 4.0 && holds(&b.app, &entry(20)) {
            assert_eq!(
                metric_value(&mb, "vigil_hashdb_snapshot_writes_total{result=\"error\"}"),
                0.0
            );
            break;
        }
        assert!(Instant::now() < deadline, "{ma}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.app.shutdown().await.unwrap();
    b.app.shutdown().await.unwrap();
    let path = c.hashdb_snapshot_path();
    let (db, _) = vigil_hashdb::snapshot::read_snapshot(std::fs::File::open(&path).unwrap())
        .expect("a whole snapshot");
    assert_eq!(db.len(), 20);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Start-up time from the database and from a snapshot with
/// `VIGIL_SNAPSHOT_BENCH_N` entries (default 200,000) in SQLite:
/// `cargo nextest run -p vigil --test hashdb_snapshot --run-ignored only --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; slow"]
async fn start_from_snapshot_against_start_from_database() {
    let n: usize = std::env::var("VIGIL_SNAPSHOT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.hashdb.snapshot_enabled = false;
    let roles = Roles {
        hook: false,
        workers: true,
        review: false,
    };
    let store = vigil_store::Store::connect(&c.database_url(), 4, None)
        .await
        .unwrap();
    let t = Instant::now();
    store
        .apply_changes(&[Change::UpsertBank {
            bank: Bank::new("bench", BankAction::Takedown),
        }])
        .await
        .unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        let mut hex = String::with_capacity(64);
        for _ in 0..4 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            hex.push_str(&format!("{rng:016x}"));
        }
        batch.push(Change::UpsertEntry {
            entry: BankEntry::derived("bench", SignalType::Pdq, &hex),
        });
        if batch.len() == 5000 || i + 1 == n {
            store.apply_changes(&batch).await.unwrap();
            batch.clear();
        }
    }
    eprintln!("stored {n} entries in {:.1}s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let app = App::start(&c, roles).await.unwrap();
    let from_db = t.elapsed().as_secs_f64();
    assert_eq!(app.hashdb.read().unwrap().len(), n);
    let path = c.hashdb_snapshot_path();
    let t = Instant::now();
    assert!(app.write_hashdb_snapshot(&path).await.unwrap());
    let write_s = t.elapsed().as_secs_f64();
    // Read-locked time of a write, against cloning the database instead.
    let gate = vigil_stream::hashdb_log::ApplyGate::default();
    let guard = gate.clone().lock_owned().await;
    let other = dir.path().join("again.snapshot");
    let (db, cursor) = (app.hashdb.clone(), "{}".to_string());
    let w = tokio::task::spawn_blocking(move || {
        vigil::hashdb_snapshot::write_file(&other, &db, &cursor, guard)
    })
    .await
    .unwrap()
    .unwrap();
    let (stall_gated, stall_ungated) = (
        reader_stall_during_snapshot(&app.hashdb, true).await,
        reader_stall_during_snapshot(&app.hashdb, false).await,
    );
    let t = Instant::now();
    let copy = app.hashdb.read().unwrap().clone();
    let clone_s = t.elapsed().as_secs_f64();
    drop(copy);
    app.shutdown().await.unwrap();

    // The bank load alone, both ways.
    let t = Instant::now();
    let (db, _) = store.load_hashdb().await.unwrap();
    let db_load_s = t.elapsed().as_secs_f64();
    drop(db);
    let t = Instant::now();
    let (db, _) = vigil::hashdb_snapshot::load(&store, &path).await.unwrap();
    let snapshot_load_s = t.elapsed().as_secs_f64();
    drop(db);
    drop(store);

    c.hashdb.snapshot_enabled = true;
    let t = Instant::now();
    let app = App::start(&c, roles).await.unwrap();
    let from_snapshot = t.elapsed().as_secs_f64();
    assert_eq!(app.hashdb.read().unwrap().len(), n);
    let m = vigil_hook::render_metrics();
    assert!(
        m.contains("vigil_hashdb_snapshot_loads_total{result=\"loaded\"} 2"),
        "{m}"
    );
    app.shutdown().await.unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "hashdb-snapshot n={n} start_from_db_s={from_db:.2} start_from_snapshot_s={from_snapshot:.2} \
         banks_from_db_s={db_load_s:.2} banks_from_snapshot_s={snapshot_load_s:.2} \
         snapshot_write_s={write_s:.2} snapshot_locked_s={:.3} clone_s={clone_s:.3} snapshot_bytes={bytes} \
         longest_read_wait_during_write_s: gated={stall_gated:.3} ungated={stall_ungated:.3}",
        w.locked.as_secs_f64()
    );
}

/// The longest a reader (a match) waited for the read lock while a
/// snapshot of `db` was written and a change arrived every 5 ms, with the
/// change applier taking the gate (as the change-log follower does) or
/// queueing straight for the write lock.
async fn reader_stall_during_snapshot(db: &vigil_pipeline::SharedHashDb, gated: bool) -> f64 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let gate = vigil_stream::hashdb_log::ApplyGate::default();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            let mut longest = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let n = db.read().unwrap().len();
                longest = longest.max(t.elapsed());
                std::hint::black_box(n);
                std::thread::sleep(Duration::from_micros(200));
            }
            longest
        })
    };
    let applier = {
        let (db, gate, done) = (db.clone(), gate.clone(), done.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                let e = BankEntry::derived("stall", SignalType::Md5, &format!("{i:032x}"));
                let apply = || {
                    let mut db = db.write().unwrap();
                    db.upsert_bank(Bank::new("stall", BankAction::ReviewOnly));
                    let _ = db.apply(Change::UpsertEntry { entry: e.clone() });
                };
                if gated {
                    let _g = gate.lock().await;
                    apply();
                } else {
                    apply();
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let guard = gate.clone().lock_owned().await;
    let (db2, path) = (
        db.clone(),
        std::env::temp_dir().join(format!("stall-{}.snapshot", std::process::id())),
    );
    let p = path.clone();
    tokio::task::spawn_blocking(move || vigil::hashdb_snapshot::write_file(&p, &db2, "{}", guard))
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    done.store(true, Ordering::Relaxed);
    applier.await.unwrap();
    reader.join().unwrap().as_secs_f64()
}
