//! Custom schema made through the Metadata API survives a restart with a state file: the object,
//! its fields, its records and its Tooling ids are all there afterwards.

mod common;
mod metadata_common;

use forcebridge_emulator::{Emulator, EmulatorConfig};
use metadata_common::{assert_all_success, call, custom_object, field, fields, first};
use serde_json::{Value, json};

async fn start(path: &std::path::Path) -> common::App {
    let handle = Emulator::start(EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let client = reqwest::Client::new();
    let c = handle.config().clone();
    let resp = client
        .post(handle.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", format!("{}{}", c.password, c.security_token).as_str()),
        ])
        .send()
        .await
        .expect("token request");
    let body: Value = resp.json().await.expect("token json");
    common::App {
        base: handle.base_url().to_string(),
        token: Some(body["access_token"].as_str().expect("access_token").to_string()),
        handle: handle.into(),
        client,
    }
}

#[tokio::test]
async fn custom_schema_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.json");
    let app = start(&path).await;
    let (status, body) = call(
        &app,
        &custom_object(
            "Keep__c",
            "Keep",
            "Keeps",
            "Keep Name",
            &fields(&[field(
                "Lead__c",
                "Lead",
                "Lookup",
                "<referenceTo>Lead</referenceTo><relationshipName>Keeps</relationshipName>",
            )]),
        ),
    )
    .await;
    assert_all_success(status, &body);
    let lead = app
        .create("Lead", json!({"LastName": "Stays", "Company": "Co"}))
        .await;
    let id = app.create("Keep__c", json!({"Name": "k", "Lead__c": lead})).await;
    let (_, before) = app
        .send(
            app.req(reqwest::Method::GET, "tooling/query")
                .query(&[("q", "SELECT Id FROM CustomField")]),
        )
        .await;
    app.stop().await;

    let app = start(&path).await;
    let (status, rec) = app.get(&format!("sobjects/Keep__c/{id}")).await;
    assert_eq!(status, 200, "{rec}");
    let (_, q) = app
        .query("SELECT LastName, (SELECT Name FROM Keeps__r) FROM Lead")
        .await;
    assert_eq!(
        q["records"][0]["Keeps__r"]["records"][0]["Name"],
        json!("k"),
        "{q}"
    );
    let (_, after) = app
        .send(
            app.req(reqwest::Method::GET, "tooling/query")
                .query(&[("q", "SELECT Id FROM CustomField")]),
        )
        .await;
    assert_eq!(before["records"], after["records"]);
    let (_, body) = call(&app, "<readMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomObject</type><fullNames>Keep__c</fullNames></readMetadata>").await;
    assert_eq!(first(&body, "pluralLabel").as_deref(), Some("Keeps"), "{body}");
    // The next object gets the next key prefix.
    let (_, body) = call(&app, &custom_object("Next__c", "Next", "Nexts", "N", "")).await;
    assert_all_success(200, &body);
    let (_, d) = app.get("sobjects/Next__c/describe").await;
    assert_eq!(d["keyPrefix"], json!("a01"));
}
