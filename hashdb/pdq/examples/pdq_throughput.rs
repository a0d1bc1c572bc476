//! Throughput of decode + PDQ over a set of files, for `bench-pdq.sh`.
//!
//! `pdq_throughput [--threads N] [--seconds S] [--hash-only] [--decode rgb|luma] FILE...`
//!
//! `--decode rgb` (default) decodes to RGB like the worker does, with pixels
//! identical to Pillow's; `--decode luma` uses `vigil_decode::decode_for_hash`,
//! the hash-only path that decodes a JPEG's Y channel alone.
//!
//! Files are read into memory first (so disk is not measured); then the
//! whole set is decoded and hashed repeatedly until at least `S` seconds
//! (default 5) have passed. With `--threads 1` everything runs on the
//! calling thread; with more, files are spread over a rayon pool.
//! Prints one line: `vigil images=… megapixels=… seconds=… ips=… mps=…`.

use std::time::Instant;

use rayon::prelude::*;
use vigil_decode::{decode_for_hash, decode_image, HashPixels, Limits};
use vigil_pdq::PdqHasher;

fn main() {
    let mut threads = 1usize;
    let mut seconds = 5.0f64;
    let mut hash_only = false;
    let mut luma = false;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(5.0),
            "--hash-only" => hash_only = true,
            "--decode" => luma = args.next().as_deref() == Some("luma"),
            _ => files.push(a),
        }
    }
    let data: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("read file"))
        .collect();
    let limits = Limits::default();
    let decoded: Vec<_> = if hash_only {
        data.iter()
            .map(|b| decode_image(b, &limits).expect("decode"))
            .collect()
    } else {
        Vec::new()
    };
    let one = |h: &mut PdqHasher, k: usize| -> u64 {
        if luma && !hash_only {
            let img = decode_for_hash(&data[k], &limits).expect("decode");
            let (w, ht) = img.dimensions();
            let out = match &img.pixels {
                HashPixels::Luma(l) | HashPixels::Grey(l) => {
                    h.hash_grey(w as usize, ht as usize, &l.pixels)
                }
                HashPixels::Rgba(rgba) => h.hash_rgba(w as usize, ht as usize, rgba.as_raw()),
                HashPixels::Rgb(rgb) => h.hash_rgb(w as usize, ht as usize, rgb.as_raw()),
            }
            .expect("hash");
            std::hint::black_box(out);
            return u64::from(w) * u64::from(ht);
        }
        let work;
        let img = if hash_only {
            &decoded[k]
        } else {
            work = decode_image(&data[k], &limits).expect("decode");
            &work
        };
        let (w, ht) = img.rgb.dimensions();
        let out = h
            .hash_rgb(w as usize, ht as usize, img.rgb.as_raw())
            .expect("hash");
        std::hint::black_box(out);
        u64::from(w) * u64::from(ht)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let start = Instant::now();
    let (mut images, mut pixels) = (0u64, 0u64);
    let mut hasher = PdqHasher::new();
    while start.elapsed().as_secs_f64() < seconds || images == 0 {
        if threads == 1 {
            for k in 0..data.len() {
                pixels += one(&mut hasher, k);
            }
        } else {
            pixels += pool.install(|| {
                (0..data.len())
                    .into_par_iter()
                    .map_init(PdqHasher::new, |h, k| one(h, k))
                    .sum::<u64>()
            });
        }
        images += data.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "vigil threads={threads} decode={} images={images} megapixels={:.1} seconds={secs:.3} ips={:.2} mps={:.2}",
        if luma { "luma" } else { "rgb" },
        pixels as f64 / 1e6,
        images as f64 / secs,
        pixels as f64 / 1e6 / secs
    );
}
