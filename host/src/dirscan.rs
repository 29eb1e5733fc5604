//! The one directory scanner: the files of a directory with one extension, each with a stamp
//! that tells one version of it from another, and the settle rule that says when a new or changed
//! version may be acted on.
//!
//! `serve` watches two directories: the sources (`*.toml`) and the connectors (`*.wasm`, with a
//! `<id>.toml` manifest beside each). Both are scanned here, by the same rule: a file's version is
//! its modification time, its length and the digest of its content, so that a rewrite within the
//! file system's time resolution, at the same length, still shows. The files are read whole on
//! every scan (they are small: source files of a few hundred bytes, components of a few hundred
//! KiB), and the caller acts on exactly the bytes that were stamped.
//!
//! A file written in several steps (an editor, `cat > file`, a copy over the network) can be seen
//! half-written, and half a source file may well parse. [`Settler`] holds a new or changed version
//! back until it has stayed the same for a settle interval, measured on the instants its caller
//! passes in: it never reads the clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// What tells one version of a file from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    digest: [u8; 32],
}

/// One file as a scan found it: its stamp and the bytes the stamp was taken of.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The version of the file.
    pub stamp: Stamp,
    /// Its content.
    pub bytes: Vec<u8>,
}

impl Scanned {
    /// A file of `bytes` whose modification time is unknown: for files that are not on disk (the
    /// scheduler's tests feed it scans built in memory).
    pub fn of(bytes: Vec<u8>) -> Self {
        Self {
            stamp: Stamp {
                modified: None,
                len: bytes.len() as u64,
                digest: Sha256::digest(&bytes).into(),
            },
            bytes,
        }
    }
}

/// The files of one directory, by path.
pub type Scan = BTreeMap<PathBuf, Scanned>;

/// The regular files of `dir` whose extension is `extension` (`"toml"`, `"wasm"`), read whole
/// and stamped. A missing or unreadable directory has none; a file that cannot be read (being
/// replaced right now) is left out, and the next scan sees it.
pub fn scan(dir: &Path, extension: &str) -> Scan {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Scan::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            if !meta.is_file() {
                return None;
            }
            let bytes = std::fs::read(&path).ok()?;
            let mut scanned = Scanned::of(bytes);
            scanned.stamp.modified = meta.modified().ok();
            Some((path, scanned))
        })
        .collect()
}

/// What a scan changed, as [`Settler::update`] tells it, in path order (removals first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The file is gone (whether or not a version of it had settled).
    Removed(PathBuf),
    /// A new or changed version appeared and must settle before it is read: said once per file,
    /// however many times it changes while it settles.
    Waiting(PathBuf),
    /// A version has settled: act on these bytes.
    Settled(PathBuf, Vec<u8>),
}

/// A new or changed version not yet acted on.
#[derive(Debug, Clone)]
struct Pending {
    stamp: Stamp,
    /// When this version was first seen.
    since: Timestamp,
}

/// Which version of each file is in force, and which newer versions are settling.
#[derive(Debug, Clone, Default)]
pub struct Settler {
    /// How long a new or changed version must stay unchanged before it settles; zero settles it
    /// at once.
    settle: Duration,
    /// The version of each file that last settled.
    in_force: BTreeMap<PathBuf, Stamp>,
    /// Newer versions waiting to settle.
    pending: BTreeMap<PathBuf, Pending>,
}

impl Settler {
    /// A settler whose new or changed versions settle once unchanged for `settle`.
    pub fn new(settle: Duration) -> Self {
        Self {
            settle,
            ..Self::default()
        }
    }

    /// The settle interval.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Takes in a scan made at `now`, and says what changed.
    pub fn update(&mut self, scan: Scan, now: Timestamp) -> Vec<Change> {
        let mut changes = Vec::new();
        let gone: Vec<PathBuf> = self
            .in_force
            .keys()
            .chain(self.pending.keys())
            .filter(|path| !scan.contains_key(*path))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for path in gone {
            self.in_force.remove(&path);
            self.pending.remove(&path);
            changes.push(Change::Removed(path));
        }
        let settle =
            jiff::SignedDuration::try_from(self.settle).unwrap_or(jiff::SignedDuration::MAX);
        for (path, Scanned { stamp, bytes }) in scan {
            if self.in_force.get(&path) == Some(&stamp) {
                // Back to the version in force (an edit undone) or never changed.
                self.pending.remove(&path);
                continue;
            }
            let since = match self.pending.get(&path) {
                Some(pending) if pending.stamp == stamp => pending.since,
                waiting => {
                    if waiting.is_none() && !self.settle.is_zero() {
                        changes.push(Change::Waiting(path.clone()));
                    }
                    self.pending.insert(
                        path.clone(),
                        Pending {
                            stamp: stamp.clone(),
                            since: now,
                        },
                    );
                    now
                }
            };
            if now.duration_since(since) < settle {
                continue;
            }
            self.pending.remove(&path);
            self.in_force.insert(path.clone(), stamp);
            changes.push(Change::Settled(path, bytes));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(2);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_750_000_000_000 + ms).unwrap()
    }

    fn one(path: &str, text: &str) -> Scan {
        Scan::from([(PathBuf::from(path), Scanned::of(text.as_bytes().to_vec()))])
    }

    #[test]
    fn a_scan_finds_the_files_of_one_extension_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "a").unwrap();
        std::fs::write(dir.path().join("b.wasm"), "b").unwrap();
        std::fs::create_dir(dir.path().join("c.toml")).unwrap();
        let found = scan(dir.path(), "toml");
        assert_eq!(found.len(), 1);
        assert_eq!(found[&dir.path().join("a.toml")].bytes, b"a");
        assert!(scan(&dir.path().join("missing"), "toml").is_empty());
    }

    #[test]
    fn the_same_length_rewritten_in_the_same_instant_is_another_version() {
        let a = Scanned::of(b"count = 1".to_vec());
        let b = Scanned::of(b"count = 2".to_vec());
        assert_ne!(a.stamp, b.stamp);
        assert_eq!(a.stamp, Scanned::of(b"count = 1".to_vec()).stamp);
    }

    #[test]
    fn a_version_settles_once_unchanged_for_the_interval_and_waiting_is_said_once() {
        let mut settler = Settler::new(SETTLE);
        let path = PathBuf::from("a.toml");
        assert_eq!(
            settler.update(one("a.toml", "half"), at(0)),
            [Change::Waiting(path.clone())]
        );
        assert_eq!(settler.update(one("a.toml", "whole"), at(1_000)), []);
        assert_eq!(settler.update(one("a.toml", "whole"), at(2_999)), []);
        assert_eq!(
            settler.update(one("a.toml", "whole"), at(3_000)),
            [Change::Settled(path.clone(), b"whole".to_vec())]
        );
        assert_eq!(settler.update(one("a.toml", "whole"), at(60_000)), []);
        assert_eq!(
            settler.update(Scan::new(), at(61_000)),
            [Change::Removed(path)]
        );
    }

    #[test]
    fn an_edit_undone_before_it_settles_changes_nothing() {
        let mut settler = Settler::new(SETTLE);
        settler.update(one("a.toml", "v1"), at(0));
        settler.update(one("a.toml", "v1"), at(2_000));
        settler.update(one("a.toml", "v2"), at(3_000));
        assert_eq!(settler.update(one("a.toml", "v1"), at(4_000)), []);
        assert_eq!(settler.update(one("a.toml", "v1"), at(9_000)), []);
    }

    #[test]
    fn without_an_interval_a_version_settles_at_once() {
        let mut settler = Settler::default();
        assert_eq!(
            settler.update(one("a.toml", "v1"), at(0)),
            [Change::Settled(PathBuf::from("a.toml"), b"v1".to_vec())]
        );
    }
}
