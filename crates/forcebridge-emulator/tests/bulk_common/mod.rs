//! Helpers of the Bulk API 2.0, Chatter, duplicate-rule and limits tests: CSV uploads, waiting
//! for a job to finish, and reading CSV answers with their headers. Built on `tests/common`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers may panic on failure

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::App;

/// A plain-text answer: status, selected headers, body.
pub struct TextReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl TextReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// GET returning text (CSV results).
pub async fn get_text(app: &App, path: &str) -> TextReply {
    let resp = app.req(Method::GET, path).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    TextReply {
        status,
        headers,
        body,
    }
}

/// Creates an ingest job and returns its id.
pub async fn create_job(app: &App, body: Value) -> String {
    let (status, job) = app.post("jobs/ingest", body).await;
    assert_eq!(status, 200, "create job: {job}");
    assert_eq!(job["state"], json!("Open"), "{job}");
    job["id"].as_str().expect("id").to_string()
}

/// Uploads CSV to a job.
pub async fn upload(app: &App, id: &str, csv: &str) -> (u16, String) {
    let resp = app
        .req(Method::PUT, &format!("jobs/ingest/{id}/batches"))
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .expect("upload");
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

/// Closes a job (`UploadComplete`).
pub async fn close(app: &App, id: &str) {
    let (status, body) = app
        .patch(&format!("jobs/ingest/{id}"), json!({"state": "UploadComplete"}))
        .await;
    assert_eq!(status, 200, "close: {body}");
    assert_eq!(body["state"], json!("UploadComplete"), "{body}");
}

/// Polls a job (`ingest` or `query`) until it is no longer queued or running.
pub async fn wait(app: &App, kind: &str, id: &str) -> Value {
    for _ in 0..6000 {
        let (status, job) = app.get(&format!("jobs/{kind}/{id}")).await;
        assert_eq!(status, 200, "job info: {job}");
        let state = job["state"].as_str().unwrap_or_default().to_string();
        if !matches!(state.as_str(), "Open" | "UploadComplete" | "InProgress") {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("job {id} did not finish");
}

/// Runs a whole ingest job: create, upload, close, wait. Returns (job id, final job info).
pub async fn ingest(app: &App, job: Value, csv: &str) -> (String, Value) {
    let id = create_job(app, job).await;
    let (status, body) = upload(app, &id, csv).await;
    assert_eq!(status, 201, "upload: {body}");
    close(app, &id).await;
    let info = wait(app, "ingest", &id).await;
    (id, info)
}

/// Parses result CSV (every field quoted) into rows of cells, header first.
pub fn parse_csv(text: &str, delimiter: u8) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    r.records()
        .map(|rec| rec.expect("csv row").iter().map(str::to_string).collect())
        .collect()
}

/// The control API URL of this emulator.
pub fn control(app: &App, path: &str) -> String {
    format!("{}/__emulator/{path}", app.base)
}

/// PUT JSON to the control API.
pub async fn control_put(app: &App, path: &str, body: Value) -> Value {
    let resp = app
        .client
        .put(control(app, path))
        .json(&body)
        .send()
        .await
        .expect("control");
    assert_eq!(resp.status().as_u16(), 200, "control {path}");
    resp.json().await.expect("control json")
}
