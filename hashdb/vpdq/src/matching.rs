//! Matching two videos' features, the way the reference does, plus the time
//! ranges that matched.
//!
//! Both sides are first [`prepare`]d: frames below the quality tolerance are
//! dropped ([`quality_filter`]) and runs of consecutive identical hashes are
//! collapsed into their first frame ([`dedupe_consecutive`]). A query frame
//! *matches* when some compared frame is strictly closer than the distance
//! tolerance (the reference's `hamming < 31`), and the other way round. The
//! query share is the fraction of query frames that match, the compared
//! share that of compared frames; a video matches when both meet their
//! thresholds (defaults 80% and 0%, as in python-threatexchange).

use crate::feature::VpdqFeature;
use serde::{Deserialize, Serialize};

/// How two videos are compared and when the result counts as a match.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// Frames match when their distance is strictly below this (reference: 31).
    pub distance_tolerance: u32,
    /// Frames below this quality are ignored (reference: 50).
    pub quality_tolerance: u8,
    /// Collapse consecutive identical hashes before counting.
    pub dedupe: bool,
    /// Percentage of query frames that must match (default 80).
    pub query_threshold_pct: f64,
    /// Percentage of compared frames that must match (default 0).
    pub compared_threshold_pct: f64,
    /// Matched frames closer than this many seconds join one time range.
    pub range_gap_seconds: f64,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            distance_tolerance: crate::DEFAULT_DISTANCE_TOLERANCE,
            quality_tolerance: crate::DEFAULT_QUALITY_TOLERANCE,
            dedupe: true,
            query_threshold_pct: 80.0,
            compared_threshold_pct: 0.0,
            range_gap_seconds: 2.0,
        }
    }
}

/// A span of a video, in seconds from its start (inclusive at both ends).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub start: f64,
    pub end: f64,
}

/// The comparison of a query video with one compared (banked) video.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoMatch {
    /// Query frames considered (after quality filter and de-duplication).
    pub query_frames: usize,
    /// Compared frames considered.
    pub compared_frames: usize,
    pub query_matched: usize,
    pub compared_matched: usize,
    /// Percentage (0 to 100) of query frames with a counterpart.
    pub query_pct: f64,
    /// Percentage (0 to 100) of compared frames with a counterpart.
    pub compared_pct: f64,
    /// Smallest frame distance seen (256 when nothing was compared).
    pub min_distance: u32,
    /// Where the query matched, in query time.
    pub query_ranges: Vec<TimeRange>,
    /// Where the compared video matched, in its own time.
    pub compared_ranges: Vec<TimeRange>,
    /// Both shares meet the thresholds of the [`MatchConfig`] used.
    pub is_match: bool,
}

/// Features whose quality is at least `min_quality`.
pub fn quality_filter(features: &[VpdqFeature], min_quality: u8) -> Vec<VpdqFeature> {
    features
        .iter()
        .filter(|f| f.quality >= min_quality)
        .copied()
        .collect()
}

/// Drop every feature whose hash equals the previous kept feature's hash.
pub fn dedupe_consecutive(features: &[VpdqFeature]) -> Vec<VpdqFeature> {
    spans(features, true).into_iter().map(|s| s.f).collect()
}

/// Quality filter, then (if `cfg.dedupe`) de-duplication.
pub fn prepare(features: &[VpdqFeature], cfg: &MatchConfig) -> Vec<VpdqFeature> {
    let filtered = quality_filter(features, cfg.quality_tolerance);
    spans(&filtered, cfg.dedupe)
        .into_iter()
        .map(|s| s.f)
        .collect()
}

/// A kept feature and the time up to which its identical run lasted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub f: VpdqFeature,
    pub end: f64,
}

pub(crate) fn spans(features: &[VpdqFeature], dedupe: bool) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(features.len());
    for f in features {
        if dedupe {
            if let Some(last) = out.last_mut() {
                if last.f.hash == f.hash {
                    last.end = last.end.max(f.timestamp);
                    continue;
                }
            }
        }
        out.push(Span {
            f: *f,
            end: f.timestamp,
        });
    }
    out
}

pub(crate) fn prepared_spans(features: &[VpdqFeature], cfg: &MatchConfig) -> Vec<Span> {
    spans(&quality_filter(features, cfg.quality_tolerance), cfg.dedupe)
}

/// Compare `query` with `compared` (raw features, as hashed or parsed).
pub fn match_videos(
    query: &[VpdqFeature],
    compared: &[VpdqFeature],
    cfg: &MatchConfig,
) -> VideoMatch {
    let q = prepared_spans(query, cfg);
    let c = prepared_spans(compared, cfg);
    match_spans(&q, &c, cfg)
}

pub(crate) fn match_spans(q: &[Span], c: &[Span], cfg: &MatchConfig) -> VideoMatch {
    let mut q_hit = vec![false; q.len()];
    let mut c_hit = vec![false; c.len()];
    let mut min_distance = 256;
    for (i, qs) in q.iter().enumerate() {
        for (j, cs) in c.iter().enumerate() {
            let d = qs.f.hash.distance(&cs.f.hash);
            min_distance = min_distance.min(d);
            if d < cfg.distance_tolerance {
                q_hit[i] = true;
                c_hit[j] = true;
            }
        }
    }
    let query_matched = q_hit.iter().filter(|h| **h).count();
    let compared_matched = c_hit.iter().filter(|h| **h).count();
    let pct = |n: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            n as f64 * 100.0 / of as f64
        }
    };
    let query_pct = pct(query_matched, q.len());
    let compared_pct = pct(compared_matched, c.len());
    let is_match = query_matched > 0
        && query_pct >= cfg.query_threshold_pct
        && compared_pct >= cfg.compared_threshold_pct;
    VideoMatch {
        query_frames: q.len(),
        compared_frames: c.len(),
        query_matched,
        compared_matched,
        query_pct,
        compared_pct,
        min_distance,
        query_ranges: ranges(q, &q_hit, cfg.range_gap_seconds),
        compared_ranges: ranges(c, &c_hit, cfg.range_gap_seconds),
        is_match,
    }
}

/// Join matched frames into time ranges; frames at most `gap` seconds
/// apart share a range.
fn ranges(spans: &[Span], hit: &[bool], gap: f64) -> Vec<TimeRange> {
    let mut matched: Vec<(f64, f64)> = spans
        .iter()
        .zip(hit)
        .filter(|(_, h)| **h)
        .map(|(s, _)| (s.f.timestamp, s.end))
        .collect();
    matched.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<TimeRange> = Vec::new();
    for (start, end) in matched {
        match out.last_mut() {
            Some(r) if start - r.end <= gap => r.end = r.end.max(end),
            _ => out.push(TimeRange { start, end }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_pdq::PdqHash;

    /// A feature whose hash is pseudo-random per `seed` (distinct seeds are
    /// about 128 bits apart).
    fn feat(n: u64, quality: u8, seed: u8) -> VpdqFeature {
        let mut x = u64::from(seed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut h = [0u8; 32];
        for chunk in h.chunks_mut(8) {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        VpdqFeature {
            frame_number: n,
            quality,
            hash: PdqHash(h),
            timestamp: n as f64,
        }
    }

    #[test]
    fn filter_and_dedupe() {
        let f = vec![
            feat(0, 100, 1),
            feat(1, 100, 1),
            feat(2, 10, 2),
            feat(3, 100, 1),
            feat(4, 90, 3),
        ];
        assert_eq!(quality_filter(&f, 50).len(), 4);
        let d = dedupe_consecutive(&f);
        assert_eq!(
            d.iter().map(|f| f.frame_number).collect::<Vec<_>>(),
            vec![0, 2, 3, 4]
        );
        // After the quality filter frames 0, 1, 3 are one run.
        let p = prepare(&f, &MatchConfig::default());
        assert_eq!(
            p.iter().map(|f| f.frame_number).collect::<Vec<_>>(),
            vec![0, 4]
        );
    }

    #[test]
    fn self_match_is_full_and_ranges_cover_the_video() {
        let f: Vec<_> = (0..10).map(|i| feat(i, 100, i as u8)).collect();
        let m = match_videos(&f, &f, &MatchConfig::default());
        assert_eq!((m.query_pct, m.compared_pct), (100.0, 100.0));
        assert!(m.is_match);
        assert_eq!(m.min_distance, 0);
        assert_eq!(
            m.query_ranges,
            vec![TimeRange {
                start: 0.0,
                end: 9.0
            }]
        );
    }

    #[test]
    fn clip_inside_a_longer_video() {
        let long: Vec<_> = (0..20).map(|i| feat(i, 100, i as u8)).collect();
        // The query is frames 5..10 of the long video, shifted to start at 0.
        let clip: Vec<_> = (5..10)
            .map(|i| VpdqFeature {
                timestamp: (i - 5) as f64,
                ..feat(i, 100, i as u8)
            })
            .collect();
        let m = match_videos(&clip, &long, &MatchConfig::default());
        assert_eq!(m.query_pct, 100.0);
        assert_eq!(m.compared_pct, 25.0);
        assert!(m.is_match);
        assert_eq!(
            m.compared_ranges,
            vec![TimeRange {
                start: 5.0,
                end: 9.0
            }]
        );
        // The long video as the query only matches a quarter: no match.
        let back = match_videos(&long, &clip, &MatchConfig::default());
        assert!(!back.is_match);
        assert_eq!(back.query_pct, 25.0);
    }

    #[test]
    fn empty_and_low_quality_never_match() {
        let low: Vec<_> = (0..5).map(|i| feat(i, 10, i as u8)).collect();
        let m = match_videos(&low, &low, &MatchConfig::default());
        assert_eq!(m.query_frames, 0);
        assert!(!m.is_match);
        let m = match_videos(&[], &[], &MatchConfig::default());
        assert!(!m.is_match);
    }

    #[test]
    fn gaps_split_ranges() {
        let f: Vec<_> = [0u64, 1, 2, 10, 11]
            .iter()
            .map(|&i| feat(i, 100, i as u8))
            .collect();
        let m = match_videos(&f, &f, &MatchConfig::default());
        assert_eq!(
            m.query_ranges,
            vec![
                TimeRange {
                    start: 0.0,
                    end: 2.0
                },
                TimeRange {
                    start: 10.0,
                    end: 11.0
                }
            ]
        );
    }
}
