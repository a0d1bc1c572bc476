//! The accountability gauges on `/metrics`: false-positive, miss and
//! appeal-overturn rates with their Wilson 95% bounds and sample sizes, per
//! group, recomputed from the database (docs/accountability.md). They are
//! exporter-side gauges, not recording rules, because the estimate needs
//! the sampling weights and the join of samples with review answers that
//! only the database holds.

use prometheus::{register_gauge_vec, GaugeVec};
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

fn gauge(name: &str, help: &str) -> GaugeVec {
    register_gauge_vec!(name, help, &["by", "group"]).expect("metric registers once")
}

impl RateGauges {
    fn new(base: &str, what: &str) -> RateGauges {
        RateGauges {
            rate: gauge(&format!("{base}_rate"), &format!("Estimated {what}.")),
            lower: gauge(
                &format!("{base}_rate_lower"),
                &format!("Lower Wilson 95% bound of the {what}."),
            ),
            upper: gauge(
                &format!("{base}_rate_upper"),
                &format!("Upper Wilson 95% bound of the {what}."),
            ),
            n: gauge(
                &format!("{base}_sample_size"),
                &format!("Items behind the {what} estimate."),
            ),
        }
    }

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
    RateGauges::new(
        "vigil_accountability_false_positive",
        "false-positive rate of automated actions (overturned share of the blind audit sample)",
    )
});

pub static MISS: LazyLock<RateGauges> = LazyLock::new(|| {
    RateGauges::new(
        "vigil_accountability_miss",
        "miss rate (violating share of audited passed uploads)",
    )
});

pub static APPEAL_OVERTURN: LazyLock<RateGauges> = LazyLock::new(|| {
    RateGauges::new(
        "vigil_accountability_appeal_overturn",
        "appeal reversal rate (a biased sample: only contested removals)",
    )
});

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
