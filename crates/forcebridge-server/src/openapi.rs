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
        (name = "runs", description = "Background work started by the API (an install's apply): state, attempts, progress"),
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

/// Add the answers every operation can give (bad input, credentials, scope, missing, limits,
/// database trouble) where a handler did not list them, all with the error body.
pub fn with_common_errors(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let common = [
        ("400", "bad input; `field` names it"),
        ("401", "missing, unknown or expired credential"),
        ("403", "the credential lacks the scope or role"),
        ("404", "not found for this tenant"),
        ("413", "the body or batch is over the limits"),
        ("429", "over the tenant's rate; see Retry-After"),
        ("500", "a forcebridge bug; the log has the details"),
        ("503", "the database is busy or unreachable"),
    ];
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for op in ops.into_iter().flatten() {
            for (code, what) in common {
                op.responses.responses.entry(code.to_owned()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(what)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build(),
                    )
                });
            }
        }
    }
    doc
}
