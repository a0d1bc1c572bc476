//! Self-correction (issue 8): retained upload signals for retro-hunts, per-entry decision counters and quarantine.
//! Also the actions outbox (issue 7): takedown / restrict / reinstate records
//! delivered to the platform.

pub(crate) const STATEMENTS: &[&str] = &[
    // Hashes of every decided upload (never media), for retro-hunts.
    "CREATE TABLE retained_signals (
        upload_id TEXT PRIMARY KEY,
        policy_version TEXT NOT NULL,
        action TEXT NOT NULL,
        received_at TEXT NOT NULL,
        md5 TEXT,
        sha256 TEXT,
        pdq TEXT,
        pdq_quality BIGINT,
        vpdq TEXT
    )",
    "CREATE INDEX retained_signals_received ON retained_signals (received_at)",
    // One row per counted event on an entry: a match (ref = upload/policy
    // version), a human decision (ref = decision id), a disputed opinion
    // (ref = the exchange's source); the key makes every count idempotent.
    "CREATE TABLE entry_events (
        bank TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (bank, entry_id, kind, ref)
    )",
    "CREATE INDEX entry_events_at ON entry_events (at)",
    // Quarantine state of entries (entry_id '' = the whole bank).
    "CREATE TABLE entry_quarantine (
        bank TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        state TEXT NOT NULL,
        cause TEXT NOT NULL,
        since TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (bank, entry_id)
    )",
    // How far the retro-hunt has read the bank entries (by updated_at).
    "CREATE TABLE retrohunt_cursor (
        name TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL,
        bank TEXT NOT NULL,
        entry_id TEXT NOT NULL
    )",
    // Past uploads found by a retro-hunt: misses at the time of upload.
    "CREATE TABLE retrohunt_hits (
        upload_id TEXT NOT NULL,
        bank TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        found_at TEXT NOT NULL,
        delay_seconds DOUBLE PRECISION NOT NULL,
        late_action TEXT NOT NULL,
        PRIMARY KEY (upload_id, bank, entry_id)
    )",
    "CREATE INDEX retrohunt_hits_found ON retrohunt_hits (found_at)",
    // The actions outbox: written with the verdict or decision that causes
    // the action, delivered to Kafka and/or the webhook, marked per sink.
    "CREATE TABLE actions (
        action_id TEXT PRIMARY KEY,
        upload_id TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        kafka_done_at TEXT,
        webhook_done_at TEXT,
        delivered_at TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        UNIQUE (upload_id, source)
    )",
    "CREATE INDEX actions_pending ON actions (delivered_at, next_attempt_at)",
];
