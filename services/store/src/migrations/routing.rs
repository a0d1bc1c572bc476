//! Review routing (issue 7): routing rules and queues. An item's `queue` is
//! set by the review service from the routing rules (NULL until routed);
//! a user's `queues` is a comma-separated list of the queues they serve
//! (NULL: every queue).

pub(crate) const STATEMENTS: &[&str] = &[
    "ALTER TABLE review_items ADD COLUMN queue TEXT",
    "CREATE INDEX review_items_queue ON review_items (queue, status)",
    "ALTER TABLE review_users ADD COLUMN queues TEXT",
];
