//! `forcebridge-server`: the HTTP API over the engine (`forcebridge serve`) — tenants and keys,
//! connections through every auth flow, installs, events, operations, signed webhooks to the
//! product, the OpenAPI document, metrics and health.
//!
//! Invariant: the server holds no business logic; every handler authenticates, maps HTTP to one
//! engine call and maps the result (or `ApiError`) back. A tenant's credentials never reach another
//! tenant's resources: a foreign id answers 404.
