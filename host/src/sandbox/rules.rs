//! The rules every resource a connector emits must follow, checked by the host as each batch
//! arrives: a URI that can serve as an identity (non-empty, lowercase, no whitespace or control
//! character), unique within the run, and a type the connector's spec declares. A resource that
//! breaks one ends the run: the inventory keys everything by URI, and a catalog of undeclared
//! types or of URIs that differ only in case could not be trusted.

use std::collections::HashSet;

use crate::contract::Resource;

/// A resource the host refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleBroken {
    /// The URI is empty.
    #[error("the connector emitted a resource with an empty URI")]
    EmptyUri,
    /// The URI has an uppercase letter, a space or a control character.
    #[error("the connector emitted URI `{uri}`, which is not lowercase without spaces")]
    NotLowercase {
        /// The URI.
        uri: String,
    },
    /// The type is not among the spec's `resource_types`.
    #[error(
        "the connector emitted `{uri}` with type `{resource_type}`, which its spec does not declare"
    )]
    UndeclaredType {
        /// The URI.
        uri: String,
        /// The type.
        resource_type: String,
    },
    /// The URI came before in this run.
    #[error("the connector emitted `{uri}` twice in one run")]
    Duplicate {
        /// The URI.
        uri: String,
    },
}

/// The rules of one call: the declared types, and the URIs seen so far.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    resource_types: HashSet<String>,
    seen: HashSet<String>,
}

impl Rules {
    /// Rules for a connector whose spec declares `resource_types`.
    pub fn new(resource_types: &[String]) -> Self {
        Self {
            resource_types: resource_types.iter().cloned().collect(),
            seen: HashSet::new(),
        }
    }

    /// Checks every resource of a batch, stopping at the first that breaks a rule.
    pub fn check(&mut self, batch: &[Resource]) -> Result<(), RuleBroken> {
        batch
            .iter()
            .try_for_each(|resource| self.check_one(resource))
    }

    fn check_one(&mut self, resource: &Resource) -> Result<(), RuleBroken> {
        let uri = &resource.uri;
        if uri.is_empty() {
            return Err(RuleBroken::EmptyUri);
        }
        if uri
            .chars()
            .any(|c| c.is_uppercase() || c.is_whitespace() || c.is_control())
        {
            return Err(RuleBroken::NotLowercase { uri: uri.clone() });
        }
        if !self.resource_types.contains(&resource.resource_type) {
            return Err(RuleBroken::UndeclaredType {
                uri: uri.clone(),
                resource_type: resource.resource_type.clone(),
            });
        }
        if !self.seen.insert(uri.clone()) {
            return Err(RuleBroken::Duplicate { uri: uri.clone() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(uri: &str, resource_type: &str) -> Resource {
        Resource {
            uri: uri.to_owned(),
            resource_type: resource_type.to_owned(),
            name: "n".to_owned(),
            parent_uri: None,
            native_id: None,
            properties: Vec::new(),
            relations: crate::contract::Relations::default(),
        }
    }

    #[test]
    fn each_rule_is_named() {
        let mut rules = Rules::new(&["t".to_owned()]);
        assert_eq!(rules.check(&[resource("a.b", "t")]), Ok(()));
        for (bad, broken) in [
            (resource("", "t"), RuleBroken::EmptyUri),
            (
                resource("A.b", "t"),
                RuleBroken::NotLowercase { uri: "A.b".into() },
            ),
            (
                resource("a c", "t"),
                RuleBroken::NotLowercase { uri: "a c".into() },
            ),
            (
                resource("a.c", "u"),
                RuleBroken::UndeclaredType {
                    uri: "a.c".into(),
                    resource_type: "u".into(),
                },
            ),
            (
                resource("a.b", "t"),
                RuleBroken::Duplicate { uri: "a.b".into() },
            ),
        ] {
            assert_eq!(rules.check(&[bad]), Err(broken));
        }
    }
}
