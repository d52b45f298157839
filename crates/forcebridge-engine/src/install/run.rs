//! Applying an install as a run: [`Engine::start_apply`] checks consent at once and writes a run
//! with its `install.apply` job; a worker ([`Engine::run_apply_job`]) makes the provisioning
//! steps, writing progress to the run, retries a transient Salesforce failure with backoff, and
//! ends the run `succeeded` with the report or `failed` with the reason in words and a remedy
//! (raising `install.failed`).
//!
//! Invariants: one queued or running apply per install (a second start answers the first); the
//! job is durable from the moment the run is answered, so a restart resumes it; a run's outcome is
//! written before its job is finished, so a lost outcome means the job (idempotent) runs again.

use std::time::Duration;

use forcebridge_store::control::{NewRun, Run, RunEnd, RunError};
use forcebridge_store::{InstallId, Job, JobOutcome, LeaseRequest, NewJob, TenantId};
use serde_json::json;

use super::provision::{Progress, Step};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};

/// The queue job kind (and run kind) of an install's apply.
pub const APPLY_KIND: &str = "install.apply";

/// Longest wait between two attempts of an apply.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What a failed apply tells the person who started it: a stable code, the failure in words and
/// what to do. `attempts` is how many attempts were made (for a transient failure that outlived
/// them all).
pub fn run_error(e: &Error, attempts: u32) -> RunError {
    use forcebridge_salesforce::ErrorKind as Sf;
    let again = "then read the install's plan and apply it again";
    let (code, remedy) = match e {
        Error::Salesforce(sf) => match sf.kind() {
            Sf::Auth | Sf::TokenRevoked => (
                "connection_auth_failed",
                format!("reconnect the connection (refresh it, or connect the org again), {again}"),
            ),
            Sf::Permission => (
                "salesforce_permission",
                format!(
                    "give the connection's Salesforce user the \"Customize Application\" and \"Modify Metadata\" \
                     permissions (a System Administrator has them), {again}"
                ),
            ),
            Sf::Transient | Sf::RowLock | Sf::LimitExhausted => (
                "salesforce_unavailable",
                format!("Salesforce kept failing for {attempts} attempts; when it answers again, {again}"),
            ),
            Sf::InvalidInput | Sf::Duplicate | Sf::NotFound | Sf::Other => (
                "salesforce_refused",
                format!("fix what Salesforce's message names in the org (or the recipe's schema), {again}"),
            ),
        },
        _ => match e.kind() {
            ErrorKind::NotFound => (
                "not_found",
                "the install or its connection was removed while the run waited; install the recipe again"
                    .into(),
            ),
            ErrorKind::Retryable => (
                "unavailable",
                format!("the database kept failing for {attempts} attempts; {again}"),
            ),
            ErrorKind::Auth => (
                "connection_auth_failed",
                format!("reconnect the connection, {again}"),
            ),
            ErrorKind::Invalid | ErrorKind::Conflict => {
                ("invalid", format!("fix what the message names, {again}"))
            }
            ErrorKind::Internal => (
                "internal",
                "this is a forcebridge bug: report it with the run's id and the server's log".into(),
            ),
        },
    };
    RunError {
        code: code.into(),
        message: format!("applying the install failed: {e}"),
        remedy,
    }
}

/// The wait before attempt `attempt + 1`: `base` doubling, at most an hour.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

impl Engine {
    /// Consent and start applying: checks the install (not found) and the plan's hash (conflict)
    /// now, then answers the run that will apply it in the background — or the run already
    /// queued or running for this install (then nothing is checked or started).
    ///
    /// # Errors
    /// Not found; [`Error::Conflict`] when the plan changed since it was shown; Salesforce
    /// errors while reading the plan.
    pub async fn start_apply(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        consented_hash: &str,
        actor: &str,
    ) -> Result<Run> {
        self.install_parts(tenant, install).await?;
        if let Some(run) = self.store().active_run(tenant, install, APPLY_KIND).await? {
            return Ok(run);
        }
        let (inst, recipe, _, plan) = self.consented_plan(tenant, install, consented_hash).await?;
        let steps = super::provision::steps(&recipe, &plan.changes);
        let job = NewJob::new(
            APPLY_KIND,
            json!({ "tenant": tenant, "install": inst.id, "steps": steps, "actor": actor }),
        )
        .group(format!("install:{}", inst.id))
        .max_attempts(self.config().max_attempts.max(1));
        let new = NewRun {
            kind: APPLY_KIND.into(),
            install_id: Some(inst.id.clone()),
            connection_id: Some(inst.connection_id.clone()),
            total: u32::try_from(steps.len()).unwrap_or(u32::MAX),
            actor: actor.to_owned(),
        };
        let (run, _) = self.store().start_run(tenant, &new, &job).await?;
        Ok(run)
    }

    /// Work one `install.apply` job: its run goes `running`, then `succeeded` or `failed`, or
    /// back to `queued` until the retry after a transient failure.
    pub async fn run_apply_job(&self, job: &Job) -> JobOutcome {
        let parse = || -> Option<(TenantId, String, InstallId, Vec<Step>, String)> {
            let p = &job.payload;
            Some((
                TenantId::parse(p.get("tenant")?.as_str()?).ok()?,
                p.get("run")?.as_str()?.to_owned(),
                InstallId::parse(p.get("install")?.as_str()?).ok()?,
                serde_json::from_value(p.get("steps")?.clone()).ok()?,
                p.get("actor")?.as_str()?.to_owned(),
            ))
        };
        let Some((tenant, run, install, steps, actor)) = parse() else {
            return JobOutcome::DeadLetter {
                reason: "install.apply job without tenant, run, install, steps and actor".into(),
            };
        };
        let retry = |reason: String| JobOutcome::RetryAt {
            at: self.clock().now()
                + chrono::Duration::from_std(backoff(self.config().retry_base, job.attempt))
                    .unwrap_or(chrono::Duration::hours(1)),
            reason,
        };
        let total = u32::try_from(steps.len()).unwrap_or(u32::MAX);
        match self.store().run_started(&tenant, &run, job.attempt, total).await {
            Ok(r) if r.state.is_finished() => return JobOutcome::Done,
            Ok(_) => {}
            // The tenant (and its runs) are gone.
            Err(e) if e.kind() == forcebridge_store::ErrorKind::NotFound => return JobOutcome::Done,
            Err(e) => return retry(e.to_string()),
        }
        let result = async {
            let (inst, recipe) = self.install_parts(&tenant, &install).await?;
            let client = self.client_for(&inst).await?;
            let report = self
                .provision(
                    &inst,
                    &recipe,
                    &client,
                    &steps,
                    Progress { run: Some(&run) },
                    &actor,
                )
                .await;
            Ok::<_, Error>((inst, report))
        }
        .await;
        let (inst, failure) = match result {
            Ok((_, Ok(report))) => {
                let report = serde_json::to_value(&report).unwrap_or_default();
                return match self
                    .store()
                    .finish_run(&tenant, &run, &RunEnd::Succeeded(report))
                    .await
                {
                    Ok(_) => JobOutcome::Done,
                    Err(e) => retry(e.to_string()),
                };
            }
            Ok((inst, Err(e))) => (Some(inst), e),
            Err(e) => (None, e),
        };
        if failure.kind() == ErrorKind::Retryable && job.attempt < job.max_attempts {
            tracing::warn!(run = %run, attempt = job.attempt, error = %failure, "install apply failed; retrying");
            return match self.store().run_retrying(&tenant, &run).await {
                Ok(()) => retry(failure.to_string()),
                Err(e) => retry(e.to_string()),
            };
        }
        let error = run_error(&failure, job.attempt);
        if let Err(e) = self
            .store()
            .finish_run(&tenant, &run, &RunEnd::Failed(error))
            .await
        {
            return retry(e.to_string());
        }
        if let Some(inst) = &inst
            && let Err(e) = self.notify_install_failed(inst, &failure).await
        {
            tracing::warn!(run = %run, error = %e, "could not raise install.failed");
        }
        JobOutcome::DeadLetter {
            reason: failure.to_string(),
        }
    }

    /// Work queued `install.apply` jobs in this task until none is ready (tests, the demo's
    /// `--once`); returns how many were worked.
    ///
    /// # Errors
    /// Store errors.
    pub async fn run_apply_jobs_until_idle(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            let jobs = self
                .store()
                .lease(&LeaseRequest {
                    worker: self.config().node_name.clone(),
                    kinds: vec![APPLY_KIND.into()],
                    max_jobs: 4,
                    lease_for: Duration::from_secs(300),
                })
                .await?;
            if jobs.is_empty() {
                return Ok(n);
            }
            for job in jobs {
                let outcome = self.run_apply_job(&job).await;
                self.store().finish(&job.lease, &outcome).await?;
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }

    #[test]
    fn every_failure_has_a_code_and_a_remedy() {
        use forcebridge_salesforce::{ApiErrorDetail, Error as Sf};
        let api = |status: u16, code: &str| {
            Error::Salesforce(Sf::Api {
                status,
                errors: vec![ApiErrorDetail {
                    error_code: code.into(),
                    message: "m".into(),
                    fields: vec![],
                }],
                retry_after: None,
            })
        };
        for (e, code) in [
            (api(403, "INSUFFICIENT_ACCESS"), "salesforce_permission"),
            (api(503, "SERVER_UNAVAILABLE"), "salesforce_unavailable"),
            (
                Error::Salesforce(Sf::Metadata("INVALID_FIELD: x".into())),
                "salesforce_refused",
            ),
            (
                Error::NotFound {
                    what: "install",
                    id: "i".into(),
                },
                "not_found",
            ),
        ] {
            let r = run_error(&e, 3);
            assert_eq!(r.code, code, "{e}");
            assert!(r.message.contains("applying the install failed"), "{r:?}");
            assert!(!r.remedy.is_empty());
        }
    }
}
