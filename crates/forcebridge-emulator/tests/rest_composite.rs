//! Composite over real HTTP: references between subrequests, `allOrNone` rollback with
//! `PROCESSING_HALTED`, dependent subrequests halted without it, the 25-subrequest cap, sObject
//! Tree, Composite Batch and Composite Graph.

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

#[tokio::test]
async fn a_tree_creates_records_with_their_children_level_by_level() {
    let app = common::spawn().await;
    let (status, body) = app
        .post(
            "composite/tree/Account",
            json!({"records": [
                {"attributes": {"type": "Account", "referenceId": "ref1"}, "Name": "Tree A",
                 "Contacts": {"records": [
                     {"attributes": {"type": "Contact", "referenceId": "ref2"}, "LastName": "One"},
                     {"attributes": {"type": "Contact", "referenceId": "ref3"}, "LastName": "Two"}
                 ]}},
                {"attributes": {"type": "Account", "referenceId": "ref4"}, "Name": "Tree B"}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["hasErrors"], json!(false));
    let refs: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["referenceId"].as_str().unwrap())
        .collect();
    // Roots first, then the second level.
    assert_eq!(refs, ["ref1", "ref4", "ref2", "ref3"]);
    let account = body["results"][0]["id"].as_str().unwrap().to_string();
    assert!(account.starts_with("001"));
    let (_, q) = app
        .query(&format!(
            "SELECT LastName FROM Contact WHERE AccountId = '{account}' ORDER BY LastName"
        ))
        .await;
    assert_eq!(q["totalSize"], json!(2), "{q}");

    // One bad record: nothing is kept, and the answer names only that record.
    let (status, body) = app
        .post(
            "composite/tree/Account",
            json!({"records": [
                {"attributes": {"type": "Account", "referenceId": "ok"}, "Name": "Kept?",
                 "Contacts": {"records": [
                     {"attributes": {"type": "Contact", "referenceId": "bad"}, "LastName": "X", "NoSuchField__c": 1}
                 ]}}
            ]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["hasErrors"], json!(true));
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["referenceId"], json!("bad"));
    assert_eq!(
        body["results"][0]["errors"][0]["statusCode"],
        json!("INVALID_FIELD")
    );
    let (_, q) = app.query("SELECT Id FROM Account WHERE Name = 'Kept?'").await;
    assert_eq!(q["totalSize"], json!(0), "all or none");

    // More than 200 records, or no reference id, fail the whole request.
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Account", "referenceId": format!("r{i}")}, "Name": "x"}))
        .collect();
    let (status, _) = app
        .post("composite/tree/Account", json!({ "records": many }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post("composite/tree/Account", json!({"records": [{"Name": "no ref"}]}))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_batch_runs_independent_subrequests_and_halts_on_request() {
    let app = common::spawn().await;
    let id = app.create("Account", json!({"Name": "Batched"})).await;
    let (status, body) = app
        .post(
            "composite/batch",
            json!({"batchRequests": [
                {"method": "PATCH", "url": format!("{V}/sobjects/Account/{id}"), "richInput": {"Name": "Renamed"}},
                {"method": "GET", "url": format!("{V}/sobjects/Account/{id}?fields=Name")},
                {"method": "POST", "url": format!("{V}/sobjects/Account"), "richInput": {"NoSuch__c": 1}},
                {"method": "POST", "url": format!("/services/data/{V}/sobjects/Account"), "richInput": {"Name": "After"}}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["hasErrors"], json!(true));
    let r = body["results"].as_array().unwrap();
    assert_eq!(r[0]["statusCode"], json!(204));
    assert_eq!(r[0]["result"], Value::Null);
    assert_eq!(r[1]["statusCode"], json!(200));
    assert_eq!(r[1]["result"]["Name"], json!("Renamed"));
    assert_eq!(r[2]["statusCode"], json!(400));
    assert_eq!(r[2]["result"][0]["errorCode"], json!("INVALID_FIELD"));
    assert_eq!(
        r[3]["statusCode"],
        json!(201),
        "independent of the failure before it"
    );

    let (status, body) = app
        .post(
            "composite/batch",
            json!({"haltOnError": true, "batchRequests": [
                {"method": "GET", "url": format!("{V}/sobjects/Account/001000000000000AAA")},
                {"method": "GET", "url": format!("{V}/limits")}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][1]["statusCode"], json!(412));
    assert_eq!(
        body["results"][1]["result"][0]["errorCode"],
        json!("BATCH_PROCESSING_HALTED")
    );

    let many: Vec<Value> = (0..26)
        .map(|_| json!({"method": "GET", "url": format!("{V}/limits")}))
        .collect();
    let (status, _) = app
        .post("composite/batch", json!({ "batchRequests": many }))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .post(
            "composite/batch",
            json!({"batchRequests": [{"method": "FETCH", "url": "x"}]}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn each_graph_is_all_or_none_on_its_own() {
    let app = common::spawn().await;
    let node = |reference: &str, body: Value| json!({"method": "POST", "url": format!("/services/data/{V}/sobjects/Account"), "referenceId": reference, "body": body});
    let (status, body) = app
        .post(
            "composite/graph",
            json!({"graphs": [
                {"graphId": "good", "compositeRequest": [
                    node("a", json!({"Name": "Graph good"})),
                    {"method": "POST", "url": format!("/services/data/{V}/sobjects/Contact"), "referenceId": "c",
                     "body": {"LastName": "Child", "AccountId": "@{a.id}"}}
                ]},
                {"graphId": "bad", "compositeRequest": [
                    node("b", json!({"Name": "Graph bad"})),
                    node("b2", json!({"NoSuch__c": 1}))
                ]}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let graphs = body["graphs"].as_array().unwrap();
    assert_eq!(graphs[0]["graphId"], json!("good"));
    assert_eq!(graphs[0]["isSuccessful"], json!(true));
    assert_eq!(
        graphs[0]["graphResponse"]["compositeResponse"][1]["httpStatusCode"],
        json!(201)
    );
    assert_eq!(graphs[1]["isSuccessful"], json!(false));
    let (_, q) = app.query("SELECT Name FROM Account ORDER BY Name").await;
    let names: Vec<&str> = q["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Graph good"], "the failed graph left nothing");
    let (status, _) = app
        .post("composite/graph", json!({"graphs": [{"compositeRequest": []}]}))
        .await;
    assert_eq!(status, 400);
}
