//! Bulk API 2.0 (being written).
