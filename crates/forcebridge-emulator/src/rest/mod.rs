//! The REST API under `/services/data`: versions, describe, sObject CRUD and upsert, SOQL
//! (`query`, `queryAll`, `queryMore`), sObject Collections, Composite and `limits`.
//!
//! Every request under `/services/data/vXX.X/` goes through one dispatcher ([`dispatch_read`] /
//! [`dispatch_write`]) that both the HTTP handler and Composite subrequests use, so a subrequest
//! behaves exactly like the same call made on its own.
//!
//! Invariants: reads run under the org's read lock, writes under its write lock inside one
//! [`dml::Tx`]; a write that answers 4xx/5xx leaves the org as it found it (rolled back), and a
//! write that changed anything signals `dirty` once. No lock is held across an `.await`.

pub mod batch;
pub mod collections;
pub mod columns;
pub mod composite;
pub mod describe;
pub mod dml;
pub mod graph;
pub mod limits;
pub mod listviews;
pub mod query;
pub mod replication;
pub mod search;
pub mod sobjects;
pub mod tree;
pub mod versions;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::Value;

use crate::app::SharedState;
use crate::error::SfError;
use crate::ids::SfId;
use crate::middleware::Caller;
use crate::org::Org;

/// Oldest API version the emulator answers.
pub const OLDEST_API_VERSION: u32 = 31;

/// Routes of the REST API.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/services/data", get(versions::list))
        .route("/services/data/", get(versions::list))
        .route("/services/data/{*rest}", any(handle))
        // Composite and Collections bodies can be large; axum's default of 2 MB is below what
        // Salesforce accepts.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Largest request body the REST resources read.
pub const MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// One REST answer: status, extra headers, JSON body (none for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Reply {
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Whether this answer is a failure (4xx/5xx), which rolls back a write.
    pub fn is_error(&self) -> bool {
        self.status.is_client_error() || self.status.is_server_error()
    }
}

impl From<SfError> for Reply {
    fn from(e: SfError) -> Self {
        Reply::json(e.status, Value::Array(vec![e.to_json()]))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A request body: raw bytes from HTTP, or JSON already parsed (Composite subrequests).
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Raw(&'a [u8]),
    Json(Option<&'a Value>),
}

impl Body<'_> {
    /// The body as JSON.
    ///
    /// # Errors
    /// `JSON_PARSER_ERROR` with the line and column, as Salesforce reports unparsable bodies.
    pub fn json(&self) -> Result<Value, SfError> {
        match self {
            Body::Json(Some(v)) => Ok((*v).clone()),
            Body::Json(None) => Err(SfError::bad_request(
                "JSON_PARSER_ERROR",
                "No content to map due to end-of-input",
            )),
            Body::Raw(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Err(SfError::bad_request(
                "JSON_PARSER_ERROR",
                "No content to map due to end-of-input",
            )),
            Body::Raw(bytes) => serde_json::from_slice(bytes).map_err(|e| {
                SfError::bad_request(
                    "JSON_PARSER_ERROR",
                    format!(
                        "{} at [line:{}, column:{}]",
                        describe_json_error(&e),
                        e.line(),
                        e.column()
                    ),
                )
            }),
        }
    }

    /// The body as a JSON object.
    ///
    /// # Errors
    /// `JSON_PARSER_ERROR` when it does not parse or is not an object.
    pub fn object(&self) -> Result<serde_json::Map<String, Value>, SfError> {
        match self.json()? {
            Value::Object(map) => Ok(map),
            other => Err(SfError::bad_request(
                "JSON_PARSER_ERROR",
                format!(
                    "Cannot deserialize instance of sObject from {} token",
                    if other.is_array() {
                        "START_ARRAY"
                    } else {
                        "VALUE_STRING"
                    }
                ),
            )),
        }
    }
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json appends " at line L column C"; Salesforce's own position suffix replaces it.
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// What every resource needs to know about the call.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The API version of the path, e.g. `66.0`.
    pub version: String,
    /// The user making the call.
    pub user: SfId,
    /// `http(s)://host:port` of this emulator.
    pub base_url: &'a str,
    /// The emulator's runtime state (query cursors live there). Taken after the org lock, never
    /// before it (see [`crate::app`]).
    pub runtime: &'a std::sync::Mutex<crate::control::Runtime>,
    /// Request headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Query-string parameters, decoded.
    pub params: Vec<(String, String)>,
}

impl Ctx<'_> {
    /// A query-string parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A request header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The major API version (`66` for `66.0`).
    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// `/services/data/vXX.X`.
    pub fn prefix(&self) -> String {
        format!("/services/data/v{}", self.version)
    }

    /// Whether `Sforce-Duplicate-Rule-Header` asks to save duplicates (`allowSave=true`).
    pub fn allow_duplicates(&self) -> bool {
        self.header("sforce-duplicate-rule-header").is_some_and(|value| {
            value.split([';', ',']).any(|part| {
                part.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("allowSave") && v.trim().eq_ignore_ascii_case("true")
                })
            })
        })
    }

    /// The REST URL of one record: `/services/data/vXX.X/sobjects/Obj/Id`.
    pub fn record_url(&self, object: &str, id: &str) -> String {
        format!("{}/sobjects/{object}/{id}", self.prefix())
    }
}

/// Parses `vXX.X` into `XX.X` when the emulator serves that version.
pub fn parse_version(segment: &str) -> Option<String> {
    let rest = segment.strip_prefix('v')?;
    let (major, minor) = rest.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    let latest: u32 = crate::config::LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(OLDEST_API_VERSION);
    (minor == "0" && (OLDEST_API_VERSION..=latest).contains(&major)).then(|| format!("{major}.0"))
}

/// Splits a path below `/services/data/` into its decoded segments.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// Whether a request with this method changes the org (and needs the write lock).
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

fn method_not_allowed(method: &Method, allowed: &str) -> SfError {
    SfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
    .without_fields_key()
}

/// Answers a read (`GET`) below `/services/data/vXX.X/`.
pub fn dispatch_read(ctx: &Ctx<'_>, org: &Org, segs: &[&str]) -> Result<Reply, SfError> {
    match segs {
        [] => Ok(versions::resources(ctx, org)),
        ["sobjects"] => Ok(describe::global(ctx, org)),
        ["sobjects", object] => describe::basic(ctx, org, object),
        ["sobjects", object, "describe"] => describe::describe(ctx, org, object),
        ["sobjects", object, "updated"] => replication::updated(ctx, org, object),
        ["sobjects", object, "listviews"] => listviews::list(ctx, org, object),
        ["sobjects", object, "listviews", id, "results"] => listviews::results(ctx, org, object, id),
        ["sobjects", object, "deleted"] => replication::deleted_records(ctx, org, object),
        ["sobjects", object, id] => sobjects::read(ctx, org, object, id),
        ["sobjects", object, field, value] => sobjects::read_by_field(ctx, org, object, field, value),
        ["query"] if ctx.param("columns") == Some("true") => columns::describe(ctx, org, false),
        ["queryAll"] if ctx.param("columns") == Some("true") => columns::describe(ctx, org, true),
        ["query"] => query::start(ctx, org, false),
        ["queryAll"] => query::start(ctx, org, true),
        ["query" | "queryAll", locator] => query::more(ctx, locator),
        ["composite", "sobjects", object] => collections::retrieve(ctx, org, object, None),
        ["search"] => search::sosl(ctx, org),
        ["parameterizedSearch"] => search::parameterized_get(ctx, org),
        ["limits"] => Ok(limits::limits(org)),
        ["limits", "recordCount"] => Ok(limits::record_count(ctx, org)),
        ["composite"] | ["composite", "sobjects"] => Err(method_not_allowed(&Method::GET, "POST")),
        _ => Err(SfError::no_resource()),
    }
}

/// Answers a write below `/services/data/vXX.X/` inside `tx`.
pub fn dispatch_write(
    ctx: &Ctx<'_>,
    tx: &mut dml::Tx<'_>,
    method: &Method,
    segs: &[&str],
    body: Body<'_>,
) -> Result<Reply, SfError> {
    match (method.as_str(), segs) {
        ("POST", ["sobjects", object]) => sobjects::create(ctx, tx, object, body),
        ("POST", ["sobjects", object, field]) if field.eq_ignore_ascii_case("Id") => {
            sobjects::upsert(ctx, tx, object, field, "", body)
        }
        ("PATCH", ["sobjects", object, id]) => sobjects::update(ctx, tx, object, id, body),
        ("DELETE", ["sobjects", object, id]) => sobjects::delete(ctx, tx, object, id),
        ("PATCH" | "POST", ["sobjects", object, field, value]) => {
            sobjects::upsert(ctx, tx, object, field, value, body)
        }
        ("DELETE", ["sobjects", object, field, value]) => {
            sobjects::delete_by_field(ctx, tx, object, field, value)
        }
        ("POST", ["composite"]) => composite::run(ctx, tx, body),
        ("POST", ["composite", "batch"]) => batch::run(ctx, tx, body),
        ("POST", ["parameterizedSearch"]) => {
            let org: &Org = tx.org;
            search::parameterized_post(ctx, org, &body.object()?)
        }
        ("POST", ["composite", "graph"]) => graph::run(ctx, tx, body),
        ("POST", ["composite", "tree", object]) => tree::run(tx, object, body),
        ("POST", ["composite", "sobjects"]) => collections::create(ctx, tx, body),
        ("PATCH", ["composite", "sobjects"]) => collections::update(ctx, tx, body),
        ("DELETE", ["composite", "sobjects"]) => collections::delete(ctx, tx),
        ("PATCH", ["composite", "sobjects", object, field]) => {
            collections::upsert(ctx, tx, object, field, body)
        }
        ("POST", ["composite", "sobjects", object]) => {
            let org: &Org = tx.org;
            collections::retrieve(ctx, org, object, Some(body))
        }
        (_, ["sobjects", _]) => Err(method_not_allowed(method, "HEAD,GET,POST")),
        (_, ["sobjects", _, _]) => Err(method_not_allowed(method, "HEAD,GET,PATCH,DELETE")),
        (_, ["sobjects", _, _, _]) => Err(method_not_allowed(method, "HEAD,GET,PATCH,DELETE")),
        (_, [] | ["sobjects"] | ["limits"] | ["query" | "queryAll", ..]) => {
            Err(method_not_allowed(method, "HEAD,GET"))
        }
        _ => Err(SfError::no_resource()),
    }
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect()
}

/// Query-string parameters, decoded.
pub fn parse_params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The HTTP entry point for everything below `/services/data/`.
async fn handle(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    caller: Option<Extension<Caller>>,
    body: Bytes,
) -> Reply {
    let path = uri.path().strip_prefix("/services/data").unwrap_or("");
    let segs_owned = segments(path);
    let segs: Vec<&str> = segs_owned.iter().map(String::as_str).collect();
    let Some((first, rest)) = segs.split_first() else {
        return versions::list(State(state)).await;
    };
    let Some(version) = parse_version(first) else {
        return SfError::no_resource().into();
    };
    let user = match caller {
        Some(Extension(c)) => Some(c.user_id),
        None => match state.org.read() {
            Ok(org) => org.admin_user_id().cloned(),
            Err(p) => p.into_inner().admin_user_id().cloned(),
        },
    };
    let Some(user) = user else {
        return SfError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
        .without_fields_key()
        .into();
    };
    let ctx = Ctx {
        version,
        user,
        base_url: &state.public_url(),
        runtime: &state.runtime,
        headers: header_list(&headers),
        params: parse_params(uri.query().unwrap_or("")),
    };
    if !is_write(&method) {
        let org = match state.org.read() {
            Ok(org) => org,
            Err(p) => p.into_inner(),
        };
        return dispatch_read(&ctx, &org, rest).unwrap_or_else(Reply::from);
    }
    let (reply, changed) = {
        let mut guard = match state.org.write() {
            Ok(org) => org,
            Err(p) => p.into_inner(),
        };
        let mut tx = dml::Tx::new(&mut guard, ctx.user.clone());
        tx.allow_save_duplicates = ctx.allow_duplicates();
        tx.api_version = ctx.version.clone();
        let reply =
            dispatch_write(&ctx, &mut tx, &method, rest, Body::Raw(&body)).unwrap_or_else(Reply::from);
        if reply.is_error() {
            tx.rollback_to(0);
        }
        (reply, tx.changed())
    };
    if changed {
        state.dirty.notify_one();
    }
    reply
}
