//! The standard Lead and Contact duplicate rules over real HTTP: off by default, switched on and
//! off through the control API, checked on REST and Bulk creates, visible as DuplicateRule rows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{control_put, get_text, ingest, parse_csv};
use serde_json::json;

#[tokio::test]
async fn contact_rule_on_and_off() {
    let app = common::spawn().await;
    let ann = json!({"FirstName": "Ann", "LastName": "Lee", "Email": "ann@example.com"});
    let first = app.create("Contact", ann.clone()).await;
    // Off by default: a duplicate is saved.
    app.create("Contact", ann.clone()).await;

    let listing = control_put(&app, "duplicate-rules", json!({"Contact": true})).await;
    assert_eq!(listing["rules"][0]["active"], json!(true), "{listing}");
    let (status, body) = app
        .post(
            "sobjects/Contact",
            json!({"FirstName": "ann", "LastName": "LEE", "Email": "Ann@Example.com"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("DUPLICATES_DETECTED"));
    assert_eq!(body[0]["message"], json!("Use one of these records?"));
    // Another email is not a duplicate.
    app.create(
        "Contact",
        json!({"FirstName": "Ann", "LastName": "Lee", "Email": "other@example.com"}),
    )
    .await;

    // The rule is a DuplicateRule record.
    let (status, q) = app
        .query("SELECT DeveloperName, SobjectType, IsActive FROM DuplicateRule")
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(
        q["records"][0]["DeveloperName"],
        json!("Standard_Contact_Duplicate_Rule")
    );
    assert_eq!(q["records"][0]["IsActive"], json!(true));

    // Bulk inserts go through the same check.
    let (id, job) = ingest(
        &app,
        json!({"object": "Contact", "operation": "insert"}),
        "FirstName,LastName,Email\nAnn,Lee,ann@example.com\nBob,Lee,bob@example.com\n",
    )
    .await;
    assert_eq!(job["numberRecordsFailed"], json!(1), "{job}");
    let failed = parse_csv(
        &get_text(&app, &format!("jobs/ingest/{id}/failedResults"))
            .await
            .body,
        b',',
    );
    assert_eq!(failed[1][1], "DUPLICATES_DETECTED:Use one of these records?:--");

    control_put(&app, "duplicate-rules", json!({"Contact": false})).await;
    app.create("Contact", ann).await;
    let _ = first;
}

#[tokio::test]
async fn lead_rule_matches_company() {
    let app = common::spawn().await;
    control_put(&app, "duplicate-rules", json!({"Lead": true})).await;
    app.create(
        "Lead",
        json!({"FirstName": "Kim", "LastName": "Park", "Company": "Acme"}),
    )
    .await;
    let (status, body) = app
        .post(
            "sobjects/Lead",
            json!({"FirstName": "Kim", "LastName": "Park", "Company": "ACME"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("DUPLICATES_DETECTED"));
    app.create(
        "Lead",
        json!({"FirstName": "Kim", "LastName": "Park", "Company": "Globex"}),
    )
    .await;
    // Contacts are not guarded by the lead rule.
    app.create("Contact", json!({"FirstName": "Kim", "LastName": "Park"}))
        .await;
    app.create("Contact", json!({"FirstName": "Kim", "LastName": "Park"}))
        .await;

    let resp = app
        .client
        .put(bulk_common::control(&app, "duplicate-rules"))
        .json(&json!({"Account": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
