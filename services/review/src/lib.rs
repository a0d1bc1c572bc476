//! Human review: the queue of borderline cases the worker raised, served as
//! a JSON API (`GET /v1/review/items`). Claims, decisions, appeals and the
//! reviewer web UI build on this (issue 7).
#![forbid(unsafe_code)]

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vigil_store::Store;

/// The review API's routes.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/v1/review/items", get(list_items))
        .with_state(store)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    50
}

#[derive(Debug, Serialize)]
struct Item {
    upload_id: String,
    policy_version: String,
    queue_reason: String,
    priority: f64,
    status: String,
    created_at: String,
}

#[derive(Debug, Serialize)]
struct ItemList {
    items: Vec<Item>,
}

async fn list_items(State(store): State<Store>, Query(q): Query<ListQuery>) -> Response {
    let limit = q.limit.clamp(1, 500);
    match store.open_review_items(limit).await {
        Ok(rows) => Json(ItemList {
            items: rows
                .into_iter()
                .map(|r| Item {
                    upload_id: r.upload_id,
                    policy_version: r.policy_version,
                    queue_reason: r.queue_reason,
                    priority: r.priority,
                    status: r.status,
                    created_at: r.created_at,
                })
                .collect(),
        })
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot list review items");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "application/problem+json")],
                r#"{"type":"urn:vigil:problem:unavailable","title":"Temporarily unavailable","status":503,"detail":"the review store is unavailable"}"#,
            )
                .into_response()
        }
    }
}
