//! The Metadata API (SOAP) at `/services/Soap/m/{version}` (and below it, where clients append
//! the org id or `deployRequest/...`): `createMetadata`, `readMetadata`, `updateMetadata`,
//! `upsertMetadata`, `deleteMetadata`, `listMetadata` for `CustomObject`, `CustomField` and
//! `PermissionSet`, `deploy` / `checkDeployStatus` of a zip package holding the same types, and
//! `retrieve` / `checkRetrieveStatus` / `describeMetadata` ([`retrieve`]).
//!
//! Envelopes, results (`SaveResult`, `UpsertResult`, `DeleteResult`, `ReadResult`,
//! `FileProperties`, `AsyncResult`, `DeployResult`) and faults follow the Metadata API WSDL
//! (namespace `http://soap.sforce.com/2006/04/metadata`).
//!
//! Invariants: every answer is a SOAP envelope — a `...Response` with HTTP 200, or a
//! `soapenv:Fault` with HTTP 500; a call needs a live session in its `SessionHeader` and the
//! permission [`may_modify_metadata`] grants; per-component problems are reported in the
//! component's result, never as a fault, and a failed component changes nothing.

pub mod deploy;
pub mod permset;
pub mod retrieve;
pub mod types;
pub mod xml;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;

use crate::app::SharedState;
use crate::ids::SfId;
use crate::org::{Org, Record, now_string};
use crate::schema::custom::{self, Change, SchemaError};

use xml::{Node, el, esc};

/// The Metadata API namespace.
pub const NS: &str = "http://soap.sforce.com/2006/04/metadata";

/// Most components one CRUD call accepts (Salesforce's limit for these types).
const MAX_COMPONENTS: usize = 10;

/// Largest request accepted: a deploy carries its zip base64-encoded in the envelope, and
/// Salesforce accepts zips of up to 39 MB.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Most queries one `listMetadata` call accepts.
const MAX_LIST_QUERIES: usize = 3;

/// The Metadata types this emulator serves.
const TYPES: &[&str] = &["CustomObject", "CustomField", "PermissionSet"];

/// Routes of this module.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/services/Soap/m/{version}", post(handle))
        // simple-salesforce's Metadata client posts to the URL with a trailing slash.
        .route("/services/Soap/m/{version}/", post(handle))
        .route("/services/Soap/m/{version}/{*rest}", post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Whether `user` may change metadata ("Modify All Data", "Modify Metadata" or "Customize
/// Application", from the profile or an assigned permission set). The one place this is decided.
pub fn may_modify_metadata(org: &Org, user: &SfId) -> bool {
    use crate::security::{SystemPermission as P, UserAccess};
    let access = UserAccess::for_user(org, user);
    access.has(P::ModifyAllData) || access.has(P::ModifyMetadata) || access.has(P::CustomizeApplication)
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body).into_response()
}

/// A `soapenv:Fault` with `sf:<code>` as Salesforce sends Metadata API faults.
pub fn fault(code: &str, message: &str) -> Response {
    let message = esc(message);
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:sf=\"{NS}\">\
             <soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>\
             <faultstring>{code}: {message}</faultstring></soapenv:Fault></soapenv:Body>\
             </soapenv:Envelope>"
        ),
    )
}

fn client_fault(message: &str) -> Response {
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault>\
             <faultcode>soapenv:Client</faultcode><faultstring>{}</faultstring></soapenv:Fault>\
             </soapenv:Body></soapenv:Envelope>",
            esc(message)
        ),
    )
}

/// A successful answer: `<{operation}Response>{inner}</...>` in an envelope.
fn envelope(operation: &str, inner: &str) -> Response {
    xml_response(
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"{NS}\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>\
             <{operation}Response>{inner}</{operation}Response></soapenv:Body></soapenv:Envelope>"
        ),
    )
}

/// A stored `...+0000` timestamp as xsd:dateTime (`...Z`).
pub fn soap_datetime(stored: &str) -> String {
    stored
        .strip_suffix("+0000")
        .map_or_else(|| stored.to_string(), |s| format!("{s}Z"))
}

/// The `Name` of a user, for `createdByName` and the like.
pub fn user_name(org: &Org, user: &str) -> String {
    SfId::parse(user)
        .ok()
        .and_then(|id| org.record("User", &id).map(std::borrow::Cow::into_owned))
        .and_then(|r| r.get("Name").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

async fn handle(State(state): State<SharedState>, body: Bytes) -> Response {
    let root = match xml::parse(&body) {
        Ok(r) => r,
        Err(e) => return client_fault(&e.to_string()),
    };
    let Some(op) = root.child("Body").and_then(|b| b.children.first()) else {
        return client_fault("the SOAP envelope has no Body operation");
    };
    let session = root
        .child("Header")
        .and_then(|h| h.child("SessionHeader"))
        .and_then(|s| s.text_of("sessionId"))
        .unwrap_or_default()
        .to_string();
    let user = {
        let org = state.org_read();
        let Some(s) = crate::middleware::live_session(&org, &session) else {
            return fault(
                "INVALID_SESSION_ID",
                "Invalid Session ID found in SessionHeader: Illegal Session",
            );
        };
        if !may_modify_metadata(&org, &s.user_id) {
            return fault(
                "INSUFFICIENT_ACCESS",
                "insufficient access rights on cross-reference id",
            );
        }
        s.user_id
    };
    match op.name.as_str() {
        "createMetadata" => crud(&state, op, &user, Mode::Create),
        "updateMetadata" => crud(&state, op, &user, Mode::Update),
        "upsertMetadata" => crud(&state, op, &user, Mode::Upsert),
        "deleteMetadata" => delete(&state, op),
        "readMetadata" => read(&state, op),
        "listMetadata" => list(&state, op),
        "deploy" => deploy::start(&state, op, &user),
        "checkDeployStatus" => deploy::status(&state, op),
        "retrieve" => retrieve::start(&state, op, &user),
        "checkRetrieveStatus" => retrieve::status(&state, op),
        "describeMetadata" => retrieve::describe(),
        other => client_fault(&format!("No operation available for request {{{NS}}}{other}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Update,
    Upsert,
}

impl Mode {
    fn operation(self) -> &'static str {
        match self {
            Mode::Create => "createMetadata",
            Mode::Update => "updateMetadata",
            Mode::Upsert => "upsertMetadata",
        }
    }
}

fn unknown_type(t: &str) -> Response {
    fault(
        "INVALID_TYPE",
        &format!("Unknown type name '{t}' specified in metadata"),
    )
}

fn too_many() -> Response {
    fault(
        "EXCEEDED_ID_LIMIT",
        &format!("record limit reached. cannot submit more than {MAX_COMPONENTS} records in this operation"),
    )
}

/// One component's outcome: `Ok(created)` or the error.
type Outcome = Result<bool, SchemaError>;

/// Applies one component of type `t` (create, update or upsert).
fn apply(org: &mut Org, t: &str, node: &Node, mode: Mode, change: &Change<'_>) -> Outcome {
    match t {
        "CustomObject" => {
            let spec = types::object_spec(node);
            let exists = custom::object_record(org, &spec.full_name).is_some();
            match (mode, exists) {
                (Mode::Create, _) | (Mode::Upsert, false) => {
                    custom::create_object(org, &spec, change).map(|_| true)
                }
                (Mode::Update, _) | (Mode::Upsert, true) => {
                    custom::update_object(org, &spec, change).map(|()| false)
                }
            }
        }
        "CustomField" => {
            let mut spec = types::field_spec(node);
            let full = spec.full_name.clone();
            let (object, field) = custom::split_field_name(&full).ok_or_else(|| {
                SchemaError::Integrity(format!("{full}: a CustomField fullName must be Object.Field__c"))
            })?;
            spec.full_name = field.to_string();
            let exists = org
                .schema
                .object(object)
                .and_then(|o| o.field(field))
                .is_some_and(|f| f.custom);
            match (mode, exists) {
                (Mode::Create, _) | (Mode::Upsert, false) => {
                    custom::create_field(org, object, &spec, change).map(|_| true)
                }
                (Mode::Update, _) | (Mode::Upsert, true) => {
                    custom::update_field(org, object, &spec, change).map(|()| false)
                }
            }
        }
        _ => {
            let spec = permset::spec(node);
            permset::write(org, &spec, mode == Mode::Update, mode == Mode::Upsert, change)
        }
    }
}

fn errors_xml(out: &mut String, e: &SchemaError) {
    out.push_str("<errors>");
    el(out, "message", &e.to_string());
    el(out, "statusCode", e.status_code());
    out.push_str("</errors>");
}

fn crud(state: &SharedState, op: &Node, user: &SfId, mode: Mode) -> Response {
    let items: Vec<&Node> = op.all("metadata").collect();
    if items.len() > MAX_COMPONENTS {
        return too_many();
    }
    for item in &items {
        match item.xsi_type.as_deref() {
            Some(t) if TYPES.contains(&t) => {}
            Some(t) => return unknown_type(t),
            None => return fault("INVALID_TYPE", "The metadata element has no xsi:type"),
        }
    }
    let now = now_string();
    let change = Change { user, now: &now };
    let mut out = String::new();
    let mut changed = false;
    {
        let mut org = state.org_write();
        for item in items {
            let t = item.xsi_type.as_deref().unwrap_or_default();
            let full_name = item.text_of("fullName").unwrap_or_default().to_string();
            let outcome = apply(&mut org, t, item, mode, &change);
            out.push_str("<result>");
            if mode == Mode::Upsert {
                el(&mut out, "created", &matches!(outcome, Ok(true)).to_string());
            }
            if let Err(e) = &outcome {
                errors_xml(&mut out, e);
            }
            el(&mut out, "fullName", &full_name);
            el(&mut out, "success", &outcome.is_ok().to_string());
            out.push_str("</result>");
            changed |= outcome.is_ok();
        }
    }
    if changed {
        state.mark_dirty();
    }
    envelope(mode.operation(), &out)
}

fn type_and_names(op: &Node) -> Result<(String, Vec<String>), Box<Response>> {
    let t = op.text_of("type").unwrap_or_default().to_string();
    if !TYPES.contains(&t.as_str()) {
        return Err(Box::new(unknown_type(&t)));
    }
    let names: Vec<String> = op.all("fullNames").map(|n| n.text.trim().to_string()).collect();
    if names.len() > MAX_COMPONENTS {
        return Err(Box::new(too_many()));
    }
    Ok((t, names))
}

fn delete(state: &SharedState, op: &Node) -> Response {
    let (t, names) = match type_and_names(op) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut out = String::new();
    let mut changed = false;
    {
        let mut org = state.org_write();
        for name in names {
            let outcome = match t.as_str() {
                "CustomObject" => custom::delete_object(&mut org, &name),
                "CustomField" => match custom::split_field_name(&name) {
                    Some((o, f)) => custom::delete_field(&mut org, o, f),
                    None => Err(SchemaError::NotFound(format!(
                        "no CustomField named {name} found"
                    ))),
                },
                _ => permset::delete(&mut org, &name),
            };
            out.push_str("<result>");
            if let Err(e) = &outcome {
                errors_xml(&mut out, e);
            }
            el(&mut out, "fullName", &name);
            el(&mut out, "success", &outcome.is_ok().to_string());
            out.push_str("</result>");
            changed |= outcome.is_ok();
        }
    }
    if changed {
        state.mark_dirty();
    }
    envelope("deleteMetadata", &out)
}

fn read(state: &SharedState, op: &Node) -> Response {
    let (t, names) = match type_and_names(op) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let org = state.org_read();
    let mut out = String::from("<result>");
    for name in names {
        let body = match t.as_str() {
            "CustomObject" => custom::read_object(&org, &name).map(|spec| {
                let mut s = String::new();
                types::write_object(&mut s, &spec);
                s
            }),
            "CustomField" => custom::field_record(&org, &name).and_then(|(_, r)| {
                let full = r.get("FullName").and_then(Value::as_str)?.to_string();
                let spec = custom::read_field(&org, &full)?;
                let mut s = String::new();
                types::write_field(&mut s, &spec, &full);
                Some(s)
            }),
            _ => permset::read(&org, &name),
        };
        if let Some(body) = body {
            out.push_str(&format!("<records xsi:type=\"{t}\">{body}</records>"));
        }
    }
    out.push_str("</result>");
    envelope("readMetadata", &out)
}

/// One `FileProperties` element.
fn file_properties(out: &mut String, org: &Org, t: &str, file: &str, full_name: &str, id: &SfId, r: &Record) {
    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    out.push_str("<result>");
    el(out, "createdById", &text("CreatedById"));
    el(out, "createdByName", &user_name(org, &text("CreatedById")));
    el(out, "createdDate", &soap_datetime(&text("CreatedDate")));
    el(out, "fileName", file);
    el(out, "fullName", full_name);
    el(out, "id", id.as_str());
    el(out, "lastModifiedById", &text("LastModifiedById"));
    el(
        out,
        "lastModifiedByName",
        &user_name(org, &text("LastModifiedById")),
    );
    el(out, "lastModifiedDate", &soap_datetime(&text("LastModifiedDate")));
    el(out, "manageableState", "unmanaged");
    el(out, "type", t);
    out.push_str("</result>");
}

fn list(state: &SharedState, op: &Node) -> Response {
    let queries: Vec<&Node> = op.all("queries").collect();
    if queries.len() > MAX_LIST_QUERIES {
        return fault(
            "INVALID_QUERY_FILTER_OPERATOR",
            &format!("listMetadata accepts at most {MAX_LIST_QUERIES} queries"),
        );
    }
    let org = state.org_read();
    let mut out = String::new();
    for q in queries {
        let t = q.text_of("type").unwrap_or_default();
        if !TYPES.contains(&t) {
            // Salesforce answers an unknown or unsupported type in a query with no rows.
            continue;
        }
        let table = match t {
            "CustomObject" => custom::OBJECTS_TABLE,
            "CustomField" => custom::FIELDS_TABLE,
            _ => "PermissionSet",
        };
        if t == "PermissionSet" {
            for (id, r) in permset::list(&org) {
                let name = r
                    .get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let file = format!("permissionsets/{name}.permissionset");
                file_properties(&mut out, &org, t, &file, &name, &id, &r);
            }
            continue;
        }
        for (id, r) in org.data.get(table).into_iter().flat_map(|t| t.iter()) {
            let full = r.get("FullName").and_then(Value::as_str).unwrap_or_default();
            let object = full.split('.').next().unwrap_or(full);
            let file = format!("objects/{object}.object");
            file_properties(&mut out, &org, t, &file, full, id, r);
        }
    }
    envelope("listMetadata", &out)
}
