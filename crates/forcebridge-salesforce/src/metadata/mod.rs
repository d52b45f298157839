//! Schema provisioning through the Metadata API: a declarative [`SchemaSpec`] (custom objects,
//! fields of every type the seeds use, lookups, a permission set), [`Client::plan_schema`] that
//! reads what the org has and returns the difference, and [`Client::apply_schema`] that makes
//! exactly that difference (SOAP `createMetadata` / `updateMetadata` / `upsertMetadata`, at most 10
//! components a call) and then reads the org again until the plan is empty.
//!
//! The org is read with `readMetadata`, not describe: describe hides fields the user has no
//! field-level security on, which is exactly the state right after a field is created.
//!
//! Invariant: nothing is ever deleted, and no change that loses data (a type change, a shorter
//! text) is made, unless [`ApplyOptions::allow_destructive`] is set; such changes are listed in
//! the plan as destructive either way.

pub mod xml;

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::client::{Body, Client, Req};
use crate::error::{Error, Result};
use crate::types::check_api_name;
use xml::{Element, esc};

/// The type of a custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    /// `Text(length)`.
    Text {
        /// Up to 255.
        length: u32,
    },
    /// `TextArea` (255 characters).
    TextArea,
    /// `LongTextArea(length)`.
    LongTextArea {
        /// Up to 131,072.
        length: u32,
        /// Lines shown.
        visible_lines: u32,
    },
    /// `Url`.
    Url,
    /// `Email`.
    Email,
    /// `Phone`.
    Phone,
    /// `Number(precision, scale)`.
    Number {
        /// Total digits.
        precision: u32,
        /// Decimal places.
        scale: u32,
    },
    /// `Checkbox` (defaults to false).
    Checkbox,
    /// `Date`.
    Date,
    /// `DateTime`.
    DateTime,
    /// `Picklist` with these values.
    Picklist {
        /// Values, in order.
        values: Vec<String>,
    },
    /// `Lookup` to another object.
    Lookup {
        /// The referenced object.
        reference_to: String,
        /// Relationship name (child relationship on the parent), e.g. `Instruqt_Plays`.
        relationship_name: String,
    },
}

impl FieldType {
    fn metadata_type(&self) -> &'static str {
        match self {
            FieldType::Text { .. } => "Text",
            FieldType::TextArea => "TextArea",
            FieldType::LongTextArea { .. } => "LongTextArea",
            FieldType::Url => "Url",
            FieldType::Email => "Email",
            FieldType::Phone => "Phone",
            FieldType::Number { .. } => "Number",
            FieldType::Checkbox => "Checkbox",
            FieldType::Date => "Date",
            FieldType::DateTime => "DateTime",
            FieldType::Picklist { .. } => "Picklist",
            FieldType::Lookup { .. } => "Lookup",
        }
    }
}

/// One custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    /// API name, ending in `__c`.
    pub api_name: String,
    /// Label.
    pub label: String,
    /// Type.
    pub field_type: FieldType,
    /// Required on every record.
    pub required: bool,
    /// External ID (usable for upsert).
    pub external_id: bool,
    /// Unique values.
    pub unique: bool,
    /// Help text.
    pub description: Option<String>,
}

impl FieldSpec {
    /// A field with no flags set.
    pub fn new(api_name: &str, label: &str, field_type: FieldType) -> Self {
        FieldSpec {
            api_name: api_name.to_string(),
            label: label.to_string(),
            field_type,
            required: false,
            external_id: false,
            unique: false,
            description: None,
        }
    }

    /// Marks the field as a unique external id.
    pub fn external_id(mut self) -> Self {
        self.external_id = true;
        self.unique = true;
        self
    }
}

/// One custom object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectSpec {
    /// API name, ending in `__c`.
    pub api_name: String,
    /// Label.
    pub label: String,
    /// Plural label.
    pub plural_label: String,
    /// Label of the `Name` field (a text name).
    pub name_label: String,
    /// Custom fields.
    pub fields: Vec<FieldSpec>,
}

/// A permission set granting the integration user access to the spec's objects and fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PermissionSetSpec {
    /// API name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Assign it to the connected user after applying.
    pub assign_to_current_user: bool,
}

/// Everything an integration provisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaSpec {
    /// Objects (create them before objects that look them up — apply orders them anyway).
    pub objects: Vec<ObjectSpec>,
    /// Fields to add to existing (standard or other) objects, as `(object, field)`.
    pub extra_fields: Vec<(String, FieldSpec)>,
    /// The permission set, if any.
    pub permission_set: Option<PermissionSetSpec>,
}

impl SchemaSpec {
    /// Checks names and field settings.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the object or field.
    pub fn validate(&self) -> Result<()> {
        let check_field = |obj: &str, f: &FieldSpec| -> Result<()> {
            check_api_name("field", &f.api_name)?;
            if !f.api_name.ends_with("__c") {
                return Err(Error::InvalidInput(format!(
                    "{obj}.{}: custom fields end in __c",
                    f.api_name
                )));
            }
            match &f.field_type {
                FieldType::Text { length } if *length == 0 || *length > 255 => Err(Error::InvalidInput(
                    format!("{obj}.{}: Text length must be 1..=255", f.api_name),
                )),
                FieldType::Number { precision, scale }
                    if *precision == 0 || *precision > 18 || scale > precision =>
                {
                    Err(Error::InvalidInput(format!(
                        "{obj}.{}: Number needs 1..=18 digits and scale <= precision",
                        f.api_name
                    )))
                }
                FieldType::Lookup {
                    reference_to,
                    relationship_name,
                } => {
                    check_api_name("object", reference_to)?;
                    check_api_name("relationship", relationship_name)
                }
                _ => Ok(()),
            }
        };
        for o in &self.objects {
            check_api_name("object", &o.api_name)?;
            if !o.api_name.ends_with("__c") {
                return Err(Error::InvalidInput(format!(
                    "{}: custom objects end in __c",
                    o.api_name
                )));
            }
            for f in &o.fields {
                check_field(&o.api_name, f)?;
            }
        }
        for (obj, f) in &self.extra_fields {
            check_api_name("object", obj)?;
            check_field(obj, f)?;
        }
        if let Some(p) = &self.permission_set {
            check_api_name("permission set", &p.name)?;
        }
        Ok(())
    }

    fn all_fields(&self) -> Vec<(&str, &FieldSpec)> {
        let mut v: Vec<(&str, &FieldSpec)> = Vec::new();
        for o in &self.objects {
            v.extend(o.fields.iter().map(|f| (o.api_name.as_str(), f)));
        }
        v.extend(self.extra_fields.iter().map(|(o, f)| (o.as_str(), f)));
        v
    }
}

/// One change the plan calls for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Create a custom object (with its fields).
    CreateObject {
        /// The object.
        object: String,
    },
    /// Create a field.
    CreateField {
        /// The object.
        object: String,
        /// The field.
        field: String,
    },
    /// Change a field's label, length, flags or picklist values (no data lost).
    UpdateField {
        /// The object.
        object: String,
        /// The field.
        field: String,
        /// What differs.
        reason: String,
    },
    /// A change that may lose data (type change, shorter length); made only when allowed.
    DestructiveField {
        /// The object.
        object: String,
        /// The field.
        field: String,
        /// What differs.
        reason: String,
    },
    /// Create or update the permission set.
    PermissionSet {
        /// Its name.
        name: String,
        /// What is missing.
        reason: String,
    },
}

impl Change {
    /// Whether the change may lose data.
    pub fn is_destructive(&self) -> bool {
        matches!(self, Change::DestructiveField { .. })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateObject { object } => write!(f, "create object {object}"),
            Change::CreateField { object, field } => write!(f, "create field {object}.{field}"),
            Change::UpdateField {
                object,
                field,
                reason,
            } => write!(f, "update field {object}.{field}: {reason}"),
            Change::DestructiveField {
                object,
                field,
                reason,
            } => {
                write!(f, "DESTRUCTIVE change to {object}.{field}: {reason}")
            }
            Change::PermissionSet { name, reason } => write!(f, "permission set {name}: {reason}"),
        }
    }
}

/// The difference between a spec and the org.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Changes, in the order they will be made.
    pub changes: Vec<Change>,
}

impl Plan {
    /// Whether the org already matches the spec.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// How to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Also make destructive changes.
    pub allow_destructive: bool,
    /// How many times to re-read the org after applying until the plan is empty.
    pub settle_attempts: u32,
    /// Wait between re-reads.
    pub settle_interval: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            allow_destructive: false,
            settle_attempts: 10,
            settle_interval: Duration::from_secs(2),
        }
    }
}

/// What the org has for one field, as `readMetadata` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingField {
    /// `type`.
    pub field_type: String,
    /// `label`.
    pub label: String,
    /// `length`.
    pub length: Option<u32>,
    /// `precision`.
    pub precision: Option<u32>,
    /// `scale`.
    pub scale: Option<u32>,
    /// `externalId`.
    pub external_id: bool,
    /// `unique`.
    pub unique: bool,
    /// `required`.
    pub required: bool,
    /// `referenceTo`.
    pub reference_to: Option<String>,
    /// Picklist values.
    pub values: Vec<String>,
}

impl ExistingField {
    fn from_xml(e: &Element) -> Self {
        let num = |n: &str| {
            e.text_of(n)
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map(|x| x as u32)
        };
        let flag = |n: &str| e.text_of(n) == Some("true");
        ExistingField {
            field_type: e.text_of("type").unwrap_or_default().to_string(),
            label: e.text_of("label").unwrap_or_default().to_string(),
            length: num("length"),
            precision: num("precision"),
            scale: num("scale"),
            external_id: flag("externalId"),
            unique: flag("unique"),
            required: flag("required"),
            reference_to: e.text_of("referenceTo").map(str::to_string),
            values: e
                .find("valueSetDefinition")
                .map(|d| {
                    d.children_named("value")
                        .filter_map(|v| v.text_of("fullName").map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Compares a wanted field with what exists: `None` when equal, else an update or destructive change.
pub fn diff_field(object: &str, want: &FieldSpec, have: &ExistingField) -> Option<Change> {
    let field = want.api_name.clone();
    let object = object.to_string();
    if !have
        .field_type
        .eq_ignore_ascii_case(want.field_type.metadata_type())
    {
        return Some(Change::DestructiveField {
            object,
            field,
            reason: format!(
                "type is {} and should be {}",
                have.field_type,
                want.field_type.metadata_type()
            ),
        });
    }
    let mut reasons = Vec::new();
    match &want.field_type {
        FieldType::Text { length } | FieldType::LongTextArea { length, .. } => match have.length {
            Some(l) if l > *length => {
                return Some(Change::DestructiveField {
                    object,
                    field,
                    reason: format!("length {l} would shrink to {length}"),
                });
            }
            Some(l) if l < *length => reasons.push(format!("length {l} → {length}")),
            _ => {}
        },
        FieldType::Number { precision, scale } => {
            if have.precision.is_some_and(|p| p > *precision) || have.scale.is_some_and(|s| s > *scale) {
                return Some(Change::DestructiveField {
                    object,
                    field,
                    reason: "fewer digits than the org has".into(),
                });
            }
            if have.precision != Some(*precision) || have.scale != Some(*scale) {
                reasons.push(format!("digits → ({precision},{scale})"));
            }
        }
        FieldType::Picklist { values } => {
            let missing: Vec<&String> = values.iter().filter(|v| !have.values.contains(v)).collect();
            if !missing.is_empty() {
                reasons.push(format!("add picklist values {missing:?}"));
            }
        }
        FieldType::Lookup { reference_to, .. }
            if have
                .reference_to
                .as_deref()
                .is_some_and(|r| !r.eq_ignore_ascii_case(reference_to)) =>
        {
            return Some(Change::DestructiveField {
                object,
                field,
                reason: format!("looks up {:?} instead of {reference_to}", have.reference_to),
            });
        }
        _ => {}
    }
    if have.label != want.label {
        reasons.push(format!("label {:?} → {:?}", have.label, want.label));
    }
    if have.external_id != want.external_id {
        reasons.push(format!("external id → {}", want.external_id));
    }
    if want.unique && !have.unique {
        reasons.push("unique → true".into());
    }
    if want.required != have.required {
        reasons.push(format!("required → {}", want.required));
    }
    if reasons.is_empty() {
        None
    } else {
        Some(Change::UpdateField {
            object,
            field,
            reason: reasons.join(", "),
        })
    }
}

/// SOAP XML for one `CustomField` (inside a `<fields>` or `<metadata>` element).
pub fn field_xml(full_name: &str, f: &FieldSpec) -> String {
    let mut x = format!(
        "<fullName>{}</fullName><label>{}</label><type>{}</type>",
        esc(full_name),
        esc(&f.label),
        f.field_type.metadata_type()
    );
    if let Some(d) = &f.description {
        x.push_str(&format!("<description>{}</description>", esc(d)));
    }
    match &f.field_type {
        FieldType::Text { length } => x.push_str(&format!("<length>{length}</length>")),
        FieldType::LongTextArea { length, visible_lines } => {
            x.push_str(&format!("<length>{length}</length><visibleLines>{visible_lines}</visibleLines>"))
        }
        FieldType::Number { precision, scale } => {
            x.push_str(&format!("<precision>{precision}</precision><scale>{scale}</scale>"))
        }
        FieldType::Checkbox => x.push_str("<defaultValue>false</defaultValue>"),
        FieldType::Picklist { values } => {
            x.push_str("<valueSet><restricted>true</restricted><valueSetDefinition><sorted>false</sorted>");
            for v in values {
                x.push_str(&format!(
                    "<value><fullName>{}</fullName><default>false</default><label>{}</label></value>",
                    esc(v),
                    esc(v)
                ));
            }
            x.push_str("</valueSetDefinition></valueSet>");
        }
        FieldType::Lookup {
            reference_to,
            relationship_name,
        } => x.push_str(&format!(
            "<referenceTo>{}</referenceTo><relationshipName>{}</relationshipName><relationshipLabel>{}</relationshipLabel><deleteConstraint>SetNull</deleteConstraint>",
            esc(reference_to),
            esc(relationship_name),
            esc(relationship_name)
        )),
        _ => {}
    }
    if f.external_id {
        x.push_str("<externalId>true</externalId>");
    }
    if f.unique {
        x.push_str("<unique>true</unique>");
    }
    if f.required {
        x.push_str("<required>true</required>");
    }
    x
}

fn object_xml(o: &ObjectSpec) -> String {
    let mut x = format!(
        "<fullName>{}</fullName><label>{}</label><pluralLabel>{}</pluralLabel><nameField><label>{}</label><type>Text</type></nameField><deploymentStatus>Deployed</deploymentStatus><sharingModel>ReadWrite</sharingModel>",
        esc(&o.api_name),
        esc(&o.label),
        esc(&o.plural_label),
        esc(&o.name_label)
    );
    for f in &o.fields {
        x.push_str(&format!("<fields>{}</fields>", field_xml(&f.api_name, f)));
    }
    x
}

fn permission_set_xml(spec: &SchemaSpec, p: &PermissionSetSpec) -> String {
    let mut x = format!(
        "<fullName>{}</fullName><label>{}</label>",
        esc(&p.name),
        esc(&p.label)
    );
    // Required fields always have full access and may not appear in fieldPermissions.
    for (obj, f) in spec.all_fields() {
        if f.required {
            continue;
        }
        x.push_str(&format!(
            "<fieldPermissions><editable>true</editable><field>{}.{}</field><readable>true</readable></fieldPermissions>",
            esc(obj),
            esc(&f.api_name)
        ));
    }
    for o in &spec.objects {
        x.push_str(&format!(
            "<objectPermissions><allowCreate>true</allowCreate><allowDelete>true</allowDelete><allowEdit>true</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>{}</object><viewAllRecords>false</viewAllRecords></objectPermissions>",
            esc(&o.api_name)
        ));
    }
    x
}

/// What a permission set grants, as read back.
fn permission_gaps(spec: &SchemaSpec, ps: Option<&Element>) -> Vec<String> {
    let mut gaps = Vec::new();
    let Some(ps) = ps else {
        return vec!["it does not exist".into()];
    };
    for (obj, f) in spec.all_fields() {
        if f.required {
            continue;
        }
        let name = format!("{obj}.{}", f.api_name);
        let ok = ps.children_named("fieldPermissions").any(|fp| {
            fp.text_of("field").is_some_and(|n| n.eq_ignore_ascii_case(&name))
                && fp.text_of("readable") == Some("true")
                && fp.text_of("editable") == Some("true")
        });
        if !ok {
            gaps.push(format!("no edit access to {name}"));
        }
    }
    for o in &spec.objects {
        let ok = ps.children_named("objectPermissions").any(|op| {
            op.text_of("object")
                .is_some_and(|n| n.eq_ignore_ascii_case(&o.api_name))
                && ["allowCreate", "allowEdit", "allowRead", "allowDelete"]
                    .iter()
                    .all(|k| op.text_of(k) == Some("true"))
        });
        if !ok {
            gaps.push(format!("no full access to {}", o.api_name));
        }
    }
    gaps
}

fn has_full_name(e: &Element) -> bool {
    !e.nil && e.text_of("fullName").is_some_and(|n| !n.is_empty())
}

/// Reads `<result>` save results (`createMetadata`, `updateMetadata`, `upsertMetadata`) and turns
/// failures into one error naming each component.
fn check_save_results(root: &Element) -> Result<()> {
    let body = root.find("Body").unwrap_or(root);
    let mut failures = Vec::new();
    let response = body.children.first();
    for r in response
        .into_iter()
        .flat_map(|resp| resp.children_named("result"))
    {
        if r.text_of("success") == Some("true") {
            continue;
        }
        let name = r.text_of("fullName").unwrap_or("?");
        let errs: Vec<String> = r
            .children_named("errors")
            .map(|e| {
                format!(
                    "{}: {}",
                    e.text_of("statusCode").unwrap_or(""),
                    e.text_of("message").unwrap_or("")
                )
            })
            .collect();
        failures.push(format!("{name}: {}", errs.join("; ")));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Metadata(failures.join(" | ")))
    }
}

impl Client {
    /// One Metadata API SOAP call; returns the parsed envelope.
    async fn metadata_call(&self, operation_xml: &str) -> Result<Element> {
        match self.metadata_call_once(operation_xml).await {
            Err(Renew(generation)) => {
                self.inner.auth.renew(generation).await?;
                self.metadata_call_once(operation_xml).await.map_err(|e| match e {
                    Renew(_) => {
                        Error::Metadata("INVALID_SESSION_ID: the renewed session was refused too".into())
                    }
                    Failed(e) => e,
                })
            }
            Err(Failed(e)) => Err(e),
            Ok(v) => Ok(v),
        }
    }

    async fn metadata_call_once(&self, operation_xml: &str) -> std::result::Result<Element, CallError> {
        let session = self.session().await.map_err(Failed)?;
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns=\"http://soap.sforce.com/2006/04/metadata\"><soapenv:Header><SessionHeader><sessionId>{}</sessionId></SessionHeader></soapenv:Header><soapenv:Body>{operation_xml}</soapenv:Body></soapenv:Envelope>",
            esc(session.access_token.expose_secret())
        );
        let mut req = Req::new(Method::POST, format!("/services/Soap/m/{}", self.api_version()));
        req.body = Some(Body::Xml(bytes::Bytes::from(envelope)));
        // The session id travels in the envelope, so a renewal needs a new envelope: on an
        // INVALID_SESSION_ID fault the caller renews and builds it again, once.
        let resp = match self.send(req).await {
            Ok(r) => r,
            Err(e) => {
                let fault = soap_fault(&e);
                if fault.as_deref().is_some_and(|f| f.contains("INVALID_SESSION_ID")) {
                    return Err(Renew(session.generation));
                }
                return Err(Failed(match fault {
                    Some(f) => Error::Metadata(f),
                    None => e,
                }));
            }
        };
        xml::parse(&resp.body).map_err(Failed)
    }

    async fn read_metadata(&self, kind: &str, names: &[String]) -> Result<Vec<Element>> {
        let mut out = Vec::new();
        for chunk in names.chunks(10) {
            let names_xml: String = chunk
                .iter()
                .map(|n| format!("<fullNames>{}</fullNames>", esc(n)))
                .collect();
            let root = self
                .metadata_call(&format!(
                    "<readMetadata><type>{kind}</type>{names_xml}</readMetadata>"
                ))
                .await?;
            let records: Vec<Element> = root
                .find("result")
                .map(|r| r.children_named("records").cloned().collect())
                .unwrap_or_default();
            out.extend(records);
        }
        Ok(out)
    }

    /// Reads the org and returns what [`Self::apply_schema`] would change.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad spec; [`Error::Metadata`] and pipeline errors.
    pub async fn plan_schema(&self, spec: &SchemaSpec) -> Result<Plan> {
        spec.validate()?;
        let mut plan = Plan::default();
        let object_names: Vec<String> = spec.objects.iter().map(|o| o.api_name.clone()).collect();
        let existing = self.read_metadata("CustomObject", &object_names).await?;
        let found = |name: &str| {
            existing.iter().find(|e| {
                has_full_name(e)
                    && e.text_of("fullName")
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        };
        for o in &spec.objects {
            match found(&o.api_name) {
                None => plan.changes.push(Change::CreateObject {
                    object: o.api_name.clone(),
                }),
                Some(e) => {
                    for f in &o.fields {
                        let have = e.children_named("fields").find(|x| {
                            x.text_of("fullName")
                                .is_some_and(|n| n.eq_ignore_ascii_case(&f.api_name))
                        });
                        match have {
                            None => plan.changes.push(Change::CreateField {
                                object: o.api_name.clone(),
                                field: f.api_name.clone(),
                            }),
                            Some(x) => {
                                plan.changes
                                    .extend(diff_field(&o.api_name, f, &ExistingField::from_xml(x)))
                            }
                        }
                    }
                }
            }
        }
        let extra_names: Vec<String> = spec
            .extra_fields
            .iter()
            .map(|(o, f)| format!("{o}.{}", f.api_name))
            .collect();
        let extra = self.read_metadata("CustomField", &extra_names).await?;
        for ((obj, f), full) in spec.extra_fields.iter().zip(&extra_names) {
            let have = extra.iter().find(|e| {
                has_full_name(e)
                    && e.text_of("fullName")
                        .is_some_and(|n| n.eq_ignore_ascii_case(full))
            });
            match have {
                None => plan.changes.push(Change::CreateField {
                    object: obj.clone(),
                    field: f.api_name.clone(),
                }),
                Some(x) => plan
                    .changes
                    .extend(diff_field(obj, f, &ExistingField::from_xml(x))),
            }
        }
        if let Some(p) = &spec.permission_set {
            let ps = self
                .read_metadata("PermissionSet", std::slice::from_ref(&p.name))
                .await?;
            let gaps = permission_gaps(spec, ps.iter().find(|e| has_full_name(e)));
            if !gaps.is_empty() {
                plan.changes.push(Change::PermissionSet {
                    name: p.name.clone(),
                    reason: gaps.join("; "),
                });
            }
        }
        Ok(plan)
    }

    /// Makes exactly the plan's changes (destructive ones only when allowed), waits until the org
    /// reads back as the spec, assigns the permission set when asked, and returns what was done.
    /// A second apply finds an empty plan and changes nothing.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the plan has destructive changes and they are not allowed (nothing
    /// is changed then); [`Error::Metadata`] when Salesforce refuses a component or the org does
    /// not match the spec after the settle attempts; pipeline errors.
    pub async fn apply_schema(&self, spec: &SchemaSpec, options: ApplyOptions) -> Result<Plan> {
        let plan = self.plan_schema(spec).await?;
        if !options.allow_destructive && plan.changes.iter().any(Change::is_destructive) {
            let list: Vec<String> = plan
                .changes
                .iter()
                .filter(|c| c.is_destructive())
                .map(ToString::to_string)
                .collect();
            return Err(Error::InvalidInput(format!(
                "the schema needs destructive changes ({}); make them by hand or apply with allow_destructive",
                list.join("; ")
            )));
        }
        let field = |obj: &str, name: &str| -> Option<&FieldSpec> {
            spec.all_fields()
                .into_iter()
                .find(|(o, f)| *o == obj && f.api_name == name)
                .map(|(_, f)| f)
        };
        // Objects first (with their fields), lookups to earlier objects resolve.
        let mut creates: Vec<String> = Vec::new();
        let mut updates: Vec<String> = Vec::new();
        for c in &plan.changes {
            match c {
                Change::CreateObject { object } => {
                    if let Some(o) = spec.objects.iter().find(|o| &o.api_name == object) {
                        creates.push(format!(
                            "<metadata xsi:type=\"CustomObject\">{}</metadata>",
                            object_xml(o)
                        ));
                    }
                }
                Change::CreateField { object, field: name } => {
                    if let Some(f) = field(object, name) {
                        creates.push(format!(
                            "<metadata xsi:type=\"CustomField\">{}</metadata>",
                            field_xml(&format!("{object}.{name}"), f)
                        ));
                    }
                }
                Change::UpdateField {
                    object, field: name, ..
                }
                | Change::DestructiveField {
                    object, field: name, ..
                } => {
                    if let Some(f) = field(object, name) {
                        updates.push(format!(
                            "<metadata xsi:type=\"CustomField\">{}</metadata>",
                            field_xml(&format!("{object}.{name}"), f)
                        ));
                    }
                }
                Change::PermissionSet { .. } => {}
            }
        }
        // Objects must exist before fields that are added to them separately, so objects go in
        // their own calls first.
        let (objects, fields): (Vec<String>, Vec<String>) = creates
            .into_iter()
            .partition(|m| m.contains("xsi:type=\"CustomObject\""));
        for chunk in objects.chunks(10) {
            let root = self
                .metadata_call(&format!("<createMetadata>{}</createMetadata>", chunk.concat()))
                .await?;
            check_save_results(&root)?;
        }
        for chunk in fields.chunks(10) {
            let root = self
                .metadata_call(&format!("<createMetadata>{}</createMetadata>", chunk.concat()))
                .await?;
            check_save_results(&root)?;
        }
        for chunk in updates.chunks(10) {
            let root = self
                .metadata_call(&format!("<updateMetadata>{}</updateMetadata>", chunk.concat()))
                .await?;
            check_save_results(&root)?;
        }
        if let Some(p) = &spec.permission_set
            && plan
                .changes
                .iter()
                .any(|c| matches!(c, Change::PermissionSet { .. }))
        {
            let root = self
                .metadata_call(&format!(
                    "<upsertMetadata><metadata xsi:type=\"PermissionSet\">{}</metadata></upsertMetadata>",
                    permission_set_xml(spec, p)
                ))
                .await?;
            check_save_results(&root)?;
        }
        self.invalidate_all_describes();
        // Wait until the org reads back as the spec.
        let mut attempts = 0;
        loop {
            let left = self.plan_schema(spec).await?;
            if left.is_empty() {
                break;
            }
            attempts += 1;
            if attempts >= options.settle_attempts {
                let list: Vec<String> = left.changes.iter().map(ToString::to_string).collect();
                return Err(Error::Metadata(format!(
                    "the org does not match the schema after applying: {}",
                    list.join("; ")
                )));
            }
            tokio::time::sleep(options.settle_interval).await;
        }
        if let Some(p) = &spec.permission_set
            && p.assign_to_current_user
        {
            self.assign_permission_set(&p.name).await?;
        }
        Ok(plan)
    }

    /// Assigns a permission set to the connected user (no-op when already assigned).
    ///
    /// # Errors
    /// [`Error::Metadata`] when the set does not exist; pipeline errors.
    pub async fn assign_permission_set(&self, name: &str) -> Result<()> {
        check_api_name("permission set", name)?;
        let session = self.session().await?;
        let user = session
            .id
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Metadata("the session has no user id to assign the permission set to".into())
            })?;
        let page: crate::query::QueryPage<serde_json::Value> = self
            .query_page(
                &format!("SELECT Id FROM PermissionSet WHERE Name = '{name}'"),
                crate::query::QueryOptions::default(),
            )
            .await?;
        let ps_id = page
            .records
            .first()
            .and_then(|r| r.get("Id"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Error::Metadata(format!("permission set {name} not found")))?
            .to_string();
        let body = serde_json::json!({ "AssigneeId": user, "PermissionSetId": ps_id });
        match self.create("PermissionSetAssignment", &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == crate::ErrorKind::Duplicate => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Why one Metadata call did not answer.
enum CallError {
    /// The session in the envelope expired (its generation).
    Renew(u64),
    /// Any other failure.
    Failed(Error),
}
use CallError::{Failed, Renew};

/// The SOAP fault string of a failed Metadata call, if the body was a fault.
fn soap_fault(e: &Error) -> Option<String> {
    let Error::Api { errors, .. } = e else { return None };
    let text = errors.first()?.message.as_str();
    let root = xml::parse(text.as_bytes()).ok()?;
    let fault = root.find("Fault")?;
    Some(format!(
        "{}: {}",
        fault.text_of("faultcode").unwrap_or(""),
        fault.text_of("faultstring").unwrap_or("")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play() -> ObjectSpec {
        ObjectSpec {
            api_name: "Instruqt_Play__c".into(),
            label: "Instruqt Play".into(),
            plural_label: "Instruqt Plays".into(),
            name_label: "Play Name".into(),
            fields: vec![
                FieldSpec::new(
                    "Participant_ID__c",
                    "Participant ID",
                    FieldType::Text { length: 15 },
                )
                .external_id(),
                FieldSpec::new("Feedback__c", "Feedback", FieldType::TextArea),
                FieldSpec::new("Invitation_Link__c", "Invitation Link", FieldType::Url),
                FieldSpec::new(
                    "Score__c",
                    "Score",
                    FieldType::Number {
                        precision: 1,
                        scale: 0,
                    },
                ),
                FieldSpec::new(
                    "Lead__c",
                    "Lead",
                    FieldType::Lookup {
                        reference_to: "Lead".into(),
                        relationship_name: "Instruqt_Plays".into(),
                    },
                ),
            ],
        }
    }

    #[test]
    fn writes_custom_object_xml() {
        let x = object_xml(&play());
        assert!(x.starts_with("<fullName>Instruqt_Play__c</fullName><label>Instruqt Play</label>"));
        assert!(x.contains("<fields><fullName>Participant_ID__c</fullName><label>Participant ID</label><type>Text</type><length>15</length><externalId>true</externalId><unique>true</unique></fields>"));
        assert!(x.contains("<type>Lookup</type><referenceTo>Lead</referenceTo><relationshipName>Instruqt_Plays</relationshipName>"));
        assert!(x.contains("<precision>1</precision><scale>0</scale>"));
        // The whole envelope body parses.
        assert!(xml::parse(format!("<m>{x}</m>").as_bytes()).is_ok());
    }

    #[test]
    fn diffs_fields_and_flags_destructive_changes() {
        let want = FieldSpec::new("Slug__c", "Slug", FieldType::Text { length: 255 }).external_id();
        let same = ExistingField {
            field_type: "Text".into(),
            label: "Slug".into(),
            length: Some(255),
            external_id: true,
            unique: true,
            ..Default::default()
        };
        assert_eq!(diff_field("T__c", &want, &same), None);
        let longer = ExistingField {
            length: Some(300),
            ..same.clone()
        };
        assert!(diff_field("T__c", &want, &longer).unwrap().is_destructive());
        let shorter = ExistingField {
            length: Some(80),
            ..same.clone()
        };
        assert!(matches!(
            diff_field("T__c", &want, &shorter),
            Some(Change::UpdateField { .. })
        ));
        let other_type = ExistingField {
            field_type: "Number".into(),
            ..same
        };
        assert!(diff_field("T__c", &want, &other_type).unwrap().is_destructive());
    }

    #[test]
    fn reads_existing_fields_and_permission_gaps() {
        let xml = br#"<records><fullName>Instruqt_Play__c</fullName><fields><fullName>Score__c</fullName><label>Score</label><type>Number</type><precision>1</precision><scale>0</scale></fields></records>"#;
        let root = xml::parse(xml).unwrap();
        let f = ExistingField::from_xml(root.child("fields").unwrap());
        assert_eq!((f.precision, f.scale), (Some(1), Some(0)));
        let spec = SchemaSpec {
            objects: vec![play()],
            extra_fields: vec![],
            permission_set: None,
        };
        assert_eq!(
            permission_gaps(&spec, None),
            vec!["it does not exist".to_string()]
        );
        let ps = xml::parse(br#"<records><fullName>P</fullName><fieldPermissions><field>Instruqt_Play__c.Score__c</field><readable>true</readable><editable>true</editable></fieldPermissions></records>"#).unwrap();
        let gaps = permission_gaps(&spec, Some(&ps));
        assert_eq!(gaps.len(), 5, "{gaps:?}");
    }

    #[test]
    fn validates_specs() {
        let mut spec = SchemaSpec {
            objects: vec![play()],
            extra_fields: vec![],
            permission_set: None,
        };
        assert!(spec.validate().is_ok());
        spec.objects[0]
            .fields
            .push(FieldSpec::new("Bad", "Bad", FieldType::Url));
        assert!(spec.validate().is_err());
    }

    #[test]
    fn reads_save_results() {
        let ok = xml::parse(br#"<Envelope><Body><createMetadataResponse><result><fullName>A__c</fullName><success>true</success></result></createMetadataResponse></Body></Envelope>"#).unwrap();
        assert!(check_save_results(&ok).is_ok());
        let bad = xml::parse(br#"<Envelope><Body><createMetadataResponse><result><errors><message>bad name</message><statusCode>INVALID_CROSS_REFERENCE_KEY</statusCode></errors><fullName>A__c</fullName><success>false</success></result></createMetadataResponse></Body></Envelope>"#).unwrap();
        let e = check_save_results(&bad).unwrap_err().to_string();
        assert!(e.contains("A__c: INVALID_CROSS_REFERENCE_KEY: bad name"), "{e}");
    }
}
