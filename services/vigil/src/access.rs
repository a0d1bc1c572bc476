//! The access layer (docs/security.md): every request to every router a
//! process serves passes through [`layer`] before any handler runs. It
//! establishes the principal (a platform's API key, a review account's
//! session, or nobody), looks the route up in `vigil_authz::ROUTES` by its
//! method and matched path, and refuses what the row does not allow: 401
//! for nobody, 403 for the wrong principal, 403 for a route with no row.
//! Platform keys pay their rate token and body limits here, after the
//! scope check and before their body is read (docs/hardening.md). The
//! principal is left in the request's extensions for the handlers.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::{Arc, LazyLock};
use vigil_authz::{Owner, Principal, Refusal, Scope};
use vigil_hook::auth::Rejection;
use vigil_store::Store;

static REFUSALS: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "vigil_access_refusals_total",
        "Requests refused by the access layer, by reason (unauthenticated, forbidden, no_access_rule) and principal kind (anonymous, platform, or the account role).",
        &["reason", "principal"]
    )
    .expect("metric registers once")
});

/// The platform name of requests to the hook when it runs without
/// authentication (no API keys: the local demo).
pub const UNAUTHENTICATED_PLATFORM: &str = "default";

/// What the layer needs: the database (sessions) and the platform keys.
pub struct Access {
    pub store: Store,
    /// The hook's keys and per-key limits; `None` when the hook runs
    /// without authentication, and every request to a hook route is then
    /// taken as the [`UNAUTHENTICATED_PLATFORM`] with the default scopes.
    pub keys: Option<vigil_hook::Guard>,
}

/// The principal of a hook request when the hook has no keys.
fn unauthenticated_platform() -> Principal {
    Principal::Platform {
        key_id: String::new(),
        platform: UNAUTHENTICATED_PLATFORM.to_string(),
        scopes: Scope::DEFAULT.to_vec(),
    }
}

fn refuse(why: Refusal, p: &Principal, path: &str) -> Response {
    REFUSALS.with_label_values(&[why.kind(), p.kind()]).inc();
    // The reviewer UI's pages send people to the sign-in form instead.
    if why == Refusal::Unauthenticated && path.starts_with("/review") {
        return Redirect::to("/review/login").into_response();
    }
    let (status, detail) = match why {
        Refusal::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "sign in first: a platform API key, or a review account's bearer token or session cookie",
        ),
        Refusal::Forbidden => (
            StatusCode::FORBIDDEN,
            "these credentials do not allow this route (docs/security.md lists who may call what)",
        ),
        Refusal::NoRule => (
            StatusCode::FORBIDDEN,
            "this route has no access rule, so nobody may call it",
        ),
    };
    let body = serde_json::json!({
        "type": format!("urn:vigil:problem:{}", why.kind()),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"vigil\""),
        );
    }
    r
}

fn unavailable() -> Response {
    let body = serde_json::json!({
        "type": "urn:vigil:problem:unavailable",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the database is unavailable; retry shortly",
    });
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// Decide whether the request may reach its handler (see the module docs).
pub async fn layer(State(access): State<Arc<Access>>, mut req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        // No route matched: the router answers 404.
        return next.run(req).await;
    };
    let method = if req.method() == Method::HEAD {
        "GET".to_string()
    } else {
        req.method().as_str().to_string()
    };
    let Some(row) = vigil_authz::route(&method, &path) else {
        // A known path with another method: the router answers 405.
        if vigil_authz::ROUTES.iter().any(|r| r.path == path) {
            return next.run(req).await;
        }
        return refuse(Refusal::NoRule, &Principal::Anonymous, &path);
    };
    let mut admitted = None;
    let principal = match vigil_hook::guard::platform_credentials(req.headers()) {
        Some(Err(rejection)) => return vigil_hook::guard::refuse(rejection),
        Some(Ok(creds)) => match &access.keys {
            Some(guard) => {
                let key = match guard.identify(&creds) {
                    Ok(k) => k,
                    Err(rejection) => return vigil_hook::guard::refuse(rejection),
                };
                let principal = Principal::Platform {
                    key_id: key.id.clone(),
                    platform: key.platform.clone(),
                    scopes: key.scopes.clone(),
                };
                // Scopes first: a key that may not call this route never
                // gets its body read.
                if !row.need.allows(&principal) {
                    return refuse(row.need.refusal(&principal), &principal, &path);
                }
                match guard.admit(&key, &creds, req).await {
                    Ok((r, paid)) => {
                        req = r;
                        admitted = Some(paid);
                    }
                    Err(resp) => return resp,
                }
                principal
            }
            // The hook runs without keys: credentials are not looked at.
            None if row.owner == Owner::Hook => unauthenticated_platform(),
            None => Principal::Anonymous,
        },
        None => match vigil_review::auth::request_token(req.headers()) {
            Some((token, _)) => {
                match access
                    .store
                    .session(&vigil_review::auth::token_hash(&token))
                    .await
                {
                    Ok(Some(s)) => Principal::Account {
                        username: s.username,
                        role: s.role,
                    },
                    Ok(None) => Principal::Anonymous,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read a session");
                        return unavailable();
                    }
                }
            }
            None => Principal::Anonymous,
        },
    };
    let principal = match (principal, row.owner, &access.keys) {
        // The hook runs without keys: its routes are open (the local demo).
        (Principal::Anonymous, Owner::Hook, None) => unauthenticated_platform(),
        // The hook's own answers: no credentials, or none a platform can
        // hold (a review session's token is not a key).
        (Principal::Anonymous, Owner::Hook, Some(_)) => {
            let r = if req.headers().contains_key(header::AUTHORIZATION) {
                Rejection::Malformed
            } else {
                Rejection::Missing
            };
            return vigil_hook::guard::refuse(r);
        }
        (p, _, _) => p,
    };
    if !row.need.allows(&principal) {
        return refuse(row.need.refusal(&principal), &principal, &path);
    }
    req.extensions_mut().insert(principal);
    let resp = next.run(req).await;
    // Body slot and memory are given back once the answer is ready.
    drop(admitted);
    resp
}
