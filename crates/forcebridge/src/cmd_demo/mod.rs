//! `forcebridge demo`: the whole product on one machine. It starts the Salesforce emulator and
//! `forcebridge serve` (SQLite in a temporary folder) in this process, then, for every recipe with
//! a `demo.toml`, does what a vendor and its customer would: a tenant with an API key, an org of
//! its own connected through the recipe's auth flow, the recipe installed with its provisioning
//! plan consented to, and realistic events posted to `POST /v1/events` until every one is applied.
//! A progress bar per recipe while it works, then a summary table (or `--json`).
//!
//! Invariant: the demo drives the server only through its public HTTP API and the emulator only
//! through its HTTP APIs, so what it shows is what a user of the product gets.

mod api;
mod connect;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use forcebridge_emulator::config::EmulatorConfig;
use forcebridge_engine::Recipes;
use forcebridge_engine::control::clients::LoginHosts;
use forcebridge_engine::demo::{self, Demo};
use forcebridge_engine::recipe::ir::{EnvironmentKind, Recipe};
use forcebridge_engine::runtime::WorkerOptions;
use forcebridge_salesforce::{HttpConfig, InstanceUrl, LoginHost, UrlPolicy};
use forcebridge_server::ServerConfig;
use forcebridge_store::{MasterKey, Vault};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cmd_serve::{Node, NodeSettings, load_recipes};
use api::{Api, field};
use connect::{Org, connect, control};

/// Options of `forcebridge demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recipes folder; every recipe in it with a `demo.toml` takes part.
    #[arg(long, env = "FORCEBRIDGE_RECIPES", default_value = "recipes")]
    recipes: PathBuf,
    /// Only these recipes (by name; repeat the flag for several).
    #[arg(long = "only", value_name = "RECIPE")]
    only: Vec<String>,
    /// Events per recipe [default: each demo's own count].
    #[arg(long)]
    events: Option<u64>,
    /// Run to the end, print the summary and exit (0 when every event was applied).
    #[arg(long)]
    once: bool,
    /// Print the summary as JSON on stdout: `{"recipes": [{"name", "events", "records", "api_calls", "errors"}]}`.
    #[arg(long)]
    json: bool,
    /// Where the server listens (port 0 picks a free port).
    #[arg(long, env = "FORCEBRIDGE_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Keep the server's database in this folder [default: a temporary folder, removed at exit].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Give up on a recipe whose events are not all applied after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

/// One recipe's outcome, as the summary shows it.
#[derive(Debug, Clone, Serialize)]
struct RecipeSummary {
    name: String,
    title: String,
    auth: String,
    events: u64,
    /// Salesforce records written (creates, updates, upserts, deletes, Chatter posts).
    records: u64,
    /// Salesforce API calls the events cost (the org's own count; provisioning excluded).
    api_calls: u64,
    /// Events that did not apply (dead letters), or that the server refused.
    errors: u64,
    seconds: f64,
}

/// Events per `POST /v1/events` (the server's default limit is 500).
const BATCH: usize = 250;

/// What every recipe's run shares.
struct Ctx {
    admin: Api,
    emulator: Api,
    multi: MultiProgress,
    events: Option<u64>,
    timeout: Duration,
}

pub async fn run(args: Args) -> Result<()> {
    let recipes = load_recipes(&args.recipes)?;
    let mut demos: Vec<(Recipe, Demo)> = Vec::new();
    for recipe in recipes.iter() {
        if !args.only.is_empty() && !args.only.contains(&recipe.name) {
            continue;
        }
        let dir = args.recipes.join(&recipe.name);
        let loaded = demo::load(&dir, recipe).with_context(|| {
            format!(
                "the demo of recipe {} does not load; run `forcebridge recipe check {}`",
                recipe.name,
                dir.display()
            )
        })?;
        if let Some(d) = loaded {
            demos.push(((**recipe).clone(), d));
        }
    }
    if let Some(missing) = args
        .only
        .iter()
        .find(|n| !demos.iter().any(|(r, _)| &r.name == *n))
    {
        bail!(
            "no recipe named {missing:?} with a demo.toml in {}",
            args.recipes.display()
        );
    }
    if demos.is_empty() {
        bail!(
            "no recipe in {} has a demo.toml; see docs/demo.md",
            args.recipes.display()
        );
    }

    let temp = tempfile::tempdir().context("creating a temporary folder")?;
    let emulator = forcebridge_emulator::Emulator::start(EmulatorConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: true,
        tls_dir: Some(temp.path().join("tls")),
        // Named login hosts, as login.salesforce.com and test.salesforce.com are Salesforce's:
        // through them each org answers with its own My Domain host (`<org>.my.localhost`).
        // Named in the certificate since `*.localhost` does not cover a name directly under it.
        hostnames: vec!["login.localhost".into(), "test.localhost".into()],
        ..EmulatorConfig::default()
    })
    .await
    .context("cannot start the emulator")?;
    let ca_file = emulator.ca_file().context("the emulator runs without TLS")?;
    let ca = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let root = emulator.base_url().to_owned();

    let data_dir = args.data_dir.clone().unwrap_or_else(|| temp.path().join("data"));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let policy = UrlPolicy::HttpsOnly;
    let login = |url: String| -> Result<LoginHost> {
        Ok(LoginHost::Custom(
            InstanceUrl::parse_with(&url, policy).with_context(|| format!("the login URL {url}"))?,
        ))
    };
    let c = emulator.config();
    let node = Node::start(NodeSettings {
        addr: args.addr,
        database_url: format!("sqlite://{}", data_dir.join("forcebridge.db").display()),
        vault: Vault::new(MasterKey::generate().0),
        http: HttpConfig {
            extra_ca_pem: vec![ca.clone()],
            ..HttpConfig::default()
        },
        login_hosts: LoginHosts {
            production: login(root.replacen("://localhost", "://login.localhost", 1))?,
            sandbox: login(root.replacen("://localhost", "://test.localhost", 1))?,
            url_policy: policy,
        },
        recipes: Recipes::new(demos.iter().map(|(r, _)| r.clone())),
        public_url: None,
        oauth: Some((
            c.client_id.clone(),
            Some(SecretString::from(c.client_secret.clone())),
        )),
        server: ServerConfig::default(),
        workers: Some(WorkerOptions::default()),
    })
    .await
    .with_context(|| {
        format!(
            "cannot start the server on {} (another program may use the port; try --addr 127.0.0.1:0)",
            args.addr
        )
    })?;
    let admin_key = node
        .admin_key
        .as_ref()
        .context("the demo's database already has an admin key; give an empty --data-dir")?
        .expose_secret()
        .to_owned();

    // The demo's browser: names under `localhost` are the loopback address, as browsers and
    // RFC 6761 have it (glibc does not resolve them).
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut http = reqwest::Client::builder();
    for host in ["login.localhost", "test.localhost"] {
        http = http.resolve(host, loopback);
    }
    for (recipe, _) in &demos {
        http = http.resolve(&format!("{}.my.localhost", recipe.name), loopback);
        http = http.resolve(&format!("{}.sandbox.my.localhost", recipe.name), loopback);
    }
    let http = http
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).context("the emulator's CA")?)
        .build()
        .context("building the HTTP client")?;
    let multi = MultiProgress::new();
    if args.json {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let ctx = Ctx {
        admin: Api::new(http.clone(), &node.url, Some(&admin_key)),
        emulator: Api::new(http, &root, None),
        multi,
        events: args.events,
        timeout: Duration::from_secs(args.timeout_secs),
    };
    let runs = demos.iter().map(|(recipe, demo)| run_recipe(&ctx, recipe, demo));
    let results = futures::future::join_all(runs).await;
    let _ = ctx.multi.clear();
    let mut summaries = Vec::new();
    for ((recipe, _), r) in demos.iter().zip(results) {
        summaries.push(r.with_context(|| format!("the {} demo failed", recipe.name))?);
    }

    if args.json {
        let recipes: Vec<Value> = summaries
            .iter()
            .map(|s| {
                json!({ "name": s.name, "events": s.events, "records": s.records,
                        "api_calls": s.api_calls, "errors": s.errors })
            })
            .collect();
        println!("{}", json!({ "recipes": recipes }));
    } else {
        println!("{}", table(&summaries));
    }
    let errors: u64 = summaries.iter().map(|s| s.errors).sum();
    if args.once {
        node.stop().await?;
        emulator.stop().await;
        if errors > 0 {
            bail!(
                "{errors} events were not applied; their dead letters are in GET /v1/deliveries?state=dead"
            );
        }
        return Ok(());
    }
    if !args.json {
        println!();
        println!("forcebridge serve is running at {}", node.url);
        println!("  vendor admin key: {admin_key}");
        println!(
            "  the emulator (every demo org) at {root}, its CA in {}",
            ca_file.display()
        );
        println!(
            "  try: curl -H \"Authorization: Bearer <admin key>\" {}/v1/tenants",
            node.url
        );
        println!("Press Ctrl-C to stop.");
    }
    crate::cmd_emulator::shutdown_signal().await;
    node.stop().await?;
    emulator.stop().await;
    Ok(())
}

/// The summary table.
fn table(rows: &[RecipeSummary]) -> comfy_table::Table {
    use comfy_table::{CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "recipe",
        "connected by",
        "events",
        "records written",
        "API calls",
        "calls / event",
        "errors",
        "time",
    ]);
    for r in rows {
        let per_event = if r.events == 0 {
            0.0
        } else {
            r.api_calls as f64 / r.events as f64
        };
        t.add_row(vec![
            r.title.clone(),
            r.auth.clone(),
            r.events.to_string(),
            r.records.to_string(),
            r.api_calls.to_string(),
            format!("{per_event:.3}"),
            r.errors.to_string(),
            format!("{:.1} s", r.seconds),
        ]);
    }
    for col in 2..8 {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// One recipe's whole demo: tenant, org, connection, install, events, until all are applied.
async fn run_recipe(ctx: &Ctx, recipe: &Recipe, demo: &Demo) -> Result<RecipeSummary> {
    let started = Instant::now();
    let total = ctx.events.unwrap_or(demo.default_events);
    let bar = ctx.multi.add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10.bold} [{bar:30}] {pos:>6}/{len:6} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(recipe.name.clone());
    bar.enable_steady_tick(Duration::from_millis(200));

    bar.set_message("creating its tenant and org");
    let tenant = ctx
        .admin
        .post(
            "/v1/tenants",
            &json!({ "name": format!("{} (demo)", recipe.title) }),
            201,
        )
        .await?;
    let tenant_id = field(&tenant, "id")?;
    let key = ctx
        .admin
        .post(
            &format!("/v1/tenants/{tenant_id}/keys"),
            &json!({ "label": "demo" }),
            201,
        )
        .await?;
    let server = ctx.admin.with(field(&key, "secret")?);
    let environment = if demo.environment == EnvironmentKind::Sandbox {
        "sandbox"
    } else {
        "production"
    };
    let org = ctx
        .emulator
        .post(
            "/__emulator/orgs",
            &json!({ "name": recipe.name, "environment": environment }),
            201,
        )
        .await
        .context("creating the recipe's org in the emulator")?;
    let org = Org::from_json(&org)?;

    bar.set_message(format!("connecting ({})", demo.auth.as_str()));
    let label = format!("{} org", recipe.title);
    let connection = connect(
        &server,
        &ctx.emulator,
        &org,
        demo,
        recipe.connection.shared,
        &label,
    )
    .await?;

    bar.set_message("installing: provisioning plan");
    let install = server
        .post(
            "/v1/installs",
            &json!({ "connection_id": connection, "recipe": recipe.name, "settings": demo.settings }),
            201,
        )
        .await?;
    let install_id = field(&install, "id")?;
    let plan = server.get(&format!("/v1/installs/{install_id}/plan")).await?;
    let hash = field(&plan, "hash")?;
    apply(&server, install_id, hash, &bar).await?;

    let used_before = api_used(ctx, &org).await?;
    bar.set_message("posting events");
    let start = Utc::now();
    let mut posted = 0u64;
    let mut refused = 0u64;
    let deadline = Instant::now() + ctx.timeout;
    while posted < total {
        let end = (posted + BATCH as u64).min(total);
        let mut events = Vec::with_capacity(BATCH);
        for n in posted..end {
            let e = demo
                .event(n, start)
                .map_err(|(at, m)| anyhow::anyhow!("the demo's event {n} does not render: {at}: {m}"))?;
            events.push(json!({ "type": e.event_type, "idempotency_key": e.key, "data": e.data }));
        }
        let body = json!({ "events": events });
        loop {
            let (status, answer) = server
                .call(reqwest::Method::POST, "/v1/events", Some(&body))
                .await?;
            match status {
                202 => break,
                429 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
                400..=499 => {
                    tracing::warn!(recipe = %recipe.name, %answer, "the server refused a batch of demo events");
                    refused += end - posted;
                    break;
                }
                _ => bail!("POST /v1/events answered {status}: {answer}"),
            }
        }
        posted = end;
        bar.set_message(format!("posted {posted}/{total} events"));
        let stats = server
            .get(&format!("/v1/stats?connection_id={connection}"))
            .await?;
        bar.set_position(finished_events(&stats, total));
    }

    bar.set_message("applying in Salesforce");
    let stats = loop {
        let stats = server
            .get(&format!("/v1/stats?connection_id={connection}"))
            .await?;
        bar.set_position(finished_events(&stats, total));
        if stats["deliveries"]["pending"].as_u64().unwrap_or(0) == 0 {
            break stats;
        }
        if Instant::now() > deadline {
            bail!(
                "{} deliveries still pending after {} s; see GET /v1/deliveries?state=pending",
                stats["deliveries"]["pending"],
                ctx.timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let used_after = api_used(ctx, &org).await?;
    let dead = stats["deliveries"]["dead"].as_u64().unwrap_or(0);
    bar.set_position(total);
    bar.finish_with_message(if dead + refused == 0 {
        "done".to_owned()
    } else {
        format!("done, {} errors", dead + refused)
    });
    Ok(RecipeSummary {
        name: recipe.name.clone(),
        title: recipe.title.clone(),
        auth: demo.auth.as_str().replace('_', " "),
        events: total,
        records: stats["records_written"].as_u64().unwrap_or(0),
        api_calls: used_after.saturating_sub(used_before),
        errors: dead + refused,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How many of `total` events are finished, from `/v1/stats` (deliveries no longer pending,
/// capped: an event with several flows has several deliveries).
fn finished_events(stats: &Value, total: u64) -> u64 {
    let pending = stats["deliveries"]["pending"].as_u64().unwrap_or(0);
    let events = stats["events"].as_u64().unwrap_or(0);
    events.saturating_sub(pending).min(total)
}

/// Consents to the plan and waits for it to be applied: `202` with a run to follow, or `200`
/// when the server applied it at once.
async fn apply(server: &Api, install_id: &str, hash: &str, bar: &ProgressBar) -> Result<()> {
    let (status, answer) = server
        .call(
            reqwest::Method::POST,
            &format!("/v1/installs/{install_id}/apply"),
            Some(&json!({ "plan_hash": hash })),
        )
        .await?;
    match status {
        200 => return Ok(()),
        202 => {}
        _ => bail!("applying the provisioning plan answered {status}: {answer}"),
    }
    let run = field(&answer, "id")?.to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let r = server.get(&format!("/v1/runs/{run}")).await?;
        let p = &r["progress"];
        bar.set_message(format!(
            "provisioning {}/{} {}",
            p["done"],
            p["total"],
            p["step"].as_str().unwrap_or("")
        ));
        match r["state"].as_str() {
            Some("succeeded") => return Ok(()),
            Some("failed") => bail!("provisioning failed: {}", r["error"]),
            _ if Instant::now() > deadline => bail!("provisioning did not finish within 5 minutes: {r}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The org's API requests used so far (the emulator's own count, as `/limits` reports it).
async fn api_used(ctx: &Ctx, org: &Org) -> Result<u64> {
    let u = ctx.emulator.get(&control(org, "usage")).await?;
    u["daily_api_requests_used"]
        .as_u64()
        .with_context(|| format!("the emulator's usage has no daily_api_requests_used: {u}"))
}
