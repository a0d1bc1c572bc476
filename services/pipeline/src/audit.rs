//! Which verdicts go to blind audit, and the strata an audit answer is
//! counted under (docs/accountability.md). Pure: a function of the verdict,
//! the upload's surface and the policy's `[audit]` section, so `decide`
//! stays untouched and a replay samples the same uploads.

use crate::messages::{Action, Verdict};
use crate::policy::Policy;
use serde::{Deserialize, Serialize};
pub use vigil_accountability::SampleKind;
use vigil_accountability::{audit_draw, should_audit};

/// One `(by, group)` an audited item is counted under: `("all", "all")`,
/// `("bank", name)`, `("label", label)`, `("signal", type)`,
/// `("model", "name version")`, `("surface", surface)`.
pub type Stratum = (String, String);

/// A verdict picked for blind audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditSample {
    pub kind: SampleKind,
    /// The sampling stratum whose rate applied, e.g. `takedown/bank:x`.
    pub stratum: String,
    /// The probability this item had of being sampled (for weighting).
    pub rate: f64,
    /// Every group the answer counts under.
    pub strata: Vec<Stratum>,
    /// The live action (never shown to the auditor).
    pub live_action: String,
    /// For shadow samples: the shadow policy's action and version.
    pub shadow_action: Option<String>,
    pub shadow_policy_version: Option<String>,
}

/// Whether the action removes or restricts the upload automatically.
pub fn is_removal(a: &Action) -> bool {
    a.severity()
        >= Action::Restrict {
            jurisdictions: vec![],
        }
        .severity()
}

/// The groups a verdict's audit answer is counted under.
pub fn strata_of(v: &Verdict, surface: &str) -> Vec<Stratum> {
    let mut out: Vec<Stratum> = vec![("all".into(), "all".into())];
    let mut push = |by: &str, g: &str| {
        let s = (by.to_string(), g.to_string());
        if !g.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    if is_removal(&v.action) || v.action == Action::Review {
        for m in &v.matches {
            push("bank", &m.bank);
            push("signal", m.signal_type.as_str());
            for l in &m.labels {
                push("label", l);
            }
        }
        if v.reasons.iter().any(|r| r.starts_with("vpdq match")) {
            push("signal", "vpdq");
        }
        if v.reasons
            .iter()
            .any(|r| r.starts_with("classifier") && r.contains(">= auto_above"))
        {
            push("signal", "classifier");
        }
    } else {
        push(
            "surface",
            if surface.is_empty() {
                "unknown"
            } else {
                surface
            },
        );
    }
    if let Some(c) = &v.classifier {
        push("model", &format!("{} {}", c.model, c.version));
    }
    out
}

/// The audit sample of a live verdict, if it is drawn: automated removals
/// at the takedown rate (the highest per-bank override of a matched bank
/// wins), passes at the pass rate (per-surface override). Review verdicts
/// are never sampled: a person looks at them anyway.
pub fn sample_verdict(v: &Verdict, surface: &str, policy: &Policy) -> Option<AuditSample> {
    let a = &policy.audit;
    let (kind, stratum, rate) = if is_removal(&v.action) {
        let mut best: Option<(String, f64)> = None;
        for m in &v.matches {
            if let Some(r) = a.banks.get(&m.bank) {
                if best.as_ref().is_none_or(|b| *r > b.1) {
                    best = Some((format!("takedown/bank:{}", m.bank), *r));
                }
            }
        }
        let (stratum, rate) = best.unwrap_or(("takedown".to_string(), a.takedown_sample_rate));
        (SampleKind::Takedown, stratum, rate)
    } else if v.action == Action::None {
        match a.surfaces.get(surface) {
            Some(r) => (SampleKind::Pass, format!("pass/surface:{surface}"), *r),
            None => (SampleKind::Pass, "pass".to_string(), a.pass_sample_rate),
        }
    } else {
        return None;
    };
    should_audit(v.upload_id.as_str(), &stratum, rate, &a.salt).then(|| AuditSample {
        kind,
        stratum,
        rate,
        strata: strata_of(v, surface),
        live_action: v.action.as_str().to_string(),
        shadow_action: None,
        shadow_policy_version: None,
    })
}

/// A disagreement between the live and the shadow verdict on the same
/// evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowDisagreement {
    pub live_action: String,
    pub shadow_action: String,
    pub shadow_policy_version: String,
    /// Set when the disagreement is drawn for blind review.
    pub sample: Option<AuditSample>,
}

/// Compare the live and shadow verdicts. `None` when they agree on the
/// action. A disagreement is drawn for blind review at the live policy's
/// `shadow_sample_rate`, unless the live verdict already sends the upload
/// to a person (that review is not blind). When the live verdict was also
/// drawn for audit, the worker queues one blind item that answers both.
pub fn compare_shadow(
    live: &Verdict,
    shadow: &Verdict,
    surface: &str,
    policy: &Policy,
) -> Option<ShadowDisagreement> {
    if live.action.as_str() == shadow.action.as_str() {
        return None;
    }
    let (l, s) = (live.action.as_str(), shadow.action.as_str());
    let stratum = "shadow".to_string();
    let rate = policy.audit.shadow_sample_rate;
    let sample = (live.action != Action::Review
        && should_audit(live.upload_id.as_str(), &stratum, rate, &policy.audit.salt))
    .then(|| {
        // The union of both verdicts' groups: a disagreement is about both.
        let mut strata = strata_of(live, surface);
        for x in strata_of(shadow, surface) {
            if !strata.contains(&x) {
                strata.push(x);
            }
        }
        AuditSample {
            kind: SampleKind::Shadow,
            stratum,
            rate,
            strata,
            live_action: l.to_string(),
            shadow_action: Some(s.to_string()),
            shadow_policy_version: Some(shadow.policy_version.clone()),
        }
    });
    Some(ShadowDisagreement {
        live_action: l.to_string(),
        shadow_action: s.to_string(),
        shadow_policy_version: shadow.policy_version.clone(),
        sample,
    })
}

/// The review item priority of audit items: below every signal-driven item,
/// so audits fill reviewers' idle time without delaying urgent cases.
pub const AUDIT_PRIORITY: f64 = 0.05;

/// The uniform draw of an upload for a stratum (exposed for tests and the
/// demo's reporting of how the sample was drawn).
pub fn draw(upload_id: &str, stratum: &str, policy: &Policy) -> f64 {
    audit_draw(upload_id, stratum, &policy.audit.salt)
}
