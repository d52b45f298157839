//! The per-org API budget: what `Sforce-Limit-Info` and `/limits` say, shared by every task.
//!
//! Every answer's `Sforce-Limit-Info: api-usage=USED/MAX` updates the [`ApiBudget`]; `/limits` can be
//! read on demand ([`crate::Client::refresh_limits`]). Callers ask [`ApiBudget::check`] "may I spend
//! N calls now?" and get [`Decision::Go`] or [`Decision::WaitUntil`] when spending would cross the
//! threshold they set (e.g. 80% of the daily allocation). The daily allocation is a rolling 24-hour
//! window, so the budget cannot know when calls free up: it says "wait `recheck_after`", and once
//! its numbers are that old it lets one probe call through to learn the new usage.
//!
//! Invariant: `used` is never decreased by local accounting — only by a newer observation from
//! Salesforce — so concurrent tasks cannot talk each other past the threshold.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Error, Result};

/// Usage as last known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetSnapshot {
    /// Calls used in the rolling 24 hours (observed + spent locally since).
    pub used: u64,
    /// The org's daily allocation (0 until observed).
    pub max: u64,
    /// When Salesforce last told us.
    pub observed_at: Option<DateTime<Utc>>,
}

impl BudgetSnapshot {
    /// Calls left before the allocation (not the threshold).
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

/// The answer to "may I spend N calls now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Go,
    /// Do not spend before this time; ask again then.
    WaitUntil(DateTime<Utc>),
}

#[derive(Debug)]
struct State {
    used: u64,
    max: u64,
    observed_at: Option<DateTime<Utc>>,
    exhausted_until: Option<DateTime<Utc>>,
}

/// One org's API budget, shared (in an `Arc`) by every client and task using that org.
#[derive(Debug)]
pub struct ApiBudget {
    threshold_pct: u8,
    recheck_after: Duration,
    state: Mutex<State>,
}

impl ApiBudget {
    /// A budget that stops at `threshold_pct` percent of the daily allocation (clamped to 1..=100)
    /// and re-checks every 15 minutes once there.
    pub fn new(threshold_pct: u8) -> Self {
        Self::with_recheck(threshold_pct, Duration::from_secs(15 * 60))
    }

    /// As [`Self::new`] with a chosen re-check interval.
    pub fn with_recheck(threshold_pct: u8, recheck_after: Duration) -> Self {
        ApiBudget {
            threshold_pct: threshold_pct.clamp(1, 100),
            recheck_after,
            state: Mutex::new(State {
                used: 0,
                max: 0,
                observed_at: None,
                exhausted_until: None,
            }),
        }
    }

    /// The threshold, in percent of the allocation.
    pub fn threshold_pct(&self) -> u8 {
        self.threshold_pct
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of plain numbers; the
        // numbers are still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads a `Sforce-Limit-Info` header value (`api-usage=18/5000; per-app-api-usage=...`).
    /// Values that do not parse are ignored.
    pub fn observe_header(&self, value: &str) {
        if let Some((used, max)) = parse_limit_info(value) {
            self.observe(used, max, Utc::now());
        }
    }

    /// Records usage Salesforce reported at `at`.
    pub fn observe(&self, used: u64, max: u64, at: DateTime<Utc>) {
        let mut s = self.lock();
        if s.observed_at.is_some_and(|prev| prev > at) {
            return;
        }
        s.used = used;
        s.max = max;
        s.observed_at = Some(at);
        if used < max {
            s.exhausted_until = None;
        }
    }

    /// Records that Salesforce refused a call with `REQUEST_LIMIT_EXCEEDED`.
    pub fn mark_exhausted(&self) {
        let now = Utc::now();
        let mut s = self.lock();
        s.exhausted_until = Some(now + chrono::Duration::from_std(self.recheck_after).unwrap_or_default());
        if s.max > 0 {
            s.used = s.used.max(s.max);
        }
    }

    /// Usage as last known.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            used: s.used,
            max: s.max,
            observed_at: s.observed_at,
        }
    }

    /// May `n` calls be spent now? Does not record anything.
    pub fn check(&self, n: u64) -> Decision {
        self.check_at(n, Utc::now())
    }

    /// [`Self::check`] at a given time (for deterministic callers with their own clock).
    pub fn check_at(&self, n: u64, now: DateTime<Utc>) -> Decision {
        let s = self.lock();
        self.decide(&s, n, now)
    }

    fn decide(&self, s: &State, n: u64, now: DateTime<Utc>) -> Decision {
        let recheck = chrono::Duration::from_std(self.recheck_after).unwrap_or_default();
        if let Some(until) = s.exhausted_until
            && until > now
        {
            return Decision::WaitUntil(until);
        }
        if s.max == 0 {
            return Decision::Go; // nothing known yet: the first answer will tell
        }
        let allowed = s.max.saturating_mul(u64::from(self.threshold_pct)) / 100;
        if s.used.saturating_add(n) <= allowed {
            return Decision::Go;
        }
        match s.observed_at {
            // Old numbers: let a call through to learn the current usage.
            Some(at) if at + recheck <= now => Decision::Go,
            Some(at) => Decision::WaitUntil(at + recheck),
            None => Decision::WaitUntil(now + recheck),
        }
    }

    /// Checks and, when allowed, counts `n` calls as spent until Salesforce reports again.
    ///
    /// # Errors
    /// [`Error::BudgetExhausted`] with the time to ask again.
    pub fn try_spend(&self, n: u64) -> Result<()> {
        let now = Utc::now();
        let mut s = self.lock();
        match self.decide(&s, n, now) {
            Decision::Go => {
                s.used = s.used.saturating_add(n);
                Ok(())
            }
            Decision::WaitUntil(until) => Err(Error::BudgetExhausted {
                used: s.used,
                max: s.max,
                threshold_pct: self.threshold_pct,
                until,
            }),
        }
    }
}

impl Default for ApiBudget {
    fn default() -> Self {
        ApiBudget::new(100)
    }
}

/// Parses the `api-usage=USED/MAX` part of a `Sforce-Limit-Info` value.
pub fn parse_limit_info(value: &str) -> Option<(u64, u64)> {
    value.split(';').find_map(|part| {
        let (key, v) = part.trim().split_once('=')?;
        if key.trim() != "api-usage" {
            return None;
        }
        let (used, max) = v.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

/// One entry of `/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// `Max`.
    pub max: u64,
    /// `Remaining`.
    pub remaining: u64,
}

/// The `/limits` resource: limit name (`DailyApiRequests`, `DailyBulkV2QueryJobs`, ...) to numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrgLimits(pub BTreeMap<String, Limit>);

impl OrgLimits {
    /// Reads the `/limits` JSON (`{"DailyApiRequests":{"Max":15000,"Remaining":14998,...},...}`).
    ///
    /// # Errors
    /// [`Error::Decode`] when the body is not a JSON object.
    pub fn parse(body: &[u8]) -> Result<Self> {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(body).map_err(|e| Error::decode("limits", e, body))?;
        let mut out = BTreeMap::new();
        for (name, entry) in v {
            let max = entry.get("Max").and_then(serde_json::Value::as_u64);
            let remaining = entry.get("Remaining").and_then(serde_json::Value::as_u64);
            if let (Some(max), Some(remaining)) = (max, remaining) {
                out.insert(name, Limit { max, remaining });
            }
        }
        Ok(OrgLimits(out))
    }

    /// `DailyApiRequests`, when present.
    pub fn daily_api_requests(&self) -> Option<Limit> {
        self.0.get("DailyApiRequests").copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limit_info_headers() {
        assert_eq!(parse_limit_info("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            parse_limit_info("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)"),
            Some((25, 5000))
        );
        assert_eq!(
            parse_limit_info("api-usage=110018/100000; api-bursts=1/750"),
            Some((110018, 100000))
        );
        assert_eq!(parse_limit_info("per-app-api-usage=1/2"), None);
        assert_eq!(parse_limit_info("garbage"), None);
    }

    #[test]
    fn waits_near_the_threshold_and_probes_when_stale() {
        let b = ApiBudget::with_recheck(80, Duration::from_secs(600));
        let t0 = Utc::now();
        assert_eq!(
            b.check_at(1_000_000, t0),
            Decision::Go,
            "unknown budget lets the first call learn"
        );
        b.observe(790, 1000, t0);
        assert_eq!(b.check_at(10, t0), Decision::Go);
        let until = t0 + chrono::Duration::seconds(600);
        assert_eq!(b.check_at(11, t0), Decision::WaitUntil(until));
        assert_eq!(b.check_at(11, until), Decision::Go, "stale numbers allow a probe");
        assert!(b.try_spend(10).is_ok());
        let e = b.try_spend(1).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::LimitExhausted);
    }

    #[test]
    fn refusals_pause_and_older_observations_are_ignored() {
        let b = ApiBudget::new(100);
        let t = Utc::now();
        b.observe(10, 1000, t);
        b.observe(5, 1000, t - chrono::Duration::seconds(5));
        assert_eq!(b.snapshot().used, 10);
        b.mark_exhausted();
        assert!(matches!(b.check(1), Decision::WaitUntil(_)));
    }

    #[test]
    fn parses_limits_resource() {
        let body = br#"{"ConcurrentAsyncGetReportInstances":{"Max":200,"Remaining":200},"DailyApiRequests":{"Max":15000,"Remaining":14998,"Ant Migration Tool":{"Max":0,"Remaining":0}},"Odd":{"x":1}}"#;
        let l = OrgLimits::parse(body).unwrap();
        assert_eq!(
            l.daily_api_requests(),
            Some(Limit {
                max: 15000,
                remaining: 14998
            })
        );
        assert!(!l.0.contains_key("Odd"));
    }
}
