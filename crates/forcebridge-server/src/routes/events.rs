//! `POST /v1/events`: one event or a batch, each with its idempotency key. The whole body is
//! checked first (every error names its field, `events[3].type`); then the events go to
//! `Engine::ingest` together, and `202` is answered only after it returned (they are durable).
//!
//! Invariant: a rejected request writes nothing (no partial batch); bad input is a 4xx, never
//! a 5xx.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use forcebridge_engine::runtime::IncomingEvent;
use forcebridge_store::{ConnectionId, Scope};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// One event (the body may be one of these, or `{"events": [...]}`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the wire shape; the body is parsed by hand to name fields
pub struct EventIn {
    /// Unique per tenant (1–255 characters); a repeat is accepted once.
    idempotency_key: String,
    /// The event type (`track.completed`).
    r#type: String,
    /// The event body (a JSON object).
    #[schema(value_type = Object)]
    data: Value,
    /// Only this connection's installs (default: every install that handles the type).
    connection_id: Option<String>,
}

/// One accepted event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedEvent {
    /// The event's id (the first one's for a repeated key).
    pub event_id: String,
    /// The idempotency key.
    pub idempotency_key: String,
    /// False when the key was seen before (nothing new recorded).
    pub is_new: bool,
    /// Deliveries created (one per install flow that handles it).
    pub deliveries: u32,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// In the order posted.
    pub events: Vec<AcceptedEvent>,
}

fn parse_event(v: &Value, at: &str) -> ApiResult<IncomingEvent> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::invalid(at.trim_end_matches('.'), "each event must be a JSON object"))?;
    for k in obj.keys() {
        if !matches!(k.as_str(), "idempotency_key" | "type" | "data" | "connection_id") {
            return Err(ApiError::invalid(
                format!("{at}{k}"),
                format!("unknown field {k:?}; an event has idempotency_key, type, data and connection_id"),
            ));
        }
    }
    let text = |name: &str, max: usize| -> ApiResult<String> {
        match obj.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= max => Ok(s.clone()),
            Some(Value::String(_)) => Err(ApiError::invalid(
                format!("{at}{name}"),
                format!("{name} must be 1 to {max} characters"),
            )),
            Some(_) => Err(ApiError::invalid(
                format!("{at}{name}"),
                format!("{name} must be a string"),
            )),
            None => Err(ApiError::invalid(
                format!("{at}{name}"),
                format!("{name} is required"),
            )),
        }
    };
    let idempotency_key = text("idempotency_key", 255)?;
    let event_type = text("type", 200)?;
    let data = match obj.get("data") {
        Some(d @ Value::Object(_)) => d.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{at}data"),
                "data must be a JSON object",
            ));
        }
        None => return Err(ApiError::invalid(format!("{at}data"), "data is required")),
    };
    let connection_id = match obj.get("connection_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(ConnectionId::parse(s).map_err(|_| {
            ApiError::invalid(
                format!("{at}connection_id"),
                "connection_id must be a connection's id",
            )
        })?),
        Some(_) => {
            return Err(ApiError::invalid(
                format!("{at}connection_id"),
                "connection_id must be a string",
            ));
        }
    };
    Ok(IncomingEvent {
        idempotency_key,
        event_type,
        data,
        connection_id,
    })
}

/// Post one event or a batch (a key with the `events` scope). `202` means durable.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = EventIn, security(("tenant_key" = [])),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let tenant = caller.key_with(Scope::Events)?.clone();
    let batch = matches!(&body, Value::Object(o) if o.contains_key("events"));
    let events = match &body {
        Value::Object(o) if o.contains_key("events") => {
            if o.len() > 1 {
                return Err(ApiError::invalid(
                    "body",
                    "a batch body has only the field \"events\"",
                ));
            }
            let list = o
                .get("events")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::invalid("events", "events must be an array"))?;
            if list.is_empty() {
                return Err(ApiError::invalid("events", "events must hold at least one event"));
            }
            if list.len() > state.config.max_batch {
                return Err(ApiError::too_large(format!(
                    "events holds {} events; send at most {} per call",
                    list.len(),
                    state.config.max_batch
                )));
            }
            list.iter()
                .enumerate()
                .map(|(i, e)| parse_event(e, &format!("events[{i}].")))
                .collect::<ApiResult<Vec<_>>>()?
        }
        Value::Object(_) => vec![parse_event(&body, "")?],
        _ => {
            return Err(ApiError::invalid(
                "body",
                "the body must be an event object or {\"events\": [...]}",
            ));
        }
    };
    for (i, e) in events.iter().enumerate() {
        if let Some(c) = &e.connection_id
            && state.engine.connection(&tenant, c).await.is_err()
        {
            let field = if batch {
                format!("events[{i}].connection_id")
            } else {
                "connection_id".to_owned()
            };
            return Err(ApiError::invalid(
                field,
                "connection_id names no connection of this tenant",
            ));
        }
    }
    let keys: Vec<String> = events.iter().map(|e| e.idempotency_key.clone()).collect();
    let n = events.len();
    let done = state.engine.ingest(&tenant, events).await?;
    metrics::counter!("forcebridge_events_accepted_total").increment(n as u64);
    let events = done
        .into_iter()
        .zip(keys)
        .map(|(d, k)| AcceptedEvent {
            event_id: d.event_id.to_string(),
            idempotency_key: k,
            is_new: d.is_new,
            deliveries: d.deliveries,
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(Accepted { events })))
}

/// The event routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_events))
}
