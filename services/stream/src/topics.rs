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
    /// Takedowns, restrictions and reinstatements for the platform
    /// (key `upload_id`), produced by the action relay in `vigil-hook`.
    pub actions: String,
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
            actions: format!("{prefix}actions"),
        }
    }

    pub fn all(&self) -> [&str; 7] {
        [
            &self.uploads,
            &self.verdicts,
            &self.review,
            &self.decisions,
            &self.hashdb,
            &self.dlq,
            &self.actions,
        ]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics::with_prefix("vigil.")
    }
}
