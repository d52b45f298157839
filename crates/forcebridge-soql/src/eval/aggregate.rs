//! Aggregate queries: `COUNT(Id)`, `SUM(Amount) total`, `GROUP BY`, `HAVING`.
//!
//! Rows are `AggregateResult`s: `{"attributes":{"type":"AggregateResult"}, ...}` with grouped
//! fields under their own name (`Account.Name` → `Name`), aliased aggregates under their alias and
//! unaliased ones as `expr0`, `expr1`… in SELECT order.
//!
//! Invariant: every computed row is a vector of slots — the grouped values first, then one per
//! distinct aggregate expression — and HAVING and ORDER BY read those slots only, so grouping
//! happens in one pass over the filtered records.

use std::borrow::Cow;
use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use crate::QueryOutput;
use crate::ast::{AggCall, AggFunc, Operand, SelectItem, SelectQuery};
use crate::catalog::FieldKind;
use crate::error::{SoqlError, SoqlErrorKind};

use super::filter::{Compiler, Getter, Row, Scalar, Target, cmp_scalar, scalar};
use super::resolve::Resolved;
use super::{Ctx, OrderKey, RecordRow, compare_keys, page, to_usize};

/// One distinct aggregate expression.
struct Spec {
    func: AggFunc,
    arg: Option<Resolved>,
}

impl Spec {
    /// The type of the value it produces.
    fn kind(&self) -> FieldKind {
        match (self.func, &self.arg) {
            (AggFunc::Min | AggFunc::Max, Some(r)) => r.field.kind,
            _ => FieldKind::Number,
        }
    }
}

/// A running aggregate.
enum Acc {
    Count(u64),
    Distinct(HashSet<String>),
    Min(Option<(Scalar, Json)>),
    Max(Option<(Scalar, Json)>),
    Sum(Option<f64>),
    Avg(f64, u64),
}

impl Acc {
    fn new(func: AggFunc) -> Self {
        match func {
            AggFunc::Count => Acc::Count(0),
            AggFunc::CountDistinct => Acc::Distinct(HashSet::new()),
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
            AggFunc::Sum => Acc::Sum(None),
            AggFunc::Avg => Acc::Avg(0.0, 0),
        }
    }

    /// Adds one record's value; `None` (null) counts for nothing.
    fn add(&mut self, kind: FieldKind, v: Option<&Json>) {
        let Some(v) = v else { return };
        match self {
            Acc::Count(n) => *n += 1,
            Acc::Distinct(set) => {
                let key = match scalar(kind, v) {
                    Some(Scalar::Str(s) | Scalar::Id(s)) => s,
                    _ => v.to_string(),
                };
                set.insert(key);
            }
            Acc::Min(cur) => keep_extreme(cur, kind, v, std::cmp::Ordering::Less),
            Acc::Max(cur) => keep_extreme(cur, kind, v, std::cmp::Ordering::Greater),
            Acc::Sum(total) => {
                if let Some(Scalar::Num(x)) = scalar(FieldKind::Number, v) {
                    *total = Some(total.unwrap_or(0.0) + x);
                }
            }
            Acc::Avg(total, n) => {
                if let Some(Scalar::Num(x)) = scalar(FieldKind::Number, v) {
                    *total += x;
                    *n += 1;
                }
            }
        }
    }

    fn finish(self) -> Json {
        let num = |f: f64| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number);
        match self {
            Acc::Count(n) => Json::from(n),
            Acc::Distinct(set) => Json::from(set.len()),
            Acc::Min(cur) | Acc::Max(cur) => cur.map_or(Json::Null, |(_, j)| j),
            Acc::Sum(total) => total.map_or(Json::Null, num),
            Acc::Avg(total, n) => {
                if n == 0 {
                    Json::Null
                } else {
                    num(total / n as f64)
                }
            }
        }
    }
}

/// Keeps the smaller (`want` = Less) or larger value seen so far.
fn keep_extreme(cur: &mut Option<(Scalar, Json)>, kind: FieldKind, v: &Json, want: std::cmp::Ordering) {
    let Some(s) = scalar(kind, v) else { return };
    let replace = match cur {
        None => true,
        Some((best, _)) => cmp_scalar(&s, best) == want,
    };
    if replace {
        *cur = Some((s, v.clone()));
    }
}

/// A computed aggregate row.
struct SlotRow<'r>(&'r [Json]);

impl Row for SlotRow<'_> {
    fn get(&self, getter: &Getter) -> Option<Cow<'_, Json>> {
        match getter {
            Getter::Slot(i) => self.0.get(*i).filter(|v| !v.is_null()).map(Cow::Borrowed),
            Getter::Path(_) | Getter::Date(..) => None,
        }
    }
}

/// One GROUP BY expression: how to read it from a record, its type, its matching key, its name.
struct GroupExpr {
    getter: Getter,
    kind: FieldKind,
    key: String,
    name: String,
}

/// The GROUP BY expression `op` (a field or a date function).
fn group_expr(
    ctx: &Ctx<'_>,
    object: &str,
    alias: Option<&str>,
    op: &Operand,
) -> Result<GroupExpr, SoqlError> {
    match op {
        Operand::Field(path) => {
            let r = ctx.resolve(object, alias, path)?;
            Ok(GroupExpr {
                kind: r.field.kind,
                key: r.key(),
                name: r.column_name().to_string(),
                getter: Getter::Path(r),
            })
        }
        Operand::Date(call) => {
            let (t, key) = ctx.date_target(object, alias, call)?;
            Ok(GroupExpr {
                getter: t.getter,
                kind: t.kind,
                key,
                name: t.name,
            })
        }
        Operand::Aggregate(call) => Err(SoqlError::malformed_at(
            ctx.text,
            call.pos,
            "aggregate functions are not allowed in GROUP BY",
        )),
    }
}

/// An output column: a slot and its name.
struct Column {
    slot: usize,
    name: String,
}

/// Plans and runs an aggregate query over `object`.
pub(super) fn run(ctx: &Ctx<'_>, q: &SelectQuery, object: &str) -> Result<QueryOutput, SoqlError> {
    let alias = q.from.alias.as_ref().map(|a| a.name.as_str());
    let mut group: Vec<GroupExpr> = Vec::new();
    for op in &q.group_by {
        let g = group_expr(ctx, object, alias, op)?;
        if let Getter::Path(r) = &g.getter
            && (!r.field.groupable || r.field.kind == FieldKind::Unfilterable)
        {
            return Err(SoqlError::at(
                SoqlErrorKind::InvalidField,
                ctx.text,
                op.pos(),
                &format!("field '{}' can not be grouped in a query call", r.field.name),
            ));
        }
        group.push(g);
    }
    let mut specs: Vec<Spec> = Vec::new();
    let mut columns = Vec::new();
    let mut unaliased = 0usize;
    for item in &q.select {
        match item {
            SelectItem::Field { path, alias: a } | SelectItem::Function { path, alias: a, .. } => {
                let r = ctx.resolve(object, alias, path)?;
                let Some(gi) = group.iter().position(|g| g.key == r.key()) else {
                    return Err(SoqlError::malformed_at(
                        ctx.text,
                        path.pos(),
                        &format!("Field must be grouped or aggregated: {}", r.field.name),
                    ));
                };
                columns.push(Column {
                    slot: gi,
                    name: a
                        .as_ref()
                        .map_or_else(|| r.column_name().to_string(), |a| a.name.clone()),
                });
            }
            SelectItem::Aggregate { call, alias: a } => {
                let si = spec_index(ctx, object, alias, &mut specs, call)?;
                let name = match a {
                    Some(a) => a.name.clone(),
                    None => {
                        unaliased += 1;
                        format!("expr{}", unaliased - 1)
                    }
                };
                columns.push(Column {
                    slot: group.len() + si,
                    name,
                });
            }
            SelectItem::Date { call, alias: a } => {
                let (t, key) = ctx.date_target(object, alias, call)?;
                let Some(gi) = group.iter().position(|g| g.key == key) else {
                    return Err(SoqlError::malformed_at(
                        ctx.text,
                        call.pos,
                        &format!("Field must be grouped or aggregated: {}", t.name),
                    ));
                };
                let name = match a {
                    Some(a) => a.name.clone(),
                    None => {
                        unaliased += 1;
                        format!("expr{}", unaliased - 1)
                    }
                };
                columns.push(Column { slot: gi, name });
            }
            SelectItem::Subquery(sub) => {
                return Err(SoqlError::malformed_at(
                    ctx.text,
                    sub.from.object.pos,
                    "child relationship subqueries cannot be combined with aggregate functions",
                ));
            }
            SelectItem::TypeOf { pos, .. } => {
                return Err(SoqlError::malformed_at(
                    ctx.text,
                    *pos,
                    "TYPEOF cannot be combined with aggregate functions",
                ));
            }
            SelectItem::Fields { pos, .. } => {
                return Err(SoqlError::malformed_at(
                    ctx.text,
                    *pos,
                    "FIELDS() cannot be combined with aggregate functions",
                ));
            }
        }
    }
    let filter = ctx.where_filter(q, object)?;

    // HAVING and ORDER BY read slots: grouped fields or aggregates (added if not selected).
    let mut slot_target = |op: &Operand, ordered: bool| -> Result<Target, SoqlError> {
        match op {
            Operand::Field(_) | Operand::Date(_) => {
                let g = group_expr(ctx, object, alias, op)?;
                let Some(gi) = group.iter().position(|x| x.key == g.key) else {
                    let what = if ordered { "Ordered field" } else { "Field" };
                    return Err(SoqlError::malformed_at(
                        ctx.text,
                        op.pos(),
                        &format!("{what} must be grouped or aggregated: {}", g.name),
                    ));
                };
                Ok(Target {
                    getter: Getter::Slot(gi),
                    kind: g.kind,
                    name: g.name,
                    filterable: true,
                })
            }
            Operand::Aggregate(call) => {
                let si = spec_index(ctx, object, alias, &mut specs, call)?;
                let kind = specs.get(si).map_or(FieldKind::Number, Spec::kind);
                Ok(Target {
                    getter: Getter::Slot(group.len() + si),
                    kind,
                    name: call
                        .arg
                        .as_ref()
                        .map_or_else(|| "COUNT()".to_string(), |a| a.dotted()),
                    filterable: true,
                })
            }
        }
    };
    let having = match &q.having {
        Some(cond) => {
            let mut target = |op: &Operand| slot_target(op, false);
            let mut c = Compiler {
                ctx,
                target: &mut target,
            };
            Some(c.compile(cond)?)
        }
        None => None,
    };
    let mut order = Vec::new();
    for item in &q.order_by {
        let t = slot_target(&item.operand, true)?;
        order.push(OrderKey {
            getter: t.getter,
            kind: t.kind,
            descending: item.descending,
            nulls_first: item.nulls_first.unwrap_or(!item.descending),
        });
    }

    // One pass: filter, group, accumulate.
    let mut groups: IndexMap<Vec<String>, (Vec<Json>, Vec<Acc>)> = IndexMap::new();
    for rec in ctx.catalog.scan_rows(object, ctx.include_deleted, None) {
        let rec = &*rec;
        if !ctx.keep(filter.as_ref(), object, rec) {
            continue;
        }
        let row = RecordRow { ctx, object, rec };
        let values: Vec<Option<Cow<'_, Json>>> = group.iter().map(|g| row.get(&g.getter)).collect();
        let key: Vec<String> = values
            .iter()
            .zip(group.iter())
            .map(|(v, g)| match v.as_deref().and_then(|j| scalar(g.kind, j)) {
                Some(Scalar::Str(s) | Scalar::Id(s)) => s,
                Some(_) => v.as_deref().map_or_else(String::new, Json::to_string),
                None => "\u{0}null".to_string(),
            })
            .collect();
        let entry = groups.entry(key).or_insert_with(|| {
            (
                values
                    .iter()
                    .map(|v| v.as_deref().cloned().unwrap_or(Json::Null))
                    .collect(),
                specs.iter().map(|s| Acc::new(s.func)).collect(),
            )
        });
        for (acc, spec) in entry.1.iter_mut().zip(specs.iter()) {
            match &spec.arg {
                None => acc.add(FieldKind::Number, Some(&Json::Bool(true))),
                Some(arg) => acc.add(arg.field.kind, ctx.value(object, rec, arg).as_deref()),
            }
        }
    }
    if group.is_empty() && groups.is_empty() {
        groups.insert(
            Vec::new(),
            (Vec::new(), specs.iter().map(|s| Acc::new(s.func)).collect()),
        );
    }
    let mut rows: Vec<Vec<Json>> = groups
        .into_values()
        .map(|(mut vals, accs)| {
            vals.extend(accs.into_iter().map(Acc::finish));
            vals
        })
        .filter(|row| having.as_ref().is_none_or(|h| h.matches(&SlotRow(row))))
        .collect();
    if !order.is_empty() {
        let mut keyed: Vec<(Vec<Option<Scalar>>, Vec<Json>)> = rows
            .into_iter()
            .map(|row| {
                let keys = order
                    .iter()
                    .map(|k| SlotRow(&row).get(&k.getter).and_then(|v| scalar(k.kind, &v)))
                    .collect();
                (keys, row)
            })
            .collect();
        keyed.sort_by(|a, b| compare_keys(&order, &a.0, &b.0));
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    }
    page(
        &mut rows,
        q.offset.map_or(0, |(o, _)| to_usize(o)),
        q.limit.map(|(l, _)| to_usize(l)),
    );
    let records: Vec<Json> = rows
        .iter()
        .map(|row| {
            let mut m = Map::new();
            let mut attrs = Map::new();
            attrs.insert("type".into(), Json::String("AggregateResult".into()));
            m.insert("attributes".into(), Json::Object(attrs));
            for c in &columns {
                m.insert(c.name.clone(), row.get(c.slot).cloned().unwrap_or(Json::Null));
            }
            Json::Object(m)
        })
        .collect();
    Ok(QueryOutput {
        total_size: records.len(),
        records,
    })
}

/// The index of `call` among `specs`, adding it when new; checks the argument's type.
fn spec_index(
    ctx: &Ctx<'_>,
    object: &str,
    alias: Option<&str>,
    specs: &mut Vec<Spec>,
    call: &AggCall,
) -> Result<usize, SoqlError> {
    let arg = match &call.arg {
        Some(path) => Some(ctx.resolve(object, alias, path)?),
        None => None,
    };
    if let Some(r) = &arg {
        let ok = match call.func {
            AggFunc::Sum | AggFunc::Avg => r.field.kind == FieldKind::Number,
            AggFunc::Min | AggFunc::Max => !matches!(
                r.field.kind,
                FieldKind::Boolean | FieldKind::MultiPicklist | FieldKind::Unfilterable
            ),
            AggFunc::Count | AggFunc::CountDistinct => r.field.kind != FieldKind::Unfilterable,
        };
        if !ok {
            return Err(SoqlError::malformed_at(
                ctx.text,
                call.pos,
                &format!(
                    "field {} does not support aggregate operator {}",
                    r.field.name,
                    func_name(call.func)
                ),
            ));
        }
    }
    let key = arg.as_ref().map(Resolved::key);
    if let Some(i) = specs
        .iter()
        .position(|s| s.func == call.func && s.arg.as_ref().map(Resolved::key) == key)
    {
        return Ok(i);
    }
    specs.push(Spec { func: call.func, arg });
    Ok(specs.len() - 1)
}

fn func_name(f: AggFunc) -> &'static str {
    match f {
        AggFunc::Count => "COUNT",
        AggFunc::CountDistinct => "COUNT_DISTINCT",
        AggFunc::Min => "MIN",
        AggFunc::Max => "MAX",
        AggFunc::Sum => "SUM",
        AggFunc::Avg => "AVG",
    }
}
