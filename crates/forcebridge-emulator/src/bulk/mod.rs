//! Bulk API 2.0: ingest jobs (`/jobs/ingest`: insert, update, upsert, delete, hardDelete from
//! CSV) and query jobs (`/jobs/query`: results as CSV pages behind `Sforce-Locator`), with the
//! daily allocations Salesforce meters for them and the concurrent long-running request limit.
//!
//! Jobs live in the emulator's [`BulkState`] ([`crate::app::AppState::bulk`], which the router
//! also carries as an extension), so two emulators in one process never share jobs; with
//! `--state` they are written to the state file beside the org ([`saved`]) and the control API's
//! reset clears them.
//!
//! Invariants: a job's state only moves forward (`Open` → `UploadComplete` → `InProgress` →
//! `JobComplete`/`Failed`, or to `Aborted` from any state before completion); every record write
//! of an ingest job goes through [`crate::rest::dml::Tx`] — the same validation and system fields
//! as REST — one row per savepoint, so a failing row never leaves a partial write; the jobs mutex
//! is never held while the org lock is taken, and no lock is held across an `.await`.

pub mod csvio;
pub mod ingest;
pub mod query;
pub mod saved;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::app::SharedState;
use crate::error::SfError;

/// One mebibyte.
const MB: u64 = 1024 * 1024;

/// Records Salesforce puts in one internal batch of an ingest job; each counts against
/// `DailyBulkApiBatches`.
pub const RECORDS_PER_BATCH: u64 = 10_000;

/// The allocations the emulator meters for Bulk API 2.0 (the control API can lower them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkLimits {
    /// `DailyBulkApiBatches`: internal batches (10,000 records each) per 24 hours.
    pub daily_bulk_api_batches: u64,
    /// `DailyBulkV2QueryJobs`: query jobs created per 24 hours.
    pub daily_bulk_v2_query_jobs: u64,
    /// `DailyBulkV2QueryFileStorageMB`: query results kept per 24 hours, in MB.
    pub daily_bulk_v2_query_file_storage_mb: u64,
    /// Records ingested per 24 hours (150,000,000 in Salesforce).
    pub daily_records: u64,
    /// Largest CSV upload per job, in bytes (150 MB).
    pub max_upload_bytes: u64,
    /// Ingest and query jobs that may be open or in progress at once.
    pub max_concurrent_jobs: u64,
}

impl Default for BulkLimits {
    fn default() -> Self {
        BulkLimits {
            daily_bulk_api_batches: 15_000,
            daily_bulk_v2_query_jobs: 10_000,
            daily_bulk_v2_query_file_storage_mb: 976_562,
            daily_records: 150_000_000,
            max_upload_bytes: 150 * MB,
            max_concurrent_jobs: 100,
        }
    }
}

/// What has been used of [`BulkLimits`] today.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkUsage {
    pub daily_bulk_api_batches: u64,
    pub daily_bulk_v2_query_jobs: u64,
    /// Bytes of query results produced today.
    pub query_result_bytes: u64,
    pub daily_records: u64,
}

/// Everything Bulk API 2.0 keeps for one emulator.
#[derive(Debug, Default)]
pub struct BulkState {
    inner: Mutex<Jobs>,
}

/// The jobs and the meters, behind one mutex.
#[derive(Debug, Default)]
pub struct Jobs {
    pub ingest: IndexMap<String, ingest::IngestJob>,
    pub query: IndexMap<String, query::QueryJob>,
    pub limits: BulkLimits,
    pub usage: BulkUsage,
}

impl Jobs {
    /// Jobs open or in progress (ingest and query), which the concurrency limit counts.
    fn active(&self) -> u64 {
        let ingest = self.ingest.values().filter(|j| j.info.state.is_active()).count();
        let query = self.query.values().filter(|j| j.info.state.is_active()).count();
        (ingest + query) as u64
    }
}

/// The per-emulator handle handlers receive.
pub type Bulk = Arc<BulkState>;

impl BulkState {
    /// The jobs. A panic while holding the lock leaves the jobs as they were; serving them is
    /// better than failing every later call, so poison is ignored.
    pub fn jobs(&self) -> MutexGuard<'_, Jobs> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every job and meter (the control API's reset).
    pub fn clear(&self) {
        *self.jobs() = Jobs::default();
    }
}

/// A job's state (`state` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    /// Open, queued or running: counts against the concurrent-jobs limit and can be aborted.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            JobState::Open | JobState::UploadComplete | JobState::InProgress
        )
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }
}

/// The CSV dialect of a job: `columnDelimiter` and `lineEnding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub crlf: bool,
}

impl Dialect {
    /// Parses the job-creation options.
    ///
    /// # Errors
    /// `INVALIDJOB` for a value Salesforce does not list.
    pub fn from_request(delimiter: Option<&str>, line_ending: Option<&str>) -> Result<Self, SfError> {
        let delimiter = match delimiter.unwrap_or("COMMA") {
            "COMMA" => b',',
            "TAB" => b'\t',
            "PIPE" => b'|',
            "SEMICOLON" => b';',
            "CARET" => b'^',
            "BACKQUOTE" => b'`',
            other => {
                return Err(invalid_job(format!(
                    "Invalid column delimiter: {other}. Valid values are BACKQUOTE, CARET, COMMA, PIPE, SEMICOLON, TAB"
                )));
            }
        };
        let crlf = match line_ending.unwrap_or("LF") {
            "LF" => false,
            "CRLF" => true,
            other => {
                return Err(invalid_job(format!(
                    "Invalid line ending: {other}. Valid values are LF, CRLF"
                )));
            }
        };
        Ok(Dialect { delimiter, crlf })
    }

    /// The `columnDelimiter` wire name.
    pub fn delimiter_name(self) -> &'static str {
        match self.delimiter {
            b'\t' => "TAB",
            b'|' => "PIPE",
            b';' => "SEMICOLON",
            b'^' => "CARET",
            b'`' => "BACKQUOTE",
            _ => "COMMA",
        }
    }

    /// The `lineEnding` wire name.
    pub fn line_ending_name(self) -> &'static str {
        if self.crlf { "CRLF" } else { "LF" }
    }
}

/// What both kinds of job report about themselves.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub id: String,
    pub operation: String,
    pub object: String,
    pub created_by: String,
    pub created_date: String,
    pub system_modstamp: String,
    pub state: JobState,
    pub api_version: String,
    pub dialect: Dialect,
    pub error_message: Option<String>,
    pub records_processed: u64,
    pub records_failed: u64,
    pub total_processing_ms: u64,
}

impl JobInfo {
    /// Moves the job to `state` and stamps `systemModstamp`.
    pub fn set_state(&mut self, state: JobState) {
        self.state = state;
        self.system_modstamp = crate::org::now_string();
    }

    /// The fields every job answer starts with, in Salesforce's order.
    fn common(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("operation".into(), json!(self.operation));
        m.insert("object".into(), json!(self.object));
        m.insert("createdById".into(), json!(self.created_by));
        m.insert("createdDate".into(), json!(self.created_date));
        m.insert("systemModstamp".into(), json!(self.system_modstamp));
        m.insert("state".into(), json!(self.state.as_str()));
        m
    }

    /// `apiVersion` as Salesforce writes it: a JSON number (`66.0`).
    fn api_version_json(&self) -> Value {
        self.api_version
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| json!(self.api_version), Value::Number)
    }
}

/// A Bulk API error: Salesforce answers these with the REST error array
/// `[{"errorCode", "message"}]`, without `fields`.
pub fn bulk_error(status: StatusCode, code: &str, message: impl Into<String>) -> SfError {
    SfError::new(status, code, message).without_fields_key()
}

/// `INVALIDJOB` (400): the job request itself is wrong.
pub fn invalid_job(message: impl Into<String>) -> SfError {
    bulk_error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

/// `INVALIDJOBSTATE` (409): the job is not in a state that allows this call.
pub fn invalid_state(message: impl Into<String>) -> SfError {
    bulk_error(StatusCode::CONFLICT, "INVALIDJOBSTATE", message)
}

/// The 404 for a job id that names no job.
pub fn job_not_found() -> SfError {
    bulk_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// The API versions the emulator serves from `since` on, as `66.0`.
///
/// Routes below `/services/data/` are registered once per version: a `{version}` path parameter
/// would conflict with the REST API's catch-all `/services/data/{*rest}`, a static segment does
/// not (and wins over it).
pub fn served_versions(since: u32) -> Vec<String> {
    let latest: u32 = crate::config::LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(crate::rest::OLDEST_API_VERSION);
    (since.max(crate::rest::OLDEST_API_VERSION)..=latest)
        .map(|v| format!("{v}.0"))
        .collect()
}

/// The `vXX.X` segment of a `/services/data/vXX.X/...` request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiVersion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let segment = parts.uri.path().split('/').nth(3).unwrap_or_default();
        Ok(ApiVersion(segment.to_string()))
    }
}

/// First API version with Bulk API 2.0 ingest jobs.
pub const INGEST_SINCE: u32 = 41;
/// First API version with Bulk API 2.0 query jobs.
pub const QUERY_SINCE: u32 = 47;

/// Routes of Bulk API 2.0, the `/limits` resource with the Bulk allocations added, the control
/// routes for Bulk limits and duplicate rules, over the emulator's `bulk` (its
/// [`crate::app::AppState::bulk`], so the state file and reset reach the same jobs).
pub fn router(bulk: Bulk) -> Router<SharedState> {
    let mut r = Router::new();
    for v in served_versions(INGEST_SINCE) {
        let p = format!("/services/data/v{v}/jobs/ingest");
        r = with_slash(r, &p, get(ingest::list).post(ingest::create));
        r = with_slash(
            r,
            &format!("{p}/{{id}}"),
            get(ingest::info).patch(ingest::patch).delete(ingest::delete),
        );
        r = with_slash(
            r,
            &format!("{p}/{{id}}/batches"),
            put(ingest::upload).layer(DefaultBodyLimit::disable()),
        );
        r = with_slash(
            r,
            &format!("{p}/{{id}}/successfulResults"),
            get(ingest::successful),
        );
        r = with_slash(r, &format!("{p}/{{id}}/failedResults"), get(ingest::failed));
        r = with_slash(
            r,
            &format!("{p}/{{id}}/unprocessedrecords"),
            get(ingest::unprocessed),
        );
    }
    for v in served_versions(QUERY_SINCE) {
        let p = format!("/services/data/v{v}/jobs/query");
        r = with_slash(r, &p, get(query::list).post(query::create));
        r = with_slash(
            r,
            &format!("{p}/{{id}}"),
            get(query::info).patch(query::patch).delete(query::delete),
        );
        r = with_slash(r, &format!("{p}/{{id}}/results"), get(query::results));
    }
    for v in served_versions(crate::rest::OLDEST_API_VERSION) {
        r = r.route(&format!("/services/data/v{v}/limits"), get(limits));
    }
    r.route("/__emulator/bulk/limits", get(control_get).put(control_put))
        .merge(crate::duplicates::router())
        .layer(Extension(bulk))
}

/// Adds `route` at `path` and at `path/`: Salesforce answers Bulk API 2.0 job and result URLs
/// with or without a trailing slash, and axum treats the two as different paths.
fn with_slash(
    r: Router<SharedState>,
    path: &str,
    route: axum::routing::MethodRouter<SharedState>,
) -> Router<SharedState> {
    r.route(path, route.clone()).route(&format!("{path}/"), route)
}

/// The API version of a `vXX.X` path segment, or the 404 Salesforce answers for another.
///
/// # Errors
/// `NOT_FOUND` for a version the emulator does not serve.
pub fn version(segment: &str) -> Result<String, SfError> {
    crate::rest::parse_version(segment).ok_or_else(SfError::no_resource)
}

/// The `/limits` entries Bulk API 2.0 meters, from this emulator's usage.
pub fn limit_entries(jobs: &Jobs) -> Vec<(&'static str, u64, u64)> {
    let l = &jobs.limits;
    let u = &jobs.usage;
    let used_mb = u.query_result_bytes.div_ceil(MB);
    vec![
        (
            "DailyBulkApiBatches",
            l.daily_bulk_api_batches,
            l.daily_bulk_api_batches.saturating_sub(u.daily_bulk_api_batches),
        ),
        (
            "DailyBulkV2QueryJobs",
            l.daily_bulk_v2_query_jobs,
            l.daily_bulk_v2_query_jobs
                .saturating_sub(u.daily_bulk_v2_query_jobs),
        ),
        (
            "DailyBulkV2QueryFileStorageMB",
            l.daily_bulk_v2_query_file_storage_mb,
            l.daily_bulk_v2_query_file_storage_mb.saturating_sub(used_mb),
        ),
    ]
}

/// `GET /services/data/vXX.X/limits`: the REST resource's body with the Bulk API 2.0 entries
/// reflecting what this emulator's jobs used.
async fn limits(
    State(state): State<SharedState>,
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
) -> Response {
    if let Err(e) = version(&v) {
        return e.into_response();
    }
    let mut body = crate::rest::limits::body(&state.org_read());
    if let Value::Object(map) = &mut body {
        for (name, max, remaining) in limit_entries(&bulk.jobs()) {
            map.insert(name.into(), json!({ "Max": max, "Remaining": remaining }));
        }
    }
    Json(body).into_response()
}

fn control_json(state: &crate::app::AppState) -> Value {
    let jobs = state.bulk.jobs();
    let mut limits = serde_json::to_value(&jobs.limits).unwrap_or_else(|_| json!({}));
    // The long-running request limit is the org's (see `crate::longrun`); it is shown and set
    // here too because Bulk result downloads were its first users.
    let long = state.long_running.settings();
    if let Value::Object(m) = &mut limits {
        m.insert(
            "concurrent_long_running_requests".into(),
            json!(long.concurrent_long_running_requests),
        );
        m.insert(
            "long_running_after_secs".into(),
            json!(long.long_running_after_ms / 1000),
        );
    }
    json!({
        "limits": limits,
        "usage": jobs.usage,
        "long_running_requests": state.long_running.long_running(),
        "active_jobs": jobs.active(),
    })
}

/// `GET /__emulator/bulk/limits`: limits, usage and the long-running request counter.
async fn control_get(State(state): State<SharedState>) -> Response {
    Json(control_json(&state)).into_response()
}

/// Body of `PUT /__emulator/bulk/limits`: new limits and/or usage (fields left out keep their
/// value).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlPut {
    #[serde(default)]
    limits: Option<Map<String, Value>>,
    #[serde(default)]
    usage: Option<Map<String, Value>>,
}

/// Merges `patch` into the JSON of `current` and reads it back, so a partial body changes only
/// what it names.
fn merge<T: Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: Map<String, Value>,
) -> Result<T, String> {
    let mut v = serde_json::to_value(current).map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut v {
        m.extend(patch);
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// `PUT /__emulator/bulk/limits`: lowers (or raises) the Bulk allocations for tests.
async fn control_put(State(state): State<SharedState>, body: axum::body::Bytes) -> Response {
    let fail = |m: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": m }))).into_response();
    let req: ControlPut = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return fail(format!("invalid JSON body: {e}")),
    };
    {
        let mut jobs = state.bulk.jobs();
        if let Some(mut patch) = req.limits {
            if let Err(e) = crate::control::take_long_running(&state.long_running, &mut patch) {
                return fail(format!("limits: {e}"));
            }
            match merge(&jobs.limits, patch) {
                Ok(l) => jobs.limits = l,
                Err(e) => return fail(format!("limits: {e}")),
            }
        }
        if let Some(patch) = req.usage {
            match merge(&jobs.usage, patch) {
                Ok(u) => jobs.usage = u,
                Err(e) => return fail(format!("usage: {e}")),
            }
        }
    }
    // Allocations and usage are kept in the state file.
    state.mark_dirty();
    Json(control_json(&state)).into_response()
}

/// The caller of an authenticated request (the middleware puts it there), or the administrator
/// for in-process calls without one.
pub fn caller_id(
    state: &SharedState,
    caller: Option<&crate::middleware::Caller>,
) -> Option<crate::ids::SfId> {
    match caller {
        Some(c) => Some(c.user_id.clone()),
        None => state.org_read().admin_user_id().cloned(),
    }
}

/// The 401 Salesforce answers without a session.
pub fn no_session() -> SfError {
    bulk_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

/// Parses a JSON request body into an object.
///
/// # Errors
/// `JSON_PARSER_ERROR` as the REST API reports it.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, SfError> {
    crate::rest::Body::Raw(body).object()
}

/// A CSV answer with the headers Bulk API 2.0 sends.
pub fn csv_response(body: Vec<u8>, extra: Vec<(&'static str, String)>) -> Response {
    let mut resp = (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/csv")],
        body,
    )
        .into_response();
    for (name, value) in extra {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}
