//! The `euno:connector` contract in the host's own types, and the edge where they meet the
//! types generated from `wit/`.
//!
//! Everything that crosses the WIT boundary (a connector's spec, the configuration handed to it,
//! the resources it emits, its errors and log lines) is defined once, as plain Rust the rest of
//! the host uses ([`types`], re-exported here). The generated bindings live in one module per
//! contract version ([`v0_1`]), which is the only module that names a generated type: it
//! converts each one into the host's type and back by moving its fields (no string is copied),
//! and it drives the component's exports and imports. This module dispatches to the version a
//! component implements ([`Linked`]).
//!
//! A new contract version is an addition: a `v0_2` module beside [`v0_1`], one more variant of
//! [`Linked`], and conversions from the old version's types into the newer shape of these.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

pub mod types;
pub mod v0_1;

pub use types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, DiscoverSummary, FieldKind,
    HostImports, InvalidConfigError, LogLevel, Property, PropertyValue, RateLimitedError, Resource,
    RunContext, UpstreamError, WaitReason,
};

/// The contract interface this host implements; components must export it.
pub const CONTRACT_INTERFACE: &str = v0_1::INTERFACE;

/// Adds the contract's imports, served by the store's [`HostImports`], to `linker`.
pub fn add_to_linker<T: HostImports + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v0_1::add_to_linker(linker)
}

/// A component linked against a contract version this host speaks, ready to be instantiated
/// afresh for each call.
pub enum Linked<T: 'static> {
    /// `euno:connector@0.1.0`.
    V0_1(v0_1::Linked<T>),
}

impl<T: 'static> Clone for Linked<T> {
    fn clone(&self) -> Self {
        match self {
            Self::V0_1(linked) => Self::V0_1(linked.clone()),
        }
    }
}

impl<T: Send + 'static> Linked<T> {
    /// The component behind `pre`, if it implements a contract version this host speaks.
    pub fn new(pre: InstancePre<T>) -> wasmtime::Result<Self> {
        v0_1::Linked::new(pre).map(Self::V0_1)
    }

    /// Instantiates the component in `store` and calls `spec`.
    pub async fn spec(&self, store: &mut Store<T>) -> wasmtime::Result<ConnectorSpec> {
        match self {
            Self::V0_1(linked) => linked.spec(store).await,
        }
    }

    /// Instantiates the component in `store` and calls `check`.
    pub async fn check(
        &self,
        store: &mut Store<T>,
        config: Vec<ConfigEntry>,
    ) -> wasmtime::Result<Result<String, ConnectorError>> {
        match self {
            Self::V0_1(linked) => linked.check(store, config).await,
        }
    }

    /// Instantiates the component in `store` and calls `discover`.
    pub async fn discover(
        &self,
        store: &mut Store<T>,
        config: Vec<ConfigEntry>,
        context: RunContext,
    ) -> wasmtime::Result<Result<DiscoverSummary, ConnectorError>> {
        match self {
            Self::V0_1(linked) => linked.discover(store, config, context).await,
        }
    }
}
