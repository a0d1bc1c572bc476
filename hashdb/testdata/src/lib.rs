//! Finds the shared test vectors for tests and benchmarks. They are read
//! where they lie, never copied into the repository: `$VIGIL_TESTDATA`, or
//! the first `shared/testdata` beside a parent folder of this checkout (CI
//! has `shared/` beside the clone).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The `testdata` folder holding `sub` (e.g. `"pdq"`, `"vpdq"`), if found.
pub fn find(sub: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var("VIGIL_TESTDATA") {
        let p = PathBuf::from(p);
        return p.join(sub).is_dir().then_some(p);
    }
    let mut dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join("shared").join("testdata");
        if candidate.join(sub).is_dir() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// `testdata/<sub>`, or a panic that says how to point the tests at it.
pub fn require(sub: &str) -> PathBuf {
    match find(sub) {
        Some(p) => p.join(sub),
        None => panic!(
            "test vectors not found: no shared/testdata/{sub} beside any parent of {} and no usable VIGIL_TESTDATA; \
             set VIGIL_TESTDATA to the shared/testdata folder",
            env!("CARGO_MANIFEST_DIR")
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_shared_vectors() {
        assert!(super::require("pdq").join("INDEX.md").is_file());
        assert!(super::find("no-such-folder").is_none());
    }
}
