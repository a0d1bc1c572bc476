//! The fast path must equal the plain reference transcription bit for bit,
//! on many sizes (window sizes 1..n, sizes below and around 64, odd strides).

use vigil_pdq::dct::dct_to_hash;
use vigil_pdq::reference::hash_luma_reference;
use vigil_pdq::{Dihedral, LumaPrecision, PdqHasher};

/// A small deterministic generator (xorshift), so tests need no RNG crate.
fn pixels(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Smooth-ish content plus noise, so hashes are not trivial.
            let smooth = ((i / 3) % 97) as u64 * 2;
            ((s % 64) + smooth) as u8
        })
        .collect()
}

fn luma_f64(rgb: &[u8]) -> Vec<f32> {
    rgb.chunks_exact(3)
        .map(|p| (p[0] as f64 * 0.299 + p[1] as f64 * 0.587 + p[2] as f64 * 0.114) as f32)
        .collect()
}

#[test]
fn fast_equals_reference_on_many_sizes() {
    let sizes = [
        (5, 5),
        (5, 7),
        (7, 5),
        (63, 64),
        (64, 64),
        (65, 64),
        (64, 63),
        (100, 37),
        (129, 130),
        (257, 255),
        (300, 200),
        (513, 77),
        (640, 480),
        (1000, 700),
    ];
    let mut hasher = PdqHasher::new();
    for (k, &(w, h)) in sizes.iter().enumerate() {
        let rgb = pixels(k as u64 + 1, w * h * 3);
        let luma = luma_f64(&rgb);
        let (dct, quality) = hash_luma_reference(&luma, h, w, true).unwrap();
        let fast = hasher.hash_rgb(w, h, &rgb).unwrap();
        assert_eq!(fast.hash, dct_to_hash(&dct), "{w}x{h}");
        assert_eq!(fast.quality, quality, "{w}x{h}");
        let fast_dct = hasher.dct_rgb(w, h, &rgb).unwrap().unwrap();
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(
                    fast_dct.0 .0[i][j].to_bits(),
                    dct.0[i][j].to_bits(),
                    "{w}x{h} ({i},{j})"
                );
            }
        }
        // The dihedral path never takes the 64x64 shortcut.
        let (dct_nd, _) = hash_luma_reference(&luma, h, w, false).unwrap();
        let dih = hasher.hash_rgb_dihedral(w, h, &rgb).unwrap();
        for (n, which) in Dihedral::ALL.iter().enumerate() {
            assert_eq!(
                dih.hashes[n],
                dct_to_hash(&dct_nd.dihedral(*which)),
                "{w}x{h} {which:?}"
            );
        }
        let via_luma = hasher.hash_luma(w, h, &luma).unwrap();
        assert_eq!(via_luma, fast);
        // The portable (non-SIMD-dispatched) build gives the same bits.
        let mut portable = PdqHasher::new().portable(true);
        let p = portable.dct_rgb(w, h, &rgb).unwrap().unwrap();
        assert_eq!(p.1, fast.quality);
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(
                    p.0 .0[i][j].to_bits(),
                    dct.0[i][j].to_bits(),
                    "portable {w}x{h} ({i},{j})"
                );
            }
        }
    }
}

#[test]
fn cpp_float_luma_matches_reference() {
    let (w, h) = (211, 157);
    let rgb = pixels(99, w * h * 3);
    let luma: Vec<f32> = rgb
        .chunks_exact(3)
        .map(|p| 0.299f32 * p[0] as f32 + 0.587f32 * p[1] as f32 + 0.114f32 * p[2] as f32)
        .collect();
    let (dct, q) = hash_luma_reference(&luma, h, w, true).unwrap();
    let out = PdqHasher::with_precision(LumaPrecision::CppFloat)
        .hash_rgb(w, h, &rgb)
        .unwrap();
    assert_eq!(out.hash, dct_to_hash(&dct));
    assert_eq!(out.quality, q);
}

#[test]
fn tiny_and_bad_inputs() {
    let mut h = PdqHasher::new();
    let out = h.hash_rgb(4, 100, &vec![7u8; 4 * 100 * 3]).unwrap();
    assert_eq!(out.hash.0, [0; 32]);
    assert_eq!(out.quality, 0);
    assert!(h.hash_rgb(0, 10, &[]).is_err());
    assert!(h.hash_rgb(10, 10, &[0; 10]).is_err());
    assert!(h.hash_rgb(usize::MAX, 3, &[0; 10]).is_err());
    assert!(h.hash_luma(10, 10, &[0.0; 99]).is_err());
    // Flat image: every coefficient equals the median, no bit is set.
    let flat = h.hash_rgb(100, 100, &vec![128u8; 100 * 100 * 3]).unwrap();
    assert_eq!(flat.quality, 0);
}

#[test]
fn hex_round_trip_and_bit_order() {
    let hex = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22";
    let h = vigil_pdq::PdqHash::from_hex(hex).unwrap();
    assert_eq!(h.to_hex(), hex);
    // The last hex digit (2 = 0b0010) holds bits 0..4: bit 1 set, bit 0 clear.
    assert!(!h.bit(0));
    assert!(h.bit(1));
    // The first hex digit (f) holds bits 252..256.
    assert!(h.bit(255) && h.bit(252));
    assert!(vigil_pdq::PdqHash::from_hex("xyz").is_err());
}

mod props {
    use proptest::prelude::*;
    use vigil_pdq::dct::dct_to_hash;
    use vigil_pdq::reference::hash_luma_reference;
    use vigil_pdq::PdqHasher;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Any size and content: no panic, and the fast path equals the
        /// reference transcription.
        #[test]
        fn any_image_matches_reference(w in 1usize..150, h in 1usize..150, seed in any::<u64>()) {
            let mut s = seed | 1;
            let rgb: Vec<u8> = (0..w * h * 3).map(|_| { s ^= s << 13; s ^= s >> 7; s ^= s << 17; s as u8 }).collect();
            let out = PdqHasher::new().hash_rgb(w, h, &rgb).unwrap();
            let luma: Vec<f32> = rgb
                .chunks_exact(3)
                .map(|p| (p[0] as f64 * 0.299 + p[1] as f64 * 0.587 + p[2] as f64 * 0.114) as f32)
                .collect();
            match hash_luma_reference(&luma, h, w, true) {
                Some((dct, q)) => {
                    prop_assert_eq!(out.hash, dct_to_hash(&dct));
                    prop_assert_eq!(out.quality, q);
                }
                None => prop_assert_eq!(out.hash.0, [0u8; 32]),
            }
        }

        /// Wrong buffer sizes are errors, never panics.
        #[test]
        fn bad_buffers_are_errors(w in 0usize..100, h in 0usize..100, len in 0usize..40_000) {
            let buf = vec![0u8; len];
            let r = PdqHasher::new().hash_rgb(w, h, &buf);
            prop_assert_eq!(r.is_ok(), w > 0 && h > 0 && len == w * h * 3);
        }
    }
}

/// Grey input (the hash-only JPEG path, grey PNGs) must hash exactly like
/// the same grey replicated into R, G and B, in both precisions and both
/// builds of the filter.
#[test]
fn grey_equals_replicated_rgb() {
    for (k, &(w, h)) in [(5, 5), (64, 64), (100, 37), (513, 77), (1000, 700)]
        .iter()
        .enumerate()
    {
        let grey = pixels(k as u64 + 40, w * h);
        let rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        for precision in [LumaPrecision::Pdqhash, LumaPrecision::CppFloat] {
            for portable in [false, true] {
                let mut hasher = PdqHasher::with_precision(precision).portable(portable);
                let a = hasher.hash_grey(w, h, &grey).unwrap();
                let b = hasher.hash_rgb(w, h, &rgb).unwrap();
                assert_eq!(a, b, "{w}x{h} {precision:?} portable={portable}");
            }
        }
    }
}

/// RGBA input hashes exactly like its RGB channels (alpha dropped), in both
/// precisions and both builds of the filter.
#[test]
fn rgba_equals_rgb_with_alpha_dropped() {
    for (k, &(w, h)) in [(5, 5), (64, 64), (100, 37), (513, 77), (1000, 700)]
        .iter()
        .enumerate()
    {
        let rgba = pixels(k as u64 + 80, w * h * 4);
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        for precision in [LumaPrecision::Pdqhash, LumaPrecision::CppFloat] {
            for portable in [false, true] {
                let mut hasher = PdqHasher::with_precision(precision).portable(portable);
                let a = hasher.hash_rgba(w, h, &rgba).unwrap();
                let b = hasher.hash_rgb(w, h, &rgb).unwrap();
                assert_eq!(a, b, "{w}x{h} {precision:?} portable={portable}");
            }
        }
    }
    assert!(PdqHasher::new().hash_rgba(5, 5, &[0; 75]).is_err());
}
