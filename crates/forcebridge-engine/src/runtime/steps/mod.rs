//! The step kinds, one module each, all alike: `run(ctx, step_id, spec, items, active)` executes
//! the step once for the `active` items of a batch, records each item's output in its scope
//! (`steps.<id>`), journals every write, and fails only the items Salesforce refused.
//!
//! Invariant: a step never calls Salesforce once per event when one call can carry the batch.

pub mod chatter;
pub mod matching;
pub mod undo;
pub mod write;

use forcebridge_store::JournalRow;
use serde_json::{Map, Value, json};

use super::batch::{Ctx, Item};
use crate::recipe::ir::{EvalError, FieldValue, Scope, WriteStep};

/// An expression failure as a delivery outcome.
pub fn eval_reason(e: &EvalError) -> Value {
    json!({
        "error": e.to_string(),
        "code": "RECIPE_EXPRESSION",
        "remedy": "the recipe's expression failed on this event: fix the event's data or the recipe, then replay",
    })
}

/// Evaluates a write's fields for one item. A `Rel__r.Key__c` field becomes the nested reference
/// Salesforce takes for a lookup by the parent's external id; `null` values are left out.
///
/// # Errors
/// The first expression that fails.
pub fn build_record(w: &WriteStep, scope: &Scope) -> Result<Map<String, Value>, Box<EvalError>> {
    let mut out = Map::new();
    for (field, value) in &w.fields {
        let v = match value {
            FieldValue::Expr(e) => e.eval(scope).map_err(Box::new)?,
            FieldValue::Template(t) => Value::String(t.render(scope).map_err(Box::new)?),
        };
        if v.is_null() {
            continue;
        }
        match field.split_once('.') {
            Some((rel, key)) => {
                let mut inner = Map::new();
                inner.insert(key.to_owned(), v);
                out.insert(rel.to_owned(), Value::Object(inner));
            }
            None => {
                out.insert(field.clone(), v);
            }
        }
    }
    for f in &w.clear {
        out.insert(f.clone(), Value::Null);
    }
    Ok(out)
}

/// A journal row for `item`'s write.
#[allow(clippy::too_many_arguments)] // one flat call per write reads better than a builder here
pub fn journal_row(
    ctx: &Ctx<'_>,
    item: &Item,
    step: &str,
    operation: &str,
    sobject: &str,
    record_id: Option<String>,
    api: &str,
    state: &str,
    detail: Value,
) -> JournalRow {
    JournalRow {
        id: 0,
        tenant_id: ctx.connection.tenant_id.clone(),
        event_id: Some(item.due.event.id.clone()),
        connection_id: ctx.connection.id.clone(),
        delivery_id: Some(item.due.delivery.id),
        step: Some(step.to_owned()),
        operation: operation.to_owned(),
        sobject: sobject.to_owned(),
        record_id,
        api: Some(api.to_owned()),
        state: state.to_owned(),
        correlation_key: item.due.delivery.correlation_key.clone(),
        detail,
        created_at: ctx.engine.clock().now(),
    }
}

/// Quotes a value as a SOQL string literal.
pub fn soql_literal(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('\'');
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '\'' => s.push_str("\\'"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

/// The text of a JSON scalar for comparing and querying (`null` → none).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Runs a recovery query (what an interrupted attempt may have made), counted as one call.
///
/// # Errors
/// The call's failure, as its fate.
pub async fn recovery_query(
    ctx: &mut Ctx<'_>,
    soql: &str,
) -> Result<Vec<serde_json::Value>, super::outcome::Fate> {
    use futures::TryStreamExt as _;
    ctx.count("query", 1);
    ctx.client
        .query::<serde_json::Value>(soql)
        .try_collect()
        .await
        .map_err(|e| super::outcome::for_call_error(&e, "query"))
}

/// The first of `candidates` (record ids, oldest first) that no journal row claims as written and
/// no other recovery of this batch took: the record an interrupted attempt made. It is marked
/// taken in `claimed`.
///
/// # Errors
/// A store failure, as a retry.
pub async fn claim_unowned(
    ctx: &Ctx<'_>,
    candidates: Vec<String>,
    claimed: &mut std::collections::HashSet<String>,
) -> Result<Option<String>, super::outcome::Fate> {
    for id in candidates {
        if claimed.contains(&id) {
            continue;
        }
        let owners = ctx
            .engine
            .store()
            .journal_rows_for_record(&ctx.connection.tenant_id, &id)
            .await
            .map_err(|e| super::outcome::Fate::Retry {
                reason: json!({ "error": e.to_string() }),
            })?;
        if owners.iter().any(|o| o.state == "done") {
            continue;
        }
        claimed.insert(id.clone());
        return Ok(Some(id));
    }
    Ok(None)
}
