//! The media store: uploads travel through Kafka by reference, as a
//! `file://` URL into a local folder (the embedded default). Reads are
//! confined to the store's root and bounded in size, so a hostile
//! `media_url` can neither escape the folder nor exhaust memory.

use std::path::{Path, PathBuf};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media url is not valid: {0}")]
    BadUrl(String),
    #[error("media url points outside the media store")]
    OutsideStore,
    #[error("media object not found")]
    NotFound,
    #[error("media object is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("media store io error: {0}")]
    Io(#[from] std::io::Error),
}

impl MediaError {
    /// Bounded label for metrics and the DLQ.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::BadUrl(_) => "bad_media_url",
            MediaError::OutsideStore => "media_outside_store",
            MediaError::NotFound => "media_not_found",
            MediaError::TooLarge { .. } => "media_too_large",
            MediaError::Io(_) => "media_io",
        }
    }

    /// Whether retrying later can help (an outage, not a bad reference).
    pub fn is_transient(&self) -> bool {
        matches!(self, MediaError::Io(_))
    }
}

/// A local media folder.
#[derive(Debug, Clone)]
pub struct MediaStore {
    root: PathBuf,
}

impl MediaStore {
    /// Open (creating) the folder.
    pub fn open(root: &Path) -> Result<MediaStore, MediaError> {
        std::fs::create_dir_all(root)?;
        Ok(MediaStore {
            root: root.canonicalize()?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Store bytes under `key` (a validated upload id) and return the URL.
    /// Written to a temporary name and renamed, so readers never see half a file.
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<String, MediaError> {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(MediaError::BadUrl("invalid key".into()));
        }
        let dir = self.root.join("uploads");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(key);
        let tmp = dir.join(format!(".{key}.tmp"));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(self.url_for(&path))
    }

    fn url_for(&self, path: &Path) -> String {
        Url::from_file_path(path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("file://{}", path.display()))
    }

    /// Resolve a URL to a path inside the store, or refuse it.
    pub fn resolve(&self, media_url: &str) -> Result<PathBuf, MediaError> {
        let url = Url::parse(media_url).map_err(|e| MediaError::BadUrl(e.to_string()))?;
        if url.scheme() != "file" {
            return Err(MediaError::BadUrl(format!(
                "unsupported scheme {:?}",
                url.scheme()
            )));
        }
        let path = url
            .to_file_path()
            .map_err(|_| MediaError::BadUrl("not a local path".into()))?;
        let canonical = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Refuse traversal even for names that do not exist.
                if path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(MediaError::OutsideStore);
                }
                return if path.starts_with(&self.root) {
                    Err(MediaError::NotFound)
                } else {
                    Err(MediaError::OutsideStore)
                };
            }
            Err(e) => return Err(e.into()),
        };
        if !canonical.starts_with(&self.root) {
            return Err(MediaError::OutsideStore);
        }
        Ok(canonical)
    }

    /// Read an object, refusing anything over `limit` bytes before reading it.
    pub async fn get(&self, media_url: &str, limit: u64) -> Result<Vec<u8>, MediaError> {
        let path = self.resolve(media_url)?;
        let meta = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MediaError::NotFound),
            Err(e) => return Err(e.into()),
        };
        if !meta.is_file() {
            return Err(MediaError::NotFound);
        }
        if meta.len() > limit {
            return Err(MediaError::TooLarge {
                size: meta.len(),
                limit,
            });
        }
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MediaError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete an object if present.
    pub async fn delete(&self, media_url: &str) -> Result<(), MediaError> {
        match self.resolve(media_url) {
            Ok(path) => match tokio::fs::remove_file(path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            },
            Err(MediaError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn roundtrip_and_confinement() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(dir.path()).unwrap();
        let url = store.put("abc", b"hello").await.unwrap();
        assert_eq!(store.get(&url, 100).await.unwrap(), b"hello");
        assert!(matches!(
            store.get(&url, 2).await,
            Err(MediaError::TooLarge { .. })
        ));
        assert!(matches!(
            store.get("file:///etc/passwd", 1 << 20).await,
            Err(MediaError::OutsideStore)
        ));
        let escape = format!("file://{}/uploads/../../x", store.root().display());
        assert!(matches!(
            store.get(&escape, 100).await,
            Err(MediaError::OutsideStore)
        ));
        let missing = format!("file://{}/uploads/nope", store.root().display());
        assert!(matches!(
            store.get(&missing, 100).await,
            Err(MediaError::NotFound)
        ));
        assert!(matches!(
            store.get("http://example.com/x", 100).await,
            Err(MediaError::BadUrl(_))
        ));
        assert!(store.put("../x", b"").await.is_err());
    }
}
