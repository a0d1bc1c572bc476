//! RFC 9457 problem details for the review API, and the mapping from store
//! errors to clear, bounded answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigil_store::{AppealError, DecideError};

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// Short bounded kind, also the metric label.
    pub kind: &'static str,
    pub detail: String,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, detail: &str) -> Problem {
        Problem {
            status,
            kind,
            detail: detail.to_string(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, secs: u32) -> Problem {
        self.retry_after = Some(secs);
        self
    }

    pub fn unavailable() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The review store is unavailable; try again shortly.",
        )
    }

    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "No such review item.")
    }

    pub fn bad_request(detail: &str) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
    }
}

impl From<vigil_store::StoreError> for Problem {
    fn from(e: vigil_store::StoreError) -> Problem {
        tracing::error!(error = %e, kind = e.kind(), "review store error");
        Problem::unavailable()
    }
}

impl From<DecideError> for Problem {
    fn from(e: DecideError) -> Problem {
        let status = match &e {
            DecideError::Store(_) => return Problem::unavailable(),
            DecideError::NotFound => StatusCode::NOT_FOUND,
            DecideError::BadReason(..) | DecideError::NoteTooLong => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            DecideError::NotHeld | DecideError::LeaseExpired | DecideError::AlreadyDecided => {
                StatusCode::CONFLICT
            }
        };
        crate::metrics::REFUSALS
            .with_label_values(&[e.kind()])
            .inc();
        Problem::new(status, e.kind(), &e.to_string())
    }
}

impl From<AppealError> for Problem {
    fn from(e: AppealError) -> Problem {
        let (status, kind) = match &e {
            AppealError::Store(_) => return Problem::unavailable(),
            AppealError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppealError::NotAppealable => (StatusCode::CONFLICT, "not_appealable"),
            AppealError::InReview => (StatusCode::CONFLICT, "in_review"),
            AppealError::StatementTooLong => {
                (StatusCode::UNPROCESSABLE_ENTITY, "statement_too_long")
            }
        };
        crate::metrics::APPEALS.with_label_values(&[kind]).inc();
        Problem::new(status, kind, &e.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("urn:vigil:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut r = (
            self.status,
            [("content-type", "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        r
    }
}
