//! The Streaming API: Bayeux (CometD) long polling at `/cometd/<version>`, serving PushTopic
//! channels (`/topic/<Name>`) and change events (`/data/ChangeEvents`,
//! `/data/<Object>ChangeEvent`) from the org's event bus.
//!
//! Invariants: every message is checked against the caller's session (`Authorization: OAuth` or
//! `Bearer`) — an expired or unknown token answers `401::Authentication invalid`, an unknown
//! client id `403::Unknown client`, both with advice to re-handshake; a subscription's cursor
//! only moves forward, past events it has delivered or skipped, so a connected client sees each
//! matching event once and in replay-id order; clients live in runtime state only (a restart
//! forgets them, as a server restart makes Salesforce's clients re-handshake).

pub mod cdc;
pub mod cometd;
pub mod tooling;
pub mod topic;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use indexmap::IndexMap;

use crate::ids::SfId;

/// One CometD client (a successful handshake).
#[derive(Debug, Clone)]
pub struct Client {
    pub access_token: String,
    pub user: SfId,
    /// Subscribed channels and the replay id each has delivered up to.
    pub subscriptions: IndexMap<String, u64>,
    /// When the client last sent a message: a client silent for [`CLIENT_IDLE`] is forgotten.
    pub last_seen: std::time::Instant,
}

/// How long a CometD client may send nothing before the server forgets it (Salesforce drops a
/// client that has not reconnected within about 40 seconds of its last long poll; the emulator
/// is more lenient, so a paused debugger does not lose its subscription).
pub const CLIENT_IDLE: std::time::Duration = std::time::Duration::from_secs(300);

/// Runtime state of the streaming APIs: CometD clients and the switches faults flip.
#[derive(Debug, Default)]
pub struct Streams {
    clients: Mutex<HashMap<String, Client>>,
    /// Wakes every waiting long poll and Pub/Sub stream (a fault dropped clients, or the
    /// emulator is stopping).
    pub kick: tokio::sync::Notify,
    /// Bumped by the "drop subscribers" fault: a Pub/Sub stream opened under an older epoch ends.
    pub drop_epoch: std::sync::atomic::AtomicU64,
    /// Set when the emulator stops: long polls answer at once.
    pub closing: std::sync::atomic::AtomicBool,
}

impl Streams {
    /// The CometD clients.
    pub fn clients(&self) -> MutexGuard<'_, HashMap<String, Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets clients silent for longer than [`CLIENT_IDLE`].
    pub fn forget_idle(&self) {
        self.clients().retain(|_, c| c.last_seen.elapsed() < CLIENT_IDLE);
    }

    /// Forgets every CometD client and ends every Pub/Sub stream (a control-API fault); returns
    /// how many CometD clients there were.
    pub fn drop_all(&self) -> usize {
        let n = {
            let mut clients = self.clients();
            let n = clients.len();
            clients.clear();
            n
        };
        self.drop_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.kick.notify_waiters();
        n
    }

    /// Makes every waiting request answer now; called when the emulator stops.
    pub fn close(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        self.kick.notify_waiters();
    }

    /// Resolves once the emulator is stopping.
    pub async fn closed(&self) {
        loop {
            let kicked = self.kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            if self.is_closing() {
                return;
            }
            kicked.await;
        }
    }

    /// Whether the emulator is stopping.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Routes of the Streaming API.
pub fn router() -> axum::Router<crate::app::SharedState> {
    use axum::routing::{delete, post};
    let mut r = axum::Router::new()
        .route("/cometd/{version}", post(cometd::handle))
        .route("/cometd/{version}/", post(cometd::handle))
        .route("/cometd/{version}/{*kind}", post(cometd::handle_typed));
    // One set per served version, as the Tooling API's own routes are.
    let latest: u32 = crate::config::LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(crate::rest::OLDEST_API_VERSION);
    for v in crate::rest::OLDEST_API_VERSION..=latest {
        let p = format!("/services/data/v{v}.0/tooling/sobjects");
        r = r
            .route(
                &format!("{p}/PlatformEventChannelMember"),
                post(tooling::create_member),
            )
            .route(
                &format!("{p}/PlatformEventChannelMember/{{id}}"),
                delete(tooling::delete_member),
            )
            .route(&format!("{p}/PushTopic"), post(tooling::create_push_topic));
    }
    r
}
