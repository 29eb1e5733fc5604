//! The seams between the connector's logic and the sandbox: HTTP, time and the host.
//!
//! The client and the discovery are written against these small traits rather than against
//! `waki`, `std::time` and the host imports, so the native unit tests can script HTTP answers,
//! run a clock that records sleeps without sleeping, and collect what would reach the host.

use std::time::Duration;

use crate::bindings::{LogLevel, Resource};

/// One HTTP response, read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names in lowercase, values as sent; a repeated header appears once per value.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of the header `name`, which must be given in lowercase.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A request that got no HTTP response at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// What went wrong, for a person.
    pub message: String,
    /// Whether trying again may help: a refused connection or a timeout may pass, a request the
    /// host's policy denies never will.
    pub retryable: bool,
}

/// Sends GET requests.
pub trait Transport {
    /// Sends `GET url`; `timeout` bounds the whole request (the host enforces it).
    fn get(&mut self, url: &str, timeout: Duration) -> Result<HttpResponse, TransportError>;
}

/// The passing of time, for the throttle, the retry delays and the jitter seed.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Waits for `duration`.
    fn sleep(&mut self, duration: Duration);
}

/// The run's log.
pub trait Log {
    /// Writes one line at `level`.
    fn log(&mut self, level: LogLevel, message: &str);
}

/// Where discovered resources and progress go: the host, or a test's vectors.
pub trait Sink: Log {
    /// Hands one batch of resources over.
    fn emit(&mut self, batch: Vec<Resource>);
    /// Reports how many resources are done and, when known, how many there will be.
    fn progress(&mut self, done: u64, total: Option<u64>);
}
