//! Topic names (DESIGN.md §4), with an optional prefix so several Vigil
//! deployments can share a cluster.

/// The topics Vigil reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub uploads: String,
    pub verdicts: String,
    pub review: String,
    pub decisions: String,
    pub hashdb: String,
    pub dlq: String,
}

impl Topics {
    /// Topic names with `prefix` in front, e.g. `vigil.` gives `vigil.uploads`.
    pub fn with_prefix(prefix: &str) -> Topics {
        Topics {
            uploads: format!("{prefix}uploads"),
            verdicts: format!("{prefix}verdicts"),
            review: format!("{prefix}review"),
            decisions: format!("{prefix}decisions"),
            hashdb: format!("{prefix}hashdb"),
            dlq: format!("{prefix}dlq"),
        }
    }

    pub fn all(&self) -> [&str; 6] {
        [
            &self.uploads,
            &self.verdicts,
            &self.review,
            &self.decisions,
            &self.hashdb,
            &self.dlq,
        ]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics::with_prefix("vigil.")
    }
}
