//! Any bytes: decode within tight limits, then hash. Must never panic,
//! abort or allocate past the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = vigil_decode::Limits {
        max_bytes: 1 << 20,
        max_pixels: 1 << 22,
        max_memory_bytes: 64 << 20,
    };
    let decoded = vigil_decode::decode_image(data, &limits);
    // A contained decoder panic is still a finding.
    if let Err(e @ vigil_decode::DecodeError::DecoderPanic { .. }) = &decoded {
        panic!("{e}");
    }
    if let Ok(img) = decoded {
        let (w, h) = img.rgb.dimensions();
        let mut hasher = vigil_pdq::PdqHasher::new();
        let _ = hasher.hash_rgb(w as usize, h as usize, img.rgb.as_raw());
        let _ = hasher.hash_rgb_dihedral(w as usize, h as usize, img.rgb.as_raw());
    }
    // The hash-only decode and its layouts.
    if let Ok(img) = vigil_decode::decode_for_hash(data, &limits) {
        let (w, h) = img.dimensions();
        let (w, h) = (w as usize, h as usize);
        let mut hasher = vigil_pdq::PdqHasher::new();
        let _ = match &img.pixels {
            vigil_decode::HashPixels::Luma(l) | vigil_decode::HashPixels::Grey(l) => {
                hasher.hash_grey(w, h, &l.pixels)
            }
            vigil_decode::HashPixels::Rgba(rgba) => hasher.hash_rgba(w, h, rgba.as_raw()),
            vigil_decode::HashPixels::Rgb(rgb) => hasher.hash_rgb(w, h, rgb.as_raw()),
        };
    }
});
