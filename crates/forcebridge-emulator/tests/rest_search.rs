//! Search over real HTTP: SOSL through `/search` and the same search through
//! `/parameterizedSearch` (GET and POST) — email, phone and name searches across objects.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use serde_json::{Value, json};

async fn people() -> common::App {
    let app = common::spawn().await;
    app.create(
        "Contact",
        json!({"FirstName": "Jane", "LastName": "Doe", "Email": "jane@example.com", "Phone": "(415) 555-0100"}),
    )
    .await;
    app.create(
        "Contact",
        json!({"FirstName": "John", "LastName": "Roe", "Email": "john@example.org"}),
    )
    .await;
    app.create(
        "Lead",
        json!({"FirstName": "Jane", "LastName": "Lead", "Company": "Acme", "Email": "jane@example.com"}),
    )
    .await;
    app.create(
        "Account",
        json!({"Name": "Acme Corporation", "Phone": "415-555-0100"}),
    )
    .await;
    app
}

fn types(body: &Value) -> Vec<String> {
    body["searchRecords"]
        .as_array()
        .unwrap_or_else(|| panic!("searchRecords in {body}"))
        .iter()
        .map(|r| r["attributes"]["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn sosl_finds_a_person_by_email_across_objects() {
    let app = people().await;
    let (status, body) = app
        .send(app.req(reqwest::Method::GET, "search").query(&[(
            "q",
            "FIND {jane@example.com} IN EMAIL FIELDS RETURNING Contact(Id, Email, LastName), Lead(Id, Company)",
        )]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(types(&body), ["Contact", "Lead"]);
    let contact = &body["searchRecords"][0];
    assert_eq!(contact["LastName"], json!("Doe"));
    assert!(
        contact["attributes"]["url"]
            .as_str()
            .unwrap()
            .contains("/sobjects/Contact/")
    );
    assert_eq!(body["searchRecords"][1]["Company"], json!("Acme"));
    // Without RETURNING: every searchable object, Id only.
    let (status, body) = app
        .send(
            app.req(reqwest::Method::GET, "search")
                .query(&[("q", "FIND {acme*}")]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = types(&body);
    assert!(
        found.contains(&"Account".to_string()) && found.contains(&"Lead".to_string()),
        "{body}"
    );
    let account = body["searchRecords"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attributes"]["type"] == json!("Account"))
        .unwrap();
    assert!(account.get("Name").is_none(), "only Id: {account}");
    // Phone search matches whatever the formatting.
    let (_, body) = app
        .send(app.req(reqwest::Method::GET, "search").query(&[(
            "q",
            "FIND {4155550100} IN PHONE FIELDS RETURNING Contact(LastName), Account(Name)",
        )]))
        .await;
    assert_eq!(types(&body), ["Contact", "Account"], "{body}");
    // A WHERE and a LIMIT inside RETURNING, and an overall LIMIT.
    let (_, body) = app
        .send(app.req(reqwest::Method::GET, "search").query(&[(
            "q",
            "FIND {jane} IN NAME FIELDS RETURNING Contact(LastName WHERE LastName = 'Doe'), Lead(LastName) LIMIT 1",
        )]))
        .await;
    assert_eq!(body["searchRecords"].as_array().unwrap().len(), 1, "{body}");
}

#[tokio::test]
async fn sosl_errors_are_salesforce_errors() {
    let app = people().await;
    for q in ["SELECT Id FROM Contact", "FIND jane"] {
        let (status, body) = app
            .send(app.req(reqwest::Method::GET, "search").query(&[("q", q)]))
            .await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(body[0]["errorCode"], json!("MALFORMED_SEARCH"), "{q}");
    }
    let (status, body) = app
        .send(
            app.req(reqwest::Method::GET, "search")
                .query(&[("q", "FIND {x} RETURNING Nope__c")]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("INVALID_TYPE"));
    let (status, body) = app
        .send(
            app.req(reqwest::Method::GET, "search")
                .query(&[("q", "FIND {x} RETURNING Contact(NoSuch__c)")]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("INVALID_FIELD"));
}

#[tokio::test]
async fn parameterized_search_by_get_and_post() {
    let app = people().await;
    let (status, body) = app
        .send(app.req(reqwest::Method::GET, "parameterizedSearch").query(&[
            ("q", "jane@example.com"),
            ("in", "EMAIL"),
            ("sobject", "Contact"),
            ("sobject", "Lead"),
            ("Contact.fields", "Id,Email"),
            ("Lead.fields", "Company"),
        ]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(types(&body), ["Contact", "Lead"]);
    assert_eq!(body["searchRecords"][0]["Email"], json!("jane@example.com"));

    let (status, body) = app
        .post(
            "parameterizedSearch",
            json!({"q": "Doe", "in": "NAME", "fields": ["Id", "FirstName"],
                   "sobjects": [{"name": "Contact"}, {"name": "Lead", "fields": ["Company"]}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(types(&body), ["Contact"]);
    assert_eq!(body["searchRecords"][0]["FirstName"], json!("Jane"));
    let (status, body) = app.post("parameterizedSearch", json!({"in": "ALL"})).await;
    assert_eq!(status, 400, "{body}");
}
