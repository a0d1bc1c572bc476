//! vigil-hook (being built).
