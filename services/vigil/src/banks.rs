//! `vigil bank …`: create banks and import hash lists into the database
//! that workers load their banks from.

use anyhow::Context;
use std::path::Path;
use vigil_hashdb::{Bank, BankAction, BankEntry, SignalType};
use vigil_store::Store;

/// One line of a hash list that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub read: usize,
    pub imported: u64,
    pub unchanged: usize,
    pub rejected: Vec<Rejected>,
}

/// A stable entry id for a signal in a bank, so re-importing the same list
/// is idempotent.
pub fn entry_id(signal_type: SignalType, signal: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{}:{}", signal_type.as_str(), signal).as_bytes());
    format!("{}-{}", signal_type.as_str(), &hex::encode(d)[..16])
}

/// Parse the plain hash-list format: one `<signal_type> <hex>` per line,
/// `#` comments and blank lines ignored.
pub fn parse_hash_list(text: &str, bank: &str) -> (Vec<BankEntry>, Vec<Rejected>) {
    let mut entries = Vec::new();
    let mut rejected = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(kind), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            rejected.push(Rejected {
                line: i + 1,
                reason: "expected `<signal_type> <hex>`".into(),
            });
            continue;
        };
        let signal_type: SignalType = match kind.parse() {
            Ok(t) => t,
            Err(e) => {
                rejected.push(Rejected {
                    line: i + 1,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let value = value.to_ascii_lowercase();
        let want = match signal_type {
            SignalType::Pdq => 64,
            SignalType::Md5 => 32,
            SignalType::Sha256 => 64,
        };
        if value.len() != want || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            rejected.push(Rejected {
                line: i + 1,
                reason: format!("{signal_type} needs {want} hex digits"),
            });
            continue;
        }
        entries.push(BankEntry::new(bank, &entry_id(signal_type, &value), signal_type, &value));
    }
    (entries, rejected)
}

/// Create or update a bank.
pub async fn create_bank(store: &Store, name: &str, action: BankAction, labels: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "bank names are 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'"
    );
    let mut bank = store
        .banks()
        .await?
        .into_iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| Bank::new(name, action));
    bank.action = action;
    bank.labels = labels.to_vec();
    store.upsert_bank(&bank).await?;
    Ok(())
}

/// Import a hash-list file into an existing bank.
pub async fn import_file(store: &Store, path: &Path, bank: &str) -> anyhow::Result<ImportReport> {
    anyhow::ensure!(
        store.banks().await?.iter().any(|b| b.name == bank),
        "no bank named {bank:?}; create it first with `vigil bank create`"
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (entries, rejected) = parse_hash_list(&text, bank);
    let imported = store.upsert_entries(&entries).await?;
    Ok(ImportReport {
        read: entries.len() + rejected.len(),
        imported,
        unchanged: entries.len() - imported as usize,
        rejected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_with_line_numbers() {
        let text = "# demo\n\u{feff}pdq F8F8F0CCE0F4E84D0E370A22028F67F0B36E2ED596623E1D33E6339C4E9C9B22\nmd5 d41d8cd98f00b204e9800998ecf8427e\r\nmd5 xyz\nfoo 00\npdq 00 extra\n\n";
        let (ok, bad) = parse_hash_list(text, "b");
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].signal_type, SignalType::Pdq);
        assert!(ok[0].signal.starts_with("f8f8"));
        assert_eq!(bad.iter().map(|r| r.line).collect::<Vec<_>>(), vec![4, 5, 6]);
        assert_eq!(entry_id(SignalType::Md5, "a"), entry_id(SignalType::Md5, "a"));
        assert_ne!(entry_id(SignalType::Md5, "a"), entry_id(SignalType::Sha256, "a"));
    }
}
