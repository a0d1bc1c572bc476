//! Action delivery (issues 7 and 8): a relay claims a due action with a
//! lease (`claimed_by`, `lease_expires_at`) so several relays never deliver
//! the same action at once; an action the platform refused for good (a 4xx
//! other than 408/429) is parked (`parked_at`) until an operator re-queues
//! it.

pub(crate) const STATEMENTS: &[&str] = &[
    "ALTER TABLE actions ADD COLUMN claimed_by TEXT",
    "ALTER TABLE actions ADD COLUMN lease_expires_at TEXT",
    "ALTER TABLE actions ADD COLUMN parked_at TEXT",
];
