//! The org: everything the emulator knows that survives a restart with `--state FILE`.
//!
//! Invariant: all mutation goes through `&mut Org` under the one lock in [`crate::app::AppState`];
//! after each mutation the caller marks the state dirty so the persister writes it. Runtime-only
//! things (fault injection, request log) live in `AppState`, not here.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::ids::SfId;
use crate::schema::Schema;

pub use forcebridge_soql::Record;

/// The records of one object, in insertion order. Deleted records stay (with `IsDeleted = true`)
/// as Salesforce's recycle bin does, so `queryAll` can see them.
pub type Table = IndexMap<SfId, Record>;

/// The org's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgInfo {
    /// 18-character organization id (`00D...`).
    pub id: SfId,
    pub name: String,
    /// The two-character pod used inside generated ids.
    pub pod: String,
}

/// A connected app: who may ask for tokens, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub callback_urls: Vec<String>,
    /// PEM certificate whose key signs JWT bearer assertions, if the app allows that flow.
    pub certificate_pem: Option<String>,
    /// The user the client-credentials flow runs as, if that flow is enabled.
    pub client_credentials_user: Option<SfId>,
    /// Seconds after creation before the app accepts logins (Salesforce takes 2–10 minutes).
    pub activation_delay_secs: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A user's sign-in secrets (the User record itself lives in the `User` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCredential {
    pub user_id: SfId,
    pub username: String,
    pub password: String,
    pub security_token: String,
}

/// An access token handed out by OAuth or SOAP login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub user_id: SfId,
    pub client_id: Option<String>,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// Set by the control API's "expire all sessions": the token then answers 401 INVALID_SESSION_ID.
    pub expired: bool,
}

/// A refresh token. Salesforce keeps at most 5 per user per app and revokes the oldest silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub token: String,
    pub user_id: SfId,
    pub client_id: String,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub revoked: bool,
}

/// Authentication state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthState {
    pub apps: Vec<ConnectedApp>,
    pub credentials: Vec<UserCredential>,
    pub sessions: IndexMap<String, Session>,
    pub refresh_tokens: Vec<RefreshToken>,
}

/// API usage counted against the daily allocation (`Sforce-Limit-Info`, `/limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub daily_api_requests_max: u64,
    pub daily_api_requests_used: u64,
}

/// The whole org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Org {
    pub info: OrgInfo,
    pub schema: Schema,
    /// Records per object, keyed by the object's canonical name.
    pub data: IndexMap<String, Table>,
    /// Next number for generated ids (shared by all objects, so ids sort by creation).
    pub next_id: u64,
    pub auth: AuthState,
    pub usage: ApiUsage,
}

impl Org {
    /// A fresh id for a record of an object with this key prefix.
    pub fn new_id(&mut self, key_prefix: &str) -> SfId {
        self.next_id += 1;
        SfId::generate(key_prefix, &self.info.pod, self.next_id)
    }

    /// The table of `object` (canonical name), created empty on first use.
    pub fn table_mut(&mut self, object: &str) -> &mut Table {
        self.data.entry(object.to_string()).or_default()
    }

    /// A record by id, whatever its object: `(object name, record)`.
    pub fn find(&self, id: &SfId) -> Option<(&str, &Record)> {
        let object = self.schema.object_by_prefix(id.key_prefix())?;
        let table = self.data.get(&object.name)?;
        table.get(id).map(|r| (object.name.as_str(), r))
    }
}
