//! Euno's Hex connector: a WASI 0.2 component that discovers a Hex workspace and its projects.
//!
//! The crate is split so that everything but the sandbox edge is plain Rust that builds and
//! unit-tests on the native target:
//! - [`bindings`]: the types and traits generated from `wit/connector.wit`;
//! - [`config`]: the connector's settings, their defaults and their validation;
//! - [`model`]: the Hex API's JSON, as lenient serde structs;
//! - [`timestamp`]: the RFC 3339 and HTTP-date parsers the model and the client need;
//! - [`client`]: the Hex API client (URLs, pagination, throttle, retries, error classification);
//! - [`mapping`]: Hex projects and the workspace as Euno resources;
//! - [`discover`]: the `check` and `discover` operations, tying the above together;
//! - [`ports`]: the traits through which that code reaches HTTP, the clock and the host;
//! - `platform` (wasm only): those traits implemented with `waki`, `std` and the host imports.
//!
//! The generated `Guest` impl below only picks the platform implementations and delegates.
#![warn(missing_docs)]

pub mod bindings;
pub mod client;
pub mod config;
pub mod discover;
pub mod mapping;
pub mod model;
pub mod ports;
pub mod spec;
pub mod timestamp;

#[cfg(test)]
mod fuzz;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: the component is single-threaded, and nothing else manages the memory talc grows.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// The exported component; `bindings` hands it to `export!`.
#[cfg(target_arch = "wasm32")]
pub struct Component;

#[cfg(target_arch = "wasm32")]
impl bindings::Guest for Component {
    fn spec() -> bindings::ConnectorSpec {
        spec::connector_spec()
    }

    fn check(config: Vec<bindings::ConfigEntry>) -> Result<String, bindings::ConnectorError> {
        discover::check(
            &config,
            platform::WakiTransport,
            platform::SystemClock,
            &mut platform::HostSink,
        )
    }

    fn discover(
        config: Vec<bindings::ConfigEntry>,
        context: bindings::RunContext,
    ) -> Result<bindings::DiscoverSummary, bindings::ConnectorError> {
        discover::discover(
            &config,
            &context,
            platform::WakiTransport,
            platform::SystemClock,
            &mut platform::HostSink,
        )
    }
}
