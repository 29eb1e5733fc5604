//! What the simulator has seen and sent, readable while it runs.
//!
//! Tests assert on these counts (how many requests did the connector make, how many 429s did it
//! absorb) and benchmarks report them; `GET /__sim/stats` serves the same numbers to a client in
//! another process.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of the simulator's counters.
///
/// `requests` and the status counts cover every request under the API (not `/__sim/`); the
/// per-endpoint counts cover requests that passed authentication and the `forbidden` fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every API request.
    pub requests: u64,
    /// `GET /projects`, including requests answered by a fault.
    pub project_list_requests: u64,
    /// `GET /projects/{id}`.
    pub project_get_requests: u64,
    /// `GET /users/me`.
    pub users_me_requests: u64,
    /// `POST /projects/export`.
    pub export_requests: u64,
    /// `GET /cells`.
    pub cells_requests: u64,
    /// Requests to paths the simulator does not serve.
    pub other_requests: u64,
    /// `GET /projects` requests answered with a page (including malformed and truncated ones).
    pub pages_served: u64,
    /// Responses with status 400.
    pub bad_requests: u64,
    /// Responses with status 401.
    pub unauthorized: u64,
    /// Responses with status 403.
    pub forbidden: u64,
    /// Responses with status 404.
    pub not_found: u64,
    /// Responses with status 429.
    pub rate_limited: u64,
    /// Responses with a 5xx status.
    pub server_errors: u64,
}

/// The live counters behind [`SimStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) project_list_requests: AtomicU64,
    pub(crate) project_get_requests: AtomicU64,
    pub(crate) users_me_requests: AtomicU64,
    pub(crate) export_requests: AtomicU64,
    pub(crate) cells_requests: AtomicU64,
    pub(crate) other_requests: AtomicU64,
    pub(crate) pages_served: AtomicU64,
    pub(crate) bad_requests: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) forbidden: AtomicU64,
    pub(crate) not_found: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) server_errors: AtomicU64,
}

/// Adds one and returns the new value (so the first event is number 1).
pub(crate) fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

impl Counters {
    /// Counts a response by its status.
    pub(crate) fn record_status(&self, status: u16) {
        let counter = match status {
            400 => &self.bad_requests,
            401 => &self.unauthorized,
            403 => &self.forbidden,
            404 => &self.not_found,
            429 => &self.rate_limited,
            500..=599 => &self.server_errors,
            _ => return,
        };
        bump(counter);
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SimStats {
            requests: read(&self.requests),
            project_list_requests: read(&self.project_list_requests),
            project_get_requests: read(&self.project_get_requests),
            users_me_requests: read(&self.users_me_requests),
            export_requests: read(&self.export_requests),
            cells_requests: read(&self.cells_requests),
            other_requests: read(&self.other_requests),
            pages_served: read(&self.pages_served),
            bad_requests: read(&self.bad_requests),
            unauthorized: read(&self.unauthorized),
            forbidden: read(&self.forbidden),
            not_found: read(&self.not_found),
            rate_limited: read(&self.rate_limited),
            server_errors: read(&self.server_errors),
        }
    }
}
