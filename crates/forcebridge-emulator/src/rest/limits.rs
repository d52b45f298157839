//! `GET /limits`: the org's allocations and what is left, under Salesforce's key names.
//!
//! Invariant: `DailyApiRequests` reflects `org.usage` (counted by the middleware); the other
//! limits are the allocations of a Developer Edition org with nothing used, because the emulator
//! does not meter them.

use serde_json::{Map, Value, json};

use super::Reply;
use crate::org::Org;

/// Allocations the emulator reports but does not meter: `(name, max)`.
const STATIC_LIMITS: &[(&str, u64)] = &[
    ("ActiveScratchOrgs", 3),
    ("AnalyticsExternalDataSizeMB", 40960),
    ("ConcurrentAsyncGetReportInstances", 200),
    ("ConcurrentEinsteinDataInsightsStoryCreation", 5),
    ("ConcurrentEinsteinDiscoveryStoryCreation", 2),
    ("ConcurrentSyncReportRuns", 20),
    ("DailyAnalyticsDataflowJobExecutions", 60),
    ("DailyAnalyticsUploadedFilesSizeMB", 51200),
    ("DailyAsyncApexExecutions", 250000),
    ("DailyAsyncApexTests", 500),
    ("DailyBulkApiBatches", 15000),
    ("DailyBulkV2QueryFileStorageMB", 976562),
    ("DailyBulkV2QueryJobs", 10000),
    ("DailyDeliveredPlatformEvents", 10000),
    ("DailyDurableGenericStreamingApiEvents", 10000),
    ("DailyDurableStreamingApiEvents", 10000),
    ("DailyEinsteinDataInsightsStoryCreation", 1000),
    ("DailyEinsteinDiscoveryPredictAPICalls", 50000),
    ("DailyEinsteinDiscoveryPredictionsByCDC", 500000),
    ("DailyEinsteinDiscoveryStoryCreation", 100),
    ("DailyFunctionsApiCallLimit", 235000),
    ("DailyGenericStreamingApiEvents", 10000),
    ("DailyScratchOrgs", 6),
    ("DailyStandardVolumePlatformEvents", 10000),
    ("DailyStreamingApiEvents", 10000),
    ("DailyWorkflowEmails", 405),
    ("DataStorageMB", 5),
    ("DurableStreamingApiConcurrentClients", 20),
    ("FileStorageMB", 20),
    ("HourlyAsyncReportRuns", 1200),
    ("HourlyDashboardRefreshes", 200),
    ("HourlyDashboardResults", 5000),
    ("HourlyDashboardStatuses", 999999999),
    ("HourlyLongTermIdMapping", 100000),
    ("HourlyManagedContentPublicRequests", 50000),
    ("HourlyODataCallout", 10000),
    ("HourlyPublishedPlatformEvents", 50000),
    ("HourlyPublishedStandardVolumePlatformEvents", 100000),
    ("HourlyShortTermIdMapping", 100000),
    ("HourlySyncReportRuns", 500),
    ("HourlyTimeBasedWorkflow", 50),
    ("MassEmail", 10),
    ("MonthlyEinsteinDiscoveryStoryCreation", 500),
    ("MonthlyPlatformEventsUsageEntitlement", 0),
    ("Package2VersionCreates", 6),
    ("Package2VersionCreatesWithoutValidation", 500),
    ("PermissionTypes", 30000),
    ("PrivateConnectOutboundCalloutHourlyLimitMB", 0),
    ("PublishCallbackUsageInApex", 5000000),
    ("SingleEmail", 15),
    ("StreamingApiConcurrentClients", 20),
];

/// The `/limits` body.
pub fn body(org: &Org) -> Value {
    let mut map = Map::new();
    for (name, max) in STATIC_LIMITS {
        map.insert((*name).into(), json!({ "Max": max, "Remaining": max }));
    }
    let max = org.usage.daily_api_requests_max;
    let remaining = max.saturating_sub(org.usage.daily_api_requests_used);
    map.insert(
        "DailyApiRequests".into(),
        json!({ "Max": max, "Remaining": remaining }),
    );
    map.sort_keys();
    Value::Object(map)
}

/// `GET /limits/recordCount?sObjects=A,B`: live records per listed object (per object with
/// records when `sObjects` is absent). Salesforce's counts are storage statistics that lag a
/// little; these are exact.
pub fn record_count(ctx: &super::Ctx<'_>, org: &Org) -> Reply {
    let wanted: Option<Vec<String>> = ctx.param("sObjects").map(|s| {
        s.split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect()
    });
    let counts: Vec<Value> = org
        .schema
        .objects()
        .filter(|o| {
            wanted
                .as_ref()
                .is_none_or(|w| w.contains(&o.name.to_ascii_lowercase()))
        })
        .filter_map(|o| {
            let live = org.data.get(&o.name).map_or(0, |t| {
                t.records()
                    .filter(|(_, r)| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
                    .count()
            });
            // Listed objects are reported even when empty; unlisted ones only when they have records.
            (wanted.is_some() || live > 0).then(|| json!({ "count": live, "name": o.name }))
        })
        .collect();
    Reply::ok(json!({ "sObjects": counts }))
}

/// `GET /limits`.
pub fn limits(org: &Org) -> Reply {
    Reply::ok(body(org))
}
