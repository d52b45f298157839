//! Bounded memory at scale, in the tests CI runs: a 1,000,000-row SOQL stream and a 1,000,000-row
//! Bulk API 2.0 ingest (upload, then every row's result read back and mapped to its input row)
//! through the client, while a counting global allocator tracks the process's peak live heap.
//!
//! The servers are small in-process fakes that make their data on the fly (pages, result files)
//! and never hold it, so what the allocator sees growing is the client. The real emulator holds a
//! million records itself (gigabytes), which would hide the client's footprint; the client's
//! behaviour against the real emulator is tested in `rest.rs` and `bulk.rs`, and measured at
//! 1,000,000 rows against it in `bench/client/`.
//!
//! `FORCEBRIDGE_TEST_SCALE_ROWS` lowers the row count for quick local runs; CI runs the default.
//!
//! Invariant: this binary has exactly one test, which runs the measurements one after the other.
//! The allocator's count is the whole process's, and `cargo test` runs a binary's tests in
//! parallel threads of one process: a second test here would allocate during a measurement and
//! be counted in it. Add a measurement as another step of [`memory_stays_bounded_at_scale`],
//! never as a test of its own. (`cargo nextest` runs each test in its own process; both runners
//! see the same numbers.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::routing::{get, patch, post, put};
use forcebridge_salesforce::bulk::{BulkOperation, IngestSpec, RowOutcome};
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, HttpConfig, InstanceUrl, LoginHost, RetryPolicy, UrlPolicy,
};
use futures::{StreamExt, TryStreamExt};
use peak_alloc::PeakAlloc;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

/// Counts live heap bytes and their high-water mark (a moving realloc counts both blocks).
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const MIB: usize = 1024 * 1024;

fn rows() -> u64 {
    std::env::var("FORCEBRIDGE_TEST_SCALE_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// Starts the peak over from what is live now; returns that baseline.
fn reset_peak() -> usize {
    HEAP.reset_peak_usage();
    HEAP.current_usage()
}

/// Serves `app` on a free port; the server stops when the returned guard is dropped, so one
/// measurement's fake leaves nothing running into the next.
async fn serve(app: axum::Router) -> (String, AbortOnDrop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("address").port()
    );
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    (url, AbortOnDrop(task))
}

/// Aborts a server task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn client(url: &str) -> Client {
    let instance = InstanceUrl::parse_with(url, UrlPolicy::AllowLoopbackHttp).expect("url");
    let auth = AuthConfig::new(
        LoginHost::Custom(instance.clone()),
        Credentials::AccessToken {
            access_token: SecretString::from("scale-test"),
            instance_url: instance,
        },
    );
    Client::builder(auth)
        .http(HttpConfig::default().allow_loopback_http())
        .retry(RetryPolicy::none())
        .enforce_budget(false)
        .build()
        .expect("client")
}

const PAGE: u64 = 2000;

/// One `query`/`queryMore` page of rows `start..start+PAGE`, as Salesforce shapes it.
fn query_page(start: u64, total: u64) -> String {
    let end = (start + PAGE).min(total);
    let mut body = format!("{{\"totalSize\":{total},\"done\":{},", end >= total);
    if end < total {
        body.push_str(&format!(
            "\"nextRecordsUrl\":\"/services/data/v62.0/query/01gSCALE0000000AAA-{end}\","
        ));
    }
    body.push_str("\"records\":[");
    for i in start..end {
        if i > start {
            body.push(',');
        }
        body.push_str(&format!(
            "{{\"attributes\":{{\"type\":\"Contact\",\"url\":\"/services/data/v62.0/sobjects/Contact/003{i:015}\"}},\"Id\":\"003{i:015}\",\"LastName\":\"Person {i}\",\"Email\":\"person{i}@example.com\"}}"
        ));
    }
    body.push_str("]}");
    body
}

/// Every measurement, one at a time (see the invariant above).
#[tokio::test]
async fn memory_stays_bounded_at_scale() {
    a_million_row_query_stream_holds_one_page().await;
    a_million_row_bulk_ingest_holds_no_job_in_memory().await;
}

async fn a_million_row_query_stream_holds_one_page() {
    let total = rows();
    let app = axum::Router::new()
        .route(
            "/services/data/v62.0/query",
            get(move || async move { query_page(0, total) }),
        )
        .route(
            "/services/data/v62.0/query/{locator}",
            get(move |Path(l): Path<String>| async move {
                let start = l.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
                query_page(start, total)
            }),
        );
    let (url, _server) = serve(app).await;
    let client = client(&url);

    let baseline = reset_peak();
    let mut stream = client.query::<Value>("SELECT Id, LastName, Email FROM Contact");
    let (mut n, mut bytes) = (0u64, 0usize);
    while let Some(row) = stream.try_next().await.expect("a row") {
        assert_eq!(
            row["Id"].as_str(),
            Some(format!("003{n:015}").as_str()),
            "rows in order"
        );
        bytes += row["Email"].as_str().map_or(0, str::len);
        n += 1;
    }
    let growth = HEAP.peak_usage().saturating_sub(baseline);
    assert_eq!(n, total, "every row streamed");
    // ~190 bytes of JSON a row crossed the wire (190 MB at a million rows); one 2,000-row page
    // is ~400 KB as text and a few MB parsed. A stream that kept its rows would hold hundreds of MB.
    eprintln!(
        "query stream: {n} rows, peak live heap growth {:.1} MiB (checksum {bytes})",
        growth as f64 / MIB as f64
    );
    assert!(
        growth < 16 * MIB,
        "streaming {n} rows grew the heap by {growth} bytes: more than a page's worth"
    );
}

/// The fake Bulk API 2.0: counts uploaded rows as they stream in, and makes the result files
/// from the row numbers (every 1,000th row, from row 7, fails).
#[derive(Default)]
struct FakeBulk {
    uploaded: AtomicU64,
}

fn row_cells(i: u64) -> (String, String) {
    (format!("Row {i}, \"quoted\""), format!("K-{i}"))
}

fn fails(i: u64) -> bool {
    i % 1000 == 7
}

fn csv_cell(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A result file, made in chunks of 1,000 rows as the client reads it. Successes are listed in
/// an order unlike the input's (odd rows first), as Salesforce does not keep input order.
fn result_file(kind: &'static str, n: u64) -> Body {
    let header = match kind {
        "successfulResults" => "\"sf__Id\",\"sf__Created\",\"Name\",\"Ext__c\"\n",
        "failedResults" => "\"sf__Id\",\"sf__Error\",\"Name\",\"Ext__c\"\n",
        _ => "\"Name\",\"Ext__c\"\n",
    };
    let order = (0..n).filter(|i| i % 2 == 1).chain((0..n).filter(|i| i % 2 == 0));
    let rows = futures::stream::iter(order)
        .filter(move |&i| {
            let keep = match kind {
                "successfulResults" => !fails(i),
                "failedResults" => fails(i),
                _ => false,
            };
            async move { keep }
        })
        .chunks(1000)
        .map(move |chunk| {
            let mut s = String::new();
            for i in chunk {
                let (name, ext) = row_cells(i);
                if kind == "successfulResults" {
                    s.push_str(&format!("\"001{i:015}\",\"true\","));
                } else {
                    s.push_str("\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [X]:X --\",");
                }
                s.push_str(&format!("{},{}\n", csv_cell(&name), csv_cell(&ext)));
            }
            Ok::<_, std::io::Error>(s)
        });
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(header.to_string()) });
    Body::from_stream(head.chain(rows))
}

async fn a_million_row_bulk_ingest_holds_no_job_in_memory() {
    let total = rows();
    let fake = Arc::new(FakeBulk::default());
    let job = |state: &str, processed: u64| {
        json!({"id": "750SCALE00000000AAA", "state": state, "object": "Account",
               "operation": "upsert", "numberRecordsProcessed": processed,
               "numberRecordsFailed": (0..processed).filter(|&i| fails(i)).count()})
    };
    let app = axum::Router::new()
        .route(
            "/services/data/v62.0/jobs/ingest",
            post(move || async move { axum::Json(job("Open", 0)) }),
        )
        .route(
            "/services/data/v62.0/jobs/ingest/{id}/batches",
            put(|State(f): State<Arc<FakeBulk>>, body: Body| async move {
                // Count rows as the bytes stream past; never keep the upload.
                let mut lines = 0u64;
                let mut data = body.into_data_stream();
                while let Some(chunk) = data.next().await {
                    let Ok(chunk) = chunk else {
                        return axum::http::StatusCode::BAD_REQUEST;
                    };
                    lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                }
                f.uploaded.store(lines.saturating_sub(1), Ordering::Relaxed);
                axum::http::StatusCode::CREATED
            }),
        )
        .route(
            "/services/data/v62.0/jobs/ingest/{id}",
            patch(move || async move { axum::Json(job("UploadComplete", 0)) }).get(
                move |State(f): State<Arc<FakeBulk>>| async move {
                    axum::Json(job("JobComplete", f.uploaded.load(Ordering::Relaxed)))
                },
            ),
        )
        .route(
            "/services/data/v62.0/jobs/ingest/{id}/{file}",
            get(
                |State(f): State<Arc<FakeBulk>>, Path((_, file)): Path<(String, String)>| async move {
                    let kind: &'static str = match file.as_str() {
                        "successfulResults" => "successfulResults",
                        "failedResults" => "failedResults",
                        _ => "unprocessedrecords",
                    };
                    result_file(kind, f.uploaded.load(Ordering::Relaxed))
                },
            ),
        )
        .with_state(fake.clone());
    let (url, _server) = serve(app).await;
    let client = client(&url);

    let mut spec = IngestSpec::new(
        "Account",
        BulkOperation::Upsert,
        vec!["Name".into(), "Ext__c".into()],
    );
    spec.external_id_field = Some("Ext__c".into());
    spec.poll_interval = std::time::Duration::from_millis(10);
    let records = futures::stream::iter((0..total).map(|i| {
        let (name, ext) = row_cells(i);
        let mut m = Map::new();
        m.insert("Name".into(), Value::String(name));
        m.insert("Ext__c".into(), Value::String(ext));
        m
    }));

    // One bit per input row to check "exactly once": 125 KB at a million rows, allocated before
    // the measurement starts.
    let mut seen = vec![0u64; usize::try_from(total.div_ceil(64)).expect("fits")];
    let (mut ok, mut failed, mut other, mut wrong_id) = (0u64, 0u64, 0u64, 0u64);
    let baseline = reset_peak();
    let jobs = client
        .bulk_ingest(&spec, records, &mut |r| {
            let (word, bit) = ((r.row / 64) as usize, r.row % 64);
            if let Some(w) = seen.get_mut(word) {
                assert_eq!(*w & (1 << bit), 0, "row {} reported twice", r.row);
                *w |= 1 << bit;
            }
            match r.outcome {
                RowOutcome::Success { id, created: true } => {
                    ok += 1;
                    if id != format!("001{:015}", r.row) {
                        wrong_id += 1;
                    }
                }
                RowOutcome::Failed { .. } if fails(r.row) => failed += 1,
                _ => other += 1,
            }
        })
        .await
        .expect("the ingest runs");
    let growth = HEAP.peak_usage().saturating_sub(baseline);

    assert_eq!(
        jobs.iter().map(|j| j.rows).sum::<u64>(),
        total,
        "every row uploaded"
    );
    assert_eq!(fake.uploaded.load(Ordering::Relaxed), total);
    assert_eq!(ok + failed, total, "every row has its outcome ({other} others)");
    let expected_failures = (0..total).filter(|&i| fails(i)).count() as u64;
    assert_eq!(failed, expected_failures, "the failing rows failed");
    assert_eq!(wrong_id, 0, "each result mapped back to its own input row");
    assert!(seen.iter().all(|w| *w != 0 || total == 0));
    // ~36 bytes a row went up and ~60 came back (~96 MB at a million rows). What the client may
    // keep per row is its 16-byte fingerprint map (plus a bit): ~17 MB at a million, with a
    // doubling Vec's moment of 1.5×. Holding the upload, a result file or the outcomes would
    // each add tens of MB on top.
    eprintln!(
        "bulk ingest: {total} rows in {} job(s), peak live heap growth {:.1} MiB",
        jobs.len(),
        growth as f64 / MIB as f64
    );
    let per_row_allowance = usize::try_from(total).expect("fits") * 32;
    assert!(
        growth < 8 * MIB + per_row_allowance,
        "ingesting {total} rows grew the heap by {growth} bytes"
    );
}
