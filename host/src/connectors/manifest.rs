//! The manifest beside an installed component (`<id>.toml` beside `<id>.wasm`): what the operator
//! decided about it when installing it (the origins it may reach, whether it replaces the bundled
//! connector) and the digest installed. A component dropped in by hand has none, hence no grants.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sandbox::Origin;
use crate::sandbox::egress::OriginError;

/// What `connectors install` records beside a component: the operator's decisions about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The origins granted to it.
    pub allow: Vec<Origin>,
    /// Whether it replaces the bundled connector (it reports the bundled id).
    pub replace_bundled: bool,
    /// The SHA-256 of the component installed (a later swap of the file may change it).
    pub digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    replace_bundled: bool,
    digest: Option<String>,
}

/// A manifest that cannot be used; its component is rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file exists but cannot be read.
    #[error("{}: cannot read the manifest: {source}", path.display())]
    Read {
        /// The manifest.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Not a manifest: bad TOML, an unknown key, a value of the wrong type.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The manifest.
        path: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
    /// A grant that is not an origin.
    #[error("{}: `allow[{index}]`: `{text}` cannot be granted: {source}", path.display())]
    Grant {
        /// The manifest.
        path: PathBuf,
        /// The grant's position in `allow`.
        index: usize,
        /// The grant as written (literal: a manifest has no `${VAR}`).
        text: String,
        /// Why it is no origin.
        source: OriginError,
    },
}

impl Manifest {
    /// The manifest of the component file `component`: `<stem>.toml` beside it.
    pub fn path_for(component: &Path) -> PathBuf {
        component.with_extension("toml")
    }

    /// Reads the manifest at `path`; a file that does not exist is the empty manifest.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ManifestError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The manifest in `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Malformed {
            path: path.to_owned(),
            message: e.message().trim().to_owned(),
        })?;
        let allow = raw
            .allow
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                Origin::grant(&text).map_err(|source| ManifestError::Grant {
                    path: path.to_owned(),
                    index,
                    text,
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allow,
            replace_bundled: raw.replace_bundled,
            digest: raw.digest,
        })
    }

    /// The manifest's text, for the component `<id>.wasm`.
    pub fn text(&self, id: &str) -> String {
        let allow: Vec<String> = self.allow.iter().map(|o| format!("\"{o}\"")).collect();
        format!(
            "# Written by `euno-host connectors install`: what the operator decided about {id}.wasm.\n\
             digest = \"{}\"\nreplace_bundled = {}\nallow = [{}]\n",
            self.digest.as_deref().unwrap_or_default(),
            self.replace_bundled,
            allow.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_names_a_bad_grant() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        let manifest = Manifest {
            allow: vec![Origin::grant("https://api.example.com").unwrap()],
            replace_bundled: true,
            digest: Some("abc".to_owned()),
        };
        std::fs::write(&path, manifest.text("x")).unwrap();
        assert_eq!(Manifest::read(&path).unwrap(), manifest);
        assert_eq!(
            Manifest::read(&dir.path().join("none.toml")).unwrap(),
            Manifest::default()
        );
        std::fs::write(&path, "allow = [\"ftp://x:21\"]\n").unwrap();
        let err = Manifest::read(&path).unwrap_err().to_string();
        assert!(err.contains("x.toml") && err.contains("allow[0]"), "{err}");
        std::fs::write(&path, "allow = []\ngrants = 1\n").unwrap();
        assert!(
            Manifest::read(&path)
                .unwrap_err()
                .to_string()
                .contains("grants")
        );
    }
}
