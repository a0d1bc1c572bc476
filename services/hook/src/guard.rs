//! The HTTP side of [`crate::auth`]: a middleware in front of the hook's
//! routes that reads the credentials, applies the key's rate and size
//! limits, verifies signatures over the buffered body, and answers every
//! refusal with problem+json (401, 413, 429 and 503 with `Retry-After`).
//!
//! Nothing costly happens before the caller has paid for it
//! (docs/hardening.md): the key's rate token, one of its body slots
//! (`hook.max_bodies_per_key`) and the body's share of the process-wide
//! body memory (`hook.body_memory_bytes`) are all taken before a byte of
//! the body is read, and held until the response is sent.

use crate::auth::{Authenticator, Credentials, Rejection, SignedRequest};
use crate::metrics;
use crate::problem::Problem;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// What the middleware needs.
pub struct Guard {
    pub auth: Arc<Authenticator>,
    /// The global request body limit (per-key limits may only lower it).
    pub max_body_bytes: usize,
    /// Origin of the rate buckets' clock.
    pub started: Instant,
    /// Memory for request bodies being read and handled, in KiB permits.
    pub body_memory: Arc<Semaphore>,
}

impl Guard {
    /// A guard over `auth` for bodies up to `max_body_bytes`, with
    /// `body_memory_bytes` for all bodies in flight together.
    pub fn new(auth: Arc<Authenticator>, max_body_bytes: usize, body_memory_bytes: u64) -> Guard {
        let kib = usize::try_from(body_memory_bytes / 1024)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Guard {
            auth,
            max_body_bytes,
            started: Instant::now(),
            body_memory: Arc::new(Semaphore::new(kib)),
        }
    }
}

fn problem(r: &Rejection) -> Problem {
    match r {
        Rejection::RateLimited { retry_after_secs } => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            r.kind(),
            "Too many requests",
            "this key is over its request rate; retry later",
        )
        .with_retry_after(*retry_after_secs),
        Rejection::TooLarge { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            r.kind(),
            "Request too large",
            format!("requests with this key must be at most {limit} bytes"),
        ),
        Rejection::Missing => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Authentication required",
            "send `Authorization: Bearer <key_id>.<secret>` or X-Vigil-Key, X-Vigil-Timestamp and X-Vigil-Signature",
        ),
        Rejection::Malformed => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Malformed credentials",
            "the credentials are not in the expected form",
        ),
        Rejection::UnknownKey | Rejection::BadSecret => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Invalid credentials",
            "the key is unknown or the secret is wrong",
        ),
        Rejection::BadSignature => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Invalid signature",
            "the signature does not match the request",
        ),
        Rejection::StaleTimestamp => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Stale timestamp",
            "X-Vigil-Timestamp is outside the allowed window; check the clock",
        ),
        Rejection::Replayed => Problem::new(
            StatusCode::UNAUTHORIZED,
            r.kind(),
            "Replayed request",
            "this signed request was already received",
        ),
        Rejection::TooManyInFlight => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            r.kind(),
            "Too many requests in flight",
            "this key already has as many request bodies in flight as it may; retry when one is answered",
        )
        .with_retry_after(1),
    }
}

fn refuse(r: Rejection) -> Response {
    metrics::AUTH_REJECTIONS
        .with_label_values(&[r.kind()])
        .inc();
    let mut resp = problem(&r).into_response();
    if resp.status() == StatusCode::UNAUTHORIZED {
        if let Ok(v) = "Bearer realm=\"vigil-hook\"".parse() {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// Authenticate, limit and pass the request on.
pub async fn require_key(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    let creds = if let Some(a) = text(header::AUTHORIZATION.as_str()) {
        match a.strip_prefix("Bearer ") {
            Some(token) => Credentials::Bearer(token.trim()),
            None => return refuse(Rejection::Malformed),
        }
    } else if let Some(key_id) = text("x-vigil-key") {
        match (text("x-vigil-timestamp"), text("x-vigil-signature")) {
            (Some(timestamp), Some(signature)) => Credentials::Signed {
                key_id,
                timestamp,
                signature,
            },
            _ => return refuse(Rejection::Malformed),
        }
    } else {
        return refuse(Rejection::Missing);
    };
    let key = match guard.auth.identify(&creds) {
        Ok(k) => k.clone(),
        Err(r) => return refuse(r),
    };
    let limit = key
        .max_bytes
        .unwrap_or(guard.max_body_bytes)
        .min(guard.max_body_bytes);
    let declared_len = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_len.is_some_and(|n| n > limit) {
        return refuse(Rejection::TooLarge { limit });
    }
    // Paid for before the body is read: a rate token, a body slot of the
    // key's own, and the body's share of the process's body memory.
    if let Err(r) = guard
        .auth
        .take_token(&key, guard.started.elapsed().as_secs_f64())
    {
        return refuse(r);
    }
    // A request without a body (no length, not chunked) needs neither.
    let has_body = declared_len.is_some_and(|n| n > 0)
        || (declared_len.is_none() && h.contains_key(header::TRANSFER_ENCODING));
    let _slot = match has_body.then(|| guard.auth.body_slot(&key)).transpose() {
        Ok(s) => s,
        Err(r) => return refuse(r),
    };
    let body_kib = if has_body {
        declared_len
            .unwrap_or(limit)
            .min(limit)
            .div_ceil(1024)
            .max(1)
    } else {
        0
    };
    let Ok(_memory) = guard
        .body_memory
        .clone()
        .try_acquire_many_owned(u32::try_from(body_kib).unwrap_or(u32::MAX))
    else {
        metrics::BACKPRESSURE
            .with_label_values(&["body_memory"])
            .inc();
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "Overloaded",
            "too many request bodies are being read at once; retry shortly",
        )
        .with_retry_after(1)
        .into_response();
    };
    let signed = match creds {
        Credentials::Signed {
            timestamp,
            signature,
            ..
        } => Some((timestamp.to_string(), signature.to_string())),
        Credentials::Bearer(_) => None,
    };
    let kind = if signed.is_some() { "signed" } else { "bearer" };
    // Signed requests need the body to verify; a key with its own, lower
    // size limit has its body read within that limit here too (the routes'
    // own limit is the global one).
    let req = if signed.is_some() || key.max_bytes.is_some() {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => return refuse(Rejection::TooLarge { limit }),
        };
        if let Some((timestamp, signature)) = &signed {
            let pq = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let now = chrono::Utc::now().timestamp();
            let signed_req = SignedRequest {
                timestamp,
                signature,
                method: parts.method.as_str(),
                path_and_query: pq,
                body: &bytes,
            };
            if let Err(r) = guard.auth.verify_signed(&key, &signed_req, now) {
                return refuse(r);
            }
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };
    metrics::AUTHENTICATED.with_label_values(&[kind]).inc();
    next.run(req).await
}
