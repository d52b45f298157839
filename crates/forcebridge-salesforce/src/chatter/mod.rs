//! Chatter: posting a feed item on a record (`POST /chatter/feed-elements`), or many in few
//! calls ([`batch`], `POST /chatter/feed-elements/batch`).
//!
//! Invariant: the text is sent as one `Text` message segment, so no markup is interpreted.

pub mod batch;

pub use batch::{FeedPost, FeedPostOutcome, MAX_FEED_ITEMS_PER_CALL};

use reqwest::Method;
use serde::Deserialize;

use crate::client::{Client, Req};
use crate::error::{Error, Result};
use crate::types::RecordId;

/// A posted feed element.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeedElement {
    /// Its id (`0D5...`).
    pub id: String,
}

impl Client {
    /// Posts `text` to the feed of `subject` (a record, user or group).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty text or text over 10,000 characters; Salesforce refusals
    /// (feed tracking off for the object: kind invalid input or not found).
    pub async fn post_feed_item(&self, subject: &RecordId, text: &str) -> Result<FeedElement> {
        let body = feed_item_input(subject, text)?;
        let resp = self
            .send(Req::new(Method::POST, "chatter/feed-elements").json(&body)?)
            .await?;
        resp.json("feed element")
    }
}

/// The Feed Item Input posting `text` as one `Text` segment on `subject`'s feed.
///
/// # Errors
/// [`Error::InvalidInput`] for empty text or text over 10,000 characters.
pub(crate) fn feed_item_input(subject: &RecordId, text: &str) -> Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Err(Error::InvalidInput("a chatter post needs text".into()));
    }
    if text.chars().count() > 10_000 {
        return Err(Error::InvalidInput(
            "a chatter post has at most 10,000 characters".into(),
        ));
    }
    Ok(serde_json::json!({
        "body": { "messageSegments": [ { "type": "Text", "text": text } ] },
        "feedElementType": "FeedItem",
        "subjectId": subject.as_str(),
    }))
}
