//! `connectors install`: a component validated, then placed in the connectors directory as
//! `<id>.wasm` with its manifest `<id>.toml`, each written atomically so that a running `serve`
//! never reads half a file.

use std::path::{Path, PathBuf};

use super::bundled::{BUNDLED_ID, BUNDLED_ORIGIN};
use super::id::is_id;
use super::manifest::Manifest;
use super::registry::Registry;
use crate::fsutil::write_atomically;
use crate::inventory::InventoryError;
use crate::sandbox::{Connector, LoadError, Origin, Runtime};

/// What the operator decides when installing a component.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// The origins it may reach (besides those a source file grants).
    pub allow: Vec<Origin>,
    /// Replace the connector that has its id: an installed one, or the bundled one.
    pub replace: bool,
}

/// Why a component was not installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The component file cannot be read.
    #[error("{}: cannot read the component: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// It is not a usable component (or the bundled one, needed to check ids, is not).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The id it reports cannot name a file.
    #[error(
        "{}: the connector id `{id}` must be lowercase letters, digits, `-` or `_`",
        file.display()
    )]
    InvalidId {
        /// The component being installed.
        file: PathBuf,
        /// The id it reports.
        id: String,
    },
    /// The id it reports is taken, and `--replace` was not given.
    #[error(
        "{}: the connector id `{id}` is {holder}; pass --replace to replace it",
        file.display()
    )]
    Taken {
        /// The component being installed.
        file: PathBuf,
        /// Its id.
        id: String,
        /// Who has the id, in words.
        holder: String,
    },
    /// The shared inventory could not be read or written (`--database`).
    #[error(transparent)]
    Store(#[from] InventoryError),
    /// The component or its manifest could not be written.
    #[error("{}: cannot {what}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What was being written: `write the manifest`, `install the component`.
        what: &'static str,
        /// What failed.
        source: std::io::Error,
    },
}

/// Validates a component and places it in `dir` as `<id>.wasm` with its manifest `<id>.toml`. An
/// id that is bundled or already installed is refused unless `options.replace`. Returns where it
/// went and the connector as installed.
pub async fn install(
    runtime: &Runtime,
    file: &Path,
    dir: &Path,
    options: InstallOptions,
) -> Result<(PathBuf, Connector), InstallError> {
    let bytes = std::fs::read(file).map_err(|source| InstallError::Read {
        path: file.to_owned(),
        source,
    })?;
    let connector = runtime.load(&file.display().to_string(), &bytes).await?;
    let id = &connector.spec.id;
    if !is_id(id) {
        return Err(InstallError::InvalidId {
            file: file.to_owned(),
            id: id.clone(),
        });
    }
    let target = dir.join(format!("{id}.wasm"));
    if !options.replace {
        let taken = |holder: String| InstallError::Taken {
            file: file.to_owned(),
            id: id.clone(),
            holder,
        };
        if id == BUNDLED_ID {
            return Err(taken(format!("the bundled connector's ({BUNDLED_ORIGIN})")));
        }
        if target.exists() {
            return Err(taken(format!("already installed as {}", target.display())));
        }
        let registry = Registry::open(runtime, Some(dir)).await?;
        if let Some(owner) = registry.current().file_of(id) {
            return Err(taken(format!("already installed as {}", owner.display())));
        }
    }
    let manifest = Manifest {
        allow: options.allow,
        replace_bundled: id == BUNDLED_ID,
        digest: Some(connector.digest.clone()),
    };
    // The manifest first: a serve that sees the new component sees the grants made for it.
    let manifest_path = Manifest::path_for(&target);
    write_atomically(&manifest_path, manifest.text(id).as_bytes()).map_err(|source| {
        InstallError::Write {
            path: manifest_path.clone(),
            what: "write the manifest",
            source,
        }
    })?;
    write_atomically(&target, &bytes).map_err(|source| InstallError::Write {
        path: target.clone(),
        what: "install the component",
        source,
    })?;
    let connector = connector.with_installed_origins(manifest.allow);
    Ok((target, connector))
}
