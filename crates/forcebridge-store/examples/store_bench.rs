//! Queue benchmark (bench/store/README.md has the command and the numbers): for SQLite and
//! PostgreSQL, jobs/second for enqueue + lease + complete with 1 and 8 workers, and the
//! enqueue-to-start latency (p50, p99) at a steady 1,000 jobs/second.
//!
//! Usage: `store_bench [--jobs N] [--seconds S] [--pg postgres://…]` (without `--pg`, or with
//! `FORCEBRIDGE_TEST_POSTGRES_URL` unset, only SQLite runs). Each run uses a fresh SQLite file or a
//! fresh PostgreSQL schema, dropped afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use forcebridge_store::{JobState, LeaseRequest, NewJob, Store, StoreOptions};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

struct Db {
    store: Store,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn open(pg: Option<&str>) -> Result<Db, BoxError> {
    match pg {
        None => {
            let dir = tempfile::tempdir()?;
            let mut o = StoreOptions::new(format!("sqlite://{}", dir.path().join("bench.db").display()));
            o.max_connections = 16;
            Ok(Db {
                store: Store::connect(o).await?,
                cleanup: None,
                _dir: Some(dir),
            })
        }
        Some(url) => {
            let schema = format!("fbbench_{}", uuid::Uuid::new_v4().simple());
            let mut o = StoreOptions::new(url);
            o.pg_schema = Some(schema.clone());
            o.max_connections = 16;
            Ok(Db {
                store: Store::connect(o).await?,
                cleanup: Some((url.to_owned(), schema)),
                _dir: None,
            })
        }
    }
}

async fn close(db: Db) -> Result<(), BoxError> {
    db.store.close().await;
    if let Some((url, schema)) = db.cleanup {
        let pool = sqlx::PgPool::connect(&url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
            .execute(&pool)
            .await?;
        pool.close().await;
    }
    Ok(())
}

fn req(n: u32) -> LeaseRequest {
    LeaseRequest {
        worker: "bench".into(),
        kinds: vec![],
        max_jobs: n,
        lease_for: Duration::from_secs(60),
    }
}

/// `jobs` single-job enqueues (one transaction each) by one producer while `workers` workers
/// lease (up to 8 at a time) and complete each job in its own transaction.
async fn throughput(store: &Store, jobs: usize, workers: usize) -> Result<f64, BoxError> {
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let producer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..jobs {
                store.enqueue(&NewJob::new("bench", json!({ "i": i }))).await?;
            }
            Ok::<_, forcebridge_store::Error>(())
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut signal = store.job_signal();
            while done.load(Ordering::SeqCst) < jobs {
                let leased = store.lease(&req(8)).await?;
                if leased.is_empty() {
                    store
                        .wait_for_jobs(&mut signal, Duration::from_millis(20))
                        .await?;
                    continue;
                }
                for j in leased {
                    store.complete(&j.lease).await?;
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok::<_, forcebridge_store::Error>(())
        }));
    }
    producer.await??;
    for t in tasks {
        t.await??;
    }
    Ok(jobs as f64 / start.elapsed().as_secs_f64())
}

/// Enqueue at a steady `rate`/s for `seconds`, 8 workers waiting on wake-ups; returns
/// (achieved enqueue rate, p50 ms, p99 ms, max ms) of enqueue-to-lease latency.
async fn latency(store: &Store, rate: u64, seconds: u64) -> Result<(f64, f64, f64, f64), BoxError> {
    let total = (rate * seconds) as usize;
    let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total)));
    let seen = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, lat, seen) = (store.clone(), lat.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let mut signal = store.job_signal();
            while seen.load(Ordering::SeqCst) < total {
                let leased = store.lease(&req(8)).await?;
                let now = micros();
                if leased.is_empty() {
                    store
                        .wait_for_jobs(&mut signal, Duration::from_millis(100))
                        .await?;
                    continue;
                }
                for j in &leased {
                    let t0 = j.payload.get("t").and_then(|t| t.as_i64()).unwrap_or(now);
                    lat.lock()
                        .map_err(|_| "poisoned")?
                        .push((now - t0) as f64 / 1000.0);
                }
                seen.fetch_add(leased.len(), Ordering::SeqCst);
                for j in leased {
                    store.complete(&j.lease).await?;
                }
            }
            Ok::<_, BoxError>(())
        }));
    }
    // Several producers share the schedule, so a slow commit does not delay the next enqueue.
    let start = Instant::now();
    let mut producers = Vec::new();
    let per = 4u64;
    for p in 0..per {
        let store = store.clone();
        producers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 * per / rate));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for i in 0..(total as u64 / per) {
                tick.tick().await;
                store
                    .enqueue(&NewJob::new("lat", json!({ "t": micros(), "i": i * per + p })))
                    .await?;
            }
            Ok::<_, forcebridge_store::Error>(())
        }));
    }
    for p in producers {
        p.await??;
    }
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    for t in tasks {
        t.await??;
    }
    let mut v = lat.lock().map_err(|_| "poisoned")?.clone();
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        v.get(((v.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((achieved, pct(0.5), pct(0.99), pct(1.0)))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let jobs: usize = arg("--jobs").map(|s| s.parse()).transpose()?.unwrap_or(5000);
    let seconds: u64 = arg("--seconds").map(|s| s.parse()).transpose()?.unwrap_or(10);
    let pg = arg("--pg").or_else(|| std::env::var("FORCEBRIDGE_TEST_POSTGRES_URL").ok());
    let mut backends: Vec<(&str, Option<String>)> = vec![("sqlite", None)];
    if let Some(url) = pg {
        backends.push(("postgres", Some(url)));
    }
    println!("| backend | workers | jobs | enqueue + lease + complete (jobs/s) |");
    println!("|---|---|---|---|");
    let mut lat_rows = Vec::new();
    for (name, url) in &backends {
        for workers in [1, 8] {
            let db = open(url.as_deref()).await?;
            let rate = throughput(&db.store, jobs, workers).await?;
            let stats = db.store.queue_stats().await?;
            assert!(stats.by_kind_state.iter().all(|(_, s, _)| *s == JobState::Done));
            println!("| {name} | {workers} | {jobs} | {rate:.0} |");
            close(db).await?;
        }
        let db = open(url.as_deref()).await?;
        let (achieved, p50, p99, max) = latency(&db.store, 1000, seconds).await?;
        lat_rows.push(format!(
            "| {name} | {achieved:.0} | {p50:.2} | {p99:.2} | {max:.2} |"
        ));
        close(db).await?;
    }
    println!();
    println!(
        "| backend | achieved enqueue rate (jobs/s, target 1000) | p50 enqueue→start (ms) | p99 (ms) | max (ms) |"
    );
    println!("|---|---|---|---|---|");
    for r in lat_rows {
        println!("{r}");
    }
    Ok(())
}
