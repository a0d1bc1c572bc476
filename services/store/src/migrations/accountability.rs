//! Accountability (issue 8): blind audit samples, shadow-policy disagreements and statements of reasons.

pub(crate) const STATEMENTS: &[&str] = &[];
