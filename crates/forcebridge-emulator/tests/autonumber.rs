//! AutoNumber fields over real HTTP: an AutoNumber name field made through the Metadata API and
//! a custom AutoNumber field made through the Tooling API are numbered per object on every
//! create (REST, Collections, Bulk), in their display format from their starting number; they are
//! read-only (describe: `autoNumber`, type `string`, not createable or updateable; writes answer
//! `INVALID_FIELD_FOR_INSERT_UPDATE`) and usable in SOQL. `Case.CaseNumber` keeps its numbering.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;
mod metadata_common;

use bulk_common::ingest;
use metadata_common::{NS, assert_all_success, call};
use serde_json::{Value, json};

/// Creates `Invoice__c` with an AutoNumber name (`INV-{0000}` from 5) through `createMetadata`.
async fn invoice_object(app: &common::App) {
    let (status, body) = call(
        app,
        &format!(
            "<createMetadata xmlns=\"{NS}\"><metadata xsi:type=\"CustomObject\">\
             <fullName>Invoice__c</fullName><deploymentStatus>Deployed</deploymentStatus>\
             <label>Invoice</label><pluralLabel>Invoices</pluralLabel>\
             <nameField><displayFormat>INV-{{0000}}</displayFormat><label>Invoice Number</label>\
             <startingNumber>5</startingNumber><type>AutoNumber</type></nameField>\
             <sharingModel>ReadWrite</sharingModel></metadata></createMetadata>"
        ),
    )
    .await;
    assert_all_success(status, &body);
}

fn names(q: &Value, field: &str) -> Vec<String> {
    q["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap_or("null").to_string())
        .collect()
}

#[tokio::test]
async fn name_and_field_are_numbered_on_every_create() {
    let app = common::spawn().await;
    invoice_object(&app).await;
    let (status, f) = app
        .post(
            "tooling/sobjects/CustomField",
            json!({"FullName": "Invoice__c.Ref__c", "Metadata": {
                "label": "Ref", "type": "AutoNumber", "displayFormat": "R{YYYY}-{000}", "startingNumber": 100}}),
        )
        .await;
    assert_eq!(status, 201, "{f}");

    // REST, then Collections, then Bulk: one sequence per field.
    let first = app.create("Invoice__c", json!({})).await;
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Invoice__c"}}, {"attributes": {"type": "Invoice__c"}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, job) = ingest(
        &app,
        json!({"object": "Invoice__c", "operation": "insert"}),
        "OwnerId\n#N/A\n",
    )
    .await;
    assert_eq!(job["numberRecordsFailed"], json!(0), "{job}");
    let (status, q) = app
        .query("SELECT Name, Ref__c FROM Invoice__c ORDER BY Name")
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(
        names(&q, "Name"),
        ["INV-0005", "INV-0006", "INV-0007", "INV-0008"]
    );
    let year = &chrono_year();
    assert_eq!(
        names(&q, "Ref__c"),
        [100, 101, 102, 103].map(|n| format!("R{year}-{n}"))
    );

    // Usable in SOQL filters; the REST record shows it.
    let (_, q) = app
        .query("SELECT Id FROM Invoice__c WHERE Name = 'INV-0005'")
        .await;
    assert_eq!(q["records"][0]["Id"], json!(first), "{q}");
    let (_, rec) = app.get(&format!("sobjects/Invoice__c/{first}")).await;
    assert_eq!(rec["Name"], json!("INV-0005"));

    // Read-only, as describe says.
    let (_, d) = app.get("sobjects/Invoice__c/describe").await;
    let fields = d["fields"].as_array().unwrap();
    for name in ["Name", "Ref__c"] {
        let fd = fields.iter().find(|f| f["name"] == json!(name)).unwrap();
        assert_eq!(fd["autoNumber"], json!(true), "{fd}");
        assert_eq!(fd["type"], json!("string"));
        assert_eq!(fd["createable"], json!(false));
        assert_eq!(fd["updateable"], json!(false));
    }
    let (status, e) = app.post("sobjects/Invoice__c", json!({"Name": "X"})).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e[0]["errorCode"], json!("INVALID_FIELD_FOR_INSERT_UPDATE"));
    let (status, e) = app
        .patch(&format!("sobjects/Invoice__c/{first}"), json!({"Ref__c": "X"}))
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e[0]["errorCode"], json!("INVALID_FIELD_FOR_INSERT_UPDATE"));

    // The Tooling API reads the format back.
    let (status, fq) = app
        .get(&format!(
            "tooling/sobjects/CustomField/{}",
            f["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{fq}");
    assert_eq!(fq["Metadata"]["displayFormat"], json!("R{YYYY}-{000}"), "{fq}");
    assert_eq!(fq["Metadata"]["startingNumber"], json!(100), "{fq}");
}

/// This year in UTC, as the emulator stamps records (a run across New Year's midnight could see
/// two; that is accepted).
fn chrono_year() -> String {
    chrono::Utc::now().format("%Y").to_string()
}

#[tokio::test]
async fn case_numbers_continue_and_a_rolled_back_create_burns_its_number() {
    let app = common::spawn().await;
    let a = app.create("Case", json!({"Subject": "A"})).await;
    let (_, ra) = app.get(&format!("sobjects/Case/{a}")).await;
    assert_eq!(ra["CaseNumber"], json!("00001001"));
    invoice_object(&app).await;
    // allOrNone: the second record fails, the first is rolled back; its number is not reused.
    let (status, body) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Invoice__c"}},
                {"attributes": {"type": "Invoice__c"}, "OwnerId": "not-an-id"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["success"], json!(false), "{body}");
    let id = app.create("Invoice__c", json!({})).await;
    let (_, r) = app.get(&format!("sobjects/Invoice__c/{id}")).await;
    assert_eq!(r["Name"], json!("INV-0006"), "{r}");
    let b = app.create("Case", json!({"Subject": "B"})).await;
    let (_, rb) = app.get(&format!("sobjects/Case/{b}")).await;
    assert_eq!(rb["CaseNumber"], json!("00001002"));
}
