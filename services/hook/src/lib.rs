//! The upload hook: the HTTP API a platform calls for every upload.
//!
//! `POST /v1/uploads` stores the media, records the upload (the outbox),
//! puts it on `vigil.uploads` and answers `202 {upload_id}`;
//! `GET /v1/uploads/{id}` returns the verdict once decided; `POST /v1/check`
//! hashes and matches synchronously for blocking at upload time. Callers
//! authenticate with per-platform keys ([`auth`]). Errors are JSON problem
//! details (RFC 9457) with a stable `type`.
//!
//! The other direction: [`actions`] delivers takedowns, restrictions and
//! reinstatements to the platform (`vigil.actions` and a signed webhook).
#![forbid(unsafe_code)]

pub mod actions;
pub mod auth;
mod check;
pub mod guard;
mod metrics;
mod problem;
mod uploads;

pub use actions::{Relay, RelayConfig, RelayError, WebhookConfig, WebhookSecret};
pub use auth::{
    parse_keys, sign, sign_webhook, verify_webhook, ApiKey, AuthSettings, Authenticator,
    KeyFileError, SignedRequest,
};
pub use check::{suggest, CheckState};
pub use guard::Guard;
pub use problem::Problem;
pub use uploads::{route_list, router, HookState, Pressure};

/// Render every registered metric in the Prometheus text format.
pub fn render_metrics() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(e) = encoder.encode(&prometheus::gather(), &mut buf) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
}
