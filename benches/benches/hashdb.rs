//! Benchmarks of the exact Hamming index (`vigil-hashdb`).
//!
//! Two modes:
//! * `cargo bench -p vigil-benches --bench hashdb`: criterion micro-benchmarks
//!   (range search on random and near-duplicate queries, k-nearest, insert).
//! * with `VIGIL_HASHDB_SIDE_BY_SIDE=<dir>` set (what
//!   `benches/scripts/bench-hashdb.sh` does): builds the side-by-side data set
//!   (`VIGIL_HASHDB_N` random hashes with planted neighbours), writes it to
//!   `<dir>` for the FAISS peer, times single-threaded radius-31 queries, checks
//!   recall against brute force, and writes `<dir>/vigil.json` and
//!   `<dir>/vigil_hits.txt`.

use criterion::{black_box, criterion_group, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::time::Instant;
use vigil_hashdb::index::{words, Hit, PdqIndex, Words};
use vigil_hashdb::PdqHash;

const RADIUS: u32 = 31;
/// Planted neighbours per near-duplicate query: one at each distance 0..=33.
const PLANTED: u32 = RADIUS + 3;

fn random_words(rng: &mut StdRng) -> Words {
    [rng.gen(), rng.gen(), rng.gen(), rng.gen()]
}

fn flip(rng: &mut StdRng, q: &Words, k: u32) -> Words {
    let mut out = *q;
    let mut bits: Vec<u32> = (0..256).collect();
    for i in 0..k as usize {
        let j = rng.gen_range(i..256);
        bits.swap(i, j);
        let b = bits[i];
        out[(b / 64) as usize] ^= 1 << (b % 64);
    }
    out
}

fn to_hash(w: &Words) -> PdqHash {
    vigil_hashdb::index::from_words(w)
}

/// The data set: `n` hashes; queries `0..near` have planted neighbours at
/// every distance 0..PLANTED, the rest are random (far from everything).
fn dataset(n: usize, queries: usize, near: usize, seed: u64) -> (Vec<Words>, Vec<Words>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut data: Vec<Words> = (0..n).map(|_| random_words(&mut rng)).collect();
    let qs: Vec<Words> = (0..queries).map(|_| random_words(&mut rng)).collect();
    for q in qs.iter().take(near) {
        for k in 0..PLANTED {
            let at = rng.gen_range(0..n);
            data[at] = flip(&mut rng, q, k);
        }
    }
    (data, qs)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit(')').next()?.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn side_by_side(dir: &str) {
    let n = env_usize("VIGIL_HASHDB_N", 1_000_000);
    let queries = env_usize("VIGIL_HASHDB_QUERIES", 1000);
    let near = env_usize("VIGIL_HASHDB_NEAR", queries / 10).min(queries);
    let dir = std::path::Path::new(dir);
    let t = Instant::now();
    let (data, qs) = dataset(n, queries, near, 20261124);
    eprintln!(
        "vigil: generated n={n} queries={queries} near={near} in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let raw = |ws: &[Words]| -> Vec<u8> { ws.iter().flat_map(|w| to_hash(w).0).collect() };
    std::fs::write(dir.join("base.bin"), raw(&data)).expect("write base.bin");
    std::fs::write(dir.join("queries.bin"), raw(&qs)).expect("write queries.bin");

    let rss0 = rss_bytes();
    let (t, c) = (Instant::now(), cpu_s());
    let idx = PdqIndex::from_hashes(data);
    let (build_s, build_cpu_s) = (t.elapsed().as_secs_f64(), cpu_s() - c);
    let rss_delta = rss_bytes().saturating_sub(rss0);
    let mem = idx.memory_bytes();
    eprintln!(
        "vigil: built in {build_s:.2}s, {:.1} bytes/entry (accounted), RSS +{:.1} bytes/entry beyond the hashes, popcnt kernel: {}",
        mem as f64 / n as f64,
        rss_delta as f64 / n as f64,
        vigil_hashdb::kernel::accelerated()
    );

    let snap = snapshot_timing(&idx, env_usize("VIGIL_HASHDB_SNAPSHOT_N", n.min(1_000_000)));

    let hashes: Vec<PdqHash> = qs.iter().map(to_hash).collect();
    // Warm-up pass, then the timed pass (one thread, one query at a time).
    let mut out: Vec<Hit> = Vec::new();
    for q in &hashes {
        out.clear();
        idx.range(q, RADIUS, &mut out);
    }
    let mut lat = Vec::with_capacity(queries);
    let mut results: Vec<Vec<Hit>> = Vec::with_capacity(queries);
    let t_all = Instant::now();
    for q in &hashes {
        let t = Instant::now();
        out.clear();
        idx.range(q, RADIUS, &mut out);
        lat.push(t.elapsed().as_secs_f64());
        results.push(out.clone());
    }
    let total = t_all.elapsed().as_secs_f64();
    let near_s: f64 = lat[..near].iter().sum();
    let random_s: f64 = lat[near..].iter().sum();

    // Recall against brute force: every near query and up to 200 random ones.
    let check: Vec<usize> = (0..near).chain((near..queries).take(200)).collect();
    let (mut found, mut truth) = (0usize, 0usize);
    for &i in &check {
        let want = idx.brute_force(&hashes[i], RADIUS);
        let mut got = results[i].clone();
        got.sort_unstable();
        truth += want.len();
        found += want.iter().filter(|h| got.binary_search(h).is_ok()).count();
        assert!(got.iter().all(|h| h.distance <= RADIUS));
    }
    let recall = if truth == 0 {
        1.0
    } else {
        found as f64 / truth as f64
    };

    let mut f = std::io::BufWriter::new(
        std::fs::File::create(dir.join("vigil_hits.txt")).expect("hits file"),
    );
    for (i, r) in results.iter().enumerate() {
        for h in r {
            writeln!(f, "{i} {} {}", h.slot, h.distance).expect("write hits");
        }
    }
    f.flush().expect("flush hits");
    let summary = serde_json::json!({
        "n": n,
        "queries": queries,
        "near": near,
        "qps": queries as f64 / total,
        "qps_random": (queries - near) as f64 / random_s.max(1e-12),
        "qps_near": near as f64 / near_s.max(1e-12),
        "p50_ms": percentile(lat.clone(), 0.50) * 1e3,
        "p99_ms": percentile(lat, 0.99) * 1e3,
        "recall": recall,
        "recall_checked_queries": check.len(),
        "recall_truth_hits": truth,
        "bytes_per_entry": mem as f64 / n as f64,
        "rss_bytes_per_entry_beyond_hashes": rss_delta as f64 / n as f64,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "segments": idx.segment_count(),
        "snapshot": snap,
        "popcnt": vigil_hashdb::kernel::accelerated(),
    });
    std::fs::write(dir.join("vigil.json"), summary.to_string()).expect("write vigil.json");
    eprintln!("vigil: {summary}");
}

/// A `HashDb` of the first `n` hashes (derived entry ids, no metadata):
/// bulk-load time, snapshot size and write/read times, memory per entry.
fn snapshot_timing(idx: &PdqIndex, n: usize) -> serde_json::Value {
    use vigil_hashdb::{snapshot, Bank, BankAction, BankEntry, HashDb, SignalType};
    if n == 0 {
        return serde_json::Value::Null;
    }
    let entries = idx
        .iter()
        .take(n)
        .map(|(_, h)| BankEntry::derived("bench", SignalType::Pdq, &h.to_hex()));
    let (t, c) = (Instant::now(), cpu_s());
    let (db, errors) = HashDb::load(vec![Bank::new("bench", BankAction::Takedown)], entries);
    let (load_s, load_cpu_s) = (t.elapsed().as_secs_f64(), cpu_s() - c);
    assert!(errors.is_empty());
    let mem = db.memory_bytes();
    let mut buf = Vec::new();
    let t = Instant::now();
    snapshot::write_snapshot(&db, "bench", &mut buf).expect("write snapshot");
    let write_s = t.elapsed().as_secs_f64();
    drop(db);
    let (t, c) = (Instant::now(), cpu_s());
    let (back, _) = snapshot::read_snapshot(&buf[..]).expect("read snapshot");
    let (read_s, read_cpu_s) = (t.elapsed().as_secs_f64(), cpu_s() - c);
    assert_eq!(back.len(), n);
    let out = serde_json::json!({
        "entries": n,
        "bulk_load_s": load_s,
        "bulk_load_cpu_s": load_cpu_s,
        "snapshot_read_cpu_s": read_cpu_s,
        "snapshot_bytes_per_entry": buf.len() as f64 / n as f64,
        "snapshot_write_s": write_s,
        "snapshot_read_s": read_s,
        "hashdb_index_bytes_per_entry": mem.index as f64 / n as f64,
        "hashdb_metadata_bytes_per_entry": mem.entries as f64 / n as f64,
    });
    eprintln!("vigil: snapshot {out}");
    out
}

fn bench_index(c: &mut Criterion) {
    let n = 200_000;
    let (data, qs) = dataset(n, 200, 100, 7);
    let idx = PdqIndex::from_hashes(data.clone());
    let near: Vec<PdqHash> = qs[..100].iter().map(to_hash).collect();
    let far: Vec<PdqHash> = qs[100..].iter().map(to_hash).collect();
    let mut g = c.benchmark_group("hashdb_index_200k");
    let mut out = Vec::new();
    let mut i = 0;
    g.bench_function("range31_random_query", |b| {
        b.iter(|| {
            i = (i + 1) % far.len();
            out.clear();
            idx.range(black_box(&far[i]), RADIUS, &mut out);
            out.len()
        })
    });
    g.bench_function("range31_near_duplicate_query", |b| {
        b.iter(|| {
            i = (i + 1) % near.len();
            out.clear();
            idx.range(black_box(&near[i]), RADIUS, &mut out);
            out.len()
        })
    });
    g.bench_function("knn10_near_duplicate_query", |b| {
        b.iter(|| {
            i = (i + 1) % near.len();
            idx.knn(black_box(&near[i]), 10).len()
        })
    });
    g.bench_function("brute_force_random_query", |b| {
        b.iter(|| {
            i = (i + 1) % far.len();
            idx.brute_force(black_box(&far[i]), RADIUS).len()
        })
    });
    g.bench_function("insert_then_delete", |b| {
        let mut idx = idx.clone();
        let mut rng = StdRng::seed_from_u64(1);
        b.iter(|| {
            let s = idx.insert(&to_hash(&random_words(&mut rng)));
            idx.remove(s)
        })
    });
    g.finish();
    let _ = words(&PdqHash([0; 32]));
}

criterion_group!(benches, bench_index);

fn main() {
    if let Ok(dir) = std::env::var("VIGIL_HASHDB_SIDE_BY_SIDE") {
        side_by_side(&dir);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
