//! Connectors stored in a shared (PostgreSQL) inventory, so that every worker loads the same
//! version: `connectors install --database` validates a component and stores its bytes by digest
//! with its manifest (the operator's grants); each `serve` worker copies what is stored into a
//! local directory ([`materialize`]) that its registry watches as it watches any connectors
//! directory, so an installed or replaced connector reaches every running worker without a
//! restart (within a poll interval), compiled off the scheduling path, while a run in flight
//! keeps the version it started with. The local directory is a cache the worker can lose: it is
//! rebuilt from the database.
//!
//! Workers poll rather than LISTEN: a poll of the stored digests is one small query per
//! interval, survives a dropped connection without re-subscribing, and the connectors loop polls
//! its directory anyway.

use std::collections::BTreeSet;
use std::path::Path;

use super::bundled::{BUNDLED_ID, BUNDLED_ORIGIN};
use super::id::is_id;
use super::install::{InstallError, InstallOptions};
use super::manifest::Manifest;
use crate::fsutil::{hex_digest, write_atomically};
use crate::inventory::{Inventory, InventoryError, StoredConnector};
use crate::sandbox::{Connector, Runtime};

/// Why the stored connectors could not be copied into the local directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaterializeError {
    /// The inventory could not be read.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A file could not be written or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// Validates the component `file` and stores it in `inventory` for every worker, with
/// `options`' grants. An id that is bundled or already stored is refused unless
/// `options.replace`. Returns the connector as stored.
pub async fn install_stored(
    runtime: &Runtime,
    file: &Path,
    inventory: &Inventory,
    options: InstallOptions,
) -> Result<Connector, InstallError> {
    let bytes = std::fs::read(file).map_err(|source| InstallError::Read {
        path: file.to_owned(),
        source,
    })?;
    let connector = runtime.load(&file.display().to_string(), &bytes).await?;
    let id = connector.spec.id.clone();
    if !is_id(&id) {
        return Err(InstallError::InvalidId {
            file: file.to_owned(),
            id,
        });
    }
    if !options.replace {
        let taken = |holder: String| InstallError::Taken {
            file: file.to_owned(),
            id: id.clone(),
            holder,
        };
        if id == BUNDLED_ID {
            return Err(taken(format!("the bundled connector's ({BUNDLED_ORIGIN})")));
        }
        if let Some(stored) = inventory
            .stored_connectors()?
            .into_iter()
            .find(|stored| stored.id == id)
        {
            return Err(taken(format!(
                "already installed in the database (digest {})",
                stored.digest
            )));
        }
    }
    let digest = hex_digest(&bytes);
    let manifest = Manifest {
        allow: options.allow,
        replace_bundled: id == BUNDLED_ID,
        digest: Some(digest.clone()),
    };
    inventory.store_connector(
        &StoredConnector {
            manifest: manifest.text(&id),
            id,
            digest,
            installed_at: jiff::Timestamp::now(),
        },
        &bytes,
    )?;
    Ok(connector.with_installed_origins(manifest.allow))
}

/// Makes `dir` hold exactly the connectors stored in `inventory`, as `<id>.wasm` with its
/// manifest `<id>.toml` (the manifest written first, each file atomically, so that a registry
/// watching `dir` never sees a component without its grants). Returns the ids written.
pub fn materialize(inventory: &Inventory, dir: &Path) -> Result<Vec<String>, MaterializeError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MaterializeError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let stored = inventory.stored_connectors()?;
    let mut written = Vec::new();
    for connector in &stored {
        let component = dir.join(format!("{}.wasm", connector.id));
        let manifest = Manifest::path_for(&component);
        let current = std::fs::read(&component)
            .ok()
            .map(|bytes| hex_digest(&bytes));
        let current_manifest = std::fs::read_to_string(&manifest).ok();
        if current.as_deref() == Some(connector.digest.as_str())
            && current_manifest.as_deref() == Some(connector.manifest.as_str())
        {
            continue;
        }
        // Replaced since it was listed: the next poll takes the new one.
        let Some(bytes) = inventory.connector_bytes(&connector.id, &connector.digest)? else {
            continue;
        };
        write_atomically(&manifest, connector.manifest.as_bytes()).map_err(io(&manifest))?;
        write_atomically(&component, &bytes).map_err(io(&component))?;
        written.push(connector.id.clone());
    }
    let ids: BTreeSet<&str> = stored.iter().map(|c| c.id.as_str()).collect();
    let entries = std::fs::read_dir(dir).map_err(io(dir))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let ours = path
            .extension()
            .is_some_and(|ext| ext == "wasm" || ext == "toml");
        let kept = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .is_some_and(|stem| ids.contains(stem));
        if ours && !kept {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(written)
}
