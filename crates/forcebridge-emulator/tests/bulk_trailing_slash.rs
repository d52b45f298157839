//! Bulk API 2.0 job and result URLs answer with or without a trailing slash, as Salesforce's do.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{get_text, ingest, parse_csv, wait};
use serde_json::json;

#[tokio::test]
async fn ingest_urls_with_a_trailing_slash() {
    let app = common::spawn().await;
    let (id, _) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name\nA\nB\n",
    )
    .await;
    let (status, info) = app.get(&format!("jobs/ingest/{id}/")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["id"], json!(id));
    assert_eq!(info["numberRecordsProcessed"], json!(2));
    for which in ["successfulResults", "failedResults", "unprocessedrecords"] {
        let plain = get_text(&app, &format!("jobs/ingest/{id}/{which}")).await;
        let slash = get_text(&app, &format!("jobs/ingest/{id}/{which}/")).await;
        assert_eq!(slash.status, 200, "{which}/: {}", slash.body);
        assert_eq!(slash.body, plain.body, "{which}");
    }
    let ok = get_text(&app, &format!("jobs/ingest/{id}/successfulResults/")).await;
    assert_eq!(parse_csv(&ok.body, b',').len(), 3, "{}", ok.body);
    let (status, list) = app.get("jobs/ingest/").await;
    assert_eq!(status, 200, "{list}");
    assert!(
        list["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == json!(id))
    );
}

#[tokio::test]
async fn query_urls_with_a_trailing_slash() {
    let app = common::spawn().await;
    app.create("Account", json!({"Name": "Q"})).await;
    let (status, job) = app
        .post(
            "jobs/query/",
            json!({"operation": "query", "query": "SELECT Name FROM Account"}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    wait(&app, "query", &id).await;
    let (status, info) = app.get(&format!("jobs/query/{id}/")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["state"], json!("JobComplete"));
    let r = get_text(&app, &format!("jobs/query/{id}/results/")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(parse_csv(&r.body, b','), vec![vec!["Name"], vec!["Q"]]);
}
