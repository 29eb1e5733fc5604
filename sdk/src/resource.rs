//! Building resources: the builder methods on [`Resource`], conversions into
//! [`PropertyValue`], and URIs that the host accepts whatever an upstream id contains.
//!
//! ```
//! use euno_connector_sdk::resource::uri;
//! use euno_connector_sdk::types::Resource;
//!
//! let shelf = uri(["bookshelf", "main", "shelves", "Sci-Fi 2"]);
//! assert_eq!(shelf, "bookshelf.main.shelves.sci-fi%202");
//! let book = Resource::new(uri(["bookshelf", "main", "books", "b1"]), "bookshelf_book", "Dune")
//!     .parent(&shelf)
//!     .native_id("b1")
//!     .property("pages", 412)
//!     .property("subtitle", None::<&str>)
//!     .timestamp("published_at", Some(-141_177_600_000))
//!     .relation("uses", &shelf);
//! assert_eq!(book.properties.len(), 3);
//! ```

use crate::types::{Property, PropertyValue, Relation, Relations, Resource};

impl Resource {
    /// A resource with no parent, native id, property or relation.
    pub fn new(
        uri: impl Into<String>,
        resource_type: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            uri: uri.into(),
            resource_type: resource_type.into(),
            name: name.into(),
            parent_uri: None,
            native_id: None,
            properties: Vec::new(),
            relations: Relations::Set(Vec::new()),
        }
    }

    /// Sets the parent's URI.
    #[must_use]
    pub fn parent(mut self, uri: impl Into<String>) -> Self {
        self.parent_uri = Some(uri.into());
        self
    }

    /// Sets the source system's own identifier.
    #[must_use]
    pub fn native_id(mut self, id: impl Into<String>) -> Self {
        self.native_id = Some(id.into());
        self
    }

    /// Adds a property: text, an integer, a boolean, a list of texts, or an `Option` of one
    /// (`None` is [`PropertyValue::Null`], known to be absent upstream).
    #[must_use]
    pub fn property(mut self, name: &str, value: impl Into<PropertyValue>) -> Self {
        self.properties.push(Property {
            name: name.to_owned(),
            value: value.into(),
        });
        self
    }

    /// Adds a timestamp property (epoch milliseconds; `None` is null). Read RFC 3339 text with
    /// [`parse_rfc3339`](crate::timestamp::parse_rfc3339).
    #[must_use]
    pub fn timestamp(mut self, name: &str, epoch_ms: Option<i64>) -> Self {
        self.properties.push(Property {
            name: name.to_owned(),
            value: epoch_ms.map_or(PropertyValue::Null, PropertyValue::Timestamp),
        });
        self
    }

    /// Adds a relation of `kind` (`reads`, `uses`, `connects-to`...) to `target`. After
    /// [`relations_unchanged`](Self::relations_unchanged), starts a new set.
    #[must_use]
    pub fn relation(mut self, kind: &str, target: impl Into<String>) -> Self {
        let relation = Relation {
            kind: kind.to_owned(),
            target: target.into(),
        };
        match &mut self.relations {
            Relations::Set(relations) => relations.push(relation),
            Relations::Unchanged => self.relations = Relations::Set(vec![relation]),
        }
        self
    }

    /// Says the resource's relations are those the last successful run stored for its URI, so
    /// they need not be fetched again.
    #[must_use]
    pub fn relations_unchanged(mut self) -> Self {
        self.relations = Relations::Unchanged;
        self
    }
}

impl From<&str> for PropertyValue {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<&String> for PropertyValue {
    fn from(text: &String) -> Self {
        Self::Text(text.clone())
    }
}

impl From<String> for PropertyValue {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for PropertyValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<i32> for PropertyValue {
    fn from(value: i32) -> Self {
        Self::Integer(value.into())
    }
}

impl From<u32> for PropertyValue {
    fn from(value: u32) -> Self {
        Self::Integer(value.into())
    }
}

impl From<bool> for PropertyValue {
    fn from(value: bool) -> Self {
        Self::Boolean(value)
    }
}

impl From<Vec<String>> for PropertyValue {
    fn from(values: Vec<String>) -> Self {
        Self::TextList(values)
    }
}

impl From<&[String]> for PropertyValue {
    fn from(values: &[String]) -> Self {
        Self::TextList(values.to_vec())
    }
}

impl<T: Into<PropertyValue>> From<Option<T>> for PropertyValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// `text` as one segment of a resource URI: lowercase, with what the host refuses in a URI
/// (whitespace, control characters, what stays uppercase) and what would change its meaning
/// (`.` separates segments, `%` escapes) percent-encoded in lowercase hex. Ordinary ids come out
/// merely lowercased.
pub fn uri_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        if c == '.' || c == '%' || c.is_whitespace() || c.is_control() || c.is_uppercase() {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{byte:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A URI from segments, each made safe with [`uri_segment`] and joined with `.`.
pub fn uri<S: AsRef<str>>(segments: impl IntoIterator<Item = S>) -> String {
    segments
        .into_iter()
        .map(|segment| uri_segment(segment.as_ref()))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_lowercase_and_escape_what_the_host_refuses() {
        assert_eq!(uri_segment("0B7E-aa_b"), "0b7e-aa_b");
        assert_eq!(uri_segment("a.b c%d\n"), "a%2eb%20c%25d%0a");
        assert_eq!(uri_segment("ÉTÉ"), "été");
        assert_eq!(uri(["hex", "My WS", "x.y"]), "hex.my%20ws.x%2ey");
    }

    #[test]
    fn relations_switch_from_unchanged_to_a_new_set() {
        let resource = Resource::new("a", "t", "A").relations_unchanged();
        assert_eq!(resource.relations, Relations::Unchanged);
        let resource = resource.relation("reads", "b");
        assert_eq!(
            resource.relations,
            Relations::Set(vec![Relation {
                kind: "reads".to_owned(),
                target: "b".to_owned()
            }])
        );
    }

    #[test]
    fn options_become_null_and_values_their_variant() {
        let resource = Resource::new("a", "t", "A")
            .property("n", None::<i64>)
            .property("t", Some("x"))
            .property("l", vec!["a".to_owned()])
            .timestamp("at", None);
        let values: Vec<_> = resource.properties.into_iter().map(|p| p.value).collect();
        assert_eq!(
            values,
            [
                PropertyValue::Null,
                PropertyValue::Text("x".to_owned()),
                PropertyValue::TextList(vec!["a".to_owned()]),
                PropertyValue::Null,
            ]
        );
    }
}
