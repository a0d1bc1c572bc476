//! The governance section of the transparency report: referrals by issuer
//! and jurisdiction with the shares acted on, contested and refused and the
//! median handling time; guarded bank changes by kind, outcome and
//! approver role; entries added per bank per month. Pure aggregation over
//! rows the store reads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One referral as the report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralRow {
    pub issuer: String,
    pub jurisdictions: Vec<String>,
    /// `open`, `acted`, `contested` or `refused`.
    pub status: String,
    /// Seconds from receipt to handling, once handled.
    pub handling_seconds: Option<f64>,
}

/// One decided or pending proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRow {
    pub kind: String,
    /// `pending`, `approved`, `rejected`, `auto_approved`.
    pub status: String,
    /// The approver's role when decided (`lead`, `admin`; `charter` for an
    /// auto-approval).
    pub decided_role: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shares {
    pub total: u64,
    pub acted: u64,
    pub contested: u64,
    pub refused: u64,
    pub open: u64,
    pub acted_share: f64,
    pub contested_share: f64,
    pub refused_share: f64,
    /// Median seconds from receipt to handling over handled referrals.
    pub median_handling_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GovernanceReport {
    pub referrals: Shares,
    pub referrals_by_issuer: BTreeMap<String, Shares>,
    pub referrals_by_jurisdiction: BTreeMap<String, Shares>,
    /// kind → status → count.
    pub bank_changes_by_kind: BTreeMap<String, BTreeMap<String, u64>>,
    /// approver role → count of applied guarded changes.
    pub bank_changes_by_approver_role: BTreeMap<String, u64>,
    /// bank → `YYYY-MM` → entries added.
    pub entries_added_by_bank_month: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The median of `xs` (None when empty).
pub fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn shares<'a>(rows: impl Iterator<Item = &'a ReferralRow>) -> Shares {
    let mut s = Shares::default();
    let mut times = Vec::new();
    for r in rows {
        s.total += 1;
        match r.status.as_str() {
            "acted" => s.acted += 1,
            "contested" => s.contested += 1,
            "refused" => s.refused += 1,
            _ => s.open += 1,
        }
        if let Some(t) = r.handling_seconds {
            times.push(t);
        }
    }
    if s.total > 0 {
        let t = s.total as f64;
        s.acted_share = s.acted as f64 / t;
        s.contested_share = s.contested as f64 / t;
        s.refused_share = s.refused as f64 / t;
    }
    s.median_handling_seconds = median(&mut times);
    s
}

/// Build the report. `entries_added` holds `(bank, month)` per added entry
/// (from the change log).
pub fn build(
    referrals: &[ReferralRow],
    proposals: &[ProposalRow],
    entries_added: &[(String, String)],
) -> GovernanceReport {
    let mut r = GovernanceReport {
        referrals: shares(referrals.iter()),
        ..Default::default()
    };
    let mut issuers: BTreeMap<&str, Vec<&ReferralRow>> = BTreeMap::new();
    let mut places: BTreeMap<&str, Vec<&ReferralRow>> = BTreeMap::new();
    for row in referrals {
        issuers.entry(&row.issuer).or_default().push(row);
        for j in &row.jurisdictions {
            places.entry(j).or_default().push(row);
        }
    }
    for (k, v) in issuers {
        r.referrals_by_issuer
            .insert(k.to_string(), shares(v.into_iter()));
    }
    for (k, v) in places {
        r.referrals_by_jurisdiction
            .insert(k.to_string(), shares(v.into_iter()));
    }
    for p in proposals {
        *r.bank_changes_by_kind
            .entry(p.kind.clone())
            .or_default()
            .entry(p.status.clone())
            .or_default() += 1;
        if matches!(p.status.as_str(), "approved" | "auto_approved") {
            let role = p.decided_role.clone().unwrap_or_else(|| "unknown".into());
            *r.bank_changes_by_approver_role.entry(role).or_default() += 1;
        }
    }
    for (bank, month) in entries_added {
        *r.entries_added_by_bank_month
            .entry(bank.clone())
            .or_default()
            .entry(month.clone())
            .or_default() += 1;
    }
    r
}

impl GovernanceReport {
    /// Plain-text rendering for the command line.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let line = |o: &mut String, name: &str, s: &Shares| {
            let _ = writeln!(
                o,
                "  {name}: {} referrals, acted {:.0}%, contested {:.0}%, refused {:.0}%, open {}, median handling {}",
                s.total,
                s.acted_share * 100.0,
                s.contested_share * 100.0,
                s.refused_share * 100.0,
                s.open,
                s.median_handling_seconds
                    .map(|t| format!("{t:.0} s"))
                    .unwrap_or_else(|| "n/a".into())
            );
        };
        let _ = writeln!(o, "Referrals and removal orders");
        line(&mut o, "all", &self.referrals);
        for (k, s) in &self.referrals_by_issuer {
            line(&mut o, &format!("issuer {k}"), s);
        }
        for (k, s) in &self.referrals_by_jurisdiction {
            line(&mut o, &format!("jurisdiction {k}"), s);
        }
        let _ = writeln!(o, "Guarded bank and policy changes");
        for (k, by) in &self.bank_changes_by_kind {
            let parts: Vec<String> = by.iter().map(|(s, n)| format!("{s}={n}")).collect();
            let _ = writeln!(o, "  {k}: {}", parts.join(" "));
        }
        for (role, n) in &self.bank_changes_by_approver_role {
            let _ = writeln!(o, "  approved by {role}: {n}");
        }
        let _ = writeln!(o, "Entries added per bank and month");
        for (bank, months) in &self.entries_added_by_bank_month {
            for (m, n) in months {
                let _ = writeln!(o, "  {bank} {m}: {n}");
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(issuer: &str, j: &[&str], status: &str, t: Option<f64>) -> ReferralRow {
        ReferralRow {
            issuer: issuer.into(),
            jurisdictions: j.iter().map(|s| s.to_string()).collect(),
            status: status.into(),
            handling_seconds: t,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn referrals_are_split_by_issuer_and_jurisdiction() {
        let rows = vec![
            row("Europol IRU", &["DE", "FR"], "acted", Some(600.0)),
            row("Europol IRU", &["DE"], "contested", Some(1800.0)),
            row("BKA", &["DE"], "refused", Some(60.0)),
            row("BKA", &["DE"], "open", None),
        ];
        let proposals = vec![
            ProposalRow {
                kind: "entries_add".into(),
                status: "approved".into(),
                decided_role: Some("lead".into()),
            },
            ProposalRow {
                kind: "entries_add".into(),
                status: "rejected".into(),
                decided_role: Some("admin".into()),
            },
            ProposalRow {
                kind: "charter_change".into(),
                status: "pending".into(),
                decided_role: None,
            },
        ];
        let added = vec![
            ("b".to_string(), "2026-10".to_string()),
            ("b".to_string(), "2026-11".to_string()),
            ("b".to_string(), "2026-11".to_string()),
        ];
        let r = build(&rows, &proposals, &added);
        assert_eq!(r.referrals.total, 4);
        assert_eq!(r.referrals.acted_share, 0.25);
        assert_eq!(r.referrals.median_handling_seconds, Some(600.0));
        let eu = &r.referrals_by_issuer["Europol IRU"];
        assert_eq!((eu.acted, eu.contested), (1, 1));
        assert_eq!(eu.median_handling_seconds, Some(1200.0));
        assert_eq!(r.referrals_by_jurisdiction["DE"].total, 4);
        assert_eq!(r.referrals_by_jurisdiction["FR"].total, 1);
        assert_eq!(r.bank_changes_by_kind["entries_add"]["approved"], 1);
        assert_eq!(r.bank_changes_by_approver_role.get("lead"), Some(&1));
        assert_eq!(r.bank_changes_by_approver_role.get("admin"), None);
        assert_eq!(r.entries_added_by_bank_month["b"]["2026-11"], 2);
        let text = r.to_text();
        assert!(text.contains("issuer BKA: 2 referrals"), "{text}");
        assert!(text.contains("b 2026-11: 2"));
    }
}
