//! Accountability (issue 8): blind audit samples with the strata their
//! answers count under, and shadow-policy disagreements. Audit answers are
//! not copied here: they are the review decisions of kind `audit` on the
//! same `(upload_id, policy_version)`.

pub(crate) const STATEMENTS: &[&str] = &[
    "CREATE TABLE audit_samples (
        upload_id TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        kind TEXT NOT NULL,
        stratum TEXT NOT NULL,
        rate DOUBLE PRECISION NOT NULL,
        live_action TEXT NOT NULL,
        shadow_action TEXT,
        shadow_policy_version TEXT,
        sampled_at TEXT NOT NULL,
        PRIMARY KEY (upload_id, policy_version, kind)
    )",
    "CREATE INDEX audit_samples_at ON audit_samples (sampled_at)",
    "CREATE TABLE audit_strata (
        upload_id TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        kind TEXT NOT NULL,
        dim TEXT NOT NULL,
        grp TEXT NOT NULL,
        PRIMARY KEY (upload_id, policy_version, kind, dim, grp)
    )",
    "CREATE TABLE shadow_disagreements (
        upload_id TEXT NOT NULL,
        policy_version TEXT NOT NULL,
        shadow_policy_version TEXT NOT NULL,
        live_action TEXT NOT NULL,
        shadow_action TEXT NOT NULL,
        sampled BIGINT NOT NULL,
        decided_at TEXT NOT NULL,
        PRIMARY KEY (upload_id, policy_version, shadow_policy_version)
    )",
    "CREATE INDEX shadow_disagreements_at ON shadow_disagreements (decided_at)",
];
