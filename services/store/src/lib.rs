//! vigil-store (being built).
