//! vigil-review (being built).
