//! REST against the real emulator: CRUD, upsert with `created`, describe caching, SOQL streams
//! across `queryMore`, Collections chunking and order, Composite references, typed errors,
//! retries driven by injected faults, and the API budget.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use common::*;
use forcebridge_salesforce::collections::{CollectionOptions, RecordOutcome};
use forcebridge_salesforce::doctor::{FieldNeed, ObjectNeed, Operation, Requirements};
use forcebridge_salesforce::query::QueryOptions;
use forcebridge_salesforce::{
    ApiBudget, AuthConfig, Client, Decision, Error, ErrorKind, RecordId, RetryPolicy,
};
use futures::TryStreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

fn data(c: &Client, rest: &str) -> String {
    format!("/services/data/v{}/{rest}", c.api_version())
}

async fn count_requests(h: &forcebridge_emulator::EmulatorHandle, method: &str, path: &str) -> usize {
    requests(h, Some(path))
        .await
        .iter()
        .filter(|e| e["method"] == method && e["path"] == path)
        .count()
}

async fn crud_roundtrip(tls: bool) {
    let h = start(tls).await;
    let c = client(&h);
    let id = c
        .create("Account", &json!({"Name": "Acme", "Industry": "Technology"}))
        .await
        .expect("create");
    assert_eq!(id.key_prefix(), "001");
    let rec = c
        .get_record("Account", &id, Some(&["Name", "Industry"]))
        .await
        .unwrap();
    assert_eq!(rec["Name"], "Acme");
    c.update("Account", &id, &json!({"Name": "Acme 2"}))
        .await
        .unwrap();
    assert_eq!(
        c.get_record("Account", &id, None).await.unwrap()["Name"],
        "Acme 2"
    );
    c.delete("Account", &id).await.unwrap();
    let e = c.get_record("Account", &id, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.status(), Some(404));

    let e = c.create("Account", &json!({"Nope__c": 1})).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.error_code().is_some());
}

#[tokio::test]
async fn crud_over_http() {
    crud_roundtrip(false).await;
}

#[tokio::test]
async fn crud_over_https() {
    crud_roundtrip(true).await;
}

#[tokio::test]
async fn upsert_reports_created_then_updated() {
    let h = start(false).await;
    add_track_object(&h);
    let c = client(&h);
    let first = c
        .upsert("Track__c", "Slug__c", "intro/to rust", &json!({"Name": "Intro"}))
        .await
        .expect("upsert");
    assert!(first.created);
    let second = c
        .upsert(
            "Track__c",
            "Slug__c",
            "intro/to rust",
            &json!({"Name": "Intro 2"}),
        )
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(first.id, second.id);
    let rows: Vec<Value> = c
        .query("SELECT Name FROM Track__c WHERE Slug__c = 'intro/to rust'")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Name"], "Intro 2");
}

#[tokio::test]
async fn describe_is_cached_and_invalidated() {
    let h = start(false).await;
    let c = client(&h);
    let d = c.describe("Lead").await.unwrap();
    assert_eq!(d.name, "Lead");
    assert!(d.field("lastname").is_some());
    let _ = c.describe("Lead").await.unwrap();
    let path = data(&c, "sobjects/Lead/describe");
    assert_eq!(
        count_requests(&h, "GET", &path).await,
        1,
        "second describe came from the cache"
    );
    c.invalidate_describe("Lead");
    let _ = c.describe("Lead").await.unwrap();
    assert_eq!(count_requests(&h, "GET", &path).await, 2);
    let e = c.describe("NoSuchThing__c").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let g = c.describe_global().await.unwrap();
    assert!(g.sobjects.iter().any(|s| s.name == "Account"));
}

#[tokio::test]
async fn query_streams_across_query_more_one_page_at_a_time() {
    let h = start(false).await;
    seed_accounts(&h, 4500).await;
    let c = client(&h);
    let soql = "SELECT Id, Name FROM Account WHERE Name LIKE 'Seed%' ORDER BY Name";
    let pages: Vec<_> = c
        .query_pages::<Value>(soql, QueryOptions::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert!(
        pages.iter().all(|p| p.records.len() <= 2000),
        "no page over the batch size"
    );
    assert_eq!(pages[0].total_size, 4500);

    let mut names = Vec::new();
    let mut stream = c.query::<Value>(soql);
    while let Some(r) = stream.try_next().await.unwrap() {
        names.push(r["Name"].as_str().unwrap().to_string());
    }
    assert_eq!(names.len(), 4500);
    assert_eq!(names[0], "Seed 00000");
    assert_eq!(names[4499], "Seed 04499");
    assert_eq!(
        c.count("SELECT COUNT() FROM Account WHERE Name LIKE 'Seed%'")
            .await
            .unwrap(),
        4500
    );

    // Deleted records: only queryAll sees them.
    let id = c.create("Account", &json!({"Name": "Gone"})).await.unwrap();
    c.delete("Account", &id).await.unwrap();
    let live: Vec<Value> = c
        .query("SELECT Id FROM Account WHERE Name = 'Gone'")
        .try_collect()
        .await
        .unwrap();
    let all: Vec<Value> = c
        .query_all("SELECT Id, IsDeleted FROM Account WHERE Name = 'Gone'")
        .try_collect()
        .await
        .unwrap();
    assert_eq!((live.len(), all.len()), (0, 1));

    let e = c
        .query::<Value>("SELEC Id FROM Account")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert_eq!(e.error_code(), Some("MALFORMED_QUERY"));
}

#[tokio::test]
async fn a_thousand_records_cost_five_collection_calls_and_keep_their_order() {
    let h = start(false).await;
    let c = client(&h);
    let mut records: Vec<Value> = (0..1000)
        .map(|i| json!({"LastName": format!("Person {i:04}"), "Company": "Acme"}))
        .collect();
    // Two records Salesforce refuses (required LastName missing), in different chunks.
    records[17] = json!({"Company": "No Name"});
    records[733] = json!({"Company": "No Name"});
    clear_requests(&h).await;
    let results = c
        .create_many("Lead", &records, CollectionOptions::default())
        .await
        .unwrap();
    assert_eq!(
        count_requests(&h, "POST", &data(&c, "composite/sobjects")).await,
        5,
        "1000 records = 5 calls"
    );
    assert_eq!(results.len(), 1000);
    for (i, r) in results.iter().enumerate() {
        if i == 17 || i == 733 {
            assert_eq!(r.error_kind(), Some(ErrorKind::InvalidInput), "record {i}: {r:?}");
        } else {
            assert!(r.is_saved(), "record {i}: {r:?}");
        }
    }
    // Results map back to the input: read the names of a few ids.
    let ids: Vec<RecordId> = [0usize, 199, 200, 999]
        .iter()
        .map(|&i| results[i].id().unwrap().clone())
        .collect();
    let rows = c.retrieve_many("Lead", &ids, &["LastName"]).await.unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r.as_ref().unwrap()["LastName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Person 0000", "Person 0199", "Person 0200", "Person 0999"]
    );

    // Update and delete in bulk too.
    let saved: Vec<RecordId> = results.iter().filter_map(|r| r.id().cloned()).collect();
    let updates: Vec<Value> = saved
        .iter()
        .take(250)
        .map(|id| json!({"Id": id, "Company": "Renamed"}))
        .collect();
    let up = c
        .update_many("Lead", &updates, CollectionOptions::default())
        .await
        .unwrap();
    assert!(up.iter().all(RecordOutcome::is_saved));
    let del = c.delete_many(&saved, CollectionOptions::default()).await.unwrap();
    assert_eq!(del.len(), 998);
    assert!(del.iter().all(RecordOutcome::is_saved));
    assert_eq!(
        c.count("SELECT COUNT() FROM Lead WHERE Company = 'Renamed'")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn upsert_many_reports_created_per_record() {
    let h = start(false).await;
    add_track_object(&h);
    let c = client(&h);
    c.upsert("Track__c", "Slug__c", "b", &json!({"Name": "B"}))
        .await
        .unwrap();
    let records = vec![
        json!({"Slug__c": "a", "Name": "A"}),
        json!({"Slug__c": "b", "Name": "B2"}),
        json!({"Slug__c": "c", "Name": "C"}),
    ];
    let r = c
        .upsert_many("Track__c", "Slug__c", &records, CollectionOptions::default())
        .await
        .unwrap();
    let created: Vec<Option<bool>> = r
        .iter()
        .map(|o| match o {
            RecordOutcome::Saved { created, .. } => *created,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(created, [Some(true), Some(false), Some(true)]);
    assert!(
        c.upsert_many(
            "Track__c",
            "Slug__c",
            &[json!({"Name": "x"})],
            CollectionOptions::default()
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn composite_with_references() {
    let h = start(false).await;
    let c = client(&h);
    let v = c.api_version();
    let mut req = c.composite_request(true);
    req.add(
        Method::POST,
        "sobjects/Account",
        "acct",
        Some(json!({"Name": "Parent"})),
        v,
    );
    req.add(
        Method::POST,
        "sobjects/Contact",
        "person",
        Some(json!({"LastName": "Kid", "AccountId": "@{acct.id}"})),
        v,
    );
    req.add(
        Method::GET,
        "sobjects/Contact/@{person.id}?fields=AccountId",
        "check",
        None,
        v,
    );
    let out = c.composite(&req).await.unwrap();
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|s| s.is_success()), "{out:?}");
    assert_eq!(out[2].body["AccountId"].as_str(), out[0].id());

    // allOrNone: one failure rolls back the rest, each with its error.
    let mut bad = c.composite_request(true);
    bad.add(
        Method::POST,
        "sobjects/Account",
        "ok",
        Some(json!({"Name": "Rolled back"})),
        v,
    );
    bad.add(
        Method::POST,
        "sobjects/Contact",
        "fails",
        Some(json!({"FirstName": "No last name"})),
        v,
    );
    let out = c.composite(&bad).await.unwrap();
    assert!(out.iter().all(|s| !s.is_success()), "{out:?}");
    assert_eq!(out[1].error_kind(), Some(ErrorKind::InvalidInput));
    assert_eq!(
        c.count("SELECT COUNT() FROM Account WHERE Name = 'Rolled back'")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_are_not() {
    let h = start(false).await;
    let c = client(&h);
    c.session().await.unwrap();
    let lead = data(&c, "sobjects/Lead");

    // A row lock on a create: refused as a whole, so retried, and created exactly once.
    add_fault(&h, json!({"count": 2, "status": 400, "errorCode": "UNABLE_TO_LOCK_ROW",
        "message": "unable to obtain exclusive access to this record", "path_prefix": lead, "method": "POST"})).await;
    c.create("Lead", &json!({"LastName": "Locked", "Company": "X"}))
        .await
        .expect("retried past the lock");
    assert_eq!(count_requests(&h, "POST", &lead).await, 3);
    assert_eq!(
        c.count("SELECT COUNT() FROM Lead WHERE LastName = 'Locked'")
            .await
            .unwrap(),
        1
    );

    // 503s on a read are retried.
    add_fault(
        &h,
        json!({"count": 2, "status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down",
        "path_prefix": data(&c, "query")}),
    )
    .await;
    assert_eq!(c.count("SELECT COUNT() FROM Lead").await.unwrap(), 1);

    // A 500 on a create may have been applied: not retried.
    clear_requests(&h).await;
    add_fault(
        &h,
        json!({"count": 1, "status": 500, "errorCode": "UNKNOWN_EXCEPTION", "message": "boom",
        "path_prefix": lead, "method": "POST"}),
    )
    .await;
    let e = c
        .create("Lead", &json!({"LastName": "Once", "Company": "X"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(count_requests(&h, "POST", &lead).await, 1);

    // An outage that lasts is bounded.
    add_fault(
        &h,
        json!({"count": 50, "status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down",
        "path_prefix": data(&c, "limits")}),
    )
    .await;
    let e = c.refresh_limits().await.unwrap_err();
    assert!(matches!(e, Error::RetriesExhausted { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::Transient);
    control(&h, Method::DELETE, "faults", json!(null)).await;

    // Never retried: invalid input.
    clear_requests(&h).await;
    let e = c
        .create("Lead", &json!({"Company": "no last name"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(count_requests(&h, "POST", &lead).await, 1);
}

#[tokio::test]
async fn an_expired_session_is_renewed_transparently() {
    let h = start(false).await;
    let c = client(&h);
    c.create("Lead", &json!({"LastName": "Before", "Company": "X"}))
        .await
        .unwrap();
    control(&h, Method::POST, "sessions/expire", json!({})).await;
    c.create("Lead", &json!({"LastName": "After", "Company": "X"}))
        .await
        .unwrap();
    assert_eq!(token_requests(&h, "password").await, 2);
}

#[tokio::test]
async fn the_budget_reads_limit_headers_and_pauses_near_the_threshold() {
    let h = start(false).await;
    let (status, _) = control(
        &h,
        Method::PUT,
        "limits",
        json!({"daily_api_requests_max": 100, "daily_api_requests_used": 70}),
    )
    .await;
    assert_eq!(status, 200);
    let budget = Arc::new(ApiBudget::new(80));
    let auth = AuthConfig::new(login_host(&h), password_credentials(&h));
    let c = Client::builder(auth)
        .http(http_config(&h))
        .retry(RetryPolicy::fast())
        .budget(budget.clone())
        .build()
        .unwrap();
    let limits = c.refresh_limits().await.unwrap();
    assert_eq!(limits.daily_api_requests().unwrap().max, 100);
    let snap = budget.snapshot();
    assert_eq!(snap.max, 100);
    assert!((70..=72).contains(&snap.used), "{snap:?}");
    assert_eq!(budget.check(5), Decision::Go);
    assert!(matches!(budget.check(20), Decision::WaitUntil(_)));
    // Spend up to the threshold; then calls pause without reaching Salesforce.
    let mut refused = None;
    for _ in 0..20 {
        if let Err(e) = c.count("SELECT COUNT() FROM Lead").await {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("the budget stops calls");
    assert_eq!(e.kind(), ErrorKind::LimitExhausted, "{e}");
    assert!(matches!(e, Error::BudgetExhausted { .. }));
    assert!(e.retry_after().is_some());
    let (_, usage) = control(&h, Method::GET, "usage", json!(null)).await;
    assert_eq!(usage["daily_api_requests_used"], 80, "stopped exactly at 80%");
}

#[tokio::test]
async fn an_exhausted_org_is_a_limit_error_not_a_retry() {
    let h = start(false).await;
    let c = client(&h);
    c.session().await.unwrap();
    control(
        &h,
        Method::PUT,
        "limits",
        json!({"daily_api_requests_max": 10, "daily_api_requests_used": 10}),
    )
    .await;
    clear_requests(&h).await;
    let e = c.count("SELECT COUNT() FROM Lead").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExhausted, "{e}");
    assert_eq!(e.error_code(), Some("REQUEST_LIMIT_EXCEEDED"));
    assert_eq!(requests(&h, Some("/services/data")).await.len(), 1, "not retried");
    assert!(
        matches!(c.budget().check(1), Decision::WaitUntil(_)),
        "the shared budget pauses"
    );
}

#[tokio::test]
async fn doctor_reports_missing_access_in_words() {
    let h = start(false).await;
    let c = client(&h);
    let needs = Requirements {
        objects: vec![
            ObjectNeed {
                name: "Lead".into(),
                operations: vec![Operation::Read, Operation::Create, Operation::Update],
                fields: vec![
                    FieldNeed::edit("LastName"),
                    FieldNeed::edit("Title"),
                    FieldNeed::edit("Name"),
                    FieldNeed::read("Shoe_Size__c"),
                ],
            },
            ObjectNeed {
                name: "Instruqt_Play__c".into(),
                operations: vec![Operation::Create],
                fields: vec![],
            },
        ],
    };
    let report = c.check_access(&needs).await.unwrap();
    let msgs: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(report.findings.len(), 3, "{msgs:#?}");
    assert!(
        msgs.contains(
            &"Lead.Name: the integration user cannot edit it — add Edit access in its permission set"
        )
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Lead.Shoe_Size__c: the field does not exist"))
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("Instruqt_Play__c: the object does not exist"))
    );
}
