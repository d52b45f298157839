//! The SOQL syntax tree, as written (names not yet resolved against any catalog).
//!
//! Invariant: every name keeps the spelling and the position it had in the text, so that the
//! evaluator can report `INVALID_FIELD` and `INVALID_TYPE` at the right row and column.

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::error::Pos;

/// A name as written, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name as written.
    pub name: String,
    /// Where it starts.
    pub pos: Pos,
}

/// A dotted field path (`Name`, `Account.Owner.Name`, `c.Name` with an alias), as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The parts; the last one is the field, the ones before are relationships (or an alias).
    pub parts: Vec<Ident>,
}

impl FieldPath {
    /// Where the path starts.
    pub fn pos(&self) -> Pos {
        self.parts.first().map(|p| p.pos).unwrap_or_default()
    }

    /// The path as written, joined with dots.
    pub fn dotted(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    CountDistinct,
    Min,
    Max,
    Sum,
    Avg,
}

impl AggFunc {
    /// The function named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => AggFunc::Count,
            "COUNT_DISTINCT" => AggFunc::CountDistinct,
            "MIN" => AggFunc::Min,
            "MAX" => AggFunc::Max,
            "SUM" => AggFunc::Sum,
            "AVG" => AggFunc::Avg,
            _ => return None,
        })
    }
}

/// `COUNT()`, `COUNT(Id)`, `SUM(Amount)`...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggCall {
    /// The function.
    pub func: AggFunc,
    /// `None` only for `COUNT()`.
    pub arg: Option<FieldPath>,
    /// Where the function name starts.
    pub pos: Pos,
}

/// A date function: `CALENDAR_YEAR(CreatedDate)`, `DAY_ONLY(CreatedDate)`…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFunc {
    CalendarMonth,
    CalendarQuarter,
    CalendarYear,
    DayInMonth,
    DayInWeek,
    DayInYear,
    DayOnly,
    FiscalMonth,
    FiscalQuarter,
    FiscalYear,
    HourInDay,
    WeekInMonth,
    WeekInYear,
}

impl DateFunc {
    /// The function named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "CALENDAR_MONTH" => DateFunc::CalendarMonth,
            "CALENDAR_QUARTER" => DateFunc::CalendarQuarter,
            "CALENDAR_YEAR" => DateFunc::CalendarYear,
            "DAY_IN_MONTH" => DateFunc::DayInMonth,
            "DAY_IN_WEEK" => DateFunc::DayInWeek,
            "DAY_IN_YEAR" => DateFunc::DayInYear,
            "DAY_ONLY" => DateFunc::DayOnly,
            "FISCAL_MONTH" => DateFunc::FiscalMonth,
            "FISCAL_QUARTER" => DateFunc::FiscalQuarter,
            "FISCAL_YEAR" => DateFunc::FiscalYear,
            "HOUR_IN_DAY" => DateFunc::HourInDay,
            "WEEK_IN_MONTH" => DateFunc::WeekInMonth,
            "WEEK_IN_YEAR" => DateFunc::WeekInYear,
            _ => return None,
        })
    }

    /// The name as Salesforce writes it.
    pub fn name(self) -> &'static str {
        match self {
            DateFunc::CalendarMonth => "CALENDAR_MONTH",
            DateFunc::CalendarQuarter => "CALENDAR_QUARTER",
            DateFunc::CalendarYear => "CALENDAR_YEAR",
            DateFunc::DayInMonth => "DAY_IN_MONTH",
            DateFunc::DayInWeek => "DAY_IN_WEEK",
            DateFunc::DayInYear => "DAY_IN_YEAR",
            DateFunc::DayOnly => "DAY_ONLY",
            DateFunc::FiscalMonth => "FISCAL_MONTH",
            DateFunc::FiscalQuarter => "FISCAL_QUARTER",
            DateFunc::FiscalYear => "FISCAL_YEAR",
            DateFunc::HourInDay => "HOUR_IN_DAY",
            DateFunc::WeekInMonth => "WEEK_IN_MONTH",
            DateFunc::WeekInYear => "WEEK_IN_YEAR",
        }
    }
}

/// `CALENDAR_YEAR(CreatedDate)`; `convertTimezone(...)` around the field is accepted and is the
/// identity (the org's time zone is UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateCall {
    /// The function.
    pub func: DateFunc,
    /// The date or datetime field it applies to.
    pub arg: FieldPath,
    /// Where the function name starts.
    pub pos: Pos,
}

/// A function that wraps one field in SELECT and keeps its type: `toLabel(Status)`,
/// `convertCurrency(Amount)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFunc {
    /// The picklist label in the user's language (the API value here: labels are not translated).
    ToLabel,
    /// The amount in the user's currency (the stored amount here: the org has one currency).
    ConvertCurrency,
}

impl FieldFunc {
    /// The function named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("toLabel") {
            Some(FieldFunc::ToLabel)
        } else if name.eq_ignore_ascii_case("convertCurrency") {
            Some(FieldFunc::ConvertCurrency)
        } else {
            None
        }
    }
}

/// `FIELDS(ALL)`, `FIELDS(STANDARD)`, `FIELDS(CUSTOM)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsKind {
    All,
    Standard,
    Custom,
}

/// One entry of a SELECT list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// A field or a parent relationship path; an alias is allowed in aggregate queries only.
    Field { path: FieldPath, alias: Option<Ident> },
    /// An aggregate, with its alias if any.
    Aggregate { call: AggCall, alias: Option<Ident> },
    /// A date function (aggregate queries only), with its alias if any.
    Date { call: DateCall, alias: Option<Ident> },
    /// A child relationship subquery.
    Subquery(Box<SelectQuery>),
    /// `FIELDS(...)`.
    Fields { kind: FieldsKind, pos: Pos },
    /// `toLabel(Status)`, `convertCurrency(Amount) amt`: a field, possibly aliased.
    Function {
        func: FieldFunc,
        path: FieldPath,
        alias: Option<Ident>,
    },
    /// `TYPEOF What WHEN Account THEN Phone WHEN Opportunity THEN Amount ELSE Name END`.
    TypeOf {
        relationship: Ident,
        /// `WHEN Object THEN fields`, in order.
        whens: Vec<(Ident, Vec<FieldPath>)>,
        /// `ELSE fields`.
        otherwise: Option<Vec<FieldPath>>,
        pos: Pos,
    },
}

/// `FROM Object [alias]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The object (or, in a child subquery, the child relationship) as written.
    pub object: Ident,
    /// `FROM Contact c`: the alias.
    pub alias: Option<Ident>,
}

/// A relative date literal: `TODAY`, `LAST_N_DAYS:7`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateLiteral {
    /// Which range.
    pub kind: DateLiteralKind,
    /// The `n` of the `..._N_...:n` forms; 1 for the others.
    pub n: i64,
}

/// The unit and direction of a relative date literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateLiteralKind {
    Yesterday,
    Today,
    Tomorrow,
    /// `LAST_WEEK`, `LAST_N_WEEKS:n`...: the n whole units before the current one.
    Last(DateUnit),
    /// `THIS_WEEK`, `THIS_MONTH`...: the current unit.
    This(DateUnit),
    /// `NEXT_WEEK`, `NEXT_N_MONTHS:n`...: the n whole units after the current one.
    Next(DateUnit),
    /// `N_WEEKS_AGO:n`...: the one whole unit n units before the current one.
    Ago(DateUnit),
    /// `LAST_N_DAYS:n`, `LAST_90_DAYS`: today and the n days before it.
    LastNDays,
    /// `NEXT_N_DAYS:n`, `NEXT_90_DAYS`: the n days after today.
    NextNDays,
}

/// The calendar unit of a date literal. Fiscal units equal calendar ones (fiscal year starting in
/// January, Salesforce's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateUnit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// A literal value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string (escapes decoded; `\%` and `\_` kept for LIKE).
    String(String),
    /// A number as written.
    Number(String),
    Bool(bool),
    Null,
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
    DateLiteral(DateLiteral),
}

/// A literal and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The literal.
    pub literal: Literal,
    /// Where it starts.
    pub pos: Pos,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

/// The left side of a condition, an ORDER BY or a GROUP BY item: a field, a date function, or
/// (in HAVING and ORDER BY of aggregate queries) an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A field or parent path.
    Field(FieldPath),
    /// `COUNT(Id)`, `SUM(Amount)`…
    Aggregate(AggCall),
    /// `CALENDAR_YEAR(CreatedDate)`…
    Date(DateCall),
}

impl Operand {
    /// Where the operand starts.
    pub fn pos(&self) -> Pos {
        match self {
            Operand::Field(f) => f.pos(),
            Operand::Aggregate(a) => a.pos,
            Operand::Date(d) => d.pos,
        }
    }
}

/// The right side of `IN` / `NOT IN`.
#[derive(Debug, Clone, PartialEq)]
pub enum InList {
    /// `('a', 'b')`.
    Values(Vec<Value>),
    /// A semi-join (`IN`) or anti-join (`NOT IN`): `Id IN (SELECT AccountId FROM Contact)`.
    Subquery(Box<SelectQuery>),
}

/// A WHERE or HAVING condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// All of them.
    And(Vec<Condition>),
    /// Any of them.
    Or(Vec<Condition>),
    /// `NOT c`.
    Not(Box<Condition>),
    /// `lhs op value` (`LIKE` included).
    Compare { lhs: Operand, op: CmpOp, value: Value },
    /// `lhs [NOT] IN (...)`.
    In {
        lhs: Operand,
        negated: bool,
        list: InList,
    },
    /// `INCLUDES('a;b', 'c')` (or `EXCLUDES` when `negated`): each value is a `;`-separated set.
    Includes {
        lhs: Operand,
        negated: bool,
        values: Vec<Value>,
        pos: Pos,
    },
}

/// `ORDER BY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// What to sort by.
    pub operand: Operand,
    /// `DESC`.
    pub descending: bool,
    /// `Some(true)` for `NULLS FIRST`, `Some(false)` for `NULLS LAST`, `None` for the default
    /// (first when ascending, last when descending).
    pub nulls_first: Option<bool>,
}

/// One SELECT statement (the top query, a child subquery or a semi-join).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectQuery {
    /// The SELECT list, in order.
    pub select: Vec<SelectItem>,
    /// The FROM clause.
    pub from: From,
    /// The WHERE clause.
    pub where_: Option<Condition>,
    /// Fields or date functions (never aggregates: the parser refuses them).
    pub group_by: Vec<Operand>,
    /// The HAVING clause.
    pub having: Option<Condition>,
    /// The ORDER BY keys, in order.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT n` and where `n` is.
    pub limit: Option<(u64, Pos)>,
    /// `OFFSET n` and where `n` is.
    pub offset: Option<(u64, Pos)>,
    /// `ALL ROWS` (accepted; `queryAll` decides whether deleted rows are seen).
    pub all_rows: bool,
}
