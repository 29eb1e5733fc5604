//! Test doubles shared by the unit tests: a scripted transport, a clock that records sleeps
//! without sleeping, a sink that keeps everything, and project fixtures.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use crate::bindings::{ConfigEntry, LogLevel, Resource};
use serde::Deserialize as _;

use crate::model::Project;
use crate::ports::{Clock, HttpResponse, Log, Sink, Transport, TransportError};

/// Config entries from name/value pairs.
pub fn entries(pairs: &[(&str, &str)]) -> Vec<ConfigEntry> {
    pairs
        .iter()
        .map(|(name, value)| ConfigEntry {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect()
}

/// A response with `status`, lowercase `headers` and a text body.
pub fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

/// A 200 answer with a JSON body.
pub fn ok_json(body: serde_json::Value) -> Result<HttpResponse, TransportError> {
    Ok(response(
        200,
        &[("content-type", "application/json")],
        &body.to_string(),
    ))
}

/// A request that got no response.
pub fn transport_error(message: &str, retryable: bool) -> Result<HttpResponse, TransportError> {
    Err(TransportError {
        message: message.to_owned(),
        retryable,
    })
}

/// A project from its JSON (owning its text: a `Value` has nothing to borrow from).
pub fn project(json: serde_json::Value) -> Project<'static> {
    Project::deserialize(json).expect("a project")
}

/// A project with every field the connector reads, set.
pub fn full_project_json() -> serde_json::Value {
    serde_json::json!({
        "id": "0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB",
        "title": "Revenue Dashboard",
        "description": "Weekly revenue by region",
        "type": "PROJECT",
        "creator": {"email": "creator@acme.com"},
        "owner": {"email": "owner@acme.com"},
        "status": {"name": "Published"},
        "categories": [{"name": "Finance", "description": "Money"}, {"name": "Sales"}],
        "reviews": {"required": true},
        "analytics": {
            "appViews": {"allTime": 1234, "lastSevenDays": 7, "lastFourteenDays": 14, "lastThirtyDays": 30},
            "lastViewedAt": "2024-08-30T12:00:00Z",
            "publishedResultsUpdatedAt": "2024-08-22T08:00:00+02:00"
        },
        "createdAt": "2024-01-02T03:04:05.678Z",
        "lastEditedAt": "2024-08-21T17:16:09.567Z",
        "lastPublishedAt": "2024-08-20T10:00:00Z",
        "archivedAt": null,
        "trashedAt": null,
        "schedules": [
            {"cadence": "HOURLY", "enabled": true, "hourly": {"minute": 5}},
            {"cadence": "DAILY", "enabled": false},
            {"cadence": "HOURLY", "enabled": false}
        ],
        "sharing": {
            "users": [{"user": {"email": "someone@acme.com"}, "access": "CAN_EDIT"}],
            "collections": [
                {"collection": {"name": "Exec"}, "access": "CAN_VIEW"},
                {"collection": {"name": "Finance"}, "access": "CAN_VIEW"}
            ],
            "groups": [],
            "workspace": {"access": "CAN_VIEW"},
            "publicWeb": {"access": "NONE"},
            "support": {"access": "NONE"}
        }
    })
}

#[derive(Default)]
struct ClockState {
    now_ms: i64,
    sleeps: Vec<Duration>,
}

/// A clock that starts at the epoch and moves only when slept on (or set).
#[derive(Clone, Default)]
pub struct FakeClock(Rc<RefCell<ClockState>>);

impl FakeClock {
    /// A clock at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every sleep so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.0.borrow().sleeps.clone()
    }

    /// Moves the clock to `now_ms`.
    pub fn set_now(&self, now_ms: i64) {
        self.0.borrow_mut().now_ms = now_ms;
    }

    fn advance(&self, duration: Duration) {
        let millis = i64::try_from(duration.as_millis()).expect("a test-sized duration");
        self.0.borrow_mut().now_ms += millis;
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.borrow().now_ms
    }

    fn sleep(&mut self, duration: Duration) {
        self.advance(duration);
        self.0.borrow_mut().sleeps.push(duration);
    }
}

#[derive(Default)]
struct TransportState {
    script: VecDeque<Result<HttpResponse, TransportError>>,
    urls: Vec<String>,
    start_times: Vec<i64>,
    latency: Option<(FakeClock, Duration)>,
}

/// A transport that answers from a script, in order, and records what it was asked.
#[derive(Clone, Default)]
pub struct ScriptedTransport(Rc<RefCell<TransportState>>);

impl ScriptedTransport {
    /// A transport that gives `script`'s answers in order.
    pub fn new(script: Vec<Result<HttpResponse, TransportError>>) -> Self {
        let transport = Self::default();
        transport.0.borrow_mut().script = script.into();
        transport
    }

    /// Adds an answer at the end of the script.
    pub fn push(&self, answer: Result<HttpResponse, TransportError>) {
        self.0.borrow_mut().script.push_back(answer);
    }

    /// Makes every request take `latency` on `clock`.
    pub fn set_latency(&self, clock: &FakeClock, latency: Duration) {
        self.0.borrow_mut().latency = Some((clock.clone(), latency));
    }

    /// The URLs requested, in order.
    pub fn urls(&self) -> Vec<String> {
        self.0.borrow().urls.clone()
    }

    /// When each request started, on the latency clock.
    pub fn start_times(&self) -> Vec<i64> {
        self.0.borrow().start_times.clone()
    }
}

impl Transport for ScriptedTransport {
    fn get(&mut self, url: &str, _timeout: Duration) -> Result<HttpResponse, TransportError> {
        let mut state = self.0.borrow_mut();
        state.urls.push(url.to_owned());
        if let Some((clock, latency)) = state.latency.clone() {
            state.start_times.push(clock.now_ms());
            clock.advance(latency);
        }
        state.script.pop_front().unwrap_or_else(|| {
            Err(TransportError {
                message: format!("the test script has no answer left for {url}"),
                retryable: false,
            })
        })
    }
}

/// A sink that keeps every batch, log line and progress report.
#[derive(Default)]
pub struct VecSink {
    /// The batches, in order.
    pub batches: Vec<Vec<Resource>>,
    /// The log lines, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// The progress reports, in order.
    pub progress: Vec<(u64, Option<u64>)>,
}

impl VecSink {
    /// The log lines at `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.logs
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, message)| message.clone())
            .collect()
    }
}

impl Log for VecSink {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_owned()));
    }
}

impl Sink for VecSink {
    fn emit(&mut self, batch: Vec<Resource>) {
        self.batches.push(batch);
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        self.progress.push((done, total));
    }
}
