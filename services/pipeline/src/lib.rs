//! vigil-pipeline (being built).
