//! SOQL: `query`, `queryAll` and `queryMore` as an async stream of records.
//!
//! The stream asks for the next page (`nextRecordsUrl`) only when the caller has taken every
//! record of the current one, so at most one page (≤ 2,000 records by default) is held at a time,
//! whatever the size of the result.
//!
//! Invariant: records come out in Salesforce's order, each exactly once, and an error ends the
//! stream (after it is yielded).

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{Client, Req};
use crate::error::{Error, Result};

/// One page of a query result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage<T> {
    /// Records matching the query in all (for `COUNT()` queries, the count).
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// This page's records.
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
    /// Where the next page is, when not done.
    #[serde(default)]
    pub next_records_url: Option<String>,
}

/// How to run a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Include deleted and archived records (`queryAll`).
    pub include_deleted: bool,
    /// Page size hint (`Sforce-Query-Options: batchSize=N`, 200..=2000).
    pub batch_size: Option<u16>,
}

/// One object's record count from `/limits/recordCount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCount {
    /// The object.
    pub name: String,
    /// Approximate number of records.
    pub count: u64,
}

#[derive(Deserialize)]
struct RecordCounts {
    #[serde(rename = "sObjects", default)]
    sobjects: Vec<RecordCount>,
}

impl Client {
    /// Runs a query and returns its first page.
    ///
    /// # Errors
    /// `MALFORMED_QUERY`, `INVALID_FIELD` (kind invalid input) and pipeline errors.
    pub async fn query_page<T: DeserializeOwned>(
        &self,
        soql: &str,
        options: QueryOptions,
    ) -> Result<QueryPage<T>> {
        if soql.trim().is_empty() {
            return Err(Error::InvalidInput("the SOQL query is empty".into()));
        }
        let resource = if options.include_deleted {
            "queryAll"
        } else {
            "query"
        };
        let mut req = Req::get(resource).query("q", soql);
        if let Some(n) = options.batch_size {
            req = req.header(
                "Sforce-Query-Options",
                format!("batchSize={}", n.clamp(200, 2000)),
            );
        }
        self.send(req).await?.json("query result")
    }

    /// Fetches the page at a `nextRecordsUrl`.
    ///
    /// # Errors
    /// `INVALID_QUERY_LOCATOR` when the cursor expired (15 minutes idle); pipeline errors.
    pub async fn query_more<T: DeserializeOwned>(&self, next_records_url: &str) -> Result<QueryPage<T>> {
        if !next_records_url.starts_with("/services/data/") {
            return Err(Error::InvalidInput(format!(
                "{next_records_url:?} is not a nextRecordsUrl"
            )));
        }
        self.send(Req::get(next_records_url)).await?.json("query result")
    }

    /// Every page of a query, one at a time.
    pub fn query_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        soql: &str,
        options: QueryOptions,
    ) -> BoxStream<'static, Result<QueryPage<T>>> {
        enum Next {
            First,
            More(String),
            Done,
        }
        let client = self.clone();
        let soql = soql.to_string();
        stream::try_unfold(Next::First, move |next| {
            let client = client.clone();
            let soql = soql.clone();
            async move {
                let page: QueryPage<T> = match next {
                    Next::Done => return Ok(None),
                    Next::First => client.query_page(&soql, options).await?,
                    Next::More(url) => client.query_more(&url).await?,
                };
                let after = match (&page.next_records_url, page.done) {
                    (Some(url), false) => Next::More(url.clone()),
                    _ => Next::Done,
                };
                Ok(Some((page, after)))
            }
        })
        .boxed()
    }

    /// Every record of a query as a stream, following `queryMore` with one page in memory.
    pub fn query<T: DeserializeOwned + Send + 'static>(&self, soql: &str) -> BoxStream<'static, Result<T>> {
        self.query_with(soql, QueryOptions::default())
    }

    /// As [`Self::query`], including deleted and archived records (`queryAll`).
    pub fn query_all<T: DeserializeOwned + Send + 'static>(
        &self,
        soql: &str,
    ) -> BoxStream<'static, Result<T>> {
        self.query_with(
            soql,
            QueryOptions {
                include_deleted: true,
                batch_size: None,
            },
        )
    }

    /// As [`Self::query`] with options.
    pub fn query_with<T: DeserializeOwned + Send + 'static>(
        &self,
        soql: &str,
        options: QueryOptions,
    ) -> BoxStream<'static, Result<T>> {
        self.query_pages::<T>(soql, options)
            .map_ok(|page| stream::iter(page.records.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// `totalSize` of a query (use `SELECT COUNT() FROM ...`).
    ///
    /// # Errors
    /// As [`Self::query_page`].
    pub async fn count(&self, soql: &str) -> Result<u64> {
        let page: QueryPage<serde_json::Value> = self.query_page(soql, QueryOptions::default()).await?;
        Ok(page.total_size)
    }

    /// Approximate record counts per object (`/limits/recordCount?sObjects=...`).
    ///
    /// # Errors
    /// Pipeline and decode errors.
    pub async fn record_counts(&self, sobjects: &[&str]) -> Result<Vec<RecordCount>> {
        for s in sobjects {
            crate::types::check_api_name("sObject", s)?;
        }
        let mut req = Req::get("limits/recordCount");
        if !sobjects.is_empty() {
            req = req.query("sObjects", sobjects.join(","));
        }
        let r: RecordCounts = self.send(req).await?.json("record counts")?;
        Ok(r.sobjects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pages() {
        let body = r#"{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gD0000002HU6KIAW-2000","records":[{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001D000000IqhSLIAZ"},"Name":"A"}]}"#;
        let p: QueryPage<serde_json::Value> = serde_json::from_str(body).unwrap();
        assert_eq!(p.total_size, 3);
        assert!(!p.done);
        assert_eq!(p.records[0]["Name"], "A");
        assert!(p.next_records_url.unwrap().ends_with("-2000"));
        let count: QueryPage<serde_json::Value> =
            serde_json::from_str(r#"{"totalSize":42,"done":true,"records":[]}"#).unwrap();
        assert_eq!(count.total_size, 42);
    }
}
