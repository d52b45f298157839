//! forcebridge's Salesforce client: sign-in flows, REST, SOQL streams, sObject Collections,
//! Composite, Chatter, Bulk API 2.0, schema provisioning through the Metadata API, API limits, an
//! access check ("doctor"), and real-time subscriptions (Streaming API, Pub/Sub API).
//!
//! Start with [`ClientBuilder`] (how to sign in, where, which CA to trust), then call the methods
//! on [`Client`]. Every failure is an [`Error`] whose [`Error::kind`] says what to do about it.
//!
//! Invariant: this crate knows nothing of storage, of forcebridge's own API or of the emulator's
//! code; tokens leave it only through the caller's [`auth::TokenStore`].

pub mod auth;
pub mod bulk;
pub mod chatter;
pub mod client;
pub mod collections;
pub mod composite;
pub mod doctor;
pub mod error;
pub mod http;
pub mod limits;
pub mod metadata;
pub mod query;
pub mod rest;
pub mod retry;
pub mod stream;
pub mod types;

pub use auth::{AuthConfig, Credentials, MemoryTokenStore, TokenSet, TokenStore};
pub use client::{Client, ClientBuilder};
pub use error::{ApiErrorDetail, Error, ErrorKind, Result};
pub use http::HttpConfig;
pub use limits::{ApiBudget, Decision};
pub use retry::RetryPolicy;
pub use stream::{MemoryReplayStore, ReplayId, ReplayStore, StartAt, StreamItem};
pub use types::{ApiVersion, InstanceUrl, LoginHost, RecordId, UrlPolicy};
