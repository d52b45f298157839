//! The Instruqt app's custom objects (seed 000: `Instruqt_Track__c` and `Instruqt_Play__c`, with
//! exactly the fields and types of its documentation table) created through the Metadata API,
//! then written with lookups to Lead, Contact and the track, and read back through the
//! relationships both ways.

mod common;
mod metadata_common;

use metadata_common::{assert_all_success, call, custom_object, field, fields};
use serde_json::{Value, json};

#[tokio::test]
async fn instruqt_objects_from_the_seed() {
    let app = common::spawn().await;
    let track = custom_object(
        "Instruqt_Track__c",
        "Instruqt Track",
        "Instruqt Tracks",
        "Title",
        &fields(&[field(
            "Track_Slug__c",
            "Track Slug",
            "Text",
            "<length>255</length>",
        )]),
    );
    let (status, body) = call(&app, &track).await;
    assert_all_success(status, &body);
    let lookup = |to: &str, rel: &str| {
        format!("<referenceTo>{to}</referenceTo><relationshipName>{rel}</relationshipName>")
    };
    let play = custom_object(
        "Instruqt_Play__c",
        "Instruqt Play",
        "Instruqt Plays",
        "Description",
        &fields(&[
            field(
                "Contact__c",
                "Contact",
                "Lookup",
                &lookup("Contact", "Instruqt_Plays"),
            ),
            field("Feedback__c", "Feedback", "TextArea", ""),
            field(
                "Instruqt_Track__c",
                "Instruqt Track",
                "Lookup",
                &lookup("Instruqt_Track__c", "Plays"),
            ),
            field("Invitation_Link__c", "Invitation Link", "Url", ""),
            field("Lead__c", "Lead", "Lookup", &lookup("Lead", "Instruqt_Plays")),
            field(
                "Participant_ID__c",
                "Participant ID",
                "Text",
                "<length>15</length>",
            ),
            field(
                "Score__c",
                "Score",
                "Number",
                "<precision>1</precision><scale>0</scale>",
            ),
            field("Time_Spent__c", "Time Spent", "Text", "<length>15</length>"),
            field(
                "Time_Spent_Seconds__c",
                "Time Spent Seconds",
                "Number",
                "<precision>10</precision><scale>0</scale>",
            ),
        ]),
    );
    let (status, body) = call(&app, &play).await;
    assert_all_success(status, &body);

    // The documented table, checked against describe.
    let (_, d) = app.get("sobjects/Instruqt_Play__c/describe").await;
    let by_name = |name: &str| -> Value {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {d}"))
    };
    for (name, label, kind, len, to) in [
        ("Contact__c", "Contact", "reference", 18, Some("Contact")),
        ("CreatedById", "Created By ID", "reference", 18, Some("User")),
        ("Name", "Description", "string", 80, None),
        ("Feedback__c", "Feedback", "textarea", 255, None),
        (
            "Instruqt_Track__c",
            "Instruqt Track",
            "reference",
            18,
            Some("Instruqt_Track__c"),
        ),
        ("Invitation_Link__c", "Invitation Link", "url", 255, None),
        (
            "LastModifiedById",
            "Last Modified By ID",
            "reference",
            18,
            Some("User"),
        ),
        ("Lead__c", "Lead", "reference", 18, Some("Lead")),
        ("Participant_ID__c", "Participant ID", "string", 15, None),
        ("Time_Spent__c", "Time Spent", "string", 15, None),
    ] {
        let f = by_name(name);
        assert_eq!(f["label"], json!(label), "{name}");
        assert_eq!(f["type"], json!(kind), "{name}");
        assert_eq!(f["length"], json!(len), "{name}");
        if let Some(to) = to {
            assert!(
                f["referenceTo"].as_array().unwrap().contains(&json!(to)),
                "{name}: {f}"
            );
        }
    }
    let owner = by_name("OwnerId");
    assert_eq!(
        owner["referenceTo"],
        json!(["Group", "User"]),
        "Lookup(User,Group)"
    );
    assert_eq!(by_name("Score__c")["precision"], json!(1));
    assert_eq!(by_name("Time_Spent_Seconds__c")["precision"], json!(10));
    let (_, td) = app.get("sobjects/Instruqt_Track__c/describe").await;
    let title = td["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!("Name"))
        .unwrap()
        .clone();
    assert_eq!(title["label"], json!("Title"));
    assert_eq!(title["length"], json!(80));
    assert_ne!(td["keyPrefix"], d["keyPrefix"]);

    // Records with lookups
    let lead = app
        .create(
            "Lead",
            json!({"LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"}),
        )
        .await;
    let contact = app.create("Contact", json!({"LastName": "Turing"})).await;
    let track_id = app
        .create(
            "Instruqt_Track__c",
            json!({"Name": "Intro to Kubernetes", "Track_Slug__c": "intro-k8s"}),
        )
        .await;
    app.create(
        "Instruqt_Play__c",
        json!({
            "Name": "Play 1", "Instruqt_Track__c": track_id, "Lead__c": lead, "Score__c": 9,
            "Time_Spent__c": "00:12:30", "Time_Spent_Seconds__c": 750, "Participant_ID__c": "p-123",
            "Invitation_Link__c": "https://play.instruqt.com/invite/abc", "Feedback__c": "Great",
        }),
    )
    .await;
    app.create(
        "Instruqt_Play__c",
        json!({"Name": "Play 2", "Instruqt_Track__c": track_id, "Contact__c": contact, "Score__c": 7}),
    )
    .await;

    let (status, q) = app
        .query(
            "SELECT Name, Score__c, Instruqt_Track__r.Name, Instruqt_Track__r.Track_Slug__c, Lead__r.Email, \
             Contact__r.LastName FROM Instruqt_Play__c ORDER BY Name",
        )
        .await;
    assert_eq!(status, 200, "{q}");
    let rows = q["records"].as_array().unwrap();
    assert_eq!(rows[0]["Instruqt_Track__r"]["Track_Slug__c"], json!("intro-k8s"));
    assert_eq!(rows[0]["Lead__r"]["Email"], json!("grace@example.com"));
    assert_eq!(rows[0]["Contact__r"], Value::Null);
    assert_eq!(rows[1]["Contact__r"]["LastName"], json!("Turing"));
    assert_eq!(rows[0]["Score__c"], json!(9.0));

    let (_, q) = app
        .query("SELECT Name, (SELECT Name, Score__c FROM Plays__r ORDER BY Name) FROM Instruqt_Track__c")
        .await;
    let plays = &q["records"][0]["Plays__r"];
    assert_eq!(plays["totalSize"], json!(2), "{q}");
    assert_eq!(plays["records"][1]["Name"], json!("Play 2"));
    let (_, q) = app
        .query("SELECT LastName, (SELECT Name FROM Instruqt_Plays__r) FROM Lead WHERE LastName = 'Hopper'")
        .await;
    assert_eq!(
        q["records"][0]["Instruqt_Plays__r"]["records"][0]["Name"],
        json!("Play 1"),
        "{q}"
    );

    // Number(1, 0) holds one digit; Text(15) fifteen characters.
    let (status, e) = app
        .post("sobjects/Instruqt_Play__c", json!({"Name": "x", "Score__c": 10}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(e[0]["errorCode"], json!("NUMBER_OUTSIDE_VALID_RANGE"), "{e}");
    let (status, e) = app
        .post(
            "sobjects/Instruqt_Play__c",
            json!({"Name": "x", "Participant_ID__c": "p".repeat(16)}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(e[0]["errorCode"], json!("STRING_TOO_LONG"), "{e}");
}
