//! The recipe test harness behind `forcebridge recipe test`: runs a recipe's test cases
//! (`recipes/<name>/tests/*.toml`) against an org — in practice a fresh emulator the caller
//! starts — through the real engine: a fresh SQLite store, a tenant and a connection, install with
//! the provisioning plan applied, the case's records seeded, its events ingested and drained, then
//! every expectation checked (records by SOQL, outcomes, journal operations, API calls).
//!
//! Invariant: a case runs on its own store and reads the org only through the Salesforce client,
//! as a user's integration would; nothing reaches into the org's internals.

use std::sync::Arc;
use std::time::Duration;

use forcebridge_salesforce::{
    AuthConfig, Client, Credentials as SfCredentials, HttpConfig, InstanceUrl, LoginHost, UrlPolicy,
};
use forcebridge_store::{
    AuthMethod, DeliveryFilter, Environment, ManualClock, MasterKey, NewConnection, Owner, Role, Store,
    StoreOptions, Vault,
};
use futures::TryStreamExt as _;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Clock;
use crate::control::clients::LoginHosts;
use crate::engine::{Engine, EngineConfig, Recipes};
use crate::error::{Error, Result};
use crate::recipe::ir::{Recipe, TestCase};
use crate::runtime::{DrainReport, IncomingEvent};

/// How to reach the org a case runs against (username-password sign-in).
#[derive(Debug, Clone)]
pub struct OrgAccess {
    /// The login URL (the emulator's base URL).
    pub login_url: String,
    /// Connected app consumer key.
    pub client_id: String,
    /// Connected app consumer secret.
    pub client_secret: SecretString,
    /// Username.
    pub username: String,
    /// Password with the security token appended.
    pub password: SecretString,
    /// HTTP settings (the emulator's CA, loopback http).
    pub http: HttpConfig,
}

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// Every expectation that failed (empty: passed).
    pub failures: Vec<String>,
    /// Events ingested.
    pub events: usize,
    /// Salesforce calls the events cost (provisioning excluded).
    pub api_calls: u64,
    /// What the drains did.
    pub drain: DrainReport,
}

impl CaseReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A client of the org for checking records.
///
/// # Errors
/// A bad login URL.
pub fn org_client(org: &OrgAccess) -> Result<Client> {
    let url = InstanceUrl::parse_with(&org.login_url, UrlPolicy::AllowLoopbackHttp)?;
    let auth = AuthConfig::new(
        LoginHost::Custom(url),
        SfCredentials::Password {
            client_id: org.client_id.clone(),
            client_secret: org.client_secret.clone(),
            username: org.username.clone(),
            password: org.password.clone(),
        },
    );
    Ok(Client::builder(auth).http(org.http.clone()).build()?)
}

/// A fresh engine on a temporary SQLite store for `recipe`, signed in to `org`, with one tenant
/// and one connection; returns the engine, tenant, connection, the store's folder and the clock.
///
/// # Errors
/// Store or sign-in errors.
pub async fn fresh_engine(
    recipe: Arc<Recipe>,
    org: &OrgAccess,
    dir: &std::path::Path,
) -> Result<(
    Engine,
    forcebridge_store::TenantId,
    forcebridge_store::ConnectionId,
    Arc<ManualClock>,
)> {
    // The manual clock starts at the real time so that the org's CreatedDate and ours agree.
    let manual = Arc::new(ManualClock::new(forcebridge_store::Clock::now(
        &forcebridge_store::SystemClock,
    )));
    let clock = Clock::manual(manual.clone());
    let mut opts = StoreOptions::new(format!("sqlite://{}", dir.join("forcebridge.db").display()));
    opts.sqlite_synchronous_full = false;
    let opts = opts
        .vault(Vault::new(MasterKey::generate().0))
        .clock(clock.store_clock());
    let store = Store::connect(opts).await?;
    let url = InstanceUrl::parse_with(&org.login_url, UrlPolicy::AllowLoopbackHttp)?;
    let config = EngineConfig {
        http: org.http.clone(),
        login_hosts: LoginHosts::single(&url, UrlPolicy::AllowLoopbackHttp),
        retry: forcebridge_salesforce::RetryPolicy::fast(),
        bulk_poll_interval: std::time::Duration::from_millis(50),
        app_activation_poll: std::time::Duration::from_millis(200),
        ..EngineConfig::default()
    };
    let recipes = Recipes::new([Recipe::clone(&recipe)]);
    let engine = Engine::new(store.clone(), clock, recipes, config);
    let tenant = store.create_tenant("recipe test").await?;
    let user = store
        .create_user(&tenant.id, "admin@recipe.test", Role::Admin, "test")
        .await?;
    let creds = forcebridge_store::Credentials {
        client_id: Some(org.client_id.clone()),
        client_secret: Some(org.client_secret.clone()),
        username: Some(org.username.clone()),
        password: Some(org.password.clone()),
        ..Default::default()
    };
    let conn = store
        .create_connection(
            &tenant.id,
            &NewConnection {
                org_id: None,
                environment: Environment::Production,
                auth_method: AuthMethod::Password,
                owner: Owner::Personal {
                    user_id: user.id.clone(),
                },
                label: "test org".into(),
                credentials: creds,
            },
            "test",
        )
        .await?;
    Ok((engine, tenant.id, conn.id, manual))
}

/// Runs one case against `org` (which should be fresh: cases see each other's records otherwise).
///
/// # Errors
/// Setup failures (store, sign-in, provisioning); failed expectations are in the report instead.
pub async fn run_case(recipe: Arc<Recipe>, case: &TestCase, org: &OrgAccess) -> Result<CaseReport> {
    let dir = tempfile_dir()?;
    let (engine, tenant, conn, manual) = fresh_engine(recipe.clone(), org, dir.path()).await?;
    let mut settings = case.settings.clone();
    if !case.workflows.is_empty() {
        let wf: serde_json::Map<String, Value> = case
            .workflows
            .iter()
            .map(|(k, v)| (k.clone(), Value::Bool(*v)))
            .collect();
        settings.insert("workflows".into(), Value::Object(wf));
    }
    let install = engine
        .install(&tenant, &conn, &recipe.name, Value::Object(settings), "test")
        .await?;
    let plan = engine.plan(&tenant, &install.id).await?;
    engine.apply(&tenant, &install.id, &plan.hash, "test").await?;
    let client = org_client(org)?;
    for (object, fields) in &case.given {
        client.create(object, &Value::Object(fields.clone())).await?;
    }
    // Events are sent in order; one that comes `after` a while lets the clock move on and the
    // work due meanwhile run first.
    let mut ingested = Vec::with_capacity(case.events.len());
    let mut drain = DrainReport::default();
    let mut pending: Vec<IncomingEvent> = Vec::new();
    for e in &case.events {
        if let Some(wait) = e.after {
            ingested.extend(engine.ingest(&tenant, std::mem::take(&mut pending)).await?);
            drain = merge(drain, engine.run_until_idle().await?);
            manual.advance(chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()));
            engine.kick(&tenant, &conn, None).await?;
            drain = merge(drain, engine.run_until_idle().await?);
        }
        pending.push(IncomingEvent {
            idempotency_key: e.id.clone(),
            event_type: e.event_type.clone(),
            data: e.data.clone(),
            connection_id: None,
        });
    }
    ingested.extend(engine.ingest(&tenant, pending).await?);
    drain = merge(drain, engine.run_until_idle().await?);
    // Coalescing windows and retries wait: move the clock past them until nothing is pending.
    for _ in 0..20 {
        let Some(next) = engine.store().next_due_delivery(&conn).await? else {
            break;
        };
        manual.set(next.max(forcebridge_store::Clock::now(&*manual)) + chrono::Duration::seconds(1));
        engine.kick(&tenant, &conn, None).await?;
        let more = engine.run_until_idle().await?;
        drain = merge(drain, more);
    }
    let mut failures = Vec::new();
    for (event_key, want) in &case.expect_outcomes {
        let Some(pos) = case.events.iter().position(|e| &e.id == event_key) else {
            failures.push(format!(
                "expect_outcomes names event {event_key:?}, which the case does not send"
            ));
            continue;
        };
        let event_id = &ingested[pos].event_id;
        let ds = engine
            .deliveries(
                &tenant,
                &DeliveryFilter {
                    event_id: Some(event_id.clone()),
                    ..Default::default()
                },
            )
            .await?;
        let states: Vec<&str> = ds.iter().map(|d| d.state.as_str()).collect();
        if !states.iter().all(|s| s == want) || states.is_empty() {
            let outcomes: Vec<&Value> = ds.iter().filter_map(|d| d.outcome.as_ref()).collect();
            failures.push(format!(
                "event {event_key}: expected {want}, got {states:?} {}",
                json!(outcomes)
            ));
        }
    }
    for (event_key, ops) in &case.expect_journal {
        let Some(pos) = case.events.iter().position(|e| &e.id == event_key) else {
            failures.push(format!(
                "expect_journal names event {event_key:?}, which the case does not send"
            ));
            continue;
        };
        let rows = engine.journal_for_event(&tenant, &ingested[pos].event_id).await?;
        let got: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {}", r.operation, r.sobject))
            .collect();
        if &got != ops {
            failures.push(format!("event {event_key}: journal {got:?}, expected {ops:?}"));
        }
    }
    for want in &case.expect_records {
        let mut cols: Vec<String> = vec!["Id".into()];
        cols.extend(want.fields.keys().cloned());
        let soql = format!(
            "SELECT {} FROM {}{}",
            cols.join(", "),
            want.object,
            want.filter
                .as_ref()
                .map(|f| format!(" WHERE {f}"))
                .unwrap_or_default()
        );
        let rows: Vec<Value> = match client.query::<Value>(&soql).try_collect().await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{soql}: {e}"));
                continue;
            }
        };
        if let Some(n) = want.count
            && rows.len() as u64 != n
        {
            failures.push(format!("{soql}: {} records, expected {n}", rows.len()));
        }
        for r in &rows {
            for (k, v) in &want.fields {
                let got = lookup(r, k);
                if !same_value(&got, v) {
                    failures.push(format!(
                        "{soql}: record {} has {k} = {got}, expected {v}",
                        r["Id"]
                    ));
                }
            }
        }
    }
    let api_calls = drain.total_calls();
    if let Some(max) = case.max_api_calls
        && api_calls > max
    {
        failures.push(format!(
            "the events cost {api_calls} API calls, more than the {max} expected ({:?})",
            drain.api_calls
        ));
    }
    engine.store().close().await;
    Ok(CaseReport {
        name: case.name.clone(),
        failures,
        events: case.events.len(),
        api_calls,
        drain,
    })
}

fn merge(mut a: DrainReport, b: DrainReport) -> DrainReport {
    for (k, v) in b.by_state {
        *a.by_state.entry(k).or_default() += v;
    }
    for (k, v) in b.api_calls {
        *a.api_calls.entry(k).or_default() += v;
    }
    a.batches += b.batches;
    a
}

/// `a.b.c` inside a query row (relationship fields come nested).
fn lookup(row: &Value, path: &str) -> Value {
    let mut cur = row;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    cur.clone()
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::Number(y)) | (Value::Number(y), Value::String(x)) => {
            x.parse::<f64>().ok() == y.as_f64()
        }
        _ => a == b,
    }
}

fn tempfile_dir() -> Result<tempfile::TempDir> {
    tempfile::tempdir()
        .map_err(|e| Error::Internal(format!("cannot make a temporary folder for the test store: {e}")))
}

/// How long a case may take before it is reported stuck.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);
