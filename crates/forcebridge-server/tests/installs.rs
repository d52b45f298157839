//! Installs and operations over real HTTP, end to end against the emulator: a shared OAuth
//! connection, the Instruqt recipe installed with settings (errors name the setting), its
//! provisioning plan, consent by hash and apply (a run, worked), an event posted, its delivery listed, drained
//! and journalled; replay, cancel and budget answer; foreign ids are 404.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn install_plan_apply_then_an_event_is_delivered_and_journalled() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (ada, _) = app.session(&t, "ada@acme.test", "admin").await;
    let (s, start) = ada
        .post(
            "/v1/connections/oauth",
            json!({ "label": "Prod", "environment": { "kind": "production" }, "shared_with": [] }),
        )
        .await;
    assert_eq!(s, 200, "{start}");
    let back = app
        .consent(start["authorize_url"].as_str().unwrap(), "allow")
        .await;
    assert_eq!(app.browser_get(&back).await.0, 200);
    let (_, list) = ada.get("/v1/connections").await;
    let conn = list[0]["id"].as_str().unwrap().to_owned();

    let (s, e) = t
        .key
        .post("/v1/installs", json!({ "connection_id": conn, "recipe": "nope" }))
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("recipe")), "{e}");
    let (s, e) = t
        .key
        .post(
            "/v1/installs",
            json!({ "connection_id": forcebridge_store::ConnectionId::new(), "recipe": "instruqt" }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("connection_id")), "{e}");
    let (s, e) = t
        .key
        .post(
            "/v1/installs",
            json!({ "connection_id": conn, "recipe": "instruqt", "settings": { "new_lead_status": 5 } }),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e.to_string().contains("new_lead_status"),
        "the error names the setting: {e}"
    );

    let (s, inst) = t
        .key
        .post(
            "/v1/installs",
            json!({ "connection_id": conn, "recipe": "instruqt" }),
        )
        .await;
    assert_eq!(s, 201, "{inst}");
    let id = inst["id"].as_str().unwrap().to_owned();
    let (s, plan) = t.key.get(&format!("/v1/installs/{id}/plan")).await;
    assert_eq!(s, 200, "{plan}");
    assert!(!plan["changes"].as_array().unwrap().is_empty(), "{plan}");
    let (s, e) = t
        .key
        .post(
            &format!("/v1/installs/{id}/apply"),
            json!({ "plan_hash": "0000" }),
        )
        .await;
    assert!((400..500).contains(&s), "a stale hash is refused: {s} {e}");
    let (s, run) = t
        .key
        .post(
            &format!("/v1/installs/{id}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    assert_eq!(app.work_runs().await, 1);
    let (s, run) = t
        .key
        .get(&format!("/v1/runs/{}", run["id"].as_str().unwrap()))
        .await;
    assert_eq!((s, run["state"].as_str()), (200, Some("succeeded")), "{run}");
    let (s, listed) = t.key.get("/v1/installs").await;
    assert_eq!((s, listed.as_array().unwrap().len()), (200, 1));

    let (s, accepted) = t
        .key
        .post(
            "/v1/events",
            json!({ "idempotency_key": "form-1", "type": "invite.form_submitted",
                    "data": { "email": "ada@lovelace.test", "first_name": "Ada", "last_name": "Lovelace", "company": "Analytical" } }),
        )
        .await;
    assert_eq!(s, 202, "{accepted}");
    let event = accepted["events"][0]["event_id"].as_str().unwrap().to_owned();
    let (s, ds) = t.key.get(&format!("/v1/deliveries?event_id={event}")).await;
    assert_eq!(s, 200, "{ds}");
    assert!(!ds.as_array().unwrap().is_empty(), "{ds}");
    app.engine.run_until_idle().await.unwrap();
    let (s, journal) = t.key.get(&format!("/v1/events/{event}/journal")).await;
    assert_eq!(s, 200);
    assert!(
        !journal.as_array().unwrap().is_empty(),
        "the event wrote to Salesforce: {journal}"
    );
    let (s, _) = t.key.get(&format!("/v1/connections/{conn}/budget")).await;
    assert_eq!(s, 200);
    assert_eq!(t.key.get("/v1/deliveries?state=sideways").await.0, 400);
    assert_eq!(t.key.post("/v1/deliveries/999999/replay", json!({})).await.0, 404);
    assert_eq!(t.key.post("/v1/deliveries/abc/cancel", json!({})).await.0, 404);

    // Another tenant sees none of it.
    let b = app.tenant("B").await;
    assert_eq!(b.key.get(&format!("/v1/installs/{id}/plan")).await.0, 404);
    assert_eq!(b.key.delete(&format!("/v1/installs/{id}")).await.0, 404);
    assert_eq!(
        b.key.get(&format!("/v1/events/{event}/journal")).await.1,
        json!([])
    );
    assert_eq!(b.key.get(&format!("/v1/connections/{conn}/budget")).await.0, 404);
    assert_eq!(b.key.get("/v1/deliveries").await.1, json!([]));

    let (s, _) = t
        .key
        .put(&format!("/v1/installs/{id}/enabled"), json!({ "enabled": false }))
        .await;
    assert_eq!(s, 200);
    assert_eq!(t.key.delete(&format!("/v1/installs/{id}")).await.0, 204);
}
