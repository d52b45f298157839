//! Apply as a run, over real HTTP against the emulator: `202` with the run and its `Location`,
//! one run per install while it is live, progress up to the total, `succeeded` with the report;
//! a transient Salesforce failure retried (attempts 2), a permanent one `failed` with a code and a
//! remedy and `install.failed`; runs listed newest first per install; uninstall with
//! `remove_schema` deletes what was provisioned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{Tenant, TestApp};

/// An install of `recipe` on a new connection, with its plan's hash.
async fn installed(app: &TestApp, t: &Tenant, recipe: &str) -> (String, String) {
    let conn = app.connection(t, "ops@acme.test").await;
    installed_on(t, &json!(conn), recipe).await
}

/// An install of `recipe` on connection `conn`, with its plan's hash.
async fn installed_on(t: &Tenant, conn: &Value, recipe: &str) -> (String, String) {
    let (s, inst) = t
        .key
        .post("/v1/installs", json!({ "connection_id": conn, "recipe": recipe }))
        .await;
    assert_eq!(s, 201, "{inst}");
    let id = inst["id"].as_str().unwrap().to_owned();
    let (s, plan) = t.key.get(&format!("/v1/installs/{id}/plan")).await;
    assert_eq!(s, 200, "{plan}");
    (id, plan["hash"].as_str().unwrap().to_owned())
}

/// Consent to `hash` on install `id`: `202` and the run.
async fn start_apply(t: &Tenant, id: &str, hash: &str) -> Value {
    let (s, run) = t
        .key
        .post(&format!("/v1/installs/{id}/apply"), json!({ "plan_hash": hash }))
        .await;
    assert_eq!(s, 202, "{run}");
    run
}

async fn notifications(t: &Tenant) -> Vec<String> {
    let (s, list) = t.key.get("/v1/notifications").await;
    assert_eq!(s, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["kind"]
                .as_str()
                .or(n["type"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn apply_answers_202_and_the_run_is_polled_to_succeeded() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (id, hash) = installed(&app, &t, "instruqt").await;

    let resp = reqwest::Client::new()
        .post(format!("{}/v1/installs/{id}/apply", app.url))
        .bearer_auth(&t.key.token)
        .json(&json!({ "plan_hash": hash }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let run: Value = resp.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/runs/{run_id}"));
    assert_eq!(run["kind"], "install.apply");
    assert_eq!(run["install_id"], json!(id));
    assert_eq!(run["state"], "queued");
    assert_eq!(run["attempts"], 0);
    assert_eq!(
        (run["error"].clone(), run["report"].clone()),
        (Value::Null, Value::Null)
    );
    let total = run["progress"]["total"].as_u64().unwrap();
    // Two objects, the permission set, its assignment, the access check.
    assert_eq!(total, 5, "{run}");
    assert_eq!(run["progress"]["done"], 0);

    // Applying again while it is queued answers the same run.
    let (s, again) = t
        .key
        .post(&format!("/v1/installs/{id}/apply"), json!({ "plan_hash": hash }))
        .await;
    assert_eq!((s, again["id"].as_str()), (202, Some(run_id.as_str())), "{again}");
    let (_, listed) = t.key.get(&format!("/v1/runs?install_id={id}")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Nothing was provisioned yet, and the install is still off.
    let (_, installs) = t.key.get("/v1/installs").await;
    assert_eq!(installs[0]["enabled"], false);

    assert_eq!(app.work_runs().await, 1, "one job for the one run");
    let (s, done) = t.key.get(&location).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["progress"]["done"], json!(total));
    assert_eq!(done["progress"]["total"], json!(total));
    assert_eq!(done["progress"]["step"], "access check");
    assert_eq!(done["error"], Value::Null);
    let applied = done["report"]["applied"].as_array().unwrap();
    assert!(
        applied
            .iter()
            .any(|c| c["change"] == "create_object" && c["object"] == "Instruqt_Play__c"),
        "{done}"
    );
    assert_eq!(done["report"]["install"]["enabled"], true);
    let (_, installs) = t.key.get("/v1/installs").await;
    assert_eq!(installs[0]["enabled"], true);
    assert!(
        notifications(&t)
            .await
            .contains(&"install.provisioned".to_owned())
    );

    // The org now matches: the plan is empty, and a second apply is a new run with nothing to make.
    let (_, plan) = t.key.get(&format!("/v1/installs/{id}/plan")).await;
    assert_eq!(plan["changes"], json!([]), "{plan}");
    let (s, second) = t
        .key
        .post(
            &format!("/v1/installs/{id}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    assert_eq!(s, 202, "{second}");
    assert_ne!(second["id"], json!(run_id));
    app.work_runs().await;
    let (_, runs) = t.key.get(&format!("/v1/runs?install_id={id}")).await;
    let states: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded", "succeeded"]);
    assert_eq!(runs[0]["id"], second["id"], "newest first");
    let (_, page) = t
        .key
        .get(&format!(
            "/v1/runs?before_id={}&limit=1",
            second["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(page[0]["id"], json!(run_id), "{page}");

    // Bad input is a 4xx naming the field; unknown runs and installs are 404.
    assert_eq!(t.key.get("/v1/runs?limit=0").await.1["field"], "limit");
    assert_eq!(
        t.key.get("/v1/runs?install_id=nope").await.1["field"],
        "install_id"
    );
    assert_eq!(t.key.get("/v1/runs/nope").await.0, 404);
    let (s, e) = t
        .key
        .post(
            &format!("/v1/installs/{}/apply", forcebridge_store::InstallId::new()),
            json!({ "plan_hash": hash }),
        )
        .await;
    assert_eq!(s, 404, "{e}");
}

#[tokio::test]
async fn a_transient_failure_is_retried_and_a_permanent_one_fails_with_a_remedy() {
    // The client does not retry on its own here, so each job attempt meets the fault.
    let app = TestApp::spawn_configured(Default::default(), |c| {
        c.retry = forcebridge_salesforce::RetryPolicy::none();
    })
    .await;
    let t = app.tenant("Acme").await;
    let (id, hash) = installed(&app, &t, "inkwell").await;
    let run = start_apply(&t, &id, &hash).await;
    let run_url = format!("/v1/runs/{}", run["id"].as_str().unwrap());
    let soap_fault = |status: u16, code: &str| {
        json!({ "count": 1000, "status": status, "errorCode": code, "message": "injected",
                "path_prefix": "/services/Soap/m" })
    };
    let (s, f) = app
        .emulator_control("faults", soap_fault(503, "SERVER_UNAVAILABLE"))
        .await;
    assert!(s < 300, "{f}");
    assert_eq!(app.work_runs().await, 1);
    let (_, r) = t.key.get(&run_url).await;
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("queued"), Some(1)),
        "{r}"
    );
    assert_eq!(r["error"], Value::Null);
    // The retry waits for its backoff.
    assert_eq!(app.work_runs().await, 0);
    reqwest::Client::builder()
        .tls_certs_merge(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(app.emulator.ca_file().unwrap()).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap()
        .delete(format!("{}/__emulator/faults", app.emulator.base_url()))
        .send()
        .await
        .unwrap();
    app.advance(chrono::Duration::hours(2));
    assert_eq!(app.work_runs().await, 1);
    let (_, r) = t.key.get(&run_url).await;
    assert_eq!(
        (r["state"].as_str(), r["attempts"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{r}"
    );
    assert_eq!(r["progress"]["done"], r["progress"]["total"]);

    // A permanent refusal ends the run failed, in words, with what to do.
    let (id2, hash2) = installed(&app, &t, "ticketly").await;
    let run = start_apply(&t, &id2, &hash2).await;
    app.emulator_control("faults", soap_fault(403, "INSUFFICIENT_ACCESS"))
        .await;
    assert_eq!(app.work_runs().await, 1);
    let (_, r) = t
        .key
        .get(&format!("/v1/runs/{}", run["id"].as_str().unwrap()))
        .await;
    assert_eq!(r["state"], "failed", "{r}");
    assert_eq!(r["attempts"], 1, "a permanent failure is not retried");
    assert_eq!(r["error"]["code"], "salesforce_permission", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("INSUFFICIENT_ACCESS"),
        "{r}"
    );
    assert!(
        r["error"]["remedy"].as_str().unwrap().contains("apply it again"),
        "{r}"
    );
    assert_eq!(r["report"], Value::Null);
    assert_eq!(app.work_runs().await, 0, "nothing left to do");
    assert!(notifications(&t).await.contains(&"install.failed".to_owned()));
    let (_, installs) = t.key.get("/v1/installs").await;
    let second = installs
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(id2))
        .unwrap();
    assert_eq!(second["enabled"], false, "a failed apply leaves the install off");
}

#[tokio::test]
async fn uninstall_keeps_the_schema_unless_asked_to_remove_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (id, hash) = installed(&app, &t, "inkwell").await;
    start_apply(&t, &id, &hash).await;
    app.work_runs().await;
    assert_eq!(t.key.delete(&format!("/v1/installs/{id}")).await.0, 204);
    // Installed again on the same org: the schema stayed, so there is nothing to make.
    let conn = t.key.get("/v1/connections").await.1[0]["id"].clone();
    let (id, _) = installed_on(&t, &conn, "inkwell").await;
    let (_, plan) = t.key.get(&format!("/v1/installs/{id}/plan")).await;
    assert_eq!(plan["changes"], json!([]), "{plan}");

    let (s, e) = t
        .key
        .delete(&format!("/v1/installs/{id}?remove_schema=true"))
        .await;
    assert_eq!(s, 204, "{e}");
    assert_eq!(t.key.get(&format!("/v1/installs/{id}/plan")).await.0, 404);
    let (again, _) = installed_on(&t, &conn, "inkwell").await;
    let (_, plan) = t.key.get(&format!("/v1/installs/{again}/plan")).await;
    let changes = plan["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["change"] == "create_object" && c["object"] == "Inkwell_Envelope__c"),
        "the object is gone: {plan}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["change"] == "create_field" && c["object"] == "Opportunity"),
        "the fields on Opportunity are gone: {plan}"
    );
    assert_eq!(t.key.delete("/v1/installs/nope?remove_schema=true").await.0, 404);
    assert_eq!(
        t.key
            .delete(&format!("/v1/installs/{id}?remove_schema=maybe"))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn the_workers_serve_starts_work_the_run() {
    let app = TestApp::spawn().await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = app.engine.spawn_workers(stopped);
    let t = app.tenant("Acme").await;
    let (id, hash) = installed(&app, &t, "ticketly").await;
    let run = start_apply(&t, &id, &hash).await;
    let url = format!("/v1/runs/{}", run["id"].as_str().unwrap());
    // Poll as a client would; the bound only keeps a broken build from hanging.
    let mut last = Value::Null;
    for _ in 0..600 {
        last = t.key.get(&url).await.1;
        if last["state"] == "succeeded" || last["state"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["progress"]["done"], last["progress"]["total"]);
    stop.send(true).unwrap();
    workers.await.unwrap();
}
