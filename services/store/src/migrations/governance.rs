//! Governance (issue 12): bank charters, proposals awaiting a second approver, the hash-chained change log and its signed checkpoints, referrals and the actions taken on them, approved policy versions.

pub(crate) const STATEMENTS: &[&str] = &[
    "CREATE TABLE gov_charters (
        bank TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE TABLE gov_proposals (
        proposal_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        summary TEXT NOT NULL,
        payload TEXT NOT NULL,
        diff TEXT NOT NULL,
        status TEXT NOT NULL,
        proposed_by TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        decided_by TEXT,
        decided_role TEXT,
        decided_at TEXT,
        note TEXT,
        applied_at TEXT
    )",
    "CREATE INDEX gov_proposals_status ON gov_proposals (status, proposed_at)",
    // seq is the chain position; prev_hash is unique, so two writers that
    // read the same head cannot both append after it (the chain never forks).
    "CREATE TABLE gov_changelog (
        seq BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL
    )",
    "CREATE TABLE gov_checkpoints (
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        at TEXT NOT NULL,
        public_key TEXT NOT NULL,
        signature TEXT NOT NULL
    )",
    "CREATE TABLE gov_referrals (
        referral_id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL,
        legal_basis TEXT NOT NULL,
        reference TEXT,
        jurisdictions TEXT NOT NULL,
        deadline TEXT,
        targets TEXT NOT NULL,
        status TEXT NOT NULL,
        recorded_by TEXT NOT NULL,
        received_at TEXT NOT NULL,
        handled_at TEXT,
        handled_by TEXT,
        reason TEXT
    )",
    "CREATE INDEX gov_referrals_status ON gov_referrals (status, received_at)",
    "CREATE TABLE gov_referral_actions (
        referral_id TEXT NOT NULL,
        upload_id TEXT NOT NULL,
        action TEXT NOT NULL,
        jurisdictions TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        acted_by TEXT NOT NULL,
        acted_at TEXT NOT NULL,
        PRIMARY KEY (referral_id, upload_id)
    )",
    "CREATE TABLE gov_policies (
        version TEXT PRIMARY KEY,
        toml TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        approved_at TEXT NOT NULL
    )",
];
