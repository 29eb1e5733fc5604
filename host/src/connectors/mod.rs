//! Connectors: which component answers to a source's `connector = "..."`, and where it comes
//! from.
//!
//! A source names its connector by id (`connector = "hex"`) or by file (`"other.wasm"`). An id
//! resolves to the component in the connectors directory that reports it ([`registry`]), or, for
//! the bundled id, to the Hex connector carried in the binary, the one connector whose spec the
//! host trusts.
//!
//! Its modules, bottom-up: [`bundled`] (the bundled connector, its id), [`id`] (the id syntax, a
//! source's reference, the identity recorded with a run), [`manifest`] (what the operator decided
//! about an installed component), [`registry`] (the directory, watched and arbitrated),
//! [`install`]; this module looks a reference up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sandbox::{Connector, LoadError, Runtime};

pub mod bundled;
pub mod id;
pub mod install;
pub mod manifest;
pub mod registry;
pub mod stored;

pub use bundled::{BUNDLED_HEX_COMPONENT, BUNDLED_ID, BUNDLED_ORIGIN, load_bundled};
pub use id::{ConnectorRef, identity, is_id};
pub use install::{InstallError, InstallOptions, install};
pub use manifest::{Manifest, ManifestError};
pub use registry::{ConnectorSet, Registry, Rejected, Rejection};
pub use stored::{MaterializeError, install_stored, materialize};

/// A connector that could not be found or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No component reports this id.
    #[error("no connector with id `{id}`{}", match .dir { Some(d) => format!(" in {}", d.display()), None => " (no connectors directory given)".to_owned() })]
    UnknownId {
        /// The id asked for.
        id: String,
        /// The directory searched.
        dir: Option<PathBuf>,
    },
    /// The component file cannot be read.
    #[error("{}: cannot read the connector component: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The component is not usable.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The connector `reference` names, from the snapshot `connectors` or from its own file.
pub async fn resolve(
    runtime: &Runtime,
    connectors: &ConnectorSet,
    reference: &ConnectorRef,
) -> Result<Arc<Connector>, LookupError> {
    match reference {
        ConnectorRef::Id(id) => connectors.get(id).ok_or_else(|| LookupError::UnknownId {
            id: id.clone(),
            dir: connectors.dir().map(Path::to_owned),
        }),
        ConnectorRef::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| LookupError::Read {
                path: path.clone(),
                source,
            })?;
            Ok(Arc::new(
                runtime.load(&path.display().to_string(), &bytes).await?,
            ))
        }
    }
}

/// The connector `reference` names, looked up once (a command, not a daemon): the bundled one
/// at once when there is no connectors directory, otherwise through the directory's registry.
pub async fn lookup(
    runtime: &Runtime,
    dir: Option<&Path>,
    reference: &ConnectorRef,
) -> Result<Arc<Connector>, LookupError> {
    match reference {
        ConnectorRef::Id(id) if id == BUNDLED_ID && dir.is_none() => {
            Ok(Arc::new(load_bundled(runtime).await?))
        }
        reference => {
            let registry = Registry::open(runtime, dir).await?;
            resolve(runtime, &registry.current(), reference).await
        }
    }
}
