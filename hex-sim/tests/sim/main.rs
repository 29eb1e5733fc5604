//! Black-box tests of the simulator over real HTTP, as a connector would see it.
//!
//! One test binary with modules sharing `support` (a tiny HTTP/1.1 client over `TcpStream`, so
//! no HTTP client crate is needed).

mod api;
mod embedding;
mod faults;
mod ground_truth;
mod lineage;
mod minidash;
mod support;
