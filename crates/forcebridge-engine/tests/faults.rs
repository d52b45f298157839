//! Faults injected through the emulator's control API while flows run: 503s, row locks, the API
//! limit, and a connection whose sign-in stops working mid-stream — nothing lost, nothing
//! duplicated, and a paused connection resumes after it is reconnected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use forcebridge_store::{ConnectionStatus, DeliveryFilter, DeliveryState};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

fn forms(range: std::ops::Range<usize>) -> Vec<(String, Value)> {
    range
        .map(|i| {
            (
                format!("form-{i}"),
                json!({ "invite_id": "inv", "email": format!("p{i}@example.com"), "first_name": "P", "last_name": format!("N{i}") }),
            )
        })
        .collect()
}

async fn send_forms(app: &TestApp, range: std::ops::Range<usize>) {
    let f = forms(range);
    app.send(
        f.iter()
            .map(|(k, d)| (k.as_str(), "invite.form_submitted", d.clone()))
            .collect(),
    )
    .await;
}

async fn fault(app: &TestApp, body: Value) {
    let (status, resp) = app.control(Method::POST, "/__emulator/faults", body).await;
    assert!(status < 300, "{status} {resp}");
}

async fn pending(app: &TestApp) -> usize {
    app.engine
        .deliveries(
            &app.tenant,
            &DeliveryFilter {
                state: Some(DeliveryState::Pending),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len()
}

/// Moves time past every retry and drains until nothing is pending.
async fn settle(app: &TestApp) {
    for _ in 0..10 {
        app.drain().await;
        if pending(app).await == 0 {
            return;
        }
        app.clock
            .advance(chrono::Duration::from_std(Duration::from_secs(3600)).unwrap());
        app.engine.kick(&app.tenant, &app.connection, None).await.unwrap();
    }
}

async fn leads(app: &TestApp) -> usize {
    app.query("SELECT Id FROM Lead").await.len()
}

#[tokio::test]
async fn transient_errors_and_row_locks_retry_without_duplicates() {
    let app = TestApp::start("instruqt").await;
    app.install("instruqt", json!({})).await;
    send_forms(&app, 0..30).await;
    fault(&app, json!({ "count": 6, "status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "try later", "path_prefix": "/services/data/v62.0/composite/sobjects", "method": "POST" })).await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("pending"), Some(&30), "{report:?}");
    assert_eq!(leads(&app).await, 0);
    settle(&app).await;
    assert_eq!(leads(&app).await, 30);

    send_forms(&app, 30..60).await;
    fault(&app, json!({ "count": 6, "status": 400, "errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record", "path_prefix": "/services/data/v62.0/composite/sobjects", "method": "POST" })).await;
    settle(&app).await;
    assert_eq!(leads(&app).await, 60);
    let dead = app
        .engine
        .deliveries(
            &app.tenant,
            &DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test]
async fn the_api_limit_defers_work_without_failing_it() {
    let app = TestApp::start("instruqt").await;
    app.install("instruqt", json!({})).await;
    send_forms(&app, 0..10).await;
    fault(&app, json!({ "count": 1, "status": 403, "errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded.", "path_prefix": "/services/data/v62.0/query" })).await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("pending"), Some(&10), "{report:?}");
    let ds = app
        .engine
        .deliveries(&app.tenant, &DeliveryFilter::default())
        .await
        .unwrap();
    assert!(
        ds.iter().all(|d| d.attempts == 0),
        "deferral spends no attempt: {ds:?}"
    );
    settle(&app).await;
    assert_eq!(leads(&app).await, 10);
}

#[tokio::test]
async fn a_connection_that_cannot_sign_in_pauses_and_resumes_after_reconnect() {
    let app = TestApp::start("instruqt").await;
    app.install("instruqt", json!({})).await;
    send_forms(&app, 0..5).await;
    settle(&app).await;
    assert_eq!(leads(&app).await, 5);

    // The org stops accepting the connection's credentials, and its session ends.
    let store = app.engine.store();
    let mut creds = store.credentials(&app.tenant, &app.connection).await.unwrap();
    let good = creds.clone();
    creds.password = Some(secrecy::SecretString::from("wrong-password".to_owned()));
    creds.access_token = None;
    store
        .update_credentials(&app.tenant, &app.connection, &creds)
        .await
        .unwrap();
    app.engine.clients().forget(&app.tenant, &app.connection);
    app.control(Method::POST, "/__emulator/sessions/expire", json!({}))
        .await;

    send_forms(&app, 5..12).await;
    app.drain().await;
    let conn = store.get_connection(&app.tenant, &app.connection).await.unwrap();
    assert_eq!(conn.status, ConnectionStatus::TokenExpired, "{conn:?}");
    assert_eq!(pending(&app).await, 7, "the work waits, nothing is dropped");
    assert_eq!(leads(&app).await, 5);

    // Reconnect: good credentials, active again, drained.
    store
        .update_credentials(&app.tenant, &app.connection, &good)
        .await
        .unwrap();
    store
        .set_connection_status(
            &app.tenant,
            &app.connection,
            ConnectionStatus::Active,
            None,
            "test",
        )
        .await
        .unwrap();
    app.engine.clients().forget(&app.tenant, &app.connection);
    app.engine.kick(&app.tenant, &app.connection, None).await.unwrap();
    settle(&app).await;
    assert_eq!(leads(&app).await, 12);
    assert_eq!(pending(&app).await, 0);
}

#[tokio::test]
async fn a_rejected_record_is_dead_with_salesforce_error_and_a_remedy_and_replays() {
    let app = TestApp::start("instruqt").await;
    app.install("instruqt", json!({})).await;
    // Lead.LastName is required; an empty last name makes Salesforce refuse that one record only.
    app.send(vec![
        (
            "ok",
            "invite.form_submitted",
            json!({ "invite_id": "i", "email": "ok@example.com", "first_name": "O", "last_name": "K" }),
        ),
        (
            "bad",
            "invite.form_submitted",
            json!({ "invite_id": "i", "email": "bad@example.com", "first_name": "B", "last_name": "" }),
        ),
    ])
    .await;
    app.drain().await;
    assert_eq!(leads(&app).await, 1);
    let dead = app
        .engine
        .deliveries(
            &app.tenant,
            &DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let outcome = dead[0].outcome.clone().unwrap();
    assert_eq!(outcome["code"], "REQUIRED_FIELD_MISSING", "{outcome}");
    assert!(
        outcome["remedy"].as_str().unwrap().contains("replay"),
        "{outcome}"
    );
    // Replaying without fixing the cause fails the same way, and is still there to replay.
    app.engine.replay(&app.tenant, dead[0].id).await.unwrap();
    app.drain().await;
    let again = app.engine.delivery(&app.tenant, dead[0].id).await.unwrap();
    assert_eq!(again.state, DeliveryState::Dead);
}

#[tokio::test]
async fn records_refused_for_a_setting_are_retried_after_the_setting_changes() {
    let app = TestApp::start("instruqt").await;
    let install = app
        .install("instruqt", json!({ "new_lead_status": "Working - Contacted" }))
        .await;
    // The admin deactivates the chosen status in Salesforce: new Leads are refused.
    let (status, body) = app
        .control(Method::POST, "/__emulator/faults", json!({ "count": 1, "status": 400, "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "message": "Status: bad value for restricted picklist field: Working - Contacted", "path_prefix": "/services/data/v62.0/composite/sobjects", "method": "POST" }))
        .await;
    assert!(status < 300, "{body}");
    send_forms(&app, 0..3).await;
    app.drain().await;
    let dead = app
        .engine
        .deliveries(
            &app.tenant,
            &DeliveryFilter {
                state: Some(DeliveryState::Dead),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert!(
        dead[0].outcome.as_ref().unwrap()["remedy"]
            .as_str()
            .unwrap()
            .contains("picklist")
    );
    // The admin picks another status: the refused records go through, nothing is lost.
    app.engine
        .set_settings(
            &app.tenant,
            &install,
            json!({ "new_lead_status": "Open - Not Contacted" }),
            "admin",
        )
        .await
        .unwrap();
    app.drain().await;
    assert_eq!(leads(&app).await, 3);
    assert_eq!(pending(&app).await, 0);
    let statuses = app.query("SELECT Status FROM Lead").await;
    assert!(
        statuses.iter().all(|l| l["Status"] == "Open - Not Contacted"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_batch_that_meets_row_locks_shrinks_and_goes_through() {
    let app = TestApp::start("spaceiq").await;
    app.install("spaceiq", json!({})).await;
    let moves: Vec<(String, Value)> = (0..120)
        .map(|i| (format!("m{i}"), json!({ "move_id": format!("mv-{i}"), "plan_id": "P", "timing": "now", "employee": { "name": "Ann" } })))
        .collect();
    app.send(
        moves
            .iter()
            .map(|(k, d)| (k.as_str(), "move.executed", d.clone()))
            .collect(),
    )
    .await;
    // The full call meets a locked row every time the client tries it (its own retries included).
    fault(&app, json!({ "count": 6, "status": 400, "errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record", "path_prefix": "/services/data/v62.0/composite/sobjects", "method": "PATCH" })).await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&120), "{report:?}");
    assert_eq!(app.query("SELECT Id FROM Case").await.len(), 120);
    // One call for 120, then the same records in calls of 50.
    assert_eq!(report.api_calls.get("collections"), Some(&4), "{report:?}");
}
