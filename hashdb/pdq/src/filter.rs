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

use crate::luma::{grey_row_to_luma, rgb_row_to_luma, rgba_row_to_luma, LumaPrecision};
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
    /// Packed RGBA8, `cols * 4` bytes per row; alpha is ignored.
    Rgba(&'a [u8], LumaPrecision),
    /// 8-bit grey, `cols` bytes per row, seen as R = G = B.
    Grey(&'a [u8], LumaPrecision),
    /// Ready-made luma, `cols` values per row.
    Float(&'a [f32]),
}

impl LumaSource<'_> {
    /// Luma of row `i` into lane `lane` of a transposed tile.
    #[inline(always)]
    fn fill_lane(
        &self,
        i: usize,
        cols: usize,
        tile: &mut [[f32; STRIP]],
        lane: usize,
        scratch: &mut [f32],
    ) {
        match *self {
            LumaSource::Rgb(rgb, p) => {
                let row = &rgb[i * cols * 3..(i + 1) * cols * 3];
                crate::luma::rgb_row_to_lane(row, tile, lane, p, scratch)
            }
            LumaSource::Rgba(rgba, p) => {
                let row = &rgba[i * cols * 4..(i + 1) * cols * 4];
                crate::luma::rgba_row_to_lane(row, tile, lane, p, scratch)
            }
            LumaSource::Grey(g, p) => {
                crate::luma::grey_row_to_lane(&g[i * cols..(i + 1) * cols], tile, lane, p)
            }
            LumaSource::Float(_) => {
                self.fill_row(i, cols, scratch);
                for (t, &v) in tile.iter_mut().zip(scratch.iter()) {
                    t[lane] = v;
                }
            }
        }
    }

    fn fill_row(&self, i: usize, cols: usize, out: &mut [f32]) {
        let out = &mut out[..cols];
        match *self {
            LumaSource::Rgb(rgb, p) => {
                rgb_row_to_luma(&rgb[i * cols * 3..(i + 1) * cols * 3], out, p)
            }
            LumaSource::Rgba(rgba, p) => {
                rgba_row_to_luma(&rgba[i * cols * 4..(i + 1) * cols * 4], out, p)
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
/// Everything is streamed in strips of 8 rows, so the working set is a few
/// dozen rows (it stays in cache) instead of two full-size float images.
#[derive(Default)]
pub struct Downsampler {
    /// Ring of first-pass (row-filtered) rows, `ring_rows x stride`.
    ring: Vec<f32>,
    /// Running column sums of the second pass, one per column.
    sums: Vec<f32>,
    /// Up to 8 second-pass output rows, `STRIP x stride`.
    strip: Vec<f32>,
    /// Second row pass output at the 64 sampled columns, `rows x 64`.
    pass3: Vec<f32>,
    /// A strip of rows, transposed: one `[f32; STRIP]` per column.
    tile: Vec<[f32; STRIP]>,
    /// First-pass output for the strip, transposed like `tile`.
    tile_out: Vec<[f32; STRIP]>,
    /// One row of luma.
    row: Vec<f32>,
}

/// Step `s` of the reference's box filter along a line of `len` samples
/// with `window`, written as one uniform step: add sample `s` (while
/// `s < len`), then subtract sample `s - window` (once `s >= window`), then,
/// from step `half - 1` on, emit output `s - (half - 1)` divided by the
/// number of samples in the window. This is the same sequence of
/// operations as the four phases of [`box_lines`].
struct StepPlan {
    len: usize,
    window: usize,
    lead: usize,
}

impl StepPlan {
    fn new(len: usize, window: usize) -> Self {
        StepPlan {
            len,
            window,
            lead: (window + 2) / 2 - 1,
        }
    }
    fn steps(&self) -> usize {
        self.len + self.lead
    }
    fn count(&self, s: usize) -> usize {
        (s + 1).min(self.len) - (s + 1).saturating_sub(self.window)
    }
}

impl Downsampler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Blur and decimate to 64x64, bit-identical to the reference's
    /// `jaroszFilterFloat` (2 passes) followed by `decimateFloat`.
    /// Requires `rows, cols >= 1` and a source of the right size.
    /// Uses the widest vector instructions the CPU has (see
    /// [`crate::dispatch`]) unless `portable` is set.
    pub fn downsample(
        &mut self,
        rows: usize,
        cols: usize,
        src: LumaSource<'_>,
        portable: bool,
    ) -> [[f32; 64]; 64] {
        crate::dispatch::downsample(self, rows, cols, src, portable)
    }

    /// The portable body of [`Downsampler::downsample`]; always inlined so
    /// that each dispatch target compiles it for its own instruction set.
    #[inline(always)]
    pub(crate) fn downsample_impl(
        &mut self,
        rows: usize,
        cols: usize,
        src: LumaSource<'_>,
    ) -> [[f32; 64]; 64] {
        let wr = window_size(cols, 64);
        let wc = window_size(rows, 64);
        let stride = cols.div_ceil(CHUNK) * CHUNK;
        let ring_rows = wc + 2 * STRIP + 1;
        self.ring.clear();
        self.ring.resize(ring_rows * stride, 0.0);
        self.sums.clear();
        self.sums.resize(stride, 0.0);
        self.strip.clear();
        self.strip.resize(STRIP * stride, 0.0);
        self.pass3.clear();
        self.pass3.resize(rows * 64, 0.0);
        self.tile.clear();
        self.tile.resize(cols, [0.0; STRIP]);
        self.tile_out.clear();
        self.tile_out.resize(cols, [0.0; STRIP]);
        self.row.clear();
        self.row.resize(cols, 0.0);

        let col_samples: [usize; 64] = std::array::from_fn(|k| sample_index(k, cols, 64));
        let row_samples: [usize; 64] = std::array::from_fn(|k| sample_index(k, rows, 64));

        let plan = StepPlan::new(rows, wc);
        let mut step = 0usize; // next step of the column pass
        for i0 in (0..rows).step_by(STRIP) {
            // Pass 1 on rows i0..i0+n: rows, full output, into the ring.
            let n = STRIP.min(rows - i0);
            for r in 0..STRIP {
                if r < n {
                    src.fill_lane(i0 + r, cols, &mut self.tile, r, &mut self.row);
                } else {
                    for t in self.tile.iter_mut() {
                        t[r] = 0.0;
                    }
                }
            }
            {
                let tile = &self.tile;
                let out = &mut self.tile_out;
                box_lines::<STRIP>(
                    cols,
                    wr,
                    #[inline(always)]
                    |k| tile[k],
                    #[inline(always)]
                    |o, sums, count| out[o] = divide(sums, count),
                );
            }
            for r in 0..n {
                let at = ((i0 + r) % ring_rows) * stride;
                let row = &mut self.ring[at..at + cols];
                for (dst, t) in row.iter_mut().zip(self.tile_out.iter()) {
                    *dst = t[r];
                }
            }
            // Pass 2 as far as the rows now available allow.
            let available = i0 + n;
            let last = available == rows;
            while step < plan.steps() && (step < available || (last && step >= rows)) {
                self.column_step(&plan, step, stride, ring_rows, cols, wr, &col_samples);
                step += 1;
            }
        }

        // Pass 4: columns over the 64 sampled columns, keeping sampled rows.
        let mut block = [[0.0f32; 64]; 64];
        for c0 in (0..64).step_by(CHUNK) {
            let p3 = &self.pass3;
            let mut next = 0usize;
            box_lines::<CHUNK>(
                rows,
                wc,
                #[inline(always)]
                |k| load(p3, k * 64 + c0),
                #[inline(always)]
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

    /// One step of the second (column) pass over all columns at once; when
    /// it emits an output row, that row goes into the strip, and a full (or
    /// final) strip is run through the third pass.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn column_step(
        &mut self,
        plan: &StepPlan,
        s: usize,
        stride: usize,
        ring_rows: usize,
        cols: usize,
        wr: usize,
        col_samples: &[usize; 64],
    ) {
        if s < plan.len {
            let at = (s % ring_rows) * stride;
            let add = &self.ring[at..at + stride];
            if s >= plan.window {
                let at = ((s - plan.window) % ring_rows) * stride;
                let sub = &self.ring[at..at + stride];
                for ((acc, &a), &b) in self.sums.iter_mut().zip(add).zip(sub) {
                    *acc += a;
                    *acc -= b;
                }
            } else {
                for (acc, &a) in self.sums.iter_mut().zip(add) {
                    *acc += a;
                }
            }
        } else {
            let at = ((s - plan.window) % ring_rows) * stride;
            let sub = &self.ring[at..at + stride];
            for (acc, &b) in self.sums.iter_mut().zip(sub) {
                *acc -= b;
            }
        }
        if s < plan.lead {
            return;
        }
        let o = s - plan.lead;
        let count = plan.count(s) as f32;
        let slot = o % STRIP;
        for (dst, &acc) in self.strip[slot * stride..(slot + 1) * stride]
            .iter_mut()
            .zip(&self.sums)
        {
            *dst = acc / count;
        }
        if slot == STRIP - 1 || o + 1 == plan.len {
            self.row_pass_sampled(o - slot, slot + 1, stride, cols, wr, col_samples);
        }
    }

    /// Pass 3 on a strip of `n` second-pass rows starting at row `i0`:
    /// rows again, dividing and storing only at the sampled columns.
    #[inline(always)]
    fn row_pass_sampled(
        &mut self,
        i0: usize,
        n: usize,
        stride: usize,
        cols: usize,
        wr: usize,
        col_samples: &[usize; 64],
    ) {
        for r in 0..STRIP {
            if r < n {
                let src_row = &self.strip[r * stride..r * stride + cols];
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
            #[inline(always)]
            |k| tile[k],
            #[inline(always)]
            |o, sums, count| {
                if next < 64 && col_samples[next] == o {
                    let v = divide(sums, count);
                    while next < 64 && col_samples[next] == o {
                        for (r, &x) in v.iter().enumerate().take(n) {
                            out[(i0 + r) * 64 + next] = x;
                        }
                        next += 1;
                    }
                }
            },
        );
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
