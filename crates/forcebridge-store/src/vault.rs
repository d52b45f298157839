//! The vault: connection credentials sealed with XChaCha20-Poly1305 under a master key.
//!
//! Invariants:
//! - every seal uses a fresh random 192-bit nonce;
//! - the associated data binds a sealed value to its tenant and connection, so a value copied onto
//!   another row (or another tenant) fails to open instead of yielding someone else's secret;
//! - a sealed value names the key it was sealed under (a short id derived from the key), so a
//!   [`Vault`] holding several keys opens old values during a rotation;
//! - nothing here prints secret material: [`MasterKey`] and [`Credentials`] redact themselves in
//!   `Debug`, and errors name only key ids.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Version byte of the sealed format: `1 | key-id length | key id | 24-byte nonce | ciphertext+tag`.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const CANARY_PLAINTEXT: &[u8] = b"forcebridge vault canary v1";

/// One 256-bit master key. `Debug` shows only its id.
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// Parse a key given as base64 (standard alphabet, as written by `forcebridge vault new-key`);
    /// surrounding whitespace (a trailing newline in a key file) is ignored.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the text is not base64 or does not decode to exactly 32 bytes.
    pub fn from_base64(text: &SecretString) -> Result<Self> {
        let trimmed = text.expose_secret().trim();
        if trimmed.is_empty() {
            return Err(Error::Crypto(
                "the master key is empty; set FORCEBRIDGE_MASTER_KEY or FORCEBRIDGE_MASTER_KEY_FILE \
                 to a key made by `forcebridge vault new-key`"
                    .into(),
            ));
        }
        let bytes = Zeroizing::new(B64.decode(trimmed).map_err(|_| {
            Error::Crypto(
                "the master key is not valid base64; make one with `forcebridge vault new-key`".into(),
            )
        })?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::Crypto(format!(
                "the master key decodes to {} bytes, expected 32; make one with `forcebridge vault new-key`",
                bytes.len()
            ))
        })?;
        Ok(Self::from_bytes(key))
    }

    /// Make a new random key; returns it with its base64 text (to be stored by the operator).
    pub fn generate() -> (Self, SecretString) {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut_slice());
        let text = SecretString::from(B64.encode(key.as_slice()));
        (Self::from_bytes(*key), text)
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        let key = Zeroizing::new(key);
        let mut h = Sha256::new();
        h.update(b"forcebridge master key id v1\0");
        h.update(key.as_slice());
        let id = hex::encode(&h.finalize()[..8]);
        Self { id, key }
    }

    /// A short public identifier of this key (16 hex chars), stored next to values it sealed.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.key.as_slice())
            .map_err(|_| Error::Crypto("master key has the wrong length".into()))
    }
}

/// The keys the store may use: the current one seals; all of them open.
#[derive(Debug)]
pub struct Vault {
    current: MasterKey,
    older: Vec<MasterKey>,
}

impl Vault {
    /// A vault sealing with `current` and able to open values sealed by it.
    pub fn new(current: MasterKey) -> Self {
        Self {
            current,
            older: Vec::new(),
        }
    }

    /// Also accept values sealed under `key` (during and after a rotation).
    pub fn with_older(mut self, key: MasterKey) -> Self {
        if key.id != self.current.id && !self.older.iter().any(|k| k.id == key.id) {
            self.older.push(key);
        }
        self
    }

    /// The id of the key new values are sealed under.
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Whether this vault holds the key with `id`.
    pub fn has_key(&self, id: &str) -> bool {
        self.key(id).is_some()
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|k| k.id == id)
    }

    /// Seal `plaintext` under the current key, bound to `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = XNonce::from(nonce);
        let ct = self
            .current
            .cipher()?
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| Error::Crypto("sealing failed".into()))?;
        let id = self.current.id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        // Key ids are 16 ASCII bytes, far below 255.
        out.push(u8::try_from(id.len()).map_err(|_| Error::Crypto("key id too long".into()))?);
        out.extend_from_slice(id);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// The id of the key `sealed` was sealed under, without opening it.
    pub(crate) fn sealed_key_id(sealed: &[u8]) -> Result<&str> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or_else(|| Error::Crypto("sealed value is empty".into()))?;
        if version != FORMAT_V1 {
            return Err(Error::Crypto(format!(
                "sealed value has unknown format version {version}"
            )));
        }
        let (&len, rest) = rest
            .split_first()
            .ok_or_else(|| Error::Crypto("sealed value is truncated".into()))?;
        let id = rest
            .get(..usize::from(len))
            .ok_or_else(|| Error::Crypto("sealed value is truncated".into()))?;
        std::str::from_utf8(id).map_err(|_| Error::Crypto("sealed value has a malformed key id".into()))
    }

    /// Open a value sealed by [`Vault::seal`] with the same `aad`.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let id = Self::sealed_key_id(sealed)?;
        let key = self.key(id).ok_or_else(|| {
            Error::Crypto(format!(
                "value sealed under master key {id}, which is not configured; supply that key \
                 (FORCEBRIDGE_MASTER_KEY_PREVIOUS during a rotation)"
            ))
        })?;
        let start = 2 + id.len();
        let nonce = sealed
            .get(start..start + NONCE_LEN)
            .ok_or_else(|| Error::Crypto("sealed value is truncated".into()))?;
        let ct = sealed.get(start + NONCE_LEN..).unwrap_or_default();
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| Error::Crypto("sealed value is truncated".into()))?;
        let pt = key
            .cipher()?
            .decrypt(&XNonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                Error::Crypto(format!(
                    "a value sealed under key {id} does not open: it was tampered with or copied from another row"
                ))
            })?;
        Ok(Zeroizing::new(pt))
    }

    /// A canary value proving the current key: stored once per key, checked at start.
    pub(crate) fn seal_canary(&self) -> Result<Vec<u8>> {
        self.seal(&canary_aad(&self.current.id), CANARY_PLAINTEXT)
    }

    /// Check a stored canary for key `id`: the key must be present and must open it.
    pub(crate) fn check_canary(&self, id: &str, canary: &[u8]) -> Result<()> {
        if !self.has_key(id) {
            return Err(Error::Crypto(format!(
                "this store holds values sealed under master key {id}, which is not configured; start \
                 with that key (or give it as FORCEBRIDGE_MASTER_KEY_PREVIOUS and run `forcebridge vault rotate`)"
            )));
        }
        match self.open(&canary_aad(id), canary) {
            Ok(pt) if pt.as_slice() == CANARY_PLAINTEXT => Ok(()),
            _ => Err(Error::Crypto(format!(
                "the canary for master key {id} does not open; the key is wrong"
            ))),
        }
    }
}

fn canary_aad(id: &str) -> Vec<u8> {
    format!("forcebridge:canary:v1|{id}").into_bytes()
}

/// The associated data binding credentials to one tenant's connection.
pub(crate) fn credentials_aad(tenant_id: &str, connection_id: &str) -> Vec<u8> {
    format!("forcebridge:credentials:v1|{tenant_id}|{connection_id}").into_bytes()
}

/// The secrets of one connection. `Debug` shows which fields are set, never their values.
#[derive(Clone, Default)]
pub struct Credentials {
    /// OAuth access token.
    pub access_token: Option<SecretString>,
    /// OAuth refresh token.
    pub refresh_token: Option<SecretString>,
    /// Connected-app consumer key (not secret, kept with its secret for convenience).
    pub client_id: Option<String>,
    /// Connected-app consumer secret.
    pub client_secret: Option<SecretString>,
    /// Username for the password or JWT bearer flow.
    pub username: Option<String>,
    /// Password (+ security token) for the password flow.
    pub password: Option<SecretString>,
    /// PEM private key for the JWT bearer flow.
    pub private_key_pem: Option<SecretString>,
    /// The org's instance URL, as the token response gave it.
    pub instance_url: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn set<T>(v: &Option<T>) -> &'static str {
            if v.is_some() { "[redacted]" } else { "none" }
        }
        f.debug_struct("Credentials")
            .field("access_token", &set(&self.access_token))
            .field("refresh_token", &set(&self.refresh_token))
            .field("client_id", &self.client_id)
            .field("client_secret", &set(&self.client_secret))
            .field("username", &self.username)
            .field("password", &set(&self.password))
            .field("private_key_pem", &set(&self.private_key_pem))
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

/// The plaintext layout inside a sealed credentials value (JSON); lives only in zeroized buffers.
#[derive(Serialize, Deserialize, Default)]
struct Plain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

impl Drop for Plain {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for s in [
            &mut self.at,
            &mut self.rt,
            &mut self.cs,
            &mut self.pw,
            &mut self.pk,
        ]
        .into_iter()
        .flatten()
        {
            s.zeroize();
        }
    }
}

impl Credentials {
    pub(crate) fn to_plaintext(&self) -> Result<Zeroizing<Vec<u8>>> {
        let e = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_owned());
        let plain = Plain {
            at: e(&self.access_token),
            rt: e(&self.refresh_token),
            cid: self.client_id.clone(),
            cs: e(&self.client_secret),
            user: self.username.clone(),
            pw: e(&self.password),
            pk: e(&self.private_key_pem),
            url: self.instance_url.clone(),
        };
        serde_json::to_vec(&plain)
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("could not encode credentials".into()))
    }

    pub(crate) fn from_plaintext(bytes: &[u8]) -> Result<Self> {
        let mut plain: Plain = serde_json::from_slice(bytes)
            .map_err(|_| Error::Crypto("opened credentials are malformed".into()))?;
        let s = |v: &mut Option<String>| v.take().map(SecretString::from);
        Ok(Self {
            access_token: s(&mut plain.at),
            refresh_token: s(&mut plain.rt),
            client_id: plain.cid.take(),
            client_secret: s(&mut plain.cs),
            username: plain.user.take(),
            password: s(&mut plain.pw),
            private_key_pem: s(&mut plain.pk),
            instance_url: plain.url.take(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let (key, _) = MasterKey::generate();
        let vault = Vault::new(key);
        let sealed = vault.seal(b"a", b"secret").unwrap();
        assert_eq!(vault.open(b"a", &sealed).unwrap().as_slice(), b"secret");
        assert_eq!(
            vault.open(b"b", &sealed).unwrap_err().kind(),
            crate::ErrorKind::Crypto
        );
        // Fresh nonce each time: two seals of the same value differ.
        assert_ne!(sealed, vault.seal(b"a", b"secret").unwrap());
    }

    #[test]
    fn wrong_or_malformed_keys_are_clear_errors() {
        let err = MasterKey::from_base64(&SecretString::from("not base64!")).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
        let err = MasterKey::from_base64(&SecretString::from(B64.encode([1u8; 16]))).unwrap_err();
        assert!(err.to_string().contains("16 bytes"), "{err}");
        let (a, _) = MasterKey::generate();
        let (b, _) = MasterKey::generate();
        let canary = Vault::new(a).seal_canary().unwrap();
        let id = Vault::sealed_key_id(&canary).unwrap().to_owned();
        assert!(Vault::new(b).check_canary(&id, &canary).is_err());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let (key, text) = MasterKey::generate();
        let creds = Credentials {
            access_token: Some("tok-123".into()),
            ..Default::default()
        };
        assert!(!format!("{creds:?}").contains("tok-123"));
        assert!(!format!("{key:?}").contains(text.expose_secret()));
    }
}
