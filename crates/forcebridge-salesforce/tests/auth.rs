//! Sign-in against the real emulator over HTTP and HTTPS: every flow, the single-flight renewal of
//! an expired session, revoked refresh tokens, inactive connected apps, and token hand-off.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;

use std::time::Duration;

use common::*;
use forcebridge_salesforce::auth::pkce::AuthorizeRequest;
use forcebridge_salesforce::auth::{CodeExchange, exchange_code};
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, Error, ErrorKind, HttpConfig, InstanceUrl, LoginHost, RetryPolicy,
    UrlPolicy,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// One authenticated API call; `NOT_FOUND` still proves the session was accepted.
async fn ping(c: &Client) -> Result<(), Error> {
    match c.request_json(Method::GET, "limits", None).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Web server flow with PKCE; returns the tokens (with a refresh token).
async fn web_server_flow(h: &forcebridge_emulator::EmulatorHandle) -> forcebridge_salesforce::TokenSet {
    let c = h.config();
    let redirect = "http://localhost:7777/oauth/callback".to_string();
    let started = AuthorizeRequest {
        login_host: login_host(h),
        client_id: c.client_id.clone(),
        redirect_uri: redirect.clone(),
        scopes: vec!["api".into(), "refresh_token".into()],
        prompt: None,
    }
    .start();
    let (code, state) = authorize(h, &started.url).await;
    assert!(started.state_matches(&state), "state comes back unchanged");
    let http = http_config(h).build().unwrap();
    let exchange = CodeExchange {
        login_host: login_host(h),
        client_id: c.client_id.clone(),
        client_secret: Some(SecretString::from(c.client_secret.clone())),
        redirect_uri: redirect,
    };
    // A wrong verifier is refused: PKCE is really checked.
    let wrong = exchange_code(
        &http,
        &exchange,
        &code,
        "x".repeat(60).as_str(),
        UrlPolicy::AllowLoopbackHttp,
    )
    .await;
    assert!(wrong.is_err());
    let (code, _) = authorize(h, &started.url).await;
    exchange_code(
        &http,
        &exchange,
        &code,
        started.verifier(),
        UrlPolicy::AllowLoopbackHttp,
    )
    .await
    .expect("code exchange")
}

async fn every_flow_signs_in(tls: bool) {
    let h = start(tls).await;
    let scheme = if tls { "https://" } else { "http://" };

    // Username-password.
    let (c, store) = client_with(&h, password_credentials(&h));
    ping(&c).await.expect("password flow");
    assert_eq!(store.saves(), 1, "tokens are handed to the store");
    let saved = store.last().unwrap();
    assert!(saved.instance_url.as_str().starts_with(scheme));
    assert!(saved.org_id().is_some_and(|id| id.starts_with("00D")));

    // Client credentials.
    let cfg = h.config();
    let (c, _) = client_with(
        &h,
        Credentials::ClientCredentials {
            client_id: cfg.client_id.clone(),
            client_secret: SecretString::from(cfg.client_secret.clone()),
        },
    );
    ping(&c).await.expect("client credentials flow");

    // Web server flow with PKCE, then the refresh token flow.
    let tokens = web_server_flow(&h).await;
    let refresh = tokens.refresh_token.clone().expect("refresh token issued");
    let (c, store) = client_with(
        &h,
        Credentials::RefreshToken {
            client_id: cfg.client_id.clone(),
            client_secret: Some(SecretString::from(cfg.client_secret.clone())),
            refresh_token: refresh.clone(),
        },
    );
    ping(&c).await.expect("refresh token flow");
    assert_eq!(
        store.last().unwrap().refresh_token.unwrap().expose_secret(),
        refresh.expose_secret(),
        "the refresh token is kept"
    );

    // JWT bearer with an RSA key whose certificate is on a connected app.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["jwt.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (status, app) = control(
        &h,
        Method::POST,
        "apps",
        json!({"name": "jwt", "certificate_pem": cert.pem()}),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let (c, _) = client_with(
        &h,
        Credentials::JwtBearer {
            client_id: app["client_id"].as_str().unwrap().to_string(),
            username: cfg.username.clone(),
            private_key_pem: SecretString::from(key.serialize_pem()),
        },
    );
    ping(&c).await.expect("jwt bearer flow");
}

#[tokio::test]
async fn every_flow_signs_in_over_http() {
    every_flow_signs_in(false).await;
}

#[tokio::test]
async fn every_flow_signs_in_over_https_with_the_emulator_ca() {
    every_flow_signs_in(true).await;
}

#[tokio::test]
async fn https_without_the_ca_is_refused() {
    let h = start(true).await;
    let auth = AuthConfig::new(login_host(&h), password_credentials(&h));
    let c = Client::builder(auth)
        .http(HttpConfig::default().allow_loopback_http())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.session().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e}");
}

#[tokio::test]
async fn fifty_concurrent_calls_on_an_expired_session_cause_one_token_request() {
    let h = start(false).await;
    let cfg = h.config().clone();
    let tokens = web_server_flow(&h).await;
    let (c, store) = client_with(
        &h,
        Credentials::RefreshToken {
            client_id: cfg.client_id.clone(),
            client_secret: Some(SecretString::from(cfg.client_secret.clone())),
            refresh_token: tokens.refresh_token.unwrap(),
        },
    );
    ping(&c).await.unwrap();
    let (status, body) = control(&h, Method::POST, "sessions/expire", json!({})).await;
    assert_eq!(status, 200, "{body}");
    clear_requests(&h).await;

    let calls = (0..50).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { ping(&c).await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().expect("every call succeeds after the renewal");
    }
    assert_eq!(
        token_requests(&h, "refresh_token").await,
        1,
        "exactly one token request"
    );
    assert_eq!(store.saves(), 2, "the renewed tokens are handed to the store");
}

#[tokio::test]
async fn a_revoked_refresh_token_is_a_typed_error_without_a_retry_loop() {
    let h = start(true).await;
    let cfg = h.config().clone();
    let tokens = web_server_flow(&h).await;
    let (c, _) = client_with(
        &h,
        Credentials::RefreshToken {
            client_id: cfg.client_id.clone(),
            client_secret: Some(SecretString::from(cfg.client_secret.clone())),
            refresh_token: tokens.refresh_token.unwrap(),
        },
    );
    ping(&c).await.unwrap();
    control(&h, Method::POST, "refresh-tokens/revoke", json!({})).await;
    control(&h, Method::POST, "sessions/expire", json!({})).await;
    clear_requests(&h).await;

    let calls = (0..20).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { ping(&c).await })
    });
    for r in futures::future::join_all(calls).await {
        let e = r.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TokenRevoked, "{e}");
        assert!(matches!(e, Error::TokenExpiredOrRevoked { .. }));
    }
    assert_eq!(
        token_requests(&h, "refresh_token").await,
        1,
        "one refusal, remembered"
    );
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_asked_once() {
    let h = start(false).await;
    let cfg = h.config();
    let (c, store) = client_with(
        &h,
        Credentials::Password {
            client_id: cfg.client_id.clone(),
            client_secret: SecretString::from(cfg.client_secret.clone()),
            username: cfg.username.clone(),
            password: SecretString::from("wrong"),
        },
    );
    let e = ping(&c).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(token_requests(&h, "password").await, 1);
    assert_eq!(store.saves(), 0);
}

#[tokio::test]
async fn a_new_connected_app_is_waited_for_patiently() {
    let h = start(false).await;
    let cfg = h.config().clone();
    let (status, app) = control(
        &h,
        Method::POST,
        "apps",
        json!({"name": "brand new", "activation_delay_secs": 1}),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let creds = Credentials::Password {
        client_id: app["client_id"].as_str().unwrap().to_string(),
        client_secret: SecretString::from(app["client_secret"].as_str().unwrap().to_string()),
        username: cfg.username.clone(),
        password: SecretString::from(format!("{}{}", cfg.password, cfg.security_token)),
    };

    // Without patience: a clear, typed error.
    let mut auth = AuthConfig::new(login_host(&h), creds.clone());
    auth.app_activation_wait = Duration::ZERO;
    let impatient = Client::builder(auth)
        .http(http_config(&h))
        .retry(RetryPolicy::fast())
        .build()
        .unwrap();
    let e = impatient.session().await.unwrap_err();
    assert!(matches!(e, Error::ConnectedAppNotReady { .. }), "{e}");
    assert!(e.to_string().contains("2-10 minutes"), "{e}");

    // With patience: signs in once the app is active.
    let mut auth = AuthConfig::new(login_host(&h), creds);
    auth.app_activation_wait = Duration::from_secs(30);
    auth.app_activation_poll = Duration::from_millis(200);
    let patient = Client::builder(auth)
        .http(http_config(&h))
        .retry(RetryPolicy::fast())
        .build()
        .unwrap();
    ping(&patient).await.expect("signs in after the activation delay");
}

#[tokio::test]
async fn transient_token_endpoint_failures_are_retried() {
    let h = start(false).await;
    add_fault(
        &h,
        json!({"count": 2, "status": 503, "errorCode": "SERVER_UNAVAILABLE", "message": "down",
               "path_prefix": "/services/oauth2/token"}),
    )
    .await;
    let c = client(&h);
    ping(&c).await.expect("sign-in after two 503s");
    assert_eq!(token_requests(&h, "password").await, 3);
}

#[test]
fn login_hosts_refuse_plain_http_outside_loopback() {
    assert!(InstanceUrl::parse_with("http://login.example.com", UrlPolicy::AllowLoopbackHttp).is_err());
    let auth = AuthConfig::new(
        LoginHost::Custom(
            InstanceUrl::parse_with("http://localhost:1", UrlPolicy::AllowLoopbackHttp).unwrap(),
        ),
        Credentials::ClientCredentials {
            client_id: "x".into(),
            client_secret: SecretString::from("y"),
        },
    );
    // The builder re-checks the login host under the HTTP policy: https-only refuses loopback http.
    assert!(Client::builder(auth).build().is_err());
}
