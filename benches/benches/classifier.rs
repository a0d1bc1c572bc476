//! Classifier throughput, pre-processing included.
//!
//! Two modes:
//! - `cargo bench -p vigil-benches --bench classifier`: criterion benchmarks
//!   of `classify` (batch 1) and `classify_batch` (batch 16).
//! - with `VIGIL_CLASSIFIER_SIDE_BY_SIDE=DIR` (set by
//!   `benches/scripts/bench-classifier.sh`): writes the images it used to
//!   `DIR/images.u8` and its timings and scores to `DIR/vigil.json`, for the
//!   script to run Python onnxruntime on the same inputs.
//!
//! Needs ONNX Runtime (`scripts/setup-ort.sh`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use image::RgbImage;
use vigil_models::synth::{benign_image, emblem_image};
use vigil_models::{Classifier, ClassifierConfig};

fn images(n: usize, size: u32) -> Vec<RgbImage> {
    (0..n as u64)
        .map(|i| {
            if i & 1 == 0 {
                emblem_image(i, size)
            } else {
                benign_image(i, size)
            }
        })
        .collect()
}

fn classifier(max_batch: usize, threads: usize) -> Classifier {
    let config = ClassifierConfig {
        max_batch,
        intra_threads: threads,
        ..ClassifierConfig::default()
    };
    match Classifier::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench classifier: {e}");
            std::process::exit(2);
        }
    }
}

fn bench_classifier(c: &mut Criterion) {
    let imgs = images(16, 384);
    let single = classifier(1, 1);
    let batched = classifier(16, 1);
    let mut group = c.benchmark_group("classifier");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("classify", "384px"), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % imgs.len();
            single.classify(&imgs[i]).map(|o| o.score).unwrap_or(-1.0)
        })
    });
    group.throughput(Throughput::Elements(16));
    group.bench_function(BenchmarkId::new("classify_batch16", "384px"), |b| {
        b.iter(|| batched.classify_batch(&imgs).map(|v| v.len()).unwrap_or(0))
    });
    group.finish();
}

criterion_group!(benches, bench_classifier);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Best of `rounds` runs: (images/s, sorted per-call latencies in ms).
fn measure(rounds: usize, n: usize, mut run_once: impl FnMut(&mut Vec<f64>)) -> (f64, Vec<f64>) {
    let mut best = (0.0, Vec::new());
    for _ in 0..rounds {
        let mut lat = Vec::new();
        let t = Instant::now();
        run_once(&mut lat);
        let ips = n as f64 / t.elapsed().as_secs_f64();
        if ips > best.0 {
            lat.sort_by(f64::total_cmp);
            best = (ips, lat);
        }
    }
    best
}

fn side_by_side(dir: &str) {
    let n = env_usize("VIGIL_CLASSIFIER_N", 512);
    let size = env_usize("VIGIL_CLASSIFIER_SIZE", 384) as u32;
    let threads = env_usize("VIGIL_CLASSIFIER_THREADS", 1);
    let rounds = env_usize("VIGIL_CLASSIFIER_ROUNDS", 3);
    let imgs = images(n, size);
    let mut raw = Vec::with_capacity(n * (size * size * 3) as usize);
    for img in &imgs {
        raw.extend_from_slice(img.as_raw());
    }
    if let Err(e) = std::fs::write(format!("{dir}/images.u8"), &raw) {
        eprintln!("bench classifier: {e}");
        std::process::exit(2);
    }

    // Batch 1: one caller, one image per call.
    let single = classifier(1, threads);
    let _ = single.classify_batch(&imgs[..n.min(16)]);
    let (b1_ips, b1_lat) = measure(rounds, n, |lat| {
        for img in &imgs {
            let t = Instant::now();
            let _ = single.classify(img);
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
    });

    // Batch 16: classify_batch over chunks of 16.
    let batched = Arc::new(classifier(16, threads));
    let _ = batched.classify_batch(&imgs[..n.min(16)]);
    let (b16_ips, b16_lat) = measure(rounds, n, |lat| {
        for chunk in imgs.chunks(16) {
            let t = Instant::now();
            let _ = batched.classify_batch(chunk);
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }
    });

    // Concurrent callers, batched by the classifier's batching thread.
    let callers = env_usize("VIGIL_CLASSIFIER_CALLERS", 16);
    let shared_imgs = Arc::new(imgs.clone());
    let (conc_ips, conc_lat) = measure(rounds, n, |lat| {
        let handles: Vec<_> = (0..callers)
            .map(|t| {
                let c = Arc::clone(&batched);
                let imgs = Arc::clone(&shared_imgs);
                std::thread::spawn(move || {
                    let mut lat = Vec::new();
                    for i in (t..imgs.len()).step_by(callers) {
                        let start = Instant::now();
                        let _ = c.classify(&imgs[i]);
                        lat.push(start.elapsed().as_secs_f64() * 1e3);
                    }
                    lat
                })
            })
            .collect();
        for h in handles {
            lat.extend(h.join().unwrap_or_default());
        }
    });

    let scores: Vec<f32> = match single.classify_batch(&imgs) {
        Ok(v) => v.into_iter().map(|o| o.score).collect(),
        Err(e) => {
            eprintln!("bench classifier: {e}");
            std::process::exit(2);
        }
    };
    let meta = single.meta();
    let report = serde_json::json!({
        "model": format!("{}-{}", meta.name, meta.version),
        "n": n,
        "size": size,
        "threads": threads,
        "b1_images_per_s": b1_ips,
        "b1_p50_ms": percentile(&b1_lat, 0.5),
        "b1_p99_ms": percentile(&b1_lat, 0.99),
        "b16_images_per_s": b16_ips,
        "b16_p99_ms": percentile(&b16_lat, 0.99),
        "concurrent_callers": callers,
        "concurrent_images_per_s": conc_ips,
        "concurrent_p99_ms": percentile(&conc_lat, 0.99),
        "scores": scores,
    });
    if let Err(e) = std::fs::write(format!("{dir}/vigil.json"), report.to_string()) {
        eprintln!("bench classifier: {e}");
        std::process::exit(2);
    }
    eprintln!(
        "vigil: batch1 {b1_ips:.1} img/s (p99 {:.2} ms), batch16 {b16_ips:.1} img/s (p99 {:.2} ms per batch), {callers} callers {conc_ips:.1} img/s",
        percentile(&b1_lat, 0.99),
        percentile(&b16_lat, 0.99)
    );
}

fn main() {
    if let Ok(dir) = std::env::var("VIGIL_CLASSIFIER_SIDE_BY_SIDE") {
        side_by_side(&dir);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
