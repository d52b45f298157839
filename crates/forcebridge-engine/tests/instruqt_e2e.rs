//! Instruqt end to end against the real emulator: install with its provisioning plan, invite
//! forms that never duplicate a person, plays upserted with lookups to the person and the track,
//! Chatter posts switched by workflows, idempotent re-sends, and the API floor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::TestApp;

fn form(n: usize, email: &str, first: &str, last: &str) -> (String, &'static str, Value) {
    (
        format!("form-{n}"),
        "invite.form_submitted",
        json!({ "invite_id": "inv1", "email": email, "first_name": first, "last_name": last, "company": "Acme" }),
    )
}

fn completed(play: &str, email: &str, first: &str, last: &str, feedback: Value) -> Value {
    json!({
        "play_id": play,
        "track": { "slug": "k8s-101", "title": "Kubernetes 101" },
        "user": { "email": email, "first_name": first, "last_name": last },
        "completed_at": "2026-12-01T10:00:00Z",
        "time_spent_seconds": 3725,
        "feedback": feedback,
    })
}

#[tokio::test]
async fn instruqt_end_to_end() {
    let app = TestApp::start("instruqt").await;
    // An existing Contact: forms for the same person (any case, extra spaces) must not make a Lead.
    app.client
        .create(
            "Contact",
            &json!({ "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com" }),
        )
        .await
        .unwrap();
    app.install("instruqt", json!({ "new_lead_status": "Working - Contacted" }))
        .await;

    let forms: Vec<(String, &str, Value)> = vec![
        form(1, "ADA@example.com ", "Ada", "Lovelace"),
        form(2, "grace@example.com", "Grace", "Hopper"),
        // The same new person twice in one batch: one Lead.
        form(3, "Grace@Example.com", "grace", "hopper"),
        form(4, "alan@example.com", "Alan", "Turing"),
    ];
    let sent = app
        .send(
            forms
                .iter()
                .map(|(k, t, d)| (k.as_str(), *t, d.clone()))
                .collect(),
        )
        .await;
    assert!(sent.iter().all(|s| s.is_new && s.deliveries == 1), "{sent:?}");
    let before = app.api_used().await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&4), "{report:?}");
    // Two queries (Contact, then Lead for those not found) and one Collections create.
    let calls = app.api_used().await - before;
    assert_eq!(calls, 3, "four form events cost {calls} calls: {report:?}");
    assert_eq!(report.total_calls(), 3);

    let leads = app
        .query("SELECT Email, Status, LeadSource, Company FROM Lead ORDER BY Email")
        .await;
    let emails: Vec<&str> = leads.iter().map(|l| l["Email"].as_str().unwrap()).collect();
    assert_eq!(emails, vec!["alan@example.com", "grace@example.com"], "{leads:?}");
    assert!(
        leads
            .iter()
            .all(|l| l["Status"] == "Working - Contacted" && l["LeadSource"] == "Instruqt")
    );

    // Sending the same events again changes nothing.
    let again = app
        .send(
            forms
                .iter()
                .map(|(k, t, d)| (k.as_str(), *t, d.clone()))
                .collect(),
        )
        .await;
    assert!(again.iter().all(|s| !s.is_new));
    app.drain().await;
    assert_eq!(app.query("SELECT Id FROM Lead").await.len(), 2);

    // Completions: the play is upserted with lookups, and Chatter posts land on the person.
    app.send(vec![
        (
            "done-1",
            "track.completed",
            completed(
                "p1",
                "ada@example.com",
                "Ada",
                "Lovelace",
                json!({ "score": 5, "comment": "Great" }),
            ),
        ),
        (
            "done-2",
            "track.completed",
            completed("p2", "alan@example.com", "Alan", "Turing", json!({})),
        ),
    ])
    .await;
    let report = app.drain().await;
    assert_eq!(report.by_state.get("done"), Some(&2), "{report:?}");
    let plays = app
        .query("SELECT Participant_ID__c, Contact__c, Lead__c, Instruqt_Track__r.Track_Slug__c, Time_Spent__c, Time_Spent_Seconds__c, Score__c, Feedback__c FROM Instruqt_Play__c ORDER BY Participant_ID__c")
        .await;
    assert_eq!(plays.len(), 2, "{plays:?}");
    assert!(
        plays[0]["Contact__c"].is_string() && plays[0]["Lead__c"].is_null(),
        "{plays:?}"
    );
    assert!(
        plays[1]["Lead__c"].is_string() && plays[1]["Contact__c"].is_null(),
        "{plays:?}"
    );
    assert_eq!(plays[0]["Instruqt_Track__r"]["Track_Slug__c"], "k8s-101");
    assert_eq!(plays[0]["Time_Spent__c"], "1h 2m 5s");
    assert_eq!(plays[0]["Score__c"].as_f64(), Some(5.0));
    assert_eq!(plays[0]["Feedback__c"], "Great");
    assert_eq!(app.query("SELECT Id FROM Instruqt_Track__c").await.len(), 1);
    let posts = app.query("SELECT ParentId, Body FROM FeedItem").await;
    // Ada: completed + feedback; Alan: completed only (empty feedback).
    assert_eq!(posts.len(), 3, "{posts:?}");
    assert!(
        posts
            .iter()
            .any(|p| p["Body"].as_str().unwrap().contains("score 5/5")),
        "{posts:?}"
    );
}

#[tokio::test]
async fn a_switched_off_workflow_posts_nothing() {
    let app = TestApp::start("instruqt").await;
    app.install(
        "instruqt",
        json!({ "workflows": { "chatter_on_complete": false, "chatter_on_feedback": false } }),
    )
    .await;
    app.send(vec![(
        "c1",
        "track.completed",
        completed("p1", "x@example.com", "X", "Y", json!({ "score": 3 })),
    )])
    .await;
    let report = app.drain().await;
    let ds = app
        .engine
        .deliveries(&app.tenant, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        app.query("SELECT Id FROM Instruqt_Play__c").await.len(),
        1,
        "{report:?} {ds:?}"
    );
    assert!(app.query("SELECT Id FROM FeedItem").await.is_empty());
}

#[tokio::test]
async fn the_mandatory_workflow_cannot_be_switched_off_and_settings_are_checked_live() {
    let app = TestApp::start("instruqt").await;
    let err = app
        .engine
        .install(
            &app.tenant,
            &app.connection,
            "instruqt",
            json!({ "workflows": { "create_lead": false } }),
            "t",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("settings.workflows.create_lead"),
        "{err}"
    );
    let err = app
        .engine
        .install(
            &app.tenant,
            &app.connection,
            "instruqt",
            json!({ "new_lead_status": "Bogus" }),
            "t",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("settings.new_lead_status"), "{err}");
    assert!(
        err.to_string().contains("Open - Not Contacted"),
        "names the accepted values: {err}"
    );
}
