//! The embedded SQLite inventory: what the sources have discovered, which sources vouch for each
//! resource, and the history of runs.
//!
//! How it keeps runs atomic with flat memory:
//! - While a connector runs, its resources are streamed batch by batch into the run's staging
//!   file ([`Inventory::stage`], one short transaction per batch; see `staging`), so neither
//!   memory nor the write lock grows with the run.
//! - The live tables change only in [`Inventory::complete_run`]: one transaction merges the
//!   staged rows (set-based SQL), detects changes, applies [cleanup](CleanupPolicy) and records
//!   the outcome; then the staging file is deleted. A connector that fails, traps or hits a
//!   limit, or a process that dies mid-run, therefore leaves `resources` and `sponsorships`
//!   exactly as they were.
//! - Each run row records its owner: host name, machine identity (boot id and pid namespace),
//!   process id, a random token only the owner holds, and a heartbeat the owner refreshes every
//!   [`HEARTBEAT_INTERVAL`]. A `running` run is marked `abandoned` when its owner provably ran
//!   here and its process is gone (at [`Inventory::open`], or when the next run of its source
//!   begins), or when its heartbeat is older than [`HEARTBEAT_TIMEOUT`] (when the next run of its
//!   source begins): a run of another machine sharing the file is never judged by a pid that
//!   means nothing here. A unique index allows one `running` run per source, so separate
//!   processes agree through the database alone.
//!
//! Timestamps are stored as integer milliseconds since the Unix epoch (UTC), so SQL compares them
//! directly; the API hands them out as [`Timestamp`]s, serialised as RFC 3339. The inventory never
//! reads the clock: callers pass the time in.

mod cleanup;
mod definitions;
mod lineage;
mod merge;
pub mod postgres;
mod process;
mod schema;
mod staging;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Serialize, Serializer};

pub use cleanup::{CleanupPolicy, CleanupStrategy, DEFAULT_MAX_REMOVAL_RATIO, is_removal_ratio};
pub use definitions::{Applied, SourceDefinition, StoredSource};
pub use lineage::DroppedRelations;
pub use process::{set_worker, worker};

/// How often [`Inventory::stage`] records a running run's progress in the inventory.
const EMITTED_RECORD_INTERVAL: Duration = Duration::from_secs(1);

/// How often the owner of a running run records that it is alive ([`Inventory::heartbeat`]).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);

/// How old a running run's heartbeat may grow before the run is taken for abandoned: six missed
/// beats, so that a busy database or a paused process does not lose its run. Machines sharing an
/// inventory must keep their clocks closer than this (NTP does, by far).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);

/// An open SQLite inventory. Several handles, in one process or several, may share a file: a
/// writer thread can stage batches through its own handle while another completes runs, and
/// SQLite serialises their writes.
#[derive(Debug)]
pub struct SqliteInventory {
    conn: Connection,
    path: PathBuf,
    /// This machine's name, recorded on the runs this process owns.
    host: String,
    /// This machine and pid namespace ([`process::machine_id`]), recorded likewise.
    machine: String,
    /// The tokens of the runs this handle began: only their holder may finish them.
    tokens: RefCell<HashMap<RunId, String>>,
    /// The run whose staging file is attached to `conn`, if any.
    attached: Cell<Option<RunId>>,
    /// When [`Inventory::stage`] last recorded a run's emitted count in its row.
    emitted_recorded: Cell<Option<Instant>>,
}

/// Where an inventory lives: a SQLite file of this host (the default), or a PostgreSQL database
/// that many hosts share (`--database URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created with its directory if needed.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL, e.g. `postgresql://euno@db:5432/euno`.
    Postgres(String),
}

impl Database {
    /// The database a `--database` value names: a `postgres://` or `postgresql://` URL (or a
    /// libpq `key=value` string); anything else is refused with the reason.
    pub fn postgres(url: &str) -> Result<Self, InventoryError> {
        postgres::check_url(url)?;
        Ok(Self::Postgres(url.to_owned()))
    }
}

impl fmt::Display for Database {
    /// The file's path, or the URL without its password: what error messages may show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&postgres::redacted(url)),
        }
    }
}

/// An open inventory, on either backend: what the rest of the host uses. Each method behaves the
/// same on both (the inventory's tests run on both); the SQL of each lives in its own module.
#[derive(Debug)]
pub enum Inventory {
    /// A SQLite file ([`SqliteInventory`]).
    Sqlite(SqliteInventory),
    /// A PostgreSQL database ([`postgres::PgInventory`]).
    Postgres(postgres::PgInventory),
}

/// Calls the same method on whichever backend `$inventory` is.
macro_rules! dispatch {
    ($inventory:expr, $backend:ident => $call:expr) => {
        match $inventory {
            Inventory::Sqlite($backend) => $call,
            Inventory::Postgres($backend) => $call,
        }
    };
}

impl Inventory {
    /// Opens (creating and upgrading it if needed) the inventory in `database`, and marks as
    /// abandoned the runs that processes on this machine left unfinished.
    pub fn open(database: &Database) -> Result<Self, InventoryError> {
        Ok(match database {
            Database::Sqlite(path) => Self::Sqlite(SqliteInventory::open(path)?),
            Database::Postgres(url) => Self::Postgres(postgres::PgInventory::open(url)?),
        })
    }

    /// Starts a run of `source`, owned by this process; see [`SqliteInventory::begin_run`].
    pub fn begin_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
    ) -> Result<RunId, InventoryError> {
        dispatch!(self, db => db.begin_run(source, connector, started_at))
    }

    /// Records a run of `source` that failed before it could begin; see
    /// [`SqliteInventory::record_failed_run`].
    pub fn record_failed_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        at: Timestamp,
        error: &str,
        scheduled_slot: Option<Timestamp>,
    ) -> Result<RunId, InventoryError> {
        dispatch!(self, db => db.record_failed_run(source, connector, at, error, scheduled_slot))
    }

    /// The token of `run`, if this handle began it.
    pub fn run_token(&self, run: RunId) -> Option<String> {
        dispatch!(self, db => db.run_token(run))
    }

    /// Records that the owner of `run`, holding `token`, is alive at `at`; `false` when the run
    /// is no longer running under that token.
    pub fn heartbeat(
        &self,
        run: RunId,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, InventoryError> {
        dispatch!(self, db => db.heartbeat(run, token, at))
    }

    /// The run of `source` in progress, if any, whatever process owns it.
    pub fn running_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        dispatch!(self, db => db.running_run(source))
    }

    /// Stages a batch of the run's resources; see [`SqliteInventory::stage`].
    pub fn stage(&self, run: RunId, batch: &[NewResource]) -> Result<(), InventoryError> {
        dispatch!(self, db => db.stage(run, batch))
    }

    /// Stages what `run` ended with; see [`SqliteInventory::stage_end`].
    pub fn stage_end(
        &self,
        run: RunId,
        checkpoint: Option<&[u8]>,
        external_namespaces: &[String],
    ) -> Result<(), InventoryError> {
        dispatch!(self, db => db.stage_end(run, checkpoint, external_namespaces))
    }

    /// The checkpoint the last successful run of `source` saved, if it ran the connector
    /// `connector_id`.
    pub fn checkpoint(
        &self,
        source: &str,
        connector_id: &str,
    ) -> Result<Option<Vec<u8>>, InventoryError> {
        dispatch!(self, db => db.checkpoint(source, connector_id))
    }

    /// When the last successful run of `source` started, if there was one.
    pub fn last_success_at(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        dispatch!(self, db => db.last_success_at(source))
    }

    /// Ends a run whose connector finished: merge, cleanup and outcome in one transaction; see
    /// [`SqliteInventory::complete_run`].
    pub fn complete_run(
        &mut self,
        run: RunId,
        finished_at: Timestamp,
        policy: &CleanupPolicy,
        dry_run: bool,
    ) -> Result<RunSummary, InventoryError> {
        dispatch!(self, db => db.complete_run(run, finished_at, policy, dry_run))
    }

    /// Ends a run whose connector failed; the inventory is left as it was.
    pub fn fail_run(
        &self,
        run: RunId,
        finished_at: Timestamp,
        error: &str,
    ) -> Result<(), InventoryError> {
        dispatch!(self, db => db.fail_run(run, finished_at, error))
    }

    /// Records what the connector warned about during `run`.
    pub fn record_warnings(&self, run: RunId, warnings: &[String]) -> Result<(), InventoryError> {
        dispatch!(self, db => db.record_warnings(run, warnings))
    }

    /// The resources in the inventory, ordered by URI; with `source`, only those it sponsors.
    pub fn resources(&self, source: Option<&str>) -> Result<Vec<StoredResource>, InventoryError> {
        dispatch!(self, db => db.resources(source))
    }

    /// The run history, newest first; with `source`, only its runs; at most `limit` of them.
    pub fn runs(
        &self,
        source: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<RunRecord>, InventoryError> {
        dispatch!(self, db => db.runs(source, limit))
    }

    /// The latest run of `source`, whatever its outcome.
    pub fn last_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        Ok(self.runs(Some(source), Some(1))?.pop())
    }

    /// Records the schedule slot a run stands for.
    pub fn set_scheduled_slot(&self, run: RunId, slot: Timestamp) -> Result<(), InventoryError> {
        dispatch!(self, db => db.set_scheduled_slot(run, slot))
    }

    /// The latest run of `source` that recorded an error (a failed or abandoned run).
    pub fn last_failed_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        dispatch!(self, db => db.last_failed_run(source))
    }

    /// Records the `[schedule]` table (as JSON) of the source file `run` applies; see
    /// [`SqliteInventory::record_schedule`].
    pub fn record_schedule(&self, run: RunId, schedule: &str) -> Result<(), InventoryError> {
        dispatch!(self, db => db.record_schedule(run, schedule))
    }

    /// The `[schedule]` recorded with the latest run of `source` that recorded one.
    pub fn last_schedule(&self, source: &str) -> Result<Option<String>, InventoryError> {
        dispatch!(self, db => db.last_schedule(source))
    }

    /// Every source that has a run in the history, by name.
    pub fn sources(&self) -> Result<Vec<String>, InventoryError> {
        dispatch!(self, db => db.sources())
    }

    /// The slot of the source's latest scheduled run, whatever its outcome.
    pub fn last_scheduled_slot(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        dispatch!(self, db => db.last_scheduled_slot(source))
    }

    /// Claims the run of `source`'s `slot` for this worker, for `lease` (renewed with
    /// [`Inventory::heartbeat_lease`]): `None` when another worker holds it or has run it. A
    /// SQLite inventory belongs to one host, which holds every lease (attempt 1, never fenced).
    pub fn claim(
        &self,
        source: &str,
        slot: Timestamp,
        lease: Duration,
    ) -> Result<Option<Lease>, InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(Some(Lease {
                source: source.to_owned(),
                slot,
                attempt: 1,
                worker: worker().to_owned(),
            })),
            Self::Postgres(db) => db.claim(source, slot, lease),
        }
    }

    /// Takes over a lease of one of `sources` whose holder stopped renewing it, to run its slot
    /// again; never on SQLite, whose one host has no one to take over from.
    pub fn reclaim_stale(
        &self,
        sources: &[String],
        lease: Duration,
    ) -> Result<Option<Lease>, InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(None),
            Self::Postgres(db) => db.reclaim_stale(sources, lease),
        }
    }

    /// Renews `lease`; `false` once it is lost. Always held on SQLite.
    pub fn heartbeat_lease(&self, lease: &Lease) -> Result<bool, InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(true),
            Self::Postgres(db) => db.heartbeat_lease(lease),
        }
    }

    /// Starts the run of `lease`'s slot; on PostgreSQL fenced by its attempt (see
    /// [`postgres::PgInventory::begin_leased_run`]); on SQLite a run like any other.
    pub fn begin_leased_run(
        &self,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
        lease: &Lease,
    ) -> Result<RunId, InventoryError> {
        match self {
            Self::Sqlite(db) => db.begin_run(&lease.source, connector, started_at),
            Self::Postgres(db) => db.begin_leased_run(connector, started_at, lease),
        }
    }

    /// Stores connector `connector.id`'s component (`bytes`) for every worker; PostgreSQL only
    /// (one host keeps its connectors in its connectors directory).
    pub fn store_connector(
        &self,
        connector: &StoredConnector,
        bytes: &[u8],
    ) -> Result<(), InventoryError> {
        match self {
            Self::Sqlite(db) => Err(InventoryError::NotShared {
                database: db.path.display().to_string(),
                what: "storing connectors",
            }),
            Self::Postgres(db) => db.store_connector(connector, bytes),
        }
    }

    /// The connectors stored for every worker (none on SQLite).
    pub fn stored_connectors(&self) -> Result<Vec<StoredConnector>, InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(Vec::new()),
            Self::Postgres(db) => db.stored_connectors(),
        }
    }

    /// The bytes of stored connector `id` at `digest`, if they are still the stored ones.
    pub fn connector_bytes(
        &self,
        id: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(None),
            Self::Postgres(db) => db.connector_bytes(id, digest),
        }
    }

    /// Ends `lease`'s slot without a run (it could not start; the failure is recorded apart).
    pub fn release_lease(&self, lease: &Lease) -> Result<(), InventoryError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(db) => db.release_lease(lease),
        }
    }

    /// Stores a source definition as of `at` (see `definitions`): new, changed or unchanged.
    pub fn apply_source(
        &self,
        definition: &SourceDefinition,
        at: Timestamp,
    ) -> Result<Applied, InventoryError> {
        dispatch!(self, db => db.apply_source(definition, at))
    }

    /// The stored source definitions, by name.
    pub fn source_definitions(&self) -> Result<Vec<StoredSource>, InventoryError> {
        dispatch!(self, db => db.source_definitions())
    }

    /// Forgets the definition of `name` (not its resources); `false` when there was none.
    pub fn remove_source_definition(&self, name: &str) -> Result<bool, InventoryError> {
        dispatch!(self, db => db.remove_source_definition(name))
    }

    /// Forgets `source`'s sponsorships and the resources no other source sponsors; see
    /// [`SqliteInventory::remove_source`].
    pub fn remove_source(&mut self, source: &str, now: Timestamp) -> Result<u64, InventoryError> {
        dispatch!(self, db => db.remove_source(source, now))
    }
}

/// A worker's claim on one scheduled slot of one source (see [`Inventory::claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The source.
    pub source: String,
    /// The schedule slot.
    pub slot: Timestamp,
    /// The fencing token: 1 for the first claim, one more for each takeover of a stale lease. A
    /// run commits only while its attempt is the lease's.
    pub attempt: i64,
    /// The worker holding it.
    pub worker: String,
}

/// A connector component stored in a shared inventory for every worker
/// (`connectors install --database`); its bytes are read apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConnector {
    /// The id its `spec()` reports.
    pub id: String,
    /// The digest of its bytes (lowercase hex SHA-256).
    pub digest: String,
    /// Its manifest's text: the operator's grants.
    pub manifest: String,
    /// When it was installed.
    pub installed_at: Timestamp,
}

/// The connector build a run used, recorded on the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorIdentity {
    /// The connector's id, e.g. `hex`.
    pub id: String,
    /// The version the connector reports.
    pub version: String,
    /// The digest of the component file.
    pub digest: String,
}

/// A resource as a connector reported it, ready to stage. The host has validated it (e.g. `uri`
/// is lowercase); the inventory stores it as given.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    /// Unique across all sources; the resource's identity.
    pub uri: String,
    /// E.g. `hex.project`.
    pub resource_type: String,
    /// The display name.
    pub name: String,
    /// The containing resource, if any (it need not be in the inventory).
    pub parent_uri: Option<String>,
    /// The upstream system's own id.
    pub native_id: Option<String>,
    /// Everything else.
    pub properties: PropertiesJson,
    /// Its relations in this run.
    pub relations: RelationsUpdate,
}

/// A typed reference from one resource to another, as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct StoredRelation {
    /// What it means, e.g. `reads`.
    pub kind: String,
    /// The URI it refers to.
    pub target: String,
}

/// A resource's relations as a run reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelationsUpdate {
    /// Exactly these.
    Set(Vec<StoredRelation>),
    /// The same as the source's last successful run stored (less those whose target is gone).
    Unchanged,
}

impl Default for RelationsUpdate {
    fn default() -> Self {
        Self::Set(Vec::new())
    }
}

/// A resource's properties as the inventory stores them: one JSON object, compact, its keys in
/// sorted order, so that equal properties are equal text (change detection relies on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesJson(String);

impl PropertiesJson {
    /// The canonical text of `map`.
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> Self {
        // A map with string keys and JSON values always serialises.
        Self(serde_json::to_string(map).expect("a JSON object serialises"))
    }

    /// Wraps text that its writer guarantees to be what [`PropertiesJson::from_map`] would
    /// give for the same properties.
    pub(crate) fn from_canonical(text: String) -> Self {
        Self(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for PropertiesJson {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Self::from_map(&map)
    }
}

/// A handle on a run in progress, from [`Inventory::begin_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still in progress (or its process died and nobody has noticed yet).
    Running,
    /// Merged into the inventory.
    Succeeded,
    /// The connector failed; the inventory is as it was before the run.
    Failed,
    /// Its process died before finishing; the inventory is as it was before the run.
    Abandoned,
    /// A dry run: the changes were computed and reported, not written.
    DryRun,
}

impl RunOutcome {
    const ALL: [Self; 5] = [
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Abandoned,
        Self::DryRun,
    ];

    /// The name used in the database, in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::DryRun => "dry_run",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for RunOutcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl FromSql for RunOutcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown run outcome '{text}'").into()))
    }
}

/// What a completed run changed (or, for a dry run, would change).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run.
    pub run_id: i64,
    /// Resources new to the inventory.
    pub added: u64,
    /// Resources whose type, name, parent, native id or properties changed.
    pub updated: u64,
    /// Resources reported again as they were.
    pub unchanged: u64,
    /// Resources this source stopped sponsoring in cleanup (a resource another source still
    /// sponsors stays in the inventory).
    pub removed: u64,
    /// Why cleanup was refused, if it was; then nothing was removed.
    pub cleanup_refused: Option<String>,
    /// Filled for dry runs only, sorted; a real run does not hold its resources in memory.
    pub added_uris: Vec<String>,
    /// Filled for dry runs only, sorted.
    pub updated_uris: Vec<String>,
    /// Filled for dry runs only, sorted: what cleanup removes or, when it is refused, would have
    /// removed.
    pub removed_uris: Vec<String>,
    /// The emitted relations the merge dropped because they break the contract.
    pub dropped_relations: DroppedRelations,
}

/// A run as the history records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The run's id ([`RunId`]).
    pub id: i64,
    /// The source's configured name.
    pub source: String,
    /// The connector's id.
    pub connector_id: String,
    /// The connector's version.
    pub connector_version: String,
    /// The connector component's digest.
    pub connector_digest: String,
    /// When the run started; also when it "saw" the resources it reported.
    #[serde(serialize_with = "rfc3339")]
    pub started_at: Timestamp,
    /// When it finished; `None` while running, and for abandoned runs (nobody saw them end).
    #[serde(serialize_with = "rfc3339_opt")]
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The process that ran it.
    pub pid: u32,
    /// The machine that ran it.
    pub host: String,
    /// Resources the connector emitted, counting duplicates.
    pub emitted: u64,
    /// See [`RunSummary::added`].
    pub added: u64,
    /// See [`RunSummary::updated`].
    pub updated: u64,
    /// See [`RunSummary::unchanged`].
    pub unchanged: u64,
    /// See [`RunSummary::removed`].
    pub removed: u64,
    /// See [`RunSummary::cleanup_refused`].
    pub cleanup_refused: Option<String>,
    /// Why the run failed or was abandoned.
    pub error: Option<String>,
    /// The schedule slot this run stood for, when `serve` started it; `None` for runs on request.
    #[serde(serialize_with = "rfc3339_opt")]
    pub scheduled_slot: Option<Timestamp>,
    /// What the connector warned about during the run, one line each (see
    /// [`Inventory::record_warnings`]); empty when it had nothing to say.
    pub warnings: Vec<String>,
    /// The machine and pid namespace that ran it (`None` for runs recorded before they were).
    pub machine: Option<String>,
    /// When its owner last said it was alive (`None` for runs that never ran, or recorded before
    /// heartbeats).
    #[serde(serialize_with = "rfc3339_opt")]
    pub heartbeat_at: Option<Timestamp>,
    /// The worker that ran it (`serve --worker`, else `<host>-<pid>`); `None` for runs recorded
    /// before workers were.
    pub worker: Option<String>,
}

/// A resource in the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredResource {
    /// Its identity.
    pub uri: String,
    /// E.g. `hex.project`.
    pub resource_type: String,
    /// The display name.
    pub name: String,
    /// The containing resource, if any.
    pub parent_uri: Option<String>,
    /// The upstream system's own id.
    pub native_id: Option<String>,
    /// Everything else.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The start of the first run that reported it.
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: Timestamp,
    /// The start of the latest run that reported it.
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: Timestamp,
    /// The start of the run that added it or last changed it.
    #[serde(serialize_with = "rfc3339")]
    pub last_changed: Timestamp,
    /// The sources that vouch for it, sorted.
    pub sponsors: Vec<String>,
    /// Its relations, sorted: those its sponsors stored (with a source asked for, that one's).
    pub relations: Vec<StoredRelation>,
}

impl InventoryError {
    /// Whether SQLite said the database is busy or locked by another connection.
    fn is_busy(&self) -> bool {
        let source = match self {
            Self::Open { source, .. }
            | Self::Migrate { source, .. }
            | Self::Database { source, .. } => source,
            _ => return false,
        };
        matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// Why the inventory could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// The database's directory could not be created.
    #[error("cannot create the directory {} for the inventory database: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The database file could not be opened or configured.
    #[error(
        "cannot open the inventory database {}: {source}; check that the file is readable and \
         writable and is a euno-host inventory",
        path.display()
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A schema migration failed; the database is left at its previous version.
    #[error(
        "cannot upgrade the inventory database {} to schema version {version}: {source}; the file \
         is unchanged",
        path.display()
    )]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The schema version that could not be reached.
        version: i64,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database was written by a newer euno-host.
    #[error(
        "the inventory database {} has schema version {found}, but this euno-host knows only up \
         to {supported}; use a newer euno-host or another inventory file",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A statement failed.
    #[error("inventory database {}: {action} failed: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What was being done, e.g. `completing run 7`.
        action: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// No run has this id.
    #[error("run {run_id} is not in the inventory; it may belong to another inventory file")]
    UnknownRun {
        /// The id asked for.
        run_id: i64,
    },
    /// The run already ended.
    #[error(
        "run {run_id} of source '{source_name}' has already ended ({outcome}); begin a new run"
    )]
    RunNotRunning {
        /// The run.
        run_id: i64,
        /// Its source.
        source_name: String,
        /// How it ended.
        outcome: RunOutcome,
    },
    /// The run's row no longer carries the token this handle holds, or this handle did not begin
    /// it: only the process that began a run may finish it.
    #[error(
        "run {run_id} of source '{source_name}' is not this process's to finish; it was begun \
         elsewhere or taken over; begin a new run"
    )]
    RunNotOwned {
        /// The run.
        run_id: i64,
        /// Its source.
        source_name: String,
    },
    /// Another run of the source is in progress in a live process.
    #[error(
        "source '{source_name}' already has run {run_id} in progress (process {pid} on host \
         '{host}', started {started_at}); wait for it to finish or stop that process"
    )]
    RunInProgress {
        /// The source.
        source_name: String,
        /// The run in progress.
        run_id: i64,
        /// The process running it.
        pid: u32,
        /// The machine running it.
        host: String,
        /// When it started.
        started_at: Timestamp,
    },
    /// A resource's properties could not be written or read back as a JSON object.
    #[error("the properties of resource '{uri}' are not a storable JSON object: {source}")]
    Properties {
        /// The resource.
        uri: String,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// A `--database` value that is no PostgreSQL connection string.
    #[error(
        "--database: '{url}' is not a PostgreSQL URL ({reason}); use e.g. \
         postgresql://user@host:5432/euno"
    )]
    BadDatabaseUrl {
        /// The value, its password removed.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A PostgreSQL statement failed, or the database could not be reached.
    #[error("PostgreSQL inventory {database}: {action} failed: {detail}")]
    Postgres {
        /// The database, its password removed.
        database: String,
        /// What was being done.
        action: String,
        /// The server's message, or the client's when the server sent none.
        detail: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The PostgreSQL database holds a schema written by a newer euno-host.
    #[error(
        "the PostgreSQL inventory {database} has schema version {found}, but this euno-host \
         knows only up to {supported}; use a newer euno-host or another database"
    )]
    PostgresSchemaTooNew {
        /// The database, its password removed.
        database: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The run's lease was taken over by another worker (this one was paused, cut off or too
    /// slow to renew it): the run may not commit, and nothing it reported is kept.
    #[error(
        "source '{source_name}': the lease of slot {slot} (attempt {attempt}) was lost to worker \
         '{holder}' (attempt {holder_attempt}); nothing this run reported was kept"
    )]
    LeaseLost {
        /// The source.
        source_name: String,
        /// The slot.
        slot: Timestamp,
        /// The attempt this run held.
        attempt: i64,
        /// The worker holding the lease now.
        holder: String,
        /// Its attempt.
        holder_attempt: i64,
    },
    /// Something only a shared (PostgreSQL) inventory holds.
    #[error("{what} needs a shared PostgreSQL inventory (--database URL); {database} is SQLite")]
    NotShared {
        /// The SQLite file.
        database: String,
        /// What was asked.
        what: &'static str,
    },
    /// The cleanup guard is not a ratio.
    #[error(
        "max_removal_ratio {ratio} of source '{source_name}' is not above 0 and at most 1; fix \
         the source's cleanup settings"
    )]
    InvalidRemovalRatio {
        /// The source.
        source_name: String,
        /// The ratio it has.
        ratio: f64,
    },
}

/// Turns a SQLite error into an [`InventoryError::Database`] saying what was being done.
fn failed(path: &Path, action: String) -> impl Fn(rusqlite::Error) -> InventoryError + '_ {
    move |source| InventoryError::Database {
        path: path.to_owned(),
        action: action.clone(),
        source,
    }
}

const RUN_COLUMNS: &str = "id, source, connector_id, connector_version, connector_digest, \
    started_at, finished_at, outcome, pid, host, emitted, added, updated, unchanged, removed, \
    cleanup_refused, error, scheduled_slot, warnings, machine, heartbeat_at, worker";

impl SqliteInventory {
    /// Opens (creating the file and its directory if needed) and upgrades the inventory at
    /// `path`, and marks as abandoned the runs that processes on this host left unfinished.
    ///
    /// Two processes opening a new file at once can meet SQLite's "database is locked" while one
    /// of them switches it to WAL, a step the busy timeout does not cover; that is retried for a
    /// few seconds.
    pub fn open(path: &Path) -> Result<Self, InventoryError> {
        const ATTEMPTS: u32 = 50;
        let mut attempt = 1;
        loop {
            match Self::open_once(path) {
                Err(error) if error.is_busy() && attempt < ATTEMPTS => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                outcome => return outcome,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Self, InventoryError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| InventoryError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_failed = |source| InventoryError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_failed)?;
        schema::configure(&conn).map_err(open_failed)?;
        schema::migrate(&mut conn, path)?;
        let inventory = Self {
            conn,
            path: path.to_owned(),
            host: process::host_name(),
            machine: process::machine_id(),
            tokens: RefCell::new(HashMap::new()),
            attached: Cell::new(None),
            emitted_recorded: Cell::new(None),
        };
        let err = failed(path, "marking the runs of dead processes abandoned".into());
        let tx = inventory.write().map_err(&err)?;
        abandon_dead_runs(&tx, path, &inventory.host, &inventory.machine, None, None)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        inventory
            .remove_stale_staging()
            .map_err(failed(path, "removing stale staging files".into()))?;
        Ok(inventory)
    }

    /// Starts a run of `source`, owned by this process.
    ///
    /// Fails with [`InventoryError::RunInProgress`] while another live process (or this one) has
    /// a run of the same source in progress; a run whose process on this machine is gone, or
    /// whose heartbeat is older than [`HEARTBEAT_TIMEOUT`] at `started_at`, is marked abandoned
    /// first. The run's heartbeat starts at `started_at`; its owner keeps it fresh with
    /// [`Inventory::heartbeat`].
    pub fn begin_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
    ) -> Result<RunId, InventoryError> {
        let err = failed(&self.path, format!("starting a run of source '{source}'"));
        let tx = self.write().map_err(&err)?;
        abandon_dead_runs(
            &tx,
            &self.path,
            &self.host,
            &self.machine,
            Some(source),
            Some(started_at),
        )
        .map_err(&err)?;
        if let Some(run) = running_run(&tx, source).map_err(&err)? {
            return Err(in_progress(run));
        }
        let token = process::run_token();
        tx.execute(
            "INSERT INTO runs (source, connector_id, connector_version, connector_digest,
                               started_at, outcome, pid, host, machine, run_token, heartbeat_at,
                               worker)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?5, ?11)",
            rusqlite::params![
                source,
                &connector.id,
                &connector.version,
                &connector.digest,
                started_at.as_millisecond(),
                RunOutcome::Running,
                std::process::id(),
                &self.host,
                &self.machine,
                &token,
                process::worker(),
            ],
        )
        .map_err(&err)?;
        let run = RunId(tx.last_insert_rowid());
        tx.commit().map_err(&err)?;
        self.tokens.borrow_mut().insert(run, token);
        Ok(run)
    }

    /// Records a run of `source` that failed before it could begin: the source could not be
    /// resolved (a `${VAR}` that is not set, a bad setting) or its connector could not be loaded.
    /// Nothing is staged or changed; the row makes the failure visible in `runs` and `status`
    /// and, with `scheduled_slot`, stands for that slot like any scheduled run. `connector` holds
    /// what is known of the connector (empty strings for the rest).
    pub fn record_failed_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        at: Timestamp,
        error: &str,
        scheduled_slot: Option<Timestamp>,
    ) -> Result<RunId, InventoryError> {
        let err = failed(
            &self.path,
            format!("recording a failed run of source '{source}'"),
        );
        self.conn
            .execute(
                "INSERT INTO runs (source, connector_id, connector_version, connector_digest,
                                   started_at, finished_at, outcome, pid, host, error,
                                   scheduled_slot, machine, worker)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                rusqlite::params![
                    source,
                    &connector.id,
                    &connector.version,
                    &connector.digest,
                    at.as_millisecond(),
                    RunOutcome::Failed,
                    std::process::id(),
                    &self.host,
                    error,
                    scheduled_slot.map(Timestamp::as_millisecond),
                    &self.machine,
                    process::worker(),
                ],
            )
            .map_err(&err)?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// The token of `run`, if this handle began it: what [`Inventory::heartbeat`] takes, from
    /// whichever connection the owner beats on.
    pub fn run_token(&self, run: RunId) -> Option<String> {
        self.tokens.borrow().get(&run).cloned()
    }

    /// Records that the owner of `run`, holding `token`, is alive at `at`. Returns `false` when
    /// the run is no longer running under that token (it ended, or another process took it for
    /// abandoned): then there is nothing left to keep alive.
    pub fn heartbeat(
        &self,
        run: RunId,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, InventoryError> {
        let beaten = self
            .conn
            .execute(
                "UPDATE runs SET heartbeat_at = ?3
                 WHERE id = ?1 AND run_token = ?2 AND outcome = 'running'",
                (run.0, token, at.as_millisecond()),
            )
            .map_err(failed(
                &self.path,
                format!("recording the heartbeat of run {run}"),
            ))?;
        Ok(beaten == 1)
    }

    /// The run of `source` in progress, if any, whatever process owns it; its `pid` and `host`
    /// say who. A run whose process died stays here until [`Inventory::open`] or
    /// [`Inventory::begin_run`] on its host notices.
    pub fn running_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        running_run(&self.conn, source).map_err(failed(
            &self.path,
            format!("looking up the running run of source '{source}'"),
        ))
    }

    /// Stages a batch of the run's resources; they reach the inventory only when the run
    /// completes. If a URI comes twice in one run, the later one wins.
    ///
    /// Staging writes the run's staging file only: the inventory's write lock is taken at most
    /// once a second, to record how many resources the run has emitted so far.
    pub fn stage(&self, run: RunId, batch: &[NewResource]) -> Result<(), InventoryError> {
        let err = failed(
            &self.path,
            format!("staging {} resources for run {run}", batch.len()),
        );
        self.attach_staging(run).map_err(&err)?;
        // Deferred: the transaction reads the run's row from the inventory and writes only to
        // the staging file.
        let tx =
            Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred).map_err(&err)?;
        running(&tx, &self.path, run)?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO staging.staged_resources
                     (uri, resource_type, name, parent_uri, native_id, properties, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(&err)?;
        for resource in batch {
            let properties = resource.properties.as_str();
            let content_hash = schema::content_hash(
                &resource.resource_type,
                &resource.name,
                resource.parent_uri.as_deref(),
                resource.native_id.as_deref(),
                properties,
            );
            insert
                .execute((
                    &resource.uri,
                    &resource.resource_type,
                    &resource.name,
                    &resource.parent_uri,
                    &resource.native_id,
                    properties,
                    content_hash,
                ))
                .map_err(&err)?;
            lineage::stage(&tx, &resource.uri, &resource.relations).map_err(&err)?;
        }
        drop(insert);
        tx.commit().map_err(&err)?;
        let due = self
            .emitted_recorded
            .get()
            .is_none_or(|at| at.elapsed() >= EMITTED_RECORD_INTERVAL);
        if due {
            // Progress only: the run completes with the right count whatever happens here, so a
            // write lock held elsewhere for longer than the busy timeout must not fail it.
            if let Err(error) = self.record_emitted(run) {
                tracing::debug!(run = run.0, "could not record the run's progress: {error}");
            }
            self.emitted_recorded.set(Some(Instant::now()));
        }
        Ok(())
    }

    /// Stages what `run` ended with, for its merge: the checkpoint it saved (stored only if it
    /// completes) and the spec's external namespaces (which its relations may target).
    pub fn stage_end(
        &self,
        run: RunId,
        checkpoint: Option<&[u8]>,
        external_namespaces: &[String],
    ) -> Result<(), InventoryError> {
        let err = failed(&self.path, format!("staging the end of run {run}"));
        self.attach_staging(run).map_err(&err)?;
        lineage::stage_end(&self.conn, checkpoint, external_namespaces).map_err(&err)
    }

    /// The checkpoint the last successful run of `source` saved, if it ran the connector
    /// `connector_id`.
    pub fn checkpoint(
        &self,
        source: &str,
        connector_id: &str,
    ) -> Result<Option<Vec<u8>>, InventoryError> {
        lineage::checkpoint(&self.conn, source, connector_id).map_err(failed(
            &self.path,
            format!("reading the checkpoint of source '{source}'"),
        ))
    }

    /// When the last successful run of `source` started, if there was one.
    pub fn last_success_at(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        let at: Option<i64> = self
            .conn
            .query_row(
                "SELECT started_at FROM runs WHERE source = ?1 AND outcome = 'succeeded'
                 ORDER BY id DESC LIMIT 1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed(
                &self.path,
                format!("reading the last success of source '{source}'"),
            ))?;
        Ok(at.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// Copies how many resources `run` has staged into its row, for `runs` and `status`.
    fn record_emitted(&self, run: RunId) -> rusqlite::Result<()> {
        let emitted = staging::emitted(&self.conn)?;
        self.conn.execute(
            "UPDATE runs SET emitted = ?2 WHERE id = ?1 AND outcome = 'running'",
            (run.0, emitted),
        )?;
        Ok(())
    }

    /// Ends a run whose connector finished: merges what it staged into the inventory, applies
    /// `policy`'s cleanup, and records the outcome, all in one transaction.
    ///
    /// With `dry_run`, the same merge and cleanup are computed and reported (with the URIs that
    /// would be added, updated and removed) but not written; the run is recorded as a dry run.
    ///
    /// On error nothing is merged and the run is still running: record it with
    /// [`Inventory::fail_run`].
    pub fn complete_run(
        &mut self,
        run: RunId,
        finished_at: Timestamp,
        policy: &CleanupPolicy,
        dry_run: bool,
    ) -> Result<RunSummary, InventoryError> {
        let err = failed(&self.path, format!("completing run {run}"));
        self.attach_staging(run).map_err(&err)?;
        // Counted before duplicates are dropped; indexed before the write lock is taken.
        let emitted = staging::emitted(&self.conn).map_err(&err)?;
        staging::index_for_merge(&self.conn).map_err(&err)?;
        lineage::index_for_merge(&self.conn).map_err(&err)?;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let record = running(&tx, &self.path, run)?;
        check_owned(&tx, &self.path, &self.tokens.borrow(), &record)?;
        policy.check(&record.source)?;
        let summary = {
            // A dry run does the real work in a savepoint and rolls it back, so that what it
            // reports is exactly what a real run would do.
            let savepoint = tx.savepoint().map_err(&err)?;
            let summary =
                merge_and_clean(&savepoint, run, &record, policy, dry_run).map_err(&err)?;
            if !dry_run {
                savepoint.commit().map_err(&err)?;
            }
            summary
        };
        tx.execute(
            "UPDATE runs SET outcome = ?2, finished_at = ?3, added = ?4, updated = ?5,
                             unchanged = ?6, removed = ?7, cleanup_refused = ?8, emitted = ?9
             WHERE id = ?1",
            (
                run.0,
                if dry_run {
                    RunOutcome::DryRun
                } else {
                    RunOutcome::Succeeded
                },
                finished_at.as_millisecond(),
                summary.added,
                summary.updated,
                summary.unchanged,
                summary.removed,
                &summary.cleanup_refused,
                emitted,
            ),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        self.tokens.borrow_mut().remove(&run);
        self.discard_staging(run);
        Ok(summary)
    }

    /// Ends a run whose connector failed: discards what it staged and records `error`. The
    /// inventory is left as it was before the run.
    pub fn fail_run(
        &self,
        run: RunId,
        finished_at: Timestamp,
        error: &str,
    ) -> Result<(), InventoryError> {
        let err = failed(&self.path, format!("recording the failure of run {run}"));
        self.attach_staging(run).map_err(&err)?;
        let emitted = staging::emitted(&self.conn).map_err(&err)?;
        let tx = self.write().map_err(&err)?;
        let record = running(&tx, &self.path, run)?;
        check_owned(&tx, &self.path, &self.tokens.borrow(), &record)?;
        tx.execute(
            "UPDATE runs SET outcome = ?2, finished_at = ?3, error = ?4, emitted = ?5
             WHERE id = ?1",
            (
                run.0,
                RunOutcome::Failed,
                finished_at.as_millisecond(),
                error,
                emitted,
            ),
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        self.tokens.borrow_mut().remove(&run);
        self.discard_staging(run);
        Ok(())
    }

    /// Records what the connector warned about during `run` (already inert and redacted, and
    /// capped by the caller), whatever the run's outcome.
    pub fn record_warnings(&self, run: RunId, warnings: &[String]) -> Result<(), InventoryError> {
        let json = serde_json::to_string(warnings).expect("a list of strings serialises");
        self.conn
            .execute("UPDATE runs SET warnings = ?2 WHERE id = ?1", (run.0, json))
            .map_err(failed(
                &self.path,
                format!("recording the warnings of run {run}"),
            ))?;
        Ok(())
    }

    /// The resources in the inventory, ordered by URI; with `source`, only those it sponsors.
    pub fn resources(&self, source: Option<&str>) -> Result<Vec<StoredResource>, InventoryError> {
        let err = failed(&self.path, "listing resources".into());
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT uri, resource_type, name, parent_uri, native_id, first_seen,
                        (SELECT max(last_seen) FROM sponsorships s WHERE s.uri = r.uri),
                        last_changed, properties,
                        (SELECT json_group_array(source ORDER BY source)
                         FROM sponsorships s WHERE s.uri = r.uri),
                        {}
                 FROM resources r
                 WHERE ?1 IS NULL OR EXISTS (
                     SELECT 1 FROM sponsorships s WHERE s.uri = r.uri AND s.source = ?1)
                 ORDER BY uri",
                lineage::RELATIONS_JSON
            ))
            .map_err(&err)?;
        let mut rows = stmt.query([source]).map_err(&err)?;
        let mut resources = Vec::new();
        while let Some(row) = rows.next().map_err(&err)? {
            let (uri, properties, sponsors, relations): (String, String, String, String) =
                (|| Ok((row.get(0)?, row.get(8)?, row.get(9)?, row.get(10)?)))().map_err(&err)?;
            let json_failed = |source| InventoryError::Properties {
                uri: uri.clone(),
                source,
            };
            let properties = serde_json::from_str(&properties).map_err(json_failed)?;
            let sponsors = serde_json::from_str(&sponsors).map_err(json_failed)?;
            let relations = serde_json::from_str(&relations).map_err(json_failed)?;
            let resource = (|| {
                Ok(StoredResource {
                    resource_type: row.get(1)?,
                    name: row.get(2)?,
                    parent_uri: row.get(3)?,
                    native_id: row.get(4)?,
                    first_seen: timestamp(row, 5)?,
                    last_seen: timestamp(row, 6)?,
                    last_changed: timestamp(row, 7)?,
                    properties,
                    sponsors,
                    relations,
                    uri,
                })
            })()
            .map_err(&err)?;
            resources.push(resource);
        }
        Ok(resources)
    }

    /// The run history, newest first; with `source`, only its runs; at most `limit` of them.
    pub fn runs(
        &self,
        source: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<RunRecord>, InventoryError> {
        let err = failed(&self.path, "listing runs".into());
        let limit = limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR source = ?1
                 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(&err)?;
        let runs = stmt.query_map((source, limit), run_record).map_err(&err)?;
        runs.collect::<Result<_, _>>().map_err(&err)
    }

    /// The latest run of `source`, whatever its outcome.
    pub fn last_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        Ok(self.runs(Some(source), Some(1))?.pop())
    }

    /// The latest run of `source` that recorded an error (a failed or abandoned run).
    pub fn last_failed_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE source = ?1 AND error IS NOT NULL
                     ORDER BY id DESC LIMIT 1"
                ),
                [source],
                run_record,
            )
            .optional()
            .map_err(failed(
                &self.path,
                format!("reading the last failed run of source '{source}'"),
            ))
    }

    /// Records the schedule slot a run stands for.
    pub fn set_scheduled_slot(&self, run: RunId, slot: Timestamp) -> Result<(), InventoryError> {
        self.conn
            .execute(
                "UPDATE runs SET scheduled_slot = ?2 WHERE id = ?1",
                (run.0, slot.as_millisecond()),
            )
            .map_err(failed(
                &self.path,
                format!("recording the schedule slot of run {}", run.0),
            ))?;
        Ok(())
    }

    /// Records the `[schedule]` table of the source file `run` applies, as JSON (`null` when the
    /// file has none): what `status` shows once the file is out of sight.
    pub fn record_schedule(&self, run: RunId, schedule: &str) -> Result<(), InventoryError> {
        self.conn
            .execute(
                "UPDATE runs SET schedule = ?2 WHERE id = ?1",
                (run.0, schedule),
            )
            .map_err(failed(
                &self.path,
                format!("recording the schedule of run {}", run.0),
            ))?;
        Ok(())
    }

    /// The `[schedule]` recorded with the latest run of `source` that recorded one (see
    /// [`Inventory::record_schedule`]).
    pub fn last_schedule(&self, source: &str) -> Result<Option<String>, InventoryError> {
        self.conn
            .query_row(
                "SELECT schedule FROM runs WHERE source = ?1 AND schedule IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed(
                &self.path,
                format!("reading the recorded schedule of source '{source}'"),
            ))
    }

    /// Every source that has a run in the history, by name.
    pub fn sources(&self) -> Result<Vec<String>, InventoryError> {
        let err = failed(&self.path, "listing the sources".into());
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT source FROM runs ORDER BY source")
            .map_err(&err)?;
        let names = stmt.query_map([], |row| row.get(0)).map_err(&err)?;
        names.collect::<Result<_, _>>().map_err(&err)
    }

    /// The slot of the source's latest scheduled run, whatever its outcome: where its schedule
    /// continues from. Runs on request do not move a schedule.
    pub fn last_scheduled_slot(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        let slot: Option<i64> = self
            .conn
            .query_row(
                "SELECT scheduled_slot FROM runs WHERE source = ?1 AND scheduled_slot IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                [source],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed(
                &self.path,
                format!("reading the schedule of source '{source}'"),
            ))?;
        Ok(slot.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// Forgets `source`: drops its sponsorships and the resources no other source sponsors, and
    /// returns how many resources left the inventory. Its run history stays. Refused while a run
    /// of the source is in progress (judged as of `now`, like [`Inventory::begin_run`]).
    pub fn remove_source(&mut self, source: &str, now: Timestamp) -> Result<u64, InventoryError> {
        let err = failed(&self.path, format!("removing source '{source}'"));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        abandon_dead_runs(
            &tx,
            &self.path,
            &self.host,
            &self.machine,
            Some(source),
            Some(now),
        )
        .map_err(&err)?;
        if let Some(run) = running_run(&tx, source).map_err(&err)? {
            return Err(in_progress(run));
        }
        let removed = tx
            .execute(
                "DELETE FROM resources WHERE uri IN (
                     SELECT uri FROM sponsorships mine WHERE source = ?1 AND NOT EXISTS (
                         SELECT 1 FROM sponsorships other
                         WHERE other.uri = mine.uri AND other.source <> ?1))",
                [source],
            )
            .map_err(&err)?;
        tx.execute("DELETE FROM sponsorships WHERE source = ?1", [source])
            .map_err(&err)?;
        lineage::forget(&tx, source).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(removed as u64)
    }

    /// Attaches the staging file of `run` as `staging`, unless it already is.
    fn attach_staging(&self, run: RunId) -> rusqlite::Result<()> {
        if self.attached.get() == Some(run) {
            return Ok(());
        }
        if self.attached.take().is_some() {
            staging::detach(&self.conn)?;
        }
        staging::attach(&self.conn, &self.path, run)?;
        lineage::create_staging(&self.conn)?;
        self.attached.set(Some(run));
        Ok(())
    }

    /// Detaches and deletes the staging file of `run`, which has ended.
    fn discard_staging(&self, run: RunId) {
        if self.attached.get() == Some(run) {
            self.attached.set(None);
            if let Err(error) = staging::detach(&self.conn) {
                tracing::warn!(
                    run = run.0,
                    "could not detach a run's staging file: {error}"
                );
            }
        }
        staging::remove(&self.path, run);
    }

    /// Deletes the staging files of runs that are no longer running (their process ended between
    /// finishing the run and deleting the file).
    fn remove_stale_staging(&self) -> rusqlite::Result<()> {
        for run in staging::runs_with_files(&self.path) {
            let running: Option<bool> = self
                .conn
                .query_row(
                    "SELECT outcome = 'running' FROM runs WHERE id = ?1",
                    [run.0],
                    |row| row.get(0),
                )
                .optional()?;
            if running != Some(true) {
                staging::remove(&self.path, run);
            }
        }
        Ok(())
    }

    /// A write transaction, taken up front: a deferred one that later needs to write fails at
    /// once with "database is locked" instead of waiting out the busy timeout.
    fn write(&self) -> rusqlite::Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
    }
}

/// The merge and cleanup of a completed run, inside the caller's transaction.
fn merge_and_clean(
    conn: &Connection,
    run: RunId,
    record: &RunRecord,
    policy: &CleanupPolicy,
    list_uris: bool,
) -> rusqlite::Result<RunSummary> {
    let source = record.source.as_str();
    let seen = record.started_at.as_millisecond();
    let sponsored_before: u64 = conn.query_row(
        "SELECT count(*) FROM sponsorships WHERE source = ?1",
        [source],
        |row| row.get(0),
    )?;
    let changes = merge::merge(conn, run, source, seen, list_uris)?;
    let dropped_relations = lineage::merge(conn, run, source, &record.connector_id, seen)?;
    let cleanup = cleanup::apply(conn, run, source, seen, sponsored_before, policy, list_uris)?;
    Ok(RunSummary {
        run_id: run.0,
        added: changes.added,
        updated: changes.updated,
        unchanged: changes.unchanged,
        removed: cleanup.removed,
        cleanup_refused: cleanup.refused,
        added_uris: changes.added_uris,
        updated_uris: changes.updated_uris,
        removed_uris: cleanup.removed_uris,
        dropped_relations,
    })
}

/// The run `run`, which must still be running.
fn running(conn: &Connection, path: &Path, run: RunId) -> Result<RunRecord, InventoryError> {
    let record = conn
        .query_row(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            [run.0],
            run_record,
        )
        .optional()
        .map_err(failed(path, format!("looking up run {run}")))?
        .ok_or(InventoryError::UnknownRun { run_id: run.0 })?;
    match record.outcome {
        RunOutcome::Running => Ok(record),
        outcome => Err(InventoryError::RunNotRunning {
            run_id: run.0,
            source_name: record.source,
            outcome,
        }),
    }
}

/// Fails unless `tokens` (those of the runs a handle began) holds the token on the row of
/// `record`: a run that another process took over is never finished by its former owner.
fn check_owned(
    conn: &Connection,
    path: &Path,
    tokens: &HashMap<RunId, String>,
    record: &RunRecord,
) -> Result<(), InventoryError> {
    let run = RunId(record.id);
    let stored: Option<String> = conn
        .query_row("SELECT run_token FROM runs WHERE id = ?1", [run.0], |row| {
            row.get(0)
        })
        .map_err(failed(path, format!("looking up the owner of run {run}")))?;
    match (tokens.get(&run), stored) {
        (Some(mine), Some(stored)) if *mine == stored => Ok(()),
        _ => Err(InventoryError::RunNotOwned {
            run_id: run.0,
            source_name: record.source.clone(),
        }),
    }
}

fn running_run(conn: &Connection, source: &str) -> rusqlite::Result<Option<RunRecord>> {
    conn.query_row(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE source = ?1 AND outcome = 'running'"),
        [source],
        run_record,
    )
    .optional()
}

fn in_progress(run: RunRecord) -> InventoryError {
    InventoryError::RunInProgress {
        source_name: run.source,
        run_id: run.id,
        pid: run.pid,
        host: run.host,
        started_at: run.started_at,
    }
}

/// Marks abandoned the running runs (of `source`, or all) whose owner is dead, and discards what
/// they staged. An owner is dead when it provably ran here (the same machine identity, or for
/// runs recorded before machine identities, the same host name) and its process is gone; or,
/// given `now`, when its heartbeat is older than [`HEARTBEAT_TIMEOUT`]. A run of another machine
/// is never judged by its pid: the same number may be anything here.
fn abandon_dead_runs(
    conn: &Connection,
    db: &Path,
    host: &str,
    machine: &str,
    source: Option<&str>,
    now: Option<Timestamp>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, pid, host, machine, heartbeat_at FROM runs
         WHERE outcome = 'running' AND (?1 IS NULL OR source = ?1)",
    )?;
    let runs = stmt.query_map([source], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, u32>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, Option<String>>(3)?,
            row.get::<_, Option<i64>>(4)?,
        ))
    })?;
    for (run, pid, owner_host, owner_machine, heartbeat) in runs.collect::<Result<Vec<_>, _>>()? {
        let owner = RunOwner {
            pid,
            host: &owner_host,
            machine: owner_machine.as_deref(),
            heartbeat,
        };
        let Some(reason) = owner.why_dead(host, machine, now) else {
            continue;
        };
        conn.execute(
            "UPDATE runs SET outcome = ?2, error = ?3 WHERE id = ?1",
            (run, RunOutcome::Abandoned, reason),
        )?;
        staging::remove(db, RunId(run));
    }
    Ok(())
}

/// Who owns a running run, as its row says: what [`RunOwner::why_dead`] judges, on both backends.
struct RunOwner<'a> {
    pid: u32,
    host: &'a str,
    machine: Option<&'a str>,
    heartbeat: Option<i64>,
}

impl RunOwner<'_> {
    /// Why the owner is dead, judged from the process at `host`/`machine` (and, given `now`,
    /// its heartbeat), or `None` while it may be alive. An owner is dead when it provably ran
    /// here (the same machine identity, or for runs recorded before machine identities, the same
    /// host name) and its process is gone; or, given `now`, when its heartbeat is older than
    /// [`HEARTBEAT_TIMEOUT`]. A run of another machine is never judged by its pid.
    fn why_dead(&self, host: &str, machine: &str, now: Option<Timestamp>) -> Option<String> {
        let Self {
            pid,
            host: owner_host,
            ..
        } = *self;
        let here = match self.machine {
            Some(owner) => owner == machine,
            // Recorded before machine identities: the host name is all there is, and an
            // unreadable one tells nothing.
            None => owner_host == host && host != "unknown",
        };
        let timeout = HEARTBEAT_TIMEOUT.as_millis() as i64;
        let silent_for = now
            .zip(self.heartbeat)
            .map(|(now, beat)| now.as_millisecond().saturating_sub(beat));
        if here && !process::is_alive(pid) {
            return Some(format!(
                "its process (pid {pid} on host '{owner_host}') ended before the run finished; \
                 nothing it reported was kept"
            ));
        }
        silent_for.filter(|silent| *silent > timeout).map(|silent| {
            format!(
                "its process (pid {pid} on host '{owner_host}') sent no heartbeat for {} s, \
                     more than {} s, so it is taken for dead; nothing it reported was kept",
                silent / 1000,
                HEARTBEAT_TIMEOUT.as_secs()
            )
        })
    }
}

fn run_record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: row.get(0)?,
        source: row.get(1)?,
        connector_id: row.get(2)?,
        connector_version: row.get(3)?,
        connector_digest: row.get(4)?,
        started_at: timestamp(row, 5)?,
        finished_at: row
            .get::<_, Option<i64>>(6)?
            .map(|_| timestamp(row, 6))
            .transpose()?,
        outcome: row.get(7)?,
        pid: row.get(8)?,
        host: row.get(9)?,
        emitted: row.get(10)?,
        added: row.get(11)?,
        updated: row.get(12)?,
        unchanged: row.get(13)?,
        removed: row.get(14)?,
        cleanup_refused: row.get(15)?,
        error: row.get(16)?,
        scheduled_slot: row
            .get::<_, Option<i64>>(17)?
            .map(|_| timestamp(row, 17))
            .transpose()?,
        warnings: match row.get::<_, Option<String>>(18)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    18,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            None => Vec::new(),
        },
        machine: row.get(19)?,
        heartbeat_at: row
            .get::<_, Option<i64>>(20)?
            .map(|_| timestamp(row, 20))
            .transpose()?,
        worker: row.get(21)?,
    })
}

fn timestamp(row: &Row<'_>, column: usize) -> rusqlite::Result<Timestamp> {
    Timestamp::from_millisecond(row.get(column)?).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Integer,
            Box::new(e),
        )
    })
}

/// How every instant is written out: RFC 3339 UTC with exactly three fraction digits, so that the
/// text sorts like the instants (`…:07.000Z` before `…:07.500Z`).
pub fn format_timestamp(at: Timestamp) -> String {
    format!("{at:.3}")
}

fn rfc3339<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(*at))
}

fn rfc3339_opt<S: Serializer>(at: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&format_timestamp(*at)),
        None => serializer.serialize_none(),
    }
}
