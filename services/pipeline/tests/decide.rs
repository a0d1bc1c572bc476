//! The pure decision, without Kafka, HTTP or SQL.

use chrono::{TimeZone, Utc};
use vigil_hashdb::{BankAction, BankStatus, CharterScope, Match, SignalType};
use vigil_models::ClassifierOutput;
use vigil_pipeline::policy::UndecodableAction;
use vigil_pipeline::{decide, Action, Evidence, MatchEvidence, PlatformContext, Policy, UploadId};

fn ev(matches: Vec<MatchEvidence>, score: Option<f32>) -> Evidence {
    Evidence {
        upload_id: UploadId::parse("u1").unwrap(),
        context: PlatformContext {
            surface: "feed".into(),
            ..Default::default()
        },
        signals: vec![],
        pdq_quality: Some(90),
        matches,
        classifier: score.map(|score| ClassifierOutput {
            model: "m".into(),
            version: "1".into(),
            score,
        }),
        decode_error: None,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn pdq_match(bank: &str, distance: u32, action: BankAction, status: BankStatus) -> MatchEvidence {
    MatchEvidence {
        m: Match {
            bank: bank.into(),
            entry_id: "e1".into(),
            signal_type: SignalType::Pdq,
            distance,
            labels: vec!["l".into()],
        },
        bank_action: action,
        bank_status: status,
        suppress_reason: None,
        entry_quarantined: false,
        charter: Some(CharterScope {
            takedown: true,
            restrict_jurisdictions: vec![],
        }),
    }
}

fn action_of(e: &Evidence, p: &Policy) -> Action {
    decide(e, p).0.action
}

#[test]
fn thresholds_split_takedown_review_none() {
    let p = Policy::builtin();
    let m = |d| {
        ev(
            vec![pdq_match("b", d, BankAction::Takedown, BankStatus::Active)],
            None,
        )
    };
    assert_eq!(action_of(&m(0), &p), Action::Takedown);
    assert_eq!(action_of(&m(p.pdq.auto_threshold), &p), Action::Takedown);
    assert_eq!(action_of(&m(p.pdq.auto_threshold + 1), &p), Action::Review);
    assert_eq!(action_of(&m(p.pdq.review_threshold), &p), Action::Review);
    assert_eq!(action_of(&m(p.pdq.review_threshold + 1), &p), Action::None);
    let (v, item) = decide(&m(3), &p);
    assert!(item.is_none());
    assert_eq!(v.matches.len(), 1);
    let sor = v.statement_of_reasons.unwrap();
    assert_eq!(sor.action, "takedown");
    assert!(sor.automated_detection && sor.automated_decision);
    assert!(sor.facts.iter().any(|f| f.contains("bank b")), "{sor:?}");
    assert_eq!(sor.grounds[0].bank.as_deref(), Some("b"));
    assert!(sor.redress.contains("/v1/appeals"));
    assert_eq!(sor.policy_version, p.version);
    // Every action other than `none` carries a statement; review is not an
    // automated decision.
    let (v, item) = decide(&m(25), &p);
    assert_eq!(item.unwrap().queue_reason, "borderline_match");
    let sor = v.statement_of_reasons.unwrap();
    assert!(sor.automated_detection && !sor.automated_decision);
    let (v, _) = decide(&m(40), &p);
    assert_eq!(v.action, Action::None);
    assert!(v.statement_of_reasons.is_none());
}

#[test]
fn review_only_quarantined_disabled_and_allow_banks() {
    let p = Policy::builtin();
    let one = |a, s| ev(vec![pdq_match("b", 2, a, s)], None);
    assert_eq!(
        action_of(&one(BankAction::ReviewOnly, BankStatus::Active), &p),
        Action::Review
    );
    let (_, item) = decide(&one(BankAction::Takedown, BankStatus::Quarantined), &p);
    assert_eq!(item.unwrap().queue_reason, "quarantined_bank");
    assert_eq!(
        action_of(&one(BankAction::Takedown, BankStatus::Disabled), &p),
        Action::None
    );
    let both = ev(
        vec![
            pdq_match("bad", 1, BankAction::Takedown, BankStatus::Active),
            pdq_match("allow", 3, BankAction::Allow, BankStatus::Active),
        ],
        None,
    );
    let (v, item) = decide(&both, &p);
    assert_eq!(v.action, Action::Review);
    assert_eq!(item.unwrap().queue_reason, "allow_list");
}

#[test]
fn disputed_entries_go_to_review_with_the_reason() {
    let p = Policy::builtin();
    let mut m = pdq_match("b", 1, BankAction::Takedown, BankStatus::Active);
    m.suppress_reason = Some("the sharer disputes this entry".into());
    let (v, item) = decide(&ev(vec![m], None), &p);
    assert_eq!(v.action, Action::Review);
    assert_eq!(item.unwrap().queue_reason, "disputed_or_quarantined_entry");
    assert!(v.reasons.iter().any(|r| r.contains("disputes")));
}

#[test]
fn exempt_surfaces_and_low_quality() {
    let p = Policy::builtin();
    let mut e = ev(
        vec![pdq_match("b", 1, BankAction::Takedown, BankStatus::Active)],
        None,
    );
    e.context.surface = "news".into();
    let (v, item) = decide(&e, &p);
    assert_eq!(v.action, Action::Review);
    assert_eq!(item.unwrap().queue_reason, "exempt_surface");
    let mut e = ev(
        vec![pdq_match("b", 1, BankAction::Takedown, BankStatus::Active)],
        None,
    );
    e.pdq_quality = Some(20);
    assert_eq!(action_of(&e, &p), Action::None);
    // Exact matches ignore PDQ quality.
    let mut exact = pdq_match("b", 0, BankAction::Takedown, BankStatus::Active);
    exact.m.signal_type = SignalType::Md5;
    let mut e = ev(vec![exact], None);
    e.pdq_quality = Some(20);
    assert_eq!(action_of(&e, &p), Action::Takedown);
}

#[test]
fn classifier_reviews_but_never_takes_down_by_default() {
    let p = Policy::builtin();
    assert_eq!(action_of(&ev(vec![], Some(0.99)), &p), Action::Review);
    assert_eq!(action_of(&ev(vec![], Some(0.1)), &p), Action::None);
    let mut p2 = p.clone();
    p2.classifier.auto_above = Some(0.95);
    assert_eq!(action_of(&ev(vec![], Some(0.99)), &p2), Action::Takedown);
    assert_eq!(action_of(&ev(vec![], Some(0.9)), &p2), Action::Review);
}

#[test]
fn undecodable_media_policy() {
    let mut p = Policy::builtin();
    let mut e = ev(vec![], None);
    e.pdq_quality = None;
    e.decode_error = Some("corrupt".into());
    let (v, _) = decide(&e, &p);
    assert_eq!(v.action, Action::None);
    assert_eq!(v.decode_error.as_deref(), Some("corrupt"));
    p.undecodable = UndecodableAction::Review;
    assert_eq!(action_of(&e, &p), Action::Review);
}

#[test]
fn decide_is_deterministic_and_priority_grows_with_strength_and_reach() {
    let p = Policy::builtin();
    let e = ev(
        vec![pdq_match("b", 24, BankAction::Takedown, BankStatus::Active)],
        None,
    );
    assert_eq!(decide(&e, &p), decide(&e, &p));
    let weak = decide(
        &ev(
            vec![pdq_match("b", 30, BankAction::Takedown, BankStatus::Active)],
            None,
        ),
        &p,
    )
    .1
    .unwrap();
    let strong = decide(&e, &p).1.unwrap();
    assert!(strong.priority > weak.priority);
    let mut wide = e.clone();
    wide.context.reach = Some(1_000_000);
    assert!(decide(&wide, &p).1.unwrap().priority > strong.priority);
}

#[test]
fn a_bank_without_a_charter_only_routes_to_review() {
    let p = Policy::builtin();
    let mut m = pdq_match("b", 0, BankAction::Takedown, BankStatus::Active);
    m.charter = None;
    let (v, item) = decide(&ev(vec![m.clone()], None), &p);
    assert_eq!(v.action, Action::Review);
    assert!(item.is_some());
    assert!(
        v.reasons.iter().any(|r| r.contains("no charter")),
        "{:?}",
        v.reasons
    );
    // A charter that allows no automated action is the same.
    m.charter = Some(CharterScope {
        takedown: false,
        restrict_jurisdictions: vec![],
    });
    assert_eq!(action_of(&ev(vec![m], None), &p), Action::Review);
}

#[test]
fn charters_and_policy_scope_action_to_jurisdictions() {
    let p = Policy::builtin();
    let mut m = pdq_match("b", 0, BankAction::Takedown, BankStatus::Active);
    m.charter = Some(CharterScope {
        takedown: false,
        restrict_jurisdictions: vec!["DE".into()],
    });
    let mut m2 = m.clone();
    m2.m.bank = "c".into();
    m2.charter = Some(CharterScope {
        takedown: false,
        restrict_jurisdictions: vec!["AT".into(), "DE".into()],
    });
    let (v, item) = decide(&ev(vec![m.clone(), m2], None), &p);
    assert_eq!(
        v.action,
        Action::Restrict {
            jurisdictions: vec!["AT".into(), "DE".into()]
        }
    );
    assert!(item.is_none());
    let sor = v.statement_of_reasons.unwrap();
    assert!(
        sor.decision
            .contains("restricted automatically in AT, DE only"),
        "{sor:?}"
    );
    assert!(sor.automated_decision);

    // The policy can scope a takedown-chartered bank to jurisdictions.
    let text = format!(
        "{}\n[banks.b]\nrestrict_to = [\"FR\"]\n",
        vigil_pipeline::policy::DEFAULT_POLICY_TOML
    );
    let scoped = Policy::from_toml(&text).unwrap();
    let full = pdq_match("b", 0, BankAction::Takedown, BankStatus::Active);
    assert_eq!(
        action_of(&ev(vec![full.clone()], None), &scoped),
        Action::Restrict {
            jurisdictions: vec!["FR".into()]
        }
    );
    // A takedown match elsewhere is stronger than a restriction.
    let mut other = full;
    other.m.bank = "other".into();
    assert_eq!(
        action_of(&ev(vec![m, other], None), &scoped),
        Action::Takedown
    );
}

#[test]
fn dhash_and_phash_matches_only_ever_go_to_review() {
    let p = Policy::builtin();
    for t in [SignalType::Dhash, SignalType::Phash] {
        let mut m = pdq_match("b", 0, BankAction::Takedown, BankStatus::Active);
        m.m.signal_type = t;
        // Even at distance 0 in a chartered takedown bank.
        for quality in [Some(90), None] {
            let mut e = ev(vec![m.clone()], None);
            e.pdq_quality = quality;
            let (v, item) = decide(&e, &p);
            assert_eq!(v.action, Action::Review, "{t}");
            assert_eq!(item.unwrap().queue_reason, "borderline_match");
            assert_eq!(v.matches.len(), 1);
            assert!(
                v.reasons
                    .iter()
                    .any(|r| r.contains(&format!("{t} is a weak 64-bit signal"))),
                "{:?}",
                v.reasons
            );
            let sor = v.statement_of_reasons.unwrap();
            assert!(
                sor.facts
                    .iter()
                    .any(|f| f.contains("64-bit") && f.contains("0 bits apart of 64")),
                "{sor:?}"
            );
        }
        // A low-detail image (PDQ quality below the policy's minimum)
        // ignores them, as it does PDQ matches.
        let mut e = ev(vec![m.clone()], None);
        e.pdq_quality = Some(10);
        let (v, _) = decide(&e, &p);
        assert_eq!((v.action, v.matches.len()), (Action::None, 0));
        // Next to a PDQ match that takes down, the takedown stands.
        let e = ev(
            vec![
                m.clone(),
                pdq_match("b", 3, BankAction::Takedown, BankStatus::Active),
            ],
            None,
        );
        assert_eq!(action_of(&e, &p), Action::Takedown);
    }
}
