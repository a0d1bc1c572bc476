//! Accounts and sessions: argon2id password hashes, random session tokens
//! (only their SHA-256 is stored), a per-session CSRF token that every
//! cookie-authenticated form must echo, bearer tokens for API clients, and
//! a sign-in rate limit per account.

use crate::problem::Problem;
use crate::ReviewState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vigil_store::{Role, Store};

/// The session cookie's name.
pub const COOKIE: &str = "vigil_session";

/// Shortest password `add_user` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("user names are 1 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    BadUsername,
    #[error("passwords need at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
}

pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Create a user or reset one's role and password (the `vigil user add` CLI).
pub async fn add_user(
    store: &Store,
    username: &str,
    role: Role,
    password: &str,
) -> Result<bool, AuthError> {
    if !valid_username(username) {
        return Err(AuthError::BadUsername);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    let password = password.to_string();
    let phc = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))??;
    Ok(store.upsert_user(username, role, &phc).await?)
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sign-in failures per account within a window.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    pub const MAX_FAILURES: u32 = 5;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    pub fn blocked(&self, username: &str) -> bool {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.get(username)
            .is_some_and(|(n, since)| *n >= Self::MAX_FAILURES && since.elapsed() < Self::WINDOW)
    }

    pub fn failed(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < Self::WINDOW);
        }
        let e = map
            .entry(username.to_string())
            .or_insert((0, Instant::now()));
        if e.1.elapsed() >= Self::WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(username);
    }
}

/// A signed-in user, from the session cookie or an `Authorization: Bearer`
/// token.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub role: Role,
    pub csrf: String,
    /// True for bearer tokens: no cookie, so no CSRF check is needed.
    pub bearer: bool,
}

impl User {
    /// Check a form's CSRF token (cookie sessions only).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), Problem> {
        if self.bearer || constant_time_eq(&self.csrf, submitted) {
            Ok(())
        } else {
            crate::metrics::REFUSALS.with_label_values(&["csrf"]).inc();
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "The form's CSRF token is missing or wrong; reload the page and try again.",
            ))
        }
    }

    pub fn require(&self, role: Role) -> Result<(), Problem> {
        if self.role >= role {
            Ok(())
        } else {
            crate::metrics::REFUSALS
                .with_label_values(&["forbidden"])
                .inc();
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("This needs the {role} role."),
            ))
        }
    }
}

/// The token a request carries, and whether it is a bearer token.
pub fn request_token(parts: &Parts) -> Option<(String, bool)> {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some((t.trim().to_string(), true));
        }
    }
    for v in parts.headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == COOKIE && !val.is_empty() {
                    return Some((val.to_string(), false));
                }
            }
        }
    }
    None
}

/// Why a request has no user: pages redirect to the sign-in form, the API
/// answers 401.
pub struct Unauthenticated {
    page: bool,
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        if self.page {
            Redirect::to("/review/login").into_response()
        } else {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in first (session cookie or bearer token).",
            )
            .into_response()
        }
    }
}

impl FromRequestParts<ReviewState> for User {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ReviewState,
    ) -> Result<Self, Self::Rejection> {
        let page = parts.uri.path().starts_with("/review");
        let Some((token, bearer)) = request_token(parts) else {
            return Err(Unauthenticated { page }.into_response());
        };
        match state.store.session(&token_hash(&token)).await {
            Ok(Some(s)) => Ok(User {
                username: s.username,
                role: s.role,
                csrf: s.csrf_token,
                bearer,
            }),
            Ok(None) => Err(Unauthenticated { page }.into_response()),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the session");
                Err(Problem::unavailable().into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn usernames_and_tokens() {
        assert!(valid_username("alice.b-1_x"));
        assert!(!valid_username("Alice"));
        assert!(!valid_username("a b"));
        assert!(!valid_username(""));
        assert_ne!(random_token(), random_token());
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn limiter_blocks_after_failures() {
        let l = LoginLimiter::default();
        for _ in 0..LoginLimiter::MAX_FAILURES {
            assert!(!l.blocked("a"));
            l.failed("a");
        }
        assert!(l.blocked("a"));
        assert!(!l.blocked("b"));
        l.succeeded("a");
        assert!(!l.blocked("a"));
    }
}
