//! `undo`: revert, newest first, what earlier events with the same correlation key wrote on this
//! connection — delete what they created, restore what they changed (from the journal's
//! `previous` values). Deletes for the whole batch go in one Collections call per 200 records.
//!
//! Invariant: undo is idempotent — a journal row it reverted is marked `undone` and never
//! reverted again, and a record that is already gone counts as deleted.

use forcebridge_salesforce::RecordId;
use forcebridge_salesforce::collections::{CollectionOptions, RecordOutcome};
use forcebridge_store::JournalRow;
use serde_json::{Value, json};

use super::{journal_row, scalar_text};
use crate::recipe::ir::UndoStep;
use crate::runtime::batch::{Ctx, Item};
use crate::runtime::outcome::{self, Fate};

/// Runs the step.
pub async fn run(ctx: &mut Ctx<'_>, step: &str, u: &UndoStep, items: &mut [Item], active: &[usize]) {
    for &i in active {
        let key = match u.correlation.eval(&items[i].scope) {
            Ok(v) => scalar_text(&v),
            Err(e) => {
                items[i].fail(Fate::Dead {
                    reason: super::eval_reason(&e),
                });
                continue;
            }
        };
        let Some(key) = key else {
            items[i].scope.set_step(step, json!({ "reverted": 0 }));
            continue;
        };
        let rows = match ctx
            .engine
            .store()
            .journal_by_correlation(&ctx.connection.id, &key)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                items[i].fail(Fate::Retry {
                    reason: json!({ "error": e.to_string() }),
                });
                continue;
            }
        };
        let own_event = items[i].due.event.id.clone();
        let targets: Vec<&JournalRow> = rows
            .iter()
            .rev()
            .filter(|r| r.state == "done" && r.event_id.as_ref() != Some(&own_event))
            .filter(|r| u.objects.is_empty() || u.objects.contains(&r.sobject))
            .collect();
        match revert(ctx, step, &items[i], &targets).await {
            Ok(n) => items[i].scope.set_step(step, json!({ "reverted": n })),
            Err(fate) => items[i].fail(fate),
        }
    }
}

/// Reverts `targets` (newest first) for `item`; returns how many writes were reverted.
async fn revert(ctx: &mut Ctx<'_>, step: &str, item: &Item, targets: &[&JournalRow]) -> Result<usize, Fate> {
    let mut deletes: Vec<(i64, RecordId, String)> = Vec::new();
    let mut restores: Vec<(i64, String, String, Value)> = Vec::new();
    for r in targets {
        let Some(rid) = r.record_id.as_deref() else {
            continue;
        };
        let created = match r.operation.as_str() {
            "create" | "chatter" => true,
            "upsert" => r.detail.get("created").and_then(Value::as_bool).unwrap_or(false),
            _ => false,
        };
        if created {
            if let Ok(id) = RecordId::parse(rid) {
                deletes.push((r.id, id, r.sobject.clone()));
            }
        } else if let Some(prev) = r
            .detail
            .get("previous")
            .filter(|p| p.as_object().is_some_and(|m| !m.is_empty()))
        {
            restores.push((r.id, rid.to_owned(), r.sobject.clone(), prev.clone()));
        }
    }
    let mut undone: Vec<(i64, JournalRow)> = Vec::new();
    for (jid, rid, object, prev) in &restores {
        let mut body = prev.clone();
        if let Some(m) = body.as_object_mut() {
            m.insert("Id".into(), Value::String(rid.clone()));
        }
        ctx.count("collections", 1);
        let out = ctx
            .client
            .update_many(object, &[body], CollectionOptions::default())
            .await
            .map_err(|e| outcome::for_call_error(&e, "collections"))?;
        match out.first() {
            Some(RecordOutcome::Failed { errors }) => {
                return Err(outcome::for_record_errors(errors, "collections"));
            }
            Some(RecordOutcome::NotSent(e)) => return Err(outcome::for_call_error(e, "collections")),
            _ => undone.push((
                *jid,
                journal_row(
                    ctx,
                    item,
                    step,
                    "undo_update",
                    object,
                    Some(rid.clone()),
                    "collections",
                    "done",
                    json!({ "restored": prev, "reverts": jid }),
                ),
            )),
        }
    }
    if !deletes.is_empty() {
        let ids: Vec<RecordId> = deletes.iter().map(|(_, id, _)| id.clone()).collect();
        ctx.count(
            "collections",
            u64::try_from(ids.len().div_ceil(200)).unwrap_or(u64::MAX),
        );
        let outs = ctx
            .client
            .delete_many(&ids, CollectionOptions::default())
            .await
            .map_err(|e| outcome::for_call_error(&e, "collections"))?;
        for ((jid, id, object), out) in deletes.iter().zip(outs.iter()) {
            let gone = match out {
                RecordOutcome::Saved { .. } => true,
                RecordOutcome::Failed { errors } => errors.iter().any(|e| {
                    matches!(
                        e.error_code.as_str(),
                        "ENTITY_IS_DELETED" | "NOT_FOUND" | "INVALID_CROSS_REFERENCE_KEY"
                    )
                }),
                RecordOutcome::NotSent(e) => return Err(outcome::for_call_error(e, "collections")),
            };
            if !gone && let RecordOutcome::Failed { errors } = out {
                return Err(outcome::for_record_errors(errors, "collections"));
            }
            undone.push((
                *jid,
                journal_row(
                    ctx,
                    item,
                    step,
                    "undo_delete",
                    object,
                    Some(id.as_str().to_owned()),
                    "collections",
                    "done",
                    json!({ "reverts": jid }),
                ),
            ));
        }
    }
    let n = undone.len();
    let store = ctx.engine.store();
    let result: crate::Result<()> = async {
        let mut tx = store.begin().await?;
        for (jid, row) in &undone {
            tx.journal_settle(*jid, None, "undone", None).await?;
            let mut row = row.clone();
            row.correlation_key = None;
            tx.journal_write(&row).await?;
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    result.map_err(|e| Fate::Retry {
        reason: json!({ "error": e.to_string() }),
    })?;
    Ok(n)
}
