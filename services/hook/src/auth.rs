//! Who may call the hook: per-platform API keys, HMAC-SHA256 signed
//! requests with a timestamp and a replay window, and per-key rate and size
//! limits. The checks here are pure (no HTTP, no clock of their own: the
//! caller passes `now`), so each rejection is unit-tested; `middleware`
//! applies them to requests and answers problem+json.
//!
//! Two ways to authenticate, both with the same key:
//! - `Authorization: Bearer <key_id>.<secret>` (the secret is compared in
//!   constant time);
//! - `X-Vigil-Key: <key_id>`, `X-Vigil-Timestamp: <unix seconds>`,
//!   `X-Vigil-Signature: v1=<hex>` where the signature is
//!   HMAC-SHA256(secret, `"v1\n" + timestamp + "\n" + METHOD + "\n" + path_and_query + "\n" + body`).
//!   Timestamps outside ±`replay_window` are stale; a signature seen within
//!   the window is a replay.
//!
//! Keys are lines of `key_id platform secret [max_bytes] [scope…]` from a
//! file or the `VIGIL_HOOK_KEYS` environment variable (never the TOML).
//! Scopes (`uploads:write`, `uploads:read`, `check`, `banks:read`,
//! `appeals:write`) say what the key may do; a key that names none gets
//! `uploads:write uploads:read check`. Several keys may name the same
//! platform: that is how a key is rotated.
//!
//! The same primitive signs the other direction, the action webhook Vigil
//! calls on the platform: [`sign_webhook`] and [`verify_webhook`], over
//! `"v1\n" + timestamp + "\n" + body`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
pub use vigil_authz::Scope;

type HmacSha256 = Hmac<Sha256>;

/// One platform key.
#[derive(Clone)]
pub struct ApiKey {
    pub id: String,
    pub platform: String,
    secret: Vec<u8>,
    /// Largest request body this key may send (defaults to the global limit).
    pub max_bytes: Option<usize>,
    /// What the key may do (docs/security.md).
    pub scopes: Vec<Scope>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("platform", &self.platform)
            .field("secret", &"<redacted>")
            .field("max_bytes", &self.max_bytes)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFileError {
    #[error("line {line}: expected `key_id platform secret [max_bytes] [scope…]`")]
    Syntax { line: usize },
    #[error("line {line}: platform names are 1 to 64 characters of a-z, 0-9, '-' or '_'")]
    BadPlatform { line: usize },
    #[error("line {line}: unknown scope {scope:?} (uploads:write, uploads:read, check, banks:read, appeals:write)")]
    BadScope { line: usize, scope: String },
    #[error("line {line}: key ids are 1 to 64 characters of A-Z, a-z, 0-9, '-' or '_'")]
    BadKeyId { line: usize },
    #[error("line {line}: secrets must be at least 32 characters")]
    WeakSecret { line: usize },
    #[error("line {line}: max_bytes must be a positive integer")]
    BadMaxBytes { line: usize },
    #[error("line {line}: key id {id:?} appears twice")]
    Duplicate { line: usize, id: String },
}

/// Parse key lines (`#` comments and blank lines skipped; `,` also
/// separates keys, for a one-line environment variable).
pub fn parse_keys(text: &str) -> Result<Vec<ApiKey>, KeyFileError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, raw) in text.split(['\n', ',']).enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = l.split_whitespace().collect();
        if parts.len() < 3 {
            return Err(KeyFileError::Syntax { line });
        }
        let id = parts[0];
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(KeyFileError::BadKeyId { line });
        }
        if !valid_platform(parts[1]) {
            return Err(KeyFileError::BadPlatform { line });
        }
        if parts[2].len() < 32 {
            return Err(KeyFileError::WeakSecret { line });
        }
        let mut max_bytes = None;
        let mut scopes = Vec::new();
        for (i, extra) in parts[3..].iter().enumerate() {
            if i == 0 && extra.bytes().all(|b| b.is_ascii_digit()) {
                match extra.parse::<usize>() {
                    Ok(n) if n > 0 => max_bytes = Some(n),
                    _ => return Err(KeyFileError::BadMaxBytes { line }),
                }
                continue;
            }
            let scope = Scope::parse(extra).ok_or_else(|| KeyFileError::BadScope {
                line,
                scope: extra.to_string(),
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            scopes = Scope::DEFAULT.to_vec();
        }
        if !seen.insert(id.to_string()) {
            return Err(KeyFileError::Duplicate {
                line,
                id: id.to_string(),
            });
        }
        out.push(ApiKey {
            id: id.to_string(),
            platform: parts[1].to_string(),
            secret: parts[2].as_bytes().to_vec(),
            max_bytes,
            scopes,
        });
    }
    Ok(out)
}

/// Whether `name` may name a platform: 1 to 64 of a-z, 0-9, '-' or '_'.
/// Platforms are tenants (their uploads are kept apart), so the name is
/// part of stored keys and must be plain.
pub fn valid_platform(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Limits applied per key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuthSettings {
    /// Allowed clock skew and replay memory, in seconds.
    pub replay_window_secs: i64,
    /// Sustained requests per second per key.
    pub rate_per_s: f64,
    /// Requests a key may send at once above the sustained rate.
    pub burst: f64,
    /// Request bodies a key may have in flight at once (taken before the
    /// body is read, so unverified bodies cannot pile up).
    pub max_bodies_per_key: usize,
}

/// Why a request was refused. `kind()` is a bounded metric label.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    Missing,
    Malformed,
    UnknownKey,
    BadSecret,
    BadSignature,
    StaleTimestamp,
    Replayed,
    RateLimited {
        retry_after_secs: u32,
    },
    TooLarge {
        limit: usize,
    },
    /// The key already has `max_bodies_per_key` bodies in flight.
    TooManyInFlight,
}

impl Rejection {
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Missing => "missing_credentials",
            Rejection::Malformed => "malformed_credentials",
            Rejection::UnknownKey => "unknown_key",
            Rejection::BadSecret => "bad_secret",
            Rejection::BadSignature => "bad_signature",
            Rejection::StaleTimestamp => "stale_timestamp",
            Rejection::Replayed => "replayed_request",
            Rejection::RateLimited { .. } => "rate_limited",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::TooManyInFlight => "too_many_in_flight",
        }
    }
}

/// Credentials as they arrived, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials<'a> {
    Bearer(&'a str),
    Signed {
        key_id: &'a str,
        timestamp: &'a str,
        signature: &'a str,
    },
}

/// The signature a client computes: hex of HMAC-SHA256 over the canonical
/// string. Public so clients (loadgen, tests) sign the same way.
pub fn sign(
    secret: &[u8],
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    v1_signature(
        secret,
        &canonical_head(timestamp, method, path_and_query),
        body,
    )
}

fn canonical_head(timestamp: i64, method: &str, path_and_query: &str) -> String {
    format!("v1\n{timestamp}\n{method}\n{path_and_query}\n")
}

/// `v1=` and the hex of HMAC-SHA256(secret, head + body).
fn v1_signature(secret: &[u8], head: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(head.as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The one check of a `v1` signature, for both directions: `timestamp`
/// within `window_secs` of `now`, then `signature` (`v1=<hex>`) equal in
/// constant time to HMAC-SHA256(secret, head(timestamp) + body). Returns
/// the timestamp and the signature's bytes.
fn check_v1(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    head: impl Fn(i64) -> String,
    body: &[u8],
    now: i64,
    window_secs: i64,
) -> Result<(i64, Vec<u8>), Rejection> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| Rejection::Malformed)?;
    if (now - ts).abs() > window_secs {
        return Err(Rejection::StaleTimestamp);
    }
    let hex_sig = signature
        .trim()
        .strip_prefix("v1=")
        .ok_or(Rejection::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| Rejection::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(head(ts).as_bytes());
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| Rejection::BadSignature)?;
    Ok((ts, given))
}

fn webhook_head(timestamp: i64) -> String {
    format!("v1\n{timestamp}\n")
}

/// The signature of an action webhook (the other direction: Vigil calls
/// the platform): `v1=` and the hex of HMAC-SHA256(secret,
/// `"v1\n" + timestamp + "\n" + body`). The platform recomputes it with
/// the shared secret (docs/actions.md).
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    v1_signature(secret, &webhook_head(timestamp), body)
}

/// Check an action webhook's signature as a receiver would: the timestamp
/// within `window_secs` of `now`, the signature equal in constant time.
/// Used by the tests' receiver and as the reference for platforms.
pub fn verify_webhook(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    window_secs: i64,
) -> Result<(), Rejection> {
    check_v1(
        secret,
        timestamp,
        signature,
        webhook_head,
        body,
        now,
        window_secs,
    )
    .map(|_| ())
}

/// The parts of a signed request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub timestamp: &'a str,
    pub signature: &'a str,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

struct Bucket {
    tokens: f64,
    updated: f64,
}

/// Keys, the replay memory, the rate buckets and each key's body slots.
pub struct Authenticator {
    keys: HashMap<String, ApiKey>,
    settings: AuthSettings,
    replay: Mutex<ReplayMemory>,
    buckets: Mutex<HashMap<String, Bucket>>,
    body_slots: HashMap<String, Arc<Semaphore>>,
}

/// Signatures seen within the window, oldest first.
#[derive(Default)]
struct ReplayMemory {
    seen: HashSet<[u8; 32]>,
    order: VecDeque<(i64, [u8; 32])>,
}

impl ReplayMemory {
    /// Remember `sig` until `expires`; false when it was already there.
    fn insert(&mut self, sig: [u8; 32], now: i64, expires: i64) -> bool {
        while let Some((exp, old)) = self.order.front().copied() {
            if exp > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&old);
        }
        if !self.seen.insert(sig) {
            return false;
        }
        self.order.push_back((expires, sig));
        true
    }
}

impl Authenticator {
    pub fn new(keys: Vec<ApiKey>, settings: AuthSettings) -> Authenticator {
        let body_slots = keys
            .iter()
            .map(|k| {
                let slots = Semaphore::new(settings.max_bodies_per_key.max(1));
                (k.id.clone(), Arc::new(slots))
            })
            .collect();
        Authenticator {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            settings,
            replay: Mutex::new(ReplayMemory::default()),
            buckets: Mutex::new(HashMap::new()),
            body_slots,
        }
    }

    /// One of `key`'s body slots, held while its request body is read and
    /// handled; [`Rejection::TooManyInFlight`] when all are taken.
    pub fn body_slot(&self, key: &ApiKey) -> Result<OwnedSemaphorePermit, Rejection> {
        self.body_slots
            .get(&key.id)
            .ok_or(Rejection::UnknownKey)?
            .clone()
            .try_acquire_owned()
            .map_err(|_| Rejection::TooManyInFlight)
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Check credentials that need no body (bearer) or everything but the
    /// body (signed: call [`Authenticator::verify_signed`] once the body is
    /// read). Returns the key.
    pub fn identify(&self, creds: &Credentials<'_>) -> Result<&ApiKey, Rejection> {
        match creds {
            Credentials::Bearer(token) => {
                let (id, secret) = token.split_once('.').ok_or(Rejection::Malformed)?;
                let key = self.keys.get(id).ok_or(Rejection::UnknownKey)?;
                if bool::from(key.secret.as_slice().ct_eq(secret.as_bytes())) {
                    Ok(key)
                } else {
                    Err(Rejection::BadSecret)
                }
            }
            Credentials::Signed { key_id, .. } => {
                self.keys.get(*key_id).ok_or(Rejection::UnknownKey)
            }
        }
    }

    /// Verify a signed request: timestamp within the window, signature
    /// (constant-time), not seen before.
    pub fn verify_signed(
        &self,
        key: &ApiKey,
        req: &SignedRequest<'_>,
        now: i64,
    ) -> Result<(), Rejection> {
        let SignedRequest {
            timestamp,
            signature,
            method,
            path_and_query,
            body,
        } = *req;
        let window = self.settings.replay_window_secs;
        let (ts, given) = check_v1(
            &key.secret,
            timestamp,
            signature,
            |ts| canonical_head(ts, method, path_and_query),
            body,
            now,
            window,
        )?;
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&given[..32.min(given.len())]);
        // Remembered until the timestamp itself leaves the window.
        let fresh = self
            .replay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fingerprint, now, ts + window + 1);
        if fresh {
            Ok(())
        } else {
            Err(Rejection::Replayed)
        }
    }

    /// Take one token from the key's bucket at time `now` (seconds, any
    /// monotonic origin).
    pub fn take_token(&self, key: &ApiKey, now: f64) -> Result<(), Rejection> {
        let s = self.settings;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(key.id.clone()).or_insert(Bucket {
            tokens: s.burst,
            updated: now,
        });
        let elapsed = (now - b.updated).max(0.0);
        b.tokens = (b.tokens + elapsed * s.rate_per_s).min(s.burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = if s.rate_per_s > 0.0 {
                ((1.0 - b.tokens) / s.rate_per_s).ceil().max(1.0)
            } else {
                60.0
            };
            Err(Rejection::RateLimited {
                retry_after_secs: wait.min(3600.0) as u32,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn auth() -> Authenticator {
        let keys = parse_keys(&format!(
            "# rotation: two keys for one platform\nk1 acme {SECRET}\nk2 acme {SECRET}XYZ 1000\n"
        ))
        .unwrap();
        Authenticator::new(
            keys,
            AuthSettings {
                replay_window_secs: 300,
                rate_per_s: 1.0,
                burst: 2.0,
                max_bodies_per_key: 2,
            },
        )
    }

    #[test]
    fn key_file_errors_are_typed() {
        assert_eq!(
            parse_keys("k1 acme").unwrap_err(),
            KeyFileError::Syntax { line: 1 }
        );
        assert_eq!(
            parse_keys("k/1 acme 0123456789abcdef0123456789abcdef").unwrap_err(),
            KeyFileError::BadKeyId { line: 1 }
        );
        assert_eq!(
            parse_keys("k1 acme short").unwrap_err(),
            KeyFileError::WeakSecret { line: 1 }
        );
        assert_eq!(
            parse_keys(&format!("k1 acme {SECRET} 0")).unwrap_err(),
            KeyFileError::BadMaxBytes { line: 1 }
        );
        assert!(matches!(
            parse_keys(&format!("k1 a {SECRET}\nk1 b {SECRET}")).unwrap_err(),
            KeyFileError::Duplicate { line: 2, .. }
        ));
        let keys = parse_keys(&format!("k1 a {SECRET}, k2 b {SECRET} 99")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].max_bytes, Some(99));
        assert_eq!(keys[0].scopes, Scope::DEFAULT.to_vec());
        let keys = parse_keys(&format!(
            "k1 a {SECRET} banks:read check\nk2 b {SECRET} 99 uploads:write"
        ))
        .unwrap();
        assert_eq!(keys[0].scopes, vec![Scope::BanksRead, Scope::Check]);
        assert_eq!(keys[0].max_bytes, None);
        assert_eq!(
            (keys[1].max_bytes, keys[1].scopes.clone()),
            (Some(99), vec![Scope::UploadsWrite])
        );
        assert!(matches!(
            parse_keys(&format!("k1 a {SECRET} banks:write")).unwrap_err(),
            KeyFileError::BadScope { line: 1, .. }
        ));
        assert_eq!(
            parse_keys(&format!("k1 Acme/Corp {SECRET}")).unwrap_err(),
            KeyFileError::BadPlatform { line: 1 }
        );
        assert!(
            !format!("{:?}", keys[0]).contains(SECRET),
            "secrets never print"
        );
    }

    #[test]
    fn bearer_keys_and_rotation() {
        let a = auth();
        let k = a
            .identify(&Credentials::Bearer(&format!("k1.{SECRET}")))
            .unwrap();
        assert_eq!(k.platform, "acme");
        let k2 = a
            .identify(&Credentials::Bearer(&format!("k2.{SECRET}XYZ")))
            .unwrap();
        assert_eq!(k2.platform, "acme");
        assert_eq!(
            a.identify(&Credentials::Bearer(&format!("k1.{SECRET}X")))
                .unwrap_err(),
            Rejection::BadSecret
        );
        assert_eq!(
            a.identify(&Credentials::Bearer(&format!("k9.{SECRET}")))
                .unwrap_err(),
            Rejection::UnknownKey
        );
        assert_eq!(
            a.identify(&Credentials::Bearer(SECRET)).unwrap_err(),
            Rejection::Malformed
        );
    }

    #[test]
    fn signatures_timestamps_and_replays() {
        let a = auth();
        let now = 1_800_000_000;
        let key = a
            .identify(&Credentials::Signed {
                key_id: "k1",
                timestamp: "",
                signature: "",
            })
            .unwrap()
            .clone();
        let body = b"hello";
        let sig = sign(SECRET.as_bytes(), now, "POST", "/v1/uploads", body);
        let ts = now.to_string();
        a.verify_signed(
            &key,
            &SignedRequest {
                timestamp: &ts,
                signature: &sig,
                method: "POST",
                path_and_query: "/v1/uploads",
                body,
            },
            now,
        )
        .unwrap();
        // The same request again is a replay.
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &ts,
                    signature: &sig,
                    method: "POST",
                    path_and_query: "/v1/uploads",
                    body
                },
                now + 1
            ),
            Err(Rejection::Replayed)
        );
        // A changed body, path or method breaks the signature.
        let sig2 = sign(SECRET.as_bytes(), now, "POST", "/v1/uploads", body);
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &ts,
                    signature: &sig2,
                    method: "POST",
                    path_and_query: "/v1/uploads",
                    body: b"hellO"
                },
                now
            ),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &ts,
                    signature: &sig2,
                    method: "POST",
                    path_and_query: "/v1/check",
                    body
                },
                now
            ),
            Err(Rejection::BadSignature)
        );
        // Another key's secret does not verify.
        let other = sign(
            b"another secret entirely, 32 chars+",
            now,
            "POST",
            "/x",
            body,
        );
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &ts,
                    signature: &other,
                    method: "POST",
                    path_and_query: "/x",
                    body
                },
                now
            ),
            Err(Rejection::BadSignature)
        );
        // Outside the window either way.
        let old = now - 301;
        let sig_old = sign(SECRET.as_bytes(), old, "POST", "/x", body);
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &old.to_string(),
                    signature: &sig_old,
                    method: "POST",
                    path_and_query: "/x",
                    body
                },
                now
            ),
            Err(Rejection::StaleTimestamp)
        );
        let future = now + 301;
        let sig_f = sign(SECRET.as_bytes(), future, "POST", "/x", body);
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &future.to_string(),
                    signature: &sig_f,
                    method: "POST",
                    path_and_query: "/x",
                    body
                },
                now
            ),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: "soon",
                    signature: &sig,
                    method: "POST",
                    path_and_query: "/x",
                    body
                },
                now
            ),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            a.verify_signed(
                &key,
                &SignedRequest {
                    timestamp: &ts,
                    signature: "deadbeef",
                    method: "POST",
                    path_and_query: "/x",
                    body
                },
                now
            ),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn webhook_signatures_verify_and_reject_changes() {
        let secret = SECRET.as_bytes();
        let now = 1_800_000_000;
        let body = br#"{"action_id":"a1"}"#;
        let sig = sign_webhook(secret, now, body);
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        let ts = now.to_string();
        assert_eq!(
            verify_webhook(secret, &ts, &sig, body, now + 10, 300),
            Ok(())
        );
        assert_eq!(
            verify_webhook(secret, &ts, &sig, br#"{"action_id":"a2"}"#, now, 300),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify_webhook(
                b"another secret of 32 characters..",
                &ts,
                &sig,
                body,
                now,
                300
            ),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify_webhook(secret, &(now + 1).to_string(), &sig, body, now, 300),
            Err(Rejection::BadSignature),
            "the timestamp is signed"
        );
        assert_eq!(
            verify_webhook(secret, &ts, &sig, body, now + 301, 300),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify_webhook(secret, &ts, "deadbeef", body, now, 300),
            Err(Rejection::Malformed)
        );
        // Not the same canonical string as a signed hook request.
        assert_ne!(sig, sign(secret, now, "POST", "/", body));
    }

    #[test]
    fn replay_memory_forgets_after_the_window() {
        let mut m = ReplayMemory::default();
        assert!(m.insert([1; 32], 0, 10));
        assert!(!m.insert([1; 32], 5, 15));
        // Once expired, the entry is dropped (the timestamp check rejects it anyway).
        assert!(m.insert([1; 32], 11, 21));
        assert_eq!(m.order.len(), 1);
    }

    #[test]
    fn rate_limit_per_key() {
        let a = auth();
        let k1 = a.keys.get("k1").unwrap().clone();
        let k2 = a.keys.get("k2").unwrap().clone();
        assert!(a.take_token(&k1, 0.0).is_ok());
        assert!(a.take_token(&k1, 0.0).is_ok());
        assert_eq!(
            a.take_token(&k1, 0.0),
            Err(Rejection::RateLimited {
                retry_after_secs: 1
            })
        );
        // Another key has its own bucket.
        assert!(a.take_token(&k2, 0.0).is_ok());
        // One second later one more token.
        assert!(a.take_token(&k1, 1.0).is_ok());
        assert!(a.take_token(&k1, 1.0).is_err());
    }

    #[test]
    fn body_slots_per_key() {
        let a = auth();
        let k1 = a.keys.get("k1").unwrap().clone();
        let k2 = a.keys.get("k2").unwrap().clone();
        let first = a.body_slot(&k1).unwrap();
        let _second = a.body_slot(&k1).unwrap();
        assert_eq!(a.body_slot(&k1).unwrap_err(), Rejection::TooManyInFlight);
        // Another key has its own slots.
        assert!(a.body_slot(&k2).is_ok());
        // A finished request gives its slot back.
        drop(first);
        assert!(a.body_slot(&k1).is_ok());
    }
}
