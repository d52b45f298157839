//! The compiled form of a recipe: what the runtime, the installer and the server execute.
//!
//! Everything here was checked by `compile`: names exist, references point at earlier steps and
//! declared settings, expressions and templates compiled, fields exist on the recipe's schema or
//! on Salesforce's standard objects. The runtime never parses text again.
//!
//! Invariant: an [`Expr`] or [`Template`] remembers its source text, file and span, so a runtime
//! failure can point at the recipe line that produced it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use forcebridge_salesforce::metadata::SchemaSpec;
use serde::Serialize;
use serde_json::Value;

pub use super::expr::{EvalError, Expr, Scope};
pub use super::template::Template;

/// A compiled recipe.
#[derive(Debug, Clone, Serialize)]
pub struct Recipe {
    /// Its name (`instruqt`), unique among the recipes a server knows; lowercase, `[a-z0-9_-]`.
    pub name: String,
    /// Human title (`Instruqt`).
    pub title: String,
    /// A short description for the connect page.
    pub description: String,
    /// The recipe's own version string (`1.2.0`); with the content hash it identifies a build.
    pub version: String,
    /// SHA-256 of the recipe file and its templates: the compiled-once key.
    pub content_hash: String,
    /// How customers connect.
    pub connection: ConnectionSpec,
    /// Settings a tenant admin sets, in declaration order.
    pub settings: Vec<Setting>,
    /// Workflows that can be switched on or off, in declaration order.
    pub workflows: Vec<Workflow>,
    /// What to provision (objects, fields on standard objects, the permission set).
    pub schema: SchemaSpec,
    /// Outbound flows, in declaration order.
    pub flows: Vec<Flow>,
    /// Inbound syncs (shape only for now; run by a later issue).
    pub syncs: Vec<Sync>,
    /// The event types the product sends, with their payload fields, in declaration order.
    pub events: Vec<EventSpec>,
    /// The recipe's test cases (`tests/*.toml` beside it), for `forcebridge recipe test`.
    #[serde(skip)]
    pub tests: Vec<TestCase>,
}

impl Recipe {
    /// The flows that handle `event_type`, in declaration order.
    pub fn flows_for<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| f.on == event_type)
    }

    /// The declared event type called `name`.
    pub fn event(&self, name: &str) -> Option<&EventSpec> {
        self.events.iter().find(|e| e.name == name)
    }

    /// The setting called `name`.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// An event type the product sends (`[events."<type>"]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSpec {
    /// The type (`track.completed`).
    pub name: String,
    /// Its top-level payload fields, in declaration order.
    pub fields: Vec<EventField>,
}

/// A declared payload field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventField {
    pub name: String,
    pub kind: EventFieldKind,
    /// Declared with a trailing `?`: it may be absent or null.
    pub optional: bool,
}

/// The JSON type of a declared payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventFieldKind {
    String,
    Number,
    Bool,
    Object,
    List,
    Any,
}

impl EventFieldKind {
    /// The kind a declaration names (`string`, `number?` → `number`), if any.
    pub fn parse(declared: &str) -> Option<Self> {
        Some(match declared.trim_end_matches('?') {
            "string" => Self::String,
            "number" => Self::Number,
            "bool" => Self::Bool,
            "object" => Self::Object,
            "list" => Self::List,
            "any" => Self::Any,
            _ => return None,
        })
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Number => v.is_number(),
            Self::Bool => v.is_boolean(),
            Self::Object => v.is_object(),
            Self::List => v.is_array(),
            Self::Any => true,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Number => "a number",
            Self::Bool => "true or false",
            Self::Object => "an object",
            Self::List => "a list",
            Self::Any => "any value",
        }
    }
}

impl EventSpec {
    /// Checks a payload against the declaration: every required field present and not null,
    /// every declared field of its type. Undeclared fields are allowed (products add fields).
    ///
    /// # Errors
    /// The first mismatch, as `(field, message)`.
    pub fn check(&self, data: &Value) -> Result<(), (String, String)> {
        let Some(obj) = data.as_object() else {
            return Err(("data".into(), "data must be a JSON object".into()));
        };
        for f in &self.fields {
            match obj.get(&f.name) {
                None | Some(Value::Null) if f.optional => {}
                None | Some(Value::Null) => {
                    return Err((
                        f.name.clone(),
                        format!("{} is required by event type {:?}", f.name, self.name),
                    ));
                }
                Some(v) if !f.kind.accepts(v) => {
                    return Err((
                        f.name.clone(),
                        format!(
                            "{} must be {} (event type {:?})",
                            f.name,
                            f.kind.as_str(),
                            self.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// An auth method a recipe accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// OAuth 2.0 web server flow (authorization code + PKCE, refresh token).
    OauthWebServer,
    /// OAuth 2.0 client credentials (server-to-server, My Domain URL).
    ClientCredentials,
    /// OAuth 2.0 username-password (+ security token).
    Password,
    /// OAuth 2.0 JWT bearer (client id, private key, username).
    JwtBearer,
}

impl AuthMethod {
    /// The name recipes and the API use (`oauth_web_server`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::OauthWebServer => "oauth_web_server",
            AuthMethod::ClientCredentials => "client_credentials",
            AuthMethod::Password => "password",
            AuthMethod::JwtBearer => "jwt_bearer",
        }
    }
}

/// A login environment a recipe accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentKind {
    /// login.salesforce.com
    Production,
    /// test.salesforce.com
    Sandbox,
    /// A My Domain URL the customer gives.
    MyDomain,
}

impl EnvironmentKind {
    /// The name recipes and the API use (`my_domain`).
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentKind::Production => "production",
            EnvironmentKind::Sandbox => "sandbox",
            EnvironmentKind::MyDomain => "my_domain",
        }
    }
}

/// The `[connection]` table: how customers connect an org for this recipe.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSpec {
    /// Accepted auth methods, the first being the default offered.
    pub auth: Vec<AuthMethod>,
    /// Accepted environments.
    pub environments: Vec<EnvironmentKind>,
    /// OAuth scopes asked for (web server flow).
    pub scopes: Vec<String>,
    /// Whether a user may connect an org of their own.
    pub personal: bool,
    /// Whether a tenant admin may create connections shared with users.
    pub shared: bool,
    /// How many personal connections one user may have (default 5).
    pub per_owner_limit: u32,
    /// How long to keep trying a login that Salesforce refuses because a newly created connected
    /// app is not active yet (SpaceIQ: "2 to 10 minutes"); `None` fails at once.
    pub wait_for_new_app: Option<Duration>,
}

/// A setting's type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SettingType {
    /// true / false.
    Bool,
    /// Free text, optionally bounded.
    Text {
        /// Longest accepted value.
        max_length: Option<u32>,
    },
    /// A number, optionally bounded.
    Number {
        /// Smallest accepted value.
        min: Option<f64>,
        /// Largest accepted value.
        max: Option<f64>,
    },
    /// One of fixed choices.
    Choice {
        /// The choices.
        choices: Vec<String>,
    },
    /// One value of a picklist read live from the org's describe (`Lead.Status`).
    Picklist {
        /// The object.
        object: String,
        /// The picklist field.
        field: String,
    },
    /// A set of objects among fixed choices (Intricately: "Accounts and/or Leads").
    Objects {
        /// The objects that may be chosen.
        choices: Vec<String>,
        /// At least this many must be chosen.
        min: u32,
    },
    /// A mapping from product fields to fields of a Salesforce object.
    FieldMapping {
        /// The Salesforce object mapped to.
        object: String,
        /// The product's fields that may be mapped (empty: any).
        sources: Vec<String>,
    },
}

/// One setting a tenant admin sets on install.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Its name, as used in expressions (`settings.new_lead_status`).
    pub name: String,
    /// Label on the settings page.
    pub label: String,
    /// Help text.
    pub help: Option<String>,
    /// Its type.
    #[serde(flatten)]
    pub kind: SettingType,
    /// The default; `None` makes the setting required.
    pub default: Option<Value>,
}

/// A workflow: a named group of flows a tenant admin can switch on or off.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    /// Its name (`chatter_on_start`).
    pub name: String,
    /// Label on the settings page.
    pub label: String,
    /// Help text.
    pub help: Option<String>,
    /// Cannot be switched off.
    pub mandatory: bool,
    /// On unless switched off.
    pub default_on: bool,
}

/// An outbound flow: an app event type (+ filter) → steps against Salesforce.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    /// Its name, unique in the recipe (`form_submitted`).
    pub name: String,
    /// The event type it handles (`invite.form_submitted`).
    pub on: String,
    /// Only events for which this is true (scope: event, settings, connection, now).
    pub filter: Option<Expr>,
    /// The workflow that switches it, if any (off → the flow is skipped).
    pub workflow: Option<String>,
    /// The correlation key recorded with every write of this flow (SpaceIQ: the move plan's id), so
    /// that an `undo` step of a later event can find them.
    pub correlate: Option<Expr>,
    /// Hold events and write only the latest per key.
    pub coalesce: Option<Coalesce>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

/// A coalescing window: events of a flow with the same key within `window` of the first one are
/// held, and only the latest is applied, at the end of the window, in one batch.
#[derive(Debug, Clone, Serialize)]
pub struct Coalesce {
    /// How long to hold.
    #[serde(with = "duration_secs")]
    pub window: Duration,
    /// The key (scope: event, settings, connection).
    pub key: Expr,
}

/// One step of a flow.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Its id, unique in the flow; later steps read its output as `steps.<id>`.
    pub id: String,
    /// Run only when this is true (scope: event, settings, earlier steps, connection, now). A
    /// skipped step's output is `null`.
    pub when: Option<Expr>,
    /// The workflow that switches this step (off → skipped, output `null`, as when `when` is
    /// false): Instruqt's Chatter posts are switched one by one inside flows that always run.
    pub workflow: Option<String>,
    /// What it does.
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Find one record. Output: `{ "id", "object", "found": bool, "created": bool, "fields": {..} }`.
    Match(MatchStep),
    /// Create a record. Output: `{ "id", "object", "created": true }`.
    Create(WriteStep),
    /// Update a record by id. Output: `{ "id", "object" }`.
    Update(UpdateStep),
    /// Upsert by external id. Output: `{ "id", "object", "created": bool }`.
    Upsert(UpsertStep),
    /// Delete a record by id. Output: `{ "id", "object" }`.
    Delete(DeleteStep),
    /// Post a Chatter feed item on a record. Output: `{ "id" }` (the feed item).
    Chatter(ChatterStep),
    /// Revert what earlier events with the same correlation key wrote. Output: `{ "reverted": n }`.
    Undo(UndoStep),
}

/// How a `match` normalises values before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// Compare as given.
    Exact,
    /// Trim and compare case-insensitively (the default: what Salesforce's own matching does for
    /// email and names).
    TrimCaseless,
}

/// What a `match` does when several records match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum OnMany {
    /// Take the first by this ordering (a SOQL `ORDER BY` fragment, e.g. `CreatedDate ASC`).
    First {
        /// The ordering.
        order_by: String,
    },
    /// Skip the event's remaining steps and report it (the event ends `skipped`).
    Skip,
    /// Fail the event (dead letter) naming the records.
    Fail,
}

/// `match`: find one record across objects in an order of preference.
#[derive(Debug, Clone, Serialize)]
pub struct MatchStep {
    /// Objects to look in, in order of preference (`["Contact", "Lead"]`).
    pub objects: Vec<String>,
    /// Field → value, all of which must be equal (after normalising). Every object in `objects`
    /// has these fields. The first is the one queried with an IN list; the others are compared.
    pub by: Vec<(String, Expr)>,
    /// Extra SOQL condition per object (`IsConverted = false` on Lead), checked by compile.
    pub filter: BTreeMap<String, String>,
    /// Normalisation.
    pub normalise: Normalise,
    /// Several matches.
    pub on_many: OnMany,
    /// Fields to read from the matched record into the output's `fields`.
    pub read: Vec<String>,
    /// When nothing matches: create this instead (find-or-create in one step, exactly once — two
    /// events for the same new person in one batch create one record).
    pub or_create: Option<WriteStep>,
}

/// A record to write: object + field values.
#[derive(Debug, Clone, Serialize)]
pub struct WriteStep {
    /// The sObject.
    pub object: String,
    /// Field → value. A field written `Parent__r.Key__c` sets the lookup `Parent__c` by the
    /// parent's external id `Key__c`. A value that evaluates to `null` is left out of the write
    /// (write an explicit clear with `clear`).
    pub fields: Vec<(String, FieldValue)>,
    /// Fields to set to null.
    pub clear: Vec<String>,
}

/// A field's value: an expression, or a template for text.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldValue {
    /// A CEL expression.
    Expr(Expr),
    /// A minijinja template rendering text.
    Template(Template),
}

/// `update`: change fields of a record by id.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateStep {
    /// The record's id.
    pub id: Expr,
    /// What to write.
    pub record: WriteStep,
}

/// `upsert`: create or update by external id.
#[derive(Debug, Clone, Serialize)]
pub struct UpsertStep {
    /// The external id field (`ExternalID__c`).
    pub external_id: String,
    /// Its value.
    pub key: Expr,
    /// What to write (the external id field is set from `key`).
    pub record: WriteStep,
    /// Read the values an update will replace before writing, so undo can restore them (costs one
    /// query per object per batch). Without it, undo deletes what the upsert created and reports
    /// updates it cannot restore.
    pub keep_previous: bool,
}

/// `delete`: delete a record by id.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteStep {
    /// The object (checked at compile time; the id must be of it).
    pub object: String,
    /// The record's id.
    pub id: Expr,
}

/// `chatter`: post a feed item on a record.
#[derive(Debug, Clone, Serialize)]
pub struct ChatterStep {
    /// The record to post on (a Lead, Contact, Account, custom record…).
    pub on: Expr,
    /// The text.
    pub body: Template,
}

/// `undo`: revert, newest first, what earlier events with this correlation key wrote.
#[derive(Debug, Clone, Serialize)]
pub struct UndoStep {
    /// The correlation key to revert (compared with the `correlate` value of earlier events).
    pub correlation: Expr,
    /// Only writes to these objects (empty: all).
    pub objects: Vec<String>,
}

/// Inbound sync (Salesforce → product): the shape only; a later issue runs them.
#[derive(Debug, Clone, Serialize)]
pub struct Sync {
    /// Its name.
    pub name: String,
    /// The object read.
    pub object: String,
    /// Fields read.
    pub fields: Vec<String>,
    /// SOQL condition (checked with `forcebridge-soql`).
    pub filter: Option<String>,
    /// How changes are noticed.
    pub mode: SyncMode,
    /// Cron schedule for polling modes.
    pub schedule: Option<String>,
    /// The workflow that switches it, if any.
    pub workflow: Option<String>,
    /// Product field → expression over `record` (and settings).
    pub mapping: Vec<(String, Expr)>,
}

/// How a sync notices changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Read everything each time.
    Full,
    /// `SystemModstamp` cursor with a look-back window; `queryAll` for deletes.
    Incremental,
    /// Change Data Capture over the Pub/Sub API (or PushTopics), with a polling backstop.
    Realtime,
}

/// A test case kept beside a recipe (`tests/<name>.toml`).
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The file's stem.
    pub name: String,
    /// Settings for the install (defaults fill the rest), with the case's workflow switches
    /// under `workflows` as the engine's install takes them.
    pub settings: serde_json::Map<String, Value>,
    /// Workflows switched on (`true`) or off (`false`) for the install (also in `settings`); the
    /// others keep their default.
    pub workflows: Vec<(String, bool)>,
    /// Records to create in the org before the events (e.g. an existing Contact).
    pub given: Vec<(String, serde_json::Map<String, Value>)>,
    /// Events, in order, each `{ "type", "id"?, "data" }`.
    pub events: Vec<TestEvent>,
    /// Records expected afterwards: object, a SOQL WHERE condition, expected count, field values.
    pub expect_records: Vec<ExpectRecords>,
    /// Expected journal operations per event (by event id), if given.
    pub expect_journal: Vec<(String, Vec<String>)>,
    /// At most this many Salesforce API calls for the events (excluding provisioning).
    pub max_api_calls: Option<u64>,
    /// Expected event outcomes by event id (`done`, `skipped`, `dead`, `filtered`).
    pub expect_outcomes: Vec<(String, String)>,
}

/// One event of a test case.
#[derive(Debug, Clone)]
pub struct TestEvent {
    /// The event type.
    pub event_type: String,
    /// Its idempotency key (defaults to its position).
    pub id: String,
    /// Its body.
    pub data: Value,
    /// Time that passes before it is sent (due work runs first).
    pub after: Option<Duration>,
}

/// An expectation about records after a test case's events.
#[derive(Debug, Clone)]
pub struct ExpectRecords {
    /// The object.
    pub object: String,
    /// SOQL WHERE condition (none: all records).
    pub filter: Option<String>,
    /// How many.
    pub count: Option<u64>,
    /// Field values every matched record has.
    pub fields: serde_json::Map<String, Value>,
}

/// A shared compiled recipe.
pub type RecipeRef = Arc<Recipe>;

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}
