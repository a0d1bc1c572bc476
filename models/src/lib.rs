//! The ONNX classifier: loads a model with ONNX Runtime (through `ort`,
//! loaded dynamically), preprocesses decoded RGB images and returns a
//! calibrated score. Knows nothing of Kafka, HTTP or SQL.
//!
//! - [`Classifier`] owns one ONNX Runtime session (reused for every call)
//!   and, when `max_batch > 1`, a batching thread: concurrent
//!   [`Classifier::classify`] calls are grouped into one inference of at
//!   most `max_batch` images, waiting at most `max_batch_wait_us` for
//!   company (and not at all when no other caller is in flight).
//! - [`preprocess`] turns an image into the model input, bit-compatible with
//!   the training script; [`meta`] reads the metadata beside the model
//!   (calibration, thresholds); [`runtime`] finds `libonnxruntime.so`;
//!   [`synth`] generates the project's synthetic emblem and benign images;
//!   [`registry`] holds several models by name and version.
#![forbid(unsafe_code)]

pub mod eval;
pub mod meta;
pub mod preprocess;
pub mod registry;
pub mod runtime;
pub mod synth;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use meta::{Calibration, ModelMeta, Thresholds};
pub use registry::{ModelRegistry, RegistryConfig, RegistryEntry};

/// How to load and run the classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Path of the `.onnx` model file. A relative path that does not exist
    /// from the current directory is also looked up under its ancestors and
    /// the executable's (so the default works from any crate's tests).
    pub model_path: PathBuf,
    /// Path of `libonnxruntime.so`; falls back to `ORT_DYLIB_PATH`, then the
    /// project's `.deps/` install.
    pub ort_dylib_path: Option<PathBuf>,
    /// Intra-op threads per session (0 lets ONNX Runtime choose).
    pub intra_threads: usize,
    /// Inter-op threads per session (0 lets ONNX Runtime choose).
    pub inter_threads: usize,
    /// Graph optimisation level.
    pub optimization: OptimizationLevel,
    /// Metadata file (calibration, thresholds); default: the model path
    /// with the extension `json`.
    pub metadata_path: Option<PathBuf>,
    /// Largest batch formed from concurrent `classify` calls and used by
    /// `classify_batch`; 1 turns batching off.
    pub max_batch: usize,
    /// Longest a request waits for others to join its batch, in
    /// microseconds.
    pub max_batch_wait_us: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            model_path: PathBuf::from("models/emblem/emblem-v1.onnx"),
            ort_dylib_path: None,
            intra_threads: 1,
            inter_threads: 1,
            optimization: OptimizationLevel::All,
            metadata_path: None,
            max_batch: 16,
            max_batch_wait_us: 2_000,
        }
    }
}

/// ONNX Runtime's graph optimisation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizationLevel {
    Disable,
    Basic,
    Extended,
    Layout,
    All,
}

impl From<OptimizationLevel> for GraphOptimizationLevel {
    fn from(level: OptimizationLevel) -> Self {
        match level {
            OptimizationLevel::Disable => GraphOptimizationLevel::Disable,
            OptimizationLevel::Basic => GraphOptimizationLevel::Level1,
            OptimizationLevel::Extended => GraphOptimizationLevel::Level2,
            OptimizationLevel::Layout => GraphOptimizationLevel::Level3,
            OptimizationLevel::All => GraphOptimizationLevel::All,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
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

/// A score with the numbers behind it, for verdicts that record both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub output: ClassifierOutput,
    /// The model's raw logit.
    pub logit: f32,
    /// `sigmoid(logit)`, before calibration.
    pub raw_score: f32,
}

/// What one batched request carries: its input tensor and where to answer.
struct Job {
    input: Vec<f32>,
    reply: SyncSender<Result<Scored, ModelError>>,
}

/// State shared by callers and the batching thread.
struct Shared {
    session: Mutex<Session>,
    meta: ModelMeta,
    /// Callers inside `classify` (preprocessing or waiting for a reply).
    in_flight: AtomicUsize,
}

/// A loaded model. `Send + Sync`: share it behind an `Arc` and call
/// [`Classifier::classify`] from any number of threads.
pub struct Classifier {
    shared: Arc<Shared>,
    max_batch: usize,
    sender: Option<SyncSender<Job>>,
    batcher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("model", &self.shared.meta.name)
            .field("version", &self.shared.meta.version)
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

impl Classifier {
    /// Loads the runtime (once per process), the metadata and the model.
    pub fn load(config: &ClassifierConfig) -> Result<Classifier, ModelError> {
        let rt = runtime::runtime(config.ort_dylib_path.as_deref())?;
        let model_path = runtime::resolve_data_path(&config.model_path);
        let load_err = |detail: String| ModelError::Load {
            path: model_path.display().to_string(),
            detail,
        };
        let bytes = std::fs::read(&model_path).map_err(|e| load_err(e.to_string()))?;
        let meta_path = match &config.metadata_path {
            Some(p) => runtime::resolve_data_path(p),
            None => model_path.with_extension("json"),
        };
        let meta = read_meta(&meta_path).map_err(|detail| load_err(detail.to_string()))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if !digest.eq_ignore_ascii_case(&meta.sha256) {
            return Err(load_err(format!(
                "sha256 {digest} does not match {} ({}): model and metadata disagree",
                meta_path.display(),
                meta.sha256
            )));
        }
        if meta.input.size == 0 || meta.input.size > 1024 {
            return Err(load_err(format!("bad input size {}", meta.input.size)));
        }
        let session = build_session(rt, config, &bytes).map_err(load_err)?;
        check_io(&session, &meta).map_err(load_err)?;
        let shared = Arc::new(Shared {
            session: Mutex::new(session),
            meta,
            in_flight: AtomicUsize::new(0),
        });
        let max_batch = config.max_batch.max(1);
        let (sender, batcher) = if max_batch > 1 {
            let (tx, rx) = mpsc::sync_channel::<Job>(max_batch * 4);
            let worker = Arc::clone(&shared);
            let wait = Duration::from_micros(config.max_batch_wait_us);
            let handle = std::thread::Builder::new()
                .name("vigil-classifier-batch".into())
                .spawn(move || batch_loop(&worker, &rx, max_batch, wait))
                .map_err(|e| load_err(format!("cannot start batching thread: {e}")))?;
            (Some(tx), Some(handle))
        } else {
            (None, None)
        };
        Ok(Classifier {
            shared,
            max_batch,
            sender,
            batcher,
        })
    }

    /// The model's metadata (name, version, calibration, thresholds).
    pub fn meta(&self) -> &ModelMeta {
        &self.shared.meta
    }

    /// Operating thresholds chosen on the calibration split.
    pub fn thresholds(&self) -> Thresholds {
        self.shared.meta.thresholds
    }

    /// Side of the square model input.
    pub fn input_size(&self) -> usize {
        self.shared.meta.input.size
    }

    /// Classifies one image; concurrent calls are batched.
    pub fn classify(&self, image: &image::RgbImage) -> Result<ClassifierOutput, ModelError> {
        self.classify_scored(image).map(|s| s.output)
    }

    /// Like [`Classifier::classify`], with the raw logit and score.
    pub fn classify_scored(&self, image: &image::RgbImage) -> Result<Scored, ModelError> {
        let _guard = InFlight::enter(&self.shared.in_flight);
        let input = preprocess::preprocess(image, self.input_size());
        match &self.sender {
            None => Ok(run_inputs(&self.shared, &input, 1)?.remove(0)),
            Some(sender) => {
                let (reply, answer) = mpsc::sync_channel(1);
                sender
                    .send(Job { input, reply })
                    .map_err(|_| ModelError::Inference("batching thread stopped".into()))?;
                answer.recv().map_err(|_| {
                    ModelError::Inference("batching thread dropped a request".into())
                })?
            }
        }
    }

    /// Classifies many images in batches of at most `max_batch`, on the
    /// caller's thread. The result has one entry per image, in order.
    pub fn classify_batch(
        &self,
        images: &[image::RgbImage],
    ) -> Result<Vec<ClassifierOutput>, ModelError> {
        Ok(self
            .classify_batch_scored(images)?
            .into_iter()
            .map(|s| s.output)
            .collect())
    }

    /// Like [`Classifier::classify_batch`], with raw logits and scores.
    pub fn classify_batch_scored(
        &self,
        images: &[image::RgbImage],
    ) -> Result<Vec<Scored>, ModelError> {
        let size = self.input_size();
        let plane = 3 * size * size;
        let mut out = Vec::with_capacity(images.len());
        let mut input = Vec::new();
        for chunk in images.chunks(self.max_batch) {
            input.clear();
            input.resize(chunk.len() * plane, 0.0);
            for (img, dst) in chunk.iter().zip(input.chunks_mut(plane)) {
                preprocess::preprocess_into(img, size, dst);
            }
            out.extend(run_inputs(&self.shared, &input, chunk.len())?);
        }
        Ok(out)
    }
}

impl Drop for Classifier {
    fn drop(&mut self) {
        // Closing the channel ends the batching thread.
        self.sender.take();
        if let Some(handle) = self.batcher.take() {
            let _ = handle.join();
        }
    }
}

/// Counts a caller in `classify` for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn read_meta(path: &Path) -> Result<ModelMeta, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("metadata {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("metadata {}: {e}", path.display()))
}

fn build_session(
    rt: &runtime::Runtime,
    config: &ClassifierConfig,
    bytes: &[u8],
) -> Result<Session, String> {
    let mut builder = Session::builder(&rt.environment)
        .map_err(|e| e.to_string())?
        .with_optimization_level(config.optimization.into())
        .map_err(|e| e.to_string())?
        .with_intra_threads(config.intra_threads)
        .map_err(|e| e.to_string())?
        .with_inter_threads(config.inter_threads)
        .map_err(|e| e.to_string())?;
    builder.commit_from_memory(bytes).map_err(|e| e.to_string())
}

fn check_io(session: &Session, meta: &ModelMeta) -> Result<(), String> {
    if !session.inputs().iter().any(|i| i.name() == meta.input.name) {
        return Err(format!("model has no input named {:?}", meta.input.name));
    }
    if !session
        .outputs()
        .iter()
        .any(|o| o.name() == meta.output.name)
    {
        return Err(format!("model has no output named {:?}", meta.output.name));
    }
    Ok(())
}

/// Runs `n` preprocessed inputs (concatenated) through the session.
fn run_inputs(shared: &Shared, input: &[f32], n: usize) -> Result<Vec<Scored>, ModelError> {
    let meta = &shared.meta;
    let size = meta.input.size;
    let infer = |e: ort::Error| ModelError::Inference(e.to_string());
    let tensor = Tensor::from_array(([n, 3, size, size], input.to_vec())).map_err(infer)?;
    let logits: Vec<f32> = {
        let mut session = shared
            .session
            .lock()
            .map_err(|_| ModelError::Inference("session lock poisoned".into()))?;
        let outputs = session
            .run(ort::inputs![meta.input.name.as_str() => tensor])
            .map_err(infer)?;
        let value = outputs
            .get(&meta.output.name)
            .ok_or_else(|| ModelError::Inference(format!("no output {}", meta.output.name)))?;
        let (_, data) = value.try_extract_tensor::<f32>().map_err(infer)?;
        data.to_vec()
    };
    if logits.len() != n {
        return Err(ModelError::Inference(format!(
            "expected {n} logits, got {}",
            logits.len()
        )));
    }
    Ok(logits
        .into_iter()
        .map(|logit| Scored {
            output: ClassifierOutput {
                model: meta.name.clone(),
                version: meta.version.clone(),
                score: meta.calibration.apply(logit),
            },
            logit,
            raw_score: meta::sigmoid(f64::from(logit)) as f32,
        })
        .collect())
}

/// The batching thread: takes the first waiting request, gathers more until
/// the batch is full, the wait bound passes, or no other caller is in
/// flight; runs them as one batch; answers each.
fn batch_loop(shared: &Shared, rx: &mpsc::Receiver<Job>, max_batch: usize, max_wait: Duration) {
    let plane = 3 * shared.meta.input.size * shared.meta.input.size;
    let mut input = Vec::with_capacity(max_batch * plane);
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + max_wait;
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            // Take whatever is already queued without waiting.
            match rx.try_recv() {
                Ok(job) => {
                    jobs.push(job);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            // Wait only if some other caller is on its way.
            if shared.in_flight.load(Ordering::SeqCst) <= jobs.len() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        input.clear();
        for job in &jobs {
            input.extend_from_slice(&job.input);
        }
        match run_inputs(shared, &input, jobs.len()) {
            Ok(scores) => {
                for (job, score) in jobs.into_iter().zip(scores) {
                    let _ = job.reply.send(Ok(score));
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
        debug_assert!(input.capacity() >= plane);
    }
}
