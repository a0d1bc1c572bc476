//! Versioned decision policy, read from TOML (DESIGN.md §6).
//!
//! A policy says, per bank and signal, at which distance a match is actioned
//! automatically or sent to review, what the classifier may do (review only,
//! by default: a classifier alone never takes down without a human unless the
//! policy says so explicitly), which surfaces are exempt from automated
//! action, and what happens to media that cannot be decoded.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid policy: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid policy: {0}")]
    Invalid(String),
    #[error("invalid policy: {name} = {rate} is not a share in 0..=1")]
    BadSampleRate { name: String, rate: f64 },
    #[error("invalid policy: audit sampling is on but audit.salt is empty")]
    MissingSalt,
}

/// Thresholds for PDQ matches (Hamming distance, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdqThresholds {
    /// Distance at or below which a match in a `takedown` bank is actioned.
    pub auto_threshold: u32,
    /// Distance at or below which a match goes to human review.
    pub review_threshold: u32,
}

/// Per-bank overrides of the default thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankPolicy {
    pub auto_threshold: Option<u32>,
    pub review_threshold: Option<u32>,
    /// Never action this bank automatically, whatever the bank allows.
    #[serde(default)]
    pub review_only: bool,
    /// Automated action in this bank only restricts the upload in these
    /// jurisdictions (ISO 3166 codes) instead of a global takedown.
    #[serde(default)]
    pub restrict_to: Vec<String>,
}

/// How referrals and removal orders from authorities are acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReferralActionPolicy {
    /// Withhold in the referral's jurisdictions only.
    #[default]
    Restrict,
    /// Remove everywhere.
    Takedown,
}

/// `[referrals]`: what an accepted referral does to the uploads it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralPolicy {
    #[serde(default)]
    pub action: ReferralActionPolicy,
}

/// What the classifier may do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierPolicy {
    /// Calibrated score at or above which the upload goes to review.
    pub review_above: f32,
    /// Score at or above which the classifier alone takes down. Off (`None`)
    /// by default.
    #[serde(default)]
    pub auto_above: Option<f32>,
}

/// What to do with media that could not be decoded (exact hashes are still
/// matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndecodableAction {
    None,
    Review,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Written into every verdict; bump it on every change.
    pub version: String,
    /// PDQ hashes below this quality are not matched.
    #[serde(default = "default_min_quality")]
    pub pdq_min_quality: u8,
    pub pdq: PdqThresholds,
    #[serde(default)]
    pub banks: BTreeMap<String, BankPolicy>,
    pub classifier: ClassifierPolicy,
    /// Surfaces (e.g. `news`, `research`) whose uploads are never actioned
    /// automatically: matches there go to review as possible journalism,
    /// counter-speech or documentation.
    #[serde(default)]
    pub exempt_surfaces: Vec<String>,
    #[serde(default = "default_undecodable")]
    pub undecodable: UndecodableAction,
    /// When entries and banks are quarantined automatically.
    #[serde(default)]
    pub quarantine: crate::quarantine::QuarantinePolicy,
    #[serde(default)]
    pub referrals: ReferralPolicy,
    /// Blind audit sampling (off when the section is missing).
    #[serde(default)]
    pub audit: AuditPolicy,
}

/// Which share of automated actions, passed uploads and shadow-policy
/// disagreements goes to blind review (DESIGN.md §6, docs/accountability.md).
/// Sampling is a pure function of the upload id, these rates and the salt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicy {
    /// Share (0..=1) of automated takedowns (and other removals) audited.
    #[serde(default)]
    pub takedown_sample_rate: f64,
    /// Share (0..=1) of passed uploads (action `none`) audited.
    #[serde(default)]
    pub pass_sample_rate: f64,
    /// Share (0..=1) of live/shadow disagreements audited.
    #[serde(default)]
    pub shadow_sample_rate: f64,
    /// Per-bank takedown rates, overriding `takedown_sample_rate` for
    /// takedowns that matched the bank (the highest applies).
    #[serde(default)]
    pub banks: BTreeMap<String, f64>,
    /// Per-surface pass rates, overriding `pass_sample_rate`.
    #[serde(default)]
    pub surfaces: BTreeMap<String, f64>,
    /// The key of the sampling hash. Keep it secret, so uploaders cannot
    /// tell which uploads are audited; changing it changes the sample.
    #[serde(default)]
    pub salt: String,
    /// The false-positive rate (0..=1) the platform accepts for automated
    /// actions. Exported as `vigil_accountability_false_positive_budget`;
    /// the alert rules compare the estimate's Wilson bounds with it.
    #[serde(default)]
    pub false_positive_budget: Option<f64>,
    /// The miss rate (0..=1) the platform accepts among passed uploads,
    /// exported as `vigil_accountability_miss_budget`.
    #[serde(default)]
    pub miss_budget: Option<f64>,
}

impl AuditPolicy {
    /// Whether any sampling is configured.
    pub fn enabled(&self) -> bool {
        self.takedown_sample_rate > 0.0
            || self.pass_sample_rate > 0.0
            || self.shadow_sample_rate > 0.0
            || self.banks.values().any(|r| *r > 0.0)
            || self.surfaces.values().any(|r| *r > 0.0)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let check = |name: String, r: f64| {
            if r.is_finite() && (0.0..=1.0).contains(&r) {
                Ok(())
            } else {
                Err(PolicyError::BadSampleRate { name, rate: r })
            }
        };
        check(
            "audit.takedown_sample_rate".into(),
            self.takedown_sample_rate,
        )?;
        check("audit.pass_sample_rate".into(), self.pass_sample_rate)?;
        check("audit.shadow_sample_rate".into(), self.shadow_sample_rate)?;
        for (name, budget) in [
            ("audit.false_positive_budget", self.false_positive_budget),
            ("audit.miss_budget", self.miss_budget),
        ] {
            if let Some(b) = budget {
                check(name.into(), b)?;
            }
        }
        for (b, r) in &self.banks {
            check(format!("audit.banks.{b}"), *r)?;
        }
        for (s, r) in &self.surfaces {
            check(format!("audit.surfaces.{s}"), *r)?;
        }
        if self.enabled() && self.salt.trim().is_empty() {
            return Err(PolicyError::MissingSalt);
        }
        Ok(())
    }
}

fn default_min_quality() -> u8 {
    50
}

fn default_undecodable() -> UndecodableAction {
    UndecodableAction::None
}

/// The policy in force in a running process, shared by its workers, hook
/// and APIs. An approved policy version replaces it without a restart:
/// readers take the current `Arc<Policy>` once per decision, so one
/// decision never mixes two versions.
#[derive(Debug, Clone)]
pub struct SharedPolicy(Arc<RwLock<Arc<Policy>>>);

impl SharedPolicy {
    pub fn new(policy: Policy) -> SharedPolicy {
        SharedPolicy(Arc::new(RwLock::new(Arc::new(policy))))
    }

    /// The policy in force now.
    pub fn current(&self) -> Arc<Policy> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Put `policy` in force. Returns false (and changes nothing) when its
    /// version is already the one in force.
    pub fn replace(&self, policy: Policy) -> bool {
        let mut cur = self.0.write().unwrap_or_else(|p| p.into_inner());
        if cur.version == policy.version {
            return false;
        }
        *cur = Arc::new(policy);
        true
    }
}

/// The policy `vigil serve` uses when none is configured.
pub const DEFAULT_POLICY_TOML: &str = include_str!("default_policy.toml");

impl Policy {
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text)?;
        p.validate()?;
        Ok(p)
    }

    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::from_toml(&text)
    }

    pub fn builtin() -> Policy {
        Policy::from_toml(DEFAULT_POLICY_TOML).expect("the built-in policy is valid")
    }

    fn validate(&self) -> Result<(), PolicyError> {
        if self.version.trim().is_empty() {
            return Err(PolicyError::Invalid("version must not be empty".into()));
        }
        let check = |name: &str, auto: u32, review: u32| {
            if review > 63 {
                return Err(PolicyError::Invalid(format!(
                    "{name}: review_threshold {review} is over the maximum of 63"
                )));
            }
            if auto > review {
                return Err(PolicyError::Invalid(format!(
                    "{name}: auto_threshold {auto} is above review_threshold {review}"
                )));
            }
            Ok(())
        };
        check("pdq", self.pdq.auto_threshold, self.pdq.review_threshold)?;
        for (name, b) in &self.banks {
            let (a, r) = self.thresholds_with(b);
            check(&format!("banks.{name}"), a, r)?;
        }
        let c = &self.classifier;
        if !(0.0..=1.0).contains(&c.review_above) {
            return Err(PolicyError::Invalid(
                "classifier.review_above must be in 0..=1".into(),
            ));
        }
        if let Some(a) = c.auto_above {
            if !(0.0..=1.0).contains(&a) || a < c.review_above {
                return Err(PolicyError::Invalid(
                    "classifier.auto_above must be in 0..=1 and not below review_above".into(),
                ));
            }
        }
        self.quarantine.validate().map_err(PolicyError::Invalid)?;
        self.audit.validate()?;
        if self.pdq_min_quality > 100 {
            return Err(PolicyError::Invalid(
                "pdq_min_quality must be 0..=100".into(),
            ));
        }
        Ok(())
    }

    fn thresholds_with(&self, b: &BankPolicy) -> (u32, u32) {
        (
            b.auto_threshold.unwrap_or(self.pdq.auto_threshold),
            b.review_threshold.unwrap_or(self.pdq.review_threshold),
        )
    }

    /// The jurisdictions automated action in `bank` is restricted to, if the
    /// policy scopes it.
    pub fn restrict_to(&self, bank: &str) -> Option<&[String]> {
        self.banks
            .get(bank)
            .map(|b| b.restrict_to.as_slice())
            .filter(|j| !j.is_empty())
    }

    /// `(auto_threshold, review_threshold, review_only)` for a bank.
    pub fn pdq_thresholds(&self, bank: &str) -> (u32, u32, bool) {
        match self.banks.get(bank) {
            Some(b) => {
                let (a, r) = self.thresholds_with(b);
                (a, r, b.review_only)
            }
            None => (self.pdq.auto_threshold, self.pdq.review_threshold, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_policy_is_replaced_by_a_new_version_only() {
        let shared = SharedPolicy::new(Policy::builtin());
        let before = shared.current();
        assert!(
            !shared.replace(Policy::builtin()),
            "same version: no change"
        );
        let mut next = Policy::builtin();
        next.version = "next".into();
        assert!(shared.replace(next));
        assert_eq!(shared.current().version, "next");
        // A reader that took the old one keeps it for its decision.
        assert_eq!(before.version, Policy::builtin().version);
    }

    #[test]
    fn builtin_policy_is_valid() {
        let p = Policy::builtin();
        assert!(p.pdq.auto_threshold <= p.pdq.review_threshold);
        assert!(p.classifier.auto_above.is_none());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_thresholds() {
        let base = DEFAULT_POLICY_TOML;
        assert!(Policy::from_toml(&format!("{base}\nsurprise = 1\n")).is_err());
        let swapped = base.replace("auto_threshold = 20", "auto_threshold = 40");
        assert_ne!(swapped, base);
        assert!(matches!(
            Policy::from_toml(&swapped),
            Err(PolicyError::Invalid(_))
        ));
    }

    #[test]
    fn audit_section_parses_and_rejects_bad_rates() {
        let p = Policy::builtin();
        assert!(p.audit.enabled());
        assert!(p.audit.takedown_sample_rate > 0.0 && p.audit.pass_sample_rate > 0.0);
        let base = DEFAULT_POLICY_TOML;
        let with = |old: &str, new: &str| {
            let t = base.replace(old, new);
            assert_ne!(t, base, "{old} is in the built-in policy");
            Policy::from_toml(&t)
        };
        assert!(matches!(
            with("takedown_sample_rate = 0.05", "takedown_sample_rate = 1.5"),
            Err(PolicyError::BadSampleRate { ref name, .. }) if name == "audit.takedown_sample_rate"
        ));
        assert!(matches!(
            with("pass_sample_rate = 0.01", "pass_sample_rate = -0.1"),
            Err(PolicyError::BadSampleRate { .. })
        ));
        assert!(matches!(
            with("pass_sample_rate = 0.01", "pass_sample_rate = nan"),
            Err(PolicyError::BadSampleRate { .. })
        ));
        assert_eq!(p.audit.false_positive_budget, Some(0.05));
        assert_eq!(p.audit.miss_budget, Some(0.02));
        assert!(matches!(
            with("miss_budget = 0.02", "miss_budget = 2"),
            Err(PolicyError::BadSampleRate { ref name, .. }) if name == "audit.miss_budget"
        ));
        assert!(matches!(
            with("salt = \"", "salt = \"\" # \""),
            Err(PolicyError::MissingSalt)
        ));
        assert!(matches!(
            with("[audit]", "[audit]\nsample_everything = true"),
            Err(PolicyError::Parse(_))
        ));
        let over = format!("{base}\n[audit.banks]\nstrict = 2.0\n");
        assert!(matches!(
            Policy::from_toml(&over),
            Err(PolicyError::BadSampleRate { ref name, .. }) if name == "audit.banks.strict"
        ));
        let over = format!("{base}\n[audit.surfaces]\nnews = 0.5\n");
        assert_eq!(
            Policy::from_toml(&over).unwrap().audit.surfaces["news"],
            0.5
        );
        // No [audit] section at all: sampling off, no salt needed.
        let start = base.find("[audit]").unwrap();
        let end = base[start..]
            .find("\n\n")
            .map(|e| start + e)
            .unwrap_or(base.len());
        let without = format!("{}{}", &base[..start], &base[end..]);
        let p = Policy::from_toml(&without).unwrap();
        assert!(!p.audit.enabled());
    }

    #[test]
    fn per_bank_overrides() {
        let text = format!(
            "{DEFAULT_POLICY_TOML}\n[banks.strict]\nauto_threshold = 8\nreview_only = true\n"
        );
        let p = Policy::from_toml(&text).unwrap();
        assert_eq!(
            p.pdq_thresholds("strict"),
            (8, p.pdq.review_threshold, true)
        );
        assert_eq!(
            p.pdq_thresholds("other"),
            (p.pdq.auto_threshold, p.pdq.review_threshold, false)
        );
    }
}
