//! The HTTP side of [`crate::auth`]: reads a platform's credentials from a
//! request ([`platform_credentials`], [`Guard::identify`]), then applies the
//! key's rate and size limits and verifies signatures over the buffered
//! body ([`Guard::admit`]), answering every refusal with problem+json (401,
//! 413, 429 and 503 with `Retry-After`). The access layer of the `vigil`
//! crate calls these for every route, between identifying the key and
//! running the handler, so a key's scopes are checked before its body is
//! read (docs/security.md).
//!
//! Nothing costly happens before the caller has paid for it
//! (docs/hardening.md): the key's rate token, one of its body slots
//! (`hook.max_bodies_per_key`) and the body's share of the process-wide
//! body memory (`hook.body_memory_bytes`) are all taken before a byte of
//! the body is read, and held until the response is sent.

use crate::auth::{ApiKey, Authenticator, Credentials, Rejection, SignedRequest};
use crate::metrics;
use crate::problem::Problem;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The problem+json answer for a refused platform request.
pub fn refuse(r: Rejection) -> Response {
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

/// Platform credentials as they arrived, without any check: `None` when the
/// request carries none (no `X-Vigil-Key`, and no bearer token of the
/// `key_id.secret` form; a review session's token has no dot).
pub fn platform_credentials(h: &HeaderMap) -> Option<Result<OwnedCredentials, Rejection>> {
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    if let Some(a) = text(header::AUTHORIZATION.as_str()) {
        let token = a.strip_prefix("Bearer ")?.trim();
        return token
            .contains('.')
            .then(|| Ok(OwnedCredentials::Bearer(token.to_string())));
    }
    let key_id = text("x-vigil-key")?;
    Some(
        match (text("x-vigil-timestamp"), text("x-vigil-signature")) {
            (Some(timestamp), Some(signature)) => Ok(OwnedCredentials::Signed {
                key_id: key_id.to_string(),
                timestamp: timestamp.to_string(),
                signature: signature.to_string(),
            }),
            _ => Err(Rejection::Malformed),
        },
    )
}

/// [`Credentials`] that own their text, so the request can move on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedCredentials {
    Bearer(String),
    Signed {
        key_id: String,
        timestamp: String,
        signature: String,
    },
}

impl OwnedCredentials {
    fn borrow(&self) -> Credentials<'_> {
        match self {
            OwnedCredentials::Bearer(t) => Credentials::Bearer(t),
            OwnedCredentials::Signed {
                key_id,
                timestamp,
                signature,
            } => Credentials::Signed {
                key_id,
                timestamp,
                signature,
            },
        }
    }
}

/// What a platform request paid before its body was read, held until its
/// answer is sent: its key's body slot and its share of the body memory.
pub struct Admitted {
    _slot: Option<OwnedSemaphorePermit>,
    _memory: OwnedSemaphorePermit,
}

impl Guard {
    /// The key the credentials name: a bearer token's secret is checked
    /// here (constant time); a signed request's signature needs the body
    /// and is checked by [`Guard::admit`]. Cheap: nothing is read or paid.
    pub fn identify(&self, creds: &OwnedCredentials) -> Result<ApiKey, Rejection> {
        self.auth.identify(&creds.borrow()).cloned()
    }

    /// Apply `key`'s limits to `req` and verify a signed request over its
    /// body. Paid for before the body is read: a rate token, a body slot
    /// of the key's own and the body's share of the process's body memory
    /// (docs/hardening.md). Returns the request (its body buffered when it
    /// was read here) and what it paid, to hold until the answer is sent.
    pub async fn admit(
        &self,
        key: &ApiKey,
        creds: &OwnedCredentials,
        req: Request,
    ) -> Result<(Request, Admitted), Response> {
        let h = req.headers();
        let limit = key
            .max_bytes
            .unwrap_or(self.max_body_bytes)
            .min(self.max_body_bytes);
        let declared_len = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|n| n > limit) {
            return Err(refuse(Rejection::TooLarge { limit }));
        }
        self.auth
            .take_token(key, self.started.elapsed().as_secs_f64())
            .map_err(refuse)?;
        // A request without a body (no length, not chunked) needs neither.
        let has_body = declared_len.is_some_and(|n| n > 0)
            || (declared_len.is_none() && h.contains_key(header::TRANSFER_ENCODING));
        let slot = has_body
            .then(|| self.auth.body_slot(key))
            .transpose()
            .map_err(refuse)?;
        let body_kib = if has_body {
            declared_len
                .unwrap_or(limit)
                .min(limit)
                .div_ceil(1024)
                .max(1)
        } else {
            0
        };
        let Ok(memory) = self
            .body_memory
            .clone()
            .try_acquire_many_owned(u32::try_from(body_kib).unwrap_or(u32::MAX))
        else {
            metrics::BACKPRESSURE
                .with_label_values(&["body_memory"])
                .inc();
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                "too many request bodies are being read at once; retry shortly",
            )
            .with_retry_after(1)
            .into_response());
        };
        let kind = match creds {
            OwnedCredentials::Signed { .. } => "signed",
            OwnedCredentials::Bearer(_) => "bearer",
        };
        // Signed requests need the body to verify; a key with its own,
        // lower size limit has its body read within that limit here too
        // (the routes' own limit is the global one).
        let signed = matches!(creds, OwnedCredentials::Signed { .. });
        let req = if signed || key.max_bytes.is_some() {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, limit)
                .await
                .map_err(|_| refuse(Rejection::TooLarge { limit }))?;
            if let OwnedCredentials::Signed {
                timestamp,
                signature,
                ..
            } = creds
            {
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
                self.auth
                    .verify_signed(key, &signed_req, now)
                    .map_err(refuse)?;
            }
            Request::from_parts(parts, Body::from(bytes))
        } else {
            req
        };
        metrics::AUTHENTICATED.with_label_values(&[kind]).inc();
        Ok((
            req,
            Admitted {
                _slot: slot,
                _memory: memory,
            },
        ))
    }
}
