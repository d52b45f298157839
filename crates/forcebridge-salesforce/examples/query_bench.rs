//! Benchmark: stream a 1,000,000-row SOQL result through `Client::query` and report the memory
//! the process holds while doing it (bench/client/README.md has the numbers).
//!
//! The rows come from a small in-process server that makes each 2,000-record page on demand, so
//! the process memory measured is the client's own (an org that holds a million records would
//! dominate it otherwise). `ROWS=n` changes the row count.
//!
//! Run: `cargo run --release -p forcebridge-salesforce --example query_bench`

use std::time::Instant;

use axum::extract::{Path, Query};
use axum::routing::get;
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, HttpConfig, InstanceUrl, LoginHost, RetryPolicy, UrlPolicy,
};
use futures::TryStreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};

const PAGE: u64 = 2000;

fn rows() -> u64 {
    std::env::var("ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn page(start: u64) -> Value {
    let total = rows();
    let end = (start + PAGE).min(total);
    let records: Vec<Value> = (start..end)
        .map(|i| {
            json!({
                "attributes": {"type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/003{i:015}")},
                "Id": format!("003{i:015}"),
                "FirstName": "Bench",
                "LastName": format!("Person {i}"),
                "Email": format!("person{i}@example.com"),
                "Title": "Engineer",
            })
        })
        .collect();
    let mut body = json!({"totalSize": total, "done": end >= total, "records": records});
    if end < total {
        body["nextRecordsUrl"] = json!(format!("/services/data/v62.0/query/01gBENCH-{end}"));
    }
    body
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

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let app = axum::Router::new()
        .route(
            "/services/data/v62.0/query",
            get(|_: Query<Vec<(String, String)>>| async { axum::Json(page(0)) }),
        )
        .route(
            "/services/data/v62.0/query/{locator}",
            get(|Path(l): Path<String>| async move {
                let start = l.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
                axum::Json(page(start))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let instance = InstanceUrl::parse_with(&url, UrlPolicy::AllowLoopbackHttp).expect("url");
    let auth = AuthConfig::new(
        LoginHost::Custom(instance.clone()),
        Credentials::AccessToken {
            access_token: SecretString::from("bench"),
            instance_url: instance,
        },
    );
    let client = Client::builder(auth)
        .http(HttpConfig::default().allow_loopback_http())
        .retry(RetryPolicy::none())
        .enforce_budget(false)
        .build()
        .expect("client");

    let before = rss_kib("VmRSS:");
    let started = Instant::now();
    let mut stream = client.query::<Value>("SELECT Id, FirstName, LastName, Email, Title FROM Contact");
    let (mut n, mut peak, mut bytes) = (0u64, before, 0usize);
    while let Some(r) = stream.try_next().await.expect("row") {
        n += 1;
        bytes += r["Email"].as_str().map_or(0, str::len);
        if n % PAGE == 0 {
            peak = peak.max(rss_kib("VmRSS:"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rows={n} pages={} seconds={secs:.2} rows_per_second={:.0} rss_before_kib={before} rss_peak_kib={peak} rss_growth_kib={} (checksum {bytes})",
        n.div_ceil(PAGE),
        n as f64 / secs,
        peak.saturating_sub(before)
    );
}
