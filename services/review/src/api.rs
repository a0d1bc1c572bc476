//! The JSON API, behind the same accounts as the UI (session cookie, or a
//! bearer token from `POST /api/login`): list, claim, decide, release,
//! read a case, file appeals, read the audit log.

use crate::auth::{random_token, token_hash, verify_password, ClientAddr, User};
use crate::problem::Problem;
use crate::{metrics, ReviewState};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use vigil_pipeline::UploadId;
use vigil_store::{AuditQuery, Decision, DecisionInput};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

/// Check credentials and open a session. Returns the raw session token.
///
/// The attempt is counted against the account, the client address and the
/// pair before anything else (docs/hardening.md); the password check, the
/// costly part, runs only for admitted attempts and at most
/// `concurrent_checks` at once. Unknown accounts cost the same check, so
/// timing does not reveal which accounts exist.
pub async fn sign_in(
    state: &ReviewState,
    username: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
) -> Result<String, Problem> {
    let gate = &state.signin;
    gate.admit(&state.store, username, client).await?;
    let user = if crate::auth::valid_username(username) {
        state.store.user(username).await?
    } else {
        None
    };
    let pw = password.to_string();
    let ok = match user {
        Some(u) if !u.disabled => {
            let phc = u.password_hash.clone();
            gate.check(move || verify_password(&phc, &pw)).await?
        }
        _ => {
            // The same cost as a real check, so timing does not say
            // whether the account exists.
            gate.check(move || verify_password(crate::auth::decoy_hash(), &pw))
                .await?;
            false
        }
    };
    if !ok {
        metrics::LOGINS
            .with_label_values(&["bad_credentials"])
            .inc();
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "Wrong user name or password.",
        ));
    }
    gate.succeeded(&state.store, username, client).await?;
    let token = random_token();
    state
        .store
        .create_session(
            &token_hash(&token),
            username,
            &random_token(),
            state.config.session_ttl,
        )
        .await?;
    state
        .store
        .append_audit(username, "sign_in", None, None)
        .await?;
    metrics::LOGINS.with_label_values(&["ok"]).inc();
    Ok(token)
}

pub async fn login(
    State(state): State<ReviewState>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<LoginBody>,
) -> Response {
    match sign_in(&state, &body.username, &body.password, client).await {
        Ok(token) => Json(serde_json::json!({
            "token": token,
            "token_type": "Bearer",
            "expires_in": state.config.session_ttl.as_secs(),
        }))
        .into_response(),
        Err(p) => p.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default = "default_limit")]
    pub limit: i64,
}

fn default_status() -> String {
    "open".into()
}

fn default_limit() -> i64 {
    50
}

#[derive(Debug, Serialize)]
pub struct CaseJson {
    pub upload_id: String,
    pub policy_version: String,
    pub queue_reason: String,
    /// The routing queue (absent until routed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub priority: f64,
    pub status: String,
    pub kind: String,
    pub tier: String,
    pub round: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<String>,
}

impl From<vigil_store::ReviewCase> for CaseJson {
    fn from(c: vigil_store::ReviewCase) -> Self {
        CaseJson {
            upload_id: c.upload_id,
            policy_version: c.policy_version,
            queue_reason: crate::shown_queue_reason(&c.kind, &c.queue_reason).to_string(),
            queue: c.queue,
            priority: c.priority,
            status: c.status,
            kind: c.kind,
            tier: c.tier,
            round: c.round,
            created_at: c.created_at,
            claimed_by: c.claimed_by,
            lease_expires_at: c.lease_expires_at,
        }
    }
}

pub async fn list_items(
    State(state): State<ReviewState>,
    user: User,
    Query(q): Query<ListQuery>,
) -> Response {
    let _ = &user;
    if !matches!(q.status.as_str(), "open" | "claimed" | "decided") {
        return Problem::bad_request("status is one of open, claimed, decided").into_response();
    }
    match state
        .store
        .review_cases(&q.status, q.limit.clamp(1, 500))
        .await
    {
        Ok(rows) => Json(serde_json::json!({
            "items": rows.into_iter().map(CaseJson::from).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

pub async fn claim(State(state): State<ReviewState>, user: User) -> Response {
    match state.claim_for(&user.username, user.role).await {
        Ok(Some(c)) => {
            metrics::CLAIMS.with_label_values(&["claimed"]).inc();
            Json(serde_json::json!({
                "upload_id": c.upload_id,
                "policy_version": c.policy_version,
                "round": c.round,
                "kind": c.kind,
                "tier": c.tier,
                "queue_reason": crate::shown_queue_reason(&c.kind, &c.queue_reason),
                "priority": c.priority,
                "lease_expires_at": c.lease_expires_at,
            }))
            .into_response()
        }
        Ok(None) => {
            metrics::CLAIMS.with_label_values(&["empty"]).inc();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub round: i64,
    pub decision: String,
    pub reason: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Validate and store a decision, then publish it. Shared by the API and
/// the form handler.
pub async fn decide(
    state: &ReviewState,
    user: &User,
    upload_id: &str,
    policy_version: &str,
    body: &DecisionBody,
) -> Result<vigil_store::Decided, Problem> {
    let Some(decision) = Decision::parse(&body.decision) else {
        crate::metrics::REFUSALS
            .with_label_values(&["bad_decision"])
            .inc();
        return Err(Problem::bad_request(
            "decision is one of uphold, overturn, escalate, exempt",
        ));
    };
    let d = state
        .store
        .decide(&DecisionInput {
            upload_id,
            policy_version,
            round: body.round,
            reviewer: &user.username,
            decision,
            reason: &body.reason,
            note: body.note.as_deref(),
        })
        .await?;
    if !d.replayed {
        metrics::DECISIONS
            .with_label_values(&[decision.as_str(), d.row.kind.as_str()])
            .inc();
        state.publish_pending().await;
    }
    Ok(d)
}

pub async fn decide_json(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
    Json(body): Json<DecisionBody>,
) -> Response {
    match decide(&state, &user, &upload_id, &policy_version, &body).await {
        Ok(d) => (
            if d.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            Json(crate::DecisionMsg::from_row(&d.row)),
        )
            .into_response(),
        Err(p) => p.into_response(),
    }
}

pub async fn release(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
) -> Response {
    match state
        .store
        .release_claim(&upload_id, &policy_version, &user.username)
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => {
            metrics::REFUSALS.with_label_values(&["not_held"]).inc();
            Problem::new(
                StatusCode::CONFLICT,
                "not_held",
                "You do not hold a claim on this item.",
            )
            .into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

pub async fn renew(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(p) = user.check_csrf(csrf) {
        return p.into_response();
    }
    match state
        .store
        .renew_claim(
            &upload_id,
            &policy_version,
            &user.username,
            state.config.lease,
        )
        .await
    {
        Ok(Some(until)) => Json(serde_json::json!({ "lease_expires_at": until })).into_response(),
        Ok(None) => {
            metrics::REFUSALS
                .with_label_values(&["lease_expired"])
                .inc();
            Problem::new(
                StatusCode::CONFLICT,
                "lease_expired",
                "Your claim expired or is not yours; claim the item again.",
            )
            .into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

pub async fn get_case(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
) -> Response {
    match crate::CaseContext::load(&state, &user, &upload_id, &policy_version).await {
        Ok(ctx) => Json(serde_json::json!({
            "item": CaseJson::from(ctx.case),
            "verdict": ctx.verdict,
            "blind_audit": ctx.blind,
            "decisions": ctx.decisions.iter().map(crate::DecisionMsg::from_row).collect::<Vec<_>>(),
            "appeal_statements": ctx.appeals.iter().map(|a| &a.2).collect::<Vec<_>>(),
            "platform_context": ctx.upload.as_ref().map(|u| &u.msg.platform_context),
        }))
        .into_response(),
        Err(p) => p.into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealBody {
    pub upload_id: String,
    #[serde(default)]
    pub policy_version: Option<String>,
    #[serde(default)]
    pub statement: Option<String>,
}

/// `POST /v1/appeals`: the platform files an uploader's appeal.
/// File an appeal: from a platform's key (`appeals:write`, for its users)
/// or from a lead or admin; the access layer let only those through.
pub async fn appeal(
    State(state): State<ReviewState>,
    axum::Extension(principal): axum::Extension<vigil_authz::Principal>,
    Json(body): Json<AppealBody>,
) -> Response {
    let filer = match &principal {
        vigil_authz::Principal::Account { username, .. } => username.clone(),
        vigil_authz::Principal::Platform { platform, .. } => format!("platform:{platform}"),
        vigil_authz::Principal::Anonymous => {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in first.",
            )
            .into_response()
        }
    };
    if UploadId::parse(&body.upload_id).is_err() {
        return Problem::bad_request(
            "upload_id must be 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'",
        )
        .into_response();
    }
    match state
        .store
        .file_appeal(
            &body.upload_id,
            body.policy_version.as_deref(),
            &filer,
            body.statement.as_deref(),
        )
        .await
    {
        Ok(a) => {
            metrics::APPEALS
                .with_label_values(&[if a.replayed { "replayed" } else { "filed" }])
                .inc();
            (
                if a.replayed {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                Json(serde_json::json!({
                    "appeal_id": a.appeal_id,
                    "upload_id": a.upload_id,
                    "policy_version": a.policy_version,
                    "round": a.round,
                    "status": "open",
                })),
            )
                .into_response()
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

impl AuditParams {
    pub fn query(&self) -> AuditQuery {
        let nonempty = |s: &Option<String>| {
            s.as_ref()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        AuditQuery {
            actor: nonempty(&self.actor),
            action: nonempty(&self.action),
            upload_id: nonempty(&self.upload_id),
            text: nonempty(&self.q),
            from: nonempty(&self.from),
            to: nonempty(&self.to),
            limit: self.limit.unwrap_or(200).clamp(1, 1000),
        }
    }
}

pub async fn audit(
    State(state): State<ReviewState>,
    _user: User,
    Query(p): Query<AuditParams>,
) -> Response {
    // Leads, admins and auditors: the access table decides (docs/security.md).
    match state.audit_entries(&p).await {
        Ok(rows) => Json(serde_json::json!({ "entries": rows })).into_response(),
        Err(p) => p.into_response(),
    }
}
