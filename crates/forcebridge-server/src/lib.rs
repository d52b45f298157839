//! `forcebridge-server`: the HTTP API over the engine (`forcebridge serve`) — tenants and keys,
//! sessions, connections through every auth flow, events, signed webhooks to the product, the
//! OpenAPI document with a reference page, metrics and health.
//!
//! - [`state`] — the shared state; [`auth`] — who is calling; [`error`] — `ApiError` and its
//!   code table; [`extract`] — JSON bodies whose errors name the field.
//! - [`routes`] — one router per group; [`openapi`] — the document's frame; [`metrics`].
//!
//! Invariant: the server holds no business logic; every handler authenticates, maps HTTP to one
//! engine call and maps the result (or `ApiError`) back. A tenant's credentials never reach another
//! tenant's resources: a foreign id answers 404.

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use error::{ApiError, ApiResult};
pub use state::{AppState, ServerConfig};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The OpenAPI document of this build.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::with_common_errors(routes::api().split_for_parts().1)
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let (router, doc) = routes::api().split_for_parts();
    let doc = openapi::with_common_errors(doc);
    let doc_json = doc.clone();
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let d = doc_json.clone();
                async move { axum::Json(d) }
            }),
        )
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/docs/openapi.json", doc))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    router
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings may carry an OAuth code or state.
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Serve `app` on `listener` until `shutdown` resolves, then finish in-flight requests (at most
/// `grace`).
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        r = &mut server => r,
        () = async { let _ = rx.await; tokio::time::sleep(grace).await; } => {
            tracing::warn!("in-flight requests did not finish within the grace period; stopping");
            Ok(())
        }
    }
}
