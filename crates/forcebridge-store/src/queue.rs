//! The durable job queue's types and policies (the operations are on [`crate::Store`] and
//! [`crate::Tx`]).
//!
//! Invariants, kept by the SQL in `ops.rs`:
//! - a job is leased by at most one holder at a time: leasing sets a fresh random token, and every
//!   later call on the lease (heartbeat, complete, fail, defer) must present it while the job is
//!   still `running`;
//! - a job's `attempts` counts leases; deferral gives the attempt back;
//! - at most `max_running` jobs of one concurrency group are `running` at once, across all nodes
//!   (PostgreSQL: group rows locked while counting; SQLite: `BEGIN IMMEDIATE` serialises leases);
//! - a job leaves `running` only through complete, fail, defer, cancel or the reaper.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::TenantId;

/// A job's id.
pub type JobId = i64;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its run-at time and a worker.
    Ready,
    /// Leased by a worker.
    Running,
    /// Finished successfully.
    Done,
    /// Failed its last attempt (dead letter); can be replayed.
    Dead,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "ready",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "ready" => JobState::Ready,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            "cancelled" => JobState::Cancelled,
            other => return Err(Error::corrupt("jobs", format!("state {other:?}"))),
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What handler runs it (`event.deliver`, `sync.run`, ...).
    pub kind: String,
    /// Its input.
    pub payload: serde_json::Value,
    /// Higher runs first among ready jobs. Default 0.
    pub priority: i32,
    /// Not before this time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// While a job with this key is ready or running, enqueuing another returns the first one.
    pub dedupe_key: Option<String>,
    /// Concurrency group (e.g. the connection id); at most the group's limit run at once.
    pub group: Option<String>,
    /// Attempts before dead-lettering; `None` takes the queue default.
    pub max_attempts: Option<u32>,
    /// The tenant it works for, if any (for statistics and cleanup).
    pub tenant_id: Option<TenantId>,
}

impl NewJob {
    /// A job of `kind` with `payload` and defaults for the rest.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            priority: 0,
            run_at: None,
            dedupe_key: None,
            group: None,
            max_attempts: None,
            tenant_id: None,
        }
    }

    /// Set the concurrency group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Set the dedupe key.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// Set the priority.
    pub fn priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }

    /// Set the run-at time.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Set the attempt budget.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.kind.is_empty() || self.kind.len() > 200 {
            return Err(Error::Invalid("job kind must be 1 to 200 characters".into()));
        }
        if self.max_attempts == Some(0) {
            return Err(Error::Invalid("max_attempts must be at least 1".into()));
        }
        Ok(())
    }
}

/// The result of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// The job's id (the existing one when deduplicated).
    pub id: JobId,
    /// True when a ready or running job with the same dedupe key already existed.
    pub deduplicated: bool,
}

/// Proof of holding a job: present it to heartbeat, complete, fail or defer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The job.
    pub job_id: JobId,
    /// The random token of this lease.
    pub token: String,
    /// When the lease runs out unless renewed by a heartbeat.
    pub expires_at: DateTime<Utc>,
}

/// A leased job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Handler kind.
    pub kind: String,
    /// Input.
    pub payload: serde_json::Value,
    /// Priority.
    pub priority: i32,
    /// The attempt this lease is (1 for the first).
    pub attempt: u32,
    /// The attempt budget.
    pub max_attempts: u32,
    /// Concurrency group.
    pub group: Option<String>,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// The previous attempt's error, if any.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// The lease.
    pub lease: Lease,
}

/// A job as stored, for inspection (UI, CLI, tests).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// Its id.
    pub id: JobId,
    /// Handler kind.
    pub kind: String,
    /// Input.
    pub payload: serde_json::Value,
    /// State.
    pub state: JobState,
    /// Leases so far.
    pub attempts: u32,
    /// Budget.
    pub max_attempts: u32,
    /// Next run time (ready) or last start.
    pub run_at: DateTime<Utc>,
    /// Concurrency group.
    pub group: Option<String>,
    /// Dedupe key.
    pub dedupe_key: Option<String>,
    /// Last error (the dead-letter reason for dead jobs).
    pub last_error: Option<String>,
    /// When it finished (done, dead, cancelled).
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a handler decided about a job (the engine's outcome type maps onto this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished.
    Done,
    /// Failed; retry with the queue's backoff, or dead-letter after the last attempt.
    Fail {
        /// Why (kept as the job's last error / dead-letter reason).
        reason: String,
    },
    /// Failed transiently; retry at the given time (still spends the attempt).
    RetryAt {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// Not run (e.g. API limit reached): run again at `until` without spending an attempt.
    Defer {
        /// When.
        until: DateTime<Utc>,
    },
    /// Failed permanently: dead-letter now, whatever attempts remain.
    DeadLetter {
        /// Why.
        reason: String,
    },
}

/// What happened to a job after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailResult {
    /// It will run again at this time.
    Retrying {
        /// The next run time.
        at: DateTime<Utc>,
    },
    /// It was dead-lettered.
    Dead,
}

/// Queue behaviour.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Attempt budget for jobs that do not set one.
    pub default_max_attempts: u32,
    /// First retry delay; doubled each attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Running-job cap of a concurrency group that has no explicit limit.
    pub default_group_limit: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            default_max_attempts: 10,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(3600),
            default_group_limit: 4,
        }
    }
}

impl QueueConfig {
    /// The delay before retrying after failed attempt number `attempt` (1-based): exponential,
    /// capped, with "equal jitter" (a random point in the upper half) so that retries of jobs that
    /// failed together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        })
    }
}

/// What to ask for when leasing.
#[derive(Debug, Clone)]
pub struct LeaseRequest {
    /// The worker's name (node + task), recorded on the job for inspection.
    pub worker: String,
    /// Only these kinds; empty means any.
    pub kinds: Vec<String>,
    /// At most this many jobs.
    pub max_jobs: u32,
    /// Lease length; heartbeat before it runs out.
    pub lease_for: Duration,
}

/// Counts for metrics and the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueStats {
    /// Jobs per (kind, state).
    pub by_kind_state: Vec<(String, JobState, u64)>,
    /// Run-at of the oldest job that is ready and due, if any (its age is the queue's lag).
    pub oldest_ready_at: Option<DateTime<Utc>>,
    /// Dead letters waiting for replay.
    pub dead: u64,
}

/// How long finished rows are kept; `None` keeps forever.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Done and cancelled jobs, after they finished.
    pub finished_jobs: Option<Duration>,
    /// Dead letters, after they died.
    pub dead_jobs: Option<Duration>,
    /// Accepted events (and so their idempotency keys), after acceptance.
    pub events: Option<Duration>,
    /// Journal entries.
    pub journal: Option<Duration>,
    /// Audit records.
    pub audit: Option<Duration>,
}

/// How many rows a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Jobs removed.
    pub jobs: u64,
    /// Events removed.
    pub events: u64,
    /// Journal entries removed.
    pub journal: u64,
    /// Audit records removed.
    pub audit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let c = QueueConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..Default::default()
        };
        for attempt in 1..40 {
            let full = Duration::from_secs(1u64 << (attempt - 1).min(30)).min(Duration::from_secs(60));
            let d = c.backoff(attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }
}
