//! `forcebridge-engine`: the integration engine. It turns a declarative **recipe** into work
//! against a tenant's Salesforce connection:
//!
//! - [`recipe`] — the recipe language: the TOML file format with spans, CEL expressions for
//!   values, filters and conditions, minijinja templates for text, `check` with compiler-style
//!   diagnostics, the JSON Schema, and the compiled form ([`recipe::ir`]) everything else runs.
//! - [`control`] — tenants, API keys, sessions and connections (auth flows, status, the access
//!   doctor) and the notifications the server turns into webhooks.
//! - [`install`] — installing a recipe on a connection: settings, the provisioning plan, consent,
//!   apply, permission set assignment, the access doctor afterwards.
//! - [`runtime`] — the outbound runtime: `ingest`, deliveries per install, the per-connection
//!   drain that runs flows set-at-a-time, the journal and undo, the shared API budget.
//!
//! Invariants: the engine sees the database only through `forcebridge-store` and Salesforce only
//! through `forcebridge-salesforce`; time and sleeping go through the injected [`Clock`]; a recipe
//! is compiled once per version and never re-parsed while it runs.

pub mod clock;
pub mod control;
pub mod demo;
pub mod engine;
pub mod error;
pub mod harness;
pub mod install;
pub mod recipe;
pub mod runtime;

pub use clock::Clock;
pub use engine::{Engine, EngineConfig, Recipes};
pub use error::{Error, ErrorKind, Result};
