//! Composite over real HTTP: references between subrequests, `allOrNone` rollback with
//! `PROCESSING_HALTED`, dependent subrequests halted without it, and the 25-subrequest cap.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn references_chain_subrequests() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "refAccount",
                 "body": {"Name": "Acme"}},
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Contact", "referenceId": "refContact",
                 "body": {"LastName": "Doe", "AccountId": "@{refAccount.id}"}},
                {"method": "GET", "url": "/services/data/v66.0/sobjects/Contact/@{refContact.id}?fields=AccountId",
                 "referenceId": "getContact"},
                {"method": "PATCH", "url": "/services/data/v66.0/sobjects/Account/@{getContact.AccountId}",
                 "referenceId": "renameAccount", "body": {"Name": "Acme Corp"}},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body["compositeResponse"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0]["httpStatusCode"], json!(201));
    assert_eq!(r[0]["referenceId"], json!("refAccount"));
    let account = r[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        r[0]["httpHeaders"]["Location"],
        json!(format!("/services/data/v66.0/sobjects/Account/{account}"))
    );
    assert_eq!(r[1]["httpStatusCode"], json!(201));
    assert_eq!(r[2]["httpStatusCode"], json!(200));
    assert_eq!(r[2]["body"]["AccountId"], json!(account));
    assert_eq!(r[3]["httpStatusCode"], json!(204));
    assert_eq!(r[3]["body"], Value::Null);
    let (_, acct) = app.get(&format!("sobjects/Account/{account}")).await;
    assert_eq!(acct["Name"], json!("Acme Corp"));
}

#[tokio::test]
async fn all_or_none_failure_rolls_back_and_halts_the_rest() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "a", "body": {"Name": "Kept?"}},
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Contact", "referenceId": "badContact",
                 "body": {"LastName": "Doe", "Email": "Not a real email address"}},
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "c", "body": {"Name": "Never"}},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body["compositeResponse"].as_array().unwrap();
    assert_eq!(r[1]["httpStatusCode"], json!(400));
    assert_eq!(
        r[1]["body"],
        json!([{"message": "Email: invalid email address: Not a real email address", "errorCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"]}])
    );
    for i in [0, 2] {
        assert_eq!(r[i]["httpStatusCode"], json!(400));
        assert_eq!(
            r[i]["body"],
            json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}])
        );
    }
    let org = app.handle.state().org.read().unwrap();
    assert!(
        org.data.get("Account").is_none_or(|t| t.is_empty()),
        "rolled back"
    );
}

#[tokio::test]
async fn without_all_or_none_only_dependents_halt() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite",
            json!({"allOrNone": false, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "bad", "body": {"Industry": "Banking"}},
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Contact", "referenceId": "dependent",
                 "body": {"LastName": "Doe", "AccountId": "@{bad.id}"}},
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "ok", "body": {"Name": "Fine"}},
                {"method": "GET", "url": "/services/data/v66.0/sobjects/Nope__c/describe", "referenceId": "missing"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body["compositeResponse"].as_array().unwrap();
    assert_eq!(r[0]["body"][0]["errorCode"], json!("REQUIRED_FIELD_MISSING"));
    assert_eq!(r[1]["body"][0]["errorCode"], json!("PROCESSING_HALTED"));
    assert!(
        r[1]["body"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid reference specified. No value for bad.id found in bad.")
    );
    assert_eq!(r[2]["httpStatusCode"], json!(201));
    assert_eq!(r[3]["httpStatusCode"], json!(404));
    let org = app.handle.state().org.read().unwrap();
    assert_eq!(org.data["Account"].len(), 1);
}

#[tokio::test]
async fn composite_may_hold_collections_and_at_most_25_subrequests() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite",
            json!({"allOrNone": false, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/composite/sobjects", "referenceId": "coll",
                 "body": {"records": [{"attributes": {"type": "Account"}, "Name": "One"}]}},
                {"method": "GET", "url": "/services/data/v66.0/sobjects/Account/@{coll[0].id}", "referenceId": "read"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body["compositeResponse"].as_array().unwrap();
    assert_eq!(r[0]["httpStatusCode"], json!(200));
    assert_eq!(r[1]["body"]["Name"], json!("One"));

    let many: Vec<Value> = (0..26)
        .map(|i| json!({"method": "GET", "url": "/services/data/v66.0/limits", "referenceId": format!("r{i}")}))
        .collect();
    let resp = app.post("composite", json!({"compositeRequest": many})).await;
    assert_eq!(resp.0, 400);
}
