//! `euno-host`: Euno's sandboxed connector runtime.
//!
//! It loads source connectors (WASI 0.2 components of the `euno:connector` world), runs them in a
//! sandbox with their secrets held on this side, and keeps what they discover in an embedded
//! SQLite inventory.
//!
//! The modules form layers, read bottom-up; a module uses only modules of lower layers (and, in
//! a folder, the modules listed before it). `layers.rs` holds the table and a test enforces it.
//!
//! 1. Plain utilities: [`text`] (untrusted text made inert, and cut), [`secret`] (a value never
//!    printed), [`fsutil`] (atomic writes, digests), [`dirscan`] (the one directory scanner and
//!    its settle rule), [`vault`] (secrets typed into the Sources page, sealed at rest).
//! 2. [`contract`]: the `euno:connector` contract in the host's own types; its `v0_1` module is
//!    the only one that names a type generated from `wit/`.
//! 3. [`sandbox`]: limits, budgets, output rules, egress policy, the HTTP pool, the compile
//!    cache, trap diagnosis, the host imports and the engine that loads and calls connectors.
//! 4. [`inventory`]: the SQLite store of resources, sponsorships and runs.
//! 5. [`connectors`]: the bundled connector, connector ids, lookup, the connectors directory,
//!    manifests, installation, and the identity recorded with a run.
//! 6. [`source`]: source files, validated against a connector's spec.
//! 7. [`run`]: one discovery run, from the source file to the inventory.
//! 8. [`scheduler`]: schedules, the tick-driven scheduler, `serve` and `status`.
//! 9. [`web`]: the Sources page and its JSON API, served beside the scheduler.
//! 10. [`cli`]: the command line, the only module that writes to the terminal.
#![warn(missing_docs)]

pub mod cli;
pub mod conformance;
pub mod connectors;
pub mod contract;
pub mod dirscan;
pub mod fsutil;
pub mod inventory;
pub mod run;
pub mod sandbox;
pub mod scheduler;
pub mod secret;
pub mod source;
pub mod text;
pub mod vault;
pub mod web;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod layers;
