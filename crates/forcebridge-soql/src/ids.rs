//! Salesforce ids as SOQL compares them: a 15-character id and its 18-character form are equal.
//!
//! Invariant: [`to18`] accepts exactly the strings Salesforce accepts as id literals (15 or 18 ASCII
//! letters and digits) and returns the 18-character form with the checksum recomputed from the first
//! 15 characters, so two spellings of one record always normalise to the same string.

const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 18-character form of a 15- or 18-character id, or `None` when `s` is not an id.
pub fn to18(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if !(b.len() == 15 || b.len() == 18) || !b.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let body = s.get(..15)?;
    let mut out = String::with_capacity(18);
    out.push_str(body);
    for chunk in body.as_bytes().chunks(5) {
        let mut bits = 0usize;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(char::from(*SUFFIX.get(bits)?));
    }
    Some(out)
}

/// The key two ids are compared by: the 18-character form, or the text itself when it is not an id
/// (a corrupt value never equals a valid literal, but compares stably).
pub fn key(s: &str) -> String {
    to18(s).unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_15_to_18() {
        assert_eq!(to18("001000000000001").as_deref(), Some("001000000000001AAA"));
        assert_eq!(to18("001A0000006Vm9r").as_deref(), Some("001A0000006Vm9rIAC"));
        assert_eq!(to18("001A0000006Vm9rIAC").as_deref(), Some("001A0000006Vm9rIAC"));
        // The suffix is case-insensitive: it is recomputed.
        assert_eq!(to18("001A0000006Vm9riac").as_deref(), Some("001A0000006Vm9rIAC"));
        assert_eq!(to18("abc"), None);
        assert_eq!(to18("001A0000006Vm9r!"), None);
    }
}
