//! A candidate index from frame hashes to banked videos.
//!
//! Every kept frame (quality-filtered and de-duplicated) of every banked
//! video goes into one exact Hamming index (`vigil_hashdb::PdqIndex`, the
//! multi-index hashing index used for images). A query looks up each of its
//! own kept frames within the distance tolerance; only the videos that own
//! at least one hit are then scored frame against frame with
//! [`crate::matching`]. A video with no frame close to any query frame
//! cannot reach a non-zero share, so no match is lost by skipping it.
//!
//! Each video may carry its own distance tolerance and share thresholds
//! (a bank's vPDQ thresholds, [`VideoIndex::insert_with`]); the candidate
//! search then uses the widest tolerance in the index, and each candidate
//! is scored with its own.

use crate::feature::VpdqFeature;
use crate::matching::{match_spans, prepared_spans, MatchConfig, Span, VideoMatch};
use std::collections::HashMap;
use vigil_hashdb::{Hit, PdqIndex};

/// One scored candidate video.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoHit {
    /// The id the video was inserted under (e.g. `bank/entry_id`).
    pub id: String,
    pub m: VideoMatch,
    /// The configuration this video was scored with (its own thresholds).
    pub config: MatchConfig,
}

#[derive(Debug, Clone)]
struct Indexed {
    id: String,
    spans: Vec<Span>,
    slots: Vec<u32>,
    cfg: MatchConfig,
}

/// Banked videos, searchable by frame hash. Frames are prepared with the
/// index's [`MatchConfig`] (its quality tolerance and de-duplication) when
/// inserted; searches use the same preparation, and score each video with
/// the distance tolerance and thresholds it was inserted with.
#[derive(Debug, Clone)]
pub struct VideoIndex {
    cfg: MatchConfig,
    /// The widest distance tolerance of any video inserted (at least the
    /// index's own): the candidate search radius.
    max_tolerance: u32,
    frames: PdqIndex,
    /// Frame slot to video number.
    slot_video: Vec<u32>,
    videos: Vec<Option<Indexed>>,
    by_id: HashMap<String, u32>,
}

impl Default for VideoIndex {
    fn default() -> Self {
        Self::new(MatchConfig::default())
    }
}

impl VideoIndex {
    pub fn new(cfg: MatchConfig) -> Self {
        VideoIndex {
            cfg,
            max_tolerance: cfg.distance_tolerance,
            frames: PdqIndex::new(),
            slot_video: Vec::new(),
            videos: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    pub fn config(&self) -> &MatchConfig {
        &self.cfg
    }

    /// Number of videos.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of indexed (kept) frames over all videos.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Add a video, replacing any video with the same id. Returns the number
    /// of frames kept after the quality filter and de-duplication.
    pub fn insert(&mut self, id: &str, features: &[VpdqFeature]) -> usize {
        let cfg = self.cfg;
        self.insert_with(id, features, &cfg)
    }

    /// [`VideoIndex::insert`] with this video's own distance tolerance and
    /// share thresholds (taken from `thresholds`; frame preparation and time
    /// ranges stay the index's).
    pub fn insert_with(
        &mut self,
        id: &str,
        features: &[VpdqFeature],
        thresholds: &MatchConfig,
    ) -> usize {
        self.remove(id);
        let cfg = MatchConfig {
            distance_tolerance: thresholds.distance_tolerance,
            query_threshold_pct: thresholds.query_threshold_pct,
            compared_threshold_pct: thresholds.compared_threshold_pct,
            ..self.cfg
        };
        self.max_tolerance = self.max_tolerance.max(cfg.distance_tolerance);
        let spans = prepared_spans(features, &self.cfg);
        let number = self.videos.len() as u32;
        let mut slots = Vec::with_capacity(spans.len());
        for s in &spans {
            let slot = self.frames.insert(&s.f.hash);
            let at = slot as usize;
            if self.slot_video.len() <= at {
                self.slot_video.resize(at + 1, u32::MAX);
            }
            self.slot_video[at] = number;
            slots.push(slot);
        }
        let kept = spans.len();
        self.videos.push(Some(Indexed {
            id: id.to_string(),
            spans,
            slots,
            cfg,
        }));
        self.by_id.insert(id.to_string(), number);
        kept
    }

    /// Remove a video. Returns whether it was present.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(number) = self.by_id.remove(id) else {
            return false;
        };
        if let Some(v) = self.videos.get_mut(number as usize).and_then(Option::take) {
            for slot in v.slots {
                self.frames.remove(slot);
            }
        }
        true
    }

    /// The numbers of videos with at least one frame within the tolerance
    /// of a prepared query frame, in ascending order.
    fn candidates(&self, query: &[Span]) -> Vec<u32> {
        let radius = self.max_tolerance.saturating_sub(1);
        let mut hits: Vec<Hit> = Vec::new();
        let mut out: Vec<u32> = Vec::new();
        for s in query {
            hits.clear();
            self.frames.range(&s.f.hash, radius, &mut hits);
            for h in &hits {
                if let Some(&v) = self.slot_video.get(h.slot as usize) {
                    out.push(v);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Score every candidate video against `query`; results sorted by query
    /// share, then compared share, best first. Includes candidates that do
    /// not reach the thresholds (their `is_match` is false).
    pub fn search(&self, query: &[VpdqFeature]) -> Vec<VideoHit> {
        let q = prepared_spans(query, &self.cfg);
        let mut out: Vec<VideoHit> = self
            .candidates(&q)
            .into_iter()
            .filter_map(|n| self.videos.get(n as usize)?.as_ref())
            .map(|v| VideoHit {
                id: v.id.clone(),
                m: match_spans(&q, &v.spans, &v.cfg),
                config: v.cfg,
            })
            .collect();
        out.sort_by(|a, b| {
            b.m.query_pct
                .total_cmp(&a.m.query_pct)
                .then(b.m.compared_pct.total_cmp(&a.m.compared_pct))
                .then(a.id.cmp(&b.id))
        });
        out
    }

    /// Only the candidates that meet the thresholds.
    pub fn matches(&self, query: &[VpdqFeature]) -> Vec<VideoHit> {
        let mut hits = self.search(query);
        hits.retain(|h| h.m.is_match);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::match_videos;
    use vigil_pdq::PdqHash;

    fn random_hash(seed: u64) -> PdqHash {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut h = [0u8; 32];
        for chunk in h.chunks_mut(8) {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        PdqHash(h)
    }

    fn video(seeds: std::ops::Range<u64>) -> Vec<VpdqFeature> {
        seeds
            .enumerate()
            .map(|(i, s)| VpdqFeature {
                frame_number: i as u64,
                quality: 100,
                hash: random_hash(s),
                timestamp: i as f64,
            })
            .collect()
    }

    #[test]
    fn finds_only_videos_that_share_frames_and_agrees_with_brute_force() {
        let mut idx = VideoIndex::default();
        let a = video(0..30);
        let b = video(100..130);
        let c = video(20..60); // shares 10 frames with a
        idx.insert("bank/a", &a);
        idx.insert("bank/b", &b);
        idx.insert("bank/c", &c);
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.frame_count(), 100);

        let query = video(0..30);
        let hits = idx.search(&query);
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["bank/a", "bank/c"]);
        assert!(hits[0].m.is_match);
        assert_eq!(hits[0].m, match_videos(&query, &a, idx.config()));
        assert_eq!(hits[1].m, match_videos(&query, &c, idx.config()));
        assert!(!hits[1].m.is_match);
        assert_eq!(idx.matches(&query).len(), 1);

        assert!(idx.remove("bank/a"));
        assert!(!idx.remove("bank/a"));
        assert_eq!(idx.search(&query).len(), 1);
        // Re-inserting under the same id replaces.
        idx.insert("bank/c", &a);
        idx.insert("bank/c", &a);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.frame_count(), 60);
        assert!(idx.matches(&query)[0].id == "bank/c");
    }

    #[test]
    fn each_video_is_scored_with_its_own_thresholds() {
        let banked = video(0..10);
        // The query shares 6 of its 10 frames with the banked video.
        let query = video(4..14);
        let mut idx = VideoIndex::default();
        idx.insert("strict/v", &banked);
        let loose = MatchConfig {
            query_threshold_pct: 50.0,
            ..MatchConfig::default()
        };
        idx.insert_with("loose/v", &banked, &loose);
        let hits = idx.search(&query);
        assert_eq!(hits.len(), 2);
        for h in &hits {
            assert!((h.m.query_pct - 60.0).abs() < 1e-9);
        }
        let matched = idx.matches(&query);
        let ids: Vec<&str> = matched.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["loose/v"]);
        assert_eq!(matched[0].config.query_threshold_pct, 50.0);

        // A wider distance tolerance widens the candidate search too.
        let near: Vec<VpdqFeature> = banked
            .iter()
            .map(|f| {
                let mut g = *f;
                for bit in 0..40 {
                    g.hash.0[bit / 8] ^= 1 << (bit % 8);
                }
                g
            })
            .collect();
        let mut idx = VideoIndex::default();
        idx.insert("default/v", &banked);
        assert!(idx.search(&near).is_empty(), "40 bits apart: no candidate");
        let wide = MatchConfig {
            distance_tolerance: 41,
            ..MatchConfig::default()
        };
        idx.insert_with("wide/v", &banked, &wide);
        let matched = idx.matches(&near);
        let ids: Vec<&str> = matched.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, vec!["wide/v"]);
    }
}
