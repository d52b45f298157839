//! Serves the gRPC service on its own listener, over TLS (ALPN `h2`) or plain HTTP/2.
//!
//! One listener serves every org of the emulator: a call finds its org by its `tenantid` header.
//!
//! Invariant: the server stops when the emulator's streams close (`Orgs::close_streams`), after
//! which every open Subscribe stream has been told to end.

use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;

use crate::orgs::Orgs;

/// Serves the Pub/Sub API on `listener` until the emulator stops.
pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    orgs: Arc<Orgs>,
) {
    let router = tonic::service::Routes::new(super::proto::pub_sub_server::PubSubServer::new(
        super::PubSubService::new(orgs.clone()),
    ))
    .into_axum_router();
    let builder = Arc::new(hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = orgs.streams_closed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        // Small FetchRequests and responses go out at once (no Nagle delay against delayed ACKs).
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let orgs = orgs.clone();
        tokio::spawn(async move {
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        tokio::select! {
                            r = conn => r,
                            () = orgs.streams_closed() => Ok(()),
                        }
                    }
                    Err(_) => Ok(()),
                },
                None => {
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    tokio::select! {
                        r = conn => r,
                        () = orgs.streams_closed() => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!("pub/sub connection ended: {e}");
            }
        });
    }
}
