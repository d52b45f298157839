//! Bulk API 2.0 ingest jobs: `POST /jobs/ingest`, `PUT .../batches` (CSV), `PATCH` to
//! `UploadComplete` or `Aborted`, `GET` job info and the job list, `DELETE`, and the three result
//! CSVs (`successfulResults`, `failedResults`, `unprocessedrecords`).
//!
//! Processing runs on a blocking worker once the job is `UploadComplete`: rows are read one by
//! one from the uploaded bytes and written in chunks, each chunk under one short hold of the org's
//! write lock, each row inside its own savepoint of a [`Tx`] — so a failing row is rolled back
//! alone (partial success), and REST callers are served between chunks.
//!
//! Invariant: a job keeps its upload once and one compact outcome per processed row (the id and
//! whether it was created, or the error text); result CSVs are rebuilt from the upload and the
//! outcomes on request, so memory stays at the CSV plus the records written.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{Bulk, Dialect, JobInfo, JobState, RECORDS_PER_BATCH, bulk_error, csvio, invalid_job};
use crate::app::SharedState;
use crate::bulk::ApiVersion;
use crate::error::SfError;
use crate::ids::SfId;
use crate::middleware::Caller;
use crate::org::now_string;
use crate::rest::dml::Tx;
use crate::schema::{FieldType, ObjectDef};

/// Rows written per hold of the org's write lock.
const CHUNK: usize = 2_000;

/// The ingest operations of Bulk API 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Upsert,
    Delete,
    HardDelete,
}

impl Operation {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "insert" => Operation::Insert,
            "update" => Operation::Update,
            "upsert" => Operation::Upsert,
            "delete" => Operation::Delete,
            "hardDelete" => Operation::HardDelete,
            _ => return None,
        })
    }
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done { id: SfId, created: bool },
    Failed { id: Option<SfId>, error: String },
}

/// One ingest job.
#[derive(Debug)]
pub struct IngestJob {
    pub info: JobInfo,
    pub op: Operation,
    pub external_id: Option<String>,
    /// The uploaded CSV (shared with the worker without copying).
    pub data: Option<Bytes>,
    /// One outcome per processed row, in upload order; rows past the end were not processed.
    /// Shared with result downloads, which read it without holding the jobs lock.
    pub outcomes: std::sync::Arc<Vec<Outcome>>,
}

impl IngestJob {
    /// The job as `POST /jobs/ingest` and `PATCH` answer it.
    pub fn summary(&self) -> Value {
        let mut m = self.info.common();
        if let Some(ext) = &self.external_id {
            m.insert("externalIdFieldName".into(), json!(ext));
        }
        m.insert("concurrencyMode".into(), json!("Parallel"));
        m.insert("contentType".into(), json!("CSV"));
        m.insert("apiVersion".into(), self.info.api_version_json());
        m.insert(
            "contentUrl".into(),
            json!(format!(
                "services/data/v{}/jobs/ingest/{}/batches",
                self.info.api_version, self.info.id
            )),
        );
        m.insert("lineEnding".into(), json!(self.info.dialect.line_ending_name()));
        m.insert(
            "columnDelimiter".into(),
            json!(self.info.dialect.delimiter_name()),
        );
        Value::Object(m)
    }

    /// The job as `GET /jobs/ingest/{id}` answers it.
    pub fn detail(&self) -> Value {
        let mut v = self.summary();
        if let Value::Object(m) = &mut v {
            m.insert("jobType".into(), json!("V2Ingest"));
            m.insert(
                "numberRecordsProcessed".into(),
                json!(self.info.records_processed),
            );
            m.insert("numberRecordsFailed".into(), json!(self.info.records_failed));
            m.insert("retries".into(), json!(0));
            m.insert("totalProcessingTime".into(), json!(self.info.total_processing_ms));
            m.insert(
                "apiActiveProcessingTime".into(),
                json!(self.info.total_processing_ms),
            );
            m.insert("apexProcessingTime".into(), json!(0));
            if let Some(e) = &self.info.error_message {
                m.insert("errorMessage".into(), json!(e));
            }
        }
        v
    }

    /// The job as one entry of `GET /jobs/ingest`.
    fn list_entry(&self) -> Value {
        let mut m = self.info.common();
        if let Some(ext) = &self.external_id {
            m.insert("externalIdFieldName".into(), json!(ext));
        }
        m.insert("concurrencyMode".into(), json!("Parallel"));
        m.insert("contentType".into(), json!("CSV"));
        m.insert("apiVersion".into(), self.info.api_version_json());
        m.insert("jobType".into(), json!("V2Ingest"));
        m.insert("lineEnding".into(), json!(self.info.dialect.line_ending_name()));
        m.insert(
            "columnDelimiter".into(),
            json!(self.info.dialect.delimiter_name()),
        );
        Value::Object(m)
    }
}

fn reply(e: SfError) -> Response {
    e.into_response()
}

fn opt_str<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// `POST /jobs/ingest`.
pub async fn create(
    State(state): State<SharedState>,
    Extension(bulk): Extension<Bulk>,
    caller: Option<Extension<Caller>>,
    ApiVersion(v): ApiVersion,
    body: Bytes,
) -> Response {
    create_inner(&state, &bulk, caller.as_ref().map(|c| &c.0), &v, &body).unwrap_or_else(reply)
}

fn create_inner(
    state: &SharedState,
    bulk: &Bulk,
    caller: Option<&Caller>,
    v: &str,
    body: &[u8],
) -> Result<Response, SfError> {
    let version = super::version(v)?;
    let user = super::caller_id(state, caller).ok_or_else(super::no_session)?;
    let req = super::json_object(body)?;
    let op_name = opt_str(&req, "operation").unwrap_or_default().to_string();
    let op = Operation::parse(&op_name).ok_or_else(|| {
        invalid_job(format!(
            "InvalidJob : Invalid operation: {op_name}. Valid operations are insert, update, upsert, delete, hardDelete"
        ))
    })?;
    if let Some(ct) = opt_str(&req, "contentType").filter(|c| *c != "CSV") {
        return Err(invalid_job(format!("InvalidJob : Invalid content type: {ct}")));
    }
    let dialect = Dialect::from_request(opt_str(&req, "columnDelimiter"), opt_str(&req, "lineEnding"))?;
    let object_name = opt_str(&req, "object").unwrap_or_default();
    let (object, external_id, id) = {
        let mut org = state.org_write();
        let def = org
            .schema
            .object(object_name)
            .ok_or_else(|| invalid_job(format!("sObject type '{object_name}' is not supported.")))?;
        let allowed = match op {
            Operation::Insert => def.createable,
            Operation::Update => def.updateable,
            Operation::Upsert => def.createable && def.updateable,
            Operation::Delete | Operation::HardDelete => def.deletable,
        };
        if !allowed {
            return Err(invalid_job(format!(
                "InvalidJob : Entity type {} does not support {op_name}",
                def.name
            )));
        }
        let external_id = match (op, opt_str(&req, "externalIdFieldName")) {
            (Operation::Upsert, None | Some("")) => {
                return Err(invalid_job(
                    "InvalidJob : External ID field name is required for upsert",
                ));
            }
            (Operation::Upsert, Some(f)) => {
                let fd = def
                    .field(f)
                    .filter(|fd| fd.external_id || fd.ftype == FieldType::Id)
                    .ok_or_else(|| {
                        invalid_job(format!(
                            "InvalidJob : Field name provided, {f} does not match an External ID, Salesforce Id, or indexed field for {}",
                            def.name
                        ))
                    })?;
                Some(fd.name.clone())
            }
            _ => None,
        };
        let name = def.name.clone();
        let id = org.new_id("750");
        (name, external_id, id)
    };
    state.mark_dirty();
    let now = now_string();
    let job = IngestJob {
        info: JobInfo {
            id: id.to_string(),
            operation: op_name,
            object,
            created_by: user.to_string(),
            created_date: now.clone(),
            system_modstamp: now,
            state: JobState::Open,
            api_version: version,
            dialect,
            error_message: None,
            records_processed: 0,
            records_failed: 0,
            total_processing_ms: 0,
        },
        op,
        external_id,
        data: None,
        outcomes: std::sync::Arc::default(),
    };
    let out = job.summary();
    {
        let mut jobs = bulk.jobs();
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
        jobs.ingest.insert(job.info.id.clone(), job);
    }
    Ok((StatusCode::OK, axum::Json(out)).into_response())
}

/// Finds a job by id (15 or 18 characters).
fn key(id: &str) -> String {
    SfId::parse(id).map_or_else(|_| id.to_string(), |i| i.to_string())
}

/// `GET /jobs/ingest/{id}`.
pub async fn info(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let jobs = bulk.jobs();
    match jobs.ingest.get(&key(&id)) {
        Some(job) => axum::Json(job.detail()).into_response(),
        None => reply(super::job_not_found()),
    }
}

/// Query parameters of the job list.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListParams {
    #[serde(rename = "queryLocator")]
    pub query_locator: Option<String>,
    #[serde(rename = "jobType")]
    pub job_type: Option<String>,
}

/// Jobs per page of `GET /jobs/ingest` and `GET /jobs/query`.
pub const LIST_PAGE: usize = 1000;

/// A page of the job list: `{done, records, nextRecordsUrl}`.
pub fn list_page(entries: Vec<Value>, start: usize, next_base: &str) -> Value {
    let end = (start + LIST_PAGE).min(entries.len());
    let done = end >= entries.len();
    let records: Vec<Value> = entries.into_iter().skip(start).take(LIST_PAGE).collect();
    json!({
        "done": done,
        "records": records,
        "nextRecordsUrl": if done { Value::Null } else { json!(format!("{next_base}?queryLocator={end}")) },
    })
}

/// `GET /jobs/ingest`.
pub async fn list(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Query(p): Query<ListParams>,
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
    let entries: Vec<Value> = {
        let jobs = bulk.jobs();
        jobs.ingest
            .values()
            .filter(|_| p.job_type.as_deref().is_none_or(|t| t == "V2Ingest"))
            .map(IngestJob::list_entry)
            .collect()
    };
    axum::Json(list_page(
        entries,
        start,
        &format!("/services/data/v{version}/jobs/ingest"),
    ))
    .into_response()
}

/// `PUT /jobs/ingest/{id}/batches`: the job's CSV, at most `max_upload_bytes`.
pub async fn upload(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    if let Err(e) = super::version(&v) {
        return reply(e);
    }
    let id = key(&id);
    let limit = {
        let jobs = bulk.jobs();
        match jobs.ingest.get(&id) {
            None => return reply(super::job_not_found()),
            Some(j) if j.info.state != JobState::Open => {
                return reply(super::invalid_state(format!(
                    "Job {id} is not in the Open state; data can only be uploaded to an Open job"
                )));
            }
            Some(j) if j.data.is_some() => {
                return reply(super::invalid_state(
                    "Data was already uploaded for this job; a Bulk API 2.0 job takes one upload",
                ));
            }
            Some(_) => jobs.limits.max_upload_bytes,
        }
    };
    let cap = usize::try_from(limit).unwrap_or(usize::MAX).saturating_add(1);
    let bytes = match axum::body::to_bytes(body, cap).await {
        Ok(b) if (b.len() as u64) <= limit => b,
        _ => {
            return reply(bulk_error(
                StatusCode::BAD_REQUEST,
                "CLIENT_INPUT_ERROR",
                format!(
                    "The CSV data exceeds the maximum upload size of {} MB for a job",
                    limit / super::MB
                ),
            ));
        }
    };
    let mut jobs = bulk.jobs();
    match jobs.ingest.get_mut(&id) {
        Some(j) if j.info.state == JobState::Open => {
            j.data = Some(bytes);
            j.info.system_modstamp = now_string();
            StatusCode::CREATED.into_response()
        }
        Some(_) => reply(super::invalid_state(format!("Job {id} is not in the Open state"))),
        None => reply(super::job_not_found()),
    }
}

/// `PATCH /jobs/ingest/{id}` with `{"state": "UploadComplete" | "Aborted"}`.
pub async fn patch(
    State(state): State<SharedState>,
    Extension(bulk): Extension<Bulk>,
    caller: Option<Extension<Caller>>,
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
    let wanted = opt_str(&req, "state").unwrap_or_default().to_string();
    let id = key(&id);
    let Some(user) = super::caller_id(&state, caller.as_ref().map(|c| &c.0)) else {
        return reply(super::no_session());
    };
    let out = {
        let mut jobs = bulk.jobs();
        let Some(job) = jobs.ingest.get_mut(&id) else {
            return reply(super::job_not_found());
        };
        match (wanted.as_str(), job.info.state) {
            ("UploadComplete", JobState::Open) => job.info.set_state(JobState::UploadComplete),
            ("Aborted", s) if s.is_active() => job.info.set_state(JobState::Aborted),
            ("UploadComplete" | "Aborted", s) => {
                return reply(super::invalid_state(format!(
                    "Cannot change the state of job {id} from {} to {wanted}",
                    s.as_str()
                )));
            }
            _ => {
                return reply(invalid_job(format!(
                    "InvalidJob : Invalid state: {wanted}. Valid values are UploadComplete, Aborted"
                )));
            }
        }
        job.summary()
    };
    if wanted == "UploadComplete" {
        let (state, bulk) = (state.clone(), bulk.clone());
        // The finished job goes to the state file like the rows it wrote.
        tokio::task::spawn_blocking(move || {
            process(&state, &bulk, &id, &user);
            state.mark_dirty();
        });
    }
    axum::Json(out).into_response()
}

/// `DELETE /jobs/ingest/{id}`: allowed once the job is closed, finished or aborted.
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
    match jobs.ingest.get(&id).map(|j| j.info.state) {
        None => reply(super::job_not_found()),
        Some(JobState::Open | JobState::InProgress) => reply(super::invalid_state(format!(
            "Job {id} must be UploadComplete, JobComplete, Aborted or Failed to be deleted"
        ))),
        Some(_) => {
            jobs.ingest.shift_remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// Which result CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Successful,
    Failed,
    Unprocessed,
}

/// `GET /jobs/ingest/{id}/successfulResults`.
pub async fn successful(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    results(&bulk, &v, &id, Which::Successful).await
}

/// `GET /jobs/ingest/{id}/failedResults`.
pub async fn failed(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    results(&bulk, &v, &id, Which::Failed).await
}

/// `GET /jobs/ingest/{id}/unprocessedrecords`.
pub async fn unprocessed(
    Extension(bulk): Extension<Bulk>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    results(&bulk, &v, &id, Which::Unprocessed).await
}

async fn results(bulk: &Bulk, v: &str, id: &str, which: Which) -> Response {
    if let Err(e) = super::version(v) {
        return reply(e);
    }
    let id = key(id);
    // Take shared handles to what the CSV is built from (the upload and the outcomes), so the
    // jobs lock is not held while the CSV is written.
    let (data, dialect, outcomes) = {
        let jobs = bulk.jobs();
        let Some(job) = jobs.ingest.get(&id) else {
            return reply(super::job_not_found());
        };
        let ready = matches!(
            job.info.state,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        ) || (which == Which::Unprocessed && job.info.state != JobState::InProgress);
        if !ready {
            return reply(super::invalid_state(format!(
                "Results are not available while job {id} is {}",
                job.info.state.as_str()
            )));
        }
        (job.data.clone(), job.info.dialect, job.outcomes.clone())
    };
    let built =
        tokio::task::spawn_blocking(move || build_results(data.as_deref(), dialect, &outcomes, which)).await;
    match built {
        Ok(Ok(csv)) => super::csv_response(csv, Vec::new()),
        _ => reply(bulk_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "The results could not be built",
        )),
    }
}

/// Builds a result CSV from the upload and the outcomes.
fn build_results(
    data: Option<&[u8]>,
    dialect: Dialect,
    outcomes: &[Outcome],
    which: Which,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csvio::writer(dialect);
    let Some(data) = data else {
        let head: &[&str] = match which {
            Which::Successful => &["sf__Id", "sf__Created"],
            Which::Failed => &["sf__Id", "sf__Error"],
            Which::Unprocessed => &[],
        };
        if !head.is_empty() {
            csvio::row(&mut w, head)?;
        }
        return Ok(csvio::finish(w));
    };
    let mut r = csvio::reader(data, dialect);
    let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
    let prefix: Vec<String> = match which {
        Which::Successful => vec!["sf__Id".into(), "sf__Created".into()],
        Which::Failed => vec!["sf__Id".into(), "sf__Error".into()],
        Which::Unprocessed => Vec::new(),
    };
    csvio::row(&mut w, prefix.iter().chain(header.iter()))?;
    for (i, rec) in r.records().enumerate() {
        let Ok(rec) = rec else { break };
        match (which, outcomes.get(i)) {
            (Which::Successful, Some(Outcome::Done { id, created })) => {
                let head = [id.as_str(), if *created { "true" } else { "false" }];
                csvio::row(&mut w, head.iter().copied().chain(rec.iter()))?;
            }
            (Which::Failed, Some(Outcome::Failed { id, error })) => {
                let head = [id.as_ref().map_or("", SfId::as_str), error.as_str()];
                csvio::row(&mut w, head.iter().copied().chain(rec.iter()))?;
            }
            (Which::Unprocessed, None) => csvio::row(&mut w, rec.iter())?,
            _ => {}
        }
    }
    Ok(csvio::finish(w))
}

/// `STATUS_CODE:message:fields --`, as Bulk API writes `sf__Error`.
pub fn error_text(e: &SfError) -> String {
    let fields = e.fields.join(",");
    if fields.is_empty() {
        format!("{}:{}:--", e.error_code, e.message)
    } else {
        format!("{}:{}:{fields} --", e.error_code, e.message)
    }
}

/// How the header's columns map onto the object: a field, or `Relationship.ExternalIdField`.
#[derive(Debug, Clone)]
enum Column {
    Field(String),
    Relationship { rel: String, field: String },
}

fn columns(def: &ObjectDef, header: &csv::StringRecord) -> Result<Vec<Column>, String> {
    header
        .iter()
        .map(|raw| {
            let col = raw.trim();
            if let Some(fd) = def.field(col) {
                return Ok(Column::Field(fd.name.clone()));
            }
            if let Some((rel, field)) = col.split_once('.') {
                // `Owner:User.Username` names the polymorphic target type; the type is implied here.
                let rel = rel.split_once(':').map_or(rel, |(r, _)| r);
                if let Some(fd) = def.relationship(rel)
                    && let Some(name) = fd.relationship_name.clone()
                {
                    return Ok(Column::Relationship {
                        rel: name,
                        field: field.to_string(),
                    });
                }
            }
            Err(format!("InvalidBatch : Field name not found : {col}"))
        })
        .collect()
}

/// One row as a REST-style body: empty cells are left out (the field keeps its value), `#N/A`
/// is null, relationship columns become `{"Rel": {"ExtField": value}}`.
fn row_body(cols: &[Column], rec: &csv::StringRecord) -> Map<String, Value> {
    let mut body = Map::new();
    for (col, cell) in cols.iter().zip(rec.iter()) {
        if cell.is_empty() {
            continue;
        }
        let value = if cell == "#N/A" {
            Value::Null
        } else {
            Value::String(cell.to_string())
        };
        match col {
            Column::Field(name) => {
                body.insert(name.clone(), value);
            }
            Column::Relationship { rel, field } => {
                if value.is_null() {
                    continue;
                }
                let mut inner = Map::new();
                inner.insert(field.clone(), value);
                body.insert(rel.clone(), Value::Object(inner));
            }
        }
    }
    body
}

fn malformed_id(label: &str, s: &str) -> SfError {
    SfError::bad_request(
        "MALFORMED_ID",
        format!("{label} ID: id value of incorrect type: {s}"),
    )
    .with_fields(["Id"])
}

/// Takes the `Id` cell out of a body.
fn take_id(label: &str, body: &mut Map<String, Value>, op: &str) -> Result<SfId, SfError> {
    let given = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
        .map(|(k, v)| (k.clone(), v.clone()));
    let Some((k, v)) = given else {
        return Err(SfError::bad_request(
            "MISSING_ARGUMENT",
            format!("Id not specified in an {op} call"),
        ));
    };
    body.remove(&k);
    let s = v.as_str().unwrap_or_default();
    SfId::parse(s).map_err(|_| malformed_id(label, s))
}

/// Writes one row inside the current savepoint.
fn write_row(
    tx: &mut Tx<'_>,
    def_name: &str,
    label: &str,
    op: Operation,
    external_id: Option<&str>,
    mut body: Map<String, Value>,
) -> Result<(SfId, bool), (Option<SfId>, SfError)> {
    match op {
        Operation::Insert => tx
            .create(def_name, &body)
            .map(|id| (id, true))
            .map_err(|e| (None, e)),
        Operation::Update => {
            let id = take_id(label, &mut body, "update").map_err(|e| (None, e))?;
            tx.update(def_name, &id, &body)
                .map(|()| (id.clone(), false))
                .map_err(|e| (Some(id), e))
        }
        Operation::Delete | Operation::HardDelete => {
            let id = take_id(label, &mut body, "delete").map_err(|e| (None, e))?;
            let deleted = tx.delete(Some(def_name), &id).map_err(|e| {
                let e = if e.error_code == "NOT_FOUND" {
                    SfError::bad_request("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
                } else {
                    e
                };
                (Some(id.clone()), e)
            });
            deleted?;
            if op == Operation::HardDelete {
                // A hard delete skips the recycle bin: the row is gone, even for queryAll.
                tx.purge(def_name, &id);
            }
            Ok((id, false))
        }
        Operation::Upsert => {
            let field = external_id.unwrap_or("Id");
            let value = body
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .map(|(_, v)| crate::validate::value_text(v))
                .unwrap_or_default();
            if field == "Id" {
                return match tx.upsert(def_name, field, &value, &body) {
                    Ok(crate::rest::dml::Upserted::Created(id)) => Ok((id, true)),
                    Ok(crate::rest::dml::Upserted::Updated(id)) => Ok((id, false)),
                    Ok(crate::rest::dml::Upserted::Multiple(_)) => Err((
                        None,
                        SfError::bad_request("DUPLICATE_EXTERNAL_ID", "More than one record found"),
                    )),
                    Err(e) => Err((None, e)),
                };
            }
            if value.is_empty() {
                return Err((
                    None,
                    SfError::bad_request("MISSING_ARGUMENT", format!("{field} not specified")),
                ));
            }
            let found = tx.matches(def_name, field, &value).map_err(|e| (None, e))?.1;
            match found.as_slice() {
                [] => {
                    let id = tx.create(def_name, &body).map_err(|e| (None, e))?;
                    Ok((id, true))
                }
                [one] => {
                    body.retain(|k, _| !k.eq_ignore_ascii_case(field) && !k.eq_ignore_ascii_case("Id"));
                    tx.update(def_name, one, &body)
                        .map_err(|e| (Some(one.clone()), e))?;
                    Ok((one.clone(), false))
                }
                _ => Err((
                    None,
                    SfError::bad_request(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{field}: more than one record found for external id field: {}",
                            found.iter().map(SfId::as_str).collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_fields([field]),
                )),
            }
        }
    }
}

/// Ends a job as `Failed` with an error message and the outcomes so far.
fn fail_job(bulk: &Bulk, id: &str, message: String, outcomes: Vec<Outcome>, ms: u64) {
    let mut jobs = bulk.jobs();
    if let Some(job) = jobs.ingest.get_mut(id) {
        if job.info.state != JobState::Aborted {
            job.info.set_state(JobState::Failed);
        }
        job.info.error_message = Some(message);
        job.info.total_processing_ms = ms;
        job.outcomes = std::sync::Arc::new(outcomes);
    }
}

/// Processes an `UploadComplete` job to the end (runs on a blocking thread).
pub fn process(state: &SharedState, bulk: &Bulk, id: &str, user: &SfId) {
    let started = std::time::Instant::now();
    let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (data, dialect, object, op, external_id) = {
        let mut jobs = bulk.jobs();
        let Some(job) = jobs.ingest.get_mut(id) else {
            return;
        };
        if job.info.state != JobState::UploadComplete {
            return;
        }
        job.info.set_state(JobState::InProgress);
        (
            job.data.clone().unwrap_or_default(),
            job.info.dialect,
            job.info.object.clone(),
            job.op,
            job.external_id.clone(),
        )
    };
    let mut reader = csvio::reader(&data, dialect);
    let (cols, label) = {
        let org = state.org_read();
        let Some(def) = org.schema.object(&object) else {
            drop(org);
            return fail_job(
                bulk,
                id,
                format!("InvalidJob : Entity {object} no longer exists"),
                Vec::new(),
                elapsed(),
            );
        };
        let header = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                drop(org);
                return fail_job(bulk, id, format!("ClientInputError : {e}"), Vec::new(), elapsed());
            }
        };
        match columns(def, &header) {
            Ok(c) => (c, def.label.clone()),
            Err(m) => {
                drop(org);
                return fail_job(bulk, id, m, Vec::new(), elapsed());
            }
        }
    };
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut failed = 0u64;
    let mut records = reader.records();
    loop {
        // Read one chunk of rows (and stop at a malformed line, as Salesforce fails the job).
        let mut chunk: Vec<Map<String, Value>> = Vec::with_capacity(CHUNK);
        for rec in records.by_ref() {
            match rec {
                Ok(r) => chunk.push(row_body(&cols, &r)),
                Err(e) => {
                    return fail_job(bulk, id, format!("ClientInputError : {e}"), outcomes, elapsed());
                }
            }
            if chunk.len() == CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        // Meter the daily allocations: a new internal batch every 10,000 rows.
        {
            let mut jobs = bulk.jobs();
            if jobs
                .ingest
                .get(id)
                .is_none_or(|j| j.info.state != JobState::InProgress)
            {
                // Aborted or deleted meanwhile: the rest stays unprocessed.
                drop(jobs);
                return finish(bulk, id, outcomes, failed, elapsed(), true);
            }
            let done = outcomes.len() as u64;
            let n = chunk.len() as u64;
            let new_batches = (done + n).div_ceil(RECORDS_PER_BATCH) - done.div_ceil(RECORDS_PER_BATCH);
            let l = jobs.limits.clone();
            let u = &mut jobs.usage;
            if u.daily_bulk_api_batches + new_batches > l.daily_bulk_api_batches {
                drop(jobs);
                return fail_job(
                    bulk,
                    id,
                    "ExceededQuota : The daily limit of Bulk API batches (DailyBulkApiBatches) was exceeded"
                        .into(),
                    outcomes,
                    elapsed(),
                );
            }
            if u.daily_records + n > l.daily_records {
                drop(jobs);
                return fail_job(
                    bulk,
                    id,
                    format!(
                        "ExceededQuota : The daily limit of {} records processed by Bulk API was exceeded",
                        l.daily_records
                    ),
                    outcomes,
                    elapsed(),
                );
            }
            u.daily_bulk_api_batches += new_batches;
            u.daily_records += n;
        }
        let changed = {
            let mut org = state.org_write();
            let mut tx = Tx::new(&mut org, user.clone());
            for body in chunk {
                let sp = tx.savepoint();
                match write_row(&mut tx, &object, &label, op, external_id.as_deref(), body) {
                    Ok((rid, created)) => outcomes.push(Outcome::Done { id: rid, created }),
                    Err((rid, e)) => {
                        tx.rollback_to(sp);
                        failed += 1;
                        outcomes.push(Outcome::Failed {
                            id: rid,
                            error: error_text(&e),
                        });
                    }
                }
            }
            tx.changed()
        };
        if changed {
            state.mark_dirty();
        }
        let mut jobs = bulk.jobs();
        if let Some(job) = jobs.ingest.get_mut(id) {
            job.info.records_processed = outcomes.len() as u64;
            job.info.records_failed = failed;
        }
    }
    finish(bulk, id, outcomes, failed, elapsed(), false);
}

/// Stores the outcomes and completes the job (unless it was aborted).
fn finish(bulk: &Bulk, id: &str, outcomes: Vec<Outcome>, failed: u64, ms: u64, aborted: bool) {
    let mut jobs = bulk.jobs();
    if let Some(job) = jobs.ingest.get_mut(id) {
        job.info.records_processed = outcomes.len() as u64;
        job.info.records_failed = failed;
        job.info.total_processing_ms = ms;
        job.outcomes = std::sync::Arc::new(outcomes);
        if !aborted && job.info.state == JobState::InProgress {
            job.info.set_state(JobState::JobComplete);
        }
    }
}
