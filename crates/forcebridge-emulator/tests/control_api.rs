//! The control API and the middleware it drives, over real HTTP: fault injection, API limits and
//! `Sforce-Limit-Info`, the request log, seeding records, reset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

#[path = "control_common.rs"]
mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn injected_faults_fail_the_next_matching_calls() {
    let h = start().await;
    let token = access_token(&h).await;
    let (status, _) = control(
        &h,
        Method::POST,
        "faults",
        json!({"count": 2, "status": 503, "errorCode": "UNABLE_TO_LOCK_ROW", "message": "locked",
               "path_prefix": "/services/data", "method": "GET"}),
    )
    .await;
    assert_eq!(status, 201);
    // A POST does not match a GET-only fault.
    let resp = client()
        .post(format!("{}/services/data/v66.0/sobjects/Account", h.base_url()))
        .bearer_auth(&token)
        .json(&json!({"Name": "x"}))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 503);
    for _ in 0..2 {
        let resp = api_get(&h, "limits", &token).await;
        assert_eq!(resp.status(), 503);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!([{"message": "locked", "errorCode": "UNABLE_TO_LOCK_ROW"}])
        );
    }
    assert_ne!(
        api_get(&h, "limits", &token).await.status(),
        503,
        "count is used up"
    );

    // A delay-only fault lets the call through; faults can be listed and cleared.
    control(&h, Method::POST, "faults", json!({"count": 1, "delay_ms": 1})).await;
    assert_ne!(api_get(&h, "limits", &token).await.status(), 503);
    control(
        &h,
        Method::POST,
        "faults",
        json!({"count": 5, "status": 500, "errorCode": "UNKNOWN_EXCEPTION"}),
    )
    .await;
    let (_, listed) = control(&h, Method::GET, "faults", Value::Null).await;
    assert_eq!(listed["faults"].as_array().unwrap().len(), 1);
    let (status, _) = control(&h, Method::DELETE, "faults", Value::Null).await;
    assert_eq!(status, 204);
    assert_ne!(api_get(&h, "limits", &token).await.status(), 500);

    // Faults apply to the token endpoint too, when aimed at it.
    control(
        &h,
        Method::POST,
        "faults",
        json!({"status": 503, "path_prefix": "/services/oauth2/token"}),
    )
    .await;
    let resp = client()
        .post(h.token_url())
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let (status, _) = control(&h, Method::POST, "faults", json!({"status": 42})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn api_usage_is_counted_and_limited() {
    let h = start().await;
    let token = access_token(&h).await;
    let (status, usage) = control(
        &h,
        Method::PUT,
        "limits",
        json!({"daily_api_requests_max": 3, "daily_api_requests_used": 0}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(usage["daily_api_requests_max"], 3);
    for n in 1..=3 {
        let resp = api_get(&h, "limits", &token).await;
        assert_ne!(resp.status(), 403);
        assert_eq!(
            resp.headers()["sforce-limit-info"],
            format!("api-usage={n}/3").as_str()
        );
    }
    let resp = api_get(&h, "limits", &token).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["sforce-limit-info"], "api-usage=3/3");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    // Control calls and unauthenticated calls are not counted.
    let (_, usage) = control(&h, Method::GET, "usage", Value::Null).await;
    assert_eq!(usage["daily_api_requests_used"], 3);
    assert_eq!(usage["daily_api_requests_remaining"], 0);
    assert_eq!(api_get(&h, "limits", "bogus").await.status(), 401);
    let (_, usage) = control(&h, Method::GET, "usage", Value::Null).await;
    assert_eq!(usage["daily_api_requests_used"], 3);
    // Raising the limit lets calls through again.
    control(&h, Method::PUT, "limits", json!({"daily_api_requests_max": 10})).await;
    assert_ne!(api_get(&h, "limits", &token).await.status(), 403);
    let (status, _) = control(&h, Method::PUT, "limits", json!({"bogus": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_request_log_records_calls_but_not_control_calls() {
    let h = start().await;
    let token = access_token(&h).await;
    api_get(&h, "sobjects?x=1", &token).await;
    let (_, log) = control(&h, Method::GET, "requests", Value::Null).await;
    let entries = log["requests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["path"], "/services/oauth2/token");
    assert_eq!(entries[0]["method"], "POST");
    assert_eq!(entries[0]["grant_type"], "password");
    assert_eq!(entries[0]["status"], 200);
    assert_eq!(entries[1]["path"], "/services/data/v66.0/sobjects");
    assert_eq!(entries[1]["query"], "x=1");
    assert!(entries[1]["time"].is_string());

    let (_, log) = control(
        &h,
        Method::GET,
        "requests?path_prefix=/services/data",
        Value::Null,
    )
    .await;
    assert_eq!(log["requests"].as_array().unwrap().len(), 1);
    let (status, _) = control(&h, Method::DELETE, "requests", Value::Null).await;
    assert_eq!(status, 204);
    let (_, log) = control(&h, Method::GET, "requests", Value::Null).await;
    assert_eq!(log["requests"], json!([]));
}

#[tokio::test]
async fn seed_records_and_reset() {
    let h = start().await;
    ensure_account_object(&h);
    let (status, out) = control(
        &h,
        Method::POST,
        "records/Account",
        json!([
            {"Name": "Acme"},
            {"name": "Globex", "attributes": {"type": "Account"}, "SystemModstamp": "2020-01-02T03:04:05.000+0000"}
        ]),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    let ids = out["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.as_str().unwrap().starts_with("001")));
    {
        let org = h.state().org_read();
        let table = &org.data["Account"];
        let id = forcebridge_emulator::ids::SfId::parse(ids[1].as_str().unwrap()).unwrap();
        let rec = &table[&id];
        assert_eq!(rec["Name"], "Globex");
        assert!(rec.get("attributes").is_none());
        assert!(rec["CreatedDate"].is_string());
        assert_eq!(
            rec["SystemModstamp"], "2020-01-02T03:04:05.000+0000",
            "a given system field is kept"
        );
    }
    let (status, out) = control(
        &h,
        Method::POST,
        "records/Account",
        json!([{"Name": "Initech", "NoSuchField__c": 1, "Owner": {"Name": "x"}}]),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(out["ignored_fields"], json!(["NoSuchField__c", "Owner"]));
    let (status, _) = control(
        &h,
        Method::POST,
        "records/Account",
        json!([{"Name": "ok"}, {"Id": "003000000000001"}]),
    )
    .await;
    assert_eq!(status, 400, "an id of another object");
    assert_eq!(
        h.state().org_read().data["Account"].len(),
        3,
        "a bad row stores nothing"
    );
    let (status, _) = control(&h, Method::POST, "records/NoSuchThing__c", json!([{}])).await;
    assert_eq!(status, 404);
    let (status, _) = control(
        &h,
        Method::POST,
        "records/Account",
        json!({"Name": "not an array"}),
    )
    .await;
    assert_eq!(status, 400);

    let token = access_token(&h).await;
    let (status, _) = control(&h, Method::POST, "reset", Value::Null).await;
    assert_eq!(status, 200);
    let org = h.state().org_read();
    assert!(org.data.get("Account").is_none_or(|t| t.is_empty()));
    assert!(!org.auth.sessions.contains_key(&token), "reset ends sessions");
}
