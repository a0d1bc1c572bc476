//! Scale-out (issue 9): API keys and anything the multi-process deployment needs in the database.

pub(crate) const STATEMENTS: &[&str] = &[];
