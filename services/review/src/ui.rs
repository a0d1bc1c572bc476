//! The reviewer web UI: server-rendered HTML (maud), one small vanilla JS
//! file and one CSS file served from the binary (no CDN). Pages: sign-in,
//! queue, case, audit log. Media are shown through an authenticated route
//! that reads them from the media store (the `media_url` never reaches the
//! browser), blurred and greyscale until the reviewer reveals them; a video
//! is shown as a contact sheet of still frames, never played.

use crate::api::{self, AuditParams};
use crate::auth::{self, ClientAddr, User};
use crate::problem::Problem;
use crate::{metrics, CaseContext, ReviewState};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use vigil_store::{Decision, Role, REASONS};

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

/// Headers every page carries: no caching of case content, no framing, no
/// scripts but our own.
fn page_response(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, Html(markup.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

fn layout(title: &str, user: Option<&User>, state: &ReviewState, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Vigil Review" }
                link rel="stylesheet" href="/review/static/app.css";
                script src="/review/static/app.js" defer {}
            }
            body data-break-minutes=(state.config.break_reminder_minutes) {
                header.topbar {
                    a.brand href="/review/" { span.logo { "V" } "Vigil " span.muted { "Review" } }
                    @if let Some(u) = user {
                        nav {
                            a href="/review/" { "Queue" }
                            a href="/review/banks" { "Banks" }
                            a href="/review/metrics" { "Summary" }
                            @if u.role >= Role::Lead { a href="/review/audit" { "Audit log" } }
                            @if u.role >= Role::Lead { a href="/review/proposals" { "Proposals" } }
                        }
                        div.spacer {}
                        span.worktime #worktime title="Time reviewing this session" {}
                        span.who { (u.username) " " span.badge.role { (u.role.as_str()) } }
                        form.inline method="post" action="/review/logout" {
                            input type="hidden" name="csrf" value=(u.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                div #break-banner.banner hidden {
                    strong { "Time for a break." }
                    " You have been reviewing for a while. Step away from the screen for a few minutes — look at something far away, stretch, get some water."
                    button #break-done type="button" { "I took a break" }
                    button #break-snooze.secondary type="button" { "Remind me in 10 min" }
                }
                main { (body) }
            }
        }
    }
}

/// An error as a page.
fn error_page(state: &ReviewState, user: Option<&User>, p: Problem) -> Response {
    page_response(
        p.status,
        layout(
            "Error",
            user,
            state,
            html! {
                section.card.narrow {
                    h1 { (p.status.as_u16()) " · " (p.status.canonical_reason().unwrap_or("Error")) }
                    p { (p.detail) }
                    p { a.button href="/review/" { "Back to the queue" } }
                }
            },
        ),
    )
}

pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

pub async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

// ---- sign-in ----

#[derive(Debug, Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

fn login_page(state: &ReviewState, error: Option<&str>, status: StatusCode) -> Response {
    page_response(
        status,
        layout(
            "Sign in",
            None,
            state,
            html! {
                section.card.login {
                    h1 { "Sign in" }
                    p.muted { "Vigil's review queue contains disturbing material. Media stay blurred until you choose to see them." }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form method="post" action="/review/login" {
                        label for="username" { "User name" }
                        input #username name="username" autocomplete="username" required autofocus;
                        label for="password" { "Password" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                        button.primary type="submit" { "Sign in" }
                    }
                }
            },
        ),
    )
}

pub async fn login_form(State(state): State<ReviewState>) -> Response {
    login_page(&state, None, StatusCode::OK)
}

pub async fn login_submit(
    State(state): State<ReviewState>,
    ClientAddr(client): ClientAddr,
    Form(f): Form<LoginForm>,
) -> Response {
    match api::sign_in(&state, f.username.trim(), &f.password, client).await {
        Ok(token) => {
            let secure = if state.config.secure_cookies {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                auth::COOKIE,
                state.config.session_ttl.as_secs()
            );
            let mut r = Redirect::to("/review/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(p) => login_page(&state, Some(&p.detail), p.status),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<ReviewState>,
    user: User,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(p) = user.check_csrf(&f.csrf) {
        return error_page(&state, Some(&user), p);
    }
    let mut parts = axum::http::Request::new(());
    *parts.headers_mut() = headers;
    let (parts, ()) = parts.into_parts();
    if let Some((token, _)) = auth::request_token(&parts.headers) {
        let _ = state.store.delete_session(&auth::token_hash(&token)).await;
    }
    let _ = state
        .store
        .append_audit(&user.username, "sign_out", None, None)
        .await;
    let mut r = Redirect::to("/review/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("vigil_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

// ---- queue ----

fn short(id: &str) -> &str {
    id.get(..13).unwrap_or(id)
}

fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "—".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

fn kind_badges(kind: &str, tier: &str) -> Markup {
    html! {
        @if kind == "appeal" { span.badge.appeal { "Appeal" } }
        @else if kind == "audit" { span.badge.audit { "Blind audit" } }
        @else { span.badge { "Review" } }
        @if tier == "lead" { " " span.badge.escalated { "Escalated" } }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct QueueParams {
    #[serde(default)]
    pub decided: Option<String>,
    #[serde(default)]
    pub empty: Option<String>,
}

pub async fn queue(
    State(state): State<ReviewState>,
    user: User,
    Query(q): Query<QueueParams>,
) -> Response {
    let load = async {
        let stats = state.store.queue_stats().await?;
        let mine = state.store.claims_of(&user.username).await?;
        let open = state.store.review_cases("open", 50).await?;
        let recent = state
            .store
            .recent_decisions(
                (user.role < Role::Lead).then_some(user.username.as_str()),
                10,
            )
            .await?;
        let team = if user.role >= Role::Lead {
            let since = chrono::Utc::now() - chrono::Duration::days(7);
            state
                .store
                .reviewer_stats(&since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .await?
        } else {
            Vec::new()
        };
        Ok::<_, vigil_store::StoreError>((stats, mine, open, recent, team))
    };
    let (stats, mine, open, recent, team) = match load.await {
        Ok(v) => v,
        Err(e) => return error_page(&state, Some(&user), e.into()),
    };
    let claimable = open
        .iter()
        .filter(|c| c.tier == "reviewer" || user.role >= Role::Lead)
        .count();
    let body = html! {
        @if let Some(d) = &q.decided { div.flash.ok { "Decision recorded: " (d) ". Thank you." } }
        @if q.empty.is_some() { div.flash { "Nothing left for you in the queue right now." } }
        section.stats {
            div.stat { span.num { (stats.open) } span.label { "open" } }
            div.stat { span.num { (stats.open_escalated) } span.label { "escalated" } }
            div.stat { span.num { (stats.open_appeals) } span.label { "appeals" } }
            div.stat { span.num { (stats.claimed) } span.label { "in review" } }
            div.stat { span.num { (stats.oldest_open.as_deref().map(age).unwrap_or_else(|| "—".into())) } span.label { "oldest open" } }
        }
        section.card.claim {
            div {
                h1 { "Review queue" }
                p.muted { "Items are handed out most urgent first. A claim lasts "
                    (state.config.lease.as_secs() / 60) " minutes and renews while the case is open." }
            }
            form method="post" action="/review/claim" {
                input type="hidden" name="csrf" value=(user.csrf);
                button.primary.big #claim-next type="submit" disabled[claimable == 0 && mine.is_empty()] {
                    "Claim next item " kbd { "N" }
                }
            }
        }
        @if !mine.is_empty() {
            section.card {
                h2 { "Your claims" }
                table {
                    thead { tr { th { "Item" } th { "Type" } th { "Why" } th { "Claim ends" } th {} } }
                    tbody {
                        @for c in &mine {
                            tr {
                                td.mono { (short(&c.upload_id)) "…" }
                                td { (kind_badges(&c.kind, &c.tier)) }
                                td { (crate::shown_queue_reason(&c.kind, &c.queue_reason)) }
                                td { (c.lease_expires_at.as_deref().map(|t| t.get(11..19).unwrap_or(t)).unwrap_or("")) " UTC" }
                                td { a.button.small href={ "/review/case/" (c.upload_id) "/" (c.policy_version) } { "Resume" } }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Waiting" span.muted { " · " (stats.open) " open, showing the first " (open.len()) } }
            @if open.is_empty() {
                p.empty { "The queue is empty." }
            } @else {
                table {
                    thead { tr { th { "Priority" } th { "Type" } th { "Why it is here" } th { "Policy" } th { "Waiting" } } }
                    tbody {
                        @for c in &open {
                            tr {
                                td { span.prio style={ "--p:" (format!("{:.2}", (c.priority / 2.0).clamp(0.05, 1.0))) } { (format!("{:.2}", c.priority)) } }
                                td { (kind_badges(&c.kind, &c.tier)) }
                                td { (crate::shown_queue_reason(&c.kind, &c.queue_reason)) }
                                td.mono { (c.policy_version) }
                                td { (age(&c.created_at)) }
                            }
                        }
                    }
                }
            }
        }
        @if !team.is_empty() {
            section.card {
                h2 { "Reviewers " span.muted { "· last 7 days" } }
                table {
                    thead { tr { th { "Reviewer" } th { "Decisions" } th { "Uphold" } th { "Overturn" } th { "Exempt" } th { "Escalate" } th { "Second looks" } th { "Agreement" } } }
                    tbody {
                        @for r in &team {
                            tr {
                                td { (r.reviewer) }
                                td { (r.decisions) }
                                td { (r.uphold) } td { (r.overturn) } td { (r.exempt) } td { (r.escalate) }
                                td { (r.second_looks) }
                                td {
                                    @if r.second_looks > 0 {
                                        (format!("{:.0}%", 100.0 * r.agreed as f64 / r.second_looks as f64))
                                        span.muted { " (" (r.agreed) "/" (r.second_looks) ")" }
                                    } @else { span.muted { "—" } }
                                }
                            }
                        }
                    }
                }
                p.muted { "Agreement: how often a later reviewer of the same item (appeal or second look) reached the same final decision." }
            }
        }
        @if !recent.is_empty() {
            section.card {
                h2 { @if user.role >= Role::Lead { "Recent decisions (everyone)" } @else { "Your recent decisions" } }
                table {
                    thead { tr { th { "When" } th { "Reviewer" } th { "Decision" } th { "Reason" } th { "Type" } } }
                    tbody {
                        @for d in &recent {
                            tr {
                                td { (age(&d.decided_at)) " ago" }
                                td { (d.reviewer) }
                                td { span class={ "badge d-" (d.decision) } { (d.decision) } }
                                td { (d.reason) }
                                td { (d.kind) " · round " (d.round) }
                            }
                        }
                    }
                }
            }
        }
    };
    page_response(StatusCode::OK, layout("Queue", Some(&user), &state, body))
}

pub async fn claim(
    State(state): State<ReviewState>,
    user: User,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(p) = user.check_csrf(&f.csrf) {
        return error_page(&state, Some(&user), p);
    }
    // Resume a live claim before taking a new one.
    match state.store.claims_of(&user.username).await {
        Ok(mine) if !mine.is_empty() => {
            let c = &mine[0];
            return Redirect::to(&format!(
                "/review/case/{}/{}",
                c.upload_id, c.policy_version
            ))
            .into_response();
        }
        Ok(_) => {}
        Err(e) => return error_page(&state, Some(&user), e.into()),
    }
    match state.claim_for(&user.username, user.role).await {
        Ok(Some(c)) => {
            metrics::CLAIMS.with_label_values(&["claimed"]).inc();
            Redirect::to(&format!(
                "/review/case/{}/{}",
                c.upload_id, c.policy_version
            ))
            .into_response()
        }
        Ok(None) => {
            metrics::CLAIMS.with_label_values(&["empty"]).inc();
            Redirect::to("/review/?empty=1").into_response()
        }
        Err(e) => error_page(&state, Some(&user), e.into()),
    }
}

// ---- case ----

/// A decision's title, explanation and key. On a blind audit item the
/// question is "does this violate policy?": uphold means violating,
/// overturn not violating (docs/accountability.md).
fn decision_label(d: Decision, blind: bool) -> (&'static str, &'static str, &'static str) {
    if blind {
        return match d {
            Decision::Uphold => ("Violating", "uphold: it breaks the policy", "U"),
            Decision::Overturn => ("Not violating", "overturn: it does not", "O"),
            Decision::Escalate => ("Escalate", "to a lead", "E"),
            Decision::Exempt => (
                "Violating, public interest",
                "exempt: keep up, with reason",
                "X",
            ),
        };
    }
    match d {
        Decision::Uphold => ("Uphold", "take down", "U"),
        Decision::Overturn => ("Overturn", "leave up / reinstate", "O"),
        Decision::Escalate => ("Escalate", "to a lead", "E"),
        Decision::Exempt => ("Exempt", "keep up, with reason", "X"),
    }
}

fn case_page(user: &User, ctx: &CaseContext) -> Markup {
    let c = &ctx.case;
    let media_src = format!("/review/media/{}/{}", c.upload_id, c.policy_version);
    let sheet_src = format!("{media_src}/sheet");
    let content_type = ctx
        .upload
        .as_ref()
        .and_then(|u| u.msg.content_type.clone())
        .unwrap_or_default();
    let is_video = content_type.starts_with("video/");
    let pc = ctx.upload.as_ref().map(|u| &u.msg.platform_context);
    html! {
        div.casehead {
            div {
                a.muted href="/review/" { "← Queue" }
                h1 { "Case " span.mono { (short(&c.upload_id)) "…" } " " (kind_badges(&c.kind, &c.tier)) }
                p.muted { "Round " (c.round) " · waiting " (age(&c.created_at)) " · priority " (format!("{:.2}", c.priority)) }
            }
            @if ctx.held {
                div.lease #lease data-expires=(c.lease_expires_at.clone().unwrap_or_default())
                    data-renew={ "/api/review/items/" (c.upload_id) "/" (c.policy_version) "/renew" }
                    data-csrf=(user.csrf) { "Claim active" }
            } @else {
                div.lease.readonly { "Read only — " (c.status) @if let Some(b) = &c.claimed_by { " by " (b) } }
            }
        }
        div.casegrid {
            section.card.mediacard {
                div.mediaframe #mediaframe data-state="hidden" {
                    @if is_video {
                        // A contact sheet of still frames, never a playing video.
                        img.media.sheet #media src=(sheet_src) data-frames=(SHEET_FRAMES)
                            alt={ "Contact sheet: " (SHEET_FRAMES) " frames evenly spaced over the video (hidden until revealed)" };
                    } @else {
                        img.media #media src=(media_src) alt="Media under review (hidden until revealed)";
                    }
                    button.veil #reveal type="button" {
                        span.eye { "◉" }
                        span { "Media hidden" }
                        span.muted { "Click or press " kbd { "R" } " to reveal" }
                    }
                }
                div.mediatools {
                    button.secondary #toggle-reveal type="button" { "Reveal / hide " kbd { "R" } }
                    button.secondary #toggle-colour type="button" { "Colour " kbd { "C" } }
                    span.muted { "Greyscale by default"
                        @if is_video { " · video: " (SHEET_FRAMES) " frames evenly spaced, left to right, top to bottom; it does not play" } }
                }
            }
            section.card.why {
                @if ctx.blind {
                    h2 { "Blind audit" }
                    p.audit-note { "A sample drawn at random to measure how often Vigil is wrong. What Vigil decided is not shown. "
                        "Judge the media on its own: is it violating?" }
                } @else {
                    h2 { "Why this is here" }
                }
                dl {
                    dt { "Queue reason" } dd { (crate::shown_queue_reason(&c.kind, &c.queue_reason)) }
                    @if let Some(q) = &c.queue { dt { "Routed to" } dd { (q) } }
                    dt { "Policy version" } dd.mono { (c.policy_version) }
                    @if let Some(v) = &ctx.verdict {
                        dt { "Automated action" } dd { span class={ "badge a-" (v.action.as_str()) } { (v.action.as_str()) } }
                        @if let Some(cl) = &v.classifier {
                            dt { "Classifier" }
                            dd {
                                div.score { div.bar style={ "width:" (format!("{:.0}", (cl.score * 100.0).clamp(0.0, 100.0))) "%" } {} }
                                (format!("{:.3}", cl.score)) span.muted { " · " (cl.model) " " (cl.version) }
                            }
                        }
                        @if let Some(e) = &v.decode_error { dt { "Decode" } dd { "could not decode: " (e) } }
                    }
                    @if let Some(pc) = pc {
                        dt { "Surface" } dd { (if pc.surface.is_empty() { "—" } else { pc.surface.as_str() }) }
                        @if let Some(r) = pc.reach { dt { "Reach" } dd { (r) } }
                        @if let Some(l) = &pc.language { dt { "Language" } dd { (l) } }
                        @if let Some(a) = pc.account_age_days { dt { "Account age" } dd { (a) " days" } }
                    }
                    dt { "Media type" } dd { (if content_type.is_empty() { "unknown" } else { content_type.as_str() }) }
                }
                @if let Some(v) = &ctx.verdict {
                    @if !v.matches.is_empty() {
                        h3 { "Hash matches" }
                        table.compact {
                            thead { tr { th { "Bank" } th { "Entry" } th { "Signal" } th { "Distance" } th { "Labels" } } }
                            tbody {
                                @for m in &v.matches {
                                    tr {
                                        td { (m.bank) }
                                        td.mono { (m.entry_id) }
                                        td { (m.signal_type.as_str()) }
                                        td { (m.distance) }
                                        td { @for l in &m.labels { span.badge.label { (l) } " " } }
                                    }
                                }
                            }
                        }
                    }
                    @if !v.reasons.is_empty() {
                        h3 { "Reasons" }
                        ul.reasons { @for r in &v.reasons { li { (r) } } }
                    }
                    @if let Some(s) = &v.statement_of_reasons {
                        h3 { "Statement of reasons" }
                        div.sor {
                            p { (s.decision) }
                            ul { @for f in &s.facts { li { (f) } } }
                            p.muted {
                                "Automated detection: " (if s.automated_detection { "yes" } else { "no" })
                                " · automated decision: " (if s.automated_decision { "yes" } else { "no" })
                            }
                            p { "Grounds: " @for g in &s.grounds { span.ground { (g.basis) } " " } }
                            @if let Some(r) = &s.referral {
                                p { "Referral " (r.referral_id) " by " (r.issuer) " (" (r.legal_basis) ")" }
                            }
                            p.muted { (s.redress) }
                        }
                    }
                }
                @if !ctx.appeals.is_empty() {
                    h3 { "Appeal" }
                    @for a in &ctx.appeals {
                        div.appealbox {
                            p.muted { "Filed " (age(&a.5)) " ago · round " (a.1) " · " (a.3) @if let Some(o) = &a.4 { " · outcome: " (o) } }
                            @if let Some(s) = &a.2 { blockquote { (s) } } @else { p.muted { "No statement." } }
                        }
                    }
                }
                @if !ctx.decisions.is_empty() {
                    h3 { "Earlier decisions" }
                    table.compact {
                        thead { tr { th { "Round" } th { "Reviewer" } th { "Decision" } th { "Reason" } th { "Note" } } }
                        tbody {
                            @for d in &ctx.decisions {
                                tr {
                                    td { (d.round) } td { (d.reviewer) }
                                    td { span class={ "badge d-" (d.decision) } { (d.decision) } }
                                    td { (d.reason) } td { (d.note.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if ctx.held {
            section.card.decide {
                h2 { "Decision" }
                form #decision-form method="post" action={ "/review/case/" (c.upload_id) "/" (c.policy_version) "/decide" } {
                    input type="hidden" name="csrf" value=(user.csrf);
                    input type="hidden" name="round" value=(c.round);
                    div.choices {
                        @for d in Decision::ALL {
                            @let (title, sub, key) = decision_label(d, ctx.blind);
                            label class={ "choice d-" (d.as_str()) } data-key=(key.to_lowercase()) {
                                input type="radio" name="decision" value=(d.as_str()) required;
                                span.t { (title) " " kbd { (key) } }
                                span.s { (sub) }
                            }
                        }
                    }
                    div.row {
                        div.grow {
                            label for="reason" { "Reason " span.muted { "(required; keys 1–5 pick one)" } }
                            select #reason name="reason" required {
                                option value="" { "Choose a decision first" }
                                @for d in Decision::ALL {
                                    optgroup label=(decision_label(d, ctx.blind).0) data-decision=(d.as_str()) {
                                        @for (rd, code, label) in REASONS.iter().filter(|r| r.0 == d) {
                                            @let _ = rd;
                                            option value=(code) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    label for="note" { "Note " span.muted { "(optional; visible to leads and in the audit log)" } }
                    textarea #note name="note" rows="3" maxlength="2000" placeholder="Context for the record, e.g. the news outlet, the event, why it is counter-speech…" {}
                    div.actions {
                        button.primary type="submit" { "Submit decision " kbd { "Ctrl" } "+" kbd { "Enter" } }
                        span.muted.keys { "U O E X choose · 1–5 reason · R reveal · C colour · Esc hide" }
                    }
                }
                form.inline.release method="post" action={ "/review/case/" (c.upload_id) "/" (c.policy_version) "/release" } {
                    input type="hidden" name="csrf" value=(user.csrf);
                    button.secondary type="submit" { "Return to queue without deciding" }
                }
            }
        }
    }
}

pub async fn case(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
) -> Response {
    match CaseContext::load(&state, &user, &upload_id, &policy_version).await {
        Ok(ctx) => page_response(
            StatusCode::OK,
            layout("Case", Some(&user), &state, case_page(&user, &ctx)),
        ),
        Err(p) => error_page(&state, Some(&user), p),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DecideForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub round: Option<i64>,
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
}

pub async fn decide(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> Response {
    if let Err(p) = user.check_csrf(&f.csrf) {
        return error_page(&state, Some(&user), p);
    }
    let Some(round) = f.round else {
        return error_page(
            &state,
            Some(&user),
            Problem::bad_request("The form has no round; reload the case."),
        );
    };
    let body = api::DecisionBody {
        round,
        decision: f.decision,
        reason: f.reason,
        note: Some(f.note),
    };
    match api::decide(&state, &user, &upload_id, &policy_version, &body).await {
        Ok(d) => Redirect::to(&format!("/review/?decided={}", d.row.decision)).into_response(),
        Err(p) => error_page(&state, Some(&user), p),
    }
}

pub async fn release(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(p) = user.check_csrf(&f.csrf) {
        return error_page(&state, Some(&user), p);
    }
    match state
        .store
        .release_claim(&upload_id, &policy_version, &user.username)
        .await
    {
        Ok(_) => Redirect::to("/review/").into_response(),
        Err(e) => error_page(&state, Some(&user), e.into()),
    }
}

/// The image formats the case page shows inline, recognised by their
/// magic bytes (nothing else is parsed here).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some("video/mp4")
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("video/webm")
    } else {
        None
    }
}

/// The media bytes of a case, for the claim holder or a lead, read through
/// the media store; a problem response otherwise.
async fn case_media(
    state: &ReviewState,
    user: &User,
    upload_id: &str,
    policy_version: &str,
) -> Result<Vec<u8>, Response> {
    let ctx = match CaseContext::load(state, user, upload_id, policy_version).await {
        Ok(c) => c,
        Err(p) => return Err(p.into_response()),
    };
    match state.store.media_purged_at(upload_id).await {
        Ok(Some(_)) => {
            return Err(Problem::new(
                StatusCode::GONE,
                "media_purged",
                "The media were purged after the evidence retention period.",
            )
            .into_response())
        }
        Ok(None) => {}
        Err(e) => return Err(Problem::from(e).into_response()),
    }
    let Some(upload) = ctx.upload else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "media_not_found",
            "No media recorded for this item.",
        )
        .into_response());
    };
    match state
        .media
        .get(&upload.msg.media_url, state.config.max_media_bytes)
        .await
    {
        Ok(b) => Ok(b),
        Err(e) => {
            tracing::warn!(error_kind = e.kind(), "cannot read media for review");
            let status = if e.is_transient() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::NOT_FOUND
            };
            Err(Problem::new(
                status,
                e.kind(),
                "The media cannot be shown (missing, too large or purged).",
            )
            .into_response())
        }
    }
}

/// `GET /review/media/{upload_id}/{policy_version}`: the bytes, for the
/// claim holder or a lead, read through the media store.
pub async fn media(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
) -> Response {
    let bytes = match case_media(&state, &user, &upload_id, &policy_version).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(ct) = sniff(&bytes) else {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_displayable",
            "This media type cannot be shown in the browser.",
        )
        .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        bytes,
    )
        .into_response()
}

/// Frames on a video's contact sheet, and how they are laid out.
pub const SHEET_FRAMES: usize = 9;
const SHEET_COLUMNS: u32 = 3;
const SHEET_TILE_WIDTH: u32 = 320;

/// `GET /review/media/{upload_id}/{policy_version}/sheet`: for a video, a
/// JPEG contact sheet of [`SHEET_FRAMES`] frames evenly spaced over its
/// running time, made now by the confined FFmpeg decoder under the
/// `[video]` limits (nothing derived from the media is stored, so the
/// sheet goes when the media are purged). Same access rules as the media.
pub async fn contact_sheet(
    State(state): State<ReviewState>,
    user: User,
    Path((upload_id, policy_version)): Path<(String, String)>,
) -> Response {
    let bytes = match case_media(&state, &user, &upload_id, &policy_version).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if vigil_decode::video::sniff_video(&bytes).is_none() {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_a_video",
            "Contact sheets are made for videos only.",
        )
        .into_response();
    }
    let limits = state.config.video_limits;
    let made = tokio::task::spawn_blocking(move || {
        vigil_decode::video::contact_sheet(
            &bytes,
            &limits,
            &vigil_decode::video::VideoOptions::default(),
            SHEET_FRAMES,
            SHEET_TILE_WIDTH,
            SHEET_COLUMNS,
        )
    })
    .await;
    let sheet = match made {
        Ok(Ok(sheet)) => sheet,
        Ok(Err(e)) => {
            tracing::warn!(error_kind = e.kind(), "cannot make a contact sheet");
            let status = if e.kind() == "decoder_unavailable" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            return Problem::new(
                status,
                e.kind(),
                "No contact sheet could be made of this video.",
            )
            .into_response();
        }
        Err(_) => {
            return Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "The contact sheet task failed.",
            )
            .into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        sheet.jpeg,
    )
        .into_response()
}

// ---- audit log ----

pub async fn audit(
    State(state): State<ReviewState>,
    user: User,
    Query(p): Query<AuditParams>,
) -> Response {
    // Leads, admins and auditors: the access table decides (docs/security.md).
    let rows = match state.audit_entries(&p).await {
        Ok(r) => r,
        Err(e) => return error_page(&state, Some(&user), e),
    };
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    let body = html! {
        section.card {
            h1 { "Audit log" }
            p.muted { "Every claim, release, decision, appeal and sign-in, newest first. Append-only. Search text uses the full-text index (notes, reasons, banks, labels); the other filters narrow it." }
            form.filters method="get" action="/review/audit" {
                input name="q" placeholder="Search: words, bank:tve-demo, label:gifct, decision:uphold, actor:alice" value=(v(&p.q));
                input name="actor" placeholder="Who" value=(v(&p.actor));
                select name="action" {
                    option value="" { "Any action" }
                    @for a in ["claim", "release", "decide", "appeal", "sign_in", "sign_out", "user_upsert"] {
                        option value=(a) selected[p.action.as_deref() == Some(a)] { (a) }
                    }
                }
                input name="from" placeholder="From (2026-01-01)" value=(v(&p.from));
                input name="to" placeholder="To" value=(v(&p.to));
                button.primary type="submit" { "Search" }
            }
            table.compact {
                thead { tr { th { "When (UTC)" } th { "Who" } th { "Action" } th { "Item" } th { "Decision" } th { "Reason" } th { "Note" } } }
                tbody {
                    @for e in &rows {
                        tr {
                            td.mono { (e.at.get(..19).unwrap_or(&e.at).replace('T', " ")) }
                            td { (e.actor) }
                            td { (e.action) }
                            td.mono { @if let Some(u) = &e.upload_id { (short(u)) "…" } }
                            td { @if let Some(d) = &e.decision { span class={ "badge d-" (d) } { (d) } } }
                            td { (e.reason.as_deref().unwrap_or("")) }
                            td.note { (e.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if rows.is_empty() { p.empty { "No matching entries." } }
        }
    };
    page_response(
        StatusCode::OK,
        layout("Audit log", Some(&user), &state, body),
    )
}

/// Guarded changes waiting for a second person (DESIGN.md §6a): each with
/// its summary and diff, and approve / reject buttons for leads and admins
/// other than the proposer.
pub async fn proposals(State(state): State<ReviewState>, user: User) -> Response {
    // Leads, admins and auditors: the access table decides (docs/security.md).
    let pending = match state
        .store
        .proposals(Some(vigil_governance::Status::Pending), 200)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot list proposals");
            return error_page(&state, Some(&user), Problem::unavailable());
        }
    };
    let body = html! {
        section.card {
            h1 { "Proposals" }
            p.muted { "Changes that widen what Vigil removes take effect only when a second person with the lead or admin role approves them. You cannot decide your own." }
            @if pending.is_empty() { p.empty { "Nothing is waiting." } }
            @for p in &pending {
                article.proposal {
                    h2 { span.badge { (p.kind.as_str()) } " " (p.summary) }
                    p.muted { "Proposed by " strong { (p.proposed_by) } " at " (p.proposed_at.get(..19).unwrap_or(&p.proposed_at).replace('T', " ")) " UTC · " span.mono { (p.proposal_id) } }
                    pre.diff { (p.diff) }
                    @if p.proposed_by == user.username {
                        p.muted { "Your proposal: another lead or admin must decide it." }
                    } @else {
                        form.inline method="post" action={ "/review/proposals/" (p.proposal_id) "/decide" } {
                            input type="hidden" name="csrf" value=(user.csrf);
                            input name="note" placeholder="Note (what you checked)";
                            button.primary type="submit" name="decision" value="approve" { "Approve" }
                            button.secondary type="submit" name="decision" value="reject" { "Reject" }
                        }
                    }
                }
            }
        }
    };
    page_response(
        StatusCode::OK,
        layout("Proposals", Some(&user), &state, body),
    )
}

#[derive(Debug, Deserialize)]
pub struct ProposalForm {
    pub csrf: String,
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

pub async fn decide_proposal(
    State(state): State<ReviewState>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<ProposalForm>,
) -> Response {
    if let Err(p) = user.check_csrf(&f.csrf) {
        return error_page(&state, Some(&user), p);
    }
    if let Err(e) = user.require(Role::Lead) {
        return error_page(&state, Some(&user), e);
    }
    let Some(gov) = &state.governance else {
        return error_page(&state, Some(&user), Problem::unavailable());
    };
    let note = (!f.note.trim().is_empty()).then_some(f.note.trim());
    let r = match f.decision.as_str() {
        "approve" => gov.approve(&id, &user.username, note).await,
        "reject" => gov.reject(&id, &user.username, note).await,
        _ => {
            return error_page(
                &state,
                Some(&user),
                Problem::bad_request("decision is approve or reject"),
            )
        }
    };
    match r {
        Ok(p) => Redirect::to(&format!("/review/proposals?decided={}", p.status.as_str()))
            .into_response(),
        Err(vigil_banks::GovError::Decide(vigil_store::DecideProposalError::Rule(r))) => {
            error_page(
                &state,
                Some(&user),
                Problem::new(StatusCode::FORBIDDEN, r.reason(), &r.to_string()),
            )
        }
        Err(vigil_banks::GovError::Decide(vigil_store::DecideProposalError::NotFound(_))) => {
            error_page(
                &state,
                Some(&user),
                Problem::new(StatusCode::NOT_FOUND, "not_found", "No such proposal."),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot apply a proposal");
            error_page(&state, Some(&user), Problem::unavailable())
        }
    }
}

/// A rate with its Wilson 95% interval and sample size.
fn rate_cell(e: &vigil_accountability::Estimate) -> Markup {
    html! {
        (format!("{:.1}%", e.rate * 100.0))
        span.muted { " (95% " (format!("{:.1}–{:.1}%", e.lower * 100.0, e.upper * 100.0)) ", n=" (e.n) ")" }
    }
}

/// The bank overview: what each bank may do, under which charter, how big
/// it is and how often people overturned what its entries caused.
pub async fn banks(State(state): State<ReviewState>, user: User) -> Response {
    let store = &state.store;
    let loaded = async {
        Ok::<_, vigil_store::StoreError>((
            store.banks().await?,
            store.entry_counts().await?,
            store.quarantined_counts().await?,
            store.bank_counts_since_restore().await?,
        ))
    }
    .await;
    let (banks, sizes, quarantined, counts) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the banks");
            return error_page(&state, Some(&user), Problem::unavailable());
        }
    };
    let body = html! {
        section.card {
            h1 { "Banks" }
            p.muted { "Every bank of hashes Vigil matches against. A bank acts automatically only with a charter; entries whose matches people keep overturning are quarantined (their matches come here instead). Decisions count since the last restore." }
            table.compact {
                thead { tr {
                    th { "Bank" } th { "Action" } th { "Status" } th { "Charter" } th { "PDQ threshold" }
                    th { "Labels" } th { "Entries" } th { "Quarantined entries" } th { "Matches" } th { "Upheld" } th { "Overturned" }
                } }
                tbody {
                    @for b in &banks {
                        @let c = counts.get(&b.name).copied().unwrap_or_default();
                        tr {
                            td { strong { (b.name) } @if !b.description.is_empty() { br; span.muted { (b.description) } } }
                            td { span.badge { (b.action.as_str()) } }
                            td { span class={ "badge s-" (b.status.as_str()) } { (b.status.as_str()) } }
                            td { @if b.charter.is_some() { "yes" } @else { span.muted { "none: review only" } } }
                            td { (b.pdq_threshold) }
                            td { (b.labels.join(", ")) }
                            td {
                                @for (_, t, n) in sizes.iter().filter(|(name, _, _)| *name == b.name) {
                                    span.mono { (t) "=" (n) } " "
                                }
                            }
                            td { (quarantined.get(&b.name).copied().unwrap_or(0)) }
                            td { (c.matches) }
                            td { (c.upheld) }
                            td { (c.overturned + c.disputed) @if c.disputed > 0 { span.muted { " (" (c.disputed) " disputed)" } } }
                        }
                    }
                }
            }
            @if banks.is_empty() { p.empty { "No banks yet." } }
        }
    };
    page_response(StatusCode::OK, layout("Banks", Some(&user), &state, body))
}

/// The metrics summary: the queue now, verdicts so far, and how often
/// Vigil was wrong (blind-audit estimates with their intervals).
pub async fn metrics_summary(State(state): State<ReviewState>, user: User) -> Response {
    let store = &state.store;
    let loaded = async {
        Ok::<_, vigil_store::StoreError>((
            store.queue_stats().await?,
            store.verdict_counts().await?,
            store
                .accountability_estimates(&vigil_store::accountability::Period::default())
                .await?,
        ))
    }
    .await;
    let (queue, verdicts, est) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the summary");
            return error_page(&state, Some(&user), Problem::unavailable());
        }
    };
    let rows = |list: &[vigil_accountability::GroupEstimate]| -> Markup {
        html! {
            @if list.is_empty() { p.empty { "No audited items yet." } }
            @else {
                table.compact {
                    thead { tr { th { "By" } th { "Group" } th { "Rate (Wilson 95% interval, sample)" } } }
                    tbody {
                        @for g in list.iter().filter(|g| g.by == "all" || g.by == "bank" || g.by == "surface") {
                            tr { td { (g.by) } td { (g.group) } td { (rate_cell(&g.estimate)) } }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        section.card {
            h1 { "Summary" }
            h2 { "Queue now" }
            table.compact { tbody {
                tr { th { "Open" } td { (queue.open) } }
                tr { th { "Escalated to leads" } td { (queue.open_escalated) } }
                tr { th { "Appeals waiting" } td { (queue.open_appeals) } }
                tr { th { "Claimed" } td { (queue.claimed) } }
                tr { th { "Decided" } td { (queue.decided) } }
                tr { th { "Oldest open item waiting" } td { @match &queue.oldest_open { Some(t) => (age(t)), None => "—" } } }
            } }
            h2 { "Verdicts" }
            table.compact { tbody {
                @for (action, n) in &verdicts { tr { th { (action) } td { (n) } } }
            } }
            h2 { "False-positive rate of automated actions" }
            p.muted { "Overturned share of blind-audited automated actions." }
            (rows(&est.false_positive))
            h2 { "Miss rate of passed uploads" }
            p.muted { "Violating share of blind-audited passes." }
            (rows(&est.miss))
            h2 { "Appeal reversal rate" }
            p.muted { "Reversed share of decided appeals: only contested removals are appealed, so read it beside the audited rate, not instead of it." }
            (rows(&est.appeal_overturn))
            p.muted { "The same numbers, over time and with alerts, are on the Grafana dashboards; the transparency report publishes them." }
        }
    };
    page_response(StatusCode::OK, layout("Summary", Some(&user), &state, body))
}
