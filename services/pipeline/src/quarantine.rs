//! Automatic quarantine (DESIGN.md §8): when people keep overturning what a
//! bank entry (or a whole bank) caused, Vigil stops acting on it
//! automatically and sends its matches to review until a lead restores it.
//!
//! Pure: thresholds from the policy's `[quarantine]` table and the counts
//! the store keeps (matches, upheld, overturned, disputed opinions) in,
//! the entries and banks to quarantine out, each with a cause a person can
//! read. Counts start again from zero when an entry is restored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When a set of decisions is bad enough to stop automated action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarantineThresholds {
    /// Human decisions (upheld + overturned, disputes included) needed
    /// before the rate means anything.
    pub min_decisions: u64,
    /// Overturns (disputes included) needed, whatever the rate.
    pub min_overturns: u64,
    /// Quarantine when overturned / decided is above this (0..=1).
    pub max_overturn_rate: f64,
}

impl QuarantineThresholds {
    pub const ENTRY_DEFAULT: QuarantineThresholds = QuarantineThresholds {
        min_decisions: 5,
        min_overturns: 3,
        max_overturn_rate: 0.5,
    };
    pub const BANK_DEFAULT: QuarantineThresholds = QuarantineThresholds {
        min_decisions: 50,
        min_overturns: 20,
        max_overturn_rate: 0.3,
    };
}

/// `[quarantine]` in the policy: entry thresholds, and `[quarantine.bank]`
/// for a whole bank (summed over its entries). Unset keys take the
/// defaults of [`QuarantineThresholds::ENTRY_DEFAULT`] (entries) and
/// [`QuarantineThresholds::BANK_DEFAULT`] (banks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantinePolicy {
    pub enabled: bool,
    pub min_decisions: u64,
    pub min_overturns: u64,
    pub max_overturn_rate: f64,
    pub bank: BankThresholds,
}

/// `[quarantine.bank]`: the same three numbers for a whole bank.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BankThresholds {
    pub min_decisions: u64,
    pub min_overturns: u64,
    pub max_overturn_rate: f64,
}

impl Default for BankThresholds {
    fn default() -> Self {
        let t = QuarantineThresholds::BANK_DEFAULT;
        BankThresholds {
            min_decisions: t.min_decisions,
            min_overturns: t.min_overturns,
            max_overturn_rate: t.max_overturn_rate,
        }
    }
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        let t = QuarantineThresholds::ENTRY_DEFAULT;
        QuarantinePolicy {
            enabled: true,
            min_decisions: t.min_decisions,
            min_overturns: t.min_overturns,
            max_overturn_rate: t.max_overturn_rate,
            bank: BankThresholds::default(),
        }
    }
}

impl QuarantinePolicy {
    /// The thresholds for single entries.
    pub fn entry(&self) -> QuarantineThresholds {
        QuarantineThresholds {
            min_decisions: self.min_decisions,
            min_overturns: self.min_overturns,
            max_overturn_rate: self.max_overturn_rate,
        }
    }

    /// The thresholds for whole banks.
    pub fn bank(&self) -> QuarantineThresholds {
        QuarantineThresholds {
            min_decisions: self.bank.min_decisions,
            min_overturns: self.bank.min_overturns,
            max_overturn_rate: self.bank.max_overturn_rate,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, t) in [
            ("quarantine", self.entry()),
            ("quarantine.bank", self.bank()),
        ] {
            if !(0.0..=1.0).contains(&t.max_overturn_rate) {
                return Err(format!("{name}.max_overturn_rate must be in 0..=1"));
            }
            if t.min_decisions == 0 {
                return Err(format!("{name}.min_decisions must be at least 1"));
            }
        }
        Ok(())
    }
}

/// What the store counted for one entry since it was last restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EntryCounts {
    pub matches: u64,
    pub upheld: u64,
    pub overturned: u64,
    /// Negative opinions of the sharing exchange.
    pub disputed: u64,
}

impl EntryCounts {
    pub fn add(&mut self, o: &EntryCounts) {
        self.matches += o.matches;
        self.upheld += o.upheld;
        self.overturned += o.overturned;
        self.disputed += o.disputed;
    }
}

/// Why `counts` pass `t`, or `None` when they do not.
pub fn exceeds(counts: &EntryCounts, t: &QuarantineThresholds) -> Option<String> {
    let against = counts.overturned + counts.disputed;
    let decided = counts.upheld + against;
    if decided < t.min_decisions.max(1) || against < t.min_overturns {
        return None;
    }
    let rate = against as f64 / decided as f64;
    (rate > t.max_overturn_rate).then(|| {
        format!(
            "{} of {} human decisions overturned ({} overturns, {} disputes; {:.0}% > {:.0}%)",
            against,
            decided,
            counts.overturned,
            counts.disputed,
            rate * 100.0,
            t.max_overturn_rate * 100.0
        )
    })
}

/// One entry's counts and whether it is quarantined already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    pub bank: String,
    pub entry_id: String,
    pub counts: EntryCounts,
    pub quarantined: bool,
}

/// Something to quarantine: an entry, or a whole bank (`entry_id` None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineOrder {
    pub bank: String,
    pub entry_id: Option<String>,
    pub cause: String,
}

/// The entries and banks `policy` quarantines, given every entry's counts
/// and the banks already quarantined. Entries first, sorted; then banks.
pub fn evaluate(
    entries: &[EntryState],
    bank_counts: &BTreeMap<String, EntryCounts>,
    banks_quarantined: &[String],
    policy: &QuarantinePolicy,
) -> Vec<QuarantineOrder> {
    if !policy.enabled {
        return Vec::new();
    }
    let mut out: Vec<QuarantineOrder> = entries
        .iter()
        .filter(|e| !e.quarantined)
        .filter_map(|e| {
            exceeds(&e.counts, &policy.entry()).map(|cause| QuarantineOrder {
                bank: e.bank.clone(),
                entry_id: Some(e.entry_id.clone()),
                cause,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.bank, &a.entry_id).cmp(&(&b.bank, &b.entry_id)));
    for (bank, counts) in bank_counts {
        if banks_quarantined.contains(bank) {
            continue;
        }
        if let Some(cause) = exceeds(counts, &policy.bank()) {
            out.push(QuarantineOrder {
                bank: bank.clone(),
                entry_id: None,
                cause,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(upheld: u64, overturned: u64, disputed: u64) -> EntryCounts {
        EntryCounts {
            matches: upheld + overturned,
            upheld,
            overturned,
            disputed,
        }
    }

    #[test]
    fn thresholds_need_enough_decisions_overturns_and_rate() {
        let t = QuarantineThresholds {
            min_decisions: 4,
            min_overturns: 3,
            max_overturn_rate: 0.5,
        };
        assert!(exceeds(&c(0, 3, 0), &t).is_none(), "too few decisions");
        assert!(exceeds(&c(2, 2, 0), &t).is_none(), "too few overturns");
        assert!(
            exceeds(&c(3, 3, 0), &t).is_none(),
            "rate 50% is not above 50%"
        );
        let why = exceeds(&c(1, 3, 0), &t).unwrap();
        assert!(why.contains("3 of 4"), "{why}");
        assert!(
            exceeds(&c(1, 2, 1), &t).is_some(),
            "a dispute counts against"
        );
    }

    #[test]
    fn evaluate_skips_quarantined_and_covers_banks() {
        let p = QuarantinePolicy {
            enabled: true,
            min_decisions: 2,
            min_overturns: 2,
            max_overturn_rate: 0.5,
            bank: BankThresholds {
                min_decisions: 3,
                min_overturns: 3,
                max_overturn_rate: 0.5,
            },
        };
        let e = |bank: &str, id: &str, counts, q| EntryState {
            bank: bank.into(),
            entry_id: id.into(),
            counts,
            quarantined: q,
        };
        let entries = vec![
            e("b", "e2", c(0, 2, 0), false),
            e("b", "e1", c(0, 2, 0), true),
            e("b", "e3", c(5, 1, 0), false),
        ];
        let mut banks = BTreeMap::new();
        banks.insert("b".to_string(), c(5, 5, 1));
        banks.insert("ok".to_string(), c(9, 1, 0));
        let orders = evaluate(&entries, &banks, &[], &p);
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert_eq!(orders[0].entry_id.as_deref(), Some("e2"));
        assert_eq!(
            (orders[1].bank.as_str(), orders[1].entry_id.as_ref()),
            ("b", None)
        );
        assert_eq!(evaluate(&entries, &banks, &["b".into()], &p).len(), 1);
        let off = QuarantinePolicy {
            enabled: false,
            ..p
        };
        assert!(evaluate(&entries, &banks, &[], &off).is_empty());
    }

    #[test]
    fn policy_toml_shape() {
        let p: QuarantinePolicy = toml::from_str(
            "min_decisions = 3\nmin_overturns = 2\nmax_overturn_rate = 0.4\n[bank]\nmin_decisions = 10\n",
        )
        .unwrap();
        assert_eq!(p.entry().min_decisions, 3);
        assert_eq!(p.bank.min_decisions, 10);
        assert_eq!(
            p.bank.max_overturn_rate,
            QuarantineThresholds::BANK_DEFAULT.max_overturn_rate,
            "unset bank keys take the bank defaults"
        );
        assert!(p.enabled);
        assert!(toml::from_str::<QuarantinePolicy>("surprise = 1\n").is_err());
    }
}
