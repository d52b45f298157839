//! Record writes — create, update, delete, upsert — inside a transaction with an undo log.
//!
//! Every resource that writes (sObject rows, Collections, Composite) goes through [`Tx`], so the
//! same validation and system-field upkeep apply everywhere, and `allOrNone` is one
//! [`Tx::rollback_to`] away.
//!
//! Invariant: each change to a table is preceded by an undo entry holding the record as it was
//! (or `None` for a new record); rolling back to a savepoint restores exactly the tables as they
//! were at that savepoint. Ids handed out meanwhile are burnt, as in Salesforce.

use serde_json::{Map, Value};

use crate::error::SfError;
use crate::ids::SfId;
use crate::org::{Org, Record, derive_fields, now_string};
use crate::schema::{FieldType, ObjectDef};
use crate::validate::{self, Op};

/// One undo entry: the table, the id, and the record before the change.
#[derive(Debug)]
struct Undo {
    object: String,
    id: SfId,
    before: Option<Record>,
}

/// A write transaction over the org.
#[derive(Debug)]
pub struct Tx<'a> {
    pub org: &'a mut Org,
    /// The user the writes are made as (`CreatedById`, `LastModifiedById`, default `OwnerId`).
    pub user: SfId,
    /// The timestamp all writes of this transaction carry.
    pub now: String,
    /// `Sforce-Duplicate-Rule-Header: allowSave=true`: creates skip the duplicate-rule check.
    pub allow_save_duplicates: bool,
    /// The API version of the request (`66.0`), for record URLs inside error details.
    pub api_version: String,
    undo: Vec<Undo>,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    Created(SfId),
    Updated(SfId),
    /// The key matched several records: nothing was written (REST answers 300).
    Multiple(Vec<SfId>),
}

/// The 404 Salesforce answers when a path segment is neither an id of the object nor one of its
/// external id fields.
pub fn no_such_key(segment: &str) -> SfError {
    SfError::not_found(format!(
        "Provided external ID field does not exist or is not accessible: {segment}"
    ))
}

/// The 404 the REST API answers for an sObject type in the path that does not exist.
pub fn unknown_object() -> SfError {
    SfError::no_resource()
}

/// `INVALID_TYPE` as Collections and Composite report an unknown type inside a body.
pub fn invalid_type(name: &str) -> SfError {
    SfError::bad_request("INVALID_TYPE", format!("sObject type '{name}' is not supported."))
}

fn is_deleted(record: &Record) -> bool {
    record.get("IsDeleted").and_then(Value::as_bool) == Some(true)
}

impl<'a> Tx<'a> {
    /// Starts a transaction as `user`, stamped with the current time.
    pub fn new(org: &'a mut Org, user: SfId) -> Self {
        Tx {
            org,
            user,
            now: now_string(),
            allow_save_duplicates: false,
            api_version: crate::config::LATEST_API_VERSION.to_string(),
            undo: Vec::new(),
        }
    }

    /// A point to roll back to.
    pub fn savepoint(&self) -> usize {
        self.undo.len()
    }

    /// Undoes every change made after `savepoint`.
    pub fn rollback_to(&mut self, savepoint: usize) {
        while self.undo.len() > savepoint {
            let Some(entry) = self.undo.pop() else { break };
            match entry.before {
                Some(record) => {
                    self.org.put_record(&entry.object, entry.id, record);
                }
                None => {
                    self.org.remove_record(&entry.object, &entry.id);
                }
            }
        }
    }

    /// Whether anything is (still) changed.
    pub fn changed(&self) -> bool {
        !self.undo.is_empty()
    }

    fn put(&mut self, object: &str, id: SfId, record: Record) {
        let before = self.org.put_record(object, id.clone(), record);
        self.undo.push(Undo {
            object: object.to_string(),
            id,
            before,
        });
    }

    fn object(&self, name: &str) -> Result<&ObjectDef, SfError> {
        self.org.schema.object(name).ok_or_else(|| invalid_type(name))
    }

    /// Creates a record from a request body.
    ///
    /// # Errors
    /// Validation errors ([`validate`]), `DUPLICATE_VALUE` for a unique field,
    /// `INVALID_TYPE` / `CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY` for objects that cannot be created.
    pub fn create(&mut self, object: &str, body: &Map<String, Value>) -> Result<SfId, SfError> {
        let (name, values) = {
            let org: &Org = self.org;
            let def = org.schema.object(object).ok_or_else(|| invalid_type(object))?;
            let access = crate::security::UserAccess::for_user(org, &self.user);
            let allowed = access.object(def);
            if !allowed.read {
                return Err(invalid_type(object));
            }
            if !def.createable {
                return Err(SfError::bad_request(
                    "INVALID_TYPE_FOR_OPERATION",
                    format!("entity type {} does not support insert", def.name),
                ));
            }
            if !allowed.create {
                return Err(crate::security::insufficient_access(None));
            }
            let hidden = crate::security::unwritable_fields(&access, def, body);
            if !hidden.is_empty() {
                return Err(crate::security::fls_error(&hidden));
            }
            let values = validate::check_body(org, def, body, Op::Create)?;
            validate::check_required(def, &values, Op::Create)?;
            check_unique(org, def, &values, None)?;
            crate::security::check_assignment_unique(org, &def.name, &values)?;
            if def.name == crate::streaming::topic::OBJECT {
                crate::streaming::topic::check(org, &self.user, None, &values)?;
            }
            crate::duplicates::check(
                org,
                &def.name,
                &values,
                self.allow_save_duplicates,
                &self.api_version,
            )?;
            (def.name.clone(), values)
        };
        let user = self.user.clone();
        let now = self.now.clone();
        let id = self
            .org
            .insert_new(&name, values, &user, &now)
            .ok_or_else(|| invalid_type(&name))?;
        self.undo.push(Undo {
            object: name,
            id: id.clone(),
            before: None,
        });
        Ok(id)
    }

    /// Removes record `id` of `object` for good, past the recycle bin (Bulk `hardDelete`), with
    /// an undo entry like any other change.
    pub fn purge(&mut self, object: &str, id: &SfId) {
        if let Some(before) = self.org.remove_record(object, id) {
            self.undo.push(Undo {
                object: object.to_string(),
                id: id.clone(),
                before: Some(before),
            });
        }
    }

    /// The live record `id` of `object`, or Salesforce's error for a missing or deleted one.
    fn live(&self, object: &ObjectDef, id: &SfId) -> Result<std::borrow::Cow<'_, Record>, SfError> {
        match self.org.record(&object.name, id) {
            None => Err(SfError::not_found("The requested resource does not exist")),
            Some(r) if is_deleted(&r) => Err(SfError::new(
                axum::http::StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
            )),
            Some(r) => Ok(r),
        }
    }

    /// Updates a record from a request body.
    ///
    /// # Errors
    /// `NOT_FOUND` / `ENTITY_IS_DELETED` for the record, validation errors for the body.
    pub fn update(&mut self, object: &str, id: &SfId, body: &Map<String, Value>) -> Result<(), SfError> {
        if let Some(given) = body
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
            .map(|(_, v)| v)
        {
            let same = given
                .as_str()
                .and_then(|s| SfId::parse(s).ok())
                .is_some_and(|g| &g == id);
            if !same {
                return Err(SfError::bad_request(
                    "INVALID_ID_FIELD",
                    format!(
                        "The Id field should not be specified in the sobject data: {}",
                        validate::value_text(given)
                    ),
                ));
            }
        }
        let (name, record) = {
            let def = self.object(object)?;
            let access = crate::security::UserAccess::for_user(self.org, &self.user);
            let allowed = access.object(def);
            if !allowed.read {
                return Err(invalid_type(object));
            }
            if !def.updateable {
                return Err(SfError::bad_request(
                    "INVALID_TYPE_FOR_OPERATION",
                    format!("entity type {} does not support update", def.name),
                ));
            }
            if !allowed.edit {
                return Err(crate::security::insufficient_access(Some(id)));
            }
            let hidden = crate::security::unwritable_fields(&access, def, body);
            if !hidden.is_empty() {
                return Err(crate::security::fls_error(&hidden));
            }
            let before = self.live(def, id)?;
            let org: &Org = self.org;
            let values = validate::check_body(org, def, body, Op::Update)?;
            validate::check_required(def, &values, Op::Update)?;
            check_unique(org, def, &values, Some(id))?;
            let mut record = before.clone().into_owned();
            for (k, v) in values {
                record.insert(k, v);
            }
            if def.name == crate::streaming::topic::OBJECT {
                crate::streaming::topic::check(org, &self.user, Some(id), &record)?;
            }
            self.stamp(&mut record);
            derive_fields(def, &mut record, Some(&before), &self.now);
            (def.name.clone(), record)
        };
        self.put(&name, id.clone(), record);
        Ok(())
    }

    fn stamp(&self, record: &mut Record) {
        let user = Value::String(self.user.to_string());
        let now = Value::String(self.now.clone());
        record.insert("LastModifiedDate".into(), now.clone());
        record.insert("LastModifiedById".into(), user);
        record.insert("SystemModstamp".into(), now);
    }

    /// Deletes a record (kept with `IsDeleted = true`, as the recycle bin keeps it) and the
    /// children of its cascade-delete relationships. `object`, when given, must be the record's.
    ///
    /// # Errors
    /// `NOT_FOUND`, `ENTITY_IS_DELETED`, or `INVALID_TYPE_FOR_OPERATION` for objects that cannot
    /// be deleted.
    pub fn delete(&mut self, object: Option<&str>, id: &SfId) -> Result<(), SfError> {
        let name = {
            let def = self
                .org
                .schema
                .object_by_prefix(id.key_prefix())
                .ok_or_else(|| SfError::not_found("The requested resource does not exist"))?;
            if object.is_some_and(|o| !o.eq_ignore_ascii_case(&def.name)) {
                return Err(SfError::not_found("The requested resource does not exist"));
            }
            let allowed = crate::security::object_access(self.org, &self.user, &def.name);
            if !allowed.read {
                return Err(SfError::not_found("The requested resource does not exist"));
            }
            if !def.deletable {
                return Err(SfError::bad_request(
                    "INVALID_TYPE_FOR_OPERATION",
                    format!("entity type {} does not support delete", def.name),
                ));
            }
            if !allowed.delete {
                return Err(crate::security::insufficient_access(Some(id)));
            }
            self.live(def, id)?;
            def.name.clone()
        };
        self.delete_tree(&name, id, 0);
        Ok(())
    }

    fn delete_tree(&mut self, object: &str, id: &SfId, depth: usize) {
        let Some(mut record) = self.org.record(object, id).map(std::borrow::Cow::into_owned) else {
            return;
        };
        if is_deleted(&record) {
            return;
        }
        record.insert("IsDeleted".into(), Value::Bool(true));
        self.stamp(&mut record);
        self.put(object, id.clone(), record);
        if depth > 16 {
            return;
        }
        let children: Vec<(String, SfId)> = self
            .org
            .schema
            .child_relationships(object)
            .iter()
            .filter(|r| r.cascade_delete)
            .flat_map(|r| {
                // The live children by their lookup field: an index lookup, not a scan of the
                // child table per deleted parent (a Bulk delete of many parents).
                let field = self
                    .org
                    .schema
                    .object(&r.child_sobject)
                    .and_then(|c| c.fields.get(&r.field).map(|f| (c, f)));
                field
                    .map(|(child, f)| validate::find_by_field(self.org, child, f, id.as_str()))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|cid| (r.child_sobject.clone(), cid))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (child_object, child_id) in children {
            self.delete_tree(&child_object, &child_id, depth + 1);
        }
    }

    /// Restores a deleted record from the recycle bin (and nothing else: children deleted with
    /// it stay deleted, as an undelete of one record restores only what is named).
    ///
    /// # Errors
    /// `NOT_FOUND` for an unknown id, `UNDELETE_FAILED` for a record that is not deleted.
    pub fn undelete(&mut self, id: &SfId) -> Result<(), SfError> {
        let (name, mut record) = {
            let def = self
                .org
                .schema
                .object_by_prefix(id.key_prefix())
                .ok_or_else(|| SfError::not_found("The requested resource does not exist"))?;
            let record = self
                .org
                .record(&def.name, id)
                .ok_or_else(|| SfError::not_found("The requested resource does not exist"))?;
            if !is_deleted(&record) {
                return Err(SfError::bad_request(
                    "UNDELETE_FAILED",
                    "Entity is not in the recycle bin",
                ));
            }
            (def.name.clone(), record.into_owned())
        };
        record.insert("IsDeleted".into(), Value::Bool(false));
        self.stamp(&mut record);
        self.put(&name, id.clone(), record);
        Ok(())
    }

    /// The records of `object` whose `field` (an external id, id-lookup field, or `Id`) equals
    /// `value`.
    ///
    /// # Errors
    /// `NOT_FOUND` "Provided external ID field does not exist or is not accessible" for a field
    /// that cannot key an upsert.
    pub fn matches(&self, object: &str, field: &str, value: &str) -> Result<(String, Vec<SfId>), SfError> {
        let def = self.object(object)?;
        lookup(self.org, def, field, value)
    }

    /// Upserts by `field` = `value`: creates when nothing matches, updates the one match, and
    /// reports several matches without writing. With `field` = `Id` and an empty value it creates.
    ///
    /// # Errors
    /// As [`Tx::create`] and [`Tx::update`], plus the errors of [`Tx::matches`].
    pub fn upsert(
        &mut self,
        object: &str,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
    ) -> Result<Upserted, SfError> {
        let (field_name, found) = self.matches(object, field, value)?;
        self.upsert_found(object, &field_name, value, found, body)
    }

    /// [`Tx::upsert`] with the matching records already found (`field_name` canonical).
    fn upsert_found(
        &mut self,
        object: &str,
        field_name: &str,
        value: &str,
        found: Vec<SfId>,
        body: &Map<String, Value>,
    ) -> Result<Upserted, SfError> {
        let field_name = field_name.to_string();
        let is_id = field_name == "Id";
        let mut body = body.clone();
        // The key's value comes from the URL (or the Collections record); a body repeating it —
        // `"Id": null` included — is accepted.
        body.retain(|k, _| !k.eq_ignore_ascii_case(&field_name));
        match found.as_slice() {
            [] if is_id && !value.is_empty() => {
                Err(SfError::not_found("The requested resource does not exist"))
            }
            [] => {
                if !is_id {
                    body.insert(field_name, Value::String(value.to_string()));
                }
                self.create(object, &body).map(Upserted::Created)
            }
            [one] => {
                body.retain(|k, _| !k.eq_ignore_ascii_case("Id"));
                self.update(object, one, &body)?;
                Ok(Upserted::Updated(one.clone()))
            }
            _ => Ok(Upserted::Multiple(found)),
        }
    }
}

impl Drop for Tx<'_> {
    /// The commit point: whatever is still in the undo log was not rolled back, so its net
    /// changes go to the event bus, in write order, as one transaction.
    fn drop(&mut self) {
        let origin = format!("com/salesforce/api/rest/{}", self.api_version);
        let undo = std::mem::take(&mut self.undo);
        crate::events::capture::commit(
            self.org,
            undo.iter().map(|u| (u.object.as_str(), &u.id, u.before.as_ref())),
            &self.user,
            &origin,
            &self.now,
        );
    }
}

/// Finds the live records of `def` keyed by `field` = `value` (see [`Tx::matches`]).
///
/// # Errors
/// `NOT_FOUND` for a field that cannot key an upsert; `MALFORMED_ID` for a bad `Id` value.
pub fn lookup(org: &Org, def: &ObjectDef, field: &str, value: &str) -> Result<(String, Vec<SfId>), SfError> {
    let fd = def
        .field(field)
        .filter(|f| f.external_id || f.id_lookup || f.ftype == FieldType::Id)
        .ok_or_else(|| no_such_key(field))?;
    if fd.ftype == FieldType::Id {
        if value.is_empty() {
            return Ok((fd.name.clone(), Vec::new()));
        }
        let id = SfId::parse(value).map_err(|_| {
            SfError::bad_request(
                "MALFORMED_ID",
                format!("{} ID: id value of incorrect type: {value}", def.label),
            )
            .with_fields(["Id"])
        })?;
        let live = org.record(&def.name, &id).is_some_and(|r| !is_deleted(&r));
        return Ok((fd.name.clone(), if live { vec![id] } else { Vec::new() }));
    }
    Ok((fd.name.clone(), validate::find_by_field(org, def, fd, value)))
}

/// `DUPLICATE_VALUE` when a unique field of `values` already belongs to another live record.
fn check_unique(org: &Org, def: &ObjectDef, values: &Record, except: Option<&SfId>) -> Result<(), SfError> {
    for (name, value) in values {
        let Some(fd) = def.fields.get(name).filter(|f| f.unique) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let text = validate::value_text(value);
        if let Some(other) = validate::find_by_field(org, def, fd, &text)
            .into_iter()
            .find(|id| Some(id) != except)
        {
            return Err(SfError::bad_request(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: {} duplicates value on record with id: {other}",
                    fd.name
                ),
            )
            .with_fields(Vec::<String>::new()));
        }
    }
    Ok(())
}
