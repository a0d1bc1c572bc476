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
    if tsv == "--dihedral" {
        dihedral(&args[2], args.get(3).map(|s| s.as_str()).unwrap_or("."));
        return;
    }
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

/// `compare_peer --dihedral REF_DIH.tsv BASE`: the TSV from
/// `pdqhash_reference.py --dihedral` (path, mode, w, h, quality, 8 hashes);
/// prints the distance of each of Vigil's DCT-derived variants.
fn dihedral(tsv: &str, base: &str) {
    let text = std::fs::read_to_string(tsv).expect("read tsv");
    let mut hasher = vigil_pdq::PdqHasher::new();
    println!("path\tdistances(original..flipminus1)");
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 13 {
            continue;
        }
        let bytes = std::fs::read(std::path::Path::new(base).join(f[0])).expect("image");
        let img =
            vigil_decode::decode_image(&bytes, &vigil_decode::Limits::default()).expect("decode");
        let (w, h) = img.rgb.dimensions();
        let out = hasher
            .hash_rgb_dihedral(w as usize, h as usize, img.rgb.as_raw())
            .unwrap();
        let d: Vec<String> = (0..8)
            .map(|k| {
                out.hashes[k]
                    .distance(&vigil_pdq::PdqHash::from_hex(f[5 + k]).unwrap())
                    .to_string()
            })
            .collect();
        println!("{}\t{}", f[0], d.join(","));
    }
}
