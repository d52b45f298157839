//! `GET /services/oauth2/userinfo` (OpenID Connect claims) and the identity URL
//! `GET /id/{orgId}/{userId}` that the token response's `id` points at.
//!
//! Invariant: both answer only a live access token (header `Authorization: Bearer …`, or the
//! `oauth_token` query parameter as Salesforce also allows); otherwise 403 `Bad_OAuth_Token`
//! in plain text, which is what Salesforce sends there (not the REST API's JSON error).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{UserProfile, identity_url, user_profile};
use crate::app::{AppState, SharedState};
use crate::ids::SfId;
use crate::middleware::{bearer_token, live_session};
use crate::org::Org;

fn forbidden(text: &'static str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(axum::http::header::CONTENT_TYPE, "text/plain")],
        text,
    )
        .into_response()
}

/// The caller's profile, or the 403 to send.
fn caller(
    state: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(UserProfile, serde_json::Value), Box<Response>> {
    let token = bearer_token(headers)
        .map(str::to_string)
        .or_else(|| query.get("oauth_token").cloned())
        .or_else(|| query.get("access_token").cloned())
        .ok_or_else(|| Box::new(forbidden("Bad_OAuth_Token")))?;
    let org = state.org_read();
    let session = live_session(&org, &token).ok_or_else(|| Box::new(forbidden("Bad_OAuth_Token")))?;
    let profile =
        user_profile(&org, &session.user_id).ok_or_else(|| Box::new(forbidden("Bad_OAuth_Token")))?;
    let urls = urls(&state.public_url(), &org, &session.user_id);
    Ok((profile, urls))
}

/// The `urls` object: `{version}` stays literal, as Salesforce sends it.
fn urls(base: &str, org: &Org, user_id: &SfId) -> serde_json::Value {
    let org15 = org.info.id.short();
    json!({
        "enterprise": format!("{base}/services/Soap/c/{{version}}/{org15}"),
        "metadata": format!("{base}/services/Soap/m/{{version}}/{org15}"),
        "partner": format!("{base}/services/Soap/u/{{version}}/{org15}"),
        "rest": format!("{base}/services/data/v{{version}}/"),
        "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
        "search": format!("{base}/services/data/v{{version}}/search/"),
        "query": format!("{base}/services/data/v{{version}}/query/"),
        "recent": format!("{base}/services/data/v{{version}}/recent/"),
        "tooling_soap": format!("{base}/services/Soap/T/{{version}}/{org15}"),
        "tooling_rest": format!("{base}/services/data/v{{version}}/tooling/"),
        "profile": format!("{base}/{user_id}"),
        "feeds": format!("{base}/services/data/v{{version}}/chatter/feeds"),
        "groups": format!("{base}/services/data/v{{version}}/chatter/groups"),
        "users": format!("{base}/services/data/v{{version}}/chatter/users"),
        "feed_items": format!("{base}/services/data/v{{version}}/chatter/feed-items"),
        "feed_elements": format!("{base}/services/data/v{{version}}/chatter/feed-elements"),
        "custom_domain": base,
    })
}

fn photos(base: &str) -> serde_json::Value {
    json!({
        "picture": format!("{base}/img/userprofile/default_profile_200_v2.png"),
        "thumbnail": format!("{base}/img/userprofile/default_profile_45_v2.png"),
    })
}

/// `GET /services/oauth2/userinfo`.
pub async fn userinfo(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (p, urls) = match caller(&state, &headers, &query) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let org_id = state.org_read().info.id.clone();
    let base = &state.public_url();
    let photos = photos(base);
    Json(json!({
        "sub": format!("{base}/id/{org_id}/{}", p.user_id),
        "user_id": p.user_id,
        "organization_id": org_id,
        "preferred_username": p.username,
        "nickname": p.username.split('@').next().unwrap_or_default(),
        "name": p.display_name,
        "email": p.email,
        "email_verified": true,
        "given_name": p.first_name,
        "family_name": p.last_name,
        "zoneinfo": p.time_zone,
        "photos": photos,
        "profile": format!("{base}/{}", p.user_id),
        "picture": photos["picture"],
        "address": {},
        "is_salesforce_integration_user": false,
        "urls": urls,
        "active": p.active,
        "user_type": "STANDARD",
        "language": p.language,
        "locale": p.locale,
        "utcOffset": -28_800_000,
        "updated_at": p.last_modified,
        "is_app_installed": true,
    }))
    .into_response()
}

/// `GET /id/{orgId}/{userId}`: the identity service.
pub async fn identity(
    State(state): State<SharedState>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (_caller, urls) = match caller(&state, &headers, &query) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let (org_ok, id, target) = {
        let org = state.org_read();
        let org_ok = SfId::parse(&org_id).is_ok_and(|id| id == org.info.id);
        let target = SfId::parse(&user_id).ok().and_then(|id| user_profile(&org, &id));
        (
            org_ok,
            target
                .as_ref()
                .map(|t| identity_url(&state.public_url(), &org, &t.user_id)),
            target,
        )
    };
    // Any user of the org may be looked up with a token of that org; others are "Bad_Id".
    let (Some(t), Some(id), true) = (target, id, org_ok) else {
        return forbidden("Bad_Id");
    };
    let org_id = state.org_read().info.id.clone();
    Json(json!({
        "id": id,
        "asserted_user": true,
        "user_id": t.user_id,
        "organization_id": org_id,
        "username": t.username,
        "nick_name": t.username.split('@').next().unwrap_or_default(),
        "display_name": t.display_name,
        "email": t.email,
        "email_verified": true,
        "first_name": t.first_name,
        "last_name": t.last_name,
        "timezone": t.time_zone,
        "photos": photos(&state.public_url()),
        "addr_street": null,
        "addr_city": null,
        "addr_state": null,
        "addr_country": null,
        "addr_zip": null,
        "mobile_phone": null,
        "mobile_phone_verified": false,
        "is_lightning_login_user": false,
        "status": { "created_date": null, "body": null },
        "urls": urls,
        "active": t.active,
        "user_type": "STANDARD",
        "language": t.language,
        "locale": t.locale,
        "utcOffset": -28_800_000,
        "last_modified_date": t.last_modified,
        "is_app_installed": true,
    }))
    .into_response()
}
