//! The control API for tests, under `/__emulator/`: reset and seed data, read the request log and
//! API call count, set limits, expire sessions, revoke refresh tokens, inject faults, add
//! connected apps and users. docs/emulator.md (`## Control API`) documents every endpoint.
//!
//! Invariant: nothing under `/__emulator/` counts against API limits or appears in the request
//! log, and every change to the org made here marks it dirty so the state file follows.

use std::collections::{HashMap, VecDeque};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::SharedState;
use crate::ids::SfId;
use crate::org::{ConnectedApp, Org, UserCredential};

/// Entries the request log keeps; older ones are dropped so a long run cannot exhaust memory.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// Runtime-only state: injected faults, the request log, pending authorization codes, and which
/// refresh token each session came from. Lost on restart, by design (none of it is org data).
#[derive(Debug, Default)]
pub struct Runtime {
    pub faults: Vec<Fault>,
    pub log: VecDeque<LogEntry>,
    /// Authorization codes waiting to be exchanged, by code.
    pub codes: HashMap<String, AuthCode>,
    /// Access token → the refresh token it was issued with (revoking the latter ends the former).
    pub session_refresh: HashMap<String, String>,
    /// Open REST query cursors (`nextRecordsUrl`), by locator.
    pub cursors: crate::rest::query::Cursors,
}

/// An authorization code handed out by `/services/oauth2/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub client_id: String,
    pub user_id: SfId,
    pub redirect_uri: String,
    /// The PKCE `S256` challenge, when the request had one.
    pub code_challenge: Option<String>,
    pub scope: Option<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// An injected fault: the next `count` matching requests fail (or are only delayed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// How many matching requests it still applies to.
    #[serde(default = "one")]
    pub count: u32,
    /// The status to answer; `None` only delays the request by `delay_ms`.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default = "default_error_code", rename = "errorCode", alias = "error_code")]
    pub error_code: String,
    #[serde(default = "default_message")]
    pub message: String,
    #[serde(default)]
    pub delay_ms: u64,
    /// Only requests whose path starts with this; every non-control path when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Only requests with this method (any case); every method when absent.
    #[serde(default)]
    pub method: Option<String>,
}

fn one() -> u32 {
    1
}
fn default_error_code() -> String {
    "UNABLE_TO_LOCK_ROW".into()
}
fn default_message() -> String {
    "unable to obtain exclusive access to this record or 1 records".into()
}

impl Fault {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.count > 0
            && self.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// One request as the log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// When the request arrived (RFC 3339, UTC).
    pub time: String,
    pub duration_ms: u64,
    /// For `/services/oauth2/token`, the grant type asked for.
    pub grant_type: Option<String>,
}

impl Runtime {
    /// Takes one use of the first fault matching this request, if any.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let i = self.faults.iter().position(|f| f.matches(method, path))?;
        let fault = self.faults.get_mut(i)?;
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            self.faults.remove(i);
        }
        Some(taken)
    }

    /// Appends to the request log, dropping the oldest entry when full.
    pub fn record(&mut self, entry: LogEntry) {
        if self.log.len() >= REQUEST_LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }
}

/// Routes of the control API.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/__emulator/reset", post(reset))
        .route("/__emulator/records/{object}", post(seed_records))
        .route("/__emulator/requests", get(requests).delete(clear_requests))
        .route("/__emulator/usage", get(usage))
        .route("/__emulator/limits", put(set_limits).get(usage))
        .route("/__emulator/sessions/expire", post(expire_sessions))
        .route("/__emulator/refresh-tokens/revoke", post(revoke_refresh))
        .route(
            "/__emulator/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/__emulator/apps", post(create_app))
        .route("/__emulator/users", post(create_user))
        .merge(crate::control_streams::router())
}

/// A control API error, answered as `{"error": "..."}`.
#[derive(Debug)]
struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// The error, for helpers that return `Result<_, Fail>`.
fn reject(status: StatusCode, message: impl Into<String>) -> Fail {
    Fail(status, message.into())
}

/// The error, answered now.
fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    reject(status, message).into_response()
}

/// Parses an optional JSON body (empty means the default).
fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, Fail> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| reject(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

async fn reset(State(state): State<SharedState>) -> Response {
    {
        let mut org = state.org_write();
        *org = crate::bootstrap::org_for(&state.config, &state.identity);
        *state.runtime() = Runtime::default();
    }
    state.streams.drop_all();
    // Bulk jobs and Chatter segments belong to the org just replaced (taken after the org lock
    // is released: the jobs lock is never nested inside it).
    state.bulk.clear();
    state.chatter.clear();
    state.long_running.set(crate::longrun::Settings::default());
    state.mark_dirty();
    Json(json!({ "reset": true })).into_response()
}

/// Salesforce's datetime format, as records carry it.
fn sf_now() -> String {
    crate::org::now_string()
}

async fn seed_records(
    State(state): State<SharedState>,
    Path(object): Path<String>,
    bytes: Bytes,
) -> Response {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = match serde_json::from_slice(&bytes) {
        Ok(rows) => rows,
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("body must be a JSON array of objects: {e}"),
            );
        }
    };
    let (ids, ignored) = {
        let mut org = state.org_write();
        match seed(&mut org, &object, rows) {
            Ok(out) => out,
            Err(resp) => return resp.into_response(),
        }
    };
    state.mark_dirty();
    (
        StatusCode::CREATED,
        Json(json!({ "ids": ids, "ignored_fields": ignored })),
    )
        .into_response()
}

/// System fields a seeded record may set itself (to backdate it, say); otherwise they get the
/// values of a record the administrator creates now.
const SYSTEM_FIELDS: [&str; 7] = [
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "OwnerId",
];

/// Inserts records as given — no permission, validation or required-field checks — the way the
/// administrator would create them now: `Id`, system fields and derived fields are filled in
/// unless the record sets them; fields the object lacks are left out and returned. All rows are
/// checked before any is stored, so a bad `Id` leaves the org unchanged.
fn seed(
    org: &mut Org,
    object: &str,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<(Vec<SfId>, Vec<String>), Fail> {
    let Some(def) = org.schema.object(object) else {
        return Err(reject(
            StatusCode::NOT_FOUND,
            format!("no object named {object} in the org"),
        ));
    };
    let name = def.name.clone();
    let mut ignored: Vec<String> = Vec::new();
    let mut prepared = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let mut values = crate::org::Record::new();
        let mut id = None;
        for (key, value) in row {
            if key == "attributes" {
                continue;
            }
            let Some(field) = def.field(&key) else {
                // Fields the object does not have are left out and reported, so records copied
                // from a real org's answers (with relationship objects, fields of other
                // packages) can be seeded as they are.
                if !ignored.contains(&key) {
                    ignored.push(key);
                }
                continue;
            };
            if field.name == "Id" {
                let parsed = value
                    .as_str()
                    .map(SfId::parse)
                    .and_then(Result::ok)
                    .filter(|id| id.key_prefix() == def.key_prefix)
                    .ok_or_else(|| {
                        reject(
                            StatusCode::BAD_REQUEST,
                            format!("record {i}: Id {value} is not an id of {object}"),
                        )
                    })?;
                id = Some(parsed);
            } else {
                values.insert(field.name.clone(), value);
            }
        }
        prepared.push((id, values));
    }
    let user = org
        .admin_user_id()
        .cloned()
        .unwrap_or_else(|| SfId::generate("005", &org.info.pod, 1));
    let now = sf_now();
    let mut ids = Vec::with_capacity(prepared.len());
    for (given, values) in prepared {
        let Some(generated) = org.insert_new(&name, values.clone(), &user, &now) else {
            return Err(reject(
                StatusCode::NOT_FOUND,
                format!("no object named {object} in the org"),
            ));
        };
        let table = org.table_mut(&name);
        let Some(mut record) = table.shift_remove(&generated) else {
            continue;
        };
        for field in SYSTEM_FIELDS {
            if let Some(v) = values.get(field) {
                record.insert(field.to_string(), v.clone());
            }
        }
        let id = given.unwrap_or(generated);
        record.insert("Id".into(), json!(id));
        table.insert(id.clone(), record);
        ids.push(id);
    }
    Ok((ids, ignored))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    path_prefix: Option<String>,
}

async fn requests(State(state): State<SharedState>, Query(q): Query<LogQuery>) -> Response {
    let runtime = state.runtime();
    let entries: Vec<&LogEntry> = runtime
        .log
        .iter()
        .filter(|e| q.path_prefix.as_deref().is_none_or(|p| e.path.starts_with(p)))
        .collect();
    Json(json!({ "requests": entries })).into_response()
}

async fn clear_requests(State(state): State<SharedState>) -> Response {
    state.runtime().log.clear();
    StatusCode::NO_CONTENT.into_response()
}

fn usage_json(org: &Org, long_running: &crate::longrun::Meter) -> serde_json::Value {
    let u = &org.usage;
    let l = long_running.settings();
    json!({
        "daily_api_requests_used": u.daily_api_requests_used,
        "daily_api_requests_max": u.daily_api_requests_max,
        "daily_api_requests_remaining": u.daily_api_requests_max.saturating_sub(u.daily_api_requests_used),
        "concurrent_long_running_requests": l.concurrent_long_running_requests,
        "long_running_after_ms": l.long_running_after_ms,
        "long_running_requests": long_running.long_running(),
    })
}

async fn usage(State(state): State<SharedState>) -> Response {
    Json(usage_json(&state.org_read(), &state.long_running)).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    daily_api_requests_max: Option<u64>,
    daily_api_requests_used: Option<u64>,
    concurrent_long_running_requests: Option<u64>,
    long_running_after_ms: Option<u64>,
    long_running_after_secs: Option<u64>,
}

/// Applies the long-running request settings a limits body names, in any of the spellings the
/// control routes accept (`long_running_after_secs` or `_ms`).
fn apply_long_running(
    meter: &crate::longrun::Meter,
    limit: Option<u64>,
    after_ms: Option<u64>,
    after_secs: Option<u64>,
) {
    let mut s = meter.settings();
    if let Some(n) = limit {
        s.concurrent_long_running_requests = n;
    }
    if let Some(ms) = after_ms.or(after_secs.map(|secs| secs.saturating_mul(1000))) {
        s.long_running_after_ms = ms;
    }
    meter.set(s);
}

/// Takes the long-running request settings out of a `PUT /__emulator/bulk/limits` `limits`
/// patch and applies them, leaving the Bulk allocations in `patch`.
///
/// # Errors
/// A message when one of them is not a non-negative integer.
pub fn take_long_running(
    meter: &crate::longrun::Meter,
    patch: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    let mut take = |key: &str| -> Result<Option<u64>, String> {
        match patch.remove(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{key}: expected a non-negative integer, got {v}")),
        }
    };
    let limit = take("concurrent_long_running_requests")?;
    let ms = take("long_running_after_ms")?;
    let secs = take("long_running_after_secs")?;
    apply_long_running(meter, limit, ms, secs);
    Ok(())
}

async fn set_limits(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let limits: Limits = match body(&bytes) {
        Ok(l) => l,
        Err(resp) => return resp.into_response(),
    };
    let out = {
        let mut org = state.org_write();
        if let Some(max) = limits.daily_api_requests_max {
            org.usage.daily_api_requests_max = max;
        }
        if let Some(used) = limits.daily_api_requests_used {
            org.usage.daily_api_requests_used = used;
        }
        apply_long_running(
            &state.long_running,
            limits.concurrent_long_running_requests,
            limits.long_running_after_ms,
            limits.long_running_after_secs,
        );
        usage_json(&org, &state.long_running)
    };
    state.mark_dirty();
    Json(out).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFilter {
    user_id: Option<String>,
    username: Option<String>,
}

impl UserFilter {
    /// The user this filter names, `Ok(None)` for "everyone".
    fn resolve(&self, org: &Org) -> Result<Option<SfId>, Fail> {
        if let Some(id) = &self.user_id {
            return SfId::parse(id)
                .map(Some)
                .map_err(|e| reject(StatusCode::BAD_REQUEST, format!("user_id: {e}")));
        }
        if let Some(name) = &self.username {
            return crate::oauth::user_by_username(org, name)
                .map(Some)
                .ok_or_else(|| reject(StatusCode::NOT_FOUND, format!("no user named {name}")));
        }
        Ok(None)
    }
}

async fn expire_sessions(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let filter: UserFilter = match body(&bytes) {
        Ok(f) => f,
        Err(resp) => return resp.into_response(),
    };
    let n = {
        let mut org = state.org_write();
        let user = match filter.resolve(&org) {
            Ok(u) => u,
            Err(resp) => return resp.into_response(),
        };
        let mut n = 0;
        for s in org.auth.sessions.values_mut() {
            if !s.expired && user.as_ref().is_none_or(|u| &s.user_id == u) {
                s.expired = true;
                n += 1;
            }
        }
        n
    };
    state.mark_dirty();
    // Long polls waiting on an expired session answer now.
    state.streams.kick.notify_waiters();
    Json(json!({ "expired": n })).into_response()
}

async fn revoke_refresh(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let filter: UserFilter = match body(&bytes) {
        Ok(f) => f,
        Err(resp) => return resp.into_response(),
    };
    let n = {
        let mut org = state.org_write();
        let user = match filter.resolve(&org) {
            Ok(u) => u,
            Err(resp) => return resp.into_response(),
        };
        let mut runtime = state.runtime();
        crate::oauth::revoke_refresh_tokens(&mut org, &mut runtime, |r| {
            user.as_ref().is_none_or(|u| &r.user_id == u)
        })
    };
    state.mark_dirty();
    Json(json!({ "revoked": n })).into_response()
}

async fn add_fault(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let fault: Fault = match serde_json::from_slice(&bytes) {
        Ok(f) => f,
        Err(e) => return fail(StatusCode::BAD_REQUEST, format!("invalid fault: {e}")),
    };
    if let Some(status) = fault.status
        && StatusCode::from_u16(status).is_err()
    {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("status: {status} is not an HTTP status code"),
        );
    }
    if fault.count == 0 {
        return fail(StatusCode::BAD_REQUEST, "count: must be at least 1");
    }
    state.runtime().faults.push(fault.clone());
    (StatusCode::CREATED, Json(fault)).into_response()
}

async fn list_faults(State(state): State<SharedState>) -> Response {
    Json(json!({ "faults": state.runtime().faults })).into_response()
}

async fn clear_faults(State(state): State<SharedState>) -> Response {
    state.runtime().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// A connected app to add (`POST /__emulator/apps`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApp {
    pub name: Option<String>,
    /// Generated (`3MVG9…`) when absent.
    pub client_id: Option<String>,
    /// Generated when absent.
    pub client_secret: Option<String>,
    #[serde(default)]
    pub callback_urls: Vec<String>,
    /// PEM certificate (or public key) that verifies JWT bearer assertions.
    pub certificate_pem: Option<String>,
    /// Username (or user id) the client-credentials flow runs as.
    pub client_credentials_user: Option<String>,
    #[serde(default)]
    pub activation_delay_secs: u64,
}

/// Adds a connected app to the org.
///
/// # Errors
/// A message when the consumer key is taken or the run-as user does not exist.
pub fn add_app(org: &mut Org, new: NewApp) -> Result<ConnectedApp, String> {
    let client_id = new
        .client_id
        .unwrap_or_else(|| format!("3MVG9{}", crate::oauth::random_token(80).replace(['.', '_'], "A")));
    if org.auth.apps.iter().any(|a| a.client_id == client_id) {
        return Err(format!(
            "client_id: a connected app with consumer key {client_id} exists"
        ));
    }
    let client_credentials_user = match new.client_credentials_user {
        None => None,
        Some(u) => Some(
            SfId::parse(&u)
                .ok()
                .filter(|id| org.auth.credentials.iter().any(|c| &c.user_id == id))
                .or_else(|| crate::oauth::user_by_username(org, &u))
                .ok_or_else(|| format!("client_credentials_user: no user {u}"))?,
        ),
    };
    let app = ConnectedApp {
        name: new.name.unwrap_or_else(|| "Test App".into()),
        client_secret: new.client_secret.unwrap_or_else(|| {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            hex::encode_upper(bytes)
        }),
        client_id,
        callback_urls: new.callback_urls,
        certificate_pem: new.certificate_pem,
        client_credentials_user,
        activation_delay_secs: new.activation_delay_secs,
        created_at: chrono::Utc::now(),
    };
    org.auth.apps.push(app.clone());
    Ok(app)
}

async fn create_app(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let new: NewApp = match body(&bytes) {
        Ok(n) => n,
        Err(resp) => return resp.into_response(),
    };
    let result = add_app(&mut state.org_write(), new);
    match result {
        Ok(app) => {
            state.mark_dirty();
            (
                StatusCode::CREATED,
                Json(json!({
                    "name": app.name,
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                    "callback_urls": app.callback_urls,
                    "client_credentials_user": app.client_credentials_user,
                    "activation_delay_secs": app.activation_delay_secs,
                })),
            )
                .into_response()
        }
        Err(message) => fail(StatusCode::BAD_REQUEST, message),
    }
}

/// A user to add (`POST /__emulator/users`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub security_token: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The username when absent.
    pub email: Option<String>,
    /// `false` makes every login fail as for a deactivated user.
    pub active: Option<bool>,
}

/// Adds a user: a `User` record and its credentials.
///
/// # Errors
/// A message when the username is taken or empty.
pub fn add_user(org: &mut Org, new: NewUser) -> Result<SfId, String> {
    if new.username.trim().is_empty() {
        return Err("username: must not be empty".into());
    }
    if crate::oauth::user_by_username(org, &new.username).is_some() {
        return Err(format!(
            "username: {} is taken (DUPLICATE_USERNAME)",
            new.username
        ));
    }
    let first = new.first_name.filter(|f| !f.is_empty());
    let last = new.last_name.unwrap_or_else(|| new.username.clone());
    let alias: String = new.username.chars().take(8).collect();
    // New users get the "Standard User" profile when the org has one.
    let profile = org.data.get("Profile").and_then(|t| {
        t.iter()
            .find(|(_, r)| r.get("Name").and_then(serde_json::Value::as_str) == Some("Standard User"))
            .map(|(id, _)| id.to_string())
    });
    let mut values = crate::org::Record::new();
    values.insert("Username".into(), json!(new.username));
    values.insert("FirstName".into(), json!(first));
    values.insert("LastName".into(), json!(last));
    values.insert("Alias".into(), json!(alias));
    values.insert("CommunityNickname".into(), json!(alias));
    values.insert(
        "Email".into(),
        json!(new.email.unwrap_or_else(|| new.username.clone())),
    );
    values.insert("IsActive".into(), json!(new.active.unwrap_or(true)));
    values.insert("TimeZoneSidKey".into(), json!("America/Los_Angeles"));
    values.insert("LocaleSidKey".into(), json!("en_US"));
    values.insert("LanguageLocaleKey".into(), json!("en_US"));
    values.insert("EmailEncodingKey".into(), json!("UTF-8"));
    values.insert("UserType".into(), json!("Standard"));
    values.insert("ProfileId".into(), json!(profile));
    let creator = org
        .admin_user_id()
        .cloned()
        .unwrap_or_else(|| SfId::generate("005", &org.info.pod, 1));
    let now = sf_now();
    let id = match org.insert_new("User", values.clone(), &creator, &now) {
        Some(id) => id,
        // An org without a User object still gets working credentials.
        None => {
            let id = org.new_id("005");
            values.insert("Id".into(), json!(id));
            org.table_mut("User").insert(id.clone(), values);
            id
        }
    };
    org.auth.credentials.push(UserCredential {
        user_id: id.clone(),
        username: new.username,
        password: new.password,
        security_token: new.security_token,
    });
    Ok(id)
}

async fn create_user(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let new: NewUser = match serde_json::from_slice(&bytes) {
        Ok(n) => n,
        Err(e) => return fail(StatusCode::BAD_REQUEST, format!("invalid user: {e}")),
    };
    let username = new.username.clone();
    let result = add_user(&mut state.org_write(), new);
    match result {
        Ok(id) => {
            state.mark_dirty();
            (
                StatusCode::CREATED,
                Json(json!({ "id": id, "username": username })),
            )
                .into_response()
        }
        Err(message) => fail(StatusCode::BAD_REQUEST, message),
    }
}
