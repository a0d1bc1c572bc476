//! `vigil hash` for images: the TSV header and one row per file in the
//! order given (whatever thread hashed it), JSON lines, the dihedral
//! columns, and a failed file reported on stderr with exit code 1.

use std::process::Command;
use vigil_models::synth;

fn write_png(dir: &std::path::Path, name: &str, img: &image::RgbImage) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, vigil::demo::encode_png(img)).unwrap();
    p
}

#[test]
fn hash_prints_one_row_per_file_in_order_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let imgs: Vec<image::RgbImage> = (0..5)
        .map(|i| synth::benign_image(i, 96 + 8 * i as u32))
        .collect();
    let mut paths: Vec<std::path::PathBuf> = imgs
        .iter()
        .enumerate()
        .map(|(i, img)| write_png(dir.path(), &format!("img-{i}.png"), img))
        .collect();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    paths.insert(2, broken.clone());

    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("hash")
        .args(["--threads", "3", "--dihedral"])
        .args(&paths)
        .env("VIGIL_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the exit code 1"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(&header[..5], ["path", "pdq", "quality", "md5", "sha256"]);
    assert_eq!(header.len(), 12, "seven dihedral columns: {header:?}");
    assert_eq!(header[5], "pdq_rotate90");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 5, "the broken file has no row on stdout");
    let ok_paths: Vec<&std::path::PathBuf> = paths.iter().filter(|p| **p != broken).collect();
    for ((row, path), img) in rows.iter().zip(&ok_paths).zip(&imgs) {
        assert_eq!(
            row[0],
            path.display().to_string(),
            "rows keep the order given"
        );
        let want =
            vigil_pdq::hash_rgb_dihedral(img.width() as usize, img.height() as usize, img.as_raw())
                .unwrap();
        assert_eq!(row[1], want.hashes[0].to_hex());
        assert_eq!(row[2], want.quality.to_string());
        for (k, col) in row[5..].iter().enumerate() {
            assert_eq!(*col, want.hashes[k + 1].to_hex(), "dihedral column {k}");
        }
        assert_eq!(row[3].len(), 32);
        assert_eq!(row[4].len(), 64);
    }
    assert!(
        stderr.contains(&format!("{}\terror=", broken.display())),
        "{stderr}"
    );

    // JSON: one object per line, same hashes.
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["hash", "--format", "json", "--threads", "1"])
        .args(&ok_paths)
        .env("VIGIL_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 5);
    for ((o, row), img) in objs.iter().zip(&rows).zip(&imgs) {
        assert_eq!(o["path"], row[0]);
        assert_eq!(o["pdq"], row[1]);
        assert_eq!(o["md5"], row[3]);
        assert!(o.get("dihedral").is_none());
        // The 64-bit hashes, as the pipeline computes them.
        for (t, h) in vigil_pipeline::imagehash::hash_all(
            img.width() as usize,
            img.height() as usize,
            img.as_raw(),
        ) {
            assert_eq!(o[t.as_str()], format!("{h:016x}"), "{t}");
        }
    }
}
