//! SpaceIQ end to end against the real emulator: only "Now" moves become Cases with the seven
//! custom fields, upserted by ExternalID__c at the API floor, and a move plan's undo deletes its
//! Cases — idempotently, leaving other plans' Cases alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use forcebridge_store::DeliveryFilter;
use serde_json::{Value, json};
use support::TestApp;

fn mv(id: usize, plan: &str, timing: &str) -> Value {
    json!({
        "move_id": format!("mv-{id}"),
        "plan_id": plan,
        "timing": timing,
        "employee": { "name": format!("Employee {id}"), "department": "Engineering", "team": "Platform", "email": format!("e{id}@example.com") },
        "current_seat": format!("A-{id}"),
        "new_seat": format!("B-{id}"),
        "assets": ["laptop", "monitor"],
        "notes": "fragile",
    })
}

#[tokio::test]
async fn spaceiq_end_to_end() {
    let app = TestApp::start("spaceiq").await;
    app.install("spaceiq", json!({})).await;

    // 450 moves of plan P1 (every fifth a future move), 10 of plan P2.
    let mut events: Vec<(String, Value)> = Vec::new();
    for i in 0..450 {
        events.push((
            format!("e{i}"),
            mv(i, "P1", if i % 5 == 4 { "future" } else { "now" }),
        ));
    }
    for i in 450..460 {
        events.push((format!("e{i}"), mv(i, "P2", "now")));
    }
    app.send(
        events
            .iter()
            .map(|(k, d)| (k.as_str(), "move.executed", d.clone()))
            .collect(),
    )
    .await;
    let before = app.api_used().await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&370), "{report:?}");
    assert_eq!(report.by_state.get("filtered"), Some(&90), "{report:?}");
    let calls = app.api_used().await - before;
    // 370 upserts: two Collections calls per 200 records… in three batches of 200 deliveries.
    assert!(calls <= 3, "370 moves cost {calls} calls ({report:?})");

    let cases = app
        .query("SELECT ExternalID__c, Subject, Department__c, Team__c, CurrentSeat__c, NewSeat__c, EmployeeAssets__c, EmployeeNotes__c FROM Case WHERE ExternalID__c = 'mv-0'")
        .await;
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!(c["Subject"], "Move: Employee 0 to B-0");
    assert_eq!(c["Department__c"], "Engineering");
    assert_eq!(c["Team__c"], "Platform");
    assert_eq!(c["CurrentSeat__c"], "A-0");
    assert_eq!(c["NewSeat__c"], "B-0");
    assert_eq!(c["EmployeeAssets__c"], "laptop, monitor");
    assert_eq!(c["EmployeeNotes__c"], "fragile");
    assert_eq!(app.query("SELECT Id FROM Case").await.len(), 370);

    // A move pushed again (same move id, new seat) updates its Case, no second one.
    let mut again = mv(1, "P1", "now");
    again["new_seat"] = json!("C-1");
    app.send(vec![("e1-again", "move.executed", again)]).await;
    app.drain().await;
    let c1 = app
        .query("SELECT NewSeat__c FROM Case WHERE ExternalID__c = 'mv-1'")
        .await;
    assert_eq!(c1.len(), 1);
    assert_eq!(c1[0]["NewSeat__c"], "C-1");

    // Undo P1: its 360 Cases go, P2's 10 stay. Undo again: nothing more happens.
    let undo = app
        .send(vec![("undo-1", "move_plan.undone", json!({ "plan_id": "P1" }))])
        .await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&1), "{report:?}");
    assert_eq!(app.query("SELECT Id FROM Case").await.len(), 10);
    assert!(
        report.total_calls() <= 3,
        "undo of 360 Cases cost {:?}",
        report.api_calls
    );
    let journal = app
        .engine
        .journal_for_event(&app.tenant, &undo[0].event_id)
        .await
        .unwrap();
    assert_eq!(
        journal.iter().filter(|r| r.operation == "undo_delete").count(),
        360
    );

    app.send(vec![("undo-2", "move_plan.undone", json!({ "plan_id": "P1" }))])
        .await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&1));
    assert_eq!(
        report.total_calls(),
        0,
        "a second undo has nothing left to revert"
    );
    assert_eq!(app.query("SELECT Id FROM Case").await.len(), 10);

    let dead = app
        .engine
        .deliveries(
            &app.tenant,
            &DeliveryFilter {
                state: Some(forcebridge_store::DeliveryState::Dead),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
}

#[tokio::test]
async fn a_backlog_goes_through_bulk_api_with_lookups_by_external_id() {
    let app = TestApp::start("spaceiq").await;
    app.install("spaceiq", json!({})).await;
    let events: Vec<(String, Value)> = (0..3_000)
        .map(|i| (format!("b{i}"), mv(i, "PB", "now")))
        .collect();
    app.send(
        events
            .iter()
            .map(|(k, d)| (k.as_str(), "move.executed", d.clone()))
            .collect(),
    )
    .await;
    let before = app.api_used().await;
    let report = app.drain().await;
    let calls = app.api_used().await - before;
    assert_eq!(report.by_state.get("done"), Some(&3_000), "{report:?}");
    // The first batch of 1,000 through Collections (5 calls), the backlog of 2,000 as one Bulk job.
    assert!(report.api_calls.contains_key("bulk"), "{report:?}");
    assert!(calls <= 16, "3,000 moves cost {calls} calls: {report:?}");
    assert_eq!(app.query("SELECT Id FROM Case").await.len(), 3_000);
    let journal = app
        .engine
        .journal_for_event(&app.tenant, &app_event(&app, "b2999").await)
        .await
        .unwrap();
    assert_eq!(journal[0].api.as_deref(), Some("bulk"), "{journal:?}");
    assert_eq!(journal[0].detail["created"], true);
}

async fn app_event(app: &TestApp, key: &str) -> forcebridge_store::EventId {
    // Sending an accepted key again returns the original event id and changes nothing.
    let again = app.send(vec![(key, "move.executed", json!({}))]).await;
    assert!(!again[0].is_new);
    again[0].event_id.clone()
}

#[tokio::test]
async fn a_connected_app_that_is_not_active_yet_is_waited_for() {
    let app = TestApp::start("spaceiq").await;
    // The customer has just created the connected app: Salesforce will not know it for a while.
    let (status, new_app) = app
        .control(
            reqwest::Method::POST,
            "/__emulator/apps",
            json!({ "name": "SpaceIQ", "activation_delay_secs": 2 }),
        )
        .await;
    assert!(status < 300, "{new_app}");
    let user = app
        .engine
        .store()
        .create_user(&app.tenant, "it@example.com", forcebridge_store::Role::Admin, "t")
        .await
        .unwrap();
    let c = app.emulator.config();
    let conn = app
        .engine
        .connect_server_to_server(
            &app.tenant,
            "SpaceIQ",
            forcebridge_store::Environment::Production,
            forcebridge_engine::control::connections::ServerToServer::Password {
                client_id: new_app["client_id"].as_str().unwrap().to_owned(),
                client_secret: new_app["client_secret"].as_str().unwrap().to_owned().into(),
                username: c.username.clone(),
                password: c.password.clone().into(),
                security_token: Some(c.security_token.clone().into()),
            },
            forcebridge_engine::control::connections::Ownership::Shared {
                admin: user.id,
                users: vec![],
            },
            "it",
        )
        .await
        .expect("the sign-in waits for the new app instead of failing");
    assert_eq!(conn.status, forcebridge_store::ConnectionStatus::Active);
}
