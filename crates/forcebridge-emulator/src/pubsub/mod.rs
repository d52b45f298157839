//! The Pub/Sub API (`eventbus.v1.PubSub` over gRPC): change events of the org's event bus as
//! Avro datums.
//!
//! Invariant: a topic name is `/data/ChangeEvents` or `/data/<Object>ChangeEvent` of an object
//! selected for Change Data Capture; every event's payload is a datum of the schema whose id it
//! carries, and that id always resolves through `GetSchema`.

pub mod avro;
