//! `forcebridge emulator`: runs the local Salesforce and prints one JSON line with what a client
//! needs to connect.
//!
//! Invariant: stdout carries exactly that one line, printed once the emulator accepts
//! connections, so a script can read it and go; logs go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use forcebridge_emulator::config::{self, EmulatorConfig};

/// Options of `forcebridge emulator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "FORCEBRIDGE_EMULATOR_ADDR", default_value = config::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Serve HTTPS with a certificate for localhost signed by a CA written to --tls-dir.
    #[arg(long)]
    tls: bool,
    /// Folder for the CA certificate (ca.pem) when --tls is on [default: a temporary folder].
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// Keep the org in this file across restarts.
    #[arg(long, env = "FORCEBRIDGE_EMULATOR_STATE")]
    state: Option<PathBuf>,
    /// Consumer key of the default connected app.
    #[arg(long, default_value = config::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Consumer secret of the default connected app.
    #[arg(long, default_value = config::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Username of the administrator.
    #[arg(long, default_value = config::DEFAULT_USERNAME)]
    username: String,
    /// Password of the administrator.
    #[arg(long, default_value = config::DEFAULT_PASSWORD)]
    password: String,
    /// Security token of the administrator.
    #[arg(long, default_value = config::DEFAULT_SECURITY_TOKEN)]
    security_token: String,
    /// Daily API request allocation (`DailyApiRequests.Max`, the M of `api-usage=N/M`).
    #[arg(long, env = "FORCEBRIDGE_EMULATOR_DAILY_API_REQUESTS", default_value_t = EmulatorConfig::default().daily_api_requests)]
    daily_api_requests: u64,
    /// How many orgs to run (`org1` … `orgN`); each has its own id, users, data and limits, and
    /// the ready line lists them all under `orgs`. Add more with `POST /__emulator/orgs`.
    #[arg(long, env = "FORCEBRIDGE_EMULATOR_ORGS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    orgs: u32,
    /// Extra host names the TLS certificate covers, comma-separated, wildcards included
    /// (`login.salesforce.com,test.salesforce.com,*.my.salesforce.com`); implies --tls.
    #[arg(long, value_delimiter = ',')]
    hostnames: Vec<String>,
    /// Port of the Pub/Sub API (gRPC) on the same address (0 picks a free port; the ready line
    /// says which).
    #[arg(long, env = "FORCEBRIDGE_EMULATOR_PUBSUB_PORT", default_value_t = 0)]
    pubsub_port: u16,
}

/// Runs until Ctrl-C or SIGTERM, then stops cleanly (the state file is written last).
pub async fn run(args: Args) -> Result<()> {
    let config = EmulatorConfig {
        addr: args.addr,
        tls: args.tls || !args.hostnames.is_empty(),
        tls_dir: args.tls_dir,
        state_file: args.state,
        client_id: args.client_id,
        client_secret: args.client_secret,
        username: args.username,
        password: args.password,
        security_token: args.security_token,
        daily_api_requests: args.daily_api_requests,
        orgs: args.orgs,
        hostnames: args.hostnames,
        pubsub_port: args.pubsub_port,
    };
    let handle = forcebridge_emulator::Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    // The handlers are in place before the ready line goes out: a script that reads the line and
    // sends SIGTERM at once must get a clean stop, not the default action of the signal.
    let shutdown = ShutdownSignal::install();
    {
        // One line, flushed now: the reader waits for it before connecting.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handle.connection_info()).context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
    }
    tracing::info!(url = handle.base_url(), "emulator ready");
    shutdown.wait().await;
    handle.stop().await;
    Ok(())
}

/// Ctrl-C or SIGTERM, listened for from the moment it is installed.
pub(crate) struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    ctrl_c: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>,
}

impl ShutdownSignal {
    pub(crate) fn install() -> Self {
        // `ctrl_c()` registers its handler when first polled: poll it once now.
        let mut ctrl_c: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> =
            Box::pin(tokio::signal::ctrl_c());
        let waker = std::task::Waker::noop();
        let _ = ctrl_c.as_mut().poll(&mut std::task::Context::from_waker(waker));
        ShutdownSignal {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
            ctrl_c,
        }
    }

    pub(crate) async fn wait(self) {
        #[cfg(unix)]
        {
            if let Some(mut term) = self.term {
                tokio::select! {
                    _ = self.ctrl_c => {}
                    _ = term.recv() => {}
                }
                return;
            }
        }
        let _ = self.ctrl_c.await;
    }
}

/// Waits for Ctrl-C or SIGTERM (the handlers are installed when this is first polled).
pub(crate) async fn shutdown_signal() {
    ShutdownSignal::install().wait().await;
}
