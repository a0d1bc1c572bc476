//! One hashed video frame and the reference vPDQ text format. The format is
//! a bank signal type too, so it lives in `vigil_hashdb::video`; this module
//! re-exports it for the hasher, matcher and index here.

pub use vigil_hashdb::video::*;
