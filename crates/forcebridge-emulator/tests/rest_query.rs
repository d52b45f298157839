//! SOQL over REST: `query`, `queryMore` through `nextRecordsUrl` across several pages with
//! `Sforce-Query-Options: batchSize`, `queryAll` seeing deleted rows, and query errors as 400s.

mod common;

use common::*;
use serde_json::{Value, json};

async fn seed_leads(app: &App, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let records: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{i:04}"), "Company": "C"}))
            .collect();
        let (status, body) = app.post("composite/sobjects", json!({"records": records})).await;
        assert_eq!(status, 200);
        assert!(
            body.as_array()
                .expect("results")
                .iter()
                .all(|r| r["success"] == json!(true))
        );
    }
}

#[tokio::test]
async fn query_more_pages_through_a_cursor() {
    let app = spawn().await;
    seed_leads(&app, 450).await;
    let (status, first) = app
        .send(
            app.req(reqwest::Method::GET, "query")
                .header("Sforce-Query-Options", "batchSize=200")
                .query(&[("q", "SELECT Id, LastName FROM Lead ORDER BY LastName")]),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["totalSize"], json!(450));
    assert_eq!(first["done"], json!(false));
    assert_eq!(first["records"].as_array().unwrap().len(), 200);
    assert_eq!(first["records"][0]["LastName"], json!("L0000"));
    assert_eq!(first["records"][0]["attributes"]["type"], json!("Lead"));
    let next = first["nextRecordsUrl"].as_str().unwrap().to_string();
    assert!(next.starts_with("/services/data/v66.0/query/01g"), "{next}");
    assert!(next.ends_with("-200"), "{next}");

    let (status, second) = app.get(&next).await;
    assert_eq!(status, 200);
    assert_eq!(second["records"].as_array().unwrap().len(), 200);
    assert_eq!(second["records"][0]["LastName"], json!("L0200"));
    assert_eq!(second["totalSize"], json!(450));
    let next = second["nextRecordsUrl"].as_str().unwrap().to_string();
    assert!(next.ends_with("-400"));
    let (_, third) = app.get(&next).await;
    assert_eq!(third["done"], json!(true));
    assert!(third.get("nextRecordsUrl").is_none());
    assert_eq!(third["records"].as_array().unwrap().len(), 50);
    assert_eq!(third["records"][49]["LastName"], json!("L0449"));

    // Without the header the batch is 2000: one page.
    let (_, all) = app.query("SELECT Id FROM Lead").await;
    assert_eq!(all["done"], json!(true));
    assert_eq!(all["records"].as_array().unwrap().len(), 450);

    let resp = app.get("query/01g5g0000000000AAA-200").await;
    assert_error(&resp, 400, "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn query_all_sees_deleted_records() {
    let app = spawn().await;
    let keep = app.create("Account", json!({"Name": "Keep"})).await;
    let gone = app.create("Account", json!({"Name": "Gone"})).await;
    let (status, _) = app.delete(&format!("sobjects/Account/{gone}")).await;
    assert_eq!(status, 204);
    let (_, live) = app.query("SELECT Id, Name FROM Account").await;
    assert_eq!(live["totalSize"], json!(1));
    assert_eq!(live["records"][0]["Id"], json!(keep));
    let (status, all) = app
        .send(
            app.req(reqwest::Method::GET, "queryAll")
                .query(&[("q", "SELECT Id, IsDeleted FROM Account ORDER BY Name")]),
        )
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["totalSize"], json!(2));
    assert_eq!(all["records"][0]["Id"], json!(gone));
    assert_eq!(all["records"][0]["IsDeleted"], json!(true));
}

#[tokio::test]
async fn relationship_queries_see_the_schema() {
    let app = spawn().await;
    let account = app.create("Account", json!({"Name": "Acme"})).await;
    app.create("Contact", json!({"LastName": "Doe", "AccountId": account}))
        .await;
    let (status, body) = app
        .query("SELECT Name, Account.Name, Owner.Username FROM Contact WHERE Account.Name = 'Acme'")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Account"]["Name"], json!("Acme"));
    assert_eq!(
        body["records"][0]["Owner"]["Username"],
        json!(forcebridge_emulator::config::DEFAULT_USERNAME)
    );
    let (status, body) = app
        .query("SELECT Name, (SELECT LastName FROM Contacts) FROM Account")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["records"][0]["Contacts"]["records"][0]["LastName"],
        json!("Doe")
    );
}

#[tokio::test]
async fn query_errors_are_400s() {
    let app = spawn().await;
    let resp = app.query("SELEC Id FROM Lead").await;
    assert_error(&resp, 400, "MALFORMED_QUERY");
    let resp = app.query("SELECT Nope FROM Lead").await;
    assert_error(&resp, 400, "INVALID_FIELD");
    let resp = app.query("SELECT Id FROM Nope__c").await;
    assert_error(&resp, 400, "INVALID_TYPE");
    let resp = app.get("query").await;
    assert_error(&resp, 400, "MALFORMED_QUERY");
}

#[tokio::test]
async fn cursors_belong_to_their_emulator() {
    // Two emulators in one process: a locator one of them handed out means nothing to the other
    // (cursors live in each emulator's own runtime state).
    let a = spawn().await;
    let b = spawn().await;
    seed_leads(&a, 300).await;
    seed_leads(&b, 300).await;
    let (status, first) = a
        .send(
            a.req(reqwest::Method::GET, "query")
                .header("Sforce-Query-Options", "batchSize=200")
                .query(&[("q", "SELECT Id FROM Lead")]),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let next = first["nextRecordsUrl"].as_str().expect("a cursor").to_string();
    assert_error(&b.get(&next).await, 400, "INVALID_QUERY_LOCATOR");
    let (status, rest) = a.get(&next).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["records"].as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn columns_true_describes_the_columns_of_a_query() {
    let app = spawn().await;
    let columns = |soql: &'static str| {
        let app = &app;
        async move {
            app.send(
                app.req(reqwest::Method::GET, "query")
                    .query(&[("q", soql), ("columns", "true")]),
            )
            .await
        }
    };
    let (status, body) = columns("SELECT Id, Name, NumberOfEmployees FROM Account").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["entityName"], json!("Account"));
    assert_eq!(body["keyPrefix"], json!("001"));
    assert_eq!(body["idSelected"], json!(true));
    assert_eq!(body["groupBy"], json!(false));
    assert!(body.get("records").is_none(), "metadata, not rows: {body}");
    let cols = body["columnMetadata"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    assert_eq!(cols[1]["columnName"], json!("Name"));
    assert_eq!(cols[1]["displayName"], json!("Name"));
    assert_eq!(cols[1]["textType"], json!(true));
    assert_eq!(cols[2]["numberType"], json!(true));
    assert_eq!(cols[2]["apexType"], json!("Integer"));
    assert_eq!(cols[0]["joinColumns"], json!([]));

    // A parent path is the relationship with the field in its joinColumns.
    let (status, body) = columns("SELECT LastName, Account.Name FROM Contact").await;
    assert_eq!(status, 200, "{body}");
    let rel = &body["columnMetadata"][1];
    assert_eq!(rel["columnName"], json!("Account"));
    assert_eq!(rel["aggregate"], json!(false));
    assert_eq!(rel["joinColumns"][0]["columnName"], json!("Name"));
    assert_eq!(rel["joinColumns"][0]["displayName"], json!("Account.Name"));
    assert_eq!(body["idSelected"], json!(false));

    // A subquery is an aggregate column of the child relationship.
    let (status, body) = columns("SELECT Name, (SELECT LastName FROM Contacts) FROM Account").await;
    assert_eq!(status, 200, "{body}");
    let sub = &body["columnMetadata"][1];
    assert_eq!(sub["columnName"], json!("Contacts"));
    assert_eq!(sub["aggregate"], json!(true));
    assert_eq!(sub["joinColumns"][0]["columnName"], json!("LastName"));

    // Aggregates are named by alias or exprN and displayed as written.
    let (status, body) = columns("SELECT COUNT(Id), MAX(Name) top FROM Account").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["groupBy"], json!(true));
    let cols = body["columnMetadata"].as_array().unwrap();
    assert_eq!(cols[0]["columnName"], json!("expr0"));
    assert_eq!(cols[0]["displayName"], json!("COUNT(Id)"));
    assert_eq!(cols[0]["aggregate"], json!(true));
    assert_eq!(cols[1]["columnName"], json!("top"));

    // A query the API refuses is refused the same way.
    let (status, body) = columns("SELECT NoSuch__c FROM Account").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body[0]["errorCode"], json!("INVALID_FIELD"));
}
