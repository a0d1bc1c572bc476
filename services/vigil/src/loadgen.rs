//! `vigil loadgen`: drives one or more hooks over HTTP at a target rate for
//! a bounded time or count, with synthetic media from `vigil_models::synth`
//! (benign images, "fictional emblems" and, if asked, deliberately corrupt
//! files), then measures upload→verdict latency from the verdicts' own
//! `decided_at` and, optionally, the latency of `POST /v1/check`.
//!
//! Uploads carry loadgen-chosen ids, so an upload refused with 503/429 is
//! retried with the same id (what a platform should do) and nothing is
//! counted twice. Used by `make bench-pipeline` and the multi-process
//! end-to-end run (`make e2e`).

use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vigil_models::synth;

/// What a generated upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Benign,
    Emblem,
    Corrupt,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Benign => "benign",
            Kind::Emblem => "emblem",
            Kind::Corrupt => "corrupt",
        }
    }
}

/// The media loadgen sends, encoded once.
pub struct Pool {
    benign: Vec<Vec<u8>>,
    emblems: Vec<Vec<u8>>,
    /// PDQ hex of each emblem, for the bank a run imports first.
    pub emblem_pdq: Vec<String>,
    corrupt: Vec<u8>,
}

impl Pool {
    /// `benign` benign images and `emblems` emblems, `size` pixels square.
    pub fn new(benign: usize, emblems: usize, size: u32) -> anyhow::Result<Pool> {
        let benign = (0..benign as u64)
            .map(|s| crate::demo::encode_png(&synth::benign_image(10_000 + s, size)))
            .collect();
        let mut emblem_pdq = Vec::new();
        let mut encoded = Vec::new();
        for s in 0..emblems as u64 {
            let img = synth::emblem_image(20_000 + s, size);
            let h = vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw())?;
            emblem_pdq.push(h.hash.to_hex());
            encoded.push(crate::demo::encode_png(&img));
        }
        // A PNG cut short: the signature and header survive, the image data does not.
        let whole = crate::demo::encode_png(&synth::benign_image(1, size));
        let corrupt = whole[..whole.len().min(120)].to_vec();
        Ok(Pool {
            benign,
            emblems: encoded,
            emblem_pdq,
            corrupt,
        })
    }

    /// The `n`th upload of a run: every `corrupt_every`th is corrupt, every
    /// tenth of the rest an emblem.
    pub fn pick(&self, n: u64, corrupt_every: u64) -> (Kind, &[u8]) {
        if corrupt_every > 0 && n % corrupt_every == corrupt_every - 1 {
            return (Kind::Corrupt, &self.corrupt);
        }
        if n % 10 == 3 && !self.emblems.is_empty() {
            let i = (n / 10) as usize % self.emblems.len();
            return (Kind::Emblem, &self.emblems[i]);
        }
        let i = n as usize % self.benign.len().max(1);
        (Kind::Benign, &self.benign[i])
    }

    /// `pdq <hex>` lines of the emblems (a hash list for `vigil bank import`).
    pub fn bank_hashlist(&self) -> String {
        self.emblem_pdq
            .iter()
            .map(|h| format!("pdq {h}\n"))
            .collect()
    }
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hook base URLs (`http://host:port`); uploads go round-robin.
    pub targets: Vec<String>,
    /// Uploads per second to aim for; 0: as fast as `concurrency` allows.
    pub rate: f64,
    /// Stop sending after this long; an upload still being retried then is
    /// given up (counted in `Report::given_up`), so a run always ends.
    pub duration: Duration,
    /// Stop sending after this many uploads (0: no limit).
    pub count: u64,
    pub concurrency: usize,
    /// Every n-th upload is a corrupt file (0: none).
    pub corrupt_every: u64,
    /// `key_id.secret` sent as a bearer token.
    pub api_key: Option<String>,
    /// Prefix of the upload ids (unique per run).
    pub id_prefix: String,
    /// How long to wait for every verdict after the last upload.
    pub verdict_timeout: Duration,
    /// Timed `POST /v1/check` requests after the uploads (0: none).
    pub check_requests: usize,
    /// How long one request may take before it counts as an error and is retried.
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            targets: vec!["http://127.0.0.1:8080".into()],
            rate: 0.0,
            duration: Duration::from_secs(30),
            count: 0,
            concurrency: 16,
            corrupt_every: 0,
            api_key: None,
            id_prefix: format!("lg{}", Utc::now().format("%Y%m%d%H%M%S")),
            verdict_timeout: Duration::from_secs(120),
            check_requests: 0,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One accepted upload.
#[derive(Debug, Clone)]
pub struct Sent {
    pub upload_id: String,
    pub kind: Kind,
    pub accepted_at: DateTime<Utc>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub accepted: u64,
    pub duplicates: u64,
    /// 503 answers (each retried).
    pub unavailable: u64,
    /// 429 answers (each retried).
    pub rate_limited: u64,
    /// Connection errors and unexpected statuses (retried).
    pub errors: u64,
    /// Uploads never accepted: still refused when `duration` ran out.
    pub given_up: u64,
    pub send_seconds: f64,
    pub decided: u64,
    pub missing: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub check_p50_ms: f64,
    pub check_p99_ms: f64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub actions: BTreeMap<String, u64>,
    pub sent: Vec<Sent>,
}

impl Report {
    pub fn uploads_per_s(&self) -> f64 {
        if self.send_seconds > 0.0 {
            self.accepted as f64 / self.send_seconds
        } else {
            0.0
        }
    }
}

/// The value at quantile `q` of sorted `v` (nearest rank).
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

struct Shared {
    opts: Options,
    pool: Pool,
    client: reqwest::Client,
    next: AtomicU64,
    started: Instant,
    report: Mutex<Report>,
    progress: Arc<AtomicU64>,
}

fn form(bytes: &[u8], id: Option<&str>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("media")
        .mime_str("application/octet-stream")
        .expect("static mime");
    let mut f = reqwest::multipart::Form::new()
        .part("file", part)
        .text("surface", "feed");
    if let Some(id) = id {
        f = f.text("upload_id", id.to_string());
    }
    f
}

fn with_key(req: reqwest::RequestBuilder, key: &Option<String>) -> reqwest::RequestBuilder {
    match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    }
}

/// Send one upload until it is accepted (retrying 503, 429 and transport errors).
async fn send_one(sh: &Shared, n: u64) {
    let (kind, bytes) = sh.pool.pick(n, sh.opts.corrupt_every);
    let id = format!("{}-{n}", sh.opts.id_prefix);
    let target = &sh.opts.targets[n as usize % sh.opts.targets.len()];
    let url = format!("{target}/v1/uploads");
    let mut attempt = 0u32;
    loop {
        if attempt > 0 && sh.started.elapsed() >= sh.opts.duration {
            sh.report.lock().unwrap_or_else(|p| p.into_inner()).given_up += 1;
            tracing::warn!(
                attempts = attempt,
                "upload still refused when the run's time ran out; giving it up"
            );
            return;
        }
        attempt += 1;
        let req = with_key(sh.client.post(&url), &sh.opts.api_key)
            .timeout(sh.opts.request_timeout)
            .multipart(form(bytes, Some(&id)));
        let backoff = match req.send().await {
            Ok(r) if r.status().as_u16() == 202 => {
                let accepted_at = Utc::now();
                let dup = r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|b| b["duplicate"].as_bool())
                    .unwrap_or(false);
                let mut rep = sh.report.lock().unwrap_or_else(|p| p.into_inner());
                if dup {
                    // A retry of an upload whose first answer was lost.
                    rep.duplicates += 1;
                }
                rep.accepted += 1;
                *rep.by_kind.entry(kind.as_str()).or_default() += 1;
                rep.sent.push(Sent {
                    upload_id: id,
                    kind,
                    accepted_at,
                });
                sh.progress.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                let mut rep = sh.report.lock().unwrap_or_else(|p| p.into_inner());
                match status {
                    503 => rep.unavailable += 1,
                    429 => rep.rate_limited += 1,
                    _ => {
                        rep.errors += 1;
                        tracing::warn!(status, "unexpected answer from the hook; retrying");
                    }
                }
                Duration::from_millis((retry_after * 1000).min(2000))
            }
            Err(e) => {
                sh.report.lock().unwrap_or_else(|p| p.into_inner()).errors += 1;
                tracing::debug!(error = %e, "hook unreachable; retrying");
                Duration::from_millis(200)
            }
        };
        // Jitter-free but growing a little, so a down hook is not hammered.
        tokio::time::sleep(backoff + Duration::from_millis(50 * attempt.min(20) as u64)).await;
    }
}

async fn sender(sh: Arc<Shared>) {
    loop {
        if sh.started.elapsed() >= sh.opts.duration {
            return;
        }
        let n = sh.next.fetch_add(1, Ordering::Relaxed);
        if sh.opts.count > 0 && n >= sh.opts.count {
            return;
        }
        if sh.opts.rate > 0.0 {
            // Upload n is due at n / rate seconds.
            let due = Duration::from_secs_f64(n as f64 / sh.opts.rate);
            let now = sh.started.elapsed();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        send_one(&sh, n).await;
    }
}

/// An upload's index in `Report::sent`, when it was decided, and the action.
type Decided = (usize, DateTime<Utc>, String);

/// Poll every accepted upload until it has a verdict or the timeout passes.
async fn collect_verdicts(sh: &Shared, report: &mut Report) {
    let deadline = Instant::now() + sh.opts.verdict_timeout;
    let queue = Arc::new(Mutex::new(
        report
            .sent
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.upload_id.clone()))
            .collect::<Vec<_>>(),
    ));
    let results: Arc<Mutex<Vec<Decided>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..sh.opts.concurrency.clamp(1, 32) {
        let (queue, results, client) = (queue.clone(), results.clone(), sh.client.clone());
        let target = sh.opts.targets[w % sh.opts.targets.len()].clone();
        let key = sh.opts.api_key.clone();
        tasks.spawn(async move {
            loop {
                let Some((i, id)) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                    return;
                };
                loop {
                    let r = with_key(client.get(format!("{target}/v1/uploads/{id}")), &key)
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    if let Ok(r) = r {
                        if let Ok(b) = r.json::<serde_json::Value>().await {
                            let decided = b["verdict"]["decided_at"]
                                .as_str()
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                            if let Some(t) = decided {
                                let action = b["verdict"]["action"]
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| "restrict".into());
                                results.lock().unwrap_or_else(|p| p.into_inner()).push((
                                    i,
                                    t.with_timezone(&Utc),
                                    action,
                                ));
                                break;
                            }
                        }
                    }
                    if Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let mut lat: Vec<f64> = Vec::with_capacity(results.len());
    for (i, decided_at, action) in results {
        let sent = &report.sent[i];
        // The hook answered 202 after recording the upload; the verdict can
        // be written before this client saw the answer, hence the floor.
        let ms = (decided_at - sent.accepted_at)
            .num_microseconds()
            .unwrap_or(0) as f64
            / 1000.0;
        lat.push(ms.max(0.0));
        *report.actions.entry(action).or_default() += 1;
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    report.decided = lat.len() as u64;
    report.missing = report.sent.len() as u64 - report.decided;
    report.latency_p50_ms = quantile(&lat, 0.50);
    report.latency_p99_ms = quantile(&lat, 0.99);
}

/// Time `n` synchronous checks, one at a time.
async fn time_checks(sh: &Shared, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let (_, bytes) = sh.pool.pick(i as u64, 0);
        let url = format!("{}/v1/check", sh.opts.targets[i % sh.opts.targets.len()]);
        let t = Instant::now();
        let r = with_key(sh.client.post(&url), &sh.opts.api_key)
            .multipart(form(bytes, None))
            .send()
            .await
            .context("POST /v1/check")?;
        anyhow::ensure!(r.status().is_success(), "/v1/check answered {}", r.status());
        r.bytes().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    report.check_p50_ms = quantile(&lat, 0.50);
    report.check_p99_ms = quantile(&lat, 0.99);
    Ok(())
}

/// Run: send, then wait for verdicts, then time checks. `progress` counts
/// accepted uploads as they happen (for fault injection at chosen points).
pub async fn run(opts: Options, pool: Pool, progress: Arc<AtomicU64>) -> anyhow::Result<Report> {
    anyhow::ensure!(!opts.targets.is_empty(), "no --target given");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency.max(1))
        .build()?;
    let sh = Arc::new(Shared {
        opts,
        pool,
        client,
        next: AtomicU64::new(0),
        started: Instant::now(),
        report: Mutex::new(Report::default()),
        progress,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..sh.opts.concurrency.max(1) {
        tasks.spawn(sender(sh.clone()));
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a sender task failed")?;
    }
    let mut report = std::mem::take(&mut *sh.report.lock().unwrap_or_else(|p| p.into_inner()));
    report.send_seconds = sh.started.elapsed().as_secs_f64();
    collect_verdicts(&sh, &mut report).await;
    if sh.opts.check_requests > 0 {
        time_checks(&sh, sh.opts.check_requests, &mut report).await?;
    }
    Ok(report)
}

/// The one-line summary `vigil loadgen` prints.
pub fn summary_line(r: &Report) -> String {
    format!(
        "loadgen accepted={} uploads_per_s={:.1} decided={} missing={} p50_ms={:.1} p99_ms={:.1} unavailable_503={} rate_limited_429={} errors={} given_up={} check_p50_ms={:.2} check_p99_ms={:.2}",
        r.accepted,
        r.uploads_per_s(),
        r.decided,
        r.missing,
        r.latency_p50_ms,
        r.latency_p99_ms,
        r.unavailable,
        r.rate_limited,
        r.errors,
        r.given_up,
        r.check_p50_ms,
        r.check_p99_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn the_mix_is_known_in_advance() {
        let pool = Pool::new(3, 2, 64).unwrap();
        let kinds: Vec<Kind> = (0..100).map(|n| pool.pick(n, 50).0).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Corrupt).count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Emblem).count(), 10);
        assert_eq!(pool.bank_hashlist().lines().count(), 2);
        assert!(
            vigil_decode::decode_image(&pool.corrupt, &vigil_decode::Limits::default()).is_err()
        );
    }
}
