//! The engine benchmark (bench/engine): N Instruqt events (form submissions, starts, completions
//! with feedback) and N SpaceIQ moves through the real engine (SQLite store, drains in batches of
//! 200) into an in-process emulator. Prints API calls per 1,000 events, events per second (ingest
//! and apply), peak RSS of the process (engine and emulator together), and the latency the engine
//! adds to one event when idle (ingest → applied, p50/p99).
//!
//! `cargo run --release -p forcebridge-engine --example engine_bench -- [N]`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on failure
#![allow(clippy::disallowed_methods)] // it measures wall time on purpose

use std::sync::Arc;
use std::time::Instant;

use forcebridge_emulator::{Emulator, EmulatorConfig};
use forcebridge_engine::harness::{self, OrgAccess};
use forcebridge_engine::recipe;
use forcebridge_engine::runtime::IncomingEvent;
use forcebridge_salesforce::HttpConfig;
use serde_json::{Value, json};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn instruqt_event(i: usize) -> (&'static str, Value) {
    // A third each: forms, starts, completions with feedback; people recur (5 events per person).
    let p = i / 5;
    let user = json!({ "email": format!("person{p}@example.com"), "first_name": format!("First{p}"), "last_name": format!("Last{p}") });
    let track = json!({ "slug": format!("track-{}", i % 20), "title": format!("Track {}", i % 20) });
    match i % 3 {
        0 => (
            "invite.form_submitted",
            json!({ "invite_id": "inv", "email": format!("person{p}@example.com"), "first_name": format!("First{p}"), "last_name": format!("Last{p}"), "company": "Acme" }),
        ),
        1 => (
            "track.started",
            json!({ "play_id": format!("pl{i}"), "track": track, "user": user, "started_at": "2026-12-01T10:00:00Z" }),
        ),
        _ => (
            "track.completed",
            json!({ "play_id": format!("pl{}", i - 1), "track": track, "user": user, "completed_at": "2026-12-01T11:00:00Z", "time_spent_seconds": 3600 + i % 600, "feedback": { "score": 1 + i % 5, "comment": "good" } }),
        ),
    }
}

fn spaceiq_event(i: usize) -> (&'static str, Value) {
    (
        "move.executed",
        json!({
            "move_id": format!("mv-{i}"), "plan_id": format!("P{}", i / 500), "timing": "now",
            "employee": { "name": format!("Employee {i}"), "department": "Eng", "team": "Core", "email": format!("e{i}@example.com") },
            "current_seat": format!("A-{i}"), "new_seat": format!("B-{i}"), "assets": ["laptop"], "notes": "n",
        }),
    )
}

/// The org: an in-process emulator, or — with `FORCEBRIDGE_EMULATOR_BIN` set to a `forcebridge`
/// binary — an emulator in a child process, so that this process's peak RSS is the engine's alone.
enum Org {
    InProcess(forcebridge_emulator::EmulatorHandle),
    Child(std::process::Child),
}

async fn start_org() -> (Org, OrgAccess, String) {
    if let Ok(bin) = std::env::var("FORCEBRIDGE_EMULATOR_BIN") {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(bin)
            .args(["emulator", "--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let r: Value = serde_json::from_str(&line).unwrap();
        let url = r["instance_url"].as_str().unwrap().to_owned();
        let org = OrgAccess {
            login_url: url.clone(),
            client_id: r["client_id"].as_str().unwrap().to_owned(),
            client_secret: r["client_secret"].as_str().unwrap().to_owned().into(),
            username: r["username"].as_str().unwrap().to_owned(),
            password: format!(
                "{}{}",
                r["password"].as_str().unwrap(),
                r["security_token"].as_str().unwrap()
            )
            .into(),
            http: HttpConfig::default().allow_loopback_http(),
        };
        return (Org::Child(child), org, url);
    }
    let h = Emulator::start(EmulatorConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = h.config().clone();
    let url = h.base_url().to_owned();
    let org = OrgAccess {
        login_url: url.clone(),
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone().into(),
        username: c.username.clone(),
        password: format!("{}{}", c.password, c.security_token).into(),
        http: HttpConfig::default().allow_loopback_http(),
    };
    (Org::InProcess(h), org, url)
}

async fn run(name: &str, n: usize, make: fn(usize) -> (&'static str, Value)) {
    let (handle, org, base_url) = start_org().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../recipes")
        .join(name);
    let (r, _) = recipe::load(&path).unwrap_or_else(|e| panic!("{}", recipe::render(&e)));
    let dir = tempfile::tempdir().unwrap();
    let (engine, tenant, conn, _clock) = harness::fresh_engine(Arc::new(r), &org, dir.path())
        .await
        .unwrap();
    let install = engine
        .install(&tenant, &conn, name, json!({}), "bench")
        .await
        .unwrap();
    let plan = engine.plan(&tenant, &install.id).await.unwrap();
    engine
        .apply(&tenant, &install.id, &plan.hash, "bench")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let usage = |h: &str| {
        let http = http.clone();
        let url = format!("{h}/__emulator/usage");
        async move {
            http.get(url).send().await.unwrap().json::<Value>().await.unwrap()["daily_api_requests_used"]
                .as_u64()
                .unwrap()
        }
    };
    let _ = conn;
    // Idle latency first: one event at a time, ingest → applied.
    let mut lat = Vec::new();
    for i in 0..200 {
        let (t, d) = make(10_000_000 + i);
        let t0 = Instant::now();
        engine
            .ingest(
                &tenant,
                vec![IncomingEvent {
                    idempotency_key: format!("lat-{i}"),
                    event_type: t.into(),
                    data: d,
                    connection_id: None,
                }],
            )
            .await
            .unwrap();
        engine.run_until_idle().await.unwrap();
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let before = usage(&base_url).await;
    let t0 = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let events = chunk
            .iter()
            .map(|&i| {
                let (t, d) = make(i);
                IncomingEvent {
                    idempotency_key: format!("e{i}"),
                    event_type: t.into(),
                    data: d,
                    connection_id: None,
                }
            })
            .collect();
        engine.ingest(&tenant, events).await.unwrap();
    }
    let ingest_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let report = engine.run_until_idle().await.unwrap();
    let apply_s = t1.elapsed().as_secs_f64();
    let calls = usage(&base_url).await - before;
    println!(
        "{name:8} events {n:>7}  ingest {:>8.0} ev/s  apply {:>7.0} ev/s  API calls {calls:>6} ({:.1} per 1,000; {:?})  deliveries {:?}  idle latency p50 {:.1} ms p99 {:.1} ms  peak RSS {:.0} MB",
        n as f64 / ingest_s,
        n as f64 / apply_s,
        calls as f64 * 1000.0 / n as f64,
        report.api_calls,
        report.by_state,
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        peak_rss_mb(),
    );
    match handle {
        Org::InProcess(h) => h.stop().await,
        Org::Child(mut c) => {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let which = std::env::args().nth(2).unwrap_or_else(|| "both".into());
    if which != "spaceiq" {
        run("instruqt", n, instruqt_event).await;
    }
    if which != "instruqt" {
        run("spaceiq", n, spaceiq_event).await;
    }
}
