//! The popcount kernels of the index: candidate verification over bucket
//! lists and the linear scan of the tail.
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

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn probe_body(
    table: &Table,
    masks: &[u32],
    key: u32,
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    for &m in masks {
        let k = (key ^ m) as usize;
        let (lo, hi) = (table.offsets[k] as usize, table.offsets[k + 1] as usize);
        for &s in &table.ids[lo..hi] {
            let d = dist(&hashes[s as usize], q);
            if d <= radius && bit(alive, s) {
                out.push(Hit {
                    distance: d,
                    slot: s,
                });
            }
        }
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

/// Verify every slot in the buckets `key ^ mask` of `table`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn probe_portable(
    table: &Table,
    masks: &[u32],
    key: u32,
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    probe_body(table, masks, key, hashes, alive, q, radius, out)
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

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "popcnt")]
    pub(crate) fn probe_popcnt(
        table: &Table,
        masks: &[u32],
        key: u32,
        hashes: &[Words],
        alive: &[u64],
        q: &Words,
        radius: u32,
        out: &mut Vec<Hit>,
    ) {
        probe_body(table, masks, key, hashes, alive, q, radius, out)
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

#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn probe(
    table: &Table,
    masks: &[u32],
    key: u32,
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    out: &mut Vec<Hit>,
) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_popcnt() {
        // SAFETY: the CPU supports `popcnt` (checked at run time just above);
        // that is the only precondition of calling this function.
        return unsafe { x86::probe_popcnt(table, masks, key, hashes, alive, q, radius, out) };
    }
    probe_portable(table, masks, key, hashes, alive, q, radius, out)
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
                // One table holding every slot under key 0.
                let table = Table {
                    offsets: vec![0, 2000],
                    ids: (0..2000).collect(),
                };
                let (mut c, mut d) = (Vec::new(), Vec::new());
                probe(&table, &[0], 0, &hashes, &alive, &q, radius, &mut c);
                probe_portable(&table, &[0], 0, &hashes, &alive, &q, radius, &mut d);
                assert_eq!(c, d);
                assert_eq!(c, a);
            }
        }
    }
}
