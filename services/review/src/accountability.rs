//! The accountability gauges on `/metrics`: false-positive, miss and
//! appeal-overturn rates with their Wilson 95% bounds and sample sizes, per
//! group, recomputed from the database (docs/accountability.md). They are
//! exporter-side gauges, not recording rules, because the estimate needs
//! the sampling weights and the join of samples with review answers that
//! only the database holds.

use prometheus::{register_gauge, register_gauge_vec, Gauge, GaugeVec};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::watch;
use vigil_accountability::GroupEstimate;
use vigil_store::accountability::{Estimates, Period};
use vigil_store::{Store, StoreError};

/// One rate's four gauges.
pub struct RateGauges {
    rate: GaugeVec,
    lower: GaugeVec,
    upper: GaugeVec,
    n: GaugeVec,
}

/// One `{by, group}` gauge. The names are literals at each call, so the
/// deploy-file test's scan of `register_…` calls finds every one.
fn register_group_gauge(name: &str, help: &str) -> GaugeVec {
    register_gauge_vec!(name, help, &["by", "group"]).expect("metric registers once")
}

impl RateGauges {
    fn set(&self, rows: &[GroupEstimate]) {
        for g in [&self.rate, &self.lower, &self.upper, &self.n] {
            g.reset();
        }
        for r in rows {
            let l = [r.by.as_str(), r.group.as_str()];
            self.rate.with_label_values(&l).set(r.estimate.rate);
            self.lower.with_label_values(&l).set(r.estimate.lower);
            self.upper.with_label_values(&l).set(r.estimate.upper);
            self.n.with_label_values(&l).set(r.estimate.n as f64);
        }
    }
}

pub static FALSE_POSITIVE: LazyLock<RateGauges> = LazyLock::new(|| {
    RateGauges {
        rate: register_group_gauge("vigil_accountability_false_positive_rate", "Estimated false-positive rate of automated actions (overturned share of the blind audit sample)."),
        lower: register_group_gauge(
            "vigil_accountability_false_positive_rate_lower",
            "Lower Wilson 95% bound of the false-positive rate of automated actions (overturned share of the blind audit sample).",
        ),
        upper: register_group_gauge(
            "vigil_accountability_false_positive_rate_upper",
            "Upper Wilson 95% bound of the false-positive rate of automated actions (overturned share of the blind audit sample).",
        ),
        n: register_group_gauge(
            "vigil_accountability_false_positive_sample_size",
            "Items behind the false-positive rate of automated actions (overturned share of the blind audit sample) estimate.",
        ),
    }
});

pub static MISS: LazyLock<RateGauges> = LazyLock::new(|| RateGauges {
    rate: register_group_gauge(
        "vigil_accountability_miss_rate",
        "Estimated miss rate (violating share of audited passed uploads).",
    ),
    lower: register_group_gauge(
        "vigil_accountability_miss_rate_lower",
        "Lower Wilson 95% bound of the miss rate (violating share of audited passed uploads).",
    ),
    upper: register_group_gauge(
        "vigil_accountability_miss_rate_upper",
        "Upper Wilson 95% bound of the miss rate (violating share of audited passed uploads).",
    ),
    n: register_group_gauge(
        "vigil_accountability_miss_sample_size",
        "Items behind the miss rate (violating share of audited passed uploads) estimate.",
    ),
});

pub static APPEAL_OVERTURN: LazyLock<RateGauges> = LazyLock::new(|| {
    RateGauges {
        rate: register_group_gauge("vigil_accountability_appeal_overturn_rate", "Estimated appeal reversal rate (a biased sample: only contested removals)."),
        lower: register_group_gauge(
            "vigil_accountability_appeal_overturn_rate_lower",
            "Lower Wilson 95% bound of the appeal reversal rate (a biased sample: only contested removals).",
        ),
        upper: register_group_gauge(
            "vigil_accountability_appeal_overturn_rate_upper",
            "Upper Wilson 95% bound of the appeal reversal rate (a biased sample: only contested removals).",
        ),
        n: register_group_gauge(
            "vigil_accountability_appeal_overturn_sample_size",
            "Items behind the appeal reversal rate (a biased sample: only contested removals) estimate.",
        ),
    }
});

/// The error rates the policy accepts (`[audit] false_positive_budget`,
/// `miss_budget`), for the alert rules to compare the bounds with. NaN
/// when the policy sets none: every comparison with it is false.
pub static BUDGETS: LazyLock<(Gauge, Gauge)> = LazyLock::new(|| {
    (
        register_gauge!(
            "vigil_accountability_false_positive_budget",
            "False-positive rate of automated actions the policy accepts (NaN: none set)."
        )
        .expect("metric registers once"),
        register_gauge!(
            "vigil_accountability_miss_budget",
            "Miss rate among passed uploads the policy accepts (NaN: none set)."
        )
        .expect("metric registers once"),
    )
});

/// Export the policy's error budgets.
pub fn set_budgets(false_positive: Option<f64>, miss: Option<f64>) {
    BUDGETS.0.set(false_positive.unwrap_or(f64::NAN));
    BUDGETS.1.set(miss.unwrap_or(f64::NAN));
}

/// Recompute every gauge from the store (all time).
pub async fn refresh(store: &Store) -> Result<Estimates, StoreError> {
    let est = store.accountability_estimates(&Period::default()).await?;
    FALSE_POSITIVE.set(&est.false_positive);
    MISS.set(&est.miss);
    APPEAL_OVERTURN.set(&est.appeal_overturn);
    Ok(est)
}

/// Refresh at start and then every `every` until shutdown.
pub async fn run_refresher(store: Store, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = refresh(&store).await {
            tracing::warn!(error = %e, "accountability gauges not refreshed");
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
