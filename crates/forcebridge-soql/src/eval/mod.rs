//! The SOQL evaluator: a parsed query, resolved against a [`Catalog`], run over its records.
//!
//! Work happens in two phases. Planning resolves every name (canonical case, relationship hops,
//! child relationships), types every literal against its field and runs semi-joins once, so every
//! `INVALID_FIELD` / `INVALID_TYPE` error comes before any row is read. Execution then scans the
//! FROM object once, filters, sorts, pages and renders rows in the REST `query` shape.
//!
//! Invariant: no step is quadratic in the number of rows — parent lookups go through
//! [`Catalog::get`], child subqueries scan the child object once per query and index it by parent
//! id.

mod aggregate;
mod filter;
mod resolve;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::{Map, Value as Json};

use crate::ast::{AggFunc, DateCall, DateFunc, FieldsKind, Operand, SelectItem, SelectQuery};
use crate::catalog::{Catalog, FieldInfo, FieldKind, Record};
use crate::dates;
use crate::error::{SoqlError, SoqlErrorKind};
use crate::ids;
use crate::{ExecOptions, QueryOutput};

use filter::{Compiler, Filter, Getter, Row, Scalar, Target, cmp_scalar, scalar};
use resolve::{Hop, Resolved};

/// A root and up to four levels of child subqueries (REST, API 58.0 and later).
const MAX_LEVELS: usize = 5;
/// At most five relationship hops in one parent path (`Contact.Account.Owner.Manager.…`).
pub(crate) const MAX_HOPS: usize = 5;
/// Salesforce's ceiling on `OFFSET`.
const MAX_OFFSET: u64 = 2000;
/// Salesforce's ceiling on `LIMIT` with `FIELDS(ALL)` / `FIELDS(CUSTOM)`.
const FIELDS_LIMIT: u64 = 200;

/// Everything one execution needs.
pub(crate) struct Ctx<'a> {
    pub catalog: &'a dyn Catalog,
    pub text: &'a str,
    /// "Today" for date literals (the catalog's now, UTC).
    pub today: NaiveDate,
    pub include_deleted: bool,
    /// See [`ExecOptions::omit_attributes`].
    pub omit_attributes: bool,
}

/// Runs a parsed query, handing each output row to `each` in order; returns `totalSize`.
pub(crate) fn execute_each(
    text: &str,
    q: &SelectQuery,
    catalog: &dyn Catalog,
    options: ExecOptions,
    each: &mut dyn FnMut(Json),
) -> Result<usize, SoqlError> {
    let ctx = Ctx {
        catalog,
        text,
        today: catalog.now().date_naive(),
        include_deleted: options.include_deleted,
        omit_attributes: options.omit_attributes,
    };
    ctx.run_each(q, each)
}

/// A record as a filter sees it.
struct RecordRow<'c, 'a> {
    ctx: &'c Ctx<'a>,
    object: &'c str,
    rec: &'c Record,
}

impl Row for RecordRow<'_, '_> {
    fn get(&self, getter: &Getter) -> Option<Cow<'_, Json>> {
        match getter {
            Getter::Path(p) => self.ctx.value(self.object, self.rec, p),
            Getter::Date(func, p) => self
                .ctx
                .value(self.object, self.rec, p)
                .and_then(|v| dates::apply(*func, p.field.kind, &v))
                .map(Cow::Owned),
            Getter::Slot(_) => None,
        }
    }
}

/// A row kept between scanning and rendering (sorted rows, child rows): the record when the
/// catalog lends it, else only its id, read again with [`Catalog::get_row`] when rendered — a
/// catalog that builds records on demand would otherwise have every matching row built at once.
enum Held<'a> {
    Rec(Cow<'a, Record>),
    Id(String),
}

impl<'a> Held<'a> {
    fn of(rec: Cow<'a, Record>) -> Self {
        match rec {
            Cow::Owned(r) => match r.get("Id").and_then(Json::as_str) {
                Some(id) => Held::Id(id.to_string()),
                None => Held::Rec(Cow::Owned(r)),
            },
            borrowed => Held::Rec(borrowed),
        }
    }

    fn share(&self) -> Self {
        match self {
            Held::Rec(Cow::Borrowed(r)) => Held::Rec(Cow::Borrowed(r)),
            Held::Rec(Cow::Owned(r)) => match r.get("Id").and_then(Json::as_str) {
                Some(id) => Held::Id(id.to_string()),
                None => Held::Rec(Cow::Owned(r.clone())),
            },
            Held::Id(id) => Held::Id(id.clone()),
        }
    }
}

/// The child rows of every child subquery, by slot, each indexed by the parent id they point at.
type Children<'a> = [Option<HashMap<String, Vec<Held<'a>>>>];

/// One output column of a non-aggregate query, as a tree (parents nest their fields).
#[derive(Debug)]
enum Node {
    Field {
        /// The key in the output (the field's name, or an alias).
        out: String,
        /// The field's canonical name.
        name: String,
        kind: FieldKind,
    },
    Parent {
        relationship: String,
        field: String,
        nodes: Vec<Node>,
    },
    Child {
        relationship: String,
        /// The child's reference field pointing at the parent, e.g. `AccountId`.
        field: String,
        /// Where its index is, among all the child subqueries of the query.
        slot: usize,
        plan: Box<Plan>,
    },
    /// `TYPEOF`: the columns depend on the type of the record the reference points at.
    TypeOf {
        relationship: String,
        field: String,
        /// `WHEN` branches: canonical object name → its columns.
        branches: Vec<(String, Vec<Node>)>,
        /// `ELSE` columns.
        otherwise: Option<Vec<Node>>,
    },
}

/// One ORDER BY key.
#[derive(Debug)]
struct OrderKey {
    getter: Getter,
    kind: FieldKind,
    descending: bool,
    nulls_first: bool,
}

/// A planned non-aggregate query (or child subquery).
#[derive(Debug)]
struct Plan {
    object: String,
    nodes: Vec<Node>,
    filter: Option<Filter>,
    order: Vec<OrderKey>,
    limit: Option<usize>,
    offset: usize,
}

impl Plan {
    /// Every field of the FROM object's rows that the plan reads (`Id` first), for
    /// [`Catalog::scan_rows`]; `None` when it cannot tell.
    fn fields(&self) -> Option<Vec<&str>> {
        let mut out = vec!["Id"];
        for node in &self.nodes {
            match node {
                Node::Field { name, .. } => out.push(name),
                Node::Parent { field, .. } | Node::TypeOf { field, .. } => out.push(field),
                // Children are found by this row's `Id`.
                Node::Child { .. } => {}
            }
        }
        if let Some(filter) = &self.filter
            && !filter.fields(&mut out)
        {
            return None;
        }
        for key in &self.order {
            out.push(key.getter.root_field()?);
        }
        Some(out)
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Adds a resolved path to the output tree; `false` when it was already there.
fn insert(nodes: &mut Vec<Node>, hops: &[Hop], field: &FieldInfo) -> bool {
    insert_as(nodes, hops, field, None)
}

/// Adds a resolved path to the output tree under `alias` (or the field's name); `false` when that
/// name was already taken.
fn insert_as(nodes: &mut Vec<Node>, hops: &[Hop], field: &FieldInfo, alias: Option<&str>) -> bool {
    match hops.split_first() {
        None => {
            let out = alias.unwrap_or(&field.name);
            if nodes
                .iter()
                .any(|n| matches!(n, Node::Field { out: o, .. } if o.eq_ignore_ascii_case(out)))
            {
                return false;
            }
            nodes.push(Node::Field {
                out: out.to_string(),
                name: field.name.clone(),
                kind: field.kind,
            });
            true
        }
        Some((hop, rest)) => {
            let idx = nodes
                .iter()
                .position(|n| matches!(n, Node::Parent { field, .. } if *field == hop.field));
            let idx = match idx {
                Some(i) => i,
                None => {
                    nodes.push(Node::Parent {
                        relationship: hop.relationship.clone(),
                        field: hop.field.clone(),
                        nodes: Vec::new(),
                    });
                    nodes.len() - 1
                }
            };
            match nodes.get_mut(idx) {
                Some(Node::Parent { nodes, .. }) => insert_as(nodes, rest, field, alias),
                _ => false,
            }
        }
    }
}

/// A JSON value as the output shows it: ids always in their 18-character form.
fn out_value(kind: FieldKind, v: Option<&Json>) -> Json {
    match (kind, v) {
        (FieldKind::Id, Some(Json::String(s))) if s.len() == 15 => {
            Json::String(ids::to18(s).unwrap_or_else(|| s.clone()))
        }
        (_, Some(v)) => v.clone(),
        (_, None) => Json::Null,
    }
}

impl<'a> Ctx<'a> {
    /// The canonical name of the FROM object, or `INVALID_TYPE`.
    fn object_of(&self, q: &SelectQuery) -> Result<String, SoqlError> {
        self.catalog
            .object(&q.from.object.name)
            .ok_or_else(|| SoqlError::unsupported_object(self.text, q.from.object.pos, &q.from.object.name))
    }

    fn run_each(&self, q: &SelectQuery, each: &mut dyn FnMut(Json)) -> Result<usize, SoqlError> {
        let object = self.object_of(q)?;
        check_offset(q)?;
        let has_agg = q
            .select
            .iter()
            .any(|i| matches!(i, SelectItem::Aggregate { .. } | SelectItem::Date { .. }));
        if has_agg || !q.group_by.is_empty() {
            if let [SelectItem::Aggregate { call, alias: None }] = q.select.as_slice()
                && call.func == AggFunc::Count
                && call.arg.is_none()
                && q.group_by.is_empty()
            {
                return self.count_only(q, &object).map(|out| out.total_size);
            }
            if q.select.iter().any(|i| {
                matches!(i, SelectItem::Aggregate { call, .. } if call.func == AggFunc::Count && call.arg.is_none())
            }) && q.select.len() > 1
            {
                return Err(SoqlError::malformed_at(
                    self.text,
                    q.from.object.pos,
                    "COUNT() must be the only element in the SELECT list",
                ));
            }
            let out = aggregate::run(self, q, &object)?;
            out.records.into_iter().for_each(&mut *each);
            return Ok(out.total_size);
        }
        let mut slots = 0;
        let plan = self.plan(q, object.clone(), 0, &mut slots)?;
        // Child subqueries are indexed once, when the first row needs them.
        let mut children: Option<Vec<_>> = None;
        let mut n = 0;
        let mut emit = |rec: &Record| {
            let children = children.get_or_insert_with(|| {
                let mut all = Vec::new();
                all.resize_with(slots, || None);
                self.index_children(&plan.nodes, &mut all);
                all
            });
            each(self.render(&plan.object, rec, &plan.nodes, children));
            n += 1;
        };
        let fields = plan.fields();
        let matching = self
            .catalog
            .scan_rows(&plan.object, self.include_deleted, fields.as_deref())
            .filter(|rec| self.keep(plan.filter.as_ref(), &plan.object, rec));
        if plan.order.is_empty() {
            // Rows go out in scan order as they are read: nothing is held but the current row.
            let page = matching.skip(plan.offset).take(plan.limit.unwrap_or(usize::MAX));
            page.for_each(|rec| emit(&rec));
        } else {
            let keyed = matching
                .map(|rec| (self.sort_keys(&plan.order, &plan.object, &rec), Held::of(rec)))
                .collect();
            for held in self.sort_and_page(&plan, keyed) {
                if let Some(rec) = self.fetch(&held) {
                    emit(&rec);
                }
            }
        }
        Ok(n)
    }

    /// The record of a held row.
    fn fetch<'h>(&self, held: &'h Held<'a>) -> Option<Cow<'h, Record>> {
        match held {
            Held::Rec(r) => Some(Cow::Borrowed(&**r)),
            Held::Id(id) => self.catalog.get_row(id).map(|(_, r)| r),
        }
    }

    /// `SELECT COUNT() FROM ...`: the count in `totalSize`, no records.
    fn count_only(&self, q: &SelectQuery, object: &str) -> Result<QueryOutput, SoqlError> {
        let filter = self.where_filter(q, object)?;
        let n = self
            .catalog
            .scan_rows(object, self.include_deleted, None)
            .filter(|rec| self.keep(filter.as_ref(), object, rec))
            .count();
        let n = n.saturating_sub(q.offset.map_or(0, |(o, _)| to_usize(o)));
        let n = q.limit.map_or(n, |(l, _)| n.min(to_usize(l)));
        Ok(QueryOutput {
            total_size: n,
            records: Vec::new(),
        })
    }

    fn keep(&self, filter: Option<&Filter>, object: &str, rec: &Record) -> bool {
        filter.is_none_or(|f| {
            f.matches(&RecordRow {
                ctx: self,
                object,
                rec,
            })
        })
    }

    /// The target of a WHERE operand: a field path (aggregates belong in HAVING).
    fn field_target(
        &self,
        object: &str,
        alias: Option<&str>,
        operand: &Operand,
    ) -> Result<Target, SoqlError> {
        match operand {
            Operand::Field(path) => {
                let r = self.resolve(object, alias, path)?;
                Ok(Target {
                    kind: r.field.kind,
                    name: r.field.name.clone(),
                    filterable: r.field.kind != FieldKind::Unfilterable,
                    getter: Getter::Path(r),
                })
            }
            Operand::Aggregate(call) => Err(SoqlError::malformed_at(
                self.text,
                call.pos,
                "Aggregate functions are not allowed in the WHERE clause; use HAVING",
            )),
            Operand::Date(call) => Ok(self.date_target(object, alias, call)?.0),
        }
    }

    /// The target of a date function, and a key equal for two calls of one function on one field.
    fn date_target(
        &self,
        object: &str,
        alias: Option<&str>,
        call: &DateCall,
    ) -> Result<(Target, String), SoqlError> {
        let r = self.resolve(object, alias, &call.arg)?;
        let needs_datetime = matches!(call.func, DateFunc::HourInDay | DateFunc::DayOnly);
        let ok = match r.field.kind {
            FieldKind::DateTime => true,
            FieldKind::Date => !needs_datetime,
            _ => false,
        };
        if !ok {
            let wanted = if needs_datetime {
                "dateTime"
            } else {
                "date or dateTime"
            };
            return Err(SoqlError::malformed_at(
                self.text,
                call.pos,
                &format!(
                    "{}() applies to {wanted} fields only, and {} is not one",
                    call.func.name(),
                    r.field.name
                ),
            ));
        }
        let key = format!("{}({})", call.func.name(), r.key());
        let target = Target {
            kind: dates::result_kind(call.func),
            name: format!("{}({})", call.func.name(), r.field.name),
            filterable: true,
            getter: Getter::Date(call.func, r),
        };
        Ok((target, key))
    }

    /// The compiled WHERE clause of `q` over `object`.
    fn where_filter(&self, q: &SelectQuery, object: &str) -> Result<Option<Filter>, SoqlError> {
        let Some(cond) = &q.where_ else { return Ok(None) };
        let alias = q.from.alias.as_ref().map(|a| a.name.as_str());
        let mut target = |op: &Operand| self.field_target(object, alias, op);
        let mut c = Compiler {
            ctx: self,
            target: &mut target,
        };
        Ok(Some(c.compile(cond)?))
    }

    /// Runs a semi-join subquery (`Id IN (SELECT AccountId FROM Contact ...)`) and returns the
    /// id keys it selects.
    pub(crate) fn semi_join(&self, q: &SelectQuery) -> Result<HashSet<String>, SoqlError> {
        let object = self.object_of(q)?;
        let [SelectItem::Field { path, alias: None }] = q.select.as_slice() else {
            let pos = q.from.object.pos;
            return Err(SoqlError::malformed_at(
                self.text,
                pos,
                "The inner select field in a semi join must be a single Id or reference field",
            ));
        };
        if let Some((_, pos)) = q.offset {
            return Err(SoqlError::malformed_at(
                self.text,
                pos,
                "OFFSET is not allowed in a semi join subquery",
            ));
        }
        let alias = q.from.alias.as_ref().map(|a| a.name.as_str());
        let r = self.resolve(&object, alias, path)?;
        if r.field.kind != FieldKind::Id {
            return Err(SoqlError::at(
                SoqlErrorKind::InvalidField,
                self.text,
                path.pos(),
                &format!(
                    "Invalid field '{}' in semi join: the selected field must be an Id or a reference",
                    r.field.name
                ),
            ));
        }
        let filter = self.where_filter(q, &object)?;
        let mut out = HashSet::new();
        for rec in self.catalog.scan_rows(&object, self.include_deleted, None) {
            if self.keep(filter.as_ref(), &object, &rec)
                && let Some(v) = self.value(&object, &rec, &r)
                && let Some(v) = v.as_str()
            {
                out.insert(ids::key(v));
            }
        }
        Ok(out)
    }

    /// Plans a non-aggregate query over `object` (already canonical).
    ///
    /// `depth` is 0 for the top query and grows by one per child subquery level; `slots` numbers
    /// the child subqueries of the whole tree, so that their indexes can be built once.
    fn plan(
        &self,
        q: &SelectQuery,
        object: String,
        depth: usize,
        slots: &mut usize,
    ) -> Result<Plan, SoqlError> {
        let alias = q.from.alias.as_ref().map(|a| a.name.as_str());
        let mut nodes = Vec::new();
        for item in &q.select {
            match item {
                SelectItem::Field {
                    path,
                    alias: field_alias,
                } => {
                    if let Some(a) = field_alias {
                        // Salesforce allows aliases on fields only in aggregate queries.
                        return Err(SoqlError::unexpected(self.text, a.pos, &a.name));
                    }
                    let r = self.resolve(&object, alias, path)?;
                    if !insert(&mut nodes, &r.hops, &r.field) {
                        return Err(duplicate(&path.dotted()));
                    }
                }
                SelectItem::Fields { kind, pos } => {
                    if *kind != FieldsKind::Standard && q.limit.is_none_or(|(l, _)| l > FIELDS_LIMIT) {
                        return Err(SoqlError::malformed_at(
                            self.text,
                            *pos,
                            "The SOQL FIELDS function must have a LIMIT of at most 200",
                        ));
                    }
                    for f in self.catalog.fields(&object) {
                        let custom = f.name.ends_with("__c");
                        let wanted = match kind {
                            FieldsKind::All => true,
                            FieldsKind::Standard => !custom,
                            FieldsKind::Custom => custom,
                        };
                        if wanted && !insert(&mut nodes, &[], &f) {
                            return Err(duplicate(&f.name));
                        }
                    }
                }
                SelectItem::Subquery(sub) => {
                    if depth + 1 >= MAX_LEVELS {
                        // API 58.0 and later: a root and up to four levels of child subqueries.
                        return Err(SoqlError::malformed_at(
                            self.text,
                            sub.from.object.pos,
                            &format!(
                                "SOQL statements cannot query aggregate relationships more than {} levels away \
                                 from the root entity object.",
                                MAX_LEVELS - 1
                            ),
                        ));
                    }
                    let rel = &sub.from.object;
                    let Some(cr) = self.catalog.child_relationship(&object, &rel.name) else {
                        return Err(SoqlError::at(
                            SoqlErrorKind::InvalidType,
                            self.text,
                            rel.pos,
                            &format!(
                                "Didn't understand relationship '{}' in FROM part of query call. If you are \
                                 attempting to use a custom relationship, be sure to append the '__r' after the \
                                 custom relationship name. Please reference your WSDL or the describe call for \
                                 the appropriate names.",
                                rel.name
                            ),
                        ));
                    };
                    if sub
                        .select
                        .iter()
                        .any(|i| matches!(i, SelectItem::Aggregate { .. }))
                    {
                        return Err(SoqlError::malformed_at(
                            self.text,
                            rel.pos,
                            "aggregate functions are not supported in a child relationship subquery",
                        ));
                    }
                    check_offset(sub)?;
                    if let Some((_, pos)) = sub.offset
                        && q.limit.is_none_or(|(l, _)| l != 1)
                    {
                        // Salesforce allows OFFSET in a child subquery only under an outer LIMIT 1.
                        return Err(SoqlError::malformed_at(
                            self.text,
                            pos,
                            "OFFSET is allowed in a subquery only when the outer query has LIMIT 1",
                        ));
                    }
                    let slot = *slots;
                    *slots += 1;
                    let plan = self.plan(sub, cr.child_object.clone(), depth + 1, slots)?;
                    nodes.push(Node::Child {
                        relationship: cr.name,
                        field: cr.field,
                        slot,
                        plan: Box::new(plan),
                    });
                }
                SelectItem::TypeOf {
                    relationship,
                    whens,
                    otherwise,
                    ..
                } => nodes.push(self.plan_type_of(&object, relationship, whens, otherwise.as_deref())?),
                SelectItem::Function { path, alias: a, .. } => {
                    let r = self.resolve(&object, alias, path)?;
                    let name = a.as_ref().map(|a| a.name.as_str());
                    if !insert_as(&mut nodes, &r.hops, &r.field, name) {
                        return Err(duplicate(&path.dotted()));
                    }
                }
                SelectItem::Date { call, .. } => {
                    return Err(SoqlError::malformed_at(
                        self.text,
                        call.pos,
                        "date functions in SELECT need GROUP BY; they are not supported in a child relationship subquery",
                    ));
                }
                SelectItem::Aggregate { call, .. } => {
                    // Only reachable for child subqueries, which `run` does not route to aggregates.
                    return Err(SoqlError::malformed_at(
                        self.text,
                        call.pos,
                        "aggregate functions are not supported in a child relationship subquery",
                    ));
                }
            }
        }
        let filter = self.where_filter(q, &object)?;
        let mut order = Vec::new();
        for item in &q.order_by {
            let t = self.field_target(&object, alias, &item.operand)?;
            let sortable = match &t.getter {
                Getter::Path(r) => r.field.sortable && r.field.kind != FieldKind::Unfilterable,
                Getter::Date(..) | Getter::Slot(_) => true,
            };
            if !sortable {
                return Err(SoqlError::at(
                    SoqlErrorKind::InvalidField,
                    self.text,
                    item.operand.pos(),
                    &format!("field '{}' can not be sorted in a query call", t.name),
                ));
            }
            order.push(OrderKey {
                getter: t.getter,
                kind: t.kind,
                descending: item.descending,
                nulls_first: item.nulls_first.unwrap_or(!item.descending),
            });
        }
        Ok(Plan {
            object,
            nodes,
            filter,
            order,
            limit: q.limit.map(|(l, _)| to_usize(l)),
            offset: q.offset.map_or(0, |(o, _)| to_usize(o)),
        })
    }

    /// Plans a `TYPEOF` column: each `WHEN` object must be one the relationship can point at.
    fn plan_type_of(
        &self,
        object: &str,
        relationship: &crate::ast::Ident,
        whens: &[(crate::ast::Ident, Vec<crate::ast::FieldPath>)],
        otherwise: Option<&[crate::ast::FieldPath]>,
    ) -> Result<Node, SoqlError> {
        let Some(rf) = self.catalog.parent_relationship(object, &relationship.name) else {
            return Err(SoqlError::bad_relationship(
                self.text,
                relationship.pos,
                &relationship.name,
            ));
        };
        let mut branches = Vec::new();
        for (when, paths) in whens {
            let Some(target) = rf
                .reference_to
                .iter()
                .find(|t| t.eq_ignore_ascii_case(&when.name))
            else {
                return Err(SoqlError::at(
                    SoqlErrorKind::InvalidType,
                    self.text,
                    when.pos,
                    &format!(
                        "sObject type '{}' is not a type of the relationship '{}'",
                        when.name, relationship.name
                    ),
                ));
            };
            let mut nodes = Vec::new();
            for path in paths {
                let r = self.resolve(target, None, path)?;
                if !insert(&mut nodes, &r.hops, &r.field) {
                    return Err(duplicate(&path.dotted()));
                }
            }
            branches.push((target.clone(), nodes));
        }
        let otherwise = match otherwise {
            Some(paths) => {
                let mut nodes = Vec::new();
                for path in paths {
                    // ELSE names fields common to the targets: take the first target that has it.
                    let mut found = None;
                    let mut first_err = None;
                    for target in &rf.reference_to {
                        match self.resolve(target, None, path) {
                            Ok(r) => {
                                found = Some(r);
                                break;
                            }
                            Err(e) => {
                                first_err.get_or_insert(e);
                            }
                        }
                    }
                    let Some(r) = found else {
                        return Err(first_err.unwrap_or_else(|| {
                            SoqlError::bad_relationship(self.text, relationship.pos, &relationship.name)
                        }));
                    };
                    if !insert(&mut nodes, &r.hops, &r.field) {
                        return Err(duplicate(&path.dotted()));
                    }
                }
                Some(nodes)
            }
            None => None,
        };
        Ok(Node::TypeOf {
            relationship: rf
                .relationship_name
                .clone()
                .unwrap_or_else(|| relationship.name.clone()),
            field: rf.name,
            branches,
            otherwise,
        })
    }

    /// The record a reference field of `rec` points at, with its object.
    fn parent_of(&self, rec: &Record, field: &str) -> Option<(&'a str, Cow<'a, Record>)> {
        let pid = rec.get(field).and_then(Json::as_str)?;
        self.catalog
            .get_row(pid)
            .or_else(|| self.catalog.get_row(&ids::key(pid)))
    }

    /// The ORDER BY keys of one row.
    fn sort_keys(&self, order: &[OrderKey], object: &str, rec: &Record) -> Vec<Option<Scalar>> {
        let row = RecordRow {
            ctx: self,
            object,
            rec,
        };
        order
            .iter()
            .map(|k| row.get(&k.getter).and_then(|v| scalar(k.kind, &v)))
            .collect()
    }

    /// Rows with their sort keys, sorted by them and paged.
    fn sort_and_page(&self, plan: &Plan, mut keyed: Vec<(Vec<Option<Scalar>>, Held<'a>)>) -> Vec<Held<'a>> {
        if !plan.order.is_empty() {
            keyed.sort_by(|a, b| compare_keys(&plan.order, &a.0, &b.0));
        }
        let mut rows: Vec<Held<'a>> = keyed.into_iter().map(|(_, r)| r).collect();
        page(&mut rows, plan.offset, plan.limit);
        rows
    }

    /// Builds the index of every child subquery in `nodes` (nested ones included) into `out`,
    /// at each subquery's slot.
    fn index_children(&self, nodes: &[Node], out: &mut Children<'a>) {
        for node in nodes {
            if let Node::Child {
                field, plan, slot, ..
            } = node
            {
                let index = self.child_index(plan, field);
                if let Some(place) = out.get_mut(*slot) {
                    *place = Some(index);
                }
                self.index_children(&plan.nodes, out);
            }
        }
    }

    /// Child rows of one subquery, filtered and indexed by the parent id they point at.
    fn child_index(&self, plan: &Plan, field: &str) -> HashMap<String, Vec<Held<'a>>> {
        let mut map: HashMap<String, Vec<Held<'a>>> = HashMap::new();
        let mut fields = plan.fields();
        if let Some(f) = &mut fields {
            f.push(field);
        }
        for rec in self
            .catalog
            .scan_rows(&plan.object, self.include_deleted, fields.as_deref())
        {
            let parent = match rec.get(field).and_then(Json::as_str) {
                Some(parent) if self.keep(plan.filter.as_ref(), &plan.object, &rec) => ids::key(parent),
                _ => continue,
            };
            map.entry(parent).or_default().push(Held::of(rec));
        }
        map
    }

    /// One output row: `attributes`, then the columns in SELECT order.
    fn render(&self, object: &str, rec: &Record, nodes: &[Node], children: &Children<'a>) -> Json {
        let mut m = Map::new();
        let id = rec.get("Id").and_then(Json::as_str);
        if !self.omit_attributes {
            m.insert("attributes".into(), self.catalog.attributes(object, id));
        }
        for node in nodes {
            match node {
                Node::Field { out, name, kind } => {
                    m.insert(out.clone(), out_value(*kind, rec.get(name)));
                }
                Node::Parent {
                    relationship,
                    field,
                    nodes,
                } => {
                    let v = match self.parent_of(rec, field) {
                        Some((pobj, prec)) => self.render(pobj, &prec, nodes, &[]),
                        None => Json::Null,
                    };
                    m.insert(relationship.clone(), v);
                }
                Node::TypeOf {
                    relationship,
                    field,
                    branches,
                    otherwise,
                } => {
                    let v = match self.parent_of(rec, field) {
                        Some((pobj, prec)) => {
                            let nodes = branches
                                .iter()
                                .find(|(o, _)| o.eq_ignore_ascii_case(pobj))
                                .map(|(_, n)| n.as_slice())
                                .or(otherwise.as_deref())
                                .unwrap_or_default();
                            self.render(pobj, &prec, nodes, &[])
                        }
                        None => Json::Null,
                    };
                    m.insert(relationship.clone(), v);
                }
                Node::Child {
                    relationship,
                    plan,
                    slot,
                    ..
                } => {
                    let kids: &[Held<'a>] = match (children.get(*slot), id) {
                        (Some(Some(index)), Some(id)) => index.get(&ids::key(id)).map_or(&[], Vec::as_slice),
                        _ => &[],
                    };
                    let keyed = kids
                        .iter()
                        .filter_map(|k| {
                            let keys = if plan.order.is_empty() {
                                Vec::new()
                            } else {
                                self.sort_keys(&plan.order, &plan.object, self.fetch(k)?.as_ref())
                            };
                            Some((keys, k.share()))
                        })
                        .collect();
                    let kids = self.sort_and_page(plan, keyed);
                    let v = if kids.is_empty() {
                        Json::Null
                    } else {
                        let records: Vec<Json> = kids
                            .iter()
                            .filter_map(|k| self.fetch(k))
                            .map(|k| self.render(&plan.object, &k, &plan.nodes, children))
                            .collect();
                        let mut sub = Map::new();
                        sub.insert("totalSize".into(), Json::from(records.len()));
                        sub.insert("done".into(), Json::Bool(true));
                        sub.insert("records".into(), Json::Array(records));
                        Json::Object(sub)
                    };
                    m.insert(relationship.clone(), v);
                }
            }
        }
        Json::Object(m)
    }
}

/// `INVALID_FIELD: duplicate field selected: X` (Salesforce gives no position for this one).
fn duplicate(name: &str) -> SoqlError {
    SoqlError {
        kind: SoqlErrorKind::InvalidField,
        message: format!("duplicate field selected: {name}"),
    }
}

/// `OFFSET` above 2,000 is refused, as Salesforce refuses it.
fn check_offset(q: &SelectQuery) -> Result<(), SoqlError> {
    match q.offset {
        Some((o, _)) if o > MAX_OFFSET => Err(SoqlError {
            kind: SoqlErrorKind::NumberOutsideValidRange,
            message: format!("Maximum SOQL offset allowed is {MAX_OFFSET}"),
        }),
        _ => Ok(()),
    }
}

/// Drops the first `offset` rows and keeps at most `limit`.
fn page<T>(rows: &mut Vec<T>, offset: usize, limit: Option<usize>) {
    if offset > 0 {
        rows.drain(..offset.min(rows.len()));
    }
    if let Some(l) = limit {
        rows.truncate(l);
    }
}

/// The order of two rows' keys under ORDER BY (nulls placed per key).
fn compare_keys(order: &[OrderKey], a: &[Option<Scalar>], b: &[Option<Scalar>]) -> Ordering {
    for (k, (x, y)) in order.iter().zip(a.iter().zip(b.iter())) {
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(_), None) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (Some(x), Some(y)) => {
                let o = cmp_scalar(x, y);
                if k.descending { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Resolved {
    /// The name an aggregate result uses for a grouped field: the field itself, without the path.
    fn column_name(&self) -> &str {
        &self.field.name
    }
}
