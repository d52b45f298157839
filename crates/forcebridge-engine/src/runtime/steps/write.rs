//! `create`, `upsert`, `update` and `delete`: one sObject Collections call per 200 records of a
//! batch.
//!
//! - create: journaled as an intent before the call; a retried delivery whose intent was never
//!   settled (the process died mid-call) first looks for the record it may have created, by the
//!   values it wrote (many records per query), and adopts it instead of creating a second one;
//!   the intent is then closed (`done` with the record, or `failed` when nothing was made).
//! - upsert: by external id; several events of the batch with the same key become one record
//!   (later values win) and share its id.
//! - update: several updates to one record coalesce into one write that sends only the fields
//!   whose value differs from the record's current value, which is read first and kept in the
//!   journal (`previous`) so that undo can restore it.
//! - delete: a record that is already gone counts as deleted.
//!
//! Invariant: each item gets exactly one output or one failure from the step.

use std::collections::BTreeMap;

use forcebridge_salesforce::RecordId;
use forcebridge_salesforce::collections::{CollectionOptions, RecordOutcome};
use futures::TryStreamExt as _;
use serde_json::{Map, Value, json};

use super::{build_record, eval_reason, journal_row, scalar_text, soql_literal};
use crate::recipe::ir::{DeleteStep, UpdateStep, UpsertStep, WriteStep};
use crate::runtime::batch::{Ctx, Item};
use crate::runtime::outcome::{self, Fate};

const API: &str = "collections";
const BULK: &str = "bulk";

fn calls(n: usize) -> u64 {
    u64::try_from(n.div_ceil(200)).unwrap_or(u64::MAX)
}

/// Applies a record outcome to an item: output on success, fate on failure.
fn settle(item: &mut Item, step: &str, out: &RecordOutcome, object: &str) -> Option<(String, Option<bool>)> {
    match out {
        RecordOutcome::Saved { id, created } => {
            item.scope.set_step(
                step,
                json!({ "id": id.as_str(), "object": object, "created": created.unwrap_or(true) }),
            );
            Some((id.as_str().to_owned(), *created))
        }
        RecordOutcome::Failed { errors } => {
            item.fail(outcome::for_record_errors(errors, API));
            None
        }
        RecordOutcome::NotSent(e) => {
            item.fail(outcome::for_call_error(e, API));
            None
        }
    }
}

/// `create` for the active items.
pub async fn create(ctx: &mut Ctx<'_>, step: &str, w: &WriteStep, items: &mut [Item], active: &[usize]) {
    let mut records = Vec::new();
    let mut who = Vec::new();
    for &i in active {
        match build_record(w, &items[i].scope) {
            Ok(r) => {
                records.push(r);
                who.push(i);
            }
            Err(e) => items[i].fail(Fate::Dead {
                reason: eval_reason(&e),
            }),
        }
    }
    let ids = create_records(ctx, step, &w.object, records, &who, items).await;
    for (k, &i) in who.iter().enumerate() {
        if let Some(Some(id)) = ids.get(k) {
            items[i]
                .scope
                .set_step(step, json!({ "id": id, "object": w.object, "created": true }));
        }
    }
}

/// Creates `records` (one per `who[k]` item, several items may share one record in `owners`) with
/// intents journaled first and crash recovery by re-matching. Returns the id per record.
pub async fn create_records(
    ctx: &mut Ctx<'_>,
    step: &str,
    object: &str,
    records: Vec<Map<String, Value>>,
    who: &[usize],
    items: &mut [Item],
) -> Vec<Option<String>> {
    let mut ids: Vec<Option<String>> = vec![None; records.len()];
    if records.is_empty() {
        return ids;
    }
    // A retried delivery may have created its record before the process died.
    let delivery_ids: Vec<i64> = who.iter().map(|&i| items[i].due.delivery.id).collect();
    let earlier = match ctx.engine.store().journal_for_deliveries(&delivery_ids).await {
        Ok(rows) => rows,
        Err(e) => {
            fail_all(
                items,
                who,
                Fate::Retry {
                    reason: json!({ "error": e.to_string() }),
                },
            );
            return ids;
        }
    };
    let mut unsettled: Vec<(usize, i64)> = Vec::new();
    for (k, &i) in who.iter().enumerate() {
        let did = items[i].due.delivery.id;
        let mine = earlier
            .iter()
            .filter(|r| r.delivery_id == Some(did) && r.step.as_deref() == Some(step));
        // An earlier attempt of this delivery created and recorded it: adopt it.
        if let Some(done) = mine.clone().find(|r| r.state == "done" && r.record_id.is_some()) {
            ids[k] = done.record_id.clone();
            continue;
        }
        if let Some(intent) = mine.clone().find(|r| r.state == "intent") {
            unsettled.push((k, intent.id));
        }
    }
    // Interrupted attempts: the records they made are adopted and their intents settled now (an
    // intent left open would let a later recovery adopt the same record a second time); an
    // intent whose record is not there is closed as `failed`.
    let mut settles: Vec<(i64, Option<String>, &str)> = Vec::new();
    if !unsettled.is_empty() {
        let ks: Vec<usize> = unsettled.iter().map(|&(k, _)| k).collect();
        match rematch_many(ctx, object, &records, &ks).await {
            Ok(found) => {
                for &(k, intent) in &unsettled {
                    if let Some(id) = found.get(&k) {
                        settles.push((intent, Some(id.clone()), "done"));
                        ids[k] = Some(id.clone());
                    } else {
                        // The attempt made nothing: it is closed, and this one writes its own.
                        settles.push((intent, None, "failed"));
                    }
                }
            }
            Err(fate) => {
                for &(k, _) in &unsettled {
                    items[who[k]].fail(fate.clone());
                }
            }
        }
    }
    let to_send: Vec<usize> = (0..records.len())
        .filter(|&k| ids[k].is_none() && items[who[k]].running())
        .collect();
    if to_send.is_empty() {
        if let Err(e) = settle_journal(ctx, &settles).await {
            tracing::warn!(error = %e, "settling adopted intents failed; a retry will re-match");
        }
        return ids;
    }
    let intents: Vec<_> = to_send
        .iter()
        .map(|&k| {
            journal_row(
                ctx,
                &items[who[k]],
                step,
                "create",
                object,
                None,
                API,
                "intent",
                json!({ "fields": records[k] }),
            )
        })
        .collect();
    let intent_ids = match ctx.engine.store().journal_write_many(&intents).await {
        Ok(ids) => ids,
        Err(e) => {
            fail_all(
                items,
                who,
                Fate::Retry {
                    reason: json!({ "error": e.to_string() }),
                },
            );
            return ids;
        }
    };
    let body: Vec<Value> = to_send
        .iter()
        .map(|&k| Value::Object(records[k].clone()))
        .collect();
    let client = ctx.client.clone();
    let result = save_shrinking(ctx, &body, |b, o| {
        let client = client.clone();
        async move { client.create_many(object, &b, o).await }
    })
    .await;
    match result {
        Ok(outs) => {
            for ((&k, out), jid) in to_send.iter().zip(outs.iter()).zip(&intent_ids) {
                let i = who[k];
                match out {
                    RecordOutcome::Saved { id, .. } => {
                        ids[k] = Some(id.as_str().to_owned());
                        settles.push((*jid, Some(id.as_str().to_owned()), "done"));
                    }
                    other => {
                        settle(&mut items[i], step, other, object);
                        settles.push((*jid, None, "failed"));
                    }
                }
            }
        }
        Err(e) => {
            // Nothing is known about the records: the intents stay, and the retry re-matches.
            let fate = outcome::for_call_error(&e, API);
            for &k in &to_send {
                items[who[k]].fail(fate.clone());
            }
        }
    }
    if let Err(e) = settle_journal(ctx, &settles).await {
        tracing::warn!(error = %e, "settling journal intents failed; a retry will re-match");
    }
    ids
}

async fn settle_journal(ctx: &Ctx<'_>, settles: &[(i64, Option<String>, &str)]) -> crate::Result<()> {
    if settles.is_empty() {
        return Ok(());
    }
    let mut tx = ctx.engine.store().begin().await?;
    for (id, rid, state) in settles {
        tx.journal_settle(*id, rid.as_deref(), state, None).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Most records one recovery query looks for, and the longest condition it sends (a query
/// travels in the URL, which Salesforce caps at about 16,000 characters).
const REMATCH_RECORDS: usize = 200;
const REMATCH_WHERE_CHARS: usize = 4_000;

/// The fields and SOQL conditions that find a record by the scalar values a create wrote.
fn match_conditions(record: &Map<String, Value>) -> Vec<(&str, String)> {
    record
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) if s.len() <= 255 => Some((k.as_str(), format!("{k} = {}", soql_literal(s)))),
            Value::Number(n) => Some((k.as_str(), format!("{k} = {n}"))),
            Value::Bool(b) => Some((k.as_str(), format!("{k} = {b}"))),
            _ => None,
        })
        .collect()
}

/// Whether a queried row carries `record`'s matched values as SOQL compares them (text without
/// regard to case). A value Salesforce returns in another form (a date-time, say) compares
/// unequal here; the caller then asks Salesforce about that record alone.
fn same_values(record: &Map<String, Value>, row: &Value) -> bool {
    record.iter().all(|(field, want)| {
        let got = row.get(field).unwrap_or(&Value::Null);
        match want {
            Value::String(a) if a.len() <= 255 => matches!(got, Value::String(b)
                if a.eq_ignore_ascii_case(b) || (!a.is_ascii() && a.to_lowercase() == b.to_lowercase())),
            Value::Number(a) => matches!(got, Value::Number(b) if a.as_f64() == b.as_f64()),
            Value::Bool(a) => got == &Value::Bool(*a),
            // Not among the conditions (`match_conditions` leaves it out).
            _ => true,
        }
    })
}

/// For the records `ks` of interrupted creates, the record each made, if any: one that carries
/// exactly its scalar values and that no journal row and no other record of this recovery
/// claims (oldest first). Many records are looked for per query, their conditions OR-ed, and the
/// rows assigned back by their values; a record the values cannot place is looked up alone.
async fn rematch_many(
    ctx: &mut Ctx<'_>,
    object: &str,
    records: &[Map<String, Value>],
    ks: &[usize],
) -> Result<BTreeMap<usize, String>, Fate> {
    let mut found = BTreeMap::new();
    let mut claimed = std::collections::HashSet::new();
    let searchable: Vec<(usize, String)> = ks
        .iter()
        .filter_map(|&k| {
            let conds: Vec<String> = match_conditions(&records[k])
                .into_iter()
                .map(|(_, c)| c)
                .collect();
            (!conds.is_empty()).then(|| (k, format!("({})", conds.join(" AND "))))
        })
        .collect();
    let mut start = 0;
    while start < searchable.len() {
        let (mut end, mut chars) = (start, 0);
        while end < searchable.len()
            && end - start < REMATCH_RECORDS
            && (end == start || chars + searchable[end].1.len() + 4 <= REMATCH_WHERE_CHARS)
        {
            chars += searchable[end].1.len() + 4;
            end += 1;
        }
        rematch_chunk(
            ctx,
            object,
            records,
            &searchable[start..end],
            &mut claimed,
            &mut found,
        )
        .await?;
        start = end;
    }
    Ok(found)
}

/// One query of [`rematch_many`].
async fn rematch_chunk(
    ctx: &mut Ctx<'_>,
    object: &str,
    records: &[Map<String, Value>],
    chunk: &[(usize, String)],
    claimed: &mut std::collections::HashSet<String>,
    found: &mut BTreeMap<usize, String>,
) -> Result<(), Fate> {
    let mut fields: Vec<&str> = chunk
        .iter()
        .flat_map(|(k, _)| match_conditions(&records[*k]).into_iter().map(|(f, _)| f))
        .filter(|f| *f != "Id")
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let soql = format!(
        "SELECT Id, {} FROM {object} WHERE {} ORDER BY CreatedDate",
        fields.join(", "),
        chunk
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let rows = super::recovery_query(ctx, &soql).await?;
    // Which of the rows a finished write already owns: one store query for the chunk.
    let row_ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let owned = ctx
        .engine
        .store()
        .journal_done_records(&ctx.connection.tenant_id, &row_ids)
        .await
        .map_err(|e| Fate::Retry {
            reason: json!({ "error": e.to_string() }),
        })?;
    let mut placed = vec![false; rows.len()];
    let mut alone = Vec::new();
    for &(k, _) in chunk {
        let mut any = false;
        let mut pick = None;
        for (n, row) in rows.iter().enumerate() {
            if !same_values(&records[k], row) {
                continue;
            }
            placed[n] = true;
            any = true;
            let Some(id) = row.get("Id").and_then(Value::as_str) else {
                continue;
            };
            // The oldest record of these values that no write owns and no other record took.
            if pick.is_none() && !owned.contains(id) && !claimed.contains(id) {
                pick = Some(id.to_owned());
            }
        }
        if !any {
            alone.push(k);
        } else if let Some(id) = pick {
            claimed.insert(id.clone());
            found.insert(k, id);
        }
    }
    // Every row matched some record's conditions in Salesforce; one that no record's values
    // placed means a value came back in another form: ask about the unplaced records one by one.
    if placed.iter().any(|p| !p) {
        for k in alone {
            if let Some(id) = rematch(ctx, object, &records[k], claimed).await? {
                found.insert(k, id);
            }
        }
    }
    Ok(())
}

/// Looks for a record with exactly the scalar values a create wrote that no journal row and no
/// other recovery of this batch claims: the one an interrupted attempt created.
async fn rematch(
    ctx: &mut Ctx<'_>,
    object: &str,
    record: &Map<String, Value>,
    claimed: &mut std::collections::HashSet<String>,
) -> Result<Option<String>, Fate> {
    let conds: Vec<String> = match_conditions(record).into_iter().map(|(_, c)| c).collect();
    if conds.is_empty() {
        return Ok(None);
    }
    let soql = format!(
        "SELECT Id FROM {object} WHERE {} ORDER BY CreatedDate",
        conds.join(" AND ")
    );
    let rows = super::recovery_query(ctx, &soql).await?;
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    super::claim_unowned(ctx, ids, claimed).await
}

fn fail_all(items: &mut [Item], who: &[usize], fate: Fate) {
    for &i in who {
        items[i].fail(fate.clone());
    }
}

/// `upsert` for the active items.
pub async fn upsert(ctx: &mut Ctx<'_>, step: &str, u: &UpsertStep, items: &mut [Item], active: &[usize]) {
    // key → (merged record, items sharing it)
    let mut groups: BTreeMap<String, (Map<String, Value>, Vec<usize>)> = BTreeMap::new();
    for &i in active {
        let key = match u.key.eval(&items[i].scope) {
            Ok(v) => scalar_text(&v),
            Err(e) => {
                items[i].fail(Fate::Dead {
                    reason: eval_reason(&e),
                });
                continue;
            }
        };
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            items[i].fail(Fate::Dead {
                reason: json!({
                    "error": format!("the upsert key `{}` is empty for this event", u.key.source()),
                    "code": "EMPTY_EXTERNAL_ID",
                    "remedy": "send the field the recipe uses as external id, then replay",
                }),
            });
            continue;
        };
        match build_record(&u.record, &items[i].scope) {
            Ok(mut r) => {
                r.insert(u.external_id.clone(), Value::String(key.clone()));
                let entry = groups.entry(key).or_insert_with(|| (Map::new(), Vec::new()));
                for (k, v) in r {
                    entry.0.insert(k, v);
                }
                entry.1.push(i);
            }
            Err(e) => items[i].fail(Fate::Dead {
                reason: eval_reason(&e),
            }),
        }
    }
    if groups.is_empty() {
        return;
    }
    let object = &u.record.object;
    let previous = if u.keep_previous {
        read_by(
            ctx,
            object,
            &u.external_id,
            groups.keys().cloned().collect(),
            &fields_of(groups.values().map(|g| &g.0)),
        )
        .await
        .unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    // Past the threshold, one Bulk API 2.0 job costs a handful of calls instead of one per 200.
    let use_bulk = groups.len() >= ctx.engine.config().bulk_threshold;
    let api = if use_bulk { BULK } else { API };
    let result = if use_bulk {
        bulk_upsert(ctx, object, &u.external_id, groups.values().map(|(r, _)| r)).await
    } else {
        let body: Vec<Value> = groups.values().map(|(r, _)| Value::Object(r.clone())).collect();
        let client = ctx.client.clone();
        let external_id = u.external_id.clone();
        save_shrinking(ctx, &body, |b, o| {
            let client = client.clone();
            let external_id = external_id.clone();
            async move { client.upsert_many(object, &external_id, &b, o).await }
        })
        .await
    };
    let mut rows = Vec::new();
    match result {
        Ok(outs) => {
            for ((key, (record, members)), out) in groups.iter().zip(outs.iter()) {
                for &i in members {
                    if let Some((id, created)) = settle(&mut items[i], step, out, object) {
                        // Every event of the group gets its row (the journal is read per event);
                        // only the first one created the record.
                        let created = created.map(|c| c && i == members[0]);
                        let mut detail = json!({ "fields": record, "external_id": { "field": u.external_id, "value": key }, "created": created });
                        if let Some(prev) = previous.get(key) {
                            detail["previous"] = prev.clone();
                        }
                        rows.push(journal_row(
                            ctx,
                            &items[i],
                            step,
                            "upsert",
                            object,
                            Some(id),
                            api,
                            "done",
                            detail,
                        ));
                    }
                }
            }
        }
        Err(e) => {
            let fate = outcome::for_call_error(&e, API);
            for (_, members) in groups.values() {
                fail_all(items, members, fate.clone());
            }
        }
    }
    write_rows(ctx, &rows).await;
}

fn fields_of<'a>(records: impl Iterator<Item = &'a Map<String, Value>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        for (k, v) in r {
            if !v.is_object() && !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

/// Reads `fields` of the records whose `by` field is in `keys` (one query per 200 keys).
async fn read_by(
    ctx: &mut Ctx<'_>,
    object: &str,
    by: &str,
    keys: Vec<String>,
    fields: &[String],
) -> Result<BTreeMap<String, Value>, Fate> {
    let mut out = BTreeMap::new();
    let mut cols: Vec<String> = vec!["Id".into()];
    if by != "Id" {
        cols.push(by.to_owned());
    }
    for f in fields {
        if !cols.contains(f) {
            cols.push(f.clone());
        }
    }
    for chunk in keys.chunks(200) {
        let list: Vec<String> = chunk.iter().map(|k| soql_literal(k)).collect();
        let soql = format!(
            "SELECT {} FROM {object} WHERE {by} IN ({})",
            cols.join(", "),
            list.join(", ")
        );
        ctx.count("query", 1);
        let rows: Vec<Value> = ctx
            .client
            .query::<Value>(&soql)
            .try_collect()
            .await
            .map_err(|e| outcome::for_call_error(&e, "query"))?;
        for mut r in rows {
            let key = r.get(by).and_then(scalar_text);
            if let (Some(k), Some(obj)) = (key, r.as_object_mut()) {
                obj.remove("attributes");
                out.insert(k, r);
            }
        }
    }
    Ok(out)
}

/// `update` for the active items.
pub async fn update(ctx: &mut Ctx<'_>, step: &str, u: &UpdateStep, items: &mut [Item], active: &[usize]) {
    let mut groups: BTreeMap<String, (Map<String, Value>, Vec<usize>)> = BTreeMap::new();
    for &i in active {
        let id = match u.id.eval(&items[i].scope) {
            Ok(v) => scalar_text(&v).and_then(|s| RecordId::parse(&s).ok()),
            Err(e) => {
                items[i].fail(Fate::Dead {
                    reason: eval_reason(&e),
                });
                continue;
            }
        };
        let Some(id) = id else {
            items[i].fail(Fate::Dead {
                reason: json!({ "error": format!("`{}` is not a record id for this event", u.id.source()), "code": "INVALID_ID", "remedy": "fix the event's data or the recipe, then replay" }),
            });
            continue;
        };
        match build_record(&u.record, &items[i].scope) {
            Ok(r) => {
                let entry = groups
                    .entry(id.as_str().to_owned())
                    .or_insert_with(|| (Map::new(), Vec::new()));
                entry.0.extend(r);
                entry.1.push(i);
            }
            Err(e) => items[i].fail(Fate::Dead {
                reason: eval_reason(&e),
            }),
        }
    }
    if groups.is_empty() {
        return;
    }
    let object = &u.record.object;
    let fields = fields_of(groups.values().map(|g| &g.0));
    let current = match read_by(ctx, object, "Id", groups.keys().cloned().collect(), &fields).await {
        Ok(c) => c,
        Err(fate) => {
            for (_, members) in groups.values() {
                fail_all(items, members, fate.clone());
            }
            return;
        }
    };
    // Only what changes is sent; a record with no change is not sent at all.
    let mut send: Vec<Change> = Vec::new();
    for (id, (record, members)) in &groups {
        let now = current.get(id).cloned().unwrap_or(Value::Null);
        let mut diff = Map::new();
        let mut prev = Map::new();
        for (k, v) in record {
            let old = now.get(k).cloned().unwrap_or(Value::Null);
            if !same(&old, v) {
                diff.insert(k.clone(), v.clone());
                prev.insert(k.clone(), old);
            }
        }
        for &i in members {
            items[i].scope.set_step(
                step,
                json!({ "id": id, "object": object, "changed": diff.keys().collect::<Vec<_>>() }),
            );
        }
        if !diff.is_empty() {
            diff.insert("Id".into(), Value::String(id.clone()));
            send.push((id.clone(), diff, prev));
        }
    }
    if send.is_empty() {
        return;
    }
    let body: Vec<Value> = send.iter().map(|(_, d, _)| Value::Object(d.clone())).collect();
    let client = ctx.client.clone();
    let result = save_shrinking(ctx, &body, |b, o| {
        let client = client.clone();
        async move { client.update_many(object, &b, o).await }
    })
    .await;
    let mut rows = Vec::new();
    match result {
        Ok(outs) => {
            for ((id, diff, prev), out) in send.iter().zip(outs.iter()) {
                let members = &groups[id].1;
                for &i in members {
                    if settle(&mut items[i], step, out, object).is_some() {
                        rows.push(journal_row(
                            ctx,
                            &items[i],
                            step,
                            "update",
                            object,
                            Some(id.clone()),
                            API,
                            "done",
                            json!({ "fields": diff, "previous": prev }),
                        ));
                    }
                }
            }
        }
        Err(e) => {
            let fate = outcome::for_call_error(&e, API);
            for (id, _, _) in &send {
                fail_all(items, &groups[id].1, fate.clone());
            }
        }
    }
    write_rows(ctx, &rows).await;
}

/// One record's update: its id, the fields that change, and their values before.
type Change = (String, Map<String, Value>, Map<String, Value>);

/// Equal as Salesforce would store them (numbers compare by value, `1` = `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// `delete` for the active items.
pub async fn delete(ctx: &mut Ctx<'_>, step: &str, d: &DeleteStep, items: &mut [Item], active: &[usize]) {
    let mut ids: Vec<RecordId> = Vec::new();
    let mut who: Vec<usize> = Vec::new();
    for &i in active {
        match d
            .id
            .eval(&items[i].scope)
            .map(|v| scalar_text(&v).and_then(|s| RecordId::parse(&s).ok()))
        {
            Ok(Some(id)) => {
                ids.push(id);
                who.push(i);
            }
            Ok(None) => items[i]
                .scope
                .set_step(step, json!({ "id": null, "object": d.object, "deleted": false })),
            Err(e) => items[i].fail(Fate::Dead {
                reason: eval_reason(&e),
            }),
        }
    }
    if ids.is_empty() {
        return;
    }
    ctx.count(API, calls(ids.len()));
    let result = ctx.client.delete_many(&ids, CollectionOptions::default()).await;
    let mut rows = Vec::new();
    match result {
        Ok(outs) => {
            for ((&i, id), out) in who.iter().zip(&ids).zip(outs.iter()) {
                let gone = matches!(out, RecordOutcome::Failed { errors } if errors.iter().any(|e| matches!(e.error_code.as_str(), "ENTITY_IS_DELETED" | "NOT_FOUND" | "INVALID_CROSS_REFERENCE_KEY")));
                if out.is_saved() || gone {
                    items[i].scope.set_step(
                        step,
                        json!({ "id": id.as_str(), "object": d.object, "deleted": true }),
                    );
                    rows.push(journal_row(
                        ctx,
                        &items[i],
                        step,
                        "delete",
                        &d.object,
                        Some(id.as_str().to_owned()),
                        API,
                        "done",
                        json!({}),
                    ));
                } else {
                    settle(&mut items[i], step, out, &d.object);
                }
            }
        }
        Err(e) => fail_all(items, &who, outcome::for_call_error(&e, API)),
    }
    write_rows(ctx, &rows).await;
}

/// Writes done journal rows; a failure here is logged (the write happened; the delivery's retry
/// would find its records by key).
pub async fn write_rows(ctx: &Ctx<'_>, rows: &[forcebridge_store::JournalRow]) {
    if rows.is_empty() {
        return;
    }
    if let Err(e) = ctx.engine.store().journal_write_many(rows).await {
        tracing::warn!(error = %e, "journal write failed");
    }
}

/// Upserts `records` through Bulk API 2.0 and gives one outcome per record, in input order, as
/// Collections would. A lookup written `Parent__r.Key__c` becomes that CSV column.
async fn bulk_upsert<'a>(
    ctx: &mut Ctx<'_>,
    object: &str,
    external_id: &str,
    records: impl Iterator<Item = &'a Map<String, Value>>,
) -> forcebridge_salesforce::Result<Vec<RecordOutcome>> {
    use forcebridge_salesforce::ApiErrorDetail;
    use forcebridge_salesforce::bulk::{BulkOperation, IngestSpec, RowOutcome};

    let rows: Vec<Map<String, Value>> = records
        .map(|r| {
            let mut flat = Map::new();
            for (k, v) in r {
                match v {
                    Value::Object(inner) => {
                        for (ik, iv) in inner {
                            flat.insert(format!("{k}.{ik}"), iv.clone());
                        }
                    }
                    other => {
                        flat.insert(k.clone(), other.clone());
                    }
                }
            }
            flat
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for r in &rows {
        for k in r.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let mut spec = IngestSpec::new(object, BulkOperation::Upsert, columns);
    spec.external_id_field = Some(external_id.to_owned());
    spec.poll_interval = ctx.engine.config().bulk_poll_interval;
    let n = rows.len();
    let mut out: Vec<Option<RecordOutcome>> = vec![None; n];
    let mut on_result = |r: forcebridge_salesforce::bulk::RowResult| {
        let Ok(i) = usize::try_from(r.row) else { return };
        let Some(slot) = out.get_mut(i) else { return };
        *slot = Some(match r.outcome {
            RowOutcome::Success { id, created } => match RecordId::parse(&id) {
                Ok(id) => RecordOutcome::Saved {
                    id,
                    created: Some(created),
                },
                Err(e) => RecordOutcome::NotSent(std::sync::Arc::new(e)),
            },
            RowOutcome::Failed { error, .. } => {
                // `sf__Error` reads `CODE:message:fields`.
                let (code, message) = error.split_once(':').unwrap_or(("UNKNOWN", error.as_str()));
                RecordOutcome::Failed {
                    errors: vec![ApiErrorDetail {
                        error_code: code.to_owned(),
                        message: message.to_owned(),
                        fields: Vec::new(),
                    }],
                }
            }
            RowOutcome::Unprocessed => unprocessed("the bulk job did not process this row"),
        });
    };
    let jobs = ctx
        .client
        .bulk_ingest(&spec, futures::stream::iter(rows), &mut on_result)
        .await?;
    // Create, upload, close, at least one poll, and the three result files, per job.
    ctx.count(BULK, u64::try_from(jobs.len() * 7).unwrap_or(u64::MAX));
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or_else(|| unprocessed("the bulk job reported nothing for this row")))
        .collect())
}

/// A row Salesforce did not process: retried later, like a 503.
fn unprocessed(message: &str) -> RecordOutcome {
    RecordOutcome::NotSent(std::sync::Arc::new(forcebridge_salesforce::Error::Api {
        status: 503,
        errors: vec![forcebridge_salesforce::ApiErrorDetail {
            error_code: "UNPROCESSED".into(),
            message: message.to_owned(),
            fields: Vec::new(),
        }],
        retry_after: None,
    }))
}

/// Whether Salesforce refused this record (or its whole call) because a row was locked.
fn row_locked(out: &RecordOutcome) -> bool {
    match out {
        RecordOutcome::Failed { errors } => errors.iter().any(|e| e.error_code == "UNABLE_TO_LOCK_ROW"),
        RecordOutcome::NotSent(e) => e.kind() == forcebridge_salesforce::ErrorKind::RowLock,
        RecordOutcome::Saved { .. } => false,
    }
}

/// Sends `body` through sObject Collections (200 records a call). Records refused because a row
/// was locked are sent again at once in smaller calls — 50, then 10 records — since a smaller
/// transaction locks fewer rows and waits on fewer; what is still locked after that is retried
/// with backoff like any transient failure.
async fn save_shrinking<F, Fut>(
    ctx: &mut Ctx<'_>,
    body: &[Value],
    call: F,
) -> forcebridge_salesforce::Result<Vec<RecordOutcome>>
where
    F: Fn(Vec<Value>, CollectionOptions) -> Fut,
    Fut: std::future::Future<Output = forcebridge_salesforce::Result<Vec<RecordOutcome>>>,
{
    ctx.count(API, calls(body.len()));
    let mut out = match call(body.to_vec(), CollectionOptions::default()).await {
        Ok(o) => o,
        Err(e) if e.kind() == forcebridge_salesforce::ErrorKind::RowLock => {
            let e = std::sync::Arc::new(e);
            body.iter().map(|_| RecordOutcome::NotSent(e.clone())).collect()
        }
        Err(e) => return Err(e),
    };
    for size in [50, 10] {
        let locked: Vec<usize> = (0..out.len()).filter(|&i| row_locked(&out[i])).collect();
        if locked.is_empty() {
            break;
        }
        let sub: Vec<Value> = locked.iter().map(|&i| body[i].clone()).collect();
        ctx.count(API, u64::try_from(sub.len().div_ceil(size)).unwrap_or(u64::MAX));
        let opts = CollectionOptions {
            chunk_size: size,
            ..CollectionOptions::default()
        };
        match call(sub, opts).await {
            Ok(again) => {
                for (&i, o) in locked.iter().zip(again) {
                    out[i] = o;
                }
            }
            Err(e) if e.kind() == forcebridge_salesforce::ErrorKind::RowLock => {}
            Err(e) => {
                let e = std::sync::Arc::new(e);
                for &i in &locked {
                    out[i] = RecordOutcome::NotSent(e.clone());
                }
            }
        }
    }
    Ok(out)
}
