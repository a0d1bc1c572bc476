//! Compare Vigil's PDQ with the `pdqhash` peer.
//!
//! Input: the TSV written by `scripts/pdqhash_reference.py --dump-rgb DIR`
//! (path, Pillow mode, width, height, hash, quality, raw RGB file).
//! For each row it prints the distance of (a) Vigil hashing Pillow's very
//! pixels and (b) Vigil decoding the file itself with `vigil-decode`.
//!
//! `cargo run --release -p vigil-pdq --example compare_peer -- ref.tsv [BASE_DIR]`

use std::io::BufRead;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(tsv) = args.get(1) else {
        eprintln!("usage: compare_peer REF.tsv [BASE_DIR]");
        std::process::exit(2);
    };
    let base = args.get(2).cloned().unwrap_or_else(|| ".".into());
    let file = std::fs::File::open(tsv).expect("open tsv");
    let mut hasher = vigil_pdq::PdqHasher::new();
    let limits = vigil_decode::Limits::default();
    println!("path\tmode\tsame_pixels_dist\tq_peer\tq_same\tdecoded_dist\tq_decoded\tmax_px_diff");
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read");
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 || f[1] == "ERROR" {
            continue;
        }
        let (w, h): (usize, usize) = (f[2].parse().unwrap(), f[3].parse().unwrap());
        let peer = vigil_pdq::PdqHash::from_hex(f[4]).unwrap();
        let raw = std::fs::read(f[6]).expect("raw");
        let same = hasher.hash_rgb(w, h, &raw).unwrap();
        let path = std::path::Path::new(&base).join(f[0]);
        let bytes = std::fs::read(&path).expect("image");
        let (dec, q_dec, px) = match vigil_decode::decode_image(&bytes, &limits) {
            Ok(img) => {
                let (dw, dh) = img.rgb.dimensions();
                let out = hasher
                    .hash_rgb(dw as usize, dh as usize, img.rgb.as_raw())
                    .unwrap();
                let maxdiff = if img.rgb.as_raw().len() == raw.len() {
                    img.rgb
                        .as_raw()
                        .iter()
                        .zip(raw.iter())
                        .map(|(a, b)| a.abs_diff(*b))
                        .max()
                        .unwrap_or(0)
                        .to_string()
                } else {
                    "size".into()
                };
                (
                    out.hash.distance(&peer).to_string(),
                    out.quality.to_string(),
                    maxdiff,
                )
            }
            Err(e) => (format!("ERR:{}", e.kind()), "-".into(), "-".into()),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            f[0],
            f[1],
            same.hash.distance(&peer),
            f[5],
            same.quality,
            dec,
            q_dec,
            px
        );
    }
}
