//! The pure policy decision: `decide(evidence, policy) -> Verdict`.
//!
//! No IO, no clock, no randomness: the same evidence and policy always give
//! the same verdict, which is what lets a verdict be explained, replayed
//! under a shadow policy, and audited.

use crate::messages::{
    Action, PlatformContext, ReviewItem, SignalValue, UploadId, Verdict, MESSAGE_VERSION,
};
use crate::policy::{Policy, UndecodableAction};
use crate::sor::statement_for;
use chrono::{DateTime, Utc};
use vigil_hashdb::{BankAction, BankStatus, CharterScope, Match, SignalType};
use vigil_models::ClassifierOutput;

/// A bank match together with what the bank allows at the time of matching.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchEvidence {
    pub m: Match,
    pub bank_action: BankAction,
    pub bank_status: BankStatus,
    /// Set when this match must not trigger automated action (an entry its
    /// sharer disputes, a quarantined entry): why, for the reviewer.
    pub suppress_reason: Option<String>,
    /// The entry itself is quarantined (its overturn rate passed the
    /// policy's thresholds): queued with reason `quarantined_entry`.
    pub entry_quarantined: bool,
    /// What the bank's approved charter lets a match do automatically
    /// (governance, DESIGN.md §6a). `None`: the bank has no charter and its
    /// matches only ever route to review.
    pub charter: Option<CharterScope>,
}

/// The automated action a match in `bank` may take: a restriction in the
/// policy's jurisdictions for the bank when it scopes one, else what the
/// charter allows (takedown, or restrict in the charter's jurisdictions).
/// `None` when the charter allows no automated action.
pub fn automated_action(
    charter: Option<&CharterScope>,
    bank: &str,
    policy: &Policy,
) -> Option<Action> {
    let c = charter.filter(|c| c.may_act())?;
    if let Some(j) = policy.restrict_to(bank) {
        return Some(Action::Restrict {
            jurisdictions: j.to_vec(),
        });
    }
    Some(if c.takedown {
        Action::Takedown
    } else {
        Action::Restrict {
            jurisdictions: c.restrict_jurisdictions.clone(),
        }
    })
}

/// Raise `action` to `a` when `a` is more severe; two restrictions merge
/// their jurisdictions.
fn raise_to(action: &mut Action, a: Action) {
    if let (
        Action::Restrict {
            jurisdictions: have,
        },
        Action::Restrict {
            jurisdictions: more,
        },
    ) = (&mut *action, &a)
    {
        for j in more {
            if !have.contains(j) {
                have.push(j.clone());
            }
        }
        have.sort();
        return;
    }
    if a.severity() > action.severity() {
        *action = a;
    }
}

/// The `decode_error` kind of an upload whose analysis was started
/// `worker.max_attempts` times without finishing (a poison record).
pub const POISON: &str = "poison";

/// The review queue reason of a poison record.
pub const NOT_ANALYSED_QUEUE: &str = "not_analysed";

/// Everything the decision is based on.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub upload_id: UploadId,
    pub context: PlatformContext,
    pub signals: Vec<SignalValue>,
    /// PDQ quality, when an image was hashed.
    pub pdq_quality: Option<u8>,
    pub matches: Vec<MatchEvidence>,
    pub classifier: Option<ClassifierOutput>,
    /// The bounded kind of decode error, when the media did not decode.
    pub decode_error: Option<String>,
    /// When the decision is made (passed in, so `decide` stays pure).
    pub now: DateTime<Utc>,
}

/// Decide what to do, with every reason. Returns the verdict and, when a
/// person must look, the review item.
pub fn decide(ev: &Evidence, policy: &Policy) -> (Verdict, Option<ReviewItem>) {
    let mut action = Action::None;
    let mut reasons: Vec<String> = Vec::new();
    let mut queue_reason: Option<&'static str> = None;
    let mut priority = 0.0f64;
    let mut kept_matches = Vec::new();
    let raise = |a: Action, action: &mut Action| raise_to(action, a);

    let low_quality = ev.pdq_quality.is_some_and(|q| q < policy.pdq_min_quality);
    if low_quality {
        reasons.push(format!(
            "pdq quality {} is below the policy minimum {}: perceptual matches ignored",
            ev.pdq_quality.unwrap_or(0),
            policy.pdq_min_quality
        ));
    }

    // Allow-list matches suppress automated action for the whole upload.
    let mut allow_listed = false;
    for me in &ev.matches {
        let m = &me.m;
        // A low-detail image makes every perceptual hash unreliable (flat
        // images share their dHash and pHash bits as much as their PDQ).
        if !m.signal_type.is_exact() && low_quality {
            continue;
        }
        let (auto_t, review_t, review_only) = policy.pdq_thresholds(&m.bank);
        // The policy's thresholds are PDQ's; other distance-matched kinds
        // (dHash, pHash) were held to their bank's threshold by the lookup.
        let within_review = m.signal_type != SignalType::Pdq || m.distance <= review_t;
        if !within_review || me.bank_status == BankStatus::Disabled {
            continue;
        }
        kept_matches.push(m.clone());
        if me.bank_action == BankAction::Allow {
            allow_listed = true;
            reasons.push(format!(
                "{} match in allow-list bank {} (entry {}, distance {})",
                m.signal_type, m.bank, m.entry_id, m.distance
            ));
            continue;
        }
        let strength = 1.0 - f64::from(m.distance) / 64.0;
        priority = priority.max(strength);
        let exact = m.signal_type.is_exact();
        // Weak signals (64-bit dHash, pHash) only ever go to review.
        let signal_may_act = m.signal_type.kind().supports_automation();
        let within_auto = exact || (m.signal_type == SignalType::Pdq && m.distance <= auto_t);
        let auto_action = automated_action(me.charter.as_ref(), &m.bank, policy);
        let can_auto = signal_may_act
            && me.bank_action == BankAction::Takedown
            && me.bank_status == BankStatus::Active
            && me.suppress_reason.is_none()
            && !review_only
            && auto_action.is_some();
        if let (true, true, Some(a)) = (within_auto, can_auto, auto_action) {
            raise(a, &mut action);
            reasons.push(if exact {
                format!(
                    "exact {} match in bank {} (entry {})",
                    m.signal_type, m.bank, m.entry_id
                )
            } else {
                format!(
                    "pdq match in bank {} (entry {}) at distance {} <= auto threshold {}",
                    m.bank, m.entry_id, m.distance, auto_t
                )
            });
        } else {
            raise(Action::Review, &mut action);
            queue_reason.get_or_insert(if me.entry_quarantined {
                "quarantined_entry"
            } else if me.suppress_reason.is_some() {
                "disputed_or_quarantined_entry"
            } else if me.bank_status == BankStatus::Quarantined {
                "quarantined_bank"
            } else {
                "borderline_match"
            });
            let why = if let Some(r) = &me.suppress_reason {
                r.clone()
            } else if !signal_may_act {
                format!(
                    "{} is a weak 64-bit signal: its matches go to review only",
                    m.signal_type
                )
            } else if me.bank_status == BankStatus::Quarantined {
                "bank is quarantined".to_string()
            } else if me.bank_action == BankAction::Takedown
                && me.charter.as_ref().is_none_or(|c| !c.may_act())
            {
                "bank has no charter allowing automated action: review only".to_string()
            } else if !can_auto {
                "bank or policy allows review only".to_string()
            } else {
                format!("distance above auto threshold {auto_t}")
            };
            reasons.push(if m.signal_type == SignalType::Pdq || exact {
                format!(
                    "{} match in bank {} (entry {}) at distance {} <= review threshold {}: {}",
                    m.signal_type, m.bank, m.entry_id, m.distance, review_t, why
                )
            } else {
                format!(
                    "{} match in bank {} (entry {}) at distance {} (within the bank's {} threshold): {}",
                    m.signal_type, m.bank, m.entry_id, m.distance, m.signal_type, why
                )
            });
        }
    }

    if let Some(c) = &ev.classifier {
        let cp = &policy.classifier;
        if cp.auto_above.is_some_and(|a| c.score >= a) {
            raise(Action::Takedown, &mut action);
            reasons.push(format!(
                "classifier {} {} score {:.3} >= auto_above {:.3}",
                c.model,
                c.version,
                c.score,
                cp.auto_above.unwrap_or_default()
            ));
        } else if c.score >= cp.review_above {
            raise(Action::Review, &mut action);
            queue_reason.get_or_insert("classifier");
            priority = priority.max(f64::from(c.score) * 0.9);
            reasons.push(format!(
                "classifier {} {} score {:.3} >= review_above {:.3}",
                c.model, c.version, c.score, cp.review_above
            ));
        }
    }

    if let Some(kind) = &ev.decode_error {
        if kind == POISON {
            // Analysis was started again and again and never finished: the
            // file kills whatever parses it. Never analysed again, never
            // passed unseen: a person looks (docs/hardening.md).
            reasons.push(
                "media could not be analysed: every attempt ended with the analysing process dying, so it is not decoded again; only exact hashes were matched".into(),
            );
            raise(Action::Review, &mut action);
            queue_reason.get_or_insert(NOT_ANALYSED_QUEUE);
        } else {
            reasons.push(format!(
                "media could not be decoded ({kind}): only exact hashes were matched"
            ));
            if policy.undecodable == UndecodableAction::Review {
                raise(Action::Review, &mut action);
                queue_reason.get_or_insert("undecodable");
            }
        }
    }

    // Guards that turn an automated action into a human decision.
    if action.severity() > Action::Review.severity() {
        if allow_listed {
            action = Action::Review;
            queue_reason = Some("allow_list");
            reasons.push("automated action suppressed by an allow-list match".into());
        } else if policy
            .exempt_surfaces
            .iter()
            .any(|s| s == &ev.context.surface)
        {
            action = Action::Review;
            queue_reason = Some("exempt_surface");
            reasons.push(format!(
                "surface {:?} is exempt from automated action (possible journalism, counter-speech or documentation)",
                ev.context.surface
            ));
        }
    }

    if action == Action::None && reasons.is_empty() {
        reasons.push(
            "no signal matched any active bank and the classifier was below its review threshold"
                .into(),
        );
    }

    let mut verdict = Verdict {
        v: MESSAGE_VERSION,
        upload_id: ev.upload_id.clone(),
        policy_version: policy.version.clone(),
        action: action.clone(),
        signals: ev.signals.clone(),
        matches: kept_matches,
        classifier: ev.classifier.clone(),
        reasons,
        statement_of_reasons: None,
        decode_error: ev.decode_error.clone(),
        decided_at: ev.now,
    };
    verdict.statement_of_reasons = statement_for(&verdict, policy);
    let review = (action == Action::Review).then(|| {
        // Reach raises urgency; it never lowers it below the signal strength.
        let reach_boost = ev
            .context
            .reach
            .map(|r| ((r as f64).max(1.0).log10() / 10.0).min(0.5))
            .unwrap_or(0.0);
        ReviewItem {
            v: MESSAGE_VERSION,
            upload_id: ev.upload_id.clone(),
            policy_version: policy.version.clone(),
            queue_reason: queue_reason.unwrap_or("review").to_string(),
            priority: priority + reach_boost,
            created_at: ev.now,
        }
    });
    (verdict, review)
}

/// A vPDQ match of a video upload against a banked video, with what the
/// bank allows at the time of matching.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoMatchEvidence {
    pub bank: String,
    pub entry_id: String,
    pub labels: Vec<String>,
    pub bank_action: BankAction,
    pub bank_status: BankStatus,
    /// The bank's charter scope (None: review only), as for [`MatchEvidence`].
    pub charter: Option<CharterScope>,
    /// Shares, counts and time ranges from `vigil_vpdq`.
    pub m: vigil_vpdq::VideoMatch,
    /// The thresholds the shares were held against (percent).
    pub query_threshold_pct: f64,
    pub compared_threshold_pct: f64,
    /// Frames match strictly below this distance.
    pub distance_tolerance: u32,
}

impl VideoMatchEvidence {
    /// One line for the verdict's reasons: both shares, the thresholds and
    /// the matched time ranges on both sides.
    pub fn describe(&self) -> String {
        let ranges = |r: &[vigil_vpdq::TimeRange]| {
            if r.is_empty() {
                "none".to_string()
            } else {
                r.iter()
                    .map(|t| format!("{:.1}-{:.1} s", t.start, t.end))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        format!(
            "vpdq match in bank {} (entry {}): {:.1}% of {} query frames and {:.1}% of {} compared frames within distance {} (thresholds {:.0}% / {:.0}%); query at {}; compared at {}",
            self.bank,
            self.entry_id,
            self.m.query_pct,
            self.m.query_frames,
            self.m.compared_pct,
            self.m.compared_frames,
            self.distance_tolerance.saturating_sub(1),
            self.query_threshold_pct,
            self.compared_threshold_pct,
            ranges(&self.m.query_ranges),
            ranges(&self.m.compared_ranges),
        )
    }
}

/// [`decide`], then the vPDQ matches of a video upload folded in: a match
/// that meets its thresholds in an active `takedown` bank takes down (unless
/// the policy makes the bank review-only, the surface is exempt, or an
/// allow-list bank matched), any other meeting match goes to review, and
/// every kept match adds its shares and time ranges to the reasons. Pure,
/// like [`decide`].
pub fn decide_with_video(
    ev: &Evidence,
    video: &[VideoMatchEvidence],
    policy: &Policy,
) -> (Verdict, Option<ReviewItem>) {
    let (mut verdict, review) = decide(ev, policy);
    let kept: Vec<&VideoMatchEvidence> = video
        .iter()
        .filter(|v| v.m.is_match && v.bank_status != BankStatus::Disabled)
        .collect();
    if kept.is_empty() {
        return (verdict, review);
    }
    let mut action = verdict.action.clone();
    let mut queue_reason = review.as_ref().map(|r| r.queue_reason.clone());
    let mut priority = review.as_ref().map(|r| r.priority).unwrap_or(0.0);
    let mut allow_listed = false;
    let no_match_reason = verdict.reasons.len() == 1
        && verdict.action == Action::None
        && verdict.reasons[0].starts_with("no signal matched");
    if no_match_reason {
        verdict.reasons.clear();
    }
    for v in kept {
        let (_, _, review_only) = policy.pdq_thresholds(&v.bank);
        let mut line = v.describe();
        if v.bank_action == BankAction::Allow {
            allow_listed = true;
            line.push_str(" (allow-list bank)");
        } else if let (true, Some(a)) = (
            v.bank_action == BankAction::Takedown
                && v.bank_status == BankStatus::Active
                && !review_only,
            automated_action(v.charter.as_ref(), &v.bank, policy),
        ) {
            raise_to(&mut action, a);
        } else {
            if Action::Review.severity() > action.severity() {
                action = Action::Review;
            }
            queue_reason.get_or_insert_with(|| {
                if v.bank_status == BankStatus::Quarantined {
                    "quarantined_bank".into()
                } else {
                    "borderline_match".into()
                }
            });
            line.push_str(if v.bank_status == BankStatus::Quarantined {
                ": bank is quarantined"
            } else if v.bank_action == BankAction::Takedown
                && v.charter.as_ref().is_none_or(|c| !c.may_act())
            {
                ": bank has no charter allowing automated action: review only"
            } else {
                ": bank or policy allows review only"
            });
        }
        priority = priority.max(v.m.query_pct / 100.0);
        verdict.reasons.push(line);
    }
    if action.severity() > Action::Review.severity() {
        if allow_listed {
            action = Action::Review;
            queue_reason = Some("allow_list".into());
            verdict
                .reasons
                .push("automated action suppressed by an allow-list match".into());
        } else if policy
            .exempt_surfaces
            .iter()
            .any(|s| s == &ev.context.surface)
        {
            action = Action::Review;
            queue_reason = Some("exempt_surface".into());
            verdict.reasons.push(format!(
                "surface {:?} is exempt from automated action (possible journalism, counter-speech or documentation)",
                ev.context.surface
            ));
        }
    }
    verdict.action = action.clone();
    verdict.statement_of_reasons = statement_for(&verdict, policy);
    let review = (action == Action::Review).then(|| ReviewItem {
        v: MESSAGE_VERSION,
        upload_id: ev.upload_id.clone(),
        policy_version: policy.version.clone(),
        queue_reason: queue_reason.unwrap_or_else(|| "video_match".into()),
        priority,
        created_at: ev.now,
    });
    (verdict, review)
}
