//! The banks HTTP API: list, create and update banks, add and remove
//! entries, and look a hash up in the loaded banks.

use crate::{BankError, BankService};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, RwLock};
use vigil_hashdb::{
    Bank, BankAction, BankEntry, BankStats, BankStatus, Change, HashDb, PdqHash, SignalType,
};

#[derive(Clone)]
struct ApiState {
    service: BankService,
    db: Arc<RwLock<HashDb>>,
}

/// The banks API over `service`, answering lookups from `db` (the
/// process's loaded banks).
pub fn router(service: BankService, db: Arc<RwLock<HashDb>>) -> Router {
    Router::new()
        .route("/v1/banks", get(list_banks).post(create_bank))
        .route("/v1/banks/{name}", get(get_bank).patch(update_bank))
        .route("/v1/banks/{name}/entries", post(add_entry))
        .route("/v1/banks/{name}/entries/{entry_id}", delete(remove_entry))
        .route("/v1/lookup", get(lookup))
        .with_state(ApiState { service, db })
}

fn problem(status: StatusCode, kind: &str, detail: String) -> Response {
    let body = json!({"type": format!("urn:vigil:problem:{kind}"), "title": kind, "status": status.as_u16(), "detail": detail});
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for BankError {
    fn into_response(self) -> Response {
        match &self {
            BankError::NoSuchBank(_) => {
                problem(StatusCode::NOT_FOUND, "no_such_bank", self.to_string())
            }
            BankError::Invalid(_) | BankError::Import(_) => problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_bank_change",
                self.to_string(),
            ),
            BankError::Store(_) | BankError::Publish(_) => {
                tracing::error!(error = %self, "bank change failed");
                problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the bank store or broker is unavailable; retry".into(),
                )
            }
        }
    }
}

#[derive(Serialize)]
struct BankView {
    #[serde(flatten)]
    bank: Bank,
    stats: Option<BankStats>,
}

async fn list_banks(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, BankError> {
    let banks = s.service.store.banks().await?;
    let db = s.db.read().unwrap_or_else(|p| p.into_inner());
    let views: Vec<BankView> = banks
        .into_iter()
        .map(|b| BankView {
            stats: db.bank_stats(&b.name),
            bank: b,
        })
        .collect();
    Ok(Json(json!({ "banks": views })))
}

async fn get_bank(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<BankView>, BankError> {
    let bank = s.service.bank(&name).await?;
    let stats =
        s.db.read()
            .unwrap_or_else(|p| p.into_inner())
            .bank_stats(&name);
    Ok(Json(BankView { bank, stats }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBank {
    name: String,
    action: BankAction,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    pdq_threshold: Option<u32>,
}

async fn create_bank(
    State(s): State<ApiState>,
    Json(nb): Json<NewBank>,
) -> Result<Response, BankError> {
    if s.service.bank(&nb.name).await.is_ok() {
        return Ok(problem(
            StatusCode::CONFLICT,
            "bank_exists",
            format!("bank {:?} exists; PATCH it", nb.name),
        ));
    }
    let mut bank = Bank::new(&nb.name, nb.action);
    bank.labels = nb.labels;
    if let Some(d) = nb.description {
        bank.description = d;
    }
    if let Some(t) = nb.pdq_threshold {
        bank.pdq_threshold = t;
    }
    s.service.put_bank(bank.clone()).await?;
    Ok((StatusCode::CREATED, Json(bank)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankPatch {
    action: Option<BankAction>,
    status: Option<BankStatus>,
    labels: Option<Vec<String>>,
    description: Option<String>,
    pdq_threshold: Option<u32>,
}

async fn update_bank(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Json(p): Json<BankPatch>,
) -> Result<Json<Bank>, BankError> {
    let mut bank = s.service.bank(&name).await?;
    if let Some(a) = p.action {
        bank.action = a;
    }
    if let Some(st) = p.status {
        bank.status = st;
    }
    if let Some(l) = p.labels {
        bank.labels = l;
    }
    if let Some(d) = p.description {
        bank.description = d;
    }
    if let Some(t) = p.pdq_threshold {
        bank.pdq_threshold = t;
    }
    s.service.put_bank(bank.clone()).await?;
    Ok(Json(bank))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEntry {
    signal_type: SignalType,
    signal: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

async fn add_entry(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Json(ne): Json<NewEntry>,
) -> Result<Response, BankError> {
    s.service.bank(&name).await?;
    // The canonical form (lowercase hex; a video's frame lines whichever
    // form it came in), so the derived id is the same for the same signal.
    let (signal, _) =
        vigil_hashdb::bank::parse_signal(ne.signal_type, &ne.signal).map_err(BankError::Invalid)?;
    let mut entry = BankEntry::derived(&name, ne.signal_type, &signal);
    entry.labels = ne.labels;
    entry.note = ne.note;
    let id = entry.entry_id.clone();
    s.service.apply(vec![Change::UpsertEntry { entry }]).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"bank": name, "entry_id": id})),
    )
        .into_response())
}

async fn remove_entry(
    State(s): State<ApiState>,
    Path((name, entry_id)): Path<(String, String)>,
) -> Result<Response, BankError> {
    let changed = s
        .service
        .apply(vec![Change::DeleteEntry {
            bank: name,
            entry_id,
        }])
        .await?;
    Ok(if changed > 0 {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(
            StatusCode::NOT_FOUND,
            "no_such_entry",
            "no live entry has this id".into(),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    pdq: String,
    #[serde(default)]
    max_distance: Option<u32>,
}

#[derive(Serialize)]
struct Hit<'a> {
    bank: &'a str,
    entry_id: &'a str,
    distance: u32,
    entry: &'a BankEntry,
}

async fn lookup(State(s): State<ApiState>, Query(q): Query<LookupQuery>) -> Response {
    let Ok(hash) = PdqHash::from_hex(&q.pdq) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad_hash",
            "pdq must be 64 hex digits".into(),
        );
    };
    let radius = q.max_distance.unwrap_or(31).min(63);
    let db = s.db.read().unwrap_or_else(|p| p.into_inner());
    let hits: Vec<Hit> = db
        .pdq_within(&hash, radius)
        .into_iter()
        .map(|(distance, entry)| Hit {
            bank: &entry.bank,
            entry_id: &entry.entry_id,
            distance,
            entry,
        })
        .collect();
    Json(json!({ "hits": hits })).into_response()
}
