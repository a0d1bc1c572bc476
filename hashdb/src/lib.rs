//! The hash database: signal types, banks (labels, provenance, status,
//! counters) and the lookup of an upload's signals against every loaded bank.
//!
//! Pure library: knows nothing of Kafka, HTTP or SQL. The services load banks
//! from the database, feed changes in, and ask [`HashDb::lookup`].
#![forbid(unsafe_code)]

pub mod bank;
pub mod signal;

pub use bank::{Bank, BankAction, BankEntry, BankStatus, HashDb, Match};
pub use signal::{ExactHash, SignalType, Signals};
pub use vigil_pdq::{PdqHash, PdqOutput};
