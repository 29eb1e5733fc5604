//! `euno-host status`: each source file's schedule, next run and last run, as `serve` sees them.
//! It only looks: every file is shown as it is now, settled or not.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::sources::{SourceDir, scan_of};
use crate::dirscan;
use crate::inventory::{Database, Inventory, InventoryError, RunRecord, format_timestamp};

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

/// The status of every source file in `dir` (or, without one, of every source definition in
/// the inventory), as of `now`.
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
    for (path, entry) in &sources.sources {
        let name = &entry.file.name;
        let last_run = inventory.last_run(name)?;
        let last_slot = inventory.last_scheduled_slot(name)?;
        let running = inventory.running_run(name)?.is_some();
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
            error: Some(error.to_string()),
            enabled: false,
            schedule: None,
            next_run: None,
            running: false,
            last_run: None,
        });
    }
    Ok(list)
}
