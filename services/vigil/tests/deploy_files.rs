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
