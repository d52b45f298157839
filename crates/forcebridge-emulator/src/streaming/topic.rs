//! The `PushTopic` sObject (key prefix `0IF`): its fields, the checks Salesforce makes on its
//! query, and the matching of a change against a topic.
//!
//! Invariants: a PushTopic's query names one object, selects `Id`, and uses no aggregate,
//! relationship, subquery, `ORDER BY`, `LIMIT` or `OFFSET` — refused at create and update, so
//! [`active`] only ever sees queries it can evaluate; an event is delivered on a topic only when
//! the topic notifies for its operation, its `NotifyForFields` rule is met, and the record (as it
//! is after the change) satisfies the query's WHERE clause.

use forcebridge_soql::ast::{Condition, InList, Operand, SelectItem};
use forcebridge_soql::{Catalog, ChildRelationship, ExecOptions, FieldInfo, Record};
use indexmap::IndexMap;
use serde_json::Value;

use crate::catalog::OrgCatalog;
use crate::error::SfError;
use crate::events::{BusEvent, ChangeType};
use crate::ids::SfId;
use crate::org::Org;
use crate::schema::{FieldDef, FieldType as T, ObjectDef, Schema};

/// The object's name.
pub const OBJECT: &str = "PushTopic";

/// Registers `PushTopic` in a schema.
pub fn register(schema: &mut Schema) {
    let f = FieldDef::new;
    let mut id = f("Id", "Push Topic ID", T::Id);
    id.id_lookup = true;
    id.nillable = false;
    let mut name = f("Name", "Topic Name", T::String).required().name_field();
    name.length = 25;
    let mut query = f("Query", "SOQL Query", T::String).required();
    query.length = 1300;
    let mut version = f("ApiVersion", "API Version", T::Double).required();
    version.precision = 18;
    version.scale = 1;
    let flag = |n: &str, l: &str| {
        let mut fd = f(n, l, T::Boolean);
        fd.default_value = Some(Value::Bool(true));
        fd
    };
    let mut notify = f("NotifyForFields", "Notify For Fields", T::Picklist)
        .defaulted()
        .values(&["All", "Referenced", "Select", "Where"]);
    notify.default_value = Some(Value::String("Referenced".into()));
    notify.restricted_picklist = true;
    let mut description = f("Description", "Description", T::String);
    description.length = 400;
    let at = |n: &str, l: &str| f(n, l, T::Datetime).read_only().defaulted();
    let by = |n: &str, l: &str, rel: &str| {
        f(n, l, T::Reference)
            .refers(&["User"], rel)
            .read_only()
            .defaulted()
    };
    let mut fields = IndexMap::new();
    for fd in [
        id,
        f("IsDeleted", "Deleted", T::Boolean).read_only(),
        name,
        query,
        version,
        flag("IsActive", "Is Active"),
        notify,
        flag("NotifyForOperationCreate", "Create"),
        flag("NotifyForOperationUpdate", "Update"),
        flag("NotifyForOperationDelete", "Delete"),
        flag("NotifyForOperationUndelete", "Undelete"),
        description,
        at("CreatedDate", "Created Date"),
        by("CreatedById", "Created By ID", "CreatedBy"),
        at("LastModifiedDate", "Last Modified Date"),
        by("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
        at("SystemModstamp", "System Modstamp"),
    ] {
        fields.insert(fd.name.clone(), fd);
    }
    schema.insert(ObjectDef {
        name: OBJECT.into(),
        label: "Push Topic".into(),
        label_plural: "Push Topics".into(),
        key_prefix: "0IF".into(),
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: false,
        retrieveable: true,
        undeletable: false,
        mergeable: false,
        replicateable: false,
        triggerable: false,
        feed_enabled: false,
        fields,
    });
}

/// `NotifyForFields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFor {
    All,
    Referenced,
    Select,
    Where,
}

/// A PushTopic, parsed.
#[derive(Debug, Clone)]
pub struct Topic {
    pub id: SfId,
    pub name: String,
    /// The `FROM` object, canonical.
    pub object: String,
    pub query: forcebridge_soql::Query,
    pub api_version: String,
    pub active: bool,
    pub notify: NotifyFor,
    pub on_create: bool,
    pub on_update: bool,
    pub on_delete: bool,
    pub on_undelete: bool,
    /// Fields of the SELECT list and of the WHERE clause (canonical names).
    pub select_fields: Vec<String>,
    pub where_fields: Vec<String>,
    /// Who created the topic: the query is evaluated as that user.
    pub owner: SfId,
}

fn text(r: &Record, k: &str) -> Option<String> {
    r.get(k).and_then(Value::as_str).map(str::to_string)
}

fn flag(r: &Record, k: &str) -> bool {
    r.get(k).and_then(Value::as_bool).unwrap_or(true)
}

fn where_fields(c: &Condition, out: &mut Vec<String>) {
    let operand = |o: &Operand, out: &mut Vec<String>| {
        if let Operand::Field(p) = o {
            out.push(p.dotted());
        }
    };
    match c {
        Condition::And(cs) | Condition::Or(cs) => cs.iter().for_each(|c| where_fields(c, out)),
        Condition::Not(c) => where_fields(c, out),
        Condition::Compare { lhs, .. } | Condition::Includes { lhs, .. } => operand(lhs, out),
        Condition::In { lhs, .. } => operand(lhs, out),
    }
}

fn has_subquery(c: &Condition) -> bool {
    match c {
        Condition::And(cs) | Condition::Or(cs) => cs.iter().any(has_subquery),
        Condition::Not(c) => has_subquery(c),
        Condition::In { list, .. } => matches!(list, InList::Subquery(_)),
        _ => false,
    }
}

fn bad(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALID_FIELD", message).with_fields(["Query"])
}

/// Parses and checks a PushTopic query as Salesforce does at save time; returns the FROM object
/// (canonical) with the SELECT and WHERE fields (canonical).
///
/// # Errors
/// `MALFORMED_QUERY` / `INVALID_FIELD` / `INVALID_TYPE` as SOQL reports them, and the
/// PushTopic-specific refusals (no `Id`, aggregates, relationships, `ORDER BY`, `LIMIT`…).
pub fn check_query(
    org: &Org,
    user: &SfId,
    text: &str,
) -> Result<(forcebridge_soql::Query, String, Vec<String>, Vec<String>), SfError> {
    let query = forcebridge_soql::parse(text)
        .map_err(|e| SfError::bad_request(e.code(), e.message.clone()).with_fields(["Query"]))?;
    let s = &query.select;
    let catalog = OrgCatalog::new(org, user.clone(), crate::config::LATEST_API_VERSION);
    let object = catalog.object(query.from_object()).ok_or_else(|| {
        SfError::bad_request(
            "INVALID_TYPE",
            format!("sObject type '{}' is not supported.", query.from_object()),
        )
        .with_fields(["Query"])
    })?;
    if object == OBJECT {
        return Err(bad("PushTopic is not supported in a PushTopic query"));
    }
    if !s.order_by.is_empty() {
        return Err(bad("ORDER BY is not allowed in a PushTopic query"));
    }
    if s.limit.is_some() || s.offset.is_some() {
        return Err(bad("LIMIT and OFFSET are not allowed in a PushTopic query"));
    }
    if !s.group_by.is_empty() || s.having.is_some() {
        return Err(bad("Aggregate queries are not supported"));
    }
    if s.where_.as_ref().is_some_and(has_subquery) {
        return Err(bad("Semi-join and anti-join subqueries are not supported"));
    }
    let mut select = Vec::new();
    for item in &s.select {
        match item {
            SelectItem::Field { path, .. } if path.parts.len() == 1 => select.push(path.dotted()),
            SelectItem::Field { .. } => {
                return Err(bad("Relationship fields are not supported in a PushTopic query"));
            }
            SelectItem::Aggregate { .. } | SelectItem::Date { .. } => {
                return Err(bad("Aggregate queries are not supported"));
            }
            SelectItem::Subquery(_) => return Err(bad("Subqueries are not supported")),
            _ => return Err(bad("Only plain fields can be selected in a PushTopic query")),
        }
    }
    let mut wheres = Vec::new();
    if let Some(c) = &s.where_ {
        where_fields(c, &mut wheres);
    }
    if wheres.iter().any(|w| w.contains('.')) {
        return Err(bad("Relationship fields are not supported in a PushTopic query"));
    }
    let canonical = |names: Vec<String>| -> Result<Vec<String>, SfError> {
        names
            .into_iter()
            .map(|n| {
                catalog
                    .field(&object, &n)
                    .map(|f| f.name)
                    .ok_or_else(|| bad(format!("No such column '{n}' on entity '{object}'")))
            })
            .collect()
    };
    let select = canonical(select)?;
    let wheres = canonical(wheres)?;
    if !select.iter().any(|f| f == "Id") {
        return Err(bad("The SELECT statement's field list must include Id"));
    }
    // Runs once over no rows, so literal types and operators are checked as a query would.
    let empty = OneRecord {
        inner: &catalog,
        object: &object,
        record: None,
    };
    forcebridge_soql::execute(&query, &empty, ExecOptions::default())
        .map_err(|e| SfError::bad_request(e.code(), e.message.clone()).with_fields(["Query"]))?;
    Ok((query, object, select, wheres))
}

/// Checks a PushTopic's values before they are saved (`values` canonical, as after validation;
/// on update, merged over the existing record).
///
/// # Errors
/// See [`check_query`]; `DUPLICATE_VALUE` for a name another topic has.
pub fn check(org: &Org, user: &SfId, id: Option<&SfId>, values: &Record) -> Result<(), SfError> {
    if let Some(q) = text(values, "Query") {
        check_query(org, user, &q)?;
    }
    if let Some(name) = text(values, "Name") {
        let taken = org.data.get(OBJECT).is_some_and(|t| {
            t.iter().any(|(other, r)| {
                Some(other) != id
                    && r.get("IsDeleted").and_then(Value::as_bool) != Some(true)
                    && text(r, "Name").is_some_and(|n| n.eq_ignore_ascii_case(&name))
            })
        });
        if taken {
            return Err(SfError::bad_request(
                "DUPLICATE_VALUE",
                format!("duplicate value found: Name duplicates value on record with name: {name}"),
            )
            .with_fields(["Name"]));
        }
    }
    Ok(())
}

fn parse_topic(org: &Org, id: &SfId, r: &Record) -> Option<Topic> {
    let owner = text(r, "CreatedById")
        .and_then(|u| SfId::parse(&u).ok())
        .or_else(|| org.admin_user_id().cloned())?;
    let (query, object, select_fields, where_fields) = check_query(org, &owner, &text(r, "Query")?).ok()?;
    let notify = match text(r, "NotifyForFields").as_deref() {
        Some("All") => NotifyFor::All,
        Some("Select") => NotifyFor::Select,
        Some("Where") => NotifyFor::Where,
        _ => NotifyFor::Referenced,
    };
    Some(Topic {
        id: id.clone(),
        name: text(r, "Name")?,
        object,
        query,
        api_version: r.get("ApiVersion").map(|v| v.to_string()).unwrap_or_default(),
        active: flag(r, "IsActive"),
        notify,
        on_create: flag(r, "NotifyForOperationCreate"),
        on_update: flag(r, "NotifyForOperationUpdate"),
        on_delete: flag(r, "NotifyForOperationDelete"),
        on_undelete: flag(r, "NotifyForOperationUndelete"),
        select_fields,
        where_fields,
        owner,
    })
}

/// Every live PushTopic whose query still checks, active or not.
pub fn all(org: &Org) -> Vec<Topic> {
    let Some(table) = org.data.get(OBJECT) else {
        return Vec::new();
    };
    table
        .iter()
        .filter(|(_, r)| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
        .filter_map(|(id, r)| parse_topic(org, id, r))
        .collect()
}

/// The active PushTopics.
pub fn active(org: &Org) -> Vec<Topic> {
    all(org).into_iter().filter(|t| t.active).collect()
}

/// The live PushTopic named `name` (case-sensitive, as channel names are).
pub fn by_name(org: &Org, name: &str) -> Option<Topic> {
    all(org).into_iter().find(|t| t.name == name)
}

/// The `sobject` of the PushTopic event for `event` on `topic`, or `None` when the topic does
/// not notify for it.
pub fn matches(org: &Org, topic: &Topic, event: &BusEvent) -> Option<Value> {
    if event.entity != topic.object {
        return None;
    }
    let wanted = match event.change_type {
        ChangeType::Create => topic.on_create,
        ChangeType::Update => topic.on_update,
        ChangeType::Delete => topic.on_delete,
        ChangeType::Undelete => topic.on_undelete,
        _ => false,
    };
    if !wanted {
        return None;
    }
    if event.change_type == ChangeType::Update {
        let changed = |fields: &[String]| fields.iter().any(|f| event.changed_fields.contains(f));
        let ok = match topic.notify {
            NotifyFor::All => true,
            NotifyFor::Select => changed(&topic.select_fields),
            NotifyFor::Where => topic.where_fields.is_empty() || changed(&topic.where_fields),
            NotifyFor::Referenced => changed(&topic.select_fields) || changed(&topic.where_fields),
        };
        if !ok {
            return None;
        }
    }
    let catalog = OrgCatalog::new(org, topic.owner.clone(), crate::config::LATEST_API_VERSION);
    let one = OneRecord {
        inner: &catalog,
        object: &topic.object,
        record: Some(&event.record),
    };
    let out = forcebridge_soql::execute(
        &topic.query,
        &one,
        ExecOptions {
            include_deleted: true,
            omit_attributes: true,
        },
    )
    .ok()?;
    let mut row = out.records.into_iter().next()?;
    if event.change_type == ChangeType::Delete {
        // A deleted record's event carries only its id.
        let id = row.get("Id").cloned().unwrap_or(Value::Null);
        row = serde_json::json!({ "Id": id });
    }
    Some(row)
}

/// A catalog that sees one record (or none) of one object, and the org's schema otherwise.
struct OneRecord<'a> {
    inner: &'a OrgCatalog<'a>,
    object: &'a str,
    record: Option<&'a Record>,
}

impl Catalog for OneRecord<'_> {
    fn object(&self, name: &str) -> Option<String> {
        self.inner.object(name)
    }
    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.inner.field(object, field)
    }
    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        self.inner.fields(object)
    }
    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        self.inner.parent_relationship(object, relationship)
    }
    fn child_relationship(&self, object: &str, relationship: &str) -> Option<ChildRelationship> {
        self.inner.child_relationship(object, relationship)
    }
    fn scan<'a>(&'a self, object: &str, _include_deleted: bool) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        if object == self.object {
            Box::new(self.record.into_iter())
        } else {
            Box::new(std::iter::empty())
        }
    }
    fn get(&self, id: &str) -> Option<(&str, &Record)> {
        self.inner.get(id)
    }
    fn attributes(&self, object: &str, id: Option<&str>) -> Value {
        self.inner.attributes(object, id)
    }
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.now()
    }
}
