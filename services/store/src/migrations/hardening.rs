//! Poison records and one effective verdict per upload (docs/hardening.md):
//! - `analysis_attempts`: how often analysis of an upload was started;
//!   written before analysis starts, so an upload that kills its worker
//!   (abort, segfault, OOM kill) is counted even though nothing else of it
//!   was ever written.
//! - `decided_uploads`: the claim a worker takes, in the verdict's own
//!   transaction, to decide an upload. One row per upload, whatever the
//!   policy version: a record redelivered after a policy change finds it and
//!   re-publishes the stored verdict instead of deciding again. Filled here
//!   from the verdicts already stored.
//! - `signin_attempts`: sign-in attempts per window and key (an account, a
//!   client address, or the pair), counted before the password is checked
//!   and shared by every replica through the database.

pub(crate) const STATEMENTS: &[&str] = &[
    "CREATE TABLE analysis_attempts (
        upload_id TEXT PRIMARY KEY,
        attempts BIGINT NOT NULL,
        first_started_at TEXT NOT NULL,
        last_started_at TEXT NOT NULL
    )",
    "CREATE TABLE decided_uploads (
        upload_id TEXT PRIMARY KEY,
        policy_version TEXT NOT NULL,
        decided_at TEXT NOT NULL
    )",
    "INSERT INTO decided_uploads (upload_id, policy_version, decided_at)
        SELECT upload_id, MIN(policy_version), MIN(decided_at) FROM verdicts GROUP BY upload_id",
    "CREATE TABLE signin_attempts (
        key TEXT PRIMARY KEY,
        window_start TEXT NOT NULL,
        attempts BIGINT NOT NULL
    )",
];
