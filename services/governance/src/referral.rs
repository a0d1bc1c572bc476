//! Referrals and removal orders from authorities: who issued them, on what
//! legal basis, for which jurisdictions, by when, naming which uploads or
//! hashes; the action they lead to (a `restrict` in the named jurisdictions
//! or a global takedown, as policy says) and the statement of reasons that
//! names the order.

use serde::{Deserialize, Serialize};

/// What a referral names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    Upload { upload_id: String },
    Hash { signal_type: String, signal: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Recorded, not yet acted on.
    Open,
    /// Acted on (every named upload restricted or removed).
    Acted,
    /// A reviewer contested it (with a reason); any action stays recorded.
    Contested,
    /// Refused without action (with a reason).
    Refused,
}

impl ReferralStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReferralStatus::Open => "open",
            ReferralStatus::Acted => "acted",
            ReferralStatus::Contested => "contested",
            ReferralStatus::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<ReferralStatus> {
        [
            ReferralStatus::Open,
            ReferralStatus::Acted,
            ReferralStatus::Contested,
            ReferralStatus::Refused,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// How a referral is acted on (policy `[referrals] action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReferralAction {
    /// Withhold in the referral's jurisdictions only (the default: an
    /// authority's order reaches as far as its jurisdiction).
    #[default]
    Restrict,
    /// Remove everywhere.
    Takedown,
}

/// A referral or removal order as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReferral {
    /// The issuing authority, e.g. `Europol IRU` or `BKA`.
    pub issuer: String,
    /// E.g. `EU TCO Regulation 2021/784 art. 3 removal order`.
    pub legal_basis: String,
    /// The issuer's own reference for the order, if any.
    #[serde(default)]
    pub reference: Option<String>,
    /// ISO 3166 codes (or `EU`).
    pub jurisdictions: Vec<String>,
    /// RFC 3339 deadline, if the order sets one (TCO: one hour).
    #[serde(default)]
    pub deadline: Option<String>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    #[error("a referral needs an issuer")]
    NoIssuer,
    #[error("a referral needs a legal basis")]
    NoBasis,
    #[error("a referral needs at least one jurisdiction")]
    NoJurisdictions,
    #[error("jurisdiction {0:?} is not a two-letter ISO 3166 code or `EU`")]
    BadJurisdiction(String),
    #[error("a referral must name at least one upload or hash")]
    NoTargets,
    #[error("deadline {0:?} is not an RFC 3339 time")]
    BadDeadline(String),
    #[error("a contest or refusal needs a reason")]
    NoReason,
}

impl NewReferral {
    pub fn validate(&self) -> Result<(), ReferralError> {
        if self.issuer.trim().is_empty() {
            return Err(ReferralError::NoIssuer);
        }
        if self.legal_basis.trim().is_empty() {
            return Err(ReferralError::NoBasis);
        }
        if self.jurisdictions.is_empty() {
            return Err(ReferralError::NoJurisdictions);
        }
        for j in &self.jurisdictions {
            // A referral is never worldwide: `*` is refused.
            if j == "*" || !crate::charter::valid_jurisdiction(j) {
                return Err(ReferralError::BadJurisdiction(j.clone()));
            }
        }
        if self.targets.is_empty() {
            return Err(ReferralError::NoTargets);
        }
        if let Some(d) = &self.deadline {
            chrono::DateTime::parse_from_rfc3339(d)
                .map_err(|_| ReferralError::BadDeadline(d.clone()))?;
        }
        Ok(())
    }
}

/// The action for one upload a referral names: `(restrict, jurisdictions)`
/// where `restrict == false` means a global takedown.
pub fn scoped_action(r: &NewReferral, policy: ReferralAction) -> (bool, Vec<String>) {
    match policy {
        ReferralAction::Restrict => (true, r.jurisdictions.clone()),
        ReferralAction::Takedown => (false, Vec::new()),
    }
}

/// The statement of reasons for an action taken on a referral: it names
/// the order, its issuer and legal basis, and where it applies.
pub fn statement_of_reasons(referral_id: &str, r: &NewReferral, restrict: bool) -> String {
    let reference = r
        .reference
        .as_deref()
        .map(|x| format!(" (their reference {x})"))
        .unwrap_or_default();
    let scope = if restrict {
        format!(
            "Access was restricted in {} only",
            r.jurisdictions.join(", ")
        )
    } else {
        "The content was removed".to_string()
    };
    format!(
        "{scope} on referral {referral_id} from {}{reference}, legal basis: {}. This was a human decision on an authority's order, not an automated match. You can appeal this decision; the platform may also contest the order.",
        r.issuer, r.legal_basis
    )
}

#[cfg(test)]
pub(crate) fn sample() -> NewReferral {
    NewReferral {
        issuer: "Europol IRU".into(),
        legal_basis: "EU TCO Regulation 2021/784 art. 3 removal order".into(),
        reference: Some("RO-2026-0042".into()),
        jurisdictions: vec!["DE".into(), "FR".into()],
        deadline: Some("2026-11-24T17:00:00Z".into()),
        targets: vec![Target::Upload {
            upload_id: "u1".into(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrals_validate() {
        let r = sample();
        assert_eq!(r.validate(), Ok(()));
        let mut bad = r.clone();
        bad.jurisdictions = vec!["*".into()];
        assert!(matches!(
            bad.validate(),
            Err(ReferralError::BadJurisdiction(_))
        ));
        let mut bad = r.clone();
        bad.targets.clear();
        assert_eq!(bad.validate(), Err(ReferralError::NoTargets));
        let mut bad = r.clone();
        bad.deadline = Some("tomorrow".into());
        assert!(matches!(bad.validate(), Err(ReferralError::BadDeadline(_))));
        let mut bad = r;
        bad.issuer = "".into();
        assert_eq!(bad.validate(), Err(ReferralError::NoIssuer));
    }

    #[test]
    fn restrict_is_scoped_and_the_statement_names_the_order() {
        let r = sample();
        let (restrict, j) = scoped_action(&r, ReferralAction::Restrict);
        assert!(restrict);
        assert_eq!(j, vec!["DE", "FR"]);
        assert_eq!(
            scoped_action(&r, ReferralAction::Takedown),
            (false, Vec::new())
        );
        let s = statement_of_reasons("ref-1", &r, true);
        assert!(s.contains("ref-1") && s.contains("RO-2026-0042") && s.contains("Europol IRU"));
        assert!(s.contains("DE, FR") && s.contains("2021/784"));
        assert!(statement_of_reasons("ref-1", &r, false).contains("removed"));
    }
}
