//! Throughput of vPDQ hashing, decode included: video seconds hashed per
//! wall-clock second, and per CPU second (this process plus its FFmpeg
//! children, from /proc/self/stat), on one worker thread.
//!
//! Usage: `bench-vpdq [--seconds-per-hash S] [--rounds N] VIDEO...`
//! Prints one `key=value` line.

use std::path::PathBuf;
use std::time::Instant;
use vigil_decode::video::{decode_video_file, VideoLimits, VideoOptions};
use vigil_vpdq::VpdqHasher;

/// (self user+sys, children user+sys) in clock ticks.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // rest[0] is field 3 (state); utime is field 14 -> index 11.
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    (get(11) + get(12), get(13) + get(14))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut seconds_per_hash = 1.0;
    let mut rounds = 1;
    let mut files: Vec<PathBuf> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds-per-hash" => {
                seconds_per_hash = args.next().and_then(|s| s.parse().ok()).expect("number")
            }
            "--rounds" => rounds = args.next().and_then(|s| s.parse().ok()).expect("number"),
            _ => files.push(PathBuf::from(a)),
        }
    }
    assert!(
        !files.is_empty(),
        "usage: bench-vpdq [--seconds-per-hash S] [--rounds N] VIDEO..."
    );
    let options = VideoOptions {
        seconds_per_hash,
        ..VideoOptions::default()
    };
    let limits = VideoLimits::default();
    let (self0, child0) = cpu_ticks();
    let start = Instant::now();
    let (mut video_seconds, mut frames, mut pixels) = (0.0f64, 0u64, 0u64);
    for _ in 0..rounds {
        for f in &files {
            let mut h = VpdqHasher::new();
            let d = decode_video_file(f, &limits, &options, |fr| {
                pixels += u64::from(fr.width) * u64::from(fr.height);
                h.push(
                    fr.frame_number,
                    fr.timestamp,
                    fr.width as usize,
                    fr.height as usize,
                    fr.rgb,
                )
                .expect("frame");
            })
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            frames += h.finish().len() as u64;
            video_seconds += d.info.duration_seconds.unwrap_or(0.0);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let (self1, child1) = cpu_ticks();
    let tick = 100.0; // USER_HZ on Linux
    let cpu_self = (self1 - self0) as f64 / tick;
    let cpu_children = (child1 - child0) as f64 / tick;
    let cpu = cpu_self + cpu_children;
    println!(
        "vigil videos={} rounds={rounds} seconds_per_hash={seconds_per_hash} video_seconds={video_seconds:.1} frames={frames} megapixels={:.1} wall_s={wall:.2} cpu_s={cpu:.2} cpu_hash_s={cpu_self:.2} cpu_ffmpeg_s={cpu_children:.2} video_s_per_wall_s={:.1} video_s_per_cpu_s={:.1}",
        files.len(),
        pixels as f64 / 1e6,
        video_seconds / wall,
        video_seconds / cpu.max(1e-9),
    );
}
