//! The stage chain: media bytes → decode → exact and perceptual hashes
//! (PDQ, and the 64-bit dHash and pHash of [`crate::imagehash`]) → bank
//! lookup → classifier. CPU-bound and synchronous: callers run it off
//! the async runtime (DESIGN.md §3.5). No network or disk IO, except that
//! the video branch hands the bytes to `vigil_decode::video` (an FFmpeg
//! subprocess reading a private temporary file).
//!
//! Video uploads (when [`Analyzer::with_video`] configured a video index):
//! sniff the container → decode one frame per second under
//! [`VideoLimits`] → vPDQ → candidate search in the video index → shares
//! and time ranges per banked video ([`VideoAnalysis`]). MD5 and SHA-256 of
//! the file are matched as exact signals either way.

use crate::decide::{MatchEvidence, VideoMatchEvidence};
use crate::messages::SignalValue;
use crate::metrics;
use crate::videos::BankedVideos;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use vigil_decode::video::{VideoError, VideoLimits, VideoOptions};
use vigil_decode::{DecodeError, Limits};
use vigil_hashdb::{BankAction, BankStatus, HashDb, SignalType, Signals};
use vigil_models::{Classifier, ClassifierOutput, ModelError};
use vigil_vpdq::{VpdqFeature, VpdqHasher};

/// The hash database shared by all workers of a process; writers (bank
/// updates) take the write lock briefly.
pub type SharedHashDb = Arc<RwLock<HashDb>>;

/// Banked videos (ids `bank/entry_id`), shared like [`SharedHashDb`] and
/// rebuilt from its video entries when they change.
pub type SharedVideoIndex = Arc<RwLock<BankedVideos>>;

/// What the worker needs to handle video uploads.
#[derive(Clone)]
pub struct VideoSupport {
    pub index: SharedVideoIndex,
    pub limits: VideoLimits,
    pub options: VideoOptions,
}

/// What the video branch found out about one upload.
#[derive(Debug)]
pub struct VideoAnalysis {
    /// The vPDQ of the upload (one feature per sampled frame).
    pub features: Vec<VpdqFeature>,
    pub duration_seconds: Option<f64>,
    /// Banked videos whose shares meet their bank's thresholds.
    pub matches: Vec<VideoMatchEvidence>,
    /// Set when the video did not decode (also reported, mapped, in
    /// [`Analysis::decode_error`]).
    pub error: Option<VideoError>,
}

/// What the stage chain found out about one piece of media.
#[derive(Debug)]
pub struct Analysis {
    pub signals: Vec<SignalValue>,
    pub pdq_quality: Option<u8>,
    pub matches: Vec<MatchEvidence>,
    pub classifier: Option<ClassifierOutput>,
    /// Set when decoding failed; exact hashes were still matched.
    pub decode_error: Option<DecodeError>,
    /// Set when the classifier failed on a decoded image.
    pub classifier_error: Option<ModelError>,
    /// Set for video uploads (when video support is configured).
    pub video: Option<VideoAnalysis>,
}

/// Runs the stages with shared, read-mostly state.
#[derive(Clone)]
pub struct Analyzer {
    pub hashdb: SharedHashDb,
    pub classifier: Option<Arc<Classifier>>,
    pub limits: Limits,
    /// Video uploads are hashed and matched only when this is set.
    pub video: Option<VideoSupport>,
}

fn timed<T>(stage: &'static str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    metrics::STAGE_SECONDS
        .with_label_values(&[stage])
        .observe(start.elapsed().as_secs_f64());
    out
}

/// What policy needs to know about one match found in the hash database
/// (live lookups and retro-hunts alike).
pub fn match_evidence(d: vigil_hashdb::MatchDetail) -> MatchEvidence {
    MatchEvidence {
        entry_quarantined: d.entry_quarantined,
        charter: d.charter.clone(),
        bank_action: d.bank_action,
        bank_status: d.bank_status,
        // Allow-list banks and quarantined banks are handled by their
        // action and status; the rest is entry-level.
        suppress_reason: (d.suppresses_automation
            && d.bank_action != vigil_hashdb::BankAction::Allow
            && d.bank_status == vigil_hashdb::BankStatus::Active)
            .then(|| {
                d.reason
                    .unwrap_or_else(|| "entry is disputed or quarantined".into())
            }),
        m: d.m,
    }
}

impl Analyzer {
    pub fn new(hashdb: SharedHashDb, classifier: Option<Arc<Classifier>>, limits: Limits) -> Self {
        Analyzer {
            hashdb,
            classifier,
            limits,
            video: None,
        }
    }

    /// Handle video uploads with this index, limits and sampling.
    pub fn with_video(mut self, video: VideoSupport) -> Self {
        self.video = Some(video);
        self
    }

    fn lookup(&self, query: &Signals) -> Vec<MatchEvidence> {
        let db = self
            .hashdb
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        db.lookup_detailed(query)
            .into_iter()
            .map(match_evidence)
            .collect::<Vec<_>>()
    }

    fn analyze_video(
        &self,
        bytes: &[u8],
        video: &VideoSupport,
        signals: Vec<SignalValue>,
        md5: [u8; 16],
        sha256: [u8; 32],
    ) -> Analysis {
        let exact = timed("match", || self.lookup(&Signals::exact(md5, sha256)));
        let mut hasher = VpdqHasher::new();
        let decoded = timed("decode_video", || {
            vigil_decode::video::decode_video(bytes, &video.limits, &video.options, |f| {
                // The decoder delivers exactly width * height * 3 bytes.
                let _ = hasher.push(
                    f.frame_number,
                    f.timestamp,
                    f.width as usize,
                    f.height as usize,
                    f.rgb,
                );
            })
        });
        let features = hasher.finish();
        let (duration_seconds, error) = match decoded {
            Ok(d) => (d.info.duration_seconds, None),
            Err(e) => {
                metrics::DECODE_ERRORS.with_label_values(&[e.kind()]).inc();
                (None, Some(e))
            }
        };
        let matches = if error.is_none() {
            timed("match_video", || self.match_video(&features, video))
        } else {
            Vec::new()
        };
        let decode_error = error.as_ref().map(video_to_decode_error);
        Analysis {
            signals,
            pdq_quality: None,
            matches: exact,
            classifier: None,
            decode_error,
            classifier_error: None,
            video: Some(VideoAnalysis {
                features,
                duration_seconds,
                matches,
                error,
            }),
        }
    }

    fn match_video(
        &self,
        features: &[VpdqFeature],
        video: &VideoSupport,
    ) -> Vec<VideoMatchEvidence> {
        let db = self.hashdb.read().unwrap_or_else(|p| p.into_inner());
        let stale = !video
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_current(&db);
        if stale {
            let mut banked = video.index.write().unwrap_or_else(|p| p.into_inner());
            if banked.sync(&db) {
                tracing::info!(
                    videos = banked.index().len(),
                    unreadable = banked.unreadable(),
                    "rebuilt the video index from the hash database"
                );
            }
        }
        let banked = video.index.read().unwrap_or_else(|p| p.into_inner());
        let hits = banked.index().matches(features);
        drop(banked);
        hits.into_iter()
            .map(|h| {
                let (bank, entry_id) = h.id.split_once('/').unwrap_or((h.id.as_str(), ""));
                // A video whose bank is not loaded is only ever reviewed.
                let (bank_action, bank_status, labels, charter) = match db.bank(bank) {
                    Some(b) => (b.action, b.status, b.labels.clone(), b.charter.clone()),
                    None => (BankAction::ReviewOnly, BankStatus::Active, Vec::new(), None),
                };
                VideoMatchEvidence {
                    bank: bank.to_string(),
                    entry_id: entry_id.to_string(),
                    labels,
                    bank_action,
                    bank_status,
                    charter,
                    // The bank's own vPDQ thresholds, as the index used them.
                    query_threshold_pct: h.config.query_threshold_pct,
                    compared_threshold_pct: h.config.compared_threshold_pct,
                    distance_tolerance: h.config.distance_tolerance,
                    m: h.m,
                }
            })
            .collect()
    }

    /// Analyse one piece of media. Never panics on hostile bytes: decode
    /// problems are reported in `decode_error`, and a panic anywhere past
    /// the exact hashes (a decoder or hasher bug) is contained and reported
    /// as [`DecodeError::DecoderPanic`], with the exact hashes still matched.
    pub fn analyze(&self, bytes: &[u8]) -> Analysis {
        let (signals, md5, sha256) = timed("exact_hash", || exact_hashes(bytes));
        #[cfg(debug_assertions)]
        crate::failpoint::abort_if_armed(&sha256);
        let analysed = vigil_decode::contain(bytes, || {
            Ok(self.analyze_media(bytes, signals.clone(), md5, sha256))
        });
        match analysed {
            Ok(a) => a,
            Err(e) => {
                metrics::DECODE_ERRORS.with_label_values(&[e.kind()]).inc();
                tracing::error!(
                    error_kind = e.kind(),
                    "analysis panicked on an upload; contained, deciding on its exact hashes"
                );
                let mut a = self.analyze_exact(bytes);
                a.decode_error = Some(e);
                a
            }
        }
    }

    /// The exact hashes of `bytes` and their matches, and nothing else: no
    /// decoder runs. For uploads that must not be decoded again (a poison
    /// record) and after a contained panic.
    pub fn analyze_exact(&self, bytes: &[u8]) -> Analysis {
        let (signals, md5, sha256) = exact_hashes(bytes);
        let matches = timed("match", || self.lookup(&Signals::exact(md5, sha256)));
        Analysis {
            signals,
            pdq_quality: None,
            matches,
            classifier: None,
            decode_error: None,
            classifier_error: None,
            video: None,
        }
    }

    /// Everything after the exact hashes: decode, perceptual hashes, bank
    /// lookup, classifier (or the video branch).
    fn analyze_media(
        &self,
        bytes: &[u8],
        mut signals: Vec<SignalValue>,
        md5: [u8; 16],
        sha256: [u8; 32],
    ) -> Analysis {
        if let Some(video) = &self.video {
            if vigil_decode::video::sniff_video(bytes).is_some() {
                return self.analyze_video(bytes, video, signals, md5, sha256);
            }
        }
        let decoded = timed("decode", || vigil_decode::decode_image(bytes, &self.limits));
        let (image, decode_error) = match decoded {
            Ok(d) => (Some(d.rgb), None),
            Err(e) => {
                metrics::DECODE_ERRORS.with_label_values(&[e.kind()]).inc();
                (None, Some(e))
            }
        };
        let pdq = image.as_ref().and_then(|img| {
            timed("pdq", || {
                vigil_pdq::hash_rgb(img.width() as usize, img.height() as usize, img.as_raw()).ok()
            })
        });
        if let Some(p) = &pdq {
            signals.push(SignalValue {
                signal_type: SignalType::Pdq,
                value: p.hash.to_hex(),
                quality: Some(p.quality),
            });
        }
        let mut query = Signals {
            pdq: pdq.map(|p| (p.hash, p.quality)),
            ..Signals::exact(md5, sha256)
        };
        if let Some(img) = &image {
            let hashes = timed("hash64", || {
                crate::imagehash::hash_all(
                    img.width() as usize,
                    img.height() as usize,
                    img.as_raw(),
                )
            });
            for (t, h) in hashes {
                signals.push(SignalValue {
                    signal_type: t,
                    value: vigil_hashdb::signal::hash64_to_hex(h),
                    quality: None,
                });
                query.set_hash64(t, h);
            }
        }
        let matches = timed("match", || self.lookup(&query));
        let (classifier, classifier_error) = match (&self.classifier, &image) {
            (Some(c), Some(img)) => match timed("classify", || c.classify(img)) {
                Ok(out) => (Some(out), None),
                Err(e) => (None, Some(e)),
            },
            _ => (None, None),
        };
        Analysis {
            signals,
            pdq_quality: pdq.map(|p| p.quality),
            matches,
            classifier,
            decode_error,
            classifier_error,
            video: None,
        }
    }
}

/// MD5 and SHA-256 of the file, as signals and as bytes. Plain hashing of
/// the bytes: no parser runs.
fn exact_hashes(bytes: &[u8]) -> (Vec<SignalValue>, [u8; 16], [u8; 32]) {
    let md5: [u8; 16] = Md5::digest(bytes).into();
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    let signals = vec![
        SignalValue {
            signal_type: SignalType::Md5,
            value: hex::encode(md5),
            quality: None,
        },
        SignalValue {
            signal_type: SignalType::Sha256,
            value: hex::encode(sha256),
            quality: None,
        },
    ];
    (signals, md5, sha256)
}

/// The image-side error type the worker reports and dead-letters, for a
/// video that did not decode: limits map to `limit_exceeded` (or the
/// byte/pixel kinds), broken files to `corrupt`.
fn video_to_decode_error(e: &VideoError) -> DecodeError {
    match e {
        VideoError::Empty => DecodeError::Empty,
        VideoError::TooManyBytes { size, limit } => DecodeError::TooManyBytes {
            size: *size,
            limit: *limit,
        },
        VideoError::TooManyPixels { width, height } => DecodeError::TooManyPixels {
            width: *width,
            height: *height,
        },
        VideoError::UnsupportedFormat => DecodeError::UnsupportedFormat,
        VideoError::TooLong { .. }
        | VideoError::TooManyFrames { .. }
        | VideoError::Timeout { .. } => DecodeError::LimitExceeded {
            format: "video",
            detail: e.to_string(),
        },
        VideoError::Corrupt { .. } | VideoError::NoVideoStream => DecodeError::Corrupt {
            format: "video",
            detail: e.to_string(),
        },
        VideoError::DecoderUnavailable { .. } | VideoError::Io(_) => {
            DecodeError::UnsupportedFeature {
                format: "video",
                detail: e.to_string(),
            }
        }
    }
}
