//! Criterion benchmarks for PDQ: the hasher alone on synthetic pixels (by
//! image size, AVX2-dispatched and portable builds), and decode + hash on
//! the shared test images when they can be found. The side-by-side run
//! against the `pdqhash` peer is `benches/scripts/bench-pdq.sh`.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vigil_decode::{decode_image, Limits};
use vigil_pdq::PdqHasher;

fn synthetic(w: usize, h: usize) -> Vec<u8> {
    (0..w * h * 3)
        .map(|i| ((i * 7919) % 251) as u8 ^ (i / (w * 3)) as u8)
        .collect()
}

fn testdata() -> Option<PathBuf> {
    vigil_testdata::find("pdq")
}

fn hash_only(c: &mut Criterion) {
    let mut g = c.benchmark_group("pdq_hash_rgb");
    for (w, h) in [
        (256usize, 256usize),
        (1024, 768),
        (1600, 1004),
        (4000, 3000),
    ] {
        let rgb = synthetic(w, h);
        g.throughput(Throughput::Elements((w * h) as u64));
        let mut auto = PdqHasher::new();
        g.bench_with_input(
            BenchmarkId::new("dispatch", format!("{w}x{h}")),
            &rgb,
            |b, rgb| b.iter(|| auto.hash_rgb(w, h, rgb).unwrap()),
        );
        let mut portable = PdqHasher::new().portable(true);
        g.bench_with_input(
            BenchmarkId::new("portable", format!("{w}x{h}")),
            &rgb,
            |b, rgb| b.iter(|| portable.hash_rgb(w, h, rgb).unwrap()),
        );
    }
    let rgb = synthetic(1600, 1004);
    let mut hasher = PdqHasher::new();
    g.throughput(Throughput::Elements(1600 * 1004));
    g.bench_function("dihedral/1600x1004", |b| {
        b.iter(|| hasher.hash_rgb_dihedral(1600, 1004, &rgb).unwrap())
    });
    g.finish();
}

fn decode_and_hash(c: &mut Criterion) {
    let Some(base) = testdata() else {
        eprintln!("pdq bench: shared/testdata not found, skipping decode+hash");
        return;
    };
    let files = [
        "pdq/pdq/data/reg-test-input/dih/bridge-1-original.jpg",
        "pdq/pdq/data/misc-images/c.png",
        "pdq/pdq/data/misc-images/modes/PA.webp",
    ];
    let mut g = c.benchmark_group("pdq_decode_and_hash");
    let limits = Limits::default();
    let mut hasher = PdqHasher::new();
    for f in files {
        let Ok(bytes) = std::fs::read(base.join(f)) else {
            continue;
        };
        let Ok(img) = decode_image(&bytes, &limits) else {
            continue;
        };
        let (w, h) = img.rgb.dimensions();
        g.throughput(Throughput::Elements(u64::from(w) * u64::from(h)));
        let name = Path::new(f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        g.bench_function(name, |b| {
            b.iter(|| {
                let img = decode_image(&bytes, &limits).unwrap();
                let (w, h) = img.rgb.dimensions();
                hasher
                    .hash_rgb(w as usize, h as usize, img.rgb.as_raw())
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = hash_only, decode_and_hash
}
criterion_main!(benches);
