//! Finding and loading ONNX Runtime (`libonnxruntime.so`), once per process.
//!
//! Search order: the config's `ort_dylib_path`, the `ORT_DYLIB_PATH`
//! environment variable, then `.deps/python/onnxruntime/capi/libonnxruntime.so*`
//! (where `scripts/setup-ort.sh` installs the PyPI wheel) in the current
//! directory and its ancestors, then in the executable's ancestors. An
//! explicit path (config or environment) that does not exist is an error,
//! not a reason to look elsewhere.
//!
//! ONNX Runtime allows one environment per process: the first successful
//! load wins, and later loads reuse it whatever path they name.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::ModelError;

/// Where `scripts/setup-ort.sh` puts the library, relative to the repo root.
pub const DEPS_CAPI_DIR: &str = ".deps/python/onnxruntime/capi";

/// The process's ONNX Runtime environment and the library it came from.
pub struct Runtime {
    pub environment: Environment,
    pub library: PathBuf,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Returns the loaded runtime, loading it on first use.
pub fn runtime(configured: Option<&Path>) -> Result<&'static Runtime, ModelError> {
    // Validate an explicit path even when a runtime is already loaded, so a
    // bad config is reported the same way every time.
    let path = find_library(configured)?;
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let builder = ort::init_from(&path)
        .map_err(|e| ModelError::RuntimeMissing(format!("cannot load {}: {e}", path.display())))?;
    let environment = builder
        .with_name("vigil")
        .build()
        .map_err(|e| ModelError::RuntimeMissing(format!("{}: {e}", path.display())))?;
    Ok(RUNTIME.get_or_init(|| Runtime {
        environment,
        library: path,
    }))
}

/// Finds the library file without loading it.
pub fn find_library(configured: Option<&Path>) -> Result<PathBuf, ModelError> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ModelError::RuntimeMissing(format!(
                "ort_dylib_path {} does not exist",
                p.display()
            )))
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ModelError::RuntimeMissing(format!(
                "ORT_DYLIB_PATH={} does not exist",
                p.display()
            )))
        };
    }
    for base in search_bases() {
        if let Some(found) = library_in(&base.join(DEPS_CAPI_DIR)) {
            return Ok(found);
        }
    }
    Err(ModelError::RuntimeMissing(format!(
        "no libonnxruntime.so* under {DEPS_CAPI_DIR} in the current directory, the executable's \
         directory or their ancestors, and ORT_DYLIB_PATH is not set"
    )))
}

/// The current directory and the executable's directory, with ancestors.
pub(crate) fn search_bases() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        bases.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            for a in dir.ancestors() {
                if !bases.iter().any(|b| b == a) {
                    bases.push(a.to_path_buf());
                }
            }
        }
    }
    bases
}

/// The newest-looking `libonnxruntime.so*` in `dir` (the wheel ships only
/// the versioned name, e.g. `libonnxruntime.so.1.31.1`).
fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    found.sort();
    found.pop()
}

/// Resolves a relative data path (e.g. the default model path, relative to
/// the repo root): as given if it exists, else under the current directory's
/// or the executable's ancestors. Returns the path unchanged when not found,
/// so the caller's error names what was asked for.
pub fn resolve_data_path(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    for base in search_bases() {
        let candidate = base.join(path);
        if candidate.exists() {
            return candidate;
        }
    }
    path.to_path_buf()
}
