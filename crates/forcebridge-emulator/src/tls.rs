//! HTTPS for the emulator (being built).

use std::path::{Path, PathBuf};

/// A folder holding the CA certificate; removed on drop when temporary.
#[derive(Debug)]
pub struct TlsDir {}

/// What [`make`] produces.
#[allow(missing_debug_implementations)]
pub struct Material {
    pub dir: TlsDir,
    pub ca_file: PathBuf,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

/// Makes a CA and a server certificate for localhost.
///
/// # Errors
/// A message when TLS material cannot be made.
pub fn make(_dir: Option<&Path>) -> Result<Material, String> {
    Err("TLS is not available in this build yet".to_string())
}

/// Serves `router` over TLS until `shutdown` fires.
pub async fn serve(
    _listener: tokio::net::TcpListener,
    _acceptor: tokio_rustls::TlsAcceptor,
    _router: axum::Router,
    _shutdown: tokio::sync::oneshot::Receiver<()>,
) {
}
