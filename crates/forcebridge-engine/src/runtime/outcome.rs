//! How a Salesforce failure decides a delivery's fate — one table, tested, instead of `match` arms
//! scattered through the steps.
//!
//! Invariant: the only outcomes are retry (with backoff), pause (the connection's token is gone:
//! nothing is spent, the connection is marked and its work waits for a reconnect), defer (the
//! API budget is near its limit) and dead (a person must fix something; the remedy says what).

use forcebridge_salesforce::{ApiErrorDetail, Error as SfError, ErrorKind as SfKind};
use serde_json::{Value, json};

/// What to do with a delivery after a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Try again later (the same delivery, attempts + 1).
    Retry {
        /// Why, for the delivery's outcome.
        reason: Value,
    },
    /// The connection cannot sign in: stop, mark it, keep the work.
    Pause {
        /// Why.
        reason: String,
    },
    /// The org's API budget is spent: wait without spending an attempt.
    Defer,
    /// A person must act; the outcome names Salesforce's error and a remedy.
    Dead {
        /// Why, with the remedy.
        reason: Value,
    },
}

/// The fate of a delivery whose whole call failed.
pub fn for_call_error(e: &SfError, api: &str) -> Fate {
    // Salesforce's own error code, when the call was answered with one, decides and is kept.
    let answered = match e {
        SfError::Api { errors, .. } => Some(errors),
        SfError::RetriesExhausted { last, .. } => match last.as_ref() {
            SfError::Api { errors, .. } => Some(errors),
            _ => None,
        },
        _ => None,
    };
    if let Some(errors) = answered.filter(|e| !e.is_empty()) {
        return for_record_errors(errors, api);
    }
    let detail = json!({ "error": e.to_string(), "kind": format!("{:?}", e.kind()), "api": api });
    fate(e.kind(), None, detail)
}

/// The fate of a delivery whose record Salesforce refused.
pub fn for_record_errors(errors: &[ApiErrorDetail], api: &str) -> Fate {
    let first = errors.first();
    let kind = first.map_or(SfKind::Other, ApiErrorDetail::kind);
    let code = first.map(|e| e.error_code.as_str()).unwrap_or("UNKNOWN");
    let detail = json!({
        "error": first.map(|e| e.message.clone()).unwrap_or_default(),
        "code": code,
        "fields": first.map(|e| e.fields.clone()).unwrap_or_default(),
        "api": api,
        "remedy": remedy(code),
    });
    fate(kind, Some(code), detail)
}

fn fate(kind: SfKind, code: Option<&str>, mut detail: Value) -> Fate {
    if detail.get("remedy").is_none_or(Value::is_null)
        && let Some(obj) = detail.as_object_mut()
    {
        obj.insert(
            "remedy".into(),
            Value::String(remedy(code.unwrap_or("")).to_owned()),
        );
    }
    match kind {
        SfKind::Transient | SfKind::RowLock => Fate::Retry { reason: detail },
        SfKind::LimitExhausted => Fate::Defer,
        SfKind::TokenRevoked | SfKind::Auth => Fate::Pause {
            reason: detail
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("sign-in refused")
                .to_owned(),
        },
        SfKind::Duplicate | SfKind::InvalidInput | SfKind::Permission | SfKind::NotFound | SfKind::Other => {
            Fate::Dead { reason: detail }
        }
    }
}

/// What a person should do about a Salesforce error code.
pub fn remedy(code: &str) -> &'static str {
    match code {
        "INVALID_FIELD" | "INVALID_FIELD_FOR_INSERT_UPDATE" | "NO_SUCH_COLUMN" => {
            "the field is missing or the integration user cannot see it: run the install's provisioning again or grant field-level security, then replay"
        }
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" | "INVALID_PICKLIST_VALUE" => {
            "the value is not in the field's picklist: add it in Salesforce or change the install's settings, then replay"
        }
        "REQUIRED_FIELD_MISSING" => {
            "a required field has no value: map it in the recipe or the settings, then replay"
        }
        "STRING_TOO_LONG" => {
            "a value is longer than the field allows: lengthen the field or shorten the value, then replay"
        }
        "INSUFFICIENT_ACCESS"
        | "INSUFFICIENT_ACCESS_OR_READONLY"
        | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY" => {
            "the integration user lacks access: assign the install's permission set (or grant the object and record access), then replay"
        }
        "DUPLICATES_DETECTED" => {
            "a Salesforce duplicate rule blocked the record: merge or remove the existing duplicate, or relax the rule, then replay"
        }
        "DUPLICATE_VALUE" => {
            "another record already has this unique value: fix the duplicate in Salesforce, then replay"
        }
        "ENTITY_IS_DELETED" | "NOT_FOUND" | "INVALID_CROSS_REFERENCE_KEY" => {
            "a record this event refers to is gone: restore it or cancel the event"
        }
        "FIELD_CUSTOM_VALIDATION_EXCEPTION" => {
            "a validation rule refused the record: change the data or the rule, then replay"
        }
        _ => {
            "read Salesforce's message, fix the cause in Salesforce or in the install's settings, then replay"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> Vec<ApiErrorDetail> {
        vec![ApiErrorDetail {
            error_code: code.into(),
            message: "m".into(),
            fields: vec![],
        }]
    }

    #[test]
    fn the_table() {
        assert!(matches!(
            for_record_errors(&err("UNABLE_TO_LOCK_ROW"), "collections"),
            Fate::Retry { .. }
        ));
        assert!(matches!(
            for_record_errors(&err("INVALID_FIELD"), "collections"),
            Fate::Dead { .. }
        ));
        assert!(matches!(
            for_record_errors(&err("DUPLICATES_DETECTED"), "collections"),
            Fate::Dead { .. }
        ));
        assert!(matches!(
            for_record_errors(&err("REQUEST_LIMIT_EXCEEDED"), "collections"),
            Fate::Defer
        ));
        let Fate::Dead { reason } =
            for_record_errors(&err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"), "rest")
        else {
            panic!("dead")
        };
        assert!(reason["remedy"].as_str().unwrap().contains("picklist"));
        assert_eq!(reason["code"], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    }
}
