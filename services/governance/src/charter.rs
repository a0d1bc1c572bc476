//! Bank charters: what a bank is for, which behaviour labels it may hold,
//! on what legal or policy basis, who owns it, where it applies and what a
//! match in it may do. A bank without a charter only ever routes to review.
//!
//! Also owns the behaviour taxonomy ([`TAXONOMY`]) that charters draw their
//! allowed labels from.

use serde::{Deserialize, Serialize};

/// The behaviour labels a charter may allow: a GIFCT-style taxonomy (modelled
/// on the behaviour categories of GIFCT's hash-sharing database, plus its
/// crisis-protocol and manifesto categories). Each is `gifct:<name>`; the
/// second field says what it covers.
pub const TAXONOMY: &[(&str, &str)] = &[
    (
        "gifct:imminent_credible_threat",
        "a specific, credible threat of imminent terrorist violence",
    ),
    (
        "gifct:graphic_violence",
        "graphic violence against defenceless people by a terrorist entity",
    ),
    (
        "gifct:glorification",
        "glorification of terrorist acts or their perpetrators",
    ),
    (
        "gifct:recruitment",
        "radicalisation, recruitment or instruction for terrorist purposes",
    ),
    (
        "gifct:attacker_manifesto",
        "a manifesto written by the perpetrator of an attack",
    ),
    (
        "gifct:incident_protocol",
        "content from an attack under an active content incident protocol (e.g. a livestream)",
    ),
];

/// Whether `label` is in [`TAXONOMY`].
pub fn is_taxonomy_label(label: &str) -> bool {
    TAXONOMY.iter().any(|(l, _)| *l == label)
}

/// What a match in a chartered bank may do automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CharterAction {
    /// Withhold in the charter's jurisdictions only.
    Restrict,
    /// Remove everywhere.
    Takedown,
}

impl CharterAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            CharterAction::Restrict => "restrict",
            CharterAction::Takedown => "takedown",
        }
    }
}

/// The kind of legal or policy ground a bank rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// The platform's own terms of service.
    TermsOfService,
    /// Removal orders under Regulation (EU) 2021/784 (TCO).
    EuTcoRemovalOrder,
    /// A named law (give its name in `LegalBasis::reference`).
    Law,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub kind: BasisKind,
    /// The clause, order or statute, e.g. `ToS §4.2` or `Online Safety Act 2023 s.10`.
    pub reference: String,
}

/// A bank's charter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charter {
    /// What the bank is for, in plain words.
    pub scope: String,
    /// Behaviour labels entries may carry (each from [`TAXONOMY`]).
    pub allowed_labels: Vec<String>,
    pub legal_basis: Vec<LegalBasis>,
    /// The accountable team or person.
    pub owner: String,
    /// ISO 3166 codes where the bank applies, or `*` for everywhere.
    pub jurisdictions: Vec<String>,
    /// What a match may do automatically; empty: review only.
    pub allowed_actions: Vec<CharterAction>,
    /// Exchange sources (provenance `exchange` or `shared_by`) whose imports
    /// into this bank are approved without a second person. Each such
    /// auto-approval is still logged.
    #[serde(default)]
    pub trusted_sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CharterError {
    #[error("the charter needs a scope")]
    NoScope,
    #[error("the charter needs an owner")]
    NoOwner,
    #[error("the charter needs at least one legal or policy basis")]
    NoBasis,
    #[error("legal basis of kind {0:?} needs a reference")]
    EmptyReference(BasisKind),
    #[error("the charter needs at least one allowed label")]
    NoLabels,
    #[error("label {0:?} is not in the taxonomy")]
    UnknownLabel(String),
    #[error("the charter needs at least one jurisdiction (or `*`)")]
    NoJurisdictions,
    #[error("jurisdiction {0:?} is not a two-letter ISO 3166 code, `EU` or `*`")]
    BadJurisdiction(String),
    #[error("restrict needs named jurisdictions, not `*`")]
    RestrictEverywhere,
}

impl Charter {
    /// Check the charter is complete and uses known labels and codes.
    pub fn validate(&self) -> Result<(), CharterError> {
        if self.scope.trim().is_empty() {
            return Err(CharterError::NoScope);
        }
        if self.owner.trim().is_empty() {
            return Err(CharterError::NoOwner);
        }
        if self.legal_basis.is_empty() {
            return Err(CharterError::NoBasis);
        }
        for b in &self.legal_basis {
            if b.reference.trim().is_empty() {
                return Err(CharterError::EmptyReference(b.kind));
            }
        }
        if self.allowed_labels.is_empty() {
            return Err(CharterError::NoLabels);
        }
        for l in &self.allowed_labels {
            if !is_taxonomy_label(l) {
                return Err(CharterError::UnknownLabel(l.clone()));
            }
        }
        if self.jurisdictions.is_empty() {
            return Err(CharterError::NoJurisdictions);
        }
        for j in &self.jurisdictions {
            if !valid_jurisdiction(j) {
                return Err(CharterError::BadJurisdiction(j.clone()));
            }
        }
        if self.allowed_actions == [CharterAction::Restrict] && self.everywhere() {
            return Err(CharterError::RestrictEverywhere);
        }
        Ok(())
    }

    fn everywhere(&self) -> bool {
        self.jurisdictions.iter().any(|j| j == "*")
    }

    /// Why an entry with `labels` may not be in this bank, if it may not.
    pub fn check_labels(&self, labels: &[String]) -> Result<(), LabelRejection> {
        if labels.is_empty() {
            return Err(LabelRejection::Unlabelled);
        }
        for l in labels {
            if !self.allowed_labels.iter().any(|a| a == l) {
                return Err(LabelRejection::OutsideCharter(l.clone()));
            }
        }
        Ok(())
    }

    /// The strongest automated action the charter allows, with the
    /// jurisdictions a restriction applies in.
    pub fn automated_action(&self) -> Option<(CharterAction, Vec<String>)> {
        let best = self.allowed_actions.iter().max()?;
        Some((*best, self.jurisdictions.clone()))
    }

    /// Whether `source` (an exchange or sharer name) is trusted for
    /// auto-approved imports.
    pub fn trusts(&self, source: &str) -> bool {
        !source.is_empty() && self.trusted_sources.iter().any(|s| s == source)
    }

    /// Whether `new` allows more than `self`: more labels, jurisdictions,
    /// actions or trusted sources. (Every charter change is guarded; this
    /// only words the diff.)
    pub fn widened_by(&self, new: &Charter) -> bool {
        let more = |a: &[String], b: &[String]| b.iter().any(|x| !a.contains(x));
        more(&self.allowed_labels, &new.allowed_labels)
            || more(&self.jurisdictions, &new.jurisdictions)
            || more(&self.trusted_sources, &new.trusted_sources)
            || new
                .allowed_actions
                .iter()
                .any(|x| !self.allowed_actions.contains(x))
    }
}

/// ISO 3166-1 alpha-2 (upper case), `EU`, or `*`.
pub fn valid_jurisdiction(j: &str) -> bool {
    j == "*" || (j.len() == 2 && j.bytes().all(|b| b.is_ascii_uppercase()))
}

/// Why an entry was refused by a charter. The `reason()` is a bounded metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelRejection {
    #[error("entry has no behaviour label; this bank's charter needs one of its allowed labels")]
    Unlabelled,
    #[error("label {0:?} is outside the bank's charter")]
    OutsideCharter(String),
}

impl LabelRejection {
    pub fn reason(&self) -> &'static str {
        match self {
            LabelRejection::Unlabelled => "unlabelled",
            LabelRejection::OutsideCharter(_) => "label_outside_charter",
        }
    }
}

#[cfg(test)]
pub(crate) fn sample() -> Charter {
    Charter {
        scope: "Known attacker livestreams and manifestos".into(),
        allowed_labels: vec![
            "gifct:attacker_manifesto".into(),
            "gifct:incident_protocol".into(),
        ],
        legal_basis: vec![LegalBasis {
            kind: BasisKind::TermsOfService,
            reference: "ToS §4.2 violent extremism".into(),
        }],
        owner: "trust-and-safety-ct".into(),
        jurisdictions: vec!["*".into()],
        allowed_actions: vec![CharterAction::Takedown],
        trusted_sources: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_charter_validates_and_gaps_are_named() {
        let c = sample();
        assert_eq!(c.validate(), Ok(()));
        let mut bad = c.clone();
        bad.allowed_labels.push("gifct:cats".into());
        assert_eq!(
            bad.validate(),
            Err(CharterError::UnknownLabel("gifct:cats".into()))
        );
        let mut bad = c.clone();
        bad.legal_basis.clear();
        assert_eq!(bad.validate(), Err(CharterError::NoBasis));
        let mut bad = c.clone();
        bad.jurisdictions = vec!["de".into()];
        assert_eq!(
            bad.validate(),
            Err(CharterError::BadJurisdiction("de".into()))
        );
        let mut bad = c.clone();
        bad.allowed_actions = vec![CharterAction::Restrict];
        assert_eq!(bad.validate(), Err(CharterError::RestrictEverywhere));
        let mut bad = c;
        bad.owner = " ".into();
        assert_eq!(bad.validate(), Err(CharterError::NoOwner));
    }

    #[test]
    fn labels_outside_the_charter_are_refused_with_a_reason() {
        let c = sample();
        assert_eq!(c.check_labels(&["gifct:attacker_manifesto".into()]), Ok(()));
        let r = c
            .check_labels(&[
                "gifct:attacker_manifesto".into(),
                "gifct:glorification".into(),
            ])
            .unwrap_err();
        assert_eq!(r.reason(), "label_outside_charter");
        assert!(r.to_string().contains("gifct:glorification"));
        assert_eq!(c.check_labels(&[]).unwrap_err().reason(), "unlabelled");
    }

    #[test]
    fn widening_and_actions() {
        let c = sample();
        let mut w = c.clone();
        assert!(!c.widened_by(&w));
        w.jurisdictions.push("DE".into());
        assert!(c.widened_by(&w));
        assert!(!w.widened_by(&c));
        assert_eq!(
            c.automated_action(),
            Some((CharterAction::Takedown, vec!["*".to_string()]))
        );
        let mut r = c.clone();
        r.allowed_actions.clear();
        assert_eq!(r.automated_action(), None);
        assert!(!c.trusts("gifct-hsdb"));
        r.trusted_sources.push("gifct-hsdb".into());
        assert!(r.trusts("gifct-hsdb"));
        assert!(!r.trusts(""));
    }

    #[test]
    fn every_taxonomy_label_is_namespaced_and_described() {
        for (l, d) in TAXONOMY {
            assert!(l.starts_with("gifct:") && !d.is_empty());
            assert!(is_taxonomy_label(l));
        }
        assert!(!is_taxonomy_label("glorification"));
    }
}
