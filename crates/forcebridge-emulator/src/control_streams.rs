//! The control API's part for streams (`/__emulator/streams/...`): select objects for Change
//! Data Capture, look at the event bus, and inject the faults a subscriber must survive — drop
//! every subscriber's connection, expire the sessions streams run on, emit gap or overflow
//! events, age retained events out — plus undelete, which no REST resource offers.
//!
//! Invariant: like the rest of `/__emulator/`, nothing here is counted, faulted or logged; every
//! fault wakes waiting long polls and Pub/Sub streams so they observe it at once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::SharedState;
use crate::events::ChangeType;
use crate::ids::SfId;

/// Routes of this module (merged into the control API's router).
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/__emulator/streams", get(status))
        .route("/__emulator/streams/cdc", post(select_cdc))
        .route("/__emulator/streams/drop", post(drop_subscribers))
        .route("/__emulator/streams/expire-sessions", post(expire_sessions))
        .route("/__emulator/streams/gap", post(gap))
        .route("/__emulator/streams/age-out", post(age_out))
        .route("/__emulator/undelete", post(undelete))
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn parse<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, Box<Response>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Box::new(fail(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"))))
}

async fn status(State(state): State<SharedState>) -> Response {
    let body = {
        let org = state.org_read();
        json!({
            "latestReplayId": org.events.latest_replay_id(),
            "retained": org.events.len(),
            "cdcEntities": org.events.cdc_entities,
            "cometdClients": state.streams.clients().len(),
        })
    };
    Json(body).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct Selection {
    #[serde(default)]
    entities: Vec<String>,
    /// `false` removes the entities from the selection.
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

/// Selects (or deselects) objects for Change Data Capture; the names may be objects (`Account`)
/// or change event names (`AccountChangeEvent`).
pub fn select(org: &mut crate::org::Org, names: &[String], enabled: bool) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for name in names {
        let object = org
            .schema
            .object(name)
            .map(|d| d.name.clone())
            .or_else(|| crate::streaming::cdc::object_of_event(org, name))
            .ok_or_else(|| format!("no object {name}; name an existing object or its change event"))?;
        done.push(object);
    }
    for o in &done {
        if enabled {
            org.events.cdc_entities.insert(o.clone());
        } else {
            org.events.cdc_entities.remove(o);
        }
    }
    Ok(done)
}

async fn select_cdc(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let sel: Selection = match parse(&bytes) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let result = {
        let mut org = state.org_write();
        select(&mut org, &sel.entities, sel.enabled).map(|_| org.events.cdc_entities.clone())
    };
    match result {
        Ok(all) => {
            state.mark_dirty();
            Json(json!({ "cdcEntities": all })).into_response()
        }
        Err(m) => fail(StatusCode::BAD_REQUEST, m),
    }
}

async fn drop_subscribers(State(state): State<SharedState>) -> Response {
    let n = state.streams.drop_all();
    Json(json!({ "dropped": n })).into_response()
}

/// Expires the sessions of every CometD client (Pub/Sub streams are checked on each request).
async fn expire_sessions(State(state): State<SharedState>) -> Response {
    let tokens: Vec<String> = state
        .streams
        .clients()
        .values()
        .map(|c| c.access_token.clone())
        .collect();
    let n = {
        let mut org = state.org_write();
        let mut n = 0;
        for t in &tokens {
            if let Some(s) = org.auth.sessions.get_mut(t)
                && !s.expired
            {
                s.expired = true;
                n += 1;
            }
        }
        n
    };
    state.mark_dirty();
    state.streams.kick.notify_waiters();
    Json(json!({ "expired": n })).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gap {
    object: String,
    #[serde(default)]
    record_ids: Vec<String>,
    /// `GAP_CREATE`, `GAP_UPDATE`, `GAP_DELETE`, `GAP_UNDELETE` or `GAP_OVERFLOW`.
    #[serde(default)]
    change_type: Option<ChangeType>,
}

async fn gap(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let g: Gap = match parse(&bytes) {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let change_type = g.change_type.unwrap_or(ChangeType::GapUpdate);
    if !change_type.is_gap() {
        return fail(
            StatusCode::BAD_REQUEST,
            "changeType must be GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE or GAP_OVERFLOW",
        );
    }
    let replay = {
        let mut org = state.org_write();
        let Some(object) = org.schema.object(&g.object).map(|d| d.name.clone()) else {
            return fail(StatusCode::BAD_REQUEST, format!("no object {}", g.object));
        };
        let user = org.admin_user_id().map(ToString::to_string).unwrap_or_default();
        org.events.publish_gap(&object, change_type, g.record_ids, &user);
        org.events.latest_replay_id()
    };
    state.mark_dirty();
    Json(json!({ "replayId": replay })).into_response()
}

async fn age_out(State(state): State<SharedState>) -> Response {
    let n = {
        let mut org = state.org_write();
        let n = org.events.age_out_all();
        org.events.wake();
        n
    };
    state.mark_dirty();
    state.streams.kick.notify_waiters();
    Json(json!({ "agedOut": n })).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct Undelete {
    #[serde(default)]
    ids: Vec<String>,
}

/// Undeletes records (as the SOAP API's `undelete` does), in one transaction as the admin.
async fn undelete(State(state): State<SharedState>, bytes: Bytes) -> Response {
    let req: Undelete = match parse(&bytes) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let results = {
        let mut org = state.org_write();
        let Some(admin) = org.admin_user_id().cloned() else {
            return fail(StatusCode::CONFLICT, "the org has no administrator");
        };
        let mut tx = crate::rest::dml::Tx::new(&mut org, admin);
        let mut results = Vec::new();
        for raw in &req.ids {
            let outcome = SfId::parse(raw)
                .map_err(|_| format!("malformed id {raw}"))
                .and_then(|id| tx.undelete(&id).map_err(|e| e.message));
            results.push(match outcome {
                Ok(()) => json!({"id": raw, "success": true, "errors": []}),
                Err(m) => json!({"id": raw, "success": false, "errors": [m]}),
            });
        }
        results
    };
    state.mark_dirty();
    Json(json!(results)).into_response()
}
