//! Bulk API 2.0 jobs as the state file keeps them: every ingest job (its info, uploaded CSV and
//! per-row outcomes) and query job (its info, SOQL and result rows), the allocations and today's
//! usage. [`crate::persist`] writes a [`Saved`] beside the org and restores it at start.
//!
//! Invariant: a restored job answers info, list and result calls as it did before the restart.
//! A job that was still queued or processing cannot resume (its worker died with the process), so
//! it comes back `Failed` with an error message saying so; its results show what was done.

use std::sync::Arc;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};

use super::ingest::{IngestJob, Operation, Outcome};
use super::query::{QueryJob, QueryResult};
use super::{BulkLimits, BulkState, BulkUsage, Dialect, JobInfo, JobState};
use crate::ids::SfId;

/// The error message of a job interrupted by a restart.
pub const INTERRUPTED: &str =
    "InternalServerError : the emulator restarted while this job was processing; create the job again";

/// The Bulk part of the state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Saved {
    pub ingest: Vec<SavedIngest>,
    pub query: Vec<SavedQuery>,
    pub limits: BulkLimits,
    pub usage: BulkUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedInfo {
    id: String,
    operation: String,
    object: String,
    created_by: String,
    created_date: String,
    system_modstamp: String,
    state: JobState,
    api_version: String,
    column_delimiter: u8,
    crlf: bool,
    error_message: Option<String>,
    records_processed: u64,
    records_failed: u64,
    total_processing_ms: u64,
}

/// One row's outcome: `[id, created]` done, or `{id, error}` failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedOutcome {
    Done(SfId, bool),
    Failed { id: Option<SfId>, error: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedIngest {
    info: SavedInfo,
    external_id: Option<String>,
    /// The uploaded CSV as text (Bulk API 2.0 uploads are UTF-8).
    data: Option<String>,
    outcomes: Vec<SavedOutcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedQuery {
    info: SavedInfo,
    query: String,
    /// Header row, data rows and row start offsets, when the query ran.
    result: Option<SavedResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedResult {
    header: String,
    rows: String,
    offsets: Vec<usize>,
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl From<&JobInfo> for SavedInfo {
    fn from(i: &JobInfo) -> Self {
        SavedInfo {
            id: i.id.clone(),
            operation: i.operation.clone(),
            object: i.object.clone(),
            created_by: i.created_by.clone(),
            created_date: i.created_date.clone(),
            system_modstamp: i.system_modstamp.clone(),
            state: i.state,
            api_version: i.api_version.clone(),
            column_delimiter: i.dialect.delimiter,
            crlf: i.dialect.crlf,
            error_message: i.error_message.clone(),
            records_processed: i.records_processed,
            records_failed: i.records_failed,
            total_processing_ms: i.total_processing_ms,
        }
    }
}

impl SavedInfo {
    fn restore(self) -> JobInfo {
        let mut info = JobInfo {
            id: self.id,
            operation: self.operation,
            object: self.object,
            created_by: self.created_by,
            created_date: self.created_date,
            system_modstamp: self.system_modstamp,
            state: self.state,
            api_version: self.api_version,
            dialect: Dialect {
                delimiter: self.column_delimiter,
                crlf: self.crlf,
            },
            error_message: self.error_message,
            records_processed: self.records_processed,
            records_failed: self.records_failed,
            total_processing_ms: self.total_processing_ms,
        };
        // An open job (waiting for data) can go on; a queued or running one lost its worker.
        if matches!(info.state, JobState::UploadComplete | JobState::InProgress) {
            info.set_state(JobState::Failed);
            info.error_message = Some(INTERRUPTED.to_string());
        }
        info
    }
}

impl Saved {
    /// A copy of `bulk`'s jobs and meters. Only shared handles are taken under the jobs lock;
    /// uploads, outcomes and results are turned into text after it is released.
    pub fn of(bulk: &BulkState) -> Saved {
        type IngestHandles = (SavedInfo, Option<String>, Option<Bytes>, Arc<Vec<Outcome>>);
        let (ingest, query, limits, usage) = {
            let jobs = bulk.jobs();
            let ingest: Vec<IngestHandles> = jobs
                .ingest
                .values()
                .map(|j| {
                    (
                        SavedInfo::from(&j.info),
                        j.external_id.clone(),
                        j.data.clone(),
                        j.outcomes.clone(),
                    )
                })
                .collect();
            let query: Vec<(SavedInfo, String, Option<QueryResult>)> = jobs
                .query
                .values()
                .map(|j| (SavedInfo::from(&j.info), j.query.clone(), j.result.clone()))
                .collect();
            (ingest, query, jobs.limits.clone(), jobs.usage.clone())
        };
        let ingest = ingest
            .into_iter()
            .map(|(info, external_id, data, outcomes)| SavedIngest {
                info,
                external_id,
                data: data.as_ref().map(text),
                outcomes: outcomes
                    .iter()
                    .map(|o| match o {
                        Outcome::Done { id, created } => SavedOutcome::Done(id.clone(), *created),
                        Outcome::Failed { id, error } => SavedOutcome::Failed {
                            id: id.clone(),
                            error: error.clone(),
                        },
                    })
                    .collect(),
            })
            .collect();
        let query = query
            .into_iter()
            .map(|(info, query, result)| SavedQuery {
                info,
                query,
                result: result.map(|r| SavedResult {
                    header: text(&r.header),
                    rows: text(&r.rows),
                    offsets: r.offsets.as_ref().clone(),
                }),
            })
            .collect();
        Saved {
            ingest,
            query,
            limits,
            usage,
        }
    }

    /// Puts the saved jobs and meters into `bulk` (a fresh emulator's), skipping jobs whose
    /// operation this emulator does not know.
    pub fn restore(self, bulk: &BulkState) {
        let mut jobs = bulk.jobs();
        jobs.limits = self.limits;
        jobs.usage = self.usage;
        for j in self.ingest {
            let Some(op) = Operation::parse(&j.info.operation) else {
                continue;
            };
            let info = j.info.restore();
            let outcomes = j
                .outcomes
                .into_iter()
                .map(|o| match o {
                    SavedOutcome::Done(id, created) => Outcome::Done { id, created },
                    SavedOutcome::Failed { id, error } => Outcome::Failed { id, error },
                })
                .collect();
            jobs.ingest.insert(
                info.id.clone(),
                IngestJob {
                    info,
                    op,
                    external_id: j.external_id,
                    data: j.data.map(Bytes::from),
                    outcomes: Arc::new(outcomes),
                },
            );
        }
        for j in self.query {
            let info = j.info.restore();
            let result = j.result.map(|r| QueryResult {
                header: Bytes::from(r.header),
                rows: Bytes::from(r.rows),
                offsets: Arc::new(r.offsets),
            });
            jobs.query.insert(
                info.id.clone(),
                QueryJob {
                    info,
                    query: j.query,
                    result,
                },
            );
        }
    }
}
