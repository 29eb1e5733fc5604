//! The inventory's schema and how a database file is brought up to it.
//!
//! Migrations are an ordered list of SQL scripts; `PRAGMA user_version` records how many have been
//! applied. A released migration is never edited: a schema change is a new entry at the end, so any
//! older database upgrades in order, in one transaction, the first time a newer `euno-host` opens it.

use std::path::Path;
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::InventoryError;

/// Timestamps are integer milliseconds since the Unix epoch (UTC), so that SQL compares them
/// directly; outcomes are the lowercase names of [`super::RunOutcome`].
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: resources, who sponsors them, run history, and the staging area of runs in progress.
    r"
    CREATE TABLE runs (
        id                INTEGER PRIMARY KEY,
        source            TEXT    NOT NULL,
        connector_id      TEXT    NOT NULL,
        connector_version TEXT    NOT NULL,
        connector_digest  TEXT    NOT NULL,
        started_at        INTEGER NOT NULL,
        finished_at       INTEGER,
        outcome           TEXT    NOT NULL CHECK (outcome IN
                              ('running', 'succeeded', 'failed', 'abandoned', 'dry_run')),
        -- The process that owns a running run, so that another process can tell a live run
        -- from one whose process died.
        pid               INTEGER NOT NULL,
        host              TEXT    NOT NULL,
        emitted           INTEGER NOT NULL DEFAULT 0,
        added             INTEGER NOT NULL DEFAULT 0,
        updated           INTEGER NOT NULL DEFAULT 0,
        unchanged         INTEGER NOT NULL DEFAULT 0,
        removed           INTEGER NOT NULL DEFAULT 0,
        cleanup_refused   TEXT,
        error             TEXT
    );
    CREATE INDEX runs_by_source ON runs (source, id);
    -- At most one run per source at a time, whichever process asks.
    CREATE UNIQUE INDEX runs_one_running_per_source ON runs (source) WHERE outcome = 'running';

    CREATE TABLE resources (
        uri           TEXT    PRIMARY KEY,
        resource_type TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        parent_uri    TEXT,
        native_id     TEXT,
        properties    TEXT    NOT NULL,  -- a JSON object
        first_seen    INTEGER NOT NULL,
        -- A resource's last_seen is the latest of its sponsorships': kept there only, so that a
        -- run rewrites only the resources that changed.
        last_changed  INTEGER NOT NULL
    );

    -- A resource stays in the inventory while at least one source sponsors it.
    CREATE TABLE sponsorships (
        source      TEXT    NOT NULL,
        uri         TEXT    NOT NULL REFERENCES resources (uri) ON DELETE CASCADE,
        last_seen   INTEGER NOT NULL,
        last_run_id INTEGER NOT NULL REFERENCES runs (id),
        PRIMARY KEY (source, uri)
    ) WITHOUT ROWID;
    CREATE INDEX sponsorships_by_uri ON sponsorships (uri);

    -- What a run has emitted so far; merged into the tables above only when the run succeeds.
    CREATE TABLE staged_resources (
        run_id        INTEGER NOT NULL REFERENCES runs (id),
        uri           TEXT    NOT NULL,
        resource_type TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        parent_uri    TEXT,
        native_id     TEXT,
        properties    TEXT    NOT NULL,
        PRIMARY KEY (run_id, uri)
    ) WITHOUT ROWID;
    ",
    // 2: the schedule slot a run stood for, so that `serve` and `status` agree on the next one.
    r"
    ALTER TABLE runs ADD COLUMN scheduled_slot INTEGER;
    ",
    // 3: a run's staged resources live in a scratch file of their own (see `staging`), written
    // once without a WAL and deleted with the run, instead of in this table. A run still staging
    // here when an older euno-host is upgraded under it fails, leaving the inventory as it was.
    r"
    DROP TABLE staged_resources;
    ",
    // 4: a digest of what a user sees of each resource, so that a merge tells an unchanged
    // resource from its digest alone (see `content_hash`).
    r"
    ALTER TABLE resources ADD COLUMN content_hash INTEGER NOT NULL DEFAULT 0;
    UPDATE resources
    SET content_hash = euno_content_hash(resource_type, name, parent_uri, native_id, properties);
    ",
    // 5: what the connector warned about during a run (a JSON list of lines), kept with the run.
    r"
    ALTER TABLE runs ADD COLUMN warnings TEXT;
    ",
    // 6: a running run's owner beyond host name and pid (see `process`): its machine identity
    // (boot id and pid namespace), a random token that only the owner holds, and the owner's
    // latest heartbeat, so that processes on machines sharing the file never take each other's
    // live run for abandoned. Runs recorded before have none: judged by host name, as then.
    r"
    ALTER TABLE runs ADD COLUMN machine TEXT;
    ALTER TABLE runs ADD COLUMN run_token TEXT;
    ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
    ",
    // 7: lineage (see `lineage`). The relations each source stored for a resource it sponsors,
    // gone with the sponsorship; and the checkpoint of each source's last successful run, with
    // the connector that saved it.
    r"
    CREATE TABLE relations (
        source TEXT NOT NULL,
        uri    TEXT NOT NULL,
        kind   TEXT NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (source, uri, kind, target),
        FOREIGN KEY (source, uri) REFERENCES sponsorships (source, uri) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE TABLE checkpoints (
        source       TEXT    PRIMARY KEY,
        connector_id TEXT    NOT NULL,
        checkpoint   BLOB    NOT NULL,
        run_id       INTEGER NOT NULL REFERENCES runs (id),
        saved_at     INTEGER NOT NULL
    );
    ",
    // 8: the source definitions applied with `sources apply` (their text as applied, `${VAR}`
    // references unexpanded, so no secret value is stored), and the worker that ran each run.
    r"
    CREATE TABLE sources (
        name         TEXT    PRIMARY KEY,
        text         TEXT    NOT NULL,
        digest       TEXT    NOT NULL,
        applied_at   INTEGER NOT NULL,
        applied_from TEXT    NOT NULL
    );
    ALTER TABLE runs ADD COLUMN worker TEXT;
    ",
    // 9: the `[schedule]` table a run's source file had (JSON; `null` for none), so that `status`
    // shows each source's schedule as last applied without its file. NULL: recorded before.
    r"
    ALTER TABLE runs ADD COLUMN schedule TEXT;
    ",
];

/// The digest of a resource's content (everything but its URI and dates): the first 8 bytes of
/// the SHA-256 of its fields, each length-prefixed (a missing one marked apart from an empty
/// one). Stored with every resource, it must never change: a different digest would mark every
/// resource of an existing inventory updated once.
pub(super) fn content_hash(
    resource_type: &str,
    name: &str,
    parent_uri: Option<&str>,
    native_id: Option<&str>,
    properties: &str,
) -> i64 {
    let mut digest = Sha256::new();
    for field in [
        Some(resource_type),
        Some(name),
        parent_uri,
        native_id,
        Some(properties),
    ] {
        match field {
            Some(text) => {
                digest.update([1]);
                digest.update((text.len() as u64).to_le_bytes());
                digest.update(text.as_bytes());
            }
            None => digest.update([0]),
        }
    }
    let bytes: [u8; 8] = digest.finalize()[..8]
        .try_into()
        .expect("a SHA-256 digest has 32 bytes");
    i64::from_le_bytes(bytes)
}

/// Registers [`content_hash`] as the SQL function `euno_content_hash`, for the migration that
/// fills it in.
fn register_content_hash(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "euno_content_hash",
        5,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = |i| ctx.get_raw(i).as_str();
            let optional = |i| ctx.get_raw(i).as_str_or_null();
            Ok(content_hash(
                text(0)?,
                text(1)?,
                optional(2)?,
                optional(3)?,
                text(4)?,
            ))
        },
    )
}

/// Connection settings: WAL so that readers never block the writer, `NORMAL` sync (durable at
/// each checkpoint, safe against corruption), enforced foreign keys, and a busy timeout so that
/// several processes sharing the file wait for each other instead of failing.
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")
}

/// Applies the migrations this database lacks, all in one transaction.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), InventoryError> {
    let supported = MIGRATIONS.len() as i64;
    let failed = |version, source| InventoryError::Migrate {
        path: path.to_owned(),
        version,
        source,
    };
    // Immediate, so that two processes opening a fresh file do not both migrate it.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failed(supported, e))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| failed(supported, e))?;
    // A negative version is no schema this code wrote either.
    if !(0..=supported).contains(&found) {
        return Err(InventoryError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    if found < supported {
        register_content_hash(&tx).map_err(|e| failed(supported, e))?;
    }
    for (version, sql) in (1..).zip(MIGRATIONS).skip(found as usize) {
        tx.execute_batch(sql).map_err(|e| failed(version, e))?;
    }
    tx.pragma_update(None, "user_version", supported)
        .map_err(|e| failed(supported, e))?;
    tx.commit().map_err(|e| failed(supported, e))
}

#[cfg(test)]
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;
