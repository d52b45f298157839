//! The OAuth 2.0 web server flow with PKCE: the authorize URL (with `state`) and the code exchange.
//!
//! Invariant: a [`PkceAuthorization`] keeps the verifier and `state` that match the URL it made; the
//! caller must persist both until the callback and compare `state` before exchanging the code.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::types::LoginHost;

/// One started web server flow: send the user to [`Self::url`], keep the rest for the callback.
#[derive(Debug)]
pub struct PkceAuthorization {
    /// The authorize URL to redirect the user to.
    pub url: String,
    /// The opaque `state` sent; the callback's `state` must equal it (CSRF protection).
    pub state: String,
    /// The PKCE code verifier, sent with the code exchange.
    pub code_verifier: SecretString,
}

/// What the authorize URL asks for.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// Where users sign in (production, sandbox, My Domain).
    pub login_host: LoginHost,
    /// The connected app's consumer key.
    pub client_id: String,
    /// The callback URL registered on the connected app.
    pub redirect_uri: String,
    /// OAuth scopes, e.g. `["api", "refresh_token"]`.
    pub scopes: Vec<String>,
    /// `prompt` (e.g. `login consent`), if any.
    pub prompt: Option<String>,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 S256).
pub fn code_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl AuthorizeRequest {
    /// Makes a fresh verifier and `state` and the authorize URL carrying them.
    pub fn start(&self) -> PkceAuthorization {
        let verifier = random_token(48); // 64 characters, within RFC 7636's 43..=128
        let state = random_token(24);
        let mut url = match url::Url::parse(&self.login_host.authorize_url()) {
            Ok(u) => u,
            // LoginHost always holds a valid absolute URL; keep a textual fallback anyway.
            Err(_) => {
                return PkceAuthorization {
                    url: String::new(),
                    state,
                    code_verifier: SecretString::from(verifier),
                };
            }
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", &self.client_id);
            q.append_pair("redirect_uri", &self.redirect_uri);
            q.append_pair("state", &state);
            q.append_pair("code_challenge", &code_challenge(&verifier));
            q.append_pair("code_challenge_method", "S256");
            if !self.scopes.is_empty() {
                q.append_pair("scope", &self.scopes.join(" "));
            }
            if let Some(p) = &self.prompt {
                q.append_pair("prompt", p);
            }
        }
        PkceAuthorization {
            url: url.to_string(),
            state,
            code_verifier: SecretString::from(verifier),
        }
    }
}

impl PkceAuthorization {
    /// Whether the `state` returned to the callback is the one sent (constant-time compare).
    pub fn state_matches(&self, returned: &str) -> bool {
        let a = self.state.as_bytes();
        let b = returned.as_bytes();
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The verifier, for the code exchange.
    pub fn verifier(&self) -> &str {
        self.code_verifier.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_example_challenge() {
        // RFC 7636 appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn authorize_url_carries_state_and_challenge() {
        let req = AuthorizeRequest {
            login_host: LoginHost::Sandbox,
            client_id: "abc".into(),
            redirect_uri: "https://app.example/cb".into(),
            scopes: vec!["api".into(), "refresh_token".into()],
            prompt: None,
        };
        let a = req.start();
        let url = url::Url::parse(&a.url).unwrap();
        assert_eq!(url.host_str(), Some("test.salesforce.com"));
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["state"], a.state);
        assert_eq!(q["code_challenge"], code_challenge(a.verifier()));
        assert_eq!(q["scope"], "api refresh_token");
        assert!(a.state_matches(&a.state.clone()));
        assert!(!a.state_matches("other"));
        assert_ne!(req.start().state, a.state);
    }
}
