//! The code generated from `wit/connector.wit`: the one edge where this crate meets the contract.
//!
//! The generated types are the crate's own domain types (no contract type is written twice), so
//! they are re-exported here item by item and used directly by the plain-Rust modules. They compile
//! on every target: off wasm the host imports become unreachable stubs, which lets the mapping and
//! the client be unit-tested natively. Only the `export!` is gated, because the exported symbol
//! names (`euno:connector/connector@0.1.0#check`) do not link into a native shared library.
#![expect(
    missing_docs,
    reason = "generated: the WASI interfaces this world pulls in leave items undocumented in their WIT"
)]

wit_bindgen::generate!({
    world: "source-connector",
    path: "../wit",
    // The world imports `wasi:http`; its bindings must be generated for the world to resolve even
    // though the crate talks HTTP through `waki`.
    generate_all,
    // Tests compare resources and errors with `assert_eq!`.
    additional_derives: [PartialEq],
    // wasi:io's stream error holds a resource handle, which has no `PartialEq`.
    additional_derives_ignore: ["stream-error"],
});

pub use euno::connector::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, DiscoverSummary, FieldKind,
    InvalidConfigError, LogLevel, Property, PropertyValue, RateLimitedError, Resource, RunContext,
    UpstreamError,
};
pub use exports::euno::connector::connector::Guest;

#[cfg(target_arch = "wasm32")]
use crate::Component;
#[cfg(target_arch = "wasm32")]
export!(Component);
