//! Bulk API 2.0 query jobs over real HTTP: CSV results paged with `Sforce-Locator`, relationship
//! columns, `queryAll`, the query checks made when the job is created, abort and delete.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{get_text, parse_csv, wait};
use serde_json::json;

async fn seed_accounts(app: &common::App, n: usize) -> Vec<String> {
    let rows: Vec<serde_json::Value> = (0..n).map(|i| json!({"Name": format!("Acct {i:03}")})).collect();
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": rows.iter().map(|r| {
        let mut r = r.clone();
        r["attributes"] = json!({"type": "Account"});
        r
    }).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn results_page_with_locators_until_null() {
    let app = common::spawn().await;
    seed_accounts(&app, 25).await;
    let (status, job) = app
        .post("jobs/query", json!({"operation": "query", "query": "SELECT Id, Name, Owner.Name FROM Account WHERE Name LIKE 'Acct%' ORDER BY Name"}))
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["state"], json!("UploadComplete"));
    assert_eq!(job["operation"], json!("query"));
    assert_eq!(job["object"], json!("Account"));
    let id = job["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("750"));
    let info = wait(&app, "query", &id).await;
    assert_eq!(info["state"], json!("JobComplete"), "{info}");
    assert_eq!(info["jobType"], json!("V2Query"));
    assert_eq!(info["numberRecordsProcessed"], json!(25));

    let mut names = Vec::new();
    let mut locator: Option<String> = None;
    let mut counts = Vec::new();
    let mut first_locator: Option<String> = None;
    loop {
        let path = match &locator {
            Some(l) => format!("jobs/query/{id}/results?maxRecords=10&locator={l}"),
            None => format!("jobs/query/{id}/results?maxRecords=10"),
        };
        let page = get_text(&app, &path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let rows = parse_csv(&page.body, b',');
        assert_eq!(rows[0], ["Id", "Name", "Owner.Name"]);
        counts.push(page.header("sforce-numberofrecords").unwrap().to_string());
        for row in &rows[1..] {
            assert!(row[0].starts_with("001"));
            assert!(!row[2].is_empty(), "owner name resolved");
            names.push(row[1].clone());
        }
        match page.header("sforce-locator") {
            Some("null") => break,
            Some(l) => {
                first_locator.get_or_insert_with(|| l.to_string());
                locator = Some(l.to_string());
            }
            None => panic!("no Sforce-Locator"),
        }
    }
    assert_eq!(counts, ["10", "10", "5"]);
    assert_eq!(names.len(), 25);
    assert_eq!(names[0], "Acct 000");
    assert_eq!(names[24], "Acct 024");

    // A locator can be read again; a garbage locator is refused.
    let again = get_text(
        &app,
        &format!(
            "jobs/query/{id}/results?maxRecords=10&locator={}",
            first_locator.unwrap()
        ),
    )
    .await;
    assert_eq!(again.header("sforce-numberofrecords"), Some("10"));
    let bad = get_text(&app, &format!("jobs/query/{id}/results?locator=%21%21")).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    let (status, list) = app.get("jobs/query").await;
    assert_eq!(status, 200);
    assert_eq!(list["records"][0]["id"], json!(id));
    let (status, _) = app.delete(&format!("jobs/query/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("jobs/query/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn query_all_sees_deleted_rows_and_nulls_are_empty() {
    let app = common::spawn().await;
    let ids = seed_accounts(&app, 3).await;
    let (status, _) = app.delete(&format!("sobjects/Account/{}", ids[0])).await;
    assert_eq!(status, 204);
    for (op, expected) in [("query", 2), ("queryAll", 3)] {
        let (status, job) = app
            .post("jobs/query", json!({"operation": op, "query": "SELECT Id, Website FROM Account WHERE Name LIKE 'Acct%'", "columnDelimiter": "PIPE", "lineEnding": "CRLF"}))
            .await;
        assert_eq!(status, 200, "{job}");
        let id = job["id"].as_str().unwrap();
        wait(&app, "query", id).await;
        let page = get_text(&app, &format!("jobs/query/{id}/results")).await;
        assert_eq!(page.header("sforce-locator"), Some("null"));
        assert!(page.body.contains("\r\n"));
        let rows = parse_csv(&page.body, b'|');
        assert_eq!(rows.len(), expected + 1, "{op}: {}", page.body);
        assert_eq!(rows[1][1], "", "null is an empty cell");
    }
}

#[tokio::test]
async fn bad_and_unsupported_queries_are_refused_when_the_job_is_created() {
    let app = common::spawn().await;
    let (status, body) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": "SELECT Nope FROM Account"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], json!("INVALID_FIELD"), "{body}");
    let (status, body) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": "SELEC Id FROM Account"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], json!("MALFORMED_QUERY"), "{body}");
    for q in [
        "SELECT COUNT() FROM Account",
        "SELECT Name, COUNT(Id) FROM Account GROUP BY Name",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id FROM Account LIMIT 5 OFFSET 2",
    ] {
        let (status, body) = app
            .post("jobs/query", json!({"operation": "query", "query": q}))
            .await;
        assert_eq!(status, 400, "{q}: {body}");
    }
    let (status, body) = app
        .post(
            "jobs/query",
            json!({"operation": "search", "query": "SELECT Id FROM Account"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}
