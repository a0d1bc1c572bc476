//! The licence and ban policy in `deny.toml`, checked offline against the
//! locked dependency tree (`cargo metadata`), so it holds on every `make
//! test` even where cargo-deny is not installed (`make deny` runs the real
//! tool when it is).

use std::collections::BTreeSet;
use std::path::Path;

/// Whether an SPDX expression is satisfied by the allowed licences
/// (`/` is the old spelling of OR).
fn satisfied(expr: &str, allowed: &BTreeSet<String>) -> bool {
    let spaced = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos, allowed);
    ok && pos == tokens.len()
}

fn or_expr(t: &[&str], pos: &mut usize, allowed: &BTreeSet<String>) -> bool {
    let mut ok = and_expr(t, pos, allowed);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= and_expr(t, pos, allowed);
    }
    ok
}

fn and_expr(t: &[&str], pos: &mut usize, allowed: &BTreeSet<String>) -> bool {
    let mut ok = atom(t, pos, allowed);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= atom(t, pos, allowed);
    }
    ok
}

fn atom(t: &[&str], pos: &mut usize, allowed: &BTreeSet<String>) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or_expr(t, pos, allowed);
            assert_eq!(t.get(*pos), Some(&")"), "unbalanced licence expression");
            *pos += 1;
            ok
        }
        Some(id) => {
            *pos += 1;
            let mut id = id.to_string();
            if t.get(*pos) == Some(&"WITH") {
                id = format!("{id} WITH {}", t[*pos + 1]);
                *pos += 2;
            }
            allowed.contains(&id)
        }
        None => false,
    }
}

#[test]
fn spdx_evaluation() {
    let allowed: BTreeSet<String> = ["MIT", "Unicode-3.0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(satisfied("MIT OR Apache-2.0", &allowed));
    assert!(satisfied("Apache-2.0/MIT", &allowed));
    assert!(satisfied("(MIT OR Apache-2.0) AND Unicode-3.0", &allowed));
    assert!(!satisfied("MIT AND BSD-3-Clause", &allowed));
    assert!(!satisfied("GPL-3.0-only", &allowed));
    assert!(!satisfied("Apache-2.0 WITH LLVM-exception", &allowed));
}

#[test]
fn dependency_licences_and_bans_follow_deny_toml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let deny: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("deny.toml")).unwrap()).unwrap();
    let allowed: BTreeSet<String> = deny["licenses"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let banned: BTreeSet<String> = deny["bans"]["deny"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The host's dependencies only: other platforms' crates are not
    // downloaded here (and not shipped).
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let workspace: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut bad = Vec::new();
    let mut checked = 0;
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert!(!banned.contains(name), "{name} is banned in deny.toml");
        if workspace.contains(p["id"].as_str().unwrap()) {
            continue;
        }
        checked += 1;
        match p["license"].as_str() {
            Some(l) if satisfied(l, &allowed) => {}
            other => bad.push(format!("{name} {}: {other:?}", p["version"])),
        }
    }
    assert!(checked > 100, "only {checked} dependencies seen");
    assert!(
        bad.is_empty(),
        "licences deny.toml does not allow:\n{}",
        bad.join("\n")
    );
}
