//! The heart of a Vigil worker, free of any network IO: the message and
//! verdict types, the stage chain that turns media bytes into signals
//! ([`analyze`]), and the pure policy decision ([`decide`]).
#![forbid(unsafe_code)]

pub mod actions;
pub mod analyze;
pub mod audit;
pub mod decide;
#[cfg(debug_assertions)]
pub mod failpoint;
pub mod imagehash;
pub mod messages;
pub mod metrics;
pub mod policy;
pub mod quarantine;
pub mod retrohunt;
pub mod sor;
pub mod videos;

pub use actions::{ActionCause, ActionMsg, PlatformAction};
pub use analyze::{
    Analysis, Analyzer, SharedHashDb, SharedVideoIndex, VideoAnalysis, VideoSupport,
};
pub use audit::{AuditSample, SampleKind, ShadowDisagreement};
pub use decide::{
    decide, decide_with_video, Evidence, MatchEvidence, VideoMatchEvidence, NOT_ANALYSED_QUEUE,
    POISON,
};
pub use messages::{
    Action, DlqRecord, PlatformContext, ReviewItem, SignalValue, UploadId, UploadMsg, Verdict,
    MESSAGE_VERSION,
};
pub use policy::{
    AuditPolicy, Policy, PolicyError, ReferralActionPolicy, ReferralPolicy, SharedPolicy,
};
pub use sor::StatementOfReasons;
pub use videos::BankedVideos;
