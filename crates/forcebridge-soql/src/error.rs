//! SOQL errors, in Salesforce's codes and words.

/// A query that cannot run. `code()` is Salesforce's `errorCode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SoqlError {
    pub kind: SoqlErrorKind,
    /// The message as Salesforce writes it, position included where Salesforce gives one.
    pub message: String,
}

/// The classes of SOQL failure, one per Salesforce `errorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoqlErrorKind {
    /// `MALFORMED_QUERY`: the text does not parse, or a value has the wrong type.
    MalformedQuery,
    /// `INVALID_FIELD`: a field or relationship does not exist (for this user).
    InvalidField,
    /// `INVALID_TYPE`: the object does not exist or is not queryable.
    InvalidType,
    /// `INVALID_QUERY_FILTER_OPERATOR`: an operator that does not apply to the field.
    InvalidQueryFilterOperator,
}

impl SoqlError {
    /// A `MALFORMED_QUERY` error.
    pub fn malformed(message: impl Into<String>) -> Self {
        SoqlError {
            kind: SoqlErrorKind::MalformedQuery,
            message: message.into(),
        }
    }

    /// Salesforce's `errorCode` for this error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            SoqlErrorKind::MalformedQuery => "MALFORMED_QUERY",
            SoqlErrorKind::InvalidField => "INVALID_FIELD",
            SoqlErrorKind::InvalidType => "INVALID_TYPE",
            SoqlErrorKind::InvalidQueryFilterOperator => "INVALID_QUERY_FILTER_OPERATOR",
        }
    }
}
