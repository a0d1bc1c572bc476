//! Guardrails on what Vigil may remove (DESIGN.md §6a): bank charters, the
//! two-person rule for changes that widen removal, and the hash-chained,
//! Ed25519-checkpointed change log an outside auditor can verify.
//! Pure logic: no Kafka, HTTP or SQL.
#![forbid(unsafe_code)]
