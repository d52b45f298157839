//! Versions, resources, global and per-object describe, basic information, limits, and the 404s
//! for unknown versions and objects — over real HTTP with a password-grant token.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn versions_and_resources() {
    let app = spawn().await;
    let (status, versions) = app.get("/services/data").await;
    assert_eq!(status, 200);
    let list = versions.as_array().unwrap();
    assert_eq!(
        list[0],
        json!({"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"})
    );
    let last = list.last().unwrap();
    assert_eq!(
        last["version"],
        json!(forcebridge_emulator::config::LATEST_API_VERSION)
    );
    assert_eq!(last["label"], json!("Spring '26"));

    let (status, res) = app.get("").await;
    assert_eq!(status, 200);
    assert_eq!(res["sobjects"], json!("/services/data/v66.0/sobjects"));
    assert_eq!(res["query"], json!("/services/data/v66.0/query"));
    assert!(res["identity"].as_str().unwrap().contains("/id/00D"));

    let resp = app.get("/services/data/v30.0/sobjects").await;
    assert_error(&resp, 404, "NOT_FOUND");
    assert_eq!(
        resp.1[0]["message"],
        json!("The requested resource does not exist")
    );
}

#[tokio::test]
async fn calls_without_a_session_are_refused() {
    let app = spawn().await;
    if app.token.is_none() {
        return;
    }
    let resp = app.send(app.client.get(app.url("sobjects/Account"))).await;
    assert_error(&resp, 401, "INVALID_SESSION_ID");
}

#[tokio::test]
async fn global_describe_lists_standard_objects() {
    let app = spawn().await;
    let (status, body) = app.get("sobjects").await;
    assert_eq!(status, 200);
    assert_eq!(body["encoding"], json!("UTF-8"));
    assert_eq!(body["maxBatchSize"], json!(200));
    let objects = body["sobjects"].as_array().unwrap();
    let prefixes: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_string(),
                o["keyPrefix"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (name, prefix) in [
        ("Account", "001"),
        ("Contact", "003"),
        ("Lead", "00Q"),
        ("Case", "500"),
        ("Task", "00T"),
        ("Opportunity", "006"),
        ("User", "005"),
        ("Profile", "00e"),
        ("Organization", "00D"),
    ] {
        assert!(
            prefixes.contains(&(name.to_string(), prefix.to_string())),
            "{name} {prefix}"
        );
    }
    let lead = objects.iter().find(|o| o["name"] == "Lead").unwrap();
    for key in [
        "createable",
        "queryable",
        "labelPlural",
        "urls",
        "custom",
        "layoutable",
        "mergeable",
    ] {
        assert!(lead.get(key).is_some(), "{key}");
    }
    assert_eq!(
        lead["urls"]["describe"],
        json!("/services/data/v66.0/sobjects/Lead/describe")
    );
}

fn field<'a>(describe: &'a Value, name: &str) -> &'a Value {
    describe["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("field {name}"))
}

#[tokio::test]
async fn lead_describe_has_salesforce_metadata() {
    let app = spawn().await;
    let (status, d) = app.get("sobjects/Lead/describe").await;
    assert_eq!(status, 200);
    assert_eq!(d["name"], json!("Lead"));
    assert_eq!(d["keyPrefix"], json!("00Q"));
    let last = field(&d, "LastName");
    assert_eq!(last["type"], json!("string"));
    assert_eq!(last["length"], json!(80));
    assert_eq!(last["byteLength"], json!(240));
    assert_eq!(last["nillable"], json!(false));
    assert_eq!(last["soapType"], json!("xsd:string"));
    assert_eq!(field(&d, "Company")["length"], json!(255));
    assert_eq!(field(&d, "Email")["type"], json!("email"));
    assert_eq!(field(&d, "Email")["length"], json!(80));
    assert_eq!(field(&d, "Email")["idLookup"], json!(true));
    let name = field(&d, "Name");
    assert_eq!(name["createable"], json!(false));
    assert_eq!(name["nameField"], json!(true));
    let status_field = field(&d, "Status");
    assert_eq!(status_field["type"], json!("picklist"));
    let values: Vec<&str> = status_field["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "Open - Not Contacted",
            "Working - Contacted",
            "Closed - Converted",
            "Closed - Not Converted"
        ]
    );
    assert_eq!(status_field["picklistValues"][0]["defaultValue"], json!(true));
    assert_eq!(status_field["defaultedOnCreate"], json!(true));
    let owner = field(&d, "OwnerId");
    assert_eq!(owner["type"], json!("reference"));
    assert_eq!(owner["referenceTo"], json!(["Group", "User"]));
    assert_eq!(owner["polymorphicForeignKey"], json!(true));
    assert_eq!(owner["relationshipName"], json!("Owner"));
    let created = field(&d, "CreatedById");
    assert_eq!(created["referenceTo"], json!(["User"]));
    assert_eq!(created["createable"], json!(false));
    for key in [
        "aggregatable",
        "calculated",
        "defaultedOnCreate",
        "externalId",
        "filterable",
        "groupable",
        "precision",
        "scale",
        "digits",
        "restrictedPicklist",
        "sortable",
        "unique",
        "updateable",
    ] {
        assert!(last.get(key).is_some(), "{key}");
    }
    assert_eq!(d["recordTypeInfos"][0]["master"], json!(true));
    let tasks = d["childRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relationshipName"] == "Tasks")
        .unwrap();
    assert_eq!(tasks["childSObject"], json!("Task"));
    assert_eq!(tasks["field"], json!("WhoId"));
}

#[tokio::test]
async fn relationships_and_required_fields_of_other_objects() {
    let app = spawn().await;
    let (_, contact) = app.get("sobjects/Contact/describe").await;
    let account_id = field(&contact, "AccountId");
    assert_eq!(account_id["referenceTo"], json!(["Account"]));
    assert_eq!(account_id["relationshipName"], json!("Account"));
    let (_, account) = app.get("sobjects/Account/describe").await;
    let rel = account["childRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relationshipName"] == "Contacts")
        .unwrap();
    assert_eq!(rel["childSObject"], json!("Contact"));
    assert_eq!(rel["field"], json!("AccountId"));
    assert_eq!(field(&account, "Name")["length"], json!(255));
    assert_eq!(field(&account, "AnnualRevenue")["type"], json!("currency"));
    let (_, opp) = app.get("sobjects/Opportunity/describe").await;
    for f in ["Name", "StageName", "CloseDate"] {
        assert_eq!(field(&opp, f)["nillable"], json!(false), "{f}");
    }
    let (_, task) = app.get("sobjects/Task/describe").await;
    assert_eq!(field(&task, "WhoId")["referenceTo"], json!(["Contact", "Lead"]));
    assert_eq!(field(&task, "WhatId")["relationshipName"], json!("What"));
    let (_, user) = app.get("sobjects/User/describe").await;
    assert_eq!(field(&user, "ProfileId")["referenceTo"], json!(["Profile"]));
    let (_, case) = app.get("sobjects/Case/describe").await;
    let origins: Vec<&str> = field(&case, "Origin")["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["Phone", "Email", "Web"]);
}

#[tokio::test]
async fn basic_info_lists_recent_items_and_unknown_objects_are_404() {
    let app = spawn().await;
    let id = app.create("Account", json!({"Name": "Acme"})).await;
    let (status, body) = app.get("sobjects/Account").await;
    assert_eq!(status, 200);
    assert_eq!(body["objectDescribe"]["name"], json!("Account"));
    assert_eq!(body["recentItems"][0]["Id"], json!(id));
    assert_eq!(body["recentItems"][0]["Name"], json!("Acme"));

    let resp = app.get("sobjects/Nope__c/describe").await;
    assert_error(&resp, 404, "NOT_FOUND");
    let resp = app.post("sobjects/Nope__c", json!({"Name": "x"})).await;
    assert_error(&resp, 404, "NOT_FOUND");
}

#[tokio::test]
async fn limits_report_daily_api_requests() {
    let app = spawn().await;
    let (status, body) = app.get("limits").await;
    assert_eq!(status, 200);
    let max = body["DailyApiRequests"]["Max"].as_u64().unwrap();
    let remaining = body["DailyApiRequests"]["Remaining"].as_u64().unwrap();
    assert_eq!(max, 100_000);
    assert!(remaining < max, "this call itself was counted");
    for key in [
        "DailyBulkApiBatches",
        "DailyBulkV2QueryJobs",
        "ConcurrentAsyncGetReportInstances",
        "DataStorageMB",
    ] {
        assert!(body[key]["Max"].is_u64(), "{key}");
        assert!(body[key]["Remaining"].is_u64(), "{key}");
    }
}

#[tokio::test]
async fn urls_follow_salesforce_per_object() {
    let app = spawn().await;
    let (_, global) = app.get("sobjects").await;
    let entry = |name: &str| {
        global["sobjects"]
            .as_array()
            .expect("sobjects")
            .iter()
            .find(|o| o["name"] == name)
            .cloned()
            .expect("object")
    };
    let org_urls = entry("Organization")["urls"].clone();
    let keys: Vec<&String> = org_urls.as_object().expect("urls").keys().collect();
    assert_eq!(keys, ["rowTemplate", "describe", "sobject"]);
    assert!(entry("Case")["urls"]["caseArticleSuggestions"].is_string());
    assert!(entry("Account")["urls"].get("defaultValues").is_none());
    let (_, contact) = app.get("sobjects/Contact/describe").await;
    assert_eq!(
        contact["urls"]["uiNewRecord"],
        json!(format!("{}/003/e", app.base))
    );
    assert_eq!(
        contact["supportedScopes"][0],
        json!({"label": "All contacts", "name": "everything"})
    );
    assert_eq!(field(&contact, "LastName")["extraTypeInfo"], json!("personname"));
    assert_eq!(field(&contact, "LastName")["idLookup"], json!(false));
    let (_, opp) = app.get("sobjects/Opportunity/describe").await;
    assert_eq!(field(&opp, "Name")["idLookup"], json!(true));
}

#[tokio::test]
async fn record_counts_and_events() {
    let app = spawn().await;
    app.create("Account", json!({"Name": "A"})).await;
    let gone = app.create("Account", json!({"Name": "B"})).await;
    app.delete(&format!("sobjects/Account/{gone}")).await;
    let contact = app.create("Contact", json!({"LastName": "Doe"})).await;
    app.create(
        "Event",
        json!({"Subject": "Meeting", "WhoId": contact, "StartDateTime": "2026-11-21T10:00:00Z",
               "EndDateTime": "2026-11-21T11:00:00Z"}),
    )
    .await;
    let (status, body) = app.get("limits/recordCount?sObjects=Account,Lead").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"sObjects": [{"count": 1, "name": "Account"}, {"count": 0, "name": "Lead"}]})
    );
    let (status, body) = app.query("SELECT Subject, Who.Name FROM Event").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Who"]["Name"], json!("Doe"));
}

#[tokio::test]
async fn list_views_list_and_run() {
    let app = common::spawn().await;
    for name in ["Beta", "Alpha", "Gamma"] {
        app.create("Account", json!({ "Name": name })).await;
    }
    let (status, body) = app.get("sobjects/Account/listviews").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sobjectType"], json!("Account"));
    assert_eq!(body["done"], json!(true));
    let views = body["listviews"].as_array().unwrap();
    assert_eq!(body["size"], json!(views.len()));
    let all = views
        .iter()
        .find(|v| v["developerName"] == json!("AllAccounts"))
        .unwrap_or_else(|| panic!("AllAccounts in {body}"));
    assert_eq!(all["label"], json!("All Accounts"));
    assert!(all["id"].as_str().unwrap().starts_with("00B"));
    let results_url = all["resultsUrl"].as_str().unwrap();
    assert!(results_url.ends_with("/results"));

    let (status, r) = app.get(results_url).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["developerName"], json!("AllAccounts"));
    assert_eq!(r["columns"][0]["fieldNameOrPath"], json!("Name"));
    assert_eq!(r["columns"][0]["sortDirection"], json!("ascending"));
    assert_eq!(r["size"], json!(3));
    let names: Vec<&str> = r["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rec| rec["columns"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha", "Beta", "Gamma"]);
    assert_eq!(r["records"][0]["columns"][1]["fieldNameOrPath"], json!("Id"));

    let (status, r) = app.get(&format!("{results_url}?limit=1&offset=1")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["records"][0]["columns"][0]["value"], json!("Beta"));
    let (status, _) = app.get(&format!("{results_url}?limit=0")).await;
    assert_eq!(status, 400);
    let (status, body) = app
        .get("sobjects/Account/listviews/00B000000000000AAA/results")
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.get("sobjects/Nope__c/listviews").await;
    assert_eq!(status, 404);
}
