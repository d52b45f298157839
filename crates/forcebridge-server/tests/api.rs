//! The API over real HTTP: health, OpenAPI, metrics, tenants and keys (vendor admin), scoped
//! keys, sessions, events (single, batch, idempotency, field errors, limits, rate limiting) and
//! webhooks (signatures, retries after a 500, order per connection, delivery log, redelivery).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use forcebridge_engine::control::notify::NotificationKind;
use forcebridge_server::ServerConfig;
use forcebridge_store::{ConnectionId, TenantId};
use serde_json::json;
use support::{Receiver, TestApp, verify};

#[tokio::test]
async fn health_openapi_metrics_and_the_reference_page() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    assert_eq!(anon.get("/healthz").await, (200, json!({ "status": "ok" })));
    assert_eq!(anon.get("/readyz").await, (200, json!({ "status": "ok" })));
    let (s, doc) = anon.get("/openapi.json").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/tenants",
        "/v1/events",
        "/v1/connections",
        "/v1/connections/oauth",
        "/v1/webhooks",
        "/v1/oauth/callback",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["tenant_key"].is_object());
    let (s, page) = anon.get("/docs/").await;
    assert_eq!(s, 200);
    assert!(
        page.as_str().unwrap().contains("swagger"),
        "reference page served from the binary"
    );
    let (s, e) = anon.get("/nope").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (404, Some("not_found")),
        "JSON errors everywhere: {e}"
    );
    let (s, e) = anon.call(reqwest::Method::PUT, "/healthz", None).await;
    assert_eq!((s, e["code"].as_str()), (405, Some("method_not_allowed")), "{e}");
    assert!(
        doc["paths"]["/v1/events"]["post"]["responses"]["429"].is_object(),
        "common errors documented"
    );
    let (s, text) = anon.get("/metrics").await;
    assert_eq!(s, 200);
    assert!(
        text.as_str().unwrap().contains("forcebridge_http_requests_total"),
        "{text}"
    );
}

#[tokio::test]
async fn tenants_and_keys_need_the_admin_key() {
    let app = TestApp::spawn().await;
    let anon = app.anonymous();
    let (s, e) = anon.post("/v1/tenants", json!({ "name": "Acme" })).await;
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")));
    let (s, e) = app
        .admin
        .with("fba_000000000000_nope")
        .post("/v1/tenants", json!({ "name": "Acme" }))
        .await;
    assert_eq!((s, e["code"].as_str()), (401, Some("unauthorized")));
    let (s, e) = app.admin.post("/v1/tenants", json!({ "name": "  " })).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("name")), "{e}");
    let (s, e) = app.admin.post("/v1/tenants", json!({ "nam": "x" })).await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["code"], "invalid_request");
    assert!(e["field"].is_string(), "{e}");
    let (s, e) = app.admin.post("/v1/tenants", json!([1])).await;
    assert_eq!(s, 400, "{e}");

    let t = app.tenant("Acme").await;
    let (s, got) = app.admin.get(&format!("/v1/tenants/{}", t.id)).await;
    assert_eq!((s, got["name"].as_str()), (200, Some("Acme")));
    let (s, _) = app.admin.get(&format!("/v1/tenants/{}", TenantId::new())).await;
    assert_eq!(s, 404);
    let (s, _) = app.admin.get("/v1/tenants/not-a-uuid").await;
    assert_eq!(s, 404);
    // A tenant key is not the admin key.
    let (s, _) = t.key.post("/v1/tenants", json!({ "name": "Evil" })).await;
    assert_eq!(s, 401);

    // Scoped keys: shown once, listed without the secret, revocable.
    let (s, k) = app
        .admin
        .post(
            &format!("/v1/tenants/{}/keys", t.id),
            json!({ "label": "ingest", "scopes": ["events"] }),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    let secret = k["secret"].as_str().unwrap().to_owned();
    let (s, e) = app
        .admin
        .post(
            &format!("/v1/tenants/{}/keys", t.id),
            json!({ "label": "x", "scopes": ["events", "everything"] }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("scopes[1]")), "{e}");
    let (_, list) = app.admin.get(&format!("/v1/tenants/{}/keys", t.id)).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&secret), "secrets are never listed");
    let ingest = app.admin.with(&secret);
    let (s, me) = ingest.get("/v1/me").await;
    assert_eq!((s, me["scopes"].clone()), (200, json!(["events"])));
    let (s, e) = ingest.get("/v1/connections").await;
    assert_eq!((s, e["code"].as_str()), (403, Some("forbidden")), "{e}");
    let (s, own) = t.key.get("/v1/keys").await;
    assert_eq!((s, own.as_array().unwrap().len()), (200, 2));
    let (s, e) = ingest.get("/v1/keys").await;
    assert_eq!(s, 403, "{e}");
    let (s, _) = app
        .admin
        .delete(&format!(
            "/v1/tenants/{}/keys/{}",
            t.id,
            k["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 204);
    assert_eq!(ingest.get("/v1/me").await.0, 401, "revoked keys stop working");
    let (s, created) = t.key.post("/v1/keys", json!({ "label": "second" })).await;
    assert_eq!(s, 201, "{created}");
    let (s, _) = t
        .key
        .delete(&format!("/v1/keys/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn sessions_are_minted_for_users_and_expire() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (s, e) = t
        .key
        .post(
            "/v1/sessions",
            json!({ "email": "ann@acme.test", "role": "owner" }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("role")));
    let (s, e) = t
        .key
        .post("/v1/sessions", json!({ "email": "nope", "role": "member" }))
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("email")), "{e}");
    let (s, e) = t
        .key
        .post(
            "/v1/sessions",
            json!({ "email": "ann@acme.test", "role": "member", "ttl_seconds": 999999 }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("ttl_seconds")));
    let (ann, minted) = app.session(&t, "ann@acme.test", "member").await;
    let (s, me) = ann.get("/v1/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["email"], "ann@acme.test");
    assert_eq!(me["role"], "member");
    assert_eq!(me["user_id"], minted["user_id"]);
    // A session cannot mint sessions or post events.
    assert_eq!(
        ann.post("/v1/sessions", json!({ "email": "x@y.z", "role": "admin" }))
            .await
            .0,
        403
    );
    assert_eq!(ann.post("/v1/events", json!({})).await.0, 403);
    // Expiry follows the clock.
    app.advance(chrono::Duration::seconds(3601));
    assert_eq!(ann.get("/v1/me").await.0, 401);
    // Revocation by the vendor.
    let (bob, minted) = app.session(&t, "bob@acme.test", "admin").await;
    let (s, _) = t
        .key
        .delete(&format!(
            "/v1/sessions/{}",
            minted["session_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 204);
    assert_eq!(bob.get("/v1/me").await.0, 401);
}

#[tokio::test]
async fn events_are_accepted_once_and_bad_input_names_the_field() {
    let app = TestApp::spawn_with(ServerConfig {
        max_batch: 3,
        max_body_bytes: 4096,
        ..ServerConfig::default()
    })
    .await;
    let t = app.tenant("Acme").await;
    let one = json!({ "idempotency_key": "k1", "type": "track.completed", "data": { "score": 5 } });
    let (s, a) = t.key.post("/v1/events", one.clone()).await;
    assert_eq!(s, 202, "{a}");
    assert_eq!(a["events"][0]["is_new"], true);
    let (s, again) = t.key.post("/v1/events", one).await;
    assert_eq!(s, 202);
    assert_eq!(again["events"][0]["is_new"], false);
    assert_eq!(again["events"][0]["event_id"], a["events"][0]["event_id"]);

    let batch = json!({ "events": [
        { "idempotency_key": "k2", "type": "a.b", "data": {} },
        { "idempotency_key": "k3", "type": "a.b", "data": {} },
    ]});
    let (s, b) = t.key.post("/v1/events", batch).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["events"].as_array().unwrap().len(), 2);

    // Every kind of bad input is a 4xx naming the field, and nothing of the batch is written.
    let cases = [
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "a", "data": {} }, { "type": "a", "data": {} }] }),
            "events[1].idempotency_key",
        ),
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "a", "data": [] }] }),
            "events[0].data",
        ),
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "", "data": {} }] }),
            "events[0].type",
        ),
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "a", "data": {}, "extra": 1 }] }),
            "events[0].extra",
        ),
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "a", "data": {}, "connection_id": "x" }] }),
            "events[0].connection_id",
        ),
        (
            json!({ "events": [{ "idempotency_key": "k4", "type": "a", "data": {}, "connection_id": ConnectionId::new() }] }),
            "events[0].connection_id",
        ),
        (json!({ "events": [] }), "events"),
        (json!({ "events": {} }), "events"),
        (json!({ "idempotency_key": "k4", "type": "a" }), "data"),
        (
            json!({ "idempotency_key": "k".repeat(256), "type": "a", "data": {} }),
            "idempotency_key",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let (s, e) = t.key.post("/v1/events", body.clone()).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert_eq!(e["field"], field, "{body}: {e}");
        assert_eq!(e["code"], "invalid_request");
    }
    let (s, e) = t.key.call(reqwest::Method::POST, "/v1/events", None).await;
    assert!((400..500).contains(&s), "{e}");
    // k4 was never written: posting it now is new.
    let (_, k4) = t
        .key
        .post(
            "/v1/events",
            json!({ "idempotency_key": "k4", "type": "a", "data": {} }),
        )
        .await;
    assert_eq!(k4["events"][0]["is_new"], true);

    // Size limits.
    let many = json!({ "events": (0..4).map(|i| json!({ "idempotency_key": format!("m{i}"), "type": "a", "data": {} })).collect::<Vec<_>>() });
    let (s, e) = t.key.post("/v1/events", many).await;
    assert_eq!((s, e["code"].as_str()), (413, Some("payload_too_large")), "{e}");
    let big = json!({ "idempotency_key": "big", "type": "a", "data": { "x": "y".repeat(5000) } });
    let (s, e) = t.key.post("/v1/events", big).await;
    assert_eq!((s, e["code"].as_str()), (413, Some("payload_too_large")), "{e}");
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(ServerConfig {
        rate_per_second: 0.001,
        rate_burst: 3,
        ..ServerConfig::default()
    })
    .await;
    let t = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let mut limited = None;
    for _ in 0..10 {
        let resp = reqwest::Client::new()
            .get(format!("{}/v1/me", app.url))
            .bearer_auth(&t.key.token)
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("the burst runs out within 10 calls");
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Another tenant is not affected.
    assert_eq!(other.key.get("/v1/me").await.0, 200);
}

#[tokio::test]
async fn webhooks_are_signed_retried_after_500_and_ordered_per_connection() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let rx = Receiver::start().await;
    let (s, e) = t
        .key
        .post(
            "/v1/webhooks",
            json!({ "url": rx.url, "kinds": ["connection.exploded"] }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("kinds[0]")), "{e}");
    let (s, e) = t.key.post("/v1/webhooks", json!({ "url": "ftp://x" })).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("url")), "{e}");
    let (s, ep) = t.key.post("/v1/webhooks", json!({ "url": rx.url })).await;
    assert_eq!(s, 201, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_owned();
    let (_, list) = t.key.get("/v1/webhooks").await;
    assert!(!list.to_string().contains(&secret));

    let tenant = TenantId::parse(&t.id).unwrap();
    let conn = ConnectionId::new();
    for n in 1..=3 {
        app.engine
            .notify(
                &tenant,
                NotificationKind::ConnectionTokenExpired,
                Some(&conn),
                json!({ "n": n }),
            )
            .await
            .unwrap();
    }
    // The first attempt fails with 500: nothing later of that connection is sent meanwhile.
    rx.answer(&[500]);
    assert_eq!(app.deliver_webhooks().await, 1);
    assert_eq!(app.deliver_webhooks().await, 0, "the retry waits for its backoff");
    app.advance(chrono::Duration::minutes(5));
    while app.deliver_webhooks().await > 0 {}
    let got = rx.received();
    let ns: Vec<i64> = got
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["data"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns, vec![1, 1, 2, 3], "retried once, then in order");
    for r in &got {
        assert!(
            verify(&secret, &r.signature, &r.body),
            "signature verifies: {}",
            r.signature
        );
        assert!(!verify("whsec_wrong", &r.signature, &r.body));
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["type"], "connection.token_expired");
        assert_eq!(v["tenant_id"], t.id.as_str());
    }

    // The delivery log and redelivery.
    let (s, log) = t.key.get("/v1/webhook-deliveries").await;
    assert_eq!(s, 200);
    let log = log.as_array().unwrap().clone();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d["state"] == "delivered"));
    let first = log.iter().find(|d| d["attempts"] == 2).expect("the retried one");
    let id = first["id"].as_i64().unwrap();
    let (s, one) = t.key.get(&format!("/v1/webhook-deliveries/{id}")).await;
    assert_eq!(s, 200);
    let attempts = one["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts[1]["status"], 200);
    let (s, _) = t
        .key
        .post(&format!("/v1/webhook-deliveries/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(s, 202);
    assert_eq!(app.deliver_webhooks().await, 1);
    assert_eq!(rx.received().len(), 5);
    let (s, feed) = t.key.get("/v1/notifications?after=0&limit=2").await;
    assert_eq!((s, feed.as_array().unwrap().len()), (200, 2));
    assert_eq!(t.key.get("/v1/notifications?limit=0").await.0, 400);
    let (s, e) = t.key.get("/v1/notifications?after=abc").await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("invalid_request")),
        "a bad query string is JSON too: {e}"
    );
    assert_eq!(t.key.get("/v1/webhook-deliveries/abc").await.0, 404);
    let (s, _) = t
        .key
        .delete(&format!("/v1/webhooks/{}", ep["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        t.key
            .get(&format!("/v1/webhooks/{}", ep["id"].as_str().unwrap()))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn undeliverable_webhooks_are_given_up_after_three_days() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (_, ep) = t
        .key
        .post(
            "/v1/webhooks",
            json!({ "url": "http://127.0.0.1:9/nothing-listens" }),
        )
        .await;
    assert!(ep["id"].is_string());
    let tenant = TenantId::parse(&t.id).unwrap();
    app.engine
        .notify(&tenant, NotificationKind::EventFailed, None, json!({}))
        .await
        .unwrap();
    let mut rounds = 0;
    loop {
        app.deliver_webhooks().await;
        app.advance(chrono::Duration::hours(1));
        rounds += 1;
        let log = app
            .engine
            .store()
            .list_webhook_deliveries(&tenant, None, 1)
            .await
            .unwrap();
        if log[0].state == forcebridge_store::WebhookDeliveryState::Failed {
            break;
        }
        assert!(rounds < 200, "gave up eventually");
    }
    assert!(
        rounds >= 72,
        "retried for three days, not less ({rounds} rounds of an hour)"
    );
    let (_, log) = t.key.get("/v1/webhook-deliveries").await;
    assert_eq!(log[0]["state"], "failed");
    assert!(
        log[0]["last_error"].as_str().unwrap().contains("could not reach"),
        "{log}"
    );
}
