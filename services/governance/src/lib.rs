//! Guardrails on what Vigil may remove (DESIGN.md §6a): bank charters, the
//! two-person rule for changes that widen removal, the hash-chained,
//! Ed25519-checkpointed change log an outside auditor can verify, referrals
//! from authorities with jurisdiction-scoped action, and the governance
//! numbers of the transparency report.
//! Pure logic: no Kafka, HTTP or SQL.
#![forbid(unsafe_code)]

pub mod chain;
pub mod charter;
pub mod proposal;
pub mod referral;
pub mod report;

pub use chain::{Break, ChainRecord, Checkpoint, NewRecord, Verified};
pub use charter::{
    BasisKind, Charter, CharterAction, CharterError, LabelRejection, LegalBasis, TAXONOMY,
};
pub use proposal::{Payload, ProposalKind, Role, RuleError, Status};
pub use referral::{NewReferral, ReferralAction, ReferralError, ReferralStatus, Target};
