//! Human review (DESIGN.md §7): the queue of borderline cases the worker
//! raised and of appeals, worked through a server-rendered web UI under
//! `/review/` and a JSON API under `/api/` (plus `GET /v1/review/items` and
//! `POST /v1/appeals`), all behind the same accounts.
//!
//! - [`auth`]: argon2id passwords, sessions, CSRF, bearer tokens, sign-in
//!   rate limit.
//! - [`api`]: JSON handlers; [`ui`]: HTML pages (maud), the authenticated
//!   media route and the static CSS/JS.
//! - Decisions are stored first (with their audit record) and then produced
//!   to `vigil.decisions` from the store's outbox, so a broker outage
//!   delays them and loses none ([`ReviewState::publish_pending`],
//!   [`run_outbox`]).
//! - [`routing`]: which queue an item goes to; reviewers claim from the
//!   queues they serve ([`ReviewState::claim_for`]).
#![forbid(unsafe_code)]

pub mod accountability;
pub mod api;
pub mod auth;
pub mod metrics;
pub mod problem;
pub mod routing;
pub mod search;
pub mod ui;

use axum::Router;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vigil_authz::table::RouteTable;
use vigil_pipeline::{UploadId, Verdict};
use vigil_store::{Claim, DecisionRow, MediaStore, ReviewCase, Role, Store, StoreError, UploadRow};

pub use auth::{add_user, AuthError};
pub use vigil_store::{Decision, REASONS};

/// Produces one record (`key`, JSON payload) to the decisions topic and
/// resolves once the broker acknowledged it.
pub type Publish = Arc<
    dyn Fn(String, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Review settings.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    /// How long a claim lasts without renewal (the case page renews it).
    pub lease: Duration,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// Largest media object the case page shows.
    pub max_media_bytes: u64,
    /// Mark the session cookie `Secure` (serve the UI over HTTPS).
    pub secure_cookies: bool,
    /// Minutes of work after which the UI suggests a break.
    pub break_reminder_minutes: u32,
    /// How long the media of removed uploads are kept as evidence before
    /// they are purged from the media store (EU TCO art. 6: six months).
    pub evidence_retention: Duration,
    /// Which queue each item goes to.
    pub routing: routing::Routing,
    /// Limits for decoding a video into its contact sheet (the `[video]`
    /// limits the worker uses).
    pub video_limits: vigil_decode::video::VideoLimits,
    /// Sign-in attempt limits.
    pub signin: auth::SignInLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<auth::IpNet>,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            lease: Duration::from_secs(10 * 60),
            session_ttl: Duration::from_secs(10 * 3600),
            max_media_bytes: 64 * 1024 * 1024,
            secure_cookies: false,
            break_reminder_minutes: 50,
            evidence_retention: Duration::from_secs(183 * 24 * 3600),
            routing: routing::Routing::default(),
            video_limits: vigil_decode::video::VideoLimits::default(),
            signin: auth::SignInLimits::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct ReviewState {
    pub store: Store,
    pub media: MediaStore,
    pub publish: Option<Publish>,
    pub config: Arc<ReviewConfig>,
    /// Sign-in attempt limits and the bound on password checks.
    pub signin: Arc<auth::SignInGate>,
    /// Full-text search over the audit log (None if the index could not be created).
    pub search: Option<Arc<search::SearchIndex>>,
    /// Guarded bank and policy changes (the proposals page); None: the page
    /// lists proposals but cannot apply approvals.
    pub governance: Option<vigil_banks::Governance>,
    publishing: Arc<tokio::sync::Mutex<()>>,
}

impl ReviewState {
    pub fn new(
        store: Store,
        media: MediaStore,
        publish: Option<Publish>,
        config: ReviewConfig,
    ) -> ReviewState {
        ReviewState {
            store,
            media,
            publish,
            signin: Arc::new(auth::SignInGate::new(config.signin)),
            config: Arc::new(config),
            search: match search::SearchIndex::new() {
                Ok(i) => Some(Arc::new(i)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot create the search index; search falls back to SQL");
                    None
                }
            },
            governance: None,
            publishing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Let the proposals page approve and apply guarded changes.
    pub fn with_governance(mut self, g: vigil_banks::Governance) -> ReviewState {
        self.governance = Some(g);
        self
    }

    /// Place every unrouted item in its queue by the routing rules. Items
    /// whose verdict or upload cannot be read go to the default queue, so
    /// nothing is stranded. Returns how many were placed.
    pub async fn route_pending(&self) -> Result<usize, StoreError> {
        let rules = &self.config.routing;
        let mut placed = 0;
        loop {
            let batch = self.store.unrouted_items(500).await?;
            if batch.is_empty() {
                return Ok(placed);
            }
            for item in &batch {
                let verdict: Option<Verdict> = item
                    .verdict
                    .as_deref()
                    .and_then(|v| serde_json::from_str(v).ok());
                let upload: Option<vigil_pipeline::UploadMsg> = item
                    .upload
                    .as_deref()
                    .and_then(|u| serde_json::from_str(u).ok());
                let input = routing::RouteInput {
                    matches: verdict
                        .iter()
                        .flat_map(|v| &v.matches)
                        .map(|m| (m.bank.as_str(), m.signal_type.as_str(), m.labels.as_slice()))
                        .collect(),
                    surface: upload
                        .as_ref()
                        .map(|u| u.platform_context.surface.as_str())
                        .unwrap_or(""),
                    language: upload
                        .as_ref()
                        .and_then(|u| u.platform_context.language.as_deref()),
                };
                let queue = if verdict.is_some() && upload.is_some() {
                    rules.route(&input)
                } else {
                    tracing::warn!(
                        "review item without a readable verdict or upload; default queue"
                    );
                    rules.default_queue.as_str()
                };
                if self
                    .store
                    .set_queue(&item.upload_id, &item.policy_version, queue)
                    .await?
                {
                    placed += 1;
                    metrics::ROUTED.with_label_values(&[queue]).inc();
                }
            }
        }
    }

    /// Route what is pending, then claim the most urgent item `username`
    /// may take from the queues they serve (leads and admins: every queue).
    pub async fn claim_for(&self, username: &str, role: Role) -> Result<Option<Claim>, StoreError> {
        self.route_pending().await?;
        let queues = if role.takes_escalations() {
            None
        } else {
            self.store.user_queues(username).await?
        };
        self.store
            .claim_next_in(username, role, self.config.lease, queues.as_deref())
            .await
    }

    /// Produce every stored decision the broker has not acknowledged yet,
    /// oldest first; stops at the first failure (retried later). Returns
    /// how many were published.
    pub async fn publish_pending(&self) -> usize {
        let Some(publish) = &self.publish else {
            return 0;
        };
        // One drain at a time, so a decision is produced once per drain.
        let _guard = self.publishing.lock().await;
        let pending = match self.store.unpublished_decisions(500).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the decision outbox");
                return 0;
            }
        };
        let mut done = 0;
        for row in pending {
            let payload =
                serde_json::to_vec(&DecisionMsg::from_row(&row)).expect("records serialise");
            match publish(row.upload_id.clone(), payload).await {
                Ok(()) => {
                    metrics::PUBLISHED.with_label_values(&["ok"]).inc();
                    if let Err(e) = self.store.mark_decision_published(&row.decision_id).await {
                        tracing::warn!(error = %e, "cannot mark a decision published; it will be produced again");
                        break;
                    }
                    done += 1;
                }
                Err(e) => {
                    metrics::PUBLISHED.with_label_values(&["error"]).inc();
                    tracing::warn!(error = %e, "cannot produce a decision; will retry");
                    break;
                }
            }
        }
        done
    }

    /// Audit entries matching `p`: tantivy when there is search text, SQL
    /// filters otherwise.
    pub async fn audit_entries(
        &self,
        p: &api::AuditParams,
    ) -> Result<Vec<search::Hit>, problem::Problem> {
        let q = p.query();
        if let (Some(text), Some(index)) = (&q.text, &self.search) {
            let mut text = text.clone();
            let simple = |v: &str| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            };
            for (field, value) in [
                ("actor", &q.actor),
                ("action", &q.action),
                ("upload_id", &q.upload_id),
            ] {
                if let Some(v) = value.as_deref().filter(|v| simple(v)) {
                    text = format!("({text}) AND {field}:\"{v}\"");
                }
            }
            return index
                .search(
                    &self.store,
                    &text,
                    q.from.as_deref(),
                    q.to.as_deref(),
                    q.limit as usize,
                )
                .await
                .map_err(|e| match e {
                    search::SearchError::Query(m) => {
                        problem::Problem::bad_request(&format!("Search: {m}"))
                    }
                    other => {
                        tracing::error!(error = %other, "search failed");
                        problem::Problem::unavailable()
                    }
                });
        }
        let rows = self.store.audit_log(&q).await?;
        Ok(rows
            .into_iter()
            .map(|e| search::Hit {
                audit_id: e.audit_id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                upload_id: e.upload_id,
                decision: e.decision,
                reason: e.reason,
                note: e.note,
            })
            .collect())
    }

    /// Purge the media of removed uploads kept longer than the retention
    /// period; every purge is written to the audit log. Returns how many
    /// were purged; stops at the first media store error (retried later).
    pub async fn purge_expired_evidence(&self) -> Result<usize, vigil_store::StoreError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(self.config.evidence_retention)
                .unwrap_or(chrono::Duration::days(183));
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let why = format!(
            "kept {} days",
            self.config.evidence_retention.as_secs() / 86_400
        );
        let mut purged = 0;
        loop {
            let due = self.store.evidence_due(&cutoff, 500).await?;
            if due.is_empty() {
                break;
            }
            for (upload_id, media_url) in &due {
                match self.media.delete(media_url).await {
                    Ok(()) => {}
                    // A reference outside the store was never ours to keep.
                    Err(e) if !e.is_transient() => {
                        tracing::warn!(
                            error_kind = e.kind(),
                            "evidence reference is not in the media store"
                        )
                    }
                    Err(e) => {
                        tracing::warn!(error_kind = e.kind(), "cannot purge evidence; will retry");
                        return Ok(purged);
                    }
                }
                if self
                    .store
                    .mark_media_purged(upload_id, "system", &why)
                    .await?
                {
                    purged += 1;
                    metrics::PURGED.inc();
                }
            }
        }
        Ok(purged)
    }

    async fn refresh_queue_gauges(&self) {
        if let Ok(s) = self.store.queue_stats().await {
            metrics::QUEUE.with_label_values(&["open"]).set(s.open);
            metrics::QUEUE
                .with_label_values(&["escalated"])
                .set(s.open_escalated);
            metrics::QUEUE
                .with_label_values(&["appeals"])
                .set(s.open_appeals);
            metrics::QUEUE
                .with_label_values(&["claimed"])
                .set(s.claimed);
            metrics::QUEUE_AGE
                .with_label_values(&["open"])
                .set(age_seconds(s.oldest_open.as_deref(), chrono::Utc::now()));
        }
        if let Ok(by_queue) = self.store.open_by_queue().await {
            // Every configured queue is rendered, at 0 when empty.
            for q in self.config.routing.queues() {
                let n = by_queue
                    .iter()
                    .find(|(name, _)| name.as_deref() == Some(q))
                    .map_or(0, |(_, n)| *n);
                metrics::ROUTING_QUEUE.with_label_values(&[q]).set(n);
            }
        }
    }
}

/// Seconds from `oldest` (RFC 3339) to `now`; 0 when nothing waits or the
/// timestamp cannot be read (never negative).
fn age_seconds(oldest: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> f64 {
    oldest
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(0.0)
        .max(0.0)
}

/// Background loop: retry the decision outbox, route new items, refresh queue gauges and
/// the search index every `every`, and purge expired evidence hourly,
/// until `shutdown` changes.
pub async fn run_outbox(state: ReviewState, every: Duration, mut shutdown: watch::Receiver<bool>) {
    metrics::register();
    let mut last_purge: Option<std::time::Instant> = None;
    loop {
        if last_purge.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_purge = Some(std::time::Instant::now());
            if let Err(e) = state
                .store
                .purge_signin_attempts(state.signin.limits.window)
                .await
            {
                tracing::warn!(error = %e, "cannot purge old sign-in counters");
            }
            match state.purge_expired_evidence().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged evidence past its retention period"),
                Err(e) => tracing::warn!(error = %e, "evidence purge failed; will retry"),
            }
        }
        state.publish_pending().await;
        if let Err(e) = state.route_pending().await {
            tracing::warn!(error = %e, "cannot route review items; will retry");
        }
        state.refresh_queue_gauges().await;
        if let Some(index) = &state.search {
            if let Err(e) = index.sync(&state.store).await {
                tracing::warn!(error = %e, "cannot update the search index");
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// `vigil.decisions`, keyed by `upload_id`: one human decision with who,
/// why and what it means for the upload. Consumers de-duplicate on
/// `decision_id` (a record can be produced twice after a crash).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionMsg {
    pub v: u32,
    pub decision_id: String,
    pub upload_id: String,
    pub policy_version: String,
    pub round: i64,
    /// `review` or `appeal`.
    pub kind: String,
    /// `uphold`, `overturn`, `escalate`, `exempt`.
    pub decision: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub reviewer: String,
    /// `taken_down`, `left_up`, `exempted`, `escalated`.
    pub outcome: String,
    pub decided_at: String,
}

impl DecisionMsg {
    pub fn from_row(r: &DecisionRow) -> DecisionMsg {
        DecisionMsg {
            v: vigil_pipeline::MESSAGE_VERSION,
            decision_id: r.decision_id.clone(),
            upload_id: r.upload_id.clone(),
            policy_version: r.policy_version.clone(),
            round: r.round,
            kind: r.kind.clone(),
            decision: r.decision.clone(),
            reason: r.reason.clone(),
            note: r.note.clone(),
            reviewer: r.reviewer.clone(),
            outcome: Decision::parse(&r.decision)
                .map(|d| d.outcome())
                .unwrap_or("unknown")
                .to_string(),
            decided_at: r.decided_at.clone(),
        }
    }
}

/// What a case page or `GET /api/review/items/…` shows.
pub struct CaseContext {
    pub case: ReviewCase,
    pub verdict: Option<Verdict>,
    pub upload: Option<UploadRow>,
    pub decisions: Vec<DecisionRow>,
    #[allow(clippy::type_complexity)]
    pub appeals: Vec<(String, i64, Option<String>, String, Option<String>, String)>,
    /// Whether the viewer holds a live claim (and so may decide).
    pub held: bool,
    /// A blind audit item not yet answered: the automated outcome (the
    /// verdict, its matches, scores and reasons, and the queue reason) is
    /// withheld from everyone who looks at it.
    pub blind: bool,
}

/// The queue reason shown to people: a blind audit item shows only that it
/// is an audit, never whether it was a takedown or a pass.
pub fn shown_queue_reason<'a>(kind: &str, queue_reason: &'a str) -> &'a str {
    if kind == "audit" {
        "blind_audit"
    } else {
        queue_reason
    }
}

impl CaseContext {
    /// Load a case for `user`: the claim holder, or a lead or admin (read only).
    pub async fn load(
        state: &ReviewState,
        user: &auth::User,
        upload_id: &str,
        policy_version: &str,
    ) -> Result<CaseContext, problem::Problem> {
        let Ok(id) = UploadId::parse(upload_id) else {
            return Err(problem::Problem::not_found());
        };
        let Some(case) = state.store.review_case(upload_id, policy_version).await? else {
            return Err(problem::Problem::not_found());
        };
        let now = vigil_store_now();
        let held = case.status == "claimed"
            && case.claimed_by.as_deref() == Some(user.username.as_str())
            && case
                .lease_expires_at
                .as_deref()
                .is_some_and(|t| t > now.as_str());
        if !held && user.role < Role::Lead {
            metrics::REFUSALS.with_label_values(&["not_held"]).inc();
            return Err(problem::Problem::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_held",
                "Claim this item from the queue to see it.",
            ));
        }
        let blind = case.kind == "audit" && case.status != "decided";
        let verdict = if blind {
            None
        } else {
            state.store.verdict_for(&id, policy_version).await?
        };
        Ok(CaseContext {
            verdict,
            blind,
            upload: state.store.get_upload(&id).await?,
            decisions: state.store.decisions_for(upload_id, policy_version).await?,
            appeals: state.store.appeals_for(upload_id, policy_version).await?,
            held,
            case,
        })
    }
}

/// Now in the store's timestamp format (RFC 3339, microseconds, `Z`).
fn vigil_store_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The review routes: UI under `/review/`, JSON under `/api/`, and the
/// `/v1/review/items` and `/v1/appeals` endpoints; declared once for
/// [`router`] and [`route_list`].
fn table() -> RouteTable<ReviewState> {
    RouteTable::new()
        .at("GET", "/v1/review/items", api::list_items)
        .at("POST", "/v1/appeals", api::appeal)
        .at("POST", "/api/login", api::login)
        .at("GET", "/api/review/items", api::list_items)
        .at("POST", "/api/review/claim", api::claim)
        .at(
            "GET",
            "/api/review/items/{upload_id}/{policy_version}",
            api::get_case,
        )
        .at(
            "POST",
            "/api/review/items/{upload_id}/{policy_version}/decision",
            api::decide_json,
        )
        .at(
            "POST",
            "/api/review/items/{upload_id}/{policy_version}/release",
            api::release,
        )
        .at(
            "POST",
            "/api/review/items/{upload_id}/{policy_version}/renew",
            api::renew,
        )
        .at("POST", "/api/appeals", api::appeal)
        .at("GET", "/api/audit", api::audit)
        .at("GET", "/review", ui::queue)
        .at("GET", "/review/", ui::queue)
        .at("GET", "/review/login", ui::login_form)
        .at("POST", "/review/login", ui::login_submit)
        .at("POST", "/review/logout", ui::logout)
        .at("POST", "/review/claim", ui::claim)
        .at("GET", "/review/case/{upload_id}/{policy_version}", ui::case)
        .at(
            "POST",
            "/review/case/{upload_id}/{policy_version}/decide",
            ui::decide,
        )
        .at(
            "POST",
            "/review/case/{upload_id}/{policy_version}/release",
            ui::release,
        )
        .at(
            "GET",
            "/review/media/{upload_id}/{policy_version}",
            ui::media,
        )
        .at(
            "GET",
            "/review/media/{upload_id}/{policy_version}/sheet",
            ui::contact_sheet,
        )
        .at("GET", "/review/audit", ui::audit)
        .at("GET", "/review/banks", ui::banks)
        .at("GET", "/review/metrics", ui::metrics_summary)
        .at("GET", "/review/proposals", ui::proposals)
        .at("POST", "/review/proposals/{id}/decide", ui::decide_proposal)
        .at("GET", "/review/static/app.css", ui::css)
        .at("GET", "/review/static/app.js", ui::js)
}

/// Every `(method, path)` review serves (checked against the access table).
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().list()
}

/// The review routes. Who may call them is decided before they run, by the
/// access layer every router of a process goes through (docs/security.md).
pub fn router(state: ReviewState) -> Router {
    table().into_router().with_state(state)
}

#[cfg(test)]
mod tests {
    use super::age_seconds;

    #[test]
    fn queue_age_is_seconds_since_the_oldest_open_item() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            age_seconds(Some("2026-11-24T11:00:00.500000Z"), now),
            3599.5
        );
        assert_eq!(age_seconds(None, now), 0.0);
        assert_eq!(age_seconds(Some("not a time"), now), 0.0);
        // A clock step backwards never gives a negative age.
        assert_eq!(age_seconds(Some("2026-11-24T12:00:05Z"), now), 0.0);
    }
}
