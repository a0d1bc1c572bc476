//! Time a `HashDb` snapshot load at scale (the issue's "1e7 entries from
//! snapshot" goal), outside the FAISS bench:
//!
//! ```text
//! cargo build --release -p vigil-hashdb --example snapshot_load
//! target/release/examples/snapshot_load 10000000     # write, then read
//! SKIP_WRITE=1 target/release/examples/snapshot_load 10000000   # read again
//! ```
//!
//! Random PDQ entries with derived ids in one bank; the snapshot goes to
//! `$SNAPSHOT` (default `/tmp/vigil-snapshot-load.vhdb`). `NO_DROP=1` exits
//! right after the read (freeing ten million entries takes seconds too).

use std::time::Instant;
use vigil_hashdb::{snapshot, Bank, BankAction, BankEntry, HashDb, SignalType};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let path = std::env::var("SNAPSHOT").unwrap_or_else(|_| "/tmp/vigil-snapshot-load.vhdb".into());
    if std::env::var("SKIP_WRITE").is_err() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let entries = (0..n).map(|_| {
            let mut hex = String::with_capacity(64);
            for _ in 0..4 {
                hex.push_str(&format!("{:016x}", next()));
            }
            BankEntry::derived("bench", SignalType::Pdq, &hex)
        });
        let t = Instant::now();
        let (db, _) = HashDb::load(vec![Bank::new("bench", BankAction::Takedown)], entries);
        eprintln!("bulk load {:.2}s", t.elapsed().as_secs_f64());
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        snapshot::write_snapshot(&db, "x", &mut f).unwrap();
        drop(db);
    }
    let t = Instant::now();
    let (back, _) = snapshot::read_snapshot(std::fs::File::open(&path).unwrap()).unwrap();
    let mem = back.memory_bytes();
    eprintln!(
        "read {:.2}s entries {} index_bytes_per_entry {:.1} metadata_bytes_per_entry {:.1}",
        t.elapsed().as_secs_f64(),
        back.len(),
        mem.index as f64 / n as f64,
        mem.entries as f64 / n as f64
    );
    if std::env::var("NO_DROP").is_ok() {
        std::process::exit(0);
    }
    let t = Instant::now();
    drop(back);
    eprintln!("drop {:.2}s", t.elapsed().as_secs_f64());
}
