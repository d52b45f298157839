//! Bulk API 2.0 jobs and Chatter posts in the `--state` file: an ingest job (its results), an
//! open job, a query job (its result pages) and a feed item with a mention keep answering the
//! same after a restart; the control API's reset clears them, also in the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{control, create_job, get_text, ingest, upload, wait};
use forcebridge_emulator::EmulatorConfig;
use serde_json::{Value, json};

fn config(path: &std::path::Path) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..EmulatorConfig::default()
    }
}

/// What the test reads back before and after the restart.
async fn observe(app: &common::App, ingest_id: &str, query_id: &str, account: &str) -> Vec<Value> {
    let (s, info) = app.get(&format!("jobs/ingest/{ingest_id}")).await;
    assert_eq!(s, 200, "{info}");
    let ok = get_text(app, &format!("jobs/ingest/{ingest_id}/successfulResults")).await;
    let failed = get_text(app, &format!("jobs/ingest/{ingest_id}/failedResults")).await;
    let (s, qinfo) = app.get(&format!("jobs/query/{query_id}")).await;
    assert_eq!(s, 200, "{qinfo}");
    let page = get_text(app, &format!("jobs/query/{query_id}/results?maxRecords=1")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let locator = page.header("sforce-locator").unwrap_or_default().to_string();
    let (s, feed) = app
        .get(&format!("chatter/feeds/record/{account}/feed-elements"))
        .await;
    assert_eq!(s, 200, "{feed}");
    vec![
        json!([
            info["state"],
            info["numberRecordsProcessed"],
            info["numberRecordsFailed"]
        ]),
        json!(ok.body),
        json!(failed.body),
        json!([qinfo["state"], qinfo["numberRecordsProcessed"]]),
        json!([page.body, locator]),
        feed["elements"][0]["body"].clone(),
        json!(feed["elements"].as_array().map(Vec::len)),
    ]
}

#[tokio::test]
async fn jobs_and_posts_survive_a_restart_and_reset_clears_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let app = common::spawn_with(config(&path)).await;

    let account = app.create("Account", json!({"Name": "Acme"})).await;
    let (ingest_id, job) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert"}),
        "Name,NumberOfEmployees\nOne,1\nTwo,not-a-number\nThree,3\n",
    )
    .await;
    assert_eq!(job["numberRecordsFailed"], json!(1), "{job}");
    let open_id = create_job(&app, json!({"object": "Account", "operation": "insert"})).await;
    let (s, q) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": "SELECT Name FROM Account ORDER BY Name"}),
        )
        .await;
    assert_eq!(s, 200, "{q}");
    let query_id = q["id"].as_str().unwrap().to_string();
    wait(&app, "query", &query_id).await;
    let (_, me) = app.query("SELECT Id FROM User LIMIT 1").await;
    let me = me["records"][0]["Id"].as_str().unwrap().to_string();
    let (s, post) = app
        .post(
            "chatter/feed-elements",
            json!({"feedElementType": "FeedItem", "subjectId": account, "body": {"messageSegments": [
                {"type": "Text", "text": "Hi "}, {"type": "Mention", "id": me}]}}),
        )
        .await;
    assert_eq!(s, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_string();

    let before = observe(&app, &ingest_id, &query_id, &account).await;
    assert_eq!(before[0], json!(["JobComplete", 3, 1]));
    assert_eq!(before[5]["messageSegments"][1]["type"], json!("Mention"));
    app.stop().await;

    let app = common::spawn_with(config(&path)).await;
    let after = observe(&app, &ingest_id, &query_id, &account).await;
    assert_eq!(after, before, "the same answers after the restart");
    // The open job is still open and takes its data.
    let (s, open) = app.get(&format!("jobs/ingest/{open_id}")).await;
    assert_eq!(s, 200, "{open}");
    assert_eq!(open["state"], json!("Open"));
    assert_eq!(upload(&app, &open_id, "Name\nLate\n").await.0, 201);
    let (s, one) = app.get(&format!("chatter/feed-elements/{post_id}")).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["body"], before[5]);

    // Reset clears jobs and posts, and the state file follows.
    let resp = app.client.post(control(&app, "reset")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    app.stop().await;
    let app = common::spawn_with(config(&path)).await;
    let (s, _) = app.get(&format!("jobs/ingest/{ingest_id}")).await;
    assert_eq!(s, 404);
    let (s, _) = app.get(&format!("jobs/query/{query_id}")).await;
    assert_eq!(s, 404);
    let (s, list) = app.get("jobs/ingest").await;
    assert_eq!(s, 200);
    assert_eq!(list["records"], json!([]), "{list}");
    let (s, _) = app.get(&format!("chatter/feed-elements/{post_id}")).await;
    assert_eq!(s, 404);
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["bulk"]["ingest"], json!([]));
    assert_eq!(saved["chatter"], json!({}));
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_comes_back_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let app = common::spawn_with(config(&path)).await;
    let id = create_job(&app, json!({"object": "Account", "operation": "insert"})).await;
    assert_eq!(upload(&app, &id, "Name\nA\n").await.0, 201);
    app.stop().await;
    // Mark the saved job as queued, as if the emulator had stopped right after UploadComplete.
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    saved["bulk"]["ingest"][0]["info"]["state"] = json!("UploadComplete");
    std::fs::write(&path, serde_json::to_vec(&saved).unwrap()).unwrap();

    let app = common::spawn_with(config(&path)).await;
    let (s, job) = app.get(&format!("jobs/ingest/{id}")).await;
    assert_eq!(s, 200, "{job}");
    assert_eq!(job["state"], json!("Failed"));
    assert!(
        job["errorMessage"].as_str().unwrap().contains("restarted"),
        "{job}"
    );
    let r = get_text(&app, &format!("jobs/ingest/{id}/unprocessedrecords")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains('A'),
        "the unprocessed row is returned: {}",
        r.body
    );
}
