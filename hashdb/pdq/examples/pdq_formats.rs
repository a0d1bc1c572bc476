//! Per-format breakdown of Vigil's decode + PDQ, for `bench-pdq.sh`.
//!
//! `pdq_formats [--seconds S] FILE...`
//!
//! Files are read into memory and grouped by the format sniffed from their
//! bytes. For each group, one thread, each stage repeated over the group
//! until at least `S` seconds (default 1) have passed:
//!
//! * `decode_rgb`: `vigil_decode::decode_image` (Pillow-identical RGB);
//! * `decode_hash`: `vigil_decode::decode_for_hash` (the hash-only decode);
//! * `hash`: `PdqHasher` on pixels decoded beforehand by `decode_for_hash`;
//! * `total`: `decode_for_hash` + hash, what `--decode luma` measures.
//!
//! Prints one line per format:
//! `vigil-format format=… files=… mp=… decode_rgb_ips=… decode_hash_ips=… hash_ips=… total_ips=… total_mps=…`

use std::collections::BTreeMap;
use std::time::Instant;

use vigil_decode::{decode_for_hash, decode_image, sniff, HashPixels, Limits};
use vigil_pdq::PdqHasher;

/// Images per second of `f` over `n` images, repeated for `seconds`.
fn rate(n: usize, seconds: f64, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let mut images = 0u64;
    while start.elapsed().as_secs_f64() < seconds || images == 0 {
        for k in 0..n {
            f(k);
        }
        images += n as u64;
    }
    images as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut seconds = 1.0f64;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(1.0),
            _ => files.push(a),
        }
    }
    let mut groups: BTreeMap<&'static str, Vec<Vec<u8>>> = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read file");
        let format = sniff(&bytes).map(|m| m.as_str()).unwrap_or("unknown");
        groups.entry(format).or_default().push(bytes);
    }
    let limits = Limits::default();
    let mut hasher = PdqHasher::new();
    for (format, data) in &groups {
        let decoded: Vec<_> = data
            .iter()
            .map(|b| decode_for_hash(b, &limits).expect("decode"))
            .collect();
        let pixels: u64 = decoded
            .iter()
            .map(|d| {
                let (w, h) = d.dimensions();
                u64::from(w) * u64::from(h)
            })
            .sum();
        let n = data.len();
        let mp_per_image = pixels as f64 / 1e6 / n as f64;
        let decode_rgb = rate(n, seconds, |k| {
            std::hint::black_box(decode_image(&data[k], &limits).expect("decode"));
        });
        let decode_hash = rate(n, seconds, |k| {
            std::hint::black_box(decode_for_hash(&data[k], &limits).expect("decode"));
        });
        let hash_one = |h: &mut PdqHasher, d: &vigil_decode::DecodedForHash| {
            let (w, ht) = d.dimensions();
            let out = match &d.pixels {
                HashPixels::Luma(l) | HashPixels::Grey(l) => {
                    h.hash_grey(w as usize, ht as usize, &l.pixels)
                }
                HashPixels::Rgba(rgba) => h.hash_rgba(w as usize, ht as usize, rgba.as_raw()),
                HashPixels::Rgb(rgb) => h.hash_rgb(w as usize, ht as usize, rgb.as_raw()),
            };
            std::hint::black_box(out.expect("hash"));
        };
        let hash = rate(n, seconds, |k| hash_one(&mut hasher, &decoded[k]));
        let total = rate(n, seconds, |k| {
            let d = decode_for_hash(&data[k], &limits).expect("decode");
            hash_one(&mut hasher, &d);
        });
        println!(
            "vigil-format format={format} files={n} mp={:.1} decode_rgb_ips={decode_rgb:.2} \
             decode_hash_ips={decode_hash:.2} hash_ips={hash:.2} total_ips={total:.2} total_mps={:.2}",
            pixels as f64 / 1e6,
            total * mp_per_image
        );
    }
}
