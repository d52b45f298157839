//! The `eventbus.v1.PubSub` service over the orgs' event buses: each call is served by the org its
//! `tenantid` header names, and its access token must be a live session of that org.
//!
//! Invariant: a Subscribe stream's cursor moves only forward over the log; it sends an event only
//! while the client has requests outstanding, and ends (for the client to resubscribe from its
//! last replay id) when the session expires, a fault drops subscribers, or the emulator stops.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::avro;
use super::proto::{
    ConsumerEvent, FetchRequest, FetchResponse, ProducerEvent, PublishRequest, PublishResponse, ReplayPreset,
    SchemaInfo, SchemaRequest, TopicInfo, TopicRequest, pub_sub_server::PubSub,
};
use crate::app::{AppState, SharedState};
use crate::events::CHANGE_EVENT_RETENTION_HOURS;
use crate::ids::SfId;
use crate::org::Org;
use crate::streaming::cdc;

/// Most events one FetchRequest may ask for.
const MAX_REQUESTED: i32 = 100;
/// How often an idle subscription gets an empty FetchResponse with the latest replay id
/// (Salesforce sends one within 270 seconds).
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The service.
#[derive(Debug, Clone)]
pub struct PubSubService {
    orgs: Arc<crate::orgs::Orgs>,
    schemas: Arc<Mutex<HashMap<String, Arc<avro::Compiled>>>>,
}

fn status(code: tonic::Code, error_code: &'static str, message: impl Into<String>) -> Status {
    let rpc_id = uuid::Uuid::new_v4().to_string();
    let mut s = Status::new(code, format!("{} rpcId: {rpc_id}", message.into()));
    s.metadata_mut().insert(
        "error-code",
        tonic::metadata::MetadataValue::from_static(error_code),
    );
    if let Ok(v) = rpc_id.parse() {
        s.metadata_mut().insert("rpc-id", v);
    }
    s
}

fn auth_error() -> Status {
    status(
        tonic::Code::Unauthenticated,
        "sfdc.platform.eventbus.grpc.service.auth.error",
        "An authentication exception occurred. Provide valid authentication via metadata headers.",
    )
}

fn topic_error(topic: &str) -> Status {
    status(
        tonic::Code::NotFound,
        "sfdc.platform.eventbus.grpc.service.topic.not.found",
        format!("Topic not found or not accessible: {topic}"),
    )
}

/// Replay ids on the wire: the bus's number as 8 big-endian bytes.
pub fn replay_bytes(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

fn replay_number(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

impl PubSubService {
    /// A service over every org of the emulator.
    pub fn new(orgs: Arc<crate::orgs::Orgs>) -> Self {
        PubSubService {
            orgs,
            schemas: Arc::default(),
        }
    }

    /// Checks `accesstoken` and `tenantid`: returns the org the tenant id names and the user of
    /// the session, which must be one of that org's.
    fn authenticate(&self, meta: &tonic::metadata::MetadataMap) -> Result<(SharedState, SfId), Status> {
        let get = |k: &str| meta.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (Some(token), Some(tenant)) = (get("accesstoken"), get("tenantid")) else {
            return Err(auth_error());
        };
        let state = self.orgs.by_org_id(&tenant).ok_or_else(auth_error)?.state.clone();
        let user = {
            let org = state.org_read();
            crate::middleware::live_session(&org, &token)
                .map(|s| s.user_id)
                .ok_or_else(auth_error)?
        };
        Ok((state, user))
    }

    fn compiled(&self, org: &Org, entity: &str) -> Option<Arc<avro::Compiled>> {
        let def = org.schema.object(entity)?;
        let json = avro::schema_json(def).to_string();
        let id = avro::id_of(&json);
        // Orgs may define the same object differently: the cache is keyed by org and object.
        let key = format!("{}/{entity}", org.info.id);
        let mut cache = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(&key).filter(|c| c.id == id) {
            return Some(c.clone());
        }
        let c = Arc::new(avro::compile(def).ok()?);
        cache.insert(key, c.clone());
        Some(c)
    }
}

type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl PubSub for PubSubService {
    type SubscribeStream = Out<FetchResponse>;
    type PublishStreamStream = Out<PublishResponse>;

    async fn subscribe(
        &self,
        request: Request<Streaming<FetchRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let (state, user) = self.authenticate(request.metadata())?;
        let token = request
            .metadata()
            .get("accesstoken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut input = request.into_inner();
        let first = input
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the first FetchRequest must name a topic"))?;
        let (target, cursor) = {
            let org = state.org_read();
            let target = cdc::target(&org, &first.topic_name)
                .filter(|t| match t {
                    cdc::Target::All => true,
                    cdc::Target::Object(o) => org.events.cdc_entities.contains(o),
                })
                .ok_or_else(|| topic_error(&first.topic_name))?;
            let now = chrono::Utc::now().timestamp_millis();
            let bus = &org.events;
            let cursor = match ReplayPreset::try_from(first.replay_preset).unwrap_or(ReplayPreset::Latest) {
                ReplayPreset::Latest => bus.latest_replay_id(),
                ReplayPreset::Earliest => bus.floor(CHANGE_EVENT_RETENTION_HOURS, now),
                ReplayPreset::Custom => {
                    let n = replay_number(&first.replay_id).ok_or_else(|| {
                        status(
                            tonic::Code::InvalidArgument,
                            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted",
                            "The replay ID is not valid.",
                        )
                    })?;
                    if !bus.resumable(n, CHANGE_EVENT_RETENTION_HOURS, now) {
                        return Err(status(
                            tonic::Code::InvalidArgument,
                            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed",
                            format!("The replay ID is outside the retention window or not yet assigned: {n}"),
                        ));
                    }
                    n
                }
            };
            (target, cursor)
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<FetchResponse, Status>>(16);
        let epoch = state.streams.drop_epoch.load(std::sync::atomic::Ordering::SeqCst);
        let sub = Subscription {
            state,
            service: self.clone(),
            target,
            topic: first.topic_name.clone(),
            cursor,
            pending: first.num_requested.clamp(0, MAX_REQUESTED),
            token,
            _user: user,
            epoch,
        };
        tokio::spawn(sub.run(input, tx));
        let out = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(Response::new(Box::pin(out)))
    }

    async fn get_schema(&self, request: Request<SchemaRequest>) -> Result<Response<SchemaInfo>, Status> {
        let (state, _) = self.authenticate(request.metadata())?;
        let wanted = request.into_inner().schema_id;
        let org = state.org_read();
        let found = org.schema.objects().find_map(|d| {
            let json = avro::schema_json(d).to_string();
            (avro::id_of(&json) == wanted).then_some(json)
        });
        match found {
            Some(schema_json) => Ok(Response::new(SchemaInfo {
                schema_json,
                schema_id: wanted,
                rpc_id: uuid::Uuid::new_v4().to_string(),
            })),
            None => Err(status(
                tonic::Code::NotFound,
                "sfdc.platform.eventbus.grpc.schema.not.found",
                format!("Schema not found: {wanted}"),
            )),
        }
    }

    async fn get_topic(&self, request: Request<TopicRequest>) -> Result<Response<TopicInfo>, Status> {
        let (state, _) = self.authenticate(request.metadata())?;
        let name = request.into_inner().topic_name;
        let org = state.org_read();
        let schema_id = match cdc::target(&org, &name) {
            Some(cdc::Target::Object(o)) if org.events.cdc_entities.contains(&o) => avro::schema_id(&org, &o),
            Some(cdc::Target::All) => String::new(),
            _ => return Err(topic_error(&name)),
        };
        Ok(Response::new(TopicInfo {
            topic_name: name,
            tenant_guid: org.info.id.to_string(),
            can_publish: false,
            can_subscribe: true,
            schema_id,
            rpc_id: uuid::Uuid::new_v4().to_string(),
        }))
    }

    async fn publish(&self, request: Request<PublishRequest>) -> Result<Response<PublishResponse>, Status> {
        self.authenticate(request.metadata())?;
        let topic = request.into_inner().topic_name;
        Err(status(
            tonic::Code::PermissionDenied,
            "sfdc.platform.eventbus.grpc.service.publish.not.allowed",
            format!("Publishing is not allowed on {topic}: change events are published by Salesforce"),
        ))
    }

    async fn publish_stream(
        &self,
        request: Request<Streaming<PublishRequest>>,
    ) -> Result<Response<Self::PublishStreamStream>, Status> {
        self.authenticate(request.metadata())?;
        Err(status(
            tonic::Code::PermissionDenied,
            "sfdc.platform.eventbus.grpc.service.publish.not.allowed",
            "Publishing is not allowed on change event channels",
        ))
    }
}

/// One open Subscribe stream.
struct Subscription {
    state: SharedState,
    service: PubSubService,
    target: cdc::Target,
    topic: String,
    cursor: u64,
    pending: i32,
    token: String,
    _user: SfId,
    epoch: u64,
}

enum Step {
    Send(FetchResponse),
    Wait(tokio::sync::watch::Receiver<u64>),
    End(Status),
}

impl Subscription {
    fn dropped(&self, state: &AppState) -> bool {
        state.streams.drop_epoch.load(std::sync::atomic::Ordering::SeqCst) != self.epoch
            || state.streams.is_closing()
    }

    /// Gathers what to send now, under the org lock.
    fn step(&mut self) -> Step {
        let org = self.state.org_read();
        if crate::middleware::live_session(&org, &self.token).is_none() {
            return Step::End(auth_error());
        }
        if self.pending <= 0 {
            return Step::Wait(org.events.watch());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut last = self.cursor;
        // Schemas are compiled (or checked against the cache) once per object per batch, and
        // each object's datum writer is made once per batch.
        let mut schemas: HashMap<String, Option<Arc<avro::Compiled>>> = HashMap::new();
        let mut picked = Vec::new();
        for e in org.events.after(self.cursor, CHANGE_EVENT_RETENTION_HOURS, now) {
            if i32::try_from(picked.len()).unwrap_or(i32::MAX) >= self.pending {
                break;
            }
            last = e.replay_id;
            if !self.target.carries(&org, &e.entity) {
                continue;
            }
            let compiled = schemas
                .entry(e.entity.clone())
                .or_insert_with(|| self.service.compiled(&org, &e.entity));
            if compiled.is_some() {
                picked.push(e.clone());
            }
        }
        let mut writers = HashMap::new();
        let mut events = Vec::with_capacity(picked.len());
        for e in &picked {
            let Some(Some(compiled)) = schemas.get(&e.entity) else {
                continue;
            };
            let writer = match writers.entry(e.entity.clone()) {
                std::collections::hash_map::Entry::Occupied(w) => w.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => match avro::writer(compiled) {
                    Ok(w) => slot.insert(w),
                    Err(m) => {
                        tracing::warn!("cannot encode change events: {m}");
                        continue;
                    }
                },
            };
            match avro::encode(compiled, writer, e) {
                Ok(payload) => events.push(ConsumerEvent {
                    event: Some(ProducerEvent {
                        id: uuid::Uuid::new_v4().to_string(),
                        schema_id: compiled.id.clone(),
                        payload,
                        headers: Vec::new(),
                    }),
                    replay_id: replay_bytes(e.replay_id),
                }),
                Err(m) => tracing::warn!("cannot encode a change event: {m}"),
            }
        }
        self.cursor = last;
        if events.is_empty() {
            return Step::Wait(org.events.watch());
        }
        self.pending -= i32::try_from(events.len()).unwrap_or(i32::MAX);
        Step::Send(FetchResponse {
            events,
            latest_replay_id: replay_bytes(self.cursor),
            rpc_id: uuid::Uuid::new_v4().to_string(),
            pending_num_requested: self.pending,
        })
    }

    async fn run(
        mut self,
        mut input: Streaming<FetchRequest>,
        tx: tokio::sync::mpsc::Sender<Result<FetchResponse, Status>>,
    ) {
        let state = self.state.clone();
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.reset();
        loop {
            if self.dropped(&state) {
                let _ = tx
                    .send(Err(Status::unavailable(
                        "the subscription was closed by the server; resubscribe",
                    )))
                    .await;
                return;
            }
            let kicked = state.streams.kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            let mut rx = match self.step() {
                Step::Send(resp) => {
                    if tx.send(Ok(resp)).await.is_err() {
                        return;
                    }
                    keep_alive.reset();
                    continue;
                }
                Step::End(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
                Step::Wait(rx) => rx,
            };
            rx.borrow_and_update();
            tokio::select! {
                more = input.message() => match more {
                    Ok(Some(req)) => {
                        if !req.topic_name.is_empty() && req.topic_name != self.topic {
                            let _ = tx.send(Err(Status::invalid_argument("the topic cannot change within a subscription"))).await;
                            return;
                        }
                        self.pending = (self.pending + req.num_requested.max(0)).min(MAX_REQUESTED);
                    }
                    _ => return,
                },
                _ = rx.changed() => {}
                () = &mut kicked => {}
                _ = keep_alive.tick() => {
                    let resp = FetchResponse {
                        events: Vec::new(),
                        latest_replay_id: replay_bytes(self.cursor),
                        rpc_id: uuid::Uuid::new_v4().to_string(),
                        pending_num_requested: self.pending,
                    };
                    if tx.send(Ok(resp)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
