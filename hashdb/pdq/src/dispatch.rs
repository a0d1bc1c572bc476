//! Runtime CPU-feature dispatch for the image-domain filter, and the only
//! `unsafe` code in this crate.
//!
//! The filter is written once, in safe Rust ([`Downsampler::downsample_impl`],
//! always inlined). On x86-64 it is compiled a second time inside a function
//! with AVX2 enabled; that copy is called only after the CPU reports AVX2.
//! FMA is deliberately *not* enabled, and Rust never fuses a multiply and
//! an add on its own, so both copies perform exactly the same IEEE-754
//! operations in the same order and give bit-identical results (tested in
//! `tests/fast_vs_reference.rs`).

use crate::filter::{Downsampler, LumaSource};

pub(crate) fn downsample(
    d: &mut Downsampler,
    rows: usize,
    cols: usize,
    src: LumaSource<'_>,
    portable: bool,
) -> [[f32; 64]; 64] {
    #[cfg(target_arch = "x86_64")]
    {
        if !portable && std::is_x86_feature_detected!("avx2") {
            // SAFETY: `downsample_avx2` only requires the AVX2 target
            // feature, and the CPU has just been checked to support it.
            #[allow(unsafe_code)]
            return unsafe { downsample_avx2(d, rows, cols, src) };
        }
    }
    let _ = portable;
    d.downsample_impl(rows, cols, src)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn downsample_avx2(
    d: &mut Downsampler,
    rows: usize,
    cols: usize,
    src: LumaSource<'_>,
) -> [[f32; 64]; 64] {
    d.downsample_impl(rows, cols, src)
}
