//! The popcount kernels of the index: gathering candidates from bucket
//! lists, verifying them (with software prefetch), the linear scan of the
//! tail, and the linear scan of a 64-bit signal table (dHash, pHash).
//!
//! Owns the crate's only `unsafe`: the same safe Rust body is compiled twice,
//! once portably and once with the `popcnt` target feature, and the faster
//! copy is called only after `is_x86_feature_detected!("popcnt")` says the
//! CPU has the instruction. (Without the feature, `u64::count_ones` becomes a
//! dozen shifts and masks; with it, one instruction.) Calling a
//! `#[target_feature]` function is the only unsafe operation; the bodies are
//! safe code. Tests check both copies give the same hits.
#![allow(unsafe_code)]

use crate::index::{Hit, Table, Words};

#[inline(always)]
fn bit(bits: &[u64], i: u32) -> bool {
    bits[(i / 64) as usize] >> (i % 64) & 1 == 1
}

#[inline(always)]
fn dist(a: &Words, b: &Words) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Hint the CPU to start loading `h`'s cache line (no effect on results).
#[inline(always)]
fn prefetch(h: &Words) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, even on a bad
    // address, and `h` is a valid reference anyway. SSE is part of the
    // x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            h.as_ptr() as *const i8
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = h;
}

/// How many candidates ahead the verifier prefetches.
const AHEAD: usize = 12;

#[inline(always)]
fn verify_body(
    cands: &[u32],
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    for (i, &s) in cands.iter().enumerate() {
        if let Some(&next) = cands.get(i + AHEAD) {
            prefetch(&hashes[next as usize]);
        }
        let d = dist(&hashes[s as usize], q);
        if d <= radius && bit(alive, s) {
            out.push(Hit {
                distance: d,
                slot: s,
            });
        }
    }
}

/// Append the slots of every bucket `key ^ mask` of `table` to `cands`.
pub(crate) fn gather(table: &Table, masks: &[u32], key: u32, cands: &mut Vec<u32>) {
    for &m in masks {
        let k = (key ^ m) as usize;
        let (lo, hi) = (table.offsets[k] as usize, table.offsets[k + 1] as usize);
        cands.extend_from_slice(&table.ids[lo..hi]);
    }
}

#[inline(always)]
fn scan_body(
    hashes: &[Words],
    first_slot: u32,
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    for (i, h) in hashes.iter().enumerate() {
        let d = dist(h, q);
        let s = first_slot + i as u32;
        if d <= radius && bit(alive, s) {
            out.push(Hit {
                distance: d,
                slot: s,
            });
        }
    }
}

#[inline(always)]
fn scan64_body(hashes: &[u64], q: u64, radius: u32, out: &mut Vec<(u32, u32)>) {
    for (i, &h) in hashes.iter().enumerate() {
        let d = (h ^ q).count_ones();
        if d <= radius {
            out.push((i as u32, d));
        }
    }
}

/// Scan 64-bit hashes: `(index, distance)` of each within `radius`.
pub(crate) fn scan64_portable(hashes: &[u64], q: u64, radius: u32, out: &mut Vec<(u32, u32)>) {
    scan64_body(hashes, q, radius, out)
}

/// Verify candidate slots against the query.
pub(crate) fn verify_portable(
    cands: &[u32],
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    verify_body(cands, hashes, alive, q, radius, out)
}

/// Scan `hashes` (slots from `first_slot`) linearly.
pub(crate) fn scan_portable(
    hashes: &[Words],
    first_slot: u32,
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    scan_body(hashes, first_slot, alive, q, radius, out)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "popcnt")]
    pub(crate) fn verify_popcnt(
        cands: &[u32],
        hashes: &[Words],
        alive: &[u64],
        q: &Words,
        radius: u32,
        out: &mut Vec<Hit>,
    ) {
        verify_body(cands, hashes, alive, q, radius, out)
    }

    #[target_feature(enable = "popcnt")]
    pub(crate) fn scan_popcnt(
        hashes: &[Words],
        first_slot: u32,
        alive: &[u64],
        q: &Words,
        radius: u32,
        out: &mut Vec<Hit>,
    ) {
        scan_body(hashes, first_slot, alive, q, radius, out)
    }

    #[target_feature(enable = "popcnt")]
    pub(crate) fn scan64_popcnt(hashes: &[u64], q: u64, radius: u32, out: &mut Vec<(u32, u32)>) {
        scan64_body(hashes, q, radius, out)
    }

    #[inline(always)]
    pub(crate) fn has_popcnt() -> bool {
        std::is_x86_feature_detected!("popcnt")
    }
}

/// Whether the fast kernel is in use on this CPU.
pub fn accelerated() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        x86::has_popcnt()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Verify candidate slots (any order, repeats allowed) against the query.
#[inline]
pub(crate) fn verify(
    cands: &[u32],
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports `popcnt` (checked at run time just above).
        return unsafe { x86::verify_popcnt(cands, hashes, alive, q, radius, out) };
    }
    verify_portable(cands, hashes, alive, q, radius, out)
}

#[inline]
pub(crate) fn scan(
    hashes: &[Words],
    first_slot: u32,
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports `popcnt` (checked at run time just above).
        return unsafe { x86::scan_popcnt(hashes, first_slot, alive, q, radius, out) };
    }
    scan_portable(hashes, first_slot, alive, q, radius, out)
}

/// Scan 64-bit hashes (a dHash or pHash table) linearly: `(index,
/// distance)` of each hash within `radius` of `q`, in index order.
#[inline]
pub(crate) fn scan64(hashes: &[u64], q: u64, radius: u32, out: &mut Vec<(u32, u32)>) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports `popcnt` (checked at run time just above).
        return unsafe { x86::scan64_popcnt(hashes, q, radius, out) };
    }
    scan64_portable(hashes, q, radius, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state
    }

    #[test]
    fn fast_and_portable_kernels_agree() {
        let mut st = 42;
        let hashes: Vec<Words> = (0..2000)
            .map(|_| [lcg(&mut st), lcg(&mut st), lcg(&mut st), lcg(&mut st)])
            .collect();
        let alive = vec![u64::MAX ^ 0b1010; 2000usize.div_ceil(64)];
        for qi in 0..20 {
            let q = hashes[qi * 7];
            for radius in [0, 31, 120, 128, 256] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                scan(&hashes, 0, &alive, &q, radius, &mut a);
                scan_portable(&hashes, 0, &alive, &q, radius, &mut b);
                assert_eq!(a, b);
                let cands: Vec<u32> = (0..2000).rev().collect();
                let (mut e, mut f) = (Vec::new(), Vec::new());
                verify(&cands, &hashes, &alive, &q, radius, &mut e);
                verify_portable(&cands, &hashes, &alive, &q, radius, &mut f);
                e.reverse();
                assert_eq!(e, f.iter().rev().copied().collect::<Vec<_>>());
                assert_eq!(e, a);
            }
        }
        let short: Vec<u64> = hashes.iter().map(|h| h[0]).collect();
        for radius in [0, 10, 31, 64] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            scan64(&short, short[5], radius, &mut a);
            scan64_portable(&short, short[5], radius, &mut b);
            assert_eq!(a, b);
            assert!(a.contains(&(5, 0)));
            let brute = short
                .iter()
                .filter(|h| (*h ^ short[5]).count_ones() <= radius)
                .count();
            assert_eq!(a.len(), brute);
        }
    }
}
