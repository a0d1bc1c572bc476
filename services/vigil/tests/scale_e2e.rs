//! The multi-process end-to-end run behind `make e2e` (ignored by plain
//! `cargo test`): a broker, a private PostgreSQL instance (its own data
//! directory and port, never the shared server), two `vigil hook`s, three
//! `vigil worker`s in one consumer group and one `vigil review`, all on
//! loopback. `vigil loadgen`'s engine sends `E2E_UPLOADS` uploads (default
//! 20,000: synthetic benign images and emblems, and every
//! `E2E_CORRUPT_EVERY`th a deliberately corrupt file) while faults are
//! injected at fixed points of progress: a worker is SIGKILLed and
//! restarted, the broker has an outage, PostgreSQL is stopped (immediate
//! mode, like a crash) and restarted.
//!
//! The broker is chosen by `E2E_BROKER`:
//! - `mock` (the default, `make e2e`): `vigil kafka-dev`, librdkafka's mock
//!   cluster with three brokers; the outage is broker 2 going down for 5 s
//!   and coming back (`down 2` / `up 2` on its stdin).
//! - `tansu` (`make e2e-tansu`): tansu, a Kafka-compatible broker
//!   (`scripts/setup-tansu.sh`, binary from `E2E_TANSU_BIN` or
//!   `.deps/tansu/bin/tansu`), one node with in-memory storage, topics
//!   created with `tansu topic create` as kafka-dev creates them. A restart
//!   would empty it, so the outage is the broker process frozen with SIGSTOP
//!   for `E2E_BROKER_STOP_SECS` (default 2; 0 skips the fault) and resumed
//!   with SIGCONT: connections stay open but nothing answers. The default
//!   stays under the hook's 3 s delivery timeout: after a longer freeze the
//!   hooks' idempotent producers time out, librdkafka asks tansu 0.6.0 to
//!   bump their epoch (KIP-360), which it does not support for
//!   non-transactional producers, and every later produce is answered
//!   `ProducerFenced` (docs/operations.md).
//!
//! At the end: every upload has exactly one verdict in the database and at
//! least one on `vigil.verdicts`, no upload has two different actions
//! (re-publishing the same stored verdict is the same action), the DLQ
//! holds exactly the corrupt uploads, emblems were all taken down, and the
//! processes' counters agree with the database; the hooks' action relays
//! delivered every action to `vigil.actions`, none doubled. The last line is
//! `e2e uploads=… verdicts=… lost=… duplicate_actions=… dlq=… … broker=…`.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil::loadgen;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL server of our own: initdb into a temporary directory, run
/// as the `postgres` OS user on a free port with its socket in that
/// directory. Stopped (immediate) on drop.
struct PrivatePg {
    dir: PathBuf,
    port: u16,
}

impl PrivatePg {
    fn as_postgres(args: &[&str]) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    }

    fn init(base: &Path) -> PrivatePg {
        let dir = base.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("chown").args(["-R", "postgres:postgres", dir.to_str().unwrap()]));
        // The postgres user must reach the directory.
        run(Command::new("chmod").args(["755", base.to_str().unwrap()]));
        let data = dir.join("data");
        run(&mut Self::as_postgres(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]));
        let pg = PrivatePg {
            dir,
            port: free_port(),
        };
        pg.start();
        pg
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(&mut Self::as_postgres(&[
            "pg_ctl",
            "-D",
            self.dir.join("data").to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            self.dir.join("log").to_str().unwrap(),
            "-w",
            "start",
        ]));
    }

    fn stop(&self, mode: &str) {
        run(&mut Self::as_postgres(&[
            "pg_ctl",
            "-D",
            self.dir.join("data").to_str().unwrap(),
            "-m",
            mode,
            "-w",
            "stop",
        ]));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = Self::as_postgres(&[
            "pg_ctl",
            "-D",
            self.dir.join("data").to_str().unwrap(),
            "-m",
            "immediate",
            "stop",
        ])
        .output();
    }
}

/// A `vigil` child process; killed on drop.
struct Proc {
    child: Child,
    role: &'static str,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    root: PathBuf,
    data_dir: PathBuf,
    db_url: String,
    bootstrap: String,
}

impl Cluster {
    fn vigil(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.args(args)
            .current_dir(&self.root)
            .env("VIGIL_DATA_DIR", &self.data_dir)
            .env("VIGIL_DATABASE__URL", &self.db_url)
            .env("VIGIL_DATABASE__MAX_CONNECTIONS", "8")
            .env("VIGIL_KAFKA__BOOTSTRAP_SERVERS", &self.bootstrap)
            .env("VIGIL_KAFKA__SESSION_TIMEOUT_MS", "6000")
            .env("VIGIL_KAFKA__MAX_POLL_INTERVAL_MS", "8000")
            .env("VIGIL_KAFKA__COMMIT_INTERVAL_MS", "500")
            .env("VIGIL_KAFKA__HOOK_DELIVERY_TIMEOUT_MS", "3000")
            .env("VIGIL_WORKER__COUNT", "1")
            .env("VIGIL_LOG", "warn,sqlx=error,vigil_stream=error");
        c
    }

    fn spawn(&self, role: &'static str) -> Proc {
        let port = free_port();
        let child = self
            .vigil(&[role])
            .env("VIGIL_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vigil runs");
        Proc { child, role, port }
    }
}

async fn wait_ready(client: &reqwest::Client, p: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            p.child.try_wait().unwrap().is_none(),
            "vigil {} exited during start",
            p.role
        );
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{}/readyz", p.port))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "vigil {} never got ready",
            p.role
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn scrape(client: &reqwest::Client, p: &Proc) -> String {
    client
        .get(format!("http://127.0.0.1:{}/metrics", p.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The sum of every series of `name` whose labels contain `label` (or all).
fn metric_sum(text: &str, name: &str, label: Option<&str>) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| label.is_none_or(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every record of `topic`, from the beginning to the current end.
fn read_topic(bootstrap: &str, topic: &str) -> Vec<(String, Vec<u8>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-audit")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap();
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut ends = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, *p, Duration::from_secs(30))
            .unwrap();
        if hi > lo {
            ends.insert(*p, hi);
            tpl.add_partition_offset(topic, *p, Offset::Beginning)
                .unwrap();
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return out;
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !ends.is_empty() {
        assert!(Instant::now() < deadline, "could not read all of {topic}");
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
                out.push((key, m.payload().unwrap_or_default().to_vec()));
                if ends
                    .get(&m.partition())
                    .is_some_and(|hi| m.offset() + 1 >= *hi)
                {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Partitions per topic, as `vigil kafka-dev --partitions 6` creates them.
const PARTITIONS: u32 = 6;

/// The broker under the scenario (`E2E_BROKER`), with its outage.
enum Broker {
    /// `vigil kafka-dev`: three mock brokers, faults on its stdin.
    Mock {
        _proc: Proc,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
    /// One tansu node with in-memory storage.
    Tansu {
        proc: Proc,
        version: String,
        stop_secs: u64,
    },
}

impl Broker {
    /// Start the broker named by `E2E_BROKER` with Vigil's topics; returns
    /// it and its `bootstrap.servers`.
    fn start(dir: &Path) -> (Broker, String) {
        match std::env::var("E2E_BROKER").as_deref() {
            Err(_) | Ok("") | Ok("mock") => Self::start_mock(),
            Ok("tansu") => Self::start_tansu(dir),
            Ok(other) => panic!("E2E_BROKER={other:?}: expected `mock` or `tansu`"),
        }
    }

    fn start_mock() -> (Broker, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args([
                "kafka-dev",
                "--brokers",
                "3",
                "--partitions",
                &PARTITIONS.to_string(),
            ])
            .env("VIGIL_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let bootstrap = line
            .trim()
            .strip_prefix("bootstrap.servers=")
            .unwrap()
            .to_string();
        let proc = Proc {
            child,
            role: "kafka-dev",
            port: 0,
        };
        let broker = Broker::Mock {
            _proc: proc,
            stdin,
            stdout,
        };
        (broker, bootstrap)
    }

    fn start_tansu(dir: &Path) -> (Broker, String) {
        let bin = std::env::var_os("E2E_TANSU_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".deps/tansu/bin/tansu"));
        assert!(
            bin.is_file(),
            "{} is missing: run scripts/setup-tansu.sh (or set E2E_TANSU_BIN)",
            bin.display()
        );
        let version = String::from_utf8_lossy(
            &Command::new(&bin)
                .arg("--version")
                .output()
                .expect("tansu --version runs")
                .stdout,
        )
        .trim()
        .to_string();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu.log")).unwrap();
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tansu runs");
        let mut proc = Proc {
            child,
            role: "tansu",
            port,
        };
        // It listens within milliseconds; topic creation is the readiness check.
        let topics = vigil_stream::Topics::default();
        for name in topics.all() {
            // The bank change log is one partition, as kafka-dev makes it.
            let partitions = if name == topics.hashdb { 1 } else { PARTITIONS };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                assert!(
                    proc.child.try_wait().unwrap().is_none(),
                    "tansu exited during start; see {}",
                    dir.join("tansu.log").display()
                );
                let out = Command::new(&bin)
                    .args(["topic", "create", "--broker", &url, "--partitions"])
                    .arg(partitions.to_string())
                    .arg(name)
                    .output()
                    .expect("tansu topic create runs");
                // A retry after a create whose answer was lost finds it made.
                if out.status.success()
                    || String::from_utf8_lossy(&out.stderr).contains("already exists")
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "tansu topic create {name} failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        eprintln!("e2e: {version} on {url}, topics created");
        let broker = Broker::Tansu {
            proc,
            version,
            stop_secs: env_u64("E2E_BROKER_STOP_SECS", 2),
        };
        (broker, format!("127.0.0.1:{port}"))
    }

    /// The broker in the summary line.
    fn label(&self) -> String {
        match self {
            Broker::Mock { .. } => "librdkafka-mock".into(),
            Broker::Tansu { version, .. } => version.replace(' ', "-"),
        }
    }

    /// The outage, for the summary line.
    fn fault_label(&self) -> String {
        match self {
            Broker::Mock { .. } => "down-up-5s".into(),
            Broker::Tansu { stop_secs: 0, .. } => "skipped".into(),
            Broker::Tansu { stop_secs, .. } => format!("sigstop-{stop_secs}s"),
        }
    }

    /// The broker outage: mock broker 2 down for 5 s and up again, or the
    /// tansu process frozen for `stop_secs` (none at 0).
    async fn outage(&mut self, progress: u64) {
        match self {
            Broker::Mock { stdin, stdout, .. } => {
                let mut cmd = |cmd: &str| {
                    writeln!(stdin, "{cmd}").unwrap();
                    stdin.flush().unwrap();
                    let mut reply = String::new();
                    stdout.read_line(&mut reply).unwrap();
                    assert!(
                        reply.starts_with("ok"),
                        "kafka-dev said {reply:?} to {cmd:?}"
                    );
                };
                cmd("down 2");
                eprintln!("e2e: broker 2 down at {progress} uploads");
                tokio::time::sleep(Duration::from_secs(5)).await;
                cmd("up 2");
            }
            Broker::Tansu { stop_secs: 0, .. } => {
                eprintln!("e2e: broker fault skipped (E2E_BROKER_STOP_SECS=0)");
            }
            Broker::Tansu {
                proc, stop_secs, ..
            } => {
                let pid = proc.child.id().to_string();
                run(Command::new("kill").args(["-STOP", &pid]));
                eprintln!("e2e: tansu stopped (SIGSTOP) at {progress} uploads");
                tokio::time::sleep(Duration::from_secs(*stop_secs)).await;
                run(Command::new("kill").args(["-CONT", &pid]));
                eprintln!("e2e: tansu continued (SIGCONT)");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "multi-process run with faults; `make e2e`"]
async fn e2e_multi_process_with_faults() {
    let uploads = env_u64("E2E_UPLOADS", 20_000);
    let corrupt_every = env_u64("E2E_CORRUPT_EVERY", 1000);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let pg = PrivatePg::init(tmp.path());
    let client = reqwest::Client::new();

    // The broker, in its own process; kept until the end.
    let (mut broker, bootstrap) = Broker::start(tmp.path());

    let data_dir = tmp.path().join("vigil");
    std::fs::create_dir_all(&data_dir).unwrap();
    let cluster = Cluster {
        root: repo_root(),
        data_dir,
        db_url: pg.url(),
        bootstrap: bootstrap.clone(),
    };

    // The bank of emblems, before the workers load their banks.
    let pool = loadgen::Pool::new(40, 8, 128).unwrap();
    // The bank, its charter (automated takedowns need one: governance)
    // and its entries, written to the database before the workers load it.
    {
        let mut config = vigil::Config::default();
        config.database.url = Some(cluster.db_url.clone());
        let store = vigil_store::Store::connect(&cluster.db_url, 2, None)
            .await
            .unwrap();
        let svc = vigil::banks::service(&config, store.clone()).unwrap();
        vigil::banks::create_bank(
            &svc,
            "e2e-emblems",
            vigil_hashdb::BankAction::Takedown,
            &["fictional-emblem".into()],
        )
        .await
        .unwrap();
        vigil::governance::seed_charter(&svc, "e2e-emblems", "e2e")
            .await
            .unwrap();
        store
            .upsert_entries(&vigil::banks::pdq_entries("e2e-emblems", &pool.emblem_pdq))
            .await
            .unwrap();
    }
    let mut hooks = vec![cluster.spawn("hook"), cluster.spawn("hook")];
    let mut workers = vec![
        cluster.spawn("worker"),
        cluster.spawn("worker"),
        cluster.spawn("worker"),
    ];
    let mut review = cluster.spawn("review");
    for p in hooks.iter_mut().chain(workers.iter_mut()) {
        wait_ready(&client, p).await;
    }
    wait_ready(&client, &mut review).await;
    eprintln!("e2e: cluster up in {:.1}s", started.elapsed().as_secs_f64());

    let progress = Arc::new(AtomicU64::new(0));
    let opts = loadgen::Options {
        targets: hooks
            .iter()
            .map(|h| format!("http://127.0.0.1:{}", h.port))
            .collect(),
        count: uploads,
        // Bounded: a hook that never accepts again ends the run with a
        // failure, not a hang (E2E_MAX_SEND_SECS; a healthy run needs ~80 s).
        duration: Duration::from_secs(env_u64("E2E_MAX_SEND_SECS", 900)),
        concurrency: 12,
        corrupt_every,
        id_prefix: "e2e".into(),
        verdict_timeout: Duration::from_secs(600),
        ..Default::default()
    };
    let load = tokio::spawn(loadgen::run(opts, pool, progress.clone()));

    let at = |share: f64| (uploads as f64 * share) as u64;
    let stalled_after =
        Instant::now() + Duration::from_secs(env_u64("E2E_MAX_SEND_SECS", 900) + 30);
    let wait_for = |n: u64| {
        let progress = progress.clone();
        async move {
            while progress.load(Ordering::Relaxed) < n {
                assert!(
                    Instant::now() < stalled_after,
                    "uploads stopped being accepted at {} of {uploads}",
                    progress.load(Ordering::Relaxed)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // Fault 1: SIGKILL a worker mid-stream, then start a new one.
    wait_for(at(0.15)).await;
    let mut killed = workers.remove(0);
    let killed_metrics = scrape(&client, &killed).await;
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();
    eprintln!(
        "e2e: worker SIGKILLed at {} uploads",
        progress.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut restarted = cluster.spawn("worker");
    wait_ready(&client, &mut restarted).await;
    workers.push(restarted);

    // Fault 2: a broker outage.
    wait_for(at(0.35)).await;
    broker.outage(progress.load(Ordering::Relaxed)).await;

    // Fault 3: PostgreSQL stopped like a crash, then restarted.
    wait_for(at(0.60)).await;
    pg.stop("immediate");
    eprintln!(
        "e2e: postgres stopped at {} uploads",
        progress.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.start();

    let report = load.await.unwrap().expect("loadgen ran");
    eprintln!("{}", loadgen::summary_line(&report));
    let corrupt: BTreeSet<String> = report
        .sent
        .iter()
        .filter(|s| s.kind == loadgen::Kind::Corrupt)
        .map(|s| s.upload_id.clone())
        .collect();
    let emblems = report.by_kind.get("emblem").copied().unwrap_or(0) as i64;
    assert_eq!(
        (report.accepted, report.given_up),
        (uploads, 0),
        "every upload was eventually accepted (accepted, given up)"
    );

    // The database: one verdict per upload, none missing.
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&pg.url())
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let db_uploads = count("SELECT COUNT(*) FROM uploads").await;
    let db_verdicts = count("SELECT COUNT(*) FROM verdicts").await;
    let lost = count(
        "SELECT COUNT(*) FROM uploads u WHERE NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.upload_id = u.upload_id)",
    )
    .await;
    let doubled = count(
        "SELECT COUNT(*) FROM (SELECT upload_id FROM verdicts GROUP BY upload_id HAVING COUNT(*) > 1) d",
    )
    .await;
    let takedowns = count("SELECT COUNT(*) FROM verdicts WHERE action = 'takedown'").await;
    // The actions outbox (one row per upload and cause, delivered once with
    // a stable action id): no upload may hold the same kind of action twice.
    let actions = count("SELECT COUNT(*) FROM actions").await;
    let doubled_actions = count(
        "SELECT COUNT(*) FROM (SELECT upload_id FROM actions GROUP BY upload_id, kind HAVING COUNT(*) > 1) d",
    )
    .await;

    // The topics: every verdict published, no upload with two different
    // actions; the DLQ holds exactly the corrupt uploads.
    let mut on_topic: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let verdict_records = read_topic(&bootstrap, "vigil.verdicts");
    for (_, payload) in &verdict_records {
        let v: vigil_pipeline::Verdict = serde_json::from_slice(payload).unwrap();
        let entry = on_topic.entry(v.upload_id.to_string()).or_default();
        if v.action != vigil_pipeline::Action::None {
            entry.insert((v.action.as_str().to_string(), v.decided_at.to_rfc3339()));
        }
    }
    // vigil.actions, once the hooks' relays emptied the outbox: every
    // action on the topic, and no upload with two different actions of one
    // kind. The same action id twice is a redelivery (at-least-once, the
    // platform de-duplicates on it), counted apart.
    let deadline = Instant::now() + Duration::from_secs(300);
    while count("SELECT COUNT(*) FROM actions WHERE delivered_at IS NULL").await > 0 {
        assert!(
            Instant::now() < deadline,
            "actions still undelivered after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut action_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut kinds_on_topic: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (key, payload) in read_topic(&bootstrap, "vigil.actions") {
        let a: vigil_pipeline::ActionMsg = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            key,
            a.upload_id.as_str(),
            "vigil.actions is keyed by upload id"
        );
        *action_ids.entry(a.action_id.clone()).or_insert(0) += 1;
        kinds_on_topic
            .entry((a.upload_id.to_string(), a.action.as_str().to_string()))
            .or_default()
            .insert(a.action_id);
    }
    let actions_on_topic = action_ids.len() as i64;
    let actions_redelivered = action_ids.values().filter(|n| **n > 1).count();
    let doubled_on_topic = kinds_on_topic.values().filter(|ids| ids.len() > 1).count() as i64;
    let duplicate_actions = on_topic.values().filter(|a| a.len() > 1).count() as i64
        + doubled
        + doubled_actions
        + doubled_on_topic;
    let published = on_topic.len() as i64;
    let mut dlq_ids = BTreeSet::new();
    let mut dlq_without_id = 0;
    let dlq_records = read_topic(&bootstrap, "vigil.dlq");
    for (_, payload) in &dlq_records {
        let d: vigil_pipeline::DlqRecord = serde_json::from_slice(payload).unwrap();
        match d.upload_id {
            Some(id) => {
                dlq_ids.insert(id.to_string());
            }
            None => dlq_without_id += 1,
        }
    }

    // Counters against the database. Hooks ran throughout; the killed
    // worker's counters are its last scrape, taken just before the kill, so
    // it may have decided at most one more upload (one consumer) after it.
    let mut hook_accepted = 0.0;
    // Producers replaced after a fatal error or a run of timeouts (the
    // killed worker's are lost with it).
    let mut producer_restarts = 0.0;
    for h in &hooks {
        let m = scrape(&client, h).await;
        hook_accepted += metric_sum(
            &m,
            "vigil_hook_uploads_received_total",
            Some("outcome=\"accepted\""),
        );
        producer_restarts += metric_sum(&m, "vigil_kafka_producer_restarts_total", None);
    }
    let mut worker_verdicts = metric_sum(&killed_metrics, "vigil_worker_verdicts_total", None);
    let mut worker_takedowns = metric_sum(
        &killed_metrics,
        "vigil_worker_verdicts_total",
        Some("action=\"takedown\""),
    );
    let mut redelivered = 0.0;
    for w in &workers {
        let m = scrape(&client, w).await;
        worker_verdicts += metric_sum(&m, "vigil_worker_verdicts_total", None);
        worker_takedowns += metric_sum(
            &m,
            "vigil_worker_verdicts_total",
            Some("action=\"takedown\""),
        );
        redelivered += metric_sum(&m, "vigil_worker_redelivered_total", None);
        producer_restarts += metric_sum(&m, "vigil_kafka_producer_restarts_total", None);
    }
    let unaccounted = db_verdicts as f64 - worker_verdicts;

    println!(
        "e2e uploads={uploads} verdicts={db_verdicts} lost={lost} duplicate_actions={duplicate_actions} dlq={} corrupt={} published={published} actions={actions} actions_on_topic={actions_on_topic} actions_redelivered={actions_redelivered} takedowns={takedowns} emblems={emblems} hook_503={} redelivered={redelivered} producer_restarts={producer_restarts} broker={} broker_fault={} seconds={:.0}",
        dlq_ids.len(),
        corrupt.len(),
        report.unavailable,
        broker.label(),
        broker.fault_label(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(db_uploads, uploads as i64);
    assert_eq!(lost, 0, "uploads without a verdict");
    assert_eq!(
        db_verdicts, uploads as i64,
        "exactly one verdict per upload"
    );
    assert_eq!(duplicate_actions, 0);
    assert_eq!(
        actions_on_topic, actions,
        "every action was delivered to vigil.actions"
    );
    assert_eq!(
        published, uploads as i64,
        "every verdict is on vigil.verdicts"
    );
    assert_eq!(
        report.decided, uploads,
        "every verdict visible through the hooks"
    );
    assert_eq!(dlq_without_id, 0, "no unparseable records were produced");
    assert_eq!(
        dlq_ids, corrupt,
        "the DLQ holds exactly the corrupt uploads"
    );
    assert_eq!(
        takedowns, emblems,
        "every banked emblem, and nothing else, was taken down"
    );
    assert_eq!(
        hook_accepted, uploads as f64,
        "hook counters agree with the uploads table"
    );
    assert!(
        (0.0..=1.0).contains(&unaccounted),
        "worker counters ({worker_verdicts}) disagree with the database ({db_verdicts})"
    );
    assert!(worker_takedowns <= takedowns as f64);
    drop(review);
    drop(workers);
    drop(hooks);
    drop(broker);
}
