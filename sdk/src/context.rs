//! What a connector works with during a call: the [`Context`] (HTTP client, emitting, log,
//! progress, checkpoint saving) and, in `discover`, the [`Run`] (the run's facts and the
//! checkpoint the last successful run saved).

use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::http::Client;
use crate::ports::Host;
use crate::types::{LogLevel, RequestCount, Resource, RunContext, Timestamp};

/// Resources per `emit` unless [`Context::set_batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;
/// The most resources per `emit` the host accepts by default (`[limits] max_batch`).
pub const MAX_BATCH_SIZE: usize = 10_000;
/// The first byte of every checkpoint the SDK writes: its encoding (1: JSON follows), so that a
/// later SDK can change the encoding and still recognise what an older one saved.
const CHECKPOINT_FORMAT: u8 = 1;
/// The first byte of a checkpoint of the connector's own bytes ([`Context::save_checkpoint_bytes`]).
const CHECKPOINT_FORMAT_BYTES: u8 = 2;
/// The most bytes a checkpoint may take by the host's default (`[limits]`); more ends the run.
pub const MAX_CHECKPOINT_BYTES: usize = 1 << 20;

/// Which operation a context serves; `emit` and `save-checkpoint` are for `discover` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Check,
    Discover,
}

/// The handle a connector's `check` and `discover` work through.
pub struct Context {
    http: Client,
    host: Rc<dyn Host>,
    phase: Phase,
    buffer: Vec<Resource>,
    batch_size: usize,
    emitted: u64,
    total: Option<u64>,
}

impl Context {
    pub(crate) fn new(http: Client, host: Rc<dyn Host>, phase: Phase) -> Self {
        Self {
            http,
            host,
            phase,
            buffer: Vec::new(),
            batch_size: DEFAULT_BATCH_SIZE,
            emitted: 0,
            total: None,
        }
    }

    /// The HTTP client.
    pub fn http(&mut self) -> &mut Client {
        &mut self.http
    }

    /// Queues `resource` for the host; a full batch goes out at once, the rest when `discover`
    /// returns successfully.
    ///
    /// # Panics
    ///
    /// During `check`: the contract lets only `discover` emit (the host would end the call).
    pub fn emit(&mut self, resource: Resource) {
        assert!(
            self.phase == Phase::Discover,
            "a connector emitted `{}` during check; only discover may emit",
            resource.uri
        );
        self.buffer.push(resource);
        if self.buffer.len() >= self.batch_size {
            self.flush();
        }
    }

    /// Hands the queued resources to the host now, and reports progress.
    pub fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.host.emit(&self.buffer);
        self.emitted += self.buffer.len() as u64;
        self.buffer.clear();
        self.host.progress(self.emitted, self.total);
    }

    /// Resources emitted so far, queued ones included.
    pub fn emitted(&self) -> u64 {
        self.emitted + self.buffer.len() as u64
    }

    /// Sets how many resources go in one `emit`, 1 to [`MAX_BATCH_SIZE`].
    pub fn set_batch_size(&mut self, size: usize) {
        self.batch_size = size.clamp(1, MAX_BATCH_SIZE);
    }

    /// Sets the total the progress reports announce, when the connector learns it.
    pub fn set_expected_total(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// Reports progress by hand (emitting reports it after every batch already).
    pub fn progress(&self, done: u64, total: Option<u64>) {
        self.host.progress(done, total);
    }

    /// Writes a line to the run's log at `level`.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.host.log(level, message);
    }

    /// Writes a debug line.
    pub fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message);
    }

    /// Writes an info line.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Writes a warning, which the host also keeps with the run.
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// Saves `state` as the checkpoint the next run gets (see [`Run::checkpoint`]) if this one
    /// succeeds. A state that does not serialize is logged as an error and not saved: the next
    /// run then starts afresh, which is slower but never wrong.
    ///
    /// # Panics
    ///
    /// During `check`: the contract lets only `discover` save a checkpoint.
    pub fn save_checkpoint<T: Serialize>(&mut self, state: &T) {
        assert!(
            self.phase == Phase::Discover,
            "a connector saved a checkpoint during check; only discover may"
        );
        let mut bytes = vec![CHECKPOINT_FORMAT];
        match serde_json::to_writer(&mut bytes, state) {
            Ok(()) => self.host.save_checkpoint(&bytes),
            Err(error) => self.log(
                LogLevel::Error,
                &format!(
                    "the checkpoint could not be written ({error}); the next run starts afresh"
                ),
            ),
        }
    }

    /// Saves `bytes`, in an encoding of the connector's own, as the checkpoint the next run gets
    /// (see [`Run::checkpoint_bytes`]) if this one succeeds. For state that JSON would make too
    /// large: a compact binary record per item keeps 10,000 items far below the host's 1 MiB
    /// budget. Version the encoding yourself (a leading byte, say) so that a later connector can
    /// tell an older checkpoint apart.
    ///
    /// # Panics
    ///
    /// During `check`: the contract lets only `discover` save a checkpoint.
    pub fn save_checkpoint_bytes(&mut self, bytes: &[u8]) {
        assert!(
            self.phase == Phase::Discover,
            "a connector saved a checkpoint during check; only discover may"
        );
        let mut framed = Vec::with_capacity(bytes.len() + 1);
        framed.push(CHECKPOINT_FORMAT_BYTES);
        framed.extend_from_slice(bytes);
        self.host.save_checkpoint(&framed);
    }

    /// Flushes what is queued and returns the counts for the summary.
    pub(crate) fn finish(mut self) -> (u64, u32, Vec<RequestCount>) {
        self.flush();
        (
            self.emitted,
            self.http.requests(),
            self.http.request_counts().to_vec(),
        )
    }
}

/// The facts of one `discover` run.
pub struct Run {
    context: RunContext,
    host: Rc<dyn Host>,
}

impl Run {
    pub(crate) fn new(context: RunContext, host: Rc<dyn Host>) -> Self {
        Self { context, host }
    }

    /// The run's facts as the host gave them.
    pub fn context(&self) -> &RunContext {
        &self.context
    }

    /// When the run started: what anything time-relative is computed against.
    pub fn started_at(&self) -> Timestamp {
        self.context.started_at
    }

    /// When the source's last successful run started, if there was one.
    pub fn last_success_at(&self) -> Option<Timestamp> {
        self.context.last_success_at
    }

    /// The state the last successful run saved with [`Context::save_checkpoint`], or `None` on a
    /// first run, a full run, or when what was saved no longer reads as `T` (after the connector
    /// changed its checkpoint's shape; logged as a warning). `None` means: fetch everything.
    pub fn checkpoint<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = self.context.checkpoint.as_deref()?;
        let problem = match bytes.split_first() {
            Some((&CHECKPOINT_FORMAT, json)) => match serde_json::from_slice(json) {
                Ok(state) => return Some(state),
                Err(error) => error.to_string(),
            },
            _ => "it is not in a format this connector writes".to_owned(),
        };
        self.unreadable(&problem);
        None
    }

    /// The bytes the last successful run saved with [`Context::save_checkpoint_bytes`], or `None`
    /// on a first run, a full run, or when the last run saved something else (logged as a
    /// warning). `None` means: fetch everything.
    pub fn checkpoint_bytes(&self) -> Option<&[u8]> {
        let bytes = self.context.checkpoint.as_deref()?;
        match bytes.split_first() {
            Some((&CHECKPOINT_FORMAT_BYTES, payload)) => Some(payload),
            _ => {
                self.unreadable("it is not in a format this connector writes");
                None
            }
        }
    }

    fn unreadable(&self, problem: &str) {
        self.host.log(
            LogLevel::Warn,
            &format!(
                "the checkpoint of the last successful run could not be read ({problem}); this \
                 run fetches everything"
            ),
        );
    }
}
