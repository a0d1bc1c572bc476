//! Deterministic blind-audit sampling.
//!
//! Whether an upload is audited is a pure function of its id, the stratum
//! it falls in, the stratum's rate and a secret salt: a keyed SHA-256 of
//! those, read as a number in [0, 1), compared with the rate. The same
//! upload always gets the same answer (a redelivered message, a replay, a
//! second worker), the answer does not depend on arrival order or on what
//! else was sampled, and without the salt an uploader cannot tell which of
//! their uploads will be looked at.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What was sampled: an automated action, a passed upload, or a
/// disagreement between the live and the shadow policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleKind {
    Takedown,
    Pass,
    Shadow,
}

impl SampleKind {
    pub const ALL: [SampleKind; 3] = [SampleKind::Takedown, SampleKind::Pass, SampleKind::Shadow];

    /// Bounded label for metrics and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            SampleKind::Takedown => "takedown",
            SampleKind::Pass => "pass",
            SampleKind::Shadow => "shadow",
        }
    }

    pub fn parse(s: &str) -> Option<SampleKind> {
        SampleKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The review queue reason of an audit item of this kind.
    pub fn queue_reason(&self) -> &'static str {
        match self {
            SampleKind::Takedown => "audit_takedown",
            SampleKind::Pass => "audit_pass",
            SampleKind::Shadow => "audit_shadow",
        }
    }
}

/// The upload's uniform draw in [0, 1) for a stratum: the first 8 bytes of
/// SHA-256 over the length-prefixed salt, stratum and upload id, divided by
/// 2^64. Length prefixes keep `("ab", "c")` and `("a", "bc")` apart.
pub fn audit_draw(upload_id: &str, stratum: &str, salt: &str) -> f64 {
    let mut h = Sha256::new();
    for part in [salt, stratum, upload_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    // 53 bits give an exactly representable f64 in [0, 1).
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether `upload_id` in `stratum` is audited at `rate` (0 = never,
/// 1 = always; values outside are clamped).
pub fn should_audit(upload_id: &str, stratum: &str, rate: f64, salt: &str) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    audit_draw(upload_id, stratum, salt) < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_order_independent() {
        let ids: Vec<String> = (0..2000).map(|i| format!("upload-{i}")).collect();
        let forward: Vec<bool> = ids
            .iter()
            .map(|id| should_audit(id, "takedown/bank:a", 0.2, "salt"))
            .collect();
        let backward: Vec<bool> = ids
            .iter()
            .rev()
            .map(|id| should_audit(id, "takedown/bank:a", 0.2, "salt"))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert_eq!(forward, backward);
        assert_eq!(
            audit_draw("u1", "s", "k"),
            audit_draw("u1", "s", "k"),
            "same inputs, same draw"
        );
    }

    #[test]
    fn empirical_rate_is_close_to_the_configured_rate() {
        for rate in [0.01, 0.05, 0.2, 0.5] {
            let n = 20_000;
            let hits = (0..n)
                .filter(|i| should_audit(&format!("id-{i}"), "pass/surface:feed", rate, "s3cret"))
                .count();
            let p = hits as f64 / n as f64;
            // Five binomial standard deviations.
            let sd = (rate * (1.0 - rate) / n as f64).sqrt();
            assert!((p - rate).abs() < 5.0 * sd, "rate {rate}: got {p}");
        }
    }

    #[test]
    fn draws_are_roughly_uniform() {
        let n = 10_000;
        let mut buckets = [0usize; 10];
        for i in 0..n {
            let d = audit_draw(&format!("x{i}"), "s", "salt");
            assert!((0.0..1.0).contains(&d));
            buckets[(d * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((850..1150).contains(&b), "{buckets:?}");
        }
    }

    #[test]
    fn salt_and_stratum_change_the_draw() {
        let a: Vec<bool> = (0..500)
            .map(|i| should_audit(&format!("u{i}"), "s", 0.5, "one"))
            .collect();
        let b: Vec<bool> = (0..500)
            .map(|i| should_audit(&format!("u{i}"), "s", 0.5, "two"))
            .collect();
        let c: Vec<bool> = (0..500)
            .map(|i| should_audit(&format!("u{i}"), "t", 0.5, "one"))
            .collect();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(audit_draw("ab", "c", "k"), audit_draw("a", "bc", "k"));
    }

    #[test]
    fn rate_edges() {
        assert!(!should_audit("u", "s", 0.0, "k"));
        assert!(!should_audit("u", "s", -1.0, "k"));
        assert!(!should_audit("u", "s", f64::NAN, "k"));
        assert!(should_audit("u", "s", 1.0, "k"));
        assert!(should_audit("u", "s", 2.0, "k"));
        assert_eq!(SampleKind::parse("pass"), Some(SampleKind::Pass));
        assert_eq!(SampleKind::Shadow.queue_reason(), "audit_shadow");
    }
}
