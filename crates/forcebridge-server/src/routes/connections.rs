//! Connections: list, create server-to-server (client credentials, JWT bearer, password +
//! security token), start the web-server OAuth flow, read, rename, grant, refresh, remove and the
//! access doctor. Callers: a key with the `connections` scope (acts for any user, names the
//! owner by email) or a session (a member sees and changes only their own connections and uses
//! those granted to them; an admin manages all, and alone creates shared ones).
//!
//! Invariant: every lookup goes through the caller's tenant, and a member's view of another
//! user's connection is "not found", exactly like another tenant's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use forcebridge_engine::control::connections::{Ownership, ServerToServer};
use forcebridge_engine::control::oauth::OAuthRequest;
use forcebridge_salesforce::doctor::{AccessReport, FieldNeed, ObjectNeed, Operation, Requirements};
use forcebridge_store::{Connection, ConnectionId, Environment, Owner, Role, Scope, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A connection as the API shows it (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// `{"kind": "production" | "sandbox"}` or `{"kind": "my_domain", "url": …}`.
    #[schema(value_type = Object)]
    pub environment: Environment,
    /// `oauth_web_server`, `client_credentials`, `jwt_bearer` or `password`.
    pub auth_method: String,
    /// `{"kind": "personal", "user_id"}` or `{"kind": "shared", "admin_id", "users"}`.
    #[schema(value_type = Object)]
    pub owner: Owner,
    /// `active`, `token_expired`, `revoked` or `error`.
    pub status: String,
    /// Why, in words, for anything but `active`.
    pub status_reason: Option<String>,
    /// When the status was set.
    pub status_at: DateTime<Utc>,
    /// The Salesforce org id, once known.
    pub org_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            id: c.id.to_string(),
            label: c.label,
            environment: c.environment,
            auth_method: c.auth_method.as_str().to_owned(),
            owner: c.owner,
            status: c.status.as_str().to_owned(),
            status_reason: c.status_reason,
            status_at: c.status_at,
            org_id: c.org_id,
            created_at: c.created_at,
        }
    }
}

/// Create a server-to-server connection.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConnection {
    /// Label (1–200 characters).
    pub label: String,
    /// Where to sign in (client credentials needs `my_domain`).
    #[schema(value_type = Object)]
    pub environment: Environment,
    /// `{"method": "client_credentials", "client_id", "client_secret"}`,
    /// `{"method": "jwt_bearer", "client_id", "username", "private_key_pem"}` or
    /// `{"method": "password", "client_id", "client_secret", "username", "password", "security_token"?}`.
    #[schema(value_type = Object)]
    pub auth: ServerToServer,
    /// Keys only: the owning user's email (sessions own what they create).
    #[serde(default)]
    pub owner_email: Option<String>,
    /// Make it a shared connection granted to these user ids (admins only).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub shared_with: Option<Vec<UserId>>,
    /// The integration (recipe) the connection is for; its connection policy applies (auth
    /// methods, environments, personal/shared, per-owner limit). Default: the session's recipe.
    #[serde(default)]
    pub recipe: Option<String>,
}

/// Start the web-server OAuth flow (sessions only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartOAuth {
    /// Label of the connection it will create.
    pub label: String,
    /// Where to sign in.
    #[schema(value_type = Object)]
    pub environment: Environment,
    /// Make it shared with these user ids (admins only).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub shared_with: Option<Vec<UserId>>,
    /// The integration (recipe) the connection is for; its connection policy applies. Default:
    /// the session's recipe.
    #[serde(default)]
    pub recipe: Option<String>,
}

/// Where to send the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeUrl {
    /// Open this in a popup; Salesforce's consent page redirects back to the callback.
    pub authorize_url: String,
}

/// A change of label.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new label.
    pub label: String,
}

/// Who may use a shared connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// User ids (replaces the list).
    #[schema(value_type = Vec<String>)]
    pub users: Vec<UserId>,
}

/// One object the integration needs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectCheck {
    /// The sObject (`Lead`).
    pub name: String,
    /// `read`, `create`, `update`, `delete`.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Fields read.
    #[serde(default)]
    pub read_fields: Vec<String>,
    /// Fields written.
    #[serde(default)]
    pub edit_fields: Vec<String>,
    /// Fields matched on as external ids.
    #[serde(default)]
    pub external_ids: Vec<String>,
}

/// What to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoctorRequest {
    /// The objects.
    pub objects: Vec<ObjectCheck>,
}

fn parse_id(id: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(id).map_err(|_| ApiError::not_found("connection"))
}

/// Whether the caller may see `c`.
pub(crate) fn visible(caller: &Caller, c: &Connection) -> bool {
    match caller.restricted_to() {
        None => true,
        Some(u) => match &c.owner {
            Owner::Personal { user_id } => user_id == u,
            Owner::Shared { admin_id, users } => admin_id == u || users.contains(u),
        },
    }
}

/// Whether the caller may change `c` (members: only their personal ones).
pub(crate) fn changeable(caller: &Caller, c: &Connection) -> bool {
    match caller.restricted_to() {
        None => true,
        Some(u) => matches!(&c.owner, Owner::Personal { user_id } if user_id == u),
    }
}

async fn load(state: &AppState, caller: &Caller, id: &str, change: bool) -> ApiResult<Connection> {
    caller.key_or_session(Scope::Connections)?;
    let id = parse_id(id)?;
    let c = state.engine.connection(caller.tenant(), &id).await?;
    if !visible(caller, &c) {
        return Err(ApiError::not_found("connection"));
    }
    if change && !changeable(caller, &c) {
        return Err(ApiError::forbidden(
            "a member may change only their own personal connections; ask a tenant admin",
        ));
    }
    Ok(c)
}

/// The connections the caller may see.
#[utoipa::path(get, path = "/v1/connections", tag = "connections", security(("tenant_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<ConnectionView>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ConnectionView>>> {
    caller.key_or_session(Scope::Connections)?;
    let all = state
        .engine
        .list_connections(caller.tenant(), caller.restricted_to())
        .await?;
    Ok(Json(all.into_iter().map(ConnectionView::from).collect()))
}

/// Create a server-to-server connection; it signs in once first, so bad credentials fail here.
#[utoipa::path(post, path = "/v1/connections", tag = "connections", request_body = NewConnection,
    security(("tenant_key" = []), ("session" = [])),
    responses((status = 201, body = ConnectionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewConnection>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    caller.key_or_session(Scope::Connections)?;
    let tenant = caller.tenant().clone();
    let (user, role) = match (&caller, &body.owner_email) {
        (Caller::Session(s), None) => (s.user_id.clone(), s.role),
        (Caller::Session(_), Some(_)) => {
            return Err(ApiError::invalid(
                "owner_email",
                "a session owns what it creates; leave owner_email out",
            ));
        }
        (Caller::Key { .. }, Some(email)) => {
            let store = state.engine.store();
            let u = match store
                .list_users(&tenant)
                .await?
                .into_iter()
                .find(|u| &u.email == email)
            {
                Some(u) => u,
                None => store
                    .upsert_user(&tenant, email, Role::Member, &caller.actor())
                    .await
                    .map_err(|e| ApiError::invalid("owner_email", e.to_string()))?,
            };
            (u.id, u.role)
        }
        (Caller::Key { .. }, None) => {
            return Err(ApiError::invalid(
                "owner_email",
                "owner_email is required when an API key creates a connection",
            ));
        }
    };
    let owner = match body.shared_with {
        Some(users) => {
            if role != Role::Admin {
                return Err(ApiError::invalid(
                    "shared_with",
                    "only a tenant admin may own a shared connection",
                ));
            }
            Ownership::Shared { admin: user, users }
        }
        None => Ownership::Personal(user),
    };
    let recipe = match (&body.recipe, &caller) {
        (Some(r), _) => Some(r.clone()),
        (None, Caller::Session(s)) => s.recipe.clone(),
        (None, Caller::Key { .. }) => None,
    };
    let c = state
        .engine
        .connect_server_to_server_for(
            &tenant,
            recipe.as_deref(),
            &body.label,
            body.environment,
            body.auth,
            owner,
            &caller.actor(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Start the web-server OAuth flow for the session's user; returns the authorize URL.
#[utoipa::path(post, path = "/v1/connections/oauth", tag = "connections", request_body = StartOAuth,
    security(("session" = [])),
    responses((status = 200, body = AuthorizeUrl), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start_oauth(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<StartOAuth>,
) -> ApiResult<Json<AuthorizeUrl>> {
    let Caller::Session(session) = &caller else {
        return Err(ApiError::forbidden(
            "the OAuth flow belongs to a person: call this with a session token minted for them",
        ));
    };
    let app = state.config.oauth_app.as_ref().ok_or_else(|| {
        ApiError::forbidden(
            "the web-server OAuth flow is not configured on this server ([oauth] in the config)",
        )
    })?;
    let url = state
        .engine
        .start_oauth(
            session,
            app,
            OAuthRequest {
                label: body.label,
                environment: body.environment,
                shared_with: body.shared_with,
                recipe: body.recipe,
            },
        )
        .await?;
    Ok(Json(AuthorizeUrl { authorize_url: url }))
}

/// One connection.
#[utoipa::path(get, path = "/v1/connections/{connection_id}", tag = "connections", security(("tenant_key" = []), ("session" = [])),
    params(("connection_id" = String, Path)), responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(load(&state, &caller, &id, false).await?.into()))
}

/// Rename a connection.
#[utoipa::path(patch, path = "/v1/connections/{connection_id}", tag = "connections", request_body = Rename,
    security(("tenant_key" = []), ("session" = [])), params(("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> ApiResult<Json<ConnectionView>> {
    let c = load(&state, &caller, &id, true).await?;
    let c = state
        .engine
        .rename_connection(caller.tenant(), &c.id, &body.label, &caller.actor())
        .await?;
    Ok(Json(c.into()))
}

/// Remove a connection: its token is revoked at Salesforce, then it is deleted with its installs.
#[utoipa::path(delete, path = "/v1/connections/{connection_id}", tag = "connections",
    security(("tenant_key" = []), ("session" = [])), params(("connection_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let c = load(&state, &caller, &id, true).await?;
    state
        .engine
        .remove_connection(caller.tenant(), &c.id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-test access and renew the session; the status says how it went.
#[utoipa::path(post, path = "/v1/connections/{connection_id}/refresh", tag = "connections",
    security(("tenant_key" = []), ("session" = [])), params(("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let c = load(&state, &caller, &id, false).await?;
    let c = state
        .engine
        .refresh_connection(caller.tenant(), &c.id, &caller.actor())
        .await?;
    Ok(Json(c.into()))
}

/// Grant a shared connection to users (admins and keys).
#[utoipa::path(put, path = "/v1/connections/{connection_id}/grants", tag = "connections", request_body = Grants,
    security(("tenant_key" = []), ("session" = [])), params(("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Grants>,
) -> ApiResult<Json<ConnectionView>> {
    let c = load(&state, &caller, &id, false).await?;
    if caller.restricted_to().is_some() {
        return Err(ApiError::forbidden(
            "only a tenant admin may grant a shared connection",
        ));
    }
    let c = state
        .engine
        .grant_connection(caller.tenant(), &c.id, &body.users, &caller.actor())
        .await
        .map_err(|e| match e.kind() {
            forcebridge_engine::ErrorKind::Invalid | forcebridge_engine::ErrorKind::NotFound => {
                ApiError::invalid("users", e.to_string())
            }
            _ => e.into(),
        })?;
    Ok(Json(c.into()))
}

/// The access doctor: what the connection's user lacks for these objects and fields, with remedies.
#[utoipa::path(post, path = "/v1/connections/{connection_id}/doctor", tag = "connections", request_body = DoctorRequest,
    security(("tenant_key" = []), ("session" = [])), params(("connection_id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn doctor(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DoctorRequest>,
) -> ApiResult<Json<AccessReport>> {
    let c = load(&state, &caller, &id, false).await?;
    let mut needs = Requirements::default();
    for (i, o) in body.objects.into_iter().enumerate() {
        let operations = o
            .operations
            .iter()
            .enumerate()
            .map(|(j, op)| match op.as_str() {
                "read" => Ok(Operation::Read),
                "create" => Ok(Operation::Create),
                "update" => Ok(Operation::Update),
                "delete" => Ok(Operation::Delete),
                other => Err(ApiError::invalid(
                    format!("objects[{i}].operations[{j}]"),
                    format!("unknown operation {other:?}; expected read, create, update or delete"),
                )),
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let mut fields: Vec<FieldNeed> = o.read_fields.iter().map(|f| FieldNeed::read(f)).collect();
        fields.extend(o.edit_fields.iter().map(|f| FieldNeed::edit(f)));
        fields.extend(o.external_ids.iter().map(|f| FieldNeed::external_id(f)));
        needs.objects.push(ObjectNeed {
            name: o.name,
            operations,
            fields,
        });
    }
    let report = state
        .engine
        .doctor(caller.tenant(), &c.id, &needs, &caller.actor())
        .await?;
    Ok(Json(report))
}

/// The connection routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(start_oauth))
        .routes(routes!(get, rename, remove))
        .routes(routes!(refresh))
        .routes(routes!(grant))
        .routes(routes!(doctor))
}
