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

/// A session's connection made with the emulator's password flow; its id.
async fn own_connection(app: &TestApp, session: &support::Api, shared_with: Option<Vec<&str>>) -> String {
    let mut body = app.password_connection("Mine");
    if let Some(users) = shared_with {
        body["shared_with"] = json!(users);
    }
    let (s, c) = session.post("/v1/connections", body).await;
    assert_eq!(s, 201, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sessions_use_installs_on_the_connections_they_may_use() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (ada, _) = app.session(&t, "ada@acme.test", "admin").await;
    let (bob, bob_s) = app.session(&t, "bob@acme.test", "member").await;
    let (cat, _) = app.session(&t, "cat@acme.test", "member").await;
    let bob_id = bob_s["user_id"].as_str().unwrap();

    // A member installs on its own personal connection, reads the plan, applies, switches off.
    let bobs = own_connection(&app, &bob, None).await;
    let (s, inst) = bob
        .post(
            "/v1/installs",
            json!({ "connection_id": bobs, "recipe": "inkwell" }),
        )
        .await;
    assert_eq!(s, 201, "{inst}");
    let id = inst["id"].as_str().unwrap().to_owned();
    let (s, plan) = bob.get(&format!("/v1/installs/{id}/plan")).await;
    assert_eq!(s, 200, "{plan}");
    let (s, run) = bob
        .post(
            &format!("/v1/installs/{id}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let run_path = format!("/v1/runs/{}", run["id"].as_str().unwrap());
    app.work_runs().await;
    let (s, r) = bob.get(&run_path).await;
    assert_eq!((s, r["state"].as_str()), (200, Some("succeeded")), "{r}");
    assert_eq!(bob.get("/v1/runs").await.1.as_array().unwrap().len(), 1);
    let (s, _) = bob
        .put(&format!("/v1/installs/{id}/enabled"), json!({ "enabled": false }))
        .await;
    assert_eq!(s, 200);

    // Another member sees none of it: every call is 404, lists are empty.
    assert_eq!(cat.get("/v1/installs").await.1, json!([]));
    assert_eq!(cat.get("/v1/runs").await.1, json!([]));
    assert_eq!(cat.get(&run_path).await.0, 404);
    assert_eq!(cat.get(&format!("/v1/installs/{id}/plan")).await.0, 404);
    let (s, _) = cat
        .post(
            &format!("/v1/installs/{id}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        cat.put(&format!("/v1/installs/{id}/enabled"), json!({ "enabled": true }))
            .await
            .0,
        404
    );
    assert_eq!(cat.delete(&format!("/v1/installs/{id}")).await.0, 404);
    let (s, e) = cat
        .post(
            "/v1/installs",
            json!({ "connection_id": bobs, "recipe": "inkwell" }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("connection_id")), "{e}");

    // An admin's shared connection granted to the member: the member sees its installs and runs,
    // but changes nothing (403); the admin manages every install of the tenant.
    let shared = own_connection(&app, &ada, Some(vec![bob_id])).await;
    let (s, e) = bob
        .post(
            "/v1/installs",
            json!({ "connection_id": shared, "recipe": "inkwell" }),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    let (s, inst2) = ada
        .post(
            "/v1/installs",
            json!({ "connection_id": shared, "recipe": "inkwell" }),
        )
        .await;
    assert_eq!(s, 201, "{inst2}");
    let id2 = inst2["id"].as_str().unwrap().to_owned();
    assert_eq!(bob.get("/v1/installs").await.1.as_array().unwrap().len(), 2);
    let (s, plan2) = bob.get(&format!("/v1/installs/{id2}/plan")).await;
    assert_eq!(s, 200, "{plan2}");
    let (s, e) = bob
        .post(
            &format!("/v1/installs/{id2}/apply"),
            json!({ "plan_hash": plan2["hash"] }),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (403, Some("forbidden")), "{e}");
    assert_eq!(bob.delete(&format!("/v1/installs/{id2}")).await.0, 403);
    assert_eq!(cat.get(&format!("/v1/installs/{id2}/plan")).await.0, 404);
    assert_eq!(ada.get("/v1/installs").await.1.as_array().unwrap().len(), 2);
    assert_eq!(
        ada.put(&format!("/v1/installs/{id}/enabled"), json!({ "enabled": true }))
            .await
            .0,
        200
    );
    assert_eq!(ada.get(&run_path).await.0, 200);
    assert_eq!(bob.delete(&format!("/v1/installs/{id}")).await.0, 204);
    assert_eq!(ada.delete(&format!("/v1/installs/{id2}")).await.0, 204);
}

#[tokio::test]
async fn a_recipes_connection_policy_is_enforced() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let mint = |body: serde_json::Value| {
        let key = t.key.clone();
        async move { key.post("/v1/sessions", body).await }
    };
    let (s, e) = mint(json!({ "email": "x@acme.test", "role": "member", "recipe": "nope" })).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("recipe")), "{e}");

    // Instruqt: shared connections only, through the web-server flow, production or sandbox.
    let (s, m) = mint(json!({ "email": "bob@acme.test", "role": "member", "recipe": "instruqt" })).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["recipe"], "instruqt");
    let bob = app.admin.with(m["token"].as_str().unwrap());
    let oauth = |env: serde_json::Value, shared: bool| {
        let mut b = json!({ "label": "Org", "environment": env });
        if shared {
            b["shared_with"] = json!([]);
        }
        b
    };
    let (s, e) = bob
        .post(
            "/v1/connections/oauth",
            oauth(json!({ "kind": "production" }), false),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("shared_with")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("only shared"), "{e}");
    let (s, e) = bob.post("/v1/connections", app.password_connection("S2S")).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("auth.method")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("oauth_web_server"), "{e}");
    let (_, a) = mint(json!({ "email": "ada@acme.test", "role": "admin", "recipe": "instruqt" })).await;
    let ada = app.admin.with(a["token"].as_str().unwrap());
    let my_domain = json!({ "kind": "my_domain", "url": "https://acme.my.salesforce.com" });
    let (s, e) = ada.post("/v1/connections/oauth", oauth(my_domain, true)).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("environment.kind")), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("production or sandbox"),
        "{e}"
    );
    let (s, ok) = ada
        .post(
            "/v1/connections/oauth",
            oauth(json!({ "kind": "production" }), true),
        )
        .await;
    assert_eq!(s, 200, "{ok}");
    // A request's own recipe wins over the session's; keys name one too.
    let mut body = app.password_connection("S2S");
    body["recipe"] = json!("spaceiq");
    body["shared_with"] = json!([]);
    assert_eq!(ada.post("/v1/connections", body.clone()).await.0, 201);
    body["owner_email"] = json!("ops@acme.test");
    body.as_object_mut().unwrap().remove("shared_with");
    let (s, e) = t.key.post("/v1/connections", body).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("shared_with")), "{e}");

    // Inkwell: personal connections, at most 3 per user.
    let (_, c) = mint(json!({ "email": "cat@acme.test", "role": "member", "recipe": "inkwell" })).await;
    let cat = app.admin.with(c["token"].as_str().unwrap());
    for _ in 0..3 {
        let (s, start) = cat
            .post(
                "/v1/connections/oauth",
                oauth(json!({ "kind": "production" }), false),
            )
            .await;
        assert_eq!(s, 200, "{start}");
        let back = app
            .consent(start["authorize_url"].as_str().unwrap(), "allow")
            .await;
        let (s, page) = app.browser_get(&back).await;
        assert!(s == 200 && page.contains("connected"), "{page}");
    }
    assert_eq!(cat.get("/v1/connections").await.1.as_array().unwrap().len(), 3);
    let (s, e) = cat
        .post(
            "/v1/connections/oauth",
            oauth(json!({ "kind": "production" }), false),
        )
        .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("connection_limit")), "{e}");
    assert!(e["message"].as_str().unwrap().contains('3'), "{e}");
    // Without a recipe, the server's limit (5) applies.
    let (_, d) = mint(json!({ "email": "cat@acme.test", "role": "member" })).await;
    let plain = app.admin.with(d["token"].as_str().unwrap());
    let (s, start) = plain
        .post(
            "/v1/connections/oauth",
            oauth(json!({ "kind": "production" }), false),
        )
        .await;
    assert_eq!(s, 200, "{start}");
}
