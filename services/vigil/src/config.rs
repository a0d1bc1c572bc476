//! `vigil.toml`: every address and path Vigil uses, with defaults that run
//! everything embedded (mock Kafka cluster, SQLite, local media folder,
//! bundled model). Values come from the defaults, then the TOML file, then
//! `VIGIL_*` environment variables (`__` separates sections, e.g.
//! `VIGIL_KAFKA__BOOTSTRAP_SERVERS=broker:9092`). Unknown keys are errors.

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vigil_models::ClassifierConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Folder for the SQLite database and media when those are not set.
    pub data_dir: PathBuf,
    /// Policy file; the built-in policy when unset.
    pub policy_file: Option<PathBuf>,
    /// A candidate policy evaluated on the same evidence without acting;
    /// its disagreements are counted, stored and sampled to blind review.
    pub shadow_policy_file: Option<PathBuf>,
    pub http: HttpConfig,
    pub hook: HookSection,
    pub kafka: KafkaConfig,
    pub database: DatabaseConfig,
    pub media: MediaConfig,
    pub worker: WorkerSection,
    pub hashdb: HashdbSection,
    pub limits: LimitsConfig,
    pub video: VideoSection,
    pub classifier: ClassifierSection,
    pub governance: GovernanceSection,
    pub review: ReviewSection,
    pub accountability: AccountabilitySection,
    pub retrohunt: RetrohuntSection,
    pub actions: ActionsSection,
}

/// Delivery of actions (takedown, restrict, reinstate) to the platform:
/// always to the Kafka topic `vigil.actions`, and to a signed webhook when
/// `webhook_url` is set (docs/actions.md). The relay runs in every process
/// with the hook role. The webhook's secret never lives in this file: it
/// comes from `webhook_secret_file` or `VIGIL_ACTIONS_WEBHOOK_SECRET`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsSection {
    /// `https://…` (or `http://…`) endpoint that receives each action as a
    /// signed JSON POST. Unset: Kafka only.
    pub webhook_url: Option<String>,
    /// File holding the webhook's HMAC secret (at least 32 characters).
    pub webhook_secret_file: Option<PathBuf>,
    /// Limit for one webhook request, in milliseconds.
    pub timeout_ms: u64,
    /// Longest wait between retries of a failed delivery, in seconds
    /// (the wait doubles from 1 s up to this).
    pub max_backoff_s: u64,
}

impl Default for ActionsSection {
    fn default() -> Self {
        ActionsSection {
            webhook_url: None,
            webhook_secret_file: None,
            timeout_ms: 10_000,
            max_backoff_s: 300,
        }
    }
}

impl ActionsSection {
    /// The relay's settings, with the webhook secret read from its file or
    /// `VIGIL_ACTIONS_WEBHOOK_SECRET` (the variable wins).
    pub fn relay_config(&self, topic: String) -> anyhow::Result<vigil_hook::RelayConfig> {
        use std::time::Duration;
        anyhow::ensure!(self.timeout_ms >= 1, "actions.timeout_ms must be positive");
        let webhook = match &self.webhook_url {
            None => None,
            Some(url) => {
                let text = match std::env::var("VIGIL_ACTIONS_WEBHOOK_SECRET") {
                    Ok(t) => t,
                    Err(_) => {
                        let f = self.webhook_secret_file.as_ref().context(
                            "actions.webhook_url is set but no secret was given (actions.webhook_secret_file or VIGIL_ACTIONS_WEBHOOK_SECRET)",
                        )?;
                        std::fs::read_to_string(f).with_context(|| {
                            format!("cannot read actions.webhook_secret_file {}", f.display())
                        })?
                    }
                };
                Some(vigil_hook::WebhookConfig {
                    url: url.clone(),
                    secret: vigil_hook::WebhookSecret::new(&text)
                        .context("invalid webhook secret")?,
                    timeout: Duration::from_millis(self.timeout_ms),
                })
            }
        };
        Ok(vigil_hook::RelayConfig::new(
            topic,
            webhook,
            Duration::from_secs(self.max_backoff_s),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSection {
    /// Ed25519 key that signs change-log checkpoints (`vigil audit keygen`
    /// writes it, and its public half beside it as `<file>.pub`). Unset: no
    /// checkpoints are signed (the chain is still verifiable, but an insider
    /// could rewrite it whole).
    pub signing_key_file: Option<PathBuf>,
    /// Seconds between signed checkpoints while serving (only when the log
    /// grew since the last one).
    pub checkpoint_interval_secs: u64,
}

impl Default for GovernanceSection {
    fn default() -> Self {
        GovernanceSection {
            signing_key_file: None,
            checkpoint_interval_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountabilitySection {
    /// Seconds between recomputations of the error-rate gauges from the
    /// database (also done at start), by the process that serves review.
    pub refresh_secs: u64,
    /// Seconds between quarantine passes (the thresholds are the policy's
    /// `[quarantine]`), by the process that serves review.
    pub quarantine_secs: u64,
}

impl Default for AccountabilitySection {
    fn default() -> Self {
        AccountabilitySection {
            refresh_secs: 15,
            quarantine_secs: 60,
        }
    }
}

/// The retro-hunt (docs/self-correction.md): past uploads' hashes against
/// bank entries that arrived after them, run by the process that serves
/// review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrohuntSection {
    /// Run passes while serving review (`vigil retrohunt run` works either way).
    pub enabled: bool,
    /// Seconds between passes.
    pub interval_secs: u64,
    /// Days an upload's hashes (never its media) are kept for the
    /// retro-hunt; older ones are purged and no longer hunted.
    pub retention_days: u64,
    /// Entries changed less than this many seconds ago wait for the next
    /// pass (a writer whose transaction commits late is not skipped).
    pub settle_secs: u64,
}

impl Default for RetrohuntSection {
    fn default() -> Self {
        RetrohuntSection {
            enabled: true,
            interval_secs: 60,
            retention_days: 90,
            settle_secs: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of the HTTP API (hook, review API, /metrics). Port 0 picks one.
    pub listen: String,
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: usize,
    /// Reverse proxies (addresses or networks such as `10.0.0.0/8`) whose
    /// `X-Forwarded-For` header names the client; from anyone else the
    /// header is ignored. The client address keys sign-in limits.
    pub trusted_proxies: Vec<String>,
}

/// The upload hook's authentication, limits and backpressure. API keys
/// never live in this file: they come from `keys_file` and the
/// `VIGIL_HOOK_KEYS` environment variable (`key_id platform secret
/// [max_bytes]`, lines or comma-separated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HookSection {
    /// Refuse to start the hook without API keys. Off by default so the
    /// embedded demo runs; the hook then says loudly that anyone may call it.
    pub auth_required: bool,
    /// File of API keys, one `key_id platform secret [max_bytes]` per line.
    pub keys_file: Option<PathBuf>,
    /// Signed requests: allowed clock skew and replay memory, in seconds.
    pub replay_window_secs: u64,
    /// Sustained requests per second allowed per key.
    pub rate_per_key_per_s: f64,
    /// Requests per key allowed at once above the sustained rate.
    pub burst_per_key: u32,
    /// Uploads that may wait for the broker at once; more get 503.
    pub max_in_flight: usize,
    /// After the broker failed to acknowledge an upload, answer 503 at once
    /// for this long instead of waiting out the delivery timeout again.
    pub broker_cooldown_ms: u64,
    /// `POST /v1/check` requests analysed at once; more get 503 with
    /// `Retry-After`. Each may use `limits.max_memory_bytes`.
    pub check_concurrency: usize,
    /// Request bodies one API key may have in flight at once (read before
    /// the signature can be checked); more get 429 before their body is read.
    pub max_bodies_per_key: usize,
    /// Memory for request bodies being read, across all keys, in bytes;
    /// a request that would pass it gets 503 with `Retry-After` before its
    /// body is read.
    pub body_memory_bytes: u64,
    /// Serve the banks API (bank reads, lookups, governance) on a process
    /// that runs only the hook role. Off: bank contents stay off the
    /// platform-facing listener; the review role serves them.
    pub serve_banks_api: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// A real cluster's `bootstrap.servers`. Unset: start the embedded mock cluster.
    pub bootstrap_servers: Option<String>,
    /// Brokers in the embedded mock cluster.
    pub embedded_brokers: i32,
    /// Partitions per topic in the embedded mock cluster.
    pub partitions: i32,
    pub topic_prefix: String,
    pub group_id: String,
    pub commit_interval_ms: u64,
    pub session_timeout_ms: u64,
    /// Rebalance timeout (librdkafka `max.poll.interval.ms`), at least the session timeout.
    pub max_poll_interval_ms: u64,
    /// How long the hook waits for the broker before answering 503.
    pub hook_delivery_timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`. Unset: `sqlite://<data_dir>/vigil.db`.
    pub url: Option<String>,
    pub max_connections: u32,
    /// PostgreSQL schema to use (created if missing).
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Local media folder. Unset: `<data_dir>/media`.
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSection {
    /// Worker tasks (consumers in the group) per process.
    pub count: usize,
    /// Seconds between reloads of the banks from the database.
    pub hashdb_reload_secs: u64,
    /// Seconds between checks for a newly approved policy version in the
    /// database (put in force without a restart).
    pub policy_reload_secs: u64,
    /// Starts of an upload's analysis after which it is a poison record:
    /// each start is counted in the database before it begins, so an upload
    /// whose analysis kills the process (abort, crash, OOM kill) is counted
    /// even then. A poison record is not analysed again: it is decided on
    /// its exact hashes, dead-lettered (`poison`) and sent to human review.
    pub max_attempts: u32,
}

/// Snapshots of the hash database (docs/hashdb.md, "Starting from a
/// snapshot"): processes that follow the bank change log (workers, hooks)
/// write one now and then, and start from it instead of loading every bank
/// from the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashdbSection {
    /// Start from the snapshot when it is usable, and write it while running.
    pub snapshot_enabled: bool,
    /// The snapshot file. Unset: `<data_dir>/hashdb.snapshot`. Processes
    /// that share it write it in turn (each through a temporary file of its
    /// own, renamed into place).
    pub snapshot_path: Option<PathBuf>,
    /// Seconds between snapshots (one is written only when the banks
    /// changed since the last one this process wrote).
    pub snapshot_interval_secs: u64,
}

impl Default for HashdbSection {
    fn default() -> Self {
        HashdbSection {
            snapshot_enabled: true,
            snapshot_path: None,
            snapshot_interval_secs: 300,
        }
    }
}

/// Limits for decoding images (docs/hardening.md). The pixel budget, not a
/// per-side limit, decides what is too big; `max_memory_bytes` bounds the
/// pixel buffers of one decode, and `max_pixels` what is decoded at all.
/// Size them together with the process's memory limit: each worker task
/// and each `POST /v1/check` in flight may use `max_memory_bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Memory one image decode may use for pixel buffers, in bytes.
    pub max_memory_bytes: u64,
    /// No longer used (the pixel budget decides); accepted so that older
    /// configuration files still load, with a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_dimension: Option<u32>,
}

/// Limits for video uploads (docs/video.md). The FFmpeg child that decodes
/// a video is stopped, and the upload gets a typed decode error, as soon as
/// one is passed. Frames are sampled at one per second, as vPDQ specifies;
/// that is not a setting, because banked vPDQ hashes are made the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoSection {
    /// Largest accepted video file, in bytes (uploads are also bounded by
    /// `http.max_upload_bytes`).
    pub max_bytes: usize,
    /// Longest accepted video, in seconds (the container's duration, and
    /// the timestamps of decoded frames).
    pub max_duration_seconds: f64,
    /// Most sampled (hashed) frames, one per second of video.
    pub max_frames: u64,
    /// Wall-clock limit for probing and decoding one video, in seconds.
    pub decode_timeout_secs: u64,
    /// Largest accepted width or height.
    pub max_dimension: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Address-space cap for the FFmpeg child, in bytes.
    pub max_memory_bytes: u64,
}

impl Default for VideoSection {
    fn default() -> Self {
        let d = vigil_decode::video::VideoLimits::default();
        VideoSection {
            max_bytes: d.max_bytes,
            max_duration_seconds: d.max_duration_seconds,
            max_frames: d.max_frames,
            decode_timeout_secs: d.timeout.as_secs(),
            max_dimension: d.max_dimension,
            max_pixels: d.max_pixels,
            max_memory_bytes: d.max_memory_bytes,
        }
    }
}

impl VideoSection {
    /// The decoder's limits; nonsensical values are refused.
    pub fn to_limits(&self) -> anyhow::Result<vigil_decode::video::VideoLimits> {
        anyhow::ensure!(self.max_bytes > 0, "video.max_bytes must be positive");
        anyhow::ensure!(
            self.max_duration_seconds.is_finite() && self.max_duration_seconds > 0.0,
            "video.max_duration_seconds must be a positive number"
        );
        anyhow::ensure!(self.max_frames > 0, "video.max_frames must be positive");
        anyhow::ensure!(
            self.decode_timeout_secs > 0,
            "video.decode_timeout_secs must be positive"
        );
        anyhow::ensure!(
            self.max_dimension > 0 && self.max_pixels > 0,
            "video.max_dimension and video.max_pixels must be positive"
        );
        anyhow::ensure!(
            self.max_memory_bytes >= 64 << 20,
            "video.max_memory_bytes must be at least 64 MiB"
        );
        Ok(vigil_decode::video::VideoLimits {
            max_bytes: self.max_bytes,
            max_duration_seconds: self.max_duration_seconds,
            max_dimension: self.max_dimension,
            max_pixels: self.max_pixels,
            max_frames: self.max_frames,
            timeout: std::time::Duration::from_secs(self.decode_timeout_secs),
            max_memory_bytes: self.max_memory_bytes,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierSection {
    pub enabled: bool,
    pub model: ClassifierConfig,
}

/// Human review: claims, sessions, retention and routing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewSection {
    /// How long a claim lasts without renewal, in seconds.
    pub lease_secs: u64,
    /// How long a sign-in lasts, in seconds.
    pub session_ttl_secs: u64,
    /// Mark the session cookie `Secure` (serve the UI over HTTPS).
    pub secure_cookies: bool,
    /// Minutes of work after which the UI suggests a break.
    pub break_reminder_minutes: u32,
    /// Days the media of removed uploads are kept as evidence.
    pub evidence_retention_days: u64,
    /// Which queue each review item goes to.
    pub routing: vigil_review::routing::Routing,
    /// Sign-in attempts allowed per account (from any address) per window;
    /// every attempt counts, before the password is checked.
    pub signin_per_account: u32,
    /// Sign-in attempts allowed per client address (any account) per window.
    pub signin_per_address: u32,
    /// Sign-in attempts allowed per account from one address per window.
    pub signin_per_account_and_address: u32,
    /// The sign-in counters' window, in seconds.
    pub signin_window_secs: u64,
    /// Password checks (argon2id, about 19 MiB each) run at once.
    pub signin_concurrent_checks: usize,
}

impl Default for ReviewSection {
    fn default() -> Self {
        let d = vigil_review::ReviewConfig::default();
        ReviewSection {
            lease_secs: d.lease.as_secs(),
            session_ttl_secs: d.session_ttl.as_secs(),
            secure_cookies: d.secure_cookies,
            break_reminder_minutes: d.break_reminder_minutes,
            evidence_retention_days: d.evidence_retention.as_secs() / 86_400,
            routing: d.routing,
            signin_per_account: d.signin.per_account,
            signin_per_address: d.signin.per_address,
            signin_per_account_and_address: d.signin.per_account_and_address,
            signin_window_secs: d.signin.window.as_secs(),
            signin_concurrent_checks: d.signin.concurrent_checks,
        }
    }
}

impl ReviewSection {
    /// The review service's settings; routing rules are checked here.
    pub fn to_review_config(&self) -> anyhow::Result<vigil_review::ReviewConfig> {
        use std::time::Duration;
        anyhow::ensure!(
            self.lease_secs >= 60,
            "review.lease_secs must be at least 60"
        );
        anyhow::ensure!(
            self.session_ttl_secs >= 60,
            "review.session_ttl_secs must be at least 60"
        );
        self.routing.validate().context("invalid review.routing")?;
        Ok(vigil_review::ReviewConfig {
            lease: Duration::from_secs(self.lease_secs),
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            secure_cookies: self.secure_cookies,
            break_reminder_minutes: self.break_reminder_minutes,
            evidence_retention: Duration::from_secs(self.evidence_retention_days * 86_400),
            routing: self.routing.clone(),
            signin: vigil_review::auth::SignInLimits {
                per_account: self.signin_per_account,
                per_address: self.signin_per_address,
                per_account_and_address: self.signin_per_account_and_address,
                window: Duration::from_secs(self.signin_window_secs.max(1)),
                concurrent_checks: self.signin_concurrent_checks.max(1),
            },
            ..vigil_review::ReviewConfig::default()
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("var"),
            policy_file: None,
            shadow_policy_file: None,
            http: HttpConfig::default(),
            hook: HookSection::default(),
            kafka: KafkaConfig::default(),
            database: DatabaseConfig::default(),
            media: MediaConfig::default(),
            worker: WorkerSection::default(),
            hashdb: HashdbSection::default(),
            limits: LimitsConfig::default(),
            video: VideoSection::default(),
            classifier: ClassifierSection::default(),
            governance: GovernanceSection::default(),
            review: ReviewSection::default(),
            accountability: AccountabilitySection::default(),
            retrohunt: RetrohuntSection::default(),
            actions: ActionsSection::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            max_upload_bytes: 25 * 1024 * 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for HookSection {
    fn default() -> Self {
        HookSection {
            auth_required: false,
            keys_file: None,
            replay_window_secs: 300,
            rate_per_key_per_s: 1000.0,
            burst_per_key: 2000,
            max_in_flight: 1024,
            broker_cooldown_ms: 1000,
            check_concurrency: 2,
            max_bodies_per_key: 16,
            body_memory_bytes: 256 << 20,
            serve_banks_api: false,
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: None,
            embedded_brokers: 3,
            partitions: 6,
            topic_prefix: "vigil.".into(),
            group_id: "vigil-workers".into(),
            commit_interval_ms: 1000,
            session_timeout_ms: 10_000,
            max_poll_interval_ms: 60_000,
            hook_delivery_timeout_ms: 5000,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 8,
            schema: None,
        }
    }
}

impl Default for WorkerSection {
    fn default() -> Self {
        WorkerSection {
            count: 2,
            hashdb_reload_secs: 300,
            policy_reload_secs: 10,
            max_attempts: vigil_stream::DEFAULT_MAX_ATTEMPTS,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = vigil_decode::Limits::default();
        LimitsConfig {
            max_pixels: d.max_pixels,
            max_memory_bytes: d.max_memory_bytes,
            max_dimension: None,
        }
    }
}

impl Default for ClassifierSection {
    fn default() -> Self {
        ClassifierSection {
            enabled: true,
            model: ClassifierConfig::default(),
        }
    }
}

/// `VIGIL_*` variables that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "config",
    "log",
    "log_format",
    "testdata",
    "user_password",
    "password",
    "as",
    "hook_keys",
    "actions_webhook_secret",
    "loadgen_key",
    // The debug-build failpoint of services/pipeline/src/failpoint.rs.
    "failpoint_abort_sha256",
];

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
            fig = fig.merge(Toml::file(f));
        }
        fig = fig.merge(Env::prefixed("VIGIL_").split("__").ignore(NON_CONFIG_ENV));
        fig.extract().context("invalid configuration")
    }

    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("vigil.db").display()))
    }

    /// Where the hash database snapshot lives.
    pub fn hashdb_snapshot_path(&self) -> PathBuf {
        self.hashdb
            .snapshot_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("hashdb.snapshot"))
    }

    pub fn media_root(&self) -> PathBuf {
        self.media
            .root
            .clone()
            .unwrap_or_else(|| self.data_dir.join("media"))
    }

    pub fn decode_limits(&self) -> vigil_decode::Limits {
        vigil_decode::Limits {
            max_bytes: self.http.max_upload_bytes,
            max_pixels: self.limits.max_pixels,
            max_memory_bytes: self.limits.max_memory_bytes,
        }
    }

    /// `http.trusted_proxies`, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<vigil_review::auth::IpNet>> {
        self.http
            .trusted_proxies
            .iter()
            .map(|s| {
                s.parse()
                    .map_err(|e: String| anyhow::anyhow!("http.trusted_proxies: {e}"))
            })
            .collect()
    }

    /// Settings that load but are refused or ignored, checked at start.
    pub fn check(&self) -> anyhow::Result<()> {
        self.trusted_proxies()?;
        anyhow::ensure!(
            self.limits.max_pixels > 0,
            "limits.max_pixels must be positive"
        );
        anyhow::ensure!(
            self.limits.max_memory_bytes >= 32 << 20,
            "limits.max_memory_bytes must be at least 32 MiB"
        );
        anyhow::ensure!(
            self.worker.max_attempts >= 1,
            "worker.max_attempts must be at least 1"
        );
        anyhow::ensure!(
            self.hook.check_concurrency >= 1,
            "hook.check_concurrency must be at least 1"
        );
        if self.limits.max_dimension.is_some() {
            tracing::warn!("limits.max_dimension is no longer used: the pixel budget (limits.max_pixels, limits.max_memory_bytes) decides what is too big; remove it");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_env_layer() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("vigil.toml");
        std::fs::write(&f, "data_dir = \"/tmp/x\"\n[worker]\ncount = 5\n").unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.worker.count, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.database_url(), "sqlite:///tmp/x/vigil.db");
        assert_eq!(c.kafka.bootstrap_servers, None);
    }

    #[test]
    fn example_file_is_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vigil.example.toml");
        assert_eq!(Config::load(Some(&example)).unwrap(), Config::default());
    }

    #[test]
    fn review_routing_rules_load_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("vigil.toml");
        std::fs::write(
            &f,
            "[review]\nlease_secs = 300\n[review.routing]\ndefault_queue = \"general\"\n\
             [[review.routing.routes]]\nqueue = \"arabic\"\nlanguage = \"ar\"\n\
             [[review.routing.routes]]\nqueue = \"gifct\"\nbank = \"gifct-shared\"\nlabel = \"gifct:glorification\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let r = c.review.to_review_config().unwrap();
        assert_eq!(r.lease, std::time::Duration::from_secs(300));
        assert_eq!(r.routing.queues(), ["general", "arabic", "gifct"]);

        std::fs::write(
            &f,
            "[[review.routing.routes]]\nqueue = \"Bad Name\"\nsurface = \"news\"\n",
        )
        .unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f))
                .unwrap()
                .review
                .to_review_config()
                .unwrap_err()
        );
        assert!(err.contains("Bad Name"), "{err}");
        std::fs::write(
            &f,
            "[[review.routing.routes]]\nqueue = \"x\"\nlang = \"ar\"\n",
        )
        .unwrap();
        assert!(
            Config::load(Some(&f)).is_err(),
            "unknown route keys are errors"
        );
    }

    #[test]
    fn the_webhook_needs_a_secret_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("webhook.secret");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
        let f = dir.path().join("vigil.toml");
        std::fs::write(
            &f,
            "[actions]\nwebhook_url = \"https://platform.example/vigil\"\ntimeout_ms = 2500\nmax_backoff_s = 60\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        let err = format!("{:#}", c.actions.relay_config("t".into()).unwrap_err());
        assert!(err.contains("no secret"), "{err}");
        let mut a = c.actions.clone();
        a.webhook_secret_file = Some(secret.clone());
        let r = a.relay_config("vigil.actions".into()).unwrap();
        let w = r.webhook.unwrap();
        assert_eq!(w.secret.as_bytes(), b"0123456789abcdef0123456789abcdef");
        assert_eq!(w.timeout, std::time::Duration::from_millis(2500));
        assert_eq!(r.max_backoff, std::time::Duration::from_secs(60));
        std::fs::write(&secret, "short").unwrap();
        assert!(a.relay_config("t".into()).is_err());
        // No webhook: Kafka only.
        let r = Config::default()
            .actions
            .relay_config("vigil.actions".into())
            .unwrap();
        assert!(r.webhook.is_none());
    }

    #[test]
    fn video_limits_come_from_the_video_section() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("vigil.toml");
        std::fs::write(
            &f,
            "[video]\nmax_bytes = 1000\nmax_duration_seconds = 12.5\nmax_frames = 7\n\
             decode_timeout_secs = 9\nmax_dimension = 640\nmax_pixels = 307200\n\
             max_memory_bytes = 1073741824\n",
        )
        .unwrap();
        let l = Config::load(Some(&f)).unwrap().video.to_limits().unwrap();
        assert_eq!(
            l,
            vigil_decode::video::VideoLimits {
                max_bytes: 1000,
                max_duration_seconds: 12.5,
                max_dimension: 640,
                max_pixels: 307_200,
                max_frames: 7,
                timeout: std::time::Duration::from_secs(9),
                max_memory_bytes: 1 << 30,
            }
        );
        assert_eq!(
            Config::default().video.to_limits().unwrap(),
            vigil_decode::video::VideoLimits::default()
        );
        std::fs::write(&f, "[video]\ndecode_timeout_secs = 0\n").unwrap();
        let err = format!(
            "{:#}",
            Config::load(Some(&f))
                .unwrap()
                .video
                .to_limits()
                .unwrap_err()
        );
        assert!(err.contains("decode_timeout_secs"), "{err}");
        std::fs::write(&f, "[video]\nframes_per_second = 2\n").unwrap();
        assert!(
            Config::load(Some(&f)).is_err(),
            "the sampling rate is not a setting"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("vigil.toml");
        std::fs::write(&f, "[worker]\ncuont = 5\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&f)).unwrap_err());
        assert!(err.contains("cuont"), "{err}");
    }
}
