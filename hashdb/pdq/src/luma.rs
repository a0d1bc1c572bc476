//! RGB to luma conversion with the weights 0.299, 0.587, 0.114, in the two
//! precisions the reference implementations use.
//!
//! * [`LumaPrecision::Pdqhash`] (the default) is what the `pdqhash` Python
//!   binding does, and so what python-threatexchange and HMA produce: the
//!   products and sums are taken in `f64` by numpy and the result is rounded
//!   once to `f32`.
//! * [`LumaPrecision::CppFloat`] is the C++ `fillFloatLumaFromRGB`: products
//!   and sums in `f32`.
//!
//! Both are computed with per-channel lookup tables of the exact products,
//! which reproduces the same roundings as the original expressions: each
//! product is rounded once, then `(r + g) + b` is summed left to right.

use std::sync::OnceLock;

/// Which floating-point recipe turns RGB into luma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LumaPrecision {
    /// numpy `R*0.299 + G*0.587 + B*0.114` in `f64`, then `astype(float32)`:
    /// the `pdqhash` package (python-threatexchange, HMA).
    #[default]
    Pdqhash,
    /// `0.299f*R + 0.587f*G + 0.114f*B` in `f32`: the C++ reference tools.
    CppFloat,
}

struct Tables {
    f64_tables: [[f64; 256]; 3],
    f32_tables: [[f32; 256]; 3],
    /// Luma of grey `g` replicated into R, G and B: `[Pdqhash, CppFloat]`.
    grey: [[f32; 256]; 2],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let w64 = [0.299f64, 0.587, 0.114];
        let w32 = [0.299f32, 0.587, 0.114];
        let mut t = Tables {
            f64_tables: [[0.0; 256]; 3],
            f32_tables: [[0.0; 256]; 3],
            grey: [[0.0; 256]; 2],
        };
        for c in 0..3 {
            for v in 0..256 {
                t.f64_tables[c][v] = v as f64 * w64[c];
                t.f32_tables[c][v] = w32[c] * v as f32;
            }
        }
        for g in 0..256 {
            let [a, b, c] = t.f64_tables.map(|table| table[g]);
            t.grey[0][g] = (a + b + c) as f32;
            let [a, b, c] = t.f32_tables.map(|table| table[g]);
            t.grey[1][g] = a + b + c;
        }
        t
    })
}

/// Convert one row of packed RGB8 (`out.len() * 3` bytes) to luma.
pub fn rgb_row_to_luma(rgb: &[u8], out: &mut [f32], precision: LumaPrecision) {
    pixels_row_to_luma::<3>(rgb, out, precision)
}

/// Convert one row of packed RGBA8 (`out.len() * 4` bytes) to luma; alpha is
/// ignored (dropped, not composited), as Pillow's `convert("RGB")` does.
pub fn rgba_row_to_luma(rgba: &[u8], out: &mut [f32], precision: LumaPrecision) {
    pixels_row_to_luma::<4>(rgba, out, precision)
}

/// Luma of a row of `BPP`-byte pixels whose first three bytes are R, G, B.
fn pixels_row_to_luma<const BPP: usize>(px: &[u8], out: &mut [f32], precision: LumaPrecision) {
    let t = tables();
    match precision {
        LumaPrecision::Pdqhash => {
            // Same roundings as the tables: each product rounded once in
            // f64, then (r + g) + b, then one rounding to f32.
            for (o, p) in out.iter_mut().zip(px.chunks_exact(BPP)) {
                let s = f64::from(p[0]) * 0.299 + f64::from(p[1]) * 0.587 + f64::from(p[2]) * 0.114;
                *o = s as f32;
            }
        }
        LumaPrecision::CppFloat => {
            let [tr, tg, tb] = &t.f32_tables;
            for (o, p) in out.iter_mut().zip(px.chunks_exact(BPP)) {
                *o = tr[p[0] as usize] + tg[p[1] as usize] + tb[p[2] as usize];
            }
        }
    }
}

/// Convert one row of packed RGB8 to luma, written into lane `lane` of a
/// transposed tile (one `[f32; N]` per column). The row is first converted
/// into `scratch` (contiguous, so it vectorises), then spread into the lane.
#[inline(always)]
pub fn rgb_row_to_lane<const N: usize>(
    rgb: &[u8],
    tile: &mut [[f32; N]],
    lane: usize,
    precision: LumaPrecision,
    scratch: &mut [f32],
) {
    pixels_row_to_lane::<3, N>(rgb, tile, lane, precision, scratch)
}

/// [`rgb_row_to_lane`] for packed RGBA8 (alpha ignored).
#[inline(always)]
pub fn rgba_row_to_lane<const N: usize>(
    rgba: &[u8],
    tile: &mut [[f32; N]],
    lane: usize,
    precision: LumaPrecision,
    scratch: &mut [f32],
) {
    pixels_row_to_lane::<4, N>(rgba, tile, lane, precision, scratch)
}

#[inline(always)]
fn pixels_row_to_lane<const BPP: usize, const N: usize>(
    px: &[u8],
    tile: &mut [[f32; N]],
    lane: usize,
    precision: LumaPrecision,
    scratch: &mut [f32],
) {
    let n = tile.len().min(px.len() / BPP).min(scratch.len());
    let scratch = &mut scratch[..n];
    match precision {
        LumaPrecision::Pdqhash => pixels_row_to_luma_f64::<BPP>(&px[..n * BPP], scratch),
        LumaPrecision::CppFloat => pixels_row_to_luma::<BPP>(&px[..n * BPP], scratch, precision),
    }
    for (t, &v) in tile.iter_mut().zip(scratch.iter()) {
        t[lane] = v;
    }
}

/// numpy's `R*0.299 + G*0.587 + B*0.114` in `f64`, rounded to `f32`,
/// eight pixels at a time so that the compiler can use vector registers;
/// each lane does exactly the scalar operations (multiply, add, add,
/// convert), so the result equals the table-driven [`rgb_row_to_luma`].
#[inline(always)]
pub fn rgb_row_to_luma_f64(rgb: &[u8], out: &mut [f32]) {
    pixels_row_to_luma_f64::<3>(rgb, out)
}

#[inline(always)]
fn pixels_row_to_luma_f64<const BPP: usize>(px: &[u8], out: &mut [f32]) {
    const W: [f64; 3] = [0.299, 0.587, 0.114];
    let mut groups = px.chunks_exact(8 * BPP);
    let mut dst = out.chunks_exact_mut(8);
    for (p, o) in (&mut groups).zip(&mut dst) {
        let mut r = [0.0f64; 8];
        let mut g = [0.0f64; 8];
        let mut b = [0.0f64; 8];
        for k in 0..8 {
            r[k] = f64::from(p[BPP * k]);
            g[k] = f64::from(p[BPP * k + 1]);
            b[k] = f64::from(p[BPP * k + 2]);
        }
        for k in 0..8 {
            o[k] = (r[k] * W[0] + g[k] * W[1] + b[k] * W[2]) as f32;
        }
    }
    for (o, p) in dst
        .into_remainder()
        .iter_mut()
        .zip(groups.remainder().chunks_exact(BPP))
    {
        *o = (f64::from(p[0]) * W[0] + f64::from(p[1]) * W[1] + f64::from(p[2]) * W[2]) as f32;
    }
}

fn grey_table(precision: LumaPrecision) -> &'static [f32; 256] {
    match precision {
        LumaPrecision::Pdqhash => &tables().grey[0],
        LumaPrecision::CppFloat => &tables().grey[1],
    }
}

/// Convert one row of 8-bit grey to luma as the reference would see the
/// same grey value replicated into R, G and B (one table lookup per pixel:
/// the table holds exactly what [`rgb_row_to_luma`] computes for `(g, g, g)`).
pub fn grey_row_to_luma(grey: &[u8], out: &mut [f32], precision: LumaPrecision) {
    let table = grey_table(precision);
    for (o, &g) in out.iter_mut().zip(grey.iter()) {
        *o = table[g as usize];
    }
}

/// Like [`grey_row_to_luma`], written straight into lane `lane` of a
/// transposed tile (one `[f32; N]` per column).
#[inline(always)]
pub fn grey_row_to_lane<const N: usize>(
    grey: &[u8],
    tile: &mut [[f32; N]],
    lane: usize,
    precision: LumaPrecision,
) {
    let table = grey_table(precision);
    for (t, &g) in tile.iter_mut().zip(grey.iter()) {
        t[lane] = table[g as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_f64_luma_equals_tables_for_every_value() {
        // Every value of each channel, in every position of an 8-pixel group
        // and in the scalar tail.
        let mut rgb = Vec::new();
        for v in 0..=255u8 {
            rgb.extend_from_slice(&[v, 255 - v, v.wrapping_mul(37)]);
        }
        rgb.extend_from_slice(&[1, 2, 3, 250, 251, 252, 9, 8, 7]);
        let n = rgb.len() / 3;
        let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
        rgb_row_to_luma(&rgb, &mut a, LumaPrecision::Pdqhash);
        rgb_row_to_luma_f64(&rgb, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
    }

    #[test]
    fn grey_table_is_the_luma_of_replicated_grey() {
        let grey: Vec<u8> = (0..=255u8).collect();
        let rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        for p in [LumaPrecision::Pdqhash, LumaPrecision::CppFloat] {
            let (mut a, mut b) = (vec![0.0f32; 256], vec![0.0f32; 256]);
            grey_row_to_luma(&grey, &mut a, p);
            rgb_row_to_luma(&rgb, &mut b, p);
            let mut tile = vec![[0.0f32; 8]; 256];
            grey_row_to_lane(&grey, &mut tile, 5, p);
            for g in 0..256 {
                assert_eq!(a[g].to_bits(), b[g].to_bits(), "{p:?} grey {g}");
                assert_eq!(tile[g][5].to_bits(), b[g].to_bits(), "{p:?} lane, grey {g}");
            }
        }
    }

    #[test]
    fn rgba_luma_ignores_alpha() {
        let mut rgb = Vec::new();
        let mut rgba = Vec::new();
        for v in 0..=255u8 {
            let px = [v, 255 - v, v.wrapping_mul(37)];
            rgb.extend_from_slice(&px);
            rgba.extend_from_slice(&px);
            rgba.push(v.wrapping_mul(11));
        }
        rgb.extend_from_slice(&[1, 2, 3, 250, 251, 252, 9, 8, 7]);
        rgba.extend_from_slice(&[1, 2, 3, 0, 250, 251, 252, 99, 9, 8, 7, 255]);
        let n = rgb.len() / 3;
        for p in [LumaPrecision::Pdqhash, LumaPrecision::CppFloat] {
            let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
            rgb_row_to_luma(&rgb, &mut a, p);
            rgba_row_to_luma(&rgba, &mut b, p);
            let (mut ta, mut tb) = (vec![[0.0f32; 8]; n], vec![[0.0f32; 8]; n]);
            let mut scratch = vec![0.0f32; n];
            rgb_row_to_lane(&rgb, &mut ta, 3, p, &mut scratch);
            rgba_row_to_lane(&rgba, &mut tb, 3, p, &mut scratch);
            for k in 0..n {
                assert_eq!(a[k].to_bits(), b[k].to_bits(), "{p:?} pixel {k}");
                assert_eq!(ta[k][3].to_bits(), a[k].to_bits(), "{p:?} lane, pixel {k}");
                assert_eq!(
                    tb[k][3].to_bits(),
                    a[k].to_bits(),
                    "{p:?} rgba lane, pixel {k}"
                );
            }
        }
    }

    #[test]
    fn tables_match_direct_expressions() {
        for (r, g, b) in [
            (0u8, 0u8, 0u8),
            (255, 255, 255),
            (1, 2, 3),
            (200, 17, 99),
            (33, 250, 128),
        ] {
            let mut out = [0.0f32];
            rgb_row_to_luma(&[r, g, b], &mut out, LumaPrecision::Pdqhash);
            let direct = (r as f64 * 0.299 + g as f64 * 0.587 + b as f64 * 0.114) as f32;
            assert_eq!(out[0].to_bits(), direct.to_bits());
            rgb_row_to_luma(&[r, g, b], &mut out, LumaPrecision::CppFloat);
            let direct32 = 0.299f32 * r as f32 + 0.587f32 * g as f32 + 0.114f32 * b as f32;
            assert_eq!(out[0].to_bits(), direct32.to_bits());
        }
    }
}
