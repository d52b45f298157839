//! Bulk API 2.0 and Chatter against the real emulator: ingest from a record stream split into
//! several jobs by the upload limit, every input row mapped back to its result; upsert with
//! `sf__Created`; query jobs read through `Sforce-Locator`; a feed item on a record.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use std::time::Duration;

use common::*;
use forcebridge_salesforce::RecordId;
use forcebridge_salesforce::bulk::{BulkOperation, BulkQueryOptions, IngestSpec, RowOutcome, RowResult};
use futures::TryStreamExt;
use serde_json::{Map, Value, json};

fn record(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn cols(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn ingest_splits_jobs_and_maps_every_row_back() {
    let h = start(false).await;
    let c = client(&h);
    let n = 2500usize;
    let rows: Vec<Map<String, Value>> = (0..n)
        .map(|i| {
            if i == 7 || i == 1999 {
                record(json!({"Company": "No last name"})) // refused: LastName is required
            } else {
                record(json!({"LastName": format!("Bulk {i:04}"), "Company": "Acme, \"Inc\""}))
            }
        })
        .collect();
    let mut spec = IngestSpec::new("Lead", BulkOperation::Insert, cols(&["LastName", "Company"]));
    spec.max_upload_bytes = 32 * 1024;
    spec.poll_interval = Duration::from_millis(20);
    let mut results: Vec<RowResult> = Vec::new();
    let summaries = c
        .bulk_ingest(&spec, futures::stream::iter(rows), &mut |r| results.push(r))
        .await
        .expect("ingest");
    assert!(
        summaries.len() >= 2,
        "the upload limit split the data: {} jobs",
        summaries.len()
    );
    assert!(summaries.iter().all(|s| s.bytes <= 32 * 1024));
    assert_eq!(summaries.iter().map(|s| s.rows).sum::<u64>(), n as u64);
    assert_eq!(results.len(), n, "one result per input row");
    let mut seen = vec![false; n];
    for r in &results {
        let i = r.row as usize;
        assert!(!seen[i], "row {i} reported twice");
        seen[i] = true;
        match &r.outcome {
            RowOutcome::Failed { error, .. } => {
                assert!(i == 7 || i == 1999, "row {i} failed: {error}");
                assert!(error.contains("REQUIRED_FIELD_MISSING"), "{error}");
            }
            RowOutcome::Success { id, created } => {
                assert!(RecordId::parse(id).is_ok());
                assert!(*created);
            }
            RowOutcome::Unprocessed => panic!("row {i} unprocessed"),
        }
    }
    // The ids point at the right rows.
    let probe = results.iter().find(|r| r.row == 1234).unwrap();
    let RowOutcome::Success { id, .. } = &probe.outcome else {
        panic!()
    };
    let rec = c
        .get_record(
            "Lead",
            &RecordId::parse(id).unwrap(),
            Some(&["LastName", "Company"]),
        )
        .await
        .unwrap();
    assert_eq!(rec["LastName"], "Bulk 1234");
    assert_eq!(rec["Company"], "Acme, \"Inc\"");
    assert_eq!(
        c.count("SELECT COUNT() FROM Lead WHERE LastName LIKE 'Bulk %'")
            .await
            .unwrap(),
        n as u64 - 2
    );
    let uploads = requests(&h, None)
        .await
        .iter()
        .filter(|e| e["method"] == "PUT" && e["path"].as_str().unwrap().ends_with("/batches"))
        .count();
    assert_eq!(uploads, summaries.len(), "one upload per job");
}

#[tokio::test]
async fn bulk_upsert_reports_created() {
    let h = start(false).await;
    add_track_object(&h);
    let c = client(&h);
    c.upsert("Track__c", "Slug__c", "old", &json!({"Name": "Old"}))
        .await
        .unwrap();
    let mut spec = IngestSpec::new("Track__c", BulkOperation::Upsert, cols(&["Slug__c", "Name"]));
    spec.external_id_field = Some("Slug__c".into());
    spec.poll_interval = Duration::from_millis(20);
    let rows = vec![
        record(json!({"Slug__c": "old", "Name": "Old 2"})),
        record(json!({"Slug__c": "new", "Name": "New"})),
    ];
    let mut results = Vec::new();
    c.bulk_ingest(&spec, futures::stream::iter(rows), &mut |r| results.push(r))
        .await
        .unwrap();
    results.sort_by_key(|r| r.row);
    let created: Vec<bool> = results
        .iter()
        .map(|r| match &r.outcome {
            RowOutcome::Success { created, .. } => *created,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(created, [false, true]);
}

#[tokio::test]
async fn bulk_query_follows_the_locator() {
    let h = start(false).await;
    seed_accounts(&h, 2500).await;
    let c = client(&h);
    let options = BulkQueryOptions {
        poll_interval: Duration::from_millis(20),
        max_records_per_page: 1000,
        ..Default::default()
    };
    let rows: Vec<Map<String, Value>> = c
        .bulk_query("SELECT Id, Name FROM Account WHERE Name LIKE 'Seed%'", options)
        .try_collect()
        .await
        .expect("bulk query");
    assert_eq!(rows.len(), 2500);
    let mut names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str().unwrap()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 2500);
    let pages = requests(&h, None)
        .await
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/results"))
        .count();
    assert_eq!(pages, 3, "2,500 rows at 1,000 a page");

    let e = c
        .bulk_query("SELEC Id FROM Account", options)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            forcebridge_salesforce::ErrorKind::InvalidInput | forcebridge_salesforce::ErrorKind::Other
        ),
        "{e}"
    );
}

#[tokio::test]
async fn chatter_posts_a_feed_item_on_a_record() {
    let h = start(true).await;
    let c = client(&h);
    let lead = c
        .create("Lead", &json!({"LastName": "Chatty", "Company": "X"}))
        .await
        .unwrap();
    let post = c
        .post_feed_item(&lead, "Completed the track \"Intro\" <b>not markup</b>")
        .await
        .expect("post");
    assert!(!post.id.is_empty());
    let rows: Vec<Value> = c
        .query(&format!(
            "SELECT Id, Body FROM FeedItem WHERE ParentId = '{lead}'"
        ))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["Body"].as_str().unwrap().contains("Completed the track"));
    assert!(c.post_feed_item(&lead, "  ").await.is_err());
}

#[tokio::test]
async fn chatter_batch_posts_many_in_input_order_with_per_item_errors() {
    let h = start(true).await;
    let c = client(&h);
    let a = c
        .create("Lead", &json!({"LastName": "A", "Company": "X"}))
        .await
        .unwrap();
    let b = c
        .create("Lead", &json!({"LastName": "B", "Company": "X"}))
        .await
        .unwrap();
    c.delete("Lead", &b).await.unwrap();
    let post =
        |subject: &forcebridge_salesforce::RecordId, text: &str| forcebridge_salesforce::chatter::FeedPost {
            subject: subject.clone(),
            text: text.to_string(),
        };
    // 503 posts take two calls; one subject was deleted; one post is empty.
    let mut posts: Vec<_> = (0..501).map(|i| post(&a, &format!("post {i}"))).collect();
    posts.insert(3, post(&b, "to a deleted lead"));
    posts.insert(7, post(&a, "   "));
    let results = c.post_feed_items(&posts).await;
    assert_eq!(results.len(), posts.len());
    for (i, r) in results.iter().enumerate() {
        match i {
            3 => match r {
                forcebridge_salesforce::chatter::FeedPostOutcome::Failed { status, errors } => {
                    assert_eq!(*status, 404);
                    assert_eq!(errors[0].error_code, "NOT_FOUND");
                }
                other => panic!("post 3: {other:?}"),
            },
            7 => assert!(
                matches!(r, forcebridge_salesforce::chatter::FeedPostOutcome::NotSent(_)),
                "post 7: {r:?}"
            ),
            _ => assert!(r.posted().is_some(), "post {i}: {r:?}"),
        }
    }
    let rows: Vec<Value> = c
        .query(&format!("SELECT Id, Body FROM FeedItem WHERE ParentId = '{a}'"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 501);
    // Each outcome is its own post: the ids the results carry are the posts made, in order.
    let first = results[0].posted().unwrap().id.clone();
    let row = rows.iter().find(|r| r["Id"] == json!(first)).unwrap();
    assert!(row["Body"].as_str().unwrap().contains("post 0"), "{row}");
}
