//! `DUPLICATES_DETECTED` carries Salesforce's `duplicateResult` (the rule, the matching rule and
//! the matching records' ids) on a REST create, inside Collections per-record errors and inside
//! a Composite subrequest's body.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::control_put;
use serde_json::{Value, json};

const ANN: &str = r#"{"FirstName": "Ann", "LastName": "Lee", "Email": "ann@example.com"}"#;

fn ann() -> Value {
    serde_json::from_str(ANN).unwrap()
}

/// Asserts the `duplicateResult` of a Contact duplicate of `existing`.
fn assert_duplicate_result(d: &Value, existing: &str) {
    assert_eq!(d["allowSave"], json!(false), "{d}");
    assert_eq!(d["duplicateRule"], json!("Standard_Contact_Duplicate_Rule"));
    assert_eq!(d["duplicateRuleEntityType"], json!("Contact"));
    assert_eq!(d["errorMessage"], json!("Use one of these records?"));
    let m = &d["matchResults"][0];
    assert_eq!(m["entityType"], json!("Contact"));
    assert_eq!(m["errors"], json!([]));
    assert_eq!(m["matchEngine"], json!("FuzzyMatchEngine"));
    assert_eq!(m["rule"], json!("Standard_Contact_Match_Rule_v1_1"));
    assert_eq!(m["size"], json!(1));
    assert_eq!(m["success"], json!(true));
    let r = &m["matchRecords"][0];
    assert_eq!(r["additionalInformation"], json!([]));
    assert_eq!(r["fieldDiffs"], json!([]));
    assert_eq!(r["matchConfidence"], json!(100.0));
    assert_eq!(r["record"]["Id"], json!(existing));
    assert_eq!(r["record"]["attributes"]["type"], json!("Contact"));
    assert_eq!(
        r["record"]["attributes"]["url"],
        json!(format!("/services/data/v66.0/sobjects/Contact/{existing}"))
    );
}

#[tokio::test]
async fn rest_create_answers_the_duplicate_result() {
    let app = common::spawn().await;
    let first = app.create("Contact", ann()).await;
    control_put(&app, "duplicate-rules", json!({"Contact": true})).await;
    let (status, body) = app.post("sobjects/Contact", ann()).await;
    assert_eq!(status, 400, "{body}");
    let e = &body[0];
    assert_eq!(e["errorCode"], json!("DUPLICATES_DETECTED"));
    assert_eq!(e["message"], json!("Use one of these records?"));
    assert_eq!(
        e["fields"],
        json!([]),
        "Salesforce sends an empty fields list: {e}"
    );
    assert_duplicate_result(&e["duplicateResult"], &first);

    // Allowing the save through the header creates the duplicate.
    let resp = app
        .req(reqwest::Method::POST, "sobjects/Contact")
        .header("Sforce-Duplicate-Rule-Header", "allowSave=true")
        .json(&ann())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
}

#[tokio::test]
async fn collections_and_composite_carry_it_per_record() {
    let app = common::spawn().await;
    let first = app.create("Contact", ann()).await;
    control_put(&app, "duplicate-rules", json!({"Contact": true})).await;

    let mut dup = ann();
    dup["attributes"] = json!({"type": "Contact"});
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [
                dup,
                {"attributes": {"type": "Contact"}, "LastName": "Other"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["success"], json!(false), "{body}");
    let e = &body[0]["errors"][0];
    assert_eq!(e["statusCode"], json!("DUPLICATES_DETECTED"));
    assert_eq!(e["fields"], json!([]));
    assert_duplicate_result(&e["duplicateResult"], &first);
    assert_eq!(body[1]["success"], json!(true), "{body}");

    let (status, body) = app
        .post(
            "composite",
            json!({"compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Contact",
                 "referenceId": "dup", "body": ann()},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = &body["compositeResponse"][0];
    assert_eq!(r["httpStatusCode"], json!(400), "{r}");
    assert_eq!(r["body"][0]["errorCode"], json!("DUPLICATES_DETECTED"));
    assert_duplicate_result(&r["body"][0]["duplicateResult"], &first);
}
