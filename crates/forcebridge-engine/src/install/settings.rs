//! Validating an install's settings against its recipe: types, bounds, choices, picklists read
//! live from the org's describe, object choices, field mappings, workflows (a mandatory one cannot
//! be switched off). Defaults fill what is not given.
//!
//! Invariant: an error names the setting (`settings.new_lead_status: …`) and what is accepted.

use forcebridge_salesforce::Client;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::recipe::ir::{Recipe, SettingType};

/// Checks `given` and returns the settings to store (given values over defaults, `workflows`).
///
/// # Errors
/// [`Error::Invalid`] naming the first bad setting.
pub async fn validate(recipe: &Recipe, given: &Value, client: Option<&Client>) -> Result<Value> {
    let empty = Map::new();
    let given = match given {
        Value::Null => &empty,
        Value::Object(m) => m,
        _ => return Err(Error::Invalid("settings must be a JSON object".into())),
    };
    for k in given.keys() {
        if k != "workflows" && recipe.setting(k).is_none() {
            let known: Vec<&str> = recipe.settings.iter().map(|s| s.name.as_str()).collect();
            return Err(Error::Invalid(format!(
                "settings.{k}: no such setting in recipe {}; known: {}",
                recipe.name,
                known.join(", ")
            )));
        }
    }
    let mut out = Map::new();
    for s in &recipe.settings {
        let bad = |why: String| Error::Invalid(format!("settings.{}: {why}", s.name));
        let Some(v) = given.get(&s.name).cloned().or_else(|| s.default.clone()) else {
            return Err(bad("is required (the recipe gives no default)".into()));
        };
        match &s.kind {
            SettingType::Bool => {
                if !v.is_boolean() {
                    return Err(bad(format!("must be true or false, not {v}")));
                }
            }
            SettingType::Text { max_length } => {
                let Some(t) = v.as_str() else {
                    return Err(bad(format!("must be text, not {v}")));
                };
                if let Some(max) = max_length
                    && t.chars().count() > *max as usize
                {
                    return Err(bad(format!("must be at most {max} characters")));
                }
            }
            SettingType::Number { min, max } => {
                let Some(n) = v.as_f64() else {
                    return Err(bad(format!("must be a number, not {v}")));
                };
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(bad(format!(
                        "must be between {} and {}",
                        min.unwrap_or(f64::MIN),
                        max.unwrap_or(f64::MAX)
                    )));
                }
            }
            SettingType::Choice { choices } => {
                if !v.as_str().is_some_and(|t| choices.iter().any(|c| c == t)) {
                    return Err(bad(format!("must be one of {}", choices.join(", "))));
                }
            }
            SettingType::Picklist { object, field } => {
                let Some(t) = v.as_str() else {
                    return Err(bad(format!("must be text, not {v}")));
                };
                if let Some(client) = client {
                    let d = client.describe(object).await?;
                    let f = d
                        .field(field)
                        .ok_or_else(|| bad(format!("{object}.{field} does not exist in the org")))?;
                    let active: Vec<&str> = f
                        .picklist_values
                        .iter()
                        .filter(|p| p.active)
                        .map(|p| p.value.as_str())
                        .collect();
                    if !active.contains(&t) {
                        return Err(bad(format!(
                            "{t:?} is not an active value of {object}.{field}; choose one of: {}",
                            active.join(", ")
                        )));
                    }
                }
            }
            SettingType::Objects { choices, min } => {
                let Some(list) = v.as_array() else {
                    return Err(bad("must be a list of objects".into()));
                };
                for o in list {
                    if !o.as_str().is_some_and(|t| choices.iter().any(|c| c == t)) {
                        return Err(bad(format!("{o} is not one of {}", choices.join(", "))));
                    }
                }
                if list.len() < *min as usize {
                    return Err(bad(format!("choose at least {min}")));
                }
            }
            SettingType::FieldMapping { sources, .. } => {
                let Some(map) = v.as_object() else {
                    return Err(bad("must be an object of product field → Salesforce field".into()));
                };
                for (k, target) in map {
                    if !sources.is_empty() && !sources.contains(k) {
                        return Err(bad(format!(
                            "{k} is not a field this product sends; known: {}",
                            sources.join(", ")
                        )));
                    }
                    if !target.is_string() {
                        return Err(bad(format!("{k} must map to a field name")));
                    }
                }
            }
        }
        out.insert(s.name.clone(), v);
    }
    let given_wf = match given.get("workflows") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(Error::Invalid(
                "settings.workflows must be an object of workflow → true/false".into(),
            ));
        }
    };
    for k in given_wf.keys() {
        if !recipe.workflows.iter().any(|w| &w.name == k) {
            return Err(Error::Invalid(format!(
                "settings.workflows.{k}: no such workflow in recipe {}",
                recipe.name
            )));
        }
    }
    let mut wf = Map::new();
    for w in &recipe.workflows {
        let on = match given_wf.get(&w.name) {
            None => w.default_on || w.mandatory,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(Error::Invalid(format!(
                    "settings.workflows.{}: must be true or false, not {v}",
                    w.name
                )));
            }
        };
        if w.mandatory && !on {
            return Err(Error::Invalid(format!(
                "settings.workflows.{}: is mandatory and cannot be switched off",
                w.name
            )));
        }
        wf.insert(w.name.clone(), Value::Bool(on));
    }
    out.insert("workflows".into(), Value::Object(wf));
    Ok(Value::Object(out))
}
