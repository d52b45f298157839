//! Bulk API 2.0: ingest jobs fed from a stream of records, and query jobs read as a stream.
//!
//! Ingest: records are encoded to CSV on the fly and streamed into the upload, so memory does not
//! grow with the data; when a job's upload would pass [`IngestSpec::max_upload_bytes`] (100 MB by
//! default — Salesforce's limit is 150 MB after base64) the job is closed and a new one started.
//! Each job is polled to its end and its successful, failed and unprocessed result files are
//! read as they download ([`ResultReader`]) and mapped back to the caller's input rows. A job's
//! only per-row state is its [`RowMap`], 17 bytes a row, so memory is bounded by the upload limit
//! (rows per job), never by the total. Salesforce does not keep result order, so rows are matched
//! by a fingerprint of the field values they echo back; rows with identical values are
//! indistinguishable and are matched first-in first-out.
//!
//! Query: a query job is created, polled, and its results read page by page through the
//! `Sforce-Locator` header, one page in memory at a time.
//!
//! Invariant: every input row gets exactly one [`RowOutcome`] — a result, or unprocessed when its
//! job ended without processing it (or its result could not be matched).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod results;

pub use results::{ResultKind, ResultReader, map_results};

use crate::client::{Client, Req};
use crate::error::{Error, Result};
use crate::types::check_api_name;

/// An ingest operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BulkOperation {
    /// Create records.
    Insert,
    /// Update by `Id`.
    Update,
    /// Upsert by an external id field.
    Upsert,
    /// Delete by `Id` (to the recycle bin).
    Delete,
    /// Delete permanently.
    HardDelete,
}

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestSpec {
    /// The object.
    pub object: String,
    /// The operation.
    pub operation: BulkOperation,
    /// For upserts: the external id field.
    pub external_id_field: Option<String>,
    /// The CSV columns, in order; every record's keys must be among them.
    pub columns: Vec<String>,
    /// Largest upload per job, in bytes of CSV.
    pub max_upload_bytes: usize,
    /// Time between job status polls.
    pub poll_interval: Duration,
    /// How long to wait for one job to finish.
    pub job_timeout: Duration,
}

impl IngestSpec {
    /// A spec with the defaults: 100 MB per job, polling every 2 seconds, 30 minutes per job.
    pub fn new(object: &str, operation: BulkOperation, columns: Vec<String>) -> Self {
        IngestSpec {
            object: object.to_string(),
            operation,
            external_id_field: None,
            columns,
            max_upload_bytes: 100 * 1024 * 1024,
            poll_interval: Duration::from_secs(2),
            job_timeout: Duration::from_secs(30 * 60),
        }
    }

    fn validate(&self) -> Result<()> {
        check_api_name("sObject", &self.object)?;
        if self.columns.is_empty() {
            return Err(Error::InvalidInput("a bulk job needs at least one column".into()));
        }
        for c in &self.columns {
            // Relationship columns look like `Account.External_Id__c`.
            for part in c.split('.') {
                check_api_name("column", part)?;
            }
        }
        if self.operation == BulkOperation::Upsert && self.external_id_field.is_none() {
            return Err(Error::InvalidInput(
                "a bulk upsert needs external_id_field".into(),
            ));
        }
        if self.max_upload_bytes < 1024 {
            return Err(Error::InvalidInput(
                "max_upload_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }
}

/// The status of a job (`GET /jobs/ingest/{id}` or `/jobs/query/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    /// Job id (`750...`).
    pub id: String,
    /// `Open`, `UploadComplete`, `InProgress`, `JobComplete`, `Failed`, `Aborted`.
    pub state: String,
    /// The object.
    #[serde(default)]
    pub object: Option<String>,
    /// The operation.
    #[serde(default)]
    pub operation: Option<String>,
    /// Records processed so far.
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    /// Records that failed.
    #[serde(default)]
    pub number_records_failed: Option<u64>,
    /// Why a job failed.
    #[serde(default)]
    pub error_message: Option<String>,
}

impl JobInfo {
    /// Whether the job will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "JobComplete" | "Failed" | "Aborted")
    }
}

/// What happened to one input row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    /// Processed: the record id and, for inserts and upserts, whether it was created.
    Success {
        /// `sf__Id`.
        id: String,
        /// `sf__Created`.
        created: bool,
    },
    /// Refused, with `sf__Error` (e.g. `REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --`).
    Failed {
        /// `sf__Id` when the row had one.
        id: Option<String>,
        /// `sf__Error`.
        error: String,
    },
    /// Not processed (the job failed or was aborted first); resubmit it.
    Unprocessed,
}

/// One row's result, by its position in the input stream (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    /// Position in the input.
    pub row: u64,
    /// The job that carried it.
    pub job_id: String,
    /// What happened.
    pub outcome: RowOutcome,
}

/// A summary of one job of an ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    /// The final job info.
    pub info: JobInfo,
    /// First input row in this job.
    pub first_row: u64,
    /// Rows uploaded in this job.
    pub rows: u64,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Encodes one value as a Bulk CSV cell. Null is empty (for updates Salesforce keeps the old value;
/// send `#N/A` to clear a field).
fn cell(column: &str, v: &Value) -> Result<String> {
    Ok(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => {
            return Err(Error::InvalidInput(format!(
                "column {column}: bulk CSV cells must be text, numbers, booleans or null"
            )));
        }
    })
}

/// The CSV cells of a record in column order.
fn cells(columns: &[String], record: &Map<String, Value>, row: u64) -> Result<Vec<String>> {
    for k in record.keys() {
        if k != "attributes" && !columns.iter().any(|c| c == k) {
            return Err(Error::InvalidInput(format!(
                "row {row} has field {k:?} which is not among the job's columns"
            )));
        }
    }
    columns
        .iter()
        .map(|c| record.get(c).map_or(Ok(String::new()), |v| cell(c, v)))
        .collect()
}

fn csv_line(cells: &[String]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(cells)
        .map_err(|e| Error::InvalidInput(format!("cannot encode a CSV row: {e}")))?;
    w.into_inner()
        .map_err(|e| Error::InvalidInput(format!("cannot encode a CSV row: {e}")))
}

fn fingerprint<'a>(values: impl Iterator<Item = &'a str>) -> u64 {
    let mut h = DefaultHasher::new();
    for v in values {
        v.hash(&mut h);
        0xffu8.hash(&mut h); // separator, so ("ab","c") differs from ("a","bc")
    }
    h.finish()
}

/// Maps result rows back to input rows: a sorted list of (fingerprint, input row) and a "used"
/// mark per row — 17 bytes per row of the current job.
#[derive(Debug, Default)]
pub struct RowMap {
    entries: Vec<(u64, u32)>,
    used: Vec<bool>,
    sorted: bool,
}

impl RowMap {
    /// Records input row `index` (within the job) with its cells.
    pub fn push(&mut self, cells: &[String]) {
        let index = u32::try_from(self.used.len()).unwrap_or(u32::MAX);
        self.entries
            .push((fingerprint(cells.iter().map(String::as_str)), index));
        self.used.push(false);
        self.sorted = false;
    }

    /// Takes the first unused input row whose cells match.
    pub fn take(&mut self, cells: &[&str]) -> Option<u32> {
        if !self.sorted {
            self.entries.sort_unstable();
            self.sorted = true;
        }
        let fp = fingerprint(cells.iter().copied());
        let start = self.entries.partition_point(|(h, _)| *h < fp);
        for (h, idx) in self.entries.get(start..)?.iter() {
            if *h != fp {
                break;
            }
            if let Some(u) = self.used.get_mut(*idx as usize)
                && !*u
            {
                *u = true;
                return Some(*idx);
            }
        }
        None
    }

    /// Rows never matched, in input order.
    pub fn unmatched(&self) -> impl Iterator<Item = u32> + '_ {
        self.used
            .iter()
            .enumerate()
            .filter(|(_, u)| !**u)
            .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
    }

    /// Rows recorded.
    pub fn len(&self) -> usize {
        self.used.len()
    }

    /// Whether no rows were recorded.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }
}

impl Client {
    /// Creates an ingest job.
    async fn create_ingest_job(&self, spec: &IngestSpec) -> Result<JobInfo> {
        let mut body = serde_json::json!({
            "object": spec.object,
            "operation": spec.operation,
            "contentType": "CSV",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        });
        if let Some(f) = &spec.external_id_field {
            body["externalIdFieldName"] = Value::String(f.clone());
        }
        self.send(Req::new(Method::POST, "jobs/ingest").json(&body)?)
            .await?
            .json("bulk job")
    }

    async fn set_ingest_state(&self, job_id: &str, state: &str) -> Result<JobInfo> {
        let req = Req::new(Method::PATCH, format!("jobs/ingest/{job_id}"))
            .json(&serde_json::json!({ "state": state }))?;
        self.send(req).await?.json("bulk job")
    }

    /// Reads an ingest job's status.
    ///
    /// # Errors
    /// Pipeline errors.
    pub async fn ingest_job(&self, job_id: &str) -> Result<JobInfo> {
        check_api_name("job id", job_id)?;
        self.get_json(&format!("jobs/ingest/{job_id}")).await
    }

    async fn wait_for(&self, path: &str, interval: Duration, timeout: Duration) -> Result<JobInfo> {
        let started = Instant::now();
        loop {
            let info: JobInfo = self.get_json(path).await?;
            if info.is_final() {
                return Ok(info);
            }
            if started.elapsed() >= timeout {
                return Err(Error::BulkJobFailed {
                    job_id: info.id,
                    state: info.state,
                    message: format!("still running after {timeout:?}; it keeps running in Salesforce"),
                });
            }
            tracing::debug!(job = %info.id, state = %info.state, "bulk job running");
            tokio::time::sleep(interval).await;
        }
    }

    /// Ingests every record of `records` through as many jobs as the upload limit requires, and
    /// calls `on_result` once per input row with its outcome and input row number (in job order;
    /// within a job, as the result files list them — successes, failures, then unprocessed rows —
    /// so that no job's outcomes are ever held in memory). Returns a summary per job.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad spec or a record with fields outside the columns (the job
    /// being uploaded is aborted); pipeline errors; [`Error::BulkJobFailed`] when a job did not
    /// finish in time. A job that ends `Failed` is not an error: its rows are reported.
    pub async fn bulk_ingest<S>(
        &self,
        spec: &IngestSpec,
        records: S,
        on_result: &mut (dyn FnMut(RowResult) + Send),
    ) -> Result<Vec<JobSummary>>
    where
        S: Stream<Item = Map<String, Value>> + Send + Unpin,
    {
        spec.validate()?;
        let header = csv_line(&spec.columns)?;
        // Fused: the stream is polled again after it ended, when deciding whether another job is needed.
        let mut records = records.enumerate().fuse();
        let mut summaries = Vec::new();
        // A row encoded but not yet placed in a job (it did not fit in the previous one).
        let mut carry: Option<(u64, Vec<String>, Vec<u8>)> = None;
        loop {
            if carry.is_none() {
                match records.next().await {
                    None => break,
                    Some((i, rec)) => {
                        let row = i as u64;
                        let c = cells(&spec.columns, &rec, row)?;
                        let line = csv_line(&c)?;
                        carry = Some((row, c, line));
                    }
                }
            }
            let job = self.create_ingest_job(spec).await?;
            let (mut tx, rx) =
                futures::channel::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(16);
            let upload_path = format!("jobs/ingest/{}/batches", job.id);
            let upload = self.send_stream(
                Method::PUT,
                &upload_path,
                "text/csv",
                reqwest::Body::wrap_stream(rx),
            );
            let mut map = RowMap::default();
            let mut first_row = None;
            let mut bytes = header.len();
            let produce = async {
                let mut buf = header.clone();
                loop {
                    let (row, c, line) = match carry.take() {
                        Some(x) => x,
                        None => match records.next().await {
                            None => break,
                            Some((i, rec)) => {
                                let row = i as u64;
                                let c = cells(&spec.columns, &rec, row)?;
                                let line = csv_line(&c)?;
                                (row, c, line)
                            }
                        },
                    };
                    if !map.is_empty() && bytes + line.len() > spec.max_upload_bytes {
                        carry = Some((row, c, line));
                        break;
                    }
                    first_row.get_or_insert(row);
                    bytes += line.len();
                    map.push(&c);
                    buf.extend_from_slice(&line);
                    if buf.len() >= 64 * 1024 {
                        let chunk = Bytes::from(std::mem::take(&mut buf));
                        if tx.send(Ok(chunk)).await.is_err() {
                            break; // the upload ended early; its error is reported below
                        }
                    }
                }
                if !buf.is_empty() {
                    let _ = tx.send(Ok(Bytes::from(buf))).await;
                }
                tx.close_channel();
                Ok::<(), Error>(())
            };
            let (uploaded, produced) = futures::join!(upload, produce);
            if let Err(e) = produced.and(uploaded.map(|_| ())) {
                let _ = self.set_ingest_state(&job.id, "Aborted").await;
                return Err(e);
            }
            self.set_ingest_state(&job.id, "UploadComplete").await?;
            let info = self
                .wait_for(
                    &format!("jobs/ingest/{}", job.id),
                    spec.poll_interval,
                    spec.job_timeout,
                )
                .await?;
            let first = first_row.unwrap_or(0);
            let rows = map.len() as u64;
            let job_id = job.id.clone();
            let mut emit = |idx: u32, outcome: RowOutcome| {
                on_result(RowResult {
                    row: first + u64::from(idx),
                    job_id: job_id.clone(),
                    outcome,
                });
            };
            for (kind, resource) in [
                (ResultKind::Successful, "successfulResults"),
                (ResultKind::Failed, "failedResults"),
                (ResultKind::Unprocessed, "unprocessedrecords"),
            ] {
                self.read_results(&job.id, resource, kind, &spec.columns, &mut map, &mut emit)
                    .await?;
            }
            // Rows no result file named (a job that ended early): unprocessed.
            let left: Vec<u32> = map.unmatched().collect();
            for idx in left {
                emit(idx, RowOutcome::Unprocessed);
            }
            summaries.push(JobSummary {
                info,
                first_row: first,
                rows,
                bytes: bytes as u64,
            });
        }
        Ok(summaries)
    }

    /// Downloads one result file of an ingest job and maps its rows as they arrive (the file is
    /// never held whole). A connection that breaks mid-file is retried from the start, up to
    /// twice; rows already reported are skipped then.
    async fn read_results(
        &self,
        job_id: &str,
        resource: &str,
        kind: ResultKind,
        columns: &[String],
        map: &mut RowMap,
        emit: &mut (dyn FnMut(u32, RowOutcome) + Send),
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            let mut resp = self
                .send_streamed(Req::get(format!("jobs/ingest/{job_id}/{resource}")))
                .await?;
            let mut reader = ResultReader::new(kind, columns);
            if attempt > 0 {
                reader = reader.rereading();
            }
            let read = async {
                while let Some(chunk) = resp.chunk().await.map_err(|e| Error::Transport {
                    not_sent: false,
                    source: e,
                })? {
                    reader.feed(&chunk, map, emit)?;
                }
                reader.finish(map, emit)
            };
            match read.await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind().is_retryable() && attempt < 2 => {
                    attempt += 1;
                    tracing::warn!(job = job_id, resource, attempt, error = %e, "bulk result download broke; reading it again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs a Bulk API 2.0 query job and streams its rows (one results page in memory at a time),
    /// following `Sforce-Locator`. Empty cells are `null`; other values are text.
    pub fn bulk_query(
        &self,
        soql: &str,
        options: BulkQueryOptions,
    ) -> BoxStream<'static, Result<Map<String, Value>>> {
        let BulkQueryOptions {
            include_deleted,
            poll_interval,
            max_records_per_page,
            job_timeout,
        } = options;
        enum Step {
            Start,
            Page { job: String, locator: Option<String> },
            Done,
        }
        let client = self.clone();
        let soql = soql.to_string();
        stream::try_unfold(Step::Start, move |step| {
            let client = client.clone();
            let soql = soql.clone();
            async move {
                let (job, locator) = match step {
                    Step::Done => return Ok(None),
                    Step::Start => {
                        let body = serde_json::json!({
                            "operation": if include_deleted { "queryAll" } else { "query" },
                            "query": soql,
                            "contentType": "CSV",
                        });
                        let info: JobInfo = client
                            .send(Req::new(Method::POST, "jobs/query").json(&body)?)
                            .await?
                            .json("query job")?;
                        let done = client
                            .wait_for(&format!("jobs/query/{}", info.id), poll_interval, job_timeout)
                            .await?;
                        if done.state != "JobComplete" {
                            return Err(Error::BulkJobFailed {
                                job_id: done.id,
                                state: done.state,
                                message: done.error_message.unwrap_or_default(),
                            });
                        }
                        (info.id, None)
                    }
                    Step::Page { job, locator } => (job, locator),
                };
                let mut req = Req::get(format!("jobs/query/{job}/results"))
                    .query("maxRecords", max_records_per_page.to_string());
                if let Some(l) = &locator {
                    req = req.query("locator", l.clone());
                }
                let resp = client.send(req).await?;
                let next = resp
                    .header("Sforce-Locator")
                    .filter(|l| !l.is_empty() && *l != "null")
                    .map(str::to_string);
                let rows = parse_query_csv(&resp.body)?;
                let step = match next {
                    Some(l) => Step::Page {
                        job,
                        locator: Some(l),
                    },
                    None => Step::Done,
                };
                Ok(Some((stream::iter(rows.into_iter().map(Ok)), step)))
            }
        })
        .try_flatten()
        .boxed()
    }
}

/// How to run a Bulk API 2.0 query job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkQueryOptions {
    /// Include deleted and archived records (`queryAll`).
    pub include_deleted: bool,
    /// Time between job status polls.
    pub poll_interval: Duration,
    /// Rows per results page (`maxRecords`); one page is held in memory at a time.
    pub max_records_per_page: u32,
    /// How long to wait for the job to finish.
    pub job_timeout: Duration,
}

impl Default for BulkQueryOptions {
    fn default() -> Self {
        BulkQueryOptions {
            include_deleted: false,
            poll_interval: Duration::from_secs(2),
            max_records_per_page: 50_000,
            job_timeout: Duration::from_secs(3600),
        }
    }
}

/// Parses a Bulk query result CSV into records (empty cells become `null`).
///
/// # Errors
/// [`Error::Decode`] when the CSV does not parse.
pub fn parse_query_csv(body: &[u8]) -> Result<Vec<Map<String, Value>>> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| Error::decode("bulk query results", e, body))?
        .clone();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| Error::decode("bulk query results", e, body))?;
        let mut m = Map::with_capacity(headers.len());
        for (h, v) in headers.iter().zip(rec.iter()) {
            m.insert(
                h.to_string(),
                if v.is_empty() {
                    Value::Null
                } else {
                    Value::String(v.to_string())
                },
            );
        }
        out.push(m);
    }
    Ok(out)
}

use futures::TryStreamExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    /// Column names from string literals (shared with the sibling modules' tests).
    pub(super) fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn encodes_cells_and_refuses_unknown_fields() {
        let columns = cols(&["Name", "Score__c", "Active__c"]);
        let rec = serde_json::json!({"Name": "A, \"quoted\"\nline", "Score__c": 3.5, "Active__c": true});
        let c = cells(&columns, rec.as_object().unwrap(), 0).unwrap();
        assert_eq!(
            String::from_utf8(csv_line(&c).unwrap()).unwrap(),
            "\"A, \"\"quoted\"\"\nline\",3.5,true\n"
        );
        let bad = serde_json::json!({"Other": 1});
        assert!(
            cells(&columns, bad.as_object().unwrap(), 4)
                .unwrap_err()
                .to_string()
                .contains("row 4")
        );
    }

    #[test]
    fn maps_unordered_results_back_to_input_rows() {
        let columns = cols(&["Name", "Ext__c"]);
        let mut map = RowMap::default();
        for row in [["a", "1"], ["b", "2"], ["a", "1"], ["c", "3"]] {
            map.push(&row.map(String::from));
        }
        let ok = b"\"sf__Id\",\"sf__Created\",\"Name\",\"Ext__c\"\n\"001000000000002AAA\",\"true\",\"b\",\"2\"\n\"001000000000001AAA\",\"false\",\"a\",\"1\"\n";
        let failed = b"\"sf__Id\",\"sf__Error\",\"Name\",\"Ext__c\"\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [X]:X --\",\"c\",\"3\"\n";
        let s = map_results(ResultKind::Successful, &columns, ok, &mut map).unwrap();
        assert_eq!(
            s[0],
            (
                1,
                RowOutcome::Success {
                    id: "001000000000002AAA".into(),
                    created: true
                }
            )
        );
        assert_eq!(s[1].0, 0, "first of the identical rows");
        let f = map_results(ResultKind::Failed, &columns, failed, &mut map).unwrap();
        assert!(
            matches!(&f[0], (3, RowOutcome::Failed { id: None, error }) if error.starts_with("REQUIRED_FIELD_MISSING"))
        );
        assert_eq!(
            map.unmatched().collect::<Vec<_>>(),
            vec![2],
            "the duplicate left is unprocessed"
        );
    }

    #[test]
    fn parses_query_results_with_nulls() {
        let rows = parse_query_csv(b"\"Id\",\"Name\",\"Title\"\n\"001\",\"A\",\"\"\n").unwrap();
        assert_eq!(rows[0]["Name"], "A");
        assert!(rows[0]["Title"].is_null());
        assert!(parse_query_csv(b"").unwrap().is_empty());
    }
}
