//! A deliberately plain, scalar transcription of the PDQ algorithm as the
//! reference describes it: full-size buffers, four complete box-filter
//! passes, full decimation, straightforward DCT. It is slow and exists as the
//! oracle that the fast path in this crate is tested against (bit for bit),
//! and as readable documentation of the order of floating-point operations.

use crate::dct::{dct_matrix, dct_to_hash, DctCoefficients};
use crate::{quality_of, MIN_HASHABLE_DIM};

/// Window size of the reference's Jarosz filter for one axis: half of the
/// block that one output pixel covers, rounded up.
pub fn window_size(old_dim: usize, new_dim: usize) -> usize {
    old_dim.div_ceil(2 * new_dim)
}

/// One-dimensional box filter in the reference's four phases. `stride` lets
/// the same code run along rows (1) and along columns (row length).
fn box_1d(input: &[f32], output: &mut [f32], len: usize, stride: usize, window: usize) {
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let phase3 = len - window;
    let phase4 = half - 1;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0.0f32;
    let mut count = 0usize;
    for _ in 0..phase1 {
        sum += input[ri];
        count += 1;
        ri += stride;
    }
    for _ in 0..phase2 {
        sum += input[ri];
        count += 1;
        output[oi] = sum / count as f32;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase3 {
        sum += input[ri];
        sum -= input[li];
        output[oi] = sum / count as f32;
        li += stride;
        ri += stride;
        oi += stride;
    }
    for _ in 0..phase4 {
        sum -= input[li];
        count -= 1;
        output[oi] = sum / count as f32;
        li += stride;
        oi += stride;
    }
}

/// The row index the reference samples for output index `out` (centres, not
/// corners), computed in double precision as the reference does.
pub fn sample_index(out: usize, in_dim: usize, out_dim: usize) -> usize {
    (((out as f64 + 0.5) * in_dim as f64) / out_dim as f64) as usize
}

/// Blur and decimate a luma image to 64x64, exactly as the reference does.
/// `luma` is overwritten (it is the reference's first work buffer).
pub fn downsample_64(luma: &mut [f32], rows: usize, cols: usize) -> [[f32; 64]; 64] {
    let mut out = [[0.0f32; 64]; 64];
    let mut tmp = vec![0.0f32; rows * cols];
    let wr = window_size(cols, 64);
    let wc = window_size(rows, 64);
    for _ in 0..2 {
        for i in 0..rows {
            box_1d(&luma[i * cols..], &mut tmp[i * cols..], cols, 1, wr);
        }
        for j in 0..cols {
            box_1d(&tmp[j..], &mut luma[j..], rows, cols, wc);
        }
    }
    for (oi, out_row) in out.iter_mut().enumerate() {
        let ii = sample_index(oi, rows, 64);
        for (oj, v) in out_row.iter_mut().enumerate() {
            let jj = sample_index(oj, cols, 64);
            *v = luma[ii * cols + jj];
        }
    }
    out
}

/// The 16x16 DCT corner of a 64x64 block, summing in the reference's order.
pub fn dct_16(a: &[[f32; 64]; 64]) -> DctCoefficients {
    let d = dct_matrix();
    let mut t = [[0.0f32; 64]; 16];
    for i in 0..16 {
        for j in 0..64 {
            let mut s = 0.0f32;
            for k in 0..64 {
                s += d[i][k] * a[k][j];
            }
            t[i][j] = s;
        }
    }
    let mut b = [[0.0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let mut s = 0.0f32;
            for k in 0..64 {
                s += t[i][k] * d[j][k];
            }
            b[i][j] = s;
        }
    }
    DctCoefficients(b)
}

/// Hash a float luma image the slow, obvious way. Returns the DCT, the
/// 64x64 block and the quality.
pub fn hash_luma_reference(
    luma: &[f32],
    rows: usize,
    cols: usize,
    shortcut_64: bool,
) -> Option<(DctCoefficients, u8)> {
    if rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM {
        return None;
    }
    let mut work = luma.to_vec();
    let block = if shortcut_64 && rows == 64 && cols == 64 {
        let mut b = [[0.0f32; 64]; 64];
        for (i, row) in b.iter_mut().enumerate() {
            row.copy_from_slice(&work[i * 64..(i + 1) * 64]);
        }
        b
    } else {
        downsample_64(&mut work, rows, cols)
    };
    let quality = quality_of(&block);
    Some((dct_16(&block), quality))
}

/// Convenience for tests: the reference hash of a float luma image.
pub fn hash_hex_reference(luma: &[f32], rows: usize, cols: usize) -> String {
    match hash_luma_reference(luma, rows, cols, true) {
        Some((dct, _)) => dct_to_hash(&dct).to_hex(),
        None => "0".repeat(64),
    }
}
