//! The `PermissionSet` Metadata type, stored as records of the `PermissionSet`,
//! `ObjectPermissions` and `FieldPermissions` sObjects (see [`crate::schema::security`]).
//!
//! Invariant: a permission set's object and field permissions name objects and fields of the
//! schema at the time they are written; writing a permission set is additive (permissions not
//! mentioned stay as they are), as a deploy of a `.permissionset` is in Salesforce.

use serde_json::Value;

use crate::ids::SfId;
use crate::org::{Org, Record};
use crate::schema::FieldType;
use crate::schema::custom::{Change, SchemaError};
use crate::schema::security::{OBJECT_PERMISSIONS, USER_PERMISSIONS};

use super::xml::{Node, el, opt};

/// A `PermissionSet` as given in metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermSpec {
    pub full_name: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub has_activation_required: bool,
    /// `(object, [(field of ObjectPermissions, value)])`.
    pub objects: Vec<(String, Vec<(&'static str, bool)>)>,
    /// `(Object.Field, readable, editable)`.
    pub fields: Vec<(String, bool, bool)>,
    /// `(permission name, enabled)`.
    pub user_permissions: Vec<(String, bool)>,
}

/// Reads a `PermissionSet` element (or `.permissionset` file).
pub fn spec(node: &Node) -> PermSpec {
    PermSpec {
        full_name: node.string("fullName").unwrap_or_default(),
        label: node.string("label"),
        description: node.string("description"),
        has_activation_required: node.flag("hasActivationRequired"),
        objects: node
            .all("objectPermissions")
            .map(|op| {
                let flags = OBJECT_PERMISSIONS
                    .iter()
                    .map(|(field, element)| (*field, op.flag(element)))
                    .collect();
                (op.string("object").unwrap_or_default(), flags)
            })
            .collect(),
        fields: node
            .all("fieldPermissions")
            .map(|fp| {
                let editable = fp.flag("editable");
                let readable = fp.bool_of("readable").unwrap_or(editable) || editable;
                (fp.string("field").unwrap_or_default(), readable, editable)
            })
            .collect(),
        user_permissions: node
            .all("userPermissions")
            .map(|up| (up.string("name").unwrap_or_default(), up.flag("enabled")))
            .collect(),
    }
}

fn valid_name(name: &str) -> bool {
    name.len() <= 80
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// The `PermissionSet` record named `name` (not one owned by a profile).
pub fn find(org: &Org, name: &str) -> Option<SfId> {
    org.data.get("PermissionSet")?.iter().find_map(|(id, r)| {
        let same = r
            .get("Name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        let profile = r.get("IsOwnedByProfile").and_then(Value::as_bool) == Some(true);
        let deleted = r.get("IsDeleted").and_then(Value::as_bool) == Some(true);
        (same && !profile && !deleted).then(|| id.clone())
    })
}

/// Checks every permission against the schema.
fn check(org: &Org, spec: &PermSpec) -> Result<(), SchemaError> {
    for (object, _) in &spec.objects {
        if org.schema.object(object).is_none() {
            return Err(SchemaError::NotFound(format!(
                "In field: object - no CustomObject named {object} found"
            )));
        }
    }
    for (full, _, editable) in &spec.fields {
        let field = crate::schema::custom::split_field_name(full)
            .and_then(|(o, f)| org.schema.object(o).and_then(|od| od.field(f)))
            .ok_or_else(|| {
                SchemaError::NotFound(format!("In field: field - no CustomField named {full} found"))
            })?;
        if !field.nillable && field.ftype != FieldType::Boolean && *editable {
            return Err(SchemaError::Integrity(format!(
                "You cannot deploy to a required field: {full}"
            )));
        }
    }
    for (perm, _) in &spec.user_permissions {
        if !USER_PERMISSIONS.iter().any(|(p, _)| p == perm) {
            return Err(SchemaError::Integrity(format!("Unknown user permission: {perm}")));
        }
    }
    Ok(())
}

fn child_matching(org: &Org, table: &str, parent: &SfId, key: &str, value: &str) -> Option<SfId> {
    org.data.get(table)?.iter().find_map(|(id, r)| {
        let p = r.get("ParentId").and_then(Value::as_str) == Some(parent.as_str());
        let k = r
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(value));
        (p && k).then(|| id.clone())
    })
}

fn set(org: &mut Org, table: &str, id: &SfId, values: Record, change: &Change<'_>) {
    if let Some(r) = org.table_mut(table).get_mut(id) {
        for (k, v) in values {
            r.insert(k, v);
        }
        r.insert("LastModifiedDate".into(), Value::String(change.now.to_string()));
        r.insert("LastModifiedById".into(), Value::String(change.user.to_string()));
        r.insert("SystemModstamp".into(), Value::String(change.now.to_string()));
    }
}

/// Creates (`must_exist` = false, `may_exist` = false), updates (`must_exist`) or upserts
/// (`may_exist`) a permission set. Returns whether it was created.
///
/// # Errors
/// [`SchemaError`] for a bad name, a missing label, a name taken (create) or unknown (update),
/// or a permission on an unknown object or field.
pub fn write(
    org: &mut Org,
    spec: &PermSpec,
    must_exist: bool,
    may_exist: bool,
    change: &Change<'_>,
) -> Result<bool, SchemaError> {
    let name = spec.full_name.as_str();
    if !valid_name(name) {
        return Err(SchemaError::Integrity(format!(
            "{name}: The name can only contain underscores and alphanumeric characters, must begin \
             with a letter, not include spaces, not end with an underscore, and not contain two \
             consecutive underscores"
        )));
    }
    let existing = find(org, name);
    match (&existing, must_exist, may_exist) {
        (Some(_), false, false) => {
            return Err(SchemaError::Duplicate(format!(
                "There is already a PermissionSet named {name}."
            )));
        }
        (None, true, _) => {
            return Err(SchemaError::NotFound(format!(
                "no PermissionSet named {name} found"
            )));
        }
        _ => {}
    }
    if existing.is_none() && spec.label.as_deref().is_none_or(|l| l.trim().is_empty()) {
        return Err(SchemaError::Missing(format!(
            "Must specify a non-empty label for the PermissionSet {name}"
        )));
    }
    check(org, spec)?;
    let mut values = Record::new();
    if let Some(l) = &spec.label {
        values.insert("Label".into(), Value::String(l.clone()));
    }
    if spec.description.is_some() || existing.is_none() {
        values.insert(
            "Description".into(),
            spec.description.clone().map_or(Value::Null, Value::String),
        );
    }
    values.insert(
        "HasActivationRequired".into(),
        Value::Bool(spec.has_activation_required),
    );
    for (perm, enabled) in &spec.user_permissions {
        values.insert(format!("Permissions{perm}"), Value::Bool(*enabled));
    }
    let created = existing.is_none();
    let ps = match existing {
        Some(id) => {
            set(org, "PermissionSet", &id, values, change);
            id
        }
        None => {
            values.insert("Name".into(), Value::String(name.to_string()));
            values.insert("IsCustom".into(), Value::Bool(true));
            values.insert("IsOwnedByProfile".into(), Value::Bool(false));
            values.insert("Type".into(), Value::String("Regular".into()));
            org.insert_new("PermissionSet", values, change.user, change.now)
                .ok_or_else(|| SchemaError::NotFound("the PermissionSet object is missing".into()))?
        }
    };
    for (object, flags) in &spec.objects {
        let object_name = org
            .schema
            .object(object)
            .map_or_else(|| object.clone(), |o| o.name.clone());
        let mut values: Record = flags
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Bool(*v)))
            .collect();
        match child_matching(org, "ObjectPermissions", &ps, "SobjectType", &object_name) {
            Some(id) => set(org, "ObjectPermissions", &id, values, change),
            None => {
                values.insert("ParentId".into(), Value::String(ps.to_string()));
                values.insert("SobjectType".into(), Value::String(object_name));
                org.insert_new("ObjectPermissions", values, change.user, change.now);
            }
        }
    }
    for (full, readable, editable) in &spec.fields {
        let canonical = crate::schema::custom::split_field_name(full)
            .and_then(|(o, f)| {
                let od = org.schema.object(o)?;
                od.field(f)
                    .map(|fd| (od.name.clone(), format!("{}.{}", od.name, fd.name)))
            })
            .unwrap_or_else(|| (String::new(), full.clone()));
        let mut values = Record::new();
        values.insert("PermissionsRead".into(), Value::Bool(*readable));
        values.insert("PermissionsEdit".into(), Value::Bool(*editable));
        match child_matching(org, "FieldPermissions", &ps, "Field", &canonical.1) {
            Some(id) => set(org, "FieldPermissions", &id, values, change),
            None => {
                values.insert("ParentId".into(), Value::String(ps.to_string()));
                values.insert("SobjectType".into(), Value::String(canonical.0));
                values.insert("Field".into(), Value::String(canonical.1));
                org.insert_new("FieldPermissions", values, change.user, change.now);
            }
        }
    }
    Ok(created)
}

/// Deletes a permission set with its permissions and assignments.
///
/// # Errors
/// [`SchemaError::NotFound`] for an unknown permission set.
pub fn delete(org: &mut Org, name: &str) -> Result<(), SchemaError> {
    let id = find(org, name)
        .ok_or_else(|| SchemaError::NotFound(format!("no PermissionSet named {name} found")))?;
    org.table_mut("PermissionSet").shift_remove(&id);
    for (table, key) in [
        ("ObjectPermissions", "ParentId"),
        ("FieldPermissions", "ParentId"),
        ("PermissionSetAssignment", "PermissionSetId"),
    ] {
        org.table_mut(table)
            .retain(|_, r| r.get(key).and_then(Value::as_str) != Some(id.as_str()));
    }
    Ok(())
}

fn children<'o>(org: &'o Org, table: &str, parent: &'o SfId) -> impl Iterator<Item = &'o Record> + 'o {
    org.data
        .get(table)
        .into_iter()
        .flat_map(|t| t.values())
        .filter(move |r| r.get("ParentId").and_then(Value::as_str) == Some(parent.as_str()))
}

fn b(r: &Record, k: &str) -> bool {
    r.get(k).and_then(Value::as_bool) == Some(true)
}

fn s<'r>(r: &'r Record, k: &str) -> Option<&'r str> {
    r.get(k).and_then(Value::as_str)
}

/// The child elements of the `PermissionSet` named `name`, in WSDL order; `None` when unknown.
pub fn read(org: &Org, name: &str) -> Option<String> {
    let id = find(org, name)?;
    let ps = org.record("PermissionSet", &id)?;
    let ps = &*ps;
    let mut out = String::new();
    el(&mut out, "fullName", s(ps, "Name").unwrap_or(name));
    opt(&mut out, "description", s(ps, "Description"));
    let mut fields: Vec<&Record> = children(org, "FieldPermissions", &id).collect();
    fields.sort_by_key(|r| s(r, "Field").unwrap_or_default().to_string());
    for fp in fields {
        out.push_str("<fieldPermissions>");
        el(&mut out, "editable", &b(fp, "PermissionsEdit").to_string());
        el(&mut out, "field", s(fp, "Field").unwrap_or_default());
        el(&mut out, "readable", &b(fp, "PermissionsRead").to_string());
        out.push_str("</fieldPermissions>");
    }
    el(
        &mut out,
        "hasActivationRequired",
        &b(ps, "HasActivationRequired").to_string(),
    );
    el(&mut out, "label", s(ps, "Label").unwrap_or(name));
    let mut objects: Vec<&Record> = children(org, "ObjectPermissions", &id).collect();
    objects.sort_by_key(|r| s(r, "SobjectType").unwrap_or_default().to_string());
    for op in objects {
        out.push_str("<objectPermissions>");
        for (field, element) in [
            ("PermissionsCreate", "allowCreate"),
            ("PermissionsDelete", "allowDelete"),
            ("PermissionsEdit", "allowEdit"),
            ("PermissionsRead", "allowRead"),
            ("PermissionsModifyAllRecords", "modifyAllRecords"),
        ] {
            el(&mut out, element, &b(op, field).to_string());
        }
        el(&mut out, "object", s(op, "SobjectType").unwrap_or_default());
        el(
            &mut out,
            "viewAllFields",
            &b(op, "PermissionsViewAllFields").to_string(),
        );
        el(
            &mut out,
            "viewAllRecords",
            &b(op, "PermissionsViewAllRecords").to_string(),
        );
        out.push_str("</objectPermissions>");
    }
    for (perm, _) in USER_PERMISSIONS {
        if b(ps, &format!("Permissions{perm}")) {
            out.push_str("<userPermissions>");
            el(&mut out, "enabled", "true");
            el(&mut out, "name", perm);
            out.push_str("</userPermissions>");
        }
    }
    Some(out)
}

/// `(id, name, created date, created by, last modified date, last modified by)` of every
/// permission set not owned by a profile, for `listMetadata`.
pub fn list(org: &Org) -> Vec<(SfId, Record)> {
    org.data
        .get("PermissionSet")
        .into_iter()
        .flat_map(|t| t.iter())
        .filter(|(_, r)| !b(r, "IsOwnedByProfile") && !b(r, "IsDeleted"))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect()
}
