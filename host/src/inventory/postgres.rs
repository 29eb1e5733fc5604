//! The PostgreSQL inventory (`--database URL`): the same behaviour as the SQLite one
//! ([`super::SqliteInventory`]), for many hosts sharing one database.
//!
//! How it maps the SQLite design onto a server:
//! - **Staging.** A run's resources go into an `UNLOGGED` table of its own, `staged_<run>`,
//!   created with the run and dropped when it ends, written with binary `COPY` (one round trip
//!   per batch). Like the SQLite scratch file it has no write-ahead log: a run whose process dies
//!   is abandoned and its rows thrown away, and a server crash empties unlogged tables, which
//!   only fails the runs in flight.
//! - **Merge.** [`PgInventory::complete_run`] drops the earlier copies of a URI staged twice and
//!   indexes the table by URI, then merges with set-based SQL, applies cleanup and records the
//!   outcome in one transaction that holds the run's row `FOR UPDATE`: the same statements as
//!   `merge.rs` and `cleanup.rs`, in PostgreSQL's dialect.
//! - **One run per source.** Beginning a run takes a transaction-scoped advisory lock on the
//!   source's name, so two hosts asking at once are served in turn, and a unique index allows
//!   one `running` row per source whatever happens.
//! - **Migrations.** Numbered, recorded in `euno_schema`, applied in one transaction under
//!   `pg_advisory_xact_lock`, so that workers starting together do not race; the first handle a
//!   process opens on a database applies them.
//!
//! The rest of the host calls the inventory synchronously (the SQLite backend is a blocking
//! library). This backend keeps that interface: its connections live on a small runtime of
//! their own (one thread), and each call blocks the caller on the client's futures, which are
//! runtime-agnostic. A call from async code blocks its thread for one round trip, as a SQLite
//! call blocks it for one statement. Connections come from a `deadpool-postgres` pool per
//! database (one per process), which replaces a connection the server dropped with a new one
//! on the next call: a worker whose database restarts reconnects by itself.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use jiff::Timestamp;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{NoTls, Row, Transaction};

mod lineage;

use super::cleanup::{self, Cleanup};
use super::merge::Changes;
use super::{
    Applied, CleanupPolicy, ConnectorIdentity, EMITTED_RECORD_INTERVAL, InventoryError, Lease,
    NewResource, RUN_COLUMNS, RunId, RunOutcome, RunOwner, RunRecord, RunSummary, SourceDefinition,
    StoredConnector, StoredResource, StoredSource, process, schema,
};

/// The schema, one script per version; `euno_schema` records which were applied. A released
/// migration is never edited: a change is a new entry at the end. Timestamps are integer
/// milliseconds since the Unix epoch (UTC), as in SQLite, so both backends share their logic.
const MIGRATIONS: &[&str] = &[
    // 1: resources, who sponsors them, and run history (the SQLite schema at its version 6).
    // Staged resources live in a table per run (see the module documentation).
    r"
    CREATE TABLE runs (
        id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        source            TEXT    NOT NULL,
        connector_id      TEXT    NOT NULL,
        connector_version TEXT    NOT NULL,
        connector_digest  TEXT    NOT NULL,
        started_at        BIGINT  NOT NULL,
        finished_at       BIGINT,
        outcome           TEXT    NOT NULL CHECK (outcome IN
                              ('running', 'succeeded', 'failed', 'abandoned', 'dry_run')),
        pid               BIGINT  NOT NULL,
        host              TEXT    NOT NULL,
        emitted           BIGINT  NOT NULL DEFAULT 0,
        added             BIGINT  NOT NULL DEFAULT 0,
        updated           BIGINT  NOT NULL DEFAULT 0,
        unchanged         BIGINT  NOT NULL DEFAULT 0,
        removed           BIGINT  NOT NULL DEFAULT 0,
        cleanup_refused   TEXT,
        error             TEXT,
        scheduled_slot    BIGINT,
        warnings          TEXT,
        machine           TEXT,
        run_token         TEXT,
        heartbeat_at      BIGINT
    );
    CREATE INDEX runs_by_source ON runs (source, id);
    CREATE UNIQUE INDEX runs_one_running_per_source ON runs (source) WHERE outcome = 'running';

    CREATE TABLE resources (
        uri           TEXT   PRIMARY KEY,
        resource_type TEXT   NOT NULL,
        name          TEXT   NOT NULL,
        parent_uri    TEXT,
        native_id     TEXT,
        properties    TEXT   NOT NULL,
        content_hash  BIGINT NOT NULL,
        first_seen    BIGINT NOT NULL,
        last_changed  BIGINT NOT NULL
    );

    CREATE TABLE sponsorships (
        source      TEXT   NOT NULL,
        uri         TEXT   NOT NULL REFERENCES resources (uri) ON DELETE CASCADE,
        last_seen   BIGINT NOT NULL,
        last_run_id BIGINT NOT NULL REFERENCES runs (id),
        PRIMARY KEY (source, uri)
    );
    CREATE INDEX sponsorships_by_uri ON sponsorships (uri);
    ",
    // 2: the source definitions every worker schedules (see the SQLite schema's version 8), and
    // the worker that ran each run.
    r"
    CREATE TABLE sources (
        name         TEXT   PRIMARY KEY,
        text         TEXT   NOT NULL,
        digest       TEXT   NOT NULL,
        applied_at   BIGINT NOT NULL,
        applied_from TEXT   NOT NULL
    );
    ALTER TABLE runs ADD COLUMN worker TEXT;
    ",
    // 3: leases, one per (source, schedule slot), so that each due slot is run by exactly one
    // worker (see `PgInventory::claim`). `attempt` is the fencing token: it grows each time a
    // lease whose heartbeat went stale is taken over, and a run may commit only while its attempt
    // is the lease's. A run records the attempt it ran under. Times are the database's clock.
    r"
    CREATE TABLE leases (
        source       TEXT   NOT NULL,
        slot         BIGINT NOT NULL,
        attempt      BIGINT NOT NULL,
        worker       TEXT   NOT NULL,
        lease_ms     BIGINT NOT NULL,
        claimed_at   BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        state        TEXT   NOT NULL CHECK (state IN ('running', 'done')),
        PRIMARY KEY (source, slot)
    );
    -- One run per source at a time across all workers.
    CREATE UNIQUE INDEX leases_one_running_per_source ON leases (source) WHERE state = 'running';
    CREATE INDEX leases_running_by_heartbeat ON leases (heartbeat_at) WHERE state = 'running';
    ALTER TABLE runs ADD COLUMN lease_attempt BIGINT;
    ",
    // 4: connector components installed for every worker (`connectors install --database`):
    // the bytes by digest, with the manifest the operator's grants were written into.
    r"
    CREATE TABLE connectors (
        id           TEXT   PRIMARY KEY,
        digest       TEXT   NOT NULL,
        bytes        BYTEA  NOT NULL,
        manifest     TEXT   NOT NULL,
        installed_at BIGINT NOT NULL
    );
    ",
    // 5: lineage, the relations each source stored and the checkpoint of its last successful
    // run (SQLite's version 7; see `lineage`).
    lineage::MIGRATION,
    // 6: the `[schedule]` table a run's source file had, for `status` (SQLite's version 9).
    "ALTER TABLE runs ADD COLUMN schedule TEXT;",
];

/// The database's clock, in milliseconds since the Unix epoch: what lease times are measured
/// by, so that workers whose clocks disagree still agree on which lease is stale.
const DB_NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// The advisory lock key under which migrations are applied (any fixed number; this one spells
/// "euno" in ASCII).
const MIGRATION_LOCK: i64 = 0x6575_6e6f;

/// How many connections one process keeps to one database.
const POOL_SIZE: usize = 16;

/// How long a call may wait for a connection, and a new connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The runtime the pool's connections live on: one thread, apart from the caller's runtime, so
/// that a call may block on a connection from anywhere, async code included.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("euno-postgres")
        .enable_all()
        .build()
        .expect("starting the PostgreSQL client's runtime")
});

/// One pool per database URL in this process, its migrations applied.
static POOLS: LazyLock<Mutex<HashMap<String, Pool>>> = LazyLock::new(Mutex::default);

/// Runs `future` to completion on this thread, inside the client's runtime (its connections,
/// timers and spawned connection tasks are there).
///
/// Unconstrained by tokio's cooperative budget: called from a task of the caller's runtime whose
/// budget is spent, the pool's and the client's channels would otherwise answer "not yet, yield"
/// forever, since this nested executor never hands control back to reset it.
fn block_on<F: Future>(future: F) -> F::Output {
    let _context = RUNTIME.enter();
    futures::executor::block_on(tokio::task::coop::unconstrained(future))
}

/// Checks that `url` is a PostgreSQL connection string the client understands.
pub(super) fn check_url(url: &str) -> Result<tokio_postgres::Config, InventoryError> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|error| InventoryError::BadDatabaseUrl {
            url: redacted(url),
            reason: error.to_string(),
        })
}

/// `url` without its password, for messages: `postgresql://user:***@host/db`, or `password=***`
/// in a `key=value` string.
pub fn redacted(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            return format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]);
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What went wrong inside a call, before it is told what the call was doing.
enum Fail {
    Client(tokio_postgres::Error),
    Pool(PoolError),
    /// A value in the database that this code did not write (a bad timestamp or outcome).
    Data(String),
    Inventory(InventoryError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Client(error)
    }
}

impl From<PoolError> for Fail {
    fn from(error: PoolError) -> Self {
        Self::Pool(error)
    }
}

impl From<InventoryError> for Fail {
    fn from(error: InventoryError) -> Self {
        Self::Inventory(error)
    }
}

/// The server's message, when it sent one (the client's own text is only "db error" then).
fn detail(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}

impl Fail {
    fn into_error(self, database: &str, action: String) -> InventoryError {
        let (detail, source): (String, Box<dyn std::error::Error + Send + Sync>) = match self {
            Self::Inventory(error) => return error,
            Self::Client(error) => (detail(&error), Box::new(error)),
            Self::Pool(PoolError::Backend(error)) => (detail(&error), Box::new(error)),
            Self::Pool(error) => (error.to_string(), Box::new(error)),
            Self::Data(text) => (text.clone(), text.into()),
        };
        InventoryError::Postgres {
            database: database.to_owned(),
            action,
            detail,
            source,
        }
    }
}

/// The pool for `url`, made (and the schema brought up to date) the first time this process
/// asks for it.
fn pool_for(url: &str) -> Result<Pool, InventoryError> {
    let mut pools = POOLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pool) = pools.get(url) {
        return Ok(pool.clone());
    }
    let pool = new_pool(url)?;
    pools.insert(url.to_owned(), pool.clone());
    Ok(pool)
}

/// A new pool for `url`, the schema brought up to date.
fn new_pool(url: &str) -> Result<Pool, InventoryError> {
    let database = redacted(url);
    let mut config = check_url(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A connection the server closed is replaced before use.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|error| InventoryError::BadDatabaseUrl {
            url: database.clone(),
            reason: error.to_string(),
        })?;
    block_on(migrate(&pool, &database))
        .map_err(|fail| fail.into_error(&database, "applying the schema migrations".into()))?;
    Ok(pool)
}

/// Applies the migrations the database lacks, in one transaction, under an advisory lock.
async fn migrate(pool: &Pool, database: &str) -> Result<(), Fail> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS euno_schema (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: i64 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM euno_schema", &[])
        .await?
        .get(0);
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(InventoryError::PostgresSchemaTooNew {
            database: database.to_owned(),
            found,
            supported,
        }
        .into());
    }
    for (version, sql) in (1i64..).zip(MIGRATIONS).skip(found as usize) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO euno_schema (version) VALUES ($1)", &[&version])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The schema version this build brings a database to.
#[cfg(test)]
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// The staging table of `run`.
fn staging(run: RunId) -> String {
    format!("staged_{}", run.0)
}

/// A handle on a PostgreSQL inventory: cheap, since it holds the process's pool for the
/// database, not a connection. Like a SQLite handle, it remembers the tokens of the runs it
/// began: only it may finish them.
pub struct PgInventory {
    pool: Pool,
    /// The URL without its password, for messages.
    database: String,
    host: String,
    machine: String,
    tokens: RefCell<HashMap<RunId, String>>,
    /// Resources staged through this handle and not yet counted in their run's row.
    uncounted: Cell<u64>,
    emitted_recorded: Cell<Option<Instant>>,
}

impl fmt::Debug for PgInventory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgInventory")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl PgInventory {
    /// Opens the inventory at `url` (migrating it the first time this process does) and marks
    /// as abandoned the runs that processes on this machine left unfinished.
    pub fn open(url: &str) -> Result<Self, InventoryError> {
        let inventory = Self {
            pool: pool_for(url)?,
            database: redacted(url),
            host: process::host_name(),
            machine: process::machine_id(),
            tokens: RefCell::new(HashMap::new()),
            uncounted: Cell::new(0),
            emitted_recorded: Cell::new(None),
        };
        inventory.call(
            "marking the runs of dead processes abandoned".into(),
            async {
                let mut client = inventory.pool.get().await?;
                let tx = client.transaction().await?;
                inventory.abandon_dead_runs(&tx, None, None).await?;
                drop_stale_staging(&tx).await?;
                tx.commit().await?;
                Ok(())
            },
        )?;
        Ok(inventory)
    }

    /// Runs `future`, naming `action` in its error.
    fn call<T>(
        &self,
        action: String,
        future: impl Future<Output = Result<T, Fail>>,
    ) -> Result<T, InventoryError> {
        block_on(future).map_err(|fail| fail.into_error(&self.database, action))
    }

    /// See [`super::SqliteInventory::begin_run`].
    pub fn begin_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
    ) -> Result<RunId, InventoryError> {
        self.begin(source, connector, started_at, None)
    }

    /// Starts the run of `lease`'s slot, which this worker holds: fails with
    /// [`InventoryError::LeaseLost`] when another worker has taken it over since. A run of an
    /// earlier attempt still marked running (its worker lost the lease: paused, cut off or dead)
    /// is marked abandoned, and what it staged is dropped.
    pub fn begin_leased_run(
        &self,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
        lease: &Lease,
    ) -> Result<RunId, InventoryError> {
        self.begin(&lease.source, connector, started_at, Some(lease))
    }

    fn begin(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        started_at: Timestamp,
        lease: Option<&Lease>,
    ) -> Result<RunId, InventoryError> {
        let token = process::run_token();
        let run = self.call(format!("starting a run of source '{source}'"), async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            lock_source(&tx, source).await?;
            self.abandon_dead_runs(&tx, Some(source), Some(started_at))
                .await?;
            if let Some(lease) = lease {
                check_lease(&tx, lease).await?;
                let stale = tx
                    .query(
                        "UPDATE runs SET outcome = 'abandoned', error = $2
                         WHERE source = $1 AND outcome = 'running' AND lease_attempt IS NOT NULL
                         RETURNING id",
                        &[
                            &source,
                            &format!(
                                "its worker lost the lease of this slot to worker '{}' \
                                 (attempt {}); nothing it reported was kept",
                                lease.worker, lease.attempt
                            ),
                        ],
                    )
                    .await?;
                for row in stale {
                    tx.batch_execute(&format!(
                        "DROP TABLE IF EXISTS {}",
                        staging(RunId(row.get(0)))
                    ))
                    .await?;
                }
            }
            if let Some(run) = running_run(&tx, source).await? {
                return Err(super::in_progress(run).into());
            }
            let row = tx
                .query_one(
                    "INSERT INTO runs (source, connector_id, connector_version, connector_digest,
                                       started_at, outcome, pid, host, machine, run_token,
                                       heartbeat_at, worker, scheduled_slot, lease_attempt)
                     VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $5, $10, $11, $12)
                     RETURNING id",
                    &[
                        &source,
                        &connector.id,
                        &connector.version,
                        &connector.digest,
                        &started_at.as_millisecond(),
                        &i64::from(std::process::id()),
                        &self.host,
                        &self.machine,
                        &token,
                        &process::worker(),
                        &lease.map(|lease| lease.slot.as_millisecond()),
                        &lease.map(|lease| lease.attempt),
                    ],
                )
                .await?;
            let run = RunId(row.get(0));
            tx.batch_execute(&format!(
                "CREATE UNLOGGED TABLE {} (
                     seq           BIGINT GENERATED ALWAYS AS IDENTITY,
                     uri           TEXT   NOT NULL,
                     resource_type TEXT   NOT NULL,
                     name          TEXT   NOT NULL,
                     parent_uri    TEXT,
                     native_id     TEXT,
                     properties    TEXT   NOT NULL,
                     content_hash  BIGINT NOT NULL,
                     {}
                 )",
                staging(run),
                lineage::STAGING_COLUMNS
            ))
            .await?;
            tx.commit().await?;
            Ok(run)
        })?;
        self.tokens.borrow_mut().insert(run, token);
        Ok(run)
    }

    /// See [`super::SqliteInventory::record_failed_run`].
    pub fn record_failed_run(
        &self,
        source: &str,
        connector: &ConnectorIdentity,
        at: Timestamp,
        error: &str,
        scheduled_slot: Option<Timestamp>,
    ) -> Result<RunId, InventoryError> {
        self.call(
            format!("recording a failed run of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                let row = client
                    .query_one(
                        "INSERT INTO runs (source, connector_id, connector_version,
                                           connector_digest, started_at, finished_at, outcome,
                                           pid, host, error, scheduled_slot, machine, worker)
                         VALUES ($1, $2, $3, $4, $5, $5, 'failed', $6, $7, $8, $9, $10, $11)
                         RETURNING id",
                        &[
                            &source,
                            &connector.id,
                            &connector.version,
                            &connector.digest,
                            &at.as_millisecond(),
                            &i64::from(std::process::id()),
                            &self.host,
                            &error,
                            &scheduled_slot.map(Timestamp::as_millisecond),
                            &self.machine,
                            &process::worker(),
                        ],
                    )
                    .await?;
                Ok(RunId(row.get(0)))
            },
        )
    }

    /// See [`super::SqliteInventory::run_token`].
    pub fn run_token(&self, run: RunId) -> Option<String> {
        self.tokens.borrow().get(&run).cloned()
    }

    /// See [`super::SqliteInventory::heartbeat`].
    pub fn heartbeat(
        &self,
        run: RunId,
        token: &str,
        at: Timestamp,
    ) -> Result<bool, InventoryError> {
        self.call(format!("recording the heartbeat of run {run}"), async {
            let client = self.pool.get().await?;
            let beaten = client
                .execute(
                    "UPDATE runs SET heartbeat_at = $3
                     WHERE id = $1 AND run_token = $2 AND outcome = 'running'",
                    &[&run.0, &token, &at.as_millisecond()],
                )
                .await?;
            Ok(beaten == 1)
        })
    }

    /// See [`super::SqliteInventory::running_run`].
    pub fn running_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        self.call(
            format!("looking up the running run of source '{source}'"),
            async {
                let mut client = self.pool.get().await?;
                let tx = client.transaction().await?;
                running_run(&tx, source).await
            },
        )
    }

    /// See [`super::SqliteInventory::stage`]: one binary `COPY` into the run's staging table.
    pub fn stage(&self, run: RunId, batch: &[NewResource]) -> Result<(), InventoryError> {
        self.call(
            format!("staging {} resources for run {run}", batch.len()),
            async {
                let mut client = self.pool.get().await?;
                let tx = client.transaction().await?;
                running(&tx, run, false).await?;
                let sink = tx
                    .copy_in(&format!(
                        "COPY {} (uri, resource_type, name, parent_uri, native_id, properties,
                                  content_hash, relation_kinds, relation_targets)
                         FROM STDIN BINARY",
                        staging(run)
                    ))
                    .await?;
                let types = [
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::INT8,
                    Type::TEXT_ARRAY,
                    Type::TEXT_ARRAY,
                ];
                let writer = BinaryCopyInWriter::new(sink, &types);
                futures::pin_mut!(writer);
                for resource in batch {
                    let properties = resource.properties.as_str();
                    let content_hash = schema::content_hash(
                        &resource.resource_type,
                        &resource.name,
                        resource.parent_uri.as_deref(),
                        resource.native_id.as_deref(),
                        properties,
                    );
                    let [kinds, targets] = lineage::staging_values(&resource.relations);
                    writer
                        .as_mut()
                        .write(&[
                            &resource.uri,
                            &resource.resource_type,
                            &resource.name,
                            &resource.parent_uri,
                            &resource.native_id,
                            &properties,
                            &content_hash,
                            &kinds,
                            &targets,
                        ])
                        .await?;
                }
                writer.finish().await?;
                tx.commit().await?;
                Ok(())
            },
        )?;
        self.uncounted
            .set(self.uncounted.get() + batch.len() as u64);
        let due = self
            .emitted_recorded
            .get()
            .is_none_or(|at| at.elapsed() >= EMITTED_RECORD_INTERVAL);
        if due {
            // Progress only: the run completes with the right count whatever happens here.
            let counted = self.uncounted.replace(0);
            let recorded = self.call(String::new(), async {
                let client = self.pool.get().await?;
                client
                    .execute(
                        "UPDATE runs SET emitted = emitted + $2
                         WHERE id = $1 AND outcome = 'running'",
                        &[&run.0, &(counted as i64)],
                    )
                    .await?;
                Ok(())
            });
            if let Err(error) = recorded {
                tracing::debug!(run = run.0, "could not record the run's progress: {error}");
            }
            self.emitted_recorded.set(Some(Instant::now()));
        }
        Ok(())
    }

    /// See [`super::SqliteInventory::complete_run`]: the same merge, cleanup and record, in one
    /// transaction holding the run's row.
    pub fn complete_run(
        &mut self,
        run: RunId,
        finished_at: Timestamp,
        policy: &CleanupPolicy,
        dry_run: bool,
    ) -> Result<RunSummary, InventoryError> {
        let summary = self.call(format!("completing run {run}"), async {
            let mut client = self.pool.get().await?;
            let table = staging(run);
            {
                // Counted before duplicates are dropped; indexed before the run's row is locked.
                let tx = client.transaction().await?;
                running(&tx, run, false).await?;
                tx.commit().await?;
            }
            let emitted: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            client
                .batch_execute(&format!(
                    "DELETE FROM {table} early USING {table} late
                     WHERE late.uri = early.uri AND late.seq > early.seq;
                     CREATE INDEX IF NOT EXISTS {table}_by_uri ON {table} (uri, content_hash);
                     ANALYZE {table};"
                ))
                .await?;
            let mut tx = client.transaction().await?;
            let record = running(&tx, run, true).await?;
            self.check_owned(&tx, &record).await?;
            let lease = run_lease(&tx, &record).await?;
            if let Some(lease) = &lease {
                check_lease(&tx, lease).await?;
            }
            policy.check(&record.source)?;
            let summary = {
                // A dry run does the real work in a savepoint and rolls it back, so that what it
                // reports is exactly what a real run would do.
                let savepoint = tx.savepoint("merge").await?;
                let summary = merge_and_clean(&savepoint, run, &record, policy, dry_run).await?;
                if dry_run {
                    savepoint.rollback().await?;
                } else {
                    savepoint.commit().await?;
                }
                summary
            };
            let outcome = if dry_run {
                RunOutcome::DryRun
            } else {
                RunOutcome::Succeeded
            };
            tx.execute(
                "UPDATE runs SET outcome = $2, finished_at = $3, added = $4, updated = $5,
                                 unchanged = $6, removed = $7, cleanup_refused = $8, emitted = $9,
                                 pending_checkpoint = NULL
                 WHERE id = $1",
                &[
                    &run.0,
                    &outcome.as_str(),
                    &finished_at.as_millisecond(),
                    &(summary.added as i64),
                    &(summary.updated as i64),
                    &(summary.unchanged as i64),
                    &(summary.removed as i64),
                    &summary.cleanup_refused,
                    &emitted,
                ],
            )
            .await?;
            if let Some(lease) = &lease {
                finish_lease(&tx, lease).await?;
            }
            tx.batch_execute(&format!("DROP TABLE {table}")).await?;
            tx.commit().await?;
            Ok(summary)
        })?;
        self.tokens.borrow_mut().remove(&run);
        Ok(summary)
    }

    /// See [`super::SqliteInventory::fail_run`].
    pub fn fail_run(
        &self,
        run: RunId,
        finished_at: Timestamp,
        error: &str,
    ) -> Result<(), InventoryError> {
        self.call(format!("recording the failure of run {run}"), async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let record = running(&tx, run, true).await?;
            self.check_owned(&tx, &record).await?;
            // A failed run ends its slot, unless the lease was lost meanwhile: then the slot is
            // the new holder's.
            if let Some(lease) = run_lease(&tx, &record).await?
                && check_lease(&tx, &lease).await.is_ok()
            {
                finish_lease(&tx, &lease).await?;
            }
            let table = staging(run);
            let emitted: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            tx.execute(
                "UPDATE runs SET outcome = 'failed', finished_at = $2, error = $3, emitted = $4,
                                 pending_checkpoint = NULL
                 WHERE id = $1",
                &[&run.0, &finished_at.as_millisecond(), &error, &emitted],
            )
            .await?;
            tx.batch_execute(&format!("DROP TABLE {table}")).await?;
            tx.commit().await?;
            Ok(())
        })?;
        self.tokens.borrow_mut().remove(&run);
        Ok(())
    }

    /// See [`super::SqliteInventory::record_warnings`].
    pub fn record_warnings(&self, run: RunId, warnings: &[String]) -> Result<(), InventoryError> {
        let json = serde_json::to_string(warnings).expect("a list of strings serialises");
        self.call(format!("recording the warnings of run {run}"), async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "UPDATE runs SET warnings = $2 WHERE id = $1",
                    &[&run.0, &json],
                )
                .await?;
            Ok(())
        })
    }

    /// See [`super::SqliteInventory::stage_end`].
    pub fn stage_end(
        &self,
        run: RunId,
        checkpoint: Option<&[u8]>,
        external_namespaces: &[String],
    ) -> Result<(), InventoryError> {
        self.call(format!("staging the end of run {run}"), async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            lineage::stage_end(&tx, run, checkpoint, external_namespaces).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// See [`super::SqliteInventory::checkpoint`].
    pub fn checkpoint(
        &self,
        source: &str,
        connector_id: &str,
    ) -> Result<Option<Vec<u8>>, InventoryError> {
        self.call(
            format!("reading the checkpoint of source '{source}'"),
            async {
                let mut client = self.pool.get().await?;
                let tx = client.transaction().await?;
                lineage::checkpoint(&tx, source, connector_id).await
            },
        )
    }

    /// See [`super::SqliteInventory::last_success_at`].
    pub fn last_success_at(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        let at = self.call(
            format!("reading the last success of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                let row = client
                    .query_opt(
                        "SELECT started_at FROM runs WHERE source = $1 AND outcome = 'succeeded'
                         ORDER BY id DESC LIMIT 1",
                        &[&source],
                    )
                    .await?;
                Ok(row.map(|row| row.get::<_, i64>(0)))
            },
        )?;
        Ok(at.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// See [`super::SqliteInventory::resources`].
    pub fn resources(&self, source: Option<&str>) -> Result<Vec<StoredResource>, InventoryError> {
        self.call("listing resources".into(), async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT uri, resource_type, name, parent_uri, native_id, first_seen,
                            (SELECT max(last_seen) FROM sponsorships s WHERE s.uri = r.uri),
                            last_changed, properties,
                            (SELECT array_agg(source ORDER BY source)
                             FROM sponsorships s WHERE s.uri = r.uri),
                            {}
                     FROM resources r
                     WHERE $1::text IS NULL OR EXISTS (
                         SELECT 1 FROM sponsorships s WHERE s.uri = r.uri AND s.source = $1)
                     ORDER BY uri",
                        lineage::RELATIONS_JSON
                    ),
                    &[&source],
                )
                .await?;
            rows.iter().map(stored_resource).collect()
        })
    }

    /// See [`super::SqliteInventory::runs`].
    pub fn runs(
        &self,
        source: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<RunRecord>, InventoryError> {
        let limit = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        self.call("listing runs".into(), async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM runs WHERE $1::text IS NULL OR source = $1
                         ORDER BY id DESC LIMIT $2"
                    ),
                    &[&source, &limit],
                )
                .await?;
            rows.iter().map(run_record).collect()
        })
    }

    /// See [`super::SqliteInventory::last_run`].
    pub fn last_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        Ok(self.runs(Some(source), Some(1))?.pop())
    }

    /// See [`super::SqliteInventory::last_failed_run`].
    pub fn last_failed_run(&self, source: &str) -> Result<Option<RunRecord>, InventoryError> {
        self.call(
            format!("reading the last failed run of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                client
                    .query_opt(
                        &format!(
                            "SELECT {RUN_COLUMNS} FROM runs WHERE source = $1 AND error IS NOT NULL
                             ORDER BY id DESC LIMIT 1"
                        ),
                        &[&source],
                    )
                    .await?
                    .map(|row| run_record(&row))
                    .transpose()
            },
        )
    }

    /// See [`super::SqliteInventory::record_schedule`].
    pub fn record_schedule(&self, run: RunId, schedule: &str) -> Result<(), InventoryError> {
        self.call(format!("recording the schedule of run {}", run.0), async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "UPDATE runs SET schedule = $2 WHERE id = $1",
                    &[&run.0, &schedule],
                )
                .await?;
            Ok(())
        })
    }

    /// See [`super::SqliteInventory::last_schedule`].
    pub fn last_schedule(&self, source: &str) -> Result<Option<String>, InventoryError> {
        self.call(
            format!("reading the recorded schedule of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                let row = client
                    .query_opt(
                        "SELECT schedule FROM runs WHERE source = $1 AND schedule IS NOT NULL
                         ORDER BY id DESC LIMIT 1",
                        &[&source],
                    )
                    .await?;
                Ok(row.map(|row| row.get(0)))
            },
        )
    }

    /// See [`super::SqliteInventory::sources`].
    pub fn sources(&self) -> Result<Vec<String>, InventoryError> {
        self.call("listing the sources".into(), async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT DISTINCT source COLLATE \"C\" FROM runs ORDER BY 1",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|row| row.get(0)).collect())
        })
    }

    /// See [`super::SqliteInventory::set_scheduled_slot`].
    pub fn set_scheduled_slot(&self, run: RunId, slot: Timestamp) -> Result<(), InventoryError> {
        self.call(
            format!("recording the schedule slot of run {}", run.0),
            async {
                let client = self.pool.get().await?;
                client
                    .execute(
                        "UPDATE runs SET scheduled_slot = $2 WHERE id = $1",
                        &[&run.0, &slot.as_millisecond()],
                    )
                    .await?;
                Ok(())
            },
        )
    }

    /// See [`super::SqliteInventory::last_scheduled_slot`].
    pub fn last_scheduled_slot(&self, source: &str) -> Result<Option<Timestamp>, InventoryError> {
        let slot = self.call(
            format!("reading the schedule of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                let row = client
                    .query_opt(
                        "SELECT scheduled_slot FROM runs
                         WHERE source = $1 AND scheduled_slot IS NOT NULL
                         ORDER BY id DESC LIMIT 1",
                        &[&source],
                    )
                    .await?;
                Ok(row.map(|row| row.get::<_, i64>(0)))
            },
        )?;
        Ok(slot.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
    }

    /// See [`super::SqliteInventory::remove_source`].
    pub fn remove_source(&mut self, source: &str, now: Timestamp) -> Result<u64, InventoryError> {
        self.call(format!("removing source '{source}'"), async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            lock_source(&tx, source).await?;
            self.abandon_dead_runs(&tx, Some(source), Some(now)).await?;
            if let Some(run) = running_run(&tx, source).await? {
                return Err(super::in_progress(run).into());
            }
            let removed = tx
                .execute(
                    "DELETE FROM resources WHERE uri IN (
                         SELECT uri FROM sponsorships mine WHERE source = $1 AND NOT EXISTS (
                             SELECT 1 FROM sponsorships other
                             WHERE other.uri = mine.uri AND other.source <> $1))",
                    &[&source],
                )
                .await?;
            tx.execute("DELETE FROM sponsorships WHERE source = $1", &[&source])
                .await?;
            lineage::forget(&tx, source).await?;
            tx.commit().await?;
            Ok(removed)
        })
    }

    /// See [`super::SqliteInventory::apply_source`].
    pub fn apply_source(
        &self,
        definition: &SourceDefinition,
        at: Timestamp,
    ) -> Result<Applied, InventoryError> {
        let digest = definition.digest();
        self.call(format!("applying source '{}'", definition.name), async {
            let client = self.pool.get().await?;
            // One statement: the row before (if any) and the upsert, which writes nothing when
            // the text is the same.
            let row = client
                .query_one(
                    "WITH before AS (SELECT digest FROM sources WHERE name = $1),
                     written AS (
                         INSERT INTO sources (name, text, digest, applied_at, applied_from)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (name) DO UPDATE SET
                             (text, digest, applied_at, applied_from) =
                                 (excluded.text, excluded.digest, excluded.applied_at,
                                  excluded.applied_from)
                             WHERE sources.digest <> excluded.digest
                         RETURNING 1)
                     SELECT (SELECT digest FROM before), (SELECT count(*) FROM written)",
                    &[
                        &definition.name,
                        &definition.text,
                        &digest,
                        &at.as_millisecond(),
                        &definition.applied_from,
                    ],
                )
                .await?;
            let before: Option<String> = row.get(0);
            Ok(match before {
                None => Applied::New,
                Some(before) if before == digest => Applied::Unchanged,
                Some(_) => Applied::Changed,
            })
        })
    }

    /// See [`super::SqliteInventory::source_definitions`].
    pub fn source_definitions(&self) -> Result<Vec<StoredSource>, InventoryError> {
        self.call("listing the source definitions".into(), async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT name, text, digest, applied_at, applied_from FROM sources
                     ORDER BY name",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(StoredSource {
                        name: row.get(0),
                        text: row.get(1),
                        digest: row.get(2),
                        applied_at: timestamp(row, 3)?,
                        applied_from: row.get(4),
                    })
                })
                .collect()
        })
    }

    /// See [`super::SqliteInventory::remove_source_definition`].
    pub fn remove_source_definition(&self, name: &str) -> Result<bool, InventoryError> {
        self.call(
            format!("removing the definition of source '{name}'"),
            async {
                let client = self.pool.get().await?;
                let removed = client
                    .execute("DELETE FROM sources WHERE name = $1", &[&name])
                    .await?;
                Ok(removed > 0)
            },
        )
    }

    /// Claims the run of `source`'s `slot` for this worker, for `lease` (renewed by
    /// [`PgInventory::heartbeat_lease`]): the lease and its attempt (the fencing token), or
    /// `None` when another worker holds it or has run it, or another slot of the source is
    /// running. A lease whose holder's heartbeat is older than its duration (by the database's
    /// clock) is taken over, its attempt one more.
    pub fn claim(
        &self,
        source: &str,
        slot: Timestamp,
        lease: Duration,
    ) -> Result<Option<Lease>, InventoryError> {
        let worker = process::worker();
        self.call(
            format!("claiming slot {slot} of source '{source}'"),
            async {
                let client = self.pool.get().await?;
                let claimed = client
                    .query_opt(
                        &format!(
                        "INSERT INTO leases (source, slot, attempt, worker, lease_ms, claimed_at,
                                             heartbeat_at, state)
                         VALUES ($1, $2, 1, $3, $4, {DB_NOW}, {DB_NOW}, 'running')
                         ON CONFLICT (source, slot) DO UPDATE SET
                             attempt = leases.attempt + 1, worker = excluded.worker,
                             lease_ms = excluded.lease_ms, claimed_at = excluded.claimed_at,
                             heartbeat_at = excluded.heartbeat_at
                         WHERE leases.state = 'running'
                           AND leases.heartbeat_at < {DB_NOW} - leases.lease_ms
                         RETURNING attempt"
                    ),
                        &[
                            &source,
                            &slot.as_millisecond(),
                            &worker,
                            &(lease.as_millis() as i64),
                        ],
                    )
                    .await;
                match claimed {
                    Ok(row) => Ok(row.map(|row| Lease {
                        source: source.to_owned(),
                        slot,
                        attempt: row.get(0),
                        worker: worker.to_owned(),
                    })),
                    // Another slot of the source is running (the one-running-lease index).
                    Err(error)
                        if error.code()
                            == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        Ok(None)
                    }
                    Err(error) => Err(error.into()),
                }
            },
        )
    }

    /// Takes over one lease, of one of `sources`, whose holder's heartbeat went stale (a worker
    /// killed, paused or cut off mid-run), so that its slot runs again here; `None` when there
    /// is none. Workers asking at once each get a different one (`SKIP LOCKED`).
    pub fn reclaim_stale(
        &self,
        sources: &[String],
        lease: Duration,
    ) -> Result<Option<Lease>, InventoryError> {
        let worker = process::worker();
        self.call("reclaiming a stale lease".into(), async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    &format!(
                        "UPDATE leases SET attempt = attempt + 1, worker = $1, lease_ms = $2,
                                           claimed_at = {DB_NOW}, heartbeat_at = {DB_NOW}
                         WHERE (source, slot) = (
                             SELECT source, slot FROM leases
                             WHERE state = 'running' AND heartbeat_at < {DB_NOW} - lease_ms
                               AND source = ANY($3)
                             ORDER BY heartbeat_at LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                         RETURNING source, slot, attempt"
                    ),
                    &[&worker, &(lease.as_millis() as i64), &sources],
                )
                .await?;
            row.map(|row| {
                Ok(Lease {
                    source: row.get(0),
                    slot: timestamp(&row, 1)?,
                    attempt: row.get(2),
                    worker: worker.to_owned(),
                })
            })
            .transpose()
        })
    }

    /// Stores (or replaces) connector `id`'s component and manifest.
    pub fn store_connector(
        &self,
        connector: &StoredConnector,
        bytes: &[u8],
    ) -> Result<(), InventoryError> {
        self.call(format!("storing connector '{}'", connector.id), async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "INSERT INTO connectors (id, digest, bytes, manifest, installed_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET
                         (digest, bytes, manifest, installed_at) =
                             (excluded.digest, excluded.bytes, excluded.manifest,
                              excluded.installed_at)",
                    &[
                        &connector.id,
                        &connector.digest,
                        &bytes,
                        &connector.manifest,
                        &connector.installed_at.as_millisecond(),
                    ],
                )
                .await?;
            Ok(())
        })
    }

    /// The stored connectors (without their bytes), by id.
    pub fn stored_connectors(&self) -> Result<Vec<StoredConnector>, InventoryError> {
        self.call("listing the stored connectors".into(), async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT id, digest, manifest, installed_at FROM connectors ORDER BY id",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(StoredConnector {
                        id: row.get(0),
                        digest: row.get(1),
                        manifest: row.get(2),
                        installed_at: timestamp(row, 3)?,
                    })
                })
                .collect()
        })
    }

    /// The component bytes of connector `id` with the digest `digest`, if stored.
    pub fn connector_bytes(
        &self,
        id: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, InventoryError> {
        self.call(format!("reading connector '{id}'"), async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT bytes FROM connectors WHERE id = $1 AND digest = $2",
                    &[&id, &digest],
                )
                .await?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    /// Ends `lease`'s slot, if it still holds it.
    pub fn release_lease(&self, lease: &Lease) -> Result<(), InventoryError> {
        self.call(
            format!("ending the lease of source '{}'", lease.source),
            async {
                let mut client = self.pool.get().await?;
                let tx = client.transaction().await?;
                if check_lease(&tx, lease).await.is_ok() {
                    finish_lease(&tx, lease).await?;
                }
                tx.commit().await?;
                Ok(())
            },
        )
    }

    /// Renews `lease`; `false` when it was lost (taken over, or its slot ended).
    pub fn heartbeat_lease(&self, lease: &Lease) -> Result<bool, InventoryError> {
        self.call(
            format!("renewing the lease of source '{}'", lease.source),
            async {
                let client = self.pool.get().await?;
                let renewed = client
                    .execute(
                        &format!(
                            "UPDATE leases SET heartbeat_at = {DB_NOW}
                             WHERE source = $1 AND slot = $2 AND attempt = $3
                               AND state = 'running'"
                        ),
                        &[&lease.source, &lease.slot.as_millisecond(), &lease.attempt],
                    )
                    .await?;
                Ok(renewed == 1)
            },
        )
    }

    /// Fails unless this handle began `record`'s run and its row still carries the handle's
    /// token.
    async fn check_owned(&self, tx: &Transaction<'_>, record: &RunRecord) -> Result<(), Fail> {
        let run = RunId(record.id);
        let stored: Option<String> = tx
            .query_one("SELECT run_token FROM runs WHERE id = $1", &[&run.0])
            .await?
            .get(0);
        match (self.tokens.borrow().get(&run), stored) {
            (Some(mine), Some(stored)) if *mine == stored => Ok(()),
            _ => Err(InventoryError::RunNotOwned {
                run_id: run.0,
                source_name: record.source.clone(),
            }
            .into()),
        }
    }

    /// Marks abandoned the running runs (of `source`, or all) whose owner is dead (see
    /// [`RunOwner::why_dead`]), and drops what they staged.
    async fn abandon_dead_runs(
        &self,
        tx: &Transaction<'_>,
        source: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<(), Fail> {
        let rows = tx
            .query(
                "SELECT id, pid, host, machine, heartbeat_at FROM runs
                 WHERE outcome = 'running' AND ($1::text IS NULL OR source = $1)",
                &[&source],
            )
            .await?;
        for row in rows {
            let run = RunId(row.get(0));
            let host: String = row.get(2);
            let machine: Option<String> = row.get(3);
            let owner = RunOwner {
                pid: u32::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                host: &host,
                machine: machine.as_deref(),
                heartbeat: row.get(4),
            };
            let Some(reason) = owner.why_dead(&self.host, &self.machine, now) else {
                continue;
            };
            tx.execute(
                "UPDATE runs SET outcome = 'abandoned', error = $2
                 WHERE id = $1 AND outcome = 'running'",
                &[&run.0, &reason],
            )
            .await?;
            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", staging(run)))
                .await?;
        }
        Ok(())
    }
}

/// The lease the run of `record` holds, if it ran under one: its slot and attempt as recorded.
async fn run_lease(tx: &Transaction<'_>, record: &RunRecord) -> Result<Option<Lease>, Fail> {
    let row = tx
        .query_one(
            "SELECT lease_attempt, scheduled_slot FROM runs WHERE id = $1",
            &[&record.id],
        )
        .await?;
    let (Some(attempt), Some(slot)) = (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1))
    else {
        return Ok(None);
    };
    let slot = Timestamp::from_millisecond(slot)
        .map_err(|error| Fail::Data(format!("a run's slot: {error}")))?;
    Ok(Some(Lease {
        source: record.source.clone(),
        slot,
        attempt,
        worker: record.worker.clone().unwrap_or_default(),
    }))
}

/// The fencing check: locks `lease`'s row until `tx` ends and fails with
/// [`InventoryError::LeaseLost`] unless it is still running under `lease.attempt`.
async fn check_lease(tx: &Transaction<'_>, lease: &Lease) -> Result<(), Fail> {
    let row = tx
        .query_opt(
            "SELECT attempt, state, worker FROM leases WHERE source = $1 AND slot = $2 FOR UPDATE",
            &[&lease.source, &lease.slot.as_millisecond()],
        )
        .await?;
    match row {
        Some(row)
            if row.get::<_, i64>(0) == lease.attempt && row.get::<_, &str>(1) == "running" =>
        {
            Ok(())
        }
        row => Err(InventoryError::LeaseLost {
            source_name: lease.source.clone(),
            slot: lease.slot,
            attempt: lease.attempt,
            holder: row.as_ref().map(|row| row.get(2)).unwrap_or_default(),
            holder_attempt: row.as_ref().map_or(0, |row| row.get(0)),
        }
        .into()),
    }
}

/// Marks `lease`'s slot done: its run ended, whichever way.
async fn finish_lease(tx: &Transaction<'_>, lease: &Lease) -> Result<(), Fail> {
    tx.execute(
        &format!(
            "UPDATE leases SET state = 'done', heartbeat_at = {DB_NOW}
             WHERE source = $1 AND slot = $2 AND attempt = $3"
        ),
        &[&lease.source, &lease.slot.as_millisecond(), &lease.attempt],
    )
    .await?;
    Ok(())
}

/// Serialises, until `tx` ends, the transactions that start or remove runs of `source`.
async fn lock_source(tx: &Transaction<'_>, source: &str) -> Result<(), Fail> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('euno source ' || $1, 0))",
        &[&source],
    )
    .await?;
    Ok(())
}

/// Drops the staging tables of runs that are no longer running (their process ended between
/// finishing the run and dropping the table, or the run was abandoned elsewhere).
async fn drop_stale_staging(tx: &Transaction<'_>) -> Result<(), Fail> {
    let rows = tx
        .query(
            "SELECT c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'r'
               AND c.relname ~ '^staged_[0-9]+$'
               AND NOT EXISTS (SELECT 1 FROM runs
                               WHERE id = substr(c.relname, 8)::bigint AND outcome = 'running')",
            &[],
        )
        .await?;
    for row in rows {
        let table: String = row.get(0);
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await?;
    }
    Ok(())
}

/// The run `run`, which must still be running; with `lock`, its row is locked until `tx` ends.
async fn running(tx: &Transaction<'_>, run: RunId, lock: bool) -> Result<RunRecord, Fail> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let row = tx
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 {lock}"),
            &[&run.0],
        )
        .await?
        .ok_or(InventoryError::UnknownRun { run_id: run.0 })?;
    let record = run_record(&row)?;
    match record.outcome {
        RunOutcome::Running => Ok(record),
        outcome => Err(InventoryError::RunNotRunning {
            run_id: run.0,
            source_name: record.source,
            outcome,
        }
        .into()),
    }
}

async fn running_run(tx: &Transaction<'_>, source: &str) -> Result<Option<RunRecord>, Fail> {
    tx.query_opt(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE source = $1 AND outcome = 'running'"),
        &[&source],
    )
    .await?
    .map(|row| run_record(&row))
    .transpose()
}

/// The merge and cleanup of a completed run, inside the caller's transaction (see `merge.rs`
/// and `cleanup.rs` for the reasoning; these are the same statements).
async fn merge_and_clean(
    tx: &Transaction<'_>,
    run: RunId,
    record: &RunRecord,
    policy: &CleanupPolicy,
    list_uris: bool,
) -> Result<RunSummary, Fail> {
    let source = record.source.as_str();
    let seen = record.started_at.as_millisecond();
    let sponsored_before: i64 = tx
        .query_one(
            "SELECT count(*) FROM sponsorships WHERE source = $1",
            &[&source],
        )
        .await?
        .get(0);
    let changes = merge(tx, run, source, seen, list_uris).await?;
    let dropped_relations = lineage::merge(tx, run, source, &record.connector_id, seen).await?;
    let cleanup = clean(
        tx,
        run,
        source,
        seen,
        sponsored_before as u64,
        policy,
        list_uris,
    )
    .await?;
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

/// Writes the run's staged resources into the inventory and tells how they compare with what it
/// held (see `merge::merge`).
async fn merge(
    tx: &Transaction<'_>,
    run: RunId,
    source: &str,
    seen: i64,
    list_uris: bool,
) -> Result<Changes, Fail> {
    let table = staging(run);
    let mut changes = Changes::default();
    if list_uris {
        let rows = tx
            .query(
                &format!(
                    "SELECT s.uri,
                            CASE WHEN r.uri IS NULL THEN 'added'
                                 WHEN r.content_hash <> s.content_hash THEN 'updated'
                                 ELSE 'unchanged' END
                     FROM {table} s LEFT JOIN resources r ON r.uri = s.uri
                     ORDER BY s.uri"
                ),
                &[],
            )
            .await?;
        for row in rows {
            let uri: String = row.get(0);
            match row.get::<_, &str>(1) {
                "added" => {
                    changes.added += 1;
                    changes.added_uris.push(uri);
                }
                "updated" => {
                    changes.updated += 1;
                    changes.updated_uris.push(uri);
                }
                _ => changes.unchanged += 1,
            }
        }
    } else {
        let row = tx
            .query_one(
                &format!(
                    "SELECT count(*),
                            count(*) FILTER (WHERE NOT EXISTS
                                (SELECT 1 FROM resources r WHERE r.uri = s.uri))
                     FROM {table} s"
                ),
                &[],
            )
            .await?;
        let (staged, added): (i64, i64) = (row.get(0), row.get(1));
        changes.added = added as u64;
        changes.unchanged = staged as u64;
    }
    // Unchanged resources are neither rewritten nor read (a resource's last_seen is the latest
    // of its sponsorships').
    let written = tx
        .execute(
            &format!(
                "INSERT INTO resources
                     (uri, resource_type, name, parent_uri, native_id, properties, content_hash,
                      first_seen, last_changed)
                 SELECT uri, resource_type, name, parent_uri, native_id, properties,
                        content_hash, $1, $1
                 FROM {table} s
                 WHERE NOT EXISTS (SELECT 1 FROM resources r
                                   WHERE r.uri = s.uri AND r.content_hash = s.content_hash)
                 ORDER BY uri
                 ON CONFLICT (uri) DO UPDATE SET
                     (resource_type, name, parent_uri, native_id, properties, content_hash,
                      last_changed) =
                         (excluded.resource_type, excluded.name, excluded.parent_uri,
                          excluded.native_id, excluded.properties, excluded.content_hash,
                          excluded.last_changed)"
            ),
            &[&seen],
        )
        .await?;
    tx.execute(
        &format!(
            "INSERT INTO sponsorships (source, uri, last_seen, last_run_id)
             SELECT $2, uri, $3, $1 FROM {table} ORDER BY uri
             ON CONFLICT (source, uri) DO UPDATE SET
                 last_seen = greatest(sponsorships.last_seen, excluded.last_seen),
                 last_run_id = excluded.last_run_id"
        ),
        &[&run.0, &source, &seen],
    )
    .await?;
    if !list_uris {
        // Staged = added + updated + unchanged; the upsert wrote the added and the updated.
        let staged = changes.unchanged;
        changes.updated = written.saturating_sub(changes.added);
        changes.unchanged = staged.saturating_sub(written);
    }
    Ok(changes)
}

// The sponsorships cleanup drops: those of $1 that run $2 did not renew and last seen before $3.
const STALE: &str = "source = $1 AND last_run_id <> $2 AND last_seen < $3";

/// Applies `policy` for `source` after run `run` has been merged (see `cleanup::apply`).
async fn clean(
    tx: &Transaction<'_>,
    run: RunId,
    source: &str,
    seen: i64,
    sponsored_before: u64,
    policy: &CleanupPolicy,
    list_uris: bool,
) -> Result<Cleanup, Fail> {
    let Some(cutoff) = cleanup::cutoff(policy, seen) else {
        return Ok(Cleanup::default());
    };
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&source, &run.0, &cutoff];
    let stale: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM sponsorships WHERE {STALE}"),
            &params,
        )
        .await?
        .get(0);
    let stale = stale as u64;
    let mut removed_uris = Vec::new();
    if list_uris {
        removed_uris = tx
            .query(
                &format!("SELECT uri FROM sponsorships WHERE {STALE} ORDER BY uri"),
                &params,
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
    }
    if let Some(reason) = policy.refusal(source, stale, sponsored_before) {
        return Ok(Cleanup {
            refused: Some(reason),
            removed_uris,
            ..Cleanup::default()
        });
    }
    // The statement sees the sponsorships as they were before its own DELETE, so "sponsored by
    // no one else" is "sponsored by no other source".
    tx.execute(
        &format!(
            "WITH gone AS (DELETE FROM sponsorships WHERE {STALE} RETURNING uri)
             DELETE FROM resources r USING gone
             WHERE r.uri = gone.uri AND NOT EXISTS (
                 SELECT 1 FROM sponsorships other
                 WHERE other.uri = gone.uri AND other.source <> $1)"
        ),
        &params,
    )
    .await?;
    Ok(Cleanup {
        removed: stale,
        removed_uris,
        refused: None,
    })
}

fn timestamp(row: &Row, column: usize) -> Result<Timestamp, Fail> {
    let ms: i64 = row.get(column);
    Timestamp::from_millisecond(ms)
        .map_err(|error| Fail::Data(format!("column {column} holds no instant: {error}")))
}

fn timestamp_opt(row: &Row, column: usize) -> Result<Option<Timestamp>, Fail> {
    row.get::<_, Option<i64>>(column)
        .map(|_| timestamp(row, column))
        .transpose()
}

fn run_record(row: &Row) -> Result<RunRecord, Fail> {
    let outcome: &str = row.get(7);
    let outcome = RunOutcome::ALL
        .into_iter()
        .find(|known| known.as_str() == outcome)
        .ok_or_else(|| Fail::Data(format!("unknown run outcome '{outcome}'")))?;
    let count = |column| row.get::<_, i64>(column) as u64;
    Ok(RunRecord {
        id: row.get(0),
        source: row.get(1),
        connector_id: row.get(2),
        connector_version: row.get(3),
        connector_digest: row.get(4),
        started_at: timestamp(row, 5)?,
        finished_at: timestamp_opt(row, 6)?,
        outcome,
        pid: u32::try_from(row.get::<_, i64>(8)).unwrap_or(0),
        host: row.get(9),
        emitted: count(10),
        added: count(11),
        updated: count(12),
        unchanged: count(13),
        removed: count(14),
        cleanup_refused: row.get(15),
        error: row.get(16),
        scheduled_slot: timestamp_opt(row, 17)?,
        warnings: match row.get::<_, Option<&str>>(18) {
            Some(json) => serde_json::from_str(json)
                .map_err(|error| Fail::Data(format!("a run's warnings: {error}")))?,
            None => Vec::new(),
        },
        machine: row.get(19),
        heartbeat_at: timestamp_opt(row, 20)?,
        worker: row.get(21),
    })
}

fn stored_resource(row: &Row) -> Result<StoredResource, Fail> {
    let uri: String = row.get(0);
    let properties: &str = row.get(8);
    let properties = serde_json::from_str(properties).map_err(|source| {
        Fail::Inventory(InventoryError::Properties {
            uri: uri.clone(),
            source,
        })
    })?;
    Ok(StoredResource {
        resource_type: row.get(1),
        name: row.get(2),
        parent_uri: row.get(3),
        native_id: row.get(4),
        first_seen: timestamp(row, 5)?,
        last_seen: timestamp(row, 6)?,
        last_changed: timestamp(row, 7)?,
        properties,
        sponsors: row.get::<_, Option<Vec<String>>>(9).unwrap_or_default(),
        relations: serde_json::from_str(row.get(10)).map_err(|source| {
            Fail::Inventory(InventoryError::Properties {
                uri: uri.clone(),
                source,
            })
        })?,
        uri,
    })
}

/// What the tests need to look behind the inventory's back.
#[cfg(test)]
impl PgInventory {
    /// Opens `database` with a pool of its own, as another process would: its migrations run
    /// again (and find nothing to do).
    pub(super) fn open_fresh(database: &super::Database) -> Result<Self, InventoryError> {
        let super::Database::Postgres(url) = database else {
            panic!("a PostgreSQL database");
        };
        let pool = new_pool(url)?;
        Ok(Self {
            pool,
            database: redacted(url),
            host: process::host_name(),
            machine: process::machine_id(),
            tokens: RefCell::new(HashMap::new()),
            uncounted: Cell::new(0),
            emitted_recorded: Cell::new(None),
        })
    }

    /// Runs `sql` as is.
    pub(super) fn execute(&self, sql: &str) {
        block_on(async {
            let client = self.pool.get().await.expect("a connection");
            client.batch_execute(sql).await.expect(sql);
        });
    }

    /// The single number `sql` selects.
    pub(super) fn count(&self, sql: &str) -> i64 {
        block_on(async {
            let client = self.pool.get().await.expect("a connection");
            client.query_one(sql, &[]).await.expect(sql).get(0)
        })
    }

    /// How many staging tables exist.
    pub(super) fn staging_tables(&self) -> usize {
        block_on(async {
            let client = self.pool.get().await.expect("a connection");
            let row = client
                .query_one(
                    "SELECT count(*) FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'
                       AND c.relname ~ '^staged_[0-9]+$'",
                    &[],
                )
                .await
                .expect("count the staging tables");
            row.get::<_, i64>(0) as usize
        })
    }

    /// The migrations recorded as applied, in order.
    pub(super) fn schema_versions(&self) -> Vec<i64> {
        block_on(async {
            let client = self.pool.get().await.expect("a connection");
            client
                .query("SELECT version FROM euno_schema ORDER BY version", &[])
                .await
                .expect("read the schema versions")
                .iter()
                .map(|row| row.get(0))
                .collect()
        })
    }
}
