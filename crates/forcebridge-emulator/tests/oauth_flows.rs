//! OAuth 2.0 over real HTTP: every grant type, its failures, the authorize page with PKCE, refresh
//! token limits, revocation, userinfo and the identity URL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

#[path = "control_common.rs"]
mod common;

use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;

fn form_token(h: &forcebridge_emulator::EmulatorHandle, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    client().post(h.token_url()).form(form)
}

async fn send(rb: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn password_grant_answers_exactly_salesforces_fields() {
    let h = start().await;
    let body = password_token(&h).await;
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "id",
            "instance_url",
            "issued_at",
            "scope",
            "signature",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], h.base_url());
    let org_id = h.state().org_read().info.id.clone();
    let token = body["access_token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{}!", org_id.short())), "{token}");
    let id = body["id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{}/id/{org_id}/005", h.base_url())),
        "{id}"
    );
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(issued_at.parse::<u64>().is_ok());
    // The signature is base64 HMAC-SHA256(id + issued_at) keyed with the consumer secret.
    let expected = forcebridge_emulator::oauth::token_signature(&h.config().client_secret, id, issued_at);
    assert_eq!(body["signature"], expected);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body["signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 32);
}

#[tokio::test]
async fn password_grant_accepts_password_without_token_and_rejects_bad_ones() {
    let h = start().await;
    let c = h.config().clone();
    let ok = form_token(
        &h,
        &[
            ("grant_type", "password"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("username", &c.username),
            ("password", &c.password),
        ],
    );
    assert_eq!(send(ok).await.0, 200);

    let cases: Vec<(Vec<(&str, String)>, &str, &str)> = vec![
        (
            vec![("password", "wrong".into())],
            "invalid_grant",
            "authentication failure",
        ),
        (
            vec![("username", "nobody@example.com".into())],
            "invalid_grant",
            "authentication failure",
        ),
        (
            vec![("client_id", "unknown".into())],
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            vec![("client_secret", "wrong".into())],
            "invalid_client",
            "invalid client credentials",
        ),
        (
            vec![("grant_type", "magic".into())],
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ];
    for (overrides, error, description) in cases {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "password".into()),
            ("client_id", c.client_id.clone()),
            ("client_secret", c.client_secret.clone()),
            ("username", c.username.clone()),
            ("password", format!("{}{}", c.password, c.security_token)),
        ];
        for (k, v) in overrides {
            if let Some(slot) = form.iter_mut().find(|(key, _)| *key == k) {
                slot.1 = v;
            }
        }
        let (status, body) = send(client().post(h.token_url()).form(&form)).await;
        assert_eq!(status, 400, "{form:?}");
        assert_eq!(oauth_error(&body), (error, description), "{form:?}");
        assert!(body.get("access_token").is_none());
    }
    let (status, body) = send(client().post(h.token_url()).form(&[("x", "y")])).await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body).0, "unsupported_grant_type");
}

#[tokio::test]
async fn client_credentials_runs_as_the_apps_user() {
    let h = start().await;
    let c = h.config().clone();
    // Client id and secret in an HTTP Basic header, as Salesforce also accepts.
    let (status, body) = send(
        client()
            .post(h.token_url())
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    let info: Value = client()
        .get(format!("{}/services/oauth2/userinfo", h.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], c.username.as_str());

    // An app with no run-as user refuses the flow.
    let (status, app) = control(&h, Method::POST, "apps", json!({"name": "no user"})).await;
    assert_eq!(status, 201);
    let (status, body) = send(form_token(
        &h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", app["client_id"].as_str().unwrap()),
            ("client_secret", app["client_secret"].as_str().unwrap()),
        ],
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        oauth_error(&body),
        ("invalid_grant", "no client credentials user enabled")
    );
    // Wrong secret.
    let (status, body) = send(form_token(
        &h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &c.client_id),
            ("client_secret", "nope"),
        ],
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body).0, "invalid_client");
}

#[tokio::test]
async fn app_inside_its_activation_delay_is_unknown() {
    let h = start().await;
    let (_, app) = control(
        &h,
        Method::POST,
        "apps",
        json!({"activation_delay_secs": 3600, "client_credentials_user": h.config().username}),
    )
    .await;
    let (status, body) = send(form_token(
        &h,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", app["client_id"].as_str().unwrap()),
            ("client_secret", app["client_secret"].as_str().unwrap()),
        ],
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        oauth_error(&body),
        ("invalid_client_id", "client identifier invalid")
    );
}

fn pkce_pair() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-abcdefghijklmnop".to_string();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Runs the authorize page: GET it, submit the login form, return the redirect's query pairs.
async fn authorize(
    h: &forcebridge_emulator::EmulatorHandle,
    challenge: &str,
    action: &str,
) -> std::collections::HashMap<String, String> {
    let c = h.config().clone();
    let params = [
        ("response_type", "code"),
        ("client_id", c.client_id.as_str()),
        ("redirect_uri", CALLBACK),
        ("state", "xyz 123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    let page = client()
        .get(format!("{}/services/oauth2/authorize", h.base_url()))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form") && html.contains("name=\"password\""),
        "{html}"
    );
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let password = format!("{}{}", c.password, c.security_token);
    form.extend([
        ("username", c.username.as_str()),
        ("password", password.as_str()),
        ("action", action),
    ]);
    let resp = client()
        .post(format!("{}/services/oauth2/authorize", h.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(CALLBACK), "{location}");
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let h = start().await;
    let c = h.config().clone();
    let (verifier, challenge) = pkce_pair();
    let q = authorize(&h, &challenge, "allow").await;
    assert_eq!(q["state"], "xyz 123");
    let code = q["code"].clone();

    // The wrong verifier is refused — and burns the code, which is single-use.
    let (status, body) = send(form_token(
        &h,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", &c.client_id),
            ("redirect_uri", CALLBACK),
            (
                "code_verifier",
                "not-the-verifier-not-the-verifier-not-the-verifier",
            ),
        ],
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body), ("invalid_grant", "invalid code verifier"));

    let q = authorize(&h, &challenge, "allow").await;
    let code = q["code"].clone();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", c.client_id.as_str()),
        ("client_secret", c.client_secret.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = send(form_token(&h, &exchange)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].as_str().unwrap().len() > 20);
    assert!(body.get("expires_in").is_none());
    let (status, body) = send(form_token(&h, &exchange)).await;
    assert_eq!(status, 400);
    assert_eq!(
        oauth_error(&body),
        ("invalid_grant", "invalid authorization code")
    );
}

#[tokio::test]
async fn authorize_errors_as_salesforce_sends_them() {
    let h = start().await;
    let c = h.config().clone();
    let q = authorize(&h, "challenge", "deny").await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "xyz 123");
    assert!(q.contains_key("error_description"));

    // A redirect URI that is not a callback URL gets an error page, never a redirect.
    let resp = client()
        .get(format!("{}/services/oauth2/authorize", h.base_url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("redirect_uri_mismatch"));
    // Unknown client.
    let resp = client()
        .get(format!("{}/services/oauth2/authorize", h.base_url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_client_id"));
    // An unsupported response type goes back to the (valid) redirect URI.
    let resp = client()
        .get(format!("{}/services/oauth2/authorize", h.base_url()))
        .query(&[
            ("response_type", "token"),
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=unsupported_response_type")
    );
    // A wrong password re-shows the form with a message, no redirect.
    let resp = client()
        .post(format!("{}/services/oauth2/authorize", h.base_url()))
        .form(&[
            ("response_type", "code"),
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", CALLBACK),
            ("username", c.username.as_str()),
            ("password", "wrong"),
            ("action", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("check your username and password")
    );
}

async fn code_flow_refresh_token(h: &forcebridge_emulator::EmulatorHandle) -> String {
    let c = h.config().clone();
    let (verifier, challenge) = pkce_pair();
    let q = authorize(h, &challenge, "allow").await;
    let (status, body) = send(form_token(
        h,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_string()
}

async fn refresh(h: &forcebridge_emulator::EmulatorHandle, token: &str) -> (u16, Value) {
    let c = h.config().clone();
    send(form_token(
        h,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
        ],
    ))
    .await
}

#[tokio::test]
async fn expired_sessions_answer_401_until_refreshed() {
    let h = start().await;
    let refresh_token = code_flow_refresh_token(&h).await;
    let (status, body) = refresh(&h, &refresh_token).await;
    assert_eq!(status, 200);
    assert!(
        body.get("refresh_token").is_none(),
        "Salesforce does not rotate refresh tokens"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(api_get(&h, "limits", &token).await.status(), 401);

    let (status, out) = control(&h, Method::POST, "sessions/expire", empty()).await;
    assert_eq!(status, 200);
    assert!(out["expired"].as_u64().unwrap() >= 1);
    let resp = api_get(&h, "limits", &token).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );

    let (status, body) = refresh(&h, &refresh_token).await;
    assert_eq!(status, 200);
    let fresh = body["access_token"].as_str().unwrap();
    assert_ne!(api_get(&h, "limits", fresh).await.status(), 401);

    // Revoked by the control API: refresh now fails the way a revoked token does.
    let (_, out) = control(&h, Method::POST, "refresh-tokens/revoke", empty()).await;
    assert_eq!(out["revoked"], 1);
    assert_eq!(
        api_get(&h, "limits", fresh).await.status(),
        401,
        "its sessions end too"
    );
    let (status, body) = refresh(&h, &refresh_token).await;
    assert_eq!(status, 400);
    assert_eq!(
        oauth_error(&body),
        ("invalid_grant", "expired access/refresh token")
    );
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_invalid_session() {
    let h = start().await;
    for auth in [None, Some("Bearer nope"), Some("Basic abc")] {
        let mut rb = client().get(format!("{}/services/data/v66.0/sobjects", h.base_url()));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), "INVALID_SESSION_ID");
    }
    // "OAuth <token>" works like "Bearer <token>".
    let token = access_token(&h).await;
    let resp = client()
        .get(format!("{}/services/data/v66.0/sobjects", h.base_url()))
        .header("authorization", format!("OAuth {token}"))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 401);
}

#[tokio::test]
async fn sixth_refresh_token_revokes_the_first() {
    let h = start().await;
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(code_flow_refresh_token(&h).await);
    }
    let (status, body) = refresh(&h, &tokens[0]).await;
    assert_eq!(status, 400);
    assert_eq!(
        oauth_error(&body),
        ("invalid_grant", "expired access/refresh token")
    );
    for t in &tokens[1..] {
        assert_eq!(refresh(&h, t).await.0, 200);
    }
}

#[tokio::test]
async fn revoke_access_and_refresh_tokens() {
    let h = start().await;
    let token = access_token(&h).await;
    let userinfo = |t: String| {
        let url = format!("{}/services/oauth2/userinfo", h.base_url());
        async move {
            client()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(userinfo(token.clone()).await, 200);
    let resp = client()
        .post(format!("{}/services/oauth2/revoke", h.base_url()))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(userinfo(token.clone()).await, 403);
    // Revoking it again: Salesforce no longer knows the token.
    let (status, body) = send(
        client()
            .post(format!("{}/services/oauth2/revoke", h.base_url()))
            .form(&[("token", token.as_str())]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body).0, "unsupported_token_type");

    // Revoking a refresh token (GET form) ends the sessions it produced.
    let rt = code_flow_refresh_token(&h).await;
    let (_, body) = refresh(&h, &rt).await;
    let from_refresh = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(from_refresh.clone()).await, 200);
    let resp = client()
        .get(format!("{}/services/oauth2/revoke", h.base_url()))
        .query(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(userinfo(from_refresh).await, 403);
    assert_eq!(refresh(&h, &rt).await.0, 400);
}

#[tokio::test]
async fn userinfo_and_identity_url() {
    let h = start().await;
    let body = password_token(&h).await;
    let token = body["access_token"].as_str().unwrap();
    let id_url = body["id"].as_str().unwrap();
    let resp = client().get(id_url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let id: Value = resp.json().await.unwrap();
    assert_eq!(id["id"], id_url);
    assert_eq!(id["username"], h.config().username.as_str());
    assert_eq!(id["active"], true);
    assert_eq!(id["user_type"], "STANDARD");
    assert!(id["user_id"].as_str().unwrap().starts_with("005"));
    assert!(id["organization_id"].as_str().unwrap().starts_with("00D"));
    assert!(id["display_name"].is_string() && id["email"].is_string());
    assert_eq!(
        id["urls"]["rest"],
        format!("{}/services/data/v{{version}}/", h.base_url())
    );

    let info: Value = client()
        .get(format!("{}/services/oauth2/userinfo", h.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], id_url);
    assert_eq!(info["user_id"], id["user_id"]);
    assert_eq!(info["organization_id"], id["organization_id"]);
    assert_eq!(info["preferred_username"], h.config().username.as_str());
    assert!(info["urls"]["sobjects"].is_string());

    let resp = client().get(id_url).bearer_auth("bogus").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.text().await.unwrap(), "Bad_OAuth_Token");
}

/// An RSA key and a self-signed certificate for it, as a JWT-bearer connected app holds.
fn rsa_key_and_cert() -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["jwt.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (key.serialize_pem(), cert.pem())
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

fn jwt(key_pem: &str, claims: &Claims<'_>) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn jwt_bearer_grant() {
    let h = start().await;
    let (key, cert) = rsa_key_and_cert();
    let (other_key, _) = rsa_key_and_cert();
    let (status, app) = control(
        &h,
        Method::POST,
        "apps",
        json!({"name": "jwt", "certificate_pem": cert}),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let client_id = app["client_id"].as_str().unwrap();
    let username = h.config().username.clone();
    let now = jsonwebtoken::get_current_timestamp();
    let good = Claims {
        iss: client_id,
        sub: &username,
        aud: h.base_url(),
        exp: now + 180,
    };
    let grant = |assertion: String| {
        let url = h.token_url();
        async move {
            send(client().post(url).form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ]))
            .await
        }
    };
    let (status, body) = grant(jwt(&key, &good)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert!(body["access_token"].is_string());

    let (status, body) = grant(jwt(&other_key, &good)).await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body), ("invalid_grant", "invalid assertion"));

    let expired = Claims {
        exp: now - 3600,
        ..good
    };
    let (status, body) = grant(jwt(&key, &expired)).await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body).0, "invalid_grant");

    let wrong_aud = Claims {
        aud: "https://elsewhere.example",
        ..good
    };
    let (status, body) = grant(jwt(&key, &wrong_aud)).await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body), ("invalid_grant", "audience is invalid"));

    let unknown_user = Claims {
        sub: "nobody@example.com",
        ..good
    };
    assert_eq!(grant(jwt(&key, &unknown_user)).await.0, 400);
    // `exp` as a numeric string, as simple-salesforce sends it: Salesforce accepts it.
    let key_enc = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let string_exp =
        json!({"iss": client_id, "sub": username, "aud": h.base_url(), "exp": (now + 180).to_string()});
    let (status, body) = grant(jsonwebtoken::encode(&header, &string_exp, &key_enc).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let array_aud = json!({"iss": client_id, "sub": username, "aud": [h.base_url()], "exp": now + 180});
    assert_eq!(
        grant(jsonwebtoken::encode(&header, &array_aud, &key_enc).unwrap())
            .await
            .0,
        200
    );
    let no_exp = json!({"iss": client_id, "sub": username, "aud": h.base_url()});
    assert_eq!(
        grant(jsonwebtoken::encode(&header, &no_exp, &key_enc).unwrap())
            .await
            .0,
        400
    );
    let (status, body) = grant("not.a.jwt".into()).await;
    assert_eq!(status, 400);
    assert_eq!(oauth_error(&body).0, "invalid_grant");
}

#[tokio::test]
async fn added_users_can_log_in() {
    let h = start().await;
    let (status, user) = control(
        &h,
        Method::POST,
        "users",
        json!({"username": "second@example.com", "password": "pw", "security_token": "TOK", "first_name": "Sec", "last_name": "Ond"}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let c = h.config().clone();
    let (status, body) = send(form_token(
        &h,
        &[
            ("grant_type", "password"),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("username", "second@example.com"),
            ("password", "pwTOK"),
        ],
    ))
    .await;
    assert_eq!(status, 200);
    assert!(
        body["id"]
            .as_str()
            .unwrap()
            .ends_with(user["id"].as_str().unwrap())
    );
    let (status, _) = control(
        &h,
        Method::POST,
        "users",
        json!({"username": "second@example.com", "password": "x"}),
    )
    .await;
    assert_eq!(status, 400, "duplicate usernames are refused");
}
