//! Recovery of creates a killed process left open: the journal holds an intent per delivery and
//! Salesforce holds the records of some of them. The next drain adopts each record that is there
//! (twins with one Name each get one of their own), creates the rest once, looks for all of them
//! with one query, and leaves the journal closed: every delivery's create `done` with its record
//! id, and an intent whose record was never made `failed` — no intent left for a later recovery
//! to adopt a second record from.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use forcebridge_store::{DeliveryFilter, JournalRow};
use serde_json::json;
use support::TestApp;

/// The test-only recipe of the several-nodes test: one Account per `ping`, named by its id.
const NODES: &str = "../crates/forcebridge/tests/fixtures/recipes/nodes";

#[tokio::test]
async fn an_interrupted_create_batch_is_adopted_once_and_its_journal_closed() {
    let app = TestApp::start(NODES).await;
    app.install("nodes", json!({})).await;
    let sent = app
        .send(vec![
            ("a", "ping", json!({ "id": "rec-a" })),
            ("b", "ping", json!({ "id": "rec-b" })),
            ("t1", "ping", json!({ "id": "twin" })),
            ("t2", "ping", json!({ "id": "twin" })),
        ])
        .await;

    // What a process killed between its Collections call and settling the journal leaves: an
    // intent for every delivery of the batch; the call got as far as rec-a and one twin.
    let deliveries = app
        .engine
        .deliveries(&app.tenant, &DeliveryFilter::default())
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 4);
    let now = app.engine.clock().now();
    let intents: Vec<JournalRow> = deliveries
        .iter()
        .map(|d| JournalRow {
            id: 0,
            tenant_id: app.tenant.clone(),
            event_id: Some(d.event_id.clone()),
            connection_id: app.connection.clone(),
            delivery_id: Some(d.id),
            step: Some("account".into()),
            operation: "create".into(),
            sobject: "Account".into(),
            record_id: None,
            api: Some("collections".into()),
            state: "intent".into(),
            correlation_key: None,
            detail: json!({}),
            created_at: now,
        })
        .collect();
    app.engine.store().journal_write_many(&intents).await.unwrap();
    let (s, made) = app
        .control(
            reqwest::Method::POST,
            "/__emulator/records/Account",
            json!([{ "Name": "rec-a" }, { "Name": "twin" }]),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let made_twin = made["ids"][1].as_str().unwrap().to_owned();

    let report = app.drain().await;
    assert_eq!(
        report.api_calls.get("query"),
        Some(&1),
        "one query looks for the whole batch: {report:?}"
    );

    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in app
        .query("SELECT Id, Name FROM Account WHERE Name IN ('rec-a', 'rec-b', 'twin')")
        .await
    {
        by_name
            .entry(r["Name"].as_str().unwrap().to_owned())
            .or_default()
            .push(r["Id"].as_str().unwrap().to_owned());
    }
    let counts: BTreeMap<&str, usize> = by_name.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([("rec-a", 1), ("rec-b", 1), ("twin", 2)]),
        "nothing made twice, nothing missing"
    );

    let mut twins = Vec::new();
    for (ingested, name) in sent.iter().zip(["rec-a", "rec-b", "twin", "twin"]) {
        let journal = app
            .engine
            .journal_for_event(&app.tenant, &ingested.event_id)
            .await
            .unwrap();
        assert!(
            journal.iter().all(|r| r.state != "intent"),
            "no intent left open for {name}: {journal:?}"
        );
        let done: Vec<&JournalRow> = journal.iter().filter(|r| r.state == "done").collect();
        assert_eq!(done.len(), 1, "{name}: {journal:?}");
        let id = done[0].record_id.clone().unwrap();
        assert!(by_name[name].contains(&id), "{name}'s journal names its record");
        if name == "twin" {
            twins.push(id);
        }
    }
    assert_ne!(twins[0], twins[1], "each twin has a record of its own");
    assert!(
        twins.contains(&made_twin),
        "the twin made before the kill is adopted"
    );
}
