//! Benchmark: upsert records by external id into a running emulator (or org) with our client,
//! through sObject Collections or Bulk API 2.0, and print one `RESULT` line with the wall time
//! and the created/updated counts (bench/client/run.sh runs it side by side with
//! simple-salesforce and reads API calls and peak RSS from outside the process).
//!
//! Invariant: records are generated on demand (Collections: one 2,000-record slice at a time;
//! Bulk: a lazy stream), so the process never holds the whole input; only per-row outcomes are
//! counted, never kept.
//!
//! Usage (`CONN` is the JSON line `forcebridge emulator --tls` prints, with `ca_file`):
//! ```text
//! upsert_bench emulator                  # a release emulator (HTTPS); prints the CONN line
//! upsert_bench setup                      # creates Account.<KEY> (external id) via Tooling API
//! upsert_bench collections|bulk           # half creates, then all as upserts
//! ```
//! Environment: `CONN`, `ROWS` (default 100000), `KEY` (default `Bench_Key__c`), `PHASES`
//! (`two`: creates of the first half then an upsert of all rows, the default; `one`: a single
//! upsert of all rows, used for the 1,000,000-row memory run).

use std::path::Path;
use std::time::{Duration, Instant};

use forcebridge_salesforce::bulk::{BulkOperation, IngestSpec, RowOutcome};
use forcebridge_salesforce::collections::{CollectionOptions, RecordOutcome};
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, HttpConfig, InstanceUrl, LoginHost, RetryPolicy, UrlPolicy,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

/// Records generated and sent per `upsert_many` call (it splits them into 200-record calls).
const SLICE: u64 = 2_000;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn record(key: &str, i: u64, pass: u32) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.to_string(), Value::String(format!("BK-{i:08}")));
    m.insert("Name".into(), Value::String(format!("Bench {i} pass {pass}")));
    m
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Counts of one pass.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    created: u64,
    updated: u64,
    failed: u64,
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

async fn collections(client: &Client, key: &str, from: u64, to: u64, pass: u32) -> Counts {
    let mut c = Counts::default();
    let mut start = from;
    while start < to {
        let end = (start + SLICE).min(to);
        let recs: Vec<Value> = (start..end)
            .map(|i| Value::Object(record(key, i, pass)))
            .collect();
        match client
            .upsert_many("Account", key, &recs, CollectionOptions::default())
            .await
        {
            Ok(outcomes) => {
                for o in outcomes {
                    match o {
                        RecordOutcome::Saved {
                            created: Some(true), ..
                        } => c.created += 1,
                        RecordOutcome::Saved { .. } => c.updated += 1,
                        _ => c.failed += 1,
                    }
                }
            }
            Err(e) => {
                eprintln!("upsert_many {start}..{end}: {e}");
                c.failed += end - start;
            }
        }
        start = end;
    }
    c
}

async fn bulk(client: &Client, key: &str, from: u64, to: u64, pass: u32) -> (Counts, usize) {
    let mut spec = IngestSpec::new(
        "Account",
        BulkOperation::Upsert,
        vec![key.to_string(), "Name".to_string()],
    );
    spec.external_id_field = Some(key.to_string());
    // simple-salesforce is run with wait=1 (seconds between polls); same here.
    spec.poll_interval = Duration::from_secs(1);
    spec.job_timeout = Duration::from_secs(3600);
    let key_owned = key.to_string();
    let records = futures::stream::iter((from..to).map(move |i| record(&key_owned, i, pass)));
    let mut c = Counts::default();
    let mut on_result = |r: forcebridge_salesforce::bulk::RowResult| match r.outcome {
        RowOutcome::Success { created: true, .. } => c.created += 1,
        RowOutcome::Success { .. } => c.updated += 1,
        _ => c.failed += 1,
    };
    let jobs = match client.bulk_ingest(&spec, records, &mut on_result).await {
        Ok(j) => j.len(),
        Err(e) => {
            eprintln!("bulk_ingest {from}..{to}: {e}");
            0
        }
    };
    (c, jobs)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mode = std::env::args().nth(1).unwrap_or_else(|| "bulk".into());
    if mode == "emulator" {
        // The release emulator as its own process (the same library `forcebridge emulator`
        // serves), so the client process measured next holds only the client.
        let emulator = forcebridge_emulator::Emulator::start(forcebridge_emulator::EmulatorConfig {
            tls: true,
            daily_api_requests: 10_000_000,
            ..forcebridge_emulator::EmulatorConfig::default()
        })
        .await?;
        println!("{}", emulator.connection_info());
        // Serves until the bench kills this process.
        std::future::pending::<()>().await;
        return Ok(());
    }
    let conn: Value = serde_json::from_str(&std::env::var("CONN")?)?;
    let rows: u64 = env_or("ROWS", "100000").parse()?;
    let key = env_or("KEY", "Bench_Key__c");
    let two = env_or("PHASES", "two") == "two";
    let client = client(&conn)?;

    if mode == "setup" {
        let body = json!({
            "FullName": format!("Account.{key}"),
            "Metadata": {"label": "Bench Key", "type": "Text", "length": 40, "externalId": true},
        });
        let out = client
            .request_json(Method::POST, "tooling/sobjects/CustomField", Some(&body))
            .await?;
        println!("setup: {out}");
        return Ok(());
    }

    let started = Instant::now();
    let mut phases = Vec::new();
    let passes: Vec<(u64, u32)> = if two {
        vec![(rows / 2, 1), (rows, 2)]
    } else {
        vec![(rows, 1)]
    };
    for (to, pass) in passes {
        let t = Instant::now();
        let (c, jobs) = match mode.as_str() {
            "collections" => (collections(&client, &key, 0, to, pass).await, 0),
            "bulk" => bulk(&client, &key, 0, to, pass).await,
            other => return Err(format!("unknown mode {other}").into()),
        };
        phases.push(format!(
            "pass{pass}: rows={to} created={} updated={} failed={} jobs={jobs} seconds={:.2}",
            c.created,
            c.updated,
            c.failed,
            t.elapsed().as_secs_f64()
        ));
    }
    println!(
        "RESULT client=forcebridge-{mode} rows={rows} seconds={:.2} rss_now_kib={} rss_hwm_kib={} | {}",
        started.elapsed().as_secs_f64(),
        rss_kib("VmRSS:"),
        rss_kib("VmHWM:"),
        phases.join(" | ")
    );
    Ok(())
}
