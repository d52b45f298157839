//! `match`: find one record for each event across objects in an order of preference, by several
//! fields, normalised — set-at-a-time: one SOQL query per object per 200 distinct values of the
//! first field (an IN list), the other fields compared in memory; then, with `or_create`, one
//! create per distinct person, shared by every event of the batch that names them.
//!
//! Invariant: an event whose record was created by an earlier, interrupted attempt finds it here,
//! because the match always runs before any create.

use std::collections::BTreeMap;

use futures::TryStreamExt as _;
use serde_json::{Map, Value, json};

use super::{build_record, eval_reason, scalar_text, soql_literal};
use crate::recipe::ir::{MatchStep, Normalise, OnMany};
use crate::runtime::batch::{Ctx, Item, ItemState};
use crate::runtime::outcome::{self, Fate};

fn norm(n: Normalise, s: &str) -> String {
    match n {
        Normalise::Exact => s.to_owned(),
        Normalise::TrimCaseless => s.trim().to_lowercase(),
    }
}

/// Runs the step.
pub async fn run(ctx: &mut Ctx<'_>, step: &str, m: &MatchStep, items: &mut [Item], active: &[usize]) {
    // Each item's normalised key (one value per `by` field); an empty first value matches nothing.
    let mut keys: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for &i in active {
        let mut key = Vec::with_capacity(m.by.len());
        let mut ok = true;
        for (_, e) in &m.by {
            match e.eval(&items[i].scope) {
                Ok(v) => key.push(norm(m.normalise, &scalar_text(&v).unwrap_or_default())),
                Err(err) => {
                    items[i].fail(Fate::Dead {
                        reason: eval_reason(&err),
                    });
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            keys.insert(i, key);
        }
    }
    let mut found: BTreeMap<usize, Value> = BTreeMap::new();
    for object in &m.objects {
        let pending: Vec<usize> = keys
            .keys()
            .copied()
            .filter(|i| !found.contains_key(i) && items[*i].running())
            .collect();
        let mut values: Vec<String> = pending
            .iter()
            .filter_map(|i| keys[i].first().cloned())
            .filter(|v| !v.is_empty())
            .collect();
        values.sort();
        values.dedup();
        if values.is_empty() {
            break;
        }
        let records = match query(ctx, m, object, &values).await {
            Ok(r) => r,
            Err(fate) => {
                for &i in &pending {
                    items[i].fail(fate.clone());
                }
                return;
            }
        };
        // Candidates per normalised key, in query order (the `first` policy's ORDER BY).
        let mut by_key: BTreeMap<Vec<String>, Vec<&Map<String, Value>>> = BTreeMap::new();
        for r in &records {
            let k: Vec<String> =
                m.by.iter()
                    .map(|(f, _)| norm(m.normalise, &r.get(f).and_then(scalar_text).unwrap_or_default()))
                    .collect();
            by_key.entry(k).or_default().push(r);
        }
        for &i in &pending {
            let Some(cands) = by_key.get(&keys[&i]) else {
                continue;
            };
            let chosen = match (&m.on_many, cands.len()) {
                (_, 1) | (OnMany::First { .. }, _) => cands[0],
                (OnMany::Skip, n) => {
                    items[i].state = ItemState::Skipped(json!({
                        "reason": format!("{n} {object} records match; the recipe's policy is to skip"),
                        "ids": cands.iter().filter_map(|c| c.get("Id")).collect::<Vec<_>>(),
                    }));
                    continue;
                }
                (OnMany::Fail, n) => {
                    items[i].fail(Fate::Dead {
                        reason: json!({
                            "error": format!("{n} {object} records match this event"),
                            "code": "AMBIGUOUS_MATCH",
                            "ids": cands.iter().filter_map(|c| c.get("Id")).collect::<Vec<_>>(),
                            "remedy": "merge the duplicates in Salesforce, then replay",
                        }),
                    });
                    continue;
                }
            };
            let fields: Map<String, Value> = m
                .read
                .iter()
                .map(|f| (f.clone(), chosen.get(f).cloned().unwrap_or(Value::Null)))
                .collect();
            found.insert(
                i,
                json!({ "id": chosen.get("Id"), "object": object, "found": true, "created": false, "fields": fields }),
            );
        }
    }
    for (&i, out) in &found {
        if items[i].running() {
            items[i].scope.set_step(step, out.clone());
        }
    }
    let missing: Vec<usize> = keys
        .keys()
        .copied()
        .filter(|i| !found.contains_key(i) && items[*i].running())
        .collect();
    let Some(create) = &m.or_create else {
        for i in missing {
            items[i].scope.set_step(
                step,
                json!({ "id": null, "object": null, "found": false, "created": false, "fields": {} }),
            );
        }
        return;
    };
    // One record per distinct person: the first event that names them supplies the values.
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for i in missing {
        groups.entry(keys[&i].clone()).or_default().push(i);
    }
    let mut records = Vec::new();
    let mut leaders = Vec::new();
    let mut members_of = Vec::new();
    for members in groups.into_values() {
        match build_record(create, &items[members[0]].scope) {
            Ok(r) => {
                records.push(r);
                leaders.push(members[0]);
                members_of.push(members);
            }
            Err(e) => {
                for i in members {
                    items[i].fail(Fate::Dead {
                        reason: eval_reason(&e),
                    });
                }
            }
        }
    }
    let ids = super::write::create_records(ctx, step, &create.object, records, &leaders, items).await;
    for (k, members) in members_of.iter().enumerate() {
        let leader_state = items[members[0]].state.clone();
        for &i in members {
            match ids.get(k).cloned().flatten() {
                Some(id) => items[i].scope.set_step(
                    step,
                    json!({ "id": id, "object": create.object, "found": false, "created": i == members[0], "fields": {} }),
                ),
                None => {
                    if let ItemState::Failed(f) = &leader_state {
                        items[i].fail(f.clone());
                    }
                }
            }
        }
    }
}

async fn query(
    ctx: &mut Ctx<'_>,
    m: &MatchStep,
    object: &str,
    values: &[String],
) -> Result<Vec<Map<String, Value>>, Fate> {
    let mut cols: Vec<&str> = vec!["Id"];
    for (f, _) in &m.by {
        if !cols.contains(&f.as_str()) {
            cols.push(f);
        }
    }
    for f in &m.read {
        if !cols.contains(&f.as_str()) {
            cols.push(f);
        }
    }
    let first = &m.by[0].0;
    let order = match &m.on_many {
        OnMany::First { order_by } => format!(" ORDER BY {order_by}"),
        _ => String::new(),
    };
    let extra = m
        .filter
        .get(object)
        .map(|f| format!(" AND ({f})"))
        .unwrap_or_default();
    let mut out = Vec::new();
    for chunk in values.chunks(200) {
        let list: Vec<String> = chunk.iter().map(|v| soql_literal(v)).collect();
        let soql = format!(
            "SELECT {} FROM {object} WHERE {first} IN ({}){extra}{order}",
            cols.join(", "),
            list.join(", ")
        );
        ctx.count("query", 1);
        let rows: Vec<Map<String, Value>> = ctx
            .client
            .query::<Map<String, Value>>(&soql)
            .try_collect()
            .await
            .map_err(|e| outcome::for_call_error(&e, "query"))?;
        out.extend(rows);
    }
    Ok(out)
}
