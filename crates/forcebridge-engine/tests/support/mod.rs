//! Test support for the engine's integration tests: a real emulator on port 0, a fresh engine on
//! a temporary SQLite store (or a fresh PostgreSQL schema) with a manual clock, a tenant with one
//! connection to the emulator, the recipes of `recipes/` loaded, and helpers to install, send
//! events, drain and read the org back over the wire.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::path::PathBuf;
use std::sync::Arc;

use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use forcebridge_engine::Engine;
use forcebridge_engine::harness::{self, OrgAccess};
use forcebridge_engine::recipe::{self, ir::Recipe};
use forcebridge_engine::runtime::{DrainReport, IncomingEvent, Ingested};
use forcebridge_salesforce::{Client, HttpConfig};
use forcebridge_store::{ConnectionId, InstallId, ManualClock, TenantId};
use futures::TryStreamExt as _;
use secrecy::SecretString;
use serde_json::{Value, json};

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The workspace's `recipes/` folder.
pub fn recipes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recipes")
}

/// Loads `recipes/<name>`, panicking with the rendered diagnostics if it does not check.
pub fn load_recipe(name: &str) -> Arc<Recipe> {
    match recipe::load(&recipes_dir().join(name)) {
        Ok((r, _)) => Arc::new(r),
        Err(e) => panic!("recipe {name} does not load:\n{}", recipe::render(&e)),
    }
}

pub struct TestApp {
    pub emulator: EmulatorHandle,
    pub engine: Engine,
    pub tenant: TenantId,
    pub connection: ConnectionId,
    pub clock: Arc<ManualClock>,
    pub org: OrgAccess,
    pub client: Client,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// An emulator and an engine with `recipe` loaded, nothing installed yet.
    pub async fn start(recipe: &str) -> TestApp {
        install_crypto();
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let c = emulator.config().clone();
        let org = OrgAccess {
            login_url: emulator.base_url().to_owned(),
            client_id: c.client_id.clone(),
            client_secret: SecretString::from(c.client_secret.clone()),
            username: c.username.clone(),
            password: SecretString::from(format!("{}{}", c.password, c.security_token)),
            http: HttpConfig::default().allow_loopback_http(),
        };
        let dir = tempfile::tempdir().unwrap();
        let (engine, tenant, connection, clock) =
            harness::fresh_engine(load_recipe(recipe), &org, dir.path())
                .await
                .expect("engine starts");
        let client = harness::org_client(&org).unwrap();
        TestApp {
            emulator,
            engine,
            tenant,
            connection,
            clock,
            org,
            client,
            _dir: dir,
        }
    }

    /// Installs the recipe with `settings`, applies its plan, returns the install.
    pub async fn install(&self, recipe: &str, settings: Value) -> InstallId {
        let i = self
            .engine
            .install(&self.tenant, &self.connection, recipe, settings, "test")
            .await
            .expect("install");
        let plan = self.engine.plan(&self.tenant, &i.id).await.expect("plan");
        let report = self
            .engine
            .apply(&self.tenant, &i.id, &plan.hash, "test")
            .await
            .expect("apply");
        assert!(
            report.access.is_ok(),
            "access doctor after provisioning: {:?}",
            report.access
        );
        i.id
    }

    /// Sends events `(key, type, data)`.
    pub async fn send(&self, events: Vec<(&str, &str, Value)>) -> Vec<Ingested> {
        let events = events
            .into_iter()
            .map(|(k, t, d)| IncomingEvent {
                idempotency_key: k.into(),
                event_type: t.into(),
                data: d,
                connection_id: None,
            })
            .collect();
        self.engine.ingest(&self.tenant, events).await.expect("ingest")
    }

    /// Runs queued drains until idle.
    pub async fn drain(&self) -> DrainReport {
        self.engine.run_until_idle().await.expect("drain")
    }

    /// Records of a SOQL query, read over the wire.
    pub async fn query(&self, soql: &str) -> Vec<Value> {
        self.client.query::<Value>(soql).try_collect().await.expect(soql)
    }

    /// Calls the emulator's control API.
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The org's API requests used so far.
    pub async fn api_used(&self) -> u64 {
        let (_, v) = self
            .control(reqwest::Method::GET, "/__emulator/usage", json!({}))
            .await;
        v["daily_api_requests_used"].as_u64().unwrap()
    }
}
