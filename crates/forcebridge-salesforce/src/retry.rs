//! Retries with exponential backoff and jitter for what is transient, bounded in attempts and time.
//!
//! Retried: 5xx/`SERVER_UNAVAILABLE`, timeouts, connection resets, `UNABLE_TO_LOCK_ROW`. Never
//! retried: auth, revoked tokens, exhausted limits, invalid input, permissions, not found. A request
//! that is not idempotent (a create) is retried only when Salesforce certainly did not apply it: the
//! connection never opened, or Salesforce answered with a transient error.
//!
//! Invariant: the total time spent waiting never exceeds [`RetryPolicy::max_elapsed`].

use std::future::Future;
use std::time::{Duration, Instant};

use backon::BackoffBuilder;

use crate::error::{Error, ErrorKind, Result};

/// How transient failures are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First delay.
    pub min_delay: Duration,
    /// Largest single delay.
    pub max_delay: Duration,
    /// Most attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Upper bound on the time spent in retries for one call.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_attempts: 6,
            max_elapsed: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Short delays, for tests against the emulator.
    pub fn fast() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_attempts: 5,
            max_elapsed: Duration::from_secs(10),
        }
    }

    /// Whether `error` may be retried for a request that is (or is not) idempotent.
    pub fn should_retry(error: &Error, idempotent: bool) -> bool {
        let kind = error.kind();
        if !kind.is_retryable() {
            return false;
        }
        if idempotent {
            return true;
        }
        match error {
            // The request may have reached Salesforce and been applied.
            Error::Transport { not_sent, .. } => *not_sent,
            // Salesforce answered and refused the whole request: nothing was applied.
            Error::Api { .. } => {
                kind == ErrorKind::RowLock || error.status().is_some_and(|s| s == 503 || s == 429)
            }
            _ => false,
        }
    }

    /// Runs `op` until it succeeds, fails for good, or the bounds are reached.
    ///
    /// # Errors
    /// The first non-retryable error as is; [`Error::RetriesExhausted`] wrapping the last error when
    /// the attempts or the time bound ran out.
    pub async fn run<T, F, Fut>(&self, what: &str, idempotent: bool, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let error = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !Self::should_retry(&error, idempotent) {
                return Err(error);
            }
            let Some(mut delay) = delays.next() else {
                return Err(exhausted(attempt, started, error));
            };
            if let Some(after) = error.retry_after() {
                delay = delay.max(after.min(self.max_delay));
            }
            if started.elapsed() + delay > self.max_elapsed {
                return Err(exhausted(attempt, started, error));
            }
            tracing::warn!(
                operation = what,
                attempt,
                delay_ms = delay.as_millis() as u64,
                kind = ?error.kind(),
                error_code = error.error_code().unwrap_or(""),
                status = error.status().unwrap_or(0),
                error = %error,
                "transient salesforce failure; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

fn exhausted(attempts: u32, started: Instant, last: Error) -> Error {
    if attempts <= 1 {
        return last;
    }
    Error::RetriesExhausted {
        attempts,
        elapsed: started.elapsed(),
        last: Box::new(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::api_error;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn err(status: u16, code: &str) -> Error {
        api_error(
            status,
            None,
            format!(r#"[{{"errorCode":"{code}","message":"m"}}]"#).as_bytes(),
        )
    }

    #[tokio::test]
    async fn retries_transient_until_success() {
        let calls = AtomicU32::new(0);
        let r = RetryPolicy::fast()
            .run("t", false, || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(err(400, "UNABLE_TO_LOCK_ROW"))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn never_retries_permanent_errors() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = RetryPolicy::fast()
            .run("t", true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(400, "INVALID_FIELD"))
            })
            .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = RetryPolicy::fast()
            .run("t", true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(503, "SERVER_UNAVAILABLE"))
            })
            .await;
        let e = r.unwrap_err();
        assert!(matches!(e, Error::RetriesExhausted { attempts: 5, .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn non_idempotent_requests_retry_only_when_not_applied() {
        assert!(RetryPolicy::should_retry(&err(503, "SERVER_UNAVAILABLE"), false));
        assert!(RetryPolicy::should_retry(&err(400, "UNABLE_TO_LOCK_ROW"), false));
        assert!(!RetryPolicy::should_retry(&err(500, "UNKNOWN_EXCEPTION"), false));
        assert!(RetryPolicy::should_retry(&err(500, "UNKNOWN_EXCEPTION"), true));
        assert!(!RetryPolicy::should_retry(
            &err(403, "REQUEST_LIMIT_EXCEEDED"),
            true
        ));
    }
}
