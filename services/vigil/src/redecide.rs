//! Deciding an upload again, on purpose (`vigil upload redecide`): the one
//! way an upload already decided is analysed and decided again, under the
//! policy in force now. A redelivered record never does this by itself
//! (docs/hardening.md, "One effective verdict per upload").

use crate::config::Config;
use vigil_pipeline::UploadId;
use vigil_store::Store;

/// What happened to one upload of a re-decision request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redecided {
    /// Released: its next delivery decides it again.
    Released,
    /// No such upload.
    Unknown,
    /// Not decided yet: nothing to release.
    NotDecided,
    /// Its verdict is already under the policy in force (this version).
    SamePolicy(String),
}

impl Redecided {
    pub fn as_str(&self) -> &'static str {
        match self {
            Redecided::Released => "released",
            Redecided::Unknown => "unknown_upload",
            Redecided::NotDecided => "not_decided",
            Redecided::SamePolicy(_) => "same_policy",
        }
    }
}

/// Release each upload's decision so that its next delivery decides it
/// under the policy in force, recording `actor` and `reason` in the audit
/// log; then put the released uploads on `vigil.uploads` when a shared
/// broker is configured (with the embedded broker, `vigil serve`
/// re-enqueues them when it next starts).
pub async fn redecide(
    config: &Config,
    store: &Store,
    actor: &str,
    ids: &[UploadId],
    reason: &str,
) -> anyhow::Result<Vec<(UploadId, Redecided)>> {
    anyhow::ensure!(
        !reason.trim().is_empty(),
        "say why the uploads are decided again (--reason)"
    );
    let policy = crate::governance::load_policy(config, store).await?;
    let mut out = Vec::new();
    let mut released = Vec::new();
    for id in ids {
        let Some(row) = store.get_upload(id).await? else {
            out.push((id.clone(), Redecided::Unknown));
            continue;
        };
        let outcome = match store.latest_verdict(id).await? {
            None => Redecided::NotDecided,
            Some(v) if v.policy_version == policy.version => {
                Redecided::SamePolicy(v.policy_version)
            }
            Some(_) if store.release_decision(id, actor, reason).await? => {
                released.push(row.msg);
                Redecided::Released
            }
            Some(_) => Redecided::NotDecided,
        };
        out.push((id.clone(), outcome));
    }
    if let (Some(bootstrap), false) = (&config.kafka.bootstrap_servers, released.is_empty()) {
        let producer = vigil_stream::Producer::new(
            bootstrap,
            "vigil-redecide",
            std::time::Duration::from_secs(30),
        )?;
        let topics = vigil_stream::Topics::with_prefix(&config.kafka.topic_prefix);
        for msg in &released {
            producer
                .send_json(&topics.uploads, msg.upload_id.as_str(), msg)
                .await?;
        }
    }
    Ok(out)
}
