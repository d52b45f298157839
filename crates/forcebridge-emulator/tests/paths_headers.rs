//! Paths and headers as Salesforce takes and writes them: doubled slashes work in every API,
//! an unknown path answers the `NOT_FOUND` error array, and header names go out title-cased.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::{V, raw_request};
use serde_json::json;

#[tokio::test]
async fn doubled_slashes_are_single_in_every_api() {
    let app = common::spawn().await;
    app.create("Account", json!({"Name": "Slashy"})).await;
    // REST query, as a client with a stored trailing-slash instance URL builds it.
    let url = format!("{}//services/data/{V}/query", app.base);
    let (status, body) = app
        .send(
            app.client
                .get(url)
                .bearer_auth(app.token.as_ref().unwrap())
                .query(&[("q", "SELECT Name FROM Account")]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Name"], json!("Slashy"));
    // Several APIs, each through a doubled slash somewhere in the path.
    for path in [
        format!("//services/data/{V}//sobjects/Account/describe"),
        format!("//services/data/{V}/tooling//query?q=SELECT+Id+FROM+CustomObject"),
        format!("//services/data/{V}/jobs//ingest"),
        format!("//services//data/{V}/limits"),
        "//services/data".to_string(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // OAuth through a doubled slash.
    let c = app.handle.config().clone();
    let resp = app
        .client
        .post(format!("{}//services/oauth2/token", app.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", format!("{}{}", c.password, c.security_token).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // SOAP login through a doubled slash.
    let envelope = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:n1="urn:partner.soap.sforce.com"><env:Body><n1:login><n1:username>{}</n1:username><n1:password>{}{}</n1:password></n1:login></env:Body></env:Envelope>"#,
        c.username, c.password, c.security_token
    );
    let resp = app
        .client
        .post(format!("{}//services/Soap/u/66.0", app.base))
        .header("content-type", "text/xml")
        .header("SOAPAction", "login")
        .body(envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<sessionId>"));
}

#[tokio::test]
async fn an_unknown_path_answers_not_found_with_salesforce_body() {
    let app = common::spawn().await;
    for path in ["/services/nothing/here", "/nothing", "/services/oauth2/nothing"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            body,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
            "{path}"
        );
    }
    let (status, body) = app.get("sobjects/Account/001000000000000AAA/nothing/more").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body[0]["errorCode"], json!("NOT_FOUND"));
}

#[tokio::test]
async fn header_names_go_out_as_salesforce_writes_them() {
    let app = common::spawn().await;
    let raw = raw_request(&app, "GET", &format!("/services/data/{V}/limits"), &[]).await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("\r\nContent-Type: application/json"), "{raw}");
    assert!(raw.contains("\r\nSforce-Limit-Info: api-usage="), "{raw}");

    // A Bulk API 2.0 query's results carry `Sforce-Locator` and `Sforce-NumberOfRecords`.
    app.create("Account", json!({"Name": "Located"})).await;
    let (status, job) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": "SELECT Name FROM Account"}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    loop {
        let (_, info) = app.get(&format!("jobs/query/{id}")).await;
        if info["state"] == json!("JobComplete") {
            break;
        }
        assert_ne!(info["state"], json!("Failed"), "{info}");
        tokio::task::yield_now().await;
    }
    let raw = raw_request(
        &app,
        "GET",
        &format!("/services/data/{V}/jobs/query/{id}/results"),
        &[],
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("\r\nSforce-Locator: "), "{raw}");
    assert!(raw.contains("\r\nContent-Type: text/csv"), "{raw}");
    // The answer's body is the CSV.
    assert!(raw.contains("Located"), "{raw}");
}
