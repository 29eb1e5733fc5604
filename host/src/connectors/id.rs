//! What names a connector: the id syntax (one rule, for source files and installed components
//! alike), a source's reference to its connector, and the identity recorded with each run.

use std::path::{Path, PathBuf};

use crate::inventory::ConnectorIdentity;
use crate::sandbox::Connector;

/// Whether `text` can be a connector id: lowercase ASCII letters, digits, `-` and `_`, not empty.
/// The one rule, for source files and installed components alike (an id names a file).
pub fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Which component a source runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorRef {
    /// The connector whose `spec()` reports this id: from the connectors directory, or the
    /// bundled one for [`BUNDLED_ID`](super::bundled::BUNDLED_ID).
    Id(String),
    /// A component file.
    File(PathBuf),
}

impl ConnectorRef {
    /// A source file's `connector` value: a path ending in `.wasm` (relative to `base`, the
    /// source file's directory), or an id. `None` when it is neither.
    pub fn parse(text: &str, base: &Path) -> Option<Self> {
        if text.ends_with(".wasm") {
            let file = PathBuf::from(text);
            Some(Self::File(if file.is_absolute() {
                file
            } else {
                base.join(file)
            }))
        } else if is_id(text) {
            Some(Self::Id(text.to_owned()))
        } else {
            None
        }
    }

    /// What is known of the connector's identity before it is loaded: its id, when named by one.
    pub fn identity(&self) -> ConnectorIdentity {
        ConnectorIdentity {
            id: match self {
                Self::Id(id) => id.clone(),
                Self::File(_) => String::new(),
            },
            version: String::new(),
            digest: String::new(),
        }
    }
}

/// The identity recorded with each run of `connector`.
pub fn identity(connector: &Connector) -> ConnectorIdentity {
    ConnectorIdentity {
        id: connector.spec.id.clone(),
        version: connector.spec.version.clone(),
        digest: connector.digest.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_a_wasm_path_or_an_id() {
        let base = Path::new("/etc/euno");
        assert_eq!(
            ConnectorRef::parse("connectors/other.wasm", base),
            Some(ConnectorRef::File(PathBuf::from(
                "/etc/euno/connectors/other.wasm"
            )))
        );
        assert_eq!(
            ConnectorRef::parse("/opt/x.wasm", base),
            Some(ConnectorRef::File(PathBuf::from("/opt/x.wasm")))
        );
        assert_eq!(
            ConnectorRef::parse("my-conn_2", base),
            Some(ConnectorRef::Id("my-conn_2".to_owned()))
        );
        for bad in ["", "Tableau Cloud", "Hex", "a.b"] {
            assert_eq!(ConnectorRef::parse(bad, base), None, "{bad}");
            assert!(!is_id(bad), "{bad}");
        }
    }
}
