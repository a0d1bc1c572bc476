//! Runs the committed model with ONNX Runtime. Needs the runtime: run
//! `scripts/setup-ort.sh` (or `make setup`) or set ORT_DYLIB_PATH; without
//! it these tests fail with the loader's message.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vigil_models::synth::{benign_image, emblem_image, news_frame_with_emblem};
use vigil_models::{
    preprocess, Classifier, ClassifierConfig, ModelError, ModelRegistry, RegistryConfig,
    RegistryEntry,
};

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("emblem")
}

fn load(config: &ClassifierConfig) -> Classifier {
    match Classifier::load(config) {
        Ok(c) => c,
        Err(e) => panic!("cannot load the committed model: {e}"),
    }
}

fn default_classifier() -> Classifier {
    load(&ClassifierConfig::default())
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

#[test]
fn classifier_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Classifier>();
    check::<ModelRegistry>();
}

#[test]
fn loads_the_committed_model_with_its_metadata() {
    let c = default_classifier();
    let meta = c.meta();
    assert_eq!(meta.name, "emblem");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(c.input_size(), 64);
    let t = c.thresholds();
    assert!(0.0 < t.review_above && t.review_above <= t.high_precision && t.high_precision <= 1.0);
    let out = c.classify(&emblem_image(1, 128)).unwrap();
    assert_eq!(out.model, "emblem");
    assert_eq!(out.version, "1.0.0");
}

#[test]
fn emblems_score_high_and_benign_images_low() {
    let c = default_classifier();
    let seeds = 5_000_000..5_000_020u64;
    let emblems: Vec<f32> = seeds
        .clone()
        .map(|s| c.classify(&emblem_image(s, 160)).unwrap().score)
        .collect();
    let benign: Vec<f32> = seeds
        .clone()
        .map(|s| c.classify(&benign_image(s, 160)).unwrap().score)
        .collect();
    let news: Vec<f32> = seeds
        .map(|s| c.classify(&news_frame_with_emblem(s, 160)).unwrap().score)
        .collect();
    eprintln!(
        "mean scores: emblem {:.3}, benign {:.3}, news frame {:.3}",
        mean(&emblems),
        mean(&benign),
        mean(&news)
    );
    assert!(mean(&emblems) > 0.85, "emblems {emblems:?}");
    assert!(mean(&benign) < 0.1, "benign {benign:?}");
    assert!(mean(&news) < 0.1, "news frames {news:?}");
    let t = c.thresholds().review_above;
    let flagged = emblems.iter().filter(|s| **s >= t).count();
    assert!(
        flagged >= 18,
        "only {flagged}/20 emblems above review_above {t}"
    );
}

#[test]
fn any_image_shape_gives_a_probability() {
    let c = default_classifier();
    for (w, h) in [(0, 0), (1, 1), (3, 500), (500, 3), (64, 64), (1000, 700)] {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let s = c.classify(&img).unwrap().score;
        assert!((0.0..=1.0).contains(&s), "{w}x{h}: {s}");
    }
}

#[test]
fn scores_are_deterministic() {
    let c = default_classifier();
    let img = emblem_image(42, 128);
    let a = c.classify_scored(&img).unwrap();
    let b = c.classify_scored(&img).unwrap();
    assert_eq!(a, b);
    let other = load(&ClassifierConfig {
        max_batch: 1,
        ..ClassifierConfig::default()
    });
    let d = other.classify_scored(&img).unwrap();
    assert!((a.logit - d.logit).abs() < 1e-5);
}

#[test]
fn batch_and_single_agree() {
    let c = default_classifier();
    let images: Vec<_> = (0..37)
        .map(|i| {
            if i & 1 == 0 {
                emblem_image(i, 100 + i as u32)
            } else {
                benign_image(i, 90 + i as u32)
            }
        })
        .collect();
    let batch = c.classify_batch_scored(&images).unwrap();
    assert_eq!(batch.len(), images.len());
    for (img, b) in images.iter().zip(&batch) {
        let s = c.classify_scored(img).unwrap();
        assert!(
            (s.logit - b.logit).abs() < 1e-4,
            "{} vs {}",
            s.logit,
            b.logit
        );
        assert!((s.output.score - b.output.score).abs() < 1e-5);
    }
    assert!(c.classify_batch(&[]).unwrap().is_empty());
}

#[test]
fn many_threads_classify_at_once() {
    let c = Arc::new(load(&ClassifierConfig {
        max_batch: 8,
        max_batch_wait_us: 5_000,
        ..ClassifierConfig::default()
    }));
    let images: Arc<Vec<_>> = Arc::new(
        (0..48)
            .map(|i| {
                if i % 3 == 0 {
                    news_frame_with_emblem(i, 128)
                } else {
                    emblem_image(i, 128)
                }
            })
            .collect(),
    );
    let expected = c.classify_batch(&images).unwrap();
    let handles: Vec<_> = (0..12)
        .map(|t| {
            let c = Arc::clone(&c);
            let images = Arc::clone(&images);
            std::thread::spawn(move || {
                (0..images.len())
                    .filter(|i| i % 12 == t)
                    .map(|i| (i, c.classify(&images[i]).unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = 0;
    for h in handles {
        for (i, out) in h.join().unwrap() {
            assert!((out.score - expected[i].score).abs() < 1e-5, "image {i}");
            seen += 1;
        }
    }
    assert_eq!(seen, images.len());
}

#[test]
fn session_options_are_configurable() {
    let c = load(&ClassifierConfig {
        intra_threads: 2,
        inter_threads: 1,
        optimization: vigil_models::OptimizationLevel::Disable,
        max_batch: 1,
        ..ClassifierConfig::default()
    });
    let reference = default_classifier();
    let img = emblem_image(3, 128);
    let a = c.classify(&img).unwrap().score;
    let b = reference.classify(&img).unwrap().score;
    assert!((a - b).abs() < 1e-5);
}

#[test]
fn config_rejects_unknown_fields() {
    let err = serde_json::from_str::<ClassifierConfig>(r#"{"model_pth": "x"}"#);
    assert!(err.is_err());
    let ok: ClassifierConfig =
        serde_json::from_str(r#"{"max_batch": 4, "optimization": "basic"}"#).unwrap();
    assert_eq!(ok.max_batch, 4);
    assert_eq!(ok.model_path, ClassifierConfig::default().model_path);
}

#[test]
fn missing_model_file_is_a_load_error() {
    let err = Classifier::load(&ClassifierConfig {
        model_path: PathBuf::from("/nonexistent/emblem.onnx"),
        ..ClassifierConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, ModelError::Load { .. }), "{err}");
}

/// Writes `model` with metadata copied from the committed model's, but with
/// the sha256 of `model` (or `sha` if given).
fn write_model(dir: &Path, model: &[u8], sha: Option<&str>) -> PathBuf {
    let meta_text = std::fs::read_to_string(model_dir().join("emblem-v1.json")).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&meta_text).unwrap();
    let digest = hex::encode(Sha256::digest(model));
    meta["sha256"] = serde_json::Value::String(sha.unwrap_or(&digest).to_string());
    let path = dir.join("m.onnx");
    std::fs::write(&path, model).unwrap();
    std::fs::write(dir.join("m.json"), meta.to_string()).unwrap();
    path
}

#[test]
fn corrupt_model_bytes_are_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(model_dir().join("emblem-v1.onnx")).unwrap();
    for bad in [
        b"not an onnx model".to_vec(),
        good[..good.len() / 2].to_vec(),
        vec![],
    ] {
        let path = write_model(dir.path(), &bad, None);
        let err = Classifier::load(&ClassifierConfig {
            model_path: path,
            ..ClassifierConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, ModelError::Load { .. }), "{err}");
    }
}

#[test]
fn model_and_metadata_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(model_dir().join("emblem-v1.onnx")).unwrap();
    let path = write_model(dir.path(), &good, Some(&"0".repeat(64)));
    let err = Classifier::load(&ClassifierConfig {
        model_path: path.clone(),
        ..ClassifierConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("sha256"), "{err}");
    std::fs::remove_file(dir.path().join("m.json")).unwrap();
    let err = Classifier::load(&ClassifierConfig {
        model_path: path,
        ..ClassifierConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("metadata"), "{err}");
}

#[test]
fn explicit_bad_runtime_path_is_runtime_missing() {
    let err = Classifier::load(&ClassifierConfig {
        ort_dylib_path: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1.31.1")),
        ..ClassifierConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, ModelError::RuntimeMissing(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("make setup") && msg.contains("ORT_DYLIB_PATH"),
        "{msg}"
    );
}

#[derive(serde::Deserialize)]
struct Fixture {
    file: String,
    tensor: String,
    width: u32,
    height: u32,
    logit: f32,
    score: f32,
}

/// The Rust pre-processing and scores match the Python training pipeline's
/// on fixtures it wrote (models/emblem/fixtures, from train.py).
#[test]
fn preprocessing_and_scores_match_python() {
    let dir = model_dir().join("fixtures");
    let list: Vec<Fixture> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fixtures.json")).unwrap()).unwrap();
    assert!(list.len() >= 5);
    let c = default_classifier();
    for f in &list {
        let raw = std::fs::read(dir.join(&f.file)).unwrap();
        let img = image::RgbImage::from_raw(f.width, f.height, raw).unwrap();
        let want: Vec<f32> = std::fs::read(dir.join(&f.tensor))
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let got = preprocess::preprocess(&img, 64);
        assert_eq!(got.len(), want.len());
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff <= 1e-5, "{}: tensor max |diff| {max_diff}", f.file);
        let s = c.classify_scored(&img).unwrap();
        assert!(
            (s.logit - f.logit).abs() <= 1e-4,
            "{}: logit {} vs {}",
            f.file,
            s.logit,
            f.logit
        );
        assert!(
            (s.output.score - f.score).abs() <= 1e-4,
            "{}: score {} vs {}",
            f.file,
            s.output.score,
            f.score
        );
    }
}

#[test]
fn registry_serves_models_by_name_and_version() {
    let config = RegistryConfig {
        models: vec![RegistryEntry {
            name: "emblem".into(),
            version: Some("1.0.0".into()),
            classifier: ClassifierConfig::default(),
            thresholds: None,
        }],
    };
    let reg = ModelRegistry::load(&config).unwrap();
    assert!(reg.get("emblem", None).is_some());
    assert!(reg.get("emblem", Some("1.0.0")).is_some());
    assert!(reg.get("emblem", Some("9.9.9")).is_none());
    assert!(reg.get("other", None).is_none());
    let wrong = RegistryConfig {
        models: vec![RegistryEntry {
            name: "emblem".into(),
            version: Some("2.0.0".into()),
            classifier: ClassifierConfig::default(),
            thresholds: None,
        }],
    };
    assert!(ModelRegistry::load(&wrong).is_err());
}

#[test]
fn eval_on_unseen_synthetic_images() {
    use vigil_models::eval::{evaluate, Example};
    use vigil_models::synth::labelled_set;
    let c = default_classifier();
    let set = labelled_set(12, 128, 40_000_000);
    let images: Vec<_> = set.iter().map(|(_, img)| img.clone()).collect();
    let scores = c.classify_batch(&images).unwrap();
    let examples: Vec<Example> = set
        .iter()
        .zip(&scores)
        .map(|((slice, _), out)| Example {
            slice: slice.name().to_string(),
            label: slice.is_positive(),
            score: out.score,
        })
        .collect();
    let t = c.thresholds();
    let report = evaluate(
        &examples,
        &[
            ("review_above".into(), t.review_above),
            ("high_precision".into(), t.high_precision),
        ],
        15,
    );
    eprintln!("{}", report.to_text());
    assert_eq!(report.slices.len(), 8);
    let auc = report.overall.roc_auc.unwrap();
    assert!(auc > 0.9, "overall AUC {auc}");
    let emblem = report.slices.iter().find(|s| s.slice == "emblem").unwrap();
    assert!(emblem.at[0].confusion.recall().unwrap() >= 0.9);
    let news = report
        .slices
        .iter()
        .find(|s| s.slice == "news_frame")
        .unwrap();
    assert!(news.at[1].confusion.false_positive_rate().unwrap() <= 0.1);
}

/// The generator still draws exactly what the committed model was trained
/// on: the fixtures were generated by it (file names: slice-seed-size).
#[test]
fn generator_matches_the_training_fixtures() {
    use vigil_models::synth::{generate, Slice};
    let dir = model_dir().join("fixtures");
    let list: Vec<Fixture> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fixtures.json")).unwrap()).unwrap();
    for f in &list {
        let stem = f.file.trim_end_matches(".rgb");
        let parts: Vec<&str> = stem.split('-').collect();
        assert_eq!(parts.len(), 3, "{stem}");
        let slice = Slice::from_name(parts[0]).unwrap();
        let seed: u64 = parts[1].parse().unwrap();
        let size: u32 = parts[2].parse().unwrap();
        let img = generate(slice, seed, size);
        let want = std::fs::read(dir.join(&f.file)).unwrap();
        assert!(
            img.as_raw() == &want,
            "{stem}: synth output changed; retrain the model"
        );
    }
}
