//! The hostile corpus (`vigil_fuzz::corpus`: several hundred broken,
//! extreme and deceptive PNG, JPEG, GIF, WebP, BMP, TIFF and video files)
//! through the real binary:
//!
//! * `vigil hash` (images) and `vigil hash --format vpdq` (videos): the
//!   process exits normally and every file gets a hash or an
//!   `error=<kind>` line with a bounded kind;
//! * `vigil serve` as a subprocess on the embedded defaults: every file
//!   through `POST /v1/check` and `POST /v1/uploads`, every upload decided,
//!   the process alive after each format group, and its peak RSS (VmHWM,
//!   reset per group through `/proc/<pid>/clear_refs`) under the worker
//!   pod's memory limit (1 GiB, deploy/k8s/worker.yaml). `vigil serve` runs
//!   hook, workers and review in one process, so this is the worst case.
//!
//! FFmpeg children (video decoding) are separate processes: their memory
//! is capped by the video limits, not counted here. Run with
//! `--nocapture` to see the peak RSS table.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_fuzz::corpus::{generate, CorpusFile, FORMATS};

/// `vigil_decode::DecodeError::kind` values, and `hash`, which `vigil
/// hash` reports when PDQ refuses a decoded image.
const IMAGE_KINDS: &[&str] = &[
    "empty",
    "too_many_bytes",
    "too_many_pixels",
    "unsupported_format",
    "corrupt",
    "limit_exceeded",
    "unsupported_feature",
    "decoder_panic",
    "hash",
];

/// `vigil_decode::video::VideoError::kind` values, and `hash`.
const VIDEO_KINDS: &[&str] = &[
    "empty",
    "too_many_bytes",
    "unsupported_format",
    "too_long",
    "too_many_pixels",
    "too_many_frames",
    "timeout",
    "no_video_stream",
    "corrupt",
    "decoder_unavailable",
    "io",
    "hash",
];

/// The worker pod's memory limit.
const POD_LIMIT_BYTES: u64 = 1 << 30;

/// Wall-clock limit for one video, so that a video that keeps FFmpeg busy
/// costs seconds, not the default five minutes.
const VIDEO_TIMEOUT_SECS: &str = "20";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write_corpus(dir: &Path) -> Vec<(CorpusFile, PathBuf)> {
    generate()
        .into_iter()
        .map(|f| {
            let p = dir.join(&f.name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &f.bytes).unwrap();
            (f, p)
        })
        .collect()
}

/// `(path, kind)` of each `path<TAB>error=<kind>: ...` (images) or
/// `path: error=<kind>: ...` (videos) line on stderr that names one of
/// `paths`; error messages may run over several lines.
fn error_lines(stderr: &str, paths: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in stderr.lines() {
        for sep in ["\terror=", ": error="] {
            if let Some((path, rest)) = line.split_once(sep) {
                if paths.iter().any(|p| p == path) {
                    let kind = rest.split(':').next().unwrap_or("").to_string();
                    out.insert(path.to_string(), kind);
                }
            }
        }
    }
    out
}

fn run_hash(
    args: &[&str],
    paths: &[String],
    data_dir: &Path,
) -> (std::process::Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("hash")
        .args(args)
        .args(paths)
        .env("VIGIL_DATA_DIR", data_dir)
        .env("VIGIL_VIDEO__DECODE_TIMEOUT_SECS", VIDEO_TIMEOUT_SECS)
        .env("VIGIL_LOG", "warn")
        .current_dir(repo_root())
        .output()
        .expect("vigil runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn assert_normal_exit(status: std::process::ExitStatus, stderr: &str, what: &str) {
    match status.code() {
        Some(0) | Some(1) => {}
        other => panic!(
            "{what}: vigil hash ended with {other:?} ({status}); stderr tail:\n{}",
            tail(stderr)
        ),
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn vigil_hash_gives_every_corpus_file_a_hash_or_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_corpus(&dir.path().join("corpus"));
    let started = Instant::now();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut hashed = 0;

    // Images, in a few invocations.
    let images: Vec<String> = files
        .iter()
        .filter(|(f, _)| f.is_image())
        .map(|(_, p)| p.display().to_string())
        .collect();
    for chunk in images.chunks(200) {
        let (out, stdout, stderr) = run_hash(&["--threads", "2"], chunk, dir.path());
        assert_normal_exit(out.status, &stderr, "images");
        let mut lines = stdout.lines();
        assert_eq!(lines.next(), Some("path\tpdq\tquality\tmd5\tsha256"));
        let mut rows = HashMap::new();
        for line in lines {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 5, "{line}");
            assert_eq!(cols[1].len(), 64, "{line}");
            assert!(cols[1].bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
            assert_eq!(cols[3].len(), 32, "{line}");
            assert_eq!(cols[4].len(), 64, "{line}");
            rows.insert(cols[0].to_string(), ());
        }
        let errors = error_lines(&stderr, chunk);
        for p in chunk {
            match (rows.contains_key(p), errors.get(p)) {
                (true, None) => hashed += 1,
                (false, Some(kind)) => {
                    assert!(
                        IMAGE_KINDS.contains(&kind.as_str()),
                        "{p}: unbounded error kind {kind:?}"
                    );
                    *kinds.entry(kind.clone()).or_default() += 1;
                }
                (row, err) => panic!(
                    "{p}: hashed={row}, error={err:?}; stderr tail:\n{}",
                    tail(&stderr)
                ),
            }
        }
        assert_eq!(
            out.status.code() == Some(1),
            !errors.is_empty(),
            "exit code vs errors"
        );
    }

    // Videos, through FFmpeg.
    let videos: Vec<String> = files
        .iter()
        .filter(|(f, _)| !f.is_image())
        .map(|(_, p)| p.display().to_string())
        .collect();
    let (out, stdout, stderr) = run_hash(&["--format", "vpdq"], &videos, dir.path());
    assert_normal_exit(out.status, &stderr, "videos");
    let errors = error_lines(&stderr, &videos);
    for p in &videos {
        let ok = stdout
            .lines()
            .any(|l| l.strip_prefix("# ") == Some(p.as_str()));
        match (ok, errors.get(p)) {
            (true, None) => hashed += 1,
            (false, Some(kind)) => {
                assert!(
                    VIDEO_KINDS.contains(&kind.as_str()),
                    "{p}: unbounded error kind {kind:?}"
                );
                *kinds.entry(format!("video:{kind}")).or_default() += 1;
            }
            (ok, err) => panic!(
                "{p}: hashed={ok}, error={err:?}; stderr tail:\n{}",
                tail(&stderr)
            ),
        }
    }
    println!(
        "vigil hash: {} files, {hashed} hashed, errors {kinds:?}, {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(n) = kinds.get("decoder_panic") {
        println!("FINDING: {n} file(s) made a decoder panic (contained)");
    }
}

/// A `vigil serve` child process, SIGTERMed (then killed) on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = data_dir.join("serve.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .arg("serve")
            .env("VIGIL_DATA_DIR", data_dir)
            .env("VIGIL_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("VIGIL_CLASSIFIER__ENABLED", "true")
            .env("VIGIL_WORKER__COUNT", "2")
            .env("VIGIL_KAFKA__EMBEDDED_BROKERS", "1")
            .env("VIGIL_KAFKA__PARTITIONS", "3")
            .env("VIGIL_VIDEO__DECODE_TIMEOUT_SECS", VIDEO_TIMEOUT_SECS)
            .env("VIGIL_LOG", "warn")
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("vigil runs");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn assert_alive(&mut self, when: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "vigil serve died {when}: {status}; log tail:\n{}",
                tail(&std::fs::read_to_string(&self.log).unwrap_or_default())
            );
        }
    }

    /// Reset the peak RSS to the current RSS; false where the kernel
    /// refuses (then the peaks are cumulative).
    fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// VmHWM in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/<pid>/status")
            * 1024
    }

    /// SIGTERM, then wait up to 30 s (SIGKILL after).
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn form(bytes: &[u8], upload_id: Option<&str>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("f")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    match upload_id {
        Some(id) => form.text("upload_id", id.to_string()),
        None => form,
    }
}

/// A problem+json answer with a bounded `type`.
async fn assert_problem(name: &str, what: &str, r: reqwest::Response) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    assert!(
        ct.starts_with("application/problem+json"),
        "{name} {what}: {status} {ct} {body}"
    );
    let kind = body["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("urn:vigil:problem:"))
        .unwrap_or_else(|| panic!("{name} {what}: {status} without a problem type: {body}"));
    assert!(
        !kind.is_empty()
            && kind.len() <= 40
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{name} {what}: unbounded problem type {kind:?}"
    );
}

/// Send a request built by `make`, retrying 503s after their Retry-After;
/// the final answer. A dropped connection fails the test.
async fn send_retrying(
    name: &str,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> reqwest::Response {
    for _ in 0..120 {
        let r = make()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} {what}: no answer (connection dropped?): {e}"));
        if r.status().as_u16() != 503 {
            return r;
        }
        let wait = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} {what}: 503 without Retry-After"));
        assert_problem(name, what, r).await;
        tokio::time::sleep(Duration::from_secs(wait.min(10))).await;
    }
    panic!("{name} {what}: still 503 after 120 tries");
}

/// `POST /v1/check` and `POST /v1/uploads` for one file: whether the
/// check decoded it, and the upload id when the upload was accepted.
async fn send_file(
    client: &reqwest::Client,
    base: &str,
    file: &CorpusFile,
    id: &str,
) -> (bool, Option<String>) {
    let name = &file.name;
    let mut decoded = false;
    let r = send_retrying(name, "check", || {
        client
            .post(format!("{base}/v1/check"))
            .multipart(form(&file.bytes, None))
    })
    .await;
    let status = r.status().as_u16();
    match status {
        200 => {
            let body: serde_json::Value = r
                .json()
                .await
                .unwrap_or_else(|e| panic!("{name} check: 200 without JSON: {e}"));
            assert!(body["suggested_action"].is_string(), "{name} check: {body}");
            match body["decode_error"].as_str() {
                Some(kind) => assert!(
                    IMAGE_KINDS.contains(&kind) || VIDEO_KINDS.contains(&kind),
                    "{name} check: unbounded decode_error {kind:?}"
                ),
                None => decoded = true,
            }
        }
        400..=499 => assert_problem(name, "check", r).await,
        other => panic!(
            "{name} check: status {other}: {}",
            r.text().await.unwrap_or_default()
        ),
    }
    let r = send_retrying(name, "upload", || {
        client
            .post(format!("{base}/v1/uploads"))
            .multipart(form(&file.bytes, Some(id)))
    })
    .await;
    let accepted = match r.status().as_u16() {
        202 => {
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["upload_id"], id, "{name} upload: {body}");
            Some(id.to_string())
        }
        400..=499 => {
            assert_problem(name, "upload", r).await;
            None
        }
        other => panic!(
            "{name} upload: status {other}: {}",
            r.text().await.unwrap_or_default()
        ),
    };
    (decoded, accepted)
}

/// What one format group did to the server.
struct GroupResult {
    format: &'static str,
    files: usize,
    /// Files `/v1/check` decoded (no `decode_error`).
    decoded: usize,
    /// Files `/v1/uploads` accepted (each then got a verdict).
    uploaded: usize,
    /// VmHWM after the group, in bytes.
    peak_rss: u64,
    /// Whether the peak was reset before the group.
    reset: bool,
    seconds: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_the_corpus_within_the_pod_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate();
    let started = Instant::now();
    let mut server = Server::start(dir.path());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        server.assert_alive("while starting");
        let ready = client.get(format!("{}/readyz", server.base)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "vigil serve not ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let boot = started.elapsed();

    let mut table: Vec<GroupResult> = Vec::new();
    for format in FORMATS {
        let group: Vec<&CorpusFile> = files.iter().filter(|f| f.format == format).collect();
        let group_started = Instant::now();
        let reset = server.reset_peak();
        // Two files in flight at a time (the check route has two slots, so
        // some checks may be refused with 503 and retried).
        let mut pending: Vec<(String, String)> = Vec::new();
        let mut decoded = 0;
        for (n, pair) in group.chunks(2).enumerate() {
            let sends = pair.iter().enumerate().map(|(k, f)| {
                let id = format!("hc-{format}-{}", n * 2 + k);
                let client = client.clone();
                let base = server.base.clone();
                async move { (f.name.clone(), send_file(&client, &base, f, &id).await) }
            });
            for (name, (ok, id)) in futures::future::join_all(sends).await {
                decoded += usize::from(ok);
                if let Some(id) = id {
                    pending.push((name, id));
                }
            }
            server.assert_alive(&format!("during the {format} group"));
        }
        // Every accepted upload gets a verdict.
        let uploaded = pending.len();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !pending.is_empty() {
            let mut still = Vec::new();
            for (name, id) in pending {
                let r = client
                    .get(format!("{}/v1/uploads/{id}", server.base))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{name} status: no answer: {e}"));
                assert_eq!(r.status().as_u16(), 200, "{name} status");
                let body: serde_json::Value = r.json().await.unwrap();
                if body["verdict"].is_null() {
                    assert_ne!(body["status"], "failed", "{name} failed: {body}");
                    still.push((name, id));
                }
            }
            pending = still;
            if !pending.is_empty() {
                server.assert_alive(&format!("waiting for {format} verdicts"));
                assert!(
                    Instant::now() < deadline,
                    "no verdict after 120 s for: {:?}",
                    pending.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        server.assert_alive(&format!("after the {format} group"));
        table.push(GroupResult {
            format,
            files: group.len(),
            decoded,
            uploaded,
            peak_rss: server.peak_rss(),
            reset,
            seconds: group_started.elapsed().as_secs_f64(),
        });
    }

    println!("vigil serve started in {:.1} s", boot.as_secs_f64());
    println!(
        "{:<6} {:>6} {:>8} {:>9} {:>14} {:>8}",
        "format", "files", "decoded", "uploaded", "peak RSS MiB", "seconds"
    );
    for g in &table {
        println!(
            "{:<6} {:>6} {:>8} {:>9} {:>14.1} {:>8.1}{}",
            g.format,
            g.files,
            g.decoded,
            g.uploaded,
            g.peak_rss as f64 / (1 << 20) as f64,
            g.seconds,
            if g.reset {
                ""
            } else {
                "  (peak not reset: cumulative)"
            }
        );
    }
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    for g in &table {
        assert!(
            g.peak_rss < POD_LIMIT_BYTES,
            "peak RSS of {} MiB in the {} group is over the 1 GiB pod limit",
            g.peak_rss >> 20,
            g.format
        );
    }
    let status = server.stop();
    assert!(
        status.is_some(),
        "vigil serve did not stop within 30 s of SIGTERM"
    );
}
