//! Evaluates a model on freshly generated synthetic images and writes the
//! report and plots: `eval-synth OUT_DIR [PER_SLICE] [SIZE]`.
//!
//! A reference for `vigil model eval`: classify labelled images, call
//! `vigil_models::eval::evaluate`, save `report.txt`, `reliability.png` and
//! `pr_curve.png`. Seeds start at 50,000,000, far from the training ranges.
#![forbid(unsafe_code)]

use vigil_models::eval::{evaluate, Example};
use vigil_models::synth::labelled_set;
use vigil_models::{Classifier, ClassifierConfig};

fn main() {
    if let Err(e) = run() {
        eprintln!("eval-synth: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = std::path::PathBuf::from(
        args.first()
            .ok_or("usage: eval-synth OUT_DIR [PER_SLICE] [SIZE]")?,
    );
    let per_slice: usize = args.get(1).map_or(Ok(100), |v| v.parse())?;
    let size: u32 = args.get(2).map_or(Ok(128), |v| v.parse())?;
    let classifier = Classifier::load(&ClassifierConfig::default())?;
    let set = labelled_set(per_slice, size, 50_000_000);
    let images: Vec<_> = set.iter().map(|(_, img)| img.clone()).collect();
    let scores = classifier.classify_batch(&images)?;
    let examples: Vec<Example> = set
        .iter()
        .zip(&scores)
        .map(|((slice, _), o)| Example {
            slice: slice.name().to_string(),
            label: slice.is_positive(),
            score: o.score,
        })
        .collect();
    let t = classifier.thresholds();
    let report = evaluate(
        &examples,
        &[
            ("review_above".to_string(), t.review_above),
            ("high_precision".to_string(), t.high_precision),
            ("0.5".to_string(), 0.5),
        ],
        15,
    );
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("report.txt"), report.to_text())?;
    report.reliability_png().save(out.join("reliability.png"))?;
    report.pr_curve_png().save(out.join("pr_curve.png"))?;
    print!("{}", report.to_text());
    Ok(())
}
