//! SOQL errors, in Salesforce's codes and words.
//!
//! Salesforce prefixes most query errors with an excerpt of the offending line, a caret under the
//! offending token and `ERROR at Row:r:Column:c`, then the sentence:
//!
//! ```text
//! SELECT Id FORM Account
//!           ^
//! ERROR at Row:1:Column:11
//! unexpected token: 'FORM'
//! ```
//!
//! Invariant: rows and columns are 1-based and counted in characters, as Salesforce counts them.

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
#[non_exhaustive]
pub enum SoqlErrorKind {
    /// `MALFORMED_QUERY`: the text does not parse, or a value has the wrong type.
    MalformedQuery,
    /// `INVALID_FIELD`: a field or relationship does not exist (for this user), or a value does not
    /// fit the field's type.
    InvalidField,
    /// `INVALID_TYPE`: the object does not exist or is not queryable.
    InvalidType,
    /// `INVALID_QUERY_FILTER_OPERATOR`: an operator that does not apply to the field, or an id
    /// literal that is not an id.
    InvalidQueryFilterOperator,
    /// `NUMBER_OUTSIDE_VALID_RANGE`: `OFFSET` above 2,000.
    NumberOutsideValidRange,
}

/// A position in the query text: byte offset (for slicing) and 1-based row and column in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Byte offset of the first character.
    pub offset: usize,
    /// 1-based line.
    pub row: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// How many characters of context Salesforce shows before and after the offending token.
const BEFORE: usize = 30;
const AFTER: usize = 20;

/// The excerpt, caret and `ERROR at Row:..` lines for a position in `text`.
///
/// Long lines are cut to a window around the position, on word boundaries, as Salesforce does.
pub fn excerpt(text: &str, pos: Pos) -> String {
    let line: Vec<char> = text
        .split('\n')
        .nth(pos.row.saturating_sub(1))
        .unwrap_or("")
        .trim_end_matches('\r')
        .chars()
        .collect();
    let at = pos.col.saturating_sub(1).min(line.len());
    let is_word = |c: char| !c.is_whitespace() && c != ',';
    let mut start = at.saturating_sub(BEFORE);
    // Do not start in the middle of a word: move to the next word start.
    if start > 0 {
        while start < at && line.get(start - 1).copied().is_some_and(is_word) {
            start += 1;
        }
        while start < at && line.get(start).copied().is_some_and(char::is_whitespace) {
            start += 1;
        }
    }
    // End AFTER characters past the token's end, extended to the end of the word there.
    let token_end = (at..line.len())
        .find(|&i| line.get(i).copied().is_some_and(|c| !is_word(c)))
        .unwrap_or(line.len());
    let mut end = (token_end + AFTER).min(line.len());
    while end < line.len() && line.get(end).copied().is_some_and(is_word) {
        end += 1;
    }
    let shown: String = line.get(start..end).unwrap_or_default().iter().collect();
    format!(
        "{}\n{}^\nERROR at Row:{}:Column:{}",
        shown.trim_end(),
        " ".repeat(at - start),
        pos.row,
        pos.col
    )
}

impl SoqlError {
    /// A `MALFORMED_QUERY` error.
    pub fn malformed(message: impl Into<String>) -> Self {
        SoqlError {
            kind: SoqlErrorKind::MalformedQuery,
            message: message.into(),
        }
    }

    /// An error of `kind` whose message carries the excerpt for `pos`, then `sentence`.
    pub fn at(kind: SoqlErrorKind, text: &str, pos: Pos, sentence: &str) -> Self {
        SoqlError {
            kind,
            message: format!("{}\n{sentence}", excerpt(text, pos)),
        }
    }

    /// `MALFORMED_QUERY` with the excerpt for `pos`.
    pub fn malformed_at(text: &str, pos: Pos, sentence: &str) -> Self {
        Self::at(SoqlErrorKind::MalformedQuery, text, pos, sentence)
    }

    /// `MALFORMED_QUERY: unexpected token: '<token>'` at `pos`.
    pub fn unexpected(text: &str, pos: Pos, token: &str) -> Self {
        let shown = if token == "<EOF>" {
            token.to_string()
        } else {
            format!("'{token}'")
        };
        Self::malformed_at(text, pos, &format!("unexpected token: {shown}"))
    }

    /// `INVALID_FIELD: No such column 'field' on entity 'object'. ...` at `pos`.
    pub fn no_such_column(text: &str, pos: Pos, field: &str, object: &str) -> Self {
        Self::at(
            SoqlErrorKind::InvalidField,
            text,
            pos,
            &format!(
                "No such column '{field}' on entity '{object}'. If you are attempting to use a custom field, \
                 be sure to append the '__c' after the custom field name. Please reference your WSDL or the \
                 describe call for the appropriate names."
            ),
        )
    }

    /// `INVALID_FIELD: Didn't understand relationship 'name' in field path. ...` at `pos`.
    pub fn bad_relationship(text: &str, pos: Pos, name: &str) -> Self {
        Self::at(
            SoqlErrorKind::InvalidField,
            text,
            pos,
            &format!(
                "Didn't understand relationship '{name}' in field path. If you are attempting to use a \
                 custom relationship, be sure to append the '__r' after the custom relationship name. \
                 Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }

    /// `INVALID_TYPE: sObject type 'name' is not supported. ...` at `pos`.
    pub fn unsupported_object(text: &str, pos: Pos, name: &str) -> Self {
        Self::at(
            SoqlErrorKind::InvalidType,
            text,
            pos,
            &format!(
                "sObject type '{name}' is not supported. If you are attempting to use a custom object, be \
                 sure to append the '__c' after the entity name. Please reference your WSDL or the describe \
                 call for the appropriate names."
            ),
        )
    }

    /// Salesforce's `errorCode` for this error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            SoqlErrorKind::MalformedQuery => "MALFORMED_QUERY",
            SoqlErrorKind::InvalidField => "INVALID_FIELD",
            SoqlErrorKind::InvalidType => "INVALID_TYPE",
            SoqlErrorKind::InvalidQueryFilterOperator => "INVALID_QUERY_FILTER_OPERATOR",
            SoqlErrorKind::NumberOutsideValidRange => "NUMBER_OUTSIDE_VALID_RANGE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_line_is_shown_whole_with_caret() {
        let text = "SELECT Id FORM Account";
        let pos = Pos {
            offset: 10,
            row: 1,
            col: 11,
        };
        assert_eq!(
            SoqlError::unexpected(text, pos, "FORM").message,
            "SELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'"
        );
    }

    #[test]
    fn long_line_is_cut_on_word_boundaries() {
        let text = "SELECT Id, Name, Phone, Website, Industry, BillingCity, BillingCountry, Bogus__c, Type, \
                    Rating, OwnerId, CreatedDate FROM Account";
        let col = text.find("Bogus__c").unwrap() + 1;
        let out = excerpt(
            text,
            Pos {
                offset: col - 1,
                row: 1,
                col,
            },
        );
        let mut lines = out.lines();
        let shown = lines.next().unwrap();
        let caret = lines.next().unwrap();
        assert!(shown.starts_with("BillingCity,"), "{shown}");
        assert_eq!(&shown[caret.len() - 1..caret.len() - 1 + 8], "Bogus__c");
        assert!(shown.len() < text.len());
    }

    #[test]
    fn later_rows_are_excerpted_from_their_own_line() {
        let text = "SELECT Id\nFROM Account\nWHERE Nmae = 'x'";
        let out = excerpt(
            text,
            Pos {
                offset: 0,
                row: 3,
                col: 7,
            },
        );
        assert_eq!(out, "WHERE Nmae = 'x'\n      ^\nERROR at Row:3:Column:7");
    }
}
