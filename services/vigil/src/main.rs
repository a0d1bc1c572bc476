//! The `vigil` command line. Thin: it parses arguments, sets up logging and
//! calls the library.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
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
    #[command(subcommand)]
    command: Command,
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
    KafkaDev {
        #[arg(long, default_value_t = 3)]
        brokers: i32,
        #[arg(long, default_value_t = 6)]
        partitions: i32,
    },
    /// Manage banks of hashes.
    Bank {
        #[command(subcommand)]
        command: BankCommand,
    },
    /// Print MD5, SHA-256 and PDQ (with quality) of media files, or with
    /// `--format vpdq` the vPDQ of videos in the reference text format.
    Hash {
        /// Files to hash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `text`: one summary line per file; `vpdq`: one
        /// `frame_number,quality,pdq_hex,timestamp_seconds` line per hashed
        /// video frame (a `# file` line first when several files are given).
        #[arg(long, value_enum, default_value = "text")]
        format: HashFormat,
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
    /// Generate synthetic media, send it through a fresh embedded Vigil and print the verdicts.
    Demo {
        /// Keep serving after the table is printed, until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HashFormat {
    Text,
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
enum BankCommand {
    /// Create a bank, or update its action and labels.
    Create {
        name: String,
        /// What a match may trigger automatically.
        #[arg(long, value_enum, default_value = "review-only")]
        action: ActionArg,
        /// Labels (repeatable), e.g. --label gifct:glorification.
        #[arg(long = "label")]
        labels: Vec<String>,
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
    /// List banks with their entry counts.
    List,
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
        } => {
            let topics = vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix);
            let kafka = vigil_stream::EmbeddedKafka::start(brokers, partitions, &topics)?;
            // One line on stdout that scripts can read.
            println!("bootstrap.servers={}", kafka.bootstrap_servers());
            use std::io::Write;
            std::io::stdout().flush()?;
            eprintln!(
                "mock cluster up; run e.g. VIGIL_KAFKA__BOOTSTRAP_SERVERS={} vigil worker; Ctrl-C stops it (messages live in memory only)",
                kafka.bootstrap_servers()
            );
            tokio::signal::ctrl_c().await?;
            drop(kafka);
            Ok(())
        }
        Command::Bank { command } => bank(&config, command).await,
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
            format: HashFormat::Text,
            ..
        } => hash(&files, &config),
        Command::Hash {
            files,
            format: HashFormat::Vpdq,
            seconds_per_hash,
        } => hash_vpdq(&files, seconds_per_hash),
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

async fn role(config: &Config, roles: Roles) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.kafka.bootstrap_servers.is_some(),
        "separate roles need a shared broker: set kafka.bootstrap_servers (or use `vigil serve`)"
    );
    App::start(config, roles).await?.run_until_signal().await
}

async fn open_store(config: &Config) -> anyhow::Result<vigil_store::Store> {
    std::fs::create_dir_all(&config.data_dir)?;
    vigil_store::Store::connect(&config.database_url(), 2, config.database.schema.as_deref())
        .await
        .context("cannot open the database")
}

async fn bank(config: &Config, command: BankCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        BankCommand::Create {
            name,
            action,
            labels,
        } => {
            let action = match action {
                ActionArg::Takedown => BankAction::Takedown,
                ActionArg::ReviewOnly => BankAction::ReviewOnly,
                ActionArg::Allow => BankAction::Allow,
            };
            let svc = vigil::banks::service(config, store)?;
            vigil::banks::create_bank(&svc, &name, action, &labels).await?;
            println!("bank {name} saved");
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
            vigil::banks::import(&svc, &file, format, opts).await?;
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
            let id = vigil::banks::add(&svc, &bank, t, &signal).await?;
            println!("added bank={bank} entry_id={id}");
        }
        BankCommand::Remove { bank, entry_id } => {
            let svc = vigil::banks::service(config, store)?;
            let n = svc
                .apply(vec![vigil_hashdb::Change::DeleteEntry {
                    bank: bank.clone(),
                    entry_id: entry_id.clone(),
                }])
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
            vigil::banks::set_status(&svc, &name, status).await?;
            println!("bank {name} status={status:?}");
        }
        BankCommand::List => {
            let counts = store.entry_counts().await?;
            for b in store.banks().await? {
                let n: Vec<String> = counts
                    .iter()
                    .filter(|(name, _, _)| *name == b.name)
                    .map(|(_, t, n)| format!("{t}={n}"))
                    .collect();
                println!(
                    "{}\taction={:?}\tstatus={:?}\tlabels={}\t{}",
                    b.name,
                    b.action,
                    b.status,
                    b.labels.join(","),
                    n.join(" ")
                );
            }
        }
    }
    Ok(())
}

fn hash(files: &[PathBuf], config: &Config) -> anyhow::Result<()> {
    use sha2::Digest;
    let limits = config.decode_limits();
    let mut failed = 0;
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let md5 = hex::encode(md5_digest(&bytes));
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        match vigil_decode::decode_image(&bytes, &limits) {
            Ok(img) => {
                let p = vigil_pdq::hash_rgb(
                    img.rgb.width() as usize,
                    img.rgb.height() as usize,
                    img.rgb.as_raw(),
                )?;
                println!(
                    "{}\tmd5={md5}\tsha256={sha}\tpdq={}\tquality={}",
                    f.display(),
                    p.hash,
                    p.quality
                );
            }
            Err(e) => {
                failed += 1;
                println!(
                    "{}\tmd5={md5}\tsha256={sha}\terror={}: {e}",
                    f.display(),
                    e.kind()
                );
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} file(s) could not be decoded");
    Ok(())
}

/// `vigil hash --format vpdq`: decode each video (FFmpeg subprocess, default
/// video limits) and print its vPDQ in the reference text format.
fn hash_vpdq(files: &[PathBuf], seconds_per_hash: f64) -> anyhow::Result<()> {
    use std::io::Write;
    use vigil_decode::video::{decode_video_file, VideoLimits, VideoOptions};
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
        let decoded = decode_video_file(f, &VideoLimits::default(), &options, |frame| {
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
enum UserCommand {
    /// Create a user, or reset an existing user's role and password. The
    /// password is read from `VIGIL_USER_PASSWORD` or else the first line of
    /// stdin (never from the command line).
    Add {
        name: String,
        #[arg(long, value_enum, default_value = "reviewer")]
        role: RoleArg,
    },
    /// List users with their roles.
    List,
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    use vigil_store::Role;
    let store = open_store(config).await?;
    match command {
        UserCommand::Add { name, role } => {
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
            println!(
                "user {name} {} with role {role}",
                if created { "created" } else { "updated" }
            );
        }
        UserCommand::List => {
            for (name, role, disabled) in store.users().await? {
                println!("{name}\t{role}{}", if disabled { "\tdisabled" } else { "" });
            }
        }
    }
    Ok(())
}
