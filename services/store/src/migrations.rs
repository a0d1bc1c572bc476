//! Schema migrations: one ordered list of portable SQL statements that run on
//! both SQLite and PostgreSQL (TEXT, BIGINT, DOUBLE PRECISION only;
//! timestamps as RFC 3339 UTC text, which sorts chronologically).

/// `(version, statements)`; applied in order, each once.
pub(crate) const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE uploads (
            upload_id TEXT PRIMARY KEY,
            msg TEXT NOT NULL,
            status TEXT NOT NULL,
            error_kind TEXT,
            received_at TEXT NOT NULL,
            enqueued_at TEXT,
            updated_at TEXT NOT NULL
        )",
        "CREATE INDEX uploads_status ON uploads (status, received_at)",
        "CREATE TABLE verdicts (
            upload_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            action TEXT NOT NULL,
            body TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            PRIMARY KEY (upload_id, policy_version)
        )",
        "CREATE INDEX verdicts_action ON verdicts (action, decided_at)",
        "CREATE TABLE review_items (
            upload_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            queue_reason TEXT NOT NULL,
            priority DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (upload_id, policy_version)
        )",
        "CREATE INDEX review_items_open ON review_items (status, priority)",
        "CREATE TABLE banks (
            name TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE TABLE bank_entries (
            bank TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            signal_type TEXT NOT NULL,
            signal TEXT NOT NULL,
            body TEXT NOT NULL,
            deleted BIGINT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (bank, entry_id)
        )",
    ],
)];
