//! The `euno:connector` contract in the host's own types, and the edge where they meet the
//! types generated from `wit/`.
//!
//! Everything that crosses the WIT boundary (a connector's spec, the configuration handed to it,
//! the resources it emits, its errors and log lines) is defined once, as plain Rust the rest of
//! the host uses ([`types`], re-exported here). The generated bindings live in one module per
//! contract version ([`v0_1`], [`v0_2`]), the only modules that name a generated type: each
//! converts its types into the host's and back by moving their fields (no string is copied),
//! and drives the component's exports and imports. This module reads which version a component
//! was built against ([`Version::of`]) and dispatches to it ([`Linked`]).
//!
//! A new contract version is an addition: a module beside these, one more [`Version`] and
//! variant of [`Linked`], and conversions from the older versions' types into the newer shape of
//! the host's. Both versions' `host` imports live in one linker: their interface names differ
//! (`euno:connector/host@0.1.0`, `@0.2.0`), so they never clash.

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

pub mod types;
pub mod v0_1;
pub mod v0_2;

pub use types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, CredentialScheme, DiscoverSummary,
    FieldKind, HostImports, InvalidConfigError, LogLevel, Property, PropertyValue,
    RateLimitedError, Relation, Relations, RequestCount, Resource, RunContext, SettingValue,
    UpstreamError, WaitReason,
};

/// What every contract version's exported interface is called, before its `@version`.
pub const CONTRACT_INTERFACE: &str = "euno:connector/connector";

/// A contract version this host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `euno:connector@0.1.0`.
    V0_1,
    /// `euno:connector@0.2.0`.
    V0_2,
}

/// A component that implements no contract version this host speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// It exports the contract at another version.
    #[error(
        "it exports `euno:connector@{0}`; this euno-host supports 0.1.0 and 0.2.0 (a newer \
         euno-host may run it)"
    )]
    Unsupported(String),
    /// It exports no version of the contract.
    #[error(
        "it exports no `euno:connector/connector` interface; this euno-host supports 0.1.0 and \
         0.2.0"
    )]
    Missing,
}

impl Version {
    /// The version `component` was built against, read from the name of the contract interface
    /// it exports (`euno:connector/connector@0.2.0`).
    pub fn of(component: &Component, engine: &Engine) -> Result<Self, VersionError> {
        let ty = component.component_type();
        let prefix = format!("{CONTRACT_INTERFACE}@");
        let found = ty
            .exports(engine)
            .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_owned));
        match found.as_deref() {
            Some("0.1.0") => Ok(Self::V0_1),
            Some("0.2.0") => Ok(Self::V0_2),
            Some(other) => Err(VersionError::Unsupported(other.to_owned())),
            None => Err(VersionError::Missing),
        }
    }

    /// The version as the contract writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.0",
            Self::V0_2 => "0.2.0",
        }
    }
}

/// Adds every contract version's imports, served by the store's [`HostImports`], to `linker`.
pub fn add_to_linker<T: HostImports + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v0_1::add_to_linker(linker)?;
    v0_2::add_to_linker(linker)
}

/// A component linked against a contract version this host speaks, ready to be instantiated
/// afresh for each call.
pub enum Linked<T: 'static> {
    /// `euno:connector@0.1.0`.
    V0_1(v0_1::Linked<T>),
    /// `euno:connector@0.2.0`.
    V0_2(v0_2::Linked<T>),
}

impl<T: 'static> Clone for Linked<T> {
    fn clone(&self) -> Self {
        match self {
            Self::V0_1(linked) => Self::V0_1(linked.clone()),
            Self::V0_2(linked) => Self::V0_2(linked.clone()),
        }
    }
}

impl<T: Send + 'static> Linked<T> {
    /// The component behind `pre`, which implements `version`.
    pub fn new(pre: InstancePre<T>, version: Version) -> wasmtime::Result<Self> {
        match version {
            Version::V0_1 => v0_1::Linked::new(pre).map(Self::V0_1),
            Version::V0_2 => v0_2::Linked::new(pre).map(Self::V0_2),
        }
    }

    /// The contract version the component implements.
    pub fn version(&self) -> Version {
        match self {
            Self::V0_1(_) => Version::V0_1,
            Self::V0_2(_) => Version::V0_2,
        }
    }

    /// Instantiates the component in `store` and calls `spec`.
    pub async fn spec(&self, store: &mut Store<T>) -> wasmtime::Result<ConnectorSpec> {
        match self {
            Self::V0_1(linked) => linked.spec(store).await,
            Self::V0_2(linked) => linked.spec(store).await,
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
            Self::V0_2(linked) => linked.check(store, config).await,
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
            Self::V0_2(linked) => linked.discover(store, config, context).await,
        }
    }
}
