//! Page cursors in the format real Hex uses.
//!
//! Hex's cursors are base64url (unpadded) of `v2:["<createdAt>","<id>"]`: the sort key of the
//! last item of the page. The simulator makes them the same way so that a connector treating them
//! as opaque sees realistic values, and decodes them as keyset positions, so a cursor stays valid
//! whatever the filters of the request that follows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The sort key a cursor points at: `(createdAt, id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CursorKey {
    pub(crate) created_at: String,
    pub(crate) id: String,
}

impl CursorKey {
    /// The key as borrowed strings, comparable with a project's `(createdAt, id)`.
    pub(crate) fn key(&self) -> (&str, &str) {
        (&self.created_at, &self.id)
    }
}

const PREFIX: &str = "v2:";

/// The cursor for a position.
pub(crate) fn encode(created_at: &str, id: &str) -> String {
    // Serializing two strings as a JSON array cannot fail.
    let key = serde_json::to_string(&[created_at, id]).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{key}"))
}

/// The position a cursor points at, or `None` when it is not one this server made.
pub(crate) fn decode(cursor: &str) -> Option<CursorKey> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let [created_at, id]: [String; 2] = serde_json::from_str(text.strip_prefix(PREFIX)?).ok()?;
    Some(CursorKey { created_at, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_real_format_and_round_trips() {
        let cursor = encode(
            "2024-08-21T17:16:09.567Z",
            "0e4f6ba1-9c39-4d3c-a0a4-6c2f0f2b7f00",
        );
        let raw = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            r#"v2:["2024-08-21T17:16:09.567Z","0e4f6ba1-9c39-4d3c-a0a4-6c2f0f2b7f00"]"#
        );
        assert!(!cursor.contains('=') && !cursor.contains('+') && !cursor.contains('/'));
        let key = decode(&cursor).unwrap();
        assert_eq!(key.created_at, "2024-08-21T17:16:09.567Z");
        assert_eq!(key.id, "0e4f6ba1-9c39-4d3c-a0a4-6c2f0f2b7f00");
    }

    #[test]
    fn rejects_foreign_cursors() {
        assert_eq!(decode("not a cursor!"), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("v1:[\"a\",\"b\"]")), None);
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("v2:[\"a\"]")), None);
        assert_eq!(decode(""), None);
    }
}
