//! One discovery run of one source, from the source file to the inventory.
//!
//! The connector streams batches; each is checked (URIs, types) and handed to a writer thread
//! that stages it in the inventory, so memory stays flat however large the source is. Only when
//! the connector returns successfully is the run merged (with cleanup) in one transaction; any
//! failure leaves the inventory exactly as it was and records the run as failed.
//!
//! The run reports its progress through the [`RunEvents`] its caller passes (the command line
//! draws a progress line from them); it writes nothing to a terminal itself.
//!
//! What the connector warns about during a run (and the host's own warning when it silences a
//! flooding connector) is kept with the run, whatever its outcome, so that `run`, `runs` and
//! `status` show what the connector had to say after its log has scrolled away.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tracing::Instrument;

use crate::connectors;
use crate::contract::{
    ConnectorError, LogLevel, Property, PropertyValue, Relations, RequestCount, Resource,
    RunContext, WaitReason,
};
use crate::inventory::{
    ConnectorIdentity, Database, DroppedRelations, HEARTBEAT_INTERVAL, Inventory, InventoryError,
    Lease, NewResource, PropertiesJson, RelationsUpdate, RunId, RunSummary, StoredRelation,
    format_timestamp,
};
use crate::sandbox::{
    CallError, Connector, EgressPolicy, EmitError, Observer, Runtime, Sandbox, Traffic,
    log_guest_line,
};
use crate::source::{ResolvedSource, SourceError, SourceFile};
use crate::text::{cut, inert};

/// Batches waiting for the writer before the connector is made to wait.
const QUEUED_BATCHES: usize = 8;

/// The most resources the writer stages in one transaction when batches queue up.
const STAGED_PER_TRANSACTION: usize = 2_000;

/// The most warnings a run keeps; past them, one line says how many more there were.
pub const MAX_RUN_WARNINGS: usize = 100;

/// The longest warning a run keeps, in bytes; a longer one is cut, saying how much.
const MAX_WARNING_BYTES: usize = 2048;

/// How a run should behave.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Compute and report the changes and the cleanup without writing them.
    pub dry_run: bool,
    /// The schedule slot this run stands for, when the scheduler started it.
    pub scheduled_slot: Option<Timestamp>,
    /// Turn the cleanup's removal guard off for this run (`run --allow-mass-removal`).
    pub allow_mass_removal: bool,
    /// Hand the connector no checkpoint, so that it fetches everything (`run --full`).
    pub full: bool,
    /// The lease this worker holds on the slot, and for how long a renewal keeps it: the run
    /// renews it at a third of that, and commits only while it still holds it.
    pub lease: Option<(Lease, std::time::Duration)>,
}

/// What a run tells its caller while it goes. Called from the sandbox's threads, so shared.
pub trait RunEvents: Send + Sync {
    /// The run of `source` began and is recorded as running under `run` (the Sources page
    /// answers "run now" with this id before the run ends).
    fn started(&self, source: &str, run: RunId) {
        let _ = (source, run);
    }

    /// The connector reported progress on `source`: items done and, when known, expected.
    fn progress(&self, source: &str, done: u64, total: Option<u64>) {
        let _ = (source, done, total);
    }

    /// The connector of `source` sent a request (retries count; refused ones do not).
    fn requested(&self, source: &str) {
        let _ = source;
    }

    /// The connector of `source` waits `duration` before going on, for `reason`: for 0.1
    /// connectors, a `Retry-After` the host saw on a 429 or 503 (contract 0.2's `host.waiting`
    /// reports its own).
    fn waiting(&self, source: &str, reason: WaitReason, duration: Duration) {
        let _ = (source, reason, duration);
    }

    /// The connector of `source` returned: the discovery is over, and the run is being recorded.
    fn discovered(&self, source: &str) {
        let _ = source;
    }
}

/// The sandbox's view of a run's traffic, handed on to the run's events with the source's name.
struct RunTraffic {
    source: String,
    events: Arc<dyn RunEvents>,
}

impl Traffic for RunTraffic {
    fn requested(&self) {
        self.events.requested(&self.source);
    }

    fn waiting(&self, reason: WaitReason, duration: Duration) {
        self.events.waiting(&self.source, reason, duration);
    }
}

/// Events nobody watches: a run in the background.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwatched;

impl RunEvents for Unwatched {}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The source's name.
    pub source: String,
    /// The connector that ran.
    pub connector: ConnectorIdentity,
    /// Resources the connector emitted.
    pub emitted: u64,
    /// HTTP requests the connector reported making.
    pub requests: u32,
    /// The same by kind, as the connector reported them (may be empty).
    pub request_counts: Vec<RequestCount>,
    /// The size of the checkpoint the run was handed, if it was handed one.
    pub checkpoint_received: Option<usize>,
    /// The size of the checkpoint the run saved for the next one, if it saved one.
    pub checkpoint_saved: Option<usize>,
    /// Resources emitted, by type.
    pub by_type: BTreeMap<String, u64>,
    /// Wall time of the discovery, merge included.
    pub elapsed: std::time::Duration,
    /// What changed in the inventory (or would have, on a dry run).
    pub summary: RunSummary,
    /// What the connector warned about, as recorded with the run.
    pub warnings: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// The warnings of one run: the first [`MAX_RUN_WARNINGS`] lines, and a count of the rest.
#[derive(Debug, Default)]
struct Warnings {
    kept: Vec<String>,
    more: u64,
}

impl Warnings {
    /// Keeps `line` (already redacted and inert), cut to [`MAX_WARNING_BYTES`], or counts it.
    fn push(&mut self, line: &str) {
        if self.kept.len() < MAX_RUN_WARNINGS {
            self.kept.push(cut(line, MAX_WARNING_BYTES));
        } else {
            self.more += 1;
        }
    }

    /// The list recorded with the run.
    fn list(&self) -> Vec<String> {
        let mut list = self.kept.clone();
        match self.more {
            0 => {}
            1 => list.push("1 more warning".to_owned()),
            n => list.push(format!("{n} more warnings")),
        }
        list
    }
}

/// Why a run that started failed; recorded with the run, whose inventory is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunFailure {
    /// The connector failed, or the sandbox stopped it.
    #[error(transparent)]
    Call(CallError),
    /// The discovered resources could not be staged.
    #[error("storing the discovered resources failed: {0}")]
    Storing(InventoryError),
    /// The thread staging them panicked.
    #[error("storing the discovered resources failed: the inventory writer panicked")]
    WriterPanicked,
    /// The connector's summary disagrees with what it emitted.
    #[error("the connector reported {reported} resources but emitted {emitted}")]
    Count {
        /// What its summary said.
        reported: u64,
        /// What it emitted.
        emitted: u64,
    },
    /// The merge failed (and rolled back).
    #[error("merging the run into the inventory failed: {0}")]
    Merge(InventoryError),
}

/// Why a run did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The source file does not fit its connector.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The connector rejected a setting; the run was recorded as failed and nothing was changed.
    #[error("source \"{source_name}\": {error}")]
    InvalidSetting {
        /// The source.
        source_name: String,
        /// The connector's complaint, naming the setting.
        error: CallError,
    },
    /// The run started but failed; nothing was changed.
    #[error("run {run_id} of source \"{source_name}\" failed: {failure}")]
    Failed {
        /// The source.
        source_name: String,
        /// The failed run.
        run_id: i64,
        /// Why.
        failure: RunFailure,
    },
    /// Another run of the source is in progress (in this process or another).
    #[error(transparent)]
    Busy(InventoryError),
    /// The inventory could not be read or written.
    #[error("source \"{source_name}\": {error}")]
    Inventory {
        /// The source.
        source_name: String,
        /// The failure.
        error: InventoryError,
    },
}

/// Checks a source file's settings against its connector, as far as the host trusts it, reading
/// `${VAR}` from the process environment.
pub fn resolve(file: &SourceFile, connector: &Connector) -> Result<ResolvedSource, SourceError> {
    file.resolve(&connector.spec, &connector.trust, |name| {
        std::env::var(name).ok()
    })
}

/// The sandbox for a resolved source.
pub fn sandbox_for(file: &SourceFile, source: &ResolvedSource) -> Sandbox {
    Sandbox {
        policy: EgressPolicy::new(
            source.allowed.clone(),
            source.credential.clone(),
            file.limits.request_timeout,
        ),
        limits: file.limits,
    }
}

/// Runs a discovery of `file` with `connector` and records it in the inventory `db`.
/// Progress goes to `events`. When `cancel` turns true the connector is stopped and the run
/// recorded as cancelled.
pub async fn run_source(
    runtime: &Runtime,
    db: &Database,
    file: &SourceFile,
    connector: &Connector,
    options: RunOptions,
    events: Arc<dyn RunEvents>,
    cancel: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<RunReport, RunError> {
    let source = resolve(file, connector)?;
    let name = source.name.clone();
    let inventory_error = |error| RunError::Inventory {
        source_name: name.clone(),
        error,
    };
    let mut inventory = Inventory::open(db).map_err(inventory_error)?;
    let identity = connectors::identity(connector);
    let started_at = Timestamp::now();
    let clock = std::time::Instant::now();
    let begun = match &options.lease {
        Some((lease, _)) => inventory.begin_leased_run(&identity, started_at, lease),
        None => inventory.begin_run(&source.name, &identity, started_at),
    };
    let run = begun.map_err(|error| match error {
        InventoryError::RunInProgress { .. } | InventoryError::LeaseLost { .. } => {
            RunError::Busy(error)
        }
        error => inventory_error(error),
    })?;
    events.started(&source.name, run);
    // Kept until the run is recorded as finished, whichever way: then it stops.
    let interval = match &options.lease {
        Some((_, duration)) => HEARTBEAT_INTERVAL.min(*duration / 3),
        None => HEARTBEAT_INTERVAL,
    };
    let lease = options.lease.as_ref().map(|(lease, _)| lease.clone());
    let _heartbeat = inventory
        .run_token(run)
        .map(|token| spawn_heartbeat(db.clone(), run, token, interval, lease));
    if let Some(slot) = options.scheduled_slot {
        inventory
            .set_scheduled_slot(run, slot)
            .map_err(inventory_error)?;
    }
    // The schedule as this run applied it, for `status` without the sources directory. A TOML
    // table always has a JSON form.
    let schedule = serde_json::to_string(&file.schedule).expect("a TOML table serialises");
    inventory
        .record_schedule(run, &schedule)
        .map_err(inventory_error)?;

    // What the source's last successful run left for this one. A checkpoint is the connector's
    // own bytes: only the connector (by id) that saved it receives it.
    let checkpoint = if options.full {
        None
    } else {
        inventory
            .checkpoint(&source.name, &identity.id)
            .map_err(inventory_error)?
    };
    let checkpoint_received = checkpoint.as_ref().map(Vec::len);
    let last_success_at = inventory
        .last_success_at(&source.name)
        .map_err(inventory_error)?;

    let (sender, receiver) = sync_channel(QUEUED_BATCHES);
    let writer = spawn_writer(db.clone(), run, receiver);
    let by_type = Arc::new(Mutex::new(BTreeMap::new()));
    let warnings = Arc::new(Mutex::new(Warnings::default()));
    let saved_checkpoint = Arc::new(Mutex::new(None));
    let observer = RunObserver {
        source: source.name.clone(),
        by_type: Arc::clone(&by_type),
        warnings: Arc::clone(&warnings),
        checkpoint: Arc::clone(&saved_checkpoint),
        sender,
        events: Arc::clone(&events),
    };
    let context = RunContext {
        run_id: run.0.to_string(),
        source_name: source.name.clone(),
        started_at: started_at.as_millisecond(),
        checkpoint,
        last_success_at: last_success_at.map(Timestamp::as_millisecond),
    };
    let span = tracing::info_span!("run", source = %source.name, run = run.0);
    let discover = runtime
        .discover(
            connector,
            sandbox_for(file, &source),
            Box::new(observer),
            source.config.clone(),
            context,
        )
        .instrument(span);
    let outcome = match cancel {
        // Dropping the call drops its store: the guest stops wherever it is.
        Some(mut cancel) => tokio::select! {
            outcome = discover => outcome,
            _ = cancel.wait_for(|cancelled| *cancelled) => Err(CallError::Cancelled),
        },
        None => discover.await,
    };
    // The observer (and with it the channel's sender) went away with the store, so the writer
    // drains what is queued and stops.
    tracing::debug!(source = %name, elapsed = ?clock.elapsed(), "the connector returned");
    let staged = writer.join().unwrap_or(Err(RunFailure::WriterPanicked));
    tracing::debug!(source = %name, elapsed = ?clock.elapsed(), "the writer has staged everything");
    events.discovered(&source.name);
    let mut warnings = std::mem::take(
        &mut *warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let warning_list = warnings.list();
    if !warning_list.is_empty() {
        inventory
            .record_warnings(run, &warning_list)
            .map_err(inventory_error)?;
    }

    let failure = match (outcome, staged) {
        (Err(call), _) => Err(RunFailure::Call(call)),
        (Ok(_), Err(failure)) => Err(failure),
        (Ok(summary), Ok(count)) if summary.emitted != count => Err(RunFailure::Count {
            reported: summary.emitted,
            emitted: count,
        }),
        (Ok(summary), Ok(_)) => Ok(summary),
    };
    // Staged only for a success: a failed run's staging file is thrown away with it.
    let checkpoint = saved_checkpoint
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let checkpoint_saved = checkpoint.as_ref().map(Vec::len);
    let failure = match failure {
        Ok(summary) => inventory
            .stage_end(
                run,
                checkpoint.as_deref(),
                &connector.spec.external_namespaces,
            )
            .map(|()| summary)
            .map_err(RunFailure::Storing),
        Err(failure) => Err(failure),
    };
    let discovered = match failure {
        Ok(discovered) => discovered,
        Err(failure) => {
            // The call's error is made inert where it is built; this edge does not rely on it.
            let reason = inert(&failure.to_string()).into_owned();
            inventory
                .fail_run(run, Timestamp::now(), &reason)
                .map_err(inventory_error)?;
            return Err(match failure {
                RunFailure::Call(
                    error @ CallError::Connector(ConnectorError::InvalidConfig(_)),
                ) => RunError::InvalidSetting {
                    source_name: source.name,
                    error,
                },
                failure => RunError::Failed {
                    source_name: source.name,
                    run_id: run.0,
                    failure,
                },
            });
        }
    };
    let cleanup = if options.allow_mass_removal {
        file.cleanup.allowing_mass_removal()
    } else {
        file.cleanup
    };
    let merged = inventory.complete_run(run, Timestamp::now(), &cleanup, options.dry_run);
    tracing::debug!(source = %name, elapsed = ?clock.elapsed(), "the run is merged");
    let summary = match merged {
        Ok(summary) => summary,
        Err(error) => {
            // The merge rolled back. Record the run as failed rather than leave it running: a
            // live process's running run blocks its source (for a long-lived `serve`, until it
            // restarts).
            let reason = format!("merging the run into the inventory failed: {error}");
            if inventory.fail_run(run, Timestamp::now(), &reason).is_err() {
                return Err(inventory_error(error));
            }
            return Err(RunError::Failed {
                source_name: source.name,
                run_id: run.0,
                failure: RunFailure::Merge(error),
            });
        }
    };
    if let Some(line) = dropped_warning(&summary.dropped_relations) {
        warnings.push(&line);
        inventory
            .record_warnings(run, &warnings.list())
            .map_err(inventory_error)?;
    }
    let warnings = warnings.list();
    Ok(RunReport {
        source: source.name,
        connector: identity,
        emitted: discovered.emitted,
        requests: discovered.requests,
        request_counts: discovered.request_counts,
        checkpoint_received,
        checkpoint_saved,
        by_type: std::mem::take(
            &mut by_type
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ),
        elapsed: clock.elapsed(),
        summary,
        warnings,
        dry_run: options.dry_run,
    })
}

/// The run's warning about the relations its merge dropped, if it dropped any.
fn dropped_warning(dropped: &DroppedRelations) -> Option<String> {
    let total = dropped.bad_kind + dropped.unknown_target;
    if total == 0 {
        return None;
    }
    let mut why = Vec::new();
    if dropped.unknown_target > 0 {
        why.push(format!(
            "{} whose target is neither a resource of this run nor in an external namespace",
            dropped.unknown_target
        ));
    }
    if dropped.bad_kind > 0 {
        why.push(format!(
            "{} whose kind is not lowercase letters, digits and `-`",
            dropped.bad_kind
        ));
    }
    Some(
        inert(&format!(
            "the host dropped {total} relation{} the connector emitted: {} (e.g. {})",
            if total == 1 { "" } else { "s" },
            why.join("; "),
            dropped.examples.join(", ")
        ))
        .into_owned(),
    )
}

/// Keeps `run`'s heartbeat (and `lease`'s, if it holds one) fresh, every `interval`, from a
/// thread and connection of its own (the connector may stay silent for long, waiting on a slow
/// page, while its run is alive), until the returned sender is dropped.
fn spawn_heartbeat(
    db: Database,
    run: RunId,
    token: String,
    interval: std::time::Duration,
    lease: Option<Lease>,
) -> std::sync::mpsc::Sender<()> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("euno-heartbeat".to_owned())
        .spawn(move || {
            let inventory = match Inventory::open(&db) {
                Ok(inventory) => inventory,
                Err(error) => {
                    tracing::warn!(run = run.0, "cannot keep the run's heartbeat: {error}");
                    return;
                }
            };
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                if let Some(lease) = &lease {
                    match inventory.heartbeat_lease(lease) {
                        Ok(true) => {}
                        // Taken over: the run can no longer commit, and says so when it tries.
                        Ok(false) => {
                            tracing::warn!(
                                run = run.0,
                                source = %lease.source,
                                "the run's lease was taken over by another worker"
                            );
                            return;
                        }
                        Err(error) => {
                            tracing::debug!(run = run.0, "could not renew the lease: {error}");
                        }
                    }
                }
                match inventory.heartbeat(run, &token, Timestamp::now()) {
                    Ok(true) => {}
                    // It ended, or another process took it for abandoned: then finishing it
                    // fails and says so.
                    Ok(false) => return,
                    // A busy database delays a beat; the timeout allows for several.
                    Err(error) => {
                        tracing::debug!(run = run.0, "could not record the heartbeat: {error}");
                    }
                }
            }
        })
        .expect("spawning the heartbeat thread");
    stop
}

/// Converts and stages batches into the inventory on its own thread and connection, so that
/// neither SQLite nor the conversion holds up the connector's thread. Returns how many resources
/// it staged.
fn spawn_writer(
    db: Database,
    run: RunId,
    batches: Receiver<Vec<Resource>>,
) -> std::thread::JoinHandle<Result<u64, RunFailure>> {
    std::thread::Builder::new()
        .name("euno-writer".to_owned())
        .spawn(move || {
            let inventory = Inventory::open(&db).map_err(RunFailure::Storing)?;
            let mut staged = 0u64;
            while let Ok(batch) = batches.recv() {
                let mut resources: Vec<NewResource> =
                    batch.into_iter().map(to_new_resource).collect();
                // What else is already queued goes into the same transaction.
                while resources.len() < STAGED_PER_TRANSACTION
                    && let Ok(more) = batches.try_recv()
                {
                    resources.extend(more.into_iter().map(to_new_resource));
                }
                inventory
                    .stage(run, &resources)
                    .map_err(RunFailure::Storing)?;
                staged += resources.len() as u64;
            }
            Ok(staged)
        })
        .expect("spawning the inventory writer thread")
}

/// Counts what the connector emits (the sandbox has checked it) and passes it to the writer;
/// keeps its warnings; hands its progress to the caller's events.
struct RunObserver {
    source: String,
    by_type: Arc<Mutex<BTreeMap<String, u64>>>,
    warnings: Arc<Mutex<Warnings>>,
    /// The checkpoint the connector saved last, stored only if the run succeeds.
    checkpoint: Arc<Mutex<Option<Vec<u8>>>>,
    sender: SyncSender<Vec<Resource>>,
    events: Arc<dyn RunEvents>,
}

impl Observer for RunObserver {
    fn emit(&mut self, batch: Vec<Resource>) -> Result<(), EmitError> {
        {
            let mut by_type = self
                .by_type
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for resource in &batch {
                match by_type.get_mut(&resource.resource_type) {
                    Some(count) => *count += 1,
                    None => {
                        by_type.insert(resource.resource_type.clone(), 1);
                    }
                }
            }
        }
        self.sender
            .send(batch)
            .map_err(|_| EmitError::WriterStopped)
    }

    fn log(&mut self, level: LogLevel, message: String) {
        if matches!(level, LogLevel::Warn | LogLevel::Error) {
            self.warnings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(&inert(&message));
        }
        log_guest_line(&self.source, level, &message);
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.events.progress(&self.source, done, total);
    }

    /// A 0.2 connector says it waits (`host.waiting`): told as the host's own sightings are.
    fn waiting(&mut self, reason: WaitReason, duration_ms: u64) {
        self.events
            .waiting(&self.source, reason, Duration::from_millis(duration_ms));
    }

    fn traffic(&self) -> Option<Arc<dyn Traffic>> {
        Some(Arc::new(RunTraffic {
            source: self.source.clone(),
            events: Arc::clone(&self.events),
        }))
    }

    fn checkpoint(&mut self, checkpoint: Vec<u8>) {
        *self
            .checkpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(checkpoint);
    }
}

/// A resource as the connector emitted it, in the form the inventory stages: what the run's
/// writer does to every resource.
pub fn to_new_resource(resource: Resource) -> NewResource {
    NewResource {
        properties: render_properties(resource.properties),
        uri: resource.uri,
        resource_type: resource.resource_type,
        name: resource.name,
        parent_uri: resource.parent_uri,
        native_id: resource.native_id,
        relations: match resource.relations {
            Relations::Set(list) => RelationsUpdate::Set(
                list.into_iter()
                    .map(|r| StoredRelation {
                        kind: r.kind,
                        target: r.target,
                    })
                    .collect(),
            ),
            Relations::Unchanged => RelationsUpdate::Unchanged,
        },
    }
}

/// Writes properties straight into their stored form, byte for byte what
/// [`PropertiesJson::from_map`] gives for the map of their JSON values (timestamps as RFC 3339
/// UTC text; keys sorted, the last of two equal names winning), without building that map.
pub fn render_properties(mut properties: Vec<Property>) -> PropertiesJson {
    // Stable, so that of two equal names the later stays later.
    properties.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(64 * properties.len() + 2);
    out.push(b'{');
    let mut first = true;
    for (i, property) in properties.iter().enumerate() {
        if properties
            .get(i + 1)
            .is_some_and(|next| next.name == property.name)
        {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json(&mut out, &property.name);
        out.push(b':');
        match &property.value {
            PropertyValue::Null => out.extend_from_slice(b"null"),
            PropertyValue::Text(text) => write_json(&mut out, text),
            PropertyValue::Integer(i) => write_json(&mut out, i),
            PropertyValue::Boolean(b) => write_json(&mut out, b),
            PropertyValue::Timestamp(ms) => match Timestamp::from_millisecond(*ms) {
                Ok(ts) => write_json(&mut out, &format_timestamp(ts)),
                Err(_) => out.extend_from_slice(b"null"),
            },
            PropertyValue::TextList(items) => write_json(&mut out, items),
        }
    }
    out.push(b'}');
    // Only JSON tokens and serde_json's escaping of valid strings went in.
    PropertiesJson::from_canonical(String::from_utf8(out).expect("JSON text is UTF-8"))
}

/// Appends `value` as compact JSON, exactly as serde_json writes it inside a map.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("strings, integers and lists serialise");
}

/// A typed property as JSON, timestamps as RFC 3339 UTC text: what [`render_properties`] must
/// agree with.
#[cfg(test)]
fn property_json(value: PropertyValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        PropertyValue::Null => Value::Null,
        PropertyValue::Text(text) => Value::String(text),
        PropertyValue::Integer(i) => Value::from(i),
        PropertyValue::Boolean(b) => Value::Bool(b),
        PropertyValue::Timestamp(ms) => Timestamp::from_millisecond(ms)
            .map_or(Value::Null, |ts| Value::String(format_timestamp(ts))),
        PropertyValue::TextList(items) => {
            Value::Array(items.into_iter().map(Value::String).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    #[test]
    fn properties_become_plain_json_with_rfc3339_timestamps() {
        assert_eq!(
            property_json(PropertyValue::Timestamp(1_724_260_569_567)),
            Value::from("2024-08-21T17:16:09.567Z")
        );
        assert_eq!(property_json(PropertyValue::Null), Value::Null);
        assert_eq!(
            property_json(PropertyValue::TextList(vec!["a".into(), "b".into()])),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(property_json(PropertyValue::Integer(-3)), Value::from(-3));
    }

    #[test]
    fn the_heartbeat_keeps_a_run_fresh_until_it_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("inventory.sqlite3"));
        let inventory = Inventory::open(&db).unwrap();
        let identity = ConnectorIdentity {
            id: "test".into(),
            version: "0".into(),
            digest: String::new(),
        };
        let begun = Timestamp::UNIX_EPOCH;
        let run = inventory.begin_run("S", &identity, begun).unwrap();
        let heartbeat_at = || inventory.running_run("S").unwrap().unwrap().heartbeat_at;
        assert_eq!(heartbeat_at(), Some(begun));
        let stop = spawn_heartbeat(
            db.clone(),
            run,
            inventory.run_token(run).unwrap(),
            std::time::Duration::from_millis(10),
            None,
        );
        // Polled, with a bound so that a broken heartbeat fails instead of hanging.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while heartbeat_at() == Some(begun) {
            assert!(std::time::Instant::now() < deadline, "no heartbeat");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(heartbeat_at() > Some(begun));
        drop(stop);
    }

    fn any_value() -> impl Strategy<Value = PropertyValue> {
        // Text with quotes, escapes, control characters and non-ASCII.
        let text = || "[a-z\"\\\u{0}-\u{1f}é😀/ ]{0,12}";
        prop_oneof![
            Just(PropertyValue::Null),
            text().prop_map(PropertyValue::Text),
            any::<i64>().prop_map(PropertyValue::Integer),
            any::<bool>().prop_map(PropertyValue::Boolean),
            // Beyond jiff's range too, which stores null.
            any::<i64>().prop_map(PropertyValue::Timestamp),
            (-10i64.pow(13)..10i64.pow(13)).prop_map(PropertyValue::Timestamp),
            proptest::collection::vec(text(), 0..4).prop_map(PropertyValue::TextList),
        ]
    }

    proptest! {
        /// The stored text must never differ from the map's: resources stored either way would
        /// otherwise look changed to the next run.
        #[test]
        fn rendered_properties_are_the_maps_json(
            properties in proptest::collection::vec(("[a-d_é\"]{0,3}", any_value()), 0..12)
        ) {
            let properties: Vec<Property> = properties
                .into_iter()
                .map(|(name, value)| Property { name, value })
                .collect();
            let map: serde_json::Map<String, Value> = properties
                .iter()
                .cloned()
                .map(|p| (p.name, property_json(p.value)))
                .collect();
            prop_assert_eq!(render_properties(properties), PropertiesJson::from_map(&map));
        }
    }
}
