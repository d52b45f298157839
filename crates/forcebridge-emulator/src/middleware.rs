//! Cross-cutting request handling: session check, request log, injected faults, API usage
//! counting and the `Sforce-Limit-Info` header (being built).
//!
//! Invariant: every request under `/services/data/vXX.X/` either carries a live session — and then
//! its handler finds a [`Caller`] in the request extensions — or is answered 401 `INVALID_SESSION_ID`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::SharedState;
use crate::ids::SfId;

/// Who is calling: put into the request extensions for authenticated routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: SfId,
    pub access_token: String,
}

/// Wraps every request.
pub async fn track(State(_state): State<SharedState>, req: Request, next: Next) -> Response {
    next.run(req).await
}
