//! SOQL errors, in Salesforce's codes and words.
//!
//! Salesforce prefixes most query errors with a newline, an excerpt of the offending line, a caret
//! under the offending token and `ERROR at Row:r:Column:c`, then the sentence:
//!
//! ```text
//!
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

/// How many characters of context Salesforce shows before and after the start of the offending
/// token (measured on recorded responses: 30 before, 33 after, widened to whole words).
const BEFORE: usize = 30;
const AFTER: usize = 33;

/// The excerpt, caret and `ERROR at Row:..` lines for a position in `text`, starting with the
/// newline Salesforce puts first.
///
/// Long lines are cut to a window around the position, widened to whole words, as Salesforce does.
pub fn excerpt(text: &str, pos: Pos) -> String {
    let line: Vec<char> = text
        .split('\n')
        .nth(pos.row.saturating_sub(1))
        .unwrap_or("")
        .trim_end_matches('\r')
        .chars()
        .collect();
    let at = pos.col.saturating_sub(1).min(line.len());
    let is_word = |c: char| !c.is_whitespace() && !matches!(c, ',' | '(' | ')');
    let word_at = |i: usize| line.get(i).copied().is_some_and(is_word);
    // Widen the window to whole words on both sides.
    let mut start = at.saturating_sub(BEFORE);
    while start > 0 && word_at(start) && word_at(start - 1) {
        start -= 1;
    }
    while start < at && line.get(start).copied().is_some_and(char::is_whitespace) {
        start += 1;
    }
    let mut end = (at + AFTER).min(line.len());
    while end < line.len() && end > 0 && word_at(end) && word_at(end - 1) {
        end += 1;
    }
    let shown: String = line.get(start..end).unwrap_or_default().iter().collect();
    format!(
        "\n{}\n{}^\nERROR at Row:{}:Column:{}",
        shown.trim_end(),
        " ".repeat(at - start),
        pos.row,
        pos.col
    )
}

/// The position a syntax error reports: the 0-based column of `pos`.
fn syntax_pos(pos: Pos) -> Pos {
    Pos {
        col: pos.col.saturating_sub(1),
        ..pos
    }
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
    ///
    /// Syntax errors come from Salesforce's parser generator, which counts columns from 0: the
    /// reported column is the token's 0-based index and the caret stands one character before the
    /// token (recorded: `HG_Insights__HG_Match_Status__c, From Account` → `Column:50` for `From`
    /// at index 50). Name errors (`INVALID_FIELD`, `INVALID_TYPE`) count from 1.
    pub fn unexpected(text: &str, pos: Pos, token: &str) -> Self {
        let shown = if token == "<EOF>" {
            token.to_string()
        } else {
            format!("'{token}'")
        };
        Self::malformed_at(text, syntax_pos(pos), &format!("unexpected token: {shown}"))
    }

    /// `MALFORMED_QUERY: line r:c no viable alternative at character 'x'`: a character that starts
    /// no token (columns counted from 0, as for [`SoqlError::unexpected`]).
    pub fn no_viable_alternative(text: &str, pos: Pos, ch: char) -> Self {
        let p = syntax_pos(pos);
        Self::malformed_at(
            text,
            p,
            &format!(
                "line {}:{} no viable alternative at character '{ch}'",
                p.row, p.col
            ),
        )
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
            "\nSELECT Id FORM Account\n         ^\nERROR at Row:1:Column:10\nunexpected token: 'FORM'"
        );
    }

    #[test]
    fn long_line_is_cut_to_a_window_as_in_recorded_responses() {
        let at = |text: &str, needle: &str| {
            let col = text.find(needle).unwrap() + 1;
            excerpt(
                text,
                Pos {
                    offset: col - 1,
                    row: 1,
                    col,
                },
            )
        };
        // Shapes taken from real INVALID_FIELD responses.
        let text = "SELECT Id,IsDeleted,Name,RecordTypeId,OwnerId,CreatedDate,CreatedById,OCE__ActualCap__c,\
                    TPI_Product__c,Name,OCE__JobId__c,OCE__Other__c FROM OCE__ActivityPlan__c";
        let col = text.find("TPI_").unwrap() + 1;
        assert_eq!(
            at(text, "TPI_"),
            format!(
                "\nCreatedById,OCE__ActualCap__c,TPI_Product__c,Name,OCE__JobId__c\n{}^\nERROR at Row:1:Column:{col}",
                " ".repeat(30)
            )
        );
        assert_eq!(
            at("SELECT Id, DepProbeField__c FROM Account LIMIT 1", "DepProbe"),
            "\nSELECT Id, DepProbeField__c FROM Account LIMIT\n           ^\nERROR at Row:1:Column:12"
        );
        assert_eq!(
            at("SELECT Id,Invalid__x FROM Contact LIMIT 1", "Invalid"),
            "\nSELECT Id,Invalid__x FROM Contact LIMIT 1\n          ^\nERROR at Row:1:Column:11"
        );
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
        assert_eq!(out, "\nWHERE Nmae = 'x'\n      ^\nERROR at Row:3:Column:7");
    }
}
