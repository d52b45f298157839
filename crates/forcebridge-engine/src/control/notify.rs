//! Notifications: what the engine tells the vendor's product (`connection.token_expired`,
//! `install.failed`, `event.failed`, …). [`Engine::notify`] writes one durably to the store's
//! outbox together with one delivery per subscribed webhook endpoint of the tenant; the webhook
//! deliverer (`control::webhooks`) sends them, signed, in order per connection.
//!
//! Invariant: a notification is durable when `notify` returns; delivery never blocks or fails
//! the caller's work.

use std::time::Duration;

use forcebridge_store::{ConnectionId, TenantId};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Result;

/// How long a delivery is retried (with backoff) before it is given up: three days.
pub const RETRY_FOR: Duration = Duration::from_secs(3 * 24 * 3600);

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationKind {
    /// A connection's refresh failed (`invalid_grant`): a person must reconnect it; its work is
    /// paused meanwhile.
    #[serde(rename = "connection.token_expired")]
    ConnectionTokenExpired,
    /// A connection's token was revoked (by the user, an admin, or Salesforce).
    #[serde(rename = "connection.revoked")]
    ConnectionRevoked,
    /// A connection works again (reconnected or refreshed); its paused work resumes.
    #[serde(rename = "connection.restored")]
    ConnectionRestored,
    /// An install's provisioning plan was applied.
    #[serde(rename = "install.provisioned")]
    InstallProvisioned,
    /// An install's provisioning failed.
    #[serde(rename = "install.failed")]
    InstallFailed,
    /// An event's delivery was dead-lettered.
    #[serde(rename = "event.failed")]
    EventFailed,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [NotificationKind; 6] = [
        NotificationKind::ConnectionTokenExpired,
        NotificationKind::ConnectionRevoked,
        NotificationKind::ConnectionRestored,
        NotificationKind::InstallProvisioned,
        NotificationKind::InstallFailed,
        NotificationKind::EventFailed,
    ];

    /// The wire name (`connection.token_expired`).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::ConnectionTokenExpired => "connection.token_expired",
            NotificationKind::ConnectionRevoked => "connection.revoked",
            NotificationKind::ConnectionRestored => "connection.restored",
            NotificationKind::InstallProvisioned => "install.provisioned",
            NotificationKind::InstallFailed => "install.failed",
            NotificationKind::EventFailed => "event.failed",
        }
    }

    /// The kind with this wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Engine {
    /// Raise a notification for `tenant`: written to the outbox with its webhook deliveries in
    /// one transaction (durable when this returns); `connection` orders deliveries per
    /// connection.
    ///
    /// # Errors
    /// The store's errors (the database is unreachable).
    pub async fn notify(
        &self,
        tenant: &TenantId,
        kind: NotificationKind,
        connection: Option<&ConnectionId>,
        data: serde_json::Value,
    ) -> Result<()> {
        let (id, deliveries) = self
            .store()
            .record_notification(tenant, kind.as_str(), connection, &data, RETRY_FOR)
            .await?;
        tracing::info!(tenant = %tenant, kind = kind.as_str(), notification = id, deliveries, "notification raised");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_wire_names() {
        for k in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.as_str()));
        }
        assert_eq!(NotificationKind::parse("connection.exploded"), None);
    }
}
