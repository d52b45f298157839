//! Upsert by external id over real HTTP: 201 created / 200 updated with `created`, 300 with the
//! URLs when several records match, `DUPLICATE_VALUE` on a unique external id, `Id` as the key,
//! GET and DELETE by external id, and relationship objects resolved by a parent's external id.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn upsert_creates_then_updates() {
    let app = spawn().await;
    app.add_account_external_ids();
    let (status, body) = app
        .patch("sobjects/Account/Ext_Id__c/A-1", json!({"Name": "Acme"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], json!(true));
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["errors"], json!([]));
    let id = body["id"].as_str().unwrap().to_string();

    let (status, body) = app
        .patch("sobjects/Account/Ext_Id__c/A-1", json!({"Name": "Acme Corp"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": id, "success": true, "errors": [], "created": false})
    );

    let (status, acct) = app.get("sobjects/Account/Ext_Id__c/A-1").await;
    assert_eq!(status, 200);
    assert_eq!(acct["Name"], json!("Acme Corp"));
    assert_eq!(acct["Ext_Id__c"], json!("A-1"));
    assert_eq!(acct["Id"], json!(id));

    // A unique external id cannot be given to a second record.
    let resp = app
        .post("sobjects/Account", json!({"Name": "Other", "Ext_Id__c": "a-1"}))
        .await;
    assert_error(&resp, 400, "DUPLICATE_VALUE");
    assert!(resp.1[0]["message"].as_str().unwrap().contains(&id));

    // Unknown key fields are 404 as Salesforce words it.
    let resp = app
        .patch("sobjects/Account/Nope__c/1", json!({"Name": "x"}))
        .await;
    assert_error(&resp, 404, "NOT_FOUND");
    assert_eq!(
        resp.1[0]["message"],
        json!("Provided external ID field does not exist or is not accessible: Nope__c")
    );
    // A field that is not an external id cannot key an upsert either.
    let resp = app.patch("sobjects/Account/Site/x", json!({"Name": "x"})).await;
    assert_error(&resp, 404, "NOT_FOUND");

    // Validation applies to the upserted body.
    let resp = app
        .patch("sobjects/Account/Ext_Id__c/A-2", json!({"Industry": "Banking"}))
        .await;
    assert_error(&resp, 400, "REQUIRED_FIELD_MISSING");

    let (status, _) = app.delete("sobjects/Account/Ext_Id__c/A-1").await;
    assert_eq!(status, 204);
    let resp = app.get("sobjects/Account/Ext_Id__c/A-1").await;
    assert_error(&resp, 404, "NOT_FOUND");
}

#[tokio::test]
async fn several_matches_answer_300() {
    let app = spawn().await;
    app.add_account_external_ids();
    let a = app
        .create("Account", json!({"Name": "A", "Region_Key__c": "EU"}))
        .await;
    let b = app
        .create("Account", json!({"Name": "B", "Region_Key__c": "EU"}))
        .await;
    let (status, body) = app
        .patch("sobjects/Account/Region_Key__c/EU", json!({"Name": "C"}))
        .await;
    assert_eq!(status, 300);
    assert_eq!(
        body,
        json!([
            format!("/services/data/v66.0/sobjects/Account/{a}"),
            format!("/services/data/v66.0/sobjects/Account/{b}")
        ])
    );
    let (status, _) = app.get("sobjects/Account/Region_Key__c/EU").await;
    assert_eq!(status, 300);
    // Nothing was written.
    let (_, acct) = app.get(&format!("sobjects/Account/{a}")).await;
    assert_eq!(acct["Name"], json!("A"));
}

#[tokio::test]
async fn id_as_the_key() {
    let app = spawn().await;
    let id = app.create("Account", json!({"Name": "A"})).await;
    let (status, body) = app
        .patch(&format!("sobjects/Account/Id/{id}"), json!({"Name": "B"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["created"], json!(false));
    let (status, body) = app.post("sobjects/Account/Id", json!({"Name": "New"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["created"], json!(true));
    let resp = app
        .patch("sobjects/Account/Id/001000000000000AAA", json!({"Name": "x"}))
        .await;
    assert_eq!(resp.0, 404);
}

#[tokio::test]
async fn lookups_by_parent_external_id() {
    let app = spawn().await;
    app.add_account_external_ids();
    let account = app
        .create("Account", json!({"Name": "A", "Ext_Id__c": "P-1"}))
        .await;
    let contact = app
        .create(
            "Contact",
            json!({"LastName": "Doe", "Account": {"Ext_Id__c": "P-1"}}),
        )
        .await;
    let (_, c) = app.get(&format!("sobjects/Contact/{contact}")).await;
    assert_eq!(c["AccountId"], json!(account));
    let resp = app
        .post(
            "sobjects/Contact",
            json!({"LastName": "Doe", "Account": {"Ext_Id__c": "missing"}}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_FIELD");
}

#[tokio::test]
async fn numeric_external_ids_match_by_value() {
    use forcebridge_emulator::schema::{FieldDef, FieldType};
    let app = spawn().await;
    {
        let mut org = app.handle.state().org.write().expect("lock");
        let account = org.schema.object_mut("Account").expect("Account");
        let mut number = FieldDef::new("Erp_Number__c", "ERP Number", FieldType::Double).external_id();
        number.precision = 10;
        account.fields.insert(number.name.clone(), number);
    }
    let (status, body) = app
        .patch("sobjects/Account/Erp_Number__c/12", json!({"Name": "Twelve"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .patch("sobjects/Account/Erp_Number__c/12", json!({"Name": "Again"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, acct) = app.get("sobjects/Account/Erp_Number__c/12.0").await;
    assert_eq!(acct["Name"], json!("Again"));
    assert_eq!(acct["Erp_Number__c"], json!(12.0));
}

#[tokio::test]
async fn before_api_46_upsert_answers_the_old_way() {
    let app = spawn().await;
    app.add_account_external_ids();
    let url = "/services/data/v45.0/sobjects/Account/Ext_Id__c/OLD-1";
    let (status, body) = app.patch(url, json!({"Name": "Old API"})).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("created").is_none(), "{body}");
    let (status, body) = app.patch(url, json!({"Name": "Old API 2"})).await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
}

#[tokio::test]
async fn large_bodies_are_read() {
    let app = spawn().await;
    // Bigger than axum's default 2 MB limit, well within Salesforce's.
    let description = "x".repeat(30_000);
    let records: Vec<serde_json::Value> = (0..100)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("A{i}"), "Description": description}))
        .collect();
    let (status, body) = app.post("composite/sobjects", json!({"records": records})).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(100));
}
