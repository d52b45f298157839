//! The outbound runtime: events in, Salesforce writes out, exactly once.
//!
//! `ingest` makes events durable (with their deliveries, one per install whose recipe handles the
//! event type) before it returns; a per-connection drain job leases due deliveries in batches and
//! runs each flow set-at-a-time; every write is journaled; undo reverts from the journal.
//!
//! Invariant: at most one drain runs per connection at a time (the queue's concurrency group), so
//! the deliveries of one connection are applied in order and a batch sees every earlier write.
