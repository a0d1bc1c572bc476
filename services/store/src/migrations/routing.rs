//! Review routing (issue 7): routing rules and queues.

pub(crate) const STATEMENTS: &[&str] = &[];
