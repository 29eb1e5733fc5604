//! The `euno:connector` contract as Rust, generated from `wit/` so that no contract type is
//! written twice by hand. Everything else in the host uses the items re-exported here.

wasmtime::component::bindgen!({
    world: "source-connector",
    path: "../wit",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});

pub use euno::connector::host::{Host, add_to_linker as add_host_to_linker};
pub use euno::connector::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, DiscoverSummary, FieldKind,
    InvalidConfigError, LogLevel, Property, PropertyValue, RateLimitedError, Resource, RunContext,
    UpstreamError,
};
pub use exports::euno::connector::connector::Guest as ConnectorExports;

/// The contract version this host implements; components must export this exact interface.
pub const CONTRACT_INTERFACE: &str = "euno:connector/connector@0.1.0";
