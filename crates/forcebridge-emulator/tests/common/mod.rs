//! Shared helpers of the REST integration tests (`tests/rest_*.rs`): start an emulator on port 0,
//! sign in as the administrator with the OAuth password grant, and call
//! `/services/data/v66.0/...` over real HTTP.
#![allow(dead_code)]

use forcebridge_emulator::schema::{FieldDef, FieldType};
use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use reqwest::Method;
use serde_json::{Value, json};

/// The API version the tests speak.
pub const V: &str = "v66.0";

/// A running emulator and a signed-in client of one of its orgs.
pub struct App {
    /// Shared by the clients of several orgs of one emulator (see [`App::at`]).
    pub handle: std::sync::Arc<EmulatorHandle>,
    pub client: reqwest::Client,
    /// The instance URL requests go to.
    pub base: String,
    /// `None` while the emulator has no OAuth token endpoint (answers 404).
    pub token: Option<String>,
}

/// Starts an emulator with the default configuration and signs in.
pub async fn spawn() -> App {
    spawn_with(EmulatorConfig::default()).await
}

/// Starts an emulator with `config` (a state file, say) and signs in as the administrator.
pub async fn spawn_with(config: EmulatorConfig) -> App {
    let handle = Emulator::start(config).await.expect("emulator starts");
    let base = handle.base_url().to_string();
    let client = reqwest::Client::new();
    let c = handle.config().clone();
    let (status, body) = password_grant(&client, &handle.token_url(), &c.username, &c).await;
    let token = if status == 404 {
        None
    } else {
        assert_eq!(status, 200, "password grant works: {body}");
        Some(body["access_token"].as_str().expect("access_token").to_string())
    };
    App {
        handle: std::sync::Arc::new(handle),
        client,
        base,
        token,
    }
}

/// The OAuth password grant for `username` with `config`'s app, password and security token,
/// at `token_url`: the status and the JSON answer.
pub async fn password_grant(
    client: &reqwest::Client,
    token_url: &str,
    username: &str,
    config: &EmulatorConfig,
) -> (u16, Value) {
    let resp = client
        .post(token_url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("username", username),
            (
                "password",
                format!("{}{}", config.password, config.security_token).as_str(),
            ),
        ])
        .send()
        .await
        .expect("token request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("token body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

impl App {
    /// A client of the same emulator calling `base` (another org's instance URL) with `token`.
    pub fn at(&self, base: &str, token: &str) -> App {
        App {
            handle: self.handle.clone(),
            client: self.client.clone(),
            base: base.trim_end_matches('/').to_string(),
            token: Some(token.to_string()),
        }
    }

    /// Stops the emulator (this must be its last client) and writes its state file.
    pub async fn stop(self) {
        let Ok(handle) = std::sync::Arc::try_unwrap(self.handle) else {
            panic!("App::stop needs the emulator's last client: drop the clients made with App::at first");
        };
        handle.stop().await;
    }

    /// The full URL of `path` below `/services/data/v66.0/` (or an absolute `/services/...` path).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/services/data/{V}/{path}", self.base)
        }
    }

    /// A request with the access token.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends and returns the status and the JSON body (`Null` when empty).
    pub async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.req(Method::PATCH, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.req(Method::DELETE, path)).await
    }

    /// Runs SOQL through `/query` and returns the status and body.
    pub async fn query(&self, soql: &str) -> (u16, Value) {
        self.send(self.req(Method::GET, "query").query(&[("q", soql)]))
            .await
    }

    /// Creates a record and returns its id.
    pub async fn create(&self, object: &str, body: Value) -> String {
        let (status, resp) = self.post(&format!("sobjects/{object}"), body).await;
        assert_eq!(status, 201, "create {object}: {resp}");
        resp["id"].as_str().expect("id").to_string()
    }

    /// Adds custom text fields to Account for upsert tests: `Ext_Id__c` (unique external id) and
    /// `Region_Key__c` (external id, not unique). Custom objects and fields come from the
    /// Metadata/Tooling APIs; these tests add them in process.
    pub fn add_account_external_ids(&self) {
        let mut org = self.handle.state().org_write();
        let account = org.schema.object_mut("Account").expect("Account");
        let ext = FieldDef::new("Ext_Id__c", "Ext Id", FieldType::String)
            .len(40)
            .external_id()
            .unique();
        let region = FieldDef::new("Region_Key__c", "Region Key", FieldType::String)
            .len(40)
            .external_id();
        account.fields.insert(ext.name.clone(), ext);
        account.fields.insert(region.name.clone(), region);
    }
}

/// The first error of a Salesforce error array.
pub fn first_error(body: &Value) -> &Value {
    &body[0]
}

/// Shorthand for a JSON object literal used as a request body.
pub fn body(v: Value) -> Value {
    v
}

/// Asserts a REST error: status, `errorCode`, and optionally the message and fields.
pub fn assert_error(resp: &(u16, Value), status: u16, code: &str) {
    assert_eq!(resp.0, status, "status of {}", resp.1);
    assert_eq!(resp.1[0]["errorCode"], json!(code), "errorCode of {}", resp.1);
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) to the emulator and returns the whole
/// answer as text, status line and header names exactly as they went over the wire. For checks
/// an HTTP client would hide (header-name casing).
pub async fn raw_request(app: &App, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if let Some(t) = &app.token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.expect("read");
    String::from_utf8_lossy(&out).into_owned()
}
