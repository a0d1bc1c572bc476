//! The banks HTTP API: list, create and update banks, add and remove
//! entries, and look a hash up in the loaded banks; and the governance API
//! over them: charters, proposals (`/v1/proposals`, approve and reject),
//! referrals (`/v1/referrals`), policy versions (`POST /v1/policies`) and
//! the governance report; and the quarantine (`GET /api/quarantine`, and
//! `POST /api/quarantine/{bank}/{entry_id}/restore` to propose a restore).
//!
//! Every change needs a signed-in user: an `Authorization: Bearer` token
//! from `POST /api/login` (a review account's session). Changes that widen
//! what Vigil removes answer `202 Accepted` with the proposal they became;
//! a different lead or admin approves it with
//! `POST /v1/proposals/{id}/approve`.

use crate::governance::{GovError, Governance, Submitted};
use crate::{BankError, BankService};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, RwLock};
use vigil_authz::table::RouteTable;
use vigil_governance::{Charter, NewReferral, Status};
use vigil_hashdb::{
    Bank, BankAction, BankEntry, BankStats, BankStatus, Change, HashDb, PdqHash, SignalType,
    VpdqThresholdsPatch,
};
use vigil_pipeline::SharedPolicy;
use vigil_store::ProposalRecord;

#[derive(Clone)]
struct ApiState {
    service: BankService,
    gov: Governance,
    db: Arc<RwLock<HashDb>>,
    /// The policy in force: what accepted referrals do (its `[referrals]
    /// action`), and what a proposed policy version is compared with.
    policy: SharedPolicy,
}

/// The banks and governance routes, declared once for [`router`] and
/// [`route_list`].
fn table() -> RouteTable<ApiState> {
    RouteTable::new()
        .at("GET", "/v1/banks", list_banks)
        .at("POST", "/v1/banks", create_bank)
        .at("GET", "/v1/banks/{name}", get_bank)
        .at("PATCH", "/v1/banks/{name}", update_bank)
        .at("GET", "/v1/banks/{name}/charter", get_charter)
        .at("PUT", "/v1/banks/{name}/charter", put_charter)
        .at("DELETE", "/v1/banks/{name}/charter", delete_charter)
        .at("POST", "/v1/banks/{name}/entries", add_entry)
        .at(
            "DELETE",
            "/v1/banks/{name}/entries/{entry_id}",
            remove_entry,
        )
        .at("GET", "/v1/lookup", lookup)
        .at("GET", "/v1/proposals", list_proposals)
        .at("GET", "/v1/proposals/{id}", get_proposal)
        .at("POST", "/v1/proposals/{id}/approve", approve_proposal)
        .at("POST", "/v1/proposals/{id}/reject", reject_proposal)
        .at("GET", "/v1/referrals", list_referrals)
        .at("POST", "/v1/referrals", add_referral)
        .at("POST", "/v1/referrals/{id}/contest", contest_referral)
        .at("GET", "/v1/governance/report", governance_report)
        .at("POST", "/v1/policies", propose_policy)
        .at("GET", "/api/quarantine", list_quarantine)
        .at(
            "POST",
            "/api/quarantine/{bank}/{entry_id}/restore",
            propose_restore,
        )
}

/// Every `(method, path)` the banks API serves (checked against the access
/// table).
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().list()
}

/// The banks API over `gov` (its bank service), answering lookups from
/// `db` (the process's loaded banks), under the policy in force. Who may
/// call each route is decided before it runs, by the access layer every
/// router of a process goes through (docs/security.md).
pub fn router(gov: Governance, db: Arc<RwLock<HashDb>>, policy: SharedPolicy) -> Router {
    table().into_router().with_state(ApiState {
        service: gov.banks.clone(),
        gov,
        db,
        policy,
    })
}

/// The signed-in account behind the request: the principal the access
/// layer established (docs/security.md), or, when this router runs without
/// it, the review session of the bearer token.
struct Actor {
    username: String,
    role: vigil_store::Role,
}

impl axum::extract::FromRequestParts<ApiState> for Actor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(vigil_authz::Principal::Account { username, role }) =
            parts.extensions.get::<vigil_authz::Principal>()
        {
            return Ok(Actor {
                username: username.clone(),
                role: *role,
            });
        }
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let unauth = || {
            problem(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "bank and governance changes need `Authorization: Bearer <token>` from POST /api/login".into(),
            )
        };
        let Some(token) = token else {
            return Err(unauth());
        };
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        match state.service.store.session(&hash).await {
            Ok(Some(s)) => Ok(Actor {
                username: s.username,
                role: s.role,
            }),
            Ok(None) => Err(unauth()),
            Err(e) => Err(BankError::Store(e).into_response()),
        }
    }
}

impl IntoResponse for GovError {
    fn into_response(self) -> Response {
        use vigil_store::DecideProposalError as D;
        match self {
            GovError::Bank(b) => b.into_response(),
            GovError::Decide(D::NotFound(_)) | GovError::NoSuchReferral(_) => {
                problem(StatusCode::NOT_FOUND, "not_found", self.to_string())
            }
            GovError::Decide(D::Rule(r)) => {
                problem(StatusCode::FORBIDDEN, r.reason(), r.to_string())
            }
            GovError::Decide(D::Store(e)) => BankError::Store(e).into_response(),
            GovError::OutsideCharter { .. } => problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "outside_charter",
                self.to_string(),
            ),
            GovError::Charter(_)
            | GovError::Referral(_)
            | GovError::Policy(_)
            | GovError::Invalid(_) => problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                self.to_string(),
            ),
        }
    }
}

fn submitted<T: Serialize>(s: Submitted, applied: T, status: StatusCode) -> Response {
    match s {
        Submitted::Applied { .. } => (status, Json(applied)).into_response(),
        Submitted::Proposed { .. } => (StatusCode::ACCEPTED, Json(s)).into_response(),
    }
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
    /// vPDQ thresholds; unset fields keep the defaults (80% / 0% / 31).
    #[serde(default)]
    vpdq: Option<VpdqThresholdsPatch>,
    /// Distance thresholds of the other Hamming signal types
    /// (`{"dhash": 8, "phash": 12}`); unset types keep their defaults.
    #[serde(default)]
    thresholds: Option<std::collections::BTreeMap<vigil_hashdb::SignalType, u32>>,
}

async fn create_bank(
    State(s): State<ApiState>,
    actor: Actor,
    Json(nb): Json<NewBank>,
) -> Result<Response, GovError> {
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
    if let Some(v) = nb.vpdq {
        v.apply(&mut bank.vpdq);
    }
    if let Some(t) = nb.thresholds {
        bank.thresholds = t;
    }
    HashDb::new()
        .upsert_bank_checked(bank.clone())
        .map_err(|e| BankError::Invalid(e.to_string()))?;
    let r = s
        .gov
        .submit(
            &actor.username,
            vec![Change::UpsertBank { bank: bank.clone() }],
            &format!("create bank {}", bank.name),
        )
        .await?;
    Ok(submitted(r, bank, StatusCode::CREATED))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankPatch {
    action: Option<BankAction>,
    status: Option<BankStatus>,
    labels: Option<Vec<String>>,
    description: Option<String>,
    pdq_threshold: Option<u32>,
    /// vPDQ thresholds; unset fields keep the bank's current values.
    vpdq: Option<VpdqThresholdsPatch>,
    /// Distance thresholds of the other Hamming signal types; the types
    /// named are set, the others keep their current values.
    thresholds: Option<std::collections::BTreeMap<vigil_hashdb::SignalType, u32>>,
}

async fn update_bank(
    State(s): State<ApiState>,
    actor: Actor,
    Path(name): Path<String>,
    Json(p): Json<BankPatch>,
) -> Result<Response, GovError> {
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
    if let Some(v) = p.vpdq {
        v.apply(&mut bank.vpdq);
    }
    if let Some(t) = p.thresholds {
        bank.thresholds.extend(t);
    }
    HashDb::new()
        .upsert_bank_checked(bank.clone())
        .map_err(|e| BankError::Invalid(e.to_string()))?;
    let r = s
        .gov
        .submit(
            &actor.username,
            vec![Change::UpsertBank { bank: bank.clone() }],
            &format!("update bank {name}"),
        )
        .await?;
    Ok(submitted(r, bank, StatusCode::OK))
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
    actor: Actor,
    Path(name): Path<String>,
    Json(ne): Json<NewEntry>,
) -> Result<Response, GovError> {
    s.service.bank(&name).await?;
    // The canonical form (lowercase hex; a video's frame lines whichever
    // form it came in), so the derived id is the same for the same signal.
    let (signal, _) =
        vigil_hashdb::bank::parse_signal(ne.signal_type, &ne.signal).map_err(BankError::Invalid)?;
    let mut entry = BankEntry::derived(&name, ne.signal_type, &signal);
    entry.labels = ne.labels;
    entry.note = ne.note;
    let id = entry.entry_id.clone();
    let r = s
        .gov
        .submit(
            &actor.username,
            vec![Change::UpsertEntry { entry }],
            &format!("add entry {id} to bank {name}"),
        )
        .await?;
    Ok(match r {
        Submitted::Proposed { proposal_id, kind, .. } => (
            StatusCode::ACCEPTED,
            Json(json!({"bank": name, "entry_id": id, "outcome": "proposed", "proposal_id": proposal_id, "kind": kind})),
        )
            .into_response(),
        Submitted::Applied { .. } => (
            StatusCode::CREATED,
            Json(json!({"bank": name, "entry_id": id})),
        )
            .into_response(),
    })
}

async fn remove_entry(
    State(s): State<ApiState>,
    actor: Actor,
    Path((name, entry_id)): Path<(String, String)>,
) -> Result<Response, BankError> {
    // Removing narrows what is removed: it needs no second person.
    let changed = s
        .service
        .apply_as(
            &actor.username,
            vec![Change::DeleteEntry {
                bank: name,
                entry_id,
            }],
        )
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

/// `?pdq=<hex>`, `?dhash=<hex>` or `?phash=<hex>` (exactly one), and an
/// optional `max_distance` (default: 31 for PDQ, at most 63; the kind's
/// default bank threshold, 10, for dHash and pHash, at most 32).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    #[serde(default)]
    pdq: Option<String>,
    #[serde(default)]
    dhash: Option<String>,
    #[serde(default)]
    phash: Option<String>,
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
    use vigil_hashdb::{Matching, SignalType};
    let given = [
        (SignalType::Pdq, &q.pdq),
        (SignalType::Dhash, &q.dhash),
        (SignalType::Phash, &q.phash),
    ];
    let mut given = given
        .into_iter()
        .filter_map(|(t, v)| Some((t, v.as_deref()?)));
    let (Some((t, hex)), None) = (given.next(), given.next()) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad_hash",
            "give exactly one of pdq, dhash or phash".into(),
        );
    };
    let db = s.db.read().unwrap_or_else(|p| p.into_inner());
    let found = if t == SignalType::Pdq {
        let Ok(hash) = PdqHash::from_hex(hex) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad_hash",
                "pdq must be 64 hex digits".into(),
            );
        };
        db.pdq_within(&hash, q.max_distance.unwrap_or(31).min(63))
    } else {
        let hash = match vigil_hashdb::signal::hash64_from_hex(t, hex) {
            Ok(h) => h,
            Err(e) => return problem(StatusCode::BAD_REQUEST, "bad_hash", e.to_string()),
        };
        let default = match t.matching() {
            Matching::Hamming {
                default_threshold, ..
            } => default_threshold,
            Matching::Exact | Matching::Video => 0,
        };
        db.hash64_within(t, hash, q.max_distance.unwrap_or(default).min(32))
    };
    let hits: Vec<Hit> = found
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

async fn get_charter(
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, BankError> {
    s.service.bank(&name).await?;
    let c = s.service.store.charter(&name).await?;
    Ok(Json(json!({"bank": name, "charter": c})))
}

async fn put_charter(
    State(s): State<ApiState>,
    actor: Actor,
    Path(name): Path<String>,
    Json(c): Json<Charter>,
) -> Result<Response, GovError> {
    let id = s
        .gov
        .propose_charter(&actor.username, &name, Some(c))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"outcome": "proposed", "proposal_id": id, "kind": "charter_change"})),
    )
        .into_response())
}

async fn delete_charter(
    State(s): State<ApiState>,
    actor: Actor,
    Path(name): Path<String>,
) -> Result<Response, GovError> {
    let id = s.gov.propose_charter(&actor.username, &name, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"outcome": "proposed", "proposal_id": id, "kind": "charter_change"})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPolicy {
    /// The policy's TOML text; its `version` must differ from the one in force.
    toml: String,
}

/// Propose publishing a new policy version (a `policy_version` proposal, or
/// `classifier_auto_action` when it enables or lowers `classifier.auto_above`).
async fn propose_policy(
    State(s): State<ApiState>,
    actor: Actor,
    Json(b): Json<NewPolicy>,
) -> Result<Response, GovError> {
    let id = s
        .gov
        .propose_policy(&actor.username, &b.toml, &s.policy.current())
        .await?;
    let kind = s
        .service
        .store
        .proposal(&id)
        .await?
        .map(|p| p.kind.as_str())
        .unwrap_or("policy_version");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"outcome": "proposed", "proposal_id": id, "kind": kind})),
    )
        .into_response())
}

/// A proposal as the API shows it.
pub fn proposal_json(p: &ProposalRecord) -> serde_json::Value {
    json!({
        "proposal_id": p.proposal_id,
        "kind": p.kind,
        "summary": p.summary,
        "diff": p.diff,
        "status": p.status,
        "proposed_by": p.proposed_by,
        "proposed_at": p.proposed_at,
        "decided_by": p.decided_by,
        "decided_role": p.decided_role,
        "decided_at": p.decided_at,
        "note": p.note,
        "applied_at": p.applied_at,
        "payload": p.payload,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn list_proposals(
    State(s): State<ApiState>,
    _actor: Actor,
    Query(q): Query<ProposalQuery>,
) -> Result<Response, BankError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(x) => match Status::parse(x) {
            Some(st) => Some(st),
            None => {
                return Ok(problem(
                    StatusCode::BAD_REQUEST,
                    "bad_status",
                    "status is pending, approved, rejected, auto_approved or all".into(),
                ))
            }
        },
    };
    let ps = s.service.store.proposals(status, 500).await?;
    let v: Vec<_> = ps.iter().map(proposal_json).collect();
    Ok(Json(json!({ "proposals": v })).into_response())
}

async fn get_proposal(
    State(s): State<ApiState>,
    _actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, BankError> {
    Ok(match s.service.store.proposal(&id).await? {
        Some(p) => Json(proposal_json(&p)).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no proposal {id:?}"),
        ),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    note: Option<String>,
}

async fn approve_proposal(
    State(s): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<serde_json::Value>, GovError> {
    let note = body.and_then(|b| b.0.note);
    let p = s.gov.approve(&id, &actor.username, note.as_deref()).await?;
    Ok(Json(proposal_json(&p)))
}

async fn reject_proposal(
    State(s): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<serde_json::Value>, GovError> {
    let note = body.and_then(|b| b.0.note);
    let p = s.gov.reject(&id, &actor.username, note.as_deref()).await?;
    Ok(Json(proposal_json(&p)))
}

/// Entries and banks under quarantine now, with why and since when, and
/// each entry's counts since its last restore.
async fn list_quarantine(
    State(s): State<ApiState>,
    _actor: Actor,
) -> Result<Json<serde_json::Value>, BankError> {
    let store = &s.service.store;
    let counts: std::collections::BTreeMap<
        (String, String),
        vigil_pipeline::quarantine::EntryCounts,
    > = store
        .entry_counts_since_restore()
        .await?
        .into_iter()
        .map(|c| ((c.bank, c.entry_id), c.counts))
        .collect();
    let rows: Vec<serde_json::Value> = store
        .quarantined()
        .await?
        .into_iter()
        .map(|q| {
            let c = counts
                .get(&(q.bank.clone(), q.entry_id.clone()))
                .copied()
                .unwrap_or_default();
            let target = if q.entry_id.is_empty() {
                "bank"
            } else {
                "entry"
            };
            json!({
                "bank": q.bank,
                "entry_id": (!q.entry_id.is_empty()).then_some(q.entry_id),
                "target": target,
                "cause": q.cause,
                "since": q.since,
                "by": q.actor,
                "counts": c,
            })
        })
        .collect();
    Ok(Json(json!({ "quarantined": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreBody {
    reason: String,
}

/// Propose lifting an entry's quarantine (a lead or admin, with a reason);
/// a different lead or admin approves it at `/v1/proposals/{id}/approve`.
async fn propose_restore(
    State(s): State<ApiState>,
    actor: Actor,
    Path((bank, entry_id)): Path<(String, String)>,
    Json(b): Json<RestoreBody>,
) -> Result<Response, GovError> {
    if actor.role < vigil_store::Role::Lead {
        return Ok(problem(
            StatusCode::FORBIDDEN,
            "role_too_low",
            "a lead or admin proposes a restore".into(),
        ));
    }
    let id = s
        .gov
        .propose_restore(&actor.username, &bank, &entry_id, &b.reason)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"outcome": "proposed", "proposal_id": id, "kind": "quarantine_restore", "bank": bank, "entry_id": entry_id})),
    )
        .into_response())
}

async fn add_referral(
    State(s): State<ApiState>,
    actor: Actor,
    Json(b): Json<serde_json::Value>,
) -> Result<Response, GovError> {
    let act = b.get("act").and_then(|v| v.as_bool()).unwrap_or(true);
    let mut b = b;
    if let Some(o) = b.as_object_mut() {
        o.remove("act");
    }
    // The body is a referral plus an optional `act` flag (default true).
    let r: NewReferral = serde_json::from_value(b)
        .map_err(|e| GovError::Invalid(format!("bad referral body: {e}")))?;
    let id = s
        .gov
        .add_referral(
            &actor.username,
            &r,
            s.policy.current().referrals.action,
            act,
        )
        .await?;
    let actions = s.service.store.referral_actions(&id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"referral_id": id, "actions": actions.iter().map(|(u, a, j, pv)| json!({"upload_id": u, "action": a, "jurisdictions": j, "policy_version": pv})).collect::<Vec<_>>()})),
    )
        .into_response())
}

async fn list_referrals(
    State(s): State<ApiState>,
    _actor: Actor,
) -> Result<Json<serde_json::Value>, BankError> {
    let rs = s.service.store.referrals(500).await?;
    let v: Vec<_> = rs
        .iter()
        .map(|r| {
            json!({
                "referral_id": r.referral_id, "issuer": r.referral.issuer,
                "legal_basis": r.referral.legal_basis, "reference": r.referral.reference,
                "jurisdictions": r.referral.jurisdictions, "deadline": r.referral.deadline,
                "targets": r.referral.targets, "status": r.status.as_str(),
                "recorded_by": r.recorded_by, "received_at": r.received_at,
                "handled_at": r.handled_at, "handled_by": r.handled_by, "reason": r.reason,
            })
        })
        .collect();
    Ok(Json(json!({ "referrals": v })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContestBody {
    reason: String,
    /// Refuse instead of contest.
    #[serde(default)]
    refuse: bool,
}

async fn contest_referral(
    State(s): State<ApiState>,
    actor: Actor,
    Path(id): Path<String>,
    Json(b): Json<ContestBody>,
) -> Result<Response, GovError> {
    s.gov
        .contest_referral(&actor.username, &id, &b.reason, b.refuse)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn governance_report(
    State(s): State<ApiState>,
    _actor: Actor,
) -> Result<Json<vigil_governance::report::GovernanceReport>, BankError> {
    Ok(Json(
        s.service
            .store
            .governance_report(&Default::default())
            .await?,
    ))
}
