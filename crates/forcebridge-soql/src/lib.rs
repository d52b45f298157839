//! SOQL: a parser and an evaluator for the Salesforce Object Query Language.
//!
//! The parser turns text into a [`Query`] (its syntax tree is [`ast::SelectQuery`]) or a
//! [`SoqlError`] whose code and message follow Salesforce's (`MALFORMED_QUERY` with the row and
//! column, `INVALID_FIELD`, `INVALID_TYPE`). The evaluator runs a query against any [`Catalog`]
//! and returns rows shaped as Salesforce's REST `query` resource shapes them.
//!
//! Invariant: neither `parse` nor `execute` panics on any input; every failure is a [`SoqlError`].

pub mod ast;
pub mod catalog;
mod dates;
pub mod error;
mod eval;
mod ids;
mod lexer;
mod parser;

pub use catalog::{Catalog, ChildRelationship, FieldInfo, FieldKind, Record};
pub use error::{SoqlError, SoqlErrorKind};

/// A parsed query: its text (kept for error excerpts) and its syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query as given.
    pub text: String,
    /// The syntax tree.
    pub select: ast::SelectQuery,
}

impl Query {
    /// The FROM object as written (not yet resolved against a catalog).
    pub fn from_object(&self) -> &str {
        &self.select.from.object.name
    }
}

/// Options of one execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// `queryAll`: include deleted (`IsDeleted = true`) and archived rows.
    pub include_deleted: bool,
    /// Leave `attributes` out of every record (parents' and children's too): for a consumer that
    /// reads only the columns, such as a Bulk query job writing CSV, it is memory for nothing.
    pub omit_attributes: bool,
}

/// The rows of one query, shaped as the REST `query` resource shapes them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// `totalSize`: for `SELECT COUNT() ...` the count, else the number of rows.
    pub total_size: usize,
    /// Each row a JSON object with `attributes` first, then the selected fields in select order,
    /// parent relationships as nested objects, child subqueries as `{totalSize, done, records}`.
    /// Empty for `SELECT COUNT()`.
    pub records: Vec<serde_json::Value>,
}

/// Parses SOQL text.
///
/// # Errors
/// [`SoqlError`] with `MALFORMED_QUERY` and the position, as Salesforce words it.
pub fn parse(text: &str) -> Result<Query, SoqlError> {
    Ok(Query {
        text: text.to_string(),
        select: parser::parse_select(text)?,
    })
}

/// Runs a parsed query against a catalog.
///
/// # Errors
/// [`SoqlError`] for unknown objects (`INVALID_TYPE`), unknown fields and relationships
/// (`INVALID_FIELD`), literals of the wrong type, and the other semantic errors Salesforce reports
/// at run time (`MALFORMED_QUERY`, `INVALID_QUERY_FILTER_OPERATOR`, `NUMBER_OUTSIDE_VALID_RANGE`).
pub fn execute(query: &Query, catalog: &dyn Catalog, options: ExecOptions) -> Result<QueryOutput, SoqlError> {
    let mut records = Vec::new();
    let total_size = execute_each(query, catalog, options, &mut |row| records.push(row))?;
    Ok(QueryOutput { total_size, records })
}

/// Runs a parsed query like [`execute`], but hands each row (the same JSON) to `each` as soon as
/// it is rendered instead of collecting them: without `ORDER BY`, no more than one row is held
/// at a time (with it, each matching row's sort keys, and its id or borrowed record). Returns
/// `totalSize`. Every error comes before the first row.
///
/// # Errors
/// As [`execute`].
pub fn execute_each(
    query: &Query,
    catalog: &dyn Catalog,
    options: ExecOptions,
    each: &mut dyn FnMut(serde_json::Value),
) -> Result<usize, SoqlError> {
    eval::execute_each(&query.text, &query.select, catalog, options, each)
}
