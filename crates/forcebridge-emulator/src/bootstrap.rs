//! The org a fresh emulator starts with: standard schema, the organization record, profiles, an
//! administrator, and the default connected app (being built).

use crate::config::EmulatorConfig;
use crate::ids::SfId;
use crate::org::{ApiUsage, AuthState, Org, OrgInfo};

/// A new org for this configuration.
pub fn default_org(config: &EmulatorConfig) -> Org {
    Org {
        info: OrgInfo {
            id: SfId::generate("00D", "5g", 1),
            name: "forcebridge emulator".into(),
            pod: "5g".into(),
        },
        schema: crate::schema::standard::schema(),
        data: Default::default(),
        next_id: 1000,
        auth: AuthState::default(),
        usage: ApiUsage {
            daily_api_requests_max: config.daily_api_requests,
            daily_api_requests_used: 0,
        },
    }
}
