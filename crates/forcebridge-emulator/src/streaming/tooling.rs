//! The Tooling API resources of real time: `PlatformEventChannelMember` (selecting an object for
//! Change Data Capture on the `ChangeEvents` channel) and `PushTopic`.
//!
//! Invariant: a channel member's `selectedEntity` names an existing object's change event, and
//! deleting the member deselects that object; PushTopics made here go through the same
//! transaction (`Tx`) and query checks as the REST API's.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use crate::app::SharedState;
use crate::error::SfError;
use crate::middleware::Caller;

fn body_object(body: &[u8]) -> Result<Map<String, Value>, SfError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(SfError::bad_request(
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
        )),
    }
}

fn version(uri: &Uri) -> String {
    uri.path()
        .strip_prefix("/services/data/v")
        .and_then(|r| r.split('/').next())
        .unwrap_or(crate::config::LATEST_API_VERSION)
        .to_string()
}

/// `POST …/tooling/sobjects/PlatformEventChannelMember`.
pub async fn create_member(
    State(state): State<SharedState>,
    caller: Option<Extension<Caller>>,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| -> Result<String, SfError> {
        let Extension(caller) = caller.ok_or_else(SfError::no_resource)?;
        let body = body_object(&body)?;
        let meta = body.get("Metadata").and_then(Value::as_object);
        let channel = meta
            .and_then(|m| m.get("eventChannel"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let entity = meta
            .and_then(|m| m.get("selectedEntity"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                SfError::bad_request(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [selectedEntity]",
                )
                .with_fields(["selectedEntity"])
            })?;
        if !channel.eq_ignore_ascii_case("ChangeEvents") {
            return Err(SfError::bad_request(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("the emulator serves only the standard ChangeEvents channel, not {channel:?}"),
            ));
        }
        let mut org = state.org_write();
        if !crate::metadata::may_modify_metadata(&org, &caller.user_id) {
            return Err(crate::security::insufficient_access(None));
        }
        let object = super::cdc::object_of_event(&org, entity).ok_or_else(|| {
            SfError::bad_request(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("selectedEntity: {entity} is not the change event of an existing object"),
            )
        })?;
        let id = org.new_id("0v8").to_string();
        org.events.cdc_entities.insert(object.clone());
        org.events.cdc_members.insert(id.clone(), object);
        Ok(id)
    })();
    match result {
        Ok(id) => {
            state.mark_dirty();
            (
                StatusCode::CREATED,
                Json(json!({"id": id, "success": true, "errors": [], "warnings": [], "infos": []})),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `DELETE …/tooling/sobjects/PlatformEventChannelMember/{id}`.
pub async fn delete_member(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    caller: Option<Extension<Caller>>,
) -> Response {
    let Some(Extension(caller)) = caller else {
        return SfError::no_resource().into_response();
    };
    let removed = {
        let mut org = state.org_write();
        if !crate::metadata::may_modify_metadata(&org, &caller.user_id) {
            return crate::security::insufficient_access(None).into_response();
        }
        let removed = org.events.cdc_members.remove(&id);
        if let Some(object) = &removed
            && !org.events.cdc_members.values().any(|o| o == object)
        {
            org.events.cdc_entities.remove(object);
        }
        removed
    };
    match removed {
        Some(_) => {
            state.mark_dirty();
            StatusCode::NO_CONTENT.into_response()
        }
        None => SfError::not_found("The requested resource does not exist").into_response(),
    }
}

/// `POST …/tooling/sobjects/PushTopic`: the same create as the REST API's.
pub async fn create_push_topic(
    State(state): State<SharedState>,
    uri: Uri,
    caller: Option<Extension<Caller>>,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| -> Result<String, SfError> {
        let Extension(caller) = caller.ok_or_else(SfError::no_resource)?;
        let body = body_object(&body)?;
        let mut org = state.org_write();
        let mut tx = crate::rest::dml::Tx::new(&mut org, caller.user_id.clone());
        tx.api_version = version(&uri);
        match tx.create(super::topic::OBJECT, &body) {
            Ok(id) => Ok(id.to_string()),
            Err(e) => {
                tx.rollback_to(0);
                Err(e)
            }
        }
    })();
    match result {
        Ok(id) => {
            state.mark_dirty();
            (
                StatusCode::CREATED,
                Json(json!({"id": id, "success": true, "errors": [], "warnings": [], "infos": []})),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}
