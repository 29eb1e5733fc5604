//! `euno-host serve`: runs every enabled source on its schedule, picks up source files and
//! connector components as they change, and shuts down gracefully.
//!
//! Three loops share the work. The scheduling loop wakes every poll interval, rereads changed
//! source files once they have settled (see [`SourceDir`]) and starts the runs that are due. The
//! connectors loop rescans the connectors directory and compiles new components off the
//! scheduling path, publishing a new [`ConnectorSet`] only once a component has been validated.
//! Each run is its own task, bounded by `--max-parallel`, holding the connector it started with.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::connectors::{ConnectorSet, Registry};
use crate::inventory::{ConnectorIdentity, Inventory, RunRecord, format_timestamp};
use crate::run::{self, RunError, RunOptions};
use crate::runtime::{Connector, Runtime};
use crate::schedule::Schedule;
use crate::source::{ConnectorRef, SourceFile};
use crate::text::inert;

/// How `serve` behaves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The source files (`*.toml`).
    pub sources_dir: PathBuf,
    /// The connector components (`*.wasm`), if any.
    pub connectors_dir: Option<PathBuf>,
    /// The inventory database.
    pub inventory: PathBuf,
    /// Runs at once, across sources.
    pub max_parallel: usize,
    /// How often files are looked at and schedules checked.
    pub poll: Duration,
    /// How long a new or changed source file must stay unchanged before it is read.
    pub settle: Duration,
    /// How long in-flight runs may go on after a shutdown signal before they are cancelled.
    pub shutdown_grace: Duration,
}

/// One source file as last read.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// The file, valid.
    pub file: SourceFile,
    /// Its schedule.
    pub schedule: Schedule,
}

/// What tells one version of a source file from another: its modification time, length and the
/// digest of its content (a rewrite within the file system's time resolution, at the same length,
/// still shows).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    digest: [u8; 32],
}

/// A new or changed version of a file, not yet acted on: it must first stay unchanged for the
/// settle interval.
#[derive(Debug, Clone)]
struct Pending {
    stamp: Stamp,
    /// When this version was first seen.
    since: Timestamp,
}

/// The sources directory: every valid source, and the error of every invalid file.
///
/// A file written in several steps (an editor, `cat > file`, a copy over the network) can be seen
/// half-written, and half a source file may well parse: without its `[cleanup]` or `[limits]`
/// table, or with a setting still missing that changes what it discovers. So a new or changed file
/// is read only once it has stayed the same (modification time, length and content) for the
/// settle interval; until then the previous version, if any, stays in force.
#[derive(Debug, Default)]
pub struct SourceDir {
    /// How long a new or changed file must stay unchanged before it is read; zero reads it at
    /// once (`status`, which only looks).
    settle: Duration,
    /// The version of each file that was last read (valid or not).
    stamps: BTreeMap<PathBuf, Stamp>,
    /// Newer versions waiting to settle.
    pending: BTreeMap<PathBuf, Pending>,
    /// Valid sources by file. An invalid edit keeps the previous valid version here.
    pub sources: BTreeMap<PathBuf, SourceEntry>,
    /// Files whose current content is invalid, with the error.
    pub errors: BTreeMap<PathBuf, String>,
}

impl SourceDir {
    /// A sources directory whose new or changed files are read once they have stayed unchanged
    /// for `settle`.
    pub fn new(settle: Duration) -> Self {
        Self {
            settle,
            ..Self::default()
        }
    }

    /// Rereads the files of `dir` that changed since the last call and have since settled, as of
    /// `now`; returns the lines to log.
    pub fn rescan(&mut self, dir: &Path, now: Timestamp) -> Vec<String> {
        let mut notes = Vec::new();
        let present: BTreeMap<PathBuf, (Stamp, Vec<u8>)> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
                    .filter_map(|p| {
                        let meta = std::fs::metadata(&p).ok()?;
                        if !meta.is_file() {
                            return None;
                        }
                        // Source files are small: reading each one every poll costs little and
                        // is the only way to see every change.
                        let bytes = std::fs::read(&p).ok()?;
                        let stamp = Stamp {
                            modified: meta.modified().ok(),
                            len: meta.len(),
                            digest: Sha256::digest(&bytes).into(),
                        };
                        Some((p, (stamp, bytes)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let gone: Vec<PathBuf> = self
            .stamps
            .keys()
            .chain(self.pending.keys())
            .filter(|p| !present.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            self.stamps.remove(&path);
            self.pending.remove(&path);
            self.errors.remove(&path);
            if let Some(entry) = self.sources.remove(&path) {
                notes.push(format!(
                    "source \"{}\" removed ({})",
                    entry.file.name,
                    path.display()
                ));
            }
        }
        for (path, (stamp, bytes)) in present {
            if self.stamps.get(&path) == Some(&stamp) {
                // Back to the version in force (an edit undone) or never changed.
                self.pending.remove(&path);
                continue;
            }
            let since = match self.pending.get(&path) {
                Some(pending) if pending.stamp == stamp => pending.since,
                waiting => {
                    // Said once per file, however many times it changes while it settles.
                    if waiting.is_none() && !self.settle.is_zero() {
                        notes.push(format!(
                            "source file {} is new or changed; waiting until it has stayed \
                             unchanged for {} ms before reading it",
                            path.display(),
                            self.settle.as_millis()
                        ));
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
            let unchanged_for = now.duration_since(since);
            if unchanged_for < jiff::SignedDuration::try_from(self.settle).unwrap_or_default() {
                continue;
            }
            self.pending.remove(&path);
            self.stamps.insert(path.clone(), stamp);
            match self.read(&path, &bytes) {
                Ok(entry) => {
                    self.errors.remove(&path);
                    let verb = if self.sources.contains_key(&path) {
                        "updated"
                    } else {
                        "added"
                    };
                    notes.push(format!(
                        "source \"{}\" {verb} ({}): {}",
                        entry.file.name,
                        path.display(),
                        entry.schedule.describe()
                    ));
                    self.sources.insert(path, entry);
                }
                Err(error) => {
                    let kept = if self.sources.contains_key(&path) {
                        "; the previous version stays in force"
                    } else {
                        ""
                    };
                    notes.push(format!("invalid source file {error}{kept}"));
                    self.errors.insert(path, error);
                }
            }
        }
        notes
    }

    /// The source in `bytes`, the settled content of the file at `path`.
    fn read(&self, path: &Path, bytes: &[u8]) -> Result<SourceEntry, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            format!(
                "{}: cannot read the source file: it is not UTF-8 text ({e})",
                path.display()
            )
        })?;
        let file = SourceFile::parse(path, text).map_err(|e| e.to_string())?;
        let schedule = Schedule::from_table(file.schedule.as_ref())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some((other, _)) = self
            .sources
            .iter()
            .find(|(p, s)| *p != path && s.file.name == file.name)
        {
            return Err(format!(
                "{}: the source name \"{}\" is already used by {}",
                path.display(),
                file.name,
                other.display()
            ));
        }
        Ok(SourceEntry { file, schedule })
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn serve(runtime: Runtime, options: ServeOptions) -> Result<(), String> {
    std::fs::create_dir_all(&options.sources_dir).map_err(|e| {
        format!(
            "{}: cannot create the sources directory: {e}",
            options.sources_dir.display()
        )
    })?;
    // Open once up front: migrations, and runs left by a dead process marked abandoned.
    Inventory::open(&options.inventory).map_err(|e| e.to_string())?;

    let registry = Registry::open(&runtime, options.connectors_dir.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let (connectors_tx, connectors) = watch::channel(registry.current());
    let (stop_tx, stop) = watch::channel(false);
    let watcher = tokio::spawn(watch_connectors(
        registry,
        connectors_tx,
        options.poll,
        stop.clone(),
    ));

    let (cancel_tx, cancel) = watch::channel(false);
    let launcher = Launcher {
        runtime: runtime.clone(),
        db: options.inventory.clone(),
        permits: Arc::new(Semaphore::new(options.max_parallel.max(1))),
        stopping: stop.clone(),
        cancel,
    };
    let mut runs: JoinSet<()> = JoinSet::new();
    // The sources with a run in flight, by the task running it.
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    // The slot of each source's last run: from the inventory at first, then as scheduled here.
    let mut last_slots: HashMap<String, Option<Timestamp>> = HashMap::new();
    let mut dir = SourceDir::new(options.settle);
    let mut signals = Signals::new()?;
    tracing::info!(
        sources = %options.sources_dir.display(),
        connectors = %options.connectors_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default(),
        "euno-host serve started"
    );

    loop {
        // The loop's one reading of the clock: file settling and schedules both go by it.
        let now = Timestamp::now();
        for note in dir.rescan(&options.sources_dir, now) {
            if note.starts_with("invalid") {
                tracing::error!("{note}");
            } else {
                tracing::info!("{note}");
            }
        }
        for entry in dir.sources.values() {
            let name = &entry.file.name;
            if !entry.schedule.enabled || running.values().any(|r| r == name) {
                continue;
            }
            let last = *last_slots
                .entry(name.clone())
                .or_insert_with(|| last_slot(&options.inventory, name));
            let Some(due) = entry.schedule.due(last, now) else {
                continue;
            };
            if due.run_at > now {
                continue;
            }
            last_slots.insert(name.clone(), Some(due.slot));
            let connectors = connectors.borrow().clone();
            let task = runs.spawn(scheduled_run(
                launcher.clone(),
                entry.file.clone(),
                due.slot,
                connectors,
            ));
            running.insert(task.id(), name.clone());
        }

        tokio::select! {
            _ = tokio::time::sleep(options.poll) => {}
            Some(done) = runs.join_next_with_id() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(error) => {
                        tracing::error!("a run task failed: {error}");
                        error.id()
                    }
                };
                running.remove(&id);
            }
            signal = signals.recv() => {
                tracing::info!("{signal} received: no new runs; waiting up to {:?} for {} in flight", options.shutdown_grace, runs.len());
                break;
            }
        }
    }

    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while runs.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("cancelling {} runs still in flight", runs.len());
        let _ = cancel_tx.send(true);
        while runs.join_next().await.is_some() {}
    }
    let _ = watcher.await;
    tracing::info!("euno-host serve stopped");
    Ok(())
}

fn last_slot(db: &Path, source: &str) -> Option<Timestamp> {
    Inventory::open(db)
        .ok()?
        .last_scheduled_slot(source)
        .ok()
        .flatten()
}

/// What every scheduled run shares with the daemon.
#[derive(Clone)]
struct Launcher {
    runtime: Runtime,
    db: PathBuf,
    permits: Arc<Semaphore>,
    /// True once a shutdown began: queued runs do not start.
    stopping: watch::Receiver<bool>,
    /// True once the grace period is over: runs in flight are stopped.
    cancel: watch::Receiver<bool>,
}

/// One scheduled run, logged whatever its outcome.
async fn scheduled_run(
    launcher: Launcher,
    file: SourceFile,
    slot: Timestamp,
    connectors: ConnectorSet,
) {
    let Launcher {
        runtime,
        db,
        permits,
        stopping,
        cancel,
    } = launcher;
    let name = file.name.clone();
    let Ok(_permit) = permits.acquire_owned().await else {
        return;
    };
    if *stopping.borrow() {
        // Queued behind other runs when the shutdown began: it never starts.
        tracing::info!(source = %name, "run not started: shutting down");
        return;
    }
    let connector: Arc<Connector> =
        match resolve_connector(&runtime, &connectors, &file.connector).await {
            Ok(connector) => connector,
            Err(error) => {
                let known = ConnectorIdentity {
                    id: match &file.connector {
                        ConnectorRef::Id(id) => id.clone(),
                        ConnectorRef::File(_) => String::new(),
                    },
                    version: String::new(),
                    digest: String::new(),
                };
                record_unstarted(&db, &name, &known, slot, &format!("cannot run: {error}"));
                return;
            }
        };
    if let Ok(source) = run::resolve(&file, &connector) {
        for note in &source.notes {
            tracing::warn!(source = %name, "{}: {note}", file.path.display());
        }
    }
    tracing::info!(source = %name, connector = %inert(&connector.spec.id), digest = %connector.digest, "run starting");
    match run::run_source(
        &runtime,
        &db,
        &file,
        &connector,
        RunOptions {
            scheduled_slot: Some(slot),
            ..RunOptions::default()
        },
        Some(cancel),
    )
    .await
    {
        Ok(report) => {
            tracing::info!(
                source = %name,
                run = report.summary.run_id,
                emitted = report.emitted,
                added = report.summary.added,
                updated = report.summary.updated,
                unchanged = report.summary.unchanged,
                removed = report.summary.removed,
                cleanup_refused = report.summary.cleanup_refused.as_deref().unwrap_or(""),
                warnings = report.warnings.len(),
                "run succeeded"
            );
            if let Some(reason) = &report.summary.cleanup_refused {
                tracing::warn!(source = %name, run = report.summary.run_id, "cleanup refused: {reason}");
            }
        }
        Err(RunError::Busy(message)) => tracing::info!(source = %name, "run skipped: {message}"),
        Err(RunError::Source(error)) => record_unstarted(
            &db,
            &name,
            &ConnectorIdentity::of(&connector),
            slot,
            &format!("cannot run: {error}"),
        ),
        Err(error) => tracing::error!(source = %name, "{}", inert(&error.to_string())),
    }
}

/// Logs and records a scheduled run that could not start (its source does not resolve, its
/// connector cannot be loaded), so that `runs` and `status` show why. The row stands for `slot`:
/// the same unchanged problem is recorded once per slot, not on every poll.
fn record_unstarted(
    db: &Path,
    source: &str,
    connector: &ConnectorIdentity,
    slot: Timestamp,
    reason: &str,
) {
    let reason = inert(reason);
    tracing::error!(source, "{reason}");
    let recorded = Inventory::open(db).and_then(|inventory| {
        inventory.record_failed_run(source, connector, Timestamp::now(), &reason, Some(slot))
    });
    if let Err(error) = recorded {
        tracing::error!(source, "could not record the failed run: {error}");
    }
}

/// The connector a source names, from the current set or its own file.
pub async fn resolve_connector(
    runtime: &Runtime,
    connectors: &ConnectorSet,
    reference: &ConnectorRef,
) -> Result<Arc<Connector>, String> {
    match reference {
        ConnectorRef::Id(id) => connectors.get(id).map_err(|e| e.to_string()),
        ConnectorRef::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                format!(
                    "{}: cannot read the connector component: {e}",
                    path.display()
                )
            })?;
            runtime
                .load(&path.display().to_string(), &bytes)
                .await
                .map(Arc::new)
                .map_err(|e| e.to_string())
        }
    }
}

/// Rescans the connectors directory until told to stop, publishing each validated change.
async fn watch_connectors(
    mut registry: Registry,
    publish: watch::Sender<ConnectorSet>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let changes = registry.rescan().await;
        for (path, id, digest) in &changes.loaded {
            tracing::info!(file = %path.display(), id = %inert(id), digest = %digest, "connector component loaded; next runs use it");
        }
        for (path, reason) in &changes.rejected {
            tracing::error!(file = %path.display(), "rejected connector component: {}", inert(reason));
        }
        for path in &changes.removed {
            tracing::info!(file = %path.display(), "connector component removed");
        }
        if changes != Default::default() {
            publish.send_replace(registry.current());
        }
    }
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// One line of `status`.
#[derive(Debug, Serialize)]
pub struct SourceStatus {
    /// The source's name (absent for an invalid file).
    pub name: Option<String>,
    /// The file.
    pub file: String,
    /// Why the file is invalid, when it is.
    pub error: Option<String>,
    /// Whether the schedule is on.
    pub enabled: bool,
    /// The schedule, in words.
    pub schedule: Option<String>,
    /// When `serve` will run it next (RFC 3339), if scheduled.
    pub next_run: Option<String>,
    /// Whether a run is in progress now.
    pub running: bool,
    /// The last run.
    pub last_run: Option<RunRecord>,
}

/// The status of every source file in `dir`, as of `now`.
pub fn status(dir: &Path, db: &Path, now: Timestamp) -> Result<Vec<SourceStatus>, String> {
    // `status` only looks: it shows each file as it is now, settled or not.
    let mut sources = SourceDir::default();
    sources.rescan(dir, now);
    let inventory = Inventory::open(db).map_err(|e| e.to_string())?;
    let mut list = Vec::new();
    for (path, entry) in &sources.sources {
        let name = &entry.file.name;
        let last_run = inventory.last_run(name).map_err(|e| e.to_string())?;
        let last_slot = inventory
            .last_scheduled_slot(name)
            .map_err(|e| e.to_string())?;
        let running = inventory
            .running_run(name)
            .map_err(|e| e.to_string())?
            .is_some();
        let next_run = entry
            .schedule
            .due_at(last_slot, now)
            .filter(|_| entry.schedule.enabled)
            .map(|t| format_timestamp(t.max(now)));
        list.push(SourceStatus {
            name: Some(name.clone()),
            file: path.display().to_string(),
            error: None,
            enabled: entry.schedule.enabled,
            schedule: Some(entry.schedule.describe()),
            next_run,
            running,
            last_run,
        });
    }
    for (path, error) in &sources.errors {
        list.push(SourceStatus {
            name: None,
            file: path.display().to_string(),
            error: Some(error.clone()),
            enabled: false,
            schedule: None,
            next_run: None,
            running: false,
            last_run: None,
        });
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn names(dir: &SourceDir) -> Vec<String> {
        dir.sources.values().map(|s| s.file.name.clone()).collect()
    }

    #[test]
    fn a_file_is_read_only_once_it_has_stayed_unchanged_for_the_settle_interval() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.toml");
        let mut dir = SourceDir::new(SETTLE);

        // Half a file that parses: no [cleanup] yet.
        std::fs::write(&file, source("A", "")).unwrap();
        let notes = dir.rescan(tmp.path(), at(0));
        assert!(
            notes.len() == 1 && notes[0].contains("waiting until it has stayed unchanged"),
            "{notes:?}"
        );
        assert!(dir.sources.is_empty());

        // The rest arrives a second later: the wait starts again, and is not announced again.
        std::fs::write(&file, source("A", "[cleanup]\nstrategy = \"none\"\n")).unwrap();
        assert_eq!(dir.rescan(tmp.path(), at(1_000)), Vec::<String>::new());
        assert_eq!(dir.rescan(tmp.path(), at(2_999)), Vec::<String>::new());
        assert!(dir.sources.is_empty(), "read before it settled");

        let notes = dir.rescan(tmp.path(), at(3_000));
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
        assert_eq!(dir.rescan(tmp.path(), at(60_000)), Vec::<String>::new());
    }

    #[test]
    fn the_version_in_force_stays_while_an_edit_settles() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.toml");
        let mut dir = SourceDir::new(SETTLE);
        std::fs::write(&file, source("A", "")).unwrap();
        dir.rescan(tmp.path(), at(0));
        dir.rescan(tmp.path(), at(2_000));
        assert_eq!(names(&dir), ["A"]);

        // An edit in progress does not replace it until it settles.
        std::fs::write(&file, source("B", "")).unwrap();
        dir.rescan(tmp.path(), at(10_000));
        assert_eq!(names(&dir), ["A"]);
        dir.rescan(tmp.path(), at(12_000));
        assert_eq!(names(&dir), ["B"]);

        // Invalid once settled: reported, and the previous version stays.
        std::fs::write(&file, "name = \"B\"\nbogus = 1\n").unwrap();
        dir.rescan(tmp.path(), at(20_000));
        let notes = dir.rescan(tmp.path(), at(22_000));
        assert!(
            notes.len() == 1 && notes[0].contains("previous version stays in force"),
            "{notes:?}"
        );
        assert_eq!(names(&dir), ["B"]);

        // Removing a file takes effect at once.
        std::fs::remove_file(&file).unwrap();
        let notes = dir.rescan(tmp.path(), at(23_000));
        assert!(
            notes.len() == 1 && notes[0].contains("removed"),
            "{notes:?}"
        );
        assert!(dir.sources.is_empty() && dir.errors.is_empty());
    }

    #[test]
    fn without_a_settle_interval_files_are_read_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.toml"), source("A", "")).unwrap();
        let mut dir = SourceDir::default();
        let notes = dir.rescan(tmp.path(), at(0));
        assert!(notes.len() == 1 && notes[0].contains("added"), "{notes:?}");
        assert_eq!(names(&dir), ["A"]);
    }
}
