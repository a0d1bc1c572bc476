//! The frequency-domain half of PDQ: the 16x64 DCT matrix, the 64x64 to
//! 16x16 DCT, the eight dihedral transforms of the 16x16 coefficients, the
//! median threshold and the packing of bits into the reference's byte order.

use std::sync::OnceLock;

use crate::PdqHash;

/// The 16x16 low-frequency DCT coefficients (row `i` = vertical frequency
/// `i + 1`, column `j` = horizontal frequency `j + 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DctCoefficients(pub [[f32; 16]; 16]);

/// The eight dihedral variants, in the reference's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Dihedral {
    /// All variants in the reference's order (the order of
    /// `pdqDihedralHash256esFromFloatLuma` and of `pdqhash.compute_dihedral`).
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// A short lowercase name, as python-threatexchange prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Dihedral::Original => "original",
            Dihedral::Rotate90 => "rotate90",
            Dihedral::Rotate180 => "rotate180",
            Dihedral::Rotate270 => "rotate270",
            Dihedral::FlipX => "flipx",
            Dihedral::FlipY => "flipy",
            Dihedral::FlipPlus1 => "flipplus1",
            Dihedral::FlipMinus1 => "flipminus1",
        }
    }
}

/// The reference's DCT matrix, 16 rows by 64 columns:
/// `D[i][j] = sqrt(2/64) * cos(pi / 128 * (i + 1) * (2j + 1))`, where the
/// scale factor is first rounded to `f32`, the product is taken in `f64` and
/// the result is rounded to `f32` (that is what the C++ expression does).
pub fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static MATRIX: OnceLock<[[f32; 64]; 16]> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut d = [[0.0f32; 64]; 16];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let angle =
                    (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * angle.cos()) as f32;
            }
        }
        d
    })
}

/// `B = D A D^T` restricted to the 16x16 corner. Each output is summed over
/// `k = 0..64` in order, with a separate multiply and add, like the
/// reference; the loops are arranged so that the compiler can vectorise
/// across the independent outputs without changing any single sum.
pub fn dct_64_to_16(a: &[[f32; 64]; 64]) -> DctCoefficients {
    let d = dct_matrix();
    // T = D A: row i of T is sum_k D[i][k] * A[k][..], accumulated in k order.
    let mut t = [[0.0f32; 64]; 16];
    for (t_row, d_row) in t.iter_mut().zip(d.iter()) {
        for (a_row, &dik) in a.iter().zip(d_row.iter()) {
            for (acc, &x) in t_row.iter_mut().zip(a_row.iter()) {
                *acc += dik * x;
            }
        }
    }
    // B = T D^T: B[i][j] = sum_k T[i][k] * D[j][k], accumulated in k order.
    let mut b = [[0.0f32; 16]; 16];
    for (b_row, t_row) in b.iter_mut().zip(t.iter()) {
        let mut acc = [0.0f32; 16];
        for k in 0..64 {
            let tk = t_row[k];
            for (s, d_row) in acc.iter_mut().zip(d.iter()) {
                *s += tk * d_row[k];
            }
        }
        *b_row = acc;
    }
    DctCoefficients(b)
}

impl DctCoefficients {
    /// The coefficients of the transformed image, derived from these ones
    /// the way the reference does (sign flips and transposes).
    pub fn dihedral(&self, which: Dihedral) -> DctCoefficients {
        let a = &self.0;
        let mut b = [[0.0f32; 16]; 16];
        for i in 0..16 {
            for j in 0..16 {
                let v = a[i][j];
                match which {
                    Dihedral::Original => b[i][j] = v,
                    Dihedral::Rotate90 => b[j][i] = if j & 1 == 1 { v } else { -v },
                    Dihedral::Rotate180 => b[i][j] = if (i + j) & 1 == 1 { -v } else { v },
                    Dihedral::Rotate270 => b[j][i] = if i & 1 == 1 { v } else { -v },
                    Dihedral::FlipX => b[i][j] = if i & 1 == 1 { v } else { -v },
                    Dihedral::FlipY => b[i][j] = if j & 1 == 1 { v } else { -v },
                    Dihedral::FlipPlus1 => b[j][i] = v,
                    Dihedral::FlipMinus1 => b[j][i] = if (i + j) & 1 == 1 { -v } else { v },
                }
            }
        }
        DctCoefficients(b)
    }
}

/// The median the reference thresholds against: Torben's selection returns
/// the `(n + 1) / 2`-th smallest value, i.e. the lower median (element 127 of
/// 256 in sorted order). Only the value matters, because bits are set for
/// coefficients strictly greater than it.
pub fn lower_median(values: &[[f32; 16]; 16]) -> f32 {
    let mut flat = [0.0f32; 256];
    for (dst, src) in flat.chunks_exact_mut(16).zip(values.iter()) {
        dst.copy_from_slice(src);
    }
    let (_, m, _) = flat.select_nth_unstable_by(127, |a, b| a.total_cmp(b));
    *m
}

/// Threshold at the median and pack the bits: bit `k = 16 i + j` is set when
/// `dct[i][j] > median`; the hash is the big-endian 256-bit integer
/// `sum(bit_k << k)`, so bit `k` lives in byte `31 - k / 8`.
pub fn dct_to_hash(dct: &DctCoefficients) -> PdqHash {
    let median = lower_median(&dct.0);
    let mut bytes = [0u8; 32];
    for (i, row) in dct.0.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if v > median {
                let k = 16 * i + j;
                bytes[31 - k / 8] |= 1 << (k % 8);
            }
        }
    }
    PdqHash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_median_matches_torben_definition() {
        let mut v = [[0.0f32; 16]; 16];
        for (k, x) in v.iter_mut().flatten().enumerate() {
            // A permutation of 0..256 with duplicates folded in.
            *x = ((k * 97) % 256) as f32 / 2.0;
        }
        let mut sorted: Vec<f32> = v.iter().flatten().copied().collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        assert_eq!(lower_median(&v), sorted[127]);
    }

    #[test]
    fn dihedral_original_is_identity_and_flips_are_involutions() {
        let mut v = [[0.0f32; 16]; 16];
        for (k, x) in v.iter_mut().flatten().enumerate() {
            *x = k as f32 - 100.0;
        }
        let d = DctCoefficients(v);
        assert_eq!(d.dihedral(Dihedral::Original), d);
        for w in [
            Dihedral::FlipX,
            Dihedral::FlipY,
            Dihedral::FlipPlus1,
            Dihedral::FlipMinus1,
        ] {
            assert_eq!(d.dihedral(w).dihedral(w), d, "{w:?}");
        }
        let r90 = d.dihedral(Dihedral::Rotate90);
        let r180 = d.dihedral(Dihedral::Rotate180);
        assert_eq!(r90.dihedral(Dihedral::Rotate90), r180);
    }
}
