//! Schema provisioning (being written).
