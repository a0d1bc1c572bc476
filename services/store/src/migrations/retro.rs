//! Self-correction (issue 8): retained upload signals for retro-hunts, per-entry decision counters and quarantine.

pub(crate) const STATEMENTS: &[&str] = &[];
