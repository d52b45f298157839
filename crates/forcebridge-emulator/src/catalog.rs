//! The org as a SOQL [`Catalog`]: what one caller's query may see, for `forcebridge_soql::execute`.
//!
//! Invariant: names returned are canonical (describe's case); names accepted are matched
//! case-insensitively; records are built from the org's compact rows as the evaluator reads them
//! (never a whole table at once), and a catalog lives only as long as the read lock it was made under.

use std::borrow::Cow;

use forcebridge_soql::{Catalog, ChildRelationship, FieldInfo, FieldKind, Record};
use serde_json::{Value, json};

use crate::ids::SfId;
use crate::org::Org;
use crate::schema::{FieldDef, FieldType};

/// One caller's view of the org.
#[derive(Debug)]
pub struct OrgCatalog<'a> {
    org: &'a Org,
    /// The user the query runs as.
    pub user: SfId,
    /// API version of the request, for `attributes.url`.
    version: String,
    /// The user's object and field access: what it cannot read does not exist here.
    access: crate::security::UserAccess,
}

impl<'a> OrgCatalog<'a> {
    /// A catalog over `org` for `user`, answering URLs of API `version` (e.g. `66.0`).
    pub fn new(org: &'a Org, user: SfId, version: &str) -> Self {
        OrgCatalog {
            access: crate::security::UserAccess::for_user(org, &user),
            org,
            user,
            version: version.to_string(),
        }
    }
}

/// The SOQL kind of a field type.
pub fn kind(f: &FieldDef) -> FieldKind {
    if !f.filterable {
        return FieldKind::Unfilterable;
    }
    match f.ftype {
        FieldType::Id | FieldType::Reference => FieldKind::Id,
        FieldType::Multipicklist => FieldKind::MultiPicklist,
        FieldType::Boolean => FieldKind::Boolean,
        FieldType::Int | FieldType::Double | FieldType::Currency | FieldType::Percent => FieldKind::Number,
        FieldType::Date => FieldKind::Date,
        FieldType::Datetime => FieldKind::DateTime,
        FieldType::Time => FieldKind::Time,
        FieldType::Address | FieldType::Location | FieldType::Base64 => FieldKind::Unfilterable,
        _ => FieldKind::String,
    }
}

/// What SOQL needs to know about one field.
pub fn info(f: &FieldDef) -> FieldInfo {
    FieldInfo {
        name: f.name.clone(),
        kind: kind(f),
        reference_to: f.reference_to.clone(),
        relationship_name: f.relationship_name.clone(),
        groupable: f.groupable,
        sortable: f.sortable,
    }
}

impl Catalog for OrgCatalog<'_> {
    fn object(&self, name: &str) -> Option<String> {
        self.org
            .schema
            .object(name)
            .filter(|o| o.queryable && self.access.object(o).read)
            .map(|o| o.name.clone())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        let def = self.org.schema.object(object)?;
        def.field(field)
            .filter(|f| self.access.field(def, f).read)
            .map(info)
    }

    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        self.org
            .schema
            .object(object)
            .map(|o| {
                o.fields
                    .values()
                    .filter(|f| self.access.field(o, f).read)
                    .map(info)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        let def = self.org.schema.object(object)?;
        def.relationship(relationship)
            .filter(|f| self.access.field(def, f).read)
            .map(info)
    }

    fn child_relationship(&self, object: &str, relationship: &str) -> Option<ChildRelationship> {
        let parent = self.org.schema.object(object)?;
        if !self.access.object(parent).read {
            return None;
        }
        self.org
            .schema
            .child_relationships(&parent.name)
            .iter()
            .find(|r| {
                r.relationship_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(relationship))
            })
            .filter(|r| {
                let child = self.org.schema.object(&r.child_sobject);
                let field = child.and_then(|c| c.field(&r.field).map(|f| (c, f)));
                field.is_some_and(|(c, f)| self.access.field(c, f).read)
            })
            .map(|r| ChildRelationship {
                name: r.relationship_name.clone().unwrap_or_default(),
                child_object: r.child_sobject.clone(),
                field: r.field.clone(),
            })
    }

    fn scan_rows<'s>(
        &'s self,
        object: &str,
        include_deleted: bool,
        fields: Option<&[&str]>,
    ) -> Box<dyn Iterator<Item = Cow<'s, Record>> + 's> {
        let Some(table) = self
            .org
            .schema
            .object(object)
            .and_then(|d| self.org.data.get(&d.name))
        else {
            return Box::new(std::iter::empty());
        };
        let live = move |r: &Cow<'s, Record>| {
            include_deleted || r.get("IsDeleted").and_then(Value::as_bool) != Some(true)
        };
        // Each row is built as the evaluator reaches it, with only the fields the query reads
        // (and `IsDeleted`, read here), and dropped once the evaluator is done with it.
        match fields {
            Some(fields) => {
                let mut wanted = fields.to_vec();
                wanted.push("IsDeleted");
                Box::new(table.records_with(&wanted).map(|(_, r)| r).filter(live))
            }
            None => Box::new(table.records().map(|(_, r)| r).filter(live)),
        }
    }

    fn get_row<'s>(&'s self, id: &str) -> Option<(&'s str, Cow<'s, Record>)> {
        let id = SfId::parse(id).ok()?;
        self.org.find(&id)
    }

    fn attributes(&self, object: &str, id: Option<&str>) -> Value {
        let name = self
            .org
            .schema
            .object(object)
            .map_or_else(|| object.to_string(), |o| o.name.clone());
        match id {
            Some(id) => json!({
                "type": name,
                "url": format!("/services/data/v{}/sobjects/{name}/{id}", self.version),
            }),
            None => json!({ "type": name }),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
