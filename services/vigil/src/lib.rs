//! The `vigil` command's library half: configuration, wiring of the
//! services into a running process, and the demo. The binary in `main.rs`
//! only parses arguments and calls in here; tests call the same functions.
#![forbid(unsafe_code)]

pub mod access;
pub mod app;
pub mod banks;
pub mod config;
pub mod demo;
pub mod governance;
pub mod hashdb_snapshot;
pub mod loadgen;
pub mod model_eval;
pub mod redecide;
pub mod report;

pub use app::{requeue_undecided, App, Roles};
pub use config::Config;
