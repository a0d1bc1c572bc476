//! Banks and their entries, and the in-memory lookup over all of them.
//!
//! This first version matches PDQ by brute force; the multi-index Hamming
//! index replaces it (issue 5) behind the same `HashDb` API.

use crate::signal::{SignalType, Signals};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vigil_pdq::PdqHash;

/// What a match in a bank may trigger automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankAction {
    Takedown,
    ReviewOnly,
    /// An allow-list: a match suppresses automated action.
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankStatus {
    Active,
    Disabled,
    Quarantined,
}

/// A bank of hashes with its labels and matching rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bank {
    pub name: String,
    pub labels: Vec<String>,
    pub action: BankAction,
    pub status: BankStatus,
    /// Largest PDQ Hamming distance that counts as a match in this bank.
    pub pdq_threshold: u32,
}

impl Bank {
    /// A new active bank with no labels and the default PDQ threshold (31).
    pub fn new(name: &str, action: BankAction) -> Bank {
        Bank {
            name: name.to_string(),
            labels: Vec::new(),
            action,
            status: BankStatus::Active,
            pdq_threshold: 31,
        }
    }
}

/// One hash in a bank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BankEntry {
    pub bank: String,
    pub entry_id: String,
    pub signal_type: SignalType,
    /// Lowercase hex of the hash.
    pub signal: String,
    pub labels: Vec<String>,
}

impl BankEntry {
    pub fn new(bank: &str, entry_id: &str, signal_type: SignalType, signal: &str) -> BankEntry {
        BankEntry {
            bank: bank.to_string(),
            entry_id: entry_id.to_string(),
            signal_type,
            signal: signal.to_string(),
            labels: Vec::new(),
        }
    }
}

/// A match of an upload's signal against a bank entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub bank: String,
    pub entry_id: String,
    pub signal_type: SignalType,
    pub distance: u32,
    pub labels: Vec<String>,
}

/// All loaded banks and entries.
#[derive(Debug, Default)]
pub struct HashDb {
    banks: HashMap<String, Bank>,
    pdq: Vec<(PdqHash, usize)>,
    exact: HashMap<(SignalType, String), Vec<usize>>,
    entries: Vec<Option<BankEntry>>,
    by_key: HashMap<(String, String), usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashDbError {
    #[error("entry {entry_id} names unknown bank {bank}")]
    UnknownBank { bank: String, entry_id: String },
    #[error("entry {entry_id}: {detail}")]
    BadSignal { entry_id: String, detail: String },
}

impl HashDb {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn upsert_bank(&mut self, bank: Bank) {
        self.banks.insert(bank.name.clone(), bank);
    }

    pub fn bank(&self, name: &str) -> Option<&Bank> {
        self.banks.get(name)
    }

    pub fn banks(&self) -> impl Iterator<Item = &Bank> {
        self.banks.values()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Insert or replace an entry.
    pub fn upsert_entry(&mut self, entry: BankEntry) -> Result<(), HashDbError> {
        if !self.banks.contains_key(&entry.bank) {
            return Err(HashDbError::UnknownBank {
                bank: entry.bank,
                entry_id: entry.entry_id,
            });
        }
        let signal = entry.signal.trim().to_ascii_lowercase();
        let pdq = match entry.signal_type {
            SignalType::Pdq => {
                Some(
                    PdqHash::from_hex(&signal).map_err(|e| HashDbError::BadSignal {
                        entry_id: entry.entry_id.clone(),
                        detail: e.to_string(),
                    })?,
                )
            }
            SignalType::Md5 | SignalType::Sha256 => {
                let want = if entry.signal_type == SignalType::Md5 {
                    32
                } else {
                    64
                };
                if signal.len() != want || !signal.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(HashDbError::BadSignal {
                        entry_id: entry.entry_id.clone(),
                        detail: format!("expected {want} hex digits for {}", entry.signal_type),
                    });
                }
                None
            }
        };
        self.delete_entry(&entry.bank, &entry.entry_id);
        let idx = self.entries.len();
        let key = (entry.bank.clone(), entry.entry_id.clone());
        match pdq {
            Some(h) => self.pdq.push((h, idx)),
            None => self
                .exact
                .entry((entry.signal_type, signal.clone()))
                .or_default()
                .push(idx),
        }
        self.entries.push(Some(BankEntry { signal, ..entry }));
        self.by_key.insert(key, idx);
        Ok(())
    }

    /// Remove an entry (a tombstone). Returns whether it existed.
    pub fn delete_entry(&mut self, bank: &str, entry_id: &str) -> bool {
        match self
            .by_key
            .remove(&(bank.to_string(), entry_id.to_string()))
        {
            Some(idx) => {
                self.entries[idx] = None;
                true
            }
            None => false,
        }
    }

    /// Every match of `signals` in active or quarantined banks (quarantined
    /// matches are returned so policy can route them to review).
    pub fn lookup(&self, signals: &Signals) -> Vec<Match> {
        let mut out = Vec::new();
        let push = |idx: usize, distance: u32, out: &mut Vec<Match>| {
            if let Some(e) = &self.entries[idx] {
                let Some(bank) = self.banks.get(&e.bank) else {
                    return;
                };
                if bank.status == BankStatus::Disabled {
                    return;
                }
                if e.signal_type == SignalType::Pdq && distance > bank.pdq_threshold {
                    return;
                }
                let mut labels = bank.labels.clone();
                for l in &e.labels {
                    if !labels.contains(l) {
                        labels.push(l.clone());
                    }
                }
                out.push(Match {
                    bank: e.bank.clone(),
                    entry_id: e.entry_id.clone(),
                    signal_type: e.signal_type,
                    distance,
                    labels,
                });
            }
        };
        for (t, h) in [
            (SignalType::Md5, hex::encode(signals.md5)),
            (SignalType::Sha256, hex::encode(signals.sha256)),
        ] {
            if let Some(idxs) = self.exact.get(&(t, h)) {
                for &i in idxs {
                    push(i, 0, &mut out);
                }
            }
        }
        if let Some((q, _quality)) = &signals.pdq {
            for (h, i) in &self.pdq {
                let d = h.distance(q);
                if d <= 63 {
                    push(*i, d, &mut out);
                }
            }
        }
        out.sort_by(|a, b| {
            a.distance
                .cmp(&b.distance)
                .then(a.bank.cmp(&b.bank))
                .then(a.entry_id.cmp(&b.entry_id))
        });
        out
    }
}
