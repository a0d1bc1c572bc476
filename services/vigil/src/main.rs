//! The `vigil` command line. Thin: it parses arguments, sets up logging and
//! calls the library.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use vigil::{App, Config, Roles};
use vigil_hashdb::formats::{Format, ImportOptions};
use vigil_hashdb::{BankAction, BankStatus, SignalType};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Find and act on known terrorist and violent-extremist media, and measure how often that goes wrong."
)]
struct Cli {
    /// Configuration file (TOML). `VIGIL_*` environment variables override it.
    #[arg(long, global = true, env = "VIGIL_CONFIG")]
    config: Option<PathBuf>,
    /// Act as this review account (lead or admin to approve proposals). Its
    /// password is read from `VIGIL_PASSWORD` or else the first line of
    /// stdin. Without it, changes are made as `operator`: logged as such,
    /// guarded ones only proposed.
    #[arg(long = "as", global = true, env = "VIGIL_AS", value_name = "USER")]
    as_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum UploadCommand {
    /// Decide uploads again under the policy in force: each one's decision
    /// is released (recorded in the audit log with --reason and who asked)
    /// and its next delivery analyses and decides it again. Put on
    /// `vigil.uploads` at once with a shared broker; with the embedded one,
    /// `vigil serve` re-enqueues them when it next starts. A redelivered
    /// record never does this by itself.
    Redecide {
        /// Upload ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// An upload's status, analysis attempts and effective verdict (JSON).
    Show { id: String },
}

#[derive(Subcommand)]
enum Command {
    /// Run hook, workers and review API in one process (embedded broker unless kafka.bootstrap_servers is set).
    Serve,
    /// Manage review accounts (reviewer, lead, admin).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run only the upload hook (and /metrics).
    Hook,
    /// Run only workers (and /metrics).
    Worker,
    /// Run only the review API (and /metrics).
    Review,
    /// Run librdkafka's mock cluster as a standalone broker with Vigil's topics, for
    /// running hook, workers and review as separate processes on one machine.
    /// Fault injection on stdin: `down N` / `up N` take broker N (1-based)
    /// down and back up; each command is answered `ok …` or `error …` on stdout.
    KafkaDev {
        #[arg(long, default_value_t = 3)]
        brokers: i32,
        #[arg(long, default_value_t = 6)]
        partitions: i32,
    },
    /// Drive hooks over HTTP at a target rate for a bounded time with synthetic
    /// media; report sustained uploads/s, upload→verdict p50/p99 and errors.
    /// The API key (`key_id.secret`) comes from `VIGIL_LOADGEN_KEY`.
    Loadgen {
        /// Hook base URL (repeatable; uploads go round-robin).
        #[arg(long = "target", default_value = "http://127.0.0.1:8080")]
        targets: Vec<String>,
        /// Uploads per second to aim for (0: as fast as --concurrency allows).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Seconds to send for.
        #[arg(long, default_value_t = 30)]
        duration_secs: u64,
        /// Stop after this many uploads (0: only the duration bounds the run).
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Every n-th upload is a deliberately corrupt file (0: none).
        #[arg(long, default_value_t = 0)]
        corrupt_every: u64,
        /// Timed `POST /v1/check` requests after the uploads.
        #[arg(long, default_value_t = 0)]
        check_requests: usize,
        /// Seconds to wait for the last verdicts.
        #[arg(long, default_value_t = 120)]
        verdict_timeout_secs: u64,
        /// Side of the synthetic square images, in pixels.
        #[arg(long, default_value_t = 256)]
        image_size: u32,
        /// Write the emblems' `pdq <hex>` hash list here (for `vigil bank import`) and exit.
        #[arg(long)]
        write_bank: Option<PathBuf>,
    },
    /// The retro-hunt: past uploads' retained hashes against bank entries
    /// that arrived after them (docs/self-correction.md).
    Retrohunt {
        #[command(subcommand)]
        command: RetrohuntCommand,
    },
    /// Put accepted uploads that have no verdict back on `vigil.uploads`
    /// (after the broker lost messages, e.g. a restarted `vigil kafka-dev`).
    Requeue,
    /// One upload's record, or deciding uploads again on purpose.
    Upload {
        #[command(subcommand)]
        command: UploadCommand,
    },
    /// Actions for the platform (`vigil.actions`, webhook): delivery status,
    /// and re-queuing actions the platform refused (docs/actions.md).
    Actions {
        #[command(subcommand)]
        command: ActionsCommand,
    },
    /// Manage banks of hashes.
    Bank {
        #[command(subcommand)]
        command: BankCommand,
    },
    /// Print PDQ (with quality), MD5 and SHA-256 of image files, hashed in
    /// parallel; or with `--format vpdq` the vPDQ of videos in the
    /// reference text format. Files that cannot be read or decoded get a
    /// line on stderr, and the exit code is 1 when any failed.
    Hash {
        /// Files to hash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `tsv`: a `path\tpdq\tquality\tmd5\tsha256` header (then the
        /// seven other dihedral hashes with `--dihedral`) and one row per
        /// file, in the order given; `json`: one JSON object per file and
        /// line, with the 64-bit `dhash` and `phash` too; `vpdq`: one `frame_number,quality,pdq_hex,timestamp_seconds`
        /// line per hashed video frame (a `# file` line first when several
        /// files are given).
        #[arg(long, value_enum, default_value = "tsv")]
        format: HashFormat,
        /// Also print the hashes of the 7 rotations and flips, derived from
        /// the same DCT (the reference's dihedral order).
        #[arg(long)]
        dihedral: bool,
        /// Images hashed at once (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// vPDQ: seconds between hashed frames (0 = every frame).
        #[arg(long, default_value_t = 1.0)]
        seconds_per_hash: f64,
    },
    /// Match PDQ hashes (`pdq <hex>` per line) against the banks: one `query\tbank\tentry_id\tdistance` row per hit.
    Match {
        file: PathBuf,
        #[arg(long)]
        bank: Option<String>,
        #[arg(long, default_value_t = 31)]
        max_distance: u32,
        /// Output format (tsv).
        #[arg(long, default_value = "tsv")]
        format: String,
    },
    /// Evaluate the classifier.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// The tamper-evident change log: keys, checkpoints, verification, export, governance report.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Guarded changes waiting for a second person (lead or admin).
    Proposal {
        #[command(subcommand)]
        command: ProposalCommand,
    },
    /// Referrals and removal orders from authorities.
    Referral {
        #[command(subcommand)]
        command: ReferralCommand,
    },
    /// Decision policy versions.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Reports from the database (docs/accountability.md).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Generate synthetic media, send it through a fresh embedded Vigil and print the verdicts.
    Demo {
        /// Keep serving after the table is printed, until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
    },
}

#[derive(Subcommand)]
enum ActionsCommand {
    /// Print how many actions wait for delivery, and how many of them are
    /// parked after a permanent refusal.
    Status,
    /// Make parked actions due again (after the platform fixed what made it
    /// refuse them); the running relays deliver them.
    Requeue,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HashFormat {
    #[value(alias = "text")]
    Tsv,
    Json,
    Vpdq,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Precision, recall, ROC-AUC, ECE and confusion matrices per slice, at the policy's and the model's thresholds;
    /// writes report.txt, reliability.png and pr_curve.png.
    Eval {
        /// Model file (.onnx, with its .json metadata beside it); the configured model when unset.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Folder of `<slice>/positive/*` and `<slice>/negative/*` images; synthetic data when unset.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Synthetic images per slice when no --data is given.
        #[arg(long, default_value_t = 100)]
        synthetic: usize,
        /// Where the report and plots go.
        #[arg(long, default_value = "var/model-eval")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ActionArg {
    Takedown,
    ReviewOnly,
    Allow,
}

#[derive(Subcommand)]
enum RetrohuntCommand {
    /// Run one pass now (the process serving review runs one every
    /// `retrohunt.interval_secs`): late verdicts are stored, published when
    /// kafka.bootstrap_servers is set, and counted as misses with their delay.
    Run,
}

#[derive(Subcommand)]
enum BankCommand {
    /// Create a bank, or update its action, labels and vPDQ thresholds.
    Create {
        name: String,
        /// What a match may trigger automatically.
        #[arg(long, value_enum, default_value = "review-only")]
        action: ActionArg,
        /// Labels (repeatable), e.g. --label gifct:glorification.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// vPDQ: percent of the upload's frames that must match a banked
        /// video (default 80; unset keeps the bank's value).
        #[arg(long)]
        vpdq_query_pct: Option<f64>,
        /// vPDQ: percent of the banked video's frames that must match
        /// (default 0; unset keeps the bank's value).
        #[arg(long)]
        vpdq_compared_pct: Option<f64>,
        /// vPDQ: frames match when their PDQ distance is below this
        /// (default 31; unset keeps the bank's value).
        #[arg(long)]
        vpdq_distance: Option<u32>,
    },
    /// Stream an exchange file into a bank (idempotent; resumable with --resume-after).
    Import {
        file: PathBuf,
        #[arg(long)]
        bank: String,
        /// hashlist (`pdq <hex>` lines), te-csv, te-json, tcap, or vpdq (a
        /// video's reference vPDQ text, as `vigil hash --format vpdq` prints
        /// it; several videos each opened by `# entry <id>`).
        #[arg(long, default_value = "hashlist")]
        format: String,
        /// Skip records up to this position (the cursor a previous run printed).
        #[arg(long, default_value_t = 0)]
        resume_after: u64,
        /// Reject PDQ records whose quality is below this.
        #[arg(long)]
        quality_floor: Option<u8>,
        /// Labels added to every imported entry (repeatable).
        #[arg(long = "label")]
        labels: Vec<String>,
    },
    /// Write a bank's entries to stdout.
    Export {
        #[arg(long)]
        bank: String,
        /// hashlist, te-csv, te-json, tcap, or vpdq (the bank's videos only).
        #[arg(long, default_value = "hashlist")]
        format: String,
    },
    /// Add one hash to a bank.
    Add {
        #[arg(long)]
        bank: String,
        /// pdq, md5 or sha256 (videos: `bank import --format vpdq`).
        #[arg(long, default_value = "pdq")]
        signal_type: String,
        signal: String,
    },
    /// Tombstone an entry.
    Remove {
        #[arg(long)]
        bank: String,
        entry_id: String,
    },
    /// Set a bank's status: active, disabled or quarantined.
    Status { name: String, status: String },
    /// List quarantined entries and banks, with when, why and by whom.
    Quarantined,
    /// Propose lifting the quarantine of one entry, with a reason (a lead or
    /// admin proposes with --as; a different lead or admin approves it with
    /// `vigil proposal approve`; its overturn counts then start from zero).
    RestoreEntry {
        bank: String,
        entry_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Set a bank's PDQ distance threshold (0-63), or with `--signal` its
    /// dHash or pHash one (0-16); raising it is a proposal a second person
    /// approves, lowering it applies at once.
    Threshold {
        name: String,
        distance: u32,
        /// The signal type: `pdq`, `dhash` or `phash`.
        #[arg(long, default_value = "pdq")]
        signal: vigil_hashdb::SignalType,
    },
    /// Show a bank's charter, or propose a new one (JSON file) or its removal.
    Charter {
        name: String,
        /// Charter JSON: scope, allowed_labels, legal_basis[{kind, reference}], owner,
        /// jurisdictions, allowed_actions, trusted_sources.
        #[arg(long, conflicts_with = "remove")]
        file: Option<PathBuf>,
        /// Propose removing the charter (the bank becomes review-only).
        #[arg(long)]
        remove: bool,
    },
    /// The behaviour labels charters may allow.
    Taxonomy,
    /// List banks with their entry counts.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write a new Ed25519 signing key to FILE (mode 0600) and its public key to FILE.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a checkpoint at the change log's head with the configured key.
    Checkpoint,
    /// Recompute the hash chain (from the database, or from an export file) and check
    /// its signed checkpoints; reports the first broken link and exits non-zero.
    Verify {
        /// Public key (hex, or a file holding it) every checkpoint must be signed by.
        #[arg(long)]
        public_key: Option<String>,
        /// Verify this export instead of the database.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Write the change log with its signed checkpoints, for an outside auditor.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// The governance numbers: referrals, guarded changes, entries added per bank and month.
    Report {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ProposalCommand {
    /// List proposals (pending by default).
    List {
        /// pending, approved, rejected, auto_approved or all.
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Show one proposal with its diff.
    Show { id: String },
    /// Approve and apply a proposal (needs --as a different lead or admin).
    Approve {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a proposal (needs --as a different lead or admin).
    Reject {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReferralCommand {
    /// Record a referral and act on the uploads it names (restrict in its
    /// jurisdictions, or take down, as the policy's `[referrals] action` says).
    Add {
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        legal_basis: String,
        /// The issuer's reference for the order.
        #[arg(long)]
        reference: Option<String>,
        /// ISO 3166 code (repeatable).
        #[arg(long = "jurisdiction", required = true)]
        jurisdictions: Vec<String>,
        /// RFC 3339 deadline.
        #[arg(long)]
        deadline: Option<String>,
        /// Upload id named by the order (repeatable).
        #[arg(long = "upload")]
        uploads: Vec<String>,
        /// `TYPE:HEX` hash named by the order (repeatable).
        #[arg(long = "hash")]
        hashes: Vec<String>,
        /// Only record it; act later.
        #[arg(long)]
        no_act: bool,
    },
    /// List referrals.
    List,
    /// Contest a referral with a reason (or refuse it with --refuse).
    Contest {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        refuse: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Propose publishing FILE as the new policy version (a second person approves).
    Propose { file: PathBuf },
    /// Print the policy in force (its version, then the TOML when it came from the database).
    Show,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn,sqlx=warn"));
    let json = std::env::var("VIGIL_LOG_FORMAT").is_ok_and(|v| v == "json");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    // Panics are logged as one structured record. Where untrusted media is
    // parsed they are contained (docs/hardening.md); elsewhere the process
    // ends as before, after this record.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(%location, %message, %backtrace, "panic");
        } else {
            tracing::error!(%location, %message, "panic");
        }
    }));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::User { command } => user(&config, command).await,
        Command::Serve => {
            App::start(&config, Roles::ALL)
                .await?
                .run_until_signal()
                .await
        }
        Command::Hook => {
            role(
                &config,
                Roles {
                    hook: true,
                    workers: false,
                    review: false,
                },
            )
            .await
        }
        Command::Worker => {
            role(
                &config,
                Roles {
                    hook: false,
                    workers: true,
                    review: false,
                },
            )
            .await
        }
        Command::Review => {
            role(
                &config,
                Roles {
                    hook: false,
                    workers: false,
                    review: true,
                },
            )
            .await
        }
        Command::KafkaDev {
            brokers,
            partitions,
        } => kafka_dev(&config, brokers, partitions).await,
        Command::Loadgen {
            targets,
            rate,
            duration_secs,
            count,
            concurrency,
            corrupt_every,
            check_requests,
            verdict_timeout_secs,
            image_size,
            write_bank,
        } => {
            let pool = vigil::loadgen::Pool::new(40, 8, image_size)?;
            if let Some(path) = write_bank {
                std::fs::write(&path, pool.bank_hashlist())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!(
                    "wrote {} emblem hashes to {}",
                    pool.emblem_pdq.len(),
                    path.display()
                );
                return Ok(());
            }
            let opts = vigil::loadgen::Options {
                targets: targets
                    .iter()
                    .map(|t| t.trim_end_matches('/').to_string())
                    .collect(),
                rate,
                duration: std::time::Duration::from_secs(duration_secs),
                count,
                concurrency,
                corrupt_every,
                api_key: std::env::var("VIGIL_LOADGEN_KEY").ok(),
                verdict_timeout: std::time::Duration::from_secs(verdict_timeout_secs),
                check_requests,
                ..Default::default()
            };
            let report = vigil::loadgen::run(opts, pool, Default::default()).await?;
            let kinds: Vec<String> = report
                .by_kind
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            let actions: Vec<String> = report
                .actions
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            eprintln!("sent: {}; verdicts: {}", kinds.join(" "), actions.join(" "));
            println!("{}", vigil::loadgen::summary_line(&report));
            anyhow::ensure!(
                report.missing == 0,
                "{} uploads got no verdict in time",
                report.missing
            );
            Ok(())
        }
        Command::Retrohunt {
            command: RetrohuntCommand::Run,
        } => {
            let store = open_store(&config).await?;
            let policy = vigil_pipeline::SharedPolicy::new(
                vigil::governance::load_policy(&config, &store).await?,
            );
            let producer = match &config.kafka.bootstrap_servers {
                Some(b) => Some(vigil_stream::Producer::new(
                    b,
                    "vigil-retrohunt-cli",
                    std::time::Duration::from_secs(30),
                )?),
                None => None,
            };
            let topics = vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix);
            let hunter = vigil::app::retro_hunter(&config, store, producer, &topics, policy);
            let summary = hunter.run_once(chrono::Utc::now()).await?;
            println!("{}", summary.line());
            Ok(())
        }
        Command::Requeue => {
            let store = open_store(&config).await?;
            let bootstrap = config
                .kafka
                .bootstrap_servers
                .clone()
                .context("requeue needs the shared broker: set kafka.bootstrap_servers")?;
            let producer = vigil_stream::Producer::new(
                &bootstrap,
                "vigil-requeue",
                std::time::Duration::from_secs(30),
            )?;
            let topics = vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix);
            let n = vigil::requeue_undecided(&store, &producer, &topics).await?;
            println!("requeued {n} uploads");
            Ok(())
        }
        Command::Upload { command } => upload(&config, cli.as_user.as_deref(), command).await,
        Command::Actions { command } => {
            let store = open_store(&config).await?;
            match command {
                ActionsCommand::Status => {
                    let pending = store.pending_action_count().await?;
                    let parked = store.parked_action_count().await?;
                    println!("pending={pending} parked={parked}");
                }
                ActionsCommand::Requeue => {
                    let n = store.requeue_parked_actions().await?;
                    println!("requeued {n} parked actions");
                }
            }
            Ok(())
        }
        Command::Bank { command } => bank(&config, cli.as_user.as_deref(), command).await,
        Command::Audit { command } => audit(&config, command).await,
        Command::Proposal { command } => proposal(&config, cli.as_user.as_deref(), command).await,
        Command::Referral { command } => referral(&config, cli.as_user.as_deref(), command).await,
        Command::Policy { command } => policy(&config, cli.as_user.as_deref(), command).await,
        Command::Report { command } => report(&config, command).await,
        Command::Model {
            command:
                ModelCommand::Eval {
                    model,
                    data,
                    synthetic,
                    out,
                },
        } => {
            let mut mc = config.classifier.model.clone();
            if let Some(m) = model {
                mc.model_path = m;
            }
            let policy = match &config.policy_file {
                Some(p) => vigil_pipeline::Policy::from_file(p)?,
                None => vigil_pipeline::Policy::builtin(),
            };
            let report = vigil::model_eval::run(
                &mc,
                data.as_deref(),
                synthetic,
                policy.classifier.review_above,
                &config.decode_limits(),
                &out,
            )?;
            print!("{}", report.to_text());
            println!(
                "wrote {}/report.txt, reliability.png, pr_curve.png",
                out.display()
            );
            Ok(())
        }
        Command::Match {
            file,
            bank,
            max_distance,
            format,
        } => {
            anyhow::ensure!(format == "tsv", "only --format tsv is supported");
            let store = open_store(&config).await?;
            let (db, _) = store.load_hashdb().await?;
            let input = std::io::BufReader::new(
                std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?,
            );
            let mut out = std::io::stdout().lock();
            let (q, n) = vigil::banks::match_lines(
                &db,
                input,
                bank.as_deref(),
                max_distance.min(63),
                &mut out,
            )?;
            eprintln!("match queries={q} hits={n}");
            Ok(())
        }
        Command::Hash {
            files,
            format: HashFormat::Vpdq,
            seconds_per_hash,
            ..
        } => hash_vpdq(&files, seconds_per_hash, &config.video.to_limits()?),
        Command::Hash {
            files,
            format,
            dihedral,
            threads,
            ..
        } => hash(
            &files,
            &config,
            format == HashFormat::Json,
            dihedral,
            threads,
        ),
        Command::Demo { keep_running } => {
            let report = vigil::demo::run(&config, keep_running).await?;
            anyhow::ensure!(
                report.missing == 0,
                "{} uploads got no verdict",
                report.missing
            );
            Ok(())
        }
    }
}

async fn kafka_dev(config: &Config, brokers: i32, partitions: i32) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let topics = vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix);
    let kafka = std::sync::Arc::new(vigil_stream::EmbeddedKafka::start(
        brokers, partitions, &topics,
    )?);
    // One line on stdout that scripts can read.
    println!("bootstrap.servers={}", kafka.bootstrap_servers());
    std::io::stdout().flush()?;
    eprintln!(
        "mock cluster up; run e.g. VIGIL_KAFKA__BOOTSTRAP_SERVERS={} vigil worker; `down N`/`up N` on stdin inject faults; Ctrl-C stops it (messages live in memory only)",
        kafka.bootstrap_servers()
    );
    let k = kafka.clone();
    // Detached: a blocking read of stdin cannot be cancelled, and the
    // process exits on the signal anyway.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let words: Vec<&str> = line.split_whitespace().collect();
            let reply = match words.as_slice() {
                [cmd @ ("down" | "up"), id] => match id.parse::<i32>() {
                    Ok(id) => {
                        let r = if *cmd == "down" {
                            k.broker_down(id)
                        } else {
                            k.broker_up(id)
                        };
                        match r {
                            Ok(()) => format!("ok {cmd} {id}"),
                            Err(e) => format!("error {e}"),
                        }
                    }
                    Err(_) => format!("error bad broker id {id:?}"),
                },
                [] => continue,
                _ => "error expected `down N` or `up N`".to_string(),
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{reply}");
            let _ = out.flush();
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

async fn role(config: &Config, roles: Roles) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.kafka.bootstrap_servers.is_some(),
        "separate roles need a shared broker: set kafka.bootstrap_servers (or use `vigil serve`)"
    );
    App::start(config, roles).await?.run_until_signal().await
}

async fn upload(
    config: &Config,
    as_user: Option<&str>,
    command: UploadCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let parse = |id: &str| {
        vigil_pipeline::UploadId::parse(id).with_context(|| format!("invalid upload id {id:?}"))
    };
    match command {
        UploadCommand::Redecide { ids, reason } => {
            let actor = vigil::governance::actor(&store, as_user).await?;
            let ids = ids
                .iter()
                .map(|i| parse(i))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let done = vigil::redecide::redecide(config, &store, &actor, &ids, &reason).await?;
            for (id, outcome) in &done {
                println!("{id}\t{}", outcome.as_str());
            }
            if config.kafka.bootstrap_servers.is_none()
                && done
                    .iter()
                    .any(|(_, o)| *o == vigil::redecide::Redecided::Released)
            {
                println!("# embedded broker: vigil serve decides the released uploads when it next starts");
            }
        }
        UploadCommand::Show { id } => {
            let id = parse(&id)?;
            let row = store
                .get_upload(&id)
                .await?
                .with_context(|| format!("no upload {id}"))?;
            let v = serde_json::json!({
                "upload_id": id.as_str(),
                "status": row.status.as_str(),
                "error_kind": row.error_kind,
                "analysis_attempts": store.analysis_attempts(&id).await?,
                "decided": store.is_decided(&id).await?,
                "verdict": store.latest_verdict(&id).await?,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<vigil_store::Store> {
    std::fs::create_dir_all(&config.data_dir)?;
    vigil_store::Store::connect(&config.database_url(), 2, config.database.schema.as_deref())
        .await
        .context("cannot open the database")
}

fn print_submitted(s: &vigil_banks::Submitted, what: &str) {
    match s {
        vigil_banks::Submitted::Applied { changed } => println!("{what} changed={changed}"),
        vigil_banks::Submitted::Proposed {
            proposal_id,
            kind,
            applied,
        } => println!(
            "{what} proposed proposal={proposal_id} kind={} (takes effect when a different lead or admin runs `vigil proposal approve {proposal_id} --as USER`) applied_now={applied}",
            kind.as_str()
        ),
    }
}

async fn bank(config: &Config, as_user: Option<&str>, command: BankCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        BankCommand::Taxonomy => {
            for (l, d) in vigil_governance::TAXONOMY {
                println!("{l}\t{d}");
            }
            return Ok(());
        }
        BankCommand::Charter { name, file, remove } => {
            if file.is_none() && !remove {
                match store.charter(&name).await? {
                    Some(c) => println!("{}", serde_json::to_string_pretty(&c)?),
                    None => {
                        println!("bank {name} has no charter: its matches only route to review")
                    }
                }
                return Ok(());
            }
            let charter = match file {
                Some(f) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?;
                    Some(
                        serde_json::from_str::<vigil_governance::Charter>(&text)
                            .with_context(|| format!("{} is not a charter", f.display()))?,
                    )
                }
                None => None,
            };
            let actor = vigil::governance::actor(&store, as_user).await?;
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store)?);
            let id = gov.propose_charter(&actor, &name, charter).await?;
            println!("charter of {name} proposed proposal={id} kind=charter_change");
            return Ok(());
        }
        _ => {}
    }
    let actor = match &command {
        BankCommand::Export { .. } | BankCommand::List | BankCommand::Quarantined => String::new(),
        _ => vigil::governance::actor(&store, as_user).await?,
    };
    match command {
        BankCommand::Taxonomy | BankCommand::Charter { .. } => unreachable!("handled above"),
        BankCommand::Create {
            name,
            action,
            labels,
            vpdq_query_pct,
            vpdq_compared_pct,
            vpdq_distance,
        } => {
            let action = match action {
                ActionArg::Takedown => BankAction::Takedown,
                ActionArg::ReviewOnly => BankAction::ReviewOnly,
                ActionArg::Allow => BankAction::Allow,
            };
            let svc = vigil::banks::service(config, store)?;
            let vpdq = vigil_hashdb::VpdqThresholdsPatch {
                query_pct: vpdq_query_pct,
                compared_pct: vpdq_compared_pct,
                distance_tolerance: vpdq_distance,
            };
            let r =
                vigil::banks::create_bank_as(&svc, &actor, &name, action, &labels, &vpdq).await?;
            print_submitted(&r, &format!("bank {name}"));
        }
        BankCommand::Import {
            file,
            bank,
            format,
            resume_after,
            quality_floor,
            labels,
        } => {
            let format: Format = format.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let mut opts = ImportOptions::new(&bank);
            opts.resume_after = resume_after;
            opts.pdq_quality_floor = quality_floor;
            opts.labels = labels;
            let svc = vigil::banks::service(config, store)?;
            vigil::banks::import_as(&svc, &actor, &file, format, opts).await?;
        }
        BankCommand::Export { bank, format } => {
            let format: Format = format.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let mut out = std::io::stdout().lock();
            vigil::banks::export(&store, &bank, format, &mut out).await?;
        }
        BankCommand::Add {
            bank,
            signal_type,
            signal,
        } => {
            let t: SignalType = signal_type.parse()?;
            let svc = vigil::banks::service(config, store)?;
            let (id, r) = vigil::banks::add_as(&svc, &actor, &bank, t, &signal).await?;
            print_submitted(&r, &format!("entry bank={bank} entry_id={id}"));
        }
        BankCommand::Remove { bank, entry_id } => {
            let svc = vigil::banks::service(config, store)?;
            let n = svc
                .apply_as(
                    &actor,
                    vec![vigil_hashdb::Change::DeleteEntry {
                        bank: bank.clone(),
                        entry_id: entry_id.clone(),
                    }],
                )
                .await?;
            anyhow::ensure!(n > 0, "bank {bank} has no live entry {entry_id}");
            println!("removed bank={bank} entry_id={entry_id}");
        }
        BankCommand::Status { name, status } => {
            let status = match status.as_str() {
                "active" => BankStatus::Active,
                "disabled" => BankStatus::Disabled,
                "quarantined" => BankStatus::Quarantined,
                other => anyhow::bail!("unknown status {other:?} (active, disabled, quarantined)"),
            };
            let svc = vigil::banks::service(config, store)?;
            let r = vigil::banks::set_status_as(&svc, &actor, &name, status).await?;
            print_submitted(&r, &format!("bank {name} status={status:?}"));
        }
        BankCommand::Quarantined => {
            for q in store.quarantined().await? {
                let entry = if q.entry_id.is_empty() {
                    "(whole bank)"
                } else {
                    q.entry_id.as_str()
                };
                println!(
                    "{}\t{}\tstate={}\tsince={}\tby={}\tcause={}\treason={}",
                    q.bank, entry, q.state, q.since, q.actor, q.cause, q.reason
                );
            }
        }
        BankCommand::RestoreEntry {
            bank,
            entry_id,
            reason,
        } => {
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store)?);
            let id = gov
                .propose_restore(&actor, &bank, &entry_id, &reason)
                .await?;
            println!("restore of {bank}/{entry_id} proposed proposal={id} kind=quarantine_restore");
        }
        BankCommand::Threshold {
            name,
            distance,
            signal,
        } => {
            let svc = vigil::banks::service(config, store)?;
            let r = vigil::banks::set_threshold_as(&svc, &actor, &name, signal, distance).await?;
            print_submitted(&r, &format!("bank {name} {signal}_threshold={distance}"));
        }
        BankCommand::List => {
            let counts = store.entry_counts().await?;
            for b in store.banks().await? {
                let n: Vec<String> = counts
                    .iter()
                    .filter(|(name, _, _)| *name == b.name)
                    .map(|(_, t, n)| format!("{t}={n}"))
                    .collect();
                // The 64-bit kinds' thresholds in force (dHash, pHash).
                let other: String = vigil_hashdb::SignalType::ALL
                    .into_iter()
                    .filter(|t| {
                        *t != vigil_hashdb::SignalType::Pdq
                            && matches!(t.matching(), vigil_hashdb::Matching::Hamming { .. })
                    })
                    .map(|t| format!("\t{t}_threshold={}", b.threshold(t)))
                    .collect();
                println!(
                    "{}\taction={:?}\tstatus={:?}\tpdq_threshold={}{}\tlabels={}\t{}",
                    b.name,
                    b.action,
                    b.status,
                    b.pdq_threshold,
                    other,
                    b.labels.join(","),
                    n.join(" ")
                );
            }
        }
    }
    Ok(())
}

/// One image file's hashes for `vigil hash`.
struct FileHashes {
    md5: String,
    sha256: String,
    pdq: vigil_pdq::DihedralOutput,
    /// The 64-bit image hashes (dHash, pHash), as the pipeline computes them.
    hash64: Vec<(vigil_hashdb::SignalType, u64)>,
}

/// A file's hashes, or the error kind and message that stopped it.
type HashResult = Result<FileHashes, (&'static str, String)>;

/// Read, decode (reference-exact RGB path) and hash one image file.
fn hash_file(path: &Path, limits: &vigil_decode::Limits) -> HashResult {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(|e| ("unreadable", e.to_string()))?;
    let img = vigil_decode::decode_image(&bytes, limits).map_err(|e| (e.kind(), e.to_string()))?;
    let pdq = vigil_pdq::hash_rgb_dihedral(
        img.rgb.width() as usize,
        img.rgb.height() as usize,
        img.rgb.as_raw(),
    )
    .map_err(|e| ("hash", e.to_string()))?;
    let hash64 = vigil_pipeline::imagehash::hash_all(
        img.rgb.width() as usize,
        img.rgb.height() as usize,
        img.rgb.as_raw(),
    );
    Ok(FileHashes {
        md5: hex::encode(md5_digest(&bytes)),
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        pdq,
        hash64,
    })
}

/// `vigil hash` for images: hash the files on `threads` threads (each takes
/// the next file in turn), then print them in the order given.
fn hash(
    files: &[PathBuf],
    config: &Config,
    json: bool,
    dihedral: bool,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let limits = config.decode_limits();
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<HashResult>>> =
        std::sync::Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let r = hash_file(path, &limits);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let others = &vigil_pdq::Dihedral::ALL[1..];
    let mut out = std::io::stdout().lock();
    if !json {
        let mut header = String::from("path\tpdq\tquality\tmd5\tsha256");
        if dihedral {
            for d in others {
                header.push_str(&format!("\tpdq_{}", d.as_str()));
            }
        }
        writeln!(out, "{header}")?;
    }
    let mut failed = 0;
    for (path, r) in files.iter().zip(results) {
        match r.expect("every file was hashed") {
            Ok(h) => {
                let original = h.pdq.get(vigil_pdq::Dihedral::Original);
                if json {
                    let mut v = serde_json::json!({
                        "path": path.display().to_string(),
                        "pdq": original.hash.to_hex(),
                        "quality": original.quality,
                        "md5": h.md5,
                        "sha256": h.sha256,
                    });
                    for (t, v64) in &h.hash64 {
                        v[t.as_str()] = vigil_hashdb::signal::hash64_to_hex(*v64).into();
                    }
                    if dihedral {
                        let d: serde_json::Map<String, serde_json::Value> = others
                            .iter()
                            .map(|d| (d.as_str().to_string(), h.pdq.get(*d).hash.to_hex().into()))
                            .collect();
                        v["dihedral"] = d.into();
                    }
                    writeln!(out, "{v}")?;
                } else {
                    let mut row = format!(
                        "{}\t{}\t{}\t{}\t{}",
                        path.display(),
                        original.hash.to_hex(),
                        original.quality,
                        h.md5,
                        h.sha256
                    );
                    if dihedral {
                        for d in others {
                            row.push_str(&format!("\t{}", h.pdq.get(*d).hash.to_hex()));
                        }
                    }
                    writeln!(out, "{row}")?;
                }
            }
            Err((kind, e)) => {
                failed += 1;
                eprintln!("{}\terror={kind}: {e}", path.display());
            }
        }
    }
    out.flush()?;
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} file(s) could not be hashed",
        files.len()
    );
    Ok(())
}

/// `vigil hash --format vpdq`: decode each video (FFmpeg subprocess, the
/// `[video]` limits of the configuration) and print its vPDQ in the
/// reference text format.
fn hash_vpdq(
    files: &[PathBuf],
    seconds_per_hash: f64,
    limits: &vigil_decode::video::VideoLimits,
) -> anyhow::Result<()> {
    use vigil_decode::video::{decode_video_file, VideoOptions};
    anyhow::ensure!(
        seconds_per_hash.is_finite() && seconds_per_hash >= 0.0,
        "--seconds-per-hash must be a non-negative number"
    );
    let options = VideoOptions {
        seconds_per_hash,
        ..VideoOptions::default()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0;
    for f in files {
        let mut hasher = vigil_vpdq::VpdqHasher::new();
        let mut hash_error = None;
        let decoded = decode_video_file(f, limits, &options, |frame| {
            if let Err(e) = hasher.push(
                frame.frame_number,
                frame.timestamp,
                frame.width as usize,
                frame.height as usize,
                frame.rgb,
            ) {
                hash_error.get_or_insert(e);
            }
        });
        match (decoded, hash_error) {
            (Ok(_), None) => {
                if files.len() > 1 {
                    writeln!(out, "# {}", f.display())?;
                }
                out.write_all(vigil_vpdq::format_features(&hasher.finish()).as_bytes())?;
            }
            (Err(e), _) => {
                failed += 1;
                eprintln!("{}: error={}: {e}", f.display(), e.kind());
            }
            (Ok(_), Some(e)) => {
                failed += 1;
                eprintln!("{}: error=hash: {e}", f.display());
            }
        }
    }
    out.flush()?;
    anyhow::ensure!(failed == 0, "{failed} video(s) could not be hashed");
    Ok(())
}

fn md5_digest(bytes: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(bytes).into()
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Reviewer,
    Lead,
    Admin,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The transparency report: actions, review times, appeals, and the
    /// estimated false-positive and miss rates with Wilson 95% intervals.
    Transparency {
        /// Start of the period: YYYY-MM-DD (UTC) or an RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// End of the period (a date includes that whole day).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "json")]
        format: ReportFormatArg,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormatArg {
    Json,
    Html,
}

async fn report(config: &Config, command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Transparency {
            from,
            to,
            format,
            out,
        } => {
            let period = vigil::report::period(from.as_deref(), to.as_deref())?;
            let store = open_store(config).await?;
            let r = vigil::report::transparency(&store, &period).await?;
            let format = match format {
                ReportFormatArg::Json => vigil::report::ReportFormat::Json,
                ReportFormatArg::Html => vigil::report::ReportFormat::Html,
            };
            let text = vigil::report::render(&r, format);
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user, or reset an existing user's role and password. The
    /// password is read from `VIGIL_USER_PASSWORD` or else the first line of
    /// stdin (never from the command line).
    Add {
        name: String,
        #[arg(long, value_enum, default_value = "reviewer")]
        role: RoleArg,
        /// Review queues this user serves, comma-separated (see
        /// `[review.routing]`); none: every queue. Leads and admins always
        /// serve every queue.
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
    },
    /// List users with their roles and queues.
    List,
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    use vigil_store::Role;
    let store = open_store(config).await?;
    match command {
        UserCommand::Add { name, role, queues } => {
            if let Some(bad) = queues
                .iter()
                .find(|q| !vigil_review::routing::valid_queue_name(q))
            {
                anyhow::bail!("queue name {bad:?}: use 1-32 characters from a-z, 0-9, '-' and '_'");
            }
            let role = match role {
                RoleArg::Reviewer => Role::Reviewer,
                RoleArg::Lead => Role::Lead,
                RoleArg::Admin => Role::Admin,
            };
            let password = match std::env::var("VIGIL_USER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let created = vigil_review::add_user(&store, &name, role, &password).await?;
            let queues = (!queues.is_empty()).then_some(queues);
            store.set_user_queues(&name, queues.as_deref()).await?;
            println!(
                "user {name} {} with role {role}, serving {}",
                if created { "created" } else { "updated" },
                queues.map_or("every queue".to_string(), |q| q.join(", "))
            );
        }
        UserCommand::List => {
            for (name, role, disabled) in store.users().await? {
                let queues = store
                    .user_queues(&name)
                    .await?
                    .map_or("*".to_string(), |q| q.join(","));
                println!(
                    "{name}\t{role}\t{queues}{}",
                    if disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}

async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    use vigil::governance as g;
    if let AuditCommand::Keygen { out } = &command {
        let vk = g::keygen(out)?;
        println!(
            "wrote {} and {} (public key {})",
            out.display(),
            g::public_key_path(out).display(),
            hex::encode(vk.to_bytes())
        );
        return Ok(());
    }
    if let AuditCommand::Verify {
        public_key,
        file: Some(file),
    } = &command
    {
        let key = public_key.as_deref().map(g::read_public_key).transpose()?;
        return report_verified(g::verify_file(file, key.as_ref())?, key.is_some());
    }
    let store = open_store(config).await?;
    let signing_key = || {
        config
            .governance
            .signing_key_file
            .as_deref()
            .map(g::read_signing_key)
            .transpose()
    };
    match command {
        AuditCommand::Keygen { .. } => unreachable!("handled above"),
        AuditCommand::Checkpoint => {
            let key = signing_key()?
                .context("set governance.signing_key_file first (`vigil audit keygen`)")?;
            match g::checkpoint(&store, &key).await? {
                Some(c) => println!("checkpoint seq={} hash={}", c.seq, c.hash),
                None => println!("nothing new to checkpoint"),
            }
        }
        AuditCommand::Verify { public_key, .. } => {
            let key = public_key.as_deref().map(g::read_public_key).transpose()?;
            return report_verified(g::verify_db(&store, key.as_ref()).await?, key.is_some());
        }
        AuditCommand::Export { out } => {
            let (n, c) = g::export(&store, signing_key()?.as_ref(), &out).await?;
            println!("wrote {} records={n} checkpoints={c}", out.display());
        }
        AuditCommand::Report { json } => {
            let r = g::report(&store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", r.to_text());
            }
        }
    }
    Ok(())
}

fn report_verified(
    r: Result<vigil_governance::Verified, vigil_governance::Break>,
    keyed: bool,
) -> anyhow::Result<()> {
    match r {
        Ok(v) => {
            println!(
                "ok records={} head={} checkpoints={} signed_through={}{}",
                v.records,
                v.head,
                v.checkpoints,
                v.signed_through,
                if keyed {
                    ""
                } else {
                    " (no --public-key: signatures checked against the keys they name only)"
                }
            );
            Ok(())
        }
        Err(b) => {
            println!("broken seq={} {b}", b.seq());
            anyhow::bail!(
                "the change log does not verify: first broken link at record {}",
                b.seq()
            )
        }
    }
}

async fn proposal(
    config: &Config,
    as_user: Option<&str>,
    command: ProposalCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        ProposalCommand::List { status } => {
            let st = match status.as_str() {
                "all" => None,
                s => Some(vigil_governance::Status::parse(s).with_context(|| {
                    format!(
                        "unknown status {s:?} (pending, approved, rejected, auto_approved, all)"
                    )
                })?),
            };
            for p in store.proposals(st, 1000).await? {
                println!(
                    "{}\t{}\t{}\tby={}\tat={}\t{}",
                    p.proposal_id,
                    p.kind.as_str(),
                    p.status.as_str(),
                    p.proposed_by,
                    p.proposed_at,
                    p.summary
                );
            }
        }
        ProposalCommand::Show { id } => {
            let p = store
                .proposal(&id)
                .await?
                .with_context(|| format!("no proposal {id:?}"))?;
            println!(
                "proposal {}\nkind: {}\nstatus: {}\nproposed by {} at {}\nsummary: {}",
                p.proposal_id,
                p.kind.as_str(),
                p.status.as_str(),
                p.proposed_by,
                p.proposed_at,
                p.summary
            );
            if let (Some(by), Some(role)) = (&p.decided_by, &p.decided_role) {
                println!(
                    "decided by {by} ({role}) at {}",
                    p.decided_at.as_deref().unwrap_or("")
                );
            }
            println!("diff:\n{}", p.diff);
        }
        ProposalCommand::Approve { id, note } | ProposalCommand::Reject { id, note }
            if as_user.is_none() =>
        {
            let _ = (id, note);
            anyhow::bail!(
                "deciding a proposal needs --as USER (a lead or admin other than the proposer)"
            );
        }
        ProposalCommand::Approve { id, note } => {
            let actor = vigil::governance::actor(&store, as_user).await?;
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store)?);
            let p = gov.approve(&id, &actor, note.as_deref()).await?;
            println!(
                "approved and applied proposal={} kind={}",
                p.proposal_id,
                p.kind.as_str()
            );
        }
        ProposalCommand::Reject { id, note } => {
            let actor = vigil::governance::actor(&store, as_user).await?;
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store)?);
            let p = gov.reject(&id, &actor, note.as_deref()).await?;
            println!(
                "rejected proposal={} kind={}",
                p.proposal_id,
                p.kind.as_str()
            );
        }
    }
    Ok(())
}

async fn referral(
    config: &Config,
    as_user: Option<&str>,
    command: ReferralCommand,
) -> anyhow::Result<()> {
    use vigil_governance::{NewReferral, Target};
    let store = open_store(config).await?;
    match command {
        ReferralCommand::Add {
            issuer,
            legal_basis,
            reference,
            jurisdictions,
            deadline,
            uploads,
            hashes,
            no_act,
        } => {
            let mut targets: Vec<Target> = uploads
                .into_iter()
                .map(|upload_id| Target::Upload { upload_id })
                .collect();
            for h in hashes {
                let (t, v) = h
                    .split_once(':')
                    .with_context(|| format!("--hash {h:?} is not TYPE:HEX"))?;
                targets.push(Target::Hash {
                    signal_type: t.to_string(),
                    signal: v.to_ascii_lowercase(),
                });
            }
            let r = NewReferral {
                issuer,
                legal_basis,
                reference,
                jurisdictions,
                deadline,
                targets,
            };
            let actor = vigil::governance::actor(&store, as_user).await?;
            let policy = vigil::governance::load_policy(config, &store).await?;
            // With a configured broker the verdicts are published on
            // `vigil.verdicts`; their actions go to the actions outbox either way.
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store.clone())?)
                .with_verdicts_topic(
                    &vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix).verdicts,
                );
            let id = gov
                .add_referral(&actor, &r, policy.referrals.action, !no_act)
                .await?;
            println!("referral {id} recorded");
            for (u, a, j, pv) in store.referral_actions(&id).await? {
                println!(
                    "acted upload={u} action={a} jurisdictions={} policy_version={pv}",
                    j.join(",")
                );
            }
        }
        ReferralCommand::List => {
            for r in store.referrals(10_000).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\treceived={}\thandled={}",
                    r.referral_id,
                    r.status.as_str(),
                    r.referral.issuer,
                    r.referral.jurisdictions.join(","),
                    r.referral.legal_basis,
                    r.received_at,
                    r.handled_at.as_deref().unwrap_or("-")
                );
            }
        }
        ReferralCommand::Contest { id, reason, refuse } => {
            let actor = vigil::governance::actor(&store, as_user).await?;
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store)?);
            gov.contest_referral(&actor, &id, &reason, refuse).await?;
            println!(
                "referral {id} {}",
                if refuse { "refused" } else { "contested" }
            );
        }
    }
    Ok(())
}

async fn policy(
    config: &Config,
    as_user: Option<&str>,
    command: PolicyCommand,
) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let current = vigil::governance::load_policy(config, &store).await?;
    match command {
        PolicyCommand::Show => {
            println!("policy version {}", current.version);
            if let Some((_, toml)) = store.active_policy().await? {
                print!("{toml}");
            }
        }
        PolicyCommand::Propose { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let actor = vigil::governance::actor(&store, as_user).await?;
            let gov = vigil_banks::Governance::new(vigil::banks::service(config, store.clone())?);
            let id = gov.propose_policy(&actor, &text, &current).await?;
            let kind = store
                .proposal(&id)
                .await?
                .map(|p| p.kind.as_str())
                .unwrap_or("policy_version");
            println!("policy proposed proposal={id} kind={kind} (once approved, running processes put it in force within worker.policy_reload_secs)");
        }
    }
    Ok(())
}
