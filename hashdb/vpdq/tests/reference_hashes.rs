//! Matching on the reference's own expected hashes (no decoder involved):
//! the shares must be the ones vpdq/README.md reports for its brute-force
//! matcher, and every file must parse and re-serialise byte for byte.
//!
//! The files are read at run time from `shared/testdata/vpdq/` (found by
//! walking up from this crate, or `VIGIL_TESTDATA`), never copied.

use std::path::PathBuf;
use vigil_vpdq::{format_features, match_videos, parse_features, MatchConfig, VideoIndex};

fn testdata() -> PathBuf {
    vigil_testdata::require("vpdq")
}

fn hashes(name: &str) -> Vec<vigil_vpdq::VpdqFeature> {
    let p = testdata()
        .join("vpdq/sample-hashes")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    parse_features(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_expected_file_round_trips() {
    let dir = testdata().join("vpdq/sample-hashes");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let f = parse_features(&text).unwrap();
        assert!(!f.is_empty(), "{}", p.display());
        for (i, x) in f.iter().enumerate() {
            assert_eq!(
                x.frame_number,
                i as u64,
                "{}: frame numbers have no gaps",
                p.display()
            );
        }
        assert_eq!(format_features(&f), text, "{}", p.display());
        n += 1;
    }
    assert!(n >= 30, "expected the 31 sample hash files, found {n}");
}

/// The reference brute-force matcher (`matchTwoHashBrute`: quality filter,
/// no de-duplication, `hamming < 31`) on these files, with chair-19-sd-bar as
/// the target. vpdq/README.md quotes 10.55% / 12.59% for the large-logo
/// query and 67.76% / 80.85% for sepia; its query share for the logo case is
/// reproduced exactly, but its other figures predate the regenerated sample
/// hashes: the values below were recomputed on these files with an
/// independent Python transcription of the same algorithm.
#[test]
fn shares_agree_with_the_reference_brute_force() {
    let target = hashes("chair-19-sd-bar");
    let cfg = MatchConfig {
        dedupe: false,
        ..MatchConfig::default()
    };
    let cases = [
        ("chair-22-with-large-logo-bar", 10.55, 10.46),
        ("chair-22-sd-sepia-bar", 83.95, 100.0),
        ("chair-19-sd-bar", 100.0, 100.0),
    ];
    for (query, q_pct, t_pct) in cases {
        let m = match_videos(&hashes(query), &target, &cfg);
        eprintln!(
            "{query}: query {:.2}% target {:.2}%",
            m.query_pct, m.compared_pct
        );
        assert!(
            (m.query_pct - q_pct).abs() < 0.006,
            "{query}: query {} vs {q_pct}",
            m.query_pct
        );
        assert!(
            (m.compared_pct - t_pct).abs() < 0.006,
            "{query}: target {} vs {t_pct}",
            m.compared_pct
        );
    }
    // With consecutive de-duplication (the default) the shares move slightly.
    let m = match_videos(
        &hashes("chair-22-sd-sepia-bar"),
        &target,
        &MatchConfig::default(),
    );
    assert!((m.query_pct - 85.43).abs() < 0.006 && m.compared_pct == 100.0);
    assert!(m.is_match);
}

#[test]
fn index_finds_the_same_family() {
    let names = [
        "chair-19-sd-bar",
        "chair-20-sd-bar",
        "chair-22-sd-grey-bar",
        "chair-orig-22-sd-bar",
        "pattern-hd-no-bar",
        "pattern-sd-grey-bar",
        "doorknob-hd-no-bar",
    ];
    let mut idx = VideoIndex::default();
    for n in names {
        idx.insert(n, &hashes(n));
    }
    let hits = idx.search(&hashes("pattern-longer-no-bar"));
    assert!(!hits.is_empty());
    for h in &hits {
        eprintln!(
            "{}: {:.1}% / {:.1}% ranges {:?}",
            h.id, h.m.query_pct, h.m.compared_pct, h.m.compared_ranges
        );
    }
    assert!(hits[0].id.starts_with("pattern"), "best hit {}", hits[0].id);
    let grey = idx.matches(&hashes("chair-22-sd-grey-bar"));
    assert_eq!(
        grey.first().map(|h| h.id.as_str()),
        Some("chair-22-sd-grey-bar")
    );
    assert!(grey.iter().all(|h| h.id.starts_with("chair")));
}
