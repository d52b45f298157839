//! SOQL over REST: `GET /query?q=`, `GET /queryAll?q=`, and `queryMore` through
//! `nextRecordsUrl` (`/services/data/vXX.X/query/01gXXXXXXXXXXXXXXX-2000`).
//!
//! A query runs once; the rows past the first batch wait in a cursor, as Salesforce's server-side
//! cursors do. The batch size comes from `Sforce-Query-Options: batchSize=N` (200 to 2000,
//! default 2000).
//!
//! Invariants: a locator is `<18-character 01g id>-<offset>`; cursors live in the emulator's
//! runtime state only (they do not survive a restart, like Salesforce's, which expire, and a
//! control-API reset drops them); at most [`MAX_CURSORS`] are kept, the oldest dropped first, and
//! an idle cursor expires after [`CURSOR_TTL`].

use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::catalog::OrgCatalog;
use crate::error::SfError;
use crate::ids::SfId;
use crate::org::Org;

/// Default and largest batch.
pub const MAX_BATCH: usize = 2000;
/// Smallest batch a client may ask for.
pub const MIN_BATCH: usize = 200;
/// Cursors kept at once.
pub const MAX_CURSORS: usize = 1000;
/// How long an unread cursor lives.
pub const CURSOR_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
struct Cursor {
    rows: Vec<Value>,
    total_size: usize,
    batch: usize,
    /// The locator path (`query` or `queryAll`) the next page is served under.
    resource: &'static str,
    touched: Instant,
}

/// The open cursors of one emulator (kept in [`crate::control::Runtime`]).
#[derive(Debug, Default)]
pub struct Cursors {
    map: HashMap<String, Cursor>,
    next: u64,
}

fn runtime<'a>(ctx: &Ctx<'a>) -> MutexGuard<'a, crate::control::Runtime> {
    ctx.runtime
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The batch size a request asks for.
fn batch_size(ctx: &Ctx<'_>) -> usize {
    ctx.header("sforce-query-options")
        .and_then(|h| {
            h.split(',').find_map(|part| {
                let (k, v) = part.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
        })
        .map_or(MAX_BATCH, |n| n.clamp(MIN_BATCH, MAX_BATCH))
}

fn page(total_size: usize, rows: Vec<Value>, next: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert("totalSize".into(), json!(total_size));
    out.insert("done".into(), json!(next.is_none()));
    if let Some(url) = next {
        out.insert("nextRecordsUrl".into(), json!(url));
    }
    out.insert("records".into(), Value::Array(rows));
    Value::Object(out)
}

fn soql_error(e: &forcebridge_soql::SoqlError) -> SfError {
    SfError::bad_request(e.code(), e.message.clone()).without_fields_key()
}

/// Runs SOQL text and returns `(totalSize, rows)`.
///
/// # Errors
/// The query's [`SfError`] (`MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`, ...), 400.
pub fn run(
    ctx: &Ctx<'_>,
    org: &Org,
    text: &str,
    include_deleted: bool,
) -> Result<(usize, Vec<Value>), SfError> {
    let query = forcebridge_soql::parse(text).map_err(|e| soql_error(&e))?;
    let catalog = OrgCatalog::new(org, ctx.user.clone(), &ctx.version);
    let output = forcebridge_soql::execute(
        &query,
        &catalog,
        forcebridge_soql::ExecOptions {
            include_deleted,
            ..Default::default()
        },
    )
    .map_err(|e| soql_error(&e))?;
    Ok((output.total_size, output.records))
}

/// `GET /query?q=` and `GET /queryAll?q=`.
///
/// # Errors
/// `MALFORMED_QUERY` without `q`; the query's own errors.
pub fn start(ctx: &Ctx<'_>, org: &Org, include_deleted: bool) -> Result<Reply, SfError> {
    let text = ctx.param("q").filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        SfError::bad_request("MALFORMED_QUERY", "A query string has to be specified").without_fields_key()
    })?;
    let (total_size, rows) = run(ctx, org, text, include_deleted)?;
    let batch = batch_size(ctx);
    if rows.len() <= batch {
        return Ok(Reply::ok(page(total_size, rows, None)));
    }
    let resource = if include_deleted { "queryAll" } else { "query" };
    let first = rows.get(..batch).unwrap_or(&rows).to_vec();
    let locator = store(ctx, org, rows, total_size, batch, resource);
    let next = format!("{}/{resource}/{locator}-{batch}", ctx.prefix());
    Ok(Reply::ok(page(total_size, first, Some(next))))
}

fn store(
    ctx: &Ctx<'_>,
    org: &Org,
    rows: Vec<Value>,
    total_size: usize,
    batch: usize,
    resource: &'static str,
) -> String {
    let mut runtime = runtime(ctx);
    let guard = &mut runtime.cursors;
    let now = Instant::now();
    guard
        .map
        .retain(|_, c| now.duration_since(c.touched) < CURSOR_TTL);
    let oldest = (guard.map.len() >= MAX_CURSORS)
        .then(|| {
            guard
                .map
                .iter()
                .min_by_key(|(_, c)| c.touched)
                .map(|(k, _)| k.clone())
        })
        .flatten();
    if let Some(oldest) = oldest {
        guard.map.remove(&oldest);
    }
    guard.next += 1;
    // Salesforce's locators are `01g` query-locator ids; the org's pod keeps them looking like
    // this org's.
    let id = SfId::generate("01g", &org.info.pod, guard.next).to_string();
    guard.map.insert(
        id.clone(),
        Cursor {
            rows,
            total_size,
            batch,
            resource,
            touched: now,
        },
    );
    id
}

fn invalid_locator() -> SfError {
    SfError::bad_request("INVALID_QUERY_LOCATOR", "invalid query locator").without_fields_key()
}

/// `GET /query/{locator}-{offset}`: the next batch of a cursor.
///
/// # Errors
/// `INVALID_QUERY_LOCATOR` for an unknown, expired or foreign locator or an offset past the end.
pub fn more(ctx: &Ctx<'_>, locator: &str) -> Result<Reply, SfError> {
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid_locator)?;
    let offset: usize = offset.parse().map_err(|_| invalid_locator())?;
    let mut runtime = runtime(ctx);
    let guard = &mut runtime.cursors;
    let cursor = guard.map.get_mut(id).ok_or_else(invalid_locator)?;
    if offset == 0 || offset > cursor.rows.len() {
        return Err(invalid_locator());
    }
    cursor.touched = Instant::now();
    let end = (offset + cursor.batch).min(cursor.rows.len());
    let rows = cursor.rows.get(offset..end).unwrap_or(&[]).to_vec();
    let total_size = cursor.total_size;
    let next = (end < cursor.rows.len()).then(|| format!("{}/{}/{id}-{end}", ctx.prefix(), cursor.resource));
    if next.is_none() {
        // The last page was read: Salesforce closes the cursor.
        guard.map.remove(id);
    }
    Ok(Reply::ok(page(total_size, rows, next)))
}
