//! forcebridge's local Salesforce: one org in memory, served over real HTTP(S) with Salesforce's
//! wire formats — OAuth 2.0, SOAP login, REST, SOQL — plus a control API for tests.
//!
//! Start one from a test with [`Emulator::start`] (port 0 picks a free port) and use the returned
//! [`EmulatorHandle`]'s URLs; the `forcebridge emulator` command runs the same thing standalone.
//!
//! Invariant: this crate shares no code with forcebridge's Salesforce client. The two meet only
//! over the wire, so a misunderstanding of a wire format cannot hide on both sides at once.

pub mod app;
pub mod bootstrap;
pub mod bulk;
pub mod catalog;
pub mod chatter;
pub mod config;
pub mod control;
pub mod control_streams;
pub mod duplicates;
pub mod error;
pub mod events;
pub mod ids;
pub mod index;
pub mod longrun;
pub mod metadata;
pub mod middleware;
pub mod oauth;
pub mod org;
pub mod orgs;
pub mod paths;
pub mod persist;
pub mod pubsub;
pub mod rest;
pub mod schema;
pub mod security;
pub mod soap;
pub mod streaming;
pub mod table;
pub mod tls;
pub mod tooling;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;

pub use config::EmulatorConfig;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}; pick another address with --addr or free the port")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the state file {path}: {reason}; fix or remove it, or start without --state")]
    State { path: PathBuf, reason: String },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// A way to start an emulator.
#[derive(Debug)]
pub struct Emulator;

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    orgs: Arc<orgs::Orgs>,
    /// The first org.
    state: app::SharedState,
    ca_file: Option<PathBuf>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Where the Pub/Sub API (gRPC) listens.
    pubsub_addr: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
    // Keeps a temporary TLS folder alive as long as the emulator runs.
    _tls_dir: Option<tls::TlsDir>,
}

impl Emulator {
    /// Starts an emulator with `config.orgs` orgs and returns once it accepts connections.
    ///
    /// # Errors
    /// [`StartError`] when the address cannot be bound, a state file cannot be read, or TLS
    /// material cannot be made.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, StartError> {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        let scheme = if config.tls { "https" } else { "http" };
        // Salesforce clients compare instance URLs textually; `localhost` works with the TLS
        // certificate (which names both localhost and 127.0.0.1) and with plain HTTP alike.
        let host = if local.ip().is_loopback() {
            "localhost".to_string()
        } else {
            local.ip().to_string()
        };
        let registry = Arc::new(orgs::Orgs::new(scheme, host, local.port(), config.clone()));
        // Orgs a previous run made through the control API (listed beside the state file).
        let listed = registry.listed().map_err(start_error)?;
        let mut first = None;
        for n in 1..=config.orgs.max(1) {
            let state = registry
                .add(&format!("org{n}"), orgs::Environment::Production)
                .map_err(start_error)?;
            first.get_or_insert(state);
        }
        for (name, environment) in listed {
            if registry.by_name(&name).is_none() {
                registry.add(&name, environment).map_err(start_error)?;
            }
        }
        let Some(state) = first else {
            return Err(StartError::State {
                path: PathBuf::new(),
                reason: "no org was made".into(),
            });
        };
        let router = orgs::router(registry.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();

        let (tls_dir, ca_file, acceptor) = if config.tls {
            let material =
                tls::make(config.tls_dir.as_deref(), &config.hostnames).map_err(StartError::Tls)?;
            (
                Some(material.dir),
                Some(material.ca_file),
                Some(material.acceptor),
            )
        } else {
            (None, None, None)
        };

        let pubsub_bind = std::net::SocketAddr::new(config.addr.ip(), config.pubsub_port);
        let pubsub_listener = tokio::net::TcpListener::bind(pubsub_bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: pubsub_bind,
                source,
            })?;
        let pubsub_addr = pubsub_listener.local_addr().map_err(|source| StartError::Bind {
            addr: pubsub_bind,
            source,
        })?;
        tokio::spawn(pubsub::server::serve(
            pubsub_listener,
            acceptor.clone(),
            registry.clone(),
        ));

        let finishing = registry.clone();
        let task = tokio::spawn(async move {
            tls::serve(listener, acceptor, router, rx).await;
            finishing.finish().await;
        });
        Ok(EmulatorHandle {
            orgs: registry,
            state,
            ca_file,
            shutdown: Some(tx),
            pubsub_addr,
            task: Some(task),
            _tls_dir: tls_dir,
        })
    }
}

/// A start error for an org that cannot be added.
fn start_error(e: orgs::AddError) -> StartError {
    match e {
        orgs::AddError::State { path, reason } => StartError::State {
            path: PathBuf::from(path),
            reason,
        },
        other => StartError::State {
            path: PathBuf::new(),
            reason: other.to_string(),
        },
    }
}

impl EmulatorHandle {
    /// `http(s)://localhost:PORT` — both the login host and the first org's instance URL.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.base_url())
    }

    /// The Pub/Sub API endpoint, `host:port` (gRPC over TLS when TLS is on, else plain HTTP/2).
    pub fn pubsub_endpoint(&self) -> String {
        let host = if self.pubsub_addr.ip().is_loopback() {
            "localhost".to_string()
        } else {
            self.pubsub_addr.ip().to_string()
        };
        format!("{host}:{}", self.pubsub_addr.port())
    }

    /// The Streaming API (CometD) URL of the latest API version.
    pub fn cometd_url(&self) -> String {
        format!("{}/cometd/{}", self.base_url(), config::LATEST_API_VERSION)
    }

    /// The CA certificate (PEM) clients must trust when TLS is on.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// The settings this emulator runs with (credentials of the first org included).
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// The first org's shared state, for in-process tests that want to look inside.
    pub fn state(&self) -> &app::SharedState {
        &self.state
    }

    /// Every org of this emulator.
    pub fn orgs(&self) -> &Arc<orgs::Orgs> {
        &self.orgs
    }

    /// What a client needs to connect, as the one JSON line `forcebridge emulator` prints: the
    /// first org's keys at the top level, and every org under `orgs`.
    pub fn connection_info(&self) -> serde_json::Value {
        let c = &self.state.config;
        let mut v = serde_json::json!({
            "instance_url": self.base_url(),
            "login_url": self.base_url(),
            "token_url": self.token_url(),
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password,
            "security_token": c.security_token,
            "pubsub_endpoint": self.pubsub_endpoint(),
            "cometd_url": self.cometd_url(),
        });
        if let Some(ca) = &self.ca_file {
            v["ca_file"] = serde_json::Value::String(ca.display().to_string());
        }
        v["orgs"] =
            serde_json::Value::Array(self.orgs.all().iter().map(|e| self.orgs.info(&e.state)).collect());
        v
    }

    /// Stops accepting connections, finishes in-flight requests and writes the state file.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        self.orgs.close_streams();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.orgs.close_streams();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
