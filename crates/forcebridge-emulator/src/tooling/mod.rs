//! The Tooling API's custom schema resources at `/services/data/vXX.X/tooling/`:
//! `sobjects/CustomObject` and `sobjects/CustomField` (create with `FullName` + `Metadata`, read,
//! update and delete by id) and `query?q=` over them (`SELECT Id, DeveloperName, TableEnumOrId
//! FROM CustomField WHERE ...`), answered by forcebridge-soql over a catalog of the metadata.
//!
//! Invariants: these routes sit under `/services/data/v…`, so the session middleware has put a
//! [`Caller`] in every request that reaches them; changes go through [`crate::schema::custom`]
//! exactly as the Metadata API's do, and need [`crate::metadata::may_modify_metadata`].

pub mod describe;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use forcebridge_soql::{Catalog, ChildRelationship, FieldInfo, FieldKind, Record};
use serde_json::{Map, Value, json};

use crate::app::SharedState;
use crate::error::SfError;
use crate::ids::SfId;
use crate::metadata::{types, xml};
use crate::middleware::Caller;
use crate::org::{Org, now_string};
use crate::schema::custom::{self, Change, FieldSpec, ObjectSpec, SchemaError};

/// Routes of this module: one set per served API version, since a `{version}` segment would
/// conflict with the REST API's catch-all `/services/data/{*rest}`.
pub fn router() -> Router<SharedState> {
    let latest: u32 = crate::config::LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(crate::rest::OLDEST_API_VERSION);
    let mut r = Router::new();
    for v in crate::rest::OLDEST_API_VERSION..=latest {
        let p = format!("/services/data/v{v}.0/tooling");
        r = r
            .route(&format!("{p}/sobjects"), get(describe::global))
            .route(&format!("{p}/sobjects/"), get(describe::global))
            .route(
                &format!("{p}/sobjects/{{object}}/describe"),
                get(describe::describe),
            )
            .route(
                &format!("{p}/sobjects/{{object}}/describe/"),
                get(describe::describe),
            )
            .route(&format!("{p}/sobjects/{{object}}"), post(create))
            .route(
                &format!("{p}/sobjects/{{object}}/{{id}}"),
                get(read).patch(update).delete(remove),
            )
            .route(&format!("{p}/query"), get(query))
            .route(&format!("{p}/query/"), get(query));
    }
    r
}

/// The Tooling objects served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CustomObject,
    CustomField,
}

impl Kind {
    fn parse(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("CustomObject") {
            Some(Kind::CustomObject)
        } else if name.eq_ignore_ascii_case("CustomField") {
            Some(Kind::CustomField)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::CustomObject => "CustomObject",
            Kind::CustomField => "CustomField",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Kind::CustomObject => custom::OBJECTS_TABLE,
            Kind::CustomField => custom::FIELDS_TABLE,
        }
    }
}

/// The API version (`66.0`) of a request path `/services/data/v66.0/tooling/...`.
fn version(uri: &Uri) -> Result<String, SfError> {
    let segment = uri.path().split('/').nth(3).unwrap_or_default();
    crate::rest::parse_version(segment).ok_or_else(SfError::no_resource)
}

fn schema_error(e: &SchemaError) -> SfError {
    SfError::bad_request(e.status_code(), e.to_string()).with_fields(Vec::<String>::new())
}

fn allowed(org: &Org, caller: &Caller) -> Result<(), SfError> {
    if crate::metadata::may_modify_metadata(org, &caller.user_id) {
        Ok(())
    } else {
        Err(SfError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_ACCESS",
            "insufficient access rights on cross-reference id",
        ))
    }
}

/// A body member by name, case-insensitively (`FullName`, `Metadata`).
fn member<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SfError::bad_request(
            "JSON_PARSER_ERROR",
            "The request body must be a JSON object",
        )),
        Err(e) => Err(SfError::bad_request("JSON_PARSER_ERROR", e.to_string())),
    }
}

fn metadata_node(body: &Map<String, Value>) -> xml::Node {
    xml::from_json("Metadata", member(body, "Metadata").unwrap_or(&Value::Null))
}

fn object_spec_from(body: &Map<String, Value>, full_name: &str) -> ObjectSpec {
    let mut spec = types::object_spec(&metadata_node(body));
    spec.full_name = full_name.to_string();
    spec
}

fn field_spec_from(body: &Map<String, Value>, field: &str) -> FieldSpec {
    let mut spec = types::field_spec(&metadata_node(body));
    spec.full_name = field.to_string();
    spec
}

async fn create(
    State(state): State<SharedState>,
    uri: Uri,
    Path(object): Path<String>,
    caller: Option<Extension<Caller>>,
    body: bytes::Bytes,
) -> Response {
    let result = (|| -> Result<SfId, SfError> {
        version(&uri)?;
        let Extension(caller) = caller.ok_or_else(SfError::no_resource)?;
        let kind = Kind::parse(&object).ok_or_else(SfError::no_resource)?;
        let body = body_object(&body)?;
        let full_name = member(&body, "FullName")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SfError::bad_request(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [FullName]",
                )
                .with_fields(["FullName"])
            })?
            .to_string();
        let now = now_string();
        let change = Change {
            user: &caller.user_id,
            now: &now,
        };
        let mut org = state.org_write();
        allowed(&org, &caller)?;
        match kind {
            Kind::CustomObject => {
                let spec = object_spec_from(&body, &full_name);
                custom::create_object(&mut org, &spec, &change).map_err(|e| schema_error(&e))
            }
            Kind::CustomField => {
                let (obj, field) = custom::split_field_name(&full_name).ok_or_else(|| {
                    SfError::bad_request(
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{full_name}: a CustomField FullName must be Object.Field__c"),
                    )
                    .with_fields(["FullName"])
                })?;
                let spec = field_spec_from(&body, field);
                custom::create_field(&mut org, obj, &spec, &change).map_err(|e| schema_error(&e))
            }
        }
    })();
    match result {
        Ok(id) => {
            state.mark_dirty();
            (
                StatusCode::CREATED,
                Json(
                    json!({"id": id.to_string(), "success": true, "errors": [], "warnings": [], "infos": []}),
                ),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The Tooling record of a component (scalar fields; `with_metadata` adds `FullName` and
/// `Metadata`, which Salesforce returns only for single-record reads).
fn record_json(
    org: &Org,
    kind: Kind,
    id: &SfId,
    version: &str,
    with_metadata: bool,
) -> Option<Map<String, Value>> {
    let stored = org.data.get(kind.table())?.get(id)?;
    let s = |k: &str| stored.get(k).cloned().unwrap_or(Value::Null);
    let mut r = Map::new();
    r.insert(
        "attributes".into(),
        json!({"type": kind.name(), "url": format!("/services/data/v{version}/tooling/sobjects/{}/{id}", kind.name())}),
    );
    r.insert("Id".into(), Value::String(id.to_string()));
    let full = stored
        .get("FullName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match kind {
        Kind::CustomObject => {
            let spec = custom::read_object(org, &full);
            r.insert("DeveloperName".into(), s("DeveloperName"));
            r.insert("NamespacePrefix".into(), s("NamespacePrefix"));
            r.insert("ManageableState".into(), s("ManageableState"));
            r.insert(
                "Description".into(),
                spec.as_ref()
                    .and_then(|p| p.description.clone())
                    .map_or(Value::Null, Value::String),
            );
            r.insert(
                "SharingModel".into(),
                spec.as_ref()
                    .and_then(|p| p.sharing_model.clone())
                    .map_or(Value::Null, Value::String),
            );
            r.insert("ExternalName".into(), Value::Null);
            r.insert("CreatedDate".into(), s("CreatedDate"));
            r.insert("CreatedById".into(), s("CreatedById"));
            r.insert("LastModifiedDate".into(), s("LastModifiedDate"));
            r.insert("LastModifiedById".into(), s("LastModifiedById"));
            if with_metadata {
                r.insert("FullName".into(), Value::String(full.clone()));
                r.insert(
                    "Metadata".into(),
                    spec.map_or(Value::Null, |p| object_metadata(&p)),
                );
            }
        }
        Kind::CustomField => {
            let spec = custom::read_field(org, &full);
            let num = |v: Option<u32>| v.map_or(Value::Null, |n| json!(n));
            let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
            r.insert("TableEnumOrId".into(), s("TableEnumOrId"));
            r.insert("DeveloperName".into(), s("DeveloperName"));
            r.insert("NamespacePrefix".into(), s("NamespacePrefix"));
            r.insert("ManageableState".into(), s("ManageableState"));
            r.insert(
                "Description".into(),
                text(spec.as_ref().and_then(|p| p.description.clone())),
            );
            r.insert("Length".into(), num(spec.as_ref().and_then(|p| p.length)));
            r.insert("Precision".into(), num(spec.as_ref().and_then(|p| p.precision)));
            r.insert("Scale".into(), num(spec.as_ref().and_then(|p| p.scale)));
            r.insert(
                "RelationshipLabel".into(),
                text(spec.as_ref().and_then(|p| p.relationship_label.clone())),
            );
            r.insert(
                "InlineHelpText".into(),
                text(spec.as_ref().and_then(|p| p.inline_help_text.clone())),
            );
            r.insert("CreatedDate".into(), s("CreatedDate"));
            r.insert("CreatedById".into(), s("CreatedById"));
            r.insert("LastModifiedDate".into(), s("LastModifiedDate"));
            r.insert("LastModifiedById".into(), s("LastModifiedById"));
            if with_metadata {
                r.insert("FullName".into(), Value::String(full));
                r.insert(
                    "Metadata".into(),
                    spec.map_or(Value::Null, |p| field_metadata(&p)),
                );
            }
        }
    }
    Some(r)
}

/// A field spec as the Tooling API's `Metadata` JSON.
fn field_metadata(spec: &FieldSpec) -> Value {
    let values: Vec<Value> = spec
        .values
        .iter()
        .map(|v| json!({"valueName": v.full_name, "label": v.label.clone().unwrap_or_else(|| v.full_name.clone()), "default": v.default, "isActive": v.is_active}))
        .collect();
    json!({
        "label": spec.label,
        "type": spec.field_type,
        "length": spec.length,
        "precision": spec.precision,
        "scale": spec.scale,
        "visibleLines": spec.visible_lines,
        "required": spec.required,
        "unique": spec.unique,
        "externalId": spec.external_id,
        "caseSensitive": spec.case_sensitive,
        "defaultValue": spec.default_value,
        "referenceTo": spec.reference_to,
        "relationshipName": spec.relationship_name,
        "relationshipLabel": spec.relationship_label,
        "deleteConstraint": spec.delete_constraint,
        "description": spec.description,
        "inlineHelpText": spec.inline_help_text,
        "displayFormat": spec.display_format,
        "startingNumber": spec.starting_number,
        "valueSet": if values.is_empty() { Value::Null } else {
            json!({"restricted": spec.restricted, "valueSetDefinition": {"sorted": spec.sorted, "value": values}})
        },
    })
}

/// An object spec as the Tooling API's `Metadata` JSON.
fn object_metadata(spec: &ObjectSpec) -> Value {
    json!({
        "label": spec.label,
        "pluralLabel": spec.plural_label,
        "description": spec.description,
        "deploymentStatus": spec.deployment_status,
        "sharingModel": spec.sharing_model,
        "enableActivities": spec.enable_activities,
        "enableFeeds": spec.enable_feeds,
        "enableHistory": spec.enable_history,
        "enableReports": spec.enable_reports,
        "nameField": spec.name_field.as_ref().map(|n| json!({"label": n.label, "type": n.field_type})),
    })
}

fn find(org: &Org, kind: Kind, id: &str) -> Result<SfId, SfError> {
    let not_found = || SfError::not_found("The requested resource does not exist");
    let id = SfId::parse(id).map_err(|_| not_found())?;
    org.data
        .get(kind.table())
        .and_then(|t| t.get(&id))
        .map(|_| id)
        .ok_or_else(not_found)
}

async fn read(
    State(state): State<SharedState>,
    uri: Uri,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let result = (|| -> Result<Value, SfError> {
        let v = version(&uri)?;
        let kind = Kind::parse(&object).ok_or_else(SfError::no_resource)?;
        let org = state.org_read();
        let id = find(&org, kind, &id)?;
        record_json(&org, kind, &id, &v, true)
            .map(Value::Object)
            .ok_or_else(SfError::no_resource)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn update(
    State(state): State<SharedState>,
    uri: Uri,
    Path((object, id)): Path<(String, String)>,
    caller: Option<Extension<Caller>>,
    body: bytes::Bytes,
) -> Response {
    let result = (|| -> Result<(), SfError> {
        version(&uri)?;
        let Extension(caller) = caller.ok_or_else(SfError::no_resource)?;
        let kind = Kind::parse(&object).ok_or_else(SfError::no_resource)?;
        let body = body_object(&body)?;
        let now = now_string();
        let change = Change {
            user: &caller.user_id,
            now: &now,
        };
        let mut org = state.org_write();
        allowed(&org, &caller)?;
        let id = find(&org, kind, &id)?;
        let full = org
            .data
            .get(kind.table())
            .and_then(|t| t.get(&id))
            .and_then(|r| r.get("FullName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match kind {
            Kind::CustomObject => {
                let spec = object_spec_from(&body, &full);
                custom::update_object(&mut org, &spec, &change).map_err(|e| schema_error(&e))
            }
            Kind::CustomField => {
                let (obj, field) = custom::split_field_name(&full).ok_or_else(SfError::no_resource)?;
                let spec = field_spec_from(&body, field);
                let obj = obj.to_string();
                custom::update_field(&mut org, &obj, &spec, &change).map_err(|e| schema_error(&e))
            }
        }
    })();
    match result {
        Ok(()) => {
            state.mark_dirty();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn remove(
    State(state): State<SharedState>,
    uri: Uri,
    Path((object, id)): Path<(String, String)>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let result = (|| -> Result<(), SfError> {
        version(&uri)?;
        let Extension(caller) = caller.ok_or_else(SfError::no_resource)?;
        let kind = Kind::parse(&object).ok_or_else(SfError::no_resource)?;
        let mut org = state.org_write();
        allowed(&org, &caller)?;
        let id = find(&org, kind, &id)?;
        let full = org
            .data
            .get(kind.table())
            .and_then(|t| t.get(&id))
            .and_then(|r| r.get("FullName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match kind {
            Kind::CustomObject => custom::delete_object(&mut org, &full),
            Kind::CustomField => match custom::split_field_name(&full) {
                Some((o, f)) => {
                    let (o, f) = (o.to_string(), f.to_string());
                    custom::delete_field(&mut org, &o, &f)
                }
                None => Err(SchemaError::NotFound(format!(
                    "no CustomField named {full} found"
                ))),
            },
        }
        .map_err(|e| schema_error(&e))
    })();
    match result {
        Ok(()) => {
            state.mark_dirty();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The metadata as SOQL sees it: one record list per Tooling object, built for one query.
#[derive(Debug)]
struct ToolingCatalog {
    objects: Vec<(Kind, Vec<Record>)>,
    version: String,
}

fn field_kind(name: &str) -> FieldKind {
    match name {
        "Id" | "CreatedById" | "LastModifiedById" => FieldKind::Id,
        "Length" | "Precision" | "Scale" => FieldKind::Number,
        "CreatedDate" | "LastModifiedDate" => FieldKind::DateTime,
        _ => FieldKind::String,
    }
}

impl ToolingCatalog {
    fn new(org: &Org, version: &str) -> Self {
        let objects = [Kind::CustomObject, Kind::CustomField]
            .into_iter()
            .map(|kind| {
                let records = org
                    .data
                    .get(kind.table())
                    .into_iter()
                    .flat_map(|t| t.iter())
                    .filter_map(|(id, stored)| {
                        let mut r = record_json(org, kind, id, version, false)?;
                        r.shift_remove("attributes");
                        r.insert(
                            "FullName".into(),
                            stored.get("FullName").cloned().unwrap_or(Value::Null),
                        );
                        Some(r)
                    })
                    .collect();
                (kind, records)
            })
            .collect();
        ToolingCatalog {
            objects,
            version: version.to_string(),
        }
    }

    fn records(&self, object: &str) -> Option<&[Record]> {
        let kind = Kind::parse(object)?;
        self.objects
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, r)| r.as_slice())
    }
}

impl Catalog for ToolingCatalog {
    fn object(&self, name: &str) -> Option<String> {
        Kind::parse(name).map(|k| k.name().to_string())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.fields(object)
            .into_iter()
            .find(|f| f.name.eq_ignore_ascii_case(field))
    }

    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        let names: &[&str] = match Kind::parse(object) {
            Some(kind) => tooling_field_names(kind),
            None => &[],
        };
        names
            .iter()
            .map(|n| FieldInfo {
                name: (*n).to_string(),
                kind: field_kind(n),
                reference_to: Vec::new(),
                relationship_name: None,
                groupable: true,
                sortable: true,
            })
            .collect()
    }

    fn parent_relationship(&self, _object: &str, _relationship: &str) -> Option<FieldInfo> {
        None
    }

    fn child_relationship(&self, _object: &str, _relationship: &str) -> Option<ChildRelationship> {
        None
    }

    fn scan<'a>(&'a self, object: &str, _include_deleted: bool) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        match self.records(object) {
            Some(r) => Box::new(r.iter()),
            None => Box::new(std::iter::empty()),
        }
    }

    fn get(&self, id: &str) -> Option<(&str, &Record)> {
        self.objects.iter().find_map(|(k, records)| {
            records
                .iter()
                .find(|r| r.get("Id").and_then(Value::as_str) == Some(id))
                .map(|r| (k.name(), r))
        })
    }

    fn attributes(&self, object: &str, id: Option<&str>) -> Value {
        let name = Kind::parse(object).map_or_else(|| object.to_string(), |k| k.name().to_string());
        match id {
            Some(id) => json!({
                "type": name,
                "url": format!("/services/data/v{}/tooling/sobjects/{name}/{id}", self.version),
            }),
            None => json!({ "type": name }),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

async fn query(
    State(state): State<SharedState>,
    uri: Uri,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let result = (|| -> Result<Value, SfError> {
        let v = version(&uri)?;
        let text = params
            .iter()
            .find(|(k, _)| k == "q")
            .map(|(_, q)| q.as_str())
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| {
                SfError::bad_request("MALFORMED_QUERY", "A query string has to be specified")
                    .without_fields_key()
            })?;
        let soql = |e: forcebridge_soql::SoqlError| {
            SfError::bad_request(e.code(), e.message.clone()).without_fields_key()
        };
        let parsed = forcebridge_soql::parse(text).map_err(soql)?;
        let org = state.org_read();
        let catalog = ToolingCatalog::new(&org, &v);
        let out = forcebridge_soql::execute(&parsed, &catalog, forcebridge_soql::ExecOptions::default())
            .map_err(soql)?;
        // `columns=true` (what command-line tools ask before running a query): the column
        // metadata, as the REST query answers it.
        if params.iter().any(|(k, v)| k == "columns" && v == "true") {
            let kind = Kind::parse(&parsed.select.from.object.name).ok_or_else(SfError::no_resource)?;
            return Ok(crate::rest::columns::metadata(
                &org,
                &describe::definition(kind),
                &parsed.select,
            ));
        }
        let entity = catalog.object(&parsed.select.from.object.name);
        Ok(json!({
            "size": out.total_size,
            "totalSize": out.total_size,
            "done": true,
            "queryLocator": null,
            "entityTypeName": entity,
            "records": out.records,
        }))
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The fields of a Tooling object, as query and describe know them.
fn tooling_field_names(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::CustomObject => &[
            "Id",
            "DeveloperName",
            "NamespacePrefix",
            "ManageableState",
            "Description",
            "SharingModel",
            "ExternalName",
            "CreatedDate",
            "CreatedById",
            "LastModifiedDate",
            "LastModifiedById",
            "FullName",
        ],
        Kind::CustomField => &[
            "Id",
            "TableEnumOrId",
            "DeveloperName",
            "NamespacePrefix",
            "ManageableState",
            "Description",
            "Length",
            "Precision",
            "Scale",
            "RelationshipLabel",
            "InlineHelpText",
            "CreatedDate",
            "CreatedById",
            "LastModifiedDate",
            "LastModifiedById",
            "FullName",
        ],
    }
}
