//! Newtypes that parse: instance URLs, login hosts, API versions and record ids.
//!
//! Invariant: a value of these types is always valid — an [`InstanceUrl`] is https (or http on a
//! loopback host when explicitly allowed) with no path, query or trailing slash; an [`ApiVersion`]
//! is `NN.0`; a [`RecordId`] is the 18-character form with a correct checksum.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Whether plain `http://` is accepted for a loopback host (the emulator, tests). Never for other hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlPolicy {
    /// Only `https://` (the default, and the only choice for real orgs).
    #[default]
    HttpsOnly,
    /// Also `http://localhost`, `http://127.0.0.1`, `http://[::1]`.
    AllowLoopbackHttp,
}

/// The base URL of an org (`https://acme.my.salesforce.com`) or of a login host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct InstanceUrl(String);

impl InstanceUrl {
    /// Parses an instance URL under the https-only policy.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the problem and the fix (e.g. "remove the trailing slash").
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_with(s, UrlPolicy::HttpsOnly)
    }

    /// Parses an instance URL; `policy` decides whether loopback http is accepted.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the URL is not absolute, not https (outside loopback http when
    /// allowed), has a path, query, fragment, credentials or a trailing slash.
    pub fn parse_with(s: &str, policy: UrlPolicy) -> Result<Self> {
        let bad = |why: &str| Error::InvalidInput(format!("instance url {s:?}: {why}"));
        let trimmed = s.trim();
        if trimmed != s {
            return Err(bad("remove the spaces around it"));
        }
        if s.ends_with('/') {
            return Err(bad(&format!(
                "remove the trailing slash (use {:?})",
                s.trim_end_matches('/')
            )));
        }
        let url = url::Url::parse(s).map_err(|e| {
            bad(&format!(
                "not a URL ({e}); it looks like https://yourdomain.my.salesforce.com"
            ))
        })?;
        let host = url.host_str().ok_or_else(|| bad("it has no host"))?;
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
        match url.scheme() {
            "https" => {}
            "http" if loopback && policy == UrlPolicy::AllowLoopbackHttp => {}
            "http" => return Err(bad("use https:// (Salesforce only serves https)")),
            other => return Err(bad(&format!("scheme {other:?} is not https"))),
        }
        if url.path() != "/" && !url.path().is_empty() {
            return Err(bad(
                "give only the scheme and host, without a path such as /lightning/...",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("remove the query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("remove the user name and password from the URL"));
        }
        Ok(InstanceUrl(s.to_string()))
    }

    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the host is a loopback address (http may be allowed).
    pub fn is_loopback(&self) -> bool {
        url::Url::parse(&self.0)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| matches!(h, "localhost" | "127.0.0.1" | "[::1]"))
            })
            .unwrap_or(false)
    }

    /// Joins an absolute path (`/services/...`) to this base.
    pub fn join(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{}", self.0, path)
        } else {
            format!("{}/{}", self.0, path)
        }
    }
}

impl fmt::Display for InstanceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where users sign in: production, sandbox or the org's own My Domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginHost {
    /// `https://login.salesforce.com`.
    Production,
    /// `https://test.salesforce.com`.
    Sandbox,
    /// The org's My Domain (`https://acme.my.salesforce.com`) or any other login URL (the emulator).
    Custom(InstanceUrl),
}

impl LoginHost {
    /// The login host's base URL.
    pub fn url(&self) -> InstanceUrl {
        match self {
            LoginHost::Production => InstanceUrl("https://login.salesforce.com".to_string()),
            LoginHost::Sandbox => InstanceUrl("https://test.salesforce.com".to_string()),
            LoginHost::Custom(u) => u.clone(),
        }
    }

    /// `…/services/oauth2/token`.
    pub fn token_url(&self) -> String {
        self.url().join("/services/oauth2/token")
    }

    /// `…/services/oauth2/authorize`.
    pub fn authorize_url(&self) -> String {
        self.url().join("/services/oauth2/authorize")
    }

    /// The JWT `aud` claim Salesforce expects for this host: login or test for production and
    /// sandbox, the host itself otherwise.
    pub fn jwt_audience(&self) -> String {
        self.url().as_str().to_string()
    }
}

/// A REST API version such as `66.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(u16);

impl ApiVersion {
    /// The version the client uses unless told otherwise.
    pub const DEFAULT: ApiVersion = ApiVersion(62);

    /// Parses `66.0`, `v66.0` or `66`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for anything else, or versions below 31.0 (retired by Salesforce).
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.strip_prefix('v').unwrap_or(s);
        let major = t.strip_suffix(".0").unwrap_or(t);
        let n: u16 = major
            .parse()
            .map_err(|_| Error::InvalidInput(format!("api version {s:?}: expected a form like 62.0")))?;
        if n < 31 {
            return Err(Error::InvalidInput(format!(
                "api version {s:?}: versions below 31.0 are retired; use 62.0 or later"
            )));
        }
        Ok(ApiVersion(n))
    }

    /// `/services/data/vNN.0`.
    pub fn data_path(self) -> String {
        format!("/services/data/v{}.0", self.0)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.0", self.0)
    }
}

/// A Salesforce record id in its 18-character, case-safe form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RecordId(String);

impl RecordId {
    /// Parses a 15- or 18-character id; 15-character ids get their checksum suffix.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for other lengths, non-alphanumerics or a wrong checksum.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidInput(format!("record id {s:?}: {why}"));
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("only letters and digits are allowed"));
        }
        match s.len() {
            15 => Ok(RecordId(format!("{s}{}", checksum(s.as_bytes())))),
            18 => {
                let (base, suffix) = s.split_at(15);
                if checksum(base.as_bytes()) == suffix {
                    Ok(RecordId(s.to_string()))
                } else {
                    Err(bad("the last 3 characters are not its checksum"))
                }
            }
            _ => Err(bad("ids have 15 or 18 characters")),
        }
    }

    /// The 18-character id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 3-character key prefix that names the object type.
    pub fn key_prefix(&self) -> &str {
        self.0.get(..3).unwrap_or("")
    }
}

fn checksum(base: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut out = String::with_capacity(3);
    for chunk in base.chunks(5) {
        let mut bits = 0usize;
        for (i, b) in chunk.iter().enumerate() {
            if b.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(char::from(ALPHABET[bits & 31]));
    }
    out
}

impl TryFrom<String> for RecordId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        RecordId::parse(&s)
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> String {
        id.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks an sObject or field API name (letters, digits, underscores; starts with a letter), so it
/// can be put into a URL path safely.
pub(crate) fn check_api_name(what: &str, name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "{what} {name:?} is not an API name (letters, digits and underscores, starting with a letter)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_urls_are_validated_with_remedies() {
        assert!(InstanceUrl::parse("https://acme.my.salesforce.com").is_ok());
        let e = InstanceUrl::parse("https://acme.my.salesforce.com/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("trailing slash"), "{e}");
        assert!(e.contains("\"https://acme.my.salesforce.com\""), "{e}");
        assert!(InstanceUrl::parse("http://acme.my.salesforce.com").is_err());
        assert!(InstanceUrl::parse("http://localhost:8484").is_err());
        assert!(InstanceUrl::parse_with("http://localhost:8484", UrlPolicy::AllowLoopbackHttp).is_ok());
        assert!(InstanceUrl::parse_with("http://127.0.0.1:1", UrlPolicy::AllowLoopbackHttp).is_ok());
        assert!(InstanceUrl::parse_with("http://evil.example", UrlPolicy::AllowLoopbackHttp).is_err());
        assert!(InstanceUrl::parse("https://acme.lightning.force.com/lightning/page/home").is_err());
        assert!(InstanceUrl::parse("acme.my.salesforce.com").is_err());
        assert!(InstanceUrl::parse(" https://a.b").is_err());
    }

    #[test]
    fn login_hosts() {
        assert_eq!(
            LoginHost::Production.token_url(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(LoginHost::Sandbox.jwt_audience(), "https://test.salesforce.com");
        let my = LoginHost::Custom(InstanceUrl::parse("https://acme.my.salesforce.com").unwrap());
        assert_eq!(
            my.authorize_url(),
            "https://acme.my.salesforce.com/services/oauth2/authorize"
        );
    }

    #[test]
    fn api_versions() {
        assert_eq!(ApiVersion::parse("v66.0").unwrap().to_string(), "66.0");
        assert_eq!(
            ApiVersion::parse("59").unwrap().data_path(),
            "/services/data/v59.0"
        );
        assert!(ApiVersion::parse("20.0").is_err());
        assert!(ApiVersion::parse("abc").is_err());
    }

    #[test]
    fn record_ids_get_checksums() {
        // A known pair: 001D000000IqhSL -> 001D000000IqhSLIAZ.
        assert_eq!(
            RecordId::parse("001D000000IqhSL").unwrap().as_str(),
            "001D000000IqhSLIAZ"
        );
        assert!(RecordId::parse("001D000000IqhSLIAZ").is_ok());
        assert!(RecordId::parse("001D000000IqhSLAAA").is_err());
        assert!(RecordId::parse("001").is_err());
        assert!(RecordId::parse("001D000000Iqh;L").is_err());
        assert_eq!(RecordId::parse("001D000000IqhSL").unwrap().key_prefix(), "001");
    }
}
