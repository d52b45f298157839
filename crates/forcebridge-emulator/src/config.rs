//! Emulator settings with stable, documented defaults (docs/emulator.md lists them).
//!
//! Invariant: the defaults never change between releases without a note, because users write them
//! into their test setups.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default listen address of `forcebridge emulator`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8484";
/// Default connected app consumer key.
pub const DEFAULT_CLIENT_ID: &str = "3MVG9forcebridge.emulator.default.connected.app";
/// Default connected app consumer secret.
pub const DEFAULT_CLIENT_SECRET: &str = "F0RCEBR1DGE3MU1AT0RSECRET";
/// Default administrator username.
pub const DEFAULT_USERNAME: &str = "admin@forcebridge.emulator";
/// Default administrator password.
pub const DEFAULT_PASSWORD: &str = "emulator-password";
/// Default administrator security token (appended to the password by SOAP `login` and the password flow).
pub const DEFAULT_SECURITY_TOKEN: &str = "EMULATORSECURITYTOKEN";
/// Latest API version the emulator answers; `/services/data` lists every version down to 31.0.
pub const LATEST_API_VERSION: &str = "66.0";

/// How to run one emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Serve HTTPS with a certificate made at start, signed by a CA written to `tls_dir`.
    pub tls: bool,
    /// Where the CA certificate (`ca.pem`) is written when `tls` is on; a temporary folder when `None`.
    pub tls_dir: Option<PathBuf>,
    /// Keep the org in this file across restarts.
    pub state_file: Option<PathBuf>,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub security_token: String,
    /// Daily API request allocation (`DailyApiRequests.Max`).
    pub daily_api_requests: u64,
    /// How many orgs to start with (`org1` … `orgN`, all production; at least one).
    pub orgs: u32,
    /// Extra host names the TLS certificate covers (`login.salesforce.com`, `*.my.salesforce.com`).
    pub hostnames: Vec<String>,
    /// Port of the Pub/Sub API (gRPC), on the same address; 0 picks a free port.
    pub pubsub_port: u16,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tls_dir: None,
            state_file: None,
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            username: DEFAULT_USERNAME.to_string(),
            password: DEFAULT_PASSWORD.to_string(),
            security_token: DEFAULT_SECURITY_TOKEN.to_string(),
            daily_api_requests: 100_000,
            orgs: 1,
            hostnames: Vec::new(),
            pubsub_port: 0,
        }
    }
}
