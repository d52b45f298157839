//! The Streaming API subscriber: Bayeux long polling at `/cometd/<version>` with the replay
//! extension, for PushTopic channels (`/topic/<Name>`) and change event channels
//! (`/data/ChangeEvents`, `/data/<Object>ChangeEvent`).
//!
//! Invariants: the subscriber connects only when it has handed out every buffered event, so a
//! re-handshake (after `403::Unknown client`, a dropped connection, or a renewed session after
//! `401::Authentication invalid`) resubscribes each channel from the replay id last saved to the
//! store, which is the last event the caller finished with; the connect loop waits the
//! `interval` the server advises between polls; the session is renewed at most once per refusal.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::{
    ChangeEvent, ChangeEventHeader, EventBody, ReplayId, ReplayStore, StartAt, StreamEvent, StreamItem,
};
use crate::Client;
use crate::error::{ApiErrorDetail, Error, Result};

/// How long a connect may take beyond the server's advised long-poll timeout (110 s).
const POLL_TIMEOUT: Duration = Duration::from_secs(130);

/// A subscription to Streaming API channels. Drive it with [`CometdSubscriber::next`] or turn it
/// into a [`Stream`] with [`CometdSubscriber::into_stream`].
#[derive(Debug)]
pub struct CometdSubscriber {
    client: Client,
    channels: Vec<String>,
    store: Arc<dyn ReplayStore>,
    start: StartAt,
    client_id: Option<String>,
    buffer: VecDeque<StreamItem>,
    /// The event handed out last, saved to the store when the next one is asked for.
    ack: Option<(String, ReplayId)>,
    interval: Duration,
    next_id: u64,
    handshakes: u64,
}

impl Client {
    /// A Streaming API subscription to `channels` whose replay ids go to `store`.
    pub fn cometd_subscriber(&self, channels: &[&str], store: Arc<dyn ReplayStore>) -> CometdSubscriber {
        CometdSubscriber {
            client: self.clone(),
            channels: channels.iter().map(|c| (*c).to_string()).collect(),
            store,
            start: StartAt::Latest,
            client_id: None,
            buffer: VecDeque::new(),
            ack: None,
            interval: Duration::ZERO,
            next_id: 0,
            handshakes: 0,
        }
    }
}

fn auth_refused(message: &str) -> Error {
    Error::Api {
        status: 401,
        errors: vec![ApiErrorDetail {
            error_code: "INVALID_SESSION_ID".into(),
            message: message.to_string(),
            fields: Vec::new(),
        }],
        retry_after: None,
    }
}

fn decode(context: &str, reason: impl Into<String>) -> Error {
    Error::Decode {
        context: context.to_string(),
        reason: reason.into(),
    }
}

/// The event of one Bayeux data message, if it is one.
pub(crate) fn parse_event(m: &Value) -> Option<StreamEvent> {
    let channel = m.get("channel")?.as_str()?.to_string();
    let data = m.get("data")?;
    let event = data.get("event")?;
    let replay = event.get("replayId")?.as_i64()?;
    let body = if let Some(payload) = data.get("payload").and_then(Value::as_object) {
        let header: ChangeEventHeader =
            serde_json::from_value(payload.get("ChangeEventHeader")?.clone()).ok()?;
        let mut fields: Map<String, Value> = payload.clone();
        fields.remove("ChangeEventHeader");
        EventBody::Change(ChangeEvent { header, fields })
    } else {
        EventBody::PushTopic {
            event_type: event.get("type")?.as_str()?.to_string(),
            created_date: event
                .get("createdDate")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            sobject: data.get("sobject")?.as_object()?.clone(),
        }
    };
    Some(StreamEvent {
        channel,
        replay_id: ReplayId::Cometd(replay),
        body,
    })
}

impl CometdSubscriber {
    /// Where channels without a stored replay id start (default: new events only).
    #[must_use]
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// How many handshakes this subscriber made (1 plus its recoveries).
    pub fn handshakes(&self) -> u64 {
        self.handshakes
    }

    /// The next item, waiting as long as it takes. Saves the previous item's replay id first.
    ///
    /// # Errors
    /// [`Error::ReplayStore`] when the store fails; sign-in errors when the session cannot be
    /// renewed; [`Error::InvalidInput`] when a channel does not exist; transport errors (calling
    /// `next` again resumes: the subscription state is kept).
    pub async fn next(&mut self) -> Result<StreamItem> {
        if let Some((channel, id)) = self.ack.take() {
            self.store.save(&channel, &id).await.map_err(Error::ReplayStore)?;
        }
        loop {
            if let Some(item) = self.buffer.pop_front() {
                if let Some(e) = item.event() {
                    self.ack = Some((e.channel.clone(), e.replay_id.clone()));
                }
                return Ok(item);
            }
            if self.client_id.is_none() {
                self.handshake().await?;
                continue;
            }
            if !self.interval.is_zero() {
                tokio::time::sleep(self.interval).await;
            }
            self.connect().await?;
        }
    }

    /// This subscription as a stream (it never ends; errors are items, and polling again after
    /// one resumes).
    pub fn into_stream(self) -> impl Stream<Item = Result<StreamItem>> + Send {
        futures::stream::unfold(self, |mut s| async move {
            let item = s.next().await;
            Some((item, s))
        })
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }

    /// Posts Bayeux messages; renews the session once on an HTTP 401.
    async fn post(&self, messages: Value, timeout: Duration) -> Result<Vec<Value>> {
        let session = self.client.session().await?;
        let url = session
            .instance_url
            .join(&format!("/cometd/{}", self.client.api_version()));
        let resp = self
            .client
            .inner
            .http
            .post(&url)
            .bearer_auth(session.access_token.expose_secret())
            .json(&messages)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| Error::Transport {
                not_sent: e.is_connect(),
                source: e,
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| Error::Transport {
            not_sent: false,
            source: e,
        })?;
        if status == 401 || status == 403 {
            self.client.inner.auth.renew(session.generation).await?;
            return Err(auth_refused("the streaming api refused the session"));
        }
        if !(200..300).contains(&status) {
            return Err(decode("cometd", format!("status {status}")));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(items)) => Ok(items),
            _ => Err(decode("cometd", "the answer is not a Bayeux message array")),
        }
    }

    async fn renew(&self) -> Result<()> {
        let session = self.client.session().await?;
        self.client.inner.auth.renew(session.generation).await?;
        Ok(())
    }

    async fn handshake(&mut self) -> Result<()> {
        let mut renewed = false;
        let reply = loop {
            let id = self.id();
            let msg = json!([{
                "channel": "/meta/handshake",
                "version": "1.0",
                "minimumVersion": "1.0",
                "supportedConnectionTypes": ["long-polling"],
                "ext": {"replay": true},
                "id": id,
            }]);
            let replies = self.post(msg, Duration::from_secs(60)).await?;
            let reply = replies
                .into_iter()
                .find(|r| r.get("channel").and_then(Value::as_str) == Some("/meta/handshake"))
                .ok_or_else(|| decode("cometd handshake", "no /meta/handshake reply"))?;
            if reply.get("successful").and_then(Value::as_bool) == Some(true) {
                break reply;
            }
            let reason = reply
                .pointer("/ext/sfdc/failureReason")
                .and_then(Value::as_str)
                .or_else(|| reply.get("error").and_then(Value::as_str))
                .unwrap_or("handshake denied")
                .to_string();
            if reason.starts_with("401") && !renewed {
                renewed = true;
                self.renew().await?;
                continue;
            }
            return Err(auth_refused(&format!("cometd handshake refused: {reason}")));
        };
        let client_id = reply
            .get("clientId")
            .and_then(Value::as_str)
            .ok_or_else(|| decode("cometd handshake", "no clientId"))?
            .to_string();
        self.client_id = Some(client_id);
        self.handshakes += 1;
        self.read_advice(&reply);
        for channel in self.channels.clone() {
            self.subscribe(&channel).await?;
        }
        Ok(())
    }

    async fn subscribe(&mut self, channel: &str) -> Result<()> {
        let stored = self.store.load(channel).await.map_err(Error::ReplayStore)?;
        let mut replay = match stored {
            Some(ReplayId::Cometd(n)) => n,
            _ => match self.start {
                StartAt::Latest => -1,
                StartAt::Earliest => -2,
            },
        };
        loop {
            let id = self.id();
            let msg = json!([{
                "channel": "/meta/subscribe",
                "clientId": self.client_id,
                "subscription": channel,
                "ext": {"replay": {channel: replay}},
                "id": id,
            }]);
            let replies = self.post(msg, Duration::from_secs(60)).await?;
            let reply = replies
                .into_iter()
                .find(|r| r.get("channel").and_then(Value::as_str) == Some("/meta/subscribe"))
                .ok_or_else(|| decode("cometd subscribe", "no /meta/subscribe reply"))?;
            if reply.get("successful").and_then(Value::as_bool) == Some(true) {
                return Ok(());
            }
            let error = reply
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("subscription refused")
                .to_string();
            if error.contains("replayId") && replay >= 0 {
                // Outside retention: say so, then take every event still retained.
                self.buffer.push_back(StreamItem::ReplayLost {
                    channel: channel.to_string(),
                    replay_id: ReplayId::Cometd(replay),
                });
                replay = -2;
                continue;
            }
            if error.starts_with("401") || error.starts_with("403") {
                self.client_id = None;
                if error.starts_with("401") {
                    self.renew().await?;
                }
                return Ok(());
            }
            return Err(Error::InvalidInput(format!(
                "cannot subscribe to {channel}: {error}"
            )));
        }
    }

    fn read_advice(&mut self, reply: &Value) {
        if let Some(ms) = reply.pointer("/advice/interval").and_then(Value::as_u64) {
            self.interval = Duration::from_millis(ms.min(60_000));
        }
    }

    async fn connect(&mut self) -> Result<()> {
        let id = self.id();
        let msg = json!([{
            "channel": "/meta/connect",
            "clientId": self.client_id,
            "connectionType": "long-polling",
            "id": id,
        }]);
        let replies = match self.post(msg, POLL_TIMEOUT).await {
            Ok(r) => r,
            Err(e) if e.is_session_expired() => {
                self.client_id = None;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for r in replies {
            let channel = r.get("channel").and_then(Value::as_str).unwrap_or("");
            if channel == "/meta/connect" {
                self.read_advice(&r);
                if r.get("successful").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let error = r.get("error").and_then(Value::as_str).unwrap_or("");
                let rehandshake = r.pointer("/advice/reconnect").and_then(Value::as_str) == Some("handshake");
                if error.starts_with("401") {
                    self.renew().await?;
                    self.client_id = None;
                } else if error.starts_with("403") || rehandshake {
                    self.client_id = None;
                } else {
                    return Err(decode("cometd connect", error.to_string()));
                }
            } else if !channel.starts_with("/meta/")
                && let Some(event) = parse_event(&r)
            {
                self.buffer.push_back(StreamItem::of(event));
            }
        }
        Ok(())
    }
}
