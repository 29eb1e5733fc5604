//! The connectors directory: components installed by file, found by the id their `spec()`
//! reports, and swapped while the host runs.
//!
//! A source names its connector by id (`connector = "hex"`). The id resolves to the component in
//! the connectors directory that reports it, or, for `hex`, to the bundled connector. A component
//! is only ever made current after it compiled, linked against the world and answered `spec()`;
//! a bad file is reported and the previous component stays. Runs hold an `Arc` of the connector
//! they started with, so a swap never disturbs them.
//!
//! An id cannot be taken over: the file named `<id>.wasm` owns an id, otherwise the first file in
//! path order reporting it; every other file reporting it is rejected with a conflict. A file
//! reporting the bundled id `hex` is rejected unless its manifest says it replaces the bundled
//! connector, which only `connectors install --replace` writes. The manifest (`<id>.toml` beside
//! `<id>.wasm`) also records the origins the operator granted at installation; a component dropped
//! in by hand has none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;

use crate::http_policy::Origin;
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
    /// The component's stamp, and its manifest's when it has one.
    stamp: (FileStamp, Option<FileStamp>),
    digest: String,
    /// What its manifest says (the default for a file without one).
    manifest: Manifest,
    /// The connector, or why the file was rejected.
    loaded: Result<Arc<Connector>, String>,
}

/// What `connectors install` records beside a component (`<id>.toml`): the operator's decisions
/// about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The origins granted to it.
    pub allow: Vec<Origin>,
    /// Whether it replaces the bundled connector (it reports the id `hex`).
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

impl Manifest {
    /// The manifest of the component file `component`: `<stem>.toml` beside it.
    pub fn path_for(component: &Path) -> PathBuf {
        component.with_extension("toml")
    }

    /// Reads the manifest at `path`; a file that does not exist is the empty manifest.
    fn read(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("{}: cannot read the manifest: {e}", path.display())),
        };
        let raw: RawManifest = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.message().trim()))?;
        let allow = raw
            .allow
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Origin::grant(text).map_err(|e| {
                    format!(
                        "{}: `allow[{i}]`: `{text}` cannot be granted: {e}",
                        path.display()
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allow,
            replace_bundled: raw.replace_bundled,
            digest: raw.digest,
        })
    }

    fn text(&self, id: &str) -> String {
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
    /// The files that own an id, one per id.
    files: Vec<(PathBuf, Arc<Connector>)>,
}

impl ConnectorSet {
    /// The connector with this id: the file that owns it, or (for `hex`) the bundled one.
    pub fn get(&self, id: &str) -> Result<Arc<Connector>, RegistryError> {
        match self.files.iter().find(|(_, c)| c.spec.id == id) {
            Some((_, connector)) => Ok(Arc::clone(connector)),
            None if id == BUNDLED_ID => Ok(Arc::clone(&self.bundled)),
            None => Err(RegistryError::UnknownId {
                id: id.to_owned(),
                dir: self.dir.clone(),
            }),
        }
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

/// The connectors available to runs: the bundled Hex connector and a directory's components,
/// kept up to date by [`Registry::rescan`].
pub struct Registry {
    runtime: Runtime,
    dir: Option<PathBuf>,
    bundled: Arc<Connector>,
    files: BTreeMap<PathBuf, Entry>,
    /// Loaded files refused because another file, or the bundled connector, has their id.
    conflicts: BTreeMap<PathBuf, String>,
}

/// A component file that is not in use, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The file.
    pub file: PathBuf,
    /// The component, when it loaded (it lost its id to another).
    pub connector: Option<Arc<Connector>>,
    /// Why it is not in use.
    pub reason: String,
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
    /// The id the component reports is taken, and `--replace` was not given.
    #[error(
        "{}: the connector id `{id}` is {holder}; pass --replace to replace it",
        .file.display()
    )]
    Taken {
        /// The component being installed.
        file: PathBuf,
        /// Its id.
        id: String,
        /// Who has the id.
        holder: String,
    },
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
                    (Ok(connector), Some(reason)) => Some(Rejected {
                        file: path.clone(),
                        connector: Some(Arc::clone(connector)),
                        reason: reason.clone(),
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
                        format!(
                            "{} reports the id `{id}` of the bundled connector, and does not replace it; to replace the bundled connector, install it with `euno-host connectors install FILE --replace`",
                            path.display()
                        ),
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
                        format!(
                            "{} reports the id `{id}`, which {} already has; it is not used (the file named `{id}.wasm` owns its id, otherwise the first in path order; `connectors install --replace` replaces a connector)",
                            path.display(),
                            owner.display()
                        ),
                    );
                }
            }
        }
        // A component that loaded but lost its id is not in use: report it only as rejected.
        changes
            .loaded
            .retain(|(path, _, _)| !conflicts.contains_key(path));
        for (path, reason) in &conflicts {
            if self.conflicts.get(path) != Some(reason) {
                changes.rejected.push((path.clone(), reason.clone()));
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
            let manifest = Manifest::read(&Manifest::path_for(&path));
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
            let loaded = match &manifest {
                Ok(manifest) => self
                    .runtime
                    .load(&path.display().to_string(), &bytes)
                    .await
                    .map(|c| Arc::new(c.with_installed_origins(manifest.allow.clone())))
                    .map_err(|e| e.to_string()),
                Err(reason) => Err(reason.clone()),
            };
            let manifest = manifest.unwrap_or_default();
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

/// The stamp of the file at `path`, if it is one.
fn stamp_of(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    meta.is_file().then(|| FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// The `.wasm` files of `dir` with their stamps and their manifests'; a missing directory has
/// none.
fn component_files(dir: &Path) -> BTreeMap<PathBuf, (FileStamp, Option<FileStamp>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .filter_map(|path| {
            let stamp = stamp_of(&path)?;
            let manifest = stamp_of(&Manifest::path_for(&path));
            Some((path, (stamp, manifest)))
        })
        .collect()
}

/// What the operator decides when installing a component.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// The origins it may reach (besides those a source file grants).
    pub allow: Vec<Origin>,
    /// Replace the connector that has its id: an installed one, or the bundled one.
    pub replace: bool,
}

/// Validates a component and places it in `dir` as `<id>.wasm` with its manifest `<id>.toml`,
/// each atomically, so that a running `serve` never reads half a file. An id that is bundled or
/// already installed is refused unless `options.replace`.
pub async fn install(
    runtime: &Runtime,
    file: &Path,
    dir: &Path,
    options: InstallOptions,
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
    if !options.replace {
        let taken = |holder: String| RegistryError::Taken {
            file: file.to_owned(),
            id: id.clone(),
            holder,
        };
        if id == BUNDLED_ID {
            return Err(taken("the bundled connector's (bundled:hex)".to_owned()));
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
    write_atomically(&manifest_path, manifest.text(id).as_bytes()).map_err(|e| {
        RegistryError::Io {
            path: manifest_path.clone(),
            message: format!("cannot write the manifest: {e}"),
        }
    })?;
    write_atomically(&target, &bytes).map_err(|e| RegistryError::Io {
        path: target.clone(),
        message: format!("cannot install the component: {e}"),
    })?;
    let connector = connector.with_installed_origins(manifest.allow);
    Ok((target, connector))
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
        let err = Manifest::read(&path).unwrap_err();
        assert!(err.contains("x.toml") && err.contains("allow[0]"), "{err}");
        std::fs::write(&path, "allow = []\ngrants = 1\n").unwrap();
        assert!(Manifest::read(&path).unwrap_err().contains("grants"));
    }
}
