//! Rough per-stage timings on a synthetic 1600x1000 image (developer aid).
use std::time::Instant;

use vigil_pdq::{luma, PdqHasher};

fn time<F: FnMut()>(name: &str, mp: f64, reps: usize, mut f: F) {
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!(
        "{name:<28} {:>8.3} ms/MP {:>8.1} MP/s",
        s * 1e3 / mp,
        mp / s
    );
}

fn main() {
    let (w, h) = (1600usize, 1000usize);
    let rgb: Vec<u8> = (0..w * h * 3)
        .map(|i| ((i * 7919) % 251) as u8 ^ (i / 4800) as u8)
        .collect();
    let mp = (w * h) as f64 / 1e6;
    let mut l = vec![0.0f32; w * h];
    let reps = 30;
    let only = std::env::args().nth(1).unwrap_or_default();
    if only == "rgb" {
        let mut hasher = PdqHasher::new();
        for _ in 0..reps {
            std::hint::black_box(hasher.hash_rgb(w, h, &rgb).unwrap());
        }
        return;
    }
    time("luma (pdqhash f64)", mp, reps, || {
        for (row, out) in rgb.chunks_exact(w * 3).zip(l.chunks_exact_mut(w)) {
            luma::rgb_row_to_luma(row, out, luma::LumaPrecision::Pdqhash);
        }
    });
    let mut hasher = PdqHasher::new();
    time("hash_luma", mp, reps, || {
        std::hint::black_box(hasher.hash_luma(w, h, &l).unwrap());
    });
    time("hash_rgb", mp, reps, || {
        std::hint::black_box(hasher.hash_rgb(w, h, &rgb).unwrap());
    });
}
