//! Sign-in attempt counters (docs/hardening.md): one row per key (an
//! account, a client address, or the pair) with the start of its current
//! window and the attempts in it. Counted before the password is checked,
//! so parallel guesses cannot pass a limit together, and kept in the
//! database, so every replica sees the same counts.

use crate::db::{now, ts};
use crate::{Store, StoreError};
use chrono::Utc;
use sqlx::Row;
use std::time::Duration;

impl Store {
    /// Count one sign-in attempt for `key` in a window of `window`, and
    /// return the attempts in the current window, this one included. A
    /// window older than `window` starts over at this attempt.
    pub async fn count_signin_attempt(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<u32, StoreError> {
        let t = now();
        let expired = ts(Utc::now()
            - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(15)));
        let row = sqlx::query(
            "INSERT INTO signin_attempts (key, window_start, attempts) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                attempts = CASE WHEN signin_attempts.window_start < $3 THEN 1
                                ELSE signin_attempts.attempts + 1 END,
                window_start = CASE WHEN signin_attempts.window_start < $3 THEN $2
                                    ELSE signin_attempts.window_start END
             RETURNING attempts",
        )
        .bind(key)
        .bind(t)
        .bind(expired)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("attempts")?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Forget the attempts counted for `keys` (after a successful sign-in).
    pub async fn clear_signin_attempts(&self, keys: &[&str]) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query("DELETE FROM signin_attempts WHERE key = $1")
                .bind(*key)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Drop counters whose window ended before `window` ago (housekeeping).
    pub async fn purge_signin_attempts(&self, window: Duration) -> Result<u64, StoreError> {
        let expired = ts(Utc::now()
            - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(15)));
        Ok(
            sqlx::query("DELETE FROM signin_attempts WHERE window_start < $1")
                .bind(expired)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
