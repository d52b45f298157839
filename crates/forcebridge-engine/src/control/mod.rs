//! The control plane: tenants, users, API keys, session tokens, connections (every auth flow,
//! status, refresh, removal with revocation at Salesforce, the access doctor) and the
//! notifications (`connection.token_expired`, `install.provisioned`, `event.failed`, …) that the
//! server delivers as signed webhooks.
//!
//! Invariant: every call takes the tenant it acts for and never reads or changes another
//! tenant's rows (a foreign id is "not found").
pub mod clients;
pub mod connections;
pub mod notify;
pub mod oauth;
pub mod webhooks;
