//! Salesforce record ids: 15-character case-sensitive ids and their 18-character case-insensitive form.
//!
//! Invariant: an [`SfId`] is always the 18-character form with a valid checksum; a 15-character id is
//! accepted by [`SfId::parse`] and widened, so two spellings of one record compare equal.

use std::fmt;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// An 18-character Salesforce id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SfId(String);

/// Why a string is not a Salesforce id (answered as `MALFORMED_ID` / `INVALID_ID_FIELD` by the APIs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id must be 15 or 18 characters, got {0}")]
    Length(usize),
    #[error("id contains a character that is not a letter or digit")]
    Charset,
    #[error("the 3-character checksum of the 18-character id does not match")]
    Checksum,
}

/// The 3-character checksum suffix of a 15-character id.
fn checksum(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in id15.chunks(5).zip(out.iter_mut()) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        *slot = SUFFIX[bits];
    }
    out
}

impl SfId {
    /// Parses a 15- or 18-character id. An 18-character id's suffix is checked case-insensitively,
    /// and its first 15 characters are kept as given (they are case-sensitive).
    ///
    /// # Errors
    /// [`IdError`] when the length, the characters or the checksum are wrong.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        if !b.iter().all(u8::is_ascii_alphanumeric) {
            return Err(IdError::Charset);
        }
        match b.len() {
            15 => {
                let sum = checksum(b);
                let mut out = String::with_capacity(18);
                out.push_str(s);
                out.extend(sum.iter().map(|&c| c as char));
                Ok(SfId(out))
            }
            18 => {
                let sum = checksum(&b[..15]);
                if !b[15..].eq_ignore_ascii_case(&sum) {
                    return Err(IdError::Checksum);
                }
                let mut out = String::with_capacity(18);
                out.push_str(&s[..15]);
                out.extend(sum.iter().map(|&c| c as char));
                Ok(SfId(out))
            }
            n => Err(IdError::Length(n)),
        }
    }

    /// Builds the id number `n` for an object with this 3-character key prefix, on pod `pod` (2 characters).
    pub fn generate(key_prefix: &str, pod: &str, n: u64) -> Self {
        let mut body = [b'0'; 10];
        let mut v = n;
        for slot in body.iter_mut().rev() {
            *slot = BASE62[(v % 62) as usize];
            v /= 62;
        }
        let mut id = String::with_capacity(18);
        id.push_str(key_prefix);
        id.push_str(pod);
        // body[0] is the reserved character Salesforce keeps as '0' for ids of this age.
        id.extend(body.iter().map(|&c| c as char));
        let sum = checksum(id.as_bytes());
        id.extend(sum.iter().map(|&c| c as char));
        SfId(id)
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 15-character, case-sensitive form.
    pub fn short(&self) -> &str {
        &self.0[..15]
    }

    /// The 3-character key prefix that names the object (`001` Account, `003` Contact, ...).
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }
}

impl fmt::Display for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_known_ids() {
        // Pairs published in Salesforce's documentation and knowledge articles.
        assert_eq!(
            SfId::parse("001A0000006Vm9r").map(|i| i.to_string()),
            Ok("001A0000006Vm9rIAC".to_string())
        );
        assert_eq!(
            SfId::parse("003i000001H5qhp").map(|i| i.to_string()),
            Ok("003i000001H5qhpAAB".to_string())
        );
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(SfId::parse("001"), Err(IdError::Length(3)));
        assert_eq!(SfId::parse("001A0000006Vm9-"), Err(IdError::Charset));
        assert_eq!(SfId::parse("001A0000006Vm9rAAA"), Err(IdError::Checksum));
        assert!(
            SfId::parse("001A0000006Vm9riac").is_ok(),
            "suffix is case-insensitive"
        );
    }

    #[test]
    fn generated_ids_round_trip() {
        let id = SfId::generate("001", "5g", 123_456);
        assert_eq!(id.as_str().len(), 18);
        assert_eq!(id.key_prefix(), "001");
        assert_eq!(SfId::parse(id.short()), Ok(id.clone()));
        assert_ne!(SfId::generate("001", "5g", 1), SfId::generate("001", "5g", 2));
    }
}
