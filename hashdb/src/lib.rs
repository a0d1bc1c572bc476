//! The hash database: signal types, banks (labels, provenance, status,
//! counters), the exact Hamming index, exchange formats and snapshots, and the
//! lookup of an upload's signals against every loaded bank.
//!
//! Pure library: knows nothing of Kafka, HTTP or SQL. The services load banks
//! from the database (or a [`snapshot`]), feed changes in with
//! [`HashDb::apply`], and ask [`HashDb::lookup`].
//!
//! The only `unsafe` is in [`kernel`]'s runtime-detected popcount kernel;
//! every other module is safe code.
#![deny(unsafe_code)]

pub mod bank;
pub mod formats;
pub mod index;
pub mod kernel;
pub mod retro;
pub mod signal;
pub mod snapshot;
pub mod video;

pub use bank::{
    Applied, Bank, BankAction, BankEntry, BankStats, BankStatus, Change, CharterScope,
    EntryCounters, HashDb, HashDbError, Match, MatchDetail, MemoryReport, Opinion, Outcome,
    Provenance, VpdqThresholds, VpdqThresholdsPatch,
};
pub use index::{Hit, PdqIndex};
pub use signal::{kind, ExactHash, Matching, SignalError, SignalKind, SignalType, Signals};
pub use vigil_pdq::{PdqHash, PdqOutput};
