//! `POST /v1/check`: a synchronous hash-and-match for blocking at upload
//! time. The media is decoded within limits, hashed (MD5, SHA-256, PDQ) and
//! looked up in the banks; the policy's `decide` turns the matches into a
//! suggested action. No classifier, no Kafka, nothing stored: the platform
//! still sends the upload through `POST /v1/uploads` for the full pipeline
//! and the record.
//!
//! At most `concurrency` checks are analysed at once (each may use the
//! decode memory budget); a check that finds no free slot is answered 503
//! with `Retry-After` before its body is read (docs/hardening.md).

use crate::metrics;
use crate::problem::Problem;
use crate::uploads::{read_multipart_for_check, HookState};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use vigil_hashdb::Match;
use vigil_pipeline::{decide, Action, Analyzer, Evidence, SharedPolicy, UploadId};

/// What `/v1/check` needs: an analyzer without a classifier, the policy in
/// force (replaced when a new version is approved), and the slots that
/// bound concurrent checks.
#[derive(Clone)]
pub struct CheckState {
    pub analyzer: Analyzer,
    pub policy: SharedPolicy,
    slots: Arc<Semaphore>,
}

impl CheckState {
    /// Checks with `analyzer` under `policy`, at most `concurrency` at once.
    pub fn new(analyzer: Analyzer, policy: SharedPolicy, concurrency: usize) -> CheckState {
        CheckState {
            analyzer,
            policy,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }
}

#[derive(Debug, Serialize)]
struct CheckAnswer {
    /// `block_upload` when the policy would take the upload down, `review`
    /// when it would send it to a person, `none` otherwise.
    suggested_action: &'static str,
    /// What the policy decided on hash evidence alone.
    policy_action: Action,
    policy_version: String,
    matches: Vec<Match>,
    reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decode_error: Option<String>,
}

/// The suggestion for an upload-time block: automated removal becomes a
/// block, review stays review.
pub fn suggest(action: &Action) -> &'static str {
    match action {
        Action::Takedown | Action::BlockUpload => "block_upload",
        Action::Restrict { .. } => "restrict",
        Action::Review => "review",
        Action::None => "none",
    }
}

pub(crate) async fn check(State(state): State<Arc<HookState>>, mp: Multipart) -> Response {
    let start = Instant::now();
    let resp = check_inner(&state, mp).await;
    metrics::REQUEST_SECONDS
        .with_label_values(&["check"])
        .observe(start.elapsed().as_secs_f64());
    match resp {
        Ok(r) => r,
        Err(p) => {
            if p.status < 500 {
                metrics::BAD_REQUESTS.with_label_values(&[p.kind]).inc();
            }
            p.into_response()
        }
    }
}

async fn check_inner(state: &HookState, mp: Multipart) -> Result<Response, Problem> {
    let Some(cs) = state.check.clone() else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not available",
            "synchronous checks are not configured on this process",
        ));
    };
    let Ok(_slot) = cs.slots.clone().try_acquire_owned() else {
        metrics::BACKPRESSURE
            .with_label_values(&["check_busy"])
            .inc();
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "every synchronous check slot is busy; retry shortly",
        )
        .with_retry_after(1));
    };
    let (bytes, ctx) = read_multipart_for_check(mp, state.max_upload_bytes).await?;
    let analyzer = cs.analyzer.clone();
    // The analyzer contains decoder panics itself; one that still escapes
    // costs this check only (a typed error), never the process.
    let analysis = tokio::task::spawn_blocking(move || analyzer.analyze(&bytes))
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "decoder_panic",
                "Media could not be analysed",
                "analysing this file failed; it was not hashed",
            )
        })?;
    let decode_error = analysis.decode_error.as_ref().map(|e| e.kind().to_string());
    let evidence = Evidence {
        upload_id: UploadId::generate(),
        context: ctx,
        signals: analysis.signals,
        pdq_quality: analysis.pdq_quality,
        matches: analysis.matches,
        classifier: None,
        decode_error: decode_error.clone(),
        now: Utc::now(),
    };
    let (verdict, _) = decide(&evidence, &cs.policy.current());
    let suggested = suggest(&verdict.action);
    metrics::CHECKS.with_label_values(&[suggested]).inc();
    Ok((
        StatusCode::OK,
        Json(CheckAnswer {
            suggested_action: suggested,
            policy_action: verdict.action,
            policy_version: verdict.policy_version,
            matches: verdict.matches,
            reasons: verdict.reasons,
            decode_error,
        }),
    )
        .into_response())
}
