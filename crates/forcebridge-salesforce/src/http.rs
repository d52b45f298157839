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
            .dns_resolver(std::sync::Arc::new(LocalhostAware))
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

/// The system resolver, except that `localhost` and every name under it resolve to the loopback
/// address, as RFC 6761 (section 6.3) asks and browsers do — glibc without `nss-myhostname` does
/// not, and the emulator's My Domain hosts are `<org>.my.localhost`.
struct LocalhostAware;

impl reqwest::dns::Resolve for LocalhostAware {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let loopback = [
                    std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
                ];
                return Ok(Box::new(loopback.into_iter()) as reqwest::dns::Addrs);
            }
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::dns::Resolve as _;

    use super::*;

    #[tokio::test]
    async fn names_under_localhost_are_loopback() {
        for name in ["acme.my.localhost", "LOCALHOST", "x.sandbox.my.localhost."] {
            let addrs: Vec<_> = LocalhostAware
                .resolve(name.parse().unwrap())
                .await
                .unwrap()
                .collect();
            assert!(
                addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty(),
                "{name}"
            );
        }
    }
}
