//! Test support for the server's integration tests (zero2prod's `spawn_app`): [`TestApp::spawn`]
//! starts the Salesforce emulator (TLS, port 0), a fresh store (a SQLite file, or a PostgreSQL
//! schema when `FORCEBRIDGE_TEST_BACKEND=postgres`), the engine on a manual clock and the server
//! on port 0, and hands back clients: the vendor admin, tenants with keys, user sessions. Also a
//! webhook receiver that records what it gets and answers what the test says.
//!
//! Time is the manual clock's: tests move it (`advance`) instead of sleeping; webhooks are sent
//! one round at a time (`deliver_webhooks`), never by a background loop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::TimeZone as _;
use forcebridge_emulator::{Emulator, EmulatorHandle, config::EmulatorConfig};
use forcebridge_engine::control::clients::LoginHosts;
use forcebridge_engine::control::oauth::OAuthApp;
use forcebridge_engine::control::webhooks::WebhookConfig;
use forcebridge_engine::{Clock, Engine, EngineConfig, Recipes};
use forcebridge_salesforce::{HttpConfig, InstanceUrl, UrlPolicy};
use forcebridge_server::{AppState, ServerConfig};
use forcebridge_store::{ManualClock, MasterKey, Store, StoreOptions, Vault};
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

/// A running server with its emulator and store.
pub struct TestApp {
    pub url: String,
    pub emulator: EmulatorHandle,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub admin: Api,
    http: reqwest::Client,
    emu_http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    pg_schema: Option<(String, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some((url, schema)) = self.pg_schema.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A client with one credential.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("server reachable");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
    /// The same client with another credential.
    pub fn with(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: token.to_owned(),
            http: self.http.clone(),
        }
    }
}

/// A tenant with a key holding every scope.
pub struct Tenant {
    pub id: String,
    pub key: Api,
}

impl TestApp {
    /// Everything started, on the backend `FORCEBRIDGE_TEST_BACKEND` names (default SQLite).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(ServerConfig::default()).await
    }

    pub async fn spawn_with(server_config: ServerConfig) -> TestApp {
        Self::spawn_configured(server_config, |_| {}).await
    }

    /// Everything started, with the engine's configuration changed by `tweak` first.
    pub async fn spawn_configured(
        mut server_config: ServerConfig,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> TestApp {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let emulator = Emulator::start(EmulatorConfig {
            tls: true,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let ca = std::fs::read(emulator.ca_file().expect("tls on")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        ));
        let engine_clock = Clock::manual(clock.clone());
        let key = MasterKey::generate().0;
        let (url, pg_schema) = match std::env::var("FORCEBRIDGE_TEST_BACKEND").as_deref() {
            Ok("postgres") => {
                let url = std::env::var("FORCEBRIDGE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let schema = format!("fbsrv_{}", uuid::Uuid::new_v4().simple());
                (url.clone(), Some((url, schema)))
            }
            _ => (format!("sqlite://{}", dir.path().join("fb.db").display()), None),
        };
        let mut options = StoreOptions::new(url)
            .vault(Vault::new(key))
            .clock(engine_clock.store_clock());
        options.sqlite_synchronous_full = false;
        options.pg_schema = pg_schema.as_ref().map(|(_, s)| s.clone());
        let store = Store::connect(options).await.expect("store opens");
        let admin_key = store.bootstrap_admin_key().await.unwrap().unwrap();

        let emu_url = InstanceUrl::parse(emulator.base_url()).unwrap();
        let http = HttpConfig {
            extra_ca_pem: vec![ca.clone()],
            ..HttpConfig::default()
        };
        let mut config = EngineConfig {
            http,
            login_hosts: LoginHosts::single(&emu_url, UrlPolicy::HttpsOnly),
            ..EngineConfig::default()
        };
        tweak(&mut config);
        let engine = Engine::new(store, engine_clock, repo_recipes(), config);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let c = emulator.config();
        server_config.oauth_app = Some(OAuthApp {
            client_id: c.client_id.clone(),
            client_secret: Some(SecretString::from(c.client_secret.clone())),
            redirect_uri: format!("{url}/v1/oauth/callback"),
        });
        let app = forcebridge_server::app(AppState::new(engine.clone(), server_config));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let emu_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
            .build()
            .unwrap();
        let admin = Api {
            base: url.clone(),
            token: admin_key.expose_secret().to_owned(),
            http: http.clone(),
        };
        TestApp {
            url,
            emulator,
            engine,
            clock,
            admin,
            http,
            emu_http,
            server,
            _dir: dir,
            pg_schema,
        }
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> Api {
        self.admin.with("")
    }

    /// A new tenant with a key holding every scope.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let (s, t) = self.admin.post("/v1/tenants", json!({ "name": name })).await;
        assert_eq!(s, 201, "{t}");
        let id = t["id"].as_str().unwrap().to_owned();
        let (s, k) = self
            .admin
            .post(&format!("/v1/tenants/{id}/keys"), json!({ "label": "all" }))
            .await;
        assert_eq!(s, 201, "{k}");
        Tenant {
            id,
            key: self.admin.with(k["secret"].as_str().unwrap()),
        }
    }

    /// A session for `email` with `role` in `tenant`.
    pub async fn session(&self, tenant: &Tenant, email: &str, role: &str) -> (Api, Value) {
        let (s, v) = tenant
            .key
            .post("/v1/sessions", json!({ "email": email, "role": role }))
            .await;
        assert_eq!(s, 201, "{v}");
        (self.admin.with(v["token"].as_str().unwrap()), v)
    }

    /// The body of a password connection to the emulator's default app.
    pub fn password_connection(&self, label: &str) -> Value {
        let c = self.emulator.config();
        json!({
            "label": label,
            "environment": { "kind": "production" },
            "auth": {
                "method": "password",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "username": c.username,
                "password": c.password,
                "security_token": c.security_token,
            }
        })
    }

    /// POST to the emulator's control API.
    pub async fn emulator_control(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .emu_http
            .post(format!("{}/__emulator/{path}", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    /// Walk the emulator's consent page for `authorize_url` as the admin user, pressing
    /// `action` (`allow` or `deny`); returns where Salesforce redirects the browser.
    pub async fn consent(&self, authorize_url: &str, action: &str) -> String {
        let page = self.emu_http.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let mut form: Vec<(String, String)> = hidden_inputs(&html);
        let c = self.emulator.config();
        form.push(("username".into(), c.username.clone()));
        form.push(("password".into(), c.password.clone()));
        form.push(("action".into(), action.into()));
        let resp = self
            .emu_http
            .post(format!("{}/services/oauth2/authorize", self.emulator.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap_or_default());
        resp.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Follow a redirect to our callback like the browser would; returns status and page.
    pub async fn browser_get(&self, url: &str) -> (u16, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// One round of webhook delivery; returns how many deliveries were attempted.
    pub async fn deliver_webhooks(&self) -> usize {
        let http = reqwest::Client::new();
        self.engine
            .deliver_webhooks_once(&WebhookConfig::default(), &http)
            .await
            .unwrap()
    }

    /// Work the queued install applies (as `serve`'s workers would, one step at a time); returns
    /// how many jobs ran.
    pub async fn work_runs(&self) -> usize {
        self.engine.run_apply_jobs_until_idle().await.unwrap()
    }

    /// A password connection owned by `owner_email`, made with the tenant's key; its id.
    pub async fn connection(&self, tenant: &Tenant, owner_email: &str) -> String {
        let mut body = self.password_connection("Org");
        body["owner_email"] = json!(owner_email);
        let (s, c) = tenant.key.post("/v1/connections", body).await;
        assert_eq!(s, 201, "{c}");
        c["id"].as_str().unwrap().to_owned()
    }

    /// Move the clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

/// The repository's recipes (`recipes/*/recipe.toml`).
fn repo_recipes() -> Recipes {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.join("recipe.toml").is_file() {
            out.push(
                forcebridge_engine::recipe::load(&p)
                    .expect("repository recipes load")
                    .0,
            );
        }
    }
    Recipes::new(out)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `name`/`value` of every `<input type="hidden">` in a page.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = part.find(&format!("{name}=\""))? + name.len() + 2;
            let len = part[start..].find('"')?;
            Some(unescape(&part[start..start + len]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

/// One webhook request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub body: String,
}

/// A webhook receiver on port 0: answers the queued statuses (then 200) and records requests.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub answers: Arc<Mutex<VecDeque<u16>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let (r, a) = (received.clone(), answers.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (r, a) = (r.clone(), a.clone());
                async move {
                    let signature = headers
                        .get("forcebridge-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    r.lock().unwrap().push(Received { signature, body });
                    let code = a.lock().unwrap().pop_front().unwrap_or(200);
                    axum::http::StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            received,
            answers,
            task,
        }
    }

    /// Answer the next requests with these statuses.
    pub fn answer(&self, codes: &[u16]) {
        self.answers.lock().unwrap().extend(codes.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Verify a `Forcebridge-Signature` header the way docs/server.md tells receivers to.
pub fn verify(secret: &str, header: &str, body: &str) -> bool {
    use hmac::{Hmac, Mac as _};
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x),
            Some(("v1", x)) => v1 = Some(x),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let Ok(given) = hex::decode(v1) else { return false };
    mac.verify_slice(&given).is_ok()
}
