//! The org's schema: objects, fields, picklists and relationships, as describe reports them.
//!
//! Standard objects are defined in [`standard`]; custom ones are added at run time (Metadata and
//! Tooling APIs). Invariant: object and field names are unique case-insensitively within their
//! scope, and every reference field's `reference_to` names an object of the schema.

pub mod autonumber;
pub mod custom;
pub mod feed;
pub mod security;
pub mod standard;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A field's type, as describe's `type` reports it (`string`, `reference`, `picklist`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Id,
    String,
    Textarea,
    Email,
    Phone,
    Url,
    Picklist,
    Multipicklist,
    Combobox,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    Datetime,
    Time,
    Reference,
    Address,
    Location,
    Base64,
    #[serde(rename = "encryptedstring")]
    EncryptedString,
}

/// One value of a picklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PicklistValue {
    pub value: String,
    pub label: String,
    #[serde(default)]
    pub default_value: bool,
    #[serde(default = "yes")]
    pub active: bool,
    /// Lead.Status and Case.Status values carry `converted` / `closed` flags in Salesforce; kept here
    /// as one free-form attribute so describe can show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<(String, bool)>,
}

fn yes() -> bool {
    true
}

/// One field of an object, with the attributes describe reports and validation uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ftype: FieldType,
    /// SOAP type as describe's `soapType` reports it (`xsd:string`, `tns:ID`, ...).
    pub soap_type: String,
    /// Maximum length for text types, 0 otherwise.
    pub length: u32,
    pub precision: u32,
    pub scale: u32,
    pub digits: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub custom: bool,
    pub external_id: bool,
    pub unique: bool,
    pub id_lookup: bool,
    pub name_field: bool,
    pub calculated: bool,
    pub auto_number: bool,
    pub defaulted_on_create: bool,
    pub filterable: bool,
    pub sortable: bool,
    pub groupable: bool,
    pub case_sensitive: bool,
    pub default_value: Option<serde_json::Value>,
    pub picklist_values: Vec<PicklistValue>,
    pub restricted_picklist: bool,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    /// `CASCADE`-style behaviour when the parent is deleted: master-detail deletes children.
    pub cascade_delete: bool,
    pub inline_help_text: Option<String>,
    /// Auto-number fields: the display format (`A-{0000}`); `None` numbers like `CaseNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_format: Option<String>,
    /// Auto-number fields: the first number handed out.
    #[serde(default)]
    pub starting_number: u64,
}

impl FieldDef {
    /// A field with the flags of an ordinary, nillable, editable standard field of this type.
    /// Callers adjust what differs; this keeps the long tables in [`standard`] readable.
    pub fn new(name: &str, label: &str, ftype: FieldType) -> Self {
        let (soap_type, filterable, sortable, groupable) = match ftype {
            FieldType::Id => ("tns:ID", true, true, true),
            FieldType::Reference => ("tns:ID", true, true, true),
            FieldType::Boolean => ("xsd:boolean", true, false, true),
            FieldType::Int => ("xsd:int", true, true, true),
            FieldType::Double | FieldType::Currency | FieldType::Percent => ("xsd:double", true, true, false),
            FieldType::Date => ("xsd:date", true, true, true),
            FieldType::Datetime => ("xsd:dateTime", true, true, false),
            FieldType::Time => ("xsd:time", true, true, false),
            FieldType::Address | FieldType::Location => ("urn:address", false, false, false),
            FieldType::Base64 => ("xsd:base64Binary", false, false, false),
            FieldType::Textarea => ("xsd:string", true, true, true),
            FieldType::Multipicklist => ("xsd:string", true, false, false),
            _ => ("xsd:string", true, true, true),
        };
        // Ids are 18 characters; picklists store up to 255; checkboxes are never null and default
        // to false, exactly as describe reports them.
        let length = match ftype {
            FieldType::Id | FieldType::Reference => 18,
            FieldType::Picklist | FieldType::Combobox | FieldType::Multipicklist => 255,
            _ => 0,
        };
        let is_bool = ftype == FieldType::Boolean;
        FieldDef {
            name: name.to_string(),
            label: label.to_string(),
            ftype,
            soap_type: soap_type.to_string(),
            length,
            precision: 0,
            scale: 0,
            digits: 0,
            nillable: !is_bool && ftype != FieldType::Id,
            createable: ftype != FieldType::Id,
            updateable: ftype != FieldType::Id,
            custom: name.ends_with("__c"),
            external_id: false,
            unique: false,
            id_lookup: false,
            name_field: false,
            calculated: false,
            auto_number: false,
            defaulted_on_create: is_bool || ftype == FieldType::Id,
            filterable,
            sortable,
            groupable,
            case_sensitive: false,
            default_value: is_bool.then_some(serde_json::Value::Bool(false)),
            picklist_values: Vec::new(),
            restricted_picklist: false,
            reference_to: Vec::new(),
            relationship_name: None,
            cascade_delete: false,
            inline_help_text: None,
            display_format: None,
            starting_number: 0,
        }
    }

    /// Not nillable: describe reports `nillable: false` (a create must supply it unless defaulted).
    pub fn required(mut self) -> Self {
        self.nillable = false;
        self
    }

    /// Read-only: neither createable nor updateable (system and computed fields).
    pub fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }

    /// Createable but not updateable.
    pub fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }

    /// Filled by the org when a create leaves it out (`defaultedOnCreate`).
    pub fn defaulted(mut self) -> Self {
        self.defaulted_on_create = true;
        self
    }

    /// The record's name field (`nameField: true`). Not an id-lookup field by itself: describe
    /// reports `idLookup` on `Opportunity.Name` and `Case.CaseNumber` but not on `Account.Name`.
    pub fn name_field(mut self) -> Self {
        self.name_field = true;
        self
    }

    /// Usable to find a record (`idLookup: true`), e.g. `Email`, `Username`.
    pub fn id_lookup(mut self) -> Self {
        self.id_lookup = true;
        self
    }

    /// An external id (`externalId: true`, `idLookup: true`), usable for upsert.
    pub fn external_id(mut self) -> Self {
        self.external_id = true;
        self.id_lookup = true;
        self
    }

    /// Values must be unique across the object's records (`unique: true`).
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Maximum length of a text field.
    pub fn len(mut self, length: u32) -> Self {
        self.length = length;
        // Long text areas cannot be filtered, sorted or grouped on.
        if self.ftype == FieldType::Textarea && length > 255 {
            self.filterable = false;
            self.sortable = false;
            self.groupable = false;
        }
        self
    }

    /// Precision and scale of a number field.
    pub fn number(mut self, precision: u32, scale: u32) -> Self {
        self.precision = precision;
        self.scale = scale;
        self
    }

    /// Digits of an integer field.
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// Picklist values; the first listed with `*` prefix is the default.
    pub fn values(mut self, values: &[&str]) -> Self {
        self.picklist_values = values
            .iter()
            .map(|v| {
                let (value, default) = match v.strip_prefix('*') {
                    Some(rest) => (rest, true),
                    None => (*v, false),
                };
                if default {
                    self.default_value = Some(serde_json::Value::String(value.to_string()));
                    self.defaulted_on_create = true;
                }
                PicklistValue {
                    value: value.to_string(),
                    label: value.to_string(),
                    default_value: default,
                    active: true,
                    attribute: None,
                }
            })
            .collect();
        self
    }

    /// Only the listed picklist values are accepted (`restrictedPicklist: true`).
    pub fn restricted(mut self) -> Self {
        self.restricted_picklist = true;
        self
    }

    /// The objects a reference field points to and its relationship name.
    pub fn refers(mut self, to: &[&str], relationship: &str) -> Self {
        self.reference_to = to.iter().map(|s| s.to_string()).collect();
        self.relationship_name = Some(relationship.to_string());
        self
    }

    /// A default value used on create (`defaultValue`), which makes the field `defaultedOnCreate`.
    pub fn default_value(mut self, value: serde_json::Value) -> Self {
        self.default_value = Some(value);
        self.defaulted_on_create = true;
        self
    }

    /// Whether a create must supply this field (describe: createable, not nillable, not defaulted).
    pub fn required_on_create(&self) -> bool {
        self.createable && !self.nillable && !self.defaulted_on_create && self.ftype != FieldType::Boolean
    }
}

/// One object (sObject type) of the org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    /// The 3-character prefix of its record ids.
    pub key_prefix: String,
    pub custom: bool,
    pub createable: bool,
    pub updateable: bool,
    pub deletable: bool,
    pub queryable: bool,
    pub searchable: bool,
    pub retrieveable: bool,
    pub undeletable: bool,
    pub mergeable: bool,
    pub replicateable: bool,
    pub triggerable: bool,
    pub feed_enabled: bool,
    /// Fields in describe order.
    pub fields: IndexMap<String, FieldDef>,
}

impl ObjectDef {
    /// A field by name, case-insensitively.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .get(name)
            .or_else(|| self.fields.values().find(|f| f.name.eq_ignore_ascii_case(name)))
    }

    /// The reference field whose relationship name is `rel`, case-insensitively.
    pub fn relationship(&self, rel: &str) -> Option<&FieldDef> {
        self.fields.values().find(|f| {
            f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(rel))
        })
    }
}

/// A child relationship, derived from the reference fields of all objects (describe's `childRelationships`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRelationshipDef {
    pub child_sobject: String,
    pub field: String,
    pub relationship_name: Option<String>,
    pub cascade_delete: bool,
}

/// All objects of the org, keyed by lower-case name for case-insensitive look-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    objects: IndexMap<String, ObjectDef>,
    /// Child relationship names per parent object (lower-case parent name → relationship name →
    /// child relationship). Kept explicitly because Salesforce's names are irregular
    /// (`Contact.AccountId` → `Account.Contacts`, `Case.ContactId` → `Contact.Cases`).
    child_names: IndexMap<String, Vec<ChildRelationshipDef>>,
}

impl Schema {
    /// An object by name, case-insensitively.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.objects.get(&name.to_ascii_lowercase())
    }

    /// A mutable object by name, case-insensitively.
    pub fn object_mut(&mut self, name: &str) -> Option<&mut ObjectDef> {
        self.objects.get_mut(&name.to_ascii_lowercase())
    }

    /// The object whose ids start with this key prefix.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<&ObjectDef> {
        self.objects.values().find(|o| o.key_prefix == prefix)
    }

    /// All objects, in the order they were added.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectDef> {
        self.objects.values()
    }

    /// Adds or replaces an object.
    pub fn insert(&mut self, object: ObjectDef) {
        self.objects.insert(object.name.to_ascii_lowercase(), object);
    }

    /// Removes an object and the child relationships that pointed to or from it.
    pub fn remove(&mut self, name: &str) -> Option<ObjectDef> {
        let removed = self.objects.shift_remove(&name.to_ascii_lowercase());
        if let Some(obj) = &removed {
            self.child_names.shift_remove(&obj.name.to_ascii_lowercase());
            for rels in self.child_names.values_mut() {
                rels.retain(|r| !r.child_sobject.eq_ignore_ascii_case(&obj.name));
            }
        }
        removed
    }

    /// Declares the child relationship name Salesforce gives `child.field` on `parent`.
    pub fn add_child_relationship(&mut self, parent: &str, rel: ChildRelationshipDef) {
        let rels = self.child_names.entry(parent.to_ascii_lowercase()).or_default();
        rels.retain(|r| !(r.child_sobject == rel.child_sobject && r.field == rel.field));
        rels.push(rel);
    }

    /// Removes the child relationship that `child.field` declared on `parent` (a lookup deleted).
    pub fn remove_child_relationship(&mut self, parent: &str, child: &str, field: &str) {
        if let Some(rels) = self.child_names.get_mut(&parent.to_ascii_lowercase()) {
            rels.retain(|r| !(r.child_sobject.eq_ignore_ascii_case(child) && r.field == field));
        }
    }

    /// The child relationships of `parent`, in declaration order.
    pub fn child_relationships(&self, parent: &str) -> &[ChildRelationshipDef] {
        self.child_names
            .get(&parent.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}
