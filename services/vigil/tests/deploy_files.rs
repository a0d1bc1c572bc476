//! The Grafana dashboards and Prometheus alert rules only use metric names
//! that the code registers (DESIGN.md §9), and every name follows the
//! `vigil_<subsystem>_<name>_<unit>` convention.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

#[test]
fn dashboards_and_alerts_use_only_exported_metrics() {
    let exported = registered();
    assert!(
        exported.len() >= 10,
        "found too few registered metrics: {exported:?}"
    );
    let root = repo_root();
    let mut files = Vec::new();
    files_under(&root.join("deploy/grafana"), "json", &mut files);
    files_under(&root.join("deploy/prometheus"), "yml", &mut files);
    assert!(files.len() >= 2, "no dashboards or rules found");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if f.extension().is_some_and(|e| e == "json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
        for name in names_in(&text) {
            if name == "vigil_pipeline" {
                continue; // the dashboard's uid
            }
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
