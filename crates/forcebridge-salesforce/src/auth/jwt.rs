//! The JWT bearer assertion: RS256, `iss` = consumer key, `sub` = user name, `aud` = login host,
//! `exp` a few minutes ahead (Salesforce accepts at most 3 minutes of clock skew).
//!
//! Invariant: the private key is read only here and never leaves a [`SecretString`] otherwise.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

/// Checks that `key_pem` can sign assertions, before it is stored.
///
/// # Errors
/// [`Error::InvalidInput`] when the key is not an RSA private key in PEM.
pub fn check_key(key_pem: &SecretString) -> Result<()> {
    signing_key(key_pem).map(|_| ())
}

fn signing_key(key_pem: &SecretString) -> Result<jsonwebtoken::EncodingKey> {
    jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose_secret().as_bytes()).map_err(|e| {
        Error::InvalidInput(format!(
            "the JWT private key is not an RSA private key in PEM ({e})"
        ))
    })
}

/// Signs a JWT bearer assertion valid for 3 minutes.
///
/// # Errors
/// [`Error::InvalidInput`] when the key is not an RSA private key in PEM.
pub fn assertion(client_id: &str, username: &str, audience: &str, key_pem: &SecretString) -> Result<String> {
    let key = signing_key(key_pem)?;
    let claims = Claims {
        iss: client_id,
        sub: username,
        aud: audience,
        exp: chrono::Utc::now().timestamp() + 180,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| Error::InvalidInput(format!("cannot sign the JWT assertion: {e}")))
}
