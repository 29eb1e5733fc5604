//! Where a run's resources wait until it ends: a scratch SQLite file per run, next to the
//! inventory (`inventory.sqlite3-staging-RUN`), attached to a connection as `staging`.
//!
//! Staged rows need no durability: a run whose process dies is abandoned and its rows thrown
//! away. So the scratch file has no write-ahead log, no fsync and an in-memory rollback journal;
//! each staged row is written once, into the OS page cache, instead of twice through the
//! inventory's WAL (with a checkpoint and its fsyncs every few megabytes). Completing or failing
//! the run deletes the file, which is cheaper than deleting its rows one by one. Only the merge
//! writes to the inventory itself, in one transaction, as before.
//!
//! Staging appends: rows have no index while the run streams them in (their rowid is their order
//! of arrival, so the highest rowid is how many were emitted). Before the merge,
//! [`index_for_merge`] sorts their URIs once and drops the earlier copies of a URI staged twice,
//! and the merge then reads them in URI order: the inventory's URI indexes are filled in order
//! instead of at random, which is what makes a merge of 100k resources cheap.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::RunId;

/// What follows the inventory's file name in a staging file's name, before the run id.
const INFIX: &str = "-staging-";

/// The scratch file of `run` for the inventory at `db`.
pub(super) fn path(db: &Path, run: RunId) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{INFIX}{run}"));
    db.with_file_name(name)
}

/// Attaches the staging file of `run` (creating it) to `conn` as `staging`. Must be called
/// outside a transaction.
pub(super) fn attach(conn: &Connection, db: &Path, run: RunId) -> rusqlite::Result<()> {
    let path = path(db, run);
    let name = path
        .to_str()
        .ok_or_else(|| rusqlite::Error::InvalidPath(path.clone()))?;
    conn.execute("ATTACH DATABASE ?1 AS staging", [name])?;
    conn.execute_batch(
        "PRAGMA staging.journal_mode = MEMORY;
         PRAGMA staging.synchronous = OFF;
         CREATE TABLE IF NOT EXISTS staging.staged_resources (
             uri           TEXT NOT NULL,
             resource_type TEXT NOT NULL,
             name          TEXT NOT NULL,
             parent_uri    TEXT,
             native_id     TEXT,
             properties    TEXT NOT NULL,
             content_hash  INTEGER NOT NULL
         );",
    )
}

/// How many resources have been staged, counting a URI staged twice twice.
pub(super) fn emitted(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT coalesce(max(rowid), 0) FROM staging.staged_resources",
        [],
        |row| row.get(0),
    )
}

/// Prepares the staged rows for the merge: indexes them by URI and, where a URI was staged more
/// than once, keeps only the latest copy. Idempotent. The index holds each row's content hash
/// too, so the merge finds the unchanged resources without reading their staged rows.
pub(super) fn index_for_merge(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS staging.staged_by_uri ON staged_resources (uri, content_hash);
         DELETE FROM staging.staged_resources AS early
         WHERE uri IN (SELECT uri FROM staging.staged_resources GROUP BY uri HAVING count(*) > 1)
           AND rowid < (SELECT max(rowid) FROM staging.staged_resources AS late
                        WHERE late.uri = early.uri);",
    )
}

/// Detaches `staging` from `conn`. Must be called outside a transaction.
pub(super) fn detach(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("DETACH DATABASE staging")
}

/// Deletes the staging file of `run`, if there is one.
pub(super) fn remove(db: &Path, run: RunId) {
    let path = path(db, run);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), "could not delete a run's staging file: {error}")
        }
    }
}

/// The runs that have a staging file next to `db`.
pub(super) fn runs_with_files(db: &Path) -> Vec<RunId> {
    let Some(dir) = db.parent() else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Some(db_name) = db.file_name().and_then(|name| name.to_str()) else {
        return Vec::new();
    };
    let prefix = format!("{db_name}{INFIX}");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let run = name.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some(RunId(run))
        })
        .collect()
}
