//! `euno-host`: Euno's sandboxed connector runtime.
//!
//! It loads source connectors (WASI 0.2 components of the `euno:connector` world), runs them in a
//! sandbox with their secrets held on this side, and keeps what they discover in an embedded
//! SQLite inventory.
//!
//! - [`bindings`]: the WIT contract as Rust types.
//! - [`runtime`]: engine, linker, the per-call sandbox and its limits.
//! - [`compile_cache`]: compiled components cached under the data directory, sealed with a MAC.
//! - [`budget`]: the output budgets of a call (resources, batch, string and log sizes).
//! - [`http_policy`]: the network policy checked on every outgoing request.
//! - [`source`]: source files, validated against a connector's spec.
//! - [`text`]: untrusted text made inert for terminals, logs and the run history.
//! - [`run`]: one discovery run, from the source file to the inventory.
//! - [`inventory`]: the SQLite store of resources, sponsorships and runs.
//! - [`schedule`]: weekly and hourly schedules.
//! - [`connectors`]: the connectors directory and hot swap.
//! - [`daemon`]: `serve` and `status`.
//! - [`cli`] and [`demo`]: the command line.

pub mod bindings;
pub mod budget;
pub mod cli;
pub mod compile_cache;
pub mod connectors;
pub mod daemon;
pub mod demo;
#[cfg(test)]
mod fuzz;
pub mod http_policy;
mod http_pool;
pub mod inventory;
pub mod run;
pub mod runtime;
pub mod schedule;
pub mod secret;
pub mod source;
pub mod text;
