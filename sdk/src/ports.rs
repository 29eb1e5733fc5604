//! The seams between the SDK and the sandbox: HTTP, time and the host's imports.
//!
//! The HTTP client, the emitter and the glue behind [`export!`](crate::export) reach the outside
//! only through these three traits. Inside the component they are `wasi:http`, `wasi:clocks` and
//! the `euno:connector/host` imports; in [`testing`](crate#testing) they are a canned HTTP server,
//! a clock that records sleeps without sleeping, and a fake host that captures everything. A
//! connector author never implements them.

use std::time::Duration;

use crate::types::{LogLevel, Resource, WaitReason};

/// An HTTP method the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method's name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// One HTTP request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: String,
    /// Header names in lowercase, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

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
    /// The first value of the header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
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
    /// Whether the request ran out of time (the message then says so in other words).
    pub timed_out: bool,
}

/// Sends HTTP requests.
pub trait Transport {
    /// Sends `request`; `timeout` bounds the whole exchange, from connecting to the body's end.
    fn send(
        &mut self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError>;
}

/// The passing of time, for the throttle, the retry delays and the jitter's seed.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Waits for `duration`.
    fn sleep(&mut self, duration: Duration);
}

/// What the host offers during a call: `euno:connector/host`.
pub trait Host {
    /// Hands one batch of resources over.
    fn emit(&self, batch: &[Resource]);
    /// Writes one line to the run's log.
    fn log(&self, level: LogLevel, message: &str);
    /// Reports items done and, when known, the total expected.
    fn progress(&self, done: u64, total: Option<u64>);
    /// Says the connector is about to wait `duration_ms` for `reason`.
    fn waiting(&self, reason: WaitReason, duration_ms: u64);
    /// Saves the checkpoint the next run receives if this one succeeds.
    fn save_checkpoint(&self, checkpoint: &[u8]);
}
