//! Real-time benchmark (bench/streaming/run.sh runs it; bench/streaming/README.md has the numbers).
//!
//! `stream_bench emulator` serves a release emulator over TLS and prints its ready line.
//! `stream_bench {cometd|pubsub} {throughput|latency}` (CONN = that line) measures change events
//! from emulator writes to records decoded by our subscriber:
//! - throughput: EVENTS records written through sObject Collections (200 a call) as fast as one
//!   writer goes; events per second from the first write to the last decoded event;
//! - latency: a steady RATE records per second (10 per Collections call) for SECONDS; the delay
//!   from each change's commit timestamp to its decoding, p50 / p99 / max.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forcebridge_salesforce::stream::{EventBody, StreamItem};
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, HttpConfig, InstanceUrl, LoginHost, MemoryReplayStore, RetryPolicy,
    StartAt, UrlPolicy,
};
use secrecy::SecretString;
use serde_json::{Value, json};

fn env_or(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

fn client(conn: &Value) -> Result<Client, Box<dyn std::error::Error>> {
    let s = |k: &str| {
        conn.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let instance = InstanceUrl::parse_with(&s("instance_url"), UrlPolicy::AllowLoopbackHttp)?;
    let mut http = HttpConfig::default().allow_loopback_http();
    if let Some(ca) = conn.get("ca_file").and_then(Value::as_str) {
        http = http.trust_ca_file(Path::new(ca))?;
    }
    let auth = AuthConfig::new(
        LoginHost::Custom(instance),
        Credentials::Password {
            client_id: s("client_id"),
            client_secret: SecretString::from(s("client_secret")),
            username: s("username"),
            password: SecretString::from(format!("{}{}", s("password"), s("security_token"))),
        },
    );
    Ok(Client::builder(auth)
        .http(http)
        .retry(RetryPolicy::none())
        .enforce_budget(false)
        .build()?)
}

/// Decoded change events as (commit timestamp ms, decoded-at ms), from a subscriber task.
fn subscribe(client: &Client, conn: &Value, api: &str) -> tokio::sync::mpsc::UnboundedReceiver<(i64, i64)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let store = Arc::new(MemoryReplayStore::default());
    let topic = "/data/AccountChangeEvent";
    let forward = move |item: StreamItem| {
        if let Some(e) = item.event()
            && let EventBody::Change(c) = &e.body
        {
            let now = chrono::Utc::now().timestamp_millis();
            let _ = tx.send((c.header.commit_timestamp, now));
        }
    };
    if api == "pubsub" {
        let endpoint = conn["pubsub_endpoint"].as_str().unwrap().to_string();
        let mut s = client
            .pubsub_subscriber(&endpoint, topic, store)
            .start_at(StartAt::Latest);
        tokio::spawn(async move {
            loop {
                forward(s.next().await.expect("pubsub subscriber"));
            }
        });
    } else {
        let mut s = client
            .cometd_subscriber(&[topic], store)
            .start_at(StartAt::Latest);
        tokio::spawn(async move {
            loop {
                forward(s.next().await.expect("cometd subscriber"));
            }
        });
    }
    rx
}

fn records(n: usize, tag: &str) -> Vec<Value> {
    (0..n).map(|i| json!({"Name": format!("{tag} {i}")})).collect()
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let api = std::env::args().nth(1).unwrap_or_else(|| "cometd".into());
    if api == "emulator" {
        let emulator = forcebridge_emulator::Emulator::start(forcebridge_emulator::EmulatorConfig {
            tls: true,
            daily_api_requests: 100_000_000,
            ..forcebridge_emulator::EmulatorConfig::default()
        })
        .await?;
        println!("{}", emulator.connection_info());
        std::future::pending::<()>().await;
        return Ok(());
    }
    let mode = std::env::args().nth(2).unwrap_or_else(|| "throughput".into());
    let conn: Value = serde_json::from_str(&std::env::var("CONN")?)?;
    let client = client(&conn)?;
    let mut rx = subscribe(&client, &conn, &api);
    // Warm up: one write seen end to end means the subscription is live.
    loop {
        client.create("Account", &json!({"Name": "warm-up"})).await?;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            break;
        }
    }
    while rx.try_recv().is_ok() {}

    if mode == "throughput" {
        let n: usize = env_or("EVENTS", "20000").parse()?;
        let started = Instant::now();
        let writer = {
            let client = client.clone();
            tokio::spawn(async move {
                for chunk in records(n, "t").chunks(200) {
                    client
                        .create_many("Account", chunk, Default::default())
                        .await
                        .expect("collections create");
                }
                started.elapsed()
            })
        };
        for _ in 0..n {
            rx.recv().await.expect("subscriber alive");
        }
        let total = started.elapsed();
        let wrote = writer.await?;
        println!(
            "{api} throughput: {n} events written in {:.2}s ({:.0} writes/s), all decoded after {:.2}s: {:.0} events/s",
            wrote.as_secs_f64(),
            n as f64 / wrote.as_secs_f64(),
            total.as_secs_f64(),
            n as f64 / total.as_secs_f64()
        );
    } else {
        let rate: usize = env_or("RATE", "1000").parse()?;
        let seconds: u64 = env_or("SECONDS", "10").parse()?;
        let per_call = 10;
        let calls = rate / per_call;
        let total = calls * usize::try_from(seconds)? * per_call;
        let period = Duration::from_secs(1) / u32::try_from(calls)?;
        let writer = {
            let client = client.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut handles = Vec::new();
                for i in 0..(total / per_call) {
                    tick.tick().await;
                    let client = client.clone();
                    handles.push(tokio::spawn(async move {
                        client
                            .create_many(
                                "Account",
                                &records(per_call, &format!("l{i}")),
                                Default::default(),
                            )
                            .await
                            .expect("collections create");
                    }));
                }
                for h in handles {
                    let _ = h.await;
                }
            })
        };
        let started = Instant::now();
        let mut lat = Vec::with_capacity(total);
        for _ in 0..total {
            let (commit, seen) = rx.recv().await.expect("subscriber alive");
            lat.push(seen - commit);
        }
        writer.await?;
        let elapsed = started.elapsed();
        lat.sort_unstable();
        println!(
            "{api} latency at {rate} writes/s for {seconds}s ({total} events, {:.0} events/s achieved): p50 {} ms, p99 {} ms, max {} ms",
            total as f64 / elapsed.as_secs_f64(),
            pct(&lat, 0.50),
            pct(&lat, 0.99),
            lat.last().copied().unwrap_or(0)
        );
    }
    // Ends now: the subscriber task is still in a long poll, and a runtime torn down under it
    // would report its cancelled request as a failure.
    std::process::exit(0)
}
