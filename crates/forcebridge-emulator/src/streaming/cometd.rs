//! Bayeux over HTTP long polling, as Salesforce's Streaming API speaks it: `/meta/handshake`,
//! `/meta/connect`, `/meta/subscribe`, `/meta/unsubscribe`, `/meta/disconnect`, with the
//! `replay` extension (`-1` new events only, `-2` every retained event, or a stored replay id).
//!
//! Invariant: the org lock is held only while events are gathered, never while a long poll
//! waits; a connect answers as soon as any subscribed channel has an event past its cursor, when
//! the advised timeout passes, or when a fault or shutdown kicks waiting polls.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Client;
use super::cdc;
use crate::app::{AppState, SharedState};
use crate::events::{CHANGE_EVENT_RETENTION_HOURS, PUSH_TOPIC_RETENTION_HOURS};
use crate::middleware::{bearer_token, live_session};
use crate::org::Org;

/// The long-poll timeout Salesforce advises, in milliseconds.
pub const TIMEOUT_MS: u64 = 110_000;
/// Most event messages one connect answer carries.
const MAX_BATCH: usize = 1_000;

fn advice_retry() -> Value {
    json!({"interval": 0, "timeout": TIMEOUT_MS, "reconnect": "retry"})
}

fn advice_handshake() -> Value {
    json!({"interval": 500, "reconnect": "handshake"})
}

/// `POST /cometd/{version}`.
pub async fn handle(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, &version, &headers, &body).await
}

/// `POST /cometd/{version}/{kind}`: CometD clients append the message type to the URL.
pub async fn handle_typed(
    State(state): State<SharedState>,
    Path((version, _kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    serve(&state, &version, &headers, &body).await
}

fn valid_version(v: &str) -> bool {
    v.split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor == "0")))
        .is_some_and(|(major, zero)| zero && (24..=66).contains(&major))
}

async fn serve(state: &AppState, version: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    if !valid_version(version) {
        return (StatusCode::NOT_FOUND, "unknown Streaming API version").into_response();
    }
    let messages: Vec<Map<String, Value>> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        Ok(Value::Object(m)) => vec![m],
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!([{"successful": false, "error": "400::Bad message: not a Bayeux message array"}]),
                ),
            )
                .into_response();
        }
    };
    let token = bearer_token(headers).map(str::to_string);
    let mut replies = Vec::new();
    for m in messages {
        let channel = m.get("channel").and_then(Value::as_str).unwrap_or("").to_string();
        let reply = match channel.as_str() {
            "/meta/handshake" => handshake(state, token.as_deref(), &m),
            "/meta/connect" => {
                let mut out = connect(state, token.as_deref(), &m).await;
                replies.append(&mut out);
                continue;
            }
            "/meta/subscribe" => subscribe(state, token.as_deref(), &m),
            "/meta/unsubscribe" => unsubscribe(state, token.as_deref(), &m),
            "/meta/disconnect" => disconnect(state, token.as_deref(), &m),
            _ => reply_to(&m, false).with_error("400::Publishing is not supported on this channel"),
        };
        replies.push(reply.0);
    }
    axum::Json(Value::Array(replies)).into_response()
}

/// A reply being built.
struct Reply(Value);

impl Reply {
    fn with_error(mut self, error: &str) -> Reply {
        self.0["error"] = Value::String(error.to_string());
        self
    }
    fn with(mut self, key: &str, v: Value) -> Reply {
        self.0[key] = v;
        self
    }
}

fn reply_to(m: &Map<String, Value>, ok: bool) -> Reply {
    let mut r = json!({
        "channel": m.get("channel").cloned().unwrap_or(Value::Null),
        "successful": ok,
    });
    for k in ["id", "clientId"] {
        if let Some(v) = m.get(k) {
            r[k] = v.clone();
        }
    }
    if let Some(s) = m.get("subscription") {
        r["subscription"] = s.clone();
    }
    Reply(r)
}

fn handshake(state: &AppState, token: Option<&str>, m: &Map<String, Value>) -> Reply {
    let session = {
        let org = state.org_read();
        token.and_then(|t| live_session(&org, t))
    };
    let Some(session) = session else {
        return reply_to(m, false)
            .with_error("403::Handshake denied")
            .with(
                "ext",
                json!({"sfdc": {"failureReason": "401::Authentication invalid"}, "replay": true, "payload.format": true}),
            )
            .with("advice", json!({"reconnect": "none"}));
    };
    let client_id = uuid::Uuid::new_v4().simple().to_string();
    state.streams.forget_idle();
    state.streams.clients().insert(
        client_id.clone(),
        Client {
            access_token: session.access_token,
            user: session.user_id,
            subscriptions: Default::default(),
            last_seen: std::time::Instant::now(),
        },
    );
    reply_to(m, true)
        .with("clientId", Value::String(client_id))
        .with("version", json!("1.0"))
        .with("minimumVersion", json!("1.0"))
        .with("supportedConnectionTypes", json!(["long-polling"]))
        .with("ext", json!({"replay": true, "payload.format": true}))
        .with("advice", advice_retry())
}

/// The client a message names, with the session re-checked: `Err` is the reply to send.
fn client_of(
    state: &AppState,
    token: Option<&str>,
    m: &Map<String, Value>,
) -> Result<(String, Client), Reply> {
    let id = m
        .get("clientId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let found = state.streams.clients().get_mut(&id).map(|c| {
        c.last_seen = std::time::Instant::now();
        c.clone()
    });
    let Some(mut client) = found else {
        return Err(reply_to(m, false)
            .with_error("403::Unknown client")
            .with("advice", advice_handshake()));
    };
    let live = {
        let org = state.org_read();
        token
            .and_then(|t| live_session(&org, t))
            .or_else(|| live_session(&org, &client.access_token))
    };
    match live {
        Some(s) => {
            client.access_token = s.access_token;
            Ok((id, client))
        }
        None => Err(reply_to(m, false)
            .with_error("401::Authentication invalid")
            .with("advice", json!({"reconnect": "none"}))),
    }
}

/// The retention of a channel, in hours.
fn retention(channel: &str) -> i64 {
    if channel.starts_with("/topic/") {
        PUSH_TOPIC_RETENTION_HOURS
    } else {
        CHANGE_EVENT_RETENTION_HOURS
    }
}

fn channel_exists(org: &Org, channel: &str) -> bool {
    if let Some(name) = channel.strip_prefix("/topic/") {
        return super::topic::by_name(org, name).is_some_and(|t| t.active);
    }
    match cdc::target(org, channel) {
        Some(cdc::Target::All) => true,
        Some(cdc::Target::Object(o)) => org.events.cdc_entities.contains(&o),
        None => false,
    }
}

fn subscribe(state: &AppState, token: Option<&str>, m: &Map<String, Value>) -> Reply {
    let (id, _) = match client_of(state, token, m) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(channel) = m.get("subscription").and_then(Value::as_str).map(str::to_string) else {
        return reply_to(m, false).with_error("400::Bad subscription: no subscription given");
    };
    let requested = m
        .get("ext")
        .and_then(|e| e.get("replay"))
        .and_then(|r| r.get(&channel))
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .unwrap_or(-1);
    let cursor = {
        let org = state.org_read();
        if !channel_exists(&org, &channel) {
            return reply_to(m, false).with_error(&format!(
                "400::The channel you requested to subscribe to does not exist {{{channel}}}"
            ));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let bus = &org.events;
        match requested {
            -1 => bus.latest_replay_id(),
            -2 => bus.floor(retention(&channel), now),
            n if n >= 0 && bus.resumable(n.unsigned_abs(), retention(&channel), now) => n.unsigned_abs(),
            n => {
                return reply_to(m, false).with_error(&format!(
                    "400::The replayId {{{n}}} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
                ));
            }
        }
    };
    if let Some(c) = state.streams.clients().get_mut(&id) {
        c.subscriptions.insert(channel, cursor);
    }
    reply_to(m, true)
}

fn unsubscribe(state: &AppState, token: Option<&str>, m: &Map<String, Value>) -> Reply {
    let (id, _) = match client_of(state, token, m) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let channel = m.get("subscription").and_then(Value::as_str).unwrap_or("");
    if let Some(c) = state.streams.clients().get_mut(&id) {
        c.subscriptions.shift_remove(channel);
    }
    reply_to(m, true)
}

fn disconnect(state: &AppState, token: Option<&str>, m: &Map<String, Value>) -> Reply {
    let (id, _) = match client_of(state, token, m) {
        Ok(c) => c,
        Err(r) => return r,
    };
    state.streams.clients().remove(&id);
    reply_to(m, true)
}

/// Event messages for a client's subscriptions, with the cursors they move to.
fn gather(org: &Org, client: &Client) -> (Vec<Value>, Vec<(String, u64)>) {
    let now = chrono::Utc::now().timestamp_millis();
    let topics: Vec<_> = client
        .subscriptions
        .keys()
        .filter_map(|c| c.strip_prefix("/topic/"))
        .filter_map(|n| super::topic::by_name(org, n).map(|t| (n.to_string(), t)))
        .collect();
    let mut out = Vec::new();
    let mut cursors = Vec::new();
    for (channel, cursor) in &client.subscriptions {
        let mut last = *cursor;
        let target = cdc::target(org, channel);
        let topic = channel
            .strip_prefix("/topic/")
            .and_then(|n| topics.iter().find(|(name, _)| name == n))
            .map(|(_, t)| t);
        for e in org.events.after(*cursor, retention(channel), now) {
            if out.len() >= MAX_BATCH {
                break;
            }
            last = e.replay_id;
            if let Some(t) = topic {
                let Some(type_) = e.change_type.push_topic_type() else {
                    continue;
                };
                if let Some(sobject) = super::topic::matches(org, t, e) {
                    let created = chrono::DateTime::from_timestamp_millis(e.commit_timestamp)
                        .unwrap_or_default()
                        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                        .to_string();
                    out.push(json!({
                        "channel": channel,
                        "data": {
                            "event": {"createdDate": created, "replayId": e.replay_id, "type": type_},
                            "sobject": sobject,
                        }
                    }));
                }
            } else if let Some(target) = &target
                && target.carries(org, &e.entity)
            {
                out.push(json!({
                    "channel": channel,
                    "data": {
                        "schema": crate::pubsub::avro::schema_id(org, &e.entity),
                        "payload": cdc::payload_json(org, e),
                        "event": {"replayId": e.replay_id},
                    }
                }));
            }
        }
        if last != *cursor {
            cursors.push((channel.clone(), last));
        }
    }
    (out, cursors)
}

async fn connect(state: &AppState, token: Option<&str>, m: &Map<String, Value>) -> Vec<Value> {
    let (id, _) = match client_of(state, token, m) {
        Ok(c) => c,
        Err(r) => return vec![r.0],
    };
    let wait_ms = m
        .get("advice")
        .and_then(|a| a.get("timeout"))
        .and_then(Value::as_u64)
        .unwrap_or(TIMEOUT_MS)
        .min(TIMEOUT_MS);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    loop {
        // Registered before the check, so a kick between the check and the wait is not lost.
        let kicked = state.streams.kick.notified();
        tokio::pin!(kicked);
        kicked.as_mut().enable();
        let (events, mut rx) = {
            let org = state.org_read();
            let Some(client) = state.streams.clients().get(&id).cloned() else {
                return vec![
                    reply_to(m, false)
                        .with_error("403::Unknown client")
                        .with("advice", advice_handshake())
                        .0,
                ];
            };
            if live_session(&org, &client.access_token).is_none() {
                return vec![
                    reply_to(m, false)
                        .with_error("401::Authentication invalid")
                        .with("advice", json!({"reconnect": "none"}))
                        .0,
                ];
            }
            let (events, cursors) = gather(&org, &client);
            if let Some(c) = state.streams.clients().get_mut(&id) {
                for (channel, cursor) in cursors {
                    if let Some(slot) = c.subscriptions.get_mut(&channel) {
                        *slot = (*slot).max(cursor);
                    }
                }
            }
            (events, org.events.watch())
        };
        let now = tokio::time::Instant::now();
        if !events.is_empty() || now >= deadline || state.streams.is_closing() {
            let mut out = events;
            out.push(reply_to(m, true).with("advice", advice_retry()).0);
            return out;
        }
        rx.borrow_and_update();
        tokio::select! {
            _ = rx.changed() => {}
            () = &mut kicked => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(valid_version("66.0"));
        assert!(valid_version("37.0"));
        assert!(!valid_version("66"));
        assert!(!valid_version("99.0"));
    }
}
