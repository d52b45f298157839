//! `GET /v1/stats` over real HTTP against the emulator: counts of events, deliveries by state and
//! Salesforce writes, for the tenant or one connection, moving as events are posted and applied;
//! another tenant's connection is 404 and another tenant counts nothing. `/metrics` shows the
//! same work process-wide, without tenant ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use forcebridge_store::{ConnectionId, InstallId, TenantId};
use serde_json::json;
use support::TestApp;

#[tokio::test]
async fn stats_count_events_deliveries_and_writes_per_connection() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let mut body = app.password_connection("Prod");
    body["owner_email"] = json!("ops@acme.test");
    let (s, conn) = t.key.post("/v1/connections", body).await;
    assert_eq!(s, 201, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let (s, inst) = t
        .key
        .post(
            "/v1/installs",
            json!({ "connection_id": conn, "recipe": "spaceiq" }),
        )
        .await;
    assert_eq!(s, 201, "{inst}");
    // Provisioning is the installs suite's subject; here it only has to be done.
    let tenant = TenantId::parse(&t.id).unwrap();
    let install = InstallId::parse(inst["id"].as_str().unwrap()).unwrap();
    let plan = app.engine.plan(&tenant, &install).await.unwrap();
    app.engine
        .apply(&tenant, &install, &plan.hash, "test")
        .await
        .unwrap();

    let (s, zero) = t.key.get(&format!("/v1/stats?connection_id={conn}")).await;
    assert_eq!(s, 200, "{zero}");
    assert_eq!(
        zero,
        json!({ "events": 0, "deliveries": {}, "writes": {}, "records_written": 0 })
    );

    let events: Vec<_> = (0..5)
        .map(|i| {
            json!({ "idempotency_key": format!("m{i}"), "type": "move.executed",
                    "data": { "move_id": format!("mv-{i}"), "plan_id": "p1", "timing": if i == 4 { "future" } else { "now" },
                              "employee": { "name": "Ada Lovelace" }, "new_seat": "A-1" } })
        })
        .collect();
    let (s, a) = t.key.post("/v1/events", json!({ "events": events })).await;
    assert_eq!(s, 202, "{a}");
    let (_, pending) = t.key.get("/v1/stats").await;
    assert_eq!(pending["events"], 5, "{pending}");
    assert_eq!(pending["deliveries"]["pending"], 5, "{pending}");

    app.engine.run_until_idle().await.unwrap();
    let (_, done) = t.key.get(&format!("/v1/stats?connection_id={conn}")).await;
    assert_eq!(done["deliveries"], json!({ "done": 4, "filtered": 1 }), "{done}");
    assert_eq!(done["writes"], json!({ "upsert": 4 }), "{done}");
    assert_eq!(done["records_written"], 4);
    assert_eq!(t.key.get("/v1/stats").await.1, done);

    // The same work in the process's metrics: deliveries and writes by state, API calls, budget.
    let (s, text) = app.anonymous().get("/metrics").await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap().to_owned();
    for needle in [
        "forcebridge_deliveries{state=\"done\"}",
        "forcebridge_salesforce_writes{api=",
        "forcebridge_salesforce_requests_total{status=\"2xx\"}",
        "forcebridge_api_budget_remaining{connection=",
        "forcebridge_event_apply_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains(&t.id), "no tenant id in metrics");

    assert_eq!(t.key.get("/v1/stats?connection_id=nope").await.0, 400);
    assert_eq!(app.anonymous().get("/v1/stats").await.0, 401);
    let b = app.tenant("B").await;
    assert_eq!(b.key.get(&format!("/v1/stats?connection_id={conn}")).await.0, 404);
    let other = ConnectionId::new();
    assert_eq!(
        b.key.get(&format!("/v1/stats?connection_id={other}")).await.0,
        404
    );
    assert_eq!(b.key.get("/v1/stats").await.1["events"], 0);
}
