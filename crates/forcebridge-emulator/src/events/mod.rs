//! The event bus: the org's log of committed record changes, in commit order, with replay ids.
//!
//! Every transaction of [`crate::rest::dml::Tx`] (REST, Collections, Composite, Bulk API 2.0,
//! Chatter, undelete) hands its net changes to [`EventBus::publish`] when it ends; the Streaming
//! API (`crate::streaming`) and the Pub/Sub API (`crate::pubsub`) read the same log.
//!
//! Invariants: replay ids are strictly increasing in log order and never reused (also across a
//! restart with `--state`, where the log is kept); the changes of one transaction are contiguous
//! and share one transaction key and commit number, numbered by `sequenceNumber` from 1; an event
//! older than its channel's retention (24 hours for PushTopic events, 72 hours for change
//! events), or pushed out by [`MAX_RETAINED`], is gone, and a replay id at or after
//! [`EventBus::floor`] is the only kind a subscriber may resume from.

pub mod capture;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::org::Record;

/// How long PushTopic (Streaming API) events are kept, in hours.
pub const PUSH_TOPIC_RETENTION_HOURS: i64 = 24;
/// How long change events are kept, in hours.
pub const CHANGE_EVENT_RETENTION_HOURS: i64 = 72;
/// The most events the emulator keeps, whatever their age: past it the oldest age out early, as
/// if their retention had passed (a memory bound Salesforce does not have).
pub const MAX_RETAINED: usize = 100_000;

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
}

impl ChangeType {
    /// The name on the wire (`CREATE`, `GAP_OVERFLOW`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Create => "CREATE",
            ChangeType::Update => "UPDATE",
            ChangeType::Delete => "DELETE",
            ChangeType::Undelete => "UNDELETE",
            ChangeType::GapCreate => "GAP_CREATE",
            ChangeType::GapUpdate => "GAP_UPDATE",
            ChangeType::GapDelete => "GAP_DELETE",
            ChangeType::GapUndelete => "GAP_UNDELETE",
            ChangeType::GapOverflow => "GAP_OVERFLOW",
        }
    }

    /// The word a PushTopic event's `event.type` uses, or `None` for gap events (PushTopics
    /// never carry them).
    pub fn push_topic_type(self) -> Option<&'static str> {
        match self {
            ChangeType::Create => Some("created"),
            ChangeType::Update => Some("updated"),
            ChangeType::Delete => Some("deleted"),
            ChangeType::Undelete => Some("undeleted"),
            _ => None,
        }
    }

    /// Whether this is a gap or overflow notice rather than a record change.
    pub fn is_gap(self) -> bool {
        self.push_topic_type().is_none()
    }

    /// The gap type standing for a change of this type.
    pub fn gap(self) -> ChangeType {
        match self {
            ChangeType::Create => ChangeType::GapCreate,
            ChangeType::Update => ChangeType::GapUpdate,
            ChangeType::Delete => ChangeType::GapDelete,
            ChangeType::Undelete => ChangeType::GapUndelete,
            other => other,
        }
    }
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub replay_id: u64,
    /// The object whose record changed (canonical name).
    pub entity: String,
    pub change_type: ChangeType,
    pub record_ids: Vec<String>,
    /// `changeOrigin`: `com/salesforce/api/rest/66.0` and the like.
    pub change_origin: String,
    pub transaction_key: String,
    /// Position of this change within its transaction, from 1.
    pub sequence_number: u32,
    /// Commit time, milliseconds since the epoch.
    pub commit_timestamp: i64,
    pub commit_number: u64,
    pub commit_user: String,
    /// Fields whose value changed (creates: every field set; updates: the fields written with a
    /// new value, `LastModifiedDate` included). Canonical names.
    pub changed_fields: Vec<String>,
    /// Fields set to null by this change.
    pub nulled_fields: Vec<String>,
    /// The record after the change (for a hard delete, before it): PushTopic queries are matched
    /// against it and change event payloads read it.
    pub record: Record,
}

/// A change waiting to be given a replay id.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub entity: String,
    pub change_type: ChangeType,
    pub record_id: String,
    pub changed_fields: Vec<String>,
    pub nulled_fields: Vec<String>,
    pub record: Record,
}

/// Wakes subscribers when events are added. Runtime only: a clone shares the channel.
#[derive(Debug, Clone)]
pub struct Signal(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for Signal {
    fn default() -> Self {
        Signal(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl PartialEq for Signal {
    // A runtime channel is not part of the org's value.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The per-org event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBus {
    next_replay_id: u64,
    next_commit_number: u64,
    /// The highest replay id no longer retained (0 while nothing has aged out).
    floor: u64,
    events: VecDeque<Arc<BusEvent>>,
    /// Objects selected for Change Data Capture (canonical names), as Setup or a
    /// `PlatformEventChannelMember` of the `ChangeEvents` channel selects them.
    pub cdc_entities: BTreeSet<String>,
    /// `PlatformEventChannelMember` records made through the Tooling API: id → object.
    #[serde(default)]
    pub cdc_members: std::collections::BTreeMap<String, String>,
    #[serde(skip)]
    signal: Signal,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            next_replay_id: 1,
            next_commit_number: 1,
            floor: 0,
            events: VecDeque::new(),
            cdc_entities: BTreeSet::new(),
            cdc_members: Default::default(),
            signal: Signal::default(),
        }
    }
}

/// Milliseconds since the epoch of a wire datetime (`2026-11-21T15:30:00.000+0000`), or now.
pub fn epoch_millis(wire: &str) -> i64 {
    chrono::DateTime::parse_from_str(wire, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|_| chrono::Utc::now().timestamp_millis())
}

impl EventBus {
    /// Adds the changes of one committed transaction, in order, and wakes subscribers.
    pub fn publish(&mut self, changes: Vec<Pending>, user: &str, origin: &str, now_millis: i64) {
        if changes.is_empty() {
            return;
        }
        let transaction_key = uuid::Uuid::new_v4().to_string();
        let commit_number = self.next_commit_number;
        self.next_commit_number += 1;
        for (i, change) in changes.into_iter().enumerate() {
            let replay_id = self.next_replay_id;
            self.next_replay_id += 1;
            self.events.push_back(Arc::new(BusEvent {
                replay_id,
                entity: change.entity,
                change_type: change.change_type,
                record_ids: vec![change.record_id],
                change_origin: origin.to_string(),
                transaction_key: transaction_key.clone(),
                sequence_number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                commit_timestamp: now_millis,
                commit_number,
                commit_user: user.to_string(),
                changed_fields: change.changed_fields,
                nulled_fields: change.nulled_fields,
                record: change.record,
            }));
        }
        self.prune(now_millis);
        self.signal.0.send_replace(self.latest_replay_id());
    }

    /// Adds a gap (or overflow) notice for `entity`: the records named changed but their changes
    /// cannot be told (`GAP_OVERFLOW`: too many changes in one transaction).
    pub fn publish_gap(
        &mut self,
        entity: &str,
        change_type: ChangeType,
        record_ids: Vec<String>,
        user: &str,
    ) {
        let now = chrono::Utc::now().timestamp_millis();
        let pending = Pending {
            entity: entity.to_string(),
            change_type,
            record_id: String::new(),
            changed_fields: Vec::new(),
            nulled_fields: Vec::new(),
            record: Record::new(),
        };
        self.publish(vec![pending], user, "com/salesforce/api/emulator", now);
        if let Some(last) = self.events.back_mut() {
            Arc::make_mut(last).record_ids = record_ids;
        }
    }

    /// Drops events past the longest retention or beyond [`MAX_RETAINED`].
    pub fn prune(&mut self, now_millis: i64) {
        let horizon = now_millis - CHANGE_EVENT_RETENTION_HOURS * 3_600_000;
        while let Some(first) = self.events.front() {
            if first.commit_timestamp >= horizon && self.events.len() <= MAX_RETAINED {
                break;
            }
            self.floor = first.replay_id;
            self.events.pop_front();
        }
    }

    /// Ages every retained event out, as if its retention had passed (a control-API fault).
    /// Returns how many went.
    pub fn age_out_all(&mut self) -> usize {
        let n = self.events.len();
        if let Some(last) = self.events.back() {
            self.floor = last.replay_id;
        }
        self.events.clear();
        n
    }

    /// The replay id of the newest event ever published (0 before the first).
    pub fn latest_replay_id(&self) -> u64 {
        self.next_replay_id - 1
    }

    /// The highest replay id no longer retained for a channel of `retention_hours`: resuming
    /// after an id below it would miss events, so such an id is refused.
    pub fn floor(&self, retention_hours: i64, now_millis: i64) -> u64 {
        let horizon = now_millis - retention_hours * 3_600_000;
        let expired = self.events.partition_point(|e| e.commit_timestamp < horizon);
        match expired {
            0 => self.floor,
            n => self.events.get(n - 1).map_or(self.floor, |e| e.replay_id),
        }
    }

    /// Retained events after `replay_id`, oldest first, within `retention_hours`.
    pub fn after(
        &self,
        replay_id: u64,
        retention_hours: i64,
        now_millis: i64,
    ) -> impl Iterator<Item = &Arc<BusEvent>> {
        let floor = self.floor(retention_hours, now_millis);
        let from = replay_id.max(floor);
        let start = self.events.partition_point(|e| e.replay_id <= from);
        self.events.range(start..)
    }

    /// Whether a subscriber may resume after `replay_id` on a channel of `retention_hours`.
    pub fn resumable(&self, replay_id: u64, retention_hours: i64, now_millis: i64) -> bool {
        replay_id >= self.floor(retention_hours, now_millis) && replay_id <= self.latest_replay_id()
    }

    /// A receiver that changes whenever events are added.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.0.subscribe()
    }

    /// Wakes subscribers without adding an event (after a fault changed what they may see).
    pub fn wake(&self) {
        self.signal.0.send_replace(self.latest_replay_id());
    }

    /// Number of retained events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is retained.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str) -> Pending {
        Pending {
            entity: "Account".into(),
            change_type: ChangeType::Create,
            record_id: id.into(),
            changed_fields: vec!["Name".into()],
            nulled_fields: Vec::new(),
            record: Record::new(),
        }
    }

    #[test]
    fn one_transaction_shares_a_key_and_numbers_its_changes() {
        let mut bus = EventBus::default();
        let now = chrono::Utc::now().timestamp_millis();
        bus.publish(vec![change("a"), change("b")], "005", "o", now);
        bus.publish(vec![change("c")], "005", "o", now);
        let all: Vec<_> = bus.after(0, 72, now).collect();
        assert_eq!(all.iter().map(|e| e.replay_id).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[0].transaction_key, all[1].transaction_key);
        assert_ne!(all[0].transaction_key, all[2].transaction_key);
        assert_eq!((all[0].sequence_number, all[1].sequence_number), (1, 2));
        assert_eq!(all[2].commit_number, all[0].commit_number + 1);
        assert_eq!(bus.after(2, 72, now).count(), 1);
    }

    #[test]
    fn retention_is_per_channel_and_aged_ids_are_refused() {
        let mut bus = EventBus::default();
        let now = chrono::Utc::now().timestamp_millis();
        let two_days_ago = now - 48 * 3_600_000;
        bus.publish(vec![change("a")], "005", "o", two_days_ago);
        bus.publish(vec![change("b")], "005", "o", now);
        // A PushTopic channel (24 h) no longer has the first; a change event channel (72 h) does.
        assert_eq!(bus.after(0, 24, now).count(), 1);
        assert_eq!(bus.after(0, 72, now).count(), 2);
        assert!(!bus.resumable(0, 24, now));
        assert!(bus.resumable(1, 24, now));
        assert!(bus.resumable(0, 72, now));
        bus.age_out_all();
        assert!(!bus.resumable(1, 72, now));
        assert!(bus.resumable(2, 72, now));
        assert!(!bus.resumable(3, 72, now));
    }
}
