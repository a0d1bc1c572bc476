//! Every file under `fuzz/regressions/<target>/` (inputs that once
//! crashed, or were written to probe an edge) runs through its target
//! without a panic.

use std::path::Path;
use vigil_fuzz::{exercise, Target};

#[test]
fn regression_inputs_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut n = 0;
    for t in Target::ALL {
        let dir = root.join(t.as_str());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            exercise(t, &data);
            n += 1;
        }
    }
    assert!(n >= 3, "the regression folders are empty");
}
