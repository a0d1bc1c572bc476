//! `vigil bank …` and `vigil match`: the command-line side of bank
//! management. People's changes go through [`vigil_banks::Governance`]
//! (the `*_as` functions), so the CLI writes exactly what the HTTP API
//! writes and guarded changes wait for a second person; with a configured
//! broker applied changes are published on `vigil.hashdb` at once, on the
//! embedded defaults a running `vigil serve` picks them up at its next
//! reload. The functions without `_as` apply directly, as `system`: for
//! seeding the demo and tests.

use crate::config::Config;
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;
use vigil_banks::{BankService, Governance, Submitted};
use vigil_hashdb::formats::{self, Format, ImportOptions};
use vigil_hashdb::{Bank, BankAction, BankEntry, BankStatus, Change, HashDb, PdqHash, SignalType};
use vigil_store::Store;
use vigil_stream::{Producer, Topics};

/// The bank service the CLI uses: publishes when a broker is configured.
pub fn service(config: &Config, store: Store) -> anyhow::Result<BankService> {
    let producer = match &config.kafka.bootstrap_servers {
        Some(b) => Some(Producer::new(b, "vigil-cli", Duration::from_secs(10))?),
        None => None,
    };
    Ok(BankService {
        store,
        producer,
        topic: Topics::with_prefix(&config.kafka.topic_prefix).hashdb,
        local: None,
    })
}

/// Create a bank, or update the action and labels of an existing one,
/// through `svc` (so the change is published like any other).
pub async fn create_bank(
    svc: &BankService,
    name: &str,
    action: BankAction,
    labels: &[String],
) -> anyhow::Result<()> {
    let mut bank = svc
        .bank(name)
        .await
        .unwrap_or_else(|_| Bank::new(name, action));
    bank.action = action;
    bank.labels = labels.to_vec();
    svc.put_bank(bank).await?;
    Ok(())
}

/// [`create_bank`] as `actor`, through governance: creating an actioning
/// bank, or widening one, becomes a proposal.
pub async fn create_bank_as(
    svc: &BankService,
    actor: &str,
    name: &str,
    action: BankAction,
    labels: &[String],
    vpdq: &vigil_hashdb::VpdqThresholdsPatch,
) -> anyhow::Result<Submitted> {
    let mut bank = svc
        .bank(name)
        .await
        .unwrap_or_else(|_| Bank::new(name, action));
    bank.action = action;
    bank.labels = labels.to_vec();
    vpdq.apply(&mut bank.vpdq);
    HashDb::new()
        .upsert_bank_checked(bank.clone())
        .map_err(|e| anyhow::anyhow!("invalid bank: {e}"))?;
    Ok(Governance::new(svc.clone())
        .submit(
            actor,
            vec![Change::UpsertBank { bank }],
            &format!("create or update bank {name}"),
        )
        .await?)
}

/// [`set_status`] as `actor`, through governance (re-activating an
/// actioning bank is a proposal).
pub async fn set_status_as(
    svc: &BankService,
    actor: &str,
    bank: &str,
    status: BankStatus,
) -> anyhow::Result<Submitted> {
    let mut b = svc.bank(bank).await?;
    b.status = status;
    Ok(Governance::new(svc.clone())
        .submit(
            actor,
            vec![Change::UpsertBank { bank: b }],
            &format!("set bank {bank} status"),
        )
        .await?)
}

/// Set a bank's distance threshold for `signal` (PDQ's `pdq_threshold`,
/// or a dHash or pHash entry of `thresholds`) as `actor`, through
/// governance (raising it is a proposal; lowering applies at once).
pub async fn set_threshold_as(
    svc: &BankService,
    actor: &str,
    bank: &str,
    signal: SignalType,
    distance: u32,
) -> anyhow::Result<Submitted> {
    let mut b = svc.bank(bank).await?;
    if signal == SignalType::Pdq {
        b.pdq_threshold = distance;
    } else {
        b.thresholds.insert(signal, distance);
    }
    HashDb::new()
        .upsert_bank_checked(b.clone())
        .map_err(|e| anyhow::anyhow!("invalid bank: {e}"))?;
    Ok(Governance::new(svc.clone())
        .submit(
            actor,
            vec![Change::UpsertBank { bank: b }],
            &format!("set bank {bank} {signal}_threshold={distance}"),
        )
        .await?)
}

/// [`add`] as `actor`, through governance (into an actioning bank: a
/// proposal). Returns the entry id and what happened.
pub async fn add_as(
    svc: &BankService,
    actor: &str,
    bank: &str,
    signal_type: SignalType,
    signal: &str,
) -> anyhow::Result<(String, Submitted)> {
    svc.bank(bank).await?;
    let signal = signal.trim().to_ascii_lowercase();
    vigil_hashdb::bank::parse_signal(signal_type, &signal).map_err(|e| anyhow::anyhow!("{e}"))?;
    let entry = BankEntry::derived(bank, signal_type, &signal);
    let id = entry.entry_id.clone();
    let r = Governance::new(svc.clone())
        .submit(
            actor,
            vec![Change::UpsertEntry { entry }],
            &format!("add entry {id} to bank {bank}"),
        )
        .await?;
    Ok((id, r))
}

/// Stream `file` into a bank as `actor` through governance: entries
/// outside the bank's charter are refused line by line; into an actioning
/// bank the rest land as one pending batch.
pub async fn import_as(
    svc: &BankService,
    actor: &str,
    file: &Path,
    format: Format,
    opts: ImportOptions,
) -> anyhow::Result<vigil_banks::GovernedImport> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let bank = opts.bank.clone();
    let out = Governance::new(svc.clone())
        .import(actor, format, std::io::BufReader::new(f), opts)
        .await?;
    for r in &out.report.rejected {
        eprintln!("{}:{}: rejected: {}", file.display(), r.position, r.reason);
    }
    let s = &out.report.summary;
    println!(
        "import bank={} format={} read={} upserts={} deletes={} changed={} rejected={} charter_rejected={} skipped={} cursor={}",
        bank,
        format.as_str(),
        s.read,
        s.upserts,
        s.deletes,
        out.report.changed,
        s.rejected,
        out.charter_rejected,
        s.skipped,
        s.cursor
    );
    if let Some(id) = &out.proposal {
        if out.auto_approved {
            println!("batch auto-approved proposal={id} kind=entries_add (the bank's charter trusts its source; logged)");
        } else {
            println!(
                "batch pending proposal={id} kind=entries_add: it takes effect when a different lead or admin runs `vigil proposal approve {id} --as USER`"
            );
        }
    }
    if let Some(next) = &s.next_page {
        println!("next_page={next}");
    }
    Ok(out)
}

/// Entries for `hashes` (lowercase hex) in `bank`, with stable ids.
pub fn pdq_entries(bank: &str, hashes: &[String]) -> Vec<BankEntry> {
    hashes
        .iter()
        .map(|h| BankEntry::derived(bank, SignalType::Pdq, h))
        .collect()
}

/// Stream `file` in `format` into `bank`, printing progress on a terminal
/// and every rejected record with its position and reason.
pub async fn import(
    svc: &BankService,
    file: &Path,
    format: Format,
    opts: ImportOptions,
) -> anyhow::Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let tty = std::io::stderr().is_terminal();
    let report = svc
        .import(format, std::io::BufReader::new(f), opts.clone(), |n| {
            if tty {
                eprint!("\rimported {n} records");
            }
        })
        .await?;
    if tty {
        eprintln!();
    }
    for r in &report.rejected {
        eprintln!("{}:{}: rejected: {}", file.display(), r.position, r.reason);
    }
    if (report.rejected.len() as u64) < report.summary.rejected {
        eprintln!(
            "… {} more rejections not listed",
            report.summary.rejected - report.rejected.len() as u64
        );
    }
    let s = &report.summary;
    println!(
        "import bank={} format={} read={} upserts={} deletes={} changed={} rejected={} skipped={} cursor={}",
        opts.bank,
        format.as_str(),
        s.read,
        s.upserts,
        s.deletes,
        report.changed,
        s.rejected,
        s.skipped,
        s.cursor
    );
    if let Some(next) = &s.next_page {
        println!("next_page={next}");
    }
    if let Some(cp) = &s.checkpoint {
        println!("checkpoint={cp}");
    }
    Ok(())
}

/// Write a bank's live entries to `out` in `format`.
pub async fn export(
    store: &Store,
    bank: &str,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (db, _) = store.load_hashdb().await?;
    anyhow::ensure!(db.bank(bank).is_some(), "no bank named {bank:?}");
    let entries = db.entries_of(bank);
    match format {
        Format::HashList => formats::hashlist::export(bank, &entries, out)?,
        Format::TeCsv => formats::csv::export(&entries, out)?,
        Format::TeJson => formats::te_json::export(&entries, out)?,
        Format::Tcap => formats::tcap::export_page(&entries, None, None, out)?,
        Format::Vpdq => {
            formats::vpdq::export(bank, &entries, out)?;
        }
    }
    Ok(())
}

/// Add one entry.
pub async fn add(
    svc: &BankService,
    bank: &str,
    signal_type: SignalType,
    signal: &str,
) -> anyhow::Result<String> {
    svc.bank(bank).await?;
    let (signal, _) = vigil_hashdb::bank::parse_signal(signal_type, signal)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let entry = BankEntry::derived(bank, signal_type, &signal);
    let id = entry.entry_id.clone();
    svc.apply(vec![Change::UpsertEntry { entry }]).await?;
    Ok(id)
}

/// Set a bank's status.
pub async fn set_status(svc: &BankService, bank: &str, status: BankStatus) -> anyhow::Result<()> {
    let mut b = svc.bank(bank).await?;
    b.status = status;
    svc.put_bank(b).await?;
    Ok(())
}

/// `vigil match`: one `pdq <hex>` per input line; one TSV row
/// `query\tbank\tentry_id\tdistance` per hit. Returns (queries, hits).
pub fn match_lines(
    db: &HashDb,
    input: impl BufRead,
    bank: Option<&str>,
    max_distance: u32,
    out: &mut impl Write,
) -> anyhow::Result<(u64, u64)> {
    let (mut queries, mut hits) = (0u64, 0u64);
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let hex = match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["pdq", h] | [h] => h,
            _ => anyhow::bail!("line {}: expected `pdq <hex>`", i + 1),
        };
        let q = PdqHash::from_hex(hex).with_context(|| format!("line {}", i + 1))?;
        queries += 1;
        for (d, e) in db.pdq_within(&q, max_distance) {
            if bank.is_some_and(|b| b != e.bank) {
                continue;
            }
            hits += 1;
            writeln!(out, "{}\t{}\t{}\t{}", q.to_hex(), e.bank, e.entry_id, d)?;
        }
    }
    Ok((queries, hits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_prints_one_row_per_hit() {
        let mut db = HashDb::new();
        db.upsert_bank(Bank::new("a", BankAction::Takedown));
        db.upsert_bank(Bank::new("b", BankAction::Takedown));
        let h = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
        db.upsert_entry(BankEntry::derived("a", SignalType::Pdq, h))
            .unwrap();
        db.upsert_entry(BankEntry::derived("b", SignalType::Pdq, h))
            .unwrap();
        let near = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b23";
        let input = format!("# queries\npdq {near}\n{h}\n\n");
        let mut out = Vec::new();
        let (q, n) = match_lines(&db, input.as_bytes(), None, 31, &mut out).unwrap();
        assert_eq!((q, n), (2, 4));
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().next().unwrap().ends_with("\t1"));
        let mut out = Vec::new();
        assert_eq!(
            match_lines(&db, input.as_bytes(), Some("b"), 0, &mut out).unwrap(),
            (2, 1)
        );
        assert!(match_lines(&db, "pdq zz\n".as_bytes(), None, 31, &mut Vec::new()).is_err());
    }
}
