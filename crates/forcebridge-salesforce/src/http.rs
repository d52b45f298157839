//! The one place a `reqwest::Client` is built: timeouts, user agent and extra trusted CAs.
//!
//! Invariant: every request the crate makes goes through a client built here, so TLS trust (the
//! system roots plus any caller CA, e.g. the emulator's) is the same everywhere.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::types::UrlPolicy;

/// How to reach Salesforce over the network.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Extra CA certificates (PEM) to trust besides the system roots (the emulator's CA).
    pub extra_ca_pem: Vec<Vec<u8>>,
    /// Timeout for one whole request.
    pub request_timeout: Duration,
    /// Timeout for connecting.
    pub connect_timeout: Duration,
    /// Whether `http://` is accepted for loopback hosts (tests, the emulator). Never other hosts.
    pub url_policy: UrlPolicy,
    /// The `User-Agent` sent.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            extra_ca_pem: Vec::new(),
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(15),
            url_policy: UrlPolicy::HttpsOnly,
            user_agent: format!("forcebridge/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl HttpConfig {
    /// Adds a CA certificate file (PEM) to trust.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read.
    pub fn trust_ca_file(mut self, path: &Path) -> Result<Self> {
        let pem = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.extra_ca_pem.push(pem);
        Ok(self)
    }

    /// Accepts `http://` on loopback hosts (for the emulator and tests).
    pub fn allow_loopback_http(mut self) -> Self {
        self.url_policy = UrlPolicy::AllowLoopbackHttp;
        self
    }

    /// Builds the HTTP client.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a CA is not valid PEM or the TLS stack cannot be set up.
    pub fn build(&self) -> Result<reqwest::Client> {
        let mut certs = Vec::new();
        for pem in &self.extra_ca_pem {
            let bundle = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::InvalidInput(format!("the CA certificate is not valid PEM: {e}")))?;
            certs.extend(bundle);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .gzip(true);
        if !certs.is_empty() {
            builder = builder.tls_certs_merge(certs);
        }
        builder
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot set up the HTTP client: {e}")))
    }
}
