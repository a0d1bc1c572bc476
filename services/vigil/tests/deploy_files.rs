//! The Grafana dashboards and Prometheus recording and alert rules only use
//! metric names that the code registers (DESIGN.md §9) and that a running
//! Vigil, driven with real traffic, renders on `/metrics`; every name
//! follows the `vigil_<subsystem>_<name>_<unit>` convention.

mod common;

use common::*;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy();
            if name != "target" && !name.starts_with('.') {
                files_under(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Every `vigil_…` identifier in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("vigil_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        if boundary {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// Metric names registered in the code: string literals passed to the
/// `register_*!` macros.
fn registered() -> BTreeSet<String> {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["services", "hashdb", "models"] {
        files_under(&root.join(dir), "rs", &mut files);
    }
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for chunk in text.split("register_").skip(1) {
            if let Some(q) = chunk.find('"') {
                let rest = &chunk[q + 1..];
                if let Some(end) = rest.find('"') {
                    let name = &rest[..end];
                    if name.starts_with("vigil_") {
                        out.insert(name.to_string());
                    }
                }
            }
        }
    }
    out
}

fn base(name: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(b) = name.strip_suffix(suffix) {
            return b;
        }
    }
    name
}

/// The dashboards and rule files, and every `vigil_…` metric name each uses.
fn used_names() -> Vec<(PathBuf, BTreeSet<String>)> {
    let root = repo_root();
    let mut files = Vec::new();
    files_under(&root.join("deploy/grafana/dashboards"), "json", &mut files);
    files_under(&root.join("deploy/prometheus"), "yml", &mut files);
    assert!(
        files.len() >= 6,
        "expected the dashboards, the rules and their tests: {files:?}"
    );
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            if f.extension().is_some_and(|e| e == "json") {
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            }
            (f, names_in(&text))
        })
        .collect()
}

#[test]
fn dashboards_and_alerts_use_only_exported_metrics() {
    let exported = registered();
    assert!(
        exported.len() >= 10,
        "found too few registered metrics: {exported:?}"
    );
    for (f, names) in used_names() {
        for name in names {
            let b = base(&name);
            assert!(
                exported.contains(b) || exported.contains(&name),
                "{} uses {name}, which no code registers",
                f.display()
            );
        }
    }
}

#[test]
fn metric_names_follow_the_convention() {
    for name in registered() {
        assert!(
            name.split('_').count() >= 3,
            "{name}: vigil_<subsystem>_<name>"
        );
        if name.contains("duration") || name.ends_with("_seconds") {
            assert!(
                name.ends_with("_seconds"),
                "{name}: durations end in _seconds"
            );
        }
    }
}

/// Every YAML file under `deploy/` as JSON documents (PyYAML does the
/// parsing: there is no YAML crate in the build).
fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(path)
        .output()
        .expect("python3 runs (make setup needs it anyway)");
    assert!(
        out.status.success(),
        "{} does not parse as YAML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn deploy_manifests_parse_and_probe_the_health_endpoints() {
    let root = repo_root();
    let mut files = Vec::new();
    files_under(&root.join("deploy"), "yaml", &mut files);
    files_under(&root.join("deploy"), "yml", &mut files);
    assert!(files.len() >= 8, "{files:?}");
    let exported = registered();
    let mut deployments = BTreeSet::new();
    let mut pdbs = BTreeSet::new();
    let mut hpa_metrics = Vec::new();
    for f in &files {
        for doc in yaml_documents(f) {
            for name in names_in(&doc.to_string()) {
                assert!(
                    exported.contains(base(&name)) || name == "vigil_pipeline",
                    "{} uses {name}, which no code registers",
                    f.display()
                );
            }
            match doc["kind"].as_str() {
                Some("Deployment") => {
                    let name = doc["metadata"]["name"].as_str().unwrap().to_string();
                    let c = &doc["spec"]["template"]["spec"]["containers"][0];
                    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{name}");
                    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{name}");
                    deployments.insert(name);
                }
                Some("PodDisruptionBudget") => {
                    pdbs.insert(doc["metadata"]["name"].as_str().unwrap().to_string());
                }
                Some("HorizontalPodAutoscaler") => {
                    for m in doc["spec"]["metrics"].as_array().unwrap() {
                        if let Some(n) = m["external"]["metric"]["name"].as_str() {
                            hpa_metrics.push(n.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for role in ["vigil-hook", "vigil-worker", "vigil-review"] {
        assert!(deployments.contains(role), "no Deployment {role}");
    }
    assert!(pdbs.contains("vigil-hook") && pdbs.contains("vigil-worker"));
    assert_eq!(hpa_metrics, ["vigil_worker_consumer_lag_messages"]);

    let compose = &yaml_documents(&root.join("deploy/compose.yaml"))[0];
    let services = compose["services"].as_object().unwrap();
    for s in [
        "kafka",
        "postgres",
        "minio",
        "prometheus",
        "grafana",
        "hook",
        "worker",
        "review",
    ] {
        assert!(services.contains_key(s), "compose has no {s}");
        assert!(
            services[s]["healthcheck"].is_object()
                || compose["x-vigil"]["healthcheck"].is_object()
                    && ["hook", "worker", "review"].contains(&s),
            "{s} has no health check"
        );
    }
    assert_eq!(
        services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller",
        "KRaft"
    );
}

/// Metric families rendered in a Prometheus text exposition.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Names that only a fault or a rare event brings out (a labelled metric
/// has no series until its first event): covered by the registration check
/// above, and by the tests named here.
const FAULT_ONLY: &[(&str, &str)] = &[
    (
        "vigil_worker_retries_total",
        "a failing database, broker or media store (tests/redelivery.rs)",
    ),
    (
        "vigil_kafka_producer_restarts_total",
        "a producer failing for minutes (vigil-stream tests/producer_recovery.rs)",
    ),
    (
        "vigil_retrohunt_hits_total",
        "a past upload matched by a later entry (tests/self_correction.rs)",
    ),
    (
        "vigil_quarantined_entries",
        "an entry people kept overturning (tests/self_correction.rs)",
    ),
];

/// The real server, driven through the hook, the broker and the review API,
/// renders every metric name the dashboards and rules use.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_vigil_exports_every_name_the_dashboards_and_rules_use() {
    // Every upload is drawn for blind audit and a shadow policy with a
    // stricter automatic threshold runs beside the live one, so the error
    // accountability names (audit samples, shadow disagreements, the rate
    // gauges) have data behind them.
    let dir = tempfile::tempdir().unwrap();
    let live = vigil_pipeline::policy::DEFAULT_POLICY_TOML
        .replace("takedown_sample_rate = 0.05", "takedown_sample_rate = 1.0")
        .replace("pass_sample_rate = 0.01", "pass_sample_rate = 1.0");
    let shadow = live
        .replace("version = \"", "version = \"shadow-")
        .replace("auto_threshold = 20", "auto_threshold = 0");
    assert_ne!(shadow, live);
    let (live_path, shadow_path) = (dir.path().join("live.toml"), dir.path().join("shadow.toml"));
    std::fs::write(&live_path, live).unwrap();
    std::fs::write(&shadow_path, shadow).unwrap();
    let mut config = test_config(dir.path());
    config.policy_file = Some(live_path);
    config.shadow_policy_file = Some(shadow_path);
    config.accountability.refresh_secs = 1;
    let t = spawn_app_with(config, vigil::Roles::ALL, dir).await;
    // Accounts: a lead proposes guarded changes, an admin approves them,
    // a reviewer works the queue.
    let password = "correct horse battery staple";
    let mut tokens = std::collections::HashMap::new();
    for (name, role) in [
        ("lina", vigil_store::Role::Lead),
        ("adam", vigil_store::Role::Admin),
        ("rita", vigil_store::Role::Reviewer),
    ] {
        vigil_review::add_user(&t.app.store, name, role, password)
            .await
            .unwrap();
        let (status, login) = t
            .post_json(
                "/api/login",
                serde_json::json!({"username": name, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{login}");
        tokens.insert(name, login["token"].as_str().unwrap().to_string());
    }
    let send = |method: reqwest::Method, path: &str, who: &str, body: serde_json::Value| {
        let r = t
            .client
            .request(method, format!("{}{path}", t.base))
            .bearer_auth(&tokens[who])
            .json(&body);
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    // Propose as the lead, approve as the admin.
    let guarded = |method: reqwest::Method, path: &'static str, body: serde_json::Value| {
        let send = &send;
        async move {
            let (status, p) = send(method, path, "lina", body).await;
            assert_eq!(status, 202, "{path}: {p}");
            let id = p["proposal_id"].as_str().unwrap().to_string();
            let (status, done) = send(
                reqwest::Method::POST,
                &format!("/v1/proposals/{id}/approve"),
                "adam",
                serde_json::json!({"note": "checked"}),
            )
            .await;
            assert_eq!(status, 200, "{done}");
        }
    };

    // A bank with a charter and its entries, through the governed bank
    // API: published on vigil.hashdb and applied by the workers.
    let (samples, hashes) = vigil::demo::dataset();
    let post = reqwest::Method::POST;
    guarded(
        post.clone(),
        "/v1/banks",
        serde_json::json!({"name": "deploy-check", "action": "takedown", "labels": ["demo"]}),
    )
    .await;
    guarded(
        reqwest::Method::PUT,
        "/v1/banks/deploy-check/charter",
        serde_json::json!({
            "scope": "deploy check", "allowed_labels": ["gifct:glorification"],
            "legal_basis": [{"kind": "terms_of_service", "reference": "ToS 4.2"}],
            "owner": "ct-team", "jurisdictions": ["*"], "allowed_actions": ["takedown"]
        }),
    )
    .await;
    for h in &hashes {
        guarded(
            post.clone(),
            "/v1/banks/deploy-check/entries",
            serde_json::json!({"signal_type": "pdq", "signal": h, "labels": ["gifct:glorification"]}),
        )
        .await;
    }
    // An entry outside the charter is refused.
    let outside = serde_json::json!({"signal_type": "pdq", "signal": hashes[0].replace('0', "1"), "labels": ["gifct:recruitment"]});
    let (status, body) = send(
        post.clone(),
        "/v1/banks/deploy-check/entries",
        "lina",
        outside,
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // Uploads of every kind (takedown, review, pass, corrupt), one with a
    // content type that lies, and one malformed request.
    let mut ids = Vec::new();
    for s in &samples {
        ids.push(t.upload_ok(s.bytes.clone(), s.content_type).await);
    }
    let png_bytes = png(&vigil_models::synth::benign_image(7, 64));
    ids.push(t.upload_ok(png_bytes, "image/jpeg").await);
    let mut broken = b"\x89PNG\r\n\x1a\n".to_vec();
    broken.extend_from_slice(&[0u8; 512]);
    ids.push(t.upload_ok(broken, "image/png").await);
    let r = t
        .client
        .post(format!("{}/v1/uploads", t.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    for id in &ids {
        t.verdict(id).await;
    }

    // A record that is not an upload goes to the DLQ; a verdict's upload
    // sent again is a redelivery.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &t.app.bootstrap)
        .create()
        .unwrap();
    let first = vigil_pipeline::UploadId::parse(&ids[0]).unwrap();
    let again = t.app.store.get_upload(&first).await.unwrap().unwrap().msg;
    let again = serde_json::to_string(&again).unwrap();
    for (key, payload) in [
        ("junk", "not an upload".to_string()),
        (ids[0].as_str(), again),
    ] {
        producer
            .send(
                FutureRecord::to(&t.app.topics.uploads)
                    .key(key)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    // A removal order for one upload.
    let order = serde_json::json!({
        "issuer": "Europol IRU", "legal_basis": "EU TCO Regulation 2021/784 art. 3 removal order",
        "reference": "RO-2026-0042", "jurisdictions": ["DE", "FR"],
        "deadline": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
        "targets": [{"type": "upload", "upload_id": ids[ids.len() - 3]}]
    });
    let (status, body) = send(post.clone(), "/v1/referrals", "lina", order).await;
    assert_eq!(status, 201, "{body}");

    // Review: claim, a refused and an accepted decision, an appeal.
    let token = tokens["rita"].clone();
    let api = |path: &str| {
        t.client
            .post(format!("{}{path}", t.base))
            .bearer_auth(&token)
    };
    let claim: serde_json::Value = api("/api/review/claim")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (u, pv) = (
        claim["upload_id"]
            .as_str()
            .expect("the demo data set has review items"),
        claim["policy_version"].as_str().unwrap(),
    );
    let decide = |reason: &str| {
        api(&format!("/api/review/items/{u}/{pv}/decision"))
            .json(&serde_json::json!({"round": 0, "decision": "uphold", "reason": reason}))
    };
    assert_eq!(
        decide("no_such_reason")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        422
    );
    assert_eq!(
        decide("glorification")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    // A lead files the appeal here (platforms file with a key of their own).
    let r = t
        .client
        .post(format!("{}/v1/appeals", t.base))
        .bearer_auth(&tokens["lina"])
        .json(&serde_json::json!({"upload_id": u}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // The reviewer answers everything else in her queue (blind audits
    // included: not violating), then a second person decides the appeal
    // (never the reviewer who made the original decision).
    for who in ["rita", "adam"] {
        for _ in 0..500 {
            let r = t
                .client
                .post(format!("{}/api/review/claim", t.base))
                .bearer_auth(&tokens[who])
                .send()
                .await
                .unwrap();
            if r.status().as_u16() == 204 {
                break;
            }
            assert_eq!(r.status().as_u16(), 200);
            let c: serde_json::Value = r.json().await.unwrap();
            let (id, version, round) = (
                c["upload_id"].as_str().unwrap(),
                c["policy_version"].as_str().unwrap(),
                c["round"].as_i64().unwrap_or(0),
            );
            let r = t
                .client
                .post(format!(
                    "{}/api/review/items/{id}/{version}/decision",
                    t.base
                ))
                .bearer_auth(&tokens[who])
                .json(&serde_json::json!({"round": round, "decision": "overturn", "reason": "not_violating"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    }

    // Gauges refresh in the background (every 5 s): wait for them, with a
    // deadline, then compare.
    let used: BTreeSet<String> = used_names().into_iter().flat_map(|(_, n)| n).collect();
    let wanted: BTreeSet<String> = used
        .iter()
        .map(|n| base(n).to_string())
        .filter(|n| !FAULT_ONLY.iter().any(|(f, _)| f == n))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let exported = families(&t.metrics().await);
        let missing: Vec<&String> = wanted.iter().filter(|n| !exported.contains(*n)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing.into_iter().cloned().collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        missing.is_empty(),
        "dashboards or rules use names a running Vigil does not export: {missing:?}"
    );
    for (name, _) in FAULT_ONLY {
        assert!(registered().contains(*name), "{name} is not registered");
    }
    t.app.shutdown().await.unwrap();
}
