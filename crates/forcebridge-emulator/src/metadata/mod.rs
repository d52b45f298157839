//! metadata (being built for issue 3).

use axum::Router;

use crate::app::SharedState;

/// Routes of this module.
pub fn router() -> Router<SharedState> {
    Router::new()
}
