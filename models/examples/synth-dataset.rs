//! Writes a synthetic dataset for `models/train/train.py`.
//!
//! `synth-dataset OUT_DIR SIZE SPLIT SEED_BASE SLICE=COUNT...`
//! writes `OUT_DIR/SPLIT.u8` (COUNT images of SIZE×SIZE×3 bytes each, in
//! order) and `OUT_DIR/SPLIT.csv` (`index,slice,label,seed`).
#![forbid(unsafe_code)]

use std::io::Write;
use vigil_models::synth::{generate, Slice};

fn main() {
    if let Err(e) = run() {
        eprintln!("synth-dataset: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        return Err("usage: synth-dataset OUT_DIR SIZE SPLIT SEED_BASE SLICE=COUNT...".into());
    }
    let out = std::path::PathBuf::from(&args[0]);
    let size: u32 = args[1].parse().map_err(|e| format!("SIZE: {e}"))?;
    let split = &args[2];
    let seed_base: u64 = args[3].parse().map_err(|e| format!("SEED_BASE: {e}"))?;
    let mut jobs = Vec::new();
    for spec in &args[4..] {
        let (name, count) = spec.split_once('=').ok_or(format!("bad spec {spec}"))?;
        let slice = Slice::from_name(name).ok_or(format!("unknown slice {name}"))?;
        let count: u64 = count.parse().map_err(|e| format!("{spec}: {e}"))?;
        for i in 0..count {
            jobs.push((slice, seed_base + i));
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    // Generate on all cores, in order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = jobs.len().div_ceil(threads).max(1);
    let images: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&(slice, seed)| generate(slice, seed, size).into_raw())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if images.len() != jobs.len() {
        return Err("a generator thread failed".into());
    }
    let mut data = std::io::BufWriter::new(
        std::fs::File::create(out.join(format!("{split}.u8"))).map_err(|e| e.to_string())?,
    );
    let mut csv = String::from("index,slice,label,seed\n");
    for (i, ((slice, seed), img)) in jobs.iter().zip(&images).enumerate() {
        data.write_all(img).map_err(|e| e.to_string())?;
        csv.push_str(&format!(
            "{i},{},{},{seed}\n",
            slice.name(),
            u8::from(slice.is_positive())
        ));
    }
    data.flush().map_err(|e| e.to_string())?;
    std::fs::write(out.join(format!("{split}.csv")), csv).map_err(|e| e.to_string())?;
    eprintln!(
        "synth-dataset: wrote {} {split} images of {size}px",
        jobs.len()
    );
    Ok(())
}
