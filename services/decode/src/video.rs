//! Video decoding: untrusted video bytes to sampled RGB8 frames, through
//! Debian's `ffmpeg` and `ffprobe` command-line tools run as confined
//! subprocesses.
//!
//! Why a subprocess and not the libav libraries in-process: FFmpeg's
//! demuxers and decoders are large C code bases that parse hostile input; a
//! crash, hang or memory blow-up there must cost one upload, not the worker.
//! A child process gives that isolation (plus a wall-clock kill, an
//! address-space cap through `prlimit`, and a heap block cap through
//! `-max_alloc`) with no `unsafe` and no FFmpeg headers at build time.
//!
//! How the child is confined:
//! * the bytes are checked (size, container magic) before anything runs, and
//!   written to a private temporary file (mode 0600) that is removed after;
//! * fixed argv, no shell; the demuxer is forced from the sniffed container
//!   (`-f mov` or `-f matroska`) and only the `file` protocol is allowed, so
//!   playlists or references to other files or URLs cannot be followed;
//! * the environment is cleared, stdin is closed, stderr is kept to 4 KiB;
//! * `ffprobe` first: dimensions, frame rate and duration are checked
//!   against [`VideoLimits`] before a single frame is decoded; decoding stops
//!   (the child is killed) as soon as the frame count or timestamps pass the
//!   limits, or the deadline passes.
//!
//! Sampling follows the vPDQ reference: with `seconds_per_hash = s` and
//! frame rate `r`, every `k = max(1, trunc(s * r))`-th decoded frame is
//! hashed (`s = 1`: one frame per second; `s = 0`: every frame), frame
//! numbers count decoded frames from 0, and timestamps are `n / r`. Frames
//! are delivered at the stream's coded size, not auto-rotated, like the
//! reference.
//!
//! Errors are typed ([`VideoError`]) with a bounded [`VideoError::kind`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits for one video. Checked before decoding where the container says
/// enough, and again while frames arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoLimits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Longest accepted video, in seconds.
    pub max_duration_seconds: f64,
    /// Largest accepted width or height.
    pub max_dimension: u32,
    /// Largest accepted width × height.
    pub max_pixels: u64,
    /// Most sampled (hashed) frames.
    pub max_frames: u64,
    /// Wall-clock limit for probing and decoding together.
    pub timeout: Duration,
    /// Address-space cap for the FFmpeg child (applied with `prlimit` when
    /// it is installed).
    pub max_memory_bytes: u64,
}

impl Default for VideoLimits {
    fn default() -> Self {
        VideoLimits {
            max_bytes: 500 * 1024 * 1024,
            max_duration_seconds: 3600.0,
            max_dimension: 8192,
            max_pixels: 4096 * 2304,
            max_frames: 7200,
            timeout: Duration::from_secs(300),
            max_memory_bytes: 4 << 30,
        }
    }
}

/// How frames are sampled and which tools run.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoOptions {
    /// Seconds between hashed frames (vPDQ: 1.0). 0 hashes every frame.
    pub seconds_per_hash: f64,
    /// Decoder threads inside the child.
    pub threads: u32,
    /// Resize frames to this size before delivering them (the reference's
    /// `downsample_width/height`); `None` keeps the coded size.
    pub downsample: Option<(u32, u32)>,
    /// `ffmpeg` binary; default: found on `PATH`.
    pub ffmpeg: Option<PathBuf>,
    /// `ffprobe` binary; default: found on `PATH`.
    pub ffprobe: Option<PathBuf>,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            seconds_per_hash: 1.0,
            threads: 1,
            downsample: None,
            ffmpeg: None,
            ffprobe: None,
        }
    }
}

/// The container found by sniffing the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoFormat {
    /// ISO base media (MP4, M4V, 3GP).
    Mp4,
    /// QuickTime (`.mov`).
    Quicktime,
    /// Matroska, including WebM.
    Matroska,
}

impl VideoFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Quicktime => "quicktime",
            VideoFormat::Matroska => "matroska",
        }
    }

    fn demuxer(&self) -> &'static str {
        match self {
            VideoFormat::Mp4 | VideoFormat::Quicktime => "mov",
            VideoFormat::Matroska => "matroska",
        }
    }
}

/// Identify a video container from magic bytes.
pub fn sniff_video(bytes: &[u8]) -> Option<VideoFormat> {
    if bytes.len() >= 4 && bytes[..4] == [0x1a, 0x45, 0xdf, 0xa3] {
        return Some(VideoFormat::Matroska);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(if &bytes[8..12] == b"qt  " {
            VideoFormat::Quicktime
        } else {
            VideoFormat::Mp4
        });
    }
    if bytes.len() >= 8
        && matches!(
            &bytes[4..8],
            b"moov" | b"mdat" | b"wide" | b"free" | b"skip"
        )
    {
        return Some(VideoFormat::Quicktime);
    }
    None
}

/// What the container says about the video stream, after the limits
/// passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub format: VideoFormat,
    pub width: u32,
    pub height: u32,
    /// Frames per second.
    pub frame_rate: f64,
    /// Duration in seconds, when the container states one.
    pub duration_seconds: Option<f64>,
    /// Every `frame_stride`-th decoded frame is sampled.
    pub frame_stride: u64,
}

/// One sampled frame, packed RGB8 (`width * height * 3` bytes).
#[derive(Debug, Clone, Copy)]
pub struct VideoFrame<'a> {
    /// Index among all decoded frames, from 0.
    pub frame_number: u64,
    /// Seconds from the start: `frame_number / frame_rate`.
    pub timestamp: f64,
    pub width: u32,
    pub height: u32,
    pub rgb: &'a [u8],
}

/// The result of a decode: the stream facts and how many frames were
/// delivered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodedVideo {
    pub info: VideoInfo,
    pub frames: u64,
}

/// Why a video could not be decoded. `kind()` is a bounded label for
/// metrics and dead-letter records; messages never contain media bytes.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("empty input")]
    Empty,
    #[error("video is {size} bytes, over the limit of {limit}")]
    TooManyBytes { size: usize, limit: usize },
    #[error("unsupported or unrecognised video container")]
    UnsupportedFormat,
    #[error("video is {seconds:.1} s long, over the limit of {limit:.0} s")]
    TooLong { seconds: f64, limit: f64 },
    #[error("video is {width}x{height}, over the limits")]
    TooManyPixels { width: u32, height: u32 },
    #[error("video needs more than {limit} sampled frames")]
    TooManyFrames { limit: u64 },
    #[error("decoding took longer than {seconds} s")]
    Timeout { seconds: u64 },
    #[error("no video stream")]
    NoVideoStream,
    #[error("corrupt video: {detail}")]
    Corrupt { detail: String },
    #[error("video decoder unavailable: {detail} (install ffmpeg: scripts/setup-ffmpeg.sh)")]
    DecoderUnavailable { detail: String },
    #[error("temporary file error: {0}")]
    Io(#[from] std::io::Error),
}

impl VideoError {
    pub fn kind(&self) -> &'static str {
        match self {
            VideoError::Empty => "empty",
            VideoError::TooManyBytes { .. } => "too_many_bytes",
            VideoError::UnsupportedFormat => "unsupported_format",
            VideoError::TooLong { .. } => "too_long",
            VideoError::TooManyPixels { .. } => "too_many_pixels",
            VideoError::TooManyFrames { .. } => "too_many_frames",
            VideoError::Timeout { .. } => "timeout",
            VideoError::NoVideoStream => "no_video_stream",
            VideoError::Corrupt { .. } => "corrupt",
            VideoError::DecoderUnavailable { .. } => "decoder_unavailable",
            VideoError::Io(_) => "io",
        }
    }
}

/// Whether `ffmpeg` and `ffprobe` can be found (on `PATH` or as given).
pub fn decoder_available(options: &VideoOptions) -> bool {
    tool(&options.ffmpeg, "ffmpeg").is_ok() && tool(&options.ffprobe, "ffprobe").is_ok()
}

/// Probe and decode `bytes`, calling `on_frame` for each sampled frame in
/// order. Memory use is one frame at a time.
pub fn decode_video(
    bytes: &[u8],
    limits: &VideoLimits,
    options: &VideoOptions,
    on_frame: impl FnMut(VideoFrame<'_>),
) -> Result<DecodedVideo, VideoError> {
    let format = check_bytes(bytes, limits)?;
    let file = TempFile::write(bytes)?;
    decode_path(file.path(), format, limits, options, on_frame)
}

/// Like [`decode_video`] for a file on disk (the CLI). The file is read
/// once to check its size and container before FFmpeg sees it.
pub fn decode_video_file(
    path: &Path,
    limits: &VideoLimits,
    options: &VideoOptions,
    on_frame: impl FnMut(VideoFrame<'_>),
) -> Result<DecodedVideo, VideoError> {
    let len = std::fs::metadata(path)?.len();
    if len > limits.max_bytes as u64 {
        return Err(VideoError::TooManyBytes {
            size: usize::try_from(len).unwrap_or(usize::MAX),
            limit: limits.max_bytes,
        });
    }
    let bytes = std::fs::read(path)?;
    decode_video(&bytes, limits, options, on_frame)
}

/// Check the byte limit and container magic; returns the container.
pub fn check_bytes(bytes: &[u8], limits: &VideoLimits) -> Result<VideoFormat, VideoError> {
    if bytes.is_empty() {
        return Err(VideoError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(VideoError::TooManyBytes {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    sniff_video(bytes).ok_or(VideoError::UnsupportedFormat)
}

fn decode_path(
    path: &Path,
    format: VideoFormat,
    limits: &VideoLimits,
    options: &VideoOptions,
    mut on_frame: impl FnMut(VideoFrame<'_>),
) -> Result<DecodedVideo, VideoError> {
    let deadline = Instant::now() + limits.timeout;
    let info = probe_path(path, format, limits, options, deadline)?;
    let (width, height) = options.downsample.unwrap_or((info.width, info.height));
    if width == 0 || height == 0 {
        return Err(VideoError::TooManyPixels { width, height });
    }
    check_size(width, height, limits)?;
    let frame_bytes = width as usize * height as usize * 3;

    let ffmpeg = tool(&options.ffmpeg, "ffmpeg")?;
    let mut filters = Vec::new();
    if info.frame_stride > 1 {
        filters.push(format!("select=not(mod(n\\,{}))", info.frame_stride));
    }
    filters.push(format!("scale={width}:{height}"));
    let max_alloc = (frame_bytes as u64 * 2).max(64 << 20);
    let threads = options.threads.max(1).to_string();
    let input = file_url(path);
    let frame_cap = (limits.max_frames + 1).to_string();
    let args: Vec<String> = [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-max_alloc",
        &max_alloc.to_string(),
        "-threads",
        &threads,
        "-filter_threads",
        "1",
        "-noautorotate",
        "-f",
        format.demuxer(),
        "-protocol_whitelist",
        "file",
        "-i",
        &input,
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        &filters.join(","),
        "-fps_mode",
        "passthrough",
        "-frames:v",
        &frame_cap,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let mut frame = vec![0u8; frame_bytes];
    let mut delivered: u64 = 0;
    let mut stop: Option<VideoError> = None;
    let run = run_confined(&ffmpeg, &args, limits, deadline, |out| loop {
        match read_full(out, &mut frame) {
            Ok(n) if n == frame_bytes => {}
            _ => return,
        }
        if delivered >= limits.max_frames {
            stop = Some(VideoError::TooManyFrames {
                limit: limits.max_frames,
            });
            return;
        }
        let frame_number = delivered * info.frame_stride;
        let timestamp = frame_number as f64 / info.frame_rate;
        if timestamp > limits.max_duration_seconds {
            stop = Some(VideoError::TooLong {
                seconds: timestamp,
                limit: limits.max_duration_seconds,
            });
            return;
        }
        on_frame(VideoFrame {
            frame_number,
            timestamp,
            width,
            height,
            rgb: &frame,
        });
        delivered += 1;
    })?;
    if let Some(e) = stop {
        return Err(e);
    }
    if run.timed_out {
        return Err(VideoError::Timeout {
            seconds: limits.timeout.as_secs(),
        });
    }
    if delivered == 0 {
        return Err(VideoError::Corrupt {
            detail: if run.success {
                "no frames decoded".into()
            } else {
                run.stderr_line(path)
            },
        });
    }
    // A stream that breaks off after some frames still yields those frames,
    // like the reference hasher.
    Ok(DecodedVideo {
        info,
        frames: delivered,
    })
}

/// A contact sheet of a video for human review: frames evenly spaced over
/// its running time, tiled left to right, top to bottom, as one JPEG.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactSheet {
    /// JPEG bytes of the tiled frames.
    pub jpeg: Vec<u8>,
    /// The time of each tile, in seconds from the start, in tile order.
    pub timestamps: Vec<f64>,
    pub columns: u32,
    pub rows: u32,
}

/// The times at which a contact sheet of `count` frames samples a video of
/// `duration` seconds: the middles of `count` equal parts (none falls on
/// the very first or last frame). Unknown duration: the first frame only.
pub fn sheet_times(duration: Option<f64>, count: usize) -> Vec<f64> {
    match duration {
        Some(d) if d.is_finite() && d > 0.0 && count > 0 => (0..count)
            .map(|i| d * (i as f64 + 0.5) / count as f64)
            .collect(),
        _ => vec![0.0],
    }
}

/// Make a [`ContactSheet`] of up to `count` frames, each scaled to at most
/// `tile_width` pixels wide, in `columns` columns.
///
/// Each frame is one short confined `ffmpeg` run that seeks to its time
/// before decoding (input seeking: decoding starts at the key frame before
/// it), so the cost does not grow with the video's length; the probe and
/// all runs share `limits.timeout`. Frames are in colour: the review UI
/// blurs and greys them until the reviewer reveals them, as it does images.
pub fn contact_sheet(
    bytes: &[u8],
    limits: &VideoLimits,
    options: &VideoOptions,
    count: usize,
    tile_width: u32,
    columns: u32,
) -> Result<ContactSheet, VideoError> {
    let format = check_bytes(bytes, limits)?;
    let file = TempFile::write(bytes)?;
    let deadline = Instant::now() + limits.timeout;
    let info = probe_path(file.path(), format, limits, options, deadline)?;
    let width = tile_width.min(info.width).max(1);
    let height = ((u64::from(info.height) * u64::from(width) + u64::from(info.width) / 2)
        / u64::from(info.width))
    .min(u64::from(limits.max_dimension))
    .max(1) as u32;
    let ffmpeg = tool(&options.ffmpeg, "ffmpeg")?;
    let frame_bytes = width as usize * height as usize * 3;
    let max_alloc = (u64::from(info.width) * u64::from(info.height) * 8).max(64 << 20);
    let input = file_url(file.path());
    let mut tiles: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut last_error = String::new();
    for t in sheet_times(info.duration_seconds, count.max(1)) {
        let seek = format!("{t:.3}");
        let args: Vec<String> = [
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-max_alloc",
            &max_alloc.to_string(),
            "-threads",
            "1",
            "-noautorotate",
            "-ss",
            &seek,
            "-f",
            format.demuxer(),
            "-protocol_whitelist",
            "file",
            "-i",
            &input,
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-vf",
            &format!("scale={width}:{height}"),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut frame = vec![0u8; frame_bytes];
        let mut got = 0;
        let run = run_confined(&ffmpeg, &args, limits, deadline, |out| {
            got = read_full(out, &mut frame).unwrap_or(0);
        })?;
        if run.timed_out {
            return Err(VideoError::Timeout {
                seconds: limits.timeout.as_secs(),
            });
        }
        if got == frame_bytes {
            tiles.push((t, frame));
        } else if !run.success {
            last_error = run.stderr_line(file.path());
        }
        // A seek past the last decodable frame yields nothing: skip it.
    }
    if tiles.is_empty() {
        return Err(VideoError::Corrupt {
            detail: if last_error.is_empty() {
                "no frames decoded".into()
            } else {
                last_error
            },
        });
    }
    tile_jpeg(&tiles, width, height, columns.max(1))
}

/// Tile equally sized RGB frames into one JPEG, 4 px of dark grey apart.
fn tile_jpeg(
    tiles: &[(f64, Vec<u8>)],
    width: u32,
    height: u32,
    columns: u32,
) -> Result<ContactSheet, VideoError> {
    const GAP: u32 = 4;
    let n = tiles.len() as u32;
    let columns = columns.min(n);
    let rows = n.div_ceil(columns);
    let sheet_w = columns * width + (columns + 1) * GAP;
    let sheet_h = rows * height + (rows + 1) * GAP;
    let mut sheet = image::RgbImage::from_pixel(sheet_w, sheet_h, image::Rgb([42, 47, 58]));
    for (i, (_, rgb)) in tiles.iter().enumerate() {
        let i = i as u32;
        let x0 = GAP + (i % columns) * (width + GAP);
        let y0 = GAP + (i / columns) * (height + GAP);
        for (k, px) in rgb.chunks_exact(3).enumerate() {
            let k = k as u32;
            sheet.put_pixel(
                x0 + k % width,
                y0 + k / width,
                image::Rgb([px[0], px[1], px[2]]),
            );
        }
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&sheet)
        .map_err(|e| VideoError::Io(std::io::Error::other(e.to_string())))?;
    Ok(ContactSheet {
        jpeg,
        timestamps: tiles.iter().map(|(t, _)| *t).collect(),
        columns,
        rows,
    })
}

/// Probe `bytes` with `ffprobe` and check the limits, without decoding.
pub fn probe_video(
    bytes: &[u8],
    limits: &VideoLimits,
    options: &VideoOptions,
) -> Result<VideoInfo, VideoError> {
    let format = check_bytes(bytes, limits)?;
    let file = TempFile::write(bytes)?;
    probe_path(
        file.path(),
        format,
        limits,
        options,
        Instant::now() + limits.timeout,
    )
}

fn probe_path(
    path: &Path,
    format: VideoFormat,
    limits: &VideoLimits,
    options: &VideoOptions,
    deadline: Instant,
) -> Result<VideoInfo, VideoError> {
    let ffprobe = tool(&options.ffprobe, "ffprobe")?;
    let input = file_url(path);
    let args: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        format.demuxer(),
        "-protocol_whitelist",
        "file",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,avg_frame_rate,r_frame_rate,duration:format=duration",
        "-of",
        "default=noprint_wrappers=0",
        &input,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut text = Vec::new();
    let run = run_confined(&ffprobe, &args, limits, deadline, |out| {
        let _ = out.take(64 * 1024).read_to_end(&mut text);
    })?;
    if run.timed_out {
        return Err(VideoError::Timeout {
            seconds: limits.timeout.as_secs(),
        });
    }
    if !run.success {
        return Err(VideoError::Corrupt {
            detail: run.stderr_line(path),
        });
    }
    let facts = ProbeFacts::parse(&String::from_utf8_lossy(&text));
    if !facts.has_stream {
        return Err(VideoError::NoVideoStream);
    }
    let (width, height) = match (facts.width, facts.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(VideoError::Corrupt {
                detail: "video stream without dimensions".into(),
            })
        }
    };
    check_size(width, height, limits)?;
    let frame_rate =
        facts
            .avg_frame_rate
            .or(facts.r_frame_rate)
            .ok_or_else(|| VideoError::Corrupt {
                detail: "video stream without a frame rate".into(),
            })?;
    let duration_seconds = facts.format_duration.or(facts.stream_duration);
    if let Some(d) = duration_seconds {
        if d > limits.max_duration_seconds {
            return Err(VideoError::TooLong {
                seconds: d,
                limit: limits.max_duration_seconds,
            });
        }
    }
    let frame_stride = ((options.seconds_per_hash.max(0.0) * frame_rate) as u64).max(1);
    if let Some(d) = duration_seconds {
        let expected = (d * frame_rate / frame_stride as f64).floor() as u64;
        if expected > limits.max_frames {
            return Err(VideoError::TooManyFrames {
                limit: limits.max_frames,
            });
        }
    }
    Ok(VideoInfo {
        format,
        width,
        height,
        frame_rate,
        duration_seconds,
        frame_stride,
    })
}

fn check_size(width: u32, height: u32, limits: &VideoLimits) -> Result<(), VideoError> {
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(VideoError::TooManyPixels { width, height });
    }
    Ok(())
}

/// The fields of `ffprobe -of default` output that matter here.
#[derive(Debug, Default)]
struct ProbeFacts {
    has_stream: bool,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<f64>,
    r_frame_rate: Option<f64>,
    stream_duration: Option<f64>,
    format_duration: Option<f64>,
}

impl ProbeFacts {
    fn parse(text: &str) -> ProbeFacts {
        let mut facts = ProbeFacts::default();
        let mut section = "";
        for line in text.lines() {
            let line = line.trim();
            match line {
                "[STREAM]" => {
                    section = "stream";
                    facts.has_stream = true;
                    continue;
                }
                "[FORMAT]" => {
                    section = "format";
                    continue;
                }
                _ if line.starts_with("[/") => {
                    section = "";
                    continue;
                }
                _ => {}
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match (section, key) {
                ("stream", "width") => facts.width = value.parse().ok(),
                ("stream", "height") => facts.height = value.parse().ok(),
                ("stream", "avg_frame_rate") => facts.avg_frame_rate = parse_rate(value),
                ("stream", "r_frame_rate") => facts.r_frame_rate = parse_rate(value),
                ("stream", "duration") => facts.stream_duration = parse_seconds(value),
                ("format", "duration") => facts.format_duration = parse_seconds(value),
                _ => {}
            }
        }
        facts
    }
}

/// `30000/1001` or `25` to frames per second; only sane, finite rates.
fn parse_rate(s: &str) -> Option<f64> {
    let rate = match s.split_once('/') {
        Some((n, d)) => {
            let n: f64 = n.parse().ok()?;
            let d: f64 = d.parse().ok()?;
            if d == 0.0 {
                return None;
            }
            n / d
        }
        None => s.parse().ok()?,
    };
    (rate.is_finite() && rate > 0.0 && rate <= 1000.0).then_some(rate)
}

fn parse_seconds(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// The `file:` URL of a path (so a name with a colon is never read as a
/// protocol).
fn file_url(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// Read until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A configured tool path, or the named tool found on `PATH`.
fn tool(configured: &Option<PathBuf>, name: &str) -> Result<PathBuf, VideoError> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(VideoError::DecoderUnavailable {
                detail: format!("{} not found", p.display()),
            })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| VideoError::DecoderUnavailable {
            detail: format!("{name} not found on PATH"),
        })
}

struct RunOutcome {
    success: bool,
    timed_out: bool,
    stderr: String,
}

impl RunOutcome {
    /// The first line of the child's stderr, without the temporary path,
    /// at most 200 characters.
    fn stderr_line(&self, path: &Path) -> String {
        let line = self
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("decoder failed")
            .replace(&file_url(path), "input")
            .replace(&path.display().to_string(), "input");
        line.chars().take(200).collect()
    }
}

/// Run `program args` with a cleared environment, closed stdin, stdout
/// handed to `read_stdout`, stderr kept to 4 KiB, and a watchdog that kills
/// the child at `deadline` or when `read_stdout` returns early.
fn run_confined(
    program: &Path,
    args: &[String],
    limits: &VideoLimits,
    deadline: Instant,
    read_stdout: impl FnOnce(&mut std::process::ChildStdout),
) -> Result<RunOutcome, VideoError> {
    let mut cmd = match prlimit() {
        Some(prlimit) => {
            let mut c = Command::new(prlimit);
            c.arg(format!("--as={}", limits.max_memory_bytes))
                .arg("--core=0")
                .arg("--")
                .arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: Child = cmd.spawn().map_err(|e| VideoError::DecoderUnavailable {
        detail: format!("cannot start {}: {e}", program.display()),
    })?;
    let mut stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut s) = stderr {
            let _ = (&mut s).take(4096).read_to_end(&mut kept);
            // Drain the rest so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut s, &mut std::io::sink());
        }
        String::from_utf8_lossy(&kept).into_owned()
    });

    let child = Arc::new(Mutex::new(child));
    let done = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (child, done, timed_out) = (child.clone(), done.clone(), timed_out.clone());
        std::thread::spawn(move || loop {
            {
                let mut c = child.lock().unwrap_or_else(|p| p.into_inner());
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                if done.load(Ordering::Acquire) {
                    let _ = c.kill();
                    return;
                }
                if Instant::now() >= deadline {
                    timed_out.store(true, Ordering::Release);
                    let _ = c.kill();
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        })
    };

    if let Some(out) = stdout.as_mut() {
        read_stdout(out);
    }
    // Stop the child if it is still running (early stop or limit hit), then
    // close our end of the pipe so it cannot block on a full one.
    done.store(true, Ordering::Release);
    drop(stdout);
    let _ = watchdog.join();
    let status = {
        let mut c = child.lock().unwrap_or_else(|p| p.into_inner());
        c.wait()?
    };
    let stderr = stderr_reader.join().unwrap_or_default();
    Ok(RunOutcome {
        success: status.success(),
        timed_out: timed_out.load(Ordering::Acquire),
        stderr,
    })
}

fn prlimit() -> Option<PathBuf> {
    ["/usr/bin/prlimit", "/bin/prlimit"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A private temporary file holding the upload, removed on drop.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn write(bytes: &[u8]) -> Result<TempFile, VideoError> {
        use std::io::Write;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("vigil-video-{}-{n}-{nanos}", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&path)?;
        let file = TempFile { path };
        f.write_all(bytes)?;
        f.flush()?;
        Ok(file)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_containers() {
        assert_eq!(
            sniff_video(b"\0\0\0\x20ftypisom\0\0\x02\0"),
            Some(VideoFormat::Mp4)
        );
        assert_eq!(
            sniff_video(b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some(VideoFormat::Quicktime)
        );
        assert_eq!(
            sniff_video(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81"),
            Some(VideoFormat::Matroska)
        );
        assert_eq!(sniff_video(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(sniff_video(b""), None);
        assert_eq!(sniff_video(b"ftyp"), None);
    }

    #[test]
    fn parses_probe_output() {
        let f = ProbeFacts::parse(
            "[STREAM]\nwidth=640\nheight=360\nr_frame_rate=30000/1001\navg_frame_rate=0/0\nduration=N/A\n[/STREAM]\n[FORMAT]\nduration=12.5\n[/FORMAT]\n",
        );
        assert!(f.has_stream);
        assert_eq!((f.width, f.height), (Some(640), Some(360)));
        assert_eq!(f.avg_frame_rate, None);
        assert!((f.r_frame_rate.unwrap() - 29.97).abs() < 0.01);
        assert_eq!(f.stream_duration, None);
        assert_eq!(f.format_duration, Some(12.5));
        assert!(!ProbeFacts::parse("[FORMAT]\nduration=1\n[/FORMAT]\n").has_stream);
        assert_eq!(parse_rate("1/0"), None);
        assert_eq!(parse_rate("1e9"), None);
        assert_eq!(parse_rate("25"), Some(25.0));
    }

    #[test]
    fn sheet_times_are_the_middles_of_equal_parts() {
        assert_eq!(sheet_times(Some(9.0), 3), vec![1.5, 4.5, 7.5]);
        assert_eq!(sheet_times(None, 9), vec![0.0]);
        assert_eq!(sheet_times(Some(0.0), 9), vec![0.0]);
        assert_eq!(sheet_times(Some(f64::NAN), 9), vec![0.0]);
    }

    #[test]
    fn tiles_fill_rows_left_to_right() {
        let red = [255u8, 0, 0].repeat(4);
        let blue = [0u8, 0, 255].repeat(4);
        let tiles = vec![(0.5, red.clone()), (1.5, blue), (2.5, red)];
        let sheet = tile_jpeg(&tiles, 2, 2, 2).unwrap();
        assert_eq!((sheet.columns, sheet.rows), (2, 2));
        assert_eq!(sheet.timestamps, vec![0.5, 1.5, 2.5]);
        let img = image::load_from_memory(&sheet.jpeg).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (2 * 2 + 3 * 4, 2 * 2 + 3 * 4));
    }

    #[test]
    fn byte_checks_come_first() {
        let limits = VideoLimits {
            max_bytes: 10,
            ..VideoLimits::default()
        };
        assert_eq!(check_bytes(b"", &limits).unwrap_err().kind(), "empty");
        assert_eq!(
            check_bytes(&[0u8; 11], &limits).unwrap_err().kind(),
            "too_many_bytes"
        );
        assert_eq!(
            check_bytes(b"not video", &limits).unwrap_err().kind(),
            "unsupported_format"
        );
    }
}
