//! The Tooling API over real HTTP: CustomObject and CustomField created with `FullName` +
//! `Metadata`, read by id, queried with SOQL, updated and deleted; the schema they make is the
//! one REST and SOQL see.

mod common;

use serde_json::{Value, json};

#[tokio::test]
async fn tooling_create_read_query_update_delete() {
    let app = common::spawn().await;
    let (status, obj) = app
        .post(
            "tooling/sobjects/CustomObject",
            json!({
                "FullName": "Ticket__c",
                "Metadata": {
                    "label": "Ticket", "pluralLabel": "Tickets",
                    "nameField": {"label": "Ticket Name", "type": "Text"},
                    "deploymentStatus": "Deployed", "sharingModel": "ReadWrite"
                }
            }),
        )
        .await;
    assert_eq!(status, 201, "{obj}");
    assert_eq!(obj["success"], json!(true));
    let object_id = obj["id"].as_str().unwrap().to_string();
    assert!(object_id.starts_with("01I"), "{object_id}");

    let (status, fld) = app
        .post(
            "tooling/sobjects/CustomField",
            json!({
                "FullName": "Ticket__c.Priority__c",
                "Metadata": {
                    "label": "Priority", "type": "Picklist",
                    "valueSet": {"restricted": true, "valueSetDefinition": {"sorted": false, "value": [
                        {"valueName": "Low", "label": "Low", "default": true},
                        {"valueName": "High", "label": "High", "default": false}
                    ]}}
                }
            }),
        )
        .await;
    assert_eq!(status, 201, "{fld}");
    let field_id = fld["id"].as_str().unwrap().to_string();
    assert!(field_id.starts_with("00N"), "{field_id}");
    let (status, _) = app
        .post(
            "tooling/sobjects/CustomField",
            json!({"FullName": "Lead.Ticket__c", "Metadata": {"label": "Ticket", "type": "Lookup", "referenceTo": "Ticket__c", "relationshipName": "Leads"}}),
        )
        .await;
    assert_eq!(status, 201);

    // errors as REST errors
    let (status, e) = app
        .post(
            "tooling/sobjects/CustomField",
            json!({"FullName": "Ticket__c.Priority__c", "Metadata": {"label": "P", "type": "Text", "length": 5}}),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert_eq!(e[0]["errorCode"], json!("DUPLICATE_DEVELOPER_NAME"));
    let (status, e) = app
        .post(
            "tooling/sobjects/CustomField",
            json!({"FullName": "Ticket__c.Size__c", "Metadata": {"label": "S", "type": "Text", "length": 0}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(e[0]["errorCode"], json!("FIELD_INTEGRITY_EXCEPTION"), "{e}");
    let (status, _) = app.post("tooling/sobjects/ApexClass", json!({})).await;
    assert_eq!(status, 404);
    let resp = app
        .client
        .post(app.url("tooling/sobjects/CustomObject"))
        .json(&json!({"FullName": "X__c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "no session");

    // GET by id
    let (status, rec) = app.get(&format!("tooling/sobjects/CustomField/{field_id}")).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["attributes"]["type"], json!("CustomField"));
    assert_eq!(rec["DeveloperName"], json!("Priority"));
    assert_eq!(rec["TableEnumOrId"], json!(object_id));
    assert_eq!(rec["FullName"], json!("Ticket__c.Priority__c"));
    assert_eq!(rec["Metadata"]["type"], json!("Picklist"));
    assert_eq!(
        rec["Metadata"]["valueSet"]["valueSetDefinition"]["value"][1]["valueName"],
        json!("High")
    );
    let (status, rec) = app
        .get(&format!("tooling/sobjects/CustomObject/{object_id}"))
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["DeveloperName"], json!("Ticket"));
    assert_eq!(rec["Metadata"]["pluralLabel"], json!("Tickets"));

    // query
    let q = |soql: &str| {
        let app = &app;
        let soql = soql.to_string();
        async move {
            let (status, body) = app
                .send(
                    app.req(reqwest::Method::GET, "tooling/query")
                        .query(&[("q", soql.as_str())]),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let body = q(&format!(
        "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId = '{object_id}'"
    ))
    .await;
    assert_eq!(body["size"], json!(1), "{body}");
    assert_eq!(body["entityTypeName"], json!("CustomField"));
    assert_eq!(body["records"][0]["DeveloperName"], json!("Priority"));
    assert_eq!(body["records"][0]["attributes"]["type"], json!("CustomField"));
    let body = q("SELECT DeveloperName FROM CustomField WHERE TableEnumOrId = 'Lead'").await;
    assert_eq!(body["records"][0]["DeveloperName"], json!("Ticket"), "{body}");
    let body = q("SELECT Id, DeveloperName FROM CustomObject WHERE DeveloperName = 'Ticket'").await;
    assert_eq!(body["records"][0]["Id"], json!(object_id), "{body}");
    let (status, e) = app
        .send(
            app.req(reqwest::Method::GET, "tooling/query")
                .query(&[("q", "SELECT Nope FROM CustomField")]),
        )
        .await;
    assert_eq!(status, 400, "{e}");

    // The schema is real: describe, REST, SOQL
    let (_, d) = app.get("sobjects/Ticket__c/describe").await;
    let priority = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!("Priority__c"))
        .cloned()
        .unwrap();
    assert_eq!(priority["restrictedPicklist"], json!(true));
    let t = app.create("Ticket__c", json!({"Name": "T-1"})).await;
    let (_, rec) = app.get(&format!("sobjects/Ticket__c/{t}")).await;
    assert_eq!(rec["Priority__c"], json!("Low"));
    let (status, _) = app
        .post(
            "sobjects/Ticket__c",
            json!({"Name": "T-2", "Priority__c": "Urgent"}),
        )
        .await;
    assert_eq!(status, 400);

    // update (PATCH Metadata), then delete
    let (status, body) = app
        .patch(
            &format!("tooling/sobjects/CustomField/{field_id}"),
            json!({"Metadata": {"label": "Urgency", "type": "Picklist", "valueSet": {"valueSetDefinition": {"value": [{"valueName": "Low"}, {"valueName": "High"}, {"valueName": "Urgent"}]}}}}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = app
        .post(
            "sobjects/Ticket__c",
            json!({"Name": "T-2", "Priority__c": "Urgent"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .delete(&format!("tooling/sobjects/CustomField/{field_id}"))
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.get(&format!("tooling/sobjects/CustomField/{field_id}")).await;
    assert_eq!(status, 404);
    let (_, rec) = app.get(&format!("sobjects/Ticket__c/{t}")).await;
    assert_eq!(rec.get("Priority__c"), None::<&Value>);
}

#[tokio::test]
async fn tooling_describe_lists_objects_and_the_fields_query_takes() {
    let app = common::spawn().await;
    let (status, global) = app.get("tooling/sobjects").await;
    assert_eq!(status, 200, "{global}");
    assert_eq!(global["encoding"], json!("UTF-8"));
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"CustomObject") && names.contains(&"CustomField"),
        "{global}"
    );
    let field = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == json!("CustomField"))
        .unwrap();
    assert_eq!(field["keyPrefix"], json!("00N"));
    assert_eq!(
        field["urls"]["describe"],
        json!(format!(
            "/services/data/{}/tooling/sobjects/CustomField/describe",
            common::V
        ))
    );

    let (status, d) = app.get("tooling/sobjects/CustomField/describe").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["name"], json!("CustomField"));
    let fields: Vec<String> = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert!(fields.contains(&"DeveloperName".to_string()), "{fields:?}");
    let id = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!("Id"))
        .unwrap();
    assert_eq!(id["type"], json!("id"));
    // Every described field can be queried.
    let soql = format!("SELECT {} FROM CustomField", fields.join(", "));
    let (status, q) = app
        .send(
            app.req(reqwest::Method::GET, "tooling/query")
                .query(&[("q", soql.as_str())]),
        )
        .await;
    assert_eq!(status, 200, "{q}");
    let (status, body) = app.get("tooling/sobjects/ApexClass/describe").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body[0]["errorCode"], json!("NOT_FOUND"));
}

#[tokio::test]
async fn tooling_query_columns_true_describes_its_columns() {
    let app = common::spawn().await;
    let (status, body) = app
        .send(app.req(reqwest::Method::GET, "tooling/query").query(&[
            ("q", "SELECT Id, DeveloperName, Length FROM CustomField"),
            ("columns", "true"),
        ]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entityName"], json!("CustomField"));
    assert_eq!(body["idSelected"], json!(true));
    let names: Vec<&str> = body["columnMetadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["columnName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Id", "DeveloperName", "Length"]);
    assert_eq!(body["columnMetadata"][2]["numberType"], json!(true));
}
