//! HTTPS for the emulator: at start, a fresh CA and a server certificate for `localhost`,
//! `127.0.0.1` and `::1` signed by it; the CA is written to `<tls_dir>/ca.pem` for clients to trust.
//! Connections are served with tokio-rustls and hyper-util (HTTP/1.1 and h2 chosen by ALPN).
//!
//! Invariant: the server config names its crypto provider (aws-lc-rs) explicitly, so it never
//! depends on which provider the process installed as its default, and never panics for lack of one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// How long shutdown waits for open connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A folder holding the CA certificate; removed on drop when it is temporary.
#[derive(Debug)]
pub struct TlsDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TlsDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`make`] produces.
#[allow(missing_debug_implementations)] // TlsAcceptor has no Debug
pub struct Material {
    pub dir: TlsDir,
    pub ca_file: PathBuf,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

/// Makes a CA and a server certificate for localhost, writes the CA to `dir/ca.pem` (a temporary
/// folder when `dir` is `None`), and returns the acceptor serving that certificate.
///
/// # Errors
/// A message when the keys or certificates cannot be made or the folder cannot be written.
pub fn make(dir: Option<&Path>, hostnames: &[String]) -> Result<Material, String> {
    let dir = match dir {
        Some(p) => {
            std::fs::create_dir_all(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            TlsDir {
                path: p.to_path_buf(),
                _temp: None,
            }
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("forcebridge-emulator-tls-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
            TlsDir {
                path: temp.path().to_path_buf(),
                _temp: Some(temp),
            }
        }
    };

    let ca_key = KeyPair::generate().map_err(|e| format!("cannot make the CA key: {e}"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "forcebridge emulator CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "forcebridge");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
        .map_err(|e| format!("cannot make the CA certificate: {e}"))?;

    let server_key = KeyPair::generate().map_err(|e| format!("cannot make the server key: {e}"))?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(|e| format!("{e}"))?),
        SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
        SanType::IpAddress(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        // Every org's My Domain host and the login hosts under `localhost`.
        SanType::DnsName("*.localhost".try_into().map_err(|e| format!("{e}"))?),
        SanType::DnsName("*.my.localhost".try_into().map_err(|e| format!("{e}"))?),
        SanType::DnsName("*.sandbox.my.localhost".try_into().map_err(|e| format!("{e}"))?),
    ];
    for name in hostnames {
        let dns = name
            .as_str()
            .try_into()
            .map_err(|e| format!("--hostnames: {name:?} is not a DNS name: {e}"))?;
        params.subject_alt_names.push(SanType::DnsName(dns));
    }
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params
        .signed_by(&server_key, &ca)
        .map_err(|e| format!("cannot sign the server certificate: {e}"))?;

    let ca_file = dir.path.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).map_err(|e| format!("cannot write {}: {e}", ca_file.display()))?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS protocol versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
        .map_err(|e| format!("TLS server certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Material {
        dir,
        ca_file,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

/// Serves `router` until `shutdown` fires — over TLS when `acceptor` is given, plain HTTP
/// otherwise — then lets open connections finish (up to [`SHUTDOWN_GRACE`]).
///
/// HTTP/1.1 header names go out title-cased (`Content-Type`, `Sforce-Locator`,
/// `Sforce-Limit-Info`) as Salesforce writes them: some widely used clients read them
/// case-sensitively.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => {
                        // Long-poll answers and small requests go out at once (no Nagle delay).
                        let _ = tcp.set_nodelay(true);
                        tcp
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(router.clone());
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let result = match acceptor {
                        Some(acceptor) => {
                            let tls = match acceptor.accept(tcp).await {
                                Ok(tls) => tls,
                                Err(e) => {
                                    tracing::debug!(error = %e, "TLS handshake failed");
                                    return;
                                }
                            };
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                            watcher.watch(conn.into_owned()).await
                        }
                        None => {
                            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                            watcher.watch(conn.into_owned()).await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}
