//! Shared helpers for the client's integration tests: start the real emulator on port 0 (HTTP or
//! HTTPS with its CA), build clients for each sign-in flow, and drive the control API over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure
#![allow(dead_code)]

use std::sync::Arc;

use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials, HttpConfig, InstanceUrl, LoginHost, MemoryTokenStore, RetryPolicy,
    UrlPolicy,
};
use secrecy::SecretString;
use serde_json::{Value, json};

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub async fn start(tls: bool) -> EmulatorHandle {
    install_crypto();
    Emulator::start(EmulatorConfig {
        tls,
        ..Default::default()
    })
    .await
    .expect("emulator starts")
}

pub fn login_host(h: &EmulatorHandle) -> LoginHost {
    LoginHost::Custom(InstanceUrl::parse_with(h.base_url(), UrlPolicy::AllowLoopbackHttp).expect("url"))
}

pub fn http_config(h: &EmulatorHandle) -> HttpConfig {
    let mut http = HttpConfig::default().allow_loopback_http();
    if let Some(ca) = h.ca_file() {
        http = http.trust_ca_file(ca).expect("ca file");
    }
    http
}

pub fn password_credentials(h: &EmulatorHandle) -> Credentials {
    let c = h.config();
    Credentials::Password {
        client_id: c.client_id.clone(),
        client_secret: SecretString::from(c.client_secret.clone()),
        username: c.username.clone(),
        password: SecretString::from(format!("{}{}", c.password, c.security_token)),
    }
}

/// A client using `credentials`, fast retries, and a memory token store (returned too).
pub fn client_with(h: &EmulatorHandle, credentials: Credentials) -> (Client, Arc<MemoryTokenStore>) {
    let store = Arc::new(MemoryTokenStore::default());
    let auth = AuthConfig::new(login_host(h), credentials).with_store(store.clone());
    let client = Client::builder(auth)
        .http(http_config(h))
        .retry(RetryPolicy::fast())
        .build()
        .expect("client builds");
    (client, store)
}

pub fn client(h: &EmulatorHandle) -> Client {
    client_with(h, password_credentials(h)).0
}

/// A plain reqwest client (no redirects) that trusts the emulator's CA.
pub fn raw(h: &EmulatorHandle) -> reqwest::Client {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = h.ca_file() {
        let pem = std::fs::read(ca).expect("ca");
        b = b.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).expect("pem"));
    }
    b.build().expect("raw client")
}

/// Calls the control API and returns (status, JSON body).
pub async fn control(h: &EmulatorHandle, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let resp = raw(h)
        .request(method, format!("{}/__emulator/{path}", h.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn add_fault(h: &EmulatorHandle, fault: Value) {
    let (status, body) = control(h, reqwest::Method::POST, "faults", fault).await;
    assert_eq!(status, 201, "{body}");
}

/// The request log entries (optionally only those under a path prefix).
pub async fn requests(h: &EmulatorHandle, prefix: Option<&str>) -> Vec<Value> {
    let path = match prefix {
        Some(p) => format!("requests?path_prefix={p}"),
        None => "requests".to_string(),
    };
    let (status, body) = control(h, reqwest::Method::GET, &path, json!(null)).await;
    assert_eq!(status, 200, "{body}");
    body["requests"].as_array().cloned().unwrap_or_default()
}

pub async fn clear_requests(h: &EmulatorHandle) {
    control(h, reqwest::Method::DELETE, "requests", json!(null)).await;
}

/// How many token requests with this grant type the emulator saw.
pub async fn token_requests(h: &EmulatorHandle, grant: &str) -> usize {
    requests(h, Some("/services/oauth2/token"))
        .await
        .iter()
        .filter(|e| e["grant_type"] == grant)
        .count()
}

/// Runs the web server flow against the emulator's login page: authorize URL → submitted form →
/// redirect with `code` and `state`. Returns (code, state).
pub async fn authorize(h: &EmulatorHandle, url: &str) -> (String, String) {
    let c = h.config();
    let parsed = url::Url::parse(url).expect("authorize url");
    let mut form: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    form.push(("username".into(), c.username.clone()));
    form.push(("password".into(), c.password.clone()));
    form.push(("action".into(), "allow".into()));
    let resp = raw(h)
        .post(format!("{}/services/oauth2/authorize", h.base_url()))
        .form(&form)
        .send()
        .await
        .expect("authorize submit");
    assert!(resp.status().is_redirection(), "status {}", resp.status());
    let location = resp.headers()["location"].to_str().expect("location").to_string();
    let back = url::Url::parse(&location).expect("redirect url");
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    (q["code"].clone(), q["state"].clone())
}

/// Adds a custom object `Track__c` (copied from Account's shape) with an external id
/// `Slug__c` — the schema the seeds' recipes provision — straight into the emulator's org.
pub fn add_track_object(h: &EmulatorHandle) {
    use forcebridge_emulator::schema::{FieldDef, FieldType};
    let mut org = h.state().org_write();
    let mut def = org.schema.object("Account").cloned().expect("Account exists");
    def.name = "Track__c".into();
    def.label = "Track".into();
    def.label_plural = "Tracks".into();
    def.key_prefix = "a01".into();
    def.custom = true;
    def.fields.retain(|k, _| {
        matches!(
            k.as_str(),
            "Id" | "Name"
                | "IsDeleted"
                | "CreatedDate"
                | "LastModifiedDate"
                | "SystemModstamp"
                | "OwnerId"
                | "CreatedById"
                | "LastModifiedById"
        )
    });
    def.fields.insert(
        "Slug__c".into(),
        FieldDef::new("Slug__c", "Slug", FieldType::String)
            .external_id()
            .unique()
            .len(255),
    );
    def.fields.insert(
        "Score__c".into(),
        FieldDef::new("Score__c", "Score", FieldType::Double),
    );
    org.schema.insert(def);
}

/// Seeds `n` Accounts named `Seed 00000`.. through the control API.
pub async fn seed_accounts(h: &EmulatorHandle, n: usize) {
    let rows: Vec<Value> = (0..n).map(|i| json!({"Name": format!("Seed {i:05}")})).collect();
    for chunk in rows.chunks(5000) {
        let (status, body) = control(
            h,
            reqwest::Method::POST,
            "records/Account",
            Value::Array(chunk.to_vec()),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
}
