//! Bulk API 2.0 allocations over real HTTP: visible in `/limits`, lowered through the control
//! API, and enforced with Salesforce's errors when hit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{control_put, create_job, get_text, ingest, upload, wait};
use serde_json::json;

#[tokio::test]
async fn limits_show_bulk_usage() {
    let app = common::spawn().await;
    let (status, before) = app.get("limits").await;
    assert_eq!(status, 200);
    assert_eq!(
        before["DailyBulkV2QueryJobs"],
        json!({"Max": 10000, "Remaining": 10000})
    );
    assert_eq!(
        before["DailyBulkApiBatches"],
        json!({"Max": 15000, "Remaining": 15000})
    );
    assert!(
        before["DailyApiRequests"]["Max"].is_number(),
        "the REST limits are still there"
    );

    let (_, job) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": "SELECT Id FROM Account"}),
        )
        .await;
    wait(&app, "query", job["id"].as_str().unwrap()).await;
    ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name\nA\n",
    )
    .await;
    let (_, after) = app.get("limits").await;
    assert_eq!(after["DailyBulkV2QueryJobs"]["Remaining"], json!(9999));
    assert_eq!(after["DailyBulkApiBatches"]["Remaining"], json!(14999));
}

#[tokio::test]
async fn lowered_limits_are_enforced() {
    let app = common::spawn().await;
    let state = control_put(
        &app,
        "bulk/limits",
        json!({"limits": {"daily_bulk_v2_query_jobs": 1}}),
    )
    .await;
    assert_eq!(state["limits"]["daily_bulk_v2_query_jobs"], json!(1));
    let q = json!({"operation": "query", "query": "SELECT Id FROM Account"});
    let (status, job) = app.post("jobs/query", q.clone()).await;
    assert_eq!(status, 200, "{job}");
    let (status, body) = app.post("jobs/query", q.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("LIMIT_EXCEEDED"));
    let (_, limits) = app.get("limits").await;
    assert_eq!(limits["DailyBulkV2QueryJobs"], json!({"Max": 1, "Remaining": 0}));

    // No batches left: the job fails and its rows stay unprocessed.
    control_put(
        &app,
        "bulk/limits",
        json!({"limits": {"daily_bulk_api_batches": 0}}),
    )
    .await;
    let (id, info) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name\nA\nB\n",
    )
    .await;
    assert_eq!(info["state"], json!("Failed"), "{info}");
    assert!(
        info["errorMessage"].as_str().unwrap().contains("ExceededQuota"),
        "{info}"
    );
    let rest = get_text(&app, &format!("jobs/ingest/{id}/unprocessedrecords")).await;
    assert_eq!(rest.body.lines().count(), 3, "{}", rest.body);

    // Uploads larger than allowed are refused.
    control_put(&app, "bulk/limits", json!({"limits": {"max_upload_bytes": 10}})).await;
    let big = create_job(&app, json!({"object": "Account", "operation": "insert"})).await;
    let (status, body) = upload(&app, &big, "Name\nA very long name\n").await;
    assert_eq!(status, 400, "{body}");

    // Concurrent jobs.
    control_put(&app, "bulk/limits", json!({"limits": {"max_concurrent_jobs": 1}})).await;
    let (status, body) = app
        .post("jobs/ingest", json!({"object": "Account", "operation": "insert"}))
        .await;
    assert_eq!(status, 400, "the open job above counts: {body}");
    assert_eq!(body[0]["errorCode"], json!("LIMIT_EXCEEDED"));
}

#[tokio::test]
async fn long_running_request_limit() {
    let app = common::spawn().await;
    let (id, _) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name\nA\n",
    )
    .await;
    let state = control_put(
        &app,
        "bulk/limits",
        json!({"limits": {"concurrent_long_running_requests": 0}}),
    )
    .await;
    assert_eq!(state["long_running_requests"], json!(0));
    let r = get_text(&app, &format!("jobs/ingest/{id}/successfulResults")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("REQUEST_LIMIT_EXCEEDED"), "{}", r.body);
    assert!(r.body.contains("ConcurrentPerOrgLongTxn"), "{}", r.body);
    control_put(
        &app,
        "bulk/limits",
        json!({"limits": {"concurrent_long_running_requests": 25}}),
    )
    .await;
    let r = get_text(&app, &format!("jobs/ingest/{id}/successfulResults")).await;
    assert_eq!(r.status, 200);
}
