//! The review contact sheet through the real `ffmpeg`/`ffprobe`
//! (`scripts/setup-ffmpeg.sh`): frames evenly spaced over a generated
//! video, tiled into one JPEG, within the video limits.

use vigil_decode::video::{contact_sheet, decoder_available, VideoLimits, VideoOptions};

/// A generated test pattern of `seconds` seconds, 320x240 at 25 fps.
fn make_video(seconds: u32) -> Vec<u8> {
    let path = std::env::temp_dir().join(format!(
        "vigil-sheet-test-{}-{seconds}.mp4",
        std::process::id()
    ));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=duration={seconds}:size=320x240:rate=25"))
        .args(["-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (scripts/setup-ffmpeg.sh)");
    assert!(status.success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bytes
}

#[test]
fn nine_frames_evenly_spaced_in_one_jpeg() {
    assert!(decoder_available(&VideoOptions::default()));
    let video = make_video(18);
    let sheet = contact_sheet(
        &video,
        &VideoLimits::default(),
        &VideoOptions::default(),
        9,
        160,
        3,
    )
    .unwrap();
    assert_eq!((sheet.columns, sheet.rows), (3, 3));
    assert_eq!(sheet.timestamps.len(), 9);
    for (i, t) in sheet.timestamps.iter().enumerate() {
        assert!((t - (i as f64 * 2.0 + 1.0)).abs() < 1e-6, "{t}");
    }
    let img = image::load_from_memory(&sheet.jpeg).unwrap();
    // 160x120 tiles, 4 px apart and around.
    assert_eq!((img.width(), img.height()), (3 * 160 + 16, 3 * 120 + 16));
}

#[test]
fn the_video_limits_apply_to_the_sheet_too() {
    let video = make_video(6);
    let limits = VideoLimits {
        max_duration_seconds: 5.0,
        ..VideoLimits::default()
    };
    let e = contact_sheet(&video, &limits, &VideoOptions::default(), 9, 160, 3).unwrap_err();
    assert_eq!(e.kind(), "too_long");
    let e = contact_sheet(
        b"\0\0\0\x18ftypisom not really",
        &VideoLimits::default(),
        &VideoOptions::default(),
        9,
        160,
        3,
    )
    .unwrap_err();
    assert_eq!(e.kind(), "corrupt", "{e}");
    let e = contact_sheet(
        b"GIF89a",
        &VideoLimits::default(),
        &VideoOptions::default(),
        9,
        160,
        3,
    )
    .unwrap_err();
    assert_eq!(e.kind(), "unsupported_format");
}
