//! The connectors directory: components installed by file, found by the id their `spec()`
//! reports, and swapped while the host runs.
//!
//! A source names its connector by id (`connector = "hex"`). The id resolves to the component in
//! the connectors directory that reports it, or, for `hex`, to the bundled connector when the
//! directory has none. A component is only ever made current after it compiled, linked against
//! the world and answered `spec()`; a bad file is reported and the previous component stays.
//! Runs hold an `Arc` of the connector they started with, so a swap never disturbs them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::runtime::{Connector, LoadError, Runtime, hex_digest, write_atomically};

/// The id of the bundled connector.
pub const BUNDLED_ID: &str = "hex";

/// A file in the connectors directory as last seen, to notice changes cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

/// What the registry knows about one component file.
#[derive(Debug, Clone)]
struct Entry {
    stamp: FileStamp,
    digest: String,
    /// The connector, or why the file was rejected.
    loaded: Result<Arc<Connector>, String>,
}

/// What changed in a rescan, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Files whose component became current: `(file, id, digest)`.
    pub loaded: Vec<(PathBuf, String, String)>,
    /// Files rejected, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
    /// Files that disappeared.
    pub removed: Vec<PathBuf>,
}

/// A snapshot of the usable connectors, as runs see them.
#[derive(Clone)]
pub struct ConnectorSet {
    dir: Option<PathBuf>,
    bundled: Arc<Connector>,
    files: Vec<(PathBuf, Arc<Connector>)>,
}

impl ConnectorSet {
    /// The connector with this id: a file named `<id>.wasm` first, then any file reporting the
    /// id, then (for `hex`) the bundled one.
    pub fn get(&self, id: &str) -> Result<Arc<Connector>, RegistryError> {
        let named = |path: &PathBuf| path.file_stem().is_some_and(|stem| stem == id);
        let reporting: Vec<&(PathBuf, Arc<Connector>)> =
            self.files.iter().filter(|(_, c)| c.spec.id == id).collect();
        let chosen = reporting
            .iter()
            .find(|(path, _)| named(path))
            .or_else(|| reporting.first());
        match chosen {
            Some((_, connector)) => Ok(Arc::clone(connector)),
            None if id == BUNDLED_ID => Ok(Arc::clone(&self.bundled)),
            None => Err(RegistryError::UnknownId {
                id: id.to_owned(),
                dir: self.dir.clone(),
            }),
        }
    }

    /// Every usable connector with its file (`None` for the bundled one, listed unless a file
    /// overrides it).
    pub fn list(&self) -> Vec<(Option<PathBuf>, Arc<Connector>)> {
        let mut list: Vec<(Option<PathBuf>, Arc<Connector>)> = self
            .files
            .iter()
            .map(|(path, c)| (Some(path.clone()), Arc::clone(c)))
            .collect();
        if !list.iter().any(|(_, c)| c.spec.id == BUNDLED_ID) {
            list.insert(0, (None, Arc::clone(&self.bundled)));
        }
        list
    }
}

/// The connectors available to runs: the bundled Hex connector and a directory's components,
/// kept up to date by [`Registry::rescan`].
pub struct Registry {
    runtime: Runtime,
    dir: Option<PathBuf>,
    bundled: Arc<Connector>,
    files: BTreeMap<PathBuf, Entry>,
}

/// A connector could not be found or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No component reports this id.
    #[error("no connector with id `{id}`{}", match .dir { Some(d) => format!(" in {}", d.display()), None => " (no connectors directory given)".to_owned() })]
    UnknownId {
        /// The id asked for.
        id: String,
        /// The directory searched.
        dir: Option<PathBuf>,
    },
    /// The component is not usable.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A file could not be read or written.
    #[error("{}: {message}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl Registry {
    /// A registry of the bundled connector and, when given, the components in `dir`.
    pub async fn open(runtime: &Runtime, dir: Option<&Path>) -> Result<Self, RegistryError> {
        let bundled = Arc::new(runtime.load_bundled_hex().await?);
        let mut registry = Self {
            runtime: runtime.clone(),
            dir: dir.map(Path::to_owned),
            bundled,
            files: BTreeMap::new(),
        };
        let changes = registry.rescan().await;
        for (path, reason) in &changes.rejected {
            tracing::error!(file = %path.display(), "rejected connector component: {reason}");
        }
        Ok(registry)
    }

    /// The connectors usable now. Cheap to clone and to share with runs.
    pub fn current(&self) -> ConnectorSet {
        ConnectorSet {
            dir: self.dir.clone(),
            bundled: Arc::clone(&self.bundled),
            files: self
                .files
                .iter()
                .filter_map(|(path, entry)| {
                    entry
                        .loaded
                        .as_ref()
                        .ok()
                        .map(|c| (path.clone(), Arc::clone(c)))
                })
                .collect(),
        }
    }

    /// Files rejected at the last scan, with the reason.
    pub fn rejected(&self) -> Vec<(PathBuf, String)> {
        self.files
            .iter()
            .filter_map(|(path, entry)| {
                entry
                    .loaded
                    .as_ref()
                    .err()
                    .map(|e| (path.clone(), e.clone()))
            })
            .collect()
    }

    /// Looks at the directory again and loads what is new or changed. Compiling happens here, off
    /// the caller's scheduling path when the caller runs it in its own task.
    pub async fn rescan(&mut self) -> Changes {
        let mut changes = Changes::default();
        let Some(dir) = self.dir.clone() else {
            return changes;
        };
        let present = component_files(&dir);
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !present.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            self.files.remove(&path);
            changes.removed.push(path);
        }
        for (path, stamp) in present {
            if self
                .files
                .get(&path)
                .is_some_and(|entry| entry.stamp == stamp)
            {
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                // Being replaced right now; the next scan will see the new file.
                Err(_) => continue,
            };
            let digest = hex_digest(&bytes);
            if let Some(entry) = self.files.get_mut(&path)
                && entry.digest == digest
            {
                entry.stamp = stamp;
                continue;
            }
            let loaded = self
                .runtime
                .load(&path.display().to_string(), &bytes)
                .await
                .map(Arc::new)
                .map_err(|e| e.to_string());
            match &loaded {
                Ok(connector) => {
                    changes
                        .loaded
                        .push((path.clone(), connector.spec.id.clone(), digest.clone()))
                }
                Err(reason) => changes.rejected.push((path.clone(), reason.clone())),
            }
            let previous = self.files.remove(&path);
            let loaded = match (loaded, previous) {
                // A bad replacement keeps the previous component of that file in service.
                (
                    Err(reason),
                    Some(Entry {
                        loaded: Ok(old), ..
                    }),
                ) => {
                    self.files.insert(
                        path.clone(),
                        Entry {
                            stamp,
                            digest,
                            loaded: Ok(old),
                        },
                    );
                    tracing::error!(file = %path.display(), "rejected connector component, keeping the previous one: {reason}");
                    continue;
                }
                (loaded, _) => loaded,
            };
            self.files.insert(
                path,
                Entry {
                    stamp,
                    digest,
                    loaded,
                },
            );
        }
        changes
    }
}

/// The `.wasm` files of `dir` with their stamps; a missing directory has none.
fn component_files(dir: &Path) -> BTreeMap<PathBuf, FileStamp> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            meta.is_file().then(|| {
                (
                    path,
                    FileStamp {
                        modified: meta.modified().ok(),
                        len: meta.len(),
                    },
                )
            })
        })
        .collect()
}

/// Validates a component and places it in `dir` as `<id>.wasm`, atomically, so that a running
/// `serve` never reads half a file.
pub async fn install(
    runtime: &Runtime,
    file: &Path,
    dir: &Path,
) -> Result<(PathBuf, Connector), RegistryError> {
    let bytes = std::fs::read(file).map_err(|e| RegistryError::Io {
        path: file.to_owned(),
        message: format!("cannot read the component: {e}"),
    })?;
    let connector = runtime.load(&file.display().to_string(), &bytes).await?;
    let id = &connector.spec.id;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(RegistryError::Io {
            path: file.to_owned(),
            message: format!(
                "the connector id `{id}` must be lowercase letters, digits, `-` or `_`"
            ),
        });
    }
    let target = dir.join(format!("{id}.wasm"));
    write_atomically(&target, &bytes).map_err(|e| RegistryError::Io {
        path: target.clone(),
        message: format!("cannot install the component: {e}"),
    })?;
    Ok((target, connector))
}
