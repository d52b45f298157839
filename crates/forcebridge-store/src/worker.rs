//! A worker loop over the queue: lease, run handlers concurrently with heartbeats, apply their
//! outcomes, reap expired leases now and then, and sleep until woken when there is nothing to do.
//!
//! Invariants: a worker never holds more than `concurrency` leases; a handler whose lease is
//! lost (expired and re-leased, or the job cancelled) is dropped at its next await point, so its
//! outcome is never applied over someone else's lease; a failure to record an outcome is retried
//! and otherwise left to the reaper (the job runs again: at-least-once).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::queue::{Job, JobOutcome, LeaseRequest};
use crate::{Error, Store};

/// Runs one job. Implemented for closures by [`handler_fn`].
pub trait Handler: Send + Sync + 'static {
    /// Run `job` and say how it went.
    fn run(&self, job: Job) -> impl Future<Output = JobOutcome> + Send;
}

/// A [`Handler`] made from an async closure.
#[derive(Debug, Clone)]
pub struct FnHandler<F>(F);

/// Wrap `f` as a [`Handler`].
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobOutcome> + Send,
{
    FnHandler(f)
}

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobOutcome> + Send,
{
    fn run(&self, job: Job) -> impl Future<Output = JobOutcome> + Send {
        (self.0)(job)
    }
}

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Name recorded on leased jobs (node and worker).
    pub name: String,
    /// Kinds to run; empty means all.
    pub kinds: Vec<String>,
    /// Most jobs run at once.
    pub concurrency: usize,
    /// Lease length.
    pub lease_for: Duration,
    /// Heartbeat period (well under `lease_for`).
    pub heartbeat_every: Duration,
    /// Longest sleep when idle (wake-ups usually come sooner).
    pub idle_wait: Duration,
    /// How often this worker reaps expired leases.
    pub reap_every: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            name: format!("worker-{}", std::process::id()),
            kinds: Vec::new(),
            concurrency: 8,
            lease_for: Duration::from_secs(60),
            heartbeat_every: Duration::from_secs(15),
            idle_wait: Duration::from_secs(5),
            reap_every: Duration::from_secs(10),
        }
    }
}

/// Run until `shutdown` turns true, then let running jobs finish.
///
/// # Errors
/// None today: database errors are logged and retried after a pause, so a worker survives a
/// database restart.
pub async fn run<H: Handler>(
    store: Store,
    cfg: WorkerConfig,
    handler: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut signal = store.job_signal();
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut last_reap: Option<tokio::time::Instant> = None;
    let cfg = Arc::new(cfg);
    loop {
        if *shutdown.borrow() {
            break;
        }
        if last_reap.is_none_or(|t| t.elapsed() >= cfg.reap_every) {
            if let Err(e) = store.reap_expired().await {
                tracing::warn!(error = %e, "reaping expired leases failed");
            }
            last_reap = Some(tokio::time::Instant::now());
        }
        let room = cfg.concurrency.saturating_sub(inflight.len());
        let mut leased = 0;
        if room > 0 {
            let req = LeaseRequest {
                worker: cfg.name.clone(),
                kinds: cfg.kinds.clone(),
                max_jobs: u32::try_from(room).unwrap_or(u32::MAX),
                lease_for: cfg.lease_for,
            };
            match store.lease(&req).await {
                Ok(jobs) => {
                    leased = jobs.len();
                    for job in jobs {
                        inflight.spawn(run_one(
                            store.clone(),
                            Arc::clone(&cfg),
                            Arc::clone(&handler),
                            job,
                        ));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leasing jobs failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        if leased == 0 {
            tokio::select! {
                Some(_) = inflight.join_next(), if !inflight.is_empty() => {}
                r = store.wait_for_jobs(&mut signal, cfg.idle_wait), if room > 0 => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "waiting for jobs failed");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    Ok(())
}

async fn run_one<H: Handler>(store: Store, cfg: Arc<WorkerConfig>, handler: Arc<H>, job: Job) {
    let job_id = job.id;
    let lease = job.lease.clone();
    let heartbeat = {
        let store = store.clone();
        let cfg = Arc::clone(&cfg);
        let mut lease = lease.clone();
        async move {
            loop {
                tokio::time::sleep(cfg.heartbeat_every).await;
                match store.heartbeat(&lease, cfg.lease_for).await {
                    Ok(l) => lease = l,
                    Err(Error::LeaseLost { .. }) => return,
                    Err(e) => tracing::warn!(job_id, error = %e, "heartbeat failed"),
                }
            }
        }
    };
    let outcome = tokio::select! {
        o = handler.run(job) => o,
        () = heartbeat => {
            tracing::warn!(job_id, "lease lost while running; abandoning the job");
            return;
        }
    };
    let mut delay = Duration::from_millis(100);
    for _ in 0..6 {
        match store.finish(&lease, &outcome).await {
            Ok(_) => return,
            Err(Error::LeaseLost { .. }) => {
                tracing::warn!(job_id, "lease lost before the outcome was recorded");
                return;
            }
            Err(e) => {
                tracing::warn!(job_id, error = %e, "recording the outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}
