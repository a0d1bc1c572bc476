//! Vigil's system of record, on SQLite (embedded default) or PostgreSQL
//! (production) through one set of portable SQL: uploads (which double as
//! the outbox that survives a crash of the embedded broker), verdicts, review
//! items and banks. Also the media store that uploads travel through by
//! reference.
#![forbid(unsafe_code)]

pub mod accountability;
mod attempts;
mod banks;
pub mod db;
pub mod governance;
pub mod media;
mod migrations;
pub mod retro;
pub mod review;
mod signin;

pub use banks::BankChangeRecord;
pub use db::{ReviewItemRow, Store, StoreError, UploadRow, UploadStatus};
pub use governance::{DecideProposalError, NewProposal, ProposalRecord, ReferralRecord};
pub use media::{MediaError, MediaStore};
pub use review::{
    AppealError, AppealFiled, AuditEntry, AuditQuery, Claim, DecideError, Decided, Decision,
    DecisionInput, DecisionRow, QueueStats, ReviewCase, ReviewerStats, Role, SessionRow, Unrouted,
    UserRow, REASONS,
};
