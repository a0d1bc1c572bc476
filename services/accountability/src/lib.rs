//! Error accounting for Vigil's automated actions (DESIGN.md §8): which
//! uploads go to blind audit, how overturn and miss rates are estimated with
//! Wilson 95% intervals, and the transparency report built from those counts.
//! Pure logic: no Kafka, HTTP or SQL.
#![forbid(unsafe_code)]

pub mod estimate;
pub mod report;
pub mod sampling;

pub use estimate::{quantile, wilson, Estimate, Interval, Tally};
pub use report::{GroupEstimate, TransparencyReport};
pub use sampling::{audit_draw, should_audit, SampleKind};
