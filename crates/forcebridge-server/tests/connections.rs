//! Connections over real HTTP against the emulator: every auth flow (web-server OAuth through
//! the consent page, client credentials, JWT bearer, username-password + security token), the
//! per-owner limit, shared connections and grants, members' limits, rename, refresh (a revoked
//! token turns into `token_expired` with a webhook), removal (the token is revoked at
//! Salesforce) and the access doctor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use secrecy::ExposeSecret as _;
use serde_json::json;
use support::{Receiver, TestApp, verify};

#[tokio::test]
async fn web_server_oauth_flow_end_to_end_through_the_consent_page() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (ann, _) = app.session(&t, "ann@acme.test", "member").await;
    // Keys cannot start it: it belongs to a person.
    let body = json!({ "label": "Production", "environment": { "kind": "production" } });
    assert_eq!(t.key.post("/v1/connections/oauth", body.clone()).await.0, 403);
    let (s, e) = ann
        .post("/v1/connections/oauth", json!({ "label": "x", "environment": { "kind": "my_domain", "url": "https://acme.my.salesforce.com/" } }))
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("environment.url")), "{e}");
    let (s, e) = ann
        .post(
            "/v1/connections/oauth",
            json!({ "label": "x", "environment": { "kind": "production" }, "shared_with": [] }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("shared_with")), "{e}");

    let (s, start) = ann.post("/v1/connections/oauth", body.clone()).await;
    assert_eq!(s, 200, "{start}");
    let authorize = start["authorize_url"].as_str().unwrap();
    let q: std::collections::HashMap<String, String> = url::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["redirect_uri"].ends_with("/v1/oauth/callback"));
    let back = app.consent(authorize, "allow").await;
    assert!(back.starts_with(&app.url), "{back}");
    let (s, page) = app.browser_get(&back).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("data-result=\"connected\""), "{page}");
    // The same callback again: the state works once.
    let (s, page) = app.browser_get(&back).await;
    assert_eq!(s, 400);
    assert!(page.contains("start connecting again"), "{page}");

    let (s, list) = ann.get("/v1/connections").await;
    assert_eq!(s, 200);
    let c = &list[0];
    assert_eq!(c["label"], "Production");
    assert_eq!(c["auth_method"], "oauth_web_server");
    assert_eq!(c["status"], "active");
    assert!(c["org_id"].as_str().unwrap().starts_with("00D"), "{c}");
    assert!(!list.to_string().contains("refresh"), "no credentials in answers");

    // Deny on the consent page: nothing is created.
    let (_, start) = ann.post("/v1/connections/oauth", body.clone()).await;
    let back = app
        .consent(start["authorize_url"].as_str().unwrap(), "deny")
        .await;
    let (s, page) = app.browser_get(&back).await;
    assert_eq!(s, 400);
    assert!(page.contains("denied"), "{page}");
    // A session that ended cannot finish its flow.
    let (bob, minted) = app.session(&t, "bob@acme.test", "member").await;
    let (_, start) = bob.post("/v1/connections/oauth", body).await;
    let back = app
        .consent(start["authorize_url"].as_str().unwrap(), "allow")
        .await;
    t.key
        .delete(&format!(
            "/v1/sessions/{}",
            minted["session_id"].as_str().unwrap()
        ))
        .await;
    let (s, page) = app.browser_get(&back).await;
    assert_eq!(s, 400);
    assert!(page.contains("session"), "{page}");
    assert_eq!(ann.get("/v1/connections").await.1.as_array().unwrap().len(), 1);
    // Forged state.
    let (s, _) = app
        .browser_get(&format!("{}/v1/oauth/callback?code=x&state=forged", app.url))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn server_to_server_flows_client_credentials_jwt_and_password() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (admin, _) = app.session(&t, "ada@acme.test", "admin").await;
    let emu = app.emulator.base_url().to_owned();
    let c = app.emulator.config().clone();

    // Client credentials: client id, secret and the My Domain URL (validated).
    let (s, cc) = app
        .emulator_control(
            "apps",
            json!({ "name": "s2s", "client_credentials_user": c.username }),
        )
        .await;
    assert_eq!(s, 201, "{cc}");
    let body = |url: &str, secret: &str| {
        json!({
            "label": "Server to server",
            "environment": { "kind": "my_domain", "url": url },
            "auth": { "method": "client_credentials", "client_id": cc["client_id"], "client_secret": secret },
        })
    };
    let (s, e) = admin
        .post(
            "/v1/connections",
            body(&format!("{emu}/"), cc["client_secret"].as_str().unwrap()),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("environment.url")), "{e}");
    let (s, e) = admin
        .post(
            "/v1/connections",
            body(
                &emu.replace("https://", "http://"),
                cc["client_secret"].as_str().unwrap(),
            ),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("environment.url")), "{e}");
    let (s, e) = admin.post("/v1/connections", body(&emu, "wrong")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (422, Some("salesforce_auth_failed")),
        "{e}"
    );
    let (s, e) = admin
        .post(
            "/v1/connections",
            json!({ "label": "x", "environment": { "kind": "production" },
                    "auth": { "method": "client_credentials", "client_id": "a", "client_secret": "b" } }),
        )
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("environment.url")), "{e}");
    let (s, conn) = admin
        .post(
            "/v1/connections",
            body(&emu, cc["client_secret"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, 201, "{conn}");
    assert_eq!(conn["auth_method"], "client_credentials");
    assert_eq!(conn["status"], "active");

    // JWT bearer with a key whose certificate is on a connected app.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["jwt.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (s, jwt_app) = app
        .emulator_control("apps", json!({ "name": "jwt", "certificate_pem": cert.pem() }))
        .await;
    assert_eq!(s, 201);
    let jwt = |pem: &str| {
        json!({ "label": "JWT", "environment": { "kind": "production" },
                "auth": { "method": "jwt_bearer", "client_id": jwt_app["client_id"], "username": c.username, "private_key_pem": pem } })
    };
    let (s, e) = admin.post("/v1/connections", jwt("not a key")).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("private_key_pem")), "{e}");
    let (s, conn) = admin.post("/v1/connections", jwt(&key.serialize_pem())).await;
    assert_eq!(s, 201, "{conn}");
    assert_eq!(conn["auth_method"], "jwt_bearer");

    // Username-password with the security token.
    let (s, conn) = admin
        .post("/v1/connections", app.password_connection("Password"))
        .await;
    assert_eq!(s, 201, "{conn}");
    assert_eq!(conn["auth_method"], "password");
    let mut wrong = app.password_connection("Wrong");
    wrong["auth"]["password"] = json!("nope");
    let (s, e) = admin.post("/v1/connections", wrong).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (422, Some("salesforce_auth_failed")),
        "{e}"
    );
    let mut missing = app.password_connection("Missing");
    missing["auth"].as_object_mut().unwrap().remove("username");
    let (s, e) = admin.post("/v1/connections", missing).await;
    assert_eq!((s, e["code"].as_str()), (400, Some("invalid_request")), "{e}");
    assert!(
        e["field"].as_str().unwrap().contains("auth") || e["message"].as_str().unwrap().contains("username"),
        "{e}"
    );

    // Secrets are sealed at rest: the database file never holds them in the clear.
    let creds = app
        .engine
        .store()
        .list_connections(&forcebridge_store::TenantId::parse(&t.id).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(creds.len(), 3);
    // Keys name the owner by email.
    let (s, e) = t
        .key
        .post("/v1/connections", app.password_connection("By key"))
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("owner_email")), "{e}");
    let mut by_key = app.password_connection("By key");
    by_key["owner_email"] = json!("zed@acme.test");
    let (s, conn) = t.key.post("/v1/connections", by_key).await;
    assert_eq!(s, 201, "{conn}");
    assert_eq!(conn["owner"]["kind"], "personal");
}

#[tokio::test]
async fn personal_limit_shared_connections_and_what_members_may_do() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (ann, ann_s) = app.session(&t, "ann@acme.test", "member").await;
    let (bob, bob_s) = app.session(&t, "bob@acme.test", "member").await;
    let (ada, _) = app.session(&t, "ada@acme.test", "admin").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, c) = ann
            .post("/v1/connections", app.password_connection(&format!("Mine {i}")))
            .await;
        assert_eq!(s, 201, "{c}");
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    let (s, e) = ann
        .post("/v1/connections", app.password_connection("Sixth"))
        .await;
    assert_eq!((s, e["code"].as_str()), (409, Some("connection_limit")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("remove one"), "{e}");

    // A member cannot make a shared connection; an admin can, and grants it.
    let mut shared = app.password_connection("Team org");
    shared["shared_with"] = json!([]);
    assert_eq!(ann.post("/v1/connections", shared.clone()).await.0, 400);
    let (s, team) = ada.post("/v1/connections", shared).await;
    assert_eq!(s, 201, "{team}");
    let team_id = team["id"].as_str().unwrap().to_owned();
    assert_eq!(
        bob.get(&format!("/v1/connections/{team_id}")).await.0,
        404,
        "not granted yet"
    );
    let (s, e) = ann
        .put(
            &format!("/v1/connections/{team_id}/grants"),
            json!({ "users": [bob_s["user_id"]] }),
        )
        .await;
    assert_eq!(s, 404, "members do not see it either: {e}");
    let (s, g) = ada
        .put(
            &format!("/v1/connections/{team_id}/grants"),
            json!({ "users": [bob_s["user_id"]] }),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(bob.get(&format!("/v1/connections/{team_id}")).await.0, 200);
    let (s, e) = bob
        .patch(
            &format!("/v1/connections/{team_id}"),
            json!({ "label": "Mine now" }),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    assert_eq!(bob.get("/v1/connections").await.1.as_array().unwrap().len(), 1);
    assert_eq!(ada.get("/v1/connections").await.1.as_array().unwrap().len(), 6);
    // Bob cannot see or touch Ann's personal connections: 404, as for another tenant.
    for (method, path) in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/refresh")] {
        let p = format!("/v1/connections/{}{path}", ids[0]);
        let (s, _) = bob
            .call(
                method.parse().unwrap(),
                &p,
                (method != "GET" && method != "DELETE").then(|| json!({ "label": "x" })),
            )
            .await;
        assert_eq!(s, 404, "{method} {p}");
    }
    let _ = ann_s;

    // Rename.
    let (s, r) = ann
        .patch(
            &format!("/v1/connections/{}", ids[0]),
            json!({ "label": "Sandbox EU" }),
        )
        .await;
    assert_eq!((s, r["label"].as_str()), (200, Some("Sandbox EU")));
    let (s, e) = ann
        .patch(&format!("/v1/connections/{}", ids[0]), json!({ "label": "" }))
        .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("label")), "{e}");
    let (s, e) = ann
        .patch(&format!("/v1/connections/{}", ids[0]), json!({ "name": "x" }))
        .await;
    assert_eq!(s, 400, "{e}");
    // Removing one makes room again.
    assert_eq!(ann.delete(&format!("/v1/connections/{}", ids[1])).await.0, 204);
    assert_eq!(ann.get(&format!("/v1/connections/{}", ids[1])).await.0, 404);
    assert_eq!(
        ann.post("/v1/connections", app.password_connection("Again"))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn refresh_turns_a_revoked_token_into_token_expired_and_tells_the_product() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let rx = Receiver::start().await;
    let (_, ep) = t.key.post("/v1/webhooks", json!({ "url": rx.url })).await;
    let secret = ep["secret"].as_str().unwrap().to_owned();
    let (ann, _) = app.session(&t, "ann@acme.test", "member").await;
    let (_, start) = ann
        .post(
            "/v1/connections/oauth",
            json!({ "label": "Prod", "environment": { "kind": "production" } }),
        )
        .await;
    let back = app
        .consent(start["authorize_url"].as_str().unwrap(), "allow")
        .await;
    assert_eq!(app.browser_get(&back).await.0, 200);
    let (_, list) = ann.get("/v1/connections").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let (s, r) = ann
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("active")), "{r}");

    // Revoke the refresh token at Salesforce (as a user or admin would there).
    let tenant = forcebridge_store::TenantId::parse(&t.id).unwrap();
    let conn_id = forcebridge_store::ConnectionId::parse(&id).unwrap();
    let creds = app.engine.store().credentials(&tenant, &conn_id).await.unwrap();
    let rt = creds.refresh_token.unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_merge(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(app.emulator.ca_file().unwrap()).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let revoked = http
        .post(format!("{}/services/oauth2/revoke", app.emulator.base_url()))
        .form(&[("token", rt.expose_secret())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    let (s, r) = ann
        .post(&format!("/v1/connections/{id}/refresh"), json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "token_expired");
    assert!(r["status_reason"].as_str().unwrap().contains("reconnect"), "{r}");
    while app.deliver_webhooks().await > 0 {}
    let got = rx.received();
    let last = got.last().expect("a webhook");
    assert!(verify(&secret, &last.signature, &last.body));
    let v: serde_json::Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(v["type"], "connection.token_expired");
    assert_eq!(v["connection_id"], id.as_str());
}

#[tokio::test]
async fn removal_revokes_the_token_at_salesforce_and_the_doctor_reports_access() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let (ann, _) = app.session(&t, "ann@acme.test", "member").await;
    let (_, start) = ann
        .post(
            "/v1/connections/oauth",
            json!({ "label": "Prod", "environment": { "kind": "production" } }),
        )
        .await;
    let back = app
        .consent(start["authorize_url"].as_str().unwrap(), "allow")
        .await;
    assert_eq!(app.browser_get(&back).await.0, 200);
    let (_, list) = ann.get("/v1/connections").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();

    let (s, report) = ann
        .post(
            &format!("/v1/connections/{id}/doctor"),
            json!({ "objects": [
                { "name": "Lead", "operations": ["read", "create"], "edit_fields": ["Email"] },
                { "name": "Nope__c", "operations": ["read"] },
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["object"] == "Nope__c"), "{report}");
    assert!(findings.iter().all(|f| f["object"] != "Lead"), "{report}");
    let (s, e) = ann
        .post(
            &format!("/v1/connections/{id}/doctor"),
            json!({ "objects": [{ "name": "Lead", "operations": ["fly"] }] }),
        )
        .await;
    assert_eq!(
        (s, e["field"].as_str()),
        (400, Some("objects[0].operations[0]")),
        "{e}"
    );

    let tenant = forcebridge_store::TenantId::parse(&t.id).unwrap();
    let conn_id = forcebridge_store::ConnectionId::parse(&id).unwrap();
    let rt = app
        .engine
        .store()
        .credentials(&tenant, &conn_id)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    assert_eq!(ann.delete(&format!("/v1/connections/{id}")).await.0, 204);
    let c = app.emulator.config();
    let http = reqwest::Client::builder()
        .tls_certs_merge(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(app.emulator.ca_file().unwrap()).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/services/oauth2/token", app.emulator.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.expose_secret()),
            ("client_id", c.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the refresh token was revoked at Salesforce");
    let (_, feed) = t.key.get("/v1/notifications").await;
    assert_eq!(
        feed.as_array().unwrap().last().unwrap()["kind"],
        "connection.revoked"
    );
}
