//! What a Bulk API 2.0 ingest writes is what every read gives back — REST by id, SOQL `query`,
//! `queryAll` and a Bulk query job — now that records are stored compactly: unicode, long text,
//! blanks (null), numbers, compound addresses, deleted rows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod bulk_common;
mod common;

use bulk_common::{get_text, ingest, parse_csv, wait};
use serde_json::{Value, json};

const COLUMNS: [&str; 8] = [
    "Name",
    "Description",
    "NumberOfEmployees",
    "AnnualRevenue",
    "Industry",
    "BillingStreet",
    "BillingCity",
    "BillingPostalCode",
];

/// Row `i` as CSV cells: every fourth row leaves the optional cells blank.
fn cells(i: usize) -> Vec<String> {
    let sparse = i % 4 == 3;
    let opt = |s: String| if sparse { String::new() } else { s };
    vec![
        format!("Compact {i:03} Ünïcødé 東京 🚀"),
        opt(format!(
            "Line one of {i}\nline \"two\", with a comma; {}",
            "long ".repeat(60)
        )),
        opt(format!("{}", i * 7)),
        opt(format!("{}.0", i * 1000)),
        opt(["Technology", "Energy", "Retail"][i % 3].to_string()),
        opt(format!("{i} Rue de la Paix")),
        opt("Zürich".to_string()),
        opt(format!("80{i:02}")),
    ]
}

fn csv_of(rows: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// A JSON value as a CSV cell: text as is, numbers in their JSON form, null as blank.
fn as_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn bulk_ingested_records_read_back_exactly_everywhere() {
    let app = common::spawn().await;
    let rows: Vec<Vec<String>> = (0..40).map(cells).collect();
    let (job, info) = ingest(
        &app,
        json!({"object": "Account", "operation": "insert", "lineEnding": "LF"}),
        &csv_of(&rows),
    )
    .await;
    assert_eq!(info["state"], json!("JobComplete"), "{info}");
    assert_eq!(info["numberRecordsProcessed"], json!(40));
    let ok = get_text(&app, &format!("jobs/ingest/{job}/successfulResults")).await;
    let ok = parse_csv(&ok.body, b',');
    let ids: Vec<String> = ok.iter().skip(1).map(|r| r[0].clone()).collect();
    assert_eq!(ids.len(), 40);

    // REST by id: each column as written (blank = null), and the compound address derived.
    let mut by_id = Vec::new();
    for (id, row) in ids.iter().zip(&rows) {
        let (status, rec) = app.get(&format!("sobjects/Account/{id}")).await;
        assert_eq!(status, 200, "{rec}");
        for (col, want) in COLUMNS.iter().zip(row) {
            assert_eq!(&as_cell(&rec[*col]), want, "{col} of {id}");
        }
        if row[6].is_empty() {
            assert_eq!(rec["BillingAddress"], Value::Null);
        } else {
            assert_eq!(rec["BillingAddress"]["city"], json!("Zürich"));
            assert_eq!(rec["BillingAddress"]["street"], json!(row[5]));
        }
        assert_eq!(rec["Id"], json!(id));
        assert_eq!(rec["IsDeleted"], json!(false));
        by_id.push(rec);
    }

    // SOQL: the same JSON values as REST, in insertion order without ORDER BY and sorted with it.
    let soql = format!("SELECT Id, {}, BillingAddress FROM Account", COLUMNS.join(", "));
    let (status, out) = app.query(&soql).await;
    assert_eq!(status, 200, "{out}");
    let records = out["records"].as_array().unwrap();
    assert_eq!(records.len(), 40);
    for (got, rest) in records.iter().zip(&by_id) {
        for col in COLUMNS.iter().chain(&["Id", "BillingAddress"]) {
            assert_eq!(got[*col], rest[*col], "{col}");
        }
    }
    let (_, sorted) = app
        .query("SELECT Id, Name FROM Account WHERE Name LIKE 'Compact%' ORDER BY NumberOfEmployees DESC NULLS LAST, Name LIMIT 5")
        .await;
    let names: Vec<&str> = sorted["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = [38, 37, 36, 34, 33]
        .iter()
        .map(|&i| cells(i)[0].clone())
        .collect();
    assert_eq!(names, expected);

    // Delete one, change another: queryAll sees the recycle bin, query does not.
    let (status, _) = app.delete(&format!("sobjects/Account/{}", ids[0])).await;
    assert_eq!(status, 204);
    let (status, _) = app
        .patch(
            &format!("sobjects/Account/{}", ids[1]),
            json!({"Description": null, "NumberOfEmployees": 5}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, live) = app
        .query("SELECT COUNT() FROM Account WHERE Name LIKE 'Compact%'")
        .await;
    assert_eq!(live["totalSize"], json!(39));
    let (_, all) = app
        .get(&format!(
            "queryAll?q=SELECT+Id,IsDeleted+FROM+Account+WHERE+Id='{}'",
            ids[0]
        ))
        .await;
    assert_eq!(all["records"][0]["IsDeleted"], json!(true), "{all}");
    let (_, changed) = app.get(&format!("sobjects/Account/{}", ids[1])).await;
    assert_eq!(changed["Description"], Value::Null);
    assert_eq!(changed["NumberOfEmployees"], json!(5));
    assert_eq!(changed["Name"], json!(rows[1][0]));

    // A Bulk query job: the CSV cells are the uploaded cells.
    let (status, qjob) = app
        .post(
            "jobs/query",
            json!({"operation": "query", "query": format!("SELECT {} FROM Account", COLUMNS.join(", "))}),
        )
        .await;
    assert_eq!(status, 200, "{qjob}");
    let qid = qjob["id"].as_str().unwrap();
    let done = wait(&app, "query", qid).await;
    assert_eq!(done["state"], json!("JobComplete"), "{done}");
    let page = get_text(&app, &format!("jobs/query/{qid}/results")).await;
    let got = parse_csv(&page.body, b',');
    assert_eq!(got[0], COLUMNS);
    let mut want: Vec<Vec<String>> = rows.iter().skip(1).cloned().collect();
    want[0][1] = String::new();
    want[0][2] = "5".into();
    assert_eq!(&got[1..], &want[..]);
}
