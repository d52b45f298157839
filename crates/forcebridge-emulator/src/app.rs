//! Shared state of a running emulator and the composition of its routes.
//!
//! Invariant: the org is behind one `RwLock`; handlers hold it only for in-memory work, never
//! across an `.await`, so a slow client cannot stall others.

use std::sync::{Arc, Mutex, RwLock};

use axum::Router;

use crate::config::EmulatorConfig;
use crate::org::Org;

/// Everything a handler can reach.
#[derive(Debug)]
pub struct AppState {
    pub config: EmulatorConfig,
    /// `http(s)://host:port` as clients reach this emulator (set once the listener is bound).
    pub base_url: String,
    pub org: RwLock<Org>,
    /// Runtime-only state: fault injection, request log. Not persisted.
    pub runtime: Mutex<crate::control::Runtime>,
    /// Signalled after every mutation of `org`, so the persister writes the state file.
    pub dirty: tokio::sync::Notify,
}

pub type SharedState = Arc<AppState>;

/// All routes of the emulator.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .merge(crate::oauth::router())
        .merge(crate::soap::router())
        .merge(crate::rest::router())
        .merge(crate::control::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::middleware::track,
        ))
        .with_state(state)
}
