//! Several classifiers by name and version, loaded from config, each with
//! its own thresholds (the metadata's unless the config overrides them).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Classifier, ClassifierConfig, ModelError, Thresholds};

/// `[[models]]` entries of a registry config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    pub models: Vec<RegistryEntry>,
}

/// One model: how to load it, and optional threshold overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// Must equal the name in the model's metadata.
    pub name: String,
    /// When set, must equal the version in the model's metadata.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub classifier: ClassifierConfig,
    /// Overrides the metadata's thresholds.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
}

/// A loaded model with the thresholds that apply to it.
#[derive(Debug, Clone)]
pub struct RegisteredModel {
    pub classifier: Arc<Classifier>,
    pub thresholds: Thresholds,
}

/// Loaded models keyed by `(name, version)`.
#[derive(Debug, Default)]
pub struct ModelRegistry {
    models: BTreeMap<(String, String), RegisteredModel>,
}

impl ModelRegistry {
    /// Loads every entry; fails on the first that does not load or whose
    /// name or version disagrees with its metadata.
    pub fn load(config: &RegistryConfig) -> Result<ModelRegistry, ModelError> {
        let mut models = BTreeMap::new();
        for entry in &config.models {
            let classifier = Classifier::load(&entry.classifier)?;
            let meta = classifier.meta().clone();
            let mismatch = |what: &str, want: &str, got: &str| ModelError::Load {
                path: entry.classifier.model_path.display().to_string(),
                detail: format!("registry entry expects {what} {want:?}, model says {got:?}"),
            };
            if meta.name != entry.name {
                return Err(mismatch("name", &entry.name, &meta.name));
            }
            if let Some(v) = &entry.version {
                if *v != meta.version {
                    return Err(mismatch("version", v, &meta.version));
                }
            }
            let thresholds = entry.thresholds.unwrap_or(meta.thresholds);
            models.insert(
                (meta.name, meta.version),
                RegisteredModel {
                    classifier: Arc::new(classifier),
                    thresholds,
                },
            );
        }
        Ok(ModelRegistry { models })
    }

    /// The model `name` at `version`, or its highest version when `None`
    /// (versions compared as dotted numbers where they parse).
    pub fn get(&self, name: &str, version: Option<&str>) -> Option<&RegisteredModel> {
        match version {
            Some(v) => self.models.get(&(name.to_string(), v.to_string())),
            None => self
                .models
                .iter()
                .filter(|((n, _), _)| n == name)
                .max_by(|((_, a), _), ((_, b), _)| version_key(a).cmp(&version_key(b)))
                .map(|(_, m)| m),
        }
    }

    /// `(name, version)` of every loaded model.
    pub fn list(&self) -> Vec<(String, String)> {
        self.models.keys().cloned().collect()
    }
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
