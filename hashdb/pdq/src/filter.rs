//! The image-domain half of PDQ, fast and bit-exact: luma, the two-pass
//! Jarosz (box-of-box = tent) filter and the 64x64 decimation.
//!
//! The reference runs four full-image box-filter passes (rows, columns,
//! rows, columns), each a running sum with a division per pixel, and then
//! samples 64x64 points. Every pass here performs the very same sequence of
//! `f32` additions, subtractions and divisions for each output that is used,
//! so results are identical bit for bit; the speed comes from:
//!
//! * vectorising across independent lines instead of along one line: column
//!   passes step down the rows with a whole row (in chunks of lanes) of
//!   running sums; row passes first transpose a strip of 8 rows into a tile,
//!   so that they too step along one axis with 8 rows side by side;
//! * computing luma straight into those tiles (no full luma buffer);
//! * computing only what the decimation samples: the third pass (rows)
//!   divides and stores only at the 64 sampled columns, and the fourth
//!   (columns) runs over those 64 columns only and keeps the 64 sampled rows.
//!
//! [`crate::reference`] holds the plain transcription it is tested against.

use crate::luma::{grey_row_to_luma, rgb_row_to_luma, LumaPrecision};
use crate::reference::{sample_index, window_size};

/// Rows handled side by side by the row passes.
const STRIP: usize = 8;
/// Columns handled side by side by the column pass.
const CHUNK: usize = 32;

/// Where the luma of each row comes from.
#[derive(Clone, Copy)]
pub enum LumaSource<'a> {
    /// Packed RGB8, `cols * 3` bytes per row.
    Rgb(&'a [u8], LumaPrecision),
    /// 8-bit grey, `cols` bytes per row, seen as R = G = B.
    Grey(&'a [u8], LumaPrecision),
    /// Ready-made luma, `cols` values per row.
    Float(&'a [f32]),
}

impl LumaSource<'_> {
    fn fill_row(&self, i: usize, cols: usize, out: &mut [f32]) {
        let out = &mut out[..cols];
        match *self {
            LumaSource::Rgb(rgb, p) => {
                rgb_row_to_luma(&rgb[i * cols * 3..(i + 1) * cols * 3], out, p)
            }
            LumaSource::Grey(g, p) => grey_row_to_luma(&g[i * cols..(i + 1) * cols], out, p),
            LumaSource::Float(f) => out.copy_from_slice(&f[i * cols..(i + 1) * cols]),
        }
    }
}

/// The reference's one-dimensional box filter, run on `N` independent lines
/// at once. `input(k)` returns step `k` of every line; `emit(o, sums, count)`
/// is called for output `o` with the running sums, and is expected to divide
/// `sums / count` for the outputs it keeps. The additions, subtractions and
/// the divisor are exactly those of the reference's four phases.
#[inline(always)]
fn box_lines<const N: usize>(
    len: usize,
    window: usize,
    input: impl Fn(usize) -> [f32; N],
    mut emit: impl FnMut(usize, &[f32; N], f32),
) {
    let half = (window + 2) / 2;
    let phase1 = half - 1;
    let phase2 = window - half + 1;
    let phase3 = len - window;
    let phase4 = half - 1;
    let mut sums = [0.0f32; N];
    let mut count = 0usize;
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..phase1 {
        let x = input(ri);
        for l in 0..N {
            sums[l] += x[l];
        }
        count += 1;
        ri += 1;
    }
    for _ in 0..phase2 {
        let x = input(ri);
        for l in 0..N {
            sums[l] += x[l];
        }
        count += 1;
        emit(oi, &sums, count as f32);
        ri += 1;
        oi += 1;
    }
    for _ in 0..phase3 {
        let x = input(ri);
        let y = input(li);
        for l in 0..N {
            sums[l] += x[l];
            sums[l] -= y[l];
        }
        emit(oi, &sums, count as f32);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..phase4 {
        let y = input(li);
        for l in 0..N {
            sums[l] -= y[l];
        }
        count -= 1;
        emit(oi, &sums, count as f32);
        li += 1;
        oi += 1;
    }
}

#[inline(always)]
fn divide<const N: usize>(sums: &[f32; N], count: f32) -> [f32; N] {
    let mut out = [0.0f32; N];
    for l in 0..N {
        out[l] = sums[l] / count;
    }
    out
}

#[inline(always)]
fn load<const N: usize>(buf: &[f32], at: usize) -> [f32; N] {
    let mut out = [0.0f32; N];
    out.copy_from_slice(&buf[at..at + N]);
    out
}

/// Reusable buffers for downsampling; keeps allocations out of the hot path.
#[derive(Default)]
pub struct Downsampler {
    /// First row pass output, `rows x stride`.
    pass1: Vec<f32>,
    /// First column pass output, `rows x stride`.
    pass2: Vec<f32>,
    /// Second row pass output at the 64 sampled columns, `rows x 64`.
    pass3: Vec<f32>,
    /// A strip of rows, transposed: one `[f32; STRIP]` per column.
    tile: Vec<[f32; STRIP]>,
    /// One row of luma.
    row: Vec<f32>,
}

impl Downsampler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Blur and decimate to 64x64, bit-identical to the reference's
    /// `jaroszFilterFloat` (2 passes) followed by `decimateFloat`.
    /// Requires `rows, cols >= 1` and a source of the right size.
    pub fn downsample(&mut self, rows: usize, cols: usize, src: LumaSource<'_>) -> [[f32; 64]; 64] {
        let wr = window_size(cols, 64);
        let wc = window_size(rows, 64);
        let stride = cols.div_ceil(STRIP) * STRIP;
        self.pass1.clear();
        self.pass1.resize(rows * stride, 0.0);
        self.pass2.clear();
        self.pass2.resize(rows * stride, 0.0);
        self.pass3.clear();
        self.pass3.resize(rows * 64, 0.0);
        self.tile.clear();
        self.tile.resize(cols, [0.0; STRIP]);
        self.row.clear();
        self.row.resize(cols, 0.0);

        let col_samples: [usize; 64] = std::array::from_fn(|k| sample_index(k, cols, 64));
        let row_samples: [usize; 64] = std::array::from_fn(|k| sample_index(k, rows, 64));

        // Pass 1: rows, full output. Luma goes straight into the tile.
        for i0 in (0..rows).step_by(STRIP) {
            let n = STRIP.min(rows - i0);
            for r in 0..STRIP {
                if r < n {
                    src.fill_row(i0 + r, cols, &mut self.row);
                    for (t, &v) in self.tile.iter_mut().zip(self.row.iter()) {
                        t[r] = v;
                    }
                } else {
                    for t in self.tile.iter_mut() {
                        t[r] = 0.0;
                    }
                }
            }
            let tile = &self.tile;
            let out = &mut self.pass1;
            box_lines::<STRIP>(
                cols,
                wr,
                |k| tile[k],
                |o, sums, count| {
                    let v = divide(sums, count);
                    for r in 0..n {
                        out[(i0 + r) * stride + o] = v[r];
                    }
                },
            );
        }

        // Pass 2: columns, full output, CHUNK (then STRIP) columns at a time.
        let mut c0 = 0;
        while c0 < stride {
            if c0 + CHUNK <= stride {
                column_pass::<CHUNK>(&self.pass1, &mut self.pass2, rows, stride, c0, wc);
                c0 += CHUNK;
            } else {
                column_pass::<STRIP>(&self.pass1, &mut self.pass2, rows, stride, c0, wc);
                c0 += STRIP;
            }
        }

        // Pass 3: rows again, dividing and storing only at sampled columns.
        for i0 in (0..rows).step_by(STRIP) {
            let n = STRIP.min(rows - i0);
            for r in 0..STRIP {
                if r < n {
                    let src_row = &self.pass2[(i0 + r) * stride..(i0 + r) * stride + cols];
                    for (t, &v) in self.tile.iter_mut().zip(src_row.iter()) {
                        t[r] = v;
                    }
                } else {
                    for t in self.tile.iter_mut() {
                        t[r] = 0.0;
                    }
                }
            }
            let tile = &self.tile;
            let out = &mut self.pass3;
            let mut next = 0usize;
            box_lines::<STRIP>(
                cols,
                wr,
                |k| tile[k],
                |o, sums, count| {
                    if next < 64 && col_samples[next] == o {
                        let v = divide(sums, count);
                        while next < 64 && col_samples[next] == o {
                            for r in 0..n {
                                out[(i0 + r) * 64 + next] = v[r];
                            }
                            next += 1;
                        }
                    }
                },
            );
        }

        // Pass 4: columns over the 64 sampled columns, keeping sampled rows.
        let mut block = [[0.0f32; 64]; 64];
        for c0 in (0..64).step_by(CHUNK) {
            let p3 = &self.pass3;
            let mut next = 0usize;
            box_lines::<CHUNK>(
                rows,
                wc,
                |k| load(p3, k * 64 + c0),
                |o, sums, count| {
                    if next < 64 && row_samples[next] == o {
                        let v = divide(sums, count);
                        while next < 64 && row_samples[next] == o {
                            block[next][c0..c0 + CHUNK].copy_from_slice(&v);
                            next += 1;
                        }
                    }
                },
            );
        }
        block
    }

    /// The 64x64 block when the input is already 64x64 (the reference copies
    /// it without filtering in its single-hash entry point).
    pub fn copy_64(src: LumaSource<'_>) -> [[f32; 64]; 64] {
        let mut block = [[0.0f32; 64]; 64];
        for (i, row) in block.iter_mut().enumerate() {
            src.fill_row(i, 64, row);
        }
        block
    }
}

fn column_pass<const N: usize>(
    input: &[f32],
    output: &mut [f32],
    rows: usize,
    stride: usize,
    c0: usize,
    window: usize,
) {
    box_lines::<N>(
        rows,
        window,
        |k| load(input, k * stride + c0),
        |o, sums, count| {
            let v = divide(sums, count);
            output[o * stride + c0..o * stride + c0 + N].copy_from_slice(&v);
        },
    );
}
