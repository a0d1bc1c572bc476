//! vPDQ on real video through `vigil_decode::video` (FFmpeg subprocess):
//! the reference's sample videos against its expected hashes, generated
//! variants (re-encoded, trimmed, resized, with an intro) that must still
//! match, and the decoder's limits.
//!
//! Needs `ffmpeg`/`ffprobe` (`scripts/setup-ffmpeg.sh`) and the shared test
//! data (`shared/testdata/vpdq`, or `VIGIL_TESTDATA`), read at run time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use vigil_decode::video::{decode_video, decode_video_file, VideoLimits, VideoOptions};
use vigil_vpdq::{match_videos, parse_features, MatchConfig, VideoIndex, VpdqFeature, VpdqHasher};

fn testdata() -> PathBuf {
    vigil_testdata::require("vpdq")
}

fn require_ffmpeg() {
    assert!(
        vigil_decode::video::decoder_available(&VideoOptions::default()),
        "ffmpeg/ffprobe not found on PATH: run scripts/setup-ffmpeg.sh"
    );
}

fn sample(name: &str) -> PathBuf {
    testdata()
        .join("tmk/sample-videos")
        .join(format!("{name}.mp4"))
}

fn expected(name: &str) -> Vec<VpdqFeature> {
    let p = testdata()
        .join("vpdq/sample-hashes")
        .join(format!("{name}.txt"));
    parse_features(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn hash_file(path: &Path, seconds_per_hash: f64) -> Vec<VpdqFeature> {
    let opts = VideoOptions {
        seconds_per_hash,
        ..VideoOptions::default()
    };
    let mut h = VpdqHasher::new();
    decode_video_file(path, &VideoLimits::default(), &opts, |f| {
        h.push(
            f.frame_number,
            f.timestamp,
            f.width as usize,
            f.height as usize,
            f.rgb,
        )
        .expect("frame size");
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    h.finish()
}

/// Every frame of every sample video against the reference's output
/// (`secondsPerHash = 0`, native size). Upstream's own criterion: same
/// frame count, and for lines where both qualities are >= 50, distance < 31.
#[test]
fn sample_videos_match_the_reference_output() {
    require_ffmpeg();
    let dir = testdata().join("tmk/sample-videos");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "mp4" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 14,
        "expected the 14 sample videos in {}",
        dir.display()
    );
    let mut all_max = 0;
    let (mut total, mut sum) = (0u64, 0u64);
    for name in &names {
        let ours = hash_file(&sample(name), 0.0);
        let theirs = expected(name);
        assert_eq!(ours.len(), theirs.len(), "{name}: frame count");
        let (mut max, mut n, mut s, mut exact) = (0, 0u64, 0u64, 0u64);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.frame_number, b.frame_number, "{name}");
            assert!(
                (a.timestamp - b.timestamp).abs() < 0.0015,
                "{name}: frame {} at {} vs {}",
                a.frame_number,
                a.timestamp,
                b.timestamp
            );
            if a.quality < 50 || b.quality < 50 {
                continue;
            }
            let d = a.hash.distance(&b.hash);
            assert!(d < 31, "{name}: frame {} at distance {d}", a.frame_number);
            max = max.max(d);
            n += 1;
            s += u64::from(d);
            exact += u64::from(d == 0);
        }
        eprintln!(
            "{name}: {} frames, {n} compared, max distance {max}, mean {:.2}, identical {exact}",
            ours.len(),
            s as f64 / n.max(1) as f64
        );
        all_max = all_max.max(max);
        total += n;
        sum += s;
    }
    eprintln!(
        "ALL: {total} frames compared, max distance {all_max}, mean {:.2}",
        sum as f64 / total.max(1) as f64
    );
}

fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("run ffmpeg");
    assert!(st.success(), "ffmpeg {args:?}");
}

/// Re-encoded, trimmed, resized and intro-prefixed versions of a sample
/// video, hashed at one frame per second, all match the original.
#[test]
fn generated_variants_still_match() {
    require_ffmpeg();
    let tmp = tempdir();
    let src = sample("chair-orig-22-sd-bar");
    let src_s = src.to_str().unwrap();
    let p = |n: &str| tmp.join(n).to_string_lossy().into_owned();
    ffmpeg(&[
        "-i",
        src_s,
        "-c:v",
        "libx264",
        "-crf",
        "35",
        "-preset",
        "veryfast",
        "-an",
        &p("reencoded.mp4"),
    ]);
    ffmpeg(&[
        "-i",
        src_s,
        "-ss",
        "5",
        "-t",
        "10",
        "-c:v",
        "libx264",
        "-an",
        &p("trimmed.mp4"),
    ]);
    ffmpeg(&[
        "-i",
        src_s,
        "-vf",
        "scale=iw/2:-2",
        "-c:v",
        "libx264",
        "-an",
        &p("resized.mp4"),
    ]);
    ffmpeg(&[
        "-i",
        src_s,
        "-c:v",
        "libvpx",
        "-b:v",
        "500k",
        "-deadline",
        "realtime",
        "-an",
        &p("webm.webm"),
    ]);
    // A 3-second colour-bars intro, then the video.
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
        "-i", src_s,
        "-filter_complex", "[0:v]format=yuv420p,setsar=1[a];[1:v]scale=640:360,setsar=1,format=yuv420p[b];[a][b]concat=n=2:v=1:a=0[v]",
        "-map", "[v]", "-c:v", "libx264", &p("intro.mp4"),
    ]);
    let original = hash_file(&src, 1.0);
    assert!(original.len() >= 20, "{} frames", original.len());
    let mut idx = VideoIndex::default();
    idx.insert("bank/original", &original);
    idx.insert("bank/other", &hash_file(&sample("pattern-hd-no-bar"), 1.0));
    let cfg = MatchConfig::default();
    for v in [
        "reencoded.mp4",
        "trimmed.mp4",
        "resized.mp4",
        "webm.webm",
        "intro.mp4",
    ] {
        let q = hash_file(&tmp.join(v), 1.0);
        let m = match_videos(&q, &original, &cfg);
        eprintln!(
            "{v}: {} frames, query {:.1}% compared {:.1}%, query ranges {:?}, compared ranges {:?}",
            q.len(),
            m.query_pct,
            m.compared_pct,
            m.query_ranges,
            m.compared_ranges
        );
        let hits = idx.matches(&q);
        if v == "intro.mp4" {
            // The intro is 3 of about 25 seconds: the query share drops
            // below 100% but the video part is found, with its time range.
            assert!(m.compared_pct > 80.0, "{v}");
            assert!(
                m.query_ranges.iter().any(|r| r.start >= 2.5),
                "{v}: {:?}",
                m.query_ranges
            );
        } else {
            assert!(m.is_match, "{v}: {m:?}");
            assert_eq!(
                hits.first().map(|h| h.id.as_str()),
                Some("bank/original"),
                "{v}"
            );
        }
        assert!(hits.iter().all(|h| h.id != "bank/other"), "{v}");
    }
    // Trimmed: the compared (original) range is about 5 s to 15 s.
    let m = match_videos(&hash_file(&tmp.join("trimmed.mp4"), 1.0), &original, &cfg);
    let r = m.compared_ranges.first().copied().unwrap();
    assert!(r.start >= 3.0 && r.end <= 17.0, "{:?}", m.compared_ranges);
}

#[test]
fn limits_give_typed_errors() {
    require_ffmpeg();
    let bytes = std::fs::read(sample("chair-19-sd-bar")).unwrap();
    let opts = VideoOptions::default();
    let run = |limits: VideoLimits, bytes: &[u8]| {
        decode_video(bytes, &limits, &opts, |_| {})
            .map(|_| ())
            .unwrap_err()
    };
    let e = run(
        VideoLimits {
            max_duration_seconds: 5.0,
            ..VideoLimits::default()
        },
        &bytes,
    );
    assert_eq!(e.kind(), "too_long", "{e}");
    let e = run(
        VideoLimits {
            max_bytes: 1000,
            ..VideoLimits::default()
        },
        &bytes,
    );
    assert_eq!(e.kind(), "too_many_bytes", "{e}");
    let e = run(
        VideoLimits {
            max_pixels: 100 * 100,
            ..VideoLimits::default()
        },
        &bytes,
    );
    assert_eq!(e.kind(), "too_many_pixels", "{e}");
    let e = run(
        VideoLimits {
            max_frames: 3,
            ..VideoLimits::default()
        },
        &bytes,
    );
    assert_eq!(e.kind(), "too_many_frames", "{e}");
    let e = run(
        VideoLimits {
            timeout: Duration::from_millis(1),
            ..VideoLimits::default()
        },
        &bytes,
    );
    assert_eq!(e.kind(), "timeout", "{e}");
    // Corrupt: a valid header followed by garbage, and a truncated file.
    let mut corrupt = bytes[..64].to_vec();
    corrupt.extend(std::iter::repeat_n(0x5a, 50_000));
    let e = run(VideoLimits::default(), &corrupt);
    assert!(matches!(e.kind(), "corrupt" | "no_video_stream"), "{e}");
    assert!(
        !e.to_string().contains("vigil-video-"),
        "no temp path in errors: {e}"
    );
    let e = run(VideoLimits::default(), b"\0\0\0\x18ftypisom");
    assert_eq!(e.kind(), "corrupt", "{e}");
    // A truncated file yields the frames before the cut, or a typed error.
    match decode_video(
        &bytes[..bytes.len() / 3],
        &VideoLimits::default(),
        &opts,
        |_| {},
    ) {
        Ok(d) => assert!(d.frames < 19, "{d:?}"),
        Err(e) => assert!(matches!(e.kind(), "corrupt" | "no_video_stream"), "{e}"),
    }
    let e = run(VideoLimits::default(), b"GIF89a not a video");
    assert_eq!(e.kind(), "unsupported_format", "{e}");
    // A video at the limits decodes.
    let ok = decode_video(&bytes, &VideoLimits::default(), &opts, |_| {}).unwrap();
    assert_eq!(ok.frames, 19);
    assert_eq!(ok.info.frame_stride, 30);
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "vigil-vpdq-test-{}-{}",
        std::process::id(),
        line!()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Truncations and corruptions of a real video: every result is frames or a
/// typed error, never a panic or a hang.
#[test]
fn hostile_variants_give_frames_or_typed_errors() {
    require_ffmpeg();
    let bytes = std::fs::read(sample("pattern-sd-grey-bar")).unwrap();
    let limits = VideoLimits {
        timeout: Duration::from_secs(20),
        ..VideoLimits::default()
    };
    let opts = VideoOptions::default();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for cut in [12usize, 100, 1000, 10_000, bytes.len() / 2, bytes.len() - 1] {
        cases.push(bytes[..cut.min(bytes.len())].to_vec());
    }
    for _ in 0..8 {
        let mut b = bytes.clone();
        for _ in 0..50 {
            let i = (next() as usize) % b.len();
            b[i] = next() as u8;
        }
        cases.push(b);
    }
    let known = [
        "empty",
        "too_many_bytes",
        "unsupported_format",
        "too_long",
        "too_many_pixels",
        "too_many_frames",
        "timeout",
        "no_video_stream",
        "corrupt",
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut frames = 0;
        match decode_video(case, &limits, &opts, |f| {
            assert_eq!(f.rgb.len(), f.width as usize * f.height as usize * 3);
            frames += 1;
        }) {
            Ok(d) => assert_eq!(d.frames, frames, "case {i}"),
            Err(e) => assert!(known.contains(&e.kind()), "case {i}: {e}"),
        }
    }
}
