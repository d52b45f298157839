//! WHERE: boolean logic, operators per field type, null semantics, LIKE, IN and semi-joins,
//! INCLUDES / EXCLUDES, id literals, dates, datetimes and relative date literals.

mod common;

use common::fixture;
use serde_json::Value;

fn names(f: &common::Fixture, filter: &str) -> Vec<String> {
    f.cat
        .col(
            &format!("SELECT Name FROM Account WHERE {filter} ORDER BY Name"),
            "Name",
        )
        .into_iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn boolean_logic_and_parentheses() {
    let f = fixture();
    assert_eq!(names(&f, "Type = 'Customer' AND Industry = 'Tech'"), ["Acme"]);
    assert_eq!(
        names(&f, "Type = 'Prospect' OR Industry = 'Finance'"),
        ["Globex", "Initech"]
    );
    assert_eq!(
        names(
            &f,
            "(Type = 'Prospect' OR Industry = 'Finance') AND NumberOfEmployees > 100"
        ),
        ["Initech"]
    );
    assert_eq!(names(&f, "NOT Type = 'Customer'"), ["Globex", "Initech"]);
    assert_eq!(names(&f, "NOT (Type = 'Customer' OR Type = null)"), ["Globex"]);
    assert_eq!(
        names(&f, "Type = 'Customer' AND (NOT Name LIKE 'acme l%')"),
        ["Acme"]
    );
}

#[test]
fn comparison_operators_and_null_semantics() {
    let f = fixture();
    assert_eq!(names(&f, "AnnualRevenue > 500000"), ["Acme"]);
    assert_eq!(names(&f, "AnnualRevenue >= 500000"), ["Acme", "Globex"]);
    assert_eq!(names(&f, "AnnualRevenue < 500000"), ["acme Labs"]);
    assert_eq!(names(&f, "AnnualRevenue <= 500000.0"), ["acme Labs", "Globex"]);
    // `!=` keeps nulls; ordering operators never match them.
    assert_eq!(
        names(&f, "AnnualRevenue != 500000"),
        ["Acme", "acme Labs", "Initech"]
    );
    assert_eq!(
        names(&f, "AnnualRevenue <> 500000"),
        ["Acme", "acme Labs", "Initech"]
    );
    assert_eq!(names(&f, "AnnualRevenue = null"), ["Initech"]);
    assert_eq!(
        names(&f, "AnnualRevenue != null"),
        ["Acme", "acme Labs", "Globex"]
    );
    assert_eq!(names(&f, "NumberOfEmployees = -1"), Vec::<String>::new());
    assert_eq!(names(&f, "Active__c = true"), ["Acme", "Initech"]);
    assert_eq!(names(&f, "Active__c = FALSE"), ["acme Labs", "Globex"]);
    // On a checkbox, null is false (Salesforce's documentation).
    assert_eq!(names(&f, "Active__c = null"), ["acme Labs", "Globex"]);
    assert_eq!(names(&f, "Active__c != null"), ["Acme", "Initech"]);
}

#[test]
fn text_comparison_is_case_insensitive() {
    let f = fixture();
    assert_eq!(names(&f, "Name = 'ACME'"), ["Acme"]);
    assert_eq!(names(&f, "Name > 'b'"), ["Globex", "Initech"]);
    assert_eq!(names(&f, "Industry != 'tech'"), ["acme Labs", "Initech"]);
}

#[test]
fn like_is_case_insensitive_with_percent_and_underscore() {
    let f = fixture();
    assert_eq!(names(&f, "Name LIKE 'acme%'"), ["Acme", "acme Labs"]);
    assert_eq!(names(&f, "Name LIKE '%EX'"), ["Globex"]);
    assert_eq!(names(&f, "Name LIKE '_lobex'"), ["Globex"]);
    assert_eq!(names(&f, "Name LIKE 'acm_'"), ["Acme"]);
    assert_eq!(
        names(&f, "Name LIKE '%e%'"),
        ["Acme", "acme Labs", "Globex", "Initech"]
    );
    assert_eq!(names(&f, "Type LIKE '%'"), ["Acme", "acme Labs", "Globex"]);
}

#[test]
fn in_and_not_in_literal_lists() {
    let f = fixture();
    assert_eq!(
        names(&f, "Type IN ('customer', 'Prospect')"),
        ["Acme", "acme Labs", "Globex"]
    );
    assert_eq!(names(&f, "Type NOT IN ('Customer')"), ["Globex", "Initech"]);
    assert_eq!(names(&f, "NumberOfEmployees IN (10, 200)"), ["Globex", "Initech"]);
    assert_eq!(
        names(&f, "Type IN ('Customer', null)"),
        ["Acme", "acme Labs", "Initech"]
    );
}

#[test]
fn semi_joins_and_anti_joins() {
    let f = fixture();
    assert_eq!(
        names(&f, "Id IN (SELECT AccountId FROM Contact)"),
        ["Acme", "Globex"]
    );
    assert_eq!(
        names(
            &f,
            "Id IN (SELECT AccountId FROM Contact WHERE Email LIKE '%acme.com')"
        ),
        ["Acme"]
    );
    assert_eq!(
        names(&f, "Id NOT IN (SELECT AccountId FROM Contact)"),
        ["acme Labs", "Initech"]
    );
    assert_eq!(
        names(&f, "Id IN (SELECT WhatId FROM Task) AND Type = 'Prospect'"),
        ["Globex"]
    );
    // A semi-join on a reference field of the outer object.
    let rows = f.cat.col(
        "SELECT LastName FROM Contact WHERE AccountId IN (SELECT Id FROM Account WHERE Industry = 'Tech') \
         ORDER BY LastName",
        "LastName",
    );
    assert_eq!(rows, ["Brown", "Jones", "Smith"]);
}

#[test]
fn includes_and_excludes_on_multipicklists() {
    let f = fixture();
    assert_eq!(names(&f, "Tags__c INCLUDES ('Gold')"), ["Acme", "acme Labs"]);
    assert_eq!(names(&f, "Tags__c INCLUDES ('gold;silver')"), ["acme Labs"]);
    assert_eq!(
        names(&f, "Tags__c INCLUDES ('Partner', 'Silver')"),
        ["Acme", "acme Labs", "Globex"]
    );
    assert_eq!(names(&f, "Tags__c EXCLUDES ('Silver')"), ["Acme", "Initech"]);
    // `=` on a multipicklist is an exact set match, in any order.
    assert_eq!(names(&f, "Tags__c = 'Partner;Gold'"), ["Acme"]);
    let e = f.cat.err("SELECT Id FROM Account WHERE Name INCLUDES ('a')");
    assert_eq!(e.code(), "INVALID_QUERY_FILTER_OPERATOR");
    assert!(
        e.message
            .ends_with("includes or excludes operator only valid on multipicklist field")
    );
}

#[test]
fn id_literals_match_in_15_and_18_characters() {
    let f = fixture();
    let a1 = f.id("a1");
    assert_eq!(names(&f, &format!("Id = '{a1}'")), ["Acme"]);
    assert_eq!(names(&f, &format!("Id = '{}'", &a1[..15])), ["Acme"]);
    assert_eq!(
        names(&f, &format!("Id IN ('{}', '{}')", &a1[..15], f.id("a2"))),
        ["Acme", "Globex"]
    );
    let rows = f.cat.col(
        &format!(
            "SELECT LastName FROM Contact WHERE AccountId = '{}' ORDER BY LastName",
            &a1[..15]
        ),
        "LastName",
    );
    assert_eq!(rows, ["Jones", "Smith"]);
    let e = f.cat.err("SELECT Id FROM Account WHERE Id = 'abc'");
    assert_eq!(e.code(), "INVALID_QUERY_FILTER_OPERATOR");
    assert!(e.message.ends_with("invalid ID field: abc"), "{}", e.message);
}

#[test]
fn string_escapes_in_literals() {
    let mut f = fixture();
    f.cat.insert(
        "Account",
        serde_json::json!({"Name": "Bob's \\ BBQ", "Type": "50%"}),
    );
    assert_eq!(names(&f, r"Name = 'Bob\'s \\ BBQ'"), ["Bob's \\ BBQ"]);
    assert_eq!(names(&f, r"Type LIKE '50\%'"), ["Bob's \\ BBQ"]);
    assert_eq!(names(&f, r"Type LIKE '5\_%'"), Vec::<String>::new());
}

#[test]
fn date_fields_with_dates_and_date_literals() {
    // now = 2024-05-15T12:00:00Z, a Wednesday.
    let f = fixture();
    assert_eq!(names(&f, "SLA_Expiry__c = 2024-05-20"), ["Acme"]);
    assert_eq!(names(&f, "SLA_Expiry__c > 2024-05-15"), ["Acme"]);
    assert_eq!(names(&f, "SLA_Expiry__c >= 2024-05-15"), ["Acme", "acme Labs"]);
    assert_eq!(names(&f, "SLA_Expiry__c = TODAY"), ["acme Labs"]);
    assert_eq!(names(&f, "SLA_Expiry__c < TODAY"), ["Globex"]);
    assert_eq!(names(&f, "SLA_Expiry__c > TODAY"), ["Acme"]);
    // The week runs Sunday 2024-05-12 to Saturday 2024-05-18.
    assert_eq!(names(&f, "SLA_Expiry__c = THIS_WEEK"), ["acme Labs"]);
    assert_eq!(names(&f, "SLA_Expiry__c = NEXT_WEEK"), ["Acme"]);
    assert_eq!(names(&f, "SLA_Expiry__c = THIS_MONTH"), ["Acme", "acme Labs"]);
    assert_eq!(names(&f, "SLA_Expiry__c = LAST_MONTH"), ["Globex"]);
    assert_eq!(names(&f, "SLA_Expiry__c = NEXT_N_DAYS:5"), ["Acme"]);
    assert_eq!(names(&f, "SLA_Expiry__c = NEXT_N_DAYS:4"), Vec::<String>::new());
    assert_eq!(
        names(&f, "SLA_Expiry__c = LAST_N_DAYS:15"),
        ["acme Labs", "Globex"]
    );
    assert_eq!(
        names(&f, "SLA_Expiry__c = THIS_QUARTER"),
        ["Acme", "acme Labs", "Globex"]
    );
    let tasks = f.cat.col(
        "SELECT Subject FROM Task WHERE ActivityDate = N_DAYS_AGO:5",
        "Subject",
    );
    assert_eq!(tasks, ["Meeting"]);
    let tasks = f.cat.col(
        "SELECT Subject FROM Task WHERE ActivityDate = TOMORROW",
        "Subject",
    );
    assert_eq!(tasks, ["Call"]);
}

#[test]
fn datetime_fields_with_datetimes_and_date_literals() {
    let f = fixture();
    assert_eq!(names(&f, "CreatedDate = TODAY"), ["Acme"]);
    assert_eq!(names(&f, "CreatedDate = YESTERDAY"), ["Globex"]);
    assert_eq!(names(&f, "CreatedDate = LAST_N_DAYS:1"), ["Acme", "Globex"]);
    assert_eq!(
        names(&f, "CreatedDate = THIS_YEAR"),
        ["Acme", "Globex", "Initech"]
    );
    assert_eq!(names(&f, "CreatedDate = LAST_YEAR"), ["acme Labs"]);
    assert_eq!(names(&f, "CreatedDate < THIS_YEAR"), ["acme Labs"]);
    assert_eq!(
        names(&f, "CreatedDate = LAST_N_MONTHS:5"),
        ["acme Labs", "Initech"]
    );
    assert_eq!(names(&f, "CreatedDate = LAST_N_MONTHS:4"), ["Initech"]);
    assert_eq!(names(&f, "CreatedDate > 2024-05-14T23:30:00Z"), ["Acme"]);
    assert_eq!(
        names(&f, "CreatedDate >= 2024-05-14T23:30:00.000+0000"),
        ["Acme", "Globex"]
    );
    // 2024-05-15T01:30:00+02:00 is 2024-05-14T23:30:00Z.
    assert_eq!(names(&f, "CreatedDate = 2024-05-15T01:30:00+02:00"), ["Globex"]);
    assert_eq!(names(&f, "CreatedDate < 2024-01-01T00:00:00Z"), ["acme Labs"]);
}

#[test]
fn relationship_paths_in_where() {
    let f = fixture();
    let rows = f.cat.col(
        "SELECT LastName FROM Contact WHERE Account.Owner.Name = 'Ada Admin' ORDER BY LastName",
        "LastName",
    );
    assert_eq!(rows, ["Jones", "Smith"]);
    let rows = f.cat.col(
        "SELECT LastName FROM Contact WHERE Account.Name = null",
        "LastName",
    );
    assert_eq!(rows, ["Orphan"]);
    let rows = f
        .cat
        .col("SELECT Subject FROM Task WHERE Who.LastName = 'Lead'", "Subject");
    assert_eq!(rows, ["Email"]);
}

#[test]
fn wrongly_typed_values_are_refused_as_salesforce_words_it() {
    let f = fixture();
    let cases: [(&str, &str); 7] = [
        (
            "CreatedDate > '2024-01-01'",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
        (
            "CreatedDate > 2024-01-01",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
        (
            "SLA_Expiry__c = 2024-01-01T00:00:00Z",
            "value of filter criterion for field 'SLA_Expiry__c' must be of type date and should not be enclosed in quotes",
        ),
        (
            "AnnualRevenue = '5'",
            "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes",
        ),
        (
            "Active__c = 'true'",
            "value of filter criterion for field 'Active__c' must be of type boolean and should not be enclosed in quotes",
        ),
        (
            "Name = 5",
            "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
        ),
        (
            "Name IN ('a', 5)",
            "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
        ),
    ];
    for (filter, message) in cases {
        let e = f.cat.err(&format!("SELECT Id FROM Account WHERE {filter}"));
        assert_eq!(e.code(), "INVALID_FIELD", "{filter}");
        assert!(e.message.ends_with(message), "{filter}: {}", e.message);
    }
    let e = f.cat.err("SELECT Id FROM Account WHERE Description = 'x'");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(
        e.message
            .ends_with("field 'Description' can not be filtered in a query call")
    );
}

#[test]
fn empty_result_is_not_an_error() {
    let f = fixture();
    let out = f
        .cat
        .query("SELECT Id FROM Account WHERE Name = 'nobody'")
        .unwrap();
    assert_eq!(out.total_size, 0);
    assert_eq!(out.records, Vec::<Value>::new());
}
