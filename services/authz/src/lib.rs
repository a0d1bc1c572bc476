//! Who may call what (docs/security.md): the principals a request can
//! carry, the account roles and API-key scopes that entitle them, and
//! [`ROUTES`], the one table of every HTTP route Vigil serves with its
//! owner and the access it needs. Pure: no HTTP, no database. The `vigil`
//! crate's access layer applies this table to every request before any
//! handler runs, and refuses a route that has no row.
//!
//! Route-level access is the first gate. Rules that depend on what a
//! request asks for stay with the code that understands it, and are listed
//! in docs/security.md: the two-person rule and the guarded narrowing of
//! banks (`vigil-banks`), who may claim an appealed item (`vigil-store`),
//! tenancy of uploads (`vigil-hook`).
#![forbid(unsafe_code)]

use std::fmt;

/// A review account's role. Reviewers work the queue; leads also take
/// escalations, read the audit log and decide proposals; admins also
/// manage users; auditors only read reports, the change log and metrics.
///
/// Ordered `Auditor < Reviewer < Lead < Admin` for the review work: an
/// auditor holds none of it (`role >= Role::Reviewer` is false).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Auditor,
    Reviewer,
    Lead,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Auditor, Role::Reviewer, Role::Lead, Role::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Reviewer => "reviewer",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may take escalated items.
    pub fn takes_escalations(&self) -> bool {
        *self >= Role::Lead
    }

    /// Whether this role does review work (claims and decides).
    pub fn reviews(&self) -> bool {
        *self >= Role::Reviewer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a platform's API key may do. A key without scopes in the key file
/// gets [`Scope::DEFAULT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `POST /v1/uploads`.
    UploadsWrite,
    /// `GET /v1/uploads/{id}` (its own platform's uploads only).
    UploadsRead,
    /// `POST /v1/check`.
    Check,
    /// Bank reads and hash lookups (capped, rate limited).
    BanksRead,
    /// Filing appeals for the platform's users.
    AppealsWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::UploadsWrite,
        Scope::UploadsRead,
        Scope::Check,
        Scope::BanksRead,
        Scope::AppealsWrite,
    ];

    /// What a key may do when the key file names no scopes: what every
    /// key could do before scopes existed.
    pub const DEFAULT: [Scope; 3] = [Scope::UploadsWrite, Scope::UploadsRead, Scope::Check];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::UploadsWrite => "uploads:write",
            Scope::UploadsRead => "uploads:read",
            Scope::Check => "check",
            Scope::BanksRead => "banks:read",
            Scope::AppealsWrite => "appeals:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a request is from, as the access layer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials, or none that are valid.
    Anonymous,
    /// A platform's API key (the hook's keys). `key_id` is not secret.
    Platform {
        key_id: String,
        platform: String,
        scopes: Vec<Scope>,
    },
    /// A signed-in review account (session cookie or bearer token).
    Account { username: String, role: Role },
}

impl Principal {
    /// A bounded label for metrics: `anonymous`, `platform` or the role.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Platform { .. } => "platform",
            Principal::Account { role, .. } => role.as_str(),
        }
    }

    pub fn has_scope(&self, s: Scope) -> bool {
        matches!(self, Principal::Platform { scopes, .. } if scopes.contains(&s))
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Account { role, .. } => Some(*role),
            _ => None,
        }
    }
}

/// Account roles that may call a route.
pub type Roles = &'static [Role];

/// Every account role.
pub const ANY_ACCOUNT: Roles = &[Role::Auditor, Role::Reviewer, Role::Lead, Role::Admin];
/// The roles that do review work.
pub const REVIEW: Roles = &[Role::Reviewer, Role::Lead, Role::Admin];
/// Leads and admins.
pub const LEADS: Roles = &[Role::Lead, Role::Admin];
/// Leads, admins and auditors: who reads reports and the logs.
pub const OVERSIGHT: Roles = &[Role::Auditor, Role::Lead, Role::Admin];

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, signed in or not.
    Public,
    /// A platform key with this scope.
    Scope(Scope),
    /// A signed-in account with one of these roles.
    Account(Roles),
    /// A platform key with the scope, or an account with one of the roles.
    ScopeOrAccount(Scope, Roles),
}

impl Need {
    /// Whether `p` may call a route that needs this.
    pub fn allows(&self, p: &Principal) -> bool {
        match (self, p) {
            (Need::Public, _) => true,
            (Need::Scope(s), p) => p.has_scope(*s),
            (Need::Account(roles), Principal::Account { role, .. }) => roles.contains(role),
            (Need::Account(_), _) => false,
            (Need::ScopeOrAccount(s, roles), p) => {
                p.has_scope(*s) || p.role().is_some_and(|r| roles.contains(&r))
            }
        }
    }

    /// The answer for a principal this does not allow: sign in first
    /// (401) when nobody is known, else forbidden (403).
    pub fn refusal(&self, p: &Principal) -> Refusal {
        match p {
            Principal::Anonymous => Refusal::Unauthenticated,
            _ => Refusal::Forbidden,
        }
    }

    /// The need in words, for docs/security.md and error messages.
    pub fn describe(&self) -> String {
        let roles = |r: Roles| r.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ");
        match self {
            Need::Public => "anyone".into(),
            Need::Scope(s) => format!("platform key with `{s}`"),
            Need::Account(r) => format!("account: {}", roles(r)),
            Need::ScopeOrAccount(s, r) => {
                format!("platform key with `{s}`, or account: {}", roles(r))
            }
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: no valid credentials.
    Unauthenticated,
    /// 403: valid credentials that do not entitle this route.
    Forbidden,
    /// 403: a route with no row in [`ROUTES`] (fails closed).
    NoRule,
}

impl Refusal {
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Forbidden => "forbidden",
            Refusal::NoRule => "no_access_rule",
        }
    }
}

/// Which part of Vigil answers a route (who owns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `vigil-hook`: the platform's upload path.
    Hook,
    /// `vigil-review`: the reviewer UI and API.
    Review,
    /// `vigil-banks`: banks, lookups, governance.
    Banks,
    /// The process itself: health and metrics.
    Ops,
}

impl Owner {
    pub fn as_str(&self) -> &'static str {
        match self {
            Owner::Hook => "hook",
            Owner::Review => "review",
            Owner::Banks => "banks",
            Owner::Ops => "ops",
        }
    }
}

/// One route: method, path as the router declares it, owner, need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub owner: Owner,
    pub need: Need,
    /// What it is for, in a few words.
    pub what: &'static str,
}

const fn r(
    method: &'static str,
    path: &'static str,
    owner: Owner,
    need: Need,
    what: &'static str,
) -> Route {
    Route {
        method,
        path,
        owner,
        need,
        what,
    }
}

use Need::{Account, Public, ScopeOrAccount};
use Owner::{Banks, Hook, Ops, Review};

/// Every route Vigil serves. The access layer looks each request up here
/// by its method and matched path; `services/vigil/tests/access.rs` builds
/// the routers' own route lists and fails when one has no row, and sends
/// every row a request from every kind of principal.
pub const ROUTES: &[Route] = &[
    // The process.
    r("GET", "/healthz", Ops, Public, "liveness"),
    r(
        "GET",
        "/readyz",
        Ops,
        Public,
        "readiness (database reachable)",
    ),
    r(
        "GET",
        "/metrics",
        Ops,
        Public,
        "Prometheus metrics (no user data; keep the port internal)",
    ),
    // The platform's upload path.
    r(
        "POST",
        "/v1/uploads",
        Hook,
        Need::Scope(Scope::UploadsWrite),
        "submit an upload",
    ),
    r(
        "GET",
        "/v1/uploads/{id}",
        Hook,
        Need::Scope(Scope::UploadsRead),
        "an upload's status and verdict (own platform only)",
    ),
    r(
        "POST",
        "/v1/check",
        Hook,
        Need::Scope(Scope::Check),
        "synchronous hash-and-match",
    ),
    // Appeals come from the platform (for its users) or from leads.
    r(
        "POST",
        "/v1/appeals",
        Review,
        ScopeOrAccount(Scope::AppealsWrite, LEADS),
        "file an appeal",
    ),
    r(
        "POST",
        "/api/appeals",
        Review,
        ScopeOrAccount(Scope::AppealsWrite, LEADS),
        "file an appeal",
    ),
    // Review API.
    r(
        "POST",
        "/api/login",
        Review,
        Public,
        "sign in (limited per account and address)",
    ),
    r(
        "GET",
        "/v1/review/items",
        Review,
        Account(REVIEW),
        "list review items",
    ),
    r(
        "GET",
        "/api/review/items",
        Review,
        Account(REVIEW),
        "list review items",
    ),
    r(
        "POST",
        "/api/review/claim",
        Review,
        Account(REVIEW),
        "claim the next item",
    ),
    r(
        "GET",
        "/api/review/items/{upload_id}/{policy_version}",
        Review,
        Account(REVIEW),
        "read a held case",
    ),
    r(
        "POST",
        "/api/review/items/{upload_id}/{policy_version}/decision",
        Review,
        Account(REVIEW),
        "decide a held case",
    ),
    r(
        "POST",
        "/api/review/items/{upload_id}/{policy_version}/release",
        Review,
        Account(REVIEW),
        "release a claim",
    ),
    r(
        "POST",
        "/api/review/items/{upload_id}/{policy_version}/renew",
        Review,
        Account(REVIEW),
        "renew a claim",
    ),
    r(
        "GET",
        "/api/audit",
        Review,
        Account(OVERSIGHT),
        "search the audit log",
    ),
    // Review UI.
    r(
        "GET",
        "/review",
        Review,
        Account(ANY_ACCOUNT),
        "the queue page",
    ),
    r(
        "GET",
        "/review/",
        Review,
        Account(ANY_ACCOUNT),
        "the queue page",
    ),
    r("GET", "/review/login", Review, Public, "the sign-in form"),
    r(
        "POST",
        "/review/login",
        Review,
        Public,
        "sign in (limited per account and address)",
    ),
    r(
        "POST",
        "/review/logout",
        Review,
        Account(ANY_ACCOUNT),
        "sign out",
    ),
    r(
        "POST",
        "/review/claim",
        Review,
        Account(REVIEW),
        "claim the next item",
    ),
    r(
        "GET",
        "/review/case/{upload_id}/{policy_version}",
        Review,
        Account(REVIEW),
        "a held case",
    ),
    r(
        "POST",
        "/review/case/{upload_id}/{policy_version}/decide",
        Review,
        Account(REVIEW),
        "decide a held case",
    ),
    r(
        "POST",
        "/review/case/{upload_id}/{policy_version}/release",
        Review,
        Account(REVIEW),
        "release a claim",
    ),
    r(
        "GET",
        "/review/media/{upload_id}/{policy_version}",
        Review,
        Account(REVIEW),
        "a held case's media, blurred until revealed",
    ),
    r(
        "GET",
        "/review/media/{upload_id}/{policy_version}/sheet",
        Review,
        Account(REVIEW),
        "a held video's contact sheet",
    ),
    r(
        "GET",
        "/review/audit",
        Review,
        Account(OVERSIGHT),
        "the audit log page",
    ),
    r(
        "GET",
        "/review/banks",
        Review,
        Account(ANY_ACCOUNT),
        "the bank overview page",
    ),
    r(
        "GET",
        "/review/metrics",
        Review,
        Account(ANY_ACCOUNT),
        "the queue and error-rate summary page",
    ),
    r(
        "GET",
        "/review/proposals",
        Review,
        Account(OVERSIGHT),
        "the proposals page",
    ),
    r(
        "POST",
        "/review/proposals/{id}/decide",
        Review,
        Account(LEADS),
        "approve or reject a proposal (two-person rule)",
    ),
    r(
        "GET",
        "/review/static/app.css",
        Review,
        Public,
        "style sheet",
    ),
    r("GET", "/review/static/app.js", Review, Public, "script"),
    // Banks: reads.
    r(
        "GET",
        "/v1/banks",
        Banks,
        ScopeOrAccount(Scope::BanksRead, ANY_ACCOUNT),
        "list banks",
    ),
    r(
        "GET",
        "/v1/banks/{name}",
        Banks,
        ScopeOrAccount(Scope::BanksRead, ANY_ACCOUNT),
        "one bank",
    ),
    r(
        "GET",
        "/v1/banks/{name}/charter",
        Banks,
        ScopeOrAccount(Scope::BanksRead, ANY_ACCOUNT),
        "a bank's charter",
    ),
    r(
        "GET",
        "/v1/lookup",
        Banks,
        ScopeOrAccount(Scope::BanksRead, ANY_ACCOUNT),
        "look a hash up (capped distance and hits, rate limited)",
    ),
    // Banks: changes. Widening ones become proposals; narrowing ones need a
    // lead or admin (checked by vigil-banks, which sees the change).
    r(
        "POST",
        "/v1/banks",
        Banks,
        Account(REVIEW),
        "create a bank (actioning or allow: a proposal)",
    ),
    r(
        "PATCH",
        "/v1/banks/{name}",
        Banks,
        Account(REVIEW),
        "change a bank (narrowing: lead or admin; widening: a proposal)",
    ),
    r(
        "PUT",
        "/v1/banks/{name}/charter",
        Banks,
        Account(LEADS),
        "propose a charter",
    ),
    r(
        "DELETE",
        "/v1/banks/{name}/charter",
        Banks,
        Account(LEADS),
        "propose removing a charter",
    ),
    r(
        "POST",
        "/v1/banks/{name}/entries",
        Banks,
        Account(REVIEW),
        "add an entry (to an actioning or allow bank: a proposal)",
    ),
    r(
        "DELETE",
        "/v1/banks/{name}/entries/{entry_id}",
        Banks,
        Account(LEADS),
        "remove an entry (logged)",
    ),
    // Governance.
    r(
        "GET",
        "/v1/proposals",
        Banks,
        Account(OVERSIGHT),
        "list proposals",
    ),
    r(
        "GET",
        "/v1/proposals/{id}",
        Banks,
        Account(OVERSIGHT),
        "one proposal",
    ),
    r(
        "POST",
        "/v1/proposals/{id}/approve",
        Banks,
        Account(LEADS),
        "approve (a second person)",
    ),
    r(
        "POST",
        "/v1/proposals/{id}/reject",
        Banks,
        Account(LEADS),
        "reject (a second person)",
    ),
    r(
        "GET",
        "/v1/referrals",
        Banks,
        Account(OVERSIGHT),
        "list referrals",
    ),
    r(
        "POST",
        "/v1/referrals",
        Banks,
        Account(REVIEW),
        "record a referral (acting on it: a lead or admin)",
    ),
    r(
        "POST",
        "/v1/referrals/{id}/contest",
        Banks,
        Account(LEADS),
        "contest or refuse a referral",
    ),
    r(
        "GET",
        "/v1/governance/report",
        Banks,
        Account(OVERSIGHT),
        "the governance report",
    ),
    r(
        "POST",
        "/v1/policies",
        Banks,
        Account(LEADS),
        "propose a policy version",
    ),
    r(
        "GET",
        "/api/quarantine",
        Banks,
        Account(ANY_ACCOUNT),
        "quarantined entries and banks",
    ),
    r(
        "POST",
        "/api/quarantine/{bank}/{entry_id}/restore",
        Banks,
        Account(LEADS),
        "propose lifting a quarantine",
    ),
];

/// The row for `method` and a router's matched `path` (its template, e.g.
/// `/v1/uploads/{id}`); `None` when there is none (the access layer then
/// refuses the request).
pub fn route(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

/// The access decision for `p` calling `method path`.
pub fn decide(method: &str, path: &str, p: &Principal) -> Result<&'static Route, Refusal> {
    let row = route(method, path).ok_or(Refusal::NoRule)?;
    if row.need.allows(p) {
        Ok(row)
    } else {
        Err(row.need.refusal(p))
    }
}

/// The table as a Markdown table (docs/security.md embeds it; a test
/// keeps the two equal).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| method | path | owner | who may call it | what |\n|---|---|---|---|---|\n");
    for r in ROUTES {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            r.method,
            r.path,
            r.owner.as_str(),
            r.need.describe(),
            r.what
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role) -> Principal {
        Principal::Account {
            username: "u".into(),
            role,
        }
    }

    fn key(scopes: &[Scope]) -> Principal {
        Principal::Platform {
            key_id: "k".into(),
            platform: "p".into(),
            scopes: scopes.to_vec(),
        }
    }

    #[test]
    fn every_route_has_one_row() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert!(r.path.starts_with('/'), "{}", r.path);
            assert!(!r.what.is_empty());
        }
    }

    #[test]
    fn needs_allow_exactly_their_principals() {
        let lookup = route("GET", "/v1/lookup").unwrap().need;
        assert!(!lookup.allows(&Principal::Anonymous));
        assert_eq!(
            lookup.refusal(&Principal::Anonymous),
            Refusal::Unauthenticated
        );
        assert!(lookup.allows(&key(&[Scope::BanksRead])));
        assert!(!lookup.allows(&key(&Scope::DEFAULT)));
        assert_eq!(lookup.refusal(&key(&Scope::DEFAULT)), Refusal::Forbidden);
        assert!(lookup.allows(&account(Role::Auditor)));

        let patch = route("PATCH", "/v1/banks/{name}").unwrap().need;
        assert!(patch.allows(&account(Role::Reviewer)));
        assert!(!patch.allows(&account(Role::Auditor)));
        assert!(!patch.allows(&key(&Scope::ALL)));

        let claim = route("POST", "/api/review/claim").unwrap().need;
        assert!(!claim.allows(&account(Role::Auditor)));
        assert!(claim.allows(&account(Role::Reviewer)));

        let approve = route("POST", "/v1/proposals/{id}/approve").unwrap().need;
        assert!(!approve.allows(&account(Role::Reviewer)));
        assert!(approve.allows(&account(Role::Lead)));

        let upload = route("POST", "/v1/uploads").unwrap().need;
        assert!(upload.allows(&key(&Scope::DEFAULT)));
        assert!(!upload.allows(&account(Role::Admin)));
        assert!(!upload.allows(&Principal::Anonymous));

        assert!(route("GET", "/healthz")
            .unwrap()
            .need
            .allows(&Principal::Anonymous));
        assert_eq!(
            decide("GET", "/nowhere", &account(Role::Admin)).unwrap_err(),
            Refusal::NoRule
        );
    }

    #[test]
    fn auditors_only_read() {
        let auditor = account(Role::Auditor);
        for r in ROUTES.iter().filter(|r| r.need.allows(&auditor)) {
            assert!(
                r.method == "GET" || r.path.ends_with("/logout") || r.path.ends_with("/login"),
                "auditors may {} {}",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn roles_and_scopes_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        assert!(!Role::Auditor.reviews());
        assert!(Role::Reviewer.reviews());
        assert!(Role::Lead.takes_escalations());
    }
}

#[cfg(feature = "axum")]
pub mod table;
