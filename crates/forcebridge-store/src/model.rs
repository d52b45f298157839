//! The records the engine keeps: tenants, users, API keys, connections, installed recipes,
//! accepted events, sync cursors, the journal and the audit log.
//!
//! Invariant: ids are newtypes that only hold well-formed values ([`TenantId::parse`] etc.), and
//! enums round-trip through the exact strings stored in the database (`as_str` / `parse`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Parse an id given as text (a UUID).
            ///
            /// # Errors
            /// [`Error::Invalid`] when `s` is not a UUID.
            pub fn parse(s: &str) -> Result<Self> {
                uuid::Uuid::parse_str(s)
                    .map(|u| Self(u.hyphenated().to_string()))
                    .map_err(|_| Error::Invalid(format!("{} {s:?} is not a valid id", $what)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

uuid_id!(/// A tenant's id.
    TenantId, "tenant");
uuid_id!(/// A tenant user's id.
    UserId, "user");
uuid_id!(/// An API key's id.
    ApiKeyId, "api key");
uuid_id!(/// A connection's id.
    ConnectionId, "connection");
uuid_id!(/// An installed recipe's id.
    InstallId, "recipe install");
uuid_id!(/// An accepted event's id.
    EventId, "event");

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The stored (and wire) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parse the stored name.
            ///
            /// # Errors
            /// [`Error::Invalid`] for an unknown name.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(Error::Invalid(format!(
                        concat!("unknown ", $what, " {:?}; expected one of: ", $($s, " "),+), other))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(/// A tenant user's role.
    Role, "role" {
    /// May manage keys, shared connections and recipes.
    Admin => "admin",
    /// May use connections shared with them and own personal ones.
    Member => "member",
});

string_enum!(/// How a connection authenticates to Salesforce.
    AuthMethod, "auth method" {
    /// OAuth 2.0 web server flow (authorization code, optionally PKCE) with a refresh token.
    OAuthWebServer => "oauth_web_server",
    /// OAuth 2.0 JWT bearer flow with a private key.
    JwtBearer => "jwt_bearer",
    /// OAuth 2.0 client credentials flow.
    ClientCredentials => "client_credentials",
    /// OAuth 2.0 username-password flow.
    Password => "password",
});

string_enum!(/// A connection's state.
    ConnectionStatus, "connection status" {
    /// Working.
    Active => "active",
    /// The refresh failed with `invalid_grant`: the user must reconnect.
    TokenExpired => "token_expired",
    /// The token was revoked (by the user or by Salesforce).
    Revoked => "revoked",
    /// Something else is wrong; see the reason.
    Error => "error",
});

/// Which Salesforce login host a connection uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "url", rename_all = "snake_case")]
pub enum Environment {
    /// login.salesforce.com
    Production,
    /// test.salesforce.com
    Sandbox,
    /// A My Domain URL (`https://acme.my.salesforce.com`).
    MyDomain(String),
}

impl Environment {
    pub(crate) fn to_columns(&self) -> (&'static str, Option<&str>) {
        match self {
            Environment::Production => ("production", None),
            Environment::Sandbox => ("sandbox", None),
            Environment::MyDomain(url) => ("my_domain", Some(url.as_str())),
        }
    }

    pub(crate) fn from_columns(kind: &str, url: Option<String>) -> Result<Self> {
        match (kind, url) {
            ("production", _) => Ok(Environment::Production),
            ("sandbox", _) => Ok(Environment::Sandbox),
            ("my_domain", Some(url)) => Ok(Environment::MyDomain(url)),
            (other, _) => Err(Error::corrupt("connections", format!("environment {other:?}"))),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Environment::MyDomain(url) = self
            && (!url.starts_with("https://")
                || url.len() <= "https://".len()
                || url.contains(char::is_whitespace))
        {
            return Err(Error::Invalid(format!(
                "environment.url {url:?} must be an https:// My Domain URL such as https://acme.my.salesforce.com"
            )));
        }
        Ok(())
    }
}

/// A tenant: one customer account of the vendor's product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A person in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Email, unique within the tenant.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An API key as stored (the secret itself is never stored; only its argon2 hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The tenant it acts for.
    pub tenant_id: TenantId,
    /// The public lookup prefix (the part of the key before the secret).
    pub prefix: String,
    /// A human label.
    pub label: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who owns a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// A user's personal connection, usable only by them.
    Personal {
        /// The owner.
        user_id: UserId,
    },
    /// A connection an admin shares with chosen users of the tenant.
    Shared {
        /// The admin who owns it.
        admin_id: UserId,
        /// The users it is shared with.
        users: Vec<UserId>,
    },
}

impl Owner {
    /// The owning user (counted against the per-owner connection limit).
    pub fn owner_id(&self) -> &UserId {
        match self {
            Owner::Personal { user_id } => user_id,
            Owner::Shared { admin_id, .. } => admin_id,
        }
    }
}

/// What a new connection is made of.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// The Salesforce org id, when known.
    pub org_id: Option<String>,
    /// Login host.
    pub environment: Environment,
    /// Auth method.
    pub auth_method: AuthMethod,
    /// Owner.
    pub owner: Owner,
    /// A human label.
    pub label: String,
    /// Secrets, sealed before they reach the database.
    pub credentials: crate::vault::Credentials,
}

/// A connection as stored, without its credentials (read those with `Store::credentials`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// Its id.
    pub id: ConnectionId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The Salesforce org id, when known.
    pub org_id: Option<String>,
    /// Login host.
    pub environment: Environment,
    /// Auth method.
    pub auth_method: AuthMethod,
    /// Owner.
    pub owner: Owner,
    /// A human label.
    pub label: String,
    /// Current status.
    pub status: ConnectionStatus,
    /// Why the status was set (for anything but `active`).
    pub status_reason: Option<String>,
    /// When the status was set.
    pub status_at: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A recipe installed for a tenant's connection, with its settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecipeInstall {
    /// Its id.
    pub id: InstallId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The connection it runs against.
    pub connection_id: ConnectionId,
    /// The recipe's name.
    pub recipe: String,
    /// The tenant's settings for it (validated by the engine against the recipe).
    pub settings: serde_json::Value,
    /// Whether it runs.
    pub enabled: bool,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An event the product posted, as accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The product's idempotency key (unique per tenant).
    pub idempotency_key: String,
    /// The app event type (`track.completed`).
    pub event_type: String,
    /// The event body.
    pub payload: serde_json::Value,
    /// When it was first accepted.
    pub accepted_at: DateTime<Utc>,
}

/// The result of accepting an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    /// The event (the first one, when the key was seen before).
    pub event: Event,
    /// False when the idempotency key was already used: nothing new was recorded.
    pub is_new: bool,
}

/// A new journal entry: one write made to Salesforce for an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJournalEntry {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The event that caused it, if any.
    pub event_id: Option<EventId>,
    /// The connection written through.
    pub connection_id: ConnectionId,
    /// `create`, `update`, `upsert`, `delete`, `chatter_post`, ...
    pub operation: String,
    /// The sObject type.
    pub sobject: String,
    /// The record id Salesforce returned.
    pub record_id: Option<String>,
    /// Anything else worth keeping (fields written, external id, created flag).
    pub detail: serde_json::Value,
}

/// A journal entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// Sequence number.
    pub id: i64,
    /// The entry.
    pub entry: NewJournalEntry,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// An audit record: who changed what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// The tenant concerned (none for system-wide actions such as a key rotation).
    pub tenant_id: Option<TenantId>,
    /// Who: a user id, `api_key:<prefix>` or `system`.
    pub actor: String,
    /// What (`connection.create`, `api_key.revoke`, ...).
    pub action: String,
    /// On what (an id).
    pub target: String,
    /// Details (never secrets).
    pub detail: serde_json::Value,
    /// When.
    pub at: DateTime<Utc>,
}
