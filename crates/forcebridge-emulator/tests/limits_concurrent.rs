//! The concurrent long-running request limit over real HTTP: requests held open (the control
//! API's `delay` faults) count once they pass the threshold; at the limit every API — REST, Bulk,
//! Chatter, Tooling, SOAP — answers `REQUEST_LIMIT_EXCEEDED` "ConcurrentPerOrgLongTxn Limit
//! exceeded.", and answers again once the held requests finish. Readiness is awaited by polling
//! the control API, never by timing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{control, control_put};
use common::App;
use serde_json::{Value, json};

async fn control_get(app: &App, path: &str) -> Value {
    let resp = app.client.get(control(app, path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "control {path}");
    resp.json().await.unwrap()
}

async fn control_post(app: &App, path: &str, body: Value) {
    let resp = app
        .client
        .post(control(app, path))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "control {path}");
}

async fn set_limits(app: &App, body: Value) -> Value {
    control_put(app, "limits", body).await
}

/// Polls until the emulator counts `n` long-running requests.
async fn until_long_running(app: &App, n: u64) {
    loop {
        let usage = control_get(app, "usage").await;
        if usage["long_running_requests"] == json!(n) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Polls until every injected fault has been taken (the held requests are in flight).
async fn until_faults_taken(app: &App) {
    loop {
        let f = control_get(app, "faults").await;
        if f["faults"].as_array().is_some_and(Vec::is_empty) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Starts `n` GET /limits requests that the emulator holds for `ms` milliseconds.
async fn hold(app: &App, n: u32, ms: u64) -> Vec<tokio::task::JoinHandle<u16>> {
    control_post(
        app,
        "faults",
        json!({"count": n, "delay_ms": ms, "path_prefix": "/services/data/v66.0/limits"}),
    )
    .await;
    (0..n)
        .map(|_| {
            let req = app.req(reqwest::Method::GET, "limits");
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect()
}

/// Posts an empty SOAP envelope to `/services/{path}`, asserts the `REQUEST_LIMIT_EXCEEDED`
/// fault and returns the answer.
async fn soap_refused(app: &App, path: &str, action: &str) -> String {
    let resp = app
        .client
        .post(format!("{}/services/{path}", app.base))
        .header("content-type", "text/xml")
        .header("SOAPAction", action)
        .body("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"/>")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500, "{path}");
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("<faultcode>sf:REQUEST_LIMIT_EXCEEDED</faultcode>"),
        "{text}"
    );
    text
}

fn assert_refused(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body[0]["errorCode"], json!("REQUEST_LIMIT_EXCEEDED"), "{what}");
    assert_eq!(
        body[0]["message"],
        json!("ConcurrentPerOrgLongTxn Limit exceeded."),
        "{what}"
    );
}

#[tokio::test]
async fn every_api_is_refused_at_the_limit_and_served_after() {
    let app = common::spawn().await;
    let account = app.create("Account", json!({"Name": "A"})).await;
    // A zero threshold: every request in flight is long-running.
    let limits = set_limits(
        &app,
        json!({"concurrent_long_running_requests": 2, "long_running_after_ms": 0}),
    )
    .await;
    assert_eq!(limits["concurrent_long_running_requests"], json!(2));
    let held = hold(&app, 2, 3_000).await;
    until_long_running(&app, 2).await;

    let (s, b) = app.get(&format!("sobjects/Account/{account}")).await;
    assert_refused(s, &b, "REST");
    let (s, b) = app.post("sobjects/Account", json!({"Name": "B"})).await;
    assert_refused(s, &b, "REST create");
    let (s, b) = app.get("jobs/ingest").await;
    assert_refused(s, &b, "Bulk");
    let (s, b) = app
        .get(&format!("chatter/feeds/record/{account}/feed-elements"))
        .await;
    assert_refused(s, &b, "Chatter");
    let (s, b) = app.query("SELECT Id FROM Account").await;
    assert_refused(s, &b, "SOQL");
    let (s, b) = app
        .send(
            app.req(reqwest::Method::GET, "tooling/query")
                .query(&[("q", "SELECT Id FROM CustomObject")]),
        )
        .await;
    assert_refused(s, &b, "Tooling");
    let text = soap_refused(&app, "Soap/m/66.0", "listMetadata").await;
    assert!(text.contains("ConcurrentPerOrgLongTxn Limit exceeded."), "{text}");
    let text = soap_refused(&app, "Soap/u/66.0", "login").await;
    assert!(text.contains("urn:fault.partner.soap.sforce.com"), "{text}");
    // Refused calls are not counted against the daily allocation.
    assert!(
        control_get(&app, "usage").await["daily_api_requests_used"]
            .as_u64()
            .unwrap()
            < 10
    );

    for h in held {
        assert_eq!(h.await.unwrap(), 200, "held requests are served");
    }
    // Finished requests no longer count.
    assert_eq!(
        control_get(&app, "usage").await["long_running_requests"],
        json!(0)
    );
    let (s, b) = app.get(&format!("sobjects/Account/{account}")).await;
    assert_eq!(s, 200, "{b}");
    // Salesforce's /limits does not list this limit.
    let (_, l) = app.get("limits").await;
    assert!(l.get("ConcurrentPerOrgLongTxn").is_none(), "{l}");
}

#[tokio::test]
async fn only_requests_past_the_threshold_count() {
    let app = common::spawn().await;
    // Threshold one hour: a held request is in flight but not long-running.
    set_limits(
        &app,
        json!({"concurrent_long_running_requests": 1, "long_running_after_secs": 3600}),
    )
    .await;
    let held = hold(&app, 1, 1_000).await;
    until_faults_taken(&app).await;
    let (s, b) = app.get("sobjects").await;
    assert_eq!(s, 200, "a short threshold was not reached: {b}");
    assert_eq!(
        control_get(&app, "usage").await["long_running_requests"],
        json!(0)
    );
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }

    // Threshold 100 ms: the held request passes it and fills the limit of one.
    set_limits(&app, json!({"long_running_after_ms": 100})).await;
    let held = hold(&app, 1, 5_000).await;
    until_long_running(&app, 1).await;
    let (s, b) = app.get("sobjects").await;
    assert_refused(s, &b, "past the threshold");
    for h in held {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(
        control_get(&app, "usage").await["long_running_requests"],
        json!(0)
    );
    let (s, _) = app.get("sobjects").await;
    assert_eq!(s, 200);

    // Reset restores Salesforce's 25 requests and 20 seconds.
    control_post(&app, "reset", Value::Null).await;
    let usage = control_get(&app, "usage").await;
    assert_eq!(usage["concurrent_long_running_requests"], json!(25));
    assert_eq!(usage["long_running_after_ms"], json!(20_000));
}
