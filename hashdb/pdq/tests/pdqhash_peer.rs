//! Independent check against the reference peer: PNG fixtures generated
//! here (several colour modes and sizes) are hashed by `pdqhash` on Pillow
//! (scripts/pdqhash_reference.py) and by Vigil (vigil-decode + vigil-pdq);
//! hashes and qualities must be identical, bit for bit.
//!
//! The peer lives in a Python venv: `VIGIL_PDQHASH_PYTHON`, or
//! `.venv-bench/bin/python` in the checkout (benches/scripts/bench-pdq.sh
//! creates it). Without it this test prints why and passes; set
//! `VIGIL_REQUIRE_PEER=1` to make a missing peer a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use vigil_decode::{decode_image, Limits};
use vigil_pdq::PdqHasher;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peer_python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("VIGIL_PDQHASH_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = repo_root().join(".venv-bench/bin/python");
    let ok = Command::new(&p)
        .args(["-c", "import pdqhash, PIL, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(p)
}

/// Deterministic texture: smooth structure plus hashed noise.
fn v(x: u32, y: u32, c: u32) -> u32 {
    let mut s =
        x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ c.wrapping_mul(83_492_791);
    s ^= s >> 13;
    s = s.wrapping_mul(0x5bd1_e995);
    s ^= s >> 15;
    ((x * 3 + y * 2 + c * 50) % 200) + (s % 56)
}

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut save = |name: &str, f: &dyn Fn(&Path)| {
        let p = dir.join(name);
        f(&p);
        out.push(p);
    };
    save("rgb_300x200.png", &|p| {
        ImageBuffer::from_fn(300, 200, |x, y| {
            Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
        })
        .save(p)
        .unwrap()
    });
    save("rgba_257x131.png", &|p| {
        ImageBuffer::from_fn(257, 131, |x, y| {
            Rgba([
                v(x, y, 0) as u8,
                v(x, y, 1) as u8,
                v(x, y, 2) as u8,
                (x * 7 % 256) as u8,
            ])
        })
        .save(p)
        .unwrap()
    });
    save("grey_640x480.png", &|p| {
        ImageBuffer::from_fn(640, 480, |x, y| Luma([v(x, y, 0) as u8]))
            .save(p)
            .unwrap()
    });
    save("grey_alpha_99x301.png", &|p| {
        ImageBuffer::from_fn(99, 301, |x, y| LumaA([v(x, y, 0) as u8, (y % 256) as u8]))
            .save(p)
            .unwrap()
    });
    save("grey16_200x150.png", &|p| {
        ImageBuffer::from_fn(200, 150, |x, y| Luma([(v(x, y, 0) * 2) as u16]))
            .save(p)
            .unwrap()
    });
    save("rgb16_180x120.png", &|p| {
        ImageBuffer::from_fn(180, 120, |x, y| {
            Rgb([
                (v(x, y, 0) * 257) as u16,
                (v(x, y, 1) * 250) as u16,
                (v(x, y, 2) * 255) as u16,
            ])
        })
        .save(p)
        .unwrap()
    });
    save("rgb_64x64.png", &|p| {
        ImageBuffer::from_fn(64, 64, |x, y| {
            Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
        })
        .save(p)
        .unwrap()
    });
    save("rgb_5x7.png", &|p| {
        ImageBuffer::from_fn(5, 7, |x, y| {
            Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
        })
        .save(p)
        .unwrap()
    });
    save("rgb_2000x33.png", &|p| {
        ImageBuffer::from_fn(2000, 33, |x, y| {
            Rgb([v(x, y, 0) as u8, v(x, y, 1) as u8, v(x, y, 2) as u8])
        })
        .save(p)
        .unwrap()
    });
    out
}

#[test]
fn png_fixtures_match_pdqhash_bit_for_bit() {
    let Some(python) = peer_python() else {
        let msg = "pdqhash peer not installed (run benches/scripts/bench-pdq.sh once, or set VIGIL_PDQHASH_PYTHON)";
        assert!(std::env::var_os("VIGIL_REQUIRE_PEER").is_none(), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    };
    let dir = std::env::temp_dir().join(format!("vigil-pdq-peer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = fixtures(&dir);
    let script = repo_root().join("hashdb/pdq/scripts/pdqhash_reference.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(&files)
        .output()
        .expect("run peer");
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut hasher = PdqHasher::new();
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert!(
            f.len() >= 6 && f[1] != "ERROR",
            "peer could not read: {line}"
        );
        let bytes = std::fs::read(f[0]).unwrap();
        let img = decode_image(&bytes, &Limits::default()).unwrap();
        let (w, h) = img.rgb.dimensions();
        let ours = hasher
            .hash_rgb(w as usize, h as usize, img.rgb.as_raw())
            .unwrap();
        println!(
            "{:<28} mode={:<5} peer={} q={} ours={} q={}",
            f[0].rsplit('/').next().unwrap(),
            f[1],
            f[4],
            f[5],
            ours.hash,
            ours.quality
        );
        assert_eq!(ours.hash.to_hex(), f[4], "{}", f[0]);
        assert_eq!(ours.quality.to_string(), f[5], "{}", f[0]);
        checked += 1;
    }
    assert_eq!(checked, files.len());
    let _ = std::fs::remove_dir_all(&dir);
}
