//! The statement of reasons (DSA art. 17 style) that every action other
//! than `none` carries: the decision, the facts and circumstances, whether
//! detection and decision were automated, the ground, and how to seek
//! redress. Built by pure code from the verdict's evidence; shown to the
//! uploader, so it names banks, labels, entries, distances and scores but
//! never a hash of the user's content.

use crate::messages::{Action, Verdict};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};
use vigil_hashdb::{Matching, SignalType};

/// Where an uploader contests the decision.
pub const APPEAL_ENDPOINT: &str = "POST /v1/appeals";

/// What a ground of the decision is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroundKind {
    /// A match in a hash bank (its labels say what kind of content).
    BankMatch,
    /// The classifier's score under a policy threshold.
    Classifier,
    /// The platform's policy (thresholds, surfaces) without a bank.
    Policy,
    /// A referral by an authority (filled by governance).
    Referral,
    /// A legal removal order (filled by governance).
    RemovalOrder,
}

/// One ground: the legal or contractual basis the action rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ground {
    pub kind: GroundKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// In words: the policy clause, bank scope or order.
    pub basis: String,
}

/// An authority's referral or order behind the action; filled by the
/// governance module when an action rests on one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralRef {
    pub referral_id: String,
    pub issuer: String,
    pub legal_basis: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jurisdictions: Vec<String>,
}

/// The statement of reasons stored with a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementOfReasons {
    /// The action (`takedown`, `review`, `restrict`, `block_upload`).
    pub action: String,
    /// The decision in words.
    pub decision: String,
    /// Facts and circumstances relied on.
    pub facts: Vec<String>,
    /// Whether the content was detected by automated means.
    pub automated_detection: bool,
    /// Whether the decision was taken by automated means alone.
    pub automated_decision: bool,
    pub grounds: Vec<Ground>,
    pub policy_version: String,
    /// How to contest it.
    pub redress: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralRef>,
}

impl StatementOfReasons {
    /// One paragraph for plain-text channels.
    pub fn summary(&self) -> String {
        format!(
            "{} Facts: {}. Automated detection: {}; automated decision: {}. Policy {}. {}",
            self.decision,
            self.facts.join("; "),
            if self.automated_detection {
                "yes"
            } else {
                "no"
            },
            if self.automated_decision { "yes" } else { "no" },
            self.policy_version,
            self.redress
        )
    }
}

fn signal_words(t: SignalType) -> &'static str {
    t.kind().description()
}

/// The statement for a verdict, or `None` when the action is `none`.
/// Reads only the verdict (already free of evidence that is not shown) and
/// the policy.
pub fn statement_for(v: &Verdict, policy: &Policy) -> Option<StatementOfReasons> {
    if v.action == Action::None {
        return None;
    }
    let removal = v.action.severity() > Action::Review.severity();
    let decision = match &v.action {
        Action::Review => {
            "Your upload was sent to a person for review; it stays up until they decide.".into()
        }
        Action::Takedown => "Your upload was removed.".into(),
        Action::BlockUpload => "Your upload was blocked.".into(),
        Action::Restrict { jurisdictions } => format!(
            "Your upload was restricted automatically in {} only; it stays visible elsewhere.",
            jurisdictions.join(", ")
        ),
        Action::None => unreachable!("handled above"),
    };
    let mut facts = Vec::new();
    let mut grounds: Vec<Ground> = Vec::new();
    for m in &v.matches {
        let how = match m.signal_type.matching() {
            Matching::Hamming { bits, .. } => format!("{} bits apart of {bits}", m.distance),
            Matching::Exact | Matching::Video => "identical".into(),
        };
        facts.push(format!(
            "matched entry {} of the hash bank {} by {} ({})",
            m.entry_id,
            m.bank,
            signal_words(m.signal_type),
            how
        ));
        if !grounds
            .iter()
            .any(|g| g.bank.as_deref() == Some(m.bank.as_str()))
        {
            grounds.push(Ground {
                kind: GroundKind::BankMatch,
                bank: Some(m.bank.clone()),
                labels: m.labels.clone(),
                basis: format!(
                    "content matching the bank {} of known terrorist or violent extremist content{}",
                    m.bank,
                    if m.labels.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", m.labels.join(", "))
                    }
                ),
            });
        }
    }
    for r in &v.reasons {
        if r.starts_with("vpdq match") {
            // The line states shares, thresholds and time ranges: no hashes.
            facts.push(r.clone());
        }
    }
    if let Some(c) = &v.classifier {
        facts.push(format!(
            "the classifier {} {} scored it {:.2} (0 to 1)",
            c.model, c.version, c.score
        ));
        let acted = v
            .reasons
            .iter()
            .any(|r| r.starts_with("classifier") && !r.contains("below"));
        if acted {
            grounds.push(Ground {
                kind: GroundKind::Classifier,
                bank: None,
                labels: vec![],
                basis: format!(
                    "a classifier score at or above the policy threshold (review {:.2}{})",
                    policy.classifier.review_above,
                    policy
                        .classifier
                        .auto_above
                        .map(|a| format!(", automated action {a:.2}"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    for r in &v.reasons {
        if r.starts_with("surface") || r.starts_with("automated action suppressed") {
            facts.push(r.clone());
        }
    }
    if let Some(k) = &v.decode_error {
        facts.push(format!("the media could not be decoded ({k})"));
    }
    if grounds.is_empty() {
        grounds.push(Ground {
            kind: GroundKind::Policy,
            bank: None,
            labels: vec![],
            basis: format!("the platform's policy, version {}", policy.version),
        });
    }
    let redress = if removal {
        format!("You can appeal this decision ({APPEAL_ENDPOINT}); a person who did not take it will review it.")
    } else {
        "No action has been taken yet; if a person removes it you will be able to appeal.".into()
    };
    Some(StatementOfReasons {
        action: v.action.as_str().to_string(),
        decision,
        facts,
        automated_detection: true,
        automated_decision: removal,
        grounds,
        policy_version: v.policy_version.clone(),
        redress,
        referral: None,
    })
}

/// Add who shared each matched entry, via which exchange and when, as
/// given by `provenance(bank, entry_id)` (a lookup in the hash database
/// the worker holds). Pure apart from calling the lookup.
pub fn add_provenance(
    s: &mut StatementOfReasons,
    v: &Verdict,
    provenance: impl Fn(&str, &str) -> Option<vigil_hashdb::Provenance>,
) {
    for m in &v.matches {
        if let Some(p) = provenance(&m.bank, &m.entry_id) {
            if p.shared_by.is_empty() && p.exchange.is_empty() {
                continue;
            }
            let mut line = format!("entry {} of {} was shared", m.entry_id, m.bank);
            if !p.shared_by.is_empty() {
                line.push_str(&format!(" by {}", p.shared_by));
            }
            if !p.exchange.is_empty() {
                line.push_str(&format!(" via {}", p.exchange));
            }
            if let Some(at) = &p.shared_at {
                line.push_str(&format!(" on {at}"));
            }
            if !s.facts.contains(&line) {
                s.facts.push(line);
            }
        }
    }
}
