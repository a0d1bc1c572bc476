//! `POST /v1/uploads` and `GET /v1/uploads/{id}`, and the hook's
//! backpressure: a bounded number of uploads may wait for the broker at
//! once, and after the broker failed to acknowledge one, uploads are
//! answered 503 with `Retry-After` at once for a cool-down instead of each
//! waiting out the delivery timeout. Nothing answered 202 is lost: the
//! upload is recorded (the outbox) before it is produced, and an upload
//! refused with 503 may be retried with the same `upload_id`.

use crate::check::CheckState;
use crate::metrics;
use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use vigil_authz::table::RouteTable;
use vigil_pipeline::{PlatformContext, UploadId, UploadMsg, Verdict, MESSAGE_VERSION};
use vigil_store::{MediaError, MediaStore, Store, UploadStatus};
use vigil_stream::{Producer, Topics};

/// Declared content types the hook accepts for media.
const ACCEPTED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "application/octet-stream",
];

/// What the hook needs; cheap to clone.
#[derive(Clone)]
pub struct HookState {
    pub store: Store,
    pub media: MediaStore,
    pub producer: Producer,
    pub topics: Topics,
    /// Largest accepted media, in bytes.
    pub max_upload_bytes: usize,
    /// `POST /v1/check` (absent: 404).
    pub check: Option<CheckState>,
    pub pressure: Arc<Pressure>,
}

/// The hook's backpressure state, shared by its requests.
pub struct Pressure {
    in_flight: Semaphore,
    max_in_flight: usize,
    cooldown: Duration,
    started: Instant,
    /// Milliseconds since `started` until which the broker is taken as down.
    broker_down_until_ms: AtomicU64,
}

impl Pressure {
    /// At most `max_in_flight` uploads wait for the broker; after a failed
    /// delivery, refuse at once for `cooldown`.
    pub fn new(max_in_flight: usize, cooldown: Duration) -> Pressure {
        Pressure {
            in_flight: Semaphore::new(max_in_flight.max(1)),
            max_in_flight: max_in_flight.max(1),
            cooldown,
            started: Instant::now(),
            broker_down_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn broker_known_down(&self) -> bool {
        self.now_ms() < self.broker_down_until_ms.load(Ordering::Relaxed)
    }

    fn broker_failed(&self) {
        let until = self.now_ms() + self.cooldown.as_millis() as u64;
        self.broker_down_until_ms
            .fetch_max(until, Ordering::Relaxed);
    }

    fn broker_ok(&self) {
        self.broker_down_until_ms.store(0, Ordering::Relaxed);
    }
}

impl Default for Pressure {
    fn default() -> Self {
        Pressure::new(256, Duration::from_secs(1))
    }
}

/// The hook's routes, declared once for [`router`] and [`route_list`].
fn table() -> RouteTable<Arc<HookState>> {
    RouteTable::new()
        .at("POST", "/v1/uploads", create_upload)
        .at("GET", "/v1/uploads/{id}", get_upload)
        .at("POST", "/v1/check", crate::check::check)
}

/// Every `(method, path)` the hook serves (checked against the access table).
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().list()
}

/// The hook's routes. Who may call them is decided before they run, by the
/// access layer every router of a process goes through (docs/security.md);
/// platform keys pay their limits there too (docs/hardening.md).
pub fn router(state: HookState) -> Router {
    // Room for multipart framing and the JSON fields around the media.
    let limit = state.max_upload_bytes + 64 * 1024;
    table()
        .into_router()
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(state))
}

#[derive(Debug, Serialize)]
struct Accepted {
    upload_id: String,
    status_url: String,
    duplicate: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUpload {
    media_url: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    upload_id: Option<String>,
    #[serde(default)]
    platform_context: PlatformContext,
}

fn bad(kind: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, kind, title, detail)
}

fn refuse(p: Problem) -> Response {
    metrics::BAD_REQUESTS.with_label_values(&[p.kind]).inc();
    metrics::UPLOADS.with_label_values(&["invalid"]).inc();
    p.into_response()
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "Upload too large",
        format!("the media must be at most {limit} bytes"),
    )
}

fn check_declared_type(ct: Option<&str>) -> Result<(), Problem> {
    match ct {
        None => Ok(()),
        Some(ct) => {
            let base = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if ACCEPTED_TYPES.contains(&base.as_str()) {
                Ok(())
            } else {
                Err(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Unsupported media type",
                    format!(
                        "media of type {base:?} is not accepted; accepted: {}",
                        ACCEPTED_TYPES.join(", ")
                    ),
                ))
            }
        }
    }
}

/// Count (not refuse) uploads whose bytes disagree with the declared type.
fn note_mislabelled(declared: Option<&str>, bytes: &[u8]) {
    let Some(declared) = declared else { return };
    let base = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if base == "application/octet-stream" {
        return;
    }
    let sniffed = vigil_decode::sniff(bytes).map(|f| f.as_str());
    let agrees = sniffed.is_some_and(|s| base == format!("image/{s}"));
    if !agrees {
        let label = ACCEPTED_TYPES
            .iter()
            .find(|t| **t == base)
            .copied()
            .unwrap_or("other");
        metrics::MISLABELLED.with_label_values(&[label]).inc();
    }
}

fn parse_id(id: Option<String>) -> Result<UploadId, Problem> {
    match id {
        None => Ok(UploadId::generate()),
        Some(s) => UploadId::parse(&s)
            .map_err(|e| bad("invalid_upload_id", "Invalid upload id", e.to_string())),
    }
}

async fn create_upload(State(state): State<Arc<HookState>>, req: Request) -> Response {
    let start = Instant::now();
    let resp = match create_upload_inner(&state, req).await {
        Ok(r) => r,
        Err(p) if p.status >= 500 => {
            metrics::UPLOADS.with_label_values(&["rejected"]).inc();
            p.into_response()
        }
        Err(p) => refuse(p),
    };
    metrics::REQUEST_SECONDS
        .with_label_values(&["create_upload"])
        .observe(start.elapsed().as_secs_f64());
    resp
}

async fn create_upload_inner(state: &HookState, req: Request) -> Result<Response, Problem> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| bad("bad_multipart", "Malformed multipart body", e.body_text()))?;
        let (id, bytes, declared, ctx) = read_multipart(mp, state.max_upload_bytes).await?;
        accept(state, id, Media::Bytes(bytes), declared, ctx).await
    } else if ct.starts_with("application/json") {
        let limit = 64 * 1024;
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large(limit))?;
        if body.is_empty() {
            return Err(bad("empty_body", "Empty body", "the request body is empty"));
        }
        let j: JsonUpload = serde_json::from_slice(&body).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_json",
                "Invalid JSON upload",
                e.to_string(),
            )
        })?;
        check_declared_type(j.content_type.as_deref())?;
        let id = parse_id(j.upload_id)?;
        accept(
            state,
            id,
            Media::Url(j.media_url),
            j.content_type,
            j.platform_context,
        )
        .await
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            "Unsupported content type",
            "send multipart/form-data with a `file` part, or application/json with a `media_url`",
        ))
    }
}

async fn read_multipart(
    mut mp: Multipart,
    max: usize,
) -> Result<(UploadId, Bytes, Option<String>, PlatformContext), Problem> {
    let mut file: Option<(Bytes, Option<String>)> = None;
    let mut id = None;
    let mut ctx = PlatformContext::default();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(max)),
            Err(e) => {
                return Err(bad(
                    "bad_multipart",
                    "Malformed multipart body",
                    e.body_text(),
                ))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let declared = field.content_type().map(str::to_string);
                check_declared_type(declared.as_deref())?;
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large(max)
                    } else {
                        bad("bad_multipart", "Malformed multipart body", e.body_text())
                    }
                })?;
                file = Some((bytes, declared));
            }
            "upload_id" | "surface" | "platform_context" => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| bad("bad_multipart", "Malformed multipart body", e.body_text()))?;
                match name.as_str() {
                    "upload_id" => id = Some(text),
                    "surface" => ctx.surface = text,
                    _ => {
                        ctx = serde_json::from_str(&text).map_err(|e| {
                            bad(
                                "invalid_platform_context",
                                "Invalid platform_context",
                                e.to_string(),
                            )
                        })?
                    }
                }
            }
            other => {
                return Err(bad(
                    "unknown_field",
                    "Unknown multipart field",
                    format!(
                    "unknown field {other:?}; expected file, upload_id, surface, platform_context"
                ),
                ))
            }
        }
    }
    let (bytes, declared) = file.ok_or_else(|| {
        bad(
            "missing_file",
            "Missing file",
            "the multipart body has no `file` part",
        )
    })?;
    if bytes.is_empty() {
        return Err(bad(
            "empty_body",
            "Empty upload",
            "the `file` part is empty",
        ));
    }
    if bytes.len() > max {
        return Err(too_large(max));
    }
    Ok((parse_id(id)?, bytes, declared, ctx))
}

/// The `file` and context fields of a check request (an `upload_id` is
/// accepted and ignored, so one form can be sent to both routes).
pub(crate) async fn read_multipart_for_check(
    mp: Multipart,
    max: usize,
) -> Result<(Bytes, PlatformContext), Problem> {
    let (_, bytes, _, ctx) = read_multipart(mp, max).await?;
    Ok((bytes, ctx))
}

enum Media {
    Bytes(Bytes),
    Url(String),
}

async fn accept(
    state: &HookState,
    id: UploadId,
    media: Media,
    content_type: Option<String>,
    platform_context: PlatformContext,
) -> Result<Response, Problem> {
    let pressure = &state.pressure;
    let unavailable = |reason: &'static str, what: &str, retry_after: u32| {
        metrics::BACKPRESSURE.with_label_values(&[reason]).inc();
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            format!("{what} is unavailable; retry later with the same upload_id"),
        )
        .with_retry_after(retry_after)
    };
    let broker_retry = pressure.cooldown.as_secs().max(1) as u32;
    if pressure.broker_known_down() {
        return Err(unavailable(
            "broker_unavailable",
            "the message broker",
            broker_retry,
        ));
    }
    // Bounds the uploads between here and the broker's acknowledgement.
    let _permit = match pressure.in_flight.try_acquire() {
        Ok(p) => p,
        Err(_) => {
            metrics::BACKPRESSURE
                .with_label_values(&["in_flight"])
                .inc();
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                format!(
                    "{} uploads are already waiting for the broker; retry later",
                    pressure.max_in_flight
                ),
            )
            .with_retry_after(1));
        }
    };
    let store_down = |e: vigil_store::StoreError| {
        tracing::error!(error = %e, "database unavailable in hook");
        unavailable("database_unavailable", "the database", 5)
    };
    // An upload refused earlier (503) may come back with the same id; one
    // already accepted is a duplicate.
    let revive = match state.store.get_upload(&id).await.map_err(store_down)? {
        Some(row) if row.status == UploadStatus::Rejected => true,
        Some(_) => {
            metrics::UPLOADS.with_label_values(&["duplicate"]).inc();
            return Ok(accepted(&id, true));
        }
        None => false,
    };
    let media_url = match media {
        Media::Bytes(b) => {
            note_mislabelled(content_type.as_deref(), &b);
            state.media.put(id.as_str(), &b).await.map_err(|e| {
                tracing::error!(error = %e, "media store write failed");
                unavailable("media_store_unavailable", "the media store", 5)
            })?
        }
        Media::Url(u) => {
            let path = state.media.resolve(&u).map_err(|e| match e {
                MediaError::Io(_) => unavailable("media_store_unavailable", "the media store", 5),
                other => Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    other.kind(),
                    "Unusable media_url",
                    other.to_string(),
                ),
            })?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size as usize > state.max_upload_bytes {
                return Err(too_large(state.max_upload_bytes));
            }
            u
        }
    };
    let msg = UploadMsg {
        v: MESSAGE_VERSION,
        upload_id: id.clone(),
        media_url: media_url.clone(),
        content_type,
        platform_context,
        received_at: Utc::now(),
        platform: None,
        sample_key: None,
    };
    let new = if revive {
        state.store.revive_upload(&msg).await.map_err(store_down)?
    } else {
        state.store.record_upload(&msg).await.map_err(store_down)?
    };
    if !new {
        metrics::UPLOADS.with_label_values(&["duplicate"]).inc();
        return Ok(accepted(&id, true));
    }
    metrics::ENQUEUE_IN_FLIGHT.inc();
    let sent = state
        .producer
        .send_json(&state.topics.uploads, id.as_str(), &msg)
        .await;
    metrics::ENQUEUE_IN_FLIGHT.dec();
    if let Err(e) = sent {
        tracing::error!(error = %e, "cannot enqueue upload; refusing it with 503");
        pressure.broker_failed();
        // The media stays: the record may still reach the topic (a timed-out
        // send can be persisted), and a retry with this id revives the upload.
        let _ = state
            .store
            .set_upload_status(&id, UploadStatus::Rejected, Some("broker_unavailable"))
            .await;
        return Err(unavailable(
            "broker_unavailable",
            "the message broker",
            broker_retry,
        ));
    }
    pressure.broker_ok();
    if let Err(e) = state
        .store
        .set_upload_status(&id, UploadStatus::Enqueued, None)
        .await
    {
        // The upload is on the topic; only the bookkeeping lagged.
        tracing::warn!(error = %e, "cannot mark upload enqueued");
    }
    metrics::UPLOADS.with_label_values(&["accepted"]).inc();
    Ok(accepted(&id, false))
}

fn accepted(id: &UploadId, duplicate: bool) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(Accepted {
            upload_id: id.to_string(),
            status_url: format!("/v1/uploads/{id}"),
            duplicate,
        }),
    )
        .into_response()
}

#[derive(Debug, Serialize)]
struct UploadStatusBody {
    upload_id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<Verdict>,
}

async fn get_upload(State(state): State<Arc<HookState>>, Path(id): Path<String>) -> Response {
    let start = Instant::now();
    let resp = async {
        let id = UploadId::parse(&id)
            .map_err(|e| bad("invalid_upload_id", "Invalid upload id", e.to_string()))?;
        let row = state.store.get_upload(&id).await.map_err(|e| {
            tracing::error!(error = %e, "database unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                "the database is unavailable",
            )
            .with_retry_after(5)
        })?;
        let row = row.ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such upload",
                "no upload has this id",
            )
        })?;
        let verdict = state.store.latest_verdict(&id).await.map_err(|e| {
            tracing::error!(error = %e, "database unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                "the database is unavailable",
            )
            .with_retry_after(5)
        })?;
        Ok::<_, Problem>(Json(UploadStatusBody {
            upload_id: id.to_string(),
            status: row.status.as_str(),
            error_kind: row.error_kind,
            verdict,
        }))
    }
    .await;
    metrics::REQUEST_SECONDS
        .with_label_values(&["get_upload"])
        .observe(start.elapsed().as_secs_f64());
    match resp {
        Ok(j) => j.into_response(),
        Err(p) if p.status < 500 && p.status != 404 => refuse_get(p),
        Err(p) => p.into_response(),
    }
}

fn refuse_get(p: Problem) -> Response {
    metrics::BAD_REQUESTS.with_label_values(&[p.kind]).inc();
    p.into_response()
}
