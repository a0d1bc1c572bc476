//! The heart of a Vigil worker, free of any network IO: the message and
//! verdict types, the stage chain that turns media bytes into signals
//! ([`analyze`]), and the pure policy decision ([`decide`]).
#![forbid(unsafe_code)]

pub mod analyze;
pub mod decide;
pub mod messages;
pub mod metrics;
pub mod policy;

pub use analyze::{Analysis, Analyzer, SharedHashDb};
pub use decide::{decide, Evidence, MatchEvidence};
pub use messages::{
    Action, DlqRecord, PlatformContext, ReviewItem, SignalValue, UploadId, UploadMsg, Verdict,
    MESSAGE_VERSION,
};
pub use policy::{Policy, PolicyError};
