//! The Pub/Sub API subscriber: gRPC `eventbus.v1.PubSub/Subscribe` with pull-based flow
//! control, Avro payloads decoded with the schema fetched once per schema id, and the
//! `changedFields` / `nulledFields` / `diffFields` bitmaps decoded into field names.
//!
//! Invariants: at most `batch` (≤ 100) events are requested ahead of the caller; a broken or
//! refused stream is reopened from the replay id last saved to the store (the last event the
//! caller finished with) — after renewing the session once when the refusal was an
//! authentication error — so nothing is skipped and nothing the caller finished is repeated.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use secrecy::ExposeSecret;
use serde_json::{Map, Number, Value};
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::{
    ChangeEvent, ChangeEventHeader, ChangeType, EventBody, ReplayId, ReplayStore, StartAt, StreamEvent,
    StreamItem,
};
use crate::Client;
use crate::error::{Error, Result};

/// The generated `eventbus.v1` messages and client.
#[allow(missing_docs, missing_debug_implementations, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("eventbus.v1");
}

use proto::pub_sub_client::PubSubClient;
use proto::{FetchRequest, FetchResponse, ReplayPreset, SchemaRequest};

/// The most events one request may ask for.
pub const MAX_BATCH: i32 = 100;
/// Consecutive reconnections tried before an error is returned.
const MAX_RECONNECTS: u32 = 8;

/// A decoded schema: the parsed Avro schema and its top-level field names, by position.
#[derive(Debug)]
struct Decoder {
    schema: apache_avro::Schema,
    fields: Vec<String>,
}

/// An open Subscribe call.
struct Open {
    requests: tokio::sync::mpsc::Sender<FetchRequest>,
    responses: tonic::Streaming<FetchResponse>,
}

impl std::fmt::Debug for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Open")
    }
}

/// A subscription to one Pub/Sub API topic (`/data/ChangeEvents`, `/data/AccountChangeEvent`).
/// Drive it with [`PubSubSubscriber::next`] or [`PubSubSubscriber::into_stream`].
#[derive(Debug)]
pub struct PubSubSubscriber {
    client: Client,
    endpoint: String,
    topic: String,
    store: Arc<dyn ReplayStore>,
    start: StartAt,
    batch: i32,
    tenant_id: Option<String>,
    channel: Option<Channel>,
    open: Option<Open>,
    outstanding: i32,
    decoders: HashMap<String, Arc<Decoder>>,
    buffer: VecDeque<StreamItem>,
    ack: Option<(String, ReplayId)>,
    /// Set after a replay id outside retention: the next subscription starts at the earliest.
    from_earliest: bool,
    schema_fetches: u64,
    subscriptions: u64,
    /// Whether the session was renewed since the last successful read (a second refusal then
    /// means the credentials, not the session, are wrong).
    renewed: bool,
}

impl Client {
    /// A Pub/Sub API subscription to `topic` at `endpoint` (`host:port`, e.g.
    /// `api.pubsub.salesforce.com:7443`), whose replay ids go to `store`.
    pub fn pubsub_subscriber(
        &self,
        endpoint: &str,
        topic: &str,
        store: Arc<dyn ReplayStore>,
    ) -> PubSubSubscriber {
        PubSubSubscriber {
            client: self.clone(),
            endpoint: endpoint.to_string(),
            topic: topic.to_string(),
            store,
            start: StartAt::Latest,
            batch: MAX_BATCH,
            tenant_id: None,
            channel: None,
            open: None,
            outstanding: 0,
            decoders: HashMap::new(),
            buffer: VecDeque::new(),
            ack: None,
            from_earliest: false,
            schema_fetches: 0,
            subscriptions: 0,
            renewed: false,
        }
    }
}

fn grpc_error(context: &str, status: &tonic::Status) -> Error {
    Error::Decode {
        context: format!("pub/sub api {context}"),
        reason: format!("{:?}: {}", status.code(), status.message()),
    }
}

fn error_code(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get("error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The org id of an identity URL (`…/id/00D…/005…`).
fn org_of_identity(id: &str) -> Option<String> {
    let mut parts = id.trim_end_matches('/').rsplit('/');
    let _user = parts.next()?;
    let org = parts.next()?;
    org.starts_with("00D").then(|| org.to_string())
}

/// Field names of the bits set in a bitmap (`0x…`); nested (`3-0x…`) entries name the compound
/// field's parts as `Parent.Part` when the schema has them.
pub fn bitmap_fields(schema: &apache_avro::Schema, fields: &[String], bitmaps: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for b in bitmaps {
        if let Some(hex) = b.strip_prefix("0x") {
            out.extend(bits(hex).into_iter().filter_map(|i| fields.get(i).cloned()));
        } else if let Some((parent, hex)) = b.split_once('-') {
            let Some(parent_name) = parent.parse::<usize>().ok().and_then(|p| fields.get(p)) else {
                continue;
            };
            let children = nested_fields(schema, parent_name);
            let hex = hex.strip_prefix("0x").unwrap_or(hex);
            out.extend(
                bits(hex)
                    .into_iter()
                    .filter_map(|i| children.get(i).map(|c| format!("{parent_name}.{c}"))),
            );
        }
    }
    out
}

/// Positions of the set bits of a hexadecimal number, least significant first.
fn bits(hex: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (digit_from_right, c) in hex.chars().rev().enumerate() {
        let Some(v) = c.to_digit(16) else { continue };
        for bit in 0..4 {
            if v & (1 << bit) != 0 {
                out.push(digit_from_right * 4 + bit);
            }
        }
    }
    out
}

fn record_fields(schema: &apache_avro::Schema) -> Vec<String> {
    match schema {
        apache_avro::Schema::Record(r) => r.fields.iter().map(|f| f.name.clone()).collect(),
        _ => Vec::new(),
    }
}

fn nested_fields(schema: &apache_avro::Schema, parent: &str) -> Vec<String> {
    let apache_avro::Schema::Record(r) = schema else {
        return Vec::new();
    };
    let Some(f) = r.fields.iter().find(|f| f.name == parent) else {
        return Vec::new();
    };
    match &f.schema {
        apache_avro::Schema::Union(u) => u
            .variants()
            .iter()
            .map(record_fields)
            .find(|v| !v.is_empty())
            .unwrap_or_default(),
        other => record_fields(other),
    }
}

/// An Avro value as JSON (timestamps and dates as their numbers, as the Pub/Sub API sends them).
fn json_of(v: &apache_avro::types::Value) -> Value {
    use apache_avro::types::Value as A;
    match v {
        A::Null => Value::Null,
        A::Boolean(b) => Value::Bool(*b),
        A::Int(n) | A::Date(n) | A::TimeMillis(n) => Value::from(*n),
        A::Long(n)
        | A::TimestampMillis(n)
        | A::TimestampMicros(n)
        | A::TimeMicros(n)
        | A::LocalTimestampMillis(n) => Value::from(*n),
        A::Float(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        A::Double(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        A::String(s) | A::Enum(_, s) => Value::String(s.clone()),
        A::Union(_, inner) => json_of(inner),
        A::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        A::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
        A::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
        other => Value::String(format!("{other:?}")),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

impl PubSubSubscriber {
    /// Where a topic without a stored replay id starts (default: new events only).
    #[must_use]
    pub fn start_at(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// How many events to keep requested ahead (1–100, default 100).
    #[must_use]
    pub fn batch(mut self, n: i32) -> Self {
        self.batch = n.clamp(1, MAX_BATCH);
        self
    }

    /// The org id sent as `tenantid` (default: read from the session's identity URL).
    #[must_use]
    pub fn tenant_id(mut self, id: &str) -> Self {
        self.tenant_id = Some(id.to_string());
        self
    }

    /// How many times a schema was fetched (once per schema id).
    pub fn schema_fetches(&self) -> u64 {
        self.schema_fetches
    }

    /// How many Subscribe calls were opened (1 plus reconnections).
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions
    }

    /// This subscription as a never-ending stream.
    pub fn into_stream(self) -> impl Stream<Item = Result<StreamItem>> + Send {
        futures::stream::unfold(self, |mut s| async move {
            let item = s.next().await;
            Some((item, s))
        })
    }

    /// The next item. Saves the previous item's replay id first.
    ///
    /// # Errors
    /// [`Error::ReplayStore`]; sign-in errors; [`Error::InvalidInput`] for an unknown topic;
    /// [`Error::Decode`] for a payload that does not match its schema or a server that stays
    /// unreachable.
    pub async fn next(&mut self) -> Result<StreamItem> {
        if let Some((channel, id)) = self.ack.take() {
            self.store.save(&channel, &id).await.map_err(Error::ReplayStore)?;
        }
        let mut failures = 0u32;
        loop {
            if let Some(item) = self.buffer.pop_front() {
                if let Some(e) = item.event() {
                    self.ack = Some((e.channel.clone(), e.replay_id.clone()));
                }
                return Ok(item);
            }
            let outcome = if self.open.is_none() {
                self.subscribe().await
            } else {
                self.read().await
            };
            match outcome {
                Ok(()) => failures = 0,
                Err(Retry::Now) => {}
                Err(Retry::After(e)) => {
                    self.open = None;
                    failures += 1;
                    if failures > MAX_RECONNECTS {
                        return Err(e);
                    }
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
                }
                Err(Retry::Never(e)) => {
                    self.open = None;
                    return Err(e);
                }
            }
        }
    }

    async fn channel(&mut self) -> Result<Channel> {
        if let Some(c) = &self.channel {
            return Ok(c.clone());
        }
        let session = self.client.session().await?;
        let tls = session.instance_url.as_str().starts_with("https://");
        let scheme = if tls { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", self.endpoint))
            .map_err(|e| Error::InvalidInput(format!("pub/sub endpoint {:?}: {e}", self.endpoint)))?
            .connect_timeout(Duration::from_secs(15))
            .http2_keep_alive_interval(Duration::from_secs(30));
        if tls {
            let host = self
                .endpoint
                .rsplit_once(':')
                .map_or(self.endpoint.as_str(), |(h, _)| h);
            let mut config = ClientTlsConfig::new().domain_name(host).with_webpki_roots();
            for pem in &self.client.inner.extra_ca_pem {
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint
                .tls_config(config)
                .map_err(|e| Error::InvalidInput(format!("pub/sub tls: {e}")))?;
        }
        let channel = endpoint.connect_lazy();
        self.channel = Some(channel.clone());
        Ok(channel)
    }

    async fn request<T>(&self, body: T) -> Result<Request<T>> {
        let session = self.client.session().await?;
        let tenant = match &self.tenant_id {
            Some(t) => t.clone(),
            None => session.id.as_deref().and_then(org_of_identity).ok_or_else(|| {
                Error::InvalidInput("the org id (tenantid) is unknown; set it with tenant_id".into())
            })?,
        };
        let mut req = Request::new(body);
        let meta = req.metadata_mut();
        let value = |s: &str| {
            MetadataValue::try_from(s)
                .map_err(|_| Error::InvalidInput("a pub/sub header has characters gRPC cannot carry".into()))
        };
        meta.insert("accesstoken", value(session.access_token.expose_secret())?);
        meta.insert(
            "instanceurl",
            value(session.instance_url.as_str().trim_end_matches('/'))?,
        );
        meta.insert("tenantid", value(&tenant)?);
        Ok(req)
    }

    /// Handles a refused or broken call: renews the session on an authentication error.
    async fn on_status(&mut self, context: &str, status: tonic::Status) -> Retry {
        let err = grpc_error(context, &status);
        match status.code() {
            tonic::Code::Unauthenticated if self.renewed => Retry::Never(Error::Api {
                status: 401,
                errors: vec![crate::error::ApiErrorDetail {
                    error_code: "INVALID_SESSION_ID".into(),
                    message: format!(
                        "the pub/sub api refused a fresh session ({}); check the org id (tenantid) and the user's access",
                        status.message()
                    ),
                    fields: Vec::new(),
                }],
                retry_after: None,
            }),
            tonic::Code::Unauthenticated => match self.renew().await {
                Ok(()) => {
                    self.renewed = true;
                    Retry::After(err)
                }
                Err(e) => Retry::Never(e),
            },
            tonic::Code::InvalidArgument if error_code(&status).contains("replayid") => {
                let stored = self.store.load(&self.topic).await.ok().flatten();
                self.buffer.push_back(StreamItem::ReplayLost {
                    channel: self.topic.clone(),
                    replay_id: stored.unwrap_or(ReplayId::PubSub(Vec::new())),
                });
                self.from_earliest = true;
                Retry::Now
            }
            tonic::Code::NotFound | tonic::Code::PermissionDenied | tonic::Code::InvalidArgument => {
                Retry::Never(Error::InvalidInput(format!(
                    "cannot subscribe to {}: {}",
                    self.topic,
                    status.message()
                )))
            }
            _ => Retry::After(err),
        }
    }

    async fn renew(&self) -> Result<()> {
        let session = self.client.session().await?;
        self.client.inner.auth.renew(session.generation).await?;
        Ok(())
    }

    async fn subscribe(&mut self) -> std::result::Result<(), Retry> {
        let stored = self
            .store
            .load(&self.topic)
            .await
            .map_err(|e| Retry::Never(Error::ReplayStore(e)))?;
        let (preset, replay_id) = match stored {
            Some(ReplayId::PubSub(bytes)) if !self.from_earliest => (ReplayPreset::Custom, bytes),
            _ if self.from_earliest || self.start == StartAt::Earliest => {
                (ReplayPreset::Earliest, Vec::new())
            }
            _ => (ReplayPreset::Latest, Vec::new()),
        };
        self.from_earliest = false;
        let channel = self.channel().await.map_err(Retry::Never)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<FetchRequest>(8);
        let first = FetchRequest {
            topic_name: self.topic.clone(),
            replay_preset: preset as i32,
            replay_id,
            num_requested: self.batch,
            auth_refresh: String::new(),
        };
        tx.send(first)
            .await
            .map_err(|_| Retry::Never(Error::InvalidInput("subscription request channel closed".into())))?;
        let req = self
            .request(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(Retry::Never)?;
        let mut grpc = PubSubClient::new(channel);
        match grpc.subscribe(req).await {
            Ok(resp) => {
                self.subscriptions += 1;
                self.outstanding = self.batch;
                self.open = Some(Open {
                    requests: tx,
                    responses: resp.into_inner(),
                });
                Ok(())
            }
            Err(status) => Err(self.on_status("subscribe", status).await),
        }
    }

    async fn read(&mut self) -> std::result::Result<(), Retry> {
        let Some(open) = self.open.as_mut() else {
            return Err(Retry::Now);
        };
        let message = open.responses.message().await;
        let resp = match message {
            Ok(Some(resp)) => resp,
            Ok(None) => {
                return Err(Retry::After(Error::Decode {
                    context: "pub/sub api subscribe".into(),
                    reason: "the server ended the stream".into(),
                }));
            }
            Err(status) => return Err(self.on_status("subscribe", status).await),
        };
        self.renewed = false;
        let n = i32::try_from(resp.events.len()).unwrap_or(i32::MAX);
        // Schemas first (fetched once per id), then one datum reader per schema for the batch.
        let mut decoders: HashMap<String, Arc<Decoder>> = HashMap::new();
        for ce in &resp.events {
            if let Some(event) = &ce.event
                && !decoders.contains_key(&event.schema_id)
            {
                let d = self.decoder(&event.schema_id).await.map_err(Retry::Never)?;
                decoders.insert(event.schema_id.clone(), d);
            }
        }
        let mut readers = HashMap::new();
        for ce in resp.events {
            let Some(event) = ce.event else { continue };
            let Some(decoder) = decoders.get(&event.schema_id) else {
                continue;
            };
            let reader = match readers.entry(event.schema_id.clone()) {
                std::collections::hash_map::Entry::Occupied(r) => r.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let r = apache_avro::reader::datum::GenericDatumReader::builder(&decoder.schema)
                        .build()
                        .map_err(|e| {
                            Retry::Never(Error::Decode {
                                context: "avro reader".into(),
                                reason: e.to_string(),
                            })
                        })?;
                    slot.insert(r)
                }
            };
            let item = decode_event(decoder, reader, &self.topic, ce.replay_id, &event.payload)
                .map_err(Retry::Never)?;
            self.buffer.push_back(item);
        }
        self.outstanding -= n;
        if self.outstanding <= self.batch / 2 {
            let more = self.batch - self.outstanding.max(0);
            if let Some(open) = &self.open {
                let _ = open
                    .requests
                    .send(FetchRequest {
                        num_requested: more,
                        ..Default::default()
                    })
                    .await;
            }
            self.outstanding += more;
        }
        Ok(())
    }

    async fn decoder(&mut self, schema_id: &str) -> Result<Arc<Decoder>> {
        if let Some(d) = self.decoders.get(schema_id) {
            return Ok(d.clone());
        }
        let channel = self.channel().await?;
        let req = self
            .request(SchemaRequest {
                schema_id: schema_id.to_string(),
            })
            .await?;
        let info = PubSubClient::new(channel)
            .get_schema(req)
            .await
            .map_err(|s| grpc_error("get schema", &s))?
            .into_inner();
        self.schema_fetches += 1;
        let schema = apache_avro::Schema::parse_str(&info.schema_json).map_err(|e| Error::Decode {
            context: format!("avro schema {schema_id}"),
            reason: e.to_string(),
        })?;
        let fields = record_fields(&schema);
        let d = Arc::new(Decoder { schema, fields });
        self.decoders.insert(schema_id.to_string(), d.clone());
        Ok(d)
    }
}

/// What to do after a failed step.
enum Retry {
    /// Try again at once (the buffer has something to hand out, or the start changed).
    Now,
    /// Reopen the subscription after a pause.
    After(Error),
    /// Give up with this error.
    Never(Error),
}

fn decode_event(
    d: &Decoder,
    reader: &apache_avro::reader::datum::GenericDatumReader<'_>,
    topic: &str,
    replay_id: Vec<u8>,
    payload: &[u8],
) -> Result<StreamItem> {
    let value = reader.read_value(&mut &payload[..]).map_err(|e| Error::Decode {
        context: format!("change event on {topic}"),
        reason: e.to_string(),
    })?;
    let Value::Object(mut record) = json_of(&value) else {
        return Err(Error::Decode {
            context: format!("change event on {topic}"),
            reason: "the payload is not a record".into(),
        });
    };
    let h = record.shift_remove("ChangeEventHeader").unwrap_or(Value::Null);
    let change_type = h
        .get("changeType")
        .and_then(Value::as_str)
        .and_then(ChangeType::parse)
        .ok_or_else(|| Error::Decode {
            context: format!("change event on {topic}"),
            reason: "no known changeType".into(),
        })?;
    let text = |k: &str| h.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let num = |k: &str| h.get(k).and_then(Value::as_i64).unwrap_or_default();
    let header = ChangeEventHeader {
        entity_name: text("entityName"),
        record_ids: strings(h.get("recordIds")),
        change_type,
        change_origin: text("changeOrigin"),
        transaction_key: text("transactionKey"),
        sequence_number: num("sequenceNumber"),
        commit_timestamp: num("commitTimestamp"),
        commit_number: num("commitNumber"),
        commit_user: text("commitUser"),
        changed_fields: bitmap_fields(&d.schema, &d.fields, &strings(h.get("changedFields"))),
        nulled_fields: bitmap_fields(&d.schema, &d.fields, &strings(h.get("nulledFields"))),
        diff_fields: bitmap_fields(&d.schema, &d.fields, &strings(h.get("diffFields"))),
    };
    let fields: Map<String, Value> = record.into_iter().filter(|(_, v)| !v.is_null()).collect();
    Ok(StreamItem::of(StreamEvent {
        channel: topic.to_string(),
        replay_id: ReplayId::PubSub(replay_id),
        body: EventBody::Change(ChangeEvent { header, fields }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_count_from_the_least_significant() {
        assert_eq!(bits("01"), [0]);
        assert_eq!(bits("0206"), [1, 2, 9]);
        assert_eq!(bits("650004E0").len(), 8);
    }

    #[test]
    fn org_ids_come_from_identity_urls() {
        assert_eq!(
            org_of_identity("https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS")
                .as_deref(),
            Some("00Dxx0000001gPLEAY")
        );
        assert_eq!(org_of_identity("https://example.com/"), None);
    }
}
