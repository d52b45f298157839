//! The org's schema: objects, fields, picklists and relationships, as describe reports them.
//!
//! Standard objects are defined in [`standard`]; custom ones are added at run time (Metadata and
//! Tooling APIs). Invariant: object and field names are unique case-insensitively within their
//! scope, and every reference field's `reference_to` names an object of the schema.

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
        FieldDef {
            name: name.to_string(),
            label: label.to_string(),
            ftype,
            soap_type: soap_type.to_string(),
            length: 0,
            precision: 0,
            scale: 0,
            digits: 0,
            nillable: true,
            createable: true,
            updateable: true,
            custom: name.ends_with("__c"),
            external_id: false,
            unique: false,
            id_lookup: false,
            name_field: false,
            calculated: false,
            auto_number: false,
            defaulted_on_create: false,
            filterable,
            sortable,
            groupable,
            case_sensitive: false,
            default_value: None,
            picklist_values: Vec::new(),
            restricted_picklist: false,
            reference_to: Vec::new(),
            relationship_name: None,
            cascade_delete: false,
            inline_help_text: None,
        }
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

    /// The child relationships of `parent`, in declaration order.
    pub fn child_relationships(&self, parent: &str) -> &[ChildRelationshipDef] {
        self.child_names
            .get(&parent.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}
