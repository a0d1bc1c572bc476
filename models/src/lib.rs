//! The ONNX classifier: loads a model with ONNX Runtime (through `ort`,
//! loaded dynamically), preprocesses decoded RGB images and returns a
//! calibrated score. Knows nothing of Kafka, HTTP or SQL.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How to load and run the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Path of the `.onnx` model file.
    pub model_path: PathBuf,
    /// Path of `libonnxruntime.so`; falls back to `ORT_DYLIB_PATH`, then the
    /// project's `.deps/` install.
    pub ort_dylib_path: Option<PathBuf>,
    /// Intra-op threads per session.
    pub intra_threads: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            model_path: PathBuf::from("models/emblem/emblem-v1.onnx"),
            ort_dylib_path: None,
            intra_threads: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("ONNX Runtime library not found ({0}); run `make setup` or set ORT_DYLIB_PATH")]
    RuntimeMissing(String),
    #[error("cannot load model {path}: {detail}")]
    Load { path: String, detail: String },
    #[error("inference failed: {0}")]
    Inference(String),
}

/// The classifier's opinion on one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierOutput {
    pub model: String,
    pub version: String,
    /// Calibrated probability that the image carries the target emblem.
    pub score: f32,
}

/// A loaded model. Cheap to share behind an `Arc`.
pub struct Classifier {
    _private: (),
}

impl Classifier {
    pub fn load(config: &ClassifierConfig) -> Result<Classifier, ModelError> {
        Err(ModelError::Load {
            path: config.model_path.display().to_string(),
            detail: "classifier not implemented yet (issue 6)".into(),
        })
    }

    pub fn classify(&self, image: &image::RgbImage) -> Result<ClassifierOutput, ModelError> {
        let _ = image;
        Err(ModelError::Inference("not implemented".into()))
    }
}
