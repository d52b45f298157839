//! Test child for the store's crash and multi-node tests (run by tests/crash.rs and
//! tests/nodes.rs through its path; not a user tool).
//!
//! - `crash <url> <schema|-> <tenant> <events>`: accept events `ev-0..events` in order (resuming
//!   a little before where a previous, killed run got to, so some keys are repeated) while
//!   workers run their jobs; each run is recorded in `harness_runs` before the job completes.
//!   Prints `DONE` and exits 0 when every event is accepted and its job finished.
//! - `node <url> <schema|-> <name>`: lease batches until the queue is empty; each run records its
//!   start and end (microseconds) and group in `harness_runs`, then the batch completes at once.
//!
//! Invariant: the harness only uses the store's public interface, plus raw SQL for its own table.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use forcebridge_store::worker::{self, WorkerConfig};
use forcebridge_store::{
    Backend, Job, JobOutcome, LeaseRequest, NewJob, QueueConfig, Store, StoreOptions, TenantId,
};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn open(url: &str, schema: &str) -> Result<Store, BoxError> {
    let mut o = StoreOptions::new(url);
    if schema != "-" {
        o.pg_schema = Some(schema.to_owned());
    }
    // Process crashes (SIGKILL) lose nothing committed with synchronous=NORMAL in WAL mode.
    o.sqlite_synchronous_full = false;
    // Likewise on PostgreSQL: the test kills forcebridge, not the database server.
    o.pg_synchronous_commit = false;
    o.queue = QueueConfig {
        default_max_attempts: 1000,
        ..QueueConfig::default()
    };
    o.max_connections = 12;
    Ok(Store::connect(o).await?)
}

/// Record one run: (job, key, attempt, node, group, start, end).
async fn record(
    store: &Store,
    rows: &[(i64, String, i64, String, String, i64, i64)],
) -> Result<(), BoxError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO harness_runs (job_id, event_key, attempt, node, grp, started_us, ended_us) VALUES ",
    );
    for i in 0..rows.len() {
        let b = i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7
        ));
    }
    // Through a store transaction, so the write queues with the store's own writers.
    let mut tx = store.begin().await?;
    macro_rules! run {
        ($conn:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in rows {
                q = q
                    .bind(r.0)
                    .bind(r.1.clone())
                    .bind(r.2)
                    .bind(r.3.clone())
                    .bind(r.4.clone())
                    .bind(r.5)
                    .bind(r.6);
            }
            q.execute($conn).await?;
        }};
    }
    match store.backend() {
        Backend::Sqlite => run!(tx.sqlite().ok_or("no connection")?),
        Backend::Postgres => run!(tx.postgres().ok_or("no connection")?),
    }
    tx.commit().await?;
    Ok(())
}

async fn queue_idle(store: &Store, kind: &str) -> Result<bool, BoxError> {
    Ok(!store.has_unfinished_jobs(Some(kind)).await?)
}

async fn crash(url: &str, schema: &str, tenant: &str, events: usize) -> Result<(), BoxError> {
    let store = open(url, schema).await?;
    let tenant = TenantId::parse(tenant)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handler = {
        let store = store.clone();
        Arc::new(worker::handler_fn(move |job: Job| {
            let store = store.clone();
            async move {
                let key = job
                    .payload
                    .get("key")
                    .and_then(|k| k.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let now = micros();
                let row = (
                    job.id,
                    key,
                    i64::from(job.attempt),
                    "crash".to_owned(),
                    String::new(),
                    now,
                    now,
                );
                match record(&store, &[row]).await {
                    Ok(()) => JobOutcome::Done,
                    Err(e) => JobOutcome::Fail {
                        reason: format!("recording failed: {e}"),
                    },
                }
            }
        }))
    };
    let cfg = WorkerConfig {
        name: format!("crash-{}", std::process::id()),
        concurrency: std::env::args().nth(6).and_then(|c| c.parse().ok()).unwrap_or(8),
        lease_for: Duration::from_secs(2),
        heartbeat_every: Duration::from_millis(500),
        idle_wait: Duration::from_millis(300),
        reap_every: Duration::from_millis(700),
        ..WorkerConfig::default()
    };
    let w = tokio::spawn(worker::run(store.clone(), cfg, handler, stop_rx));

    // Resume: submit every key without an acceptance, plus the last few that have one (a
    // product retrying requests whose answer it never saw; those answer with the first
    // acceptance). Eight submitters at once, as a server would take concurrent requests.
    let done: std::collections::HashSet<String> = {
        let mut tx = store.begin_read().await?;
        let sql = "SELECT idempotency_key FROM events WHERE tenant_id = $1";
        let keys: Vec<String> = match tx.sqlite() {
            Some(c) => {
                sqlx::query_scalar(sql)
                    .bind(tenant.as_str())
                    .fetch_all(&mut *c)
                    .await?
            }
            None => {
                let c = tx.postgres().ok_or("no connection")?;
                sqlx::query_scalar(sql)
                    .bind(tenant.as_str())
                    .fetch_all(&mut *c)
                    .await?
            }
        };
        tx.rollback().await?;
        keys.into_iter().collect()
    };
    let resubmit_from = done.len().saturating_sub(25);
    let todo: Vec<usize> = (0..events)
        .filter(|i| *i >= resubmit_from || !done.contains(&format!("ev-{i}")))
        .collect();
    eprintln!(
        "harness: {} accepted before, submitting {}",
        done.len(),
        todo.len()
    );
    let todo = Arc::new(todo);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut submitters = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, tenant, todo, next) = (
            store.clone(),
            tenant.clone(),
            Arc::clone(&todo),
            Arc::clone(&next),
        );
        submitters.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&i) = todo.get(n) else {
                    return Ok::<(), forcebridge_store::Error>(());
                };
                let key = format!("ev-{i}");
                loop {
                    let r = store
                        .accept_event(&tenant, &key, "crash.test", &json!({ "i": i }), |e| {
                            Some(
                                NewJob::new("crash.process", json!({ "key": key, "event": e.id }))
                                    .group(format!("g{}", i % 7)),
                            )
                        })
                        .await;
                    match r {
                        Ok(_) => break,
                        Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(20)).await,
                        Err(e) => return Err(e),
                    }
                }
            }
        });
    }
    while let Some(r) = submitters.join_next().await {
        r??;
    }
    loop {
        if queue_idle(&store, "crash.process").await? {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    w.await??;
    println!("DONE");
    Ok(())
}

async fn node(url: &str, schema: &str, name: &str) -> Result<(), BoxError> {
    let store = open(url, schema).await?;
    let mut signal = store.job_signal();
    let req = LeaseRequest {
        worker: name.to_owned(),
        kinds: vec!["nodes.test".into()],
        max_jobs: 64,
        lease_for: Duration::from_secs(120),
    };
    let mut ran = 0usize;
    loop {
        let jobs = match store.lease(&req).await {
            Ok(j) => j,
            Err(e) if e.is_retryable() => continue,
            Err(e) => return Err(e.into()),
        };
        if jobs.is_empty() {
            if queue_idle(&store, "nodes.test").await? {
                break;
            }
            store
                .wait_for_jobs(&mut signal, Duration::from_millis(50))
                .await?;
            continue;
        }
        let start = micros();
        // "Work": give other nodes a chance to run concurrently.
        tokio::task::yield_now().await;
        let end = micros().max(start + 1);
        let rows: Vec<_> = jobs
            .iter()
            .map(|j| {
                (
                    j.id,
                    String::new(),
                    i64::from(j.attempt),
                    name.to_owned(),
                    j.group.clone().unwrap_or_default(),
                    start,
                    end,
                )
            })
            .collect();
        record(&store, &rows).await?;
        let leases: Vec<_> = jobs.iter().map(|j| j.lease.clone()).collect();
        let lost = store.complete_many(&leases).await?;
        if !lost.is_empty() {
            return Err(format!("lost leases {lost:?}").into());
        }
        ran += jobs.len();
    }
    println!("DONE {ran}");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [_, "crash", url, schema, tenant, events, ..] => rt.block_on(crash(url, schema, tenant, events.parse()?)),
        [_, "node", url, schema, name] => rt.block_on(node(url, schema, name)),
        [_, "setup", url, schema] => rt.block_on(async {
            let store = open(url, schema).await?;
            let t = store.create_tenant("harness").await?;
            println!("{}", t.id);
            Ok(())
        }),
        _ => Err("usage: forcebridge-store-harness crash <url> <schema|-> <tenant> <events> | node <url> <schema|-> <name>".into()),
    }
}
