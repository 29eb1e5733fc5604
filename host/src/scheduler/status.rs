//! `euno-host status`: every source the inventory knows, with its schedule as last applied, its
//! next run and its last run; with the sources directory, every source file too, as `serve` sees
//! them (files not yet run included, files changed since their last run flagged). It only looks:
//! every file is shown as it is now, settled or not.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::schedule::Schedule;
use super::sources::{SourceDir, scan_of};
use crate::dirscan;
use crate::inventory::{Database, Inventory, InventoryError, RunRecord, format_timestamp};

/// One line of `status`.
#[derive(Debug, Serialize)]
pub struct SourceStatus {
    /// The source's name (absent for an invalid file).
    pub name: Option<String>,
    /// The file; absent for a source known only from the inventory (no `--sources`, or no file
    /// of that name in the directory).
    pub file: Option<String>,
    /// Whether the file was modified after its last run began: what is shown may not be what
    /// ran.
    pub changed_since_last_run: bool,
    /// Why the file is invalid, when it is.
    pub error: Option<String>,
    /// Whether the schedule is on.
    pub enabled: bool,
    /// The schedule, in words: the file's, or as its last run applied it; absent when unknown.
    pub schedule: Option<String>,
    /// When `serve` will run it next (RFC 3339), if scheduled.
    pub next_run: Option<String>,
    /// Whether a run is in progress now.
    pub running: bool,
    /// The last run.
    pub last_run: Option<RunRecord>,
    /// The latest run that failed (or was abandoned), which may be older than the last run.
    pub last_error: Option<LastError>,
}

/// The latest error of a source.
#[derive(Debug, Serialize)]
pub struct LastError {
    /// The run.
    pub run_id: i64,
    /// When it started (RFC 3339).
    pub at: String,
    /// What went wrong.
    pub error: String,
}

/// The status of every source the inventory at `db` knows and of every source file in `dir`
/// (without one, of every source definition applied to the inventory), as of `now`: the files
/// or definitions first, then the sources known only from their runs (by name), then the
/// invalid files.
pub fn status(
    dir: Option<&Path>,
    db: &Database,
    now: Timestamp,
) -> Result<Vec<SourceStatus>, InventoryError> {
    let inventory = Inventory::open(db)?;
    let scan = match dir {
        Some(dir) => dirscan::scan(dir, "toml"),
        None => scan_of(inventory.source_definitions()?),
    };
    let mut sources = SourceDir::default();
    sources.update(scan, now);
    let mut list = Vec::new();
    let mut with_file = BTreeSet::new();
    for (path, entry) in &sources.sources {
        let name = &entry.file.name;
        with_file.insert(name.clone());
        let mut status = known(&inventory, name, Some(&entry.schedule), now)?;
        if dir.is_some() {
            let modified = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| Timestamp::try_from(at).ok());
            status.changed_since_last_run = match (&status.last_run, modified) {
                (Some(run), Some(modified)) => modified > run.started_at,
                _ => false,
            };
            status.file = Some(path.display().to_string());
        }
        list.push(status);
    }
    for name in inventory.sources()? {
        if with_file.contains(&name) {
            continue;
        }
        // The schedule its last run applied; one that no longer parses is shown as unknown.
        let schedule = inventory
            .last_schedule(&name)?
            .and_then(|json| serde_json::from_str::<Option<toml::Table>>(&json).ok())
            .and_then(|table| Schedule::from_table(table.as_ref()).ok());
        list.push(known(&inventory, &name, schedule.as_ref(), now)?);
    }
    for (path, error) in &sources.errors {
        list.push(SourceStatus {
            name: None,
            file: Some(path.display().to_string()),
            changed_since_last_run: false,
            error: Some(error.to_string()),
            enabled: false,
            schedule: None,
            next_run: None,
            running: false,
            last_run: None,
            last_error: None,
        });
    }
    Ok(list)
}

/// What the inventory says of `name`, with `schedule` (when known) for its next run.
fn known(
    inventory: &Inventory,
    name: &str,
    schedule: Option<&Schedule>,
    now: Timestamp,
) -> Result<SourceStatus, InventoryError> {
    let last_run = inventory.last_run(name)?;
    let last_slot = inventory.last_scheduled_slot(name)?;
    let running = inventory.running_run(name)?.is_some();
    let next_run = schedule
        .filter(|schedule| schedule.enabled)
        .and_then(|schedule| schedule.due_at(last_slot, now))
        .map(|t| format_timestamp(t.max(now)));
    let last_error = inventory.last_failed_run(name)?.map(|run| LastError {
        run_id: run.id,
        at: format_timestamp(run.started_at),
        error: run.error.unwrap_or_default(),
    });
    Ok(SourceStatus {
        name: Some(name.to_owned()),
        file: None,
        changed_since_last_run: false,
        error: None,
        enabled: schedule.is_some_and(|schedule| schedule.enabled),
        schedule: schedule.map(Schedule::describe),
        next_run,
        running,
        last_run,
        last_error,
    })
}
