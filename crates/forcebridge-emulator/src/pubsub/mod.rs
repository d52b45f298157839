//! The Pub/Sub API (`eventbus.v1.PubSub` over gRPC, HTTP/2) on its own port, as Salesforce's is:
//! `GetTopic`, `GetSchema`, `Subscribe` (pull-based, `num_requested` flow control) over the
//! org's change events, as Avro datums.
//!
//! Invariants: every call carries a live session in the `accesstoken` metadata and the org's id
//! in `tenantid`, or fails `UNAUTHENTICATED` with the `error-code` trailer
//! `sfdc.platform.eventbus.grpc.service.auth.error`; a subscription never has more events in
//! flight than requested (at most 100 a request); every event's payload is a datum of the schema
//! whose id it carries, and that id resolves through `GetSchema`.

pub mod avro;
pub mod server;
mod service;

/// The generated `eventbus.v1` messages and server.
#[allow(missing_docs, missing_debug_implementations, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("eventbus.v1");
}

pub use service::PubSubService;
