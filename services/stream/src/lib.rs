//! vigil-stream (being built).
