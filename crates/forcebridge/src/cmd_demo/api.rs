//! A small JSON client for the demo's calls to `forcebridge serve` and the emulator: one
//! credential per client, answers as `(status, JSON)`, and errors that say which call failed.
//!
//! Invariant: a credential is only ever sent as a bearer header, never printed in an error.

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::Value;

/// A base URL and a bearer credential.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: Option<&str>) -> Api {
        Api {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            http,
        }
    }

    /// The same server with another credential.
    pub(crate) fn with(&self, token: &str) -> Api {
        Api {
            base: self.base.clone(),
            token: Some(token.to_owned()),
            http: self.http.clone(),
        }
    }

    /// `method path` with an optional JSON body; any status comes back.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        self.call_url(method, &format!("{}{path}", self.base), body).await
    }

    /// As [`Api::call`], to an absolute URL (a redirect's target).
    pub(crate) async fn call_url(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self.http.request(method.clone(), url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url} failed"))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading the answer to {method} {url}"))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// Posts an HTML form as a browser does and returns where the answer redirects to.
    pub(crate) async fn submit_form(&self, url: &str, form: &[(String, String)]) -> Result<String> {
        let resp = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .with_context(|| format!("POST {url} failed"))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(l) if status.is_redirection() => Ok(l),
            _ => {
                let text = resp.text().await.unwrap_or_default();
                bail!(
                    "POST {url} answered {status} without a redirect: {}",
                    text.chars().take(300).collect::<String>()
                )
            }
        }
    }

    /// `method path`, expecting `want`; another status is an error quoting the answer.
    pub(crate) async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        want: u16,
    ) -> Result<Value> {
        let (status, v) = self.call(method.clone(), path, body).await?;
        if status != want {
            bail!("{method} {path} answered {status} (expected {want}): {v}");
        }
        Ok(v)
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.expect(Method::GET, path, None, 200).await
    }

    pub(crate) async fn post(&self, path: &str, body: &Value, want: u16) -> Result<Value> {
        self.expect(Method::POST, path, Some(body), want).await
    }
}

/// A string field of an answer, or an error naming it.
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    v[name]
        .as_str()
        .with_context(|| format!("the answer has no {name:?}: {v}"))
}
