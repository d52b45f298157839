//! sObject rows over real HTTP: create, read (`fields=`), update, delete, system fields, and every
//! validation error in Salesforce's codes, messages and fields.

mod common;

use common::*;
use serde_json::json;

fn is_wire_datetime(v: &serde_json::Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    // 2026-11-21T15:30:00.000+0000
    s.len() == 28 && s.ends_with("+0000") && &s[10..11] == "T" && &s[19..20] == "."
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = spawn().await;
    let (status, created) = app
        .post(
            "sobjects/Lead",
            json!({"FirstName": "Ada", "LastName": "Lovelace", "Company": "Engines", "Email": "ada@example.com"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["success"], json!(true));
    assert_eq!(created["errors"], json!([]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("00Q"));

    let (status, lead) = app.get(&format!("sobjects/Lead/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        lead["attributes"],
        json!({"type": "Lead", "url": format!("/services/data/v66.0/sobjects/Lead/{id}")})
    );
    assert_eq!(lead["Name"], json!("Ada Lovelace"));
    assert_eq!(
        lead["Status"],
        json!("Open - Not Contacted"),
        "default picklist value"
    );
    assert_eq!(lead["IsDeleted"], json!(false));
    assert_eq!(lead["IsConverted"], json!(false));
    assert!(is_wire_datetime(&lead["CreatedDate"]), "{}", lead["CreatedDate"]);
    assert!(is_wire_datetime(&lead["SystemModstamp"]));
    assert!(lead["CreatedById"].as_str().unwrap().starts_with("005"));
    assert_eq!(lead["OwnerId"], lead["CreatedById"]);
    assert_eq!(lead["Phone"], json!(null));

    // The 15-character id reads the same record.
    let (status, _) = app.get(&format!("sobjects/Lead/{}", &id[..15])).await;
    assert_eq!(status, 200);

    let (status, partial) = app
        .get(&format!("sobjects/Lead/{id}?fields=LastName,email"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(partial.as_object().unwrap().len(), 3, "{partial}");
    assert_eq!(partial["Email"], json!("ada@example.com"));
    let resp = app.get(&format!("sobjects/Lead/{id}?fields=Nope")).await;
    assert_error(&resp, 400, "INVALID_FIELD");

    let created_date = lead["CreatedDate"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, body) = app
        .patch(
            &format!("sobjects/Lead/{id}"),
            json!({"Status": "Working - Contacted", "FirstName": "Augusta"}),
        )
        .await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    let (_, lead) = app.get(&format!("sobjects/Lead/{id}")).await;
    assert_eq!(lead["Status"], json!("Working - Contacted"));
    assert_eq!(lead["Name"], json!("Augusta Lovelace"));
    assert_eq!(lead["CreatedDate"], created_date);
    assert_ne!(lead["LastModifiedDate"], created_date);
    assert_eq!(lead["SystemModstamp"], lead["LastModifiedDate"]);

    let (status, _) = app.delete(&format!("sobjects/Lead/{id}")).await;
    assert_eq!(status, 204);
    let resp = app.get(&format!("sobjects/Lead/{id}")).await;
    assert_error(&resp, 404, "NOT_FOUND");
    let resp = app.delete(&format!("sobjects/Lead/{id}")).await;
    assert_error(&resp, 404, "ENTITY_IS_DELETED");
    let resp = app
        .patch(&format!("sobjects/Lead/{id}"), json!({"Company": "x"}))
        .await;
    assert_error(&resp, 404, "ENTITY_IS_DELETED");
    // Kept in the recycle bin.
    let org = app.handle.state().org.read().unwrap();
    let rec = org.data["Lead"].values().find(|r| r["Id"] == json!(id)).unwrap();
    assert_eq!(rec["IsDeleted"], json!(true));
}

#[tokio::test]
async fn relationships_are_checked() {
    let app = spawn().await;
    let account = app
        .create(
            "Account",
            json!({"Name": "Acme", "Industry": "Banking", "AnnualRevenue": 1200000}),
        )
        .await;
    let contact = app
        .create("Contact", json!({"LastName": "Doe", "AccountId": &account[..15]}))
        .await;
    let (_, c) = app.get(&format!("sobjects/Contact/{contact}")).await;
    assert_eq!(c["AccountId"], json!(account), "stored as the 18-character id");

    let resp = app
        .post("sobjects/Contact", json!({"LastName": "X", "AccountId": contact}))
        .await;
    assert_error(&resp, 400, "FIELD_INTEGRITY_EXCEPTION");
    assert_eq!(resp.1[0]["fields"], json!(["AccountId"]));
    let resp = app
        .post("sobjects/Contact", json!({"LastName": "X", "AccountId": "12345"}))
        .await;
    assert_error(&resp, 400, "MALFORMED_ID");
    assert_eq!(
        resp.1[0]["message"],
        json!("Account ID: id value of incorrect type: 12345")
    );

    // Polymorphic WhoId takes a Contact or a Lead.
    let lead = app.create("Lead", json!({"LastName": "L", "Company": "C"})).await;
    app.create(
        "Task",
        json!({"Subject": "Call", "WhoId": contact, "WhatId": account}),
    )
    .await;
    app.create("Task", json!({"Subject": "Call", "WhoId": lead}))
        .await;
    let resp = app
        .post("sobjects/Task", json!({"Subject": "Call", "WhoId": account}))
        .await;
    assert_error(&resp, 400, "FIELD_INTEGRITY_EXCEPTION");

    // Deleting the account takes its cascade children with it.
    let (status, _) = app.delete(&format!("sobjects/Account/{account}")).await;
    assert_eq!(status, 204);
    let resp = app
        .post("sobjects/Contact", json!({"LastName": "Y", "AccountId": account}))
        .await;
    assert_error(&resp, 400, "ENTITY_IS_DELETED");
}

#[tokio::test]
async fn validation_errors_use_salesforce_codes() {
    let app = spawn().await;
    let resp = app.post("sobjects/Lead", json!({"FirstName": "No"})).await;
    assert_error(&resp, 400, "REQUIRED_FIELD_MISSING");
    assert_eq!(
        resp.1[0]["message"],
        json!("Required fields are missing: [LastName, Company]")
    );
    assert_eq!(resp.1[0]["fields"], json!(["LastName", "Company"]));

    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x".repeat(81), "Company": "C"}),
        )
        .await;
    assert_error(&resp, 400, "STRING_TOO_LONG");
    assert_eq!(resp.1[0]["fields"], json!(["LastName"]));
    assert!(resp.1[0]["message"].as_str().unwrap().contains("(max length=80)"));

    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x", "Company": "C", "Foo": 1}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_FIELD");
    assert_eq!(
        resp.1[0]["message"],
        json!("No such column 'Foo' on sobject of type Lead")
    );

    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x", "Company": "C", "Name": "Full"}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(resp.1[0]["fields"], json!(["Name"]));
    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x", "Company": "C", "CreatedDate": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");

    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x", "Company": "C", "Status": "Hot"}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_eq!(
        resp.1[0]["message"],
        json!("Status: bad value for restricted picklist field: Hot")
    );

    let resp = app
        .post(
            "sobjects/Lead",
            json!({"LastName": "x", "Company": "C", "Email": "not an email"}),
        )
        .await;
    assert_error(&resp, 400, "INVALID_EMAIL_ADDRESS");
    assert_eq!(
        resp.1[0]["message"],
        json!("Email: invalid email address: not an email")
    );
    assert_eq!(resp.1[0]["fields"], json!(["Email"]));

    let resp = app
        .post("sobjects/Account", json!({"Name": "A", "AnnualRevenue": 1e19}))
        .await;
    assert_error(&resp, 400, "NUMBER_OUTSIDE_VALID_RANGE");
    let resp = app
        .post(
            "sobjects/Account",
            json!({"Name": "A", "NumberOfEmployees": "many"}),
        )
        .await;
    assert_error(&resp, 400, "JSON_PARSER_ERROR");

    let resp = app
        .send(
            app.req(reqwest::Method::POST, "sobjects/Lead")
                .header("content-type", "application/json")
                .body("{\"LastName\": "),
        )
        .await;
    assert_error(&resp, 400, "JSON_PARSER_ERROR");
    assert!(
        resp.1[0]["message"]
            .as_str()
            .unwrap()
            .contains("[line:1, column:")
    );

    // Bad ids in the path answer as Salesforce does: the segment is taken for an external id field.
    let resp = app.get("sobjects/Lead/notanid").await;
    assert_error(&resp, 404, "NOT_FOUND");
    assert_eq!(
        resp.1[0]["message"],
        json!("Provided external ID field does not exist or is not accessible: notanid")
    );
    let resp = app
        .patch("sobjects/Lead/00Q5g0000000000AAA", json!({"Company": "x"}))
        .await;
    assert_eq!(resp.0, 404);

    // Update may not null a required field, nor touch read-only ones.
    let id = app.create("Lead", json!({"LastName": "x", "Company": "C"})).await;
    let resp = app
        .patch(&format!("sobjects/Lead/{id}"), json!({"LastName": null}))
        .await;
    assert_error(&resp, 400, "REQUIRED_FIELD_MISSING");
    let resp = app
        .patch(&format!("sobjects/Lead/{id}"), json!({"IsConverted": true}))
        .await;
    assert_error(&resp, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    // Nothing of a failed write is kept.
    let (_, lead) = app.get(&format!("sobjects/Lead/{id}")).await;
    assert_eq!(lead["LastName"], json!("x"));
}

#[tokio::test]
async fn values_are_normalised() {
    let app = spawn().await;
    let id = app
        .create(
            "Opportunity",
            json!({"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2026-12-01", "Amount": "1234.567"}),
        )
        .await;
    let (_, o) = app.get(&format!("sobjects/Opportunity/{id}")).await;
    assert_eq!(o["Amount"], json!(1234.57));
    assert_eq!(o["IsWon"], json!(true));
    assert_eq!(o["IsClosed"], json!(true));
    assert_eq!(o["CloseDate"], json!("2026-12-01"));
    let case = app
        .create("Case", json!({"Subject": "Broken", "Origin": "Web"}))
        .await;
    let (_, c) = app.get(&format!("sobjects/Case/{case}")).await;
    assert_eq!(c["Status"], json!("New"));
    assert_eq!(c["Priority"], json!("Medium"));
    assert!(c["CaseNumber"].as_str().unwrap().len() == 8);
    let contact = app
        .create(
            "Contact",
            json!({"LastName": "Doe", "MailingCity": "Paris", "Birthdate": "1990-02-03"}),
        )
        .await;
    let (_, c) = app.get(&format!("sobjects/Contact/{contact}")).await;
    assert_eq!(c["MailingAddress"]["city"], json!("Paris"));
    assert_eq!(c["OtherAddress"], json!(null));
    let task = app
        .create(
            "Task",
            json!({"Subject": "x", "ActivityDate": "2026-11-21", "Status": "Completed"}),
        )
        .await;
    let (_, t) = app.get(&format!("sobjects/Task/{task}")).await;
    assert_eq!(t["IsClosed"], json!(true));
    assert_eq!(t["Priority"], json!("Normal"));
}

#[tokio::test]
async fn updated_and_deleted_windows() {
    let app = spawn().await;
    let keep = app.create("Account", json!({"Name": "Keep"})).await;
    let gone = app.create("Account", json!({"Name": "Gone"})).await;
    app.delete(&format!("sobjects/Account/{gone}")).await;
    let start = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::TimeDelta::hours(1)).to_rfc3339();
    let (status, body) = app
        .send(
            app.req(reqwest::Method::GET, "sobjects/Account/updated/")
                .query(&[("start", &start), ("end", &end)]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!([keep]));
    assert!(is_wire_datetime(&body["latestDateCovered"]));
    let (status, body) = app
        .send(
            app.req(reqwest::Method::GET, "sobjects/Account/deleted/")
                .query(&[("start", &start), ("end", &end)]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deletedRecords"][0]["id"], json!(gone));
    assert!(is_wire_datetime(&body["deletedRecords"][0]["deletedDate"]));
    let resp = app.get("sobjects/Account/updated/?start=yesterday").await;
    assert_error(&resp, 400, "INVALID_REPLICATION_DATE");
}
