//! The stage chain: media bytes → decode → exact and perceptual hashes →
//! bank lookup → classifier. CPU-bound and synchronous: callers run it off
//! the async runtime (DESIGN.md §3.5). No network or disk IO.

use crate::decide::MatchEvidence;
use crate::messages::SignalValue;
use crate::metrics;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use vigil_decode::{DecodeError, Limits};
use vigil_hashdb::{HashDb, SignalType, Signals};
use vigil_models::{Classifier, ClassifierOutput, ModelError};

/// The hash database shared by all workers of a process; writers (bank
/// updates) take the write lock briefly.
pub type SharedHashDb = Arc<RwLock<HashDb>>;

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
}

/// Runs the stages with shared, read-mostly state.
#[derive(Clone)]
pub struct Analyzer {
    pub hashdb: SharedHashDb,
    pub classifier: Option<Arc<Classifier>>,
    pub limits: Limits,
}

fn timed<T>(stage: &'static str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    metrics::STAGE_SECONDS
        .with_label_values(&[stage])
        .observe(start.elapsed().as_secs_f64());
    out
}

impl Analyzer {
    pub fn new(hashdb: SharedHashDb, classifier: Option<Arc<Classifier>>, limits: Limits) -> Self {
        Analyzer {
            hashdb,
            classifier,
            limits,
        }
    }

    /// Analyse one piece of media. Never panics on hostile bytes: decode
    /// problems are reported in `decode_error`.
    pub fn analyze(&self, bytes: &[u8]) -> Analysis {
        let (md5, sha256) = timed("exact_hash", || {
            let md5: [u8; 16] = Md5::digest(bytes).into();
            let sha256: [u8; 32] = Sha256::digest(bytes).into();
            (md5, sha256)
        });
        let mut signals = vec![
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
        let query = Signals {
            md5,
            sha256,
            pdq: pdq.map(|p| (p.hash, p.quality)),
        };
        let matches = timed("match", || {
            let db = self.hashdb.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            db.lookup_detailed(&query)
            .into_iter()
            .map(|d| MatchEvidence {
                bank_action: d.bank_action,
                bank_status: d.bank_status,
                // Allow-list banks and quarantined banks are handled by their
                // action and status; the rest is entry-level.
                suppress_reason: (d.suppresses_automation
                    && d.bank_action != vigil_hashdb::BankAction::Allow
                    && d.bank_status == vigil_hashdb::BankStatus::Active)
                    .then(|| d.reason.unwrap_or_else(|| "entry is disputed or quarantined".into())),
                m: d.m,
            })
            .collect::<Vec<_>>()
        });
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
        }
    }
}
