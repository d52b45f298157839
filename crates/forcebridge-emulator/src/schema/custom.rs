//! Custom schema: turning `CustomObject` / `CustomField` metadata into [`ObjectDef`] / [`FieldDef`],
//! and applying it to the org (create, update, delete), for the Metadata and Tooling APIs alike.
//!
//! A custom object gets the fields Salesforce adds to every custom object (`Id`, `OwnerId`,
//! `IsDeleted`, `Name`, the audit fields, `LastViewedDate`, `LastReferencedDate`, and
//! `LastActivityDate` when activities are enabled) and a key prefix `aXX` — the first free one in
//! Salesforce's order `a00`, `a01`, ... A lookup `X__c` gets the relationship `X__r` and a child
//! relationship `<relationshipName>__r` on its parent, so SOQL can walk it both ways.
//!
//! The metadata as given is kept beside the schema, in bookkeeping tables of the org that no
//! schema object names ([`OBJECTS_TABLE`], [`FIELDS_TABLE`]): they give the components their
//! Tooling ids (`01I`, `00N`), their audit data, and what `readMetadata` returns.
//!
//! Invariants: every change is validated against a copy of the schema and only then stored, so a
//! failed call changes nothing; adding a field keeps every record (the new field is null, or its
//! default for checkboxes); removing a field removes its values; no custom object is removed while
//! another object's lookup points at it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ChildRelationshipDef, FieldDef, FieldType, ObjectDef, Schema};
use crate::ids::SfId;
use crate::org::{Org, Record};

/// The org table holding one bookkeeping record per custom object (Tooling `CustomObject`).
pub const OBJECTS_TABLE: &str = "tooling:CustomObject";
/// The org table holding one bookkeeping record per custom field (Tooling `CustomField`).
pub const FIELDS_TABLE: &str = "tooling:CustomField";
/// Key prefix of Tooling `CustomObject` ids.
pub const CUSTOM_OBJECT_PREFIX: &str = "01I";
/// Key prefix of Tooling `CustomField` ids.
pub const CUSTOM_FIELD_PREFIX: &str = "00N";

/// Most custom fields Salesforce allows on one object (Enterprise Edition).
const MAX_FIELDS: usize = 500;

/// Why a metadata change was refused, with the Metadata API `StatusCode` it reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The name is already taken by an object, a field or a relationship.
    #[error("{0}")]
    Duplicate(String),
    /// A bad type, length, precision, picklist, reference or name.
    #[error("{0}")]
    Integrity(String),
    /// A required attribute (label, pluralLabel, nameField, ...) is missing.
    #[error("{0}")]
    Missing(String),
    /// The component (or the object a field belongs to) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change would break another component (e.g. deleting a referenced object).
    #[error("{0}")]
    InUse(String),
}

impl SchemaError {
    /// The Metadata API `StatusCode` of this error.
    pub fn status_code(&self) -> &'static str {
        match self {
            SchemaError::Duplicate(_) => "DUPLICATE_DEVELOPER_NAME",
            SchemaError::Integrity(_) => "FIELD_INTEGRITY_EXCEPTION",
            SchemaError::Missing(_) => "REQUIRED_FIELD_MISSING",
            SchemaError::NotFound(_) => "INVALID_CROSS_REFERENCE_KEY",
            SchemaError::InUse(_) => "DELETE_FAILED",
        }
    }
}

/// One picklist value of a field's `valueSet`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PicklistEntry {
    pub full_name: String,
    pub label: Option<String>,
    pub default: bool,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

/// A `CustomField` as the Metadata API describes it (the attributes the emulator understands).
/// `full_name` is the field's own name (`Score__c`), without the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldSpec {
    pub full_name: String,
    pub label: Option<String>,
    /// The Metadata API `FieldType` (`Text`, `Lookup`, `Number`, ...).
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    pub length: Option<u32>,
    pub precision: Option<u32>,
    pub scale: Option<u32>,
    pub visible_lines: Option<u32>,
    pub required: bool,
    pub unique: bool,
    pub external_id: bool,
    pub case_sensitive: bool,
    pub default_value: Option<String>,
    pub reference_to: Option<String>,
    pub relationship_name: Option<String>,
    pub relationship_label: Option<String>,
    pub delete_constraint: Option<String>,
    pub values: Vec<PicklistEntry>,
    pub restricted: bool,
    pub sorted: bool,
    pub description: Option<String>,
    pub inline_help_text: Option<String>,
    pub display_format: Option<String>,
    pub starting_number: Option<u32>,
    pub formula: Option<String>,
}

/// A `CustomObject` as the Metadata API describes it. `fields` are the custom fields given with
/// it (on create and update); the stored spec keeps them empty, fields live in [`FIELDS_TABLE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectSpec {
    pub full_name: String,
    pub label: Option<String>,
    pub plural_label: Option<String>,
    pub name_field: Option<FieldSpec>,
    pub description: Option<String>,
    pub sharing_model: Option<String>,
    pub deployment_status: Option<String>,
    pub enable_activities: bool,
    pub enable_feeds: bool,
    pub enable_history: bool,
    pub enable_reports: bool,
    pub enable_search: Option<bool>,
    pub fields: Vec<FieldSpec>,
}

/// Who changes the schema and when (the audit data of the bookkeeping records).
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub user: &'a SfId,
    pub now: &'a str,
}

/// Whether `name` is a valid custom API name: starts with a letter, letters, digits and single
/// underscores, no trailing underscore, then `__c`.
pub fn valid_custom_name(name: &str) -> bool {
    let Some(base) = name.strip_suffix("__c") else {
        return false;
    };
    base.len() <= 40
        && base.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !base.contains("__")
        && !base.ends_with('_')
}

/// The developer name of a custom component: its API name without `__c`.
pub fn developer_name(name: &str) -> &str {
    name.strip_suffix("__c").unwrap_or(name)
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The first free custom-object key prefix, in Salesforce's order `a00`, `a01`, ... `azz`.
pub fn next_key_prefix(schema: &Schema) -> Option<String> {
    BASE62
        .iter()
        .flat_map(|&a| BASE62.iter().map(move |&b| (a, b)))
        .find_map(|(a, b)| {
            let prefix = format!("a{}{}", a as char, b as char);
            schema.object_by_prefix(&prefix).is_none().then_some(prefix)
        })
}

/// A default value formula (`"Web"`, `42`, `true`) as the JSON value records store.
fn default_json(formula: &str, ftype: FieldType) -> Value {
    let f = formula.trim();
    if let Some(inner) = f
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| f.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
    {
        return Value::String(inner.to_string());
    }
    match ftype {
        FieldType::Boolean => Value::Bool(f.eq_ignore_ascii_case("true")),
        FieldType::Double | FieldType::Currency | FieldType::Percent | FieldType::Int => f
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        _ => Value::String(f.to_string()),
    }
}

fn need<T: Copy>(value: Option<T>, what: &str, field: &str) -> Result<T, SchemaError> {
    value.ok_or_else(|| SchemaError::Missing(format!("Must specify {what} for the CustomField {field}")))
}

fn precision_scale(spec: &FieldSpec, defaults: Option<(u32, u32)>) -> Result<(u32, u32), SchemaError> {
    let name = &spec.full_name;
    let (precision, scale) = match (spec.precision, spec.scale, defaults) {
        (Some(p), s, _) => (p, s.unwrap_or(0)),
        (None, None, Some(d)) => d,
        (None, Some(s), Some((p, _))) => (p, s),
        (None, _, None) => (need(spec.precision, "a precision", name)?, 0),
    };
    if !(1..=18).contains(&precision) {
        return Err(SchemaError::Integrity(format!(
            "{name}: Precision must be between 1 and 18"
        )));
    }
    if scale > precision {
        return Err(SchemaError::Integrity(format!(
            "{name}: Scale can't be greater than precision"
        )));
    }
    Ok((precision, scale))
}

/// Turns a field spec into the field of `object` in `schema` (which must already hold `object`,
/// and every object a lookup names).
///
/// # Errors
/// [`SchemaError`] for a bad name, type, length, precision, picklist or reference.
pub fn field_def(schema: &Schema, object: &str, spec: &FieldSpec) -> Result<FieldDef, SchemaError> {
    let name = spec.full_name.as_str();
    if !valid_custom_name(name) {
        return Err(SchemaError::Integrity(format!(
            "{name}: Invalid field name; a custom field name must begin with a letter, use only \
             letters, digits and single underscores, and end with __c"
        )));
    }
    let label = spec
        .label
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| {
            SchemaError::Missing(format!(
                "Must specify a non-empty label for the CustomField {name}"
            ))
        })?;
    if spec.formula.is_some() {
        return Err(SchemaError::Integrity(format!(
            "{name}: formula fields are not supported by the emulator"
        )));
    }
    let ftype = spec
        .field_type
        .as_deref()
        .ok_or_else(|| SchemaError::Missing(format!("Must specify a type for the CustomField {name}")))?;
    let text_len = |min: u32, max: u32| -> Result<u32, SchemaError> {
        let len = need(spec.length, "a length", name)?;
        if (min..=max).contains(&len) {
            Ok(len)
        } else {
            Err(SchemaError::Integrity(format!(
                "{name}: Length must be between {min} and {max}"
            )))
        }
    };
    let mut f = match ftype {
        "Text" => FieldDef::new(name, label, FieldType::String).len(text_len(1, 255)?),
        "TextArea" => FieldDef::new(name, label, FieldType::Textarea).len(255),
        "LongTextArea" | "Html" => {
            FieldDef::new(name, label, FieldType::Textarea).len(text_len(256, 131_072)?)
        }
        "Email" => FieldDef::new(name, label, FieldType::Email).len(80),
        "Phone" => FieldDef::new(name, label, FieldType::Phone).len(40),
        "Url" => FieldDef::new(name, label, FieldType::Url).len(255),
        "Number" => {
            let (p, s) = precision_scale(spec, None)?;
            FieldDef::new(name, label, FieldType::Double).number(p, s)
        }
        "Currency" => {
            let (p, s) = precision_scale(spec, Some((18, 2)))?;
            FieldDef::new(name, label, FieldType::Currency).number(p, s)
        }
        "Percent" => {
            let (p, s) = precision_scale(spec, Some((18, 0)))?;
            FieldDef::new(name, label, FieldType::Percent).number(p, s)
        }
        "Checkbox" => {
            let on = spec
                .default_value
                .as_deref()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("true"));
            FieldDef::new(name, label, FieldType::Boolean).default_value(Value::Bool(on))
        }
        "Date" => FieldDef::new(name, label, FieldType::Date),
        "DateTime" => FieldDef::new(name, label, FieldType::Datetime),
        "Time" => FieldDef::new(name, label, FieldType::Time),
        "Picklist" | "MultiselectPicklist" => {
            let kind = if ftype == "Picklist" {
                FieldType::Picklist
            } else {
                FieldType::Multipicklist
            };
            if spec.values.is_empty() {
                return Err(SchemaError::Integrity(format!(
                    "{name}: Picklist must have at least one value"
                )));
            }
            let mut seen = std::collections::HashSet::new();
            for v in &spec.values {
                if v.full_name.trim().is_empty() || !seen.insert(v.full_name.to_lowercase()) {
                    return Err(SchemaError::Integrity(format!(
                        "{name}: Duplicate or empty picklist value: {}",
                        v.full_name
                    )));
                }
            }
            let mut f = FieldDef::new(name, label, kind);
            f.picklist_values = spec
                .values
                .iter()
                .map(|v| super::PicklistValue {
                    value: v.full_name.clone(),
                    label: v.label.clone().unwrap_or_else(|| v.full_name.clone()),
                    default_value: v.default,
                    active: v.is_active,
                    attribute: None,
                })
                .collect();
            if let Some(d) = spec.values.iter().find(|v| v.default) {
                f = f.default_value(Value::String(d.full_name.clone()));
            }
            f.restricted_picklist = spec.restricted;
            if kind == FieldType::Multipicklist {
                f.length = 4099;
            }
            f
        }
        "Lookup" | "MasterDetail" => {
            let target = spec.reference_to.as_deref().ok_or_else(|| {
                SchemaError::Missing(format!("Must specify referenceTo for the CustomField {name}"))
            })?;
            let parent = schema.object(target).ok_or_else(|| {
                SchemaError::Integrity(format!(
                    "{name}: referenceTo value of '{target}' does not resolve to a valid sObject type"
                ))
            })?;
            let rel = format!("{}__r", developer_name(name));
            let mut f =
                FieldDef::new(name, label, FieldType::Reference).refers(&[parent.name.as_str()], &rel);
            if ftype == "MasterDetail" {
                f.nillable = false;
                f.cascade_delete = true;
            }
            f.cascade_delete |= spec.delete_constraint.as_deref() == Some("Cascade");
            f
        }
        "AutoNumber" => auto_number(FieldDef::new(name, label, FieldType::String), spec),
        other => {
            return Err(SchemaError::Integrity(format!(
                "{name}: Unknown or unsupported field type '{other}'"
            )));
        }
    };
    if let Some(d) = spec
        .default_value
        .as_deref()
        .filter(|_| !matches!(ftype, "Checkbox" | "Picklist" | "MultiselectPicklist"))
    {
        let value = default_json(d, f.ftype);
        f = f.default_value(value);
    }
    f.custom = true;
    f.inline_help_text = spec.inline_help_text.clone();
    if spec.required && f.ftype != FieldType::Boolean {
        f.nillable = false;
    }
    if spec.unique {
        f = f.unique();
        f.id_lookup = true;
    }
    if spec.external_id {
        if !matches!(f.ftype, FieldType::String | FieldType::Email | FieldType::Double) {
            return Err(SchemaError::Integrity(format!(
                "{name}: Only Text, Number, Email and Auto Number fields can be External IDs"
            )));
        }
        f = f.external_id();
    }
    f.case_sensitive = spec.case_sensitive;
    let _ = object;
    Ok(f)
}

/// An auto-number field as Salesforce describes it (a read-only string of at most 30 characters,
/// never null) numbered with the spec's `displayFormat` (default `{0}`) from `startingNumber`
/// (default 0).
fn auto_number(f: FieldDef, spec: &FieldSpec) -> FieldDef {
    let mut f = f.len(30).read_only();
    f.auto_number = true;
    f.defaulted_on_create = true;
    f.nillable = false;
    f.display_format = Some(
        spec.display_format
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| "{0}".to_string()),
    );
    f.starting_number = spec.starting_number.map_or(0, u64::from);
    f
}

/// The fields Salesforce gives every custom object, with `name_field` as its `Name`.
fn standard_fields(spec: &ObjectSpec) -> Result<Vec<FieldDef>, SchemaError> {
    let obj = &spec.full_name;
    let nf = spec.name_field.as_ref().ok_or_else(|| {
        SchemaError::Missing(format!("Must specify a nameField for the CustomObject {obj}"))
    })?;
    let label = nf
        .label
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| SchemaError::Missing(format!("Must specify a label for the nameField of {obj}")))?;
    let mut name = match nf.field_type.as_deref().unwrap_or("Text") {
        "Text" => {
            let mut n = FieldDef::new("Name", label, FieldType::String).len(80);
            n.nillable = true;
            n
        }
        "AutoNumber" => auto_number(FieldDef::new("Name", label, FieldType::String), nf),
        other => {
            return Err(SchemaError::Integrity(format!(
                "{obj}: The name field must be of type Text or AutoNumber, not {other}"
            )));
        }
    }
    .name_field();
    name.custom = false;

    let mut id = FieldDef::new("Id", "Record ID", FieldType::Id);
    id.id_lookup = true;
    id.nillable = false;
    let mut owner = FieldDef::new("OwnerId", "Owner ID", FieldType::Reference)
        .refers(&["Group", "User"], "Owner")
        .defaulted();
    owner.nillable = false;
    let deleted = FieldDef::new("IsDeleted", "Deleted", FieldType::Boolean).read_only();
    let stamp = |n: &str, l: &str| {
        let mut f = FieldDef::new(n, l, FieldType::Datetime).read_only().defaulted();
        f.nillable = false;
        f
    };
    let by = |n: &str, l: &str, rel: &str| {
        let mut f = FieldDef::new(n, l, FieldType::Reference)
            .refers(&["User"], rel)
            .read_only()
            .defaulted();
        f.nillable = false;
        f
    };
    let mut fields = vec![
        id,
        owner,
        deleted,
        name,
        stamp("CreatedDate", "Created Date"),
        by("CreatedById", "Created By ID", "CreatedBy"),
        stamp("LastModifiedDate", "Last Modified Date"),
        by("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
        stamp("SystemModstamp", "System Modstamp"),
    ];
    if spec.enable_activities {
        fields.push(FieldDef::new("LastActivityDate", "Last Activity Date", FieldType::Date).read_only());
    }
    fields.push(FieldDef::new("LastViewedDate", "Last Viewed Date", FieldType::Datetime).read_only());
    fields.push(FieldDef::new("LastReferencedDate", "Last Referenced Date", FieldType::Datetime).read_only());
    Ok(fields)
}

fn labels(spec: &ObjectSpec) -> Result<(String, String), SchemaError> {
    let obj = &spec.full_name;
    let label = spec
        .label
        .clone()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| {
            SchemaError::Missing(format!(
                "Must specify a non-empty label for the CustomObject {obj}"
            ))
        })?;
    let plural = spec
        .plural_label
        .clone()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| {
            SchemaError::Missing(format!(
                "Must specify a non-empty plural label for the CustomObject {obj}"
            ))
        })?;
    Ok((label, plural))
}

fn bookkeeping<'o>(org: &'o Org, table: &str, full_name: &str) -> Option<(&'o SfId, &'o Record)> {
    org.data.get(table)?.iter().find(|(_, r)| {
        r.get("FullName")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(full_name))
    })
}

/// The Tooling id and bookkeeping record of the custom object `name`.
pub fn object_record<'o>(org: &'o Org, name: &str) -> Option<(&'o SfId, &'o Record)> {
    bookkeeping(org, OBJECTS_TABLE, name)
}

/// The Tooling id and bookkeeping record of the custom field `Object.Field`.
pub fn field_record<'o>(org: &'o Org, full_name: &str) -> Option<(&'o SfId, &'o Record)> {
    bookkeeping(org, FIELDS_TABLE, full_name)
}

fn audit_record(id: &SfId, full_name: &str, change: &Change<'_>) -> Record {
    let mut r = Record::new();
    let user = Value::String(change.user.to_string());
    let now = Value::String(change.now.to_string());
    r.insert("Id".into(), Value::String(id.to_string()));
    r.insert("FullName".into(), Value::String(full_name.to_string()));
    r.insert(
        "DeveloperName".into(),
        Value::String(developer_name(full_name.rsplit('.').next().unwrap_or(full_name)).to_string()),
    );
    r.insert("NamespacePrefix".into(), Value::Null);
    r.insert("ManageableState".into(), Value::String("unmanaged".into()));
    r.insert("CreatedDate".into(), now.clone());
    r.insert("CreatedById".into(), user.clone());
    r.insert("LastModifiedDate".into(), now);
    r.insert("LastModifiedById".into(), user);
    r
}

fn touch(record: &mut Record, change: &Change<'_>) {
    record.insert("LastModifiedDate".into(), Value::String(change.now.to_string()));
    record.insert("LastModifiedById".into(), Value::String(change.user.to_string()));
}

fn spec_json<T: Serialize>(spec: &T) -> Value {
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// Adds `spec` as field of `object` to `schema` (with its child relationship), checking names.
fn add_field_to(schema: &mut Schema, object: &str, spec: &FieldSpec) -> Result<FieldDef, SchemaError> {
    let def = schema
        .object(object)
        .ok_or_else(|| SchemaError::NotFound(format!("no CustomObject named {object} found")))?;
    let object_name = def.name.clone();
    if def.field(&spec.full_name).is_some() {
        return Err(SchemaError::Duplicate(format!(
            "There is already a field named {} on {object_name}.",
            developer_name(&spec.full_name)
        )));
    }
    if def.fields.values().filter(|f| f.custom).count() >= MAX_FIELDS {
        return Err(SchemaError::Integrity(format!(
            "{object_name}: too many custom fields (the limit is {MAX_FIELDS})"
        )));
    }
    let field = field_def(schema, &object_name, spec)?;
    if let Some(parent) = field.reference_to.first().cloned() {
        let rel_name = spec
            .relationship_name
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                SchemaError::Missing(format!(
                    "Must specify a relationshipName for the CustomField {object_name}.{}",
                    spec.full_name
                ))
            })?;
        let valid = rel_name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && rel_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !rel_name.contains("__");
        if !valid {
            return Err(SchemaError::Integrity(format!(
                "{object_name}.{}: invalid relationshipName '{rel_name}'",
                spec.full_name
            )));
        }
        let child_name = format!("{rel_name}__r");
        if schema.child_relationships(&parent).iter().any(|r| {
            r.relationship_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&child_name))
        }) {
            return Err(SchemaError::Duplicate(format!(
                "{object_name}.{}: the relationship name {rel_name} is already used on {parent}",
                spec.full_name
            )));
        }
        schema.add_child_relationship(
            &parent,
            ChildRelationshipDef {
                child_sobject: object_name.clone(),
                field: field.name.clone(),
                relationship_name: Some(child_name),
                cascade_delete: field.cascade_delete,
            },
        );
    }
    if let Some(def) = schema.object_mut(&object_name) {
        def.fields.insert(field.name.clone(), field.clone());
    }
    Ok(field)
}

/// Drops the child relationship a lookup `object.field` declared on its parent(s).
fn drop_child_relationship(schema: &mut Schema, object: &str, field: &FieldDef) {
    for parent in &field.reference_to {
        schema.remove_child_relationship(parent, object, &field.name);
    }
}

/// Creates a custom object (and the fields given with it).
///
/// # Errors
/// [`SchemaError`] when the name is taken or invalid, a required attribute is missing, or a field
/// is invalid; nothing is changed then.
pub fn create_object(org: &mut Org, spec: &ObjectSpec, change: &Change<'_>) -> Result<SfId, SchemaError> {
    let name = spec.full_name.as_str();
    if !valid_custom_name(name) {
        return Err(SchemaError::Integrity(format!(
            "{name}: Invalid object name; a custom object name must begin with a letter, use only \
             letters, digits and single underscores, and end with __c"
        )));
    }
    if org.schema.object(name).is_some() {
        return Err(SchemaError::Duplicate(format!(
            "There is already a Custom Object named {}.",
            developer_name(name)
        )));
    }
    let (label, plural) = labels(spec)?;
    let key_prefix = next_key_prefix(&org.schema)
        .ok_or_else(|| SchemaError::Integrity("the org has no free custom object key prefix".into()))?;
    let def = ObjectDef {
        name: name.to_string(),
        label,
        label_plural: plural,
        key_prefix,
        custom: true,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: spec.enable_search.unwrap_or(true),
        retrieveable: true,
        undeletable: true,
        mergeable: false,
        replicateable: true,
        triggerable: true,
        feed_enabled: spec.enable_feeds,
        fields: standard_fields(spec)?
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect(),
    };
    let mut schema = org.schema.clone();
    schema.insert(def);
    let mut added = Vec::new();
    for field in &spec.fields {
        add_field_to(&mut schema, name, field)?;
        added.push(field.clone());
    }
    org.schema = schema;
    org.data.entry(name.to_string()).or_default();
    let id = org.new_id(CUSTOM_OBJECT_PREFIX);
    let mut stored = spec.clone();
    stored.fields.clear();
    let mut record = audit_record(&id, name, change);
    record.insert("Spec".into(), spec_json(&stored));
    org.table_mut(OBJECTS_TABLE).insert(id.clone(), record);
    for field in added {
        store_field(org, name, &field, change);
    }
    Ok(id)
}

/// The `TableEnumOrId` of an object: its CustomObject id when custom, else its name.
pub fn table_enum_or_id(org: &Org, object: &str) -> String {
    object_record(org, object).map_or_else(
        || {
            org.schema
                .object(object)
                .map_or_else(|| object.to_string(), |o| o.name.clone())
        },
        |(id, _)| id.to_string(),
    )
}

fn store_field(org: &mut Org, object: &str, spec: &FieldSpec, change: &Change<'_>) -> SfId {
    let full = format!("{object}.{}", spec.full_name);
    let table_id = table_enum_or_id(org, object);
    if let Some((id, _)) = field_record(org, &full).map(|(i, r)| (i.clone(), r.clone())) {
        if let Some(r) = org.table_mut(FIELDS_TABLE).get_mut(&id) {
            r.insert("Spec".into(), spec_json(spec));
            r.insert("TableEnumOrId".into(), Value::String(table_id));
            touch(r, change);
        }
        return id;
    }
    let id = org.new_id(CUSTOM_FIELD_PREFIX);
    let mut record = audit_record(&id, &full, change);
    record.insert("TableEnumOrId".into(), Value::String(table_id));
    record.insert("Spec".into(), spec_json(spec));
    org.table_mut(FIELDS_TABLE).insert(id.clone(), record);
    id
}

/// Gives every record of `object` the value a new field starts with.
fn backfill(org: &mut Org, object: &str, field: &FieldDef) {
    let initial = if field.ftype == FieldType::Boolean {
        field.default_value.clone().unwrap_or(Value::Bool(false))
    } else {
        Value::Null
    };
    if initial.is_null() {
        // Records are sparse: an absent field already reads as null.
        return;
    }
    if let Some(table) = org.existing_table_mut(object) {
        table.for_each_mut(|_, record| {
            record
                .entry(field.name.clone())
                .or_insert_with(|| initial.clone());
        });
    }
}

/// Creates the custom field `spec` on `object` (custom or standard). Existing records keep their
/// values and get the new field.
///
/// # Errors
/// [`SchemaError`] for an unknown object, a taken name, or an invalid field.
pub fn create_field(
    org: &mut Org,
    object: &str,
    spec: &FieldSpec,
    change: &Change<'_>,
) -> Result<SfId, SchemaError> {
    let mut schema = org.schema.clone();
    let field = add_field_to(&mut schema, object, spec)?;
    let object_name = schema
        .object(object)
        .map_or_else(|| object.to_string(), |o| o.name.clone());
    org.schema = schema;
    backfill(org, &object_name, &field);
    Ok(store_field(org, &object_name, spec, change))
}

/// Replaces the definition of the custom field `object.field` by `spec` (label, length, type,
/// picklist values, flags); stored values stay as they are.
///
/// # Errors
/// [`SchemaError::NotFound`] when the field does not exist, or the errors of [`field_def`].
pub fn update_field(
    org: &mut Org,
    object: &str,
    spec: &FieldSpec,
    change: &Change<'_>,
) -> Result<(), SchemaError> {
    let full = format!("{object}.{}", spec.full_name);
    let old = org
        .schema
        .object(object)
        .and_then(|o| o.field(&spec.full_name))
        .filter(|f| f.custom)
        .cloned()
        .ok_or_else(|| SchemaError::NotFound(format!("no CustomField named {full} found")))?;
    let object_name = org
        .schema
        .object(object)
        .map_or_else(|| object.to_string(), |o| o.name.clone());
    let mut schema = org.schema.clone();
    drop_child_relationship(&mut schema, &object_name, &old);
    if let Some(def) = schema.object_mut(&object_name) {
        def.fields.shift_remove(&old.name);
    }
    let mut respec = spec.clone();
    respec.full_name = old.name.clone();
    let field = add_field_to(&mut schema, &object_name, &respec)?;
    // Keep the field where it was in describe order.
    if let Some(def) = schema.object_mut(&object_name) {
        let names: Vec<String> = org
            .schema
            .object(&object_name)
            .map(|o| o.fields.keys().cloned().collect())
            .unwrap_or_default();
        let mut ordered = indexmap::IndexMap::new();
        for n in names {
            if let Some(f) = def.fields.shift_remove(&n) {
                ordered.insert(n, f);
            }
        }
        ordered.extend(def.fields.drain(..));
        def.fields = ordered;
    }
    org.schema = schema;
    backfill(org, &object_name, &field);
    store_field(org, &object_name, &respec, change);
    Ok(())
}

/// Deletes the custom field `object.field` and its values.
///
/// # Errors
/// [`SchemaError::NotFound`] when there is no such custom field.
pub fn delete_field(org: &mut Org, object: &str, field: &str) -> Result<(), SchemaError> {
    let full = format!("{object}.{field}");
    let (object_name, old) = org
        .schema
        .object(object)
        .and_then(|o| {
            o.field(field)
                .filter(|f| f.custom)
                .map(|f| (o.name.clone(), f.clone()))
        })
        .ok_or_else(|| SchemaError::NotFound(format!("no CustomField named {full} found")))?;
    drop_child_relationship(&mut org.schema, &object_name, &old);
    if let Some(def) = org.schema.object_mut(&object_name) {
        def.fields.shift_remove(&old.name);
    }
    if let Some(table) = org.existing_table_mut(&object_name) {
        table.for_each_mut(|_, record| {
            record.shift_remove(&old.name);
        });
    }
    let full = format!("{object_name}.{}", old.name);
    if let Some(id) = field_record(org, &full).map(|(i, _)| i.clone()) {
        org.table_mut(FIELDS_TABLE).shift_remove(&id);
    }
    Ok(())
}

/// Updates a custom object's labels and attributes, and creates or updates the fields given.
///
/// # Errors
/// [`SchemaError::NotFound`] when the object does not exist, or any field's error (then nothing
/// is changed).
pub fn update_object(org: &mut Org, spec: &ObjectSpec, change: &Change<'_>) -> Result<(), SchemaError> {
    let name = spec.full_name.as_str();
    let (id, _) = object_record(org, name)
        .map(|(i, r)| (i.clone(), r.clone()))
        .ok_or_else(|| SchemaError::NotFound(format!("no CustomObject named {name} found")))?;
    let (label, plural) = labels(spec)?;
    let before = org.clone();
    let result = (|| {
        let object_name = org
            .schema
            .object(name)
            .map_or_else(|| name.to_string(), |o| o.name.clone());
        if let Some(def) = org.schema.object_mut(&object_name) {
            def.label = label;
            def.label_plural = plural;
            let name_label = spec.name_field.as_ref().and_then(|nf| nf.label.as_deref());
            if let (Some(l), Some(f)) = (name_label, def.fields.get_mut("Name")) {
                f.label = l.to_string();
            }
        }
        for field in &spec.fields {
            let exists = org
                .schema
                .object(&object_name)
                .and_then(|o| o.field(&field.full_name))
                .is_some();
            if exists {
                update_field(org, &object_name, field, change)?;
            } else {
                create_field(org, &object_name, field, change)?;
            }
        }
        let mut stored = spec.clone();
        stored.fields.clear();
        if let Some(r) = org.table_mut(OBJECTS_TABLE).get_mut(&id) {
            r.insert("Spec".into(), spec_json(&stored));
            touch(r, change);
        }
        Ok(())
    })();
    if result.is_err() {
        *org = before;
    }
    result
}

/// Deletes a custom object, its records and its fields.
///
/// # Errors
/// [`SchemaError::NotFound`] for an unknown custom object; [`SchemaError::InUse`] while a lookup
/// of another object points at it.
pub fn delete_object(org: &mut Org, name: &str) -> Result<(), SchemaError> {
    let def = org
        .schema
        .object(name)
        .filter(|o| o.custom)
        .cloned()
        .ok_or_else(|| SchemaError::NotFound(format!("no CustomObject named {name} found")))?;
    let users: Vec<String> = org
        .schema
        .objects()
        .filter(|o| !o.name.eq_ignore_ascii_case(&def.name))
        .flat_map(|o| {
            o.fields
                .values()
                .filter(|f| f.reference_to.iter().any(|r| r.eq_ignore_ascii_case(&def.name)))
                .map(move |f| format!("{}.{}", o.name, f.name))
        })
        .collect();
    if !users.is_empty() {
        return Err(SchemaError::InUse(format!(
            "Cannot delete {}: it is referenced by {}",
            def.name,
            users.join(", ")
        )));
    }
    for field in def.fields.values().filter(|f| !f.reference_to.is_empty()) {
        drop_child_relationship(&mut org.schema, &def.name, field);
    }
    org.schema.remove(&def.name);
    org.drop_table(&def.name);
    let prefix = format!("{}.", def.name);
    if let Some(t) = org.existing_table_mut(FIELDS_TABLE) {
        t.retain(|_, r| {
            !r.get("FullName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with(&prefix))
        });
    }
    if let Some(id) = object_record(org, &def.name).map(|(i, _)| i.clone()) {
        org.table_mut(OBJECTS_TABLE).shift_remove(&id);
    }
    Ok(())
}

/// The stored spec of a custom object with its current custom fields, for `readMetadata`.
pub fn read_object(org: &Org, name: &str) -> Option<ObjectSpec> {
    let (_, record) = object_record(org, name)?;
    let mut spec: ObjectSpec = serde_json::from_value(record.get("Spec")?.clone()).ok()?;
    let def = org.schema.object(name)?;
    spec.full_name = def.name.clone();
    spec.fields = def
        .fields
        .values()
        .filter(|f| f.custom)
        .filter_map(|f| read_field(org, &format!("{}.{}", def.name, f.name)))
        .collect();
    Some(spec)
}

/// The stored spec of the custom field `Object.Field`, for `readMetadata`.
pub fn read_field(org: &Org, full_name: &str) -> Option<FieldSpec> {
    let (_, record) = field_record(org, full_name)?;
    serde_json::from_value(record.get("Spec")?.clone()).ok()
}

/// Splits `Object.Field` into its two names.
pub fn split_field_name(full_name: &str) -> Option<(&str, &str)> {
    full_name
        .split_once('.')
        .filter(|(o, f)| !o.is_empty() && !f.is_empty() && !f.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes() {
        assert!(valid_custom_name("Instruqt_Track__c"));
        assert!(!valid_custom_name("Bad__Name__c"));
        assert!(!valid_custom_name("1Bad__c"));
        assert!(!valid_custom_name("Plain"));
        let schema = crate::schema::standard::schema();
        assert_eq!(next_key_prefix(&schema).as_deref(), Some("a00"));
    }

    #[test]
    fn defaults() {
        assert_eq!(
            default_json("\"Web\"", FieldType::String),
            Value::String("Web".into())
        );
        assert_eq!(default_json("42", FieldType::Double), serde_json::json!(42.0));
    }
}
