//! A fault-injection point for tests of crash handling, compiled into
//! debug builds only (`cfg(debug_assertions)`): release builds, which are
//! what `make build`, the Dockerfile and every deployment use, do not
//! contain it.
//!
//! When `VIGIL_FAILPOINT_ABORT_SHA256` holds the SHA-256 (hex) of an
//! upload, analysing that upload aborts the whole process, exactly as a
//! decoder that calls `abort()`, overflows its stack or is killed for
//! memory would. The poison-record tests use it to show that such an upload
//! is stopped after `worker.max_attempts` and that every other upload keeps
//! flowing (docs/hardening.md).

/// Abort the process if the failpoint is armed for `sha256`.
pub fn abort_if_armed(sha256: &[u8; 32]) {
    if let Ok(armed) = std::env::var("VIGIL_FAILPOINT_ABORT_SHA256") {
        if armed.trim().eq_ignore_ascii_case(&hex::encode(sha256)) {
            eprintln!("failpoint VIGIL_FAILPOINT_ABORT_SHA256: aborting the process");
            std::process::abort();
        }
    }
}
