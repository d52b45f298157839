//! The access model: what one user may do with objects, fields and the org, computed as
//! Salesforce computes it — from the user's Profile and the permission sets assigned to them.
//!
//! Permissions are records (see [`crate::schema::security`]): a `PermissionSet` (the profile's own
//! has `IsOwnedByProfile` and `ProfileId`), its `ObjectPermissions` and `FieldPermissions`
//! children, and `PermissionSetAssignment` rows giving a set to a user. The `Profile` record's own
//! `Permissions<Name>` fields count as well. Access is the union of everything the user holds.
//!
//! Invariants:
//! - "Modify All Data" grants every object and field access; "View All Data" grants read of every
//!   object and field (as the administrator profile does).
//! - Object permissions are closed under Salesforce's implications: edit, create, delete and
//!   view-all imply read; delete implies edit; modify-all implies everything.
//! - Fields Salesforce does not let field-level security hide — the id, the audit fields, the
//!   owner, the name field and required fields — follow the object's read access.
//! - Setup objects (users, profiles, permission sets...) and activities are not governed by
//!   object permissions: every user may read them; writing setup objects needs "Modify All Data"
//!   or "Manage Users".

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::ids::SfId;
use crate::org::{Org, Record};
use crate::schema::{FieldDef, FieldType, ObjectDef};

/// What a user may do with an object's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectAccess {
    pub read: bool,
    pub create: bool,
    pub edit: bool,
    pub delete: bool,
    pub view_all: bool,
    pub modify_all: bool,
}

impl ObjectAccess {
    /// Everything.
    pub const ALL: ObjectAccess = ObjectAccess {
        read: true,
        create: true,
        edit: true,
        delete: true,
        view_all: true,
        modify_all: true,
    };

    /// Read only.
    pub const READ: ObjectAccess = ObjectAccess {
        read: true,
        create: false,
        edit: false,
        delete: false,
        view_all: false,
        modify_all: false,
    };

    fn union(self, other: ObjectAccess) -> ObjectAccess {
        ObjectAccess {
            read: self.read || other.read,
            create: self.create || other.create,
            edit: self.edit || other.edit,
            delete: self.delete || other.delete,
            view_all: self.view_all || other.view_all,
            modify_all: self.modify_all || other.modify_all,
        }
    }

    /// Applies Salesforce's implications between object permissions.
    fn closed(mut self) -> ObjectAccess {
        if self.modify_all {
            return ObjectAccess::ALL;
        }
        if self.delete {
            self.edit = true;
        }
        if self.edit || self.create || self.delete || self.view_all {
            self.read = true;
        }
        self
    }
}

/// What a user may do with one field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldAccess {
    pub read: bool,
    pub edit: bool,
}

/// The system permissions this module knows, as the `Permissions<Name>` suffix of the fields of
/// `Profile` and `PermissionSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemPermission {
    ApiEnabled,
    ModifyAllData,
    ViewAllData,
    CustomizeApplication,
    ModifyMetadata,
    ViewSetup,
    ManageUsers,
}

impl SystemPermission {
    /// The suffix after `Permissions` of the field carrying this permission.
    pub fn field_suffix(self) -> &'static str {
        match self {
            SystemPermission::ApiEnabled => "ApiEnabled",
            SystemPermission::ModifyAllData => "ModifyAllData",
            SystemPermission::ViewAllData => "ViewAllData",
            SystemPermission::CustomizeApplication => "CustomizeApplication",
            SystemPermission::ModifyMetadata => "ModifyMetadata",
            SystemPermission::ViewSetup => "ViewSetup",
            SystemPermission::ManageUsers => "ManageUsers",
        }
    }

    /// Every permission, in declaration order.
    pub const ALL: [SystemPermission; 7] = [
        SystemPermission::ApiEnabled,
        SystemPermission::ModifyAllData,
        SystemPermission::ViewAllData,
        SystemPermission::CustomizeApplication,
        SystemPermission::ModifyMetadata,
        SystemPermission::ViewSetup,
        SystemPermission::ManageUsers,
    ];
}

/// Setup objects: readable by every user, written only with "Modify All Data" or "Manage Users".
const SETUP_OBJECTS: &[&str] = &[
    "Organization",
    "Profile",
    "User",
    "Group",
    "RecordType",
    "PermissionSet",
    "ObjectPermissions",
    "FieldPermissions",
    "PermissionSetAssignment",
];

/// Objects whose access follows their parent record, not object permissions (activities, feeds).
const UNGOVERNED_OBJECTS: &[&str] = &["Task", "Event", "FeedItem", "FeedComment"];

/// Fields field-level security never hides.
const ALWAYS_VISIBLE: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "OwnerId",
    "LastActivityDate",
    "LastViewedDate",
    "LastReferencedDate",
];

/// Whether field-level security applies to `field` (describe's `permissionable`): not for the
/// id, audit fields, owner, name field or required fields, whose access is the object's.
pub fn permissionable(field: &FieldDef) -> bool {
    if ALWAYS_VISIBLE.iter().any(|n| n.eq_ignore_ascii_case(&field.name)) || field.name_field {
        return false;
    }
    let required = !field.nillable && field.ftype != FieldType::Boolean;
    !required
}

fn flag(r: &Record, k: &str) -> bool {
    r.get(k).and_then(Value::as_bool) == Some(true)
}

fn text<'r>(r: &'r Record, k: &str) -> Option<&'r str> {
    r.get(k).and_then(Value::as_str)
}

fn live(r: &Record) -> bool {
    !flag(r, "IsDeleted")
}

/// One user's access, computed once from the org's records and then asked many times (a SOQL
/// catalog or a describe asks per field).
#[derive(Debug, Clone, Default)]
pub struct UserAccess {
    /// "Modify All Data": everything, no further lookups.
    modify_all_data: bool,
    /// "View All Data": read of everything.
    view_all_data: bool,
    system: HashSet<SystemPermission>,
    /// Object permissions by lower-case object name.
    objects: HashMap<String, ObjectAccess>,
    /// Field permissions by lower-case `Object.Field`.
    fields: HashMap<String, FieldAccess>,
}

/// A record of a small table (users, profiles, permission sets), borrowed from the table's view:
/// access is worked out on every request, and these tables change rarely.
fn small<'o>(org: &'o Org, object: &str, id: &SfId) -> Option<&'o Record> {
    org.data.get(object)?.get(id)
}

impl UserAccess {
    /// The access of `user` in `org`. An unknown user has none.
    pub fn for_user(org: &Org, user: &SfId) -> UserAccess {
        let mut access = UserAccess::default();
        let Some(user_record) = small(org, "User", user) else {
            // The emulator's own administrator may lack a User record in hand-made orgs.
            if org.admin_user_id() == Some(user) {
                access.modify_all_data = true;
                access.view_all_data = true;
                access.system.extend(SystemPermission::ALL);
            }
            return access;
        };
        let profile_id = text(user_record, "ProfileId").and_then(|p| SfId::parse(p).ok());

        // Permission-bearing records: the profile, its owned permission set, assigned sets.
        let mut holders: Vec<&Record> = Vec::new();
        let mut set_ids: HashSet<String> = HashSet::new();
        if let Some(profile) = profile_id.as_ref().and_then(|p| small(org, "Profile", p)) {
            holders.push(profile);
        }
        let now = crate::org::now_string();
        if let Some(sets) = org.data.get("PermissionSet") {
            for (id, set) in sets.iter().filter(|(_, s)| live(s)) {
                let owned = profile_id
                    .as_ref()
                    .is_some_and(|p| text(set, "ProfileId") == Some(p.as_str()));
                if owned {
                    holders.push(set);
                    set_ids.insert(id.as_str().to_string());
                }
            }
        }
        if let Some(assignments) = org.data.get("PermissionSetAssignment") {
            for a in assignments.values().filter(|a| live(a)) {
                let mine = text(a, "AssigneeId") == Some(user.as_str());
                let active = a.get("IsActive").and_then(Value::as_bool) != Some(false);
                // Wire datetimes sort as text within one offset (`+0000`).
                let unexpired = text(a, "ExpirationDate").is_none_or(|e| e > now.as_str());
                if !(mine && active && unexpired) {
                    continue;
                }
                let Some(set_id) = text(a, "PermissionSetId") else {
                    continue;
                };
                if let Some(set) = SfId::parse(set_id)
                    .ok()
                    .and_then(|id| small(org, "PermissionSet", &id))
                    .filter(|s| live(s))
                {
                    holders.push(set);
                    set_ids.insert(set_id.to_string());
                }
            }
        }
        for holder in &holders {
            for perm in SystemPermission::ALL {
                if flag(holder, &format!("Permissions{}", perm.field_suffix())) {
                    access.system.insert(perm);
                }
            }
        }
        access.modify_all_data = access.system.contains(&SystemPermission::ModifyAllData);
        access.view_all_data =
            access.modify_all_data || access.system.contains(&SystemPermission::ViewAllData);
        if access.modify_all_data {
            return access;
        }

        let parent_in = |r: &Record| text(r, "ParentId").is_some_and(|p| set_ids.contains(p));
        if let Some(rows) = org.data.get("ObjectPermissions") {
            for r in rows.values().filter(|r| live(r) && parent_in(r)) {
                let Some(object) = text(r, "SobjectType") else {
                    continue;
                };
                let granted = ObjectAccess {
                    read: flag(r, "PermissionsRead"),
                    create: flag(r, "PermissionsCreate"),
                    edit: flag(r, "PermissionsEdit"),
                    delete: flag(r, "PermissionsDelete"),
                    view_all: flag(r, "PermissionsViewAllRecords"),
                    modify_all: flag(r, "PermissionsModifyAllRecords"),
                };
                let entry = access.objects.entry(object.to_ascii_lowercase()).or_default();
                *entry = entry.union(granted).closed();
                if flag(r, "PermissionsViewAllFields") {
                    // "View All Fields" reads every field of the object: recorded as a wildcard.
                    let key = format!("{}.*", object.to_ascii_lowercase());
                    access.fields.entry(key).or_default().read = true;
                }
            }
        }
        if let Some(rows) = org.data.get("FieldPermissions") {
            for r in rows.values().filter(|r| live(r) && parent_in(r)) {
                let Some(field) = text(r, "Field") else {
                    continue;
                };
                let edit = flag(r, "PermissionsEdit");
                let entry = access.fields.entry(field.to_ascii_lowercase()).or_default();
                entry.read |= flag(r, "PermissionsRead") || edit;
                entry.edit |= edit;
            }
        }
        access
    }

    /// Whether the user holds a system permission.
    pub fn has(&self, perm: SystemPermission) -> bool {
        self.modify_all_data || self.system.contains(&perm)
    }

    /// Whether the user holds "Modify All Data".
    pub fn modify_all_data(&self) -> bool {
        self.modify_all_data
    }

    /// The user's access to `def`'s records.
    pub fn object(&self, def: &ObjectDef) -> ObjectAccess {
        if self.modify_all_data {
            return ObjectAccess::ALL;
        }
        let is = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(&def.name));
        if is(SETUP_OBJECTS) {
            return if self.has(SystemPermission::ManageUsers) {
                ObjectAccess::ALL
            } else {
                ObjectAccess::READ
            };
        }
        if is(UNGOVERNED_OBJECTS) {
            return ObjectAccess::ALL;
        }
        let granted = self
            .objects
            .get(&def.name.to_ascii_lowercase())
            .copied()
            .unwrap_or_default();
        if self.view_all_data {
            granted.union(ObjectAccess {
                view_all: true,
                ..ObjectAccess::READ
            })
        } else {
            granted
        }
    }

    /// The user's access to `field` of `def`: nothing when the object is unreadable; the
    /// object's read (and the schema's writability) for fields FLS does not govern.
    pub fn field(&self, def: &ObjectDef, field: &FieldDef) -> FieldAccess {
        let object = self.object(def);
        if !object.read {
            return FieldAccess::default();
        }
        let writable = object.create || object.edit;
        if self.modify_all_data || !permissionable(field) {
            return FieldAccess {
                read: true,
                edit: writable,
            };
        }
        let is = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(&def.name));
        if is(SETUP_OBJECTS) || is(UNGOVERNED_OBJECTS) {
            return FieldAccess {
                read: true,
                edit: writable,
            };
        }
        let object_key = def.name.to_ascii_lowercase();
        let own = |name: &str| {
            self.fields
                .get(&format!("{object_key}.{}", name.to_ascii_lowercase()))
                .copied()
                .unwrap_or_default()
        };
        let mut granted = own(&field.name);
        if field.ftype == FieldType::Address {
            // A compound address is readable (writable) when one of its parts is.
            let prefix = field.name.trim_end_matches("Address").to_ascii_lowercase();
            for (key, part) in &self.fields {
                if let Some(rest) = key.strip_prefix(&format!("{object_key}.{prefix}"))
                    && !rest.is_empty()
                    && !rest.contains('.')
                {
                    granted.read |= part.read;
                    granted.edit |= part.edit;
                }
            }
        }
        if self.view_all_data
            || self
                .fields
                .get(&format!("{object_key}.*"))
                .is_some_and(|w| w.read)
        {
            granted.read = true;
        }
        FieldAccess {
            read: granted.read,
            edit: granted.edit && writable,
        }
    }

    /// [`UserAccess::field`] by name; `None` when the object has no such field.
    pub fn field_named(&self, def: &ObjectDef, name: &str) -> Option<FieldAccess> {
        def.field(name).map(|f| self.field(def, f))
    }
}

/// The access of `user` to `object` (any case); nothing for an unknown object.
pub fn object_access(org: &Org, user: &SfId, object: &str) -> ObjectAccess {
    org.schema
        .object(object)
        .map(|def| UserAccess::for_user(org, user).object(def))
        .unwrap_or_default()
}

/// The access of `user` to `object.field` (any case); nothing for an unknown object or field.
pub fn field_access(org: &Org, user: &SfId, object: &str, field: &str) -> FieldAccess {
    org.schema
        .object(object)
        .and_then(|def| UserAccess::for_user(org, user).field_named(def, field))
        .unwrap_or_default()
}

/// Whether `user` holds the system permission `perm` ("Modify All Data" implies them all).
pub fn has_system_permission(org: &Org, user: &SfId, perm: SystemPermission) -> bool {
    UserAccess::for_user(org, user).has(perm)
}

/// The fields of a write body the user may not write, canonical names in body order:
/// fields (or relationship keys) field-level security hides or makes read-only. Keys that name
/// nothing are left for validation to report.
pub fn unwritable_fields(
    access: &UserAccess,
    def: &ObjectDef,
    body: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for key in body.keys() {
        if key == "attributes" {
            continue;
        }
        let field = def.field(key).or_else(|| def.relationship(key));
        let Some(field) = field else { continue };
        if !permissionable(field) {
            continue;
        }
        if !access.field(def, field).edit {
            out.push(field.name.clone());
        }
    }
    out
}

/// Salesforce's `INVALID_FIELD_FOR_INSERT_UPDATE` for fields the user may not write.
pub fn fls_error(fields: &[String]) -> crate::error::SfError {
    crate::error::SfError::bad_request(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        format!(
            "Unable to create/update fields: {}. Please check the security settings of this field and \
             verify that it is read/write for your profile or permission set.",
            fields.join(", ")
        ),
    )
    .with_fields(fields.iter().cloned())
}

/// Salesforce keeps one assignment per user and permission set: creating a second answers
/// `DUPLICATE_VALUE` naming both ids. `values` are the validated values of a new
/// `PermissionSetAssignment`; other objects pass.
///
/// # Errors
/// 400 `DUPLICATE_VALUE` when a live assignment of the same set to the same user exists.
pub fn check_assignment_unique(
    org: &Org,
    object: &str,
    values: &Record,
) -> Result<(), crate::error::SfError> {
    if object != "PermissionSetAssignment" {
        return Ok(());
    }
    let id_of = |r: &Record, k: &str| text(r, k).and_then(|s| SfId::parse(s).ok());
    let (Some(user), Some(set)) = (id_of(values, "AssigneeId"), id_of(values, "PermissionSetId")) else {
        return Ok(());
    };
    let taken = org.data.get(object).is_some_and(|table| {
        table.values().filter(|a| live(a)).any(|a| {
            id_of(a, "AssigneeId").as_ref() == Some(&user)
                && id_of(a, "PermissionSetId").as_ref() == Some(&set)
        })
    });
    if !taken {
        return Ok(());
    }
    Err(crate::error::SfError::bad_request(
        "DUPLICATE_VALUE",
        format!("Duplicate PermissionSetAssignment. Assignee: {user}; Permission Set: {set}"),
    )
    .with_fields(Vec::<String>::new()))
}

/// Salesforce's `INSUFFICIENT_ACCESS_OR_READONLY` for a write the object permissions forbid.
pub fn insufficient_access(id: Option<&SfId>) -> crate::error::SfError {
    let message = match id {
        Some(id) => format!("insufficient access rights on object id: {id}"),
        None => "insufficient access rights on object id".to_string(),
    };
    crate::error::SfError::bad_request("INSUFFICIENT_ACCESS_OR_READONLY", message)
        .with_fields(Vec::<String>::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implications_close_object_access() {
        let a = ObjectAccess {
            delete: true,
            ..ObjectAccess::default()
        }
        .closed();
        assert!(a.read && a.edit && a.delete && !a.create);
        let m = ObjectAccess {
            modify_all: true,
            ..ObjectAccess::default()
        }
        .closed();
        assert_eq!(m, ObjectAccess::ALL);
    }

    #[test]
    fn admin_has_everything() {
        let org = crate::bootstrap::default_org(&crate::config::EmulatorConfig::default());
        let admin = org.admin_user_id().cloned().unwrap();
        assert_eq!(object_access(&org, &admin, "Lead"), ObjectAccess::ALL);
        assert!(field_access(&org, &admin, "Lead", "Email").edit);
        assert!(has_system_permission(
            &org,
            &admin,
            SystemPermission::ModifyMetadata
        ));
    }
}
