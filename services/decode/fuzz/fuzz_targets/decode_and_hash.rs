//! Any bytes: decode within tight limits, then hash. Must never panic,
//! abort or allocate past the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = vigil_decode::Limits {
        max_bytes: 1 << 20,
        max_dimension: 4096,
        max_pixels: 1 << 22,
    };
    if let Ok(img) = vigil_decode::decode_image(data, &limits) {
        let (w, h) = img.rgb.dimensions();
        let mut hasher = vigil_pdq::PdqHasher::new();
        let _ = hasher.hash_rgb(w as usize, h as usize, img.rgb.as_raw());
        let _ = hasher.hash_rgb_dihedral(w as usize, h as usize, img.rgb.as_raw());
    }
});
