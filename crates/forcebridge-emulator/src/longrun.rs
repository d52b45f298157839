//! The org's concurrent long-running request limit: Salesforce counts API requests that have run
//! longer than 20 seconds, and while 25 such are in flight it refuses new requests with 403
//! `REQUEST_LIMIT_EXCEEDED` ("ConcurrentPerOrgLongTxn Limit exceeded.").
//!
//! [`crate::middleware::track`] takes a [`Guard`] for every API request (REST, SOAP, Bulk,
//! Chatter, Tooling, Metadata); the control API changes the limit and the threshold for tests.
//!
//! Invariant: the meter knows exactly the requests in flight (a guard registers its start and
//! unregisters when dropped — answer sent or client gone), and a request is long-running when its
//! age reaches the threshold at the moment of asking, so nothing can leak or be counted twice.
//! No timer task is spawned per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// The refusal at the limit, as Salesforce words it.
pub const MESSAGE: &str = "ConcurrentPerOrgLongTxn Limit exceeded.";

/// Requests in flight (by a private number) and when each started.
#[derive(Debug, Default)]
struct InFlight {
    next: u64,
    started: HashMap<u64, Instant>,
}

impl InFlight {
    fn long_running(&self, after: Duration) -> u64 {
        let now = Instant::now();
        self.started
            .values()
            .filter(|t| now.saturating_duration_since(**t) >= after)
            .count() as u64
    }
}

/// The meter of one emulator.
#[derive(Debug, Default)]
pub struct Meter {
    in_flight: Arc<Mutex<InFlight>>,
    settings: Mutex<Settings>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Meter {
    /// The current limit and threshold.
    pub fn settings(&self) -> Settings {
        *lock(&self.settings)
    }

    /// Replaces the limit and threshold; they apply to requests already running too.
    pub fn set(&self, settings: Settings) {
        *lock(&self.settings) = settings;
    }

    /// Long-running requests in flight now.
    pub fn long_running(&self) -> u64 {
        let after = Duration::from_millis(self.settings().long_running_after_ms);
        lock(&self.in_flight).long_running(after)
    }

    /// Starts a request: `None` when the org already has as many long-running requests in flight
    /// as its limit allows (the caller answers `REQUEST_LIMIT_EXCEEDED`), otherwise a guard that
    /// keeps the request in flight until it is dropped.
    pub fn start(&self) -> Option<Guard> {
        let s = self.settings();
        let after = Duration::from_millis(s.long_running_after_ms);
        let mut in_flight = lock(&self.in_flight);
        if in_flight.long_running(after) >= s.concurrent_long_running_requests {
            return None;
        }
        let id = in_flight.next;
        in_flight.next = in_flight.next.wrapping_add(1);
        in_flight.started.insert(id, Instant::now());
        Some(Guard {
            in_flight: self.in_flight.clone(),
            id,
        })
    }
}

/// One request in flight; dropping it ends the request for the meter.
#[derive(Debug)]
pub struct Guard {
    in_flight: Arc<Mutex<InFlight>>,
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.in_flight).started.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threshold_counts_at_once_and_drop_uncounts() {
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

    #[test]
    fn requests_under_the_threshold_do_not_count() {
        let m = Meter::default();
        m.set(Settings {
            concurrent_long_running_requests: 1,
            long_running_after_ms: 3_600_000,
        });
        let held: Vec<Guard> = (0..5).filter_map(|_| m.start()).collect();
        assert_eq!(held.len(), 5);
        assert_eq!(m.long_running(), 0);
        // Lowering the threshold makes the requests already in flight long-running.
        m.set(Settings {
            concurrent_long_running_requests: 1,
            long_running_after_ms: 0,
        });
        assert_eq!(m.long_running(), 5);
        assert!(m.start().is_none());
        drop(held);
        assert_eq!(m.long_running(), 0);
    }
}
