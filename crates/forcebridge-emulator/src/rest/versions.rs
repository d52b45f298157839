//! `GET /services/data` (the versions the emulator answers) and `GET /services/data/vXX.X` (the
//! resources of one version).
//!
//! Invariant: the list runs from 31.0 to `LATEST_API_VERSION` with Salesforce's release labels
//! (three releases a year: Spring, Summer, Winter — Winter named after the following year).

use axum::extract::State;
use serde_json::{Map, Value, json};

use super::{Ctx, OLDEST_API_VERSION, Reply};
use crate::app::SharedState;
use crate::org::Org;

/// The release label of an API version: 31.0 is Summer '14, 32.0 Winter '15, 33.0 Spring '15, ...
pub fn label(major: u32) -> String {
    let k = major.saturating_sub(OLDEST_API_VERSION);
    let year = 14 + k / 3 + u32::from(!k.is_multiple_of(3));
    let season = match k % 3 {
        0 => "Summer",
        1 => "Winter",
        _ => "Spring",
    };
    format!("{season} '{year:02}")
}

/// Every version served, oldest first.
pub fn all() -> Vec<Value> {
    let latest: u32 = crate::config::LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(OLDEST_API_VERSION);
    (OLDEST_API_VERSION..=latest)
        .map(|v| {
            json!({
                "label": label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect()
}

/// `GET /services/data`.
pub async fn list(State(_state): State<SharedState>) -> Reply {
    Reply::ok(Value::Array(all()))
}

/// `GET /services/data/vXX.X`: the resources this version offers.
pub fn resources(ctx: &Ctx<'_>, org: &Org) -> Reply {
    let prefix = ctx.prefix();
    let mut map = Map::new();
    for name in [
        "tooling",
        "metadata",
        "chatter",
        "composite",
        "jobs",
        "limits",
        "query",
        "queryAll",
        "sobjects",
    ] {
        map.insert(name.into(), Value::String(format!("{prefix}/{name}")));
    }
    map.insert(
        "identity".into(),
        Value::String(format!("{}/id/{}/{}", ctx.base_url, org.info.id, ctx.user)),
    );
    map.sort_keys();
    Reply::ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_salesforce_releases() {
        assert_eq!(label(31), "Summer '14");
        assert_eq!(label(32), "Winter '15");
        assert_eq!(label(33), "Spring '15");
        assert_eq!(label(64), "Summer '25");
        assert_eq!(label(65), "Winter '26");
        assert_eq!(label(66), "Spring '26");
    }
}
