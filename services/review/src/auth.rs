//! Accounts and sessions: argon2id password hashes, random session tokens
//! (only their SHA-256 is stored), a per-session CSRF token that every
//! cookie-authenticated form must echo, bearer tokens for API clients, and
//! sign-in limits per account, per client address and per pair, counted in
//! the database before the password is checked ([`SignInGate`]).

use crate::problem::Problem;
use crate::ReviewState;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::Semaphore;
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

thread_local! {
    /// Argon2's working memory (19 MiB at the default cost), allocated once
    /// per thread that checks passwords and reused: freeing and allocating
    /// it per check left each allocator arena holding several copies.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` matches the argon2 PHC string `phc`, in constant
/// time, with this thread's reused working memory.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (h.hash, h.salt) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(&h),
        argon2::Algorithm::try_from(h.algorithm),
    ) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let hashed = ARGON2_MEMORY.with(|m| {
        let mut blocks = m.borrow_mut();
        blocks.resize(params.block_count(), argon2::Block::default());
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..])
    });
    hashed.is_ok() && bool::from(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()))
}

/// A password hash no password matches in practice, checked for unknown
/// accounts so that a sign-in costs the same whether the account exists.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        hash_password(&random_token()).expect("argon2 hashes a random password")
    });
    &DECOY
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

/// How many sign-in attempts are allowed per window: per account (from
/// anywhere), per client address (any account, known or not) and per
/// account and address together. Every attempt counts, before the password
/// is checked; a successful sign-in clears its account's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    pub per_account: u32,
    pub per_address: u32,
    pub per_account_and_address: u32,
    pub window: Duration,
    /// Password checks (argon2id, 19 MiB each) run at once, process-wide.
    pub concurrent_checks: usize,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            per_account: 100,
            per_address: 30,
            per_account_and_address: 5,
            window: Duration::from_secs(15 * 60),
            concurrent_checks: 2,
        }
    }
}

/// The sign-in gate: attempt counters in the database (shared by every
/// replica) and a bound on password checks running at once, so sign-in
/// attempts cost the attacker a request each and the server a bounded
/// amount of memory (docs/hardening.md).
pub struct SignInGate {
    pub limits: SignInLimits,
    checks: Semaphore,
    /// The threads password checks run on: a fixed few, so each keeps one
    /// allocator arena with one argon2 buffer, instead of every thread of
    /// the blocking pool keeping a 19 MiB buffer of its own after use.
    threads: rayon::ThreadPool,
}

/// Why a sign-in attempt was refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// Over one of the [`SignInLimits`] counters.
    TooManyAttempts,
    /// Every password-check slot stayed busy for the wait allowed.
    Busy,
}

impl SignInGate {
    pub fn new(limits: SignInLimits) -> SignInGate {
        let n = limits.concurrent_checks.max(1);
        SignInGate {
            limits,
            checks: Semaphore::new(n),
            threads: rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("vigil-password-{i}"))
                .build()
                .expect("can start the password-check threads"),
        }
    }

    fn keys(username: &str, addr: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("account:{username}")];
        if let Some(a) = addr {
            keys.push(format!("address:{a}"));
            keys.push(format!("pair:{username}|{a}"));
        }
        keys
    }

    /// Count this attempt against every counter it falls under; refuse it
    /// when any is over its limit.
    pub async fn admit(
        &self,
        store: &Store,
        username: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Problem> {
        let l = self.limits;
        for key in Self::keys(username, addr) {
            let limit = if key.starts_with("account:") {
                l.per_account
            } else if key.starts_with("address:") {
                l.per_address
            } else {
                l.per_account_and_address
            };
            if store.count_signin_attempt(&key, l.window).await? > limit {
                crate::metrics::LOGINS
                    .with_label_values(&["rate_limited"])
                    .inc();
                return Err(throttled(Throttled::TooManyAttempts, l.window));
            }
        }
        Ok(())
    }

    /// Run `check` (a password verification) when a slot is free, waiting
    /// at most ten seconds for one.
    pub async fn check<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let permit = tokio::time::timeout(Duration::from_secs(10), self.checks.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                crate::metrics::LOGINS.with_label_values(&["busy"]).inc();
                throttled(Throttled::Busy, self.limits.window)
            })?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.threads.spawn(move || {
            let _ = tx.send(check());
        });
        let out = rx.await.map_err(|_| Problem::unavailable())?;
        drop(permit);
        Ok(out)
    }

    /// A successful sign-in clears the counters of its account.
    pub async fn succeeded(
        &self,
        store: &Store,
        username: &str,
        addr: Option<IpAddr>,
    ) -> Result<(), Problem> {
        let keys = Self::keys(username, addr);
        let account_keys: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| !k.starts_with("address:"))
            .collect();
        store.clear_signin_attempts(&account_keys).await?;
        Ok(())
    }
}

fn throttled(why: Throttled, window: Duration) -> Problem {
    match why {
        Throttled::TooManyAttempts => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!(
                "Too many sign-in attempts for this account or from this address; wait {} minutes.",
                window.as_secs().div_ceil(60)
            ),
        )
        .with_retry_after(window.as_secs().min(u64::from(u32::MAX)) as u32),
        Throttled::Busy => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Too many sign-ins at once; try again in a few seconds.",
        )
        .with_retry_after(2),
    }
}

/// Networks (`10.0.0.0/8`, `fd00::/8`, or one address) of reverse proxies
/// whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an IP address or network (a.b.c.d/n)");
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, w1), (x, w2)) = (bits(self.addr), bits(ip.to_canonical()));
        if w1 != w2 {
            return false;
        }
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        };
        net & mask == x & mask
    }
}

/// The client's address: the peer of the connection, or, when the peer is
/// a trusted proxy, the nearest `X-Forwarded-For` entry that is not one.
pub fn client_addr(parts: &Parts, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer),
    )
}

/// The client address of a request, for sign-in limits.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<ReviewState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ReviewState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(
            parts,
            &state.config.trusted_proxies,
        )))
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
pub fn request_token(headers: &axum::http::HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some((t.trim().to_string(), true));
        }
    }
    for v in headers.get_all(header::COOKIE) {
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
        let Some((token, bearer)) = request_token(&parts.headers) else {
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
    fn networks_and_client_addresses() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.9.9.9".parse().unwrap()));
        let one: IpNet = "192.168.1.7".parse().unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("example".parse::<IpNet>().is_err());

        let req = |peer: &str, xff: Option<&str>| {
            let mut b = axum::http::Request::builder();
            if let Some(x) = xff {
                b = b.header("x-forwarded-for", x);
            }
            let (mut parts, ()) = b.body(()).unwrap().into_parts();
            parts.extensions.insert(axum::extract::ConnectInfo(
                peer.parse::<std::net::SocketAddr>().unwrap(),
            ));
            parts
        };
        let trusted = vec![net];
        // An untrusted peer's header is ignored.
        let p = req("203.0.113.9:5000", Some("1.2.3.4"));
        assert_eq!(client_addr(&p, &trusted), "203.0.113.9".parse().ok());
        // A trusted proxy: the nearest entry that is not a proxy.
        let p = req("10.0.0.2:5000", Some("1.2.3.4, 198.51.100.7, 10.0.0.3"));
        assert_eq!(client_addr(&p, &trusted), "198.51.100.7".parse().ok());
        let p = req("10.0.0.2:5000", None);
        assert_eq!(client_addr(&p, &trusted), "10.0.0.2".parse().ok());
    }
}
