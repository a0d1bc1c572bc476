//! One hashed video frame and the reference vPDQ text format.
//!
//! The format is one line per hashed frame, no header:
//! `frame_number,quality,pdq_hex,timestamp_seconds`, e.g.
//! `0,100,e271…055c,0.000`. Frame numbers count decoded frames from 0;
//! timestamps are seconds with three decimals. Empty lines and lines that
//! start with `#` are skipped when parsing.
//!
//! ThreatExchange / python-threatexchange exchange a vPDQ signal as a JSON
//! array of `"pdq_hex,quality,timestamp"` strings (no frame numbers):
//! [`parse_te_signal`] and [`format_te_signal`] read and write that form, so
//! a `vpdq` row of a ThreatExchange CSV or update can be banked and exported.
//!
//! Banks keep a video entry's signal in one canonical form
//! ([`normalise_vpdq`]): the reference text, one line per frame as
//! [`format_features`] writes it, whichever of the two forms came in.

use std::fmt::Write as _;
use vigil_pdq::PdqHash;

/// Why a vPDQ text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VpdqError {
    #[error("line {line}: expected 4 comma-separated fields (frame_number,quality,pdq_hex,timestamp_seconds), got {fields}")]
    FieldCount { line: usize, fields: usize },
    #[error("line {line}: bad frame number")]
    FrameNumber { line: usize },
    #[error("line {line}: quality must be an integer from 0 to 100")]
    Quality { line: usize },
    #[error("line {line}: bad PDQ hash (expected 64 hex digits)")]
    Hash { line: usize },
    #[error("line {line}: timestamp must be a finite, non-negative number of seconds")]
    Timestamp { line: usize },
    #[error("more than {limit} frames")]
    TooManyFrames { limit: usize },
    #[error("a ThreatExchange vPDQ signal must be a JSON array of strings")]
    Json,
}

impl VpdqError {
    /// A short, bounded label for metrics and rejection reports.
    pub fn kind(&self) -> &'static str {
        match self {
            VpdqError::FieldCount { .. } => "field_count",
            VpdqError::FrameNumber { .. } => "frame_number",
            VpdqError::Quality { .. } => "quality",
            VpdqError::Hash { .. } => "hash",
            VpdqError::Timestamp { .. } => "timestamp",
            VpdqError::TooManyFrames { .. } => "too_many_frames",
            VpdqError::Json => "json",
        }
    }
}

/// One hashed frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpdqFeature {
    /// Index of the frame among all decoded frames, from 0.
    pub frame_number: u64,
    /// PDQ quality, 0 to 100.
    pub quality: u8,
    pub hash: PdqHash,
    /// Presentation time in seconds (frame number / frame rate).
    pub timestamp: f64,
}

impl VpdqFeature {
    /// The reference text line for this frame, without a newline.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame_number,
            self.quality,
            self.hash.to_hex(),
            self.timestamp
        )
    }
}

/// Largest number of lines [`parse_features`] accepts (a 24-hour video at
/// one frame per second is 86,400 lines).
pub const MAX_PARSED_FRAMES: usize = 1_000_000;

/// Parse the reference text format. Every line must be valid; the error
/// names the first bad line (1-based).
pub fn parse_features(text: &str) -> Result<Vec<VpdqFeature>, VpdqError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let s = raw.trim();
        if s.is_empty() || s.starts_with('#') {
            continue;
        }
        if out.len() >= MAX_PARSED_FRAMES {
            return Err(VpdqError::TooManyFrames {
                limit: MAX_PARSED_FRAMES,
            });
        }
        out.push(parse_line(s, line)?);
    }
    Ok(out)
}

fn parse_line(s: &str, line: usize) -> Result<VpdqFeature, VpdqError> {
    let fields: Vec<&str> = s.split(',').map(str::trim).collect();
    if fields.len() != 4 {
        return Err(VpdqError::FieldCount {
            line,
            fields: fields.len(),
        });
    }
    let frame_number = fields[0]
        .parse::<u64>()
        .map_err(|_| VpdqError::FrameNumber { line })?;
    let quality = fields[1]
        .parse::<u8>()
        .ok()
        .filter(|q| *q <= 100)
        .ok_or(VpdqError::Quality { line })?;
    let hash = PdqHash::from_hex(fields[2]).map_err(|_| VpdqError::Hash { line })?;
    let timestamp = fields[3]
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or(VpdqError::Timestamp { line })?;
    Ok(VpdqFeature {
        frame_number,
        quality,
        hash,
        timestamp,
    })
}

/// Write features in the reference text format, one line each, each ending
/// with a newline.
pub fn format_features(features: &[VpdqFeature]) -> String {
    let mut s = String::with_capacity(features.len() * 80);
    for f in features {
        let _ = writeln!(
            s,
            "{},{},{},{:.3}",
            f.frame_number,
            f.quality,
            f.hash.to_hex(),
            f.timestamp
        );
    }
    s
}

/// Parse a ThreatExchange vPDQ signal: a JSON array of
/// `"pdq_hex,quality,timestamp"` strings. Frame numbers, which the format
/// does not carry, are the positions in the array.
pub fn parse_te_signal(signal: &str) -> Result<Vec<VpdqFeature>, VpdqError> {
    let items: Vec<String> = if signal.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(signal).map_err(|_| VpdqError::Json)?
    };
    if items.len() > MAX_PARSED_FRAMES {
        return Err(VpdqError::TooManyFrames {
            limit: MAX_PARSED_FRAMES,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let line = i + 1;
            let fields: Vec<&str> = item.split(',').map(str::trim).collect();
            if fields.len() != 3 {
                return Err(VpdqError::FieldCount {
                    line,
                    fields: fields.len(),
                });
            }
            parse_line(
                &format!("{i},{},{},{}", fields[1], fields[0], fields[2]),
                line,
            )
        })
        .collect()
}

/// Parse a banked or exchanged vPDQ signal in either form (reference text,
/// or a ThreatExchange JSON array when it starts with `[`).
pub fn parse_signal(signal: &str) -> Result<Vec<VpdqFeature>, VpdqError> {
    if signal.trim_start().starts_with('[') {
        parse_te_signal(signal)
    } else {
        parse_features(signal)
    }
}

/// The canonical bank form of a vPDQ signal and its number of frames. A
/// video with no frames is rejected: it could never match.
pub fn normalise_vpdq(signal: &str) -> Result<(String, usize), String> {
    let features = parse_signal(signal).map_err(|e| format!("vpdq signal: {e}"))?;
    if features.is_empty() {
        return Err("vpdq signal has no frames".into());
    }
    Ok((format_features(&features), features.len()))
}

/// Check a vPDQ signal without keeping its canonical form; the number of
/// frames.
pub fn check_vpdq(signal: &str) -> Result<usize, String> {
    normalise_vpdq(signal).map(|(_, n)| n)
}

/// Write features as a ThreatExchange vPDQ signal (timestamps with three
/// decimals).
pub fn format_te_signal(features: &[VpdqFeature]) -> String {
    let items: Vec<String> = features
        .iter()
        .map(|f| format!("{},{},{:.3}", f.hash.to_hex(), f.quality, f.timestamp))
        .collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str =
        "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000\n\
1,42,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,0.033\n";

    #[test]
    fn round_trip() {
        let f = parse_features(LINES).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].frame_number, 1);
        assert_eq!(f[1].quality, 42);
        assert!((f[1].timestamp - 0.033).abs() < 1e-9);
        assert_eq!(format_features(&f), LINES);
        assert_eq!(f[0].to_line(), LINES.lines().next().unwrap());
    }

    #[test]
    fn rejects_bad_lines_with_their_number() {
        let bad = [
            ("0,100,abc,0.0", VpdqError::Hash { line: 1 }),
            (
                "x,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0",
                VpdqError::FrameNumber { line: 1 },
            ),
            (
                "0,101,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0",
                VpdqError::Quality { line: 1 },
            ),
            (
                "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,-1",
                VpdqError::Timestamp { line: 1 },
            ),
            (
                "0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,NaN",
                VpdqError::Timestamp { line: 1 },
            ),
            ("0,100", VpdqError::FieldCount { line: 1, fields: 2 }),
        ];
        for (text, want) in bad {
            assert_eq!(parse_features(text).unwrap_err(), want, "{text}");
        }
        let second = format!("{}\n\n0,1", LINES.lines().next().unwrap());
        assert_eq!(
            parse_features(&second).unwrap_err(),
            VpdqError::FieldCount { line: 3, fields: 2 }
        );
    }

    #[test]
    fn threatexchange_signal_round_trip() {
        let f = parse_features(LINES).unwrap();
        let te = format_te_signal(&f);
        assert!(te.starts_with("[\"e2710178"), "{te}");
        assert!(te.contains(",42,0.033\""), "{te}");
        assert_eq!(parse_te_signal(&te).unwrap(), f);
        // python-threatexchange writes `{:.3}` (three significant digits).
        let py = r#"["e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,100,12.3"]"#;
        assert_eq!(parse_te_signal(py).unwrap()[0].timestamp, 12.3);
        assert!(parse_te_signal("[\"abc,1,0\"]").is_err());
        assert_eq!(parse_te_signal("{").unwrap_err(), VpdqError::Json);
        assert!(parse_te_signal("[\"a,b\"]").is_err());
        assert_eq!(parse_te_signal("").unwrap(), vec![]);
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        let text = format!("# vpdq\n\n{LINES}\n");
        assert_eq!(parse_features(&text).unwrap().len(), 2);
    }
}
