//! Bulk API 2.0 query jobs: `POST /jobs/query` (`query` / `queryAll`), `GET` job info and the
//! job list, `PATCH` to `Aborted`, `DELETE`, and `GET .../results?locator=&maxRecords=` as CSV
//! pages with `Sforce-Locator` (the literal `null` on the last page) and `Sforce-NumberOfRecords`.
//!
//! The query is checked when the job is created (syntax, fields, and what Bulk queries may not
//! use: aggregates, GROUP BY, OFFSET, TYPEOF, child subqueries), then run on a blocking worker.
//!
//! Invariant: a finished job keeps its result once, as CSV rows without the header plus the byte
//! offset of each row, so any page is one slice of it; a locator is the base64 of the first row
//! it points at, stable for the life of the job. While a job runs, each row is written to that
//! CSV as the SOQL evaluator yields it: the rows' JSON is never held all at once.

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use forcebridge_soql::ast::SelectItem;
use serde_json::{Map, Value, json};

use super::{Bulk, Dialect, JobInfo, JobState, bulk_error, csvio, invalid_job};
use crate::app::SharedState;
use crate::bulk::ApiVersion;
use crate::catalog::OrgCatalog;
use crate::error::SfError;
use crate::ids::SfId;
use crate::middleware::Caller;
use crate::org::now_string;

/// Rows per results page when the request gives no `maxRecords`.
pub const DEFAULT_PAGE: usize = 50_000;

/// A finished query's rows.
#[derive(Debug, Default, Clone)]
pub struct QueryResult {
    /// The header row as written with the job's dialect.
    pub header: Bytes,
    /// All data rows, one after another.
    pub rows: Bytes,
    /// Byte offset where each row starts, plus the end of the last one.
    pub offsets: std::sync::Arc<Vec<usize>>,
}

/// One query job.
#[derive(Debug)]
pub struct QueryJob {
    pub info: JobInfo,
    pub query: String,
    pub result: Option<QueryResult>,
}

impl QueryJob {
    fn summary(&self) -> Value {
        let mut m = self.info.common();
        m.insert("concurrencyMode".into(), json!("Parallel"));
        m.insert("contentType".into(), json!("CSV"));
        m.insert("apiVersion".into(), self.info.api_version_json());
        m.insert("lineEnding".into(), json!(self.info.dialect.line_ending_name()));
        m.insert(
            "columnDelimiter".into(),
            json!(self.info.dialect.delimiter_name()),
        );
        Value::Object(m)
    }

    fn detail(&self) -> Value {
        let mut v = self.summary();
        if let Value::Object(m) = &mut v {
            m.insert("jobType".into(), json!("V2Query"));
            m.insert(
                "numberRecordsProcessed".into(),
                json!(self.info.records_processed),
            );
            m.insert("retries".into(), json!(0));
            m.insert("totalProcessingTime".into(), json!(self.info.total_processing_ms));
            m.insert("isPkChunkingSupported".into(), json!(true));
            if let Some(e) = &self.info.error_message {
                m.insert("errorMessage".into(), json!(e));
            }
        }
        v
    }

    fn list_entry(&self) -> Value {
        let mut v = self.summary();
        if let Value::Object(m) = &mut v {
            m.insert("jobType".into(), json!("V2Query"));
        }
        v
    }
}

fn reply(e: SfError) -> Response {
    e.into_response()
}

fn soql_error(e: &forcebridge_soql::SoqlError) -> SfError {
    SfError::bad_request(e.code(), e.message.clone()).without_fields_key()
}

/// Refuses what Bulk API 2.0 queries cannot contain.
fn check_bulk_query(q: &forcebridge_soql::Query) -> Result<(), SfError> {
    let s = &q.select;
    let unsupported = |what: &str| {
        invalid_job(format!(
            "InvalidJob : {what} is not supported by Bulk API 2.0 queries"
        ))
    };
    if !s.group_by.is_empty() {
        return Err(unsupported("GROUP BY"));
    }
    if s.offset.is_some() {
        return Err(unsupported("OFFSET"));
    }
    for item in &s.select {
        match item {
            SelectItem::Aggregate { .. } | SelectItem::Date { .. } => {
                return Err(unsupported("An aggregate function"));
            }
            SelectItem::Subquery(_) => return Err(unsupported("A parent-to-child relationship query")),
            SelectItem::TypeOf { .. } => return Err(unsupported("TYPEOF")),
            SelectItem::Fields { .. } => return Err(unsupported("FIELDS()")),
            SelectItem::Field { .. } | SelectItem::Function { .. } => {}
        }
    }
    Ok(())
}

/// The columns of the result: the selected field paths as written.
fn column_paths(q: &forcebridge_soql::Query) -> Vec<Vec<String>> {
    q.select
        .select
        .iter()
        .filter_map(|item| match item {
            SelectItem::Field { path, .. } => Some(path.parts.iter().map(|p| p.name.clone()).collect()),
            // `toLabel(Status)` keeps the field's name; an alias renames the column.
            SelectItem::Function { path, alias, .. } => Some(match alias {
                Some(a) => vec![a.name.clone()],
                None => path.parts.iter().map(|p| p.name.clone()).collect(),
            }),
            _ => None,
        })
        .collect()
}

fn get_ci<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A cell of the CSV: the value at `path` in a REST-shaped row, empty for null.
fn cell(row: &Value, path: &[String], from: &str) -> String {
    let mut cur = row;
    // A path may start with the FROM object's name or alias (`Account.Name` on Account).
    let mut parts = path;
    if parts.len() > 1
        && let (Some(first), Value::Object(m)) = (parts.first(), cur)
        && first.eq_ignore_ascii_case(from)
        && get_ci(m, first).is_none()
    {
        parts = parts.get(1..).unwrap_or(parts);
    }
    for p in parts {
        match cur {
            Value::Object(m) => match get_ci(m, p) {
                Some(v) => cur = v,
                None => return String::new(),
            },
            _ => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `POST /jobs/query`.
pub async fn create(
    State(state): State<SharedState>,
    Extension(bulk): Extension<Bulk>,
    caller: Option<Extension<Caller>>,
    ApiVersion(v): ApiVersion,
    body: Bytes,
) -> Response {
    let prepared = match prepare(&state, &bulk, caller.as_ref().map(|c| &c.0), &v, &body) {
        Ok(p) => p,
        Err(e) => return reply(e),
    };
    let (id, user, query, include_deleted, out) = prepared;
    let (state2, bulk2) = (state.clone(), bulk.clone());
    tokio::task::spawn_blocking(move || {
        run(&state2, &bulk2, &id, &user, &query, include_deleted);
        state2.mark_dirty();
    });
    (StatusCode::OK, axum::Json(out)).into_response()
}

type Prepared = (String, SfId, forcebridge_soql::Query, bool, Value);

fn prepare(
    state: &SharedState,
    bulk: &Bulk,
    caller: Option<&Caller>,
    v: &str,
    body: &[u8],
) -> Result<Prepared, SfError> {
    let version = super::version(v)?;
    let user = super::caller_id(state, caller).ok_or_else(super::no_session)?;
    let req = super::json_object(body)?;
    let op = req
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let include_deleted = match op.as_str() {
        "query" => false,
        "queryAll" => true,
        other => {
            return Err(invalid_job(format!(
                "InvalidJob : Invalid operation: {other}. Valid operations are query, queryAll"
            )));
        }
    };
    if let Some(ct) = req
        .get("contentType")
        .and_then(Value::as_str)
        .filter(|c| *c != "CSV")
    {
        return Err(invalid_job(format!("InvalidJob : Invalid content type: {ct}")));
    }
    let dialect = Dialect::from_request(
        req.get("columnDelimiter").and_then(Value::as_str),
        req.get("lineEnding").and_then(Value::as_str),
    )?;
    let text = req
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| invalid_job("InvalidJob : The query is required"))?;
    let query = forcebridge_soql::parse(text).map_err(|e| soql_error(&e))?;
    check_bulk_query(&query)?;
    // Check fields and objects now, as Salesforce does when the job is created: the same query
    // with LIMIT 0 touches the catalog without producing rows.
    let object = {
        let org = state.org_read();
        let mut probe = query.clone();
        probe.select.limit = Some((0, Default::default()));
        let catalog = OrgCatalog::new(&org, user.clone(), &version);
        forcebridge_soql::execute(
            &probe,
            &catalog,
            forcebridge_soql::ExecOptions {
                include_deleted,
                omit_attributes: true,
            },
        )
        .map_err(|e| soql_error(&e))?;
        org.schema
            .object(query.from_object())
            .map_or_else(|| query.from_object().to_string(), |o| o.name.clone())
    };
    let id = {
        let mut jobs = bulk.jobs();
        if jobs.usage.daily_bulk_v2_query_jobs >= jobs.limits.daily_bulk_v2_query_jobs {
            return Err(bulk_error(
                StatusCode::BAD_REQUEST,
                "LIMIT_EXCEEDED",
                format!(
                    "ExceededQuota : The daily limit of {} Bulk API 2.0 query jobs (DailyBulkV2QueryJobs) was exceeded",
                    jobs.limits.daily_bulk_v2_query_jobs
                ),
            ));
        }
        if jobs.active() >= jobs.limits.max_concurrent_jobs {
            return Err(bulk_error(
                StatusCode::BAD_REQUEST,
                "LIMIT_EXCEEDED",
                format!(
                    "Max number of concurrent Bulk API 2.0 jobs ({}) reached",
                    jobs.limits.max_concurrent_jobs
                ),
            ));
        }
        jobs.usage.daily_bulk_v2_query_jobs += 1;
        drop(jobs);
        let id = state.org_write().new_id("750").to_string();
        state.mark_dirty();
        id
    };
    let now = now_string();
    let job = QueryJob {
        info: JobInfo {
            id: id.clone(),
            operation: op,
            object,
            created_by: user.to_string(),
            created_date: now.clone(),
            system_modstamp: now,
            state: JobState::UploadComplete,
            api_version: version,
            dialect,
            error_message: None,
            records_processed: 0,
            records_failed: 0,
            total_processing_ms: 0,
        },
        query: text.to_string(),
        result: None,
    };
    let out = job.summary();
    bulk.jobs().query.insert(id.clone(), job);
    Ok((id, user, query, include_deleted, out))
}

/// Runs a query job to the end (on a blocking thread).
fn run(
    state: &SharedState,
    bulk: &Bulk,
    id: &str,
    user: &SfId,
    query: &forcebridge_soql::Query,
    include_deleted: bool,
) {
    let started = std::time::Instant::now();
    let (dialect, version) = {
        let mut jobs = bulk.jobs();
        let Some(job) = jobs.query.get_mut(id) else { return };
        if job.info.state != JobState::UploadComplete {
            return;
        }
        job.info.set_state(JobState::InProgress);
        (job.info.dialect, job.info.api_version.clone())
    };
    let paths = column_paths(query);
    let from = query.from_object().to_string();
    let built: Result<QueryResult, String> = (|| {
        let mut w = csvio::writer(dialect);
        let header: Vec<String> = paths.iter().map(|p| p.join(".")).collect();
        csvio::row(&mut w, &header).map_err(|e| e.to_string())?;
        let header = Bytes::from(csvio::finish(w));
        let mut w = csvio::writer(dialect);
        let mut offsets = vec![0];
        let mut failed: Option<String> = None;
        {
            let org = state.org_read();
            let catalog = OrgCatalog::new(&org, user.clone(), &version);
            // CSV needs the columns only: no `attributes`. Each row is written as the evaluator
            // yields it, so the job holds its CSV and never every row's JSON at once.
            let options = forcebridge_soql::ExecOptions {
                include_deleted,
                omit_attributes: true,
            };
            let mut write = |row: Value| {
                if failed.is_some() {
                    return;
                }
                let cells: Vec<String> = paths.iter().map(|p| cell(&row, p, &from)).collect();
                let written = csvio::row(&mut w, &cells).and_then(|()| w.flush().map_err(csv::Error::from));
                match written {
                    Ok(()) => offsets.push(w.get_ref().len()),
                    Err(e) => failed = Some(e.to_string()),
                }
            };
            forcebridge_soql::execute_each(query, &catalog, options, &mut write)
                .map_err(|e| e.message.clone())?;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(QueryResult {
            header,
            rows: Bytes::from(csvio::finish(w)),
            offsets: std::sync::Arc::new(offsets),
        })
    })();
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut jobs = bulk.jobs();
    let bytes = built.as_ref().map_or(0, |r| r.rows.len() as u64);
    jobs.usage.query_result_bytes += bytes;
    let Some(job) = jobs.query.get_mut(id) else { return };
    job.info.total_processing_ms = ms;
    if job.info.state != JobState::InProgress {
        return;
    }
    match built {
        Ok(result) => {
            job.info.records_processed = result.offsets.len().saturating_sub(1) as u64;
            job.result = Some(result);
            job.info.set_state(JobState::JobComplete);
        }
        Err(message) => {
            job.info.error_message = Some(message);
            job.info.set_state(JobState::Failed);
        }
    }
}

fn key(id: &str) -> String {
    SfId::parse(id).map_or_else(|_| id.to_string(), |i| i.to_string())
}

/// `GET /jobs/query/{id}`.
pub async fn info(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let jobs = bulk.jobs();
    match jobs.query.get(&key(&id)) {
        Some(job) => axum::Json(job.detail()).into_response(),
        None => reply(super::job_not_found()),
    }
}

/// `GET /jobs/query`.
pub async fn list(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Query(p): Query<super::ingest::ListParams>,
) -> Response {
    let version = match super::version(&v) {
        Ok(v) => v,
        Err(e) => return reply(e),
    };
    let start = match p.query_locator.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return reply(invalid_job("Invalid query locator")),
    };
    let entries: Vec<Value> = bulk.jobs().query.values().map(QueryJob::list_entry).collect();
    axum::Json(super::ingest::list_page(
        entries,
        start,
        &format!("/services/data/v{version}/jobs/query"),
    ))
    .into_response()
}

/// `PATCH /jobs/query/{id}` with `{"state": "Aborted"}`.
pub async fn patch(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let req = match super::json_object(&body) {
        Ok(r) => r,
        Err(e) => return reply(e),
    };
    let wanted = req.get("state").and_then(Value::as_str).unwrap_or_default();
    let id = key(&id);
    let mut jobs = bulk.jobs();
    let Some(job) = jobs.query.get_mut(&id) else {
        return reply(super::job_not_found());
    };
    if wanted != "Aborted" {
        return reply(invalid_job(format!(
            "InvalidJob : Invalid state: {wanted}. A query job can only be set to Aborted"
        )));
    }
    if !job.info.state.is_active() {
        return reply(super::invalid_state(format!(
            "Cannot abort job {id}: it is {}",
            job.info.state.as_str()
        )));
    }
    job.info.set_state(JobState::Aborted);
    axum::Json(job.summary()).into_response()
}

/// `DELETE /jobs/query/{id}`.
pub async fn delete(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let id = key(&id);
    let mut jobs = bulk.jobs();
    match jobs.query.get(&id).map(|j| j.info.state) {
        None => reply(super::job_not_found()),
        Some(JobState::InProgress | JobState::UploadComplete) => reply(super::invalid_state(format!(
            "Job {id} must be JobComplete, Aborted or Failed to be deleted"
        ))),
        Some(_) => {
            jobs.query.shift_remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// Parameters of a results page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageParams {
    pub locator: Option<String>,
    #[serde(rename = "maxRecords")]
    pub max_records: Option<String>,
}

fn encode_locator(row: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(row.to_string())
}

fn decode_locator(s: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

/// `GET /jobs/query/{id}/results`.
pub async fn results(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let id = key(&id);
    let max = match p.max_records.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            return reply(invalid_job("InvalidJob : maxRecords must be a positive integer"));
        }
    };
    let start = match p.locator.as_deref().filter(|l| !l.is_empty()) {
        None => 0,
        Some(l) => match decode_locator(l) {
            Some(n) => n,
            None => {
                return reply(bulk_error(
                    StatusCode::BAD_REQUEST,
                    "INVALIDLOCATOR",
                    format!("Invalid locator: {l}"),
                ));
            }
        },
    };
    let result = {
        let jobs = bulk.jobs();
        let Some(job) = jobs.query.get(&id) else {
            return reply(super::job_not_found());
        };
        if job.info.api_version != super::version(&v).unwrap_or_default() {
            return reply(super::invalid_state(
                "Use the same API version to get query results that you used to create the query",
            ));
        }
        match (&job.result, job.info.state) {
            (Some(r), JobState::JobComplete) => r.clone(),
            _ => {
                return reply(super::invalid_state(format!(
                    "Results are available once job {id} is JobComplete; it is {}",
                    job.info.state.as_str()
                )));
            }
        }
    };
    let total = result.offsets.len().saturating_sub(1);
    if start > total {
        return reply(bulk_error(
            StatusCode::BAD_REQUEST,
            "INVALIDLOCATOR",
            format!("Invalid locator: {}", p.locator.unwrap_or_default()),
        ));
    }
    let end = start.saturating_add(max).min(total);
    let (from, to) = (
        result.offsets.get(start).copied().unwrap_or(0),
        result.offsets.get(end).copied().unwrap_or(0),
    );
    let mut body = Vec::with_capacity(result.header.len() + to.saturating_sub(from));
    body.extend_from_slice(&result.header);
    body.extend_from_slice(result.rows.get(from..to).unwrap_or_default());
    let locator = if end < total {
        encode_locator(end)
    } else {
        "null".to_string()
    };
    super::csv_response(
        body,
        vec![
            ("sforce-locator", locator),
            ("sforce-numberofrecords", (end - start).to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_round_trip() {
        assert_eq!(decode_locator(&encode_locator(10_000)), Some(10_000));
        assert_eq!(decode_locator("not base64!"), None);
    }

    #[test]
    fn cells_follow_relationship_paths() {
        let row = json!({"attributes": {}, "Name": "Acme", "Owner": {"Name": "Ann"}, "Parent": null, "N": 3});
        let p = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cell(&row, &p("Name"), "Account"), "Acme");
        assert_eq!(cell(&row, &p("owner.name"), "Account"), "Ann");
        assert_eq!(cell(&row, &p("Parent.Name"), "Account"), "");
        assert_eq!(cell(&row, &p("N"), "Account"), "3");
        assert_eq!(cell(&row, &p("Account.Name"), "Account"), "Acme");
    }
}
