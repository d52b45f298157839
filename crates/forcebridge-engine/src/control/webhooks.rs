//! Webhook delivery: the notifications in the outbox sent to each tenant's endpoints, signed,
//! retried with backoff for three days, in order per connection, with an attempt log.
//!
//! The signature header is `Forcebridge-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is
//! HMAC-SHA256 with the endpoint's secret over `"<t>.<body>"` ([`sign`]); receivers recompute it
//! and refuse timestamps outside their replay window (docs/server.md).
//!
//! Invariant: a delivery is marked delivered only after a 2xx answer, and a connection's later
//! notification is never sent before an earlier one was delivered or given up.

use std::time::{Duration, Instant};

use forcebridge_store::{AttemptOutcome, DueWebhook};
use hmac::{Hmac, Mac as _};
use secrecy::ExposeSecret as _;
use sha2::Sha256;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Forcebridge-Signature";

/// `v1=` of the signature header: hex HMAC-SHA256 of `"{timestamp}.{body}"` with `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail; fall back to an empty tag if it did.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The wait before attempt `attempts + 1`: 10 s doubling to at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 10u64.saturating_mul(1u64 << attempts.min(12));
    Duration::from_secs(secs.min(3600))
}

/// How the deliverer behaves.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliveries leased per round.
    pub batch: u32,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// How long a leased delivery is held before another node may take it.
    pub lease_for: Duration,
    /// Idle wait between rounds when nothing was due.
    pub idle: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            batch: 50,
            timeout: Duration::from_secs(10),
            lease_for: Duration::from_secs(60),
            idle: Duration::from_millis(500),
        }
    }
}

impl Engine {
    /// One round: lease the due deliveries and send each; returns how many were attempted.
    ///
    /// # Errors
    /// The store's errors (a receiver's failure is an attempt, not an error).
    pub async fn deliver_webhooks_once(&self, cfg: &WebhookConfig, http: &reqwest::Client) -> Result<usize> {
        let due = self
            .store()
            .lease_webhook_deliveries(cfg.batch, cfg.lease_for)
            .await?;
        let n = due.len();
        for d in due {
            let outcome = self.send_webhook(&d, cfg, http).await;
            self.store()
                .record_webhook_attempt(d.delivery.id, &outcome)
                .await?;
        }
        Ok(n)
    }

    async fn send_webhook(
        &self,
        d: &DueWebhook,
        cfg: &WebhookConfig,
        http: &reqwest::Client,
    ) -> AttemptOutcome {
        let body = serde_json::json!({
            "id": format!("ntf_{}", d.notification.id),
            "type": d.notification.kind,
            "created_at": d.notification.created_at,
            "tenant_id": d.notification.tenant_id,
            "connection_id": d.notification.connection_id,
            "data": d.notification.data,
        })
        .to_string();
        let now = self.clock().now();
        let ts = now.timestamp();
        let sig = sign(d.secret.expose_secret(), ts, body.as_bytes());
        let started = Instant::now();
        let resp = http
            .post(&d.url)
            .timeout(cfg.timeout)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, format!("t={ts},v1={sig}"))
            .header("Forcebridge-Delivery", d.delivery.id.to_string())
            .header("Forcebridge-Event", d.notification.kind.as_str())
            .body(body)
            .send()
            .await;
        let duration = started.elapsed();
        let retry_at =
            Some(now + chrono::Duration::from_std(backoff(d.delivery.attempts)).unwrap_or_default());
        match resp {
            Ok(r) if r.status().is_success() => AttemptOutcome {
                delivered: true,
                status: Some(r.status().as_u16()),
                error: None,
                duration,
                retry_at: None,
            },
            Ok(r) => AttemptOutcome {
                delivered: false,
                status: Some(r.status().as_u16()),
                error: Some(format!("the receiver answered {}", r.status())),
                duration,
                retry_at,
            },
            Err(e) => AttemptOutcome {
                delivered: false,
                status: None,
                error: Some(format!("could not reach the receiver: {}", without_url(&e))),
                duration,
                retry_at,
            },
        }
    }

    /// Deliver webhooks until `shutdown` turns true (the server's background task).
    pub fn spawn_webhook_deliverer(
        &self,
        cfg: WebhookConfig,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let http = match engine.config().http.build() {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(error = %Error::from(e), "webhook deliverer could not start");
                    return;
                }
            };
            loop {
                if *shutdown.borrow() {
                    return;
                }
                let sent = match engine.deliver_webhooks_once(&cfg, &http).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook delivery round failed");
                        0
                    }
                };
                if sent == 0 {
                    tokio::select! {
                        _ = shutdown.changed() => {}
                        () = engine.clock().sleep(cfg.idle) => {}
                    }
                }
            }
        })
    }
}

/// A transport error in words without its URL (which may carry a token in its query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection refused or unreachable"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2 checks HMAC itself; here the framing: "t.body".
        let a = sign("whsec_x", 1_700_000_000, b"{}");
        assert_eq!(a.len(), 64);
        assert_eq!(a, sign("whsec_x", 1_700_000_000, b"{}"));
        assert_ne!(a, sign("whsec_x", 1_700_000_001, b"{}"));
        assert_ne!(a, sign("whsec_y", 1_700_000_000, b"{}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_x").unwrap();
        mac.update(b"1700000000.{}");
        assert_eq!(a, hex::encode(mac.finalize().into_bytes()));
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(10));
        assert_eq!(backoff(1), Duration::from_secs(20));
        assert_eq!(backoff(20), Duration::from_secs(3600));
    }
}
