//! `vigil model eval`: measure a classifier on labelled images, per slice,
//! at the model's and the policy's thresholds, and write the report with a
//! reliability diagram and a precision-recall curve.
//!
//! The data folder holds `<slice>/positive/*` and `<slice>/negative/*`
//! images; `--synthetic N` generates N images per slice instead, from seeds
//! far from the training ranges.

use anyhow::Context;
use std::path::Path;
use vigil_models::eval::{evaluate, EvalReport, Example};
use vigil_models::{Classifier, ClassifierConfig};

/// Label images found under `dir` (decoded by `vigil-decode`, like uploads).
fn load_dir(
    dir: &Path,
    limits: &vigil_decode::Limits,
) -> anyhow::Result<Vec<(String, bool, image::RgbImage)>> {
    let mut out = Vec::new();
    for slice in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let slice = slice?.path();
        if !slice.is_dir() {
            continue;
        }
        let name = slice
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for (sub, label) in [("positive", true), ("negative", false)] {
            let d = slice.join(sub);
            if !d.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&d)? {
                let f = f?.path();
                let bytes = std::fs::read(&f)?;
                match vigil_decode::decode_image(&bytes, limits) {
                    Ok(img) => out.push((name.clone(), label, img.rgb)),
                    Err(e) => eprintln!("{}: skipped: {e}", f.display()),
                }
            }
        }
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no images under {}/<slice>/{{positive,negative}}/",
        dir.display()
    );
    Ok(out)
}

/// Run the evaluation and write `report.txt`, `reliability.png` and
/// `pr_curve.png` into `out`.
pub fn run(
    model: &ClassifierConfig,
    data: Option<&Path>,
    synthetic: usize,
    policy_review_above: f32,
    limits: &vigil_decode::Limits,
    out: &Path,
) -> anyhow::Result<EvalReport> {
    let classifier = Classifier::load(model)?;
    let set: Vec<(String, bool, image::RgbImage)> = match data {
        Some(dir) => load_dir(dir, limits)?,
        None => vigil_models::synth::labelled_set(synthetic.max(1), 128, 60_000_000)
            .into_iter()
            .map(|(slice, img)| (slice.name().to_string(), slice.is_positive(), img))
            .collect(),
    };
    let mut examples = Vec::with_capacity(set.len());
    for chunk in set.chunks(64) {
        let images: Vec<image::RgbImage> = chunk.iter().map(|(_, _, i)| i.clone()).collect();
        let scores = classifier.classify_batch(&images)?;
        for ((slice, label, _), o) in chunk.iter().zip(scores) {
            examples.push(Example {
                slice: slice.clone(),
                label: *label,
                score: o.score,
            });
        }
    }
    let t = classifier.thresholds();
    let report = evaluate(
        &examples,
        &[
            ("policy review_above".to_string(), policy_review_above),
            ("model review_above".to_string(), t.review_above),
            ("model high_precision".to_string(), t.high_precision),
        ],
        15,
    );
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.txt"), report.to_text())?;
    report.reliability_png().save(out.join("reliability.png"))?;
    report.pr_curve_png().save(out.join("pr_curve.png"))?;
    Ok(report)
}
