//! Access check (being written).
