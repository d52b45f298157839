//! The control API for tests, under `/__emulator/`: seed and reset data, read the request log and
//! API call count, expire sessions, revoke refresh tokens, inject faults.
//!
//! Invariant: nothing under `/__emulator/` counts against API limits or appears in the request log.

use axum::Router;

use crate::app::SharedState;

/// Runtime-only state: injected faults and the request log.
#[derive(Debug, Default)]
pub struct Runtime {}

/// Routes of the control API.
pub fn router() -> Router<SharedState> {
    Router::new()
}
