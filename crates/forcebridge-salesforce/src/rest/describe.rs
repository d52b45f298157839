//! Describe: global and per-object, decoded into typed structs, cached per client.
//!
//! The cache keeps each object's describe for a TTL, then revalidates it with `If-Modified-Since`
//! (Salesforce answers 304 when the schema did not change). It is emptied for an object when a call
//! on it fails with `INVALID_FIELD`/`INVALID_TYPE` (the schema changed under us) and entirely after
//! provisioning changes the schema.
//!
//! Invariant: a cached describe is never older than the TTL without having been revalidated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::client::{Client, Req};
use crate::error::{Error, Result};
use crate::types::check_api_name;

/// One picklist entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PicklistValue {
    /// The API value.
    #[serde(default)]
    pub value: String,
    /// The label.
    #[serde(default)]
    pub label: Option<String>,
    /// Whether it can be chosen.
    #[serde(default)]
    pub active: bool,
    /// Whether it is the default.
    #[serde(default)]
    pub default_value: bool,
}

/// One field of a describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Salesforce type: `string`, `reference`, `picklist`, `double`, `boolean`, `textarea`, `url`, ...
    #[serde(rename = "type", default)]
    pub field_type: String,
    /// Length for text types.
    #[serde(default)]
    pub length: u32,
    /// Digits for numbers.
    #[serde(default)]
    pub precision: u32,
    /// Decimal places for numbers.
    #[serde(default)]
    pub scale: u32,
    /// Whether the user can set it on create.
    #[serde(default)]
    pub createable: bool,
    /// Whether the user can change it.
    #[serde(default)]
    pub updateable: bool,
    /// Whether it may be empty.
    #[serde(default)]
    pub nillable: bool,
    /// Whether it is a custom field.
    #[serde(default)]
    pub custom: bool,
    /// Whether it is an external id.
    #[serde(default)]
    pub external_id: bool,
    /// Whether it can identify a record in upsert.
    #[serde(default)]
    pub id_lookup: bool,
    /// Whether values must be unique.
    #[serde(default)]
    pub unique: bool,
    /// Whether it is a formula or roll-up.
    #[serde(default)]
    pub calculated: bool,
    /// Whether it can be used in a WHERE clause.
    #[serde(default)]
    pub filterable: bool,
    /// Objects a reference points to.
    #[serde(default, deserialize_with = "null_vec")]
    pub reference_to: Vec<String>,
    /// Relationship name for references (`Account` for `AccountId`).
    #[serde(default)]
    pub relationship_name: Option<String>,
    /// Picklist entries.
    #[serde(default, deserialize_with = "null_vec")]
    pub picklist_values: Vec<PicklistValue>,
    /// Whether a value is defaulted on create.
    #[serde(default)]
    pub defaulted_on_create: bool,
}

fn null_vec<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An sObject describe (`/sobjects/{name}/describe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribe {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Plural label.
    #[serde(default)]
    pub label_plural: String,
    /// Key prefix (`001` for Account).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Whether it is a custom object.
    #[serde(default)]
    pub custom: bool,
    /// Whether the user can create records.
    #[serde(default)]
    pub createable: bool,
    /// Whether the user can update records.
    #[serde(default)]
    pub updateable: bool,
    /// Whether the user can delete records.
    #[serde(default)]
    pub deletable: bool,
    /// Whether the user can query records.
    #[serde(default)]
    pub queryable: bool,
    /// Whether the user can read records (retrieve).
    #[serde(default)]
    pub retrieveable: bool,
    /// Whether upsert is allowed.
    #[serde(default)]
    pub searchable: bool,
    /// The fields the user can see (field-level security hides the rest).
    #[serde(default, deserialize_with = "null_vec")]
    pub fields: Vec<FieldDescribe>,
}

impl SObjectDescribe {
    /// A field by API name, case-insensitively (Salesforce names are case-insensitive).
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// One entry of the global describe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalSObject {
    /// API name.
    pub name: String,
    /// Label.
    #[serde(default)]
    pub label: String,
    /// Whether custom.
    #[serde(default)]
    pub custom: bool,
    /// Whether the user can create.
    #[serde(default)]
    pub createable: bool,
    /// Whether the user can update.
    #[serde(default)]
    pub updateable: bool,
    /// Whether the user can delete.
    #[serde(default)]
    pub deletable: bool,
    /// Whether the user can query.
    #[serde(default)]
    pub queryable: bool,
    /// Key prefix.
    #[serde(default)]
    pub key_prefix: Option<String>,
}

/// The global describe (`/sobjects`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalDescribe {
    /// Encoding of the org.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Largest batch size for SOAP calls.
    #[serde(default)]
    pub max_batch_size: Option<u32>,
    /// The objects the user can see.
    #[serde(default, deserialize_with = "null_vec")]
    pub sobjects: Vec<GlobalSObject>,
}

#[derive(Debug)]
struct Entry {
    describe: Arc<SObjectDescribe>,
    fetched: Instant,
    last_modified: Option<String>,
}

/// Per-client describe cache.
#[derive(Debug)]
pub(crate) struct DescribeCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl DescribeCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        DescribeCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn invalidate(&self, sobject: &str) {
        self.lock().remove(&sobject.to_ascii_lowercase());
    }

    pub(crate) fn invalidate_all(&self) {
        self.lock().clear();
    }
}

impl Client {
    /// The global describe: every object the user can see.
    ///
    /// # Errors
    /// Pipeline and decode errors.
    pub async fn describe_global(&self) -> Result<GlobalDescribe> {
        self.get_json("sobjects").await
    }

    /// An object's describe, from the cache when fresh.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad name; `NOT_FOUND` (kind not found) when the object does
    /// not exist or the user cannot see it; pipeline and decode errors.
    pub async fn describe(&self, sobject: &str) -> Result<Arc<SObjectDescribe>> {
        check_api_name("sObject", sobject)?;
        let key = sobject.to_ascii_lowercase();
        let cache = &self.inner.describes;
        let (cached, last_modified) = {
            let g = cache.lock();
            match g.get(&key) {
                Some(e) if e.fetched.elapsed() < cache.ttl => return Ok(e.describe.clone()),
                Some(e) => (Some(e.describe.clone()), e.last_modified.clone()),
                None => (None, None),
            }
        };
        let mut req = Req::get(format!("sobjects/{sobject}/describe"));
        if let Some(lm) = &last_modified {
            req = req.header("If-Modified-Since", lm.clone());
        }
        match self.send(req).await {
            Ok(resp) => {
                let d: SObjectDescribe = resp.json("describe")?;
                let d = Arc::new(d);
                let lm = resp.header("Last-Modified").map(str::to_string);
                cache.lock().insert(
                    key,
                    Entry {
                        describe: d.clone(),
                        fetched: Instant::now(),
                        last_modified: lm,
                    },
                );
                Ok(d)
            }
            Err(e) if e.status() == Some(304) => {
                let d =
                    cached.ok_or_else(|| Error::decode("describe", "304 without a cached describe", b""))?;
                if let Some(entry) = cache.lock().get_mut(&key) {
                    entry.fetched = Instant::now();
                }
                Ok(d)
            }
            Err(e) => {
                cache.invalidate(sobject);
                Err(e)
            }
        }
    }

    /// Forgets an object's cached describe (after changing its schema).
    pub fn invalidate_describe(&self, sobject: &str) {
        self.inner.describes.invalidate(sobject);
    }

    /// Forgets every cached describe.
    pub fn invalidate_all_describes(&self) {
        self.inner.describes.invalidate_all();
    }
}
