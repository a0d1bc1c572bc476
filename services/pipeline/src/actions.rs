//! The actions Vigil asks the platform to carry out (`vigil.actions` and the
//! action webhook): take an upload down, restrict it in named
//! jurisdictions, or reinstate it after a human overturned a removal.
//!
//! Pure: which verdict or human decision causes which action. The store
//! writes the action into its outbox in the same transaction as the verdict
//! or decision; delivery lives in `vigil-hook`.

use crate::messages::{Action, UploadId, Verdict, MESSAGE_VERSION};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the platform is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformAction {
    Takedown,
    Restrict {
        jurisdictions: Vec<String>,
    },
    /// Put the upload back: a person overturned a removal.
    Reinstate,
}

impl PlatformAction {
    /// Bounded label for metrics and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            PlatformAction::Takedown => "takedown",
            PlatformAction::Restrict { .. } => "restrict",
            PlatformAction::Reinstate => "reinstate",
        }
    }

    /// Whether the upload is down (or restricted) after this action.
    pub fn removes(&self) -> bool {
        !matches!(self, PlatformAction::Reinstate)
    }
}

/// Who caused an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionCause {
    /// A verdict of the worker.
    Automated,
    /// A late verdict of a retro-hunt.
    Retrohunt,
    /// A reviewer's decision.
    Human,
}

/// One action, as delivered. `action_id` is stable: the platform
/// de-duplicates on it (delivery is at-least-once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionMsg {
    pub v: u32,
    pub action_id: String,
    pub upload_id: UploadId,
    pub action: PlatformAction,
    pub cause: ActionCause,
    /// The policy version of the verdict the action concerns.
    pub policy_version: String,
    /// The human decision behind the action, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_of_reasons: Option<crate::sor::StatementOfReasons>,
    pub created_at: DateTime<Utc>,
}

impl ActionMsg {
    /// The outbox's idempotency key: one action per verdict, one per decision.
    pub fn source(&self) -> String {
        match &self.decision_id {
            Some(d) => format!("decision:{d}"),
            None => format!("verdict:{}", self.policy_version),
        }
    }
}

/// The action an automated verdict causes, if any: takedown and restrict
/// (block_upload is answered synchronously by the hook; review and none
/// cause nothing yet).
pub fn action_for_verdict(v: &Verdict, action_id: String) -> Option<ActionMsg> {
    let action = match &v.action {
        Action::Takedown => PlatformAction::Takedown,
        Action::Restrict { jurisdictions } => PlatformAction::Restrict {
            jurisdictions: jurisdictions.clone(),
        },
        Action::None | Action::Review | Action::BlockUpload => return None,
    };
    let cause = if v.policy_version.ends_with(RETRO_SUFFIX) {
        ActionCause::Retrohunt
    } else {
        ActionCause::Automated
    };
    Some(ActionMsg {
        v: MESSAGE_VERSION,
        action_id,
        upload_id: v.upload_id.clone(),
        action,
        cause,
        policy_version: v.policy_version.clone(),
        decision_id: None,
        reasons: v.reasons.clone(),
        statement_of_reasons: v.statement_of_reasons.clone(),
        created_at: v.decided_at,
    })
}

/// A final human decision, reduced to what matters for the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HumanOutcome {
    /// Violating: it must be (or stay) down.
    Remove,
    /// Not violating: it must be (or go back) up.
    Keep,
}

/// A final human decision on an upload.
#[derive(Debug, Clone)]
pub struct HumanDecision<'a> {
    pub upload_id: &'a UploadId,
    pub policy_version: &'a str,
    pub decision_id: &'a str,
    /// The reason code from the fixed list.
    pub reason: &'a str,
    pub outcome: HumanOutcome,
    pub decided_at: DateTime<Utc>,
}

/// The action a human decision causes, given whether the upload is down
/// now (the last action removed it): removing an upload that is up is a
/// takedown, keeping one that is down reinstates it (issue 7: an overturned
/// automated takedown is undone), anything else changes nothing.
pub fn action_for_decision(
    d: &HumanDecision<'_>,
    currently_removed: bool,
    action_id: String,
) -> Option<ActionMsg> {
    let (action, why) = match (d.outcome, currently_removed) {
        (HumanOutcome::Remove, false) => (
            PlatformAction::Takedown,
            format!("a reviewer found it violating ({})", d.reason),
        ),
        (HumanOutcome::Keep, true) => (
            PlatformAction::Reinstate,
            format!("a reviewer overturned the removal ({})", d.reason),
        ),
        _ => return None,
    };
    Some(ActionMsg {
        v: MESSAGE_VERSION,
        action_id,
        upload_id: d.upload_id.clone(),
        action,
        cause: ActionCause::Human,
        policy_version: d.policy_version.to_string(),
        decision_id: Some(d.decision_id.to_string()),
        reasons: vec![why],
        statement_of_reasons: None,
        created_at: d.decided_at,
    })
}

/// Appended to the policy version of a retro-hunt's late verdict, so it is
/// stored beside (never over) the verdict given at upload time.
pub const RETRO_SUFFIX: &str = "+retro";

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(action: Action, policy_version: &str) -> Verdict {
        Verdict {
            v: MESSAGE_VERSION,
            upload_id: UploadId::parse("u1").unwrap(),
            policy_version: policy_version.into(),
            action,
            signals: vec![],
            matches: vec![],
            classifier: None,
            reasons: vec!["r".into()],
            statement_of_reasons: None,
            decode_error: None,
            decided_at: Utc::now(),
        }
    }

    #[test]
    fn verdicts_cause_takedown_and_restrict_only() {
        let t = action_for_verdict(&verdict(Action::Takedown, "p1"), "a1".into()).unwrap();
        assert_eq!(t.action, PlatformAction::Takedown);
        assert_eq!(t.cause, ActionCause::Automated);
        assert_eq!(t.source(), "verdict:p1");
        let r = action_for_verdict(
            &verdict(
                Action::Restrict {
                    jurisdictions: vec!["DE".into()],
                },
                "p1+retro",
            ),
            "a2".into(),
        )
        .unwrap();
        assert_eq!(r.cause, ActionCause::Retrohunt);
        assert_eq!(
            serde_json::to_value(&r.action).unwrap(),
            serde_json::json!({"restrict": {"jurisdictions": ["DE"]}})
        );
        assert!(action_for_verdict(&verdict(Action::Review, "p1"), "a3".into()).is_none());
        assert!(action_for_verdict(&verdict(Action::None, "p1"), "a4".into()).is_none());
    }

    #[test]
    fn decisions_take_down_or_reinstate_only_when_the_state_changes() {
        let id = UploadId::parse("u1").unwrap();
        let now = Utc::now();
        let mk = |outcome, removed| {
            let d = HumanDecision {
                upload_id: &id,
                policy_version: "p1",
                decision_id: "d1",
                reason: "x",
                outcome,
                decided_at: now,
            };
            action_for_decision(&d, removed, "a".into())
        };
        assert_eq!(
            mk(HumanOutcome::Keep, true).unwrap().action,
            PlatformAction::Reinstate
        );
        assert_eq!(
            mk(HumanOutcome::Remove, false).unwrap().action,
            PlatformAction::Takedown
        );
        assert!(mk(HumanOutcome::Keep, false).is_none());
        assert!(mk(HumanOutcome::Remove, true).is_none());
        assert_eq!(
            mk(HumanOutcome::Keep, true).unwrap().source(),
            "decision:d1"
        );
    }
}
