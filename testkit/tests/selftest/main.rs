//! The test kit's own tests: each harness against the real thing it starts (a PostgreSQL cluster
//! from the machine's server binaries, the machine's Chromium), its clean-up when the test
//! process is killed, and the one loud line of its skip path.
//!
//! Some checks need a second process (a process that gets killed, an environment the harness
//! reads): this binary runs itself as that child, running one of the `probe` tests, which do
//! nothing unless [`support::PROBE_VAR`] is set.

mod browser;
mod postgres;
mod probe;
mod skip;
mod support;
