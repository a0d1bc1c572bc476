//! The exact Hamming index over 256-bit PDQ hashes.
//!
//! Owns: storage of the hashes by *slot* (a dense `u32` the index hands out on
//! insert), tombstones, and exact range and k-nearest search. It knows nothing
//! about banks: [`crate::HashDb`] maps slots to entries.
//!
//! # Method: multi-index hashing with a generalised pigeonhole
//!
//! The 256 bits are cut into `m` disjoint chunks. If two hashes are within
//! distance `r`, and chunk `i` is given a budget `t_i` with
//! `sum(t_i + 1) >= r + 1`, then at least one chunk differs by at most its
//! budget. So probing, in every chunk table, every key within `t_i` bits of the
//! query's chunk finds every neighbour: recall is exactly 1.0 by construction,
//! and each candidate is verified by a full 256-bit popcount.
//!
//! The number of chunks is picked per segment by a cost model (probes plus
//! expected random candidates) under a memory cap of 16 bytes per entry for
//! the offset tables; at one million entries it picks 15 chunks of 17–18 bits
//! (budgets 2 and 1 at radius 31), at ten million 12 chunks of 21–22 bits,
//! which cuts random candidates by about 6× compared with FAISS's 16×16.
//!
//! # Layout and memory
//!
//! Hashes live in one `Vec<[u64; 4]>` (32 bytes per slot). A *segment* covers
//! a contiguous slot range and holds, per chunk, a dense bucket-offset table
//! (`2^width + 1` `u32`s) and the slots sorted by chunk value (`u32` each):
//! `32 + 4·m` bytes per entry plus the offset tables, plus one bit for the
//! tombstone. [`PdqIndex::memory_bytes`] reports the exact figure; a test
//! holds it under 100 bytes per entry at scale.
//!
//! # Updates
//!
//! New hashes go to an unindexed *tail* that is scanned linearly; when it
//! reaches [`TAIL_MAX`] entries it is frozen into a segment, and adjacent
//! segments of similar size are merged (a log-structured scheme: O(log n)
//! segments, O(log n) amortised work per insert, never a full rebuild for an
//! insert). Deletes set a tombstone bit; merges drop dead slots from the
//! tables. [`PdqIndex::dead`] tells the owner when compaction is worth it.

use crate::kernel;
use vigil_pdq::PdqHash;

/// The largest search radius the index accepts (banks may not ask for more).
pub const MAX_RADIUS: u32 = 63;

/// Entries kept in the linearly scanned tail before it becomes a segment.
pub const TAIL_MAX: usize = 4096;

/// A hash as four 64-bit words (word 0 = bytes 0..8, big-endian).
pub type Words = [u64; 4];

/// Convert a PDQ hash to the index's word form.
pub fn words(h: &PdqHash) -> Words {
    let mut w = [0u64; 4];
    for (i, word) in w.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h.0[i * 8..i * 8 + 8]);
        *word = u64::from_be_bytes(b);
    }
    w
}

/// Convert back to a PDQ hash.
pub fn from_words(w: &Words) -> PdqHash {
    let mut out = [0u8; 32];
    for (i, word) in w.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&word.to_be_bytes());
    }
    PdqHash(out)
}

/// One hit: the slot and its Hamming distance to the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    pub distance: u32,
    pub slot: u32,
}

/// A chunk: `width` bits starting at bit `start` of the 256-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub start: u32,
    pub width: u32,
}

impl Chunk {
    /// The chunk's value in `w` (bit `b` is bit `b % 64` of word `b / 64`).
    #[inline(always)]
    pub fn extract(&self, w: &Words) -> u32 {
        let word = (self.start / 64) as usize;
        let off = self.start % 64;
        let mut v = w[word] >> off;
        if off + self.width > 64 && word + 1 < 4 {
            v |= w[word + 1] << (64 - off);
        }
        (v & ((1u64 << self.width) - 1)) as u32
    }
}

/// Cut 256 bits into `m` chunks as even as possible (wider chunks first).
pub(crate) fn layout(m: u32) -> Vec<Chunk> {
    let base = 256 / m;
    let extra = 256 - base * m;
    let mut out = Vec::with_capacity(m as usize);
    let mut start = 0;
    for i in 0..m {
        let width = if i < extra { base + 1 } else { base };
        out.push(Chunk { start, width });
        start += width;
    }
    out
}

/// Per-chunk budgets for radius `r`: `sum(t_i + 1) = r + 1` (a budget of -1
/// means the chunk is not probed). Wider chunks get the larger budgets.
pub(crate) fn budgets(chunks: &[Chunk], r: u32) -> Vec<i32> {
    let m = chunks.len() as u32;
    let q = (r + 1) / m;
    let rem = (r + 1) % m;
    // Chunks are ordered widest first, so the first `rem` get `q`.
    (0..m)
        .map(|i| if i < rem { q as i32 } else { q as i32 - 1 })
        .collect()
}

fn binom(n: u32, k: u32) -> f64 {
    let mut r = 1.0;
    for i in 0..k {
        r = r * f64::from(n - i) / f64::from(i + 1);
    }
    r
}

fn ball(width: u32, t: i32) -> f64 {
    (0..=t.max(-1)).map(|k| binom(width, k as u32)).sum()
}

/// Pick the chunk count for a segment of `n` entries: least expected work
/// (probes plus random candidates at radius 31) with the offset tables capped
/// at 16 bytes per entry (or 1 MiB for small segments).
pub(crate) fn choose_chunks(n: usize) -> u32 {
    let n = n.max(1) as f64;
    let cap = (16.0 * n).max(1024.0 * 1024.0);
    let mut best = (f64::MAX, 16);
    for m in 10..=32u32 {
        let chunks = layout(m);
        if chunks[0].width > 24 {
            continue;
        }
        let offsets: f64 = chunks.iter().map(|c| 4.0 * (1u64 << c.width) as f64).sum();
        if offsets > cap {
            continue;
        }
        let t = budgets(&chunks, 31);
        let mut cost = 0.0;
        for (c, &t) in chunks.iter().zip(&t) {
            let probes = ball(c.width, t);
            cost += probes + probes * n / (1u64 << c.width) as f64;
        }
        if cost < best.0 {
            best = (cost, m);
        }
    }
    best.1
}

/// Resident bytes per entry of an index bulk-built over `n` hashes (one
/// segment): 32 for the hash, 4 per chunk table, the offset tables shared out,
/// and the tombstone bit. At 10 million hashes this is about 93.5 bytes.
pub fn planned_bytes_per_entry(n: usize) -> f64 {
    let n = n.max(1);
    let chunks = layout(choose_chunks(n));
    let offsets: usize = chunks.iter().map(|c| 4 * ((1usize << c.width) + 1)).sum();
    32.0 + 4.0 * chunks.len() as f64 + offsets as f64 / n as f64 + 0.125
}

/// Every mask of `width` bits with at most `t` bits set, into `out`.
pub(crate) fn masks(width: u32, t: i32, out: &mut Vec<u32>) {
    out.clear();
    if t < 0 {
        return;
    }
    out.push(0);
    fn rec(from: u32, width: u32, left: i32, cur: u32, out: &mut Vec<u32>) {
        if left == 0 {
            return;
        }
        for b in from..width {
            let m = cur | (1 << b);
            out.push(m);
            rec(b + 1, width, left - 1, m, out);
        }
    }
    rec(0, width, t, 0, out);
}

/// One chunk's table: `ids[offsets[k]..offsets[k+1]]` are the slots whose
/// chunk value is `k`.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub offsets: Vec<u32>,
    pub ids: Vec<u32>,
}

/// An immutable multi-index over a slot range.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Slot range `[start, end)` this segment covers.
    pub start: u32,
    pub end: u32,
    /// Live slots indexed (dead slots at build time are left out).
    pub count: u32,
    pub chunks: Vec<Chunk>,
    pub tables: Vec<Table>,
}

impl Segment {
    fn build(hashes: &[Words], alive: &[u64], start: u32, end: u32) -> Segment {
        let live: Vec<u32> = (start..end).filter(|&s| bit(alive, s)).collect();
        let m = choose_chunks(live.len());
        let chunks = layout(m);
        // Tables are independent: build them on several threads when the
        // segment is big (a worker loading ten million hashes), else inline.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(chunks.len());
        let tables: Vec<Table> = if live.len() < (1 << 18) || threads <= 1 {
            chunks
                .iter()
                .map(|c| build_table(c, hashes, &live))
                .collect()
        } else {
            let per = chunks.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .chunks(per)
                    .map(|group| {
                        let live = &live;
                        scope.spawn(move || {
                            group
                                .iter()
                                .map(|c| build_table(c, hashes, live))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        Segment {
            start,
            end,
            count: live.len() as u32,
            chunks,
            tables,
        }
    }

    fn memory_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| 4 * (t.offsets.capacity() + t.ids.capacity()))
            .sum::<usize>()
            + std::mem::size_of::<Segment>()
    }
}

/// Counting sort of the `live` slots by their value of chunk `c`.
fn build_table(c: &Chunk, hashes: &[Words], live: &[u32]) -> Table {
    let size = 1usize << c.width;
    let keys: Vec<u32> = live
        .iter()
        .map(|&s| c.extract(&hashes[s as usize]))
        .collect();
    let mut offsets = vec![0u32; size + 1];
    for &k in &keys {
        offsets[k as usize + 1] += 1;
    }
    for k in 0..size {
        offsets[k + 1] += offsets[k];
    }
    let mut ids = vec![0u32; live.len()];
    // Use offsets[k] as the fill cursor of bucket k; afterwards it holds the
    // end of bucket k, so shift everything back by one bucket.
    for (&k, &s) in keys.iter().zip(live) {
        let pos = &mut offsets[k as usize];
        ids[*pos as usize] = s;
        *pos += 1;
    }
    offsets.copy_within(0..size, 1);
    offsets[0] = 0;
    Table { offsets, ids }
}

#[inline(always)]
fn bit(bits: &[u64], i: u32) -> bool {
    bits[(i / 64) as usize] >> (i % 64) & 1 == 1
}

/// The exact Hamming index. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct PdqIndex {
    hashes: Vec<Words>,
    /// One bit per slot: 1 = live.
    alive: Vec<u64>,
    live: usize,
    segments: Vec<Segment>,
    /// Slots `>= tail_start` are not in any segment yet.
    tail_start: u32,
}

impl PdqIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build an index over `hashes` in one go: slot `i` is `hashes[i]`.
    pub fn from_hashes(hashes: Vec<Words>) -> Self {
        let n = hashes.len();
        let mut alive = vec![u64::MAX; n.div_ceil(64)];
        if !n.is_multiple_of(64) {
            if let Some(last) = alive.last_mut() {
                *last = (1u64 << (n % 64)) - 1;
            }
        }
        let mut idx = PdqIndex {
            hashes,
            alive,
            live: n,
            segments: Vec::new(),
            tail_start: 0,
        };
        if n >= TAIL_MAX {
            let seg = Segment::build(&idx.hashes, &idx.alive, 0, n as u32);
            idx.segments.push(seg);
            idx.tail_start = n as u32;
        }
        idx
    }

    /// Number of live hashes.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of slots ever handed out (live and dead).
    pub fn slots(&self) -> usize {
        self.hashes.len()
    }

    /// Number of tombstoned slots still holding memory.
    pub fn dead(&self) -> usize {
        self.hashes.len() - self.live
    }

    /// Number of indexed segments (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The hash in `slot`, if it is live.
    pub fn get(&self, slot: u32) -> Option<PdqHash> {
        if (slot as usize) < self.hashes.len() && bit(&self.alive, slot) {
            Some(from_words(&self.hashes[slot as usize]))
        } else {
            None
        }
    }

    /// Add a hash; returns its slot. Never rebuilds the whole index.
    pub fn insert(&mut self, h: &PdqHash) -> u32 {
        let slot = self.hashes.len() as u32;
        self.hashes.push(words(h));
        if slot.is_multiple_of(64) {
            self.alive.push(0);
        }
        self.alive[(slot / 64) as usize] |= 1 << (slot % 64);
        self.live += 1;
        if self.hashes.len() - self.tail_start as usize >= TAIL_MAX {
            self.freeze_tail();
        }
        slot
    }

    /// Tombstone a slot. Returns whether it was live.
    pub fn remove(&mut self, slot: u32) -> bool {
        if (slot as usize) >= self.hashes.len() || !bit(&self.alive, slot) {
            return false;
        }
        self.alive[(slot / 64) as usize] &= !(1 << (slot % 64));
        self.live -= 1;
        true
    }

    fn freeze_tail(&mut self) {
        let end = self.hashes.len() as u32;
        let seg = Segment::build(&self.hashes, &self.alive, self.tail_start, end);
        self.segments.push(seg);
        self.tail_start = end;
        // Merge while the newer segment is at least half the older one.
        while self.segments.len() >= 2 {
            let k = self.segments.len();
            let (a, b) = (&self.segments[k - 2], &self.segments[k - 1]);
            let a_size = (a.end - a.start) as u64;
            let b_size = (b.end - b.start) as u64;
            if 2 * b_size < a_size {
                break;
            }
            let (start, end) = (a.start, b.end);
            self.segments.truncate(k - 2);
            let seg = Segment::build(&self.hashes, &self.alive, start, end);
            self.segments.push(seg);
        }
    }

    /// Resident bytes of the index (hashes, tombstone bits, tables).
    pub fn memory_bytes(&self) -> usize {
        self.hashes.capacity() * 32
            + self.alive.capacity() * 8
            + self
                .segments
                .iter()
                .map(Segment::memory_bytes)
                .sum::<usize>()
            + std::mem::size_of::<Self>()
    }

    /// Every live hash within `radius` (clamped to [`MAX_RADIUS`]) of `q`,
    /// appended to `out` in no particular order, each exactly once.
    pub fn range(&self, q: &PdqHash, radius: u32, out: &mut Vec<Hit>) {
        let radius = radius.min(MAX_RADIUS);
        let qw = words(q);
        let mut scratch = Scratch::default();
        for seg in &self.segments {
            search_segment(
                seg,
                &self.hashes,
                &self.alive,
                &qw,
                radius,
                &mut scratch,
                out,
            );
        }
        let tail = &self.hashes[self.tail_start as usize..];
        kernel::scan(tail, self.tail_start, &self.alive, &qw, radius, out);
    }

    /// Like [`PdqIndex::range`], sorted by distance then slot.
    pub fn range_sorted(&self, q: &PdqHash, radius: u32) -> Vec<Hit> {
        let mut out = Vec::new();
        self.range(q, radius, &mut out);
        out.sort_unstable();
        out
    }

    /// The `k` live hashes nearest to `q` (ties broken by slot), exact.
    /// Grows the radius through the index and falls back to a scan beyond
    /// [`MAX_RADIUS`].
    pub fn knn(&self, q: &PdqHash, k: usize) -> Vec<Hit> {
        if k == 0 || self.live == 0 {
            return Vec::new();
        }
        for r in [15, 31, MAX_RADIUS] {
            let mut hits = self.range_sorted(q, r);
            if hits.len() >= k {
                hits.truncate(k);
                return hits;
            }
        }
        let qw = words(q);
        let mut all = Vec::new();
        kernel::scan(&self.hashes, 0, &self.alive, &qw, 256, &mut all);
        all.sort_unstable();
        all.truncate(k);
        all
    }

    /// Every live hash within `radius` by brute force (the reference the
    /// tests and benchmark compare against).
    pub fn brute_force(&self, q: &PdqHash, radius: u32) -> Vec<Hit> {
        let qw = words(q);
        let mut out = Vec::new();
        kernel::scan_portable(&self.hashes, 0, &self.alive, &qw, radius, &mut out);
        out.sort_unstable();
        out
    }

    /// Live `(slot, hash)` pairs in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, PdqHash)> + '_ {
        self.hashes
            .iter()
            .enumerate()
            .filter(|(s, _)| bit(&self.alive, *s as u32))
            .map(|(s, w)| (s as u32, from_words(w)))
    }
}

fn search_segment(
    seg: &Segment,
    hashes: &[Words],
    alive: &[u64],
    q: &Words,
    radius: u32,
    scratch: &mut Scratch,
    out: &mut Vec<Hit>,
) {
    if seg.count == 0 {
        return;
    }
    // Gather every candidate from every chunk first, then verify them in one
    // pass: the loads are independent, so the CPU overlaps the cache misses.
    let t = budgets(&seg.chunks, radius);
    scratch.cands.clear();
    for (i, (c, table)) in seg.chunks.iter().zip(&seg.tables).enumerate() {
        if t[i] < 0 {
            continue;
        }
        masks(c.width, t[i], &mut scratch.masks);
        kernel::gather(table, &scratch.masks, c.extract(q), &mut scratch.cands);
    }
    let before = out.len();
    kernel::verify(&scratch.cands, hashes, alive, q, radius, out);
    // A neighbour close in several chunks was verified once per chunk.
    if out.len() - before > 1 {
        out[before..].sort_unstable_by_key(|h| h.slot);
        let mut keep = before + 1;
        for j in before + 1..out.len() {
            if out[j].slot != out[keep - 1].slot {
                out[keep] = out[j];
                keep += 1;
            }
        }
        out.truncate(keep);
    }
}

/// Reusable buffers for one query.
#[derive(Debug, Default)]
struct Scratch {
    masks: Vec<u32>,
    cands: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_cover_256_bits() {
        for m in 8..=32 {
            let l = layout(m);
            assert_eq!(l.iter().map(|c| c.width).sum::<u32>(), 256);
            for r in 0..=MAX_RADIUS {
                let t = budgets(&l, r);
                assert_eq!(t.iter().map(|&x| x + 1).sum::<i32>(), r as i32 + 1);
            }
        }
    }

    #[test]
    fn chunk_choice_scales() {
        assert_eq!(choose_chunks(1_000_000), 15);
        assert_eq!(choose_chunks(10_000_000), 12);
    }

    #[test]
    fn masks_count() {
        let mut v = Vec::new();
        masks(16, 1, &mut v);
        assert_eq!(v.len(), 17);
        masks(21, 2, &mut v);
        assert_eq!(v.len(), 1 + 21 + 210);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), v.len());
    }

    #[test]
    fn word_roundtrip() {
        let h = PdqHash([7; 32]);
        assert_eq!(from_words(&words(&h)), h);
    }
}
