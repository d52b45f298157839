//! The load generator of bench/server, against a running `forcebridge serve` and emulator:
//!
//! - `setup <server> <admin_key> <emulator_info.json>`: a tenant, its key, a password connection
//!   to the emulator's org, an install of the `nodes` recipe (one Account per `ping` event),
//!   plan and apply; prints the tenant key.
//! - `ingest <server> <key> <events> <batch> <clients> <tag>`: posts `events` events in posts of
//!   `batch`, from `clients` concurrent connections; prints one JSON line (events per second from
//!   the first request sent to the last `202` received, and each post's latency).
//! - `latency <server> <key> <emulator_info.json> <n>`: posts `n` single events one at a time and
//!   times each from the request until its Account can be read through the emulator's REST API
//!   (polled back to back); prints p50/p99 as one JSON line.
//!
//! Invariant: request bodies are built before the clock starts, so the numbers are the server's
//! (the client still shares the machine); any answer but the expected one stops the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Res<&str> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the usage at the top of src/main.rs").into())
    };
    let num = |i: usize| -> Res<usize> { Ok(arg(i)?.parse()?) };
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    match arg(0)? {
        "setup" => setup(&http, arg(1)?, arg(2)?, &info(arg(3)?)?).await,
        "ingest" => ingest(&http, arg(1)?, arg(2)?, num(3)?, num(4)?, num(5)?, arg(6)?).await,
        "latency" => latency(&http, arg(1)?, arg(2)?, &info(arg(3)?)?, num(4)?).await,
        other => Err(format!("unknown command {other:?}: setup, ingest or latency").into()),
    }
}

fn info(path: &str) -> Res<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    Ok(serde_json::from_str(text.lines().next().unwrap_or_default())?)
}

fn text(v: &Value, key: &str) -> Res<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in {v}").into())
}

/// POST with a bearer token; the status and JSON body.
async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Res<(u16, Value)> {
    let r = http.post(url).bearer_auth(token).json(body).send().await?;
    let s = r.status().as_u16();
    Ok((s, r.json().await.unwrap_or(Value::Null)))
}

fn expect(what: &str, got: (u16, Value), want: u16) -> Res<Value> {
    if got.0 == want {
        Ok(got.1)
    } else {
        Err(format!("{what}: expected {want}, got {} {}", got.0, got.1).into())
    }
}

async fn setup(http: &reqwest::Client, server: &str, admin: &str, emu: &Value) -> Res<()> {
    let t = expect(
        "tenant",
        post(
            http,
            &format!("{server}/v1/tenants"),
            admin,
            &json!({ "name": "Bench" }),
        )
        .await?,
        201,
    )?;
    let tenant = text(&t, "id")?;
    let k = expect(
        "key",
        post(
            http,
            &format!("{server}/v1/tenants/{tenant}/keys"),
            admin,
            &json!({ "label": "bench" }),
        )
        .await?,
        201,
    )?;
    let key = text(&k, "secret")?;
    let body = json!({
        "label": "Emulator",
        "owner_email": "ops@nodes.test",
        "environment": { "kind": "production" },
        "auth": {
            "method": "password",
            "client_id": emu["client_id"], "client_secret": emu["client_secret"],
            "username": emu["username"], "password": emu["password"],
            "security_token": emu["security_token"],
        }
    });
    let c = expect(
        "connection",
        post(http, &format!("{server}/v1/connections"), &key, &body).await?,
        201,
    )?;
    let i = expect(
        "install",
        post(
            http,
            &format!("{server}/v1/installs"),
            &key,
            &json!({ "connection_id": text(&c, "id")?, "recipe": "nodes" }),
        )
        .await?,
        201,
    )?;
    let install = text(&i, "id")?;
    let plan: Value = http
        .get(format!("{server}/v1/installs/{install}/plan"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let (s, body) = post(
        http,
        &format!("{server}/v1/installs/{install}/apply"),
        &key,
        &json!({ "plan_hash": plan["hash"] }),
    )
    .await?;
    // 200: applied; 202: an apply run, which the node's workers work: wait until it succeeded
    // (until then the install is off and events get no delivery).
    match s {
        200 => {}
        202 => {
            let run = text(&body, "id")?;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let r: Value = http
                    .get(format!("{server}/v1/runs/{run}"))
                    .bearer_auth(&key)
                    .send()
                    .await?
                    .json()
                    .await?;
                match r["state"].as_str() {
                    Some("succeeded") => break,
                    Some("failed") => return Err(format!("apply failed: {r}").into()),
                    _ if Instant::now() > deadline => return Err(format!("apply did not finish: {r}").into()),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        _ => return Err(format!("apply: {s} {body}").into()),
    }
    println!("{key}");
    Ok(())
}

fn event(id: &str) -> Value {
    json!({ "idempotency_key": id, "type": "ping", "data": { "id": id } })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

async fn ingest(
    http: &reqwest::Client,
    server: &str,
    key: &str,
    events: usize,
    batch: usize,
    clients: usize,
    tag: &str,
) -> Res<()> {
    let batch = batch.max(1);
    let bodies: Vec<Vec<u8>> = (0..events.div_ceil(batch))
        .map(|p| {
            let evs: Vec<Value> = (p * batch..((p + 1) * batch).min(events))
                .map(|i| event(&format!("{tag}-{i}")))
                .collect();
            let body = if batch == 1 {
                evs[0].clone()
            } else {
                json!({ "events": evs })
            };
            serde_json::to_vec(&body).unwrap_or_default()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("{server}/v1/events");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (http, bodies, next, url, key) = (
            http.clone(),
            bodies.clone(),
            next.clone(),
            url.clone(),
            key.to_owned(),
        );
        tasks.spawn(async move {
            let mut times = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(n) else {
                    return Ok::<_, String>(times);
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                let answer = r.bytes().await.map_err(|e| e.to_string())?;
                if status != 202 {
                    return Err(format!("post {n}: {status} {}", String::from_utf8_lossy(&answer)));
                }
                times.push(t.elapsed());
            }
        });
    }
    let mut times = Vec::new();
    while let Some(r) = tasks.join_next().await {
        times.extend(r??);
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort();
    println!(
        "{}",
        json!({
            "events": events, "batch": batch, "clients": clients, "posts": times.len(),
            "seconds": secs, "events_per_sec": events as f64 / secs,
            "post_p50_ms": percentile(&times, 50.0), "post_p99_ms": percentile(&times, 99.0),
        })
    );
    Ok(())
}

async fn latency(http: &reqwest::Client, server: &str, key: &str, emu: &Value, n: usize) -> Res<()> {
    let form = [
        ("grant_type", "password".to_owned()),
        ("client_id", text(emu, "client_id")?),
        ("client_secret", text(emu, "client_secret")?),
        ("username", text(emu, "username")?),
        (
            "password",
            format!("{}{}", text(emu, "password")?, text(emu, "security_token")?),
        ),
    ];
    let session: Value = http
        .post(text(emu, "token_url")?)
        .form(&form)
        .send()
        .await?
        .json()
        .await?;
    let org = text(&session, "instance_url")?;
    let token = text(&session, "access_token")?;
    let query_url = format!("{org}/services/data/v66.0/query");
    let run = std::process::id();
    let mut accepted = Vec::with_capacity(n);
    let mut written = Vec::with_capacity(n);
    let mut polls = 0u64;
    for i in 0..n {
        let id = format!("lat-{run}-{i}");
        let soql = format!("SELECT Id FROM Account WHERE Name = '{id}'");
        let body = event(&id);
        let t = Instant::now();
        expect(
            "event",
            post(http, &format!("{server}/v1/events"), key, &body).await?,
            202,
        )?;
        accepted.push(t.elapsed());
        let deadline = t + Duration::from_secs(60);
        loop {
            polls += 1;
            let page: Value = http
                .get(&query_url)
                .query(&[("q", &soql)])
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            if page["totalSize"].as_u64().unwrap_or(0) > 0 {
                written.push(t.elapsed());
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("event {id} was not written within a minute").into());
            }
        }
        // Idle again before the next one: the drain finishes its bookkeeping after the write.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    accepted.sort();
    written.sort();
    println!(
        "{}",
        json!({
            "events": n,
            "accepted_p50_ms": percentile(&accepted, 50.0), "accepted_p99_ms": percentile(&accepted, 99.0),
            "written_p50_ms": percentile(&written, 50.0), "written_p99_ms": percentile(&written, 99.0),
            "polls_per_event": polls as f64 / n.max(1) as f64,
        })
    );
    Ok(())
}
