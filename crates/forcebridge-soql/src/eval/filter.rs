//! WHERE and HAVING: conditions compiled against field types, then evaluated per row.
//!
//! Literals are typed once, at compile time, against the field they are compared with, so a date
//! compared with a text field fails before any row is read (as in Salesforce), and evaluating a row
//! is cheap. Dates and datetimes become half-open ranges of integer keys (days, milliseconds): a
//! date literal such as `THIS_MONTH` is a range, a single datetime a range of one millisecond, and
//! every operator is a comparison with the range's ends.
//!
//! Invariant: SOQL null semantics — `= null` matches missing values, `!= x` matches them too, every
//! other comparison with a missing value is false.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde_json::Value as Json;

use crate::ast::{CmpOp, Condition, Literal, Value};
use crate::catalog::FieldKind;
use crate::dates::literal_range;
use crate::error::{Pos, SoqlError, SoqlErrorKind};
use crate::ids;
use crate::lexer::{parse_date, parse_datetime};

use super::Ctx;

/// Where a leaf reads its value: a resolved path or a date function over one (WHERE, ORDER BY),
/// or a computed column (HAVING, ORDER BY of aggregate queries).
#[derive(Debug, Clone, PartialEq)]
pub enum Getter {
    Path(super::resolve::Resolved),
    Date(crate::ast::DateFunc, super::resolve::Resolved),
    Slot(usize),
}

impl Getter {
    /// The field of the row itself that the getter reads (a path's first reference field);
    /// `None` for a slot, which reads no field.
    pub fn root_field(&self) -> Option<&str> {
        match self {
            Getter::Path(r) | Getter::Date(_, r) => {
                Some(r.hops.first().map_or(r.field.name.as_str(), |h| h.field.as_str()))
            }
            Getter::Slot(_) => None,
        }
    }
}

impl Filter {
    /// Adds every field of the row the filter reads to `out`; `false` when it reads something
    /// that is not a field (a slot).
    pub fn fields<'f>(&'f self, out: &mut Vec<&'f str>) -> bool {
        match self {
            Filter::And(all) | Filter::Or(all) => all.iter().all(|f| f.fields(out)),
            Filter::Not(f) => f.fields(out),
            Filter::Cmp { getter, .. }
            | Filter::In { getter, .. }
            | Filter::IdSet { getter, .. }
            | Filter::Like { getter, .. }
            | Filter::Includes { getter, .. } => match getter.root_field() {
                Some(f) => {
                    out.push(f);
                    true
                }
                None => false,
            },
        }
    }
}

/// Rows a filter can read from.
pub trait Row {
    /// The non-null value the getter reads, if any (computed values are owned).
    fn get(&self, getter: &Getter) -> Option<Cow<'_, Json>>;
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cmp {
        getter: Getter,
        kind: FieldKind,
        op: CmpOp,
        value: Typed,
    },
    In {
        getter: Getter,
        kind: FieldKind,
        negated: bool,
        values: Vec<Typed>,
    },
    /// A semi-join (or anti-join when negated) on id keys.
    IdSet {
        getter: Getter,
        negated: bool,
        ids: HashSet<String>,
    },
    Like {
        getter: Getter,
        pattern: Vec<LikeTok>,
    },
    Includes {
        getter: Getter,
        negated: bool,
        sets: Vec<Vec<String>>,
    },
}

/// A literal converted to its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Null,
    /// Lower-cased: text comparisons are case-insensitive.
    Str(String),
    /// The 18-character id.
    Id(String),
    Num(f64),
    Bool(bool),
    /// `lo <= key < hi`, keys being days (date fields) or milliseconds (datetime fields).
    Range(i64, i64),
    /// Multi-select picklist values, lower-cased and sorted.
    Multi(Vec<String>),
}

/// A record value read as its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Id(String),
    Num(f64),
    Bool(bool),
    Key(i64),
    Multi(Vec<String>),
}

/// Days since 0001-01-01, the key of date fields.
pub fn day_key(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// Milliseconds since the epoch, the key of datetime fields.
fn ms_key(dt: DateTime<Utc>) -> i64 {
    dt.timestamp_millis()
}

fn day_start_ms(d: NaiveDate) -> i64 {
    ms_key(d.and_time(NaiveTime::MIN).and_utc())
}

fn multi(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(';')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Reads a record value as `kind`; `None` for null or a value that does not parse.
pub fn scalar(kind: FieldKind, v: &Json) -> Option<Scalar> {
    match (kind, v) {
        (_, Json::Null) => None,
        (FieldKind::Number, Json::Number(n)) => n.as_f64().map(Scalar::Num),
        (FieldKind::Number, Json::String(s)) => s.trim().parse().ok().map(Scalar::Num),
        (FieldKind::Boolean, Json::Bool(b)) => Some(Scalar::Bool(*b)),
        (FieldKind::Boolean, Json::String(s)) => s.parse().ok().map(Scalar::Bool),
        (FieldKind::Date, Json::String(s)) => {
            s.get(..10).and_then(parse_date).map(|d| Scalar::Key(day_key(d)))
        }
        (FieldKind::DateTime, Json::String(s)) => {
            parse_datetime(s).map(|dt| Scalar::Key(ms_key(dt.with_timezone(&Utc))))
        }
        (FieldKind::Id, Json::String(s)) => Some(Scalar::Id(ids::key(s))),
        (FieldKind::MultiPicklist, Json::String(s)) => Some(Scalar::Multi(multi(s))),
        (_, Json::String(s)) => Some(Scalar::Str(s.to_lowercase())),
        (_, Json::Bool(b)) => Some(Scalar::Str(b.to_string())),
        (_, Json::Number(n)) => Some(Scalar::Num(n.as_f64().unwrap_or(0.0))),
        (_, other) => Some(Scalar::Str(other.to_string().to_lowercase())),
    }
}

/// The value a missing field has in comparisons: a checkbox is never null, it is false.
fn unset(kind: FieldKind) -> Option<Scalar> {
    (kind == FieldKind::Boolean).then_some(Scalar::Bool(false))
}

/// The order of two scalars of one field (text case-insensitively).
pub fn cmp_scalar(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Scalar::Str(x), Scalar::Str(y)) | (Scalar::Id(x), Scalar::Id(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        (Scalar::Key(x), Scalar::Key(y)) => x.cmp(y),
        (Scalar::Multi(x), Scalar::Multi(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Whether `op` holds between a (possibly missing) value and a typed literal.
fn compare(op: CmpOp, v: Option<&Scalar>, lit: &Typed) -> bool {
    let Some(v) = v else {
        return match lit {
            Typed::Null => op == CmpOp::Eq,
            _ => op == CmpOp::Ne,
        };
    };
    let ord = match (v, lit) {
        (_, Typed::Null) => return op == CmpOp::Ne,
        (Scalar::Key(k), Typed::Range(lo, hi)) => {
            let (k, lo, hi) = (*k, *lo, *hi);
            return match op {
                CmpOp::Eq => lo <= k && k < hi,
                CmpOp::Ne => !(lo <= k && k < hi),
                CmpOp::Lt => k < lo,
                CmpOp::Le => k < hi,
                CmpOp::Gt => k >= hi,
                CmpOp::Ge => k >= lo,
                CmpOp::Like => false,
            };
        }
        (Scalar::Str(a), Typed::Str(b)) | (Scalar::Id(a), Typed::Id(b)) => a.cmp(b),
        // An id literal against a text value, or the reverse: compare as text.
        (Scalar::Id(a), Typed::Str(b)) | (Scalar::Str(a), Typed::Id(b)) => {
            a.to_lowercase().cmp(&b.to_lowercase())
        }
        (Scalar::Num(a), Typed::Num(b)) => match a.partial_cmp(b) {
            Some(o) => o,
            None => return op == CmpOp::Ne,
        },
        (Scalar::Bool(a), Typed::Bool(b)) => a.cmp(b),
        (Scalar::Multi(a), Typed::Multi(b)) => {
            return match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                _ => false,
            };
        }
        _ => return op == CmpOp::Ne,
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Like => false,
    }
}

/// Whether `s` equals `lower` (already lower-cased) ignoring case, without allocating.
fn eq_fold(s: &str, lower: &str) -> bool {
    if s.is_ascii() && lower.is_ascii() {
        return s.eq_ignore_ascii_case(lower);
    }
    s.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum LikeTok {
    /// `%`: any run of characters.
    Any,
    /// `_`: exactly one character.
    One,
    /// A literal character, lower-cased.
    Char(char),
}

/// Compiles a LIKE pattern; `\%` and `\_` are literal.
pub fn like_pattern(p: &str) -> Vec<LikeTok> {
    let mut out = Vec::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push(LikeTok::Any),
            '_' => out.push(LikeTok::One),
            '\\' => match chars.next() {
                Some(e) => out.extend(e.to_lowercase().map(LikeTok::Char)),
                None => out.push(LikeTok::Char('\\')),
            },
            c => out.extend(c.to_lowercase().map(LikeTok::Char)),
        }
    }
    out
}

/// Case-insensitive LIKE, in O(len(text) × len(pattern)) at worst (the greedy wildcard walk with
/// one backtrack point).
pub fn like_match(pattern: &[LikeTok], text: &str) -> bool {
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match pattern.get(pi) {
            Some(LikeTok::Any) => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(LikeTok::One) => {
                ti += 1;
                pi += 1;
            }
            Some(LikeTok::Char(c)) if t.get(ti) == Some(c) => {
                ti += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(pi..)
        .is_some_and(|rest| rest.iter().all(|p| *p == LikeTok::Any))
}

impl Filter {
    /// Whether `row` satisfies this filter.
    pub fn matches(&self, row: &dyn Row) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(row)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(row)),
            Filter::Not(f) => !f.matches(row),
            Filter::Cmp {
                getter,
                kind,
                op,
                value,
            } => {
                let got = row.get(getter);
                // Fast path for the most common filter, text equality: no lower-cased copy.
                if let (FieldKind::String, CmpOp::Eq | CmpOp::Ne, Typed::Str(lit), Some(Json::String(s))) =
                    (kind, op, value, got.as_deref())
                {
                    return eq_fold(s, lit) == (*op == CmpOp::Eq);
                }
                let v = got.and_then(|j| scalar(*kind, &j)).or_else(|| unset(*kind));
                compare(*op, v.as_ref(), value)
            }
            Filter::In {
                getter,
                kind,
                negated,
                values,
            } => {
                let v = row
                    .get(getter)
                    .and_then(|j| scalar(*kind, &j))
                    .or_else(|| unset(*kind));
                let hit = values.iter().any(|lit| compare(CmpOp::Eq, v.as_ref(), lit));
                hit != *negated
            }
            Filter::IdSet { getter, negated, ids } => {
                let hit = row
                    .get(getter)
                    .as_deref()
                    .and_then(Json::as_str)
                    .is_some_and(|s| ids.contains(&ids::key(s)));
                hit != *negated
            }
            Filter::Like { getter, pattern } => match row.get(getter).as_deref() {
                Some(Json::String(s)) => like_match(pattern, s),
                Some(Json::Null) | None => false,
                Some(other) => like_match(pattern, &other.to_string()),
            },
            Filter::Includes {
                getter,
                negated,
                sets,
            } => {
                let have = row
                    .get(getter)
                    .as_deref()
                    .and_then(Json::as_str)
                    .map(multi)
                    .unwrap_or_default();
                let hit = sets.iter().any(|set| set.iter().all(|v| have.contains(v)));
                hit != *negated
            }
        }
    }
}

/// A leaf's target as the compiler sees it: how to read it, its type, and its name for messages.
#[derive(Debug, Clone)]
pub struct Target {
    pub getter: Getter,
    pub kind: FieldKind,
    pub name: String,
    pub filterable: bool,
}

/// Compiles conditions; `target` resolves an operand (field path or aggregate).
pub struct Compiler<'c, 'a> {
    pub ctx: &'c Ctx<'a>,
    pub target: &'c mut dyn FnMut(&crate::ast::Operand) -> Result<Target, SoqlError>,
}

impl Compiler<'_, '_> {
    fn type_error(&self, pos: Pos, field: &str, ty: &str) -> SoqlError {
        let quotes = if ty == "string" {
            "should be enclosed in quotes"
        } else {
            "should not be enclosed in quotes"
        };
        SoqlError::at(
            SoqlErrorKind::InvalidField,
            self.ctx.text,
            pos,
            &format!("value of filter criterion for field '{field}' must be of type {ty} and {quotes}"),
        )
    }

    /// Converts `value` to the type of `t`.
    pub fn typed(&self, t: &Target, value: &Value) -> Result<Typed, SoqlError> {
        let lit = &value.literal;
        if matches!(lit, Literal::Null) {
            // "If you run a query on a boolean field, null matches FALSE values" (Salesforce's
            // documentation): `= null` is `= false` and `!= null` is `= true`.
            if t.kind == FieldKind::Boolean {
                return Ok(Typed::Bool(false));
            }
            return Ok(Typed::Null);
        }
        let err = |ty: &str| Err(self.type_error(value.pos, &t.name, ty));
        match t.kind {
            FieldKind::Id => match lit {
                Literal::String(s) => match ids::to18(s) {
                    Some(id) => Ok(Typed::Id(id)),
                    None => Err(SoqlError::at(
                        SoqlErrorKind::InvalidQueryFilterOperator,
                        self.ctx.text,
                        value.pos,
                        &format!("invalid ID field: {s}"),
                    )),
                },
                _ => err("id"),
            },
            FieldKind::String | FieldKind::Time | FieldKind::Unfilterable => match lit {
                Literal::String(s) => Ok(Typed::Str(s.to_lowercase())),
                _ => err("string"),
            },
            FieldKind::MultiPicklist => match lit {
                Literal::String(s) => Ok(Typed::Multi(multi(s))),
                _ => err("string"),
            },
            FieldKind::Number => match lit {
                Literal::Number(n) => match n.parse::<f64>() {
                    Ok(f) => Ok(Typed::Num(f)),
                    Err(_) => err("double"),
                },
                _ => err("double"),
            },
            FieldKind::Boolean => match lit {
                Literal::Bool(b) => Ok(Typed::Bool(*b)),
                _ => err("boolean"),
            },
            FieldKind::Date => match lit {
                Literal::Date(d) => Ok(Typed::Range(day_key(*d), day_key(*d) + 1)),
                Literal::DateLiteral(dl) => {
                    let (s, e) = literal_range(*dl, self.ctx.today);
                    Ok(Typed::Range(day_key(s), day_key(e)))
                }
                _ => err("date"),
            },
            FieldKind::DateTime => match lit {
                Literal::DateTime(dt) => {
                    let k = ms_key(dt.with_timezone(&Utc));
                    Ok(Typed::Range(k, k.saturating_add(1)))
                }
                Literal::DateLiteral(dl) => {
                    let (s, e) = literal_range(*dl, self.ctx.today);
                    Ok(Typed::Range(day_start_ms(s), day_start_ms(e)))
                }
                _ => err("dateTime"),
            },
        }
    }

    fn target_for(&mut self, operand: &crate::ast::Operand) -> Result<Target, SoqlError> {
        let t = (self.target)(operand)?;
        if !t.filterable {
            return Err(SoqlError::at(
                SoqlErrorKind::InvalidField,
                self.ctx.text,
                operand.pos(),
                &format!("field '{}' can not be filtered in a query call", t.name),
            ));
        }
        Ok(t)
    }

    /// Compiles one condition.
    pub fn compile(&mut self, c: &Condition) -> Result<Filter, SoqlError> {
        Ok(match c {
            Condition::And(cs) => Filter::And(cs.iter().map(|c| self.compile(c)).collect::<Result<_, _>>()?),
            Condition::Or(cs) => Filter::Or(cs.iter().map(|c| self.compile(c)).collect::<Result<_, _>>()?),
            Condition::Not(c) => Filter::Not(Box::new(self.compile(c)?)),
            Condition::Compare { lhs, op, value } => {
                let t = self.target_for(lhs)?;
                if *op == CmpOp::Like {
                    let Literal::String(p) = &value.literal else {
                        return Err(self.type_error(value.pos, &t.name, "string"));
                    };
                    if t.kind == FieldKind::Id {
                        return Err(SoqlError::at(
                            SoqlErrorKind::InvalidQueryFilterOperator,
                            self.ctx.text,
                            lhs.pos(),
                            "invalid operator on id field",
                        ));
                    }
                    if !matches!(
                        t.kind,
                        FieldKind::String | FieldKind::MultiPicklist | FieldKind::Time
                    ) {
                        return Err(SoqlError::at(
                            SoqlErrorKind::InvalidQueryFilterOperator,
                            self.ctx.text,
                            lhs.pos(),
                            &format!(
                                "invalid operator on field '{}': LIKE applies to text fields only",
                                t.name
                            ),
                        ));
                    }
                    return Ok(Filter::Like {
                        getter: t.getter,
                        pattern: like_pattern(p),
                    });
                }
                let value = self.typed(&t, value)?;
                Filter::Cmp {
                    getter: t.getter,
                    kind: t.kind,
                    op: *op,
                    value,
                }
            }
            Condition::In { lhs, negated, list } => {
                let t = self.target_for(lhs)?;
                match list {
                    crate::ast::InList::Values(vs) => Filter::In {
                        values: vs.iter().map(|v| self.typed(&t, v)).collect::<Result<_, _>>()?,
                        getter: t.getter,
                        kind: t.kind,
                        negated: *negated,
                    },
                    crate::ast::InList::Subquery(q) => Filter::IdSet {
                        ids: self.ctx.semi_join(q)?,
                        getter: t.getter,
                        negated: *negated,
                    },
                }
            }
            Condition::Includes {
                lhs,
                negated,
                values,
                pos,
            } => {
                let t = self.target_for(lhs)?;
                if t.kind != FieldKind::MultiPicklist {
                    return Err(SoqlError::at(
                        SoqlErrorKind::InvalidQueryFilterOperator,
                        self.ctx.text,
                        *pos,
                        "includes or excludes operator only valid on multipicklist field",
                    ));
                }
                let mut sets = Vec::with_capacity(values.len());
                for v in values {
                    match &v.literal {
                        Literal::String(s) => sets.push(multi(s)),
                        _ => return Err(self.type_error(v.pos, &t.name, "string")),
                    }
                }
                Filter::Includes {
                    getter: t.getter,
                    negated: *negated,
                    sets,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_and_escapes() {
        let m = |p: &str, t: &str| like_match(&like_pattern(p), t);
        assert!(m("a%", "Acme"));
        assert!(m("%CME", "acme"));
        assert!(m("a_me", "ACME"));
        assert!(!m("a_me", "acmee"));
        assert!(m("%m%", "acme"));
        assert!(m("%", ""));
        assert!(!m("_", ""));
        assert!(m("50\\%", "50%"));
        assert!(!m("50\\%", "500"));
        assert!(m("a%b%c", "aXXbYYc"));
        assert!(!m("a%b%c", "aXXbYY"));
    }

    #[test]
    fn null_semantics() {
        assert!(compare(CmpOp::Eq, None, &Typed::Null));
        assert!(!compare(CmpOp::Ne, None, &Typed::Null));
        assert!(compare(CmpOp::Ne, None, &Typed::Str("x".into())));
        assert!(!compare(CmpOp::Lt, None, &Typed::Num(1.0)));
        assert!(compare(CmpOp::Ne, Some(&Scalar::Num(1.0)), &Typed::Null));
    }

    #[test]
    fn ranges() {
        let r = Typed::Range(10, 20);
        let k = |v| Some(Scalar::Key(v));
        assert!(compare(CmpOp::Eq, k(10).as_ref(), &r));
        assert!(!compare(CmpOp::Eq, k(20).as_ref(), &r));
        assert!(compare(CmpOp::Lt, k(9).as_ref(), &r));
        assert!(compare(CmpOp::Le, k(19).as_ref(), &r));
        assert!(compare(CmpOp::Gt, k(20).as_ref(), &r));
        assert!(compare(CmpOp::Ge, k(10).as_ref(), &r));
        assert!(!compare(CmpOp::Gt, k(19).as_ref(), &r));
    }
}
