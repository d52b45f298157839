//! sObject Collections over real HTTP: create, update, upsert, delete and retrieve up to 200
//! records, partial success versus `allOrNone` rollback, per-record errors with `statusCode`.

mod common;

use common::*;
use serde_json::{Value, json};

fn lead(last: &str) -> Value {
    json!({"attributes": {"type": "Lead"}, "LastName": last, "Company": "C"})
}

#[tokio::test]
async fn partial_success_without_all_or_none() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [
                lead("One"),
                {"attributes": {"type": "Lead"}, "LastName": "NoCompany"},
                {"attributes": {"type": "Account"}, "Name": "Acme"},
                {"LastName": "NoType"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    let results = body.as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["success"], json!(true));
    assert!(results[0]["id"].as_str().unwrap().starts_with("00Q"));
    assert_eq!(results[1]["success"], json!(false));
    assert_eq!(
        results[1]["errors"][0],
        json!({"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Company]", "fields": ["Company"]})
    );
    assert!(results[2]["id"].as_str().unwrap().starts_with("001"));
    assert_eq!(results[3]["errors"][0]["statusCode"], json!("INVALID_TYPE"));
    let org = app.handle.state().org.read().unwrap();
    assert_eq!(org.data["Lead"].len(), 1);
}

#[tokio::test]
async fn all_or_none_rolls_everything_back() {
    let app = spawn().await;
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [lead("One"), {"attributes": {"type": "Lead"}, "LastName": "Bad", "Company": "C", "Email": "nope"}, lead("Three")]}),
        )
        .await;
    assert_eq!(status, 200);
    let r = body.as_array().unwrap();
    assert_eq!(r[1]["errors"][0]["statusCode"], json!("INVALID_EMAIL_ADDRESS"));
    for i in [0, 2] {
        assert_eq!(r[i]["success"], json!(false));
        assert_eq!(
            r[i]["errors"][0],
            json!({"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []})
        );
    }
    let org = app.handle.state().org.read().unwrap();
    assert!(org.data.get("Lead").is_none_or(|t| t.is_empty()));
}

#[tokio::test]
async fn update_delete_and_retrieve() {
    let app = spawn().await;
    let a = app.create("Lead", lead("A")).await;
    let b = app.create("Lead", lead("B")).await;
    let (status, body) = app
        .patch(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Lead"}, "id": a, "Status": "Working - Contacted"},
                {"attributes": {"type": "Lead"}, "id": b, "Status": "Nope"},
                {"attributes": {"type": "Lead"}, "Status": "Working - Contacted"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(
        body[1]["errors"][0]["statusCode"],
        json!("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    );
    assert_eq!(body[2]["errors"][0]["statusCode"], json!("MISSING_ARGUMENT"));

    let (status, records) = app
        .get(&format!(
            "composite/sobjects/Lead?ids={a},{b},00Q000000000000AAA&fields=Id,Status"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(records[0]["Status"], json!("Working - Contacted"));
    assert_eq!(records[1]["Status"], json!("Open - Not Contacted"));
    assert_eq!(records[2], Value::Null);
    assert_eq!(records[0]["attributes"]["type"], json!("Lead"));

    let (status, body) = app
        .delete(&format!("composite/sobjects?ids={a},bogus&allOrNone=false"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(body[1]["errors"][0]["statusCode"], json!("MALFORMED_ID"));
    let (_, body) = app
        .delete(&format!("composite/sobjects?ids={a},{b}&allOrNone=true"))
        .await;
    assert_eq!(body[0]["errors"][0]["statusCode"], json!("ENTITY_IS_DELETED"));
    assert_eq!(
        body[1]["errors"][0]["statusCode"],
        json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
    );
    let (status, _) = app.get(&format!("sobjects/Lead/{b}")).await;
    assert_eq!(status, 200, "b survived the rolled-back delete");
}

#[tokio::test]
async fn upsert_collection_reports_created() {
    let app = spawn().await;
    app.add_account_external_ids();
    app.create("Account", json!({"Name": "Old", "Ext_Id__c": "K1"}))
        .await;
    let (status, body) = app
        .patch(
            "composite/sobjects/Account/Ext_Id__c",
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Account"}, "Name": "Updated", "Ext_Id__c": "K1"},
                {"attributes": {"type": "Account"}, "Name": "New", "Ext_Id__c": "K2"},
                {"attributes": {"type": "Account"}, "Name": "Dup", "Ext_Id__c": "K3"},
                {"attributes": {"type": "Account"}, "Name": "Dup", "Ext_Id__c": "K3"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["created"], json!(false));
    assert_eq!(body[0]["success"], json!(true));
    assert_eq!(body[1]["created"], json!(true));
    assert_eq!(body[2]["errors"][0]["statusCode"], json!("DUPLICATE_EXTERNAL_ID"));
    assert_eq!(body[3]["errors"][0]["statusCode"], json!("DUPLICATE_EXTERNAL_ID"));
    let (_, acct) = app.get("sobjects/Account/Ext_Id__c/K1").await;
    assert_eq!(acct["Name"], json!("Updated"));
}

#[tokio::test]
async fn more_than_200_records_are_refused() {
    let app = spawn().await;
    let records: Vec<Value> = (0..201).map(|i| lead(&format!("L{i}"))).collect();
    let resp = app.post("composite/sobjects", json!({"records": records})).await;
    assert_eq!(resp.0, 400);
    let records: Vec<Value> = (0..200).map(|i| lead(&format!("L{i}"))).collect();
    let (status, body) = app.post("composite/sobjects", json!({"records": records})).await;
    assert_eq!(status, 200);
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == json!(true))
    );
}

#[tokio::test]
async fn upsert_by_id_creates_records_without_one() {
    let app = spawn().await;
    let existing = app.create("Account", json!({"Name": "Old"})).await;
    let (status, body) = app
        .patch(
            "composite/sobjects/Account/Id",
            json!({"records": [
                {"attributes": {"type": "Account"}, "Id": existing, "Name": "Renamed"},
                {"attributes": {"type": "Account"}, "Name": "Brand new"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["created"], json!(false));
    assert_eq!(body[1]["created"], json!(true));
    assert_eq!(body[1]["success"], json!(true));
}

#[tokio::test]
async fn upsert_collection_keys_compare_like_single_upserts() {
    let app = spawn().await;
    app.add_account_external_ids();
    let existing = app
        .create("Account", json!({"Name": "Old", "Ext_Id__c": "MiXeD-1"}))
        .await;
    app.create("Account", json!({"Name": "R1", "Region_Key__c": "EU"}))
        .await;
    app.create("Account", json!({"Name": "R2", "Region_Key__c": "EU"}))
        .await;
    let (status, body) = app
        .patch(
            "composite/sobjects/Account/Ext_Id__c",
            json!({"records": [
                {"attributes": {"type": "Account"}, "Name": "Case-insensitive", "Ext_Id__c": "mixed-1"},
            ]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body[0],
        json!({"id": existing, "success": true, "errors": [], "created": false})
    );
    let (_, body) = app
        .patch(
            "composite/sobjects/Account/Region_Key__c",
            json!({"records": [{"attributes": {"type": "Account"}, "Name": "X", "Region_Key__c": "eu"}]}),
        )
        .await;
    assert_eq!(body[0]["errors"][0]["statusCode"], json!("DUPLICATE_EXTERNAL_ID"));
}
