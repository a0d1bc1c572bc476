//! Late verdicts: what a retro-hunt hit means for a past upload.
//!
//! Pure: the verdict given at upload time, the upload's platform context
//! and the matches found against entries added later go through the same
//! [`decide`] as live traffic; the result is stored beside the original as
//! policy version `<version>+retro` (idempotent on `(upload_id,
//! policy_version)`), so borderline hits become review items and close
//! hits in a takedown bank take the upload down. A late verdict is only
//! worth writing when it asks for more than the original did: the original
//! was then a miss at the time of upload.

use crate::actions::RETRO_SUFFIX;
use crate::decide::{decide, Evidence, MatchEvidence};
use crate::messages::{PlatformContext, ReviewItem, Verdict};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use vigil_hashdb::{SignalType, Signals};

/// The policy version a late verdict is stored under.
pub fn retro_version(policy: &Policy) -> String {
    format!("{}{RETRO_SUFFIX}", policy.version)
}

/// Decode an upload's retained hex signals into a lookup query. `None` when
/// MD5 or SHA-256 is missing or malformed (a corrupt row).
pub fn signals_from_hex(md5: &str, sha256: &str, pdq: Option<(&str, u8)>) -> Option<Signals> {
    let md5: [u8; 16] = hex::decode(md5).ok()?.try_into().ok()?;
    let sha256: [u8; 32] = hex::decode(sha256).ok()?.try_into().ok()?;
    let pdq = match pdq {
        Some((h, q)) => Some((vigil_hashdb::PdqHash::from_hex(h).ok()?, q)),
        None => None,
    };
    Some(Signals {
        pdq,
        ..Signals::exact(md5, sha256)
    })
}

/// The late verdict for a past upload, or `None` when the new matches ask
/// for no more than the original verdict did (nothing was missed).
pub fn late_verdict(
    original: &Verdict,
    context: &PlatformContext,
    received_at: DateTime<Utc>,
    matches: Vec<MatchEvidence>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<(Verdict, Option<ReviewItem>)> {
    if matches.is_empty() {
        return None;
    }
    let pdq_quality = original
        .signals
        .iter()
        .find(|s| s.signal_type == SignalType::Pdq)
        .and_then(|s| s.quality);
    let evidence = Evidence {
        upload_id: original.upload_id.clone(),
        context: context.clone(),
        signals: original.signals.clone(),
        pdq_quality,
        matches,
        classifier: original.classifier.clone(),
        decode_error: original.decode_error.clone(),
        now,
    };
    let (mut verdict, mut review) = decide(&evidence, policy);
    if verdict.action.severity() <= original.action.severity() {
        return None;
    }
    let version = retro_version(policy);
    let delay = (now - received_at).num_seconds().max(0);
    verdict.policy_version = version.clone();
    verdict.reasons.insert(
        0,
        format!(
            "retro-hunt: matched bank entries added after the upload (verdict at upload: {} under policy {}; found {} s after upload)",
            original.action.as_str(),
            original.policy_version,
            delay
        ),
    );
    // The statement names the retro-hunt version the action is taken under.
    verdict.statement_of_reasons = crate::sor::statement_for(&verdict, policy);
    if let Some(r) = review.as_mut() {
        r.policy_version = version;
    }
    Some((verdict, review))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Action, SignalValue, UploadId, MESSAGE_VERSION};
    use vigil_hashdb::{BankAction, BankStatus, Match};

    fn original(action: Action) -> Verdict {
        Verdict {
            v: MESSAGE_VERSION,
            upload_id: UploadId::parse("u1").unwrap(),
            policy_version: "p0".into(),
            action,
            signals: vec![SignalValue {
                signal_type: SignalType::Pdq,
                value: "00".repeat(32),
                quality: Some(90),
            }],
            matches: vec![],
            classifier: None,
            reasons: vec![],
            statement_of_reasons: None,
            decode_error: None,
            decided_at: Utc::now(),
        }
    }

    fn hit(distance: u32) -> MatchEvidence {
        MatchEvidence {
            m: Match {
                bank: "late".into(),
                entry_id: "e1".into(),
                signal_type: vigil_hashdb::SignalType::Pdq,
                distance,
                labels: vec![],
            },
            bank_action: BankAction::Takedown,
            bank_status: BankStatus::Active,
            suppress_reason: None,
            entry_quarantined: false,
            charter: Some(vigil_hashdb::CharterScope {
                takedown: true,
                restrict_jurisdictions: vec![],
            }),
        }
    }

    #[test]
    fn close_hits_take_down_borderline_hits_go_to_review() {
        let p = Policy::builtin();
        let received = Utc::now() - chrono::Duration::hours(2);
        let now = Utc::now();
        let ctx = PlatformContext::default();
        let (v, r) = late_verdict(
            &original(Action::None),
            &ctx,
            received,
            vec![hit(3)],
            &p,
            now,
        )
        .unwrap();
        assert_eq!(v.action, Action::Takedown);
        assert_eq!(v.policy_version, format!("{}+retro", p.version));
        assert!(v.reasons[0].starts_with("retro-hunt"), "{:?}", v.reasons);
        assert!(r.is_none());
        let (v, r) = late_verdict(
            &original(Action::None),
            &ctx,
            received,
            vec![hit(25)],
            &p,
            now,
        )
        .unwrap();
        assert_eq!(v.action, Action::Review);
        assert_eq!(r.unwrap().policy_version, v.policy_version);
        // Nothing missed: the original already did as much.
        assert!(late_verdict(
            &original(Action::Takedown),
            &ctx,
            received,
            vec![hit(3)],
            &p,
            now
        )
        .is_none());
        assert!(late_verdict(&original(Action::None), &ctx, received, vec![], &p, now).is_none());
    }

    #[test]
    fn hex_signals_round_trip_and_reject_garbage() {
        let s = signals_from_hex(
            &"ab".repeat(16),
            &"cd".repeat(32),
            Some((&"0f".repeat(32), 80)),
        )
        .unwrap();
        assert_eq!(s.md5, [0xab; 16]);
        assert_eq!(s.pdq.unwrap().1, 80);
        assert!(signals_from_hex("zz", &"cd".repeat(32), None).is_none());
        assert!(signals_from_hex(&"ab".repeat(16), &"cd".repeat(31), None).is_none());
    }
}
