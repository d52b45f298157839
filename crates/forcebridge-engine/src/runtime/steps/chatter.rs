//! `chatter`: post a feed item on a record for each active event, all of a batch in one
//! feed-elements batch call (up to 500 posts a call). Posts are journaled as intents
//! before they are sent; a retried delivery with an unsettled intent first looks at the record's
//! feed for a post with the same text and adopts it, so a crash never posts twice.
//!
//! Invariant: the text is rendered once per event and the same text is what is posted, journaled
//! and compared on recovery.

use forcebridge_salesforce::RecordId;
use forcebridge_salesforce::chatter::batch::{FeedPost, FeedPostOutcome, MAX_FEED_ITEMS_PER_CALL};
use serde_json::{Value, json};

use super::{journal_row, scalar_text, soql_literal};
use crate::recipe::ir::ChatterStep;
use crate::runtime::batch::{Ctx, Item};
use crate::runtime::outcome::{self, Fate};

const API: &str = "chatter_batch";

/// Runs the step.
pub async fn run(ctx: &mut Ctx<'_>, step: &str, c: &ChatterStep, items: &mut [Item], active: &[usize]) {
    let mut posts: Vec<(usize, RecordId, String)> = Vec::new();
    for &i in active {
        let on = match c.on.eval(&items[i].scope) {
            Ok(v) => scalar_text(&v).and_then(|s| RecordId::parse(&s).ok()),
            Err(e) => {
                items[i].fail(Fate::Dead {
                    reason: super::eval_reason(&e),
                });
                continue;
            }
        };
        let Some(on) = on else {
            items[i]
                .scope
                .set_step(step, json!({ "id": null, "posted": false }));
            continue;
        };
        match c.body.render(&items[i].scope) {
            Ok(text) => posts.push((i, on, text)),
            Err(e) => items[i].fail(Fate::Dead {
                reason: super::eval_reason(&e),
            }),
        }
    }
    if posts.is_empty() {
        return;
    }
    let delivery_ids: Vec<i64> = posts.iter().map(|(i, _, _)| items[*i].due.delivery.id).collect();
    let earlier = ctx
        .engine
        .store()
        .journal_for_deliveries(&delivery_ids)
        .await
        .unwrap_or_default();
    let mut to_post = Vec::new();
    let mut claimed = std::collections::HashSet::new();
    let mut adopted: Vec<(i64, String)> = Vec::new();
    for (i, on, text) in posts {
        let did = items[i].due.delivery.id;
        let mine = earlier
            .iter()
            .filter(|r| r.delivery_id == Some(did) && r.step.as_deref() == Some(step));
        // An earlier attempt of this delivery posted and recorded it: the post stands.
        if let Some(done) = mine.clone().find(|r| r.state == "done" && r.record_id.is_some()) {
            items[i]
                .scope
                .set_step(step, json!({ "id": done.record_id, "posted": true }));
            continue;
        }
        let unsettled = mine.clone().find(|r| r.state == "intent").map(|r| r.id);
        if let Some(intent) = unsettled {
            match find_post(ctx, &on, &text, &mut claimed).await {
                Ok(Some(id)) => {
                    items[i].scope.set_step(step, json!({ "id": id, "posted": true }));
                    adopted.push((intent, id));
                    continue;
                }
                Ok(None) => {}
                Err(fate) => {
                    items[i].fail(fate);
                    continue;
                }
            }
        }
        to_post.push((i, on, text));
    }
    let intents: Vec<_> = to_post
        .iter()
        .map(|(i, on, text)| {
            journal_row(
                ctx,
                &items[*i],
                step,
                "chatter",
                "FeedItem",
                None,
                API,
                "intent",
                json!({ "parent": on.as_str(), "text": text }),
            )
        })
        .collect();
    let intent_ids = match ctx.engine.store().journal_write_many(&intents).await {
        Ok(ids) => ids,
        Err(e) => {
            for (i, _, _) in &to_post {
                items[*i].fail(Fate::Retry {
                    reason: json!({ "error": e.to_string() }),
                });
            }
            return;
        }
    };
    let mut settles: Vec<(i64, Option<String>, &str)> = adopted
        .into_iter()
        .map(|(jid, id)| (jid, Some(id), "done"))
        .collect();
    // One feed-elements batch call carries up to 500 posts.
    let posts: Vec<FeedPost> = to_post
        .iter()
        .map(|(_, on, text)| FeedPost {
            subject: on.clone(),
            text: text.clone(),
        })
        .collect();
    if !posts.is_empty() {
        ctx.count(
            API,
            u64::try_from(posts.len().div_ceil(MAX_FEED_ITEMS_PER_CALL)).unwrap_or(u64::MAX),
        );
    }
    let outcomes = ctx.client.post_feed_items(&posts).await;
    for (((i, _, _), jid), out) in to_post.into_iter().zip(intent_ids).zip(outcomes) {
        match out {
            FeedPostOutcome::Posted(fe) => {
                items[i]
                    .scope
                    .set_step(step, json!({ "id": fe.id, "posted": true }));
                settles.push((jid, Some(fe.id), "done"));
            }
            FeedPostOutcome::Failed { errors, .. } => {
                items[i].fail(outcome::for_record_errors(&errors, API));
                settles.push((jid, None, "failed"));
            }
            FeedPostOutcome::NotSent(e) => {
                // Nothing is known about a post whose call failed as a whole: the intent stays
                // and the retry looks for the post before sending it again.
                items[i].fail(outcome::for_call_error(&e, API));
            }
        }
    }
    if let Ok(mut tx) = ctx.engine.store().begin().await {
        let mut ok = true;
        for (id, rid, state) in &settles {
            ok &= tx.journal_settle(*id, rid.as_deref(), state, None).await.is_ok();
        }
        if ok {
            let _ = tx.commit().await;
        }
    }
}

async fn find_post(
    ctx: &mut Ctx<'_>,
    on: &RecordId,
    text: &str,
    claimed: &mut std::collections::HashSet<String>,
) -> Result<Option<String>, Fate> {
    let soql = format!(
        "SELECT Id, Body FROM FeedItem WHERE ParentId = {} ORDER BY CreatedDate",
        soql_literal(on.as_str())
    );
    let rows = super::recovery_query(ctx, &soql).await?;
    // Same text on the same record may be another event's post: only a post no journal row and
    // no other recovery in this batch claims can be the one this delivery made before it died.
    let same_text: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let id = r.get("Id").and_then(Value::as_str)?;
            let body = r.get("Body").and_then(Value::as_str)?;
            (body.trim() == text.trim()).then(|| id.to_owned())
        })
        .collect();
    super::claim_unowned(ctx, same_text, claimed).await
}
