//! Errors in Salesforce's codes, words and positions: the excerpt of the offending line, a caret
//! under the offending token, `ERROR at Row:r:Column:c`, then the sentence.

mod common;

use common::fixture;

const CUSTOM_FIELD_HINT: &str = "If you are attempting to use a custom field, be sure to append the '__c' after the \
                                 custom field name. Please reference your WSDL or the describe call for the \
                                 appropriate names.";

/// Syntax errors count columns from 0 (see `SoqlError::unexpected`), so the brief's example
/// `Column:11` for `FORM` is `Column:10` here, with the caret one character before the token.
#[test]
fn misspelt_keyword() {
    let e = forcebridge_soql::parse("SELECT Id FORM Account").unwrap_err();
    assert_eq!(e.code(), "MALFORMED_QUERY");
    assert_eq!(
        e.message,
        "\nSELECT Id FORM Account\n         ^\nERROR at Row:1:Column:10\nunexpected token: 'FORM'"
    );
}

#[test]
fn parse_errors_point_at_the_offending_token() {
    for (q, row, col, tail) in [
        ("", 1, 0, "unexpected token: <EOF>"),
        ("SELECT FROM Account", 1, 7, "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Account", 1, 11, "unexpected token: 'FROM'"),
        ("SELECT Id FROM Account WHERE", 1, 28, "unexpected token: <EOF>"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Type = 'c'",
            1,
            54,
            "unexpected token: 'AND'",
        ),
        (
            "SELECT Id FROM Account WHERE Name == 'a'",
            1,
            35,
            "unexpected token: '='",
        ),
        ("SELECT Id FROM Account LIMIT -1", 1, 29, "unexpected token: '-1'"),
        (
            "SELECT Id FROM Account ORDER Name",
            1,
            29,
            "unexpected token: 'Name'",
        ),
        (
            "SELECT Id FROM Account LIMIT 5 WHERE Name = 'x'",
            1,
            31,
            "unexpected token: 'WHERE'",
        ),
        (
            "SELECT Id\nFROM Account\nWHERE Name = 'x' x",
            3,
            17,
            "unexpected token: 'x'",
        ),
        (
            "SELECT Id FROM Account WHERE Name IN ('a' 'b')",
            1,
            42,
            "unexpected token: ''b''",
        ),
        (
            "SELECT Id FROM Account WHERE Name = :name",
            1,
            37,
            "Bind variables only allowed in Apex code",
        ),
    ] {
        let e = forcebridge_soql::parse(q).unwrap_err();
        assert_eq!(e.code(), "MALFORMED_QUERY", "{q}");
        let expected = format!("ERROR at Row:{row}:Column:{col}\n{tail}");
        assert!(
            e.message.ends_with(&expected),
            "{q}:\n{}\nexpected …{expected}",
            e.message
        );
    }
}

#[test]
fn unknown_field_is_invalid_field_with_the_caret_under_it() {
    let f = fixture();
    let e = f.cat.err("SELECT Id, Foo FROM Account");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert_eq!(
        e.message,
        format!(
            "\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\n\
             No such column 'Foo' on entity 'Account'. {CUSTOM_FIELD_HINT}"
        )
    );
    let e = f.cat.err("SELECT Id FROM Account\nWHERE Nmae = 'x'");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(
        e.message
            .starts_with("\nWHERE Nmae = 'x'\n      ^\nERROR at Row:2:Column:7\nNo such column 'Nmae'")
    );
    let e = f.cat.err("SELECT Account.Foo FROM Contact");
    assert!(e.message.ends_with(&format!(
        "No such column 'Foo' on entity 'Account'. {CUSTOM_FIELD_HINT}"
    )));
    let e = f.cat.err("SELECT Id FROM Account ORDER BY Bogus__c");
    assert!(
        e.message
            .contains("No such column 'Bogus__c' on entity 'Account'")
    );
}

#[test]
fn unknown_relationship_in_a_path() {
    let f = fixture();
    let e = f.cat.err("SELECT Acount.Name FROM Contact");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(
        e.message.ends_with(
            "Didn't understand relationship 'Acount' in field path. If you are attempting to use a custom \
             relationship, be sure to append the '__r' after the custom relationship name. Please reference \
             your WSDL or the describe call for the appropriate names."
        ),
        "{}",
        e.message
    );
    // A reference field is not a relationship name.
    let e = f.cat.err("SELECT AccountId.Name FROM Contact");
    assert!(
        e.message
            .contains("Didn't understand relationship 'AccountId' in field path")
    );
}

#[test]
fn unknown_object_is_invalid_type() {
    let f = fixture();
    let e = f.cat.err("SELECT Id FROM Foo");
    assert_eq!(e.code(), "INVALID_TYPE");
    assert_eq!(
        e.message,
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\nsObject type 'Foo' is not supported. If you \
         are attempting to use a custom object, be sure to append the '__c' after the entity name. Please \
         reference your WSDL or the describe call for the appropriate names."
    );
    let e = f
        .cat
        .err("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Nope)");
    assert_eq!(e.code(), "INVALID_TYPE");
}

#[test]
fn unknown_child_relationship() {
    let f = fixture();
    let e = f.cat.err("SELECT Id, (SELECT Id FROM Contact) FROM Account");
    assert_eq!(e.code(), "INVALID_TYPE");
    assert!(
        e.message
            .contains("Didn't understand relationship 'Contact' in FROM part of query call.")
    );
    let e = f.cat.err("SELECT Id, (SELECT Bogus FROM Contacts) FROM Account");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(e.message.contains("No such column 'Bogus' on entity 'Contact'"));
}

#[test]
fn other_semantic_errors() {
    let f = fixture();
    let e = f.cat.err("SELECT Id, Name, id FROM Account");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert_eq!(e.message, "duplicate field selected: id");
    let e = f.cat.err("SELECT Id FROM Account WHERE Id LIKE '001%'");
    assert_eq!(e.code(), "INVALID_QUERY_FILTER_OPERATOR");
    assert!(e.message.ends_with("invalid operator on id field"));
    let e = f
        .cat
        .err("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact LIMIT 5 OFFSET 1)");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    let e = f
        .cat
        .err("SELECT Id, (SELECT Id FROM Contacts LIMIT 5 OFFSET 1) FROM Account");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    let rows = f.cat.rows("SELECT Id, (SELECT Id FROM Contacts ORDER BY LastName OFFSET 1) FROM Account WHERE Name = 'Acme' LIMIT 1");
    assert_eq!(rows[0]["Contacts"]["totalSize"], 1);
    let e = f.cat.err("SELECT Id n FROM Account");
    assert!(e.message.ends_with("unexpected token: 'n'"));
    let e = f.cat.err("SELECT Id FROM Account ORDER BY Description");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(
        e.message
            .ends_with("field 'Description' can not be sorted in a query call")
    );
    let e = f.cat.err("SELECT Id FROM Account WHERE COUNT(Id) > 1");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    let e = f.cat.err("SELECT Id FROM Account WHERE AnnualRevenue LIKE '1%'");
    assert_eq!(e.code(), "INVALID_QUERY_FILTER_OPERATOR");
    let e = f
        .cat
        .err("SELECT Id FROM Task WHERE Id IN (SELECT Subject FROM Task)");
    assert_eq!(e.code(), "INVALID_FIELD");
    let e = f
        .cat
        .err("SELECT TYPEOF What WHEN Account THEN Name END, COUNT(Id) FROM Task");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    assert!(
        e.message
            .ends_with("TYPEOF cannot be combined with aggregate functions")
    );
}
