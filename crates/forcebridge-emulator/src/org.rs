//! The org: everything the emulator knows that survives a restart with `--state FILE`.
//!
//! Invariant: all mutation goes through `&mut Org` under the one lock in [`crate::app::AppState`];
//! after each mutation the caller marks the state dirty so the persister writes it. Runtime-only
//! things (fault injection, request log) live in `AppState`, not here.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::ids::SfId;
use crate::schema::Schema;

pub use forcebridge_soql::Record;

/// The records of one object, in insertion order, stored compactly ([`crate::table`]). Deleted
/// records stay (with `IsDeleted = true`) as Salesforce's recycle bin does, so `queryAll` can see
/// them. Records may be sparse: a field absent from a record is null, and every reader must treat
/// it so.
pub use crate::table::Table;

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
    /// The next number of each auto-number field, keyed `Object.Field`.
    #[serde(default)]
    pub auto_numbers: IndexMap<String, u64>,
    /// The event bus: committed changes with replay ids, and the objects selected for Change
    /// Data Capture (kept in the state file).
    #[serde(default)]
    pub events: crate::events::EventBus,
    /// Lookup indexes by field value (external ids, unique fields): a cache, never persisted.
    #[serde(skip)]
    pub indexes: crate::index::Indexes,
}

/// A datetime as Salesforce writes it on the wire: `2026-11-21T15:30:00.000+0000`.
pub fn format_datetime(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// "Now" in the wire format.
pub fn now_string() -> String {
    format_datetime(chrono::Utc::now())
}

impl Org {
    /// The administrator: the user of the first credential (the one bootstrap made).
    pub fn admin_user_id(&self) -> Option<&SfId> {
        self.auth.credentials.first().map(|c| &c.user_id)
    }

    /// A live or deleted record of `object` (canonical name) by id, built for the caller from
    /// its compact row (nothing is kept).
    pub fn record(&self, object: &str, id: &SfId) -> Option<Cow<'_, Record>> {
        self.data.get(object).and_then(|t| t.record(id))
    }

    /// Stores a new record of `object` from already-validated `values` (canonical names): every
    /// field of the object gets its value (the field's default when not given and it has one;
    /// nulls are not stored), the system fields are set for `user` at `now`, and derived fields are computed.
    /// Validation is the caller's job; bootstrap uses this directly for read-only objects.
    ///
    /// Returns `None` when the object does not exist.
    pub fn insert_new(&mut self, object: &str, values: Record, user: &SfId, now: &str) -> Option<SfId> {
        // Borrow the schema and the tables separately, so the object definition is not cloned.
        let def = self.schema.object(object)?;
        self.next_id += 1;
        let id = SfId::generate(&def.key_prefix, &self.info.pod, self.next_id);
        // Records are stored sparse: a field that is null is simply absent (every reader treats a
        // missing field as null). At 1,000,000 rows of a 40-field object that is gigabytes.
        let mut record = Record::new();
        for field in def.fields.values() {
            let value = match values.get(&field.name) {
                Some(v) => Some(v.clone()),
                None => field.default_value.clone().filter(|_| field.defaulted_on_create),
            };
            if let Some(value) = value.filter(|v| !v.is_null()) {
                record.insert(field.name.clone(), value);
            }
        }
        let uid = serde_json::Value::String(user.to_string());
        let ts = serde_json::Value::String(now.to_string());
        record.insert("Id".into(), serde_json::Value::String(id.to_string()));
        for (name, value) in [
            ("IsDeleted", serde_json::Value::Bool(false)),
            ("CreatedDate", ts.clone()),
            ("CreatedById", uid.clone()),
            ("LastModifiedDate", ts.clone()),
            ("LastModifiedById", uid.clone()),
            ("SystemModstamp", ts),
        ] {
            if def.fields.contains_key(name) {
                record.insert(name.into(), value);
            }
        }
        if def.fields.contains_key("OwnerId") && record.get("OwnerId").is_none_or(|v| v.is_null()) {
            record.insert("OwnerId".into(), uid);
        }
        let existing = self.data.get(&def.name).map_or(0, Table::len);
        for field in def.fields.values().filter(|f| f.auto_number) {
            let value =
                crate::schema::autonumber::next(&mut self.auto_numbers, &def.name, field, existing, now);
            record.insert(field.name.clone(), value);
        }
        derive_fields(def, &mut record, None, now);
        let name = def.name.clone();
        self.put_record(&name, id.clone(), record);
        Some(id)
    }

    /// Stores `record` as record `id` of `object` (canonical name), keeping the field indexes in
    /// step; returns the record it replaces. Writes of records go through here (or
    /// [`Org::remove_record`]) so that upserts by external id stay index lookups.
    pub fn put_record(&mut self, object: &str, id: SfId, record: Record) -> Option<Record> {
        let table = self.data.entry(object.to_string()).or_default();
        let before = table.put(id.clone(), &record);
        self.indexes.note(object, &id, before.as_ref(), Some(&record));
        before
    }

    /// Removes record `id` of `object` for good (a hard delete, or undoing a create), keeping the
    /// field indexes in step.
    pub fn remove_record(&mut self, object: &str, id: &SfId) -> Option<Record> {
        let before = self.data.get_mut(object)?.shift_remove(id);
        self.indexes.note(object, id, before.as_ref(), None);
        before
    }

    /// A fresh id for a record of an object with this key prefix.
    pub fn new_id(&mut self, key_prefix: &str) -> SfId {
        self.next_id += 1;
        SfId::generate(key_prefix, &self.info.pod, self.next_id)
    }

    /// The table of `object` (canonical name), created empty on first use, for changes that do
    /// not go through [`Org::put_record`]: its field indexes are dropped (rebuilt on next use).
    pub fn table_mut(&mut self, object: &str) -> &mut Table {
        self.indexes.invalidate(object);
        self.data.entry(object.to_string()).or_default()
    }

    /// The table of `object` if it exists, for changes that do not go through
    /// [`Org::put_record`] (its field indexes are dropped).
    pub fn existing_table_mut(&mut self, object: &str) -> Option<&mut Table> {
        self.indexes.invalidate(object);
        self.data.get_mut(object)
    }

    /// Drops the table of `object` and its indexes (the object was deleted).
    pub fn drop_table(&mut self, object: &str) -> Option<Table> {
        self.indexes.invalidate(object);
        self.data.shift_remove(object)
    }

    /// A record by id, whatever its object: `(object name, record)`, built as [`Org::record`]
    /// builds it.
    pub fn find(&self, id: &SfId) -> Option<(&str, Cow<'_, Record>)> {
        let object = self.schema.object_by_prefix(id.key_prefix())?;
        let table = self.data.get(&object.name)?;
        table.record(id).map(|r| (object.name.as_str(), r))
    }
}

/// Recomputes the fields Salesforce derives from others: the compound `Name` of people, compound
/// addresses, and the closed/won/high-priority flags that follow a status. `before` is the record
/// before this change (for `ClosedDate`, set when a case becomes closed).
pub fn derive_fields(
    def: &crate::schema::ObjectDef,
    record: &mut Record,
    before: Option<&Record>,
    now: &str,
) {
    use crate::schema::FieldType;
    use serde_json::Value;

    let text = |r: &Record, k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
    let compound_name = def.fields.get("Name").is_some_and(|n| !n.createable);
    if compound_name && def.fields.contains_key("LastName") {
        {
            let parts: Vec<String> = [text(record, "FirstName"), text(record, "LastName")]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect();
            let full = parts.join(" ");
            record.insert(
                "Name".into(),
                if full.is_empty() {
                    Value::Null
                } else {
                    Value::String(full)
                },
            );
        }
    }
    for field in def.fields.values().filter(|f| f.ftype == FieldType::Address) {
        let prefix = field.name.trim_end_matches("Address");
        let part = |k: &str| {
            record
                .get(&format!("{prefix}{k}"))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let parts = [
            ("city", part("City")),
            ("country", part("Country")),
            ("geocodeAccuracy", part("GeocodeAccuracy")),
            ("latitude", part("Latitude")),
            ("longitude", part("Longitude")),
            ("postalCode", part("PostalCode")),
            ("state", part("State")),
            ("street", part("Street")),
        ];
        let value = if parts.iter().all(|(_, v)| v.is_null()) {
            Value::Null
        } else {
            Value::Object(parts.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        record.insert(field.name.clone(), value);
    }
    let status = text(record, "Status");
    match def.name.as_str() {
        "Case" => {
            let closed = status.as_deref() == Some("Closed");
            let was_closed = before.and_then(|b| b.get("IsClosed")).and_then(Value::as_bool) == Some(true);
            record.insert("IsClosed".into(), Value::Bool(closed));
            if closed && !was_closed {
                record.insert("ClosedDate".into(), Value::String(now.to_string()));
            } else if !closed {
                record.insert("ClosedDate".into(), Value::Null);
            }
        }
        "Task" => {
            let closed = status.as_deref() == Some("Completed");
            record.insert("IsClosed".into(), Value::Bool(closed));
            let high = text(record, "Priority").as_deref() == Some("High");
            record.insert("IsHighPriority".into(), Value::Bool(high));
        }
        "Opportunity" => {
            let stage = text(record, "StageName");
            let won = stage.as_deref() == Some("Closed Won");
            let closed = won || stage.as_deref() == Some("Closed Lost");
            record.insert("IsClosed".into(), Value::Bool(closed));
            record.insert("IsWon".into(), Value::Bool(won));
            let category = if won {
                "Closed"
            } else if closed {
                "Omitted"
            } else {
                "Pipeline"
            };
            if before.is_none() || closed {
                record.insert("ForecastCategoryName".into(), Value::String(category.into()));
            }
        }
        _ => {}
    }
}
