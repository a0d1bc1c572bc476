//! Still WebP goes through libwebp (see `src/webp.rs`); its pixels must be
//! those `image-webp` gives (which match Pillow's, see docs/pdq.md): on
//! every lossy WebP among the shared test vectors (read at run time), and on
//! lossless files with alpha made here.

use std::path::{Path, PathBuf};

use vigil_decode::{decode_image, decode_image_with, DecodeOptions, Limits, MediaFormat};

fn webp_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            webp_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("webp"))
        {
            out.push(p);
        }
    }
}

#[test]
fn libwebp_gives_the_same_pixels_as_image_webp() {
    let mut files = Vec::new();
    webp_files(&vigil_testdata::require("pdq"), &mut files);
    files.sort();
    assert!(files.len() >= 5, "expected the lossy WebP test vectors");
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let fast = decode_image(&bytes, &Limits::default()).unwrap();
        assert_eq!(fast.format, MediaFormat::Webp);
        // The EXIF option keeps the image-webp path; these files carry no
        // orientation, so it decodes the same image.
        let options = DecodeOptions {
            apply_exif_orientation: true,
        };
        let pure = decode_image_with(&bytes, &Limits::default(), &options).unwrap();
        assert_eq!(fast.rgb.dimensions(), pure.rgb.dimensions(), "{path:?}");
        assert!(
            fast.rgb.as_raw() == pure.rgb.as_raw(),
            "{path:?}: pixels differ"
        );
    }
}

#[test]
fn truncated_lossy_webp_is_corrupt_not_a_panic() {
    let mut files = Vec::new();
    webp_files(&vigil_testdata::require("pdq"), &mut files);
    let bytes = std::fs::read(&files[0]).unwrap();
    for cut in [12, 20, 40, 100, bytes.len() / 2, bytes.len() - 1] {
        if let Err(e) = decode_image(&bytes[..cut], &Limits::default()) {
            assert_eq!(e.kind(), "corrupt", "cut {cut}: {e}");
        }
    }
}

#[test]
fn lossless_with_alpha_keeps_the_stored_colours() {
    // Colours under alpha 0 and 128 must come back as stored (alpha dropped,
    // not composited, not premultiplied), as in Pillow's convert("RGB").
    let (w, h) = (23u32, 11u32);
    let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 11) as u8,
            (y * 23) as u8,
            (x * y) as u8,
            [0, 128, 255][((x + y) % 3) as usize],
        ])
    });
    let mut bytes = Vec::new();
    rgba.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::WebP,
    )
    .unwrap();
    let fast = decode_image(&bytes, &Limits::default()).unwrap();
    let options = DecodeOptions {
        apply_exif_orientation: true,
    };
    let pure = decode_image_with(&bytes, &Limits::default(), &options).unwrap();
    let stored: Vec<u8> = rgba
        .as_raw()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    assert_eq!(fast.rgb.as_raw(), &stored);
    assert_eq!(pure.rgb.as_raw(), &stored);
}
