//! The recipe file model: what `recipe.toml` may hold, exactly as written, every name, expression
//! and template with its span. `docs/recipes.md` and `recipes/recipe.schema.json` are generated
//! from these types and their doc comments (`forcebridge_engine::recipe::docs`).
//!
//! Invariant: every struct rejects unknown keys; nothing here is checked beyond its TOML shape —
//! names, references, expressions, templates and Salesforce fields are checked by `compile`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::span::{Map, Sp};

/// A recipe: one integration between a product and Salesforce, in `recipes/<name>/recipe.toml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// Who the recipe is: name, title, version.
    pub recipe: Sp<Header>,
    /// How customers connect their org.
    #[serde(default)]
    pub connection: Option<Sp<ConnectionFile>>,
    /// Settings a tenant admin sets on install, by name (`settings.<name>` in expressions).
    #[serde(default)]
    pub settings: Map<SettingFile>,
    /// Workflows a tenant admin switches on or off, by name; flows and steps name the workflow
    /// that switches them.
    #[serde(default)]
    pub workflows: Map<WorkflowFile>,
    /// What the recipe provisions in the org: custom objects, custom fields on standard objects,
    /// the integration user's permission set.
    #[serde(default)]
    pub schema: Option<Sp<SchemaFile>>,
    /// The product's event types and the fields of their payloads, by event type. When any is
    /// declared, every flow's `on` must name one, and `event.<field>` is checked against it.
    #[serde(default)]
    pub events: Map<EventFile>,
    /// Outbound flows (product → Salesforce), by name, run in the order written.
    #[serde(default)]
    pub flows: Map<FlowFile>,
    /// Inbound syncs (Salesforce → product), by name: their shape only, for now.
    #[serde(default)]
    pub syncs: Map<SyncFile>,
}

/// `[recipe]`: who the recipe is.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Unique name, lowercase `[a-z0-9_-]` (`instruqt`).
    pub name: Sp<String>,
    /// Human title (`Instruqt`).
    pub title: Sp<String>,
    /// The recipe's own version (`1.0.0`).
    pub version: Sp<String>,
    /// A sentence for the connect page.
    #[serde(default)]
    pub description: Option<Sp<String>>,
}

/// `[connection]`: how customers connect an org.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionFile {
    /// Accepted auth methods, the first one offered by default.
    pub auth: Vec<Sp<AuthMethodName>>,
    /// Accepted login environments (default: production and sandbox).
    #[serde(default)]
    pub environments: Option<Vec<Sp<EnvironmentName>>>,
    /// OAuth scopes asked for (web-server flow), e.g. `["api", "refresh_token", "chatter_api"]`.
    #[serde(default)]
    pub scopes: Vec<Sp<String>>,
    /// Whether a user may connect an org of their own (default true).
    #[serde(default)]
    pub personal: Option<Sp<bool>>,
    /// Whether a tenant admin may create connections shared with users (default true).
    #[serde(default)]
    pub shared: Option<Sp<bool>>,
    /// How many personal connections one user may have (default 5).
    #[serde(default)]
    pub per_owner_limit: Option<Sp<u32>>,
    /// How long to keep retrying a login Salesforce refuses because a newly created connected app
    /// is not active yet, as a duration (`"10m"`); absent: fail at once.
    #[serde(default)]
    pub wait_for_new_app: Option<Sp<String>>,
}

/// An auth method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethodName {
    /// OAuth 2.0 web-server flow (authorization code + PKCE, refresh token).
    OauthWebServer,
    /// OAuth 2.0 client credentials (server to server, needs a My Domain URL).
    ClientCredentials,
    /// OAuth 2.0 username-password (+ security token), with a client id and secret.
    Password,
    /// OAuth 2.0 JWT bearer (client id, private key, username).
    JwtBearer,
}

/// A login environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentName {
    /// login.salesforce.com
    Production,
    /// test.salesforce.com
    Sandbox,
    /// A My Domain URL the customer gives.
    MyDomain,
}

/// `[settings.<name>]`: one setting a tenant admin sets.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingFile {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: Sp<SettingKind>,
    /// Label on the settings page (default: the name).
    #[serde(default)]
    pub label: Option<Sp<String>>,
    /// Help text.
    #[serde(default)]
    pub help: Option<Sp<String>>,
    /// The default; without one the setting is required. Must fit the type.
    #[serde(default)]
    pub default: Option<Sp<serde_json::Value>>,
    /// `text`: the longest accepted value.
    #[serde(default)]
    pub max_length: Option<Sp<u32>>,
    /// `number`: the smallest accepted value. `objects`: how many must be chosen at least.
    #[serde(default)]
    pub min: Option<Sp<f64>>,
    /// `number`: the largest accepted value.
    #[serde(default)]
    pub max: Option<Sp<f64>>,
    /// `choice` and `objects`: the values that may be chosen.
    #[serde(default)]
    pub choices: Option<Vec<Sp<String>>>,
    /// `picklist`: the field whose picklist values are offered, read live from the org
    /// (`"Lead.Status"`).
    #[serde(default)]
    pub picklist: Option<Sp<String>>,
    /// `field_mapping`: the Salesforce object mapped to.
    #[serde(default)]
    pub object: Option<Sp<String>>,
    /// `field_mapping`: the product's fields that may be mapped (absent: any).
    #[serde(default)]
    pub sources: Option<Vec<Sp<String>>>,
}

/// A setting's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// true or false.
    Bool,
    /// Free text (`max_length`).
    Text,
    /// A number (`min`, `max`).
    Number,
    /// One of `choices`.
    Choice,
    /// One value of a picklist read live from the org (`picklist = "Lead.Status"`).
    Picklist,
    /// A set of objects among `choices` (at least `min`).
    Objects,
    /// A mapping from product fields (`sources`) to fields of `object`.
    FieldMapping,
}

/// `[workflows.<name>]`: a switch for flows and steps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFile {
    /// Label on the settings page (default: the name).
    #[serde(default)]
    pub label: Option<Sp<String>>,
    /// Help text.
    #[serde(default)]
    pub help: Option<Sp<String>>,
    /// Cannot be switched off (default false).
    #[serde(default)]
    pub mandatory: Option<Sp<bool>>,
    /// On unless switched off (default true).
    #[serde(default)]
    pub default: Option<Sp<bool>>,
}

/// `[schema]`: what the recipe provisions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// Custom objects, by API name (ending in `__c`).
    #[serde(default)]
    pub objects: Map<ObjectFile>,
    /// Custom fields added to existing objects: object API name → field API name → field.
    #[serde(default)]
    pub fields: Map<Map<FieldFile>>,
    /// The permission set granting the integration user access to all of the above.
    #[serde(default)]
    pub permission_set: Option<Sp<PermissionSetFile>>,
}

/// `[schema.objects.<Name__c>]`: a custom object.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectFile {
    /// Label (`Instruqt Track`).
    pub label: Sp<String>,
    /// Plural label (default: the label + "s").
    #[serde(default)]
    pub plural: Option<Sp<String>>,
    /// Label of the object's text `Name` field (default "Name").
    #[serde(default)]
    pub name_label: Option<Sp<String>>,
    /// Custom fields, by API name (ending in `__c`).
    #[serde(default)]
    pub fields: Map<FieldFile>,
}

/// A custom field, e.g. `{ type = "text", length = 255, external_id = true }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldFile {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: Sp<FieldKindName>,
    /// Label (default: the API name without `__c`, underscores as spaces).
    #[serde(default)]
    pub label: Option<Sp<String>>,
    /// `text` (1–255) and `long_text_area` (up to 131,072): the length.
    #[serde(default)]
    pub length: Option<Sp<u32>>,
    /// `long_text_area`: lines shown (default 3).
    #[serde(default)]
    pub visible_lines: Option<Sp<u32>>,
    /// `number`: total digits (1–18).
    #[serde(default)]
    pub precision: Option<Sp<u32>>,
    /// `number`: decimal places (default 0).
    #[serde(default)]
    pub scale: Option<Sp<u32>>,
    /// `picklist`: the values, in order.
    #[serde(default)]
    pub values: Option<Vec<Sp<String>>>,
    /// `lookup`: the object referred to (`Lead`, `Instruqt_Track__c`).
    #[serde(default)]
    pub to: Option<Sp<String>>,
    /// `lookup`: the child relationship's name on the parent (default: the object's plural
    /// label, as an API name).
    #[serde(default)]
    pub relationship: Option<Sp<String>>,
    /// Required on every record.
    #[serde(default)]
    pub required: Option<Sp<bool>>,
    /// An external id (unique), usable by `upsert` and by `Parent__r.Key__c` lookups.
    #[serde(default)]
    pub external_id: Option<Sp<bool>>,
    /// Unique values.
    #[serde(default)]
    pub unique: Option<Sp<bool>>,
    /// Help text.
    #[serde(default)]
    pub description: Option<Sp<String>>,
}

/// A custom field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKindName {
    /// `Text(length)`.
    Text,
    /// `TextArea` (255 characters).
    TextArea,
    /// `LongTextArea(length)`, `visible_lines`.
    LongTextArea,
    /// `Url`.
    Url,
    /// `Email`.
    Email,
    /// `Phone`.
    Phone,
    /// `Number(precision, scale)`.
    Number,
    /// `Checkbox`.
    Checkbox,
    /// `Date`.
    Date,
    /// `DateTime`.
    DateTime,
    /// `Picklist` with `values`.
    Picklist,
    /// `Lookup` to the object `to`.
    Lookup,
}

/// `[schema.permission_set]`: granting the integration user access to the recipe's schema.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetFile {
    /// API name (`Instruqt_Integration`).
    pub name: Sp<String>,
    /// Label (default: the name).
    #[serde(default)]
    pub label: Option<Sp<String>>,
    /// Assign it to the connected (integration) user after provisioning (default true).
    #[serde(default)]
    pub assign: Option<Sp<bool>>,
}

/// `[events."<type>"]`: an event type the product sends, and its payload.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    /// What happened.
    #[serde(default)]
    pub description: Option<Sp<String>>,
    /// Top-level payload fields → their type (`string`, `number`, `bool`, `object`, `list`,
    /// `any`; a trailing `?` marks an optional one).
    #[serde(default)]
    pub fields: Map<String>,
}

/// `[flows.<name>]`: on an event type, ordered steps against Salesforce.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// The event type handled (`track.completed`).
    pub on: Sp<String>,
    /// What the flow does.
    #[serde(default)]
    pub description: Option<Sp<String>>,
    /// CEL: only events for which this is true (scope: `event`, `settings`, `connection`, `now`).
    #[serde(default)]
    pub filter: Option<Sp<String>>,
    /// The workflow that switches the whole flow.
    #[serde(default)]
    pub workflow: Option<Sp<String>>,
    /// CEL: the correlation key recorded with every write of this flow, which an `undo` step of a
    /// later event reverts by (scope: `event`, `settings`, `connection`, `now`).
    #[serde(default)]
    pub correlate: Option<Sp<String>>,
    /// Hold events for a window and apply only the latest per key.
    #[serde(default)]
    pub coalesce: Option<Sp<CoalesceFile>>,
    /// The steps, in order (`[[flows.<name>.steps]]`).
    pub steps: Vec<Sp<StepFile>>,
}

/// `coalesce = { window = "1h", key = "event.ticket.id" }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoalesceFile {
    /// How long to hold events, as a duration (`"90s"`, `"15m"`, `"1h"`, `"1d"`).
    pub window: Sp<String>,
    /// CEL: the key (scope: `event`, `settings`, `connection`).
    pub key: Sp<String>,
}

/// `[[flows.<name>.steps]]`: one step. Exactly one of `match`, `create`, `update`, `upsert`,
/// `delete`, `chatter`, `undo` says what it does; the other keys apply as documented.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// The step's id, unique in the flow; later steps read its output as `steps.<id>`.
    pub id: Sp<String>,
    /// CEL: run only when true; a skipped step's output is `null` (scope: `event`, `settings`,
    /// `steps` of earlier steps, `connection`, `now`).
    #[serde(default)]
    pub when: Option<Sp<String>>,
    /// The workflow that switches this step (a switched-off step is skipped).
    #[serde(default)]
    pub workflow: Option<Sp<String>>,
    /// Find one record in these objects, in order of preference (`["Contact", "Lead"]`).
    /// Output: `{ id, object, found, created, fields }`.
    #[serde(rename = "match", default)]
    pub match_: Option<Vec<Sp<String>>>,
    /// Create a record of this object. Output: `{ id, object, created }`.
    #[serde(default)]
    pub create: Option<Sp<String>>,
    /// Update a record of this object by id (`record`). Output: `{ id, object }`.
    #[serde(default)]
    pub update: Option<Sp<String>>,
    /// Create or update a record of this object by external id (`external_id`, `key`).
    /// Output: `{ id, object, created }`.
    #[serde(default)]
    pub upsert: Option<Sp<String>>,
    /// Delete a record of this object by id (`record`). Output: `{ id, object }`.
    #[serde(default)]
    pub delete: Option<Sp<String>>,
    /// CEL: post a Chatter feed item on this record id (with `body`). Output: `{ id }`.
    #[serde(default)]
    pub chatter: Option<Sp<String>>,
    /// CEL: revert, newest first, what earlier events with this correlation key wrote.
    /// Output: `{ reverted }`.
    #[serde(default)]
    pub undo: Option<Sp<String>>,
    /// `match`: field → CEL value; all must be equal. Every object matched has these fields.
    #[serde(default)]
    pub by: Option<Map<String>>,
    /// `match`: an extra SOQL condition per object (`{ Lead = "IsConverted = false" }`).
    #[serde(rename = "where", default)]
    pub where_: Option<Map<String>>,
    /// `match`: how values are compared (default `trim_caseless`).
    #[serde(default)]
    pub normalise: Option<Sp<NormaliseName>>,
    /// `match`: what to do when several records match (default `first`, by `order_by`).
    #[serde(default)]
    pub on_many: Option<Sp<OnManyName>>,
    /// `match` with `on_many = "first"`: SOQL ordering (default `CreatedDate ASC`).
    #[serde(default)]
    pub order_by: Option<Sp<String>>,
    /// `match`: fields read from the matched record into the output's `fields`.
    #[serde(default)]
    pub read: Option<Vec<Sp<String>>>,
    /// `match`: when nothing matches, create this instead (find-or-create, exactly once).
    #[serde(default)]
    pub or_create: Option<Sp<WriteFile>>,
    /// `update`, `delete`: CEL giving the record's id (`"steps.person.id"`).
    #[serde(default)]
    pub record: Option<Sp<String>>,
    /// `upsert`: the external id field (`ExternalID__c`).
    #[serde(default)]
    pub external_id: Option<Sp<String>>,
    /// `upsert`: CEL giving the external id's value.
    #[serde(default)]
    pub key: Option<Sp<String>>,
    /// `upsert`: read the values an update replaces, so undo can restore them (one query per
    /// object per batch).
    #[serde(default)]
    pub keep_previous: Option<Sp<bool>>,
    /// `create`, `update`, `upsert`: field → value. A string is CEL (`"event.email"`,
    /// `"'Instruqt'"` for a literal); `{ template = "..." }` is a minijinja text template.
    /// `Parent__r.Key__c` sets the lookup `Parent__c` by the parent's external id. A value that
    /// gives `null` is left out of the write.
    #[serde(default)]
    pub fields: Option<Map<FieldValueFile>>,
    /// `create`, `update`, `upsert`: fields to set to null.
    #[serde(default)]
    pub clear: Option<Vec<Sp<String>>>,
    /// `chatter`: the post's text, always a minijinja template.
    #[serde(default)]
    pub body: Option<Sp<String>>,
    /// `undo`: only writes to these objects (default: all).
    #[serde(default)]
    pub objects: Option<Vec<Sp<String>>>,
}

/// `match` normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NormaliseName {
    /// Compare as given.
    Exact,
    /// Trim and compare case-insensitively.
    TrimCaseless,
}

/// What a `match` does when several records match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnManyName {
    /// Take the first by `order_by`.
    First,
    /// Skip the event's remaining steps and report it.
    Skip,
    /// Fail the event (dead letter), naming the records.
    Fail,
}

/// `or_create = { object = "Lead", fields = { ... } }`: a record to write.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    /// The object.
    pub object: Sp<String>,
    /// Field → value, as in a step's `fields`.
    #[serde(default)]
    pub fields: Map<FieldValueFile>,
    /// Fields to set to null.
    #[serde(default)]
    pub clear: Vec<Sp<String>>,
}

/// A field's value: a CEL expression as a string, or `{ template = "..." }` for text.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum FieldValueFile {
    /// CEL (`"event.email"`, `"'Instruqt'"`); its span is the entry's.
    Expr(String),
    /// A minijinja template rendering text.
    Template(TemplateFile),
}

/// `{ template = "..." }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateFile {
    /// The minijinja template (`"{{ event.track.title }} by {{ event.user.first_name }}"`).
    pub template: Sp<String>,
}

impl<'de> Deserialize<'de> for FieldValueFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        use std::fmt;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValueFile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CEL expression string or { template = \"...\" }")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FieldValueFile::Expr(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut template = None;
                while let Some(k) = m.next_key::<String>()? {
                    if k == "template" && template.is_none() {
                        template = Some(m.next_value::<Sp<String>>()?);
                    } else {
                        return Err(A::Error::custom(format!(
                            "unknown key `{k}` in a field value, expected `template`"
                        )));
                    }
                }
                template
                    .map(|template| FieldValueFile::Template(TemplateFile { template }))
                    .ok_or_else(|| A::Error::custom("missing `template`"))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[syncs.<name>]`: Salesforce → product (shape only; a later release runs them).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFile {
    /// The object read.
    pub object: Sp<String>,
    /// Fields read.
    pub fields: Vec<Sp<String>>,
    /// SOQL condition (`IsActive = true`).
    #[serde(default)]
    pub filter: Option<Sp<String>>,
    /// How changes are noticed.
    pub mode: Sp<SyncModeName>,
    /// Cron schedule for `full` and `incremental` (`"0 * * * *"`).
    #[serde(default)]
    pub schedule: Option<Sp<String>>,
    /// The workflow that switches it.
    #[serde(default)]
    pub workflow: Option<Sp<String>>,
    /// Product field → CEL over `record` and `settings`.
    #[serde(default)]
    pub mapping: Map<String>,
}

/// How a sync notices changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeName {
    /// Read everything each time.
    Full,
    /// A `SystemModstamp` cursor.
    Incremental,
    /// Change Data Capture, with a polling backstop.
    Realtime,
}
