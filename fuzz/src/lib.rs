//! A small, blind mutation fuzzer for the code that reads untrusted input:
//! media decode (+ PDQ), the bank exchange-format importers
//! (`vigil_hashdb::formats`) and the Kafka message schemas
//! (`vigil_pipeline::messages`). It runs on stable Rust with no
//! instrumentation: seeds are mutated (bit flips, byte changes, inserts,
//! deletes, splices, interesting values, truncation) and every input runs
//! under `catch_unwind`; a panic is a finding. Coverage-guided fuzzing of
//! decode with libFuzzer lives in `services/decode/fuzz` (nightly +
//! cargo-fuzz). Findings become files under `fuzz/regressions/<target>/`,
//! which a test replays on every `make test`.
#![forbid(unsafe_code)]

pub mod corpus;

use std::io::Cursor;
use std::time::{Duration, Instant};

/// What is fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Decode,
    Formats,
    Messages,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Decode, Target::Formats, Target::Messages];

    pub fn as_str(&self) -> &'static str {
        match self {
            Target::Decode => "decode",
            Target::Formats => "formats",
            Target::Messages => "messages",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "decode" => Ok(Target::Decode),
            "formats" => Ok(Target::Formats),
            "messages" => Ok(Target::Messages),
            other => Err(format!(
                "unknown target {other:?} (decode, formats, messages)"
            )),
        }
    }
}

/// Run one input through a target. Must never panic.
pub fn exercise(target: Target, data: &[u8]) {
    match target {
        Target::Decode => {
            let limits = vigil_decode::Limits {
                max_bytes: 1 << 20,
                max_pixels: 1 << 22,
                max_memory_bytes: 64 << 20,
            };
            let decoded = vigil_decode::decode_image(data, &limits);
            // A contained decoder panic is still a finding: the upload loses
            // its perceptual hash.
            if let Err(e @ vigil_decode::DecodeError::DecoderPanic { .. }) = &decoded {
                panic!("{e}");
            }
            if let Ok(img) = decoded {
                let (w, h) = img.rgb.dimensions();
                let _ = vigil_pdq::hash_rgb(w as usize, h as usize, img.rgb.as_raw());
            }
        }
        Target::Formats => {
            use vigil_hashdb::formats::{import, Format, ImportOptions};
            let mut opts = ImportOptions::new("fuzz");
            opts.max_line_bytes = 4096;
            for f in [
                Format::HashList,
                Format::TeCsv,
                Format::TeJson,
                Format::Tcap,
            ] {
                let _ = import(f, Cursor::new(data), &opts, |_| {});
            }
        }
        Target::Messages => {
            use vigil_pipeline::{DlqRecord, ReviewItem, UploadMsg, Verdict};
            let _ = serde_json::from_slice::<UploadMsg>(data);
            let _ = serde_json::from_slice::<Verdict>(data);
            let _ = serde_json::from_slice::<ReviewItem>(data);
            let _ = serde_json::from_slice::<DlqRecord>(data);
        }
    }
}

/// Starting inputs for a target.
pub fn seeds(target: Target) -> Vec<Vec<u8>> {
    match target {
        Target::Decode => {
            let mut out = Vec::new();
            let img = image::RgbImage::from_fn(48, 32, |x, y| {
                image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x ^ y) * 3) as u8])
            });
            for fmt in [
                image::ImageFormat::Png,
                image::ImageFormat::Jpeg,
                image::ImageFormat::Gif,
                image::ImageFormat::Bmp,
                image::ImageFormat::Tiff,
                image::ImageFormat::WebP,
            ] {
                let mut buf = Cursor::new(Vec::new());
                if image::DynamicImage::ImageRgb8(img.clone())
                    .write_to(&mut buf, fmt)
                    .is_ok()
                {
                    out.push(buf.into_inner());
                }
            }
            if let Some(dir) = vigil_testdata::find("pdq/pdq") {
                let mut files: Vec<_> = std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() < 64 * 1024))
                    .collect();
                files.sort();
                for p in files.into_iter().take(8) {
                    if let Ok(b) = std::fs::read(p) {
                        out.push(b);
                    }
                }
            }
            // The hostile corpus's images (the fuzz loop mutates them too).
            out.extend(
                corpus::generate()
                    .into_iter()
                    .filter(|f| f.is_image())
                    .map(|f| f.bytes),
            );
            out
        }
        Target::Formats => {
            let pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
            vec![
                format!("pdq {pdq}\nmd5 0123456789abcdef0123456789abcdef\n# comment\n").into_bytes(),
                format!("signal_type,signal,quality,labels\npdq,{pdq},90,\"a,b\"\nmd5,0123456789abcdef0123456789abcdef,,x\n").into_bytes(),
                format!("{{\"signal_type\":\"pdq\",\"signal\":\"{pdq}\",\"tags\":[\"x\"]}}\n{{\"type\":\"HASH_MD5\",\"indicator\":\"0123456789abcdef0123456789abcdef\",\"deleted\":true}}\n").into_bytes(),
                format!("{{\"results\":[{{\"algorithm\":\"pdq\",\"hash\":\"{pdq}\",\"labels\":[\"l\"]}}],\"next\":\"p2\",\"checkpoint\":\"c\"}}").into_bytes(),
            ]
        }
        Target::Messages => vec![
            br#"{"v":1,"upload_id":"u1","media_url":"file:///m/u1","platform_context":{"surface":"feed","reach":10},"received_at":"2026-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"v":1,"upload_id":"u1","policy_version":"p1","action":{"restrict":{"jurisdictions":["DE"]}},"signals":[{"signal_type":"pdq","value":"00","quality":90}],"matches":[],"reasons":["r"],"decided_at":"2026-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"v":1,"upload_id":"u1","policy_version":"p1","queue_reason":"classifier","priority":0.5,"created_at":"2026-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"v":1,"source_topic":"vigil.uploads","partition":0,"offset":7,"error_kind":"corrupt","error":"e","failed_at":"2026-01-01T00:00:00Z"}"#.to_vec(),
        ],
    }
}

/// xorshift64*: deterministic, seedable, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'}', b',', b'\n', b'\\', b'-', b'9',
];

/// One to four random edits of `input` (another seed may be spliced in).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            5 if !other.is_empty() => {
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            _ if len > 0 => v.truncate(rng.below(len)),
            _ => v.push(rng.next_u64() as u8),
        }
    }
    v.truncate(max_len);
    v
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Stats {
    pub execs: u64,
    /// Inputs that panicked.
    pub crashes: Vec<Vec<u8>>,
}

/// Fuzz `target` for `budget`, deterministically from `seed`. Stops at the
/// first panic.
pub fn fuzz(target: Target, budget: Duration, seed: u64) -> Stats {
    let seeds = seeds(target);
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let start = Instant::now();
    // Seeds first, as they are.
    let mut queue: Vec<Vec<u8>> = seeds.clone();
    while start.elapsed() < budget {
        let input = match queue.pop() {
            Some(i) => i,
            None => {
                let base = &seeds[rng.below(seeds.len())];
                let other = &seeds[rng.below(seeds.len())];
                let mut v = mutate(&mut rng, base, other, 256 * 1024);
                // Sometimes stack mutations.
                for _ in 0..rng.below(3) {
                    v = mutate(&mut rng, &v, other, 256 * 1024);
                }
                v
            }
        };
        stats.execs += 1;
        let ok = std::panic::catch_unwind(|| exercise(target, &input)).is_ok();
        if !ok {
            stats.crashes.push(input);
            break;
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let x = mutate(&mut a, b"hello world", b"other", 8);
        let y = mutate(&mut b, b"hello world", b"other", 8);
        assert_eq!(x, y);
        assert!(x.len() <= 8);
    }

    #[test]
    fn a_panicking_target_is_reported() {
        // The harness must notice a panic: checked on a closure that panics
        // for one byte pattern.
        let r = std::panic::catch_unwind(|| {
            let data = [0xde, 0xad];
            if data == [0xde, 0xad] {
                panic!("found");
            }
        });
        assert!(r.is_err());
    }

    #[test]
    fn every_target_has_seeds_that_run() {
        for t in Target::ALL {
            let s = seeds(t);
            assert!(!s.is_empty(), "{t:?}");
            for input in s {
                exercise(t, &input);
            }
        }
    }

    #[test]
    fn short_runs_find_no_panic() {
        for t in Target::ALL {
            let stats = fuzz(t, Duration::from_millis(300), 42);
            assert!(stats.execs > 0);
            assert!(
                stats.crashes.is_empty(),
                "{t:?} panicked on {:?}",
                stats.crashes[0]
            );
        }
    }
}
