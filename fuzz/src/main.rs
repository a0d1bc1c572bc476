//! `vigil-fuzz TARGET SECONDS [ARTIFACT_DIR]`: fuzz one target for a bounded
//! time; exits non-zero (and writes the input to ARTIFACT_DIR) on a panic.
//! `vigil-fuzz corpus DIR`: write the hostile-file corpus
//! (`vigil_fuzz::corpus`) under DIR, one subfolder per format.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;
use vigil_fuzz::{fuzz, Target};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        !args.is_empty(),
        "usage: vigil-fuzz decode|formats|messages [SECONDS] [ARTIFACT_DIR]\n       vigil-fuzz corpus DIR"
    );
    if args[0] == "corpus" {
        let dir = PathBuf::from(
            args.get(1)
                .ok_or_else(|| anyhow::anyhow!("usage: vigil-fuzz corpus DIR"))?,
        );
        let files = vigil_fuzz::corpus::generate();
        let n = vigil_fuzz::corpus::write_to(&dir, &files)?;
        for format in vigil_fuzz::corpus::FORMATS {
            let count = files.iter().filter(|f| f.format == format).count();
            println!("{format}\t{count}");
        }
        println!("corpus: {n} files written under {}", dir.display());
        return Ok(());
    }
    let target: Target = args[0].parse().map_err(anyhow::Error::msg)?;
    let seconds: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(30);
    let artifacts = PathBuf::from(
        args.get(2)
            .map(String::as_str)
            .unwrap_or("var/fuzz-artifacts"),
    );
    // A panic is a finding, reported by the harness; keep stderr readable.
    std::panic::set_hook(Box::new(|_| {}));
    let stats = fuzz(target, Duration::from_secs(seconds), 0x5eed_1234);
    println!(
        "fuzz target={} execs={} seconds={} crashes={}",
        target.as_str(),
        stats.execs,
        seconds,
        stats.crashes.len()
    );
    if let Some(input) = stats.crashes.first() {
        std::fs::create_dir_all(&artifacts)?;
        let path = artifacts.join(format!("{}-crash-{:016x}", target.as_str(), fnv(input)));
        std::fs::write(&path, input)?;
        anyhow::bail!(
            "a panic in target {}: input saved to {} (add it under fuzz/regressions/{}/)",
            target.as_str(),
            path.display(),
            target.as_str()
        );
    }
    Ok(())
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x100_0000_01b3)
    })
}
