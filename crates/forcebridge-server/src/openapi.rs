//! The OpenAPI 3.1 document's frame (title, security schemes, tags); the paths come from the
//! handlers' `#[utoipa::path]` annotations as the routers are merged.
//!
//! Invariant: the document is generated from the code at start, never written by hand.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "forcebridge",
        description = "The HTTP API of forcebridge serve: tenants and keys, sessions, Salesforce connections through \
                       every auth flow, events, webhooks. Errors are JSON {code, message, field}.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "tenants", description = "Tenants and their keys (vendor admin key)"),
        (name = "keys", description = "A tenant's own API keys"),
        (name = "sessions", description = "End-user sessions for the connect portal"),
        (name = "connections", description = "Salesforce connections"),
        (name = "events", description = "Events from the product"),
        (name = "webhooks", description = "Signed webhooks to the product"),
        (name = "installs", description = "Recipes installed on connections"),
        (name = "operations", description = "Deliveries, dead letters, replay, journal, budget")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            (
                "admin_key",
                "The vendor admin key (fba_…), printed once on the first start",
            ),
            ("tenant_key", "A tenant API key (fbk_…)"),
            ("session", "An end-user session token (fbs_…)"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// The document's frame.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
