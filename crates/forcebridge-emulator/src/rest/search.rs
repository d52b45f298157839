//! Search: SOSL through `GET /search?q=FIND {…}` and the same search without SOSL through
//! `GET|POST /parameterizedSearch` — the way matching finds a person by email, phone or name
//! across objects in one call.
//!
//! Supported SOSL: `FIND {term}` (words, `"phrases"`, `*` and `?` wildcards, `OR`), `IN ALL |
//! NAME | EMAIL | PHONE FIELDS`, `RETURNING Object (fields WHERE … ORDER BY … LIMIT n), …`, and a
//! final `LIMIT n`; other clauses (`WITH …`, `UPDATE …`) are accepted and ignored. The answer is
//! `{"searchRecords": [...]}`, each record as SOQL renders it (`attributes`, then the fields asked
//! for, `Id` alone when none are), objects in the order `RETURNING` names them.
//!
//! Invariant: matching reads only live records and only fields the scope names; the returned
//! fields go through the SOQL engine, so field-level security and formats are SOQL's own.

use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::SfError;
use crate::org::Org;
use crate::schema::{FieldType, ObjectDef};

/// Records a search returns when nothing smaller is asked (Salesforce's overall maximum).
pub const MAX_RESULTS: usize = 2000;

/// Which fields a search looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Name,
    Email,
    Phone,
}

/// One object to return, with its field list and clauses.
#[derive(Debug, Clone, Default)]
struct Spec {
    object: String,
    fields: Vec<String>,
    filter: Option<String>,
    order: Option<String>,
    limit: Option<usize>,
}

/// A parsed search.
#[derive(Debug, Clone)]
struct Search {
    term: String,
    scope: Scope,
    specs: Vec<Spec>,
    limit: Option<usize>,
}

fn malformed(message: impl Into<String>) -> SfError {
    SfError::bad_request("MALFORMED_SEARCH", message).without_fields_key()
}

/// `GET /search?q=`.
///
/// # Errors
/// `MALFORMED_SEARCH` for a missing or unparsable `q`; `INVALID_TYPE` / `INVALID_FIELD` for
/// unknown objects and fields.
pub fn sosl(ctx: &Ctx<'_>, org: &Org) -> Result<Reply, SfError> {
    let q = ctx
        .param("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| malformed("No search term found. The search term must be enclosed in braces."))?;
    let search = parse_sosl(q)?;
    run(ctx, org, &search)
}

/// `GET /parameterizedSearch?q=…&sobject=…&in=…&fields=…&Object.fields=…&Object.where=…`.
///
/// # Errors
/// As [`sosl`]; `q` is required.
pub fn parameterized_get(ctx: &Ctx<'_>, org: &Org) -> Result<Reply, SfError> {
    let term = ctx
        .param("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| malformed("Missing required parameter: q"))?
        .to_string();
    let common_fields = ctx.param("fields").map(split_list).unwrap_or_default();
    let mut specs = Vec::new();
    for (k, v) in &ctx.params {
        if k == "sobject" {
            let mut spec = Spec {
                object: v.clone(),
                fields: common_fields.clone(),
                ..Spec::default()
            };
            let key = |suffix: &str| format!("{v}.{suffix}");
            if let Some(f) = ctx.param(&key("fields")) {
                spec.fields = split_list(f);
            }
            spec.filter = ctx.param(&key("where")).map(str::to_string);
            spec.order = ctx.param(&key("orderBy")).map(str::to_string);
            spec.limit = ctx.param(&key("limit")).and_then(|l| l.parse().ok());
            specs.push(spec);
        }
    }
    let search = Search {
        term,
        scope: parse_scope(ctx.param("in").unwrap_or("ALL"))?,
        specs,
        limit: ctx.param("overallLimit").and_then(|l| l.parse().ok()),
    };
    run(ctx, org, &search)
}

/// `POST /parameterizedSearch` with `{"q", "in", "fields", "sobjects": [{"name", "fields",
/// "where", "orderBy", "limit"}], "overallLimit"}`.
///
/// # Errors
/// As [`parameterized_get`].
pub fn parameterized_post(ctx: &Ctx<'_>, org: &Org, body: &Map<String, Value>) -> Result<Reply, SfError> {
    let term = body
        .get("q")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| malformed("Missing required parameter: q"))?
        .to_string();
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let common_fields = strings(body.get("fields"));
    let specs = body
        .get("sobjects")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| {
                    let object = s.get("name")?.as_str()?.to_string();
                    let fields = match strings(s.get("fields")) {
                        f if f.is_empty() => common_fields.clone(),
                        f => f,
                    };
                    Some(Spec {
                        object,
                        fields,
                        filter: s.get("where").and_then(Value::as_str).map(str::to_string),
                        order: s.get("orderBy").and_then(Value::as_str).map(str::to_string),
                        limit: s
                            .get("limit")
                            .and_then(Value::as_u64)
                            .and_then(|l| usize::try_from(l).ok()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let search = Search {
        term,
        scope: parse_scope(body.get("in").and_then(Value::as_str).unwrap_or("ALL"))?,
        specs,
        limit: body
            .get("overallLimit")
            .and_then(Value::as_u64)
            .and_then(|l| usize::try_from(l).ok()),
    };
    run(ctx, org, &search)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_scope(word: &str) -> Result<Scope, SfError> {
    match word.trim().to_ascii_uppercase().as_str() {
        "ALL" | "SIDEBAR" => Ok(Scope::All),
        "NAME" => Ok(Scope::Name),
        "EMAIL" => Ok(Scope::Email),
        "PHONE" => Ok(Scope::Phone),
        other => Err(malformed(format!(
            "unexpected token: '{other}'; use ALL, NAME, EMAIL or PHONE"
        ))),
    }
}

/// Finds `keyword` (case-insensitive, as a whole word) in `text` outside quotes and parentheses.
fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let (mut depth, mut quote) = (0i32, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quote = !quote,
            b'(' if !quote => depth += 1,
            b')' if !quote => depth -= 1,
            _ if !quote && depth == 0 && bytes[i..].starts_with(keyword.as_bytes()) => {
                let before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
                let after = bytes
                    .get(i + keyword.len())
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_');
                if before && after {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parses a SOSL statement.
fn parse_sosl(q: &str) -> Result<Search, SfError> {
    let text = q.trim();
    let rest = text
        .get(..4)
        .filter(|f| f.eq_ignore_ascii_case("FIND"))
        .and_then(|_| text.get(4..))
        .ok_or_else(|| malformed("unexpected token: a search starts with FIND"))?
        .trim_start();
    let (term, after) = if let Some(inner) = rest.strip_prefix('{') {
        let end = inner
            .find('}')
            .ok_or_else(|| malformed("No search term found. The search term must be enclosed in braces."))?;
        (inner[..end].to_string(), &inner[end + 1..])
    } else if let Some(inner) = rest.strip_prefix('\'') {
        let end = inner
            .find('\'')
            .ok_or_else(|| malformed("No search term found. The search term must be enclosed in braces."))?;
        (inner[..end].to_string(), &inner[end + 1..])
    } else {
        return Err(malformed(
            "No search term found. The search term must be enclosed in braces.",
        ));
    };
    if term.trim().is_empty() {
        return Err(malformed("search term must be longer than one character"));
    }
    let mut after = after.trim().to_string();
    let mut scope = Scope::All;
    if after.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("IN ")) {
        let words: Vec<&str> = after.get(3..).unwrap_or_default().split_whitespace().collect();
        let (Some(which), Some(fields)) = (words.first(), words.get(1)) else {
            return Err(malformed(
                "unexpected token: IN needs ALL, NAME, EMAIL or PHONE FIELDS",
            ));
        };
        if !fields.eq_ignore_ascii_case("FIELDS") {
            return Err(malformed(format!("unexpected token: '{fields}'")));
        }
        scope = parse_scope(which)?;
        after = words.get(2..).map(|w| w.join(" ")).unwrap_or_default();
    }
    let mut specs = Vec::new();
    let mut limit = None;
    let mut tail = after.clone();
    if let Some(at) = find_keyword(&after, "RETURNING") {
        let list = after[at + "RETURNING".len()..].to_string();
        // The list ends at the first top-level clause keyword.
        let end = ["LIMIT", "WITH", "UPDATE", "OFFSET"]
            .iter()
            .filter_map(|k| find_keyword(&list, k))
            .min()
            .unwrap_or(list.len());
        specs = parse_returning(&list[..end])?;
        tail = list[end..].to_string();
    }
    if let Some(at) = find_keyword(&tail, "LIMIT") {
        let n = tail[at + 5..].split_whitespace().next().unwrap_or_default();
        limit = Some(
            n.parse()
                .map_err(|_| malformed(format!("unexpected token: '{n}'")))?,
        );
    }
    Ok(Search {
        term,
        scope,
        specs,
        limit,
    })
}

/// Parses `Account(Id, Name WHERE … LIMIT 5), Contact, Lead(Email)`.
fn parse_returning(list: &str) -> Result<Vec<Spec>, SfError> {
    let mut specs = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '(' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let object = rest[..name_end].to_string();
        if object.is_empty() {
            return Err(malformed(format!("unexpected token: '{rest}'")));
        }
        rest = rest[name_end..].trim_start();
        let mut spec = Spec {
            object,
            ..Spec::default()
        };
        if let Some(inner) = rest.strip_prefix('(') {
            let mut depth = 1;
            let mut end = None;
            for (i, c) in inner.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| malformed("unexpected token: missing ')'"))?;
            parse_spec_body(&inner[..end], &mut spec)?;
            rest = inner[end + 1..].trim_start();
        }
        specs.push(spec);
        rest = rest.trim_start_matches(',').trim_start();
    }
    Ok(specs)
}

/// Parses the inside of `Object(...)`: fields, then `WHERE`, `ORDER BY`, `LIMIT`.
fn parse_spec_body(body: &str, spec: &mut Spec) -> Result<(), SfError> {
    let positions: Vec<(usize, &str)> = ["WHERE", "ORDER BY", "LIMIT", "OFFSET"]
        .iter()
        .filter_map(|k| find_keyword(body, k).map(|p| (p, *k)))
        .collect();
    let fields_end = positions.iter().map(|(p, _)| *p).min().unwrap_or(body.len());
    spec.fields = split_list(&body[..fields_end]);
    let clause = |keyword: &str| -> Option<String> {
        let (start, _) = positions.iter().find(|(_, k)| *k == keyword)?;
        let from = start + keyword.len();
        let end = positions
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| *p > *start)
            .min()
            .unwrap_or(body.len());
        Some(body[from..end].trim().to_string())
    };
    spec.filter = clause("WHERE");
    spec.order = clause("ORDER BY");
    if let Some(n) = clause("LIMIT") {
        spec.limit = Some(
            n.parse()
                .map_err(|_| malformed(format!("unexpected token: '{n}'")))?,
        );
    }
    Ok(())
}

/// One search word or phrase, lower-case.
#[derive(Debug)]
enum Token {
    Word(String),
    Phrase(String),
}

/// The term as tokens, and whether any one of them suffices (`OR`).
fn tokens(term: &str) -> (Vec<Token>, bool) {
    let mut out = Vec::new();
    let mut any = false;
    let mut rest = term.trim();
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            out.push(Token::Phrase(inner[..end].to_lowercase()));
            rest = inner.get(end + 1..).unwrap_or("").trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        match word.to_ascii_uppercase().as_str() {
            "OR" => any = true,
            "AND" | "AND NOT" => {}
            _ => out.push(Token::Word(word.trim_matches(['(', ')']).to_lowercase())),
        }
        rest = rest[end..].trim_start();
    }
    (out, any)
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character).
fn glob(text: &str, pattern: &str) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
    let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Whether one field value matches one token.
fn token_matches(value: &str, ftype: FieldType, token: &Token) -> bool {
    let v = value.to_lowercase();
    match token {
        Token::Phrase(p) => v.contains(p.as_str()),
        Token::Word(w) if ftype == FieldType::Phone => {
            let (vd, wd) = (digits(&v), digits(w));
            !wd.is_empty() && (vd == wd || vd.ends_with(&wd))
        }
        Token::Word(w) => {
            v == *w
                || glob(&v, w)
                || v.split(|c: char| !c.is_alphanumeric())
                    .filter(|part| !part.is_empty())
                    .any(|part| glob(part, w))
        }
    }
}

/// Whether `f` is in `scope`.
fn in_scope(def: &ObjectDef, f: &crate::schema::FieldDef, scope: Scope) -> bool {
    match scope {
        Scope::Email => f.ftype == FieldType::Email,
        Scope::Phone => f.ftype == FieldType::Phone,
        Scope::Name => {
            f.name_field
                || matches!(f.name.as_str(), "Name" | "FirstName" | "LastName")
                    && def.fields.contains_key(&f.name)
        }
        Scope::All => matches!(
            f.ftype,
            FieldType::String
                | FieldType::Textarea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Picklist
                | FieldType::Multipicklist
                | FieldType::Combobox
        ),
    }
}

/// Ids of the live records of `def` matching the search, in table order.
fn matching_ids(org: &Org, def: &ObjectDef, scope: Scope, toks: &[Token], any: bool) -> Vec<String> {
    let fields: Vec<&crate::schema::FieldDef> =
        def.fields.values().filter(|f| in_scope(def, f, scope)).collect();
    let Some(table) = org.data.get(&def.name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, record) in table.records() {
        if record.get("IsDeleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let hit = |t: &Token| {
            fields.iter().any(|f| {
                record
                    .get(&f.name)
                    .and_then(Value::as_str)
                    .is_some_and(|v| token_matches(v, f.ftype, t))
            })
        };
        let ok = if any {
            toks.iter().any(hit)
        } else {
            toks.iter().all(hit)
        };
        if ok && !toks.is_empty() {
            out.push(id.to_string());
        }
    }
    out
}

fn run(ctx: &Ctx<'_>, org: &Org, search: &Search) -> Result<Reply, SfError> {
    let (toks, any) = tokens(&search.term);
    let specs: Vec<Spec> = if search.specs.is_empty() {
        org.schema
            .objects()
            .filter(|o| o.searchable && o.queryable)
            .map(|o| Spec {
                object: o.name.clone(),
                ..Spec::default()
            })
            .collect()
    } else {
        search.specs.clone()
    };
    let overall = search.limit.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    let mut out: Vec<Value> = Vec::new();
    for spec in specs {
        let def = org.schema.object(&spec.object).ok_or_else(|| {
            SfError::bad_request(
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported.", spec.object),
            )
            .without_fields_key()
        })?;
        let ids = matching_ids(org, def, search.scope, &toks, any);
        let fields = if spec.fields.is_empty() {
            "Id".to_string()
        } else {
            spec.fields.join(", ")
        };
        // Still run the query without matches, so unknown fields fail as in Salesforce.
        let id_list = if ids.is_empty() {
            // An id no record has: the query still checks the fields and the clauses.
            format!("'{}'", crate::ids::SfId::generate(&def.key_prefix, "00", 0))
        } else {
            ids.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",")
        };
        let mut soql = format!("SELECT {fields} FROM {} WHERE Id IN ({id_list})", def.name);
        if let Some(filter) = &spec.filter {
            soql.push_str(&format!(" AND ({filter})"));
        }
        if let Some(order) = &spec.order {
            soql.push_str(&format!(" ORDER BY {order}"));
        }
        let room = overall.saturating_sub(out.len());
        let limit = spec.limit.map_or(room, |l| l.min(room));
        soql.push_str(&format!(" LIMIT {limit}"));
        let (_, rows) = super::query::run(ctx, org, &soql, false)?;
        out.extend(rows);
        if out.len() >= overall {
            break;
        }
    }
    Ok(Reply::ok(json!({ "searchRecords": out })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sosl_parses_scope_returning_and_limits() {
        let s = parse_sosl(
            "FIND {jane@example.com} IN EMAIL FIELDS RETURNING Contact(Id, Email WHERE LastName != null ORDER BY LastName LIMIT 3), Lead LIMIT 10",
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(s.term, "jane@example.com");
        assert_eq!(s.scope, Scope::Email);
        assert_eq!(s.specs.len(), 2);
        assert_eq!(s.specs[0].fields, ["Id", "Email"]);
        assert_eq!(s.specs[0].filter.as_deref(), Some("LastName != null"));
        assert_eq!(s.specs[0].order.as_deref(), Some("LastName"));
        assert_eq!(s.specs[0].limit, Some(3));
        assert_eq!(s.specs[1].object, "Lead");
        assert_eq!(s.limit, Some(10));
        assert!(parse_sosl("SELECT Id FROM Account").is_err());
        assert!(parse_sosl("FIND Acme").is_err());
    }

    #[test]
    fn words_wildcards_and_phones_match() {
        assert!(token_matches(
            "Acme Corp",
            FieldType::String,
            &Token::Word("acme".into())
        ));
        assert!(token_matches(
            "Acme Corp",
            FieldType::String,
            &Token::Word("ac*".into())
        ));
        assert!(!token_matches(
            "Acme Corp",
            FieldType::String,
            &Token::Word("acne".into())
        ));
        assert!(token_matches(
            "(415) 555-0100",
            FieldType::Phone,
            &Token::Word("4155550100".into())
        ));
        assert!(token_matches(
            "jane@example.com",
            FieldType::Email,
            &Token::Word("jane@example.com".into())
        ));
    }
}
