//! The JSON records Vigil exchanges over Kafka and stores (DESIGN.md §4).
//! Every record carries `"v": 1` and rejects unknown fields, so a producer
//! that drifts from this schema fails loudly instead of being half-read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use vigil_hashdb::{Match, SignalType};
use vigil_models::ClassifierOutput;

/// The schema version of every message this build writes.
pub const MESSAGE_VERSION: u32 = 1;

/// An upload's identifier: 1 to 64 characters of `[A-Za-z0-9_-]`.
/// Vigil assigns UUIDv7s; platforms may pass their own ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UploadId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("upload id must be 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'")]
pub struct InvalidUploadId;

impl UploadId {
    pub fn parse(s: &str) -> Result<UploadId, InvalidUploadId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(UploadId(s.to_string()))
        } else {
            Err(InvalidUploadId)
        }
    }

    /// A fresh, time-ordered id.
    pub fn generate() -> UploadId {
        UploadId(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for UploadId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UploadId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where and how the platform shows the upload. Used by policy (trusted
/// surfaces, reach) and review priority; never logged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformContext {
    /// The surface the media is shown on, e.g. `feed`, `profile`, `news`.
    #[serde(default)]
    pub surface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_age_days: Option<u32>,
    /// Audience size the platform expects (followers, members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// Language of the surrounding post (BCP 47), for review routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// `vigil.uploads`, keyed by `upload_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadMsg {
    pub v: u32,
    pub upload_id: UploadId,
    pub media_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub platform_context: PlatformContext,
    pub received_at: DateTime<Utc>,
    /// The platform (tenant) whose API key sent the upload; `None` from a
    /// hook that runs without keys (docs/security.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// A random value the hook draws when it accepts the upload, never
    /// chosen or seen by the client: what blind-audit sampling hashes
    /// (docs/accountability.md), so choosing upload ids cannot steer it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_key: Option<String>,
}

/// What Vigil does about an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    None,
    Review,
    Takedown,
    Restrict { jurisdictions: Vec<String> },
    BlockUpload,
}

impl Action {
    /// Bounded label for metrics and storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Review => "review",
            Action::Takedown => "takedown",
            Action::Restrict { .. } => "restrict",
            Action::BlockUpload => "block_upload",
        }
    }

    /// Severity order used when several rules fire: the strongest wins.
    pub fn severity(&self) -> u8 {
        match self {
            Action::None => 0,
            Action::Review => 1,
            Action::Restrict { .. } => 2,
            Action::Takedown => 3,
            Action::BlockUpload => 4,
        }
    }
}

/// One computed signal of the upload. Values are content hashes: they are
/// data for matching and retro-hunts, and never appear in logs or labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalValue {
    pub signal_type: SignalType,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
}

/// `vigil.verdicts`, keyed by `upload_id`: the decision and every reason
/// behind it (DESIGN.md §3.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub v: u32,
    pub upload_id: UploadId,
    pub policy_version: String,
    pub action: Action,
    pub signals: Vec<SignalValue>,
    pub matches: Vec<Match>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierOutput>,
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_of_reasons: Option<crate::sor::StatementOfReasons>,
    /// Set when the media could not be decoded: the bounded error kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// A case for human review, written with the verdict that raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewItem {
    pub v: u32,
    pub upload_id: UploadId,
    pub policy_version: String,
    /// Why it needs a person, e.g. `borderline_match`, `classifier`, `allow_list`.
    pub queue_reason: String,
    /// Higher is more urgent.
    pub priority: f64,
    pub created_at: DateTime<Utc>,
}

/// `vigil.dlq`: a record that could not be processed, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqRecord {
    pub v: u32,
    pub source_topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Present when the record named a valid upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
    pub error_kind: String,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_id_validation() {
        assert!(UploadId::parse("abc-DEF_123").is_ok());
        assert!(UploadId::parse("").is_err());
        assert!(UploadId::parse("../etc/passwd").is_err());
        assert!(UploadId::parse(&"a".repeat(65)).is_err());
        let g = UploadId::generate();
        assert!(UploadId::parse(g.as_str()).is_ok());
    }

    #[test]
    fn upload_msg_rejects_unknown_fields() {
        let ok = r#"{"v":1,"upload_id":"u1","media_url":"file:///m/u1","platform_context":{"surface":"feed"},"received_at":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<UploadMsg>(ok).is_ok());
        let extra = r#"{"v":1,"upload_id":"u1","media_url":"x","received_at":"2026-01-01T00:00:00Z","user":"alice"}"#;
        assert!(serde_json::from_str::<UploadMsg>(extra).is_err());
        let bad_id =
            r#"{"v":1,"upload_id":"a b","media_url":"x","received_at":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<UploadMsg>(bad_id).is_err());
    }

    #[test]
    fn action_serialises_as_design_says() {
        assert_eq!(
            serde_json::to_string(&Action::Takedown).unwrap(),
            "\"takedown\""
        );
        assert_eq!(
            serde_json::to_string(&Action::Restrict {
                jurisdictions: vec!["DE".into()]
            })
            .unwrap(),
            r#"{"restrict":{"jurisdictions":["DE"]}}"#
        );
    }
}
