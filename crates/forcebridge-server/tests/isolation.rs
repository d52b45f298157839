//! Tenant isolation: every endpoint that names a resource, called with another tenant's key or
//! another tenant's session (member and admin), answers 404 and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use forcebridge_engine::control::notify::NotificationKind;
use forcebridge_store::TenantId;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Receiver, TestApp};

/// A's state as A sees it, to compare before and after.
async fn snapshot(a: &support::Api, conn: &str, endpoint: &str, install: &str, run: &str) -> Value {
    json!({
        "install": a.get(&format!("/v1/installs/{install}/plan")).await,
        "installs": a.get("/v1/installs").await,
        "run": a.get(&format!("/v1/runs/{run}")).await,
        "runs": a.get("/v1/runs").await,
        "connection": a.get(&format!("/v1/connections/{conn}")).await,
        "connections": a.get("/v1/connections").await,
        "endpoint": a.get(&format!("/v1/webhooks/{endpoint}")).await,
        "deliveries": a.get("/v1/webhook-deliveries").await,
        "keys": a.get("/v1/keys").await,
        "notifications": a.get("/v1/notifications").await,
    })
}

#[tokio::test]
async fn another_tenants_key_or_session_sees_404_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let a = app.tenant("A").await;
    let b = app.tenant("B").await;
    let rx = Receiver::start().await;

    // A's resources: a connection, a webhook endpoint with a delivery, a second key, a session.
    let (a_admin, a_sess) = app.session(&a, "ada@a.test", "admin").await;
    let (s, conn) = a_admin
        .post("/v1/connections", app.password_connection("A's org"))
        .await;
    assert_eq!(s, 201, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let (_, ep) = a.key.post("/v1/webhooks", json!({ "url": rx.url })).await;
    let ep = ep["id"].as_str().unwrap().to_owned();
    app.engine
        .notify(
            &TenantId::parse(&a.id).unwrap(),
            NotificationKind::InstallFailed,
            None,
            json!({}),
        )
        .await
        .unwrap();
    app.deliver_webhooks().await;
    let (_, deliveries) = a.key.get("/v1/webhook-deliveries").await;
    let delivery = deliveries[0]["id"].as_i64().unwrap();
    let (_, k2) = a.key.post("/v1/keys", json!({ "label": "second" })).await;
    let key2 = k2["id"].as_str().unwrap().to_owned();
    let a_session = a_sess["session_id"].as_str().unwrap().to_owned();
    // An install of A's, applied by a run.
    let (s, inst) = a
        .key
        .post(
            "/v1/installs",
            json!({ "connection_id": conn, "recipe": "inkwell" }),
        )
        .await;
    assert_eq!(s, 201, "{inst}");
    let install = inst["id"].as_str().unwrap().to_owned();
    let (_, plan) = a.key.get(&format!("/v1/installs/{install}/plan")).await;
    let (s, run) = a
        .key
        .post(
            &format!("/v1/installs/{install}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    assert_eq!(s, 202, "{run}");
    app.work_runs().await;
    app.deliver_webhooks().await;
    let run = run["id"].as_str().unwrap().to_owned();

    let before = snapshot(&a.key, &conn, &ep, &install, &run).await;
    let received_before = rx.received().len();

    let (b_member, _) = app.session(&b, "bob@b.test", "member").await;
    let (b_admin, _) = app.session(&b, "bea@b.test", "admin").await;
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/v1/connections/{conn}"), None),
        (
            Method::PATCH,
            format!("/v1/connections/{conn}"),
            Some(json!({ "label": "pwned" })),
        ),
        (Method::DELETE, format!("/v1/connections/{conn}"), None),
        (
            Method::POST,
            format!("/v1/connections/{conn}/refresh"),
            Some(json!({})),
        ),
        (
            Method::PUT,
            format!("/v1/connections/{conn}/grants"),
            Some(json!({ "users": [] })),
        ),
        (
            Method::POST,
            format!("/v1/connections/{conn}/doctor"),
            Some(json!({ "objects": [] })),
        ),
        (Method::GET, format!("/v1/webhooks/{ep}"), None),
        (Method::DELETE, format!("/v1/webhooks/{ep}"), None),
        (Method::GET, format!("/v1/webhook-deliveries/{delivery}"), None),
        (
            Method::POST,
            format!("/v1/webhook-deliveries/{delivery}/redeliver"),
            Some(json!({})),
        ),
        (Method::DELETE, format!("/v1/keys/{key2}"), None),
        (Method::DELETE, format!("/v1/sessions/{a_session}"), None),
        (Method::GET, format!("/v1/installs/{install}/plan"), None),
        (
            Method::POST,
            format!("/v1/installs/{install}/apply"),
            Some(json!({ "plan_hash": plan["hash"] })),
        ),
        (
            Method::PUT,
            format!("/v1/installs/{install}/settings"),
            Some(json!({ "settings": {} })),
        ),
        (
            Method::PUT,
            format!("/v1/installs/{install}/enabled"),
            Some(json!({ "enabled": false })),
        ),
        (
            Method::DELETE,
            format!("/v1/installs/{install}?remove_schema=true"),
            None,
        ),
        (Method::GET, format!("/v1/runs/{run}"), None),
    ];
    for caller in [&b.key, &b_member, &b_admin] {
        for (method, path, body) in &calls {
            let (s, e) = caller.call(method.clone(), path, body.clone()).await;
            // Sessions may be refused the key-only groups before the lookup (403); never 2xx,
            // never a hint that the resource exists.
            let key_only = path.starts_with("/v1/webhook") || path.starts_with("/v1/keys");
            if caller.token.starts_with("fbs_") && key_only {
                assert_eq!(s, 403, "{method} {path}: {e}");
            } else {
                assert_eq!(s, 404, "{method} {path} with {}: {e}", &caller.token[..4]);
                assert_eq!(e["code"], "not_found");
            }
        }
        // Lists show only B's own.
        let (s, list) = caller.get("/v1/connections").await;
        assert_eq!(s, 200);
        assert!(!list.to_string().contains(&conn));
        for path in ["/v1/installs", "/v1/runs"] {
            let (s, list) = caller.get(path).await;
            assert_eq!((s, list), (200, json!([])), "{path}");
        }
        let (s, e) = caller.get(&format!("/v1/runs?install_id={install}")).await;
        assert_eq!((s, e), (200, json!([])));
        // An install on A's connection cannot be made either.
        let (s, e) = caller
            .post(
                "/v1/installs",
                json!({ "connection_id": conn, "recipe": "inkwell" }),
            )
            .await;
        assert_eq!((s, e["field"].as_str()), (400, Some("connection_id")), "{e}");
    }
    let (_, feed) = b.key.get("/v1/notifications").await;
    assert_eq!(feed, json!([]));
    let (_, dl) = b.key.get("/v1/webhook-deliveries").await;
    assert_eq!(dl, json!([]));
    // Events naming A's connection are refused and write nothing.
    let (s, e) = b
        .key
        .post(
            "/v1/events",
            json!({ "idempotency_key": "x", "type": "t", "data": {}, "connection_id": conn }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("connection_id")), "{e}");
    // B's key is not an admin key.
    assert_eq!(b.key.get(&format!("/v1/tenants/{}", a.id)).await.0, 401);
    assert_eq!(b.key.get(&format!("/v1/tenants/{}/keys", a.id)).await.0, 401);

    // Nothing of A changed, and A's credentials still work.
    app.deliver_webhooks().await;
    assert_eq!(snapshot(&a.key, &conn, &ep, &install, &run).await, before);
    assert_eq!(app.work_runs().await, 0, "no run was started for B's calls");
    assert_eq!(rx.received().len(), received_before, "no redelivery happened");
    assert_eq!(a_admin.get("/v1/me").await.0, 200);
    assert_eq!(
        a.key.with(k2["secret"].as_str().unwrap()).get("/v1/me").await.0,
        200
    );
}
