//! Real-time subscriptions against the emulator over TLS: PushTopics and change events over the
//! Streaming API (CometD), resuming from the stored replay id, and recovery from each injected
//! stream fault (dropped connection, expired session, events aged out, gap and overflow events).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use forcebridge_emulator::EmulatorHandle;
use forcebridge_salesforce::stream::{ChangeType, EventBody, StreamEvent};
use forcebridge_salesforce::{Client, MemoryReplayStore, ReplayId, StartAt, StreamItem};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A guard against a hang, not a timing assertion: every wait below normally ends at once.
const HANG: Duration = Duration::from_secs(60);

async fn select_cdc(h: &EmulatorHandle, objects: &[&str]) {
    let (status, body) = common::control(h, Method::POST, "streams/cdc", json!({"entities": objects})).await;
    assert_eq!(status, 200, "{body}");
}

async fn push_topic(c: &Client, name: &str, query: &str, notify: &str) {
    c.create(
        "PushTopic",
        &json!({"Name": name, "Query": query, "ApiVersion": 66.0, "NotifyForFields": notify}),
    )
    .await
    .expect("push topic created");
}

/// Runs a subscriber in a task; its items arrive on the returned channel.
fn spawn(
    c: &Client,
    channels: &[&str],
    store: Arc<MemoryReplayStore>,
) -> (mpsc::UnboundedReceiver<StreamItem>, tokio::task::JoinHandle<()>) {
    let mut sub = c.cometd_subscriber(channels, store).start_at(StartAt::Earliest);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match sub.next().await {
                Ok(item) => {
                    if tx.send(item).is_err() {
                        return;
                    }
                }
                Err(e) => panic!("subscriber failed: {e}"),
            }
        }
    });
    (rx, task)
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<StreamItem>) -> StreamItem {
    tokio::time::timeout(HANG, rx.recv())
        .await
        .expect("an item arrives")
        .expect("subscriber alive")
}

fn change(item: &StreamItem) -> (&StreamEvent, &forcebridge_salesforce::stream::ChangeEvent) {
    let e = item.event().expect("an event");
    match &e.body {
        EventBody::Change(c) => (e, c),
        other => panic!("not a change event: {other:?}"),
    }
}

fn push(item: &StreamItem) -> (&str, &serde_json::Map<String, Value>) {
    match &item.event().expect("an event").body {
        EventBody::PushTopic {
            event_type, sobject, ..
        } => (event_type.as_str(), sobject),
        other => panic!("not a PushTopic event: {other:?}"),
    }
}

async fn undelete(h: &EmulatorHandle, id: &str) {
    let (status, body) = common::control(h, Method::POST, "undelete", json!({"ids": [id]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["success"], true, "{body}");
}

#[tokio::test]
async fn push_topic_sees_matching_creates_updates_deletes_and_undeletes() {
    let h = common::start(true).await;
    let c = common::client(&h);
    push_topic(
        &c,
        "BankAccounts",
        "SELECT Id, Name, Industry FROM Account WHERE Industry = 'Banking'",
        "Referenced",
    )
    .await;
    let bank = c
        .create("Account", &json!({"Name": "First Bank", "Industry": "Banking"}))
        .await
        .unwrap();
    c.create("Account", &json!({"Name": "Shop", "Industry": "Retail"}))
        .await
        .unwrap();
    c.update("Account", &bank, &json!({"Phone": "555-0100"}))
        .await
        .unwrap();
    c.update("Account", &bank, &json!({"Name": "Second Bank"}))
        .await
        .unwrap();
    c.delete("Account", &bank).await.unwrap();
    undelete(&h, bank.as_str()).await;

    let store = Arc::new(MemoryReplayStore::default());
    let (mut rx, task) = spawn(&c, &["/topic/BankAccounts"], store.clone());
    let created = recv(&mut rx).await;
    let (kind, sobject) = push(&created);
    assert_eq!(kind, "created");
    assert_eq!(sobject["Name"], "First Bank");
    assert_eq!(sobject["Id"], bank.as_str());
    // The Retail account does not match; the Phone change is not a referenced field.
    let renamed = recv(&mut rx).await;
    let (kind, sobject) = push(&renamed);
    assert_eq!((kind, sobject["Name"].as_str()), ("updated", Some("Second Bank")));
    let deleted = recv(&mut rx).await;
    let (kind, sobject) = push(&deleted);
    assert_eq!(kind, "deleted");
    assert_eq!(sobject["Id"], bank.as_str());
    let undeleted = recv(&mut rx).await;
    assert_eq!(push(&undeleted).0, "undeleted");
    // Replay ids increase; the store holds the last event the caller finished with.
    let ids: Vec<_> = [&created, &renamed, &undeleted]
        .iter()
        .map(|i| match &i.event().unwrap().replay_id {
            ReplayId::Cometd(n) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    task.abort();
}

#[tokio::test]
async fn push_topic_queries_are_checked_as_salesforce_does() {
    let h = common::start(true).await;
    let c = common::client(&h);
    for (query, code) in [
        ("SELECT Name FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account ORDER BY Name", "INVALID_FIELD"),
        ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nowhere", "INVALID_TYPE"),
        ("SELECT Id FROM", "MALFORMED_QUERY"),
    ] {
        let err = c
            .create(
                "PushTopic",
                &json!({"Name": "Bad", "Query": query, "ApiVersion": 66.0}),
            )
            .await
            .expect_err(query);
        assert_eq!(err.error_code(), Some(code), "{query}: {err}");
    }
}

#[tokio::test]
async fn change_events_carry_header_fields_and_share_a_transaction_key() {
    let h = common::start(true).await;
    let c = common::client(&h);
    select_cdc(&h, &["Account"]).await;
    let outcomes = c
        .create_many(
            "Account",
            &[json!({"Name": "A1"}), json!({"Name": "A2"})],
            Default::default(),
        )
        .await
        .unwrap();
    let ids: Vec<String> = outcomes.iter().map(|o| format!("{o:?}")).collect();
    assert_eq!(ids.len(), 2);
    let store = Arc::new(MemoryReplayStore::default());
    let (mut rx, task) = spawn(&c, &["/data/ChangeEvents"], store.clone());
    let first = recv(&mut rx).await;
    let second = recv(&mut rx).await;
    let (_, a) = change(&first);
    let (_, b) = change(&second);
    assert_eq!(a.header.change_type, ChangeType::Create);
    assert_eq!(a.header.entity_name, "Account");
    assert_eq!(a.header.transaction_key, b.header.transaction_key);
    assert_eq!((a.header.sequence_number, b.header.sequence_number), (1, 2));
    assert_eq!(a.fields["Name"], "A1");
    assert!(a.header.changed_fields.contains(&"Name".to_string()));
    let id = a.header.record_ids[0].clone();
    let rid = forcebridge_salesforce::RecordId::parse(&id).unwrap();
    c.update("Account", &rid, &json!({"Name": "A1 renamed", "Phone": "1"}))
        .await
        .unwrap();
    let upd = recv(&mut rx).await;
    let (_, u) = change(&upd);
    assert_eq!(u.header.change_type, ChangeType::Update);
    assert_ne!(u.header.transaction_key, a.header.transaction_key);
    let mut changed = u.header.changed_fields.clone();
    changed.sort();
    assert_eq!(changed, ["LastModifiedDate", "Name", "Phone"]);
    assert_eq!(u.fields["Name"], "A1 renamed");
    c.delete("Account", &rid).await.unwrap();
    assert_eq!(
        change(&recv(&mut rx).await).1.header.change_type,
        ChangeType::Delete
    );
    undelete(&h, &id).await;
    assert_eq!(
        change(&recv(&mut rx).await).1.header.change_type,
        ChangeType::Undelete
    );
    task.abort();
}

fn replay(item: &StreamItem) -> i64 {
    match &item.event().expect("event").replay_id {
        ReplayId::Cometd(n) => *n,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_new_subscriber_resumes_from_the_stored_replay_id_missing_and_repeating_nothing() {
    let h = common::start(true).await;
    let c = common::client(&h);
    select_cdc(&h, &["Contact"]).await;
    for i in 0..4 {
        c.create("Contact", &json!({"LastName": format!("C{i}")}))
            .await
            .unwrap();
    }
    let store = Arc::new(MemoryReplayStore::default());
    let mut first = c
        .cometd_subscriber(&["/data/ContactChangeEvent"], store.clone())
        .start_at(StartAt::Earliest);
    let one = first.next().await.unwrap();
    let two = first.next().await.unwrap();
    // Asking for a third item saves the second one's id; the process then "crashes" while the
    // caller works on the third, which it never finished.
    let third = first.next().await.unwrap();
    drop(first);
    assert_eq!(
        store.get("/data/ContactChangeEvent"),
        Some(ReplayId::Cometd(replay(&two)))
    );
    c.create("Contact", &json!({"LastName": "C4"})).await.unwrap();

    let mut again = c.cometd_subscriber(&["/data/ContactChangeEvent"], store.clone());
    let mut names = Vec::new();
    for _ in 0..3 {
        let item = again.next().await.unwrap();
        names.push(change(&item).1.fields["LastName"].as_str().unwrap().to_string());
    }
    assert_eq!(change(&one).1.fields["LastName"], "C0");
    assert_eq!(change(&third).1.fields["LastName"], "C2");
    assert_eq!(names, ["C2", "C3", "C4"]);
}

#[tokio::test]
async fn the_subscriber_recovers_from_each_stream_fault() {
    let h = common::start(true).await;
    let (c, tokens) = common::client_with(&h, common::password_credentials(&h));
    select_cdc(&h, &["Lead"]).await;
    let store = Arc::new(MemoryReplayStore::default());
    let (mut rx, task) = spawn(&c, &["/data/LeadChangeEvent"], store.clone());
    let lead = |n: &str| json!({"LastName": n, "Company": "Acme"});

    c.create("Lead", &lead("before")).await.unwrap();
    assert_eq!(change(&recv(&mut rx).await).1.fields["LastName"], "before");

    // The connection is dropped: the subscriber re-handshakes and resumes.
    let (status, _) = common::control(&h, Method::POST, "streams/drop", json!({})).await;
    assert_eq!(status, 200);
    c.create("Lead", &lead("after drop")).await.unwrap();
    assert_eq!(change(&recv(&mut rx).await).1.fields["LastName"], "after drop");

    // The session expires: the subscriber signs in again and resumes.
    let saves = tokens.saves();
    let (status, body) = common::control(&h, Method::POST, "streams/expire-sessions", json!({})).await;
    assert_eq!((status, body["expired"].as_u64()), (200, Some(1)));
    c.create("Lead", &lead("after expiry")).await.unwrap();
    assert_eq!(change(&recv(&mut rx).await).1.fields["LastName"], "after expiry");
    assert!(tokens.saves() > saves, "the session was renewed");

    // Gap and overflow events arrive as typed items.
    let (status, _) = common::control(
        &h,
        Method::POST,
        "streams/gap",
        json!({"object": "Lead", "recordIds": ["00Q000000000001AAA"], "changeType": "GAP_UPDATE"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(matches!(recv(&mut rx).await, StreamItem::Gap(_)));
    common::control(
        &h,
        Method::POST,
        "streams/gap",
        json!({"object": "Lead", "changeType": "GAP_OVERFLOW"}),
    )
    .await;
    assert!(matches!(recv(&mut rx).await, StreamItem::Overflow(_)));
    task.abort();

    // Retention passes while no subscriber runs: resuming reports the loss, then carries on.
    c.create("Lead", &lead("lost")).await.unwrap();
    let (status, _) = common::control(&h, Method::POST, "streams/age-out", json!({})).await;
    assert_eq!(status, 200);
    c.create("Lead", &lead("kept")).await.unwrap();
    let mut sub = c.cometd_subscriber(&["/data/LeadChangeEvent"], store.clone());
    let lost = tokio::time::timeout(HANG, sub.next()).await.unwrap().unwrap();
    assert!(matches!(lost, StreamItem::ReplayLost { .. }), "{lost:?}");
    let kept = tokio::time::timeout(HANG, sub.next()).await.unwrap().unwrap();
    assert_eq!(change(&kept).1.fields["LastName"], "kept");
}

// ---- Pub/Sub API -------------------------------------------------------------------------

fn pubsub(
    c: &Client,
    h: &EmulatorHandle,
    topic: &str,
    store: Arc<MemoryReplayStore>,
) -> forcebridge_salesforce::stream::pubsub::PubSubSubscriber {
    c.pubsub_subscriber(&h.pubsub_endpoint(), topic, store)
        .start_at(StartAt::Earliest)
}

async fn next(s: &mut forcebridge_salesforce::stream::pubsub::PubSubSubscriber) -> StreamItem {
    tokio::time::timeout(HANG, s.next())
        .await
        .expect("an item arrives")
        .expect("no error")
}

#[tokio::test]
async fn pubsub_delivers_avro_change_events_with_decoded_bitmaps() {
    let h = common::start(true).await;
    let c = common::client(&h);
    select_cdc(&h, &["Account"]).await;
    let id = c
        .create(
            "Account",
            &json!({"Name": "Avro", "Industry": "Banking", "NumberOfEmployees": 5}),
        )
        .await
        .unwrap();
    c.update("Account", &id, &json!({"Name": "Avro 2", "Industry": null}))
        .await
        .unwrap();
    c.delete("Account", &id).await.unwrap();
    undelete(&h, id.as_str()).await;

    let store = Arc::new(MemoryReplayStore::default());
    let mut s = pubsub(&c, &h, "/data/AccountChangeEvent", store.clone());
    let created = next(&mut s).await;
    let (_, ev) = change(&created);
    assert_eq!(ev.header.change_type, ChangeType::Create);
    assert_eq!(ev.header.entity_name, "Account");
    assert_eq!(ev.header.record_ids, [id.as_str()]);
    assert_eq!(ev.fields["Name"], "Avro");
    assert_eq!(ev.fields["NumberOfEmployees"], 5);
    assert!(
        ev.fields["CreatedDate"].is_i64(),
        "datetimes are epoch milliseconds"
    );
    assert!(ev.header.changed_fields.contains(&"Industry".to_string()));

    let updated = next(&mut s).await;
    let (_, ev) = change(&updated);
    assert_eq!(ev.header.change_type, ChangeType::Update);
    let mut changed = ev.header.changed_fields.clone();
    changed.sort();
    assert_eq!(changed, ["Industry", "LastModifiedDate", "Name"]);
    assert_eq!(ev.header.nulled_fields, ["Industry"]);
    assert_eq!(ev.fields["Name"], "Avro 2");
    assert!(
        !ev.fields.contains_key("NumberOfEmployees"),
        "unchanged fields are null"
    );

    assert_eq!(
        change(&next(&mut s).await).1.header.change_type,
        ChangeType::Delete
    );
    assert_eq!(
        change(&next(&mut s).await).1.header.change_type,
        ChangeType::Undelete
    );
    assert_eq!(s.schema_fetches(), 1, "one schema fetch per schema id");
}

#[tokio::test]
async fn pubsub_resumes_from_the_stored_replay_id_and_recovers_from_faults() {
    let h = common::start(true).await;
    let (c, tokens) = common::client_with(&h, common::password_credentials(&h));
    select_cdc(&h, &["Contact"]).await;
    for i in 0..3 {
        c.create("Contact", &json!({"LastName": format!("P{i}")}))
            .await
            .unwrap();
    }
    let store = Arc::new(MemoryReplayStore::default());
    let mut first = pubsub(&c, &h, "/data/ChangeEvents", store.clone());
    next(&mut first).await;
    let second = next(&mut first).await;
    let _unfinished = next(&mut first).await;
    drop(first);
    assert_eq!(
        store.get("/data/ChangeEvents"),
        Some(second.event().unwrap().replay_id.clone())
    );

    let mut s = pubsub(&c, &h, "/data/ChangeEvents", store.clone());
    let last_name = |i: &StreamItem| change(i).1.fields["LastName"].as_str().unwrap().to_string();
    assert_eq!(last_name(&next(&mut s).await), "P2");

    // Dropped stream: reopened from the stored replay id.
    let (status, _) = common::control(&h, Method::POST, "streams/drop", json!({})).await;
    assert_eq!(status, 200);
    c.create("Contact", &json!({"LastName": "P3"})).await.unwrap();
    assert_eq!(last_name(&next(&mut s).await), "P3");
    assert!(s.subscriptions() >= 2);

    // Expired session: renewed once, then resumed.
    let saves = tokens.saves();
    common::control(&h, Method::POST, "sessions/expire", json!({})).await;
    c.create("Contact", &json!({"LastName": "P4"})).await.unwrap();
    assert_eq!(last_name(&next(&mut s).await), "P4");
    assert!(tokens.saves() > saves);

    // Gap and overflow events are typed items.
    common::control(
        &h,
        Method::POST,
        "streams/gap",
        json!({"object": "Contact", "changeType": "GAP_CREATE", "recordIds": ["003000000000001AAA"]}),
    )
    .await;
    assert!(matches!(next(&mut s).await, StreamItem::Gap(_)));
    common::control(
        &h,
        Method::POST,
        "streams/gap",
        json!({"object": "Contact", "changeType": "GAP_OVERFLOW"}),
    )
    .await;
    assert!(matches!(next(&mut s).await, StreamItem::Overflow(_)));
    drop(s);

    // Retention passes: the subscriber reports the loss and starts from what is retained.
    c.create("Contact", &json!({"LastName": "lost"})).await.unwrap();
    common::control(&h, Method::POST, "streams/age-out", json!({})).await;
    c.create("Contact", &json!({"LastName": "kept"})).await.unwrap();
    let mut s = pubsub(&c, &h, "/data/ChangeEvents", store.clone());
    assert!(matches!(next(&mut s).await, StreamItem::ReplayLost { .. }));
    assert_eq!(last_name(&next(&mut s).await), "kept");
}

#[tokio::test]
async fn pubsub_refuses_unknown_topics_and_bad_credentials() {
    let h = common::start(true).await;
    let c = common::client(&h);
    let store = Arc::new(MemoryReplayStore::default());
    // Contact is not selected for Change Data Capture.
    let mut s = c.pubsub_subscriber(&h.pubsub_endpoint(), "/data/ContactChangeEvent", store.clone());
    let err = tokio::time::timeout(HANG, s.next())
        .await
        .unwrap()
        .expect_err("unknown topic");
    assert_eq!(
        err.kind(),
        forcebridge_salesforce::ErrorKind::InvalidInput,
        "{err}"
    );
    select_cdc(&h, &["Contact"]).await;
    let mut s = c
        .pubsub_subscriber(&h.pubsub_endpoint(), "/data/ContactChangeEvent", store)
        .tenant_id("00D000000000000AAA");
    let err = tokio::time::timeout(HANG, s.next())
        .await
        .unwrap()
        .expect_err("wrong tenant");
    assert_eq!(err.kind(), forcebridge_salesforce::ErrorKind::Auth, "{err}");
}

// ---- Several orgs ------------------------------------------------------------------------

/// The record ids of `item`, a change event.
fn record_ids(item: &StreamItem) -> Vec<String> {
    change(item).1.header.record_ids.clone()
}

/// Creates an Account named `name` in the org at `instance_url` over plain REST; returns its id.
async fn create_at(h: &EmulatorHandle, instance_url: &str, token: &str, name: &str) -> String {
    let resp = common::raw(h)
        .post(format!("{instance_url}/services/data/v66.0/sobjects/Account"))
        .bearer_auth(token)
        .json(&json!({ "Name": name }))
        .send()
        .await
        .expect("create request");
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.expect("json");
    body["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn subscribers_of_one_org_never_see_another_orgs_writes() {
    common::install_crypto();
    let h = forcebridge_emulator::Emulator::start(forcebridge_emulator::EmulatorConfig {
        tls: true,
        orgs: 2,
        ..Default::default()
    })
    .await
    .expect("emulator starts");
    let a = common::client(&h);
    let info = h.connection_info();
    let second = &info["orgs"][1];
    let c = h.config();
    // Org B (reached through its path prefix, which the client does not take) over plain HTTP.
    let resp = common::raw(&h)
        .post(h.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", second["username"].as_str().expect("username")),
            ("password", &format!("{}{}", c.password, c.security_token)),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    let token: Value = resp.json().await.expect("json");
    let b_url = token["instance_url"].as_str().expect("instance url").to_string();
    let b_token = token["access_token"].as_str().expect("token").to_string();
    assert_eq!(b_url, second["instance_url"].as_str().expect("url"));
    for base in [h.base_url(), b_url.as_str()] {
        let resp = common::raw(&h)
            .post(format!("{base}/__emulator/streams/cdc"))
            .json(&json!({"entities": ["Account"]}))
            .send()
            .await
            .expect("control request");
        assert_eq!(resp.status(), 200);
    }
    // Org B writes first: were the bus shared, A's subscribers would see B's record first.
    create_at(&h, &b_url, &b_token, "In B").await;
    let in_a = a.create("Account", &json!({"Name": "In A"})).await.unwrap();

    let mut sa = pubsub(
        &a,
        &h,
        "/data/AccountChangeEvent",
        Arc::new(MemoryReplayStore::default()),
    );
    assert_eq!(record_ids(&next(&mut sa).await), [in_a.as_str()]);
    let (mut ca, task) = spawn(
        &a,
        &["/data/ChangeEvents"],
        Arc::new(MemoryReplayStore::default()),
    );
    assert_eq!(record_ids(&recv(&mut ca).await), [in_a.as_str()]);

    // Later writes: B's reaches neither of A's subscribers, whose next event is A's own.
    create_at(&h, &b_url, &b_token, "Later B").await;
    let later_a = a.create("Account", &json!({"Name": "Later A"})).await.unwrap();
    assert_eq!(record_ids(&next(&mut sa).await), [later_a.as_str()]);
    assert_eq!(record_ids(&recv(&mut ca).await), [later_a.as_str()]);
    task.abort();

    // B's bus holds B's two events.
    let resp = common::raw(&h)
        .get(format!("{b_url}/__emulator/streams"))
        .send()
        .await
        .expect("status request");
    let status: Value = resp.json().await.expect("json");
    assert_eq!(status["latestReplayId"], 2, "{status}");

    // A's session cannot reach B's bus by naming B's org id on the one Pub/Sub endpoint.
    let mut s = a
        .pubsub_subscriber(
            &h.pubsub_endpoint(),
            "/data/AccountChangeEvent",
            Arc::new(MemoryReplayStore::default()),
        )
        .tenant_id(second["org_id"].as_str().expect("org id"));
    let err = tokio::time::timeout(HANG, s.next())
        .await
        .unwrap()
        .expect_err("another org's tenant id");
    assert_eq!(err.kind(), forcebridge_salesforce::ErrorKind::Auth, "{err}");
}
