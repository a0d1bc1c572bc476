//! The video branch of the stage chain and the video-aware decision: a
//! video upload is decoded (FFmpeg subprocess), hashed with vPDQ, matched
//! against `vpdq` bank entries imported from the reference text format, and
//! decided with both shares and the matched time ranges in the reasons.
//!
//! Needs `ffmpeg` (`scripts/setup-ffmpeg.sh`) and `shared/testdata/vpdq`
//! (or `VIGIL_TESTDATA`), read at run time.

use chrono::{TimeZone, Utc};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use vigil_decode::video::{VideoLimits, VideoOptions};
use vigil_hashdb::{Bank, BankAction, BankEntry, HashDb, SignalType};
use vigil_pipeline::{
    decide_with_video, Action, Analyzer, BankedVideos, Evidence, PlatformContext, Policy, UploadId,
    VideoSupport,
};

fn testdata() -> PathBuf {
    vigil_testdata::require("vpdq")
}

fn analyzer(limits: VideoLimits) -> Analyzer {
    analyzer_with(limits, VideoOptions::default())
}

fn analyzer_with(limits: VideoLimits, options: VideoOptions) -> Analyzer {
    analyzer_over(banked_db(), limits, options)
}

fn analyzer_over(db: HashDb, limits: VideoLimits, options: VideoOptions) -> Analyzer {
    assert!(
        vigil_decode::video::decoder_available(&VideoOptions::default()),
        "ffmpeg/ffprobe not found on PATH: run scripts/setup-ffmpeg.sh"
    );
    Analyzer::new(
        Arc::new(RwLock::new(db)),
        None,
        vigil_decode::Limits::default(),
    )
    .with_video(VideoSupport {
        index: Arc::new(RwLock::new(BankedVideos::default())),
        limits,
        options,
    })
}

fn banked_db() -> HashDb {
    let mut db = HashDb::new();
    let mut bank = Bank::new("terror-video", BankAction::Takedown);
    // An approved charter lets matches in the bank act (DESIGN.md §6a).
    bank.charter = Some(vigil_hashdb::CharterScope {
        takedown: true,
        restrict_jurisdictions: vec![],
    });
    db.upsert_bank(bank);
    // The banked videos come from the reference's own vPDQ output (every
    // frame of chair-orig-22-sd-bar), as a hash-sharing partner would send
    // it, stored as `vpdq` entries like any other bank signal; the worker's
    // video index is built from them.
    for (id, name) in [
        ("chair-orig", "chair-orig-22-sd-bar"),
        ("pattern", "pattern-hd-no-bar"),
    ] {
        let text =
            std::fs::read_to_string(testdata().join(format!("vpdq/sample-hashes/{name}.txt")))
                .unwrap();
        db.upsert_entry(BankEntry::new("terror-video", id, SignalType::Vpdq, &text))
            .unwrap();
    }
    db
}

fn evidence(a: &vigil_pipeline::Analysis) -> Evidence {
    Evidence {
        upload_id: UploadId::parse("v1").unwrap(),
        context: PlatformContext {
            surface: "feed".into(),
            ..Default::default()
        },
        signals: a.signals.clone(),
        pdq_quality: a.pdq_quality,
        matches: a.matches.clone(),
        classifier: None,
        decode_error: a.decode_error.as_ref().map(|e| e.kind().to_string()),
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    }
}

#[test]
fn a_grey_copy_of_a_banked_video_is_taken_down_with_shares_and_ranges() {
    let a = analyzer(VideoLimits::default());
    let bytes =
        std::fs::read(testdata().join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let analysis = a.analyze(&bytes);
    assert!(
        analysis.decode_error.is_none(),
        "{:?}",
        analysis.decode_error
    );
    let video = analysis.video.as_ref().expect("video branch");
    assert_eq!(
        video.features.len(),
        23,
        "one frame per second of a 22.4 s video"
    );
    assert_eq!(video.matches.len(), 1, "{:?}", video.matches);
    let m = &video.matches[0];
    assert_eq!(
        (m.bank.as_str(), m.entry_id.as_str()),
        ("terror-video", "chair-orig")
    );
    assert!(m.m.query_pct >= 80.0, "{:?}", m.m);

    let (verdict, review) =
        decide_with_video(&evidence(&analysis), &video.matches, &Policy::builtin());
    assert_eq!(verdict.action, Action::Takedown, "{:?}", verdict.reasons);
    assert!(review.is_none());
    let reason = verdict
        .reasons
        .iter()
        .find(|r| r.starts_with("vpdq match"))
        .expect("a vpdq reason");
    assert!(
        reason.contains("terror-video")
            && reason.contains("query frames")
            && reason.contains("compared at 0.0-"),
        "{reason}"
    );
    assert!(verdict
        .statement_of_reasons
        .as_ref()
        .is_some_and(|s| s.facts.iter().any(|f| f.contains("vpdq match"))));
    // MD5 and SHA-256 of the file are still computed as exact signals.
    assert_eq!(verdict.signals.len(), 2);
}

#[test]
fn a_video_over_the_duration_limit_gets_a_clear_error_and_a_verdict() {
    let a = analyzer(VideoLimits {
        max_duration_seconds: 10.0,
        ..VideoLimits::default()
    });
    let bytes =
        std::fs::read(testdata().join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let analysis = a.analyze(&bytes);
    let video = analysis.video.as_ref().unwrap();
    assert_eq!(video.error.as_ref().map(|e| e.kind()), Some("too_long"));
    let e = analysis.decode_error.as_ref().unwrap();
    assert_eq!(e.kind(), "limit_exceeded");
    assert!(e.to_string().contains("over the limit of 10 s"), "{e}");
    let (verdict, _) = decide_with_video(&evidence(&analysis), &video.matches, &Policy::builtin());
    assert_eq!(verdict.decode_error.as_deref(), Some("limit_exceeded"));
}

#[test]
fn an_unrelated_video_is_not_matched_and_images_still_work() {
    let a = analyzer(VideoLimits::default());
    let bytes = std::fs::read(testdata().join("tmk/sample-videos/doorknob-hd-no-bar.mp4")).unwrap();
    let analysis = a.analyze(&bytes);
    let video = analysis.video.as_ref().unwrap();
    assert!(video.error.is_none());
    assert!(video.matches.is_empty(), "{:?}", video.matches);
    let (verdict, _) = decide_with_video(&evidence(&analysis), &video.matches, &Policy::builtin());
    assert_eq!(verdict.action, Action::None);
    // Bytes that are not a video container take the image path.
    let analysis = a.analyze(b"GIF89a, but not really");
    assert!(analysis.video.is_none());
    assert!(analysis.decode_error.is_some());
}

/// Each `[video]` limit stops the decode with its own typed error; the
/// worker-facing error keeps the image vocabulary (`too_many_bytes`,
/// `too_many_pixels`, `limit_exceeded`) and the message says which limit.
#[test]
fn every_video_limit_gives_its_typed_error() {
    let bytes =
        std::fs::read(testdata().join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let cases = [
        (
            VideoLimits {
                max_bytes: 1000,
                ..VideoLimits::default()
            },
            "too_many_bytes",
            "too_many_bytes",
            "over the limit of 1000",
        ),
        (
            VideoLimits {
                max_frames: 5,
                ..VideoLimits::default()
            },
            "too_many_frames",
            "limit_exceeded",
            "more than 5 sampled frames",
        ),
        (
            VideoLimits {
                max_dimension: 100,
                ..VideoLimits::default()
            },
            "too_many_pixels",
            "too_many_pixels",
            "over the limits",
        ),
        (
            VideoLimits {
                max_duration_seconds: 10.0,
                ..VideoLimits::default()
            },
            "too_long",
            "limit_exceeded",
            "over the limit of 10 s",
        ),
    ];
    for (limits, video_kind, kind, message) in cases {
        let analysis = analyzer(limits).analyze(&bytes);
        let video = analysis.video.as_ref().unwrap();
        assert_eq!(
            video.error.as_ref().map(|e| e.kind()),
            Some(video_kind),
            "{limits:?}"
        );
        assert!(video.matches.is_empty());
        let e = analysis.decode_error.as_ref().unwrap();
        assert_eq!(e.kind(), kind);
        assert!(e.to_string().contains(message), "{e}");
        // Exact hashes are still there to match.
        assert_eq!(analysis.signals.len(), 2);
    }
}

/// The decode timeout kills the child. A stand-in `ffprobe` that never
/// answers (a script that sleeps) makes this independent of machine speed;
/// the real tools are used by every other test.
#[cfg(unix)]
#[test]
fn the_decode_timeout_stops_a_hung_decoder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let hung = dir.path().join("ffprobe");
    std::fs::write(&hung, "#!/bin/sh\nexec /bin/sleep 120\n").unwrap();
    std::fs::set_permissions(&hung, std::fs::Permissions::from_mode(0o755)).unwrap();
    let a = analyzer_with(
        VideoLimits {
            timeout: std::time::Duration::from_secs(1),
            ..VideoLimits::default()
        },
        VideoOptions {
            ffprobe: Some(hung),
            ..VideoOptions::default()
        },
    );
    let bytes =
        std::fs::read(testdata().join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let analysis = a.analyze(&bytes);
    let video = analysis.video.as_ref().unwrap();
    assert_eq!(video.error.as_ref().map(|e| e.kind()), Some("timeout"));
    let e = analysis.decode_error.as_ref().unwrap();
    assert_eq!(e.kind(), "limit_exceeded");
    assert!(e.to_string().contains("longer than 1 s"), "{e}");
}

/// The same banked video in two banks with different vPDQ thresholds, and
/// the same upload: the grey re-encode has a counterpart for every one of
/// its frames, but covers only part of the banked video's frames (about
/// 28%: the bank holds every frame, the upload is hashed at one per
/// second), so a bank that also asks for 50% of the banked frames does not
/// match.
#[test]
fn per_bank_vpdq_thresholds_decide_the_match() {
    let text =
        std::fs::read_to_string(testdata().join("vpdq/sample-hashes/chair-orig-22-sd-bar.txt"))
            .unwrap();
    let mut db = HashDb::new();
    db.upsert_bank(Bank::new("reference-defaults", BankAction::ReviewOnly));
    let mut strict = Bank::new("strict", BankAction::ReviewOnly);
    strict.vpdq = vigil_hashdb::VpdqThresholds {
        query_pct: 80.0,
        compared_pct: 50.0,
        distance_tolerance: 31,
    };
    db.upsert_bank(strict);
    for bank in ["reference-defaults", "strict"] {
        db.upsert_entry(BankEntry::new(bank, "chair-orig", SignalType::Vpdq, &text))
            .unwrap();
    }
    let a = analyzer_over(db, VideoLimits::default(), VideoOptions::default());
    let bytes =
        std::fs::read(testdata().join("tmk/sample-videos/chair-22-sd-grey-bar.mp4")).unwrap();
    let analysis = a.analyze(&bytes);
    let video = analysis.video.as_ref().unwrap();
    let banks: Vec<&str> = video.matches.iter().map(|m| m.bank.as_str()).collect();
    assert_eq!(banks, vec!["reference-defaults"], "{:?}", video.matches);
    let m = &video.matches[0];
    assert!(m.m.compared_pct < 50.0, "{:?}", m.m);
    assert_eq!(
        (
            m.query_threshold_pct,
            m.compared_threshold_pct,
            m.distance_tolerance
        ),
        (80.0, 0.0, 31)
    );

    // Loosen the strict bank's compared share: now both banks match.
    let mut db = a.hashdb.write().unwrap();
    let mut strict = db.bank("strict").unwrap().clone();
    strict.vpdq.compared_pct = 20.0;
    db.upsert_bank(strict);
    drop(db);
    let analysis = a.analyze(&bytes);
    let video = analysis.video.as_ref().unwrap();
    let mut banks: Vec<&str> = video.matches.iter().map(|m| m.bank.as_str()).collect();
    banks.sort();
    assert_eq!(banks, vec!["reference-defaults", "strict"]);
    let strict = video.matches.iter().find(|m| m.bank == "strict").unwrap();
    assert_eq!(strict.compared_threshold_pct, 20.0);
}
