//! The routers, one file per route group; [`api`] merges them with the OpenAPI document.
//!
//! Invariant: every route is declared through `utoipa_axum::routes!`, so `/openapi.json`
//! describes exactly the routes that exist.

pub mod connections;
pub mod events;
pub mod health;
pub mod installs;
pub mod oauth;
pub mod operations;
pub mod runs;
pub mod sessions;
pub mod tenants;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every route of the API.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(health::router())
        .merge(tenants::router())
        .merge(sessions::router())
        .merge(connections::router())
        .merge(oauth::router())
        .merge(events::router())
        .merge(webhooks::router())
        .merge(installs::router())
        .merge(operations::router())
        .merge(runs::router())
}
