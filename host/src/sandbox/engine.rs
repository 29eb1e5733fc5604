//! The sandbox: one wasmtime `Engine` and `Linker` for the process, and a fresh `Store` for every
//! call into a connector, with its own memory cap, wall-clock deadline, network policy and
//! nothing else: no filesystem, no environment variables, no sockets, no arguments.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

use super::budget::{Breach, Budget};
use super::compile_cache::CompileCache;
use super::egress::{CutOff, EgressHooks, EgressPolicy, Origin};
use super::imports::{LogOnly, MemoryCap, Observer, RunState};
use super::limits::Limits;
use super::rules::Rules;
use super::trap;
use crate::contract::{
    self, CONTRACT_INTERFACE, ConfigEntry, ConnectorError, ConnectorSpec, DiscoverSummary, Linked,
    RunContext, Version, VersionError,
};
use crate::fsutil::hex_digest;
use crate::secret::{Secret, redact};
use crate::text::inert;

/// The wasmtime release compiled components come from (pinned exactly in `Cargo.toml`); part of
/// the cache key together with the engine's compatibility hash and the component's digest.
const WASMTIME_VERSION: &str = "48.0.8";
/// How often the engine's epoch advances; the resolution of the wall-clock deadline.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Bytes of a guest's stderr kept to explain a crash (a Rust panic message lands there).
const STDERR_CAPTURE: usize = 16 * 1024;

/// Why a call into a connector did not return normally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The connector reported an expected failure.
    #[error("{0}")]
    Connector(ConnectorError),
    /// The connector reported a failure after the host had cut off one of its requests at a
    /// time limit: the connector's error says what it made of that, `cut_off` what the host did.
    #[error("{error}; {cut_off}")]
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
    #[error("the connector crashed: {reason}{}", trap::stderr_suffix(.stderr))]
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
    fn scrubbed(self, secrets: &[Secret]) -> Self {
        let r = |text: String| inert(&redact(secrets, &text)).into_owned();
        let connector = |error: ConnectorError| error.map_text(r);
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
    linked: Linked<RunState>,
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
    /// The contract version the component was built against.
    pub fn contract_version(&self) -> Version {
        self.linked.version()
    }

    /// The same component, trusted as `trust` says.
    pub fn with_trust(&self, trust: Trust) -> Self {
        Self {
            trust,
            ..self.clone()
        }
    }

    /// The same component with the origins granted at its installation.
    pub fn with_installed_origins(&self, origins: Vec<Origin>) -> Self {
        self.with_trust(Trust::Component {
            installed_origins: origins,
        })
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
    /// It implements no contract version this host speaks.
    #[error("{origin}: {source}")]
    Version {
        /// Where the component came from.
        origin: String,
        /// Which version it exports, if any.
        source: VersionError,
    },
    /// It does not implement the world, or imports what the sandbox does not offer.
    #[error(
        "{origin} does not implement `{}@{version}` as this host supports it: {message}",
        CONTRACT_INTERFACE
    )]
    Contract {
        /// Where the component came from.
        origin: String,
        /// The contract version it exports.
        version: &'static str,
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
        link(contract::add_to_linker(&mut linker))?;
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
        let version =
            Version::of(&component, &self.engine).map_err(|source| LoadError::Version {
                origin: origin.to_owned(),
                source,
            })?;
        let contract = |e: wasmtime::Error| LoadError::Contract {
            origin: origin.to_owned(),
            version: version.as_str(),
            message: format!("{e:#}"),
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(contract)?;
        let linked = Linked::new(instance_pre, version).map_err(contract)?;
        let mut connector = Connector {
            origin: origin.to_owned(),
            digest,
            spec: ConnectorSpec::default(),
            trust: Trust::Component {
                installed_origins: Vec::new(),
            },
            linked,
        };
        connector.spec = self
            .spec(&connector)
            .await
            .map_err(|source| LoadError::Spec {
                origin: origin.to_owned(),
                source,
            })?;
        Ok(connector)
    }

    /// Calls `spec` in a fresh sandbox without network, within 10 seconds.
    pub async fn spec(&self, connector: &Connector) -> Result<ConnectorSpec, CallError> {
        let observer = LogOnly {
            source: connector.origin.clone(),
        };
        let sandbox = Sandbox {
            policy: EgressPolicy::new(Vec::new(), None, Duration::from_secs(1)),
            limits: Limits {
                deadline: Duration::from_secs(10),
                ..Limits::default()
            },
        };
        self.call(
            connector,
            sandbox,
            Box::new(observer),
            None,
            |linked, store| Box::pin(async move { linked.spec(store).await.map(Ok) }),
        )
        .await
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
        let secrets = sandbox.policy.secrets().to_vec();
        let message = self
            .call(
                connector,
                sandbox,
                Box::new(observer),
                None,
                move |linked, store| Box::pin(async move { linked.check(store, config).await }),
            )
            .await?;
        Ok(inert(&redact(&secrets, &message)).into_owned())
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
        let rules = Rules::new(&connector.spec.resource_types);
        self.call(
            connector,
            sandbox,
            observer,
            Some(rules),
            move |linked, store| {
                Box::pin(async move { linked.discover(store, config, context).await })
            },
        )
        .await
    }

    /// Runs one export in a fresh store, under the sandbox's limits; `rules` for a call that may
    /// emit.
    async fn call<R: Send + 'static>(
        &self,
        connector: &Connector,
        sandbox: Sandbox,
        observer: Box<dyn Observer>,
        rules: Option<Rules>,
        invoke: impl for<'a> FnOnce(
            &'a Linked<RunState>,
            &'a mut Store<RunState>,
        ) -> Pin<
            Box<dyn Future<Output = wasmtime::Result<Result<R, ConnectorError>>> + Send + 'a>,
        > + Send,
    ) -> Result<R, CallError> {
        let Sandbox { policy, limits } = sandbox;
        let secrets = policy.secrets().to_vec();
        let breach = Breach::default();
        let cut_off = CutOff::default();
        let memory_hit = Arc::new(AtomicBool::new(false));
        let traffic = observer.traffic();
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
            )
            .watched_by(traffic),
            table: ResourceTable::new(),
            memory: MemoryCap {
                max_bytes: limits.memory_bytes,
                hit: Arc::clone(&memory_hit),
            },
            budget: Budget::new(limits),
            rules,
            breach: breach.clone(),
            secrets: secrets.clone(),
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

        let linked = connector.linked.clone();
        let run = async move { invoke(&linked, &mut store).await };
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
                    reason: trap::reason(&error),
                    stderr: trap::one_line(&String::from_utf8_lossy(&stderr.contents())),
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
        result.map_err(|error| error.scrubbed(&secrets))
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
