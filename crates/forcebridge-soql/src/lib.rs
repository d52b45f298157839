//! SOQL: a parser and an evaluator for the Salesforce Object Query Language.
//!
//! The parser turns text into an [`ast::Query`] or a [`SoqlError`] whose code and message follow
//! Salesforce's (`MALFORMED_QUERY` with the line and column, `INVALID_FIELD`, `INVALID_TYPE`).
//! The evaluator runs a query against any [`Catalog`] and returns rows shaped as Salesforce's
//! REST `query` resource shapes them.

pub mod catalog;

pub use catalog::{Catalog, ChildRelationship, FieldInfo, FieldKind, Record};

pub mod error;

pub use error::SoqlError;

/// A parsed query (the AST is being built; see `ast`).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub text: String,
}

/// Options of one execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// `queryAll`: include deleted (`IsDeleted = true`) and archived rows.
    pub include_deleted: bool,
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
    })
}

/// Runs a parsed query against a catalog.
///
/// # Errors
/// [`SoqlError`] for unknown objects (`INVALID_TYPE`), unknown fields (`INVALID_FIELD`) and
/// semantic errors Salesforce reports at run time.
pub fn execute(
    query: &Query,
    _catalog: &dyn Catalog,
    _options: ExecOptions,
) -> Result<QueryOutput, SoqlError> {
    Err(SoqlError::malformed(format!(
        "SOQL evaluation is not available yet: {}",
        query.text
    )))
}
