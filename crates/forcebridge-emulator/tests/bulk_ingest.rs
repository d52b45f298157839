//! Bulk API 2.0 ingest jobs over real HTTP: each operation with partial failures, the result
//! CSVs, dialects, `#N/A`, relationship columns, abort, list and delete.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{close, create_job, get_text, ingest, parse_csv, upload, wait};
use serde_json::json;

#[tokio::test]
async fn insert_reports_successes_and_failures_per_row() {
    let app = common::spawn().await;
    let csv = "Name,NumberOfEmployees,Website\nAcme,10,acme.example\n,5,nameless.example\nGlobex,lots,globex.example\nInitech,#N/A,\n";
    let (id, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert", "lineEnding": "LF"}),
        csv,
    )
    .await;
    assert_eq!(job["state"], json!("JobComplete"), "{job}");
    assert_eq!(job["jobType"], json!("V2Ingest"));
    assert_eq!(job["numberRecordsProcessed"], json!(4));
    assert_eq!(job["numberRecordsFailed"], json!(2));
    assert_eq!(job["object"], json!("Account"));
    assert_eq!(job["operation"], json!("insert"));
    for key in [
        "retries",
        "totalProcessingTime",
        "apiActiveProcessingTime",
        "apexProcessingTime",
        "createdById",
        "createdDate",
        "systemModstamp",
        "apiVersion",
        "contentUrl",
        "columnDelimiter",
        "concurrencyMode",
    ] {
        assert!(job.get(key).is_some(), "job info lacks {key}: {job}");
    }

    let ok = get_text(&app, &format!("jobs/ingest/{id}/successfulResults")).await;
    assert_eq!(ok.status, 200);
    assert!(
        ok.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    let rows = parse_csv(&ok.body, b',');
    assert_eq!(
        rows[0],
        ["sf__Id", "sf__Created", "Name", "NumberOfEmployees", "Website"]
    );
    assert_eq!(rows.len(), 3, "{}", ok.body);
    assert_eq!(rows[1][1], "true");
    assert_eq!(rows[1][2], "Acme");
    assert!(rows[1][0].starts_with("001") && rows[1][0].len() == 18);
    assert_eq!(rows[2][2], "Initech");
    assert!(
        ok.body.starts_with("\"sf__Id\",\"sf__Created\""),
        "values are quoted: {}",
        ok.body
    );

    let failed = get_text(&app, &format!("jobs/ingest/{id}/failedResults")).await;
    let rows = parse_csv(&failed.body, b',');
    assert_eq!(
        rows[0],
        ["sf__Id", "sf__Error", "Name", "NumberOfEmployees", "Website"]
    );
    assert_eq!(rows.len(), 3, "{}", failed.body);
    assert_eq!(rows[1][0], "");
    assert_eq!(
        rows[1][1],
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    );
    assert_eq!(rows[1][4], "nameless.example");
    assert!(
        rows[2][1].starts_with("JSON_PARSER_ERROR:") || rows[2][1].contains("lots"),
        "{}",
        rows[2][1]
    );

    let unprocessed = get_text(&app, &format!("jobs/ingest/{id}/unprocessedrecords")).await;
    assert_eq!(
        parse_csv(&unprocessed.body, b',').len(),
        1,
        "only the header: {}",
        unprocessed.body
    );

    let (_, q) = app
        .query("SELECT Name, NumberOfEmployees FROM Account WHERE Name IN ('Acme','Initech') ORDER BY Name")
        .await;
    assert_eq!(q["totalSize"], json!(2), "{q}");
    assert_eq!(q["records"][0]["NumberOfEmployees"], json!(10));
    assert_eq!(q["records"][1]["NumberOfEmployees"], json!(null));
}

#[tokio::test]
async fn update_delete_and_hard_delete_by_id() {
    let app = common::spawn().await;
    let a = app
        .create("Account", json!({"Name": "A", "Website": "a.example"}))
        .await;
    let b = app.create("Account", json!({"Name": "B"})).await;
    let c = app.create("Account", json!({"Name": "C"})).await;

    // Update: an empty cell keeps the value, #N/A clears it; a bad id and a missing id fail.
    let csv = format!("Id,Name,Website\n{a},A2,#N/A\n{b},,b.example\nnot-an-id,X,\n,Y,\n");
    let (id, job) = ingest(&app, json!({"object": "Account", "operation": "update"}), &csv).await;
    assert_eq!(job["numberRecordsFailed"], json!(2), "{job}");
    let ok = parse_csv(
        &get_text(&app, &format!("jobs/ingest/{id}/successfulResults"))
            .await
            .body,
        b',',
    );
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[1][0], a);
    assert_eq!(ok[1][1], "false");
    let failed = parse_csv(
        &get_text(&app, &format!("jobs/ingest/{id}/failedResults"))
            .await
            .body,
        b',',
    );
    assert!(failed[1][1].starts_with("MALFORMED_ID:"), "{failed:?}");
    assert!(failed[2][1].starts_with("MISSING_ARGUMENT:"), "{failed:?}");
    let (_, rec) = app.get(&format!("sobjects/Account/{a}")).await;
    assert_eq!(rec["Name"], json!("A2"));
    assert_eq!(rec["Website"], json!(null));
    let (_, rec) = app.get(&format!("sobjects/Account/{b}")).await;
    assert_eq!(rec["Name"], json!("B"));
    assert_eq!(rec["Website"], json!("b.example"));

    // Delete keeps the row in the recycle bin; hardDelete removes it even from queryAll.
    let (_, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "delete"}),
        &format!("Id\n{a}\n{a}\n"),
    )
    .await;
    assert_eq!(
        job["numberRecordsFailed"],
        json!(1),
        "deleting twice fails: {job}"
    );
    let (_, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "hardDelete"}),
        &format!("Id\n{b}\n"),
    )
    .await;
    assert_eq!(job["numberRecordsFailed"], json!(0), "{job}");
    let (_, q) = app
        .send(app.req(reqwest::Method::GET, "queryAll").query(&[(
            "q",
            "SELECT Id, IsDeleted FROM Account WHERE Name IN ('A2','B','C')",
        )]))
        .await;
    let ids: Vec<&str> = q["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&a.as_str()), "soft-deleted still in queryAll: {q}");
    assert!(!ids.contains(&b.as_str()), "hard-deleted gone: {q}");
    assert!(ids.contains(&c.as_str()));
}

#[tokio::test]
async fn upsert_by_external_id_and_relationship_columns() {
    let app = common::spawn().await;
    app.add_account_external_ids();
    let existing = app
        .create("Account", json!({"Name": "Old", "Ext_Id__c": "E-1"}))
        .await;
    let csv = "Ext_Id__c,Name\nE-1,Renamed\nE-2,Fresh\n,NoKey\n";
    let (id, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "upsert", "externalIdFieldName": "Ext_Id__c"}),
        csv,
    )
    .await;
    assert_eq!(job["externalIdFieldName"], json!("Ext_Id__c"), "{job}");
    assert_eq!(job["numberRecordsProcessed"], json!(3));
    assert_eq!(job["numberRecordsFailed"], json!(1));
    let ok = parse_csv(
        &get_text(&app, &format!("jobs/ingest/{id}/successfulResults"))
            .await
            .body,
        b',',
    );
    assert_eq!(ok[1][0], existing);
    assert_eq!(ok[1][1], "false", "matched: updated");
    assert_eq!(ok[2][1], "true", "new key: created");
    let (_, rec) = app.get(&format!("sobjects/Account/{existing}")).await;
    assert_eq!(rec["Name"], json!("Renamed"));

    // A contact pointing at its account through the account's external id.
    let (id, job) = ingest(
        &app,
        json!({"object": "Contact", "operation": "insert"}),
        "LastName,Account.Ext_Id__c\nSmith,E-2\nJones,E-404\n",
    )
    .await;
    assert_eq!(job["numberRecordsFailed"], json!(1), "{job}");
    let ok = parse_csv(
        &get_text(&app, &format!("jobs/ingest/{id}/successfulResults"))
            .await
            .body,
        b',',
    );
    let contact = &ok[1][0];
    let (_, rec) = app.get(&format!("sobjects/Contact/{contact}")).await;
    assert_eq!(rec["AccountId"], json!(ok_account(&app, "E-2").await));

    // An upsert job needs an external id field.
    let (status, body) = app
        .post("jobs/ingest", json!({"object": "Account", "operation": "upsert"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .post(
            "jobs/ingest",
            json!({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

async fn ok_account(app: &common::App, ext: &str) -> String {
    let (_, q) = app
        .query(&format!("SELECT Id FROM Account WHERE Ext_Id__c = '{ext}'"))
        .await;
    q["records"][0]["Id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn tab_delimiter_crlf_and_quoted_values() {
    let app = common::spawn().await;
    let csv = "Name\tDescription\r\n\"Tab, Inc\"\t\"line one\r\nline two\"\r\nPlain\t\r\n";
    let (id, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert", "columnDelimiter": "TAB", "lineEnding": "CRLF"}),
        csv,
    )
    .await;
    assert_eq!(job["columnDelimiter"], json!("TAB"));
    assert_eq!(job["lineEnding"], json!("CRLF"));
    assert_eq!(job["numberRecordsFailed"], json!(0), "{job}");
    let ok = get_text(&app, &format!("jobs/ingest/{id}/successfulResults")).await;
    assert!(ok.body.contains("\r\n"), "CRLF results");
    let rows = parse_csv(&ok.body, b'\t');
    assert_eq!(rows[1][2], "Tab, Inc");
    let (_, q) = app
        .query("SELECT Description FROM Account WHERE Name = 'Tab, Inc'")
        .await;
    assert_eq!(q["records"][0]["Description"], json!("line one\r\nline two"));
    let (status, body) = app
        .post(
            "jobs/ingest",
            json!({"object": "Account", "operation": "insert", "columnDelimiter": "SPACE"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn unknown_header_fails_the_job() {
    let app = common::spawn().await;
    let (_, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name,Nope__c\nA,b\n",
    )
    .await;
    assert_eq!(job["state"], json!("Failed"), "{job}");
    assert!(job["errorMessage"].as_str().unwrap().contains("Nope__c"), "{job}");
}

#[tokio::test]
async fn abort_list_and_delete_jobs() {
    let app = common::spawn().await;
    let id = create_job(&app, json!({"object": "Account", "operation": "insert"})).await;
    let (status, _) = upload(&app, &id, "Name\nA\nB\n").await;
    assert_eq!(status, 201);
    let (status, body) = app
        .patch(&format!("jobs/ingest/{id}"), json!({"state": "Aborted"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], json!("Aborted"));
    let unprocessed = get_text(&app, &format!("jobs/ingest/{id}/unprocessedrecords")).await;
    assert_eq!(parse_csv(&unprocessed.body, b','), [["Name"], ["A"], ["B"]]);
    let (status, body) = app
        .patch(&format!("jobs/ingest/{id}"), json!({"state": "UploadComplete"}))
        .await;
    assert_eq!(status, 409, "an aborted job cannot be closed: {body}");
    assert_eq!(body[0]["errorCode"], json!("INVALIDJOBSTATE"));

    let other = create_job(&app, json!({"object": "Contact", "operation": "insert"})).await;
    let (status, body) = app.get("jobs/ingest").await;
    assert_eq!(status, 200);
    assert_eq!(body["done"], json!(true));
    assert_eq!(body["nextRecordsUrl"], json!(null));
    let ids: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), other.as_str()]);

    // Results of an open job are not available; an open job cannot be deleted.
    let r = get_text(&app, &format!("jobs/ingest/{other}/successfulResults")).await;
    assert_eq!(r.status, 409);
    let (status, _) = app.delete(&format!("jobs/ingest/{other}")).await;
    assert_eq!(status, 409);
    let (status, _) = app.delete(&format!("jobs/ingest/{id}")).await;
    assert_eq!(status, 204);
    let (status, body) = app.get(&format!("jobs/ingest/{id}")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body[0]["errorCode"], json!("NOT_FOUND"));

    // An empty upload completes with nothing processed.
    close(&app, &other).await;
    let job = wait(&app, "ingest", &other).await;
    assert_eq!(job["state"], json!("JobComplete"));
    assert_eq!(job["numberRecordsProcessed"], json!(0));
}

#[tokio::test]
async fn bulk_calls_need_a_session() {
    let app = common::spawn().await;
    let resp = app.client.get(app.url("jobs/ingest")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
