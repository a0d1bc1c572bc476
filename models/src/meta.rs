//! Model metadata stored beside the `.onnx` file (`emblem-v1.json`): name,
//! version, input contract, calibration and operating thresholds, written by
//! `models/train/train.py`.

use serde::{Deserialize, Serialize};

/// What a model file is and how to read its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub name: String,
    pub version: String,
    /// File name of the ONNX model this describes.
    pub onnx: String,
    /// Hex SHA-256 of the ONNX file; checked on load.
    pub sha256: String,
    pub opset: u32,
    pub input: InputSpec,
    pub output: OutputSpec,
    pub calibration: Calibration,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Input tensor name.
    pub name: String,
    /// Side of the square input in pixels.
    pub size: usize,
    #[serde(default)]
    pub layout: String,
    #[serde(default)]
    pub channels: String,
    #[serde(default)]
    pub resize: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    /// Output tensor name (shape `[batch, 1]`, a logit).
    pub name: String,
    #[serde(default)]
    pub kind: String,
}

/// Platt scaling: `calibrated = sigmoid(a * logit + b)`, fitted on a
/// held-out calibration split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub kind: String,
    pub a: f64,
    pub b: f64,
    #[serde(default)]
    pub fitted_on: String,
    #[serde(default)]
    pub n: u64,
    /// Share of positives in the calibration split: the prevalence under
    /// which a calibrated score is a probability.
    #[serde(default)]
    pub prior: Option<f64>,
}

impl Calibration {
    /// Calibrated probability for a raw logit.
    pub fn apply(&self, logit: f32) -> f32 {
        sigmoid(self.a * f64::from(logit) + self.b) as f32
    }

    /// Calibrated probability if positives made up `prior` of the traffic
    /// instead of the calibration split's share (a shift of the log-odds).
    /// Real uploads carry the emblem far more rarely than the 20% of the
    /// calibration split, so the same logit means a lower probability there.
    pub fn apply_with_prior(&self, logit: f32, prior: f64) -> f32 {
        let fitted = self.prior.unwrap_or(0.5).clamp(1e-9, 1.0 - 1e-9);
        let prior = prior.clamp(1e-9, 1.0 - 1e-9);
        let shift = (prior / (1.0 - prior)).ln() - (fitted / (1.0 - fitted)).ln();
        sigmoid(self.a * f64::from(logit) + self.b + shift) as f32
    }
}

/// Operating points chosen on the calibration split (calibrated scores).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Lowest threshold with precision ≥ 0.95 on the calibration split: the
    /// suggested `review_above`.
    pub review_above: f32,
    /// Lowest threshold with precision ≥ 0.995 on the calibration split.
    pub high_precision: f32,
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}
