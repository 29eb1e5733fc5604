//! The sandbox a connector runs in: one wasmtime engine for the process, and for every call a
//! fresh store with its memory cap, deadline, egress policy and output budgets, and nothing else
//! (no filesystem, no environment, no sockets, no arguments).
//!
//! Its modules, bottom-up (each uses only those above it in this list):
//! - [`limits`]: the budgets of a call, defined, defaulted and read from `[limits]`;
//! - [`budget`]: the output budgets counted during a call (resources, strings, log);
//! - [`rules`]: what every emitted resource must be (URI, type, uniqueness);
//! - [`http_pool`]: a call's keep-alive connections;
//! - [`egress`]: the network policy checked on every outgoing request, the credential the host
//!   adds, and the guards on every response;
//! - [`compile_cache`]: compiled components cached under the data directory, sealed with a MAC;
//! - [`trap`]: a trap said in one line;
//! - [`imports`]: a call's store and the host imports it serves, reporting to an [`Observer`];
//! - [`engine`]: the [`Runtime`] that loads [`Connector`]s and calls them.

pub mod budget;
pub mod compile_cache;
pub mod egress;
pub mod engine;
mod http_pool;
pub mod imports;
pub mod limits;
pub mod rules;
pub mod trap;

pub use egress::{EgressPolicy, Origin, Traffic};
pub use engine::{CallError, Connector, LoadError, Runtime, Sandbox, Trust};
pub use imports::{EmitError, LogOnly, Observer, log_guest_line};
pub use limits::Limits;
