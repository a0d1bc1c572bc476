//! `vigil audit …`, `vigil proposal …`, `vigil referral …`, `vigil policy
//! propose` and `vigil report governance`: the command-line side of
//! governance (DESIGN.md §6a).
//!
//! The CLI acts as a named person: `--as USER` (or `VIGIL_AS`) with that
//! review account's password from `VIGIL_PASSWORD` or the first line of
//! stdin, checked against its argon2id hash. Without `--as`, changes are
//! made as `operator` (whoever runs the binary with database access): they
//! are logged as such, guarded ones become proposals, and `operator` can
//! never approve anything (it is no account).

use crate::config::Config;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use vigil_governance::chain::{self, Checkpoint, Ed25519SigningKey, Ed25519VerifyingKey};
use vigil_governance::{BasisKind, Charter, CharterAction, LegalBasis, TAXONOMY};
use vigil_pipeline::Policy;
use vigil_store::Store;

/// The actor for changes made without `--as`.
pub const OPERATOR: &str = "operator";

/// Check `password` against the account `user`; the user name on success.
pub async fn authenticate(store: &Store, user: &str, password: &str) -> anyhow::Result<String> {
    let row = store.user(user).await?;
    let ok = match &row {
        Some(u) if !u.disabled => {
            let (phc, pw) = (u.password_hash.clone(), password.to_string());
            tokio::task::spawn_blocking(move || vigil_review::auth::verify_password(&phc, &pw))
                .await?
        }
        _ => false,
    };
    anyhow::ensure!(
        ok,
        "cannot sign in as {user:?}: unknown or disabled user, or wrong password"
    );
    Ok(user.to_string())
}

/// The password for `--as`: `VIGIL_PASSWORD`, else the first line of stdin.
pub fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("VIGIL_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The actor for a command: the signed-in `--as` user, or [`OPERATOR`].
pub async fn actor(store: &Store, as_user: Option<&str>) -> anyhow::Result<String> {
    match as_user {
        Some(u) => authenticate(store, u, &read_password()?).await,
        None => Ok(OPERATOR.to_string()),
    }
}

/// The policy in force: the newest approved version in the database, else
/// the configured file, else the built-in one.
pub async fn load_policy(config: &Config, store: &Store) -> anyhow::Result<Policy> {
    if let Some((version, toml)) = store.active_policy().await? {
        return Policy::from_toml(&toml)
            .with_context(|| format!("approved policy {version} in the database is invalid"));
    }
    Ok(match &config.policy_file {
        Some(p) => Policy::from_file(p)?,
        None => Policy::builtin(),
    })
}

/// Write a new Ed25519 key to `out` (64 hex digits, mode 0600) and its
/// public half to `out.pub`. Refuses to overwrite.
pub fn keygen(out: &Path) -> anyhow::Result<Ed25519VerifyingKey> {
    anyhow::ensure!(
        !out.exists(),
        "{} exists; not overwriting a key",
        out.display()
    );
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let key = chain::signing_key_from_seed(seed);
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        f.mode(0o600);
    }
    let mut file = f
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    writeln!(file, "{}", hex::encode(key.to_bytes()))?;
    let vk = key.verifying_key();
    std::fs::write(
        public_key_path(out),
        format!("{}\n", hex::encode(vk.to_bytes())),
    )?;
    Ok(vk)
}

pub fn public_key_path(key: &Path) -> std::path::PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    p.into()
}

pub fn read_signing_key(path: &Path) -> anyhow::Result<Ed25519SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    Ok(chain::signing_key_from_hex(&text)?)
}

/// A public key from a file holding its hex, or from the hex itself.
pub fn read_public_key(arg: &str) -> anyhow::Result<Ed25519VerifyingKey> {
    let text = if Path::new(arg).exists() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_string()
    };
    Ok(chain::verifying_key_from_hex(&text)?)
}

/// Sign a checkpoint at the log's head unless one is there already.
pub async fn checkpoint(
    store: &Store,
    key: &Ed25519SigningKey,
) -> anyhow::Result<Option<Checkpoint>> {
    let Some((seq, hash)) = store.changelog_head().await? else {
        return Ok(None);
    };
    if store.checkpoints().await?.iter().any(|c| c.seq == seq) {
        return Ok(None);
    }
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let c = Checkpoint::sign(key, seq, &hash, &at);
    store.add_checkpoint(&c).await?;
    Ok(Some(c))
}

/// Recompute the chain from the database and check its checkpoints.
pub async fn verify_db(
    store: &Store,
    key: Option<&Ed25519VerifyingKey>,
) -> anyhow::Result<Result<chain::Verified, chain::Break>> {
    let records = store.changelog().await?;
    let cps = store.checkpoints().await?;
    vigil_banks::metrics::CHANGELOG_RECORDS.set(records.len() as i64);
    Ok(chain::verify(&records, &cps, key))
}

/// Verify an export file with the public key alone.
pub fn verify_file(
    path: &Path,
    key: Option<&Ed25519VerifyingKey>,
) -> anyhow::Result<Result<chain::Verified, chain::Break>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (records, cps) = chain::read_export(std::io::BufReader::new(f))?;
    Ok(chain::verify(&records, &cps, key))
}

/// Write the log with its checkpoints to `out` (signing a fresh checkpoint
/// at the head first when a key is configured).
pub async fn export(
    store: &Store,
    key: Option<&Ed25519SigningKey>,
    out: &Path,
) -> anyhow::Result<(usize, usize)> {
    if let Some(k) = key {
        checkpoint(store, k).await?;
    }
    let records = store.changelog().await?;
    let cps = store.checkpoints().await?;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    chain::write_export(&records, &cps, &mut f)?;
    f.flush()?;
    Ok((records.len(), cps.len()))
}

/// A charter for seeding a fresh install or the demo: every taxonomy label,
/// the platform's terms of service, everywhere, takedown allowed.
pub fn demo_charter(owner: &str) -> Charter {
    Charter {
        scope: "Demo bank of synthetic fictional emblems (no real extremist material)".into(),
        allowed_labels: TAXONOMY.iter().map(|(l, _)| l.to_string()).collect(),
        legal_basis: vec![LegalBasis {
            kind: BasisKind::TermsOfService,
            reference: "Demo terms of service: violent extremism".into(),
        }],
        owner: owner.into(),
        jurisdictions: vec!["*".into()],
        allowed_actions: vec![CharterAction::Takedown],
        trusted_sources: vec![],
    }
}

/// Give `bank` the demo charter at once, logged as `actor`: for seeding a
/// fresh install, the demo and tests; people change charters through
/// proposals.
pub async fn seed_charter(
    svc: &vigil_banks::BankService,
    bank: &str,
    actor: &str,
) -> anyhow::Result<()> {
    vigil_banks::Governance::new(svc.clone())
        .set_charter_now(actor, bank, Some(&demo_charter(actor)))
        .await?;
    Ok(())
}

/// The governance report as JSON and text.
pub async fn report(store: &Store) -> anyhow::Result<vigil_governance::report::GovernanceReport> {
    Ok(store.governance_report(&Default::default()).await?)
}
