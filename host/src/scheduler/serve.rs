//! `euno-host serve`: the thin async shell around [`Scheduler`]. It reads the clock, scans the
//! sources directory, hands both to [`Scheduler::tick`], carries out what the tick decides, and
//! tells the next tick which runs ended; it also keeps the connectors current and shuts down
//! gracefully.
//!
//! Three kinds of task share the work. The scheduling loop wakes every poll interval (and
//! whenever a run ends). The connectors loop rescans the connectors directory and compiles new
//! components off the scheduling path, publishing a new [`ConnectorSet`] only once a component
//! has been validated. Each run is its own task, holding the connector it started with.
//!
//! Everything the daemon has to say is a typed note or error, logged at the level an exhaustive
//! match gives it.
//!
//! With a PostgreSQL inventory (`--database`), the sources scheduled are the definitions the
//! database holds (`sources apply`), read on every tick, so that every worker sharing the
//! database schedules the same ones; a `--sources` directory is then applied to the database as
//! its files settle, and a file removed from it un-applies the definition it applied.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::sources::{SourceNote, definition, scan_of};
use super::tick::{Action, Event, History, Note, Scheduler};
use crate::connectors::{self, ConnectorSet, LookupError, Registry};
use crate::dirscan::{self, Change, Scan, Settler};
use crate::inventory::{ConnectorIdentity, Database, Inventory, InventoryError, Lease};
use crate::run::{self, RunError, RunOptions, RunReport, Unwatched};
use crate::sandbox::{LoadError, Runtime};
use crate::source::{SourceError, SourceFile};
use crate::text::inert;
use crate::vault::{Vault, VaultError};

/// How `serve` behaves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The source files (`*.toml`): what is scheduled, or with a PostgreSQL inventory, what is
    /// applied to it as it changes (optional then).
    pub sources_dir: Option<PathBuf>,
    /// The connector components (`*.wasm`), if any.
    pub connectors_dir: Option<PathBuf>,
    /// The inventory database.
    pub inventory: Database,
    /// Runs at once, across sources.
    pub max_parallel: usize,
    /// How often files are looked at and schedules checked.
    pub poll: Duration,
    /// How long a new or changed source file must stay unchanged before it is read.
    pub settle: Duration,
    /// How long in-flight runs may go on after a shutdown signal before they are cancelled.
    pub shutdown_grace: Duration,
    /// With a PostgreSQL inventory, how long a slot's lease lasts without renewal (renewed at a
    /// third of it); a lease older than that is taken over by another worker.
    pub lease: Duration,
    /// With a PostgreSQL inventory: the connectors stored in it are copied into
    /// `connectors_dir` (a cache this worker can lose) before every rescan.
    pub connectors_from_database: bool,
    /// The key that opens the secrets the Sources page sealed into source definitions.
    pub vault: Vault,
}

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Neither a sources directory nor a database of source definitions.
    #[error(
        "serve needs --sources DIR, or --database URL to schedule the sources applied there \
         (`euno-host sources apply`)"
    )]
    NoSources,
    /// The sources directory cannot be created.
    #[error("{}: cannot create the sources directory: {source}", path.display())]
    SourcesDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The inventory cannot be opened.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The bundled connector cannot be loaded.
    #[error(transparent)]
    Connectors(#[from] LoadError),
    /// SIGINT and SIGTERM cannot be listened for.
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
}

/// The slots of the sources' last scheduled runs, as the inventory records them.
struct InventoryHistory<'a> {
    db: &'a Database,
}

impl History for InventoryHistory<'_> {
    fn last_slot(&self, source: &str) -> Option<Timestamp> {
        Inventory::open(self.db)
            .ok()?
            .last_scheduled_slot(source)
            .ok()
            .flatten()
    }

    /// In a shared database, when the source's definition was applied: the same for every
    /// worker.
    fn first_slot(&self, source: &str) -> Option<Timestamp> {
        if !matches!(self.db, Database::Postgres(_)) {
            return None;
        }
        Inventory::open(self.db)
            .ok()?
            .source_definitions()
            .ok()?
            .into_iter()
            .find(|definition| definition.name == source)
            .map(|definition| definition.applied_at)
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn serve(runtime: Runtime, options: ServeOptions) -> Result<(), ServeError> {
    let from_database = matches!(options.inventory, Database::Postgres(_));
    match &options.sources_dir {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| ServeError::SourcesDir {
            path: dir.clone(),
            source,
        })?,
        None if from_database => {}
        None => return Err(ServeError::NoSources),
    }
    // What of the sources directory has been applied to the database, when it schedules.
    let mut applier = options
        .sources_dir
        .clone()
        .filter(|_| from_database)
        .map(|dir| (dir, Settler::new(options.settle)));
    // Open once up front: migrations, and runs left by a dead process marked abandoned.
    Inventory::open(&options.inventory)?;

    let stored = match (&options.connectors_dir, options.connectors_from_database) {
        (Some(dir), true) => Some((options.inventory.clone(), dir.clone())),
        _ => None,
    };
    if let Some((db, dir)) = &stored {
        copy_stored_connectors(db, dir);
    }
    let registry = Registry::open(&runtime, options.connectors_dir.as_deref()).await?;
    let (connectors_tx, connectors) = watch::channel(registry.current());
    let (stop_tx, stop) = watch::channel(false);
    let watcher = tokio::spawn(watch_connectors(
        registry,
        stored,
        connectors_tx,
        options.poll,
        stop.clone(),
    ));

    let (cancel_tx, cancel) = watch::channel(false);
    let launcher = Launcher {
        runtime: runtime.clone(),
        db: options.inventory.clone(),
        lease: from_database.then_some(options.lease),
        cancel,
        vault: options.vault.clone(),
    };
    let history = InventoryHistory {
        db: &options.inventory,
    };
    let mut scheduler = Scheduler::new(options.settle, options.max_parallel);
    let mut runs: JoinSet<()> = JoinSet::new();
    // The source each run task runs, to tell the scheduler which ended.
    let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut events = Vec::new();
    let mut signals = Signals::new()?;
    tracing::info!(
        sources = %options.sources_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_else(|| "the database".to_owned()),
        worker = crate::inventory::worker(),
        connectors = %options.connectors_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default(),
        "euno-host serve started"
    );

    loop {
        // The loop's one reading of the clock: file settling and schedules both go by it.
        let now = Timestamp::now();
        if let Some((dir, settler)) = &mut applier {
            apply_changes(
                &options.inventory,
                settler.update(dirscan::scan(dir, "toml"), now),
            );
        }
        let scan = match (&options.sources_dir, from_database) {
            (Some(dir), false) => Some(dirscan::scan(dir, "toml")),
            _ => database_scan(&options.inventory),
        };
        // A database that cannot be read this tick changes nothing: its sources stay in force.
        if let Some(scan) = scan {
            events.push(Event::Scanned(scan));
        }
        for action in scheduler.tick(now, std::mem::take(&mut events), &history) {
            match action {
                Action::Note(note) => log_note(&note),
                Action::Start { file, slot } => {
                    let name = file.name.clone();
                    let connectors = connectors.borrow().clone();
                    let task = runs.spawn(scheduled_run(
                        launcher.clone(),
                        *file,
                        slot,
                        connectors,
                        None,
                    ));
                    running.insert(task.id(), name);
                }
            }
        }
        // A slot whose worker stopped renewing its lease (killed, paused, cut off) runs again
        // here, when there is room.
        if from_database && runs.len() < options.max_parallel {
            let busy: std::collections::HashSet<&String> = running.values().collect();
            let candidates: Vec<String> = scheduler
                .sources()
                .sources
                .values()
                .map(|entry| entry.file.name.clone())
                .filter(|name| !busy.contains(name))
                .collect();
            let reclaimed = Inventory::open(&options.inventory)
                .and_then(|inventory| inventory.reclaim_stale(&candidates, options.lease));
            match reclaimed {
                Ok(Some(lease)) => {
                    let entry = scheduler
                        .sources()
                        .sources
                        .values()
                        .find(|entry| entry.file.name == lease.source);
                    if let Some(entry) = entry {
                        tracing::warn!(
                            source = %lease.source,
                            slot = %lease.slot,
                            attempt = lease.attempt,
                            "took over a slot whose worker stopped renewing its lease"
                        );
                        let name = lease.source.clone();
                        let task = runs.spawn(scheduled_run(
                            launcher.clone(),
                            entry.file.clone(),
                            lease.slot,
                            connectors.borrow().clone(),
                            Some(lease),
                        ));
                        running.insert(task.id(), name);
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!("cannot look for stale leases: {error}"),
            }
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
                if let Some(source) = running.remove(&id) {
                    events.push(Event::Finished(source));
                }
            }
            signal = signals.recv() => {
                tracing::info!("{signal} received: no new runs; waiting up to {:?} for {} in flight", options.shutdown_grace, runs.len());
                break;
            }
        }
    }

    for action in scheduler.tick(Timestamp::now(), vec![Event::Shutdown], &history) {
        if let Action::Note(note) = action {
            log_note(&note);
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

/// The source definitions in the database, as a scan; `None` (logged) when it cannot be read.
fn database_scan(db: &Database) -> Option<Scan> {
    match Inventory::open(db).and_then(|inventory| inventory.source_definitions()) {
        Ok(definitions) => Some(scan_of(definitions)),
        Err(error) => {
            tracing::warn!("cannot read the source definitions: {error}");
            None
        }
    }
}

/// Applies the settled changes of the sources directory to the database: a settled file is
/// validated and stored (as `sources apply` does), a removed one un-applies the definitions it
/// applied (their resources stay, as after removing a file without `--database`).
fn apply_changes(db: &Database, changes: Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let inventory = match Inventory::open(db) {
        Ok(inventory) => inventory,
        Err(error) => {
            tracing::error!("cannot apply the sources directory: {error}");
            return;
        }
    };
    for change in changes {
        match change {
            Change::Waiting(_) => {}
            Change::Settled(path, bytes) => {
                let applied = definition(&path, &bytes)
                    .map_err(|error| error.to_string())
                    .and_then(|definition| {
                        inventory
                            .apply_source(&definition, Timestamp::now())
                            .map(|applied| (definition.name, applied))
                            .map_err(|error| error.to_string())
                    });
                match applied {
                    Ok((name, applied)) => tracing::info!(
                        source = %inert(&name),
                        file = %path.display(),
                        "source definition {}", applied.as_str()
                    ),
                    Err(error) => tracing::error!("{}", inert(&error)),
                }
            }
            Change::Removed(path) => {
                let from = path.display().to_string();
                let definitions = match inventory.source_definitions() {
                    Ok(definitions) => definitions,
                    Err(error) => {
                        tracing::error!("cannot un-apply {from}: {error}");
                        continue;
                    }
                };
                for stored in definitions.iter().filter(|d| d.applied_from == from) {
                    match inventory.remove_source_definition(&stored.name) {
                        Ok(_) => tracing::info!(
                            source = %inert(&stored.name),
                            file = %from,
                            "source definition removed with its file"
                        ),
                        Err(error) => tracing::error!("cannot un-apply {from}: {error}"),
                    }
                }
            }
        }
    }
}

/// Logs a note of the scheduler at its level.
fn log_note(note: &Note) {
    match note {
        Note::Source(
            SourceNote::Removed { .. } | SourceNote::Waiting { .. } | SourceNote::Read { .. },
        )
        | Note::NotStarted { .. } => tracing::info!("{note}"),
        Note::Source(SourceNote::Invalid { .. }) => tracing::error!("{note}"),
    }
}

/// What every scheduled run shares with the daemon.
#[derive(Clone)]
struct Launcher {
    runtime: Runtime,
    db: Database,
    /// With a shared (PostgreSQL) inventory, how long a lease lasts unrenewed: each slot is
    /// claimed before it runs. `None` on SQLite, whose one host runs every slot.
    lease: Option<Duration>,
    /// True once the grace period is over: runs in flight are stopped.
    cancel: watch::Receiver<bool>,
    /// Opens sealed secrets.
    vault: Vault,
}

/// Why a scheduled run did not start; recorded as a failed run of its slot.
#[derive(Debug, thiserror::Error)]
enum Unstarted {
    /// Its connector cannot be found or loaded.
    #[error("cannot run: {0}")]
    Connector(LookupError),
    /// Its source does not resolve against the connector.
    #[error("cannot run: {0}")]
    Source(SourceError),
    /// Its sealed secrets do not open.
    #[error("cannot run: {0}")]
    Secrets(VaultError),
}

/// One scheduled run, logged whatever its outcome.
///
/// With a shared inventory the slot is claimed first (unless `held`, a lease taken over from a
/// worker that stopped renewing it): only the worker whose claim succeeds runs it.
async fn scheduled_run(
    launcher: Launcher,
    file: SourceFile,
    slot: Timestamp,
    connectors: ConnectorSet,
    held: Option<Lease>,
) {
    let Launcher {
        runtime,
        db,
        lease: lease_duration,
        cancel,
        vault,
    } = launcher;
    let name = file.name.clone();
    let lease = match (held, lease_duration) {
        (Some(lease), Some(duration)) => Some((lease, duration)),
        (None, Some(duration)) => {
            match Inventory::open(&db).and_then(|inventory| inventory.claim(&name, slot, duration))
            {
                Ok(Some(lease)) => Some((lease, duration)),
                Ok(None) => {
                    tracing::info!(source = %name, %slot, "slot claimed by another worker");
                    return;
                }
                Err(error) => {
                    tracing::error!(source = %name, %slot, "cannot claim the slot: {error}");
                    return;
                }
            }
        }
        (_, None) => None,
    };
    if let Some((lease, _)) = &lease {
        tracing::info!(source = %name, %slot, attempt = lease.attempt, "slot claimed");
    }
    let known = file.connector.identity();
    let file = match file.open_sealed(&vault) {
        Ok(file) => file,
        Err(error) => {
            record_unstarted(&db, &name, &known, slot, &Unstarted::Secrets(error));
            release(&db, lease.as_ref());
            return;
        }
    };
    let connector = match connectors::resolve(&runtime, &connectors, &file.connector).await {
        Ok(connector) => connector,
        Err(error) => {
            let known = file.connector.identity();
            record_unstarted(&db, &name, &known, slot, &Unstarted::Connector(error));
            release(&db, lease.as_ref());
            return;
        }
    };
    if let Ok(source) = run::resolve(&file, &connector) {
        for note in &source.notes {
            tracing::warn!(source = %name, "{}: {note}", file.path.display());
        }
    }
    tracing::info!(source = %name, connector = %inert(&connector.spec.id), digest = %connector.digest, "run starting");
    let outcome = run::run_source(
        &runtime,
        &db,
        &file,
        &connector,
        RunOptions {
            scheduled_slot: Some(slot),
            lease: lease.clone(),
            ..RunOptions::default()
        },
        Arc::new(Unwatched),
        Some(cancel),
    )
    .await;
    match outcome {
        Ok(report) => log_report(&name, &report),
        Err(RunError::Busy(error)) => tracing::info!(source = %name, "run skipped: {error}"),
        Err(RunError::Source(error)) => {
            record_unstarted(
                &db,
                &name,
                &connectors::identity(&connector),
                slot,
                &Unstarted::Source(error),
            );
            release(&db, lease.as_ref());
        }
        Err(
            error @ (RunError::InvalidSetting { .. }
            | RunError::Failed { .. }
            | RunError::Inventory { .. }),
        ) => tracing::error!(source = %name, "{}", inert(&error.to_string())),
    }
}

/// Ends the lease of a slot whose run could not start (recorded as failed): the slot is over,
/// as after a run that failed. Another worker that can run the source takes the next slot.
fn release(db: &Database, lease: Option<&(Lease, Duration)>) {
    let Some((lease, _)) = lease else {
        return;
    };
    if let Err(error) = Inventory::open(db).and_then(|inventory| inventory.release_lease(lease)) {
        tracing::error!(source = %lease.source, "could not end the slot's lease: {error}");
    }
}

/// Logs a run that succeeded, and a warning when its cleanup was refused.
fn log_report(name: &str, report: &RunReport) {
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

/// Logs and records a scheduled run that could not start, so that `runs` and `status` show why.
/// The row stands for `slot`: the same unchanged problem is recorded once per slot, not on every
/// poll.
fn record_unstarted(
    db: &Database,
    source: &str,
    connector: &ConnectorIdentity,
    slot: Timestamp,
    why: &Unstarted,
) {
    let reason = inert(&why.to_string()).into_owned();
    tracing::error!(source, "{reason}");
    let recorded = Inventory::open(db).and_then(|inventory| {
        inventory.record_failed_run(source, connector, Timestamp::now(), &reason, Some(slot))
    });
    if let Err(error) = recorded {
        tracing::error!(source, "could not record the failed run: {error}");
    }
}

/// Rescans the connectors directory until told to stop, publishing each validated change.
///
/// With `stored` (a shared database and this worker's copy of its connectors), the copy is
/// brought up to date first, so that a connector installed for every worker reaches this one.
async fn watch_connectors(
    mut registry: Registry,
    stored: Option<(Database, PathBuf)>,
    publish: watch::Sender<ConnectorSet>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        if let Some((db, dir)) = &stored {
            copy_stored_connectors(db, dir);
        }
        let changes = registry.rescan().await;
        for (path, id, digest) in &changes.loaded {
            tracing::info!(file = %path.display(), id = %inert(id), digest = %digest, "connector component loaded; next runs use it");
        }
        for (path, reason) in &changes.rejected {
            tracing::error!(file = %path.display(), "rejected connector component: {}", inert(&reason.to_string()));
        }
        for path in &changes.removed {
            tracing::info!(file = %path.display(), "connector component removed");
        }
        if !changes.is_empty() {
            publish.send_replace(registry.current());
        }
    }
}

/// Copies the connectors stored in `db` into `dir`, logging what changed or failed.
fn copy_stored_connectors(db: &Database, dir: &Path) {
    let copied = Inventory::open(db)
        .map_err(connectors::MaterializeError::from)
        .and_then(|inventory| connectors::materialize(&inventory, dir));
    match copied {
        Ok(ids) => {
            for id in ids {
                tracing::info!(id = %inert(&id), "connector copied from the database");
            }
        }
        Err(error) => tracing::warn!("cannot copy the connectors stored in the database: {error}"),
    }
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Self, ServeError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(ServeError::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(ServeError::Signals)?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
