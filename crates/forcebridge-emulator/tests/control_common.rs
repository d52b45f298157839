//! Helpers shared by the emulator platform tests (OAuth, SOAP, control API, TLS, state file):
//! start an emulator on port 0 and talk to it over real HTTP. Included by the other test files
//! with `#[path = "control_common.rs"] mod common;`; on its own it has no tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use forcebridge_emulator::org::ConnectedApp;
use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{Value, json};

/// The callback URL the test app accepts.
pub const CALLBACK: &str = "http://localhost/callback";

/// Starts an emulator with `config` and makes sure its configured administrator and default app
/// exist (the bootstrap normally makes them; this keeps the tests independent of it).
pub async fn start_with(config: EmulatorConfig) -> EmulatorHandle {
    let h = Emulator::start(config).await.expect("emulator starts");
    ensure_defaults(&h);
    h
}

/// [`start_with`] the default configuration.
pub async fn start() -> EmulatorHandle {
    start_with(EmulatorConfig::default()).await
}

fn ensure_defaults(h: &EmulatorHandle) {
    let c = h.config().clone();
    let mut org = h.state().org_write();
    let admin = match forcebridge_emulator::control::add_user(
        &mut org,
        forcebridge_emulator::control::NewUser {
            username: c.username.clone(),
            password: c.password.clone(),
            security_token: c.security_token.clone(),
            first_name: Some("Admin".into()),
            last_name: Some("User".into()),
            ..Default::default()
        },
    ) {
        Ok(id) => id,
        Err(_) => org
            .auth
            .credentials
            .iter()
            .find(|cr| cr.username == c.username)
            .map(|cr| cr.user_id.clone())
            .expect("admin exists"),
    };
    match org.auth.apps.iter_mut().find(|a| a.client_id == c.client_id) {
        Some(app) => {
            if !app.callback_urls.iter().any(|u| u == CALLBACK) {
                app.callback_urls.push(CALLBACK.into());
            }
        }
        None => org.auth.apps.push(ConnectedApp {
            name: "forcebridge".into(),
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
            callback_urls: vec![CALLBACK.into()],
            certificate_pem: None,
            client_credentials_user: Some(admin),
            activation_delay_secs: 0,
            created_at: chrono::Utc::now() - chrono::TimeDelta::days(1),
        }),
    }
}

/// A client that does not follow redirects (the authorize flow inspects them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A password-flow token response for the administrator.
pub async fn password_token(h: &EmulatorHandle) -> Value {
    let c = h.config();
    let resp = client()
        .post(h.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", &format!("{}{}", c.password, c.security_token)),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

/// The access token of a password-flow login.
pub async fn access_token(h: &EmulatorHandle) -> String {
    password_token(h).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// POSTs JSON to a control endpoint and returns (status, body).
pub async fn control(h: &EmulatorHandle, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let resp = client()
        .request(method, format!("{}/__emulator/{path}", h.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A GET under `/services/data/v66.0/` with a bearer token; returns the response.
pub async fn api_get(h: &EmulatorHandle, path: &str, token: &str) -> reqwest::Response {
    client()
        .get(format!("{}/services/data/v66.0/{path}", h.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("api request")
}

/// Adds an `Account` object to the schema if the standard schema does not have one yet.
pub fn ensure_account_object(h: &EmulatorHandle) {
    use forcebridge_emulator::schema::{FieldDef, FieldType, ObjectDef};
    let mut org = h.state().org_write();
    if org.schema.object("Account").is_some() {
        return;
    }
    let mut fields = indexmap::IndexMap::new();
    for (name, t) in [
        ("Id", FieldType::Id),
        ("Name", FieldType::String),
        ("IsDeleted", FieldType::Boolean),
        ("CreatedDate", FieldType::Datetime),
        ("LastModifiedDate", FieldType::Datetime),
        ("SystemModstamp", FieldType::Datetime),
    ] {
        fields.insert(name.to_string(), FieldDef::new(name, name, t));
    }
    org.schema.insert(ObjectDef {
        name: "Account".into(),
        label: "Account".into(),
        label_plural: "Accounts".into(),
        key_prefix: "001".into(),
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: true,
        retrieveable: true,
        undeletable: true,
        mergeable: true,
        replicateable: true,
        triggerable: true,
        feed_enabled: true,
        fields,
    });
}

/// An error body's first `errorCode`.
pub fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or_default()
}

/// `{"error": e, "error_description": d}` as a tuple.
pub fn oauth_error(body: &Value) -> (&str, &str) {
    (
        body["error"].as_str().unwrap_or_default(),
        body["error_description"].as_str().unwrap_or_default(),
    )
}

/// An empty JSON object, for control calls without parameters.
pub fn empty() -> Value {
    json!({})
}
