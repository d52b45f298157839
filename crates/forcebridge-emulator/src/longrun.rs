//! The org's concurrent long-running request limit: Salesforce counts API requests that have run
//! longer than 20 seconds, and while 25 such are in flight it refuses new requests with 403
//! `REQUEST_LIMIT_EXCEEDED` ("ConcurrentPerOrgLongTxn Limit exceeded.").
//!
//! [`crate::middleware::track`] takes a [`Guard`] for every API request (REST, SOAP, Bulk,
//! Chatter, Tooling, Metadata); the control API changes the limit and the threshold for tests.
//!
//! Invariant: the counter equals the number of requests in flight that have passed the threshold;
//! a request is counted at most once and uncounted when its guard drops (answer sent, or client
//! gone), so the counter cannot leak.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The limit and the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Long-running requests the org may have in flight (25).
    pub concurrent_long_running_requests: u64,
    /// After how long a request counts as long-running, in milliseconds (20,000).
    pub long_running_after_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            concurrent_long_running_requests: 25,
            long_running_after_ms: 20_000,
        }
    }
}

/// The meter of one emulator.
#[derive(Debug, Default)]
pub struct Meter {
    in_flight: Arc<AtomicU64>,
    settings: Mutex<Settings>,
}

/// The refusal at the limit, as Salesforce words it.
pub const MESSAGE: &str = "ConcurrentPerOrgLongTxn Limit exceeded.";

impl Meter {
    /// The current limit and threshold.
    pub fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the limit and threshold; requests already running keep their timers.
    pub fn set(&self, settings: Settings) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// Long-running requests in flight now.
    pub fn long_running(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Starts a request: `None` when the org already has as many long-running requests in flight
    /// as its limit allows (the caller answers `REQUEST_LIMIT_EXCEEDED`), otherwise a guard that
    /// counts the request once it passes the threshold, for as long as it is kept.
    pub fn start(&self) -> Option<Guard> {
        let s = self.settings();
        if self.long_running() >= s.concurrent_long_running_requests {
            return None;
        }
        // The flag and the counter change together under the flag's lock, so a timer firing
        // while the guard drops can neither leak a count nor take one twice.
        let counted = Arc::new(Mutex::new(false));
        let count = |flag: &Mutex<bool>, n: &AtomicU64| {
            let mut c = flag.lock().unwrap_or_else(|p| p.into_inner());
            if !*c {
                *c = true;
                n.fetch_add(1, Ordering::SeqCst);
            }
        };
        // A zero threshold counts at once, without a timer, so tests can fill the limit
        // deterministically.
        let timer = if s.long_running_after_ms == 0 {
            count(&counted, &self.in_flight);
            None
        } else {
            let (flag, n) = (counted.clone(), self.in_flight.clone());
            let after = Duration::from_millis(s.long_running_after_ms);
            Some(tokio::spawn(async move {
                tokio::time::sleep(after).await;
                count(&flag, &n);
            }))
        };
        Some(Guard {
            in_flight: self.in_flight.clone(),
            counted,
            timer,
        })
    }
}

/// One request in flight; dropping it ends the request for the meter.
#[derive(Debug)]
pub struct Guard {
    in_flight: Arc<AtomicU64>,
    counted: Arc<Mutex<bool>>,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(t) = &self.timer {
            t.abort();
        }
        let mut c = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        if *c {
            *c = false;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn zero_threshold_counts_at_once_and_drop_uncounts() {
        let m = Meter::default();
        m.set(Settings {
            concurrent_long_running_requests: 2,
            long_running_after_ms: 0,
        });
        let a = m.start();
        let b = m.start();
        assert!(a.is_some() && b.is_some());
        assert_eq!(m.long_running(), 2);
        assert!(m.start().is_none(), "the third is refused");
        drop(a);
        assert_eq!(m.long_running(), 1);
        assert!(m.start().is_some());
    }
}
