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
pub mod persist;
pub mod pubsub;
pub mod rest;
pub mod schema;
pub mod security;
pub mod soap;
pub mod streaming;
pub mod tls;
pub mod tooling;
pub mod validate;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

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
    /// Starts an emulator and returns once it accepts connections.
    ///
    /// # Errors
    /// [`StartError`] when the address cannot be bound, the state file cannot be read, or TLS
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
        let base_url = format!("{scheme}://{host}:{}", local.port());

        let loaded = match &config.state_file {
            Some(path) => persist::load(path).map_err(|reason| StartError::State {
                path: path.clone(),
                reason,
            })?,
            None => None,
        };
        let (org, bulk, chatter) = match loaded {
            Some(l) => (l.org, l.bulk, l.chatter),
            None => (bootstrap::default_org(&config), None, None),
        };
        let bulk_state = Arc::new(bulk::BulkState::default());
        if let Some(saved) = bulk {
            saved.restore(&bulk_state);
        }
        let chatter_state = Arc::new(chatter::ChatterState::default());
        if let Some(segments) = chatter {
            chatter_state.restore(segments);
        }

        let state = Arc::new(app::AppState {
            config: config.clone(),
            base_url,
            org: RwLock::new(org),
            runtime: Mutex::new(control::Runtime::default()),
            dirty: tokio::sync::Notify::new(),
            bulk: bulk_state,
            chatter: chatter_state,
            long_running: longrun::Meter::default(),
            streams: streaming::Streams::default(),
        });
        let router = app::router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();

        let (tls_dir, ca_file, acceptor) = if config.tls {
            let material = tls::make(config.tls_dir.as_deref()).map_err(StartError::Tls)?;
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
            state.clone(),
        ));

        let persister = config
            .state_file
            .clone()
            .map(|path| persist::spawn(state.clone(), path));
        let task = tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => tls::serve(listener, acceptor, router, rx).await,
                None => {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                }
            }
            if let Some(p) = persister {
                p.finish().await;
            }
        });
        Ok(EmulatorHandle {
            state,
            ca_file,
            shutdown: Some(tx),
            pubsub_addr,
            task: Some(task),
            _tls_dir: tls_dir,
        })
    }
}

impl EmulatorHandle {
    /// `http(s)://localhost:PORT` — both the login host and the instance URL.
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

    /// The settings this emulator runs with (credentials included).
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// The shared state, for in-process tests that want to look inside.
    pub fn state(&self) -> &app::SharedState {
        &self.state
    }

    /// What a client needs to connect, as the one JSON line `forcebridge emulator` prints.
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
        v
    }

    /// Stops accepting connections, finishes in-flight requests and writes the state file.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        self.state.streams.close();
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
        self.state.streams.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
