//! The sources directory as the scheduler sees it: every valid source with its schedule, and the
//! error of every invalid file.
//!
//! A file written in several steps can be seen half-written, and half a source file may well
//! parse: without its `[cleanup]` or `[limits]` table, or with a setting still missing that
//! changes what it discovers. So a new or changed file is read only once it has settled (see
//! [`Settler`]); until then, and when its new version is invalid, the previous valid version
//! stays in force.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::schedule::{Schedule, ScheduleError};
use crate::dirscan::{Change, Scan, Scanned, Settler};
use crate::inventory::{SourceDefinition, StoredSource};
use crate::source::{SourceError, SourceFile};

/// One source file as last read.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// The file, valid.
    pub file: SourceFile,
    /// Its schedule.
    pub schedule: Schedule,
}

/// Why a settled source file is not in force.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceFileError {
    /// It is not text.
    #[error("{}: cannot read the source file: it is not UTF-8 text ({source})", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// Where it stops being UTF-8.
        source: std::str::Utf8Error,
    },
    /// Its shape is invalid.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Its `[schedule]` table is invalid.
    #[error("{}: {source}", path.display())]
    Schedule {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        source: ScheduleError,
    },
    /// Another file has its source's name.
    #[error(
        "{}: the source name \"{name}\" is already used by {}",
        path.display(),
        other.display()
    )]
    NameTaken {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
        /// The file that has it.
        other: PathBuf,
    },
}

/// Why a source file cannot be stored in a shared inventory (`sources apply`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The file is not a valid source.
    #[error(transparent)]
    Invalid(#[from] SourceFileError),
    /// It holds a secret value in clear.
    #[error(
        "{}: {} holds a secret value in clear, which is never stored in the inventory; write \
         `${{VAR}}` instead and give each worker the variable in its environment",
        path.display(),
        keys.join(", ")
    )]
    LiteralSecret {
        /// The file.
        path: PathBuf,
        /// The keys, e.g. `secrets.api_token`.
        keys: Vec<String>,
    },
}

/// Checks the source file at `path` (of `bytes`) as `sources apply` stores it: its shape, its
/// schedule, and that no secret value is written in clear. Returns its definition.
pub fn definition(path: &Path, bytes: &[u8]) -> Result<SourceDefinition, ApplyError> {
    let entry = SourceDir::default().read(path, bytes)?;
    let keys = entry.file.literal_secrets();
    if !keys.is_empty() {
        return Err(ApplyError::LiteralSecret {
            path: path.to_owned(),
            keys,
        });
    }
    Ok(SourceDefinition {
        name: entry.file.name,
        // `read` has checked that it is text.
        text: String::from_utf8_lossy(bytes).into_owned(),
        applied_from: path.display().to_string(),
    })
}

/// The stored definitions as the scheduler reads a directory: one entry each, named
/// `database:<name>`, its stamp its text's digest (a definition never settles: it was checked
/// when applied).
pub fn scan_of(definitions: Vec<StoredSource>) -> Scan {
    definitions
        .into_iter()
        .map(|definition| {
            (
                PathBuf::from(format!("database:{}", definition.name)),
                Scanned::of(definition.text.into_bytes()),
            )
        })
        .collect()
}

/// What a rescan of the sources directory found, for the log.
#[derive(Debug, Clone)]
pub enum SourceNote {
    /// A source's file is gone.
    Removed {
        /// The source.
        name: String,
        /// Its file.
        path: PathBuf,
    },
    /// A new or changed file waits to settle before it is read (said once per file).
    Waiting {
        /// The file.
        path: PathBuf,
        /// How long it must stay unchanged.
        settle: Duration,
    },
    /// A source is new, or its file changed, and is now in force.
    Read {
        /// The source.
        name: String,
        /// Its file.
        path: PathBuf,
        /// Whether a version of the file was in force before.
        updated: bool,
        /// Its schedule, in words.
        schedule: String,
    },
    /// A settled file is invalid.
    Invalid {
        /// Why.
        error: Arc<SourceFileError>,
        /// Whether a previous valid version of it stays in force.
        kept: bool,
    },
}

impl fmt::Display for SourceNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Removed { name, path } => {
                write!(f, "source \"{name}\" removed ({})", path.display())
            }
            Self::Waiting { path, settle } => write!(
                f,
                "source file {} is new or changed; waiting until it has stayed unchanged for {} \
                 ms before reading it",
                path.display(),
                settle.as_millis()
            ),
            Self::Read {
                name,
                path,
                updated,
                schedule,
            } => write!(
                f,
                "source \"{name}\" {} ({}): {schedule}",
                if *updated { "updated" } else { "added" },
                path.display()
            ),
            Self::Invalid { error, kept } => write!(
                f,
                "invalid source file {error}{}",
                if *kept {
                    "; the previous version stays in force"
                } else {
                    ""
                }
            ),
        }
    }
}

/// The sources directory: every valid source, and the error of every invalid file.
#[derive(Debug, Default)]
pub struct SourceDir {
    settler: Settler,
    /// Valid sources by file. An invalid edit keeps the previous valid version here.
    pub sources: BTreeMap<PathBuf, SourceEntry>,
    /// Files whose current content is invalid, with the error.
    pub errors: BTreeMap<PathBuf, Arc<SourceFileError>>,
}

impl SourceDir {
    /// A sources directory whose new or changed files are read once they have stayed unchanged
    /// for `settle`; zero reads them at once (`status`, which only looks).
    pub fn new(settle: Duration) -> Self {
        Self {
            settler: Settler::new(settle),
            ..Self::default()
        }
    }

    /// Takes in a scan of the directory made at `now`: reads the files that have settled since
    /// the last one; returns what to log.
    pub fn update(&mut self, scan: Scan, now: Timestamp) -> Vec<SourceNote> {
        let mut notes = Vec::new();
        for change in self.settler.update(scan, now) {
            match change {
                Change::Removed(path) => {
                    self.errors.remove(&path);
                    if let Some(entry) = self.sources.remove(&path) {
                        notes.push(SourceNote::Removed {
                            name: entry.file.name,
                            path,
                        });
                    }
                }
                Change::Waiting(path) => notes.push(SourceNote::Waiting {
                    path,
                    settle: self.settler.settle(),
                }),
                Change::Settled(path, bytes) => match self.read(&path, &bytes) {
                    Ok(entry) => {
                        self.errors.remove(&path);
                        notes.push(SourceNote::Read {
                            name: entry.file.name.clone(),
                            path: path.clone(),
                            updated: self.sources.contains_key(&path),
                            schedule: entry.schedule.describe(),
                        });
                        self.sources.insert(path, entry);
                    }
                    Err(error) => {
                        let error = Arc::new(error);
                        notes.push(SourceNote::Invalid {
                            error: Arc::clone(&error),
                            kept: self.sources.contains_key(&path),
                        });
                        self.errors.insert(path, error);
                    }
                },
            }
        }
        notes
    }

    /// The source in `bytes`, the settled content of the file at `path`.
    fn read(&self, path: &Path, bytes: &[u8]) -> Result<SourceEntry, SourceFileError> {
        let text = std::str::from_utf8(bytes).map_err(|source| SourceFileError::NotText {
            path: path.to_owned(),
            source,
        })?;
        let file = SourceFile::parse(path, text)?;
        let schedule = Schedule::from_table(file.schedule.as_ref()).map_err(|source| {
            SourceFileError::Schedule {
                path: path.to_owned(),
                source,
            }
        })?;
        if let Some((other, _)) = self
            .sources
            .iter()
            .find(|(p, s)| *p != path && s.file.name == file.name)
        {
            return Err(SourceFileError::NameTaken {
                path: path.to_owned(),
                name: file.name,
                other: other.clone(),
            });
        }
        Ok(SourceEntry { file, schedule })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirscan::Scanned;
    use crate::inventory::CleanupStrategy;

    const SETTLE: Duration = Duration::from_secs(2);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_750_000_000_000 + ms).unwrap()
    }

    fn source(name: &str, extra: &str) -> String {
        format!(
            "name = \"{name}\"\n[schedule]\nenabled = true\nhourly = {{ every_hours = 1 }}\n{extra}"
        )
    }

    fn scan(files: &[(&str, &str)]) -> Scan {
        files
            .iter()
            .map(|(path, text)| (PathBuf::from(path), Scanned::of(text.as_bytes().to_vec())))
            .collect()
    }

    fn names(dir: &SourceDir) -> Vec<String> {
        dir.sources.values().map(|s| s.file.name.clone()).collect()
    }

    fn said(notes: &[SourceNote]) -> Vec<String> {
        notes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_file_is_read_only_once_it_has_stayed_unchanged_for_the_settle_interval() {
        let mut dir = SourceDir::new(SETTLE);

        // Half a file that parses: no [cleanup] yet.
        let notes = said(&dir.update(scan(&[("a.toml", &source("A", ""))]), at(0)));
        assert!(
            notes.len() == 1 && notes[0].contains("waiting until it has stayed unchanged"),
            "{notes:?}"
        );
        assert!(dir.sources.is_empty());

        // The rest arrives a second later: the wait starts again, and is not announced again.
        let whole = source("A", "[cleanup]\nstrategy = \"none\"\n");
        assert!(
            dir.update(scan(&[("a.toml", &whole)]), at(1_000))
                .is_empty()
        );
        assert!(
            dir.update(scan(&[("a.toml", &whole)]), at(2_999))
                .is_empty()
        );
        assert!(dir.sources.is_empty(), "read before it settled");

        let notes = said(&dir.update(scan(&[("a.toml", &whole)]), at(3_000)));
        assert!(
            notes.len() == 1 && notes[0].contains("\"A\" added"),
            "{notes:?}"
        );
        let entry = dir.sources.values().next().unwrap();
        assert_eq!(
            entry.file.cleanup.strategy,
            CleanupStrategy::None,
            "the complete version"
        );
        assert!(
            dir.update(scan(&[("a.toml", &whole)]), at(60_000))
                .is_empty()
        );
    }

    #[test]
    fn the_version_in_force_stays_while_an_edit_settles_and_when_it_is_invalid() {
        let mut dir = SourceDir::new(SETTLE);
        let a = source("A", "");
        dir.update(scan(&[("a.toml", &a)]), at(0));
        dir.update(scan(&[("a.toml", &a)]), at(2_000));
        assert_eq!(names(&dir), ["A"]);

        // An edit in progress does not replace it until it settles.
        let b = source("B", "");
        dir.update(scan(&[("a.toml", &b)]), at(10_000));
        assert_eq!(names(&dir), ["A"]);
        let notes = said(&dir.update(scan(&[("a.toml", &b)]), at(12_000)));
        assert!(notes[0].contains("\"B\" updated"), "{notes:?}");
        assert_eq!(names(&dir), ["B"]);

        // Invalid once settled: reported, and the previous version stays.
        let bad = "name = \"B\"\nbogus = 1\n";
        dir.update(scan(&[("a.toml", bad)]), at(20_000));
        let notes = dir.update(scan(&[("a.toml", bad)]), at(22_000));
        assert!(
            matches!(notes.as_slice(), [SourceNote::Invalid { kept: true, .. }]),
            "{notes:?}"
        );
        assert!(
            said(&notes)[0].contains("previous version stays in force"),
            "{notes:?}"
        );
        assert_eq!(names(&dir), ["B"]);

        // Removing a file takes effect at once.
        let notes = said(&dir.update(Scan::new(), at(23_000)));
        assert!(
            notes.len() == 1 && notes[0].contains("removed"),
            "{notes:?}"
        );
        assert!(dir.sources.is_empty() && dir.errors.is_empty());
    }

    #[test]
    fn without_a_settle_interval_files_are_read_at_once() {
        let mut dir = SourceDir::default();
        let notes = said(&dir.update(scan(&[("a.toml", &source("A", ""))]), at(0)));
        assert!(notes.len() == 1 && notes[0].contains("added"), "{notes:?}");
        assert_eq!(names(&dir), ["A"]);
    }

    #[test]
    fn two_files_may_not_name_the_same_source_and_bad_bytes_are_named() {
        let mut dir = SourceDir::default();
        dir.update(
            scan(&[("a.toml", &source("A", "")), ("b.toml", &source("A", ""))]),
            at(0),
        );
        assert_eq!(names(&dir), ["A"]);
        let error = dir.errors[Path::new("b.toml")].to_string();
        assert!(error.contains("\"A\" is already used by a.toml"), "{error}");

        let mut scanned = Scan::new();
        scanned.insert(PathBuf::from("c.toml"), Scanned::of(vec![0xff, 0xfe]));
        dir.update(scanned, at(1));
        let error = dir.errors[Path::new("c.toml")].to_string();
        assert!(
            error.contains("c.toml") && error.contains("UTF-8"),
            "{error}"
        );
    }
}
