//! The event bus is fed by every write path — REST, Collections, Composite, Bulk API 2.0,
//! undelete — in commit order, one transaction key per transaction, only for watched objects,
//! and it survives a restart with `--state`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bulk_common;
mod common;

use forcebridge_emulator::EmulatorConfig;
use forcebridge_emulator::events::{BusEvent, ChangeType};
use serde_json::json;

fn events(app: &common::App) -> Vec<BusEvent> {
    let org = app.handle.state().org_read();
    let now = chrono::Utc::now().timestamp_millis();
    org.events.after(0, 72, now).map(|e| (**e).clone()).collect()
}

async fn select(app: &common::App, objects: &[&str]) {
    let r = app
        .client
        .post(format!("{}/__emulator/streams/cdc", app.base))
        .json(&json!({ "entities": objects }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_write_path_publishes_in_commit_order() {
    let app = common::spawn().await;
    // Nothing is captured for objects nobody watches.
    app.create("Account", json!({"Name": "unwatched"})).await;
    assert!(events(&app).is_empty());
    select(&app, &["Account"]).await;

    let rest = app.create("Account", json!({"Name": "rest"})).await;
    let (s, _) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "Name": "coll 1"},
                {"attributes": {"type": "Account"}, "Name": "coll 2"}]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = app
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "a", "body": {"Name": "comp"}},
                {"method": "PATCH", "url": "/services/data/v66.0/sobjects/Account/@{a.id}", "referenceId": "b", "body": {"Phone": "1"}}]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // A failed all-or-none request publishes nothing.
    let before = events(&app).len();
    let (s, _) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "Name": "rolled back"},
                {"attributes": {"type": "Account"}}]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(events(&app).len(), before);
    let (_, info) = bulk_common::ingest(
        &app,
        json!({"object": "Account", "operation": "insert", "lineEnding": "LF"}),
        "Name\nbulk 1\nbulk 2\n",
    )
    .await;
    assert_eq!(info["numberRecordsProcessed"], 2, "{info}");
    let (s, _) = app.delete(&format!("sobjects/Account/{rest}")).await;
    assert_eq!(s, 204);
    let r = app
        .client
        .post(format!("{}/__emulator/undelete", app.base))
        .json(&json!({ "ids": [rest] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let all = events(&app);
    let kinds: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e.change_type,
                e.record
                    .get("Name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    use ChangeType::*;
    let expected = [
        (Create, "rest"),
        (Create, "coll 1"),
        (Create, "coll 2"),
        (Create, "comp"),
        (Create, "bulk 1"),
        (Create, "bulk 2"),
        (Delete, "rest"),
        (Undelete, "rest"),
    ];
    assert_eq!(
        kinds,
        expected
            .iter()
            .map(|(k, n)| (*k, n.to_string()))
            .collect::<Vec<_>>()
    );
    // Replay ids increase; a transaction's changes share its key and number from 1.
    assert!(all.windows(2).all(|w| w[0].replay_id < w[1].replay_id));
    assert_eq!(all[1].transaction_key, all[2].transaction_key);
    assert_eq!((all[1].sequence_number, all[2].sequence_number), (1, 2));
    assert_ne!(all[0].transaction_key, all[1].transaction_key);
    // Composite's create then update of one record in one transaction is one create event.
    assert!(all[3].changed_fields.contains(&"Phone".to_string()));
    assert_eq!(all[4].transaction_key, all[5].transaction_key);
}

#[tokio::test]
async fn an_update_that_changes_nothing_but_stamps_publishes_nothing() {
    let app = common::spawn().await;
    select(&app, &["Opportunity"]).await;
    let id = app
        .create(
            "Opportunity",
            json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2027-01-31", "Amount": 100}),
        )
        .await;
    let before = events(&app).len();
    // Same values again: only LastModifiedDate / SystemModstamp move.
    let (s, _) = app
        .patch(
            &format!("sobjects/Opportunity/{id}"),
            json!({"Name": "Deal", "Amount": 100}),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(events(&app).len(), before);
    let (s, _) = app
        .patch(&format!("sobjects/Opportunity/{id}"), json!({"Amount": 200}))
        .await;
    assert_eq!(s, 204);
    let all = events(&app);
    assert_eq!(all.len(), before + 1);
    let last = all.last().unwrap();
    assert!(last.changed_fields.contains(&"Amount".to_string()));
    // Calculated fields never appear among the changed fields.
    let org = app.handle.state().org_read();
    let def = org.schema.object("Opportunity").unwrap();
    assert!(
        last.changed_fields
            .iter()
            .all(|f| !def.fields.get(f).is_some_and(|fd| fd.calculated))
    );
}

#[tokio::test]
async fn the_log_and_selection_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        state_file: Some(dir.path().join("state.json")),
        ..Default::default()
    };
    let app = common::spawn_with(config.clone()).await;
    select(&app, &["Contact"]).await;
    app.create("Contact", json!({"LastName": "One"})).await;
    let first = events(&app);
    assert_eq!(first.len(), 1);
    app.stop().await;

    let app = common::spawn_with(config).await;
    app.create("Contact", json!({"LastName": "Two"})).await;
    let all = events(&app);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], first[0]);
    assert!(all[1].replay_id > all[0].replay_id);
}

#[tokio::test]
async fn tooling_selects_objects_for_change_data_capture_and_creates_push_topics() {
    let app = common::spawn().await;
    let (s, body) = app
        .post(
            "tooling/sobjects/PlatformEventChannelMember",
            json!({"FullName": "ChangeEvents_LeadChangeEvent",
                   "Metadata": {"eventChannel": "ChangeEvents", "selectedEntity": "LeadChangeEvent"}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let member = body["id"].as_str().unwrap().to_string();
    assert!(app.handle.state().org_read().events.cdc_entities.contains("Lead"));
    let (s, body) = app
        .post(
            "tooling/sobjects/PlatformEventChannelMember",
            json!({"Metadata": {"eventChannel": "ChangeEvents", "selectedEntity": "NopeChangeEvent"}}),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, _) = app
        .delete(&format!("tooling/sobjects/PlatformEventChannelMember/{member}"))
        .await;
    assert_eq!(s, 204);
    assert!(app.handle.state().org_read().events.cdc_entities.is_empty());

    let (s, body) = app
        .post(
            "tooling/sobjects/PushTopic",
            json!({"Name": "Leads", "Query": "SELECT Id, Company FROM Lead", "ApiVersion": 66.0}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app
        .query("SELECT Name, NotifyForFields, IsActive FROM PushTopic")
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["records"][0]["NotifyForFields"], "Referenced");
    assert_eq!(body["records"][0]["IsActive"], true);
}

#[tokio::test]
async fn bayeux_refusals_tell_clients_to_handshake_again() {
    let app = common::spawn().await;
    let cometd = app.handle.cometd_url();
    assert!(app.handle.connection_info()["pubsub_endpoint"].is_string());
    let post = |token: Option<&str>, body: serde_json::Value| {
        let mut r = app.client.post(&cometd).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let resp = r.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<serde_json::Value>().await.unwrap()
        }
    };
    let denied = post(
        Some("not-a-session"),
        json!([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}]),
    )
    .await;
    assert_eq!(denied[0]["successful"], false);
    assert_eq!(denied[0]["error"], "403::Handshake denied");
    assert_eq!(
        denied[0]["ext"]["sfdc"]["failureReason"],
        "401::Authentication invalid"
    );

    let token = app.token.clone().unwrap();
    let unknown = post(
        Some(&token),
        json!([{"channel": "/meta/connect", "clientId": "nobody", "connectionType": "long-polling"}]),
    )
    .await;
    assert_eq!(unknown[0]["error"], "403::Unknown client");
    assert_eq!(unknown[0]["advice"]["reconnect"], "handshake");

    let hs = post(
        Some(&token),
        json!([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"], "ext": {"replay": true}}]),
    )
    .await;
    let client_id = hs[0]["clientId"].as_str().unwrap().to_string();
    assert_eq!(hs[0]["ext"]["replay"], true);
    let bad_replay = post(
        Some(&token),
        json!([{"channel": "/meta/subscribe", "clientId": client_id, "subscription": "/data/ChangeEvents",
                "ext": {"replay": {"/data/ChangeEvents": 999}}}]),
    )
    .await;
    assert_eq!(
        bad_replay[0]["error"],
        "400::The replayId {999} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
    );
    // The first connect answers at once when asked to (advice timeout 0), with Salesforce's advice.
    let connected = post(
        Some(&token),
        json!([{"channel": "/meta/connect", "clientId": client_id, "connectionType": "long-polling", "advice": {"timeout": 0}}]),
    )
    .await;
    assert_eq!(connected[0]["successful"], true);
    assert_eq!(connected[0]["advice"]["timeout"], 110000);
    assert_eq!(connected[0]["advice"]["reconnect"], "retry");
}
