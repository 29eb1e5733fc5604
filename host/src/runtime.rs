//! The sandbox: one wasmtime `Engine` and `Linker` for the process, and a fresh `Store` for every
//! call into a connector, with its own memory cap, wall-clock deadline, network policy and
//! nothing else: no filesystem, no environment variables, no sockets, no arguments.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{
    self, ConfigEntry, ConnectorError, ConnectorSpec, DiscoverSummary, LogLevel, Resource,
    RunContext, SourceConnector, SourceConnectorPre,
};
use crate::budget::{Breach, Budget, LogVerdict};
use crate::compile_cache::CompileCache;
use crate::http_policy::{CutOff, EgressHooks, EgressPolicy, Origin};
use crate::secret::{Secret, redact};
use crate::text::inert;

/// The Hex connector, built from `guest/` by `build.rs` and carried inside the binary.
pub const BUNDLED_HEX_COMPONENT: &[u8] = include_bytes!(env!("EUNO_HEX_COMPONENT"));

/// The wasmtime release compiled components come from (pinned exactly in `Cargo.toml`); part of
/// the cache key together with the engine's compatibility hash and the component's digest.
const WASMTIME_VERSION: &str = "48.0.8";
/// How often the engine's epoch advances; the resolution of the wall-clock deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Bytes of a guest's stderr kept to explain a crash (a Rust panic message lands there).
const STDERR_CAPTURE: usize = 16 * 1024;

/// Budgets for one call into a connector. Each is set by the `[limits]` table of a source file;
/// the defaults fit a large Hex workspace with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time the whole call may take.
    pub deadline: Duration,
    /// Longest any single HTTP wait (connect, first byte, between bytes) may take.
    pub request_timeout: Duration,
    /// Longest one HTTP request may take, from sending it to the end of its response body.
    pub request_total: Duration,
    /// Largest body of any one HTTP response, in bytes.
    pub max_response_bytes: u64,
    /// Most resources one run may emit.
    pub max_resources: u64,
    /// Most resources one `emit` call may carry.
    pub max_batch: usize,
    /// Longest string (URI, name, property value…) in a resource, in bytes.
    pub max_string_bytes: usize,
    /// Log the connector may write in one call, in bytes; further lines are dropped.
    pub max_log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            deadline: Duration::from_secs(60 * 60),
            request_timeout: Duration::from_secs(120),
            request_total: Duration::from_secs(120),
            max_response_bytes: 32 << 20,
            max_resources: 2_000_000,
            max_batch: 10_000,
            max_string_bytes: 1 << 20,
            max_log_bytes: 16 << 20,
        }
    }
}

/// Why a call into a connector did not return normally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The connector reported an expected failure.
    #[error("{}", describe_connector_error(.0))]
    Connector(ConnectorError),
    /// The connector reported a failure after the host had cut off one of its requests at a
    /// time limit: the connector's error says what it made of that, `cut_off` what the host did.
    #[error("{}; {cut_off}", describe_connector_error(.error))]
    ConnectorAfterCutOff {
        /// What the connector reported.
        error: ConnectorError,
        /// Which request the host cut off, naming the limit.
        cut_off: String,
    },
    /// The call ran past its deadline and was stopped.
    #[error("stopped after the {0:?} deadline")]
    Deadline(Duration),
    /// The guest tried to grow its memory past the cap and then failed.
    #[error("stopped: the connector needed more than its memory cap of {} MiB", .0 >> 20)]
    Memory(usize),
    /// The host stopped the call: the connector broke a budget (response size, resources, batch
    /// or string size) or emitted a resource the host refuses.
    #[error("stopped: {0}")]
    Stopped(String),
    /// The connector trapped (a bug in it, or a budget the host enforces).
    #[error("the connector crashed: {reason}{}", stderr_suffix(.stderr))]
    Trap {
        /// The trap and its context.
        reason: String,
        /// What the guest wrote to stderr (a panic message, usually).
        stderr: String,
    },
    /// The host stopped the call because it is shutting down.
    #[error("cancelled: euno-host is shutting down")]
    Cancelled,
    /// The host could not set up the sandbox.
    #[error("could not start the connector: {0}")]
    Setup(String),
}

impl CallError {
    /// The error with `secret` scrubbed from every text that came from the connector or a
    /// server, and that text made [`inert`], so that no message, log line or run record can
    /// carry the secret, a forged line or a terminal escape. Redaction comes first: escaping
    /// could split the secret.
    fn scrubbed(self, secret: Option<&Secret>) -> Self {
        let r = |text: String| inert(&redact(secret, &text)).into_owned();
        let connector = |error| match error {
            ConnectorError::InvalidConfig(mut e) => {
                e.field = r(e.field);
                e.message = r(e.message);
                ConnectorError::InvalidConfig(e)
            }
            ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(r(m)),
            ConnectorError::Forbidden(m) => ConnectorError::Forbidden(r(m)),
            ConnectorError::NotFound(m) => ConnectorError::NotFound(r(m)),
            ConnectorError::RateLimited(mut e) => {
                e.message = r(e.message);
                ConnectorError::RateLimited(e)
            }
            ConnectorError::Upstream(mut e) => {
                e.message = r(e.message);
                e.trace_id = e.trace_id.map(r);
                ConnectorError::Upstream(e)
            }
            ConnectorError::MalformedResponse(m) => ConnectorError::MalformedResponse(r(m)),
            ConnectorError::Network(m) => ConnectorError::Network(r(m)),
        };
        match self {
            Self::Connector(error) => Self::Connector(connector(error)),
            Self::ConnectorAfterCutOff { error, cut_off } => Self::ConnectorAfterCutOff {
                error: connector(error),
                cut_off: r(cut_off),
            },
            Self::Stopped(reason) => Self::Stopped(r(reason)),
            Self::Trap { reason, stderr } => Self::Trap {
                reason: r(reason),
                stderr: r(stderr),
            },
            Self::Setup(reason) => Self::Setup(r(reason)),
            other @ (Self::Deadline(_) | Self::Memory(_) | Self::Cancelled) => other,
        }
    }
}

/// A trap in one line: its causes without the wasm backtrace (logged at debug level instead),
/// with a word on the likely cause of a fault at the top of the address space.
fn trap_reason(error: &wasmtime::Error) -> String {
    let causes: Vec<String> = error
        .chain()
        .map(|cause| cause.to_string())
        .filter(|cause| !cause.starts_with("error while executing at wasm backtrace"))
        .collect();
    let mut reason = one_line(&causes.join(": "));
    if reason.contains("call stack exhausted") {
        reason.push_str(" (the connector's stack overflowed)");
    } else if faulted_past_the_stack(&reason) {
        reason.push_str(" (at the top of the address space: the connector's stack overflowed)");
    }
    reason
}

/// Whether `reason` is a memory fault at the top of the 32-bit address space or just past it.
/// A Rust guest's stack lives at the bottom of its memory and grows down: overflowing it wraps
/// the stack pointer there, and an access at an offset from it lands at or above 4 GiB.
fn faulted_past_the_stack(reason: &str) -> bool {
    const MARK: &str = "memory fault at wasm address 0x";
    let Some(at) = reason.find(MARK) else {
        return false;
    };
    let digits: String = reason[at + MARK.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&digits, 16).is_ok_and(|address| address >= 0xfff0_0000)
}

/// `text` with its lines joined by ` / `, so that an error stays one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(" (connector stderr: {stderr})")
    }
}

/// A one-line description of a connector error, for summaries and logs.
pub fn describe_connector_error(error: &ConnectorError) -> String {
    match error {
        ConnectorError::InvalidConfig(e) => format!("invalid setting `{}`: {}", e.field, e.message),
        ConnectorError::Unauthorized(m) => format!("unauthorized: {m}"),
        ConnectorError::Forbidden(m) => format!("forbidden: {m}"),
        ConnectorError::NotFound(m) => format!("not found: {m}"),
        ConnectorError::RateLimited(e) => match e.retry_after_seconds {
            Some(s) => format!("rate limited: {} (retry after {s} s)", e.message),
            None => format!("rate limited: {}", e.message),
        },
        ConnectorError::Upstream(e) => match &e.trace_id {
            Some(trace) => format!(
                "upstream error {}: {} (trace id {trace})",
                e.status, e.message
            ),
            None => format!("upstream error {}: {}", e.status, e.message),
        },
        ConnectorError::MalformedResponse(m) => format!("malformed response: {m}"),
        ConnectorError::Network(m) => format!("network error: {m}"),
    }
}

/// What the host does with what a connector sends back during a call.
pub trait Observer: Send {
    /// A batch of resources. An error ends the run (the guest traps) with that reason.
    fn emit(&mut self, batch: Vec<Resource>) -> Result<(), String>;
    /// A log line from the connector.
    fn log(&mut self, level: LogLevel, message: String);
    /// Progress: items done and, when known, expected.
    fn progress(&mut self, done: u64, total: Option<u64>);
}

/// An observer for calls that must not emit (`spec`, `check`): logs go to the host's log.
pub struct LogOnly {
    /// The source (or component) the lines are attributed to.
    pub source: String,
}

impl Observer for LogOnly {
    fn emit(&mut self, _batch: Vec<Resource>) -> Result<(), String> {
        Err("emit is only allowed during discover".to_owned())
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
struct MemoryCap {
    max_bytes: usize,
    hit: Arc<AtomicBool>,
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

/// Everything one `Store` holds: the WASI context (empty by design), the HTTP hooks, the limits
/// and the observer.
pub struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressHooks,
    table: ResourceTable,
    memory: MemoryCap,
    budget: Budget,
    breach: Breach,
    /// The source's credential, scrubbed from whatever the connector writes to the log.
    secret: Option<Secret>,
    observer: Box<dyn Observer>,
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

impl bindings::euno::connector::types::Host for RunState {}

impl bindings::Host for RunState {
    fn emit(&mut self, batch: Vec<Resource>) -> wasmtime::Result<()> {
        let admitted = self
            .budget
            .admit_batch(&batch)
            .and_then(|()| self.observer.emit(batch));
        admitted.map_err(|reason| {
            let reason = redact(self.secret.as_ref(), &reason);
            self.breach.record(reason.clone());
            wasmtime::Error::msg(reason)
        })
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        // Redacted before it is cut, so that a secret across the cut leaves no prefix behind;
        // made inert before it is counted, so that the budget holds what is really written.
        let line = inert(&redact(self.secret.as_ref(), &message)).into_owned();
        match self.budget.admit_log(&line) {
            LogVerdict::Write(line) => self.observer.log(level, line),
            LogVerdict::Exhausted(warning) => self.observer.log(LogLevel::Warn, warning),
            LogVerdict::Drop => {}
        }
        Ok(())
    }

    fn progress(&mut self, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        self.observer.progress(done, total);
        Ok(())
    }
}

/// The engine and linker shared by every call.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<RunState>>,
    cache: Option<Arc<CompileCache>>,
}

/// A compiled, linked connector and what it said about itself.
#[derive(Clone)]
pub struct Connector {
    /// Where it came from: `bundled:hex` or a file path.
    pub origin: String,
    /// SHA-256 of the component's bytes, hex-encoded.
    pub digest: String,
    /// What `spec()` returned.
    pub spec: ConnectorSpec,
    /// How much of that the host believes, and what the operator granted it.
    pub trust: Trust,
    pre: SourceConnectorPre<RunState>,
}

/// Whether the host believes what a connector's spec says about secrets and egress. Only the
/// operator decides those for a component; the one exception is the Hex connector carried in the
/// binary, whose spec is the host's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The bundled Hex connector (origin `bundled:hex`). The settings its spec marks secret are
    /// secrets even when written under `[settings]`, and the origin of its base-URL setting is
    /// granted.
    Bundled,
    /// Any other component, whatever id it reports. Its secrets are the source file's `[secrets]`
    /// table, and it reaches only the origins the source file's `[network]` table grants and
    /// those below; its spec's secret flags and base-URL field grant nothing.
    Component {
        /// The origins the operator granted when installing it (`connectors install
        /// --allow-origin`).
        installed_origins: Vec<Origin>,
    },
}

impl Connector {
    /// The same component with the origins granted at its installation.
    pub fn with_installed_origins(&self, origins: Vec<Origin>) -> Self {
        Self {
            trust: Trust::Component {
                installed_origins: origins,
            },
            ..self.clone()
        }
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("origin", &self.origin)
            .field("id", &self.spec.id)
            .field("version", &self.spec.version)
            .field("digest", &self.digest)
            .field("trust", &self.trust)
            .finish()
    }
}

/// Why a component could not become a connector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a valid component for this engine.
    #[error("{origin} is not a valid WebAssembly component: {message}")]
    Compile {
        /// Where the component came from.
        origin: String,
        /// What wasmtime said.
        message: String,
    },
    /// It does not implement the world, or imports what the sandbox does not offer.
    #[error(
        "{origin} does not implement `{}` as this host supports it: {message}",
        bindings::CONTRACT_INTERFACE
    )]
    Contract {
        /// Where the component came from.
        origin: String,
        /// What wasmtime said.
        message: String,
    },
    /// `spec()` did not answer.
    #[error("{origin}: spec() failed: {source}")]
    Spec {
        /// Where the component came from.
        origin: String,
        /// The failure.
        source: CallError,
    },
    /// The engine itself could not be set up.
    #[error("could not set up the WebAssembly engine: {0}")]
    Engine(String),
}

impl Runtime {
    /// Builds the engine and linker. Compiled components are cached in `cache_dir` when given.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self, LoadError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        spawn_epoch_ticker(&engine);

        let mut linker = Linker::new(&engine);
        let link =
            |result: wasmtime::Result<()>| result.map_err(|e| LoadError::Engine(format!("{e:#}")));
        link(wasmtime_wasi::p2::add_to_linker_async(&mut linker))?;
        link(wasmtime_wasi_http::p2::add_only_http_to_linker_async(
            &mut linker,
        ))?;
        link(bindings::add_host_to_linker::<_, HasSelf<RunState>>(
            &mut linker,
            |s| s,
        ))?;
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            cache: cache_dir.map(|dir| Arc::new(CompileCache::new(dir))),
        })
    }

    /// Compiles (or loads from the cache), links and asks `spec()` of a component.
    pub async fn load(&self, origin: &str, bytes: &[u8]) -> Result<Connector, LoadError> {
        let digest = hex_digest(bytes);
        // Compiling takes a few hundred milliseconds of CPU: keep it off the async workers, so a
        // daemon swapping a component never delays its scheduling loop or the runs in flight.
        let component = {
            let (this, origin, digest, bytes) = (
                self.clone(),
                origin.to_owned(),
                digest.clone(),
                bytes.to_vec(),
            );
            tokio::task::spawn_blocking(move || this.compile(&origin, &digest, &bytes))
                .await
                .map_err(|e| LoadError::Engine(format!("the compile task failed: {e}")))??
        };
        let contract = |e: wasmtime::Error| LoadError::Contract {
            origin: origin.to_owned(),
            message: format!("{e:#}"),
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(contract)?;
        let pre = SourceConnectorPre::new(instance_pre).map_err(contract)?;
        let mut connector = Connector {
            origin: origin.to_owned(),
            digest,
            spec: empty_spec(),
            trust: Trust::Component {
                installed_origins: Vec::new(),
            },
            pre,
        };
        let observer = LogOnly {
            source: origin.to_owned(),
        };
        let sandbox = Sandbox {
            policy: EgressPolicy::new(Vec::new(), None, Duration::from_secs(1)),
            limits: Limits {
                deadline: Duration::from_secs(10),
                ..Limits::default()
            },
        };
        let spec = self
            .call(
                &connector,
                sandbox,
                Box::new(observer),
                |bindings, store| {
                    Box::pin(async move {
                        bindings
                            .euno_connector_connector()
                            .call_spec(store)
                            .await
                            .map(Ok)
                    })
                },
            )
            .await
            .map_err(|source| LoadError::Spec {
                origin: origin.to_owned(),
                source,
            })?;
        connector.spec = spec;
        Ok(connector)
    }

    /// Loads the bundled Hex connector, the one connector whose spec the host trusts.
    pub async fn load_bundled_hex(&self) -> Result<Connector, LoadError> {
        let connector = self.load("bundled:hex", BUNDLED_HEX_COMPONENT).await?;
        Ok(Connector {
            trust: Trust::Bundled,
            ..connector
        })
    }

    fn compile(&self, origin: &str, digest: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let compile_error = |e: wasmtime::Error| LoadError::Compile {
            origin: origin.to_owned(),
            message: format!("{e:#}"),
        };
        let Some(cache) = &self.cache else {
            return Component::new(&self.engine, bytes).map_err(compile_error);
        };
        let name = format!(
            "wasmtime-{WASMTIME_VERSION}/{digest}-{}.cwasm",
            self.compatibility_key()
        );
        if let Some(component) = cache.load(&self.engine, &name) {
            return Ok(component);
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(compile_error)?;
        cache.store(&name, &compiled);
        // SAFETY: these bytes were produced by `precompile_component` of this very engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(compile_error)
    }

    fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Calls `check` in a fresh sandbox. The line it returns for a person is redacted and
    /// [`inert`], like any other text from a connector.
    pub async fn check(
        &self,
        connector: &Connector,
        sandbox: Sandbox,
        source: &str,
        config: Vec<ConfigEntry>,
    ) -> Result<String, CallError> {
        let observer = LogOnly {
            source: source.to_owned(),
        };
        let secret = sandbox.policy.bearer().cloned();
        let message = self
            .call(
                connector,
                sandbox,
                Box::new(observer),
                move |bindings, store| {
                    Box::pin(async move {
                        bindings
                            .euno_connector_connector()
                            .call_check(store, &config)
                            .await
                    })
                },
            )
            .await?;
        Ok(inert(&redact(secret.as_ref(), &message)).into_owned())
    }

    /// Calls `discover` in a fresh sandbox, handing every batch to `observer`.
    pub async fn discover(
        &self,
        connector: &Connector,
        sandbox: Sandbox,
        observer: Box<dyn Observer>,
        config: Vec<ConfigEntry>,
        context: RunContext,
    ) -> Result<DiscoverSummary, CallError> {
        self.call(connector, sandbox, observer, move |bindings, store| {
            Box::pin(async move {
                bindings
                    .euno_connector_connector()
                    .call_discover(store, &config, &context)
                    .await
            })
        })
        .await
    }

    /// Runs one export in a fresh store, under the sandbox's limits.
    async fn call<R: Send + 'static>(
        &self,
        connector: &Connector,
        sandbox: Sandbox,
        observer: Box<dyn Observer>,
        invoke: impl for<'a> FnOnce(
            &'a SourceConnector,
            &'a mut Store<RunState>,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = wasmtime::Result<Result<R, ConnectorError>>> + Send + 'a>,
        > + Send,
    ) -> Result<R, CallError> {
        let Sandbox { policy, limits } = sandbox;
        let secret = policy.bearer().cloned();
        let breach = Breach::default();
        let cut_off = CutOff::default();
        let memory_hit = Arc::new(AtomicBool::new(false));
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // Deliberately empty: no preopened directories, no environment, no arguments, no
        // sockets (WASI denies every address unless told otherwise). Only stderr is kept, in
        // memory, to explain a crash.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        let state = RunState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: EgressHooks::new(
                policy,
                limits.max_response_bytes,
                limits.request_total,
                breach.clone(),
                cut_off.clone(),
            ),
            table: ResourceTable::new(),
            memory: MemoryCap {
                max_bytes: limits.memory_bytes,
                hit: Arc::clone(&memory_hit),
            },
            budget: Budget::new(limits),
            breach: breach.clone(),
            secret: secret.clone(),
            observer,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        let deadline = Instant::now() + limits.deadline;
        let timed_out = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&timed_out);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                flag.store(true, Ordering::Relaxed);
                return Err(wasmtime::Error::msg("the run's deadline has passed"));
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let pre = connector.pre.clone();
        let run = async move {
            let bindings = pre.instantiate_async(&mut store).await?;
            invoke(&bindings, &mut store).await
        };
        // Epoch interruption stops a guest that computes; this timeout stops one that waits on
        // the host (a slow server) past its deadline.
        let outcome = tokio::time::timeout(limits.deadline + EPOCH_TICK * 10, run).await;
        let crash = |error: wasmtime::Error| {
            if let Some(reason) = breach.reason() {
                CallError::Stopped(reason.to_owned())
            } else if timed_out.load(Ordering::Relaxed) {
                CallError::Deadline(limits.deadline)
            } else if memory_hit.load(Ordering::Relaxed) {
                CallError::Memory(limits.memory_bytes)
            } else {
                tracing::debug!("the connector trapped: {error:?}");
                CallError::Trap {
                    reason: trap_reason(&error),
                    stderr: one_line(&String::from_utf8_lossy(&stderr.contents())),
                }
            }
        };
        let result = match outcome {
            Err(_elapsed) => Err(CallError::Deadline(limits.deadline)),
            Ok(Err(error)) => Err(crash(error)),
            // A broken budget ends the call whatever the connector made of the error it got (a
            // cut-off response may have been retried, or swallowed).
            Ok(Ok(_)) if breach.reason().is_some() => Err(CallError::Stopped(
                breach.reason().unwrap_or_default().to_owned(),
            )),
            Ok(Ok(Err(connector_error))) => Err(match cut_off.reason() {
                Some(cut_off) => CallError::ConnectorAfterCutOff {
                    error: connector_error,
                    cut_off: cut_off.to_owned(),
                },
                None => CallError::Connector(connector_error),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        };
        result.map_err(|error| error.scrubbed(secret.as_ref()))
    }
}

/// The sandbox of one call: its network policy and budgets.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Where the connector may send requests, with which credential.
    pub policy: EgressPolicy,
    /// Memory, time and request budgets.
    pub limits: Limits,
}

fn empty_spec() -> ConnectorSpec {
    ConnectorSpec {
        id: String::new(),
        display_name: String::new(),
        version: String::new(),
        description: String::new(),
        fields: Vec::new(),
        resource_types: Vec::new(),
        base_url_field: None,
        bearer_credential_field: None,
    }
}

/// Advances the engine's epoch until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("euno-epoch".to_owned())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half a file.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_at_the_top_of_memory_or_past_it_are_stack_overflows() {
        for (reason, overflow) in [
            (
                "memory fault at wasm address 0xfffffff8 in linear memory",
                true,
            ),
            // Optimised code may reach past 4 GiB from a wrapped stack pointer.
            (
                "memory fault at wasm address 0x100000000 in linear memory",
                true,
            ),
            ("memory fault at wasm address 0x10 in linear memory", false),
            (
                "memory fault at wasm address 0x7fff0000 in linear memory",
                false,
            ),
            ("wasm `unreachable` instruction executed", false),
        ] {
            assert_eq!(faulted_past_the_stack(reason), overflow, "{reason}");
        }
    }
}
