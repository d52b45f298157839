//! Assigning a permission set to a user who already has it answers `DUPLICATE_VALUE` with
//! Salesforce's message, through REST, Collections and Composite; after the assignment is
//! deleted, assigning again works.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use forcebridge_emulator::bootstrap::INTEGRATION_USERNAME;
use serde_json::{Value, json};

async fn ids(app: &common::App) -> (String, String) {
    let set = app
        .create(
            "PermissionSet",
            json!({"Name": "Extra_Access", "Label": "Extra Access"}),
        )
        .await;
    let (_, user) = app
        .query(&format!(
            "SELECT Id FROM User WHERE Username = '{INTEGRATION_USERNAME}'"
        ))
        .await;
    let user = user["records"][0]["Id"].as_str().unwrap().to_string();
    (set, user)
}

fn message(user: &str, set: &str) -> Value {
    json!(format!(
        "Duplicate PermissionSetAssignment. Assignee: {user}; Permission Set: {set}"
    ))
}

#[tokio::test]
async fn second_assignment_is_a_duplicate_value() {
    let app = common::spawn().await;
    let (set, user) = ids(&app).await;
    let body = json!({"PermissionSetId": set, "AssigneeId": user});
    let first = app.create("PermissionSetAssignment", body.clone()).await;

    let (status, err) = app.post("sobjects/PermissionSetAssignment", body.clone()).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err[0]["errorCode"], json!("DUPLICATE_VALUE"));
    assert_eq!(err[0]["message"], message(&user, &set));
    assert_eq!(err[0]["fields"], json!([]));

    // Collections: per record, the other record of the call is still saved.
    let mut dup = body.clone();
    dup["attributes"] = json!({"type": "PermissionSetAssignment"});
    let (status, res) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [dup]}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res[0]["success"], json!(false));
    assert_eq!(res[0]["errors"][0]["statusCode"], json!("DUPLICATE_VALUE"));
    assert_eq!(res[0]["errors"][0]["message"], message(&user, &set));

    // Composite.
    let (status, res) = app
        .post(
            "composite",
            json!({"compositeRequest": [{"method": "POST", "referenceId": "psa",
                "url": "/services/data/v66.0/sobjects/PermissionSetAssignment", "body": body.clone()}]}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let r = &res["compositeResponse"][0];
    assert_eq!(r["httpStatusCode"], json!(400), "{r}");
    assert_eq!(r["body"][0]["errorCode"], json!("DUPLICATE_VALUE"));

    // Still exactly one assignment; once it is removed, the set can be assigned again.
    let (_, q) = app
        .query(&format!(
            "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = '{set}'"
        ))
        .await;
    assert_eq!(q["totalSize"], json!(1), "{q}");
    let (status, _) = app
        .delete(&format!("sobjects/PermissionSetAssignment/{first}"))
        .await;
    assert_eq!(status, 204);
    app.create("PermissionSetAssignment", body).await;
}
