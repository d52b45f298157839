//! Shared state of a running emulator and the composition of its routes.
//!
//! Invariant: the org is behind one `RwLock`; handlers hold it only for in-memory work, never
//! across an `.await`, so a slow client cannot stall others. When both locks are needed, `org` is
//! taken before `runtime`, always, so the two can never deadlock.

use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;

use crate::config::EmulatorConfig;
use crate::org::Org;

tokio::task_local! {
    /// The URL the current request reached its org through (a My Domain host, a path prefix),
    /// set by [`crate::orgs`] around the org's handlers.
    pub static PUBLIC_URL: String;
}

/// Everything a handler can reach: one org and what belongs to it.
#[derive(Debug)]
pub struct AppState {
    pub config: EmulatorConfig,
    /// Which org of the emulator this is.
    pub identity: crate::orgs::OrgIdentity,
    /// The org's own instance URL (`http(s)://host:port`, with `/orgs/<name>` after the first
    /// org), resolvable by every client. Handlers use [`AppState::public_url`].
    pub base_url: String,
    pub org: RwLock<Org>,
    /// Runtime-only state: fault injection, request log. Not persisted.
    pub runtime: Mutex<crate::control::Runtime>,
    /// Signalled after every mutation of `org`, so the persister writes the state file.
    pub dirty: tokio::sync::Notify,
    /// Bulk API 2.0 jobs and meters (written to the state file beside the org).
    pub bulk: crate::bulk::Bulk,
    /// Chatter message segments (written to the state file beside the org).
    pub chatter: crate::chatter::Chatter,
    /// The concurrent long-running request limit (runtime only).
    pub long_running: crate::longrun::Meter,
    /// Streaming API clients and stream faults (runtime only).
    pub streams: crate::streaming::Streams,
}

impl AppState {
    /// The state of one org: `loaded` from its state file, or a fresh org.
    pub fn new(
        config: EmulatorConfig,
        identity: crate::orgs::OrgIdentity,
        base_url: String,
        loaded: Option<crate::persist::Loaded>,
    ) -> Self {
        let (org, bulk, chatter) = match loaded {
            Some(l) => (l.org, l.bulk, l.chatter),
            None => (crate::bootstrap::org_for(&config, &identity), None, None),
        };
        let bulk_state = Arc::new(crate::bulk::BulkState::default());
        if let Some(saved) = bulk {
            saved.restore(&bulk_state);
        }
        let chatter_state = Arc::new(crate::chatter::ChatterState::default());
        if let Some(segments) = chatter {
            chatter_state.restore(segments);
        }
        AppState {
            config,
            identity,
            base_url,
            org: RwLock::new(org),
            runtime: Mutex::new(crate::control::Runtime::default()),
            dirty: tokio::sync::Notify::new(),
            bulk: bulk_state,
            chatter: chatter_state,
            long_running: crate::longrun::Meter::default(),
            streams: crate::streaming::Streams::default(),
        }
    }

    /// The URL this org is reached by in the current request (its My Domain host or path
    /// prefix as the client used it), else its own instance URL. URLs the org hands out
    /// (`instance_url`, identity URLs, SOAP `serverUrl`) start with it.
    pub fn public_url(&self) -> String {
        PUBLIC_URL
            .try_with(Clone::clone)
            .unwrap_or_else(|_| self.base_url.clone())
    }

    /// Reads the org. A handler that panicked while holding the lock leaves the org as it was at
    /// that moment; serving it is better than failing every later request, so poison is ignored.
    pub fn org_read(&self) -> RwLockReadGuard<'_, Org> {
        self.org.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes the org (see [`AppState::org_read`] about poison). Call [`AppState::mark_dirty`]
    /// after the change.
    pub fn org_write(&self) -> RwLockWriteGuard<'_, Org> {
        self.org.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The runtime-only state (faults, request log, authorization codes).
    pub fn runtime(&self) -> MutexGuard<'_, crate::control::Runtime> {
        self.runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the persister the org changed.
    pub fn mark_dirty(&self) {
        self.dirty.notify_one();
    }
}

pub type SharedState = Arc<AppState>;

/// All routes of the emulator, wrapped in [`crate::middleware::track`].
///
/// The routes sit behind an outer router's fallback so that the middleware also sees requests no
/// route matches: an unknown `/services/data/v66.0/...` path must still answer 401 without a
/// session (as Salesforce does) and be logged, whatever fallback the inner routers define.
pub fn router(state: SharedState) -> Router {
    let inner = Router::new()
        .merge(crate::oauth::router())
        .merge(crate::soap::router())
        .merge(crate::rest::router())
        .merge(crate::metadata::router())
        .merge(crate::tooling::router())
        .merge(crate::bulk::router(state.bulk.clone()))
        .merge(crate::chatter::router(state.chatter.clone()))
        .merge(crate::control::router())
        .merge(crate::streaming::router())
        .fallback(not_found)
        .with_state(state.clone());
    Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::middleware::track,
        ))
}

/// Salesforce's answer for a path no API serves: 404 with the `NOT_FOUND` error array (never an
/// empty body, which clients cannot parse).
async fn not_found() -> crate::rest::Reply {
    crate::error::SfError::no_resource().into()
}
