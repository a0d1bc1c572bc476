//! Wiring: builds the parts a process runs (embedded broker, store, media
//! store, hash database, classifier, workers, HTTP API) from a [`Config`]
//! and starts them. `vigil serve` runs every role in one process; `vigil
//! hook` and `vigil worker` run one role each. Tests start the real thing
//! on random ports through [`App::start`].

use crate::config::Config;
use crate::hashdb_snapshot::{self, Position, SnapshotWriter};
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use vigil_models::Classifier;
use vigil_pipeline::{Analyzer, Policy, SharedHashDb, SharedPolicy};
use vigil_store::{MediaStore, Store};
use vigil_stream::hashdb_log::ApplyGate;
use vigil_stream::{EmbeddedKafka, Producer, Topics, Worker, WorkerConfig, WorkerDeps};

/// Which parts this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub hook: bool,
    pub workers: bool,
    pub review: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        hook: true,
        workers: true,
        review: true,
    };
}

static BUILD_INFO: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "vigil_build_info",
        "Build information; the value is always 1.",
        &["version"]
    )
    .expect("metric registers once")
});

static HASHDB_ENTRIES: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!(
        "vigil_hashdb_entries",
        "Live bank entries loaded in this process."
    )
    .expect("metric registers once")
});

/// A running Vigil process.
pub struct App {
    pub http_addr: SocketAddr,
    pub store: Store,
    pub media: MediaStore,
    pub hashdb: SharedHashDb,
    /// Where `hashdb` stands in the database's change log, and the gate its
    /// background writers take (see [`crate::hashdb_snapshot`]).
    hashdb_sync: HashdbSync,
    /// The policy in force in this process.
    pub policy: SharedPolicy,
    pub topics: Topics,
    pub bootstrap: String,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
    kafka: Option<EmbeddedKafka>,
}

impl App {
    /// Start the roles of `config`. Returns once the HTTP API is listening
    /// and the workers have subscribed.
    pub async fn start(config: &Config, roles: Roles) -> anyhow::Result<App> {
        config.check()?;
        BUILD_INFO
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let store = Store::connect(
            &config.database_url(),
            config.database.max_connections,
            config.database.schema.as_deref(),
        )
        .await
        .context("cannot open the database")?;
        let media =
            MediaStore::open(&config.media_root()).context("cannot open the media store")?;
        let topics = Topics::with_prefix(&config.kafka.topic_prefix);
        let (kafka, bootstrap) = match &config.kafka.bootstrap_servers {
            Some(b) => (None, b.clone()),
            None => {
                let k = EmbeddedKafka::start(
                    config.kafka.embedded_brokers,
                    config.kafka.partitions,
                    &topics,
                )
                .context("cannot start the embedded Kafka mock cluster")?;
                let b = k.bootstrap_servers().to_string();
                (Some(k), b)
            }
        };
        // Pin the change log's end before loading the banks, so no change
        // made in between is missed (applying one twice is harmless).
        // The hook follows bank changes too: `POST /v1/check` matches against them.
        let follow_from = if roles.workers || roles.hook {
            let (b, t) = (bootstrap.clone(), topics.hashdb.clone());
            Some(
                tokio::task::spawn_blocking(move || {
                    vigil_stream::hashdb_log::end_offsets(&b, &t, Duration::from_secs(10))
                })
                .await?
                .context("cannot read the bank change log's offsets")?,
            )
        } else {
            None
        };
        // Processes that follow the change log start from the snapshot when
        // it is usable (caught up from the database's change log), and
        // write it while they run.
        hashdb_snapshot::register();
        let snapshot_path = (follow_from.is_some() && config.hashdb.snapshot_enabled)
            .then(|| config.hashdb_snapshot_path());
        let (hashdb, position, from_snapshot) =
            load_hashdb(&store, snapshot_path.as_deref()).await?;
        let hashdb_sync = HashdbSync {
            position: Arc::new(tokio::sync::Mutex::new(position.clone())),
            gate: ApplyGate::default(),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        if let Some(from) = follow_from {
            let (b, db, rx) = (bootstrap.clone(), hashdb.clone(), shutdown_rx.clone());
            let gate = hashdb_sync.gate.clone();
            let client_id = format!("vigil-{}", uuid::Uuid::now_v7().simple());
            tasks.spawn(async move {
                vigil_stream::hashdb_log::follow(&b, &client_id, from, db, gate, rx)
                    .await
                    .map_err(anyhow::Error::from)
            });
        }

        // The newest approved policy version in the database wins over the
        // configured file (publishing one is a guarded change); a version
        // approved while this process runs is put in force by the reload
        // task below, or at once when it is approved through this process.
        let policy = SharedPolicy::new(crate::governance::load_policy(config, &store).await?);
        if roles.workers || roles.hook {
            tracing::info!(policy_version = %policy.current().version, "policy loaded");
        }
        if roles.workers {
            let shadow_policy = match &config.shadow_policy_file {
                Some(p) => {
                    let sp = Policy::from_file(p)
                        .with_context(|| format!("shadow policy {}", p.display()))?;
                    let live = policy.current();
                    anyhow::ensure!(
                        sp.version != live.version,
                        "the shadow policy must have a version of its own (both are {:?})",
                        live.version
                    );
                    tracing::info!(shadow_policy_version = %sp.version, "shadow policy loaded: evaluated without acting");
                    Some(Arc::new(sp))
                }
                None => None,
            };
            let classifier = if config.classifier.enabled {
                let c = Classifier::load(&config.classifier.model).context(
                    "the classifier is enabled but could not be loaded (run `make setup`, or set classifier.enabled = false)",
                )?;
                Some(Arc::new(c))
            } else {
                tracing::warn!("classifier disabled: only hash matches are used");
                None
            };
            let producer = Producer::new(&bootstrap, "vigil-worker", Duration::from_secs(30))?;
            let deps = Arc::new(WorkerDeps {
                store: store.clone(),
                media: media.clone(),
                analyzer: Analyzer::new(hashdb.clone(), classifier, config.decode_limits())
                    .with_video(vigil_pipeline::VideoSupport {
                        // Built from the hash database's `vpdq` entries on the
                        // first video upload, rebuilt when they change.
                        index: Arc::new(RwLock::new(vigil_pipeline::BankedVideos::default())),
                        limits: config.video.to_limits()?,
                        options: vigil_decode::video::VideoOptions::default(),
                    }),
                policy: policy.clone(),
                shadow_policy,
                producer,
                topics: topics.clone(),
                max_attempts: config.worker.max_attempts,
                isolation: vigil_stream::AnalysisGate::default(),
            });
            for i in 0..config.worker.count.max(1) {
                let wc = WorkerConfig {
                    bootstrap: bootstrap.clone(),
                    group_id: config.kafka.group_id.clone(),
                    client_id: format!("vigil-worker-{i}"),
                    commit_interval: Duration::from_millis(config.kafka.commit_interval_ms),
                    session_timeout: Duration::from_millis(config.kafka.session_timeout_ms),
                    max_poll_interval: Duration::from_millis(
                        config
                            .kafka
                            .max_poll_interval_ms
                            .max(config.kafka.session_timeout_ms),
                    ),
                };
                let worker = Worker::new(&wc, deps.clone())?;
                let rx = shutdown_rx.clone();
                tasks.spawn(async move { worker.run(rx).await.map_err(anyhow::Error::from) });
            }
        }
        {
            let every = Duration::from_secs(config.worker.policy_reload_secs.max(1));
            let (st, shared, mut rx) = (store.clone(), policy.clone(), shutdown_rx.clone());
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = rx.changed() => return Ok(()),
                        _ = tokio::time::sleep(every) => {}
                    }
                    if let Err(e) = reload_policy(&st, &shared).await {
                        tracing::warn!(error = %e, "policy reload failed; keeping the policy in force");
                    }
                }
            });
        }
        if roles.workers || roles.hook {
            // Full reloads from the database, and snapshots. After a start
            // from a snapshot the first reload runs at once, in the
            // background: it reconciles whatever the snapshot's writer held
            // beyond the database (see `hashdb_snapshot`).
            let reload_every = Duration::from_secs(config.worker.hashdb_reload_secs.max(1));
            let snapshot_every = Duration::from_secs(config.hashdb.snapshot_interval_secs.max(1));
            let now = tokio::time::Instant::now();
            let mut reload = tokio::time::interval_at(
                if from_snapshot {
                    now
                } else {
                    now + reload_every
                },
                reload_every,
            );
            reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut snap = tokio::time::interval_at(now + snapshot_every, snapshot_every);
            snap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut writer = snapshot_path.map(|path| SnapshotWriter {
                path,
                last_written: from_snapshot.then_some(position.seq),
            });
            let (st, db, sync, mut rx) = (
                store.clone(),
                hashdb.clone(),
                hashdb_sync.clone(),
                shutdown_rx.clone(),
            );
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = rx.changed() => return Ok(()),
                        _ = reload.tick() => {
                            if let Err(e) = reload_hashdb(&st, &db, &sync).await {
                                tracing::warn!(error = %e, "bank reload failed; keeping the loaded banks");
                            }
                        }
                        _ = snap.tick(), if writer.is_some() => {
                            let Some(w) = writer.as_mut() else { continue };
                            if let Err(e) = write_snapshot(&st, &db, &sync, w).await {
                                tracing::warn!(error = format!("{e:#}"), "cannot write the hash database snapshot; trying again later");
                            }
                        }
                    }
                }
            });
        }

        let mut router = ops_table().into_router().with_state(store.clone());
        // Platform keys: the hook's callers, and platforms reading banks.
        let keys = load_keys(config)?;
        if roles.hook && keys.is_none() {
            anyhow::ensure!(
                !config.hook.auth_required,
                "hook.auth_required is set but no API keys were given (hook.keys_file or VIGIL_HOOK_KEYS)"
            );
            tracing::warn!("HOOK AUTHENTICATION IS DISABLED: no API keys are configured, so anyone who can reach {} may submit uploads and checks. Set hook.keys_file or VIGIL_HOOK_KEYS (and hook.auth_required = true) outside a local demo.", config.http.listen);
            eprintln!("WARNING: vigil hook runs WITHOUT authentication (no API keys configured); fine for a local demo only");
        }
        if roles.hook {
            let producer = Producer::new(
                &bootstrap,
                "vigil-hook",
                Duration::from_millis(config.kafka.hook_delivery_timeout_ms),
            )?;
            if kafka.is_some() {
                requeue_undecided(&store, &producer, &topics).await?;
            }
            router = router.merge(vigil_hook::router(vigil_hook::HookState {
                store: store.clone(),
                media: media.clone(),
                producer,
                topics: topics.clone(),
                max_upload_bytes: config.http.max_upload_bytes,
                check: Some(vigil_hook::CheckState::new(
                    Analyzer::new(hashdb.clone(), None, config.decode_limits()),
                    policy.clone(),
                    config.hook.check_concurrency,
                )),
                pressure: Arc::new(vigil_hook::Pressure::new(
                    config.hook.max_in_flight,
                    Duration::from_millis(config.hook.broker_cooldown_ms),
                )),
            }));
            // Actions to the platform: `vigil.actions` and the webhook.
            let relay = vigil_hook::Relay::new(
                store.clone(),
                Producer::new(&bootstrap, "vigil-actions", Duration::from_secs(30))?,
                config.actions.relay_config(topics.actions.clone())?,
                format!("relay-{}", uuid::Uuid::now_v7().simple()),
            )?;
            let rx = shutdown_rx.clone();
            tasks.spawn(async move {
                relay.run(rx).await;
                Ok(())
            });
        }
        // People's bank and policy changes (banks API and review UI): written
        // to the database, published on `vigil.hashdb`; verdicts of referrals
        // acted on are published on `vigil.verdicts`; an approved policy
        // version is put in force here at once.
        let governance = if roles.hook || roles.review {
            let banks = vigil_banks::BankService {
                store: store.clone(),
                producer: Some(Producer::new(
                    &bootstrap,
                    "vigil-banks",
                    Duration::from_secs(10),
                )?),
                topic: topics.hashdb.clone(),
                local: Some(hashdb.clone()),
            };
            Some(
                vigil_banks::Governance::new(banks)
                    .with_verdicts_topic(&topics.verdicts)
                    .with_policy(policy.clone()),
            )
        } else {
            None
        };
        if roles.review {
            // Decisions go to `vigil.decisions` from the store's outbox.
            let producer = Producer::new(&bootstrap, "vigil-review", Duration::from_secs(30))?;
            let topic = topics.decisions.clone();
            let publish: vigil_review::Publish = Arc::new(move |key: String, payload: Vec<u8>| {
                let (producer, topic) = (producer.clone(), topic.clone());
                Box::pin(async move {
                    producer
                        .send_bytes(&topic, &key, &payload)
                        .await
                        .map_err(|e| e.to_string())
                })
            });
            let review = vigil_review::ReviewState::new(
                store.clone(),
                media.clone(),
                Some(publish),
                vigil_review::ReviewConfig {
                    video_limits: config.video.to_limits()?,
                    trusted_proxies: config.trusted_proxies()?,
                    ..config.review.to_review_config()?
                },
            )
            .with_governance(governance.clone().expect("built for the review role"));
            let (st, rx) = (review.clone(), shutdown_rx.clone());
            tasks.spawn(async move {
                vigil_review::run_outbox(st, Duration::from_secs(5), rx).await;
                Ok(())
            });
            let audit = policy.current().audit.clone();
            vigil_review::accountability::set_budgets(
                audit.false_positive_budget,
                audit.miss_budget,
            );
            let (st, rx) = (store.clone(), shutdown_rx.clone());
            let every = Duration::from_secs(config.accountability.refresh_secs.max(1));
            tasks.spawn(async move {
                vigil_review::accountability::run_refresher(st, every, rx).await;
                Ok(())
            });
            router = router.merge(vigil_review::router(review));

            // Self-correction (docs/self-correction.md): entries people keep
            // overturning are quarantined; past uploads are hunted with
            // entries that arrived after them.
            let quarantiner = vigil_banks::quarantine::Quarantiner {
                banks: vigil_banks::BankService {
                    store: store.clone(),
                    producer: Some(Producer::new(
                        &bootstrap,
                        "vigil-quarantine",
                        Duration::from_secs(10),
                    )?),
                    topic: topics.hashdb.clone(),
                    local: Some(hashdb.clone()),
                },
                policy: policy.clone(),
            };
            let (rx, every) = (
                shutdown_rx.clone(),
                Duration::from_secs(config.accountability.quarantine_secs.max(1)),
            );
            tasks.spawn(async move {
                quarantiner.run(every, rx).await;
                Ok(())
            });
            if config.retrohunt.enabled {
                let hunter = retro_hunter(
                    config,
                    store.clone(),
                    Some(Producer::new(
                        &bootstrap,
                        "vigil-retrohunt",
                        Duration::from_secs(30),
                    )?),
                    &topics,
                    policy.clone(),
                );
                let (rx, every) = (
                    shutdown_rx.clone(),
                    Duration::from_secs(config.retrohunt.interval_secs.max(1)),
                );
                tasks.spawn(async move {
                    hunter.run(every, rx).await;
                    Ok(())
                });
            }
        }
        // Bank contents are not for the upload path: the banks API is served
        // by the review role, and by a hook only when configured.
        if let Some(gov) = governance.filter(|_| roles.review || config.hook.serve_banks_api) {
            router = router.merge(vigil_banks::router(gov, hashdb.clone(), policy.clone()));
        }
        // Every route above passes the access layer first (docs/security.md).
        let access = Arc::new(crate::access::Access {
            store: store.clone(),
            keys: keys.map(|auth| {
                vigil_hook::Guard::new(
                    auth,
                    config.http.max_upload_bytes + 64 * 1024,
                    config.hook.body_memory_bytes,
                )
            }),
        });
        let router = router.layer(axum::middleware::from_fn_with_state(
            access,
            crate::access::layer,
        ));
        // Governance gauges, and signed checkpoints of the change log when
        // a key is configured.
        vigil_banks::metrics::register();
        let signing_key = match &config.governance.signing_key_file {
            Some(p) => Some(crate::governance::read_signing_key(p)?),
            None => None,
        };
        {
            let (st, mut rx) = (store.clone(), shutdown_rx.clone());
            let every = Duration::from_secs(config.governance.checkpoint_interval_secs.max(1));
            tasks.spawn(async move {
                loop {
                    if let Ok(n) = st.pending_proposal_count().await {
                        vigil_banks::metrics::PROPOSALS_PENDING.set(n);
                    }
                    if let Ok(n) = st.changelog_len().await {
                        vigil_banks::metrics::CHANGELOG_RECORDS.set(n);
                    }
                    if let Some(k) = &signing_key {
                        if let Err(e) = crate::governance::checkpoint(&st, k).await {
                            tracing::warn!(error = %e, "cannot sign a change-log checkpoint");
                        }
                    }
                    tokio::select! {
                        _ = rx.changed() => return Ok(()),
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            });
        }
        let listener = tokio::net::TcpListener::bind(&config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.http.listen))?;
        let http_addr = listener.local_addr()?;
        let mut rx = shutdown_rx.clone();
        tasks.spawn(async move {
            // The peer address is kept: sign-in limits count per client.
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.changed().await;
            })
            .await
            .context("http server failed")
        });
        tracing::info!(%http_addr, workers = roles.workers, hook = roles.hook, "vigil started");
        Ok(App {
            http_addr,
            store,
            media,
            hashdb,
            hashdb_sync,
            policy,
            topics,
            bootstrap,
            shutdown,
            tasks,
            kafka,
        })
    }

    /// The embedded broker, when this process runs one (fault injection in tests).
    pub fn embedded_kafka(&self) -> Option<&EmbeddedKafka> {
        self.kafka.as_ref()
    }

    /// A bank service for this process: changes are written to the
    /// database and applied to this process's banks at once.
    pub fn banks(&self) -> vigil_banks::BankService {
        vigil_banks::BankService {
            store: self.store.clone(),
            producer: None,
            topic: self.topics.hashdb.clone(),
            local: Some(self.hashdb.clone()),
        }
    }

    /// Put the newest approved policy version in force now (what the
    /// reload task does every `worker.policy_reload_secs`).
    pub async fn reload_policy(&self) -> anyhow::Result<()> {
        reload_policy(&self.store, &self.policy).await
    }

    /// Reload banks from the database now.
    pub async fn reload_hashdb(&self) -> anyhow::Result<()> {
        reload_hashdb(&self.store, &self.hashdb, &self.hashdb_sync).await
    }

    /// Catch up from the database's change log and write the hash database
    /// snapshot to `path` now (what the snapshot task does every
    /// `hashdb.snapshot_interval_secs`). Returns whether one was written:
    /// not while the database has recorded no bank change yet.
    pub async fn write_hashdb_snapshot(&self, path: &std::path::Path) -> anyhow::Result<bool> {
        let mut w = SnapshotWriter {
            path: path.to_path_buf(),
            last_written: None,
        };
        write_snapshot(&self.store, &self.hashdb, &self.hashdb_sync, &mut w).await
    }

    /// Where this process's banks stand in the database's change log.
    pub async fn hashdb_position(&self) -> Position {
        self.hashdb_sync.position.lock().await.clone()
    }

    /// Wait until a task fails or a shutdown signal (Ctrl-C, SIGTERM) comes.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        let outcome = tokio::select! {
            _ = shutdown_signal() => Ok(()),
            Some(r) = self.tasks.join_next() => match r {
                Ok(Ok(())) => Err(anyhow::anyhow!("a component stopped unexpectedly")),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.into()),
            },
        };
        self.shutdown().await?;
        outcome
    }

    /// Stop everything: workers commit what they processed, HTTP drains.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "component ended with an error"),
                Err(e) => tracing::warn!(error = %e, "component panicked"),
            }
        }
        drop(self.kafka.take());
        Ok(())
    }
}

impl Drop for App {
    /// Dropped without [`App::shutdown`] (a panic, an early return): the
    /// components still run, and a Kafka consumer's close must reach the
    /// broker (librdkafka waits for it, unbounded). An embedded broker is
    /// therefore kept alive on a thread of its own for a while longer, so
    /// closing consumers can leave their group instead of hanging the
    /// runtime's shutdown (and with it a failing test) forever.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(kafka) = self.kafka.take() {
            let linger = std::thread::Builder::new()
                .name("vigil-kafka-linger".into())
                .spawn(move || {
                    std::thread::sleep(Duration::from_secs(30));
                    drop(kafka);
                });
            if let Err(e) = linger {
                tracing::warn!(error = %e, "cannot keep the embedded broker for closing consumers");
            }
        }
    }
}

/// The process's own routes (health and metrics), declared once for the
/// router and the access table's test.
fn ops_table() -> vigil_authz::table::RouteTable<Store> {
    vigil_authz::table::RouteTable::new()
        .at("GET", "/metrics", || async { vigil_hook::render_metrics() })
        .at("GET", "/healthz", || async { "ok" })
        .at("GET", "/readyz", |State(st): State<Store>| async move {
            match st.ping().await {
                Ok(()) => (StatusCode::OK, "ready").into_response(),
                Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
            }
        })
}

/// Every `(method, path)` a process serves itself (not its roles' routers).
pub fn ops_route_list() -> Vec<(&'static str, &'static str)> {
    ops_table().list()
}

/// The platforms' API keys from `hook.keys_file` and `VIGIL_HOOK_KEYS`;
/// `None` when there are none.
fn load_keys(config: &Config) -> anyhow::Result<Option<Arc<vigil_hook::Authenticator>>> {
    let mut keys = Vec::new();
    if let Some(f) = &config.hook.keys_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("cannot read hook.keys_file {}", f.display()))?;
        keys.extend(
            vigil_hook::parse_keys(&text)
                .with_context(|| format!("invalid key file {}", f.display()))?,
        );
    }
    if let Ok(text) = std::env::var("VIGIL_HOOK_KEYS") {
        keys.extend(vigil_hook::parse_keys(&text).context("invalid VIGIL_HOOK_KEYS")?);
    }
    let mut ids = std::collections::HashSet::new();
    for k in &keys {
        anyhow::ensure!(
            ids.insert(k.id.clone()),
            "hook key id {:?} is defined twice",
            k.id
        );
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let platforms: std::collections::BTreeSet<&str> =
        keys.iter().map(|k| k.platform.as_str()).collect();
    tracing::info!(
        keys = keys.len(),
        platforms = platforms.len(),
        "platform API keys loaded"
    );
    Ok(Some(Arc::new(vigil_hook::Authenticator::new(
        keys,
        vigil_hook::AuthSettings {
            replay_window_secs: config.hook.replay_window_secs as i64,
            rate_per_s: config.hook.rate_per_key_per_s,
            burst: config.hook.burst_per_key as f64,
            max_bodies_per_key: config.hook.max_bodies_per_key,
        },
    ))))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can install a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The position of a process's banks in the database's change log, and
/// the gate every background writer of them takes.
#[derive(Clone)]
struct HashdbSync {
    position: Arc<tokio::sync::Mutex<Position>>,
    gate: ApplyGate,
}

/// The banks at start: from the snapshot at `snapshot` when it is usable,
/// else from the database. Also their change-log position, and whether
/// they came from the snapshot.
async fn load_hashdb(
    store: &Store,
    snapshot: Option<&std::path::Path>,
) -> anyhow::Result<(SharedHashDb, Position, bool)> {
    if let Some(path) = snapshot {
        if let Some((db, pos)) = hashdb_snapshot::load(store, path).await {
            HASHDB_ENTRIES.set(db.len() as i64);
            return Ok((Arc::new(RwLock::new(db)), pos, true));
        }
    }
    let started = std::time::Instant::now();
    // The head before the rows: the rows hold at least every change up to it.
    let pos = hashdb_snapshot::head(store)
        .await
        .context("cannot read the change log")?;
    let (db, rejected) = store.load_hashdb().await.context("cannot load banks")?;
    if rejected > 0 {
        tracing::warn!(rejected, "some stored bank entries did not load");
    }
    HASHDB_ENTRIES.set(db.len() as i64);
    tracing::info!(
        entries = db.len(),
        seconds = started.elapsed().as_secs_f64(),
        "banks loaded from the database"
    );
    Ok((Arc::new(RwLock::new(db)), pos, false))
}

/// Put the newest approved policy version in force if it is not already.
async fn reload_policy(store: &Store, shared: &SharedPolicy) -> anyhow::Result<()> {
    let Some((version, toml)) = store.active_policy().await? else {
        return Ok(());
    };
    if shared.current().version == version {
        return Ok(());
    }
    let p = Policy::from_toml(&toml)
        .with_context(|| format!("approved policy {version} in the database is invalid"))?;
    let old = shared.current().version.clone();
    let budgets = (p.audit.false_positive_budget, p.audit.miss_budget);
    if shared.replace(p) {
        vigil_review::accountability::set_budgets(budgets.0, budgets.1);
        tracing::info!(policy_version = %version, replaced = %old, "approved policy version now in force");
    }
    Ok(())
}

/// Replace the banks with a full load from the database, then replay the
/// changes made since the load began: the follower may have applied some
/// of them to the banks the load replaced.
async fn reload_hashdb(
    store: &Store,
    shared: &SharedHashDb,
    sync: &HashdbSync,
) -> anyhow::Result<()> {
    let mut position = sync.position.lock().await;
    let mut pos = hashdb_snapshot::head(store).await?;
    let (db, _) = store.load_hashdb().await?;
    let old = {
        let _gate = sync.gate.lock().await;
        let mut guard = shared.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, db)
    };
    // Freed outside the lock: dropping millions of entries takes a while.
    drop(old);
    hashdb_snapshot::catch_up(store, shared, &sync.gate, &mut pos).await?;
    *position = pos;
    HASHDB_ENTRIES.set(shared.read().unwrap_or_else(|p| p.into_inner()).len() as i64);
    Ok(())
}

/// Catch the banks up from the database's change log, then write the
/// snapshot if they moved since the writer's last one.
async fn write_snapshot(
    store: &Store,
    shared: &SharedHashDb,
    sync: &HashdbSync,
    writer: &mut SnapshotWriter,
) -> anyhow::Result<bool> {
    let at = {
        let mut position = sync.position.lock().await;
        hashdb_snapshot::catch_up(store, shared, &sync.gate, &mut position).await?;
        position.clone()
    };
    HASHDB_ENTRIES.set(shared.read().unwrap_or_else(|p| p.into_inner()).len() as i64);
    writer.write_if_changed(shared, &sync.gate, &at).await
}

/// The embedded broker keeps messages in memory only: after a restart, put
/// every accepted-but-undecided upload back on the topic (DESIGN.md §3.3).
pub async fn requeue_undecided(
    store: &Store,
    producer: &Producer,
    topics: &Topics,
) -> anyhow::Result<usize> {
    let pending = store.undecided_uploads(1_000_000).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    tracing::info!(
        count = pending.len(),
        "re-enqueueing accepted uploads that have no verdict"
    );
    for msg in &pending {
        producer
            .send_json(&topics.uploads, msg.upload_id.as_str(), msg)
            .await
            .context("cannot re-enqueue an accepted upload")?;
    }
    Ok(pending.len())
}

/// The retro-hunt as configured (`[retrohunt]`): the serving loop and
/// `vigil retrohunt run` use the same settings.
pub fn retro_hunter(
    config: &Config,
    store: Store,
    producer: Option<Producer>,
    topics: &Topics,
    policy: SharedPolicy,
) -> vigil_banks::retrohunt::RetroHunter {
    vigil_banks::retrohunt::RetroHunter {
        store,
        producer,
        topics: vigil_banks::retrohunt::RetroTopics {
            verdicts: topics.verdicts.clone(),
            review: topics.review.clone(),
        },
        policy,
        retention: chrono::Duration::days(config.retrohunt.retention_days.min(36_500) as i64),
        settle: chrono::Duration::seconds(config.retrohunt.settle_secs.min(86_400) as i64),
    }
}
