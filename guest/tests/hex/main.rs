//! The Hex connector run natively against the Hex API simulator on loopback.
//!
//! The connector's real `check` and `discover`, through the SDK's harness (which plays the host
//! and fails a test on any rule the host would enforce) with its live transport: plain HTTP to
//! `hex-sim` bound to `127.0.0.1:0`, the token presented as the host would present it. These
//! mirror the host's end-to-end fidelity tests (`tests/e2e/fidelity.rs`, `discovery.rs`) without
//! the host, which does not load contract 0.2.0 components yet. The clock is the harness's: the
//! throttle and retry delays are recorded, not waited for.

mod details;
mod fidelity;
mod lineage;
mod support;
