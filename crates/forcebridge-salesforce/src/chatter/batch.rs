//! Many feed items in few calls: `POST /chatter/feed-elements/batch` takes up to 500 Feed Item
//! Inputs and answers each on its own (Batch Results: one `{"result", "statusCode"}` per input,
//! in input order; a failed input's `result` is its error list), so one bad post does not stop
//! the others.
//!
//! Invariant: `results.len() == posts.len()` and `results[i]` is about `posts[i]`. A post the
//! client refuses before sending (empty text) and every post of a call that failed as a whole
//! (and of the calls after it) is [`FeedPostOutcome::NotSent`], so a caller always knows which
//! posts exist.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::FeedElement;
use crate::client::{Client, Req};
use crate::error::{ApiErrorDetail, Error, ErrorKind};
use crate::types::RecordId;

/// Salesforce's maximum inputs per batch call.
pub const MAX_FEED_ITEMS_PER_CALL: usize = 500;

/// One feed item to post: `text` as plain text on `subject`'s feed (a record, user or group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPost {
    /// Whose feed.
    pub subject: RecordId,
    /// The post's text (no markup is interpreted).
    pub text: String,
}

/// The result for one post.
#[derive(Debug, Clone)]
pub enum FeedPostOutcome {
    /// Posted.
    Posted(FeedElement),
    /// Salesforce refused this post (`status` is its per-item HTTP status).
    Failed {
        /// The per-item status (404 for a subject that does not exist, 400 for bad input).
        status: u16,
        /// Its errors.
        errors: Vec<ApiErrorDetail>,
    },
    /// Not posted: refused before sending, or its call (or an earlier one) failed as a whole.
    NotSent(Arc<Error>),
}

impl FeedPostOutcome {
    /// The posted feed element, when posted.
    pub fn posted(&self) -> Option<&FeedElement> {
        match self {
            FeedPostOutcome::Posted(e) => Some(e),
            _ => None,
        }
    }

    /// The classification of the failure, when it failed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            FeedPostOutcome::Posted(_) => None,
            FeedPostOutcome::Failed { errors, .. } => {
                Some(errors.first().map_or(ErrorKind::Other, ApiErrorDetail::kind))
            }
            FeedPostOutcome::NotSent(e) => Some(e.kind()),
        }
    }
}

/// Batch Results as Salesforce sends them.
#[derive(Debug, Deserialize)]
struct BatchResults {
    results: Vec<BatchResultItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchResultItem {
    result: Value,
    status_code: u16,
}

impl Client {
    /// Posts every post in `posts`, up to [`MAX_FEED_ITEMS_PER_CALL`] a call, and returns one
    /// outcome per post in the same order (see the module's invariant).
    pub async fn post_feed_items(&self, posts: &[FeedPost]) -> Vec<FeedPostOutcome> {
        let mut results: Vec<Option<FeedPostOutcome>> = vec![None; posts.len()];
        // Inputs the client can send, with their positions.
        let mut ready: Vec<(usize, Value)> = Vec::with_capacity(posts.len());
        for (i, post) in posts.iter().enumerate() {
            match super::feed_item_input(&post.subject, &post.text) {
                Ok(input) => ready.push((i, serde_json::json!({ "richInput": input }))),
                Err(e) => results[i] = Some(FeedPostOutcome::NotSent(Arc::new(e))),
            }
        }
        let mut failed: Option<Arc<Error>> = None;
        for chunk in ready.chunks(MAX_FEED_ITEMS_PER_CALL) {
            if let Some(e) = &failed {
                for (i, _) in chunk {
                    results[*i] = Some(FeedPostOutcome::NotSent(e.clone()));
                }
                continue;
            }
            match self.post_batch(chunk).await {
                Ok(items) => {
                    for ((i, _), item) in chunk.iter().zip(items) {
                        results[*i] = Some(item);
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for (i, _) in chunk {
                        results[*i] = Some(FeedPostOutcome::NotSent(e.clone()));
                    }
                    failed = Some(e);
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    FeedPostOutcome::NotSent(Arc::new(Error::InvalidInput("this post was not sent".into())))
                })
            })
            .collect()
    }

    /// One batch call; exactly one outcome per input, or an error for the whole call.
    async fn post_batch(&self, chunk: &[(usize, Value)]) -> crate::error::Result<Vec<FeedPostOutcome>> {
        let body = serde_json::json!({
            "inputs": chunk.iter().map(|(_, input)| input).collect::<Vec<_>>(),
        });
        let resp = self
            .send(Req::new(Method::POST, "chatter/feed-elements/batch").json(&body)?)
            .await?;
        let answer: BatchResults = resp.json("chatter batch results")?;
        if answer.results.len() != chunk.len() {
            return Err(Error::Decode {
                context: "chatter batch results".into(),
                reason: format!(
                    "{} results for {} posts; the posts may or may not exist, check the feeds before posting again",
                    answer.results.len(),
                    chunk.len()
                ),
            });
        }
        Ok(answer.results.into_iter().map(outcome).collect())
    }
}

/// One Batch Results item as an outcome.
fn outcome(item: BatchResultItem) -> FeedPostOutcome {
    if (200..300).contains(&item.status_code)
        && let Ok(element) = serde_json::from_value::<FeedElement>(item.result.clone())
    {
        return FeedPostOutcome::Posted(element);
    }
    let errors = serde_json::from_value::<Vec<ApiErrorDetail>>(item.result.clone())
        .or_else(|_| serde_json::from_value::<ApiErrorDetail>(item.result).map(|e| vec![e]))
        .unwrap_or_default();
    FeedPostOutcome::Failed {
        status: item.status_code,
        errors,
    }
}
