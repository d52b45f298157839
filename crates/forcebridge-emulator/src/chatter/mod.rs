//! Chatter (Connect REST API): `POST /chatter/feed-elements` posts a feed item to a record's
//! feed, `GET /chatter/feeds/record/{recordId}/feed-elements` pages through that feed (newest
//! first), `GET /chatter/feed-elements/{id}` reads one post, and `POST
//! /chatter/feed-elements/batch` posts up to 500 feed items in one call (each on its own: one
//! failing item does not undo the others).
//!
//! A post is a `FeedItem` record written through [`crate::rest::dml::Tx`], so SOQL sees it
//! (`SELECT Id, Body, ParentId FROM FeedItem WHERE ParentId = '...'`) and REST can read it. The
//! message segments of a post (mentions, links, markup) are kept beside it so the feed shows them
//! as posted; a feed item created another way shows as one Text segment.
//!
//! Invariant: the feed is read from the `FeedItem` table, never from a copy, so deleting a feed
//! item (or its parent) removes it from the feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::app::SharedState;
use crate::bulk::ApiVersion;
use crate::error::SfError;
use crate::ids::SfId;
use crate::middleware::Caller;
use crate::org::{Org, Record};
use crate::rest::dml::Tx;

/// Feed elements per page when the request gives no `pageSize` (Connect's default).
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// The largest `pageSize` Connect accepts.
pub const MAX_PAGE_SIZE: usize = 100;

/// Message segments of posts made through this API, by feed item id. Kept in the state file
/// beside the org ([`crate::persist`]) and cleared by the control API's reset.
#[derive(Debug, Default)]
pub struct ChatterState {
    segments: Mutex<HashMap<String, Vec<Value>>>,
}

/// The per-emulator handle handlers receive.
pub type Chatter = Arc<ChatterState>;

impl ChatterState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Value>>> {
        self.segments.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of every post's segments, for the state file.
    pub fn snapshot(&self) -> HashMap<String, Vec<Value>> {
        self.lock().clone()
    }

    /// Replaces the segments with those of a state file.
    pub fn restore(&self, segments: HashMap<String, Vec<Value>>) {
        *self.lock() = segments;
    }

    /// Forgets every post's segments (the control API's reset).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Routes of the Chatter resources, over the emulator's `chatter`
/// ([`crate::app::AppState::chatter`]).
pub fn router(chatter: Chatter) -> Router<SharedState> {
    let mut r = Router::new();
    for v in crate::bulk::served_versions(crate::rest::OLDEST_API_VERSION) {
        let p = format!("/services/data/v{v}/chatter");
        r = r
            .route(&format!("{p}/feed-elements"), post(create))
            .route(&format!("{p}/feed-elements/batch"), post(batch))
            .route(&format!("{p}/feed-elements/{{id}}"), get(one))
            .route(&format!("{p}/feeds/record/{{record}}/feed-elements"), get(feed));
    }
    r.layer(Extension(chatter))
}

fn not_found() -> SfError {
    SfError::not_found("The requested resource does not exist")
}

fn invalid(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALID_API_INPUT", message).without_fields_key()
}

/// Connect writes datetimes with `Z`: `2026-11-21T15:30:00.000Z`.
fn connect_date(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_str) {
        Some(s) => json!(
            s.strip_suffix("+0000")
                .map_or_else(|| s.to_string(), |t| format!("{t}Z"))
        ),
        None => Value::Null,
    }
}

fn motif(icon: &str) -> Value {
    json!({
        "color": "1797C0",
        "largeIconUrl": format!("/img/icon/{icon}64.png"),
        "mediumIconUrl": format!("/img/icon/{icon}32.png"),
        "smallIconUrl": format!("/img/icon/{icon}16.png"),
        "svgIconUrl": Value::Null,
    })
}

fn text(r: &Record, k: &str) -> Value {
    r.get(k).cloned().unwrap_or(Value::Null)
}

/// A user summary as Connect renders actors, mentions and user parents.
fn user_summary(org: &Org, version: &str, id: &str) -> Value {
    let record = SfId::parse(id)
        .ok()
        .and_then(|i| org.record("User", &i).map(std::borrow::Cow::into_owned));
    let r = record.unwrap_or_default();
    let name = r
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    json!({
        "additionalLabel": Value::Null,
        "communityNickname": text(&r, "CommunityNickname"),
        "companyName": text(&r, "CompanyName"),
        "displayName": name,
        "firstName": text(&r, "FirstName"),
        "id": id,
        "isActive": r.get("IsActive").and_then(Value::as_bool).unwrap_or(true),
        "isInThisCommunity": true,
        "lastName": text(&r, "LastName"),
        "motif": motif("profile"),
        "mySubscription": Value::Null,
        "name": name,
        "outOfOffice": { "message": "" },
        "photo": {
            "fullEmailPhotoUrl": Value::Null,
            "largePhotoUrl": "/profilephoto/005/F",
            "mediumPhotoUrl": "/profilephoto/005/M",
            "photoVersionId": Value::Null,
            "smallPhotoUrl": "/profilephoto/005/T",
            "standardEmailPhotoUrl": Value::Null,
            "url": format!("/services/data/v{version}/chatter/users/{id}/photo"),
        },
        "reputation": Value::Null,
        "title": text(&r, "Title"),
        "type": "User",
        "url": format!("/services/data/v{version}/chatter/users/{id}"),
        "userType": "Internal",
    })
}

/// The `parent` of a feed element: a record summary (or a user summary for a user's feed).
fn parent_summary(org: &Org, version: &str, id: &SfId) -> Value {
    match org.find(id) {
        Some(("User", _)) => user_summary(org, version, id.as_str()),
        Some((object, r)) => json!({
            "id": id,
            "motif": motif(&object.to_ascii_lowercase()),
            "mySubscription": Value::Null,
            "name": r.get("Name").cloned().or_else(|| r.get("CaseNumber").cloned()).unwrap_or(Value::Null),
            "type": object,
            "url": format!("/services/data/v{version}/chatter/records/{id}"),
        }),
        None => Value::Null,
    }
}

/// A feed element as Connect renders a `FeedItem`.
fn render(org: &Org, chatter: &ChatterState, version: &str, item: &Record) -> Value {
    let id = item
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let actor_id = item
        .get("CreatedById")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let actor = user_summary(org, version, actor_id);
    let body_text = item
        .get("Body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let segments = chatter
        .segments
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
        .unwrap_or_else(|| vec![json!({ "text": body_text, "type": "Text" })]);
    let plain: String = segments
        .iter()
        .map(|s| s.get("text").and_then(Value::as_str).unwrap_or_default())
        .collect();
    let parent = item
        .get("ParentId")
        .and_then(Value::as_str)
        .and_then(|p| SfId::parse(p).ok())
        .map_or(Value::Null, |p| parent_summary(org, version, &p));
    let base = format!("/services/data/v{version}/chatter/feed-elements/{id}");
    let actor_name = actor.get("displayName").cloned().unwrap_or(Value::Null);
    json!({
        "actor": actor,
        "body": {
            "isRichText": item.get("IsRichText").and_then(Value::as_bool).unwrap_or(false),
            "messageSegments": segments,
            "text": plain,
        },
        "capabilities": {
            "bookmarks": { "isBookmarkedByCurrentUser": false },
            "chatterLikes": {
                "isLikedByCurrentUser": false,
                "likesMessage": Value::Null,
                "myLike": Value::Null,
                "page": {
                    "currentPageToken": Value::Null,
                    "currentPageUrl": format!("{base}/capabilities/chatter-likes/items"),
                    "items": [],
                    "nextPageToken": Value::Null,
                    "nextPageUrl": Value::Null,
                    "previousPageToken": Value::Null,
                    "previousPageUrl": Value::Null,
                    "total": 0,
                },
            },
            "comments": {
                "page": {
                    "currentPageToken": Value::Null,
                    "currentPageUrl": format!("{base}/capabilities/comments/items"),
                    "items": [],
                    "nextPageToken": Value::Null,
                    "nextPageUrl": Value::Null,
                    "previousPageToken": Value::Null,
                    "previousPageUrl": Value::Null,
                    "total": 0,
                },
            },
            "edit": {
                "editUrl": format!("{base}/capabilities/edit"),
                "isEditRestricted": false,
                "lastEditedBy": Value::Null,
                "lastEditedDate": Value::Null,
                "latestRevision": 1,
                "relativeLastEditedDate": Value::Null,
            },
            "mute": { "isMutedByMe": false },
            "topics": { "canAssignTopics": true, "items": [] },
        },
        "clientInfo": Value::Null,
        "createdDate": connect_date(item.get("CreatedDate")),
        "feedElementType": "FeedItem",
        "hasVerifiedComment": false,
        "header": {
            "isRichText": Value::Null,
            "messageSegments": [{ "text": actor_name, "type": "Text" }],
            "text": actor_name,
        },
        "id": id,
        "isDeleteRestricted": false,
        "isSharable": false,
        "modifiedDate": connect_date(item.get("LastModifiedDate")),
        "originalFeedItem": Value::Null,
        "originalFeedItemActor": Value::Null,
        "parent": parent,
        "photoUrl": "/profilephoto/005/T",
        "relativeCreatedDate": "Just now",
        "type": item.get("Type").cloned().unwrap_or(json!("TextPost")),
        "url": base,
        "visibility": item.get("Visibility").cloned().unwrap_or(json!("InternalUsers")),
    })
}

/// Markup tags Connect accepts in `MarkupBegin` / `MarkupEnd`, and their HTML.
fn html_tag(markup: &str) -> Option<&'static str> {
    Some(match markup {
        "Bold" => "b",
        "Italic" => "i",
        "Underline" => "u",
        "Strikethrough" => "s",
        "Paragraph" => "p",
        "UnorderedList" => "ul",
        "OrderedList" => "ol",
        "ListItem" => "li",
        "Code" => "code",
        _ => return None,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// What a post's input segments become: the output segments, the plain text and, when the post
/// has markup, its HTML body.
struct Posted {
    segments: Vec<Value>,
    plain: String,
    html: Option<String>,
}

fn read_segments(org: &Org, version: &str, input: &[Value]) -> Result<Posted, SfError> {
    let mut segments = Vec::new();
    let mut plain = String::new();
    let mut html = String::new();
    let mut rich = false;
    for seg in input {
        let kind = seg.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "Text" => {
                let t = seg.get("text").and_then(Value::as_str).unwrap_or_default();
                plain.push_str(t);
                html.push_str(&escape(t));
                segments.push(json!({ "text": t, "type": "Text" }));
            }
            "Mention" => {
                let id = seg.get("id").and_then(Value::as_str).unwrap_or_default();
                let user = SfId::parse(id)
                    .ok()
                    .filter(|u| org.record("User", u).is_some())
                    .ok_or_else(|| invalid(format!("Invalid user or group id for mention: {id}")))?;
                let summary = user_summary(org, version, user.as_str());
                let name = summary
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let t = format!("@{name}");
                plain.push_str(&t);
                html.push_str(&escape(&t));
                segments.push(json!({
                    "accessible": true,
                    "name": name,
                    "record": summary,
                    "text": t,
                    "type": "Mention",
                }));
            }
            "Link" => {
                let url = seg.get("url").and_then(Value::as_str).unwrap_or_default();
                if url.is_empty() {
                    return Err(invalid("A Link segment needs a url"));
                }
                plain.push_str(url);
                html.push_str(&escape(url));
                segments.push(json!({ "text": url, "type": "Link", "url": url }));
            }
            "MarkupBegin" | "MarkupEnd" => {
                let markup = seg.get("markupType").and_then(Value::as_str).unwrap_or_default();
                let tag = html_tag(markup).ok_or_else(|| invalid(format!("Invalid markupType: {markup}")))?;
                rich = true;
                let begin = kind == "MarkupBegin";
                html.push_str(&if begin {
                    format!("<{tag}>")
                } else {
                    format!("</{tag}>")
                });
                segments.push(json!({ "htmlTag": tag, "markupType": markup, "text": "", "type": kind }));
            }
            other => return Err(invalid(format!("Invalid message segment type: {other}"))),
        }
    }
    Ok(Posted {
        segments,
        plain,
        html: rich.then_some(html),
    })
}

/// `POST /chatter/feed-elements`.
async fn create(
    State(state): State<SharedState>,
    Extension(chatter): Extension<Chatter>,
    caller: Option<Extension<Caller>>,
    ApiVersion(v): ApiVersion,
    body: Bytes,
) -> Response {
    create_inner(&state, &chatter, caller.as_ref().map(|c| &c.0), &v, &body)
        .unwrap_or_else(IntoResponse::into_response)
}

fn create_inner(
    state: &SharedState,
    chatter: &ChatterState,
    caller: Option<&Caller>,
    v: &str,
    body: &[u8],
) -> Result<Response, SfError> {
    let version = crate::bulk::version(v)?;
    let user = crate::bulk::caller_id(state, caller).ok_or_else(crate::bulk::no_session)?;
    let req = crate::bulk::json_object(body)?;
    let (rendered, id) = post_one(state, chatter, &user, &version, &req)?;
    state.mark_dirty();
    let mut resp = (StatusCode::CREATED, Json(rendered)).into_response();
    if let Ok(loc) =
        axum::http::HeaderValue::from_str(&format!("/services/data/v{version}/chatter/feed-elements/{id}"))
    {
        resp.headers_mut().insert(axum::http::header::LOCATION, loc);
    }
    Ok(resp)
}

/// Posts one Feed Item Input as `user`; the rendered feed item and its id.
fn post_one(
    state: &SharedState,
    chatter: &ChatterState,
    user: &SfId,
    version: &str,
    req: &Map<String, Value>,
) -> Result<(Value, SfId), SfError> {
    let kind = req
        .get("feedElementType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "FeedItem" {
        return Err(invalid(format!(
            "feedElementType: {kind} is not a valid value; use FeedItem"
        )));
    }
    let subject = req
        .get("subjectId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Missing required field: subjectId"))?;
    let input: Vec<Value> = req
        .get("body")
        .and_then(|b| b.get("messageSegments"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if input.is_empty() {
        return Err(invalid("Missing required field: body"));
    }
    let (rendered, id) = {
        let mut org = state.org_write();
        let parent = if subject == "me" {
            user.clone()
        } else {
            SfId::parse(subject).map_err(|_| not_found())?
        };
        let live = org
            .find(&parent)
            .is_some_and(|(_, r)| r.get("IsDeleted").and_then(Value::as_bool) != Some(true));
        if !live {
            return Err(not_found());
        }
        let posted = read_segments(&org, version, &input)?;
        let mut values = Map::new();
        values.insert("ParentId".into(), json!(parent));
        values.insert("Type".into(), json!("TextPost"));
        values.insert(
            "Body".into(),
            json!(posted.html.clone().unwrap_or_else(|| posted.plain.clone())),
        );
        values.insert("IsRichText".into(), json!(posted.html.is_some()));
        let mut tx = Tx::new(&mut org, user.clone());
        let id = match tx.create("FeedItem", &values) {
            Ok(id) => id,
            Err(e) => {
                tx.rollback_to(0);
                return Err(e);
            }
        };
        chatter
            .segments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), posted.segments);
        // Ends the transaction (its changes reach the event bus) before the org is read again.
        drop(tx);
        let item = org
            .record("FeedItem", &id)
            .map(std::borrow::Cow::into_owned)
            .unwrap_or_default();
        (render(&org, chatter, version, &item), id)
    };
    Ok((rendered, id))
}

/// The most feed items one batch may post.
pub const MAX_BATCH: usize = 500;

async fn batch(
    State(state): State<SharedState>,
    Extension(chatter): Extension<Chatter>,
    caller: Option<Extension<Caller>>,
    ApiVersion(v): ApiVersion,
    body: Bytes,
) -> Response {
    batch_inner(&state, &chatter, caller.as_ref().map(|c| &c.0), &v, &body)
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST /chatter/feed-elements/batch`: a Batch Collection Input (`{"inputs": [{"richInput":
/// <Feed Item Input>}]}`) answered 200 with Batch Results — one `{"result", "statusCode"}` per
/// input, in input order; a failed input's `result` is its error list. Only a body that cannot be
/// read at all fails the whole request.
fn batch_inner(
    state: &SharedState,
    chatter: &ChatterState,
    caller: Option<&Caller>,
    v: &str,
    body: &[u8],
) -> Result<Response, SfError> {
    let version = crate::bulk::version(v)?;
    let user = crate::bulk::caller_id(state, caller).ok_or_else(crate::bulk::no_session)?;
    let req = crate::bulk::json_object(body)?;
    let inputs = req
        .get("inputs")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| invalid("Missing required field: inputs"))?;
    if inputs.len() > MAX_BATCH {
        return Err(invalid(format!(
            "inputs: a batch takes at most {MAX_BATCH} inputs, not {}",
            inputs.len()
        )));
    }
    let mut results = Vec::with_capacity(inputs.len());
    let mut has_errors = false;
    for input in inputs {
        let outcome = match input.get("richInput").and_then(Value::as_object) {
            Some(rich) => post_one(state, chatter, &user, &version, rich),
            None => Err(invalid("Missing required field: richInput")),
        };
        results.push(match outcome {
            Ok((rendered, _)) => json!({ "result": rendered, "statusCode": 201 }),
            Err(e) => {
                has_errors = true;
                json!({ "result": [e.to_json()], "statusCode": e.status.as_u16() })
            }
        });
    }
    state.mark_dirty();
    Ok(Json(json!({ "hasErrors": has_errors, "results": results })).into_response())
}

/// `GET /chatter/feed-elements/{id}`.
async fn one(
    State(state): State<SharedState>,
    Extension(chatter): Extension<Chatter>,
    ApiVersion(v): ApiVersion,
    Path(id): Path<String>,
) -> Response {
    let version = match crate::bulk::version(&v) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let org = state.org_read();
    let item = SfId::parse(&id)
        .ok()
        .and_then(|i| org.record("FeedItem", &i))
        .filter(|r| r.get("IsDeleted").and_then(Value::as_bool) != Some(true));
    match item {
        Some(r) => Json(render(&org, &chatter, &version, &r)).into_response(),
        None => not_found().into_response(),
    }
}

/// Paging parameters of a feed.
#[derive(Debug, Default, serde::Deserialize)]
struct FeedParams {
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
    #[serde(rename = "pageToken")]
    page_token: Option<String>,
}

/// `GET /chatter/feeds/record/{recordId}/feed-elements`: newest first.
async fn feed(
    State(state): State<SharedState>,
    Extension(chatter): Extension<Chatter>,
    ApiVersion(v): ApiVersion,
    Path(record): Path<String>,
    Query(p): Query<FeedParams>,
) -> Response {
    feed_inner(&state, &chatter, &v, &record, &p).unwrap_or_else(IntoResponse::into_response)
}

fn feed_inner(
    state: &SharedState,
    chatter: &ChatterState,
    v: &str,
    record: &str,
    p: &FeedParams,
) -> Result<Response, SfError> {
    let version = crate::bulk::version(v)?;
    let size = match p.page_size.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
        Some(_) => {
            return Err(invalid(format!("pageSize must be between 1 and {MAX_PAGE_SIZE}")));
        }
    };
    let start = match p.page_token.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(invalid("Invalid pageToken")),
    };
    let org = state.org_read();
    let parent = SfId::parse(record).map_err(|_| not_found())?;
    if org.find(&parent).is_none() {
        return Err(not_found());
    }
    let items: Vec<&Record> = org
        .data
        .get("FeedItem")
        .into_iter()
        .flat_map(|t| t.values().rev())
        .filter(|r| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
        .filter(|r| r.get("ParentId").and_then(Value::as_str) == Some(parent.as_str()))
        .collect();
    let base = format!("/services/data/v{version}/chatter/feeds/record/{parent}/feed-elements");
    let end = (start + size).min(items.len());
    let elements: Vec<Value> = items
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|r| render(&org, chatter, &version, r))
        .collect();
    let next = (end < items.len()).then(|| end.to_string());
    let current_token = p.page_token.clone();
    Ok(Json(json!({
        "currentPageToken": current_token,
        "currentPageUrl": match &current_token {
            Some(t) => format!("{base}?pageSize={size}&pageToken={t}"),
            None => base.clone(),
        },
        "elements": elements,
        "isModifiedToken": Value::Null,
        "isModifiedUrl": Value::Null,
        "nextPageToken": next,
        "nextPageUrl": next.as_ref().map(|t| format!("{base}?pageSize={size}&pageToken={t}")),
        "updatesToken": Value::Null,
        "updatesUrl": Value::Null,
    }))
    .into_response())
}
