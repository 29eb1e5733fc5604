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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::sources::SourceNote;
use super::tick::{Action, Event, History, Note, Scheduler};
use crate::connectors::{self, ConnectorSet, LookupError, Registry};
use crate::dirscan;
use crate::inventory::{ConnectorIdentity, Inventory, InventoryError};
use crate::run::{self, RunError, RunOptions, RunReport, Unwatched};
use crate::sandbox::{LoadError, Runtime};
use crate::source::{SourceError, SourceFile};
use crate::text::inert;
use crate::vault::{Vault, VaultError};

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
    /// The secrets sealed for sources set up on the Sources page.
    pub vault: Arc<Vault>,
}

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
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
    db: &'a Path,
}

impl History for InventoryHistory<'_> {
    fn last_slot(&self, source: &str) -> Option<Timestamp> {
        Inventory::open(self.db)
            .ok()?
            .last_scheduled_slot(source)
            .ok()
            .flatten()
    }
}

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn serve(runtime: Runtime, options: ServeOptions) -> Result<(), ServeError> {
    std::fs::create_dir_all(&options.sources_dir).map_err(|source| ServeError::SourcesDir {
        path: options.sources_dir.clone(),
        source,
    })?;
    // Open once up front: migrations, and runs left by a dead process marked abandoned.
    Inventory::open(&options.inventory)?;

    let registry = Registry::open(&runtime, options.connectors_dir.as_deref()).await?;
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
        cancel,
        vault: Arc::clone(&options.vault),
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
        sources = %options.sources_dir.display(),
        connectors = %options.connectors_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default(),
        "euno-host serve started"
    );

    loop {
        // The loop's one reading of the clock: file settling and schedules both go by it.
        let now = Timestamp::now();
        events.push(Event::Scanned(dirscan::scan(&options.sources_dir, "toml")));
        for action in scheduler.tick(now, std::mem::take(&mut events), &history) {
            match action {
                Action::Note(note) => log_note(&note),
                Action::Start { file, slot } => {
                    let name = file.name.clone();
                    let connectors = connectors.borrow().clone();
                    let task = runs.spawn(scheduled_run(launcher.clone(), *file, slot, connectors));
                    running.insert(task.id(), name);
                }
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
    db: PathBuf,
    /// True once the grace period is over: runs in flight are stopped.
    cancel: watch::Receiver<bool>,
    /// The sealed secrets of the sources.
    vault: Arc<Vault>,
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
async fn scheduled_run(
    launcher: Launcher,
    file: SourceFile,
    slot: Timestamp,
    connectors: ConnectorSet,
) {
    let Launcher {
        runtime,
        db,
        cancel,
        vault,
    } = launcher;
    let name = file.name.clone();
    let file = match vault.secrets_of(&name) {
        Ok(stored) => file.with_stored_secrets(stored),
        Err(error) => {
            let known = file.connector.identity();
            record_unstarted(&db, &name, &known, slot, &Unstarted::Secrets(error));
            return;
        }
    };
    let connector = match connectors::resolve(&runtime, &connectors, &file.connector).await {
        Ok(connector) => connector,
        Err(error) => {
            let known = file.connector.identity();
            record_unstarted(&db, &name, &known, slot, &Unstarted::Connector(error));
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
            ..RunOptions::default()
        },
        Arc::new(Unwatched),
        Some(cancel),
    )
    .await;
    match outcome {
        Ok(report) => log_report(&name, &report),
        Err(RunError::Busy(error)) => tracing::info!(source = %name, "run skipped: {error}"),
        Err(RunError::Source(error)) => record_unstarted(
            &db,
            &name,
            &connectors::identity(&connector),
            slot,
            &Unstarted::Source(error),
        ),
        Err(
            error @ (RunError::InvalidSetting { .. }
            | RunError::Failed { .. }
            | RunError::Inventory { .. }),
        ) => tracing::error!(source = %name, "{}", inert(&error.to_string())),
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
    db: &Path,
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
