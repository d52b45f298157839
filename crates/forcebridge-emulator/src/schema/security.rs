//! The security sObjects: `PermissionSet` (0PS), `ObjectPermissions` (110), `FieldPermissions`
//! (01k) and `PermissionSetAssignment` (0Pa), with the fields the Object Reference lists for them.
//!
//! Permission sets are stored as records of these objects — as Salesforce stores them — so SOQL
//! sees what the Metadata API wrote (`SELECT SobjectType, PermissionsRead FROM ObjectPermissions
//! WHERE Parent.Name = 'X'`), and one enforcement layer can read them back later.
//!
//! Invariant: every reference names an object of the standard schema (`PermissionSet`, `User`,
//! `Profile`), and the child relationships Salesforce names (`PermissionSet.ObjectPerms`,
//! `PermissionSet.FieldPerms`, `PermissionSet.Assignments`, `User.PermissionSetAssignments`) are
//! declared by [`register`].

use indexmap::IndexMap;

use super::{ChildRelationshipDef, FieldDef, FieldType as T, ObjectDef, Schema};

/// The user permissions a permission set carries as `Permissions<Name>` checkbox fields; the
/// Metadata API's `userPermissions` names map onto these.
pub const USER_PERMISSIONS: &[(&str, &str)] = &[
    ("ApiEnabled", "API Enabled"),
    ("ModifyAllData", "Modify All Data"),
    ("ViewAllData", "View All Data"),
    ("ModifyMetadata", "Modify Metadata Through Metadata API Functions"),
    ("CustomizeApplication", "Customize Application"),
    ("ManageUsers", "Manage Users"),
    ("ViewSetup", "View Setup and Configuration"),
    ("AuthorApex", "Author Apex"),
    ("ViewAllUsers", "View All Users"),
];

/// The object permissions of `ObjectPermissions`, as `(field, Metadata API element)`.
pub const OBJECT_PERMISSIONS: &[(&str, &str)] = &[
    ("PermissionsCreate", "allowCreate"),
    ("PermissionsRead", "allowRead"),
    ("PermissionsEdit", "allowEdit"),
    ("PermissionsDelete", "allowDelete"),
    ("PermissionsViewAllRecords", "viewAllRecords"),
    ("PermissionsModifyAllRecords", "modifyAllRecords"),
    ("PermissionsViewAllFields", "viewAllFields"),
];

fn id() -> FieldDef {
    let mut id = FieldDef::new("Id", "Record ID", T::Id);
    id.id_lookup = true;
    id.nillable = false;
    id
}

fn audit() -> Vec<FieldDef> {
    let stamp = |name: &str, label: &str| {
        let mut f = FieldDef::new(name, label, T::Datetime).read_only().defaulted();
        f.nillable = false;
        f
    };
    let by = |name: &str, label: &str, rel: &str| {
        let mut f = FieldDef::new(name, label, T::Reference)
            .refers(&["User"], rel)
            .read_only()
            .defaulted();
        f.nillable = false;
        f
    };
    vec![
        stamp("CreatedDate", "Created Date"),
        by("CreatedById", "Created By ID", "CreatedBy"),
        stamp("LastModifiedDate", "Last Modified Date"),
        by("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
        stamp("SystemModstamp", "System Modstamp"),
    ]
}

fn object(name: &str, label: &str, plural: &str, prefix: &str, fields: Vec<FieldDef>) -> ObjectDef {
    ObjectDef {
        name: name.to_string(),
        label: label.to_string(),
        label_plural: plural.to_string(),
        key_prefix: prefix.to_string(),
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: false,
        retrieveable: true,
        undeletable: false,
        mergeable: false,
        replicateable: true,
        triggerable: false,
        feed_enabled: false,
        fields: fields
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect::<IndexMap<_, _>>(),
    }
}

fn boolean(name: &str, label: &str) -> FieldDef {
    FieldDef::new(name, label, T::Boolean)
}

fn text(name: &str, label: &str, len: u32) -> FieldDef {
    FieldDef::new(name, label, T::String).len(len)
}

fn parent(name: &str, label: &str, to: &str, rel: &str) -> FieldDef {
    let mut f = FieldDef::new(name, label, T::Reference)
        .refers(&[to], rel)
        .create_only();
    f.nillable = false;
    f
}

/// `PermissionSet`: one record per permission set (and one per profile, `IsOwnedByProfile`).
pub fn permission_set() -> ObjectDef {
    let mut name = text("Name", "Name", 80).required();
    name.id_lookup = true;
    let mut label = text("Label", "Label", 80).required();
    label.name_field = true;
    let mut fields = vec![
        id(),
        name,
        label,
        FieldDef::new("ProfileId", "Profile ID", T::Reference)
            .refers(&["Profile"], "Profile")
            .read_only(),
        boolean("IsOwnedByProfile", "Is Owned By Profile").read_only(),
        boolean("IsCustom", "Custom").read_only(),
        text("NamespacePrefix", "Namespace Prefix", 15).read_only(),
        FieldDef::new("Description", "Description", T::Textarea).len(255),
        boolean("HasActivationRequired", "Session Activation Required"),
        FieldDef::new("Type", "Permission Set Type", T::Picklist)
            .values(&["Regular", "Session", "Standard", "Group", "Profile"])
            .restricted()
            .read_only(),
    ];
    fields.extend(
        USER_PERMISSIONS
            .iter()
            .map(|(perm, label)| boolean(&format!("Permissions{perm}"), label)),
    );
    fields.extend(audit());
    object(
        "PermissionSet",
        "Permission Set",
        "Permission Sets",
        "0PS",
        fields,
    )
}

/// `ObjectPermissions`: CRUD access of one permission set to one object.
pub fn object_permissions() -> ObjectDef {
    let mut fields = vec![
        id(),
        parent("ParentId", "Parent ID", "PermissionSet", "Parent"),
        text("SobjectType", "Sobject Type Name", 40)
            .required()
            .create_only(),
    ];
    fields.extend(
        OBJECT_PERMISSIONS
            .iter()
            .map(|(name, _)| boolean(name, &name.replace("Permissions", ""))),
    );
    fields.extend(audit());
    object(
        "ObjectPermissions",
        "Object Permissions",
        "Object Permissions",
        "110",
        fields,
    )
}

/// `FieldPermissions`: field-level security of one permission set on one field.
pub fn field_permissions() -> ObjectDef {
    let mut fields = vec![
        id(),
        parent("ParentId", "Parent ID", "PermissionSet", "Parent"),
        text("SobjectType", "Sobject Type Name", 40)
            .required()
            .create_only(),
        text("Field", "Field Name", 255).required().create_only(),
        boolean("PermissionsRead", "Read Access"),
        boolean("PermissionsEdit", "Edit Access"),
    ];
    fields.extend(audit());
    object(
        "FieldPermissions",
        "Field Permissions",
        "Field Permissions",
        "01k",
        fields,
    )
}

/// `PermissionSetAssignment`: a permission set given to a user.
pub fn permission_set_assignment() -> ObjectDef {
    let mut stamp = FieldDef::new("SystemModstamp", "System Modstamp", T::Datetime)
        .read_only()
        .defaulted();
    stamp.nillable = false;
    let fields = vec![
        id(),
        parent(
            "PermissionSetId",
            "Permission Set ID",
            "PermissionSet",
            "PermissionSet",
        ),
        parent("AssigneeId", "Assignee ID", "User", "Assignee"),
        boolean("IsActive", "Is Active")
            .read_only()
            .default_value(serde_json::Value::Bool(true)),
        FieldDef::new("ExpirationDate", "Expiration Date", T::Datetime),
        stamp,
    ];
    let mut o = object(
        "PermissionSetAssignment",
        "Permission Set Assignment",
        "Permission Set Assignments",
        "0Pa",
        fields,
    );
    o.updateable = false;
    o
}

/// Adds the security objects and their child relationships to `schema`.
pub fn register(schema: &mut Schema) {
    for o in [
        permission_set(),
        object_permissions(),
        field_permissions(),
        permission_set_assignment(),
    ] {
        schema.insert(o);
    }
    let rels: &[(&str, &str, &str, &str, bool)] = &[
        (
            "PermissionSet",
            "ObjectPermissions",
            "ParentId",
            "ObjectPerms",
            true,
        ),
        (
            "PermissionSet",
            "FieldPermissions",
            "ParentId",
            "FieldPerms",
            true,
        ),
        (
            "PermissionSet",
            "PermissionSetAssignment",
            "PermissionSetId",
            "Assignments",
            true,
        ),
        (
            "User",
            "PermissionSetAssignment",
            "AssigneeId",
            "PermissionSetAssignments",
            true,
        ),
    ];
    for (parent, child, field, name, cascade) in rels {
        schema.add_child_relationship(
            parent,
            ChildRelationshipDef {
                child_sobject: child.to_string(),
                field: field.to_string(),
                relationship_name: Some(name.to_string()),
                cascade_delete: *cascade,
            },
        );
    }
}
