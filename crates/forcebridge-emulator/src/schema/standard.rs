//! The standard objects integrations touch, with describe metadata as Salesforce reports it
//! (being built).

use super::Schema;

/// The standard schema of a new org.
pub fn schema() -> Schema {
    Schema::default()
}
