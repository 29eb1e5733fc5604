//! The connectors directory: components installed by file, found by the id their `spec()`
//! reports, and swapped while the host runs.
//!
//! A component is only ever made current after it compiled, linked against the world and
//! answered `spec()`; a bad file is reported and the previous component stays. Runs hold an `Arc`
//! of the connector they started with, so a swap never disturbs them.
//!
//! An id cannot be taken over: the file named `<id>.wasm` owns an id, otherwise the first file in
//! path order reporting it; every other file reporting it is rejected with a conflict. A file
//! reporting the bundled id is rejected unless its manifest says it replaces the bundled
//! connector, which only `connectors install --replace` writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bundled::{BUNDLED_ID, load_bundled};
use super::manifest::{Manifest, ManifestError};
use crate::dirscan::{self, Scanned, Stamp};
use crate::fsutil::hex_digest;
use crate::sandbox::{Connector, LoadError, Runtime};

/// Why a component file is not in use.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// It is not a usable component.
    #[error(transparent)]
    Load(Arc<LoadError>),
    /// Its manifest cannot be used.
    #[error(transparent)]
    Manifest(Arc<ManifestError>),
    /// It loaded, but its id belongs to another.
    #[error(transparent)]
    Conflict(Conflict),
}

/// A component that loaded but whose id is not its to have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// It reports the bundled connector's id without a manifest that says it replaces it.
    #[error(
        "{} reports the id `{id}` of the bundled connector, and does not replace it; to replace \
         the bundled connector, install it with `euno-host connectors install FILE --replace`",
        file.display()
    )]
    Bundled {
        /// The file.
        file: PathBuf,
        /// The id it reports.
        id: String,
    },
    /// Another file owns its id.
    #[error(
        "{} reports the id `{id}`, which {} already has; it is not used (the file named \
         `{id}.wasm` owns its id, otherwise the first in path order; `connectors install \
         --replace` replaces a connector)",
        file.display(),
        owner.display()
    )]
    Taken {
        /// The file.
        file: PathBuf,
        /// The id it reports.
        id: String,
        /// The file that owns the id.
        owner: PathBuf,
    },
}

/// What the registry knows about one component file.
#[derive(Debug, Clone)]
struct Entry {
    /// The component's stamp, and its manifest's when it has one.
    stamp: (Stamp, Option<Stamp>),
    digest: String,
    /// What its manifest says (the default for a file without one).
    manifest: Manifest,
    /// The connector, or why the file was rejected.
    loaded: Result<Arc<Connector>, Rejection>,
}

/// What changed in a rescan, for the log and for tests.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// Files whose component became current: `(file, id, digest)`.
    pub loaded: Vec<(PathBuf, String, String)>,
    /// Files rejected, with the reason.
    pub rejected: Vec<(PathBuf, Rejection)>,
    /// Files that disappeared.
    pub removed: Vec<PathBuf>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.rejected.is_empty() && self.removed.is_empty()
    }
}

/// A snapshot of the usable connectors, as runs see them.
#[derive(Clone)]
pub struct ConnectorSet {
    dir: Option<PathBuf>,
    bundled: Arc<Connector>,
    /// The files that own an id, one per id.
    files: Vec<(PathBuf, Arc<Connector>)>,
}

impl ConnectorSet {
    /// The connector with this id: the file that owns it, or (for the bundled id) the bundled
    /// one.
    pub fn get(&self, id: &str) -> Option<Arc<Connector>> {
        match self.files.iter().find(|(_, c)| c.spec.id == id) {
            Some((_, connector)) => Some(Arc::clone(connector)),
            None if id == BUNDLED_ID => Some(Arc::clone(&self.bundled)),
            None => None,
        }
    }

    /// The connectors directory the set comes from, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The file that owns `id`, if any.
    pub fn file_of(&self, id: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(_, c)| c.spec.id == id)
            .map(|(path, _)| path.as_path())
    }

    /// Every usable connector with its file (`None` for the bundled one, listed unless an
    /// installed file replaces it).
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

/// A component file that is not in use, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The file.
    pub file: PathBuf,
    /// The component, when it loaded (it lost its id to another).
    pub connector: Option<Arc<Connector>>,
    /// Why it is not in use.
    pub reason: Rejection,
}

/// The connectors available to runs: the bundled connector and a directory's components, kept
/// up to date by [`Registry::rescan`].
pub struct Registry {
    runtime: Runtime,
    dir: Option<PathBuf>,
    bundled: Arc<Connector>,
    files: BTreeMap<PathBuf, Entry>,
    /// Loaded files refused because another file, or the bundled connector, has their id.
    conflicts: BTreeMap<PathBuf, Conflict>,
}

impl Registry {
    /// A registry of the bundled connector and, when given, the components in `dir`. The files
    /// rejected are logged as errors.
    pub async fn open(runtime: &Runtime, dir: Option<&Path>) -> Result<Self, LoadError> {
        let bundled = Arc::new(load_bundled(runtime).await?);
        let mut registry = Self {
            runtime: runtime.clone(),
            dir: dir.map(Path::to_owned),
            bundled,
            files: BTreeMap::new(),
            conflicts: BTreeMap::new(),
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
                .filter(|(path, _)| !self.conflicts.contains_key(*path))
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

    /// Files not in use after the last scan, in path order: those that failed to load, and those
    /// whose id another file (or the bundled connector) has.
    pub fn rejected(&self) -> Vec<Rejected> {
        self.files
            .iter()
            .filter_map(
                |(path, entry)| match (&entry.loaded, self.conflicts.get(path)) {
                    (Err(reason), _) => Some(Rejected {
                        file: path.clone(),
                        connector: None,
                        reason: reason.clone(),
                    }),
                    (Ok(connector), Some(conflict)) => Some(Rejected {
                        file: path.clone(),
                        connector: Some(Arc::clone(connector)),
                        reason: Rejection::Conflict(conflict.clone()),
                    }),
                    (Ok(_), None) => None,
                },
            )
            .collect()
    }

    /// Decides which file owns each id, recording the others as conflicts; reports the files
    /// newly refused, and those newly in use because a conflict went away.
    fn arbitrate(&mut self, changes: &mut Changes) {
        // The loaded files reporting each id, in path order.
        let mut claimants: BTreeMap<&str, Vec<(&PathBuf, &Entry)>> = BTreeMap::new();
        for (path, entry) in &self.files {
            if let Ok(connector) = &entry.loaded {
                claimants
                    .entry(connector.spec.id.as_str())
                    .or_default()
                    .push((path, entry));
            }
        }
        let mut conflicts = BTreeMap::new();
        for (id, files) in claimants {
            let mut eligible = Vec::new();
            for (path, entry) in files {
                if id == BUNDLED_ID && !entry.manifest.replace_bundled {
                    conflicts.insert(
                        path.clone(),
                        Conflict::Bundled {
                            file: path.clone(),
                            id: id.to_owned(),
                        },
                    );
                } else {
                    eligible.push(path);
                }
            }
            let named = eligible
                .iter()
                .position(|path| path.file_stem().is_some_and(|stem| stem == id));
            let Some(owner) = eligible.get(named.unwrap_or(0)).copied() else {
                continue;
            };
            for path in eligible {
                if path != owner {
                    conflicts.insert(
                        path.clone(),
                        Conflict::Taken {
                            file: path.clone(),
                            id: id.to_owned(),
                            owner: owner.clone(),
                        },
                    );
                }
            }
        }
        // A component that loaded but lost its id is not in use: report it only as rejected.
        changes
            .loaded
            .retain(|(path, _, _)| !conflicts.contains_key(path));
        for (path, conflict) in &conflicts {
            if self.conflicts.get(path) != Some(conflict) {
                changes
                    .rejected
                    .push((path.clone(), Rejection::Conflict(conflict.clone())));
            }
        }
        for path in self.conflicts.keys() {
            if !conflicts.contains_key(path)
                && let Some(Entry {
                    loaded: Ok(connector),
                    digest,
                    ..
                }) = self.files.get(path)
            {
                changes
                    .loaded
                    .push((path.clone(), connector.spec.id.clone(), digest.clone()));
            }
        }
        self.conflicts = conflicts;
    }

    /// Looks at the directory again and loads what is new or changed. Compiling happens here, off
    /// the caller's scheduling path when the caller runs it in its own task.
    pub async fn rescan(&mut self) -> Changes {
        let mut changes = Changes::default();
        self.load_changed(&mut changes).await;
        self.arbitrate(&mut changes);
        changes
    }

    async fn load_changed(&mut self, changes: &mut Changes) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let components = dirscan::scan(&dir, "wasm");
        let mut manifests = dirscan::scan(&dir, "toml");
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !components.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            self.files.remove(&path);
            changes.removed.push(path);
        }
        for (path, Scanned { stamp, bytes }) in components {
            let manifest_path = Manifest::path_for(&path);
            let manifest_file = manifests.remove(&manifest_path);
            let stamp = (stamp, manifest_file.as_ref().map(|m| m.stamp.clone()));
            if self
                .files
                .get(&path)
                .is_some_and(|entry| entry.stamp == stamp)
            {
                continue;
            }
            let digest = hex_digest(&bytes);
            let manifest = match &manifest_file {
                Some(file) => std::str::from_utf8(&file.bytes)
                    .map_err(|e| ManifestError::Malformed {
                        path: manifest_path.clone(),
                        message: format!("it is not UTF-8 text ({e})"),
                    })
                    .and_then(|text| Manifest::parse(&manifest_path, text)),
                None => Ok(Manifest::default()),
            };
            if let Some(entry) = self.files.get_mut(&path)
                && entry.digest == digest
                && let Ok(manifest) = &manifest
            {
                // The same component: only its grants may have changed, which needs no compiling.
                entry.stamp = stamp;
                if *manifest != entry.manifest {
                    entry.manifest = manifest.clone();
                    if let Ok(connector) = &mut entry.loaded {
                        *connector =
                            Arc::new(connector.with_installed_origins(manifest.allow.clone()));
                        changes.loaded.push((
                            path.clone(),
                            connector.spec.id.clone(),
                            digest.clone(),
                        ));
                    }
                }
                continue;
            }
            let (manifest, loaded) = match manifest {
                Ok(manifest) => {
                    let loaded = self
                        .runtime
                        .load(&path.display().to_string(), &bytes)
                        .await
                        .map(|c| Arc::new(c.with_installed_origins(manifest.allow.clone())))
                        .map_err(|e| Rejection::Load(Arc::new(e)));
                    (manifest, loaded)
                }
                Err(error) => (
                    Manifest::default(),
                    Err(Rejection::Manifest(Arc::new(error))),
                ),
            };
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
                        loaded: Ok(old),
                        manifest: old_manifest,
                        ..
                    }),
                ) => {
                    self.files.insert(
                        path.clone(),
                        Entry {
                            stamp,
                            digest,
                            manifest: old_manifest,
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
                    manifest,
                    loaded,
                },
            );
        }
    }
}
