//! Governance over the real `vigil` binary on a fresh SQLite database: no
//! single user can take a guarded change to effect (bank widening, entries
//! into an actioning bank, charters, quarantine restores, policy versions
//! and classifier auto-action); charters refuse imports line by line; the
//! change log is signed, exported and verified with the public key alone,
//! and tampering with the database or the export is caught.

use std::path::Path;
use std::process::{Command, Output};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Run `vigil ARGS`, signed in as `user` when given (its password in
    /// `VIGIL_PASSWORD`, as an operator would pass it).
    fn run(&self, user: Option<(&str, &str)>, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
        c.args(args)
            .env("VIGIL_DATA_DIR", self.dir.path())
            .env("VIGIL_LOG", "warn")
            .env_remove("VIGIL_AS")
            .env_remove("VIGIL_PASSWORD")
            .env(
                "VIGIL_GOVERNANCE__SIGNING_KEY_FILE",
                self.dir.path().join("changelog.key"),
            );
        if let Some((u, p)) = user {
            c.env("VIGIL_AS", u).env("VIGIL_PASSWORD", p);
        }
        c.output().expect("vigil runs")
    }

    fn ok(&self, user: Option<(&str, &str)>, args: &[&str]) -> String {
        let o = self.run(user, args);
        assert!(
            o.status.success(),
            "vigil {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn fails(&self, user: Option<(&str, &str)>, args: &[&str]) -> String {
        let o = self.run(user, args);
        assert!(
            !o.status.success(),
            "vigil {args:?} should have failed: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }
}

const ALICE: (&str, &str) = ("alice", "alice-password-long");
const BOB: (&str, &str) = ("bob", "bob-password-long");
const RITA: (&str, &str) = ("rita", "rita-password-long");

/// The proposal id in a line like `… proposal=prop-… kind=…`.
fn proposal_id(out: &str) -> String {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("proposal="))
        .unwrap_or_else(|| panic!("no proposal in {out:?}"))
        .trim_end_matches(':')
        .to_string()
}

/// A guarded change proposed by `alice` cannot be approved by alice, by a
/// reviewer, by an unauthenticated operator, or with a wrong password;
/// bob (admin) approves it.
fn only_a_second_person_approves(cli: &Cli, proposed: &str, kind: &str) {
    assert!(proposed.contains(&format!("kind={kind}")), "{proposed}");
    let id = proposal_id(proposed);
    let own = cli.fails(Some(ALICE), &["proposal", "approve", &id]);
    assert!(own.contains("own proposal"), "{own}");
    let low = cli.fails(Some(RITA), &["proposal", "approve", &id]);
    assert!(low.contains("lead or admin"), "{low}");
    let anon = cli.fails(None, &["proposal", "approve", &id]);
    assert!(anon.contains("--as"), "{anon}");
    let wrong = cli.fails(
        Some(("bob", "not-bobs-password")),
        &["proposal", "approve", &id],
    );
    assert!(wrong.contains("cannot sign in"), "{wrong}");
    let pending = cli.ok(None, &["proposal", "list"]);
    assert!(pending.contains(&id), "{pending}");
    let done = cli.ok(
        Some(BOB),
        &["proposal", "approve", &id, "--note", "checked"],
    );
    assert!(done.contains("approved and applied"), "{done}");
    assert!(!cli.ok(None, &["proposal", "list"]).contains(&id));
    let show = cli.ok(None, &["proposal", "show", &id]);
    assert!(show.contains("decided by bob (admin)"), "{show}");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn no_single_user_can_widen_removal_over_the_cli() {
    let cli = Cli::new();
    for (u, role) in [(ALICE, "lead"), (BOB, "admin"), (RITA, "reviewer")] {
        let o = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["user", "add", u.0, "--role", role])
            .env("VIGIL_DATA_DIR", cli.dir.path())
            .env("VIGIL_USER_PASSWORD", u.1)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let h1 = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
    let h2 = "07070f331f0b17b2f1c8f5ddfd70980f4c91d12a699dc1e2cc19cc63b16364dd";

    // bank_widen: an actioning bank.
    let out = cli.ok(
        Some(ALICE),
        &["bank", "create", "tk", "--action", "takedown"],
    );
    only_a_second_person_approves(&cli, &out, "bank_widen");
    assert!(cli
        .ok(None, &["bank", "list"])
        .contains("tk\taction=Takedown"));

    // entries_add: nothing matches before approval.
    let out = cli.ok(Some(ALICE), &["bank", "add", "--bank", "tk", h1]);
    write(&cli.path("q.txt"), &format!("pdq {h1}\n"));
    let q = cli.path("q.txt");
    let q = q.to_str().unwrap();
    assert_eq!(cli.ok(None, &["match", q]).trim(), "");
    only_a_second_person_approves(&cli, &out, "entries_add");
    assert!(cli.ok(None, &["match", q]).contains("\ttk\t"));

    // entries_add: re-enabling a removed entry waits too.
    let entry_id = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("entry_id="))
        .unwrap()
        .to_string();
    cli.ok(Some(ALICE), &["bank", "remove", "--bank", "tk", &entry_id]);
    assert_eq!(cli.ok(None, &["match", q]).trim(), "", "removing: at once");
    let out = cli.ok(Some(ALICE), &["bank", "add", "--bank", "tk", h1]);
    assert_eq!(cli.ok(None, &["match", q]).trim(), "");
    only_a_second_person_approves(&cli, &out, "entries_add");
    assert!(cli.ok(None, &["match", q]).contains("\ttk\t"));

    // threshold_raise: lowering applies at once, raising waits.
    let listed = |cli: &Cli| cli.ok(None, &["bank", "list"]);
    let out = cli.ok(Some(ALICE), &["bank", "threshold", "tk", "8"]);
    assert!(out.contains("changed=1"), "{out}");
    assert!(
        listed(&cli).contains("\tpdq_threshold=8\t"),
        "{}",
        listed(&cli)
    );
    let out = cli.ok(Some(ALICE), &["bank", "threshold", "tk", "24"]);
    assert!(listed(&cli).contains("\tpdq_threshold=8\t"));
    only_a_second_person_approves(&cli, &out, "threshold_raise");
    assert!(listed(&cli).contains("\tpdq_threshold=24\t"));
    // The same for a dHash threshold (default 10); out of range is refused.
    assert!(listed(&cli).contains("\tdhash_threshold=10\tphash_threshold=10\t"));
    let out = cli.ok(
        Some(ALICE),
        &["bank", "threshold", "tk", "6", "--signal", "dhash"],
    );
    assert!(out.contains("changed=1"), "{out}");
    assert!(listed(&cli).contains("\tdhash_threshold=6\t"));
    let out = cli.ok(
        Some(ALICE),
        &["bank", "threshold", "tk", "12", "--signal", "dhash"],
    );
    assert!(listed(&cli).contains("\tdhash_threshold=6\t"));
    only_a_second_person_approves(&cli, &out, "threshold_raise");
    assert!(listed(&cli).contains("\tdhash_threshold=12\t"));
    let err = cli.fails(
        Some(ALICE),
        &["bank", "threshold", "tk", "40", "--signal", "phash"],
    );
    assert!(err.contains("phash threshold 40 is not in 0..=16"), "{err}");

    // bank_widen: re-activating a disabled actioning bank.
    cli.ok(Some(ALICE), &["bank", "status", "tk", "disabled"]);
    let out = cli.ok(Some(ALICE), &["bank", "status", "tk", "active"]);
    assert!(listed(&cli).contains("status=Disabled"));
    only_a_second_person_approves(&cli, &out, "bank_widen");
    assert!(listed(&cli).contains("status=Active"));

    // charter_change.
    let charter = serde_json::json!({
        "scope": "Attacker manifestos", "allowed_labels": ["gifct:attacker_manifesto"],
        "legal_basis": [{"kind": "law", "reference": "Online Safety Act 2023 s.10"}],
        "owner": "ct-team", "jurisdictions": ["GB"], "allowed_actions": ["restrict"],
        "trusted_sources": ["trusted-exchange"]
    });
    write(&cli.path("charter.json"), &charter.to_string());
    let out = cli.ok(
        Some(ALICE),
        &[
            "bank",
            "charter",
            "tk",
            "--file",
            cli.path("charter.json").to_str().unwrap(),
        ],
    );
    assert!(!cli
        .ok(None, &["bank", "charter", "tk"])
        .contains("manifesto"));
    only_a_second_person_approves(&cli, &out, "charter_change");
    assert!(cli
        .ok(None, &["bank", "charter", "tk"])
        .contains("Online Safety Act"));

    // Charter rejection at import: a reason per line, counted.
    write(&cli.path("list.txt"), &format!("pdq {h2}\npdq {h1}\n"));
    let list = cli.path("list.txt");
    let o = cli.run(
        Some(ALICE),
        &[
            "bank",
            "import",
            list.to_str().unwrap(),
            "--bank",
            "tk",
            "--label",
            "gifct:glorification",
        ],
    );
    assert!(o.status.success());
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        out.contains("charter_rejected=2") && out.contains("rejected=2"),
        "{out}"
    );
    assert!(
        err.contains(":1: rejected: label \"gifct:glorification\" is outside the bank's charter"),
        "{err}"
    );
    assert!(err.contains(":2: rejected:"), "{err}");
    // Within the charter: a pending batch with a summary.
    let out = cli.ok(
        Some(ALICE),
        &[
            "bank",
            "import",
            list.to_str().unwrap(),
            "--bank",
            "tk",
            "--label",
            "gifct:attacker_manifesto",
        ],
    );
    assert!(out.contains("batch pending"), "{out}");
    let show = cli.ok(None, &["proposal", "show", &proposal_id(&out)]);
    assert!(
        show.contains("import of 2 entries into bank tk: 1 already in the bank"),
        "{show}"
    );
    assert!(
        show.contains("by label: gifct:attacker_manifesto=2"),
        "{show}"
    );
    assert!(show.contains("random sample:"), "{show}");
    only_a_second_person_approves(&cli, &out, "entries_add");

    // quarantine_restore: lifting an entry's quarantine, even in a
    // review-only bank.
    cli.ok(
        Some(ALICE),
        &["bank", "create", "rv", "--action", "review-only"],
    );
    cli.ok(Some(ALICE), &["bank", "add", "--bank", "rv", h2]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", cli.path("vigil.db").display());
    rt.block_on(async {
        let store = vigil_store::Store::connect(&url, 1, None).await.unwrap();
        let mut e = vigil_hashdb::BankEntry::derived("rv", vigil_hashdb::SignalType::Pdq, h2);
        e.quarantined = true;
        store
            .apply_changes(&[vigil_hashdb::Change::UpsertEntry { entry: e }])
            .await
            .unwrap();
    });
    let out = cli.ok(Some(ALICE), &["bank", "add", "--bank", "rv", h2]);
    only_a_second_person_approves(&cli, &out, "quarantine_restore");

    // policy_version and classifier_auto_action.
    let base = vigil_pipeline::policy::DEFAULT_POLICY_TOML;
    let current = vigil_pipeline::Policy::builtin().version;
    let v2 = base.replace(
        &format!("version = \"{current}\""),
        "version = \"gov-test-2\"",
    );
    assert_ne!(v2, base);
    write(&cli.path("p2.toml"), &v2);
    let out = cli.ok(
        Some(ALICE),
        &["policy", "propose", cli.path("p2.toml").to_str().unwrap()],
    );
    only_a_second_person_approves(&cli, &out, "policy_version");
    assert!(cli
        .ok(None, &["policy", "show"])
        .contains("policy version gov-test-2"));
    let v3 = v2
        .replace("version = \"gov-test-2\"", "version = \"gov-test-3\"")
        .replace("[classifier]", "[classifier]\nauto_above = 0.99");
    write(&cli.path("p3.toml"), &v3);
    let out = cli.ok(
        Some(ALICE),
        &["policy", "propose", cli.path("p3.toml").to_str().unwrap()],
    );
    assert!(
        cli.ok(None, &["policy", "show"]).contains("gov-test-2"),
        "not before approval"
    );
    only_a_second_person_approves(&cli, &out, "classifier_auto_action");
    assert!(cli.ok(None, &["policy", "show"]).contains("gov-test-3"));

    // Referrals: recorded, contested, reported.
    let out = cli.ok(
        Some(ALICE),
        &[
            "referral",
            "add",
            "--issuer",
            "Europol IRU",
            "--legal-basis",
            "EU TCO 2021/784 art. 3",
            "--jurisdiction",
            "DE",
            "--hash",
            &format!("pdq:{h1}"),
            "--no-act",
        ],
    );
    let rid = out.split_whitespace().nth(1).unwrap().to_string();
    cli.ok(
        Some(BOB),
        &[
            "referral",
            "contest",
            &rid,
            "--reason",
            "the hash is news footage",
        ],
    );
    assert!(cli.ok(None, &["referral", "list"]).contains("contested"));
    let report: serde_json::Value =
        serde_json::from_str(&cli.ok(None, &["audit", "report", "--json"])).unwrap();
    assert_eq!(report["referrals"]["contested"], 1);
    // Eleven approvals above, the dHash threshold raise among them.
    assert_eq!(report["bank_changes_by_approver_role"]["admin"], 11);
    assert_eq!(
        report["entries_added_by_bank_month"]["tk"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        3,
        "h1, h1 again (re-enabled after its removal), h2"
    );

    // The change log: signed, exported, verified with the public key alone.
    let key = cli.path("changelog.key");
    cli.ok(None, &["audit", "keygen", "--out", key.to_str().unwrap()]);
    let pubkey = cli.path("changelog.key.pub");
    let pk = pubkey.to_str().unwrap();
    assert!(cli
        .ok(None, &["audit", "checkpoint"])
        .contains("checkpoint seq="));
    let ok = cli.ok(None, &["audit", "verify", "--public-key", pk]);
    assert!(
        ok.starts_with("ok records=") && ok.contains("checkpoints=1"),
        "{ok}"
    );
    let export = cli.path("log.jsonl");
    let ex = export.to_str().unwrap();
    cli.ok(None, &["audit", "export", "--out", ex]);
    let ok = cli.ok(None, &["audit", "verify", "--file", ex, "--public-key", pk]);
    assert!(ok.contains("signed_through="), "{ok}");
    // Another key is refused.
    let other = cli.path("other.key");
    cli.ok(None, &["audit", "keygen", "--out", other.to_str().unwrap()]);
    let other_pub = format!("{}.pub", other.display());
    let bad = cli.fails(
        None,
        &["audit", "verify", "--file", ex, "--public-key", &other_pub],
    );
    assert!(bad.contains("signed by another key"), "{bad}");
    // An edited export is caught at the edited record.
    let text = std::fs::read_to_string(&export).unwrap();
    let edited = text.replacen("\"actor\":\"bob\"", "\"actor\":\"carol\"", 1);
    assert_ne!(edited, text);
    let first_bob = text
        .lines()
        .find(|l| l.contains("\"actor\":\"bob\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .unwrap();
    write(&export, &edited);
    let bad = cli.fails(None, &["audit", "verify", "--file", ex, "--public-key", pk]);
    assert!(bad.contains(&format!("broken seq={first_bob} ")), "{bad}");
    // A record deleted in the database is caught.
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM gov_changelog WHERE seq = 5")
            .execute(&pool)
            .await
            .unwrap();
    });
    let bad = cli.fails(None, &["audit", "verify", "--public-key", pk]);
    assert!(bad.contains("broken seq=5 "), "{bad}");
}
