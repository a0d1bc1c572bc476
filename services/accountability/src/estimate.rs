//! Rate estimators: the Wilson 95% score interval for a binomial share, a
//! tally that also handles samples drawn at different rates (weighted by
//! the inverse of their sampling rate, with Kish's effective sample size),
//! and quantiles for review times.
//!
//! Why Wilson: audit samples are small and error rates are near 0, where
//! the textbook normal ("Wald") interval collapses to zero width at k = 0
//! and spills below 0. Wilson's interval stays inside [0, 1], is not empty
//! at k = 0 or k = n, and has close to nominal coverage for small n.

use serde::{Deserialize, Serialize};

/// The 97.5th percentile of the standard normal: a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A confidence interval for a proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// The Wilson 95% score interval of `k` successes in `n` trials. `None`
/// when `n == 0`: no sample, no estimate (never a fake `[0, 1]`).
pub fn wilson(k: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let k = k.min(n);
    wilson_p(k as f64 / n as f64, n as f64)
}

/// The Wilson 95% interval for an observed share `p` over an (effective)
/// sample size `n`. `None` when `n` is not positive or `p` not in [0, 1].
pub fn wilson_p(p: f64, n: f64) -> Option<Interval> {
    if n.is_nan() || n <= 0.0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // The interval always contains the observed share; at the ends (no
    // errors, or all errors) floating-point rounding would otherwise leave
    // the bound a few ULPs off 0 or 1, on the wrong side of `p`.
    Some(Interval {
        lower: (centre - half).clamp(0.0, p),
        upper: (centre + half).clamp(p, 1.0),
    })
}

/// A share with its interval and sample size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Audited items found to be errors.
    pub errors: u64,
    /// Audited items.
    pub n: u64,
    /// The (weighted) point estimate.
    pub rate: f64,
    pub lower: f64,
    pub upper: f64,
    /// Kish's effective sample size; equals `n` when every item was drawn
    /// at the same rate.
    pub effective_n: f64,
}

/// Running sums from which an [`Estimate`] is made. Each item carries a
/// weight, the inverse of the rate it was sampled at, so strata sampled
/// more heavily do not dominate a pooled estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub n: u64,
    pub errors: u64,
    /// Sum of weights.
    pub w: f64,
    /// Sum of squared weights.
    pub w2: f64,
    /// Sum of weights of the errors.
    pub w_err: f64,
}

impl Tally {
    /// Add one item sampled with probability `rate` (0 < rate <= 1; other
    /// values count with weight 1).
    pub fn add(&mut self, rate: f64, error: bool) {
        let w = if rate > 0.0 && rate <= 1.0 {
            1.0 / rate
        } else {
            1.0
        };
        self.n += 1;
        self.w += w;
        self.w2 += w * w;
        if error {
            self.errors += 1;
            self.w_err += w;
        }
    }

    /// The estimate, or `None` for an empty tally.
    pub fn estimate(&self) -> Option<Estimate> {
        if self.n == 0 || self.w.is_nan() || self.w <= 0.0 || self.w2.is_nan() || self.w2 <= 0.0 {
            return None;
        }
        let equal_weights = (self.w * self.w - self.n as f64 * self.w2).abs() <= 1e-9 * self.w2;
        let (rate, n_eff, iv) = if equal_weights {
            let iv = wilson(self.errors, self.n)?;
            (self.errors as f64 / self.n as f64, self.n as f64, iv)
        } else {
            let p = (self.w_err / self.w).clamp(0.0, 1.0);
            let n_eff = self.w * self.w / self.w2;
            (p, n_eff, wilson_p(p, n_eff)?)
        };
        Some(Estimate {
            errors: self.errors,
            n: self.n,
            rate,
            lower: iv.lower,
            upper: iv.upper,
            effective_n: n_eff,
        })
    }
}

/// The `q` quantile (0..=1) of `values` by the nearest-rank method, or
/// `None` when empty. Sorts a copy.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = q.clamp(0.0, 1.0);
    let rank = (q * v.len() as f64).ceil().max(1.0) as usize;
    Some(v[rank.min(v.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_contains_the_share_exactly_at_the_ends() {
        for n in 1..200u64 {
            let none = wilson(0, n).unwrap();
            assert_eq!(none.lower, 0.0, "n={n}");
            let all = wilson(n, n).unwrap();
            assert_eq!(all.upper, 1.0, "n={n}");
            for p in [0.0, 0.3, 1.0] {
                let i = wilson_p(p, n as f64).unwrap();
                assert!(i.lower <= p && p <= i.upper, "p={p} n={n}: {i:?}");
            }
        }
    }

    #[test]
    fn wilson_known_cases() {
        // Reference values: the Wilson score interval as given by
        // statsmodels' proportion_confint(method="wilson").
        let i = wilson(0, 10).unwrap();
        assert!(close(i.lower, 0.0) && close(i.upper, 0.2775), "{i:?}");
        let i = wilson(5, 10).unwrap();
        assert!(close(i.lower, 0.2366) && close(i.upper, 0.7634), "{i:?}");
        let i = wilson(10, 10).unwrap();
        assert!(close(i.lower, 0.7225) && close(i.upper, 1.0), "{i:?}");
        let i = wilson(1, 100).unwrap();
        assert!(close(i.lower, 0.0018) && close(i.upper, 0.0545), "{i:?}");
        let i = wilson(3, 50).unwrap();
        assert!(close(i.lower, 0.0206) && close(i.upper, 0.1622), "{i:?}");
    }

    #[test]
    fn wilson_without_data_is_none() {
        assert_eq!(wilson(0, 0), None);
        assert_eq!(wilson_p(0.5, 0.0), None);
        assert_eq!(wilson_p(1.5, 10.0), None);
        assert_eq!(wilson_p(f64::NAN, 10.0), None);
    }

    #[test]
    fn wilson_is_symmetric_and_contains_the_share() {
        for n in 1..40u64 {
            for k in 0..=n {
                let a = wilson(k, n).unwrap();
                let b = wilson(n - k, n).unwrap();
                assert!(close(a.lower, 1.0 - b.upper) && close(a.upper, 1.0 - b.lower));
                let p = k as f64 / n as f64;
                assert!(a.lower <= p + 1e-12 && p <= a.upper + 1e-12);
                assert!(a.lower >= 0.0 && a.upper <= 1.0);
            }
        }
    }

    #[test]
    fn equal_weights_give_the_plain_wilson_interval() {
        let mut t = Tally::default();
        for i in 0..20 {
            t.add(0.1, i < 3);
        }
        let e = t.estimate().unwrap();
        let w = wilson(3, 20).unwrap();
        assert_eq!((e.errors, e.n), (3, 20));
        assert!(close(e.rate, 0.15) && close(e.lower, w.lower) && close(e.upper, w.upper));
        assert!(close(e.effective_n, 20.0));
        assert_eq!(Tally::default().estimate(), None);
    }

    #[test]
    fn unequal_weights_reweight_by_sampling_rate() {
        // Stratum A sampled at 100%: 10 items, no errors. Stratum B at 10%:
        // 10 items, 5 errors. B stands for 100 items, so the pooled rate is
        // about 50 / 110, not 5 / 20.
        let mut t = Tally::default();
        for _ in 0..10 {
            t.add(1.0, false);
        }
        for i in 0..10 {
            t.add(0.1, i < 5);
        }
        let e = t.estimate().unwrap();
        assert!(close(e.rate, 50.0 / 110.0), "{e:?}");
        assert!(e.effective_n < 20.0 && e.effective_n > 1.0);
        assert!(e.lower < e.rate && e.rate < e.upper);
    }

    #[test]
    fn quantiles() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.9), Some(5.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&hundred, 0.9), Some(90.0));
    }
}
