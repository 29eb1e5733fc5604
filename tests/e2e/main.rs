//! End-to-end tests of `euno-host`: the real binary, the real components (the bundled Hex
//! connector and the misbehaving test guest) and the Hex API simulator on loopback.

mod support;

mod cli;
mod contract;
mod discovery;
mod fidelity;
mod hostile;
mod inert;
mod inventory;
mod leaks;
mod limits;
mod lineage;
mod pipes;
mod pool;
mod redaction;
mod request_time;
mod safety;
mod sandbox;
mod serve;
mod stub;
mod terminal;
mod trust;
mod warnings;
mod web;
