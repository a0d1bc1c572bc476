//! Blind-audit sampling and shadow comparison: pure functions of the
//! verdict, the surface and the policy.

use chrono::Utc;
use vigil_hashdb::{Match, SignalType};
use vigil_pipeline::audit::{compare_shadow, sample_verdict, strata_of};
use vigil_pipeline::{Action, Policy, SampleKind, UploadId, Verdict, MESSAGE_VERSION};

fn verdict(id: &str, action: Action, bank: Option<&str>) -> Verdict {
    Verdict {
        v: MESSAGE_VERSION,
        upload_id: UploadId::parse(id).unwrap(),
        policy_version: "p1".into(),
        action,
        signals: vec![],
        matches: bank
            .map(|b| Match {
                bank: b.into(),
                entry_id: "e1".into(),
                signal_type: SignalType::Pdq,
                distance: 4,
                labels: vec!["gifct:glorification".into()],
            })
            .into_iter()
            .collect(),
        classifier: None,
        reasons: vec![],
        statement_of_reasons: None,
        decode_error: None,
        decided_at: Utc::now(),
    }
}

fn policy(extra: &str) -> Policy {
    Policy::from_toml(&format!(
        "{}\n{extra}",
        vigil_pipeline::policy::DEFAULT_POLICY_TOML
    ))
    .unwrap()
}

#[test]
fn sampling_rates_and_determinism() {
    let p = Policy::builtin();
    let n = 20_000;
    let mut takedowns = 0;
    let mut passes = 0;
    for i in 0..n {
        let id = format!("u{i}");
        let t = sample_verdict(&verdict(&id, Action::Takedown, Some("b")), "feed", &p);
        let again = sample_verdict(&verdict(&id, Action::Takedown, Some("b")), "feed", &p);
        assert_eq!(t, again, "same upload, same answer");
        if let Some(s) = t {
            assert_eq!(s.kind, SampleKind::Takedown);
            assert_eq!(s.live_action, "takedown");
            assert!(s.strata.contains(&("bank".into(), "b".into())));
            assert!(s
                .strata
                .contains(&("label".into(), "gifct:glorification".into())));
            assert!(s.strata.contains(&("signal".into(), "pdq".into())));
            takedowns += 1;
        }
        if let Some(s) = sample_verdict(&verdict(&id, Action::None, None), "feed", &p) {
            assert_eq!(s.kind, SampleKind::Pass);
            assert!(s.strata.contains(&("surface".into(), "feed".into())));
            passes += 1;
        }
        assert!(sample_verdict(&verdict(&id, Action::Review, Some("b")), "feed", &p).is_none());
    }
    let near = |got: usize, rate: f64| {
        let sd = (rate * (1.0 - rate) / n as f64).sqrt();
        ((got as f64 / n as f64) - rate).abs() < 5.0 * sd
    };
    assert!(near(takedowns, p.audit.takedown_sample_rate), "{takedowns}");
    assert!(near(passes, p.audit.pass_sample_rate), "{passes}");
}

#[test]
fn per_bank_and_per_surface_overrides() {
    let p = policy("[audit.banks]\nhot = 1.0\ncold = 0.0\n[audit.surfaces]\nprofile = 1.0\n");
    for i in 0..200 {
        let id = format!("x{i}");
        let s = sample_verdict(&verdict(&id, Action::Takedown, Some("hot")), "feed", &p).unwrap();
        assert_eq!((s.stratum.as_str(), s.rate), ("takedown/bank:hot", 1.0));
        assert!(
            sample_verdict(&verdict(&id, Action::Takedown, Some("cold")), "feed", &p).is_none()
        );
        let s = sample_verdict(&verdict(&id, Action::None, None), "profile", &p).unwrap();
        assert_eq!(s.stratum, "pass/surface:profile");
    }
}

#[test]
fn shadow_disagreements() {
    let p = policy("").clone();
    let mut p = p;
    p.audit.shadow_sample_rate = 1.0;
    let live = verdict("s1", Action::None, None);
    let mut shadow = verdict("s1", Action::Takedown, Some("b"));
    shadow.policy_version = "candidate".into();
    let d = compare_shadow(&live, &shadow, "feed", &p).unwrap();
    assert_eq!(
        (d.live_action.as_str(), d.shadow_action.as_str()),
        ("none", "takedown")
    );
    let s = d.sample.unwrap();
    assert_eq!(s.kind, SampleKind::Shadow);
    assert_eq!(s.shadow_policy_version.as_deref(), Some("candidate"));
    assert!(s.strata.contains(&("bank".into(), "b".into())));
    // Agreement: nothing to record.
    assert!(compare_shadow(&live, &live, "feed", &p).is_none());
    // A live review is seen by a person anyway: counted, never sampled.
    let live_review = verdict("s1", Action::Review, Some("b"));
    let d = compare_shadow(&live_review, &shadow, "feed", &p).unwrap();
    assert!(d.sample.is_none());
    // `all` is always a stratum.
    assert!(strata_of(&live, "").contains(&("all".into(), "all".into())));
}
