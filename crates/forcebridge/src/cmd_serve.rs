//! `forcebridge serve`: the HTTP API and the engine's workers over one store — SQLite in the
//! data folder by default, PostgreSQL by URL for several nodes. Settings come from a TOML file
//! (`--config`), overridden by environment variables, overridden by flags.
//!
//! Invariant: stdout carries exactly one JSON line, printed once the server accepts connections
//! (`url`, and on the very first start `admin_key`, shown that once); logs go to stderr as JSON.
//! No secret is ever logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use forcebridge_engine::control::clients::LoginHosts;
use forcebridge_engine::control::oauth::OAuthApp;
use forcebridge_engine::control::webhooks::WebhookConfig;
use forcebridge_engine::runtime::WorkerOptions;
use forcebridge_engine::{Clock, Engine, EngineConfig, Recipes};
use forcebridge_salesforce::{HttpConfig, InstanceUrl, LoginHost, UrlPolicy};
use forcebridge_server::{AppState, ServerConfig};
use forcebridge_store::{Store, StoreOptions};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::cmd_store::{KeyArgs, vault_from};

/// Options of `forcebridge serve` (each also settable in the config file).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML config file (see docs/server.md); flags and environment variables override it.
    #[arg(long, env = "FORCEBRIDGE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080; port 0 picks a free port].
    #[arg(long, env = "FORCEBRIDGE_ADDR")]
    addr: Option<SocketAddr>,
    /// Folder for the SQLite database (when no --database-url) [default: ./forcebridge-data].
    #[arg(long, env = "FORCEBRIDGE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// `postgres://…` for several nodes on one database, or `sqlite://…`.
    #[arg(long, env = "FORCEBRIDGE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A folder of recipes (each in its own folder with a recipe.toml) to load at start.
    #[arg(long, env = "FORCEBRIDGE_RECIPES")]
    recipes: Option<PathBuf>,
    /// The address users reach this server at (for the OAuth callback URL).
    #[arg(long, env = "FORCEBRIDGE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Consumer secret of the vendor's connected app (the web-server OAuth flow).
    #[arg(long, env = "FORCEBRIDGE_OAUTH_CLIENT_SECRET", hide_env_values = true, value_parser = secret)]
    oauth_client_secret: Option<SecretString>,
    #[command(flatten)]
    keys: KeyArgs,
}

fn secret(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s.to_owned()))
}

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    recipes: Option<PathBuf>,
    #[serde(default)]
    oauth: Option<OAuthFile>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    salesforce: SalesforceFile,
    #[serde(default)]
    workers: WorkersFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuthFile {
    client_id: String,
    /// Better given as FORCEBRIDGE_OAUTH_CLIENT_SECRET than written in the file.
    client_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_body_bytes: Option<usize>,
    max_batch: Option<usize>,
    rate_per_second: Option<f64>,
    rate_burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SalesforceFile {
    /// One login URL for production and sandbox (the emulator's, in development).
    login_url: Option<String>,
    /// The sandbox login URL, when it differs from `login_url` (the emulator's `…/sandbox`).
    sandbox_login_url: Option<String>,
    /// An extra CA certificate (PEM) to trust (the emulator's `ca.pem`).
    ca_file: Option<PathBuf>,
    /// Accept http:// on loopback hosts (the emulator without TLS). Never for real orgs.
    #[serde(default)]
    allow_loopback_http: bool,
}

/// The `[workers]` section: this node's drain workers (see docs/operations.md, several nodes).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkersFile {
    /// `false`: this node only answers HTTP and writes to the store; other nodes apply the work.
    enabled: Option<bool>,
    /// Lease length of a drain in seconds: a dead node's connections are taken over after this.
    lease_seconds: Option<u64>,
    /// Connections one node drains at once.
    concurrency: Option<usize>,
}

fn read_config(path: Option<&Path>) -> Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("the config file {} is not valid", path.display()))
}

/// Every recipe in `dir` (one folder each, with its `recipe.toml`); any error stops the start.
pub(crate) fn load_recipes(dir: &Path) -> Result<Recipes> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading the recipes folder {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("recipe.toml").is_file())
        .collect();
    paths.sort();
    for p in paths {
        match forcebridge_engine::recipe::load(&p) {
            Ok((recipe, _warnings)) => out.push(recipe),
            Err(e) => bail!(
                "recipe {} does not load ({e}); run `forcebridge recipe check {}`",
                p.display(),
                p.display()
            ),
        }
    }
    Ok(Recipes::new(out))
}

/// What one node needs to start: everything `serve` reads from its file, environment and flags,
/// resolved. `forcebridge demo` builds one too.
pub(crate) struct NodeSettings {
    pub addr: SocketAddr,
    pub database_url: String,
    pub vault: forcebridge_store::Vault,
    pub http: HttpConfig,
    pub login_hosts: LoginHosts,
    pub recipes: Recipes,
    /// The address users reach the server at (the OAuth callback's base); the bound URL if absent.
    pub public_url: Option<String>,
    /// The vendor's connected app for the web-server flow: client id and secret.
    pub oauth: Option<(String, Option<SecretString>)>,
    pub server: ServerConfig,
    /// The engine's workers (lease length, concurrency); `None`: this node accepts work but
    /// applies none (`[workers] enabled = false`).
    pub workers: Option<WorkerOptions>,
}

/// A running node: the HTTP API and the engine's workers over one store.
pub(crate) struct Node {
    /// Where the API listens (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The vendor admin key, on the very first start of a store only.
    pub admin_key: Option<SecretString>,
    pub backend: forcebridge_store::Backend,
    store: Store,
    stop: tokio::sync::watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Option<tokio::task::JoinHandle<()>>,
    webhooks: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Opens the store, starts the workers and the webhook deliverer, and listens.
    pub(crate) async fn start(settings: NodeSettings) -> Result<Node> {
        let clock = Clock::system();
        let mut options = StoreOptions::new(settings.database_url)
            .vault(settings.vault)
            .clock(clock.store_clock());
        // The store's ceiling on one owner's connections must not cut a recipe's own
        // `per_owner_limit` short; the engine applies each recipe's limit (5 by default) itself.
        options.connections_per_owner = settings
            .recipes
            .iter()
            .map(|r| r.connection.per_owner_limit)
            .chain([options.connections_per_owner])
            .max()
            .unwrap_or(options.connections_per_owner);
        let store = Store::connect(options).await.context("opening the database")?;
        let admin_key = store
            .bootstrap_admin_key()
            .await
            .context("creating the vendor admin key")?;
        let config = EngineConfig {
            http: settings.http,
            login_hosts: settings.login_hosts,
            node_name: format!("forcebridge-{}", std::process::id()),
            ..EngineConfig::default()
        };
        let engine = Engine::new(store.clone(), clock, settings.recipes, config);

        let listener = tokio::net::TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.addr))?;
        let local = listener.local_addr().context("reading the bound address")?;
        let url = format!("http://{local}");
        let public_url = settings.public_url.unwrap_or_else(|| url.clone());
        let mut server_config = settings.server;
        server_config.oauth_app = settings.oauth.map(|(client_id, client_secret)| OAuthApp {
            client_id,
            client_secret,
            redirect_uri: format!("{}/v1/oauth/callback", public_url.trim_end_matches('/')),
        });

        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let workers = settings
            .workers
            .map(|options| engine.spawn_workers_with(stop_rx.clone(), options));
        let webhooks = engine.spawn_webhook_deliverer(WebhookConfig::default(), stop_rx.clone());
        let app = forcebridge_server::app(AppState::new(engine, server_config));
        let mut http_stop = stop_rx;
        let http = tokio::spawn(forcebridge_server::serve(
            listener,
            app,
            async move {
                let _ = http_stop.wait_for(|s| *s).await;
                tracing::info!("shutting down: finishing in-flight requests");
            },
            Duration::from_secs(30),
        ));
        Ok(Node {
            url,
            admin_key,
            backend: store.backend(),
            store,
            stop,
            http,
            workers,
            webhooks,
        })
    }

    /// Stops taking requests, finishes in-flight ones and stops the workers (their leases
    /// return to the queue for another node or the next start).
    pub(crate) async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        let served = self.http.await;
        if let Some(w) = self.workers {
            let _ = w.await;
        }
        let _ = self.webhooks.await;
        self.store.close().await;
        served
            .context("the HTTP server task failed")?
            .context("serving HTTP")
    }
}

/// Runs until Ctrl-C or SIGTERM, then stops taking requests, finishes in-flight ones and stops
/// the workers (their leases return to the queue for another node or the next start).
pub async fn run(args: Args) -> Result<()> {
    let file = read_config(args.config.as_deref())?;
    let vault = vault_from(&args.keys)?.context(
        "no master key: make one with `forcebridge vault new-key --out master.key` and start with \
         FORCEBRIDGE_MASTER_KEY_FILE=master.key (or FORCEBRIDGE_MASTER_KEY)",
    )?;
    let addr = args
        .addr
        .or(file.addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let database_url = match args.database_url.or(file.database_url) {
        Some(url) => url,
        None => {
            let dir = args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("forcebridge-data"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating the data folder {}", dir.display()))?;
            format!("sqlite://{}", dir.join("forcebridge.db").display())
        }
    };

    let mut http = HttpConfig::default();
    let policy = if file.salesforce.allow_loopback_http {
        UrlPolicy::AllowLoopbackHttp
    } else {
        UrlPolicy::HttpsOnly
    };
    http.url_policy = policy;
    if let Some(ca) = &file.salesforce.ca_file {
        http.extra_ca_pem
            .push(std::fs::read(ca).with_context(|| format!("reading the CA file {}", ca.display()))?);
    }
    let mut login_hosts = LoginHosts {
        url_policy: policy,
        ..LoginHosts::default()
    };
    if let Some(url) = &file.salesforce.login_url {
        let url = InstanceUrl::parse_with(url, policy).context("salesforce.login_url")?;
        login_hosts = LoginHosts::single(&url, policy);
    }
    if let Some(url) = &file.salesforce.sandbox_login_url {
        let url = InstanceUrl::parse_with(url, policy).context("salesforce.sandbox_login_url")?;
        login_hosts.sandbox = LoginHost::Custom(url);
    }
    let recipes = match args.recipes.or(file.recipes) {
        Some(dir) => load_recipes(&dir)?,
        None => Recipes::default(),
    };
    let oauth = file.oauth.map(|o| {
        (
            o.client_id,
            args.oauth_client_secret
                .or_else(|| o.client_secret.map(SecretString::from)),
        )
    });
    let mut server = ServerConfig::default();
    let l = &file.limits;
    if let Some(v) = l.max_body_bytes {
        server.max_body_bytes = v;
    }
    if let Some(v) = l.max_batch {
        server.max_batch = v;
    }
    if let Some(v) = l.rate_per_second {
        server.rate_per_second = v;
    }
    if let Some(v) = l.rate_burst {
        server.rate_burst = v;
    }
    if server.max_batch == 0 {
        bail!("limits.max_batch must be at least 1");
    }

    let mut worker_options = WorkerOptions::default();
    if let Some(s) = file.workers.lease_seconds {
        if !(1..=3600).contains(&s) {
            bail!("workers.lease_seconds must be 1 to 3600 (seconds)");
        }
        worker_options.lease_for = Duration::from_secs(s);
    }
    if let Some(n) = file.workers.concurrency {
        if n == 0 {
            bail!("workers.concurrency must be at least 1");
        }
        worker_options.concurrency = n;
    }
    let workers = if file.workers.enabled.unwrap_or(true) {
        Some(worker_options)
    } else {
        tracing::info!("workers.enabled = false: this node accepts work but does not apply it");
        None
    };

    let node = Node::start(NodeSettings {
        addr,
        database_url,
        vault,
        http,
        login_hosts,
        recipes,
        public_url: args.public_url.or(file.public_url),
        oauth,
        server,
        workers,
    })
    .await?;
    {
        use std::io::Write;
        let mut line = serde_json::json!({ "url": node.url });
        if let Some(k) = &node.admin_key {
            line["admin_key"] = serde_json::Value::String(k.expose_secret().to_owned());
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
    }
    tracing::info!(url = %node.url, backend = ?node.backend, "forcebridge serve ready");
    crate::cmd_emulator::shutdown_signal().await;
    node.stop().await
}
