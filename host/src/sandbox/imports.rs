//! What a connector can reach from inside its sandbox: the state of one call's `Store`, and the
//! host imports it serves (`emit`, `log`, `progress`, `waiting`, `save-checkpoint`, and the
//! empty WASI and the guarded `wasi:http` of the engine).
//!
//! Every batch the connector emits is measured against the call's budgets and checked against
//! the output rules before the caller's [`Observer`] sees it; every log line is redacted, made
//! inert and counted against the log budget. The first refusal is recorded as the call's
//! [`Breach`], so that the call ends with that reason whatever the connector did with the error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::budget::{Breach, Budget, BudgetError, LogVerdict};
use super::egress::{EgressHooks, Traffic};
use super::rules::{RuleBroken, Rules};
use crate::contract::{HostImports, LogLevel, Resource, WaitReason};
use crate::secret::{Secret, redact};
use crate::text::inert;

/// Why a batch was refused; the call ends with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The batch breaks an output budget.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// A resource breaks an output rule.
    #[error(transparent)]
    Rule(#[from] RuleBroken),
    /// The call is not a discovery (`spec`, `check`).
    #[error("emit is only allowed during discover")]
    NotDiscovering,
    /// A checkpoint saved outside a discovery (`spec`, `check`).
    #[error("save-checkpoint is only allowed during discover")]
    CheckpointNotDiscovering,
    /// The observer can take no more: the run's inventory writer stopped (its error is the run's).
    #[error("the inventory writer stopped; see the run's error")]
    WriterStopped,
}

/// What the host does with what a connector sends back during a call.
pub trait Observer: Send {
    /// A batch of resources, within the budgets and the rules. An error ends the call (the
    /// guest traps) with that reason.
    fn emit(&mut self, batch: Vec<Resource>) -> Result<(), EmitError>;
    /// A log line from the connector, redacted and inert.
    fn log(&mut self, level: LogLevel, message: String);
    /// Progress: items done and, when known, expected.
    fn progress(&mut self, done: u64, total: Option<u64>);
    /// Who is told about the call's requests and waits as they happen; nobody by default.
    fn traffic(&self) -> Option<Arc<dyn Traffic>> {
        None
    }
    /// The connector is about to wait this long before its next request.
    fn waiting(&mut self, reason: WaitReason, duration_ms: u64) {
        let _ = (reason, duration_ms);
    }
    /// The checkpoint the run saved last, within its budget: kept for the source's next run if
    /// this one succeeds (a later one replaces it).
    fn checkpoint(&mut self, checkpoint: Vec<u8>) {
        let _ = checkpoint;
    }
}

/// An observer for calls that must not emit (`spec`, `check`): logs go to the host's log.
pub struct LogOnly {
    /// The source (or component) the lines are attributed to.
    pub source: String,
}

impl Observer for LogOnly {
    fn emit(&mut self, _batch: Vec<Resource>) -> Result<(), EmitError> {
        Err(EmitError::NotDiscovering)
    }

    fn log(&mut self, level: LogLevel, message: String) {
        log_guest_line(&self.source, level, &message);
    }

    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
}

/// Writes a guest's log line to the host's log, attributed to its source, [`inert`] (the sandbox
/// makes every line inert already; this edge does not rely on it).
pub fn log_guest_line(source: &str, level: LogLevel, message: &str) {
    let message = inert(message);
    match level {
        LogLevel::Trace => tracing::trace!(source, "{message}"),
        LogLevel::Debug => tracing::debug!(source, "{message}"),
        LogLevel::Info => tracing::info!(source, "{message}"),
        LogLevel::Warn => tracing::warn!(source, "{message}"),
        LogLevel::Error => tracing::error!(source, "{message}"),
    }
}

/// Denies memory growth past the cap, and remembers that it did so the failure can say why.
pub(super) struct MemoryCap {
    pub(super) max_bytes: usize,
    pub(super) hit: Arc<AtomicBool>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Everything one `Store` holds: the WASI context (empty by design), the HTTP hooks, the limits,
/// the rules and the observer.
pub struct RunState {
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) hooks: EgressHooks,
    pub(super) table: ResourceTable,
    pub(super) memory: MemoryCap,
    pub(super) budget: Budget,
    /// The output rules of a discovery; `None` for a call that may not emit (`spec`, `check`).
    pub(super) rules: Option<Rules>,
    pub(super) breach: Breach,
    /// Every form of the source's credential, scrubbed from whatever the connector writes to
    /// the log.
    pub(super) secrets: Vec<Secret>,
    pub(super) observer: Box<dyn Observer>,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl RunState {
    fn admit(&mut self, batch: Vec<Resource>) -> Result<(), EmitError> {
        self.budget.admit_batch(&batch)?;
        match &mut self.rules {
            Some(rules) => rules.check(&batch)?,
            None => return Err(EmitError::NotDiscovering),
        }
        self.observer.emit(batch)
    }
}

impl HostImports for RunState {
    fn emit(&mut self, batch: Vec<Resource>) -> wasmtime::Result<()> {
        self.admit(batch).map_err(|error| {
            let reason = redact(&self.secrets, &error.to_string());
            self.breach.record(reason.clone());
            wasmtime::Error::msg(reason)
        })
    }

    fn log(&mut self, level: LogLevel, message: String) {
        // Redacted before it is cut, so that a secret across the cut leaves no prefix behind;
        // made inert before it is counted, so that the budget holds what is really written.
        let line = inert(&redact(&self.secrets, &message)).into_owned();
        match self.budget.admit_log(&line) {
            LogVerdict::Write(line) => self.observer.log(level, line),
            LogVerdict::Exhausted(warning) => self.observer.log(LogLevel::Warn, warning),
            LogVerdict::Drop => {}
        }
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.observer.progress(done, total);
    }

    fn waiting(&mut self, reason: WaitReason, duration_ms: u64) {
        // Ignored outside a discovery, as the contract says.
        if self.rules.is_some() {
            self.observer.waiting(reason, duration_ms);
        }
    }

    fn save_checkpoint(&mut self, checkpoint: Vec<u8>) -> wasmtime::Result<()> {
        let admitted = if self.rules.is_none() {
            Err(EmitError::CheckpointNotDiscovering)
        } else {
            self.budget
                .admit_checkpoint(checkpoint.len())
                .map_err(EmitError::from)
        };
        match admitted {
            Ok(()) => {
                self.observer.checkpoint(checkpoint);
                Ok(())
            }
            Err(error) => {
                let reason = redact(&self.secrets, &error.to_string());
                self.breach.record(reason.clone());
                Err(wasmtime::Error::msg(reason))
            }
        }
    }
}
