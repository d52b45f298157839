//! Runs (migration `0004_runs.sql`): the durable, observable units of work the API starts — an
//! install's apply — each worked by one queue job. A run carries its state (`queued`, `running`,
//! `succeeded`, `failed`), the attempts its job made, its progress (steps done of a total, and the
//! step in hand), and its outcome: a report, or an error in words with a remedy. Any node answers
//! for any run, because all of it is here and not in a worker's memory.
//!
//! Invariants: a run and the job that works it are written in one transaction (the job carries the
//! run's id in its payload as `"run"`), so an accepted run is always worked; at most one run of a
//! kind is queued or running per install (a unique index), so a second start answers the first;
//! every method takes the tenant and filters by it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Error, Result};
use crate::model::{ConnectionId, InstallId, TenantId};
use crate::queue::NewJob;
use crate::{Store, TxInner};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for a worker (also between attempts after a transient failure).
    Queued,
    /// A worker is on it.
    Running,
    /// Finished; `report` says what it did.
    Succeeded,
    /// Finished without success; `error` says why and what to do.
    Failed,
}

impl RunState {
    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "queued" => Ok(RunState::Queued),
            "running" => Ok(RunState::Running),
            "succeeded" => Ok(RunState::Succeeded),
            "failed" => Ok(RunState::Failed),
            other => Err(Error::corrupt("runs", format!("state {other:?}"))),
        }
    }

    /// Whether the run is over.
    pub fn is_finished(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed)
    }
}

/// How far a run got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunProgress {
    /// Steps completed.
    pub done: u32,
    /// Steps in all.
    pub total: u32,
    /// The step in hand (or the last one, once finished), in words.
    pub step: Option<String>,
}

/// Why a run failed, in words, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunError {
    /// A stable code (`salesforce_refused`, `connection_auth_failed`, …).
    pub code: String,
    /// What failed.
    pub message: String,
    /// What to do next.
    pub remedy: String,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// Its id.
    pub id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// What it does (`install.apply`).
    pub kind: String,
    /// The install it works on, if any.
    pub install_id: Option<InstallId>,
    /// The connection it works against, if any.
    pub connection_id: Option<ConnectionId>,
    /// Where it stands.
    pub state: RunState,
    /// Attempts its job made so far.
    pub attempts: u32,
    /// How far it got.
    pub progress: RunProgress,
    /// Why it failed (`failed` only).
    pub error: Option<RunError>,
    /// What it did (`succeeded` only).
    pub report: Option<serde_json::Value>,
    /// Who started it.
    pub actor: String,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// What it does (`install.apply`).
    pub kind: String,
    /// The install it works on.
    pub install_id: Option<InstallId>,
    /// The connection it works against.
    pub connection_id: Option<ConnectionId>,
    /// Steps it expects to make (progress total until the worker knows better).
    pub total: u32,
    /// Who starts it.
    pub actor: String,
}

/// Which runs to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this install's.
    pub install_id: Option<InstallId>,
    /// Only runs against these connections (a member's view); `None`: any.
    pub connection_ids: Option<Vec<ConnectionId>>,
    /// Only ids below this one (paging).
    pub before_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum RunEnd {
    /// With this report.
    Succeeded(serde_json::Value),
    /// With this error.
    Failed(RunError),
}

impl Store {
    /// Start a run and enqueue `job` to work it, in one transaction; the job's payload gains the
    /// run's id as `"run"`. When a run of the same kind is already queued or running for the
    /// install, nothing is written and that run is returned with `false`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad job; [`Error::NotFound`] for an unknown tenant.
    pub async fn start_run(&self, tenant: &TenantId, new: &NewRun, job: &NewJob) -> Result<(Run, bool)> {
        // A concurrent start may win the unique index between our look and our insert: look again.
        for _ in 0..3 {
            let mut tx = self.begin().await?;
            if let Some(install) = &new.install_id {
                let active = ctl!(tx, m, c, _ctx => m::active_run(c, tenant, install, &new.kind).await)?;
                if let Some(run) = active {
                    tx.rollback().await?;
                    return Ok((run, false));
                }
            }
            let id = uuid::Uuid::now_v7().to_string();
            let inserted = ctl!(tx, m, c, ctx => m::insert_run(c, ctx, tenant, &id, new).await);
            match inserted {
                Ok(()) => {}
                Err(e) if e.kind() == crate::ErrorKind::Conflict => {
                    tx.rollback().await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            let mut job = job.clone();
            match &mut job.payload {
                serde_json::Value::Object(o) => {
                    o.insert("run".into(), serde_json::Value::String(id.clone()));
                }
                other => *other = serde_json::json!({ "run": id }),
            }
            job.tenant_id = Some(tenant.clone());
            tx.enqueue(&job).await?;
            let run = ctl!(tx, m, c, _ctx => m::get_run(c, tenant, &id).await)?;
            tx.commit().await?;
            return Ok((run, true));
        }
        Err(Error::Conflict(
            "another run of this install was started at the same moment; read its runs and try again".into(),
        ))
    }

    /// A tenant's run.
    ///
    /// # Errors
    /// [`Error::NotFound`] (also for another tenant's run).
    pub async fn get_run(&self, tenant: &TenantId, id: &str) -> Result<Run> {
        ctl_read!(self, m, c, _ctx => m::get_run(c, tenant, id).await)
    }

    /// The run of `kind` queued or running for an install, if any.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn active_run(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        kind: &str,
    ) -> Result<Option<Run>> {
        ctl_read!(self, m, c, _ctx => m::active_run(c, tenant, install, kind).await)
    }

    /// A tenant's runs, newest first.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a limit out of range.
    pub async fn list_runs(&self, tenant: &TenantId, filter: &RunFilter) -> Result<Vec<Run>> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::Invalid("limit must be 1 to 1000".into()));
        }
        if filter.connection_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        ctl_read!(self, m, c, _ctx => m::list_runs(c, tenant, filter, i64::from(limit)).await)
    }

    /// A worker took the run up for attempt `attempt`: `running`, progress back to 0 of `total`.
    /// Returns the run; a finished run is returned unchanged (its job has nothing to do).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn run_started(&self, tenant: &TenantId, id: &str, attempt: u32, total: u32) -> Result<Run> {
        let mut tx = self.begin().await?;
        ctl!(tx, m, c, ctx => m::run_started(c, ctx, tenant, id, i64::from(attempt), i64::from(total)).await)?;
        let run = ctl!(tx, m, c, _ctx => m::get_run(c, tenant, id).await)?;
        tx.commit().await?;
        Ok(run)
    }

    /// Record progress: `done` steps of `total`, now at `step`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn run_progress(&self, tenant: &TenantId, id: &str, progress: &RunProgress) -> Result<()> {
        ctl_write!(self, m, c, ctx => m::run_progress(c, ctx, tenant, id, progress).await)
    }

    /// The attempt failed transiently and the job will run again: back to `queued`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn run_retrying(&self, tenant: &TenantId, id: &str) -> Result<()> {
        ctl_write!(self, m, c, ctx => m::run_retrying(c, ctx, tenant, id).await)
    }

    /// End a run (only a run that is not over yet changes).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn finish_run(&self, tenant: &TenantId, id: &str, end: &RunEnd) -> Result<Run> {
        let mut tx = self.begin().await?;
        ctl!(tx, m, c, ctx => m::finish_run(c, ctx, tenant, id, end).await)?;
        let run = ctl!(tx, m, c, _ctx => m::get_run(c, tenant, id).await)?;
        tx.commit().await?;
        Ok(run)
    }
}
