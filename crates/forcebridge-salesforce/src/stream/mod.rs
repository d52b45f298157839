//! Real-time subscriptions: PushTopics and change events over the Streaming API (CometD,
//! [`cometd`]) and Change Data Capture over the Pub/Sub API (gRPC, [`pubsub`]), both as async
//! streams of [`StreamItem`]s.
//!
//! Invariant: a subscriber saves an event's replay id to the caller's [`ReplayStore`] only when
//! the caller asks for the next item, i.e. after it has finished with that event; it resumes from
//! the stored id. So after a crash no event between the stored id and now is skipped, and an
//! event the caller had finished with is not delivered again.

pub mod cometd;
pub mod pubsub;

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::BoxFuture;

/// A position in an event stream: the Streaming API's are numbers, the Pub/Sub API's opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplayId {
    /// A Streaming API (CometD) replay id.
    Cometd(i64),
    /// A Pub/Sub API replay id.
    PubSub(Vec<u8>),
}

/// Where replay ids go, per channel (as tokens go to a [`crate::TokenStore`]): the engine
/// implements it to keep them in its store.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// The replay id stored for `channel`, if any.
    fn load<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, std::result::Result<Option<ReplayId>, String>>;
    /// Stores `replay_id` as the last event of `channel` the caller finished with.
    fn save<'a>(
        &'a self,
        channel: &'a str,
        replay_id: &'a ReplayId,
    ) -> BoxFuture<'a, std::result::Result<(), String>>;
}

/// A [`ReplayStore`] in memory (tests, short-lived tools).
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    ids: Mutex<std::collections::HashMap<String, ReplayId>>,
}

impl MemoryReplayStore {
    /// The id stored for `channel`.
    pub fn get(&self, channel: &str) -> Option<ReplayId> {
        self.ids.lock().ok().and_then(|m| m.get(channel).cloned())
    }
}

impl ReplayStore for MemoryReplayStore {
    fn load<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, std::result::Result<Option<ReplayId>, String>> {
        Box::pin(async move { Ok(self.get(channel)) })
    }
    fn save<'a>(
        &'a self,
        channel: &'a str,
        replay_id: &'a ReplayId,
    ) -> BoxFuture<'a, std::result::Result<(), String>> {
        Box::pin(async move {
            let mut m = self
                .ids
                .lock()
                .map_err(|_| "replay store lock poisoned".to_string())?;
            m.insert(channel.to_string(), replay_id.clone());
            Ok(())
        })
    }
}

/// Where a new subscription without a stored replay id starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartAt {
    /// Only events published after subscribing (`-1`, `LATEST`).
    #[default]
    Latest,
    /// Every retained event (`-2`, `EARLIEST`).
    Earliest,
}

/// `ChangeEventHeader.changeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeType {
    Create,
    Update,
    Delete,
    Undelete,
    GapCreate,
    GapUpdate,
    GapDelete,
    GapUndelete,
    GapOverflow,
    Snapshot,
}

impl ChangeType {
    /// Parses Salesforce's name (`CREATE`, `GAP_OVERFLOW`, …).
    pub fn parse(s: &str) -> Option<ChangeType> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

/// The header of a change event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEventHeader {
    pub entity_name: String,
    pub record_ids: Vec<String>,
    pub change_type: ChangeType,
    #[serde(default)]
    pub change_origin: String,
    #[serde(default)]
    pub transaction_key: String,
    #[serde(default)]
    pub sequence_number: i64,
    #[serde(default)]
    pub commit_timestamp: i64,
    #[serde(default)]
    pub commit_number: i64,
    #[serde(default)]
    pub commit_user: String,
    /// Field names (the Pub/Sub API's bitmaps are decoded into names).
    #[serde(default)]
    pub changed_fields: Vec<String>,
    #[serde(default)]
    pub nulled_fields: Vec<String>,
    #[serde(default)]
    pub diff_fields: Vec<String>,
}

/// A change event: its header and the record's fields it carries (changed fields for an update).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub header: ChangeEventHeader,
    pub fields: Map<String, Value>,
}

/// What one event says.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// A PushTopic notification: `created`, `updated`, `deleted` or `undeleted`, and the fields
    /// the topic's query selects.
    PushTopic {
        event_type: String,
        created_date: String,
        sobject: Map<String, Value>,
    },
    /// A change event.
    Change(ChangeEvent),
}

/// One event of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub channel: String,
    pub replay_id: ReplayId,
    pub body: EventBody,
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A record change (or PushTopic notification).
    Event(StreamEvent),
    /// A `GAP_*` change event: records changed but their changes cannot be told; read them back.
    Gap(StreamEvent),
    /// A `GAP_OVERFLOW` change event: too many changes in one transaction; resynchronise the object.
    Overflow(StreamEvent),
    /// The stored replay id was outside retention: events may have been missed, and the
    /// subscription restarted from the earliest retained event.
    ReplayLost { channel: String, replay_id: ReplayId },
}

impl StreamItem {
    /// Classifies an event by its change type.
    pub(crate) fn of(event: StreamEvent) -> StreamItem {
        match &event.body {
            EventBody::Change(c) => match c.header.change_type {
                ChangeType::GapOverflow => StreamItem::Overflow(event),
                ChangeType::GapCreate
                | ChangeType::GapUpdate
                | ChangeType::GapDelete
                | ChangeType::GapUndelete => StreamItem::Gap(event),
                _ => StreamItem::Event(event),
            },
            EventBody::PushTopic { .. } => StreamItem::Event(event),
        }
    }

    /// The event, for items that carry one.
    pub fn event(&self) -> Option<&StreamEvent> {
        match self {
            StreamItem::Event(e) | StreamItem::Gap(e) | StreamItem::Overflow(e) => Some(e),
            StreamItem::ReplayLost { .. } => None,
        }
    }
}
