//! What the simulator has seen and sent, readable while it runs.
//!
//! Tests assert on these counts (how many requests did the connector make, how many 429s did it
//! absorb, how many cells calls did the second run make) and benchmarks report them;
//! `GET /__sim/stats` serves the same numbers to a client in another process: the fields of
//! [`SimStats`], plus [`EndpointStats`] under `endpoints`.

use std::collections::HashMap;
use std::sync::Mutex;
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

/// Requests to the lineage endpoints, which [`SimStats`] does not count one by one.
///
/// A separate type rather than more [`SimStats`] fields, because callers build `SimStats` values
/// field by field (the benchmarks' deltas). Like the [`SimStats`] endpoint counts, these cover
/// requests that passed authentication and the `forbidden` fault, whatever their status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// `GET /data-connections`.
    pub data_connection_list_requests: u64,
    /// `GET /data-connections/{id}`.
    pub data_connection_get_requests: u64,
    /// `GET /cells` (also in [`SimStats::cells_requests`]).
    pub cells_requests: u64,
    /// `GET /projects/{id}/runs`.
    pub runs_requests: u64,
    /// `GET /projects/{id}/queriedTables`, including the 403s of a workspace below Enterprise.
    pub queried_tables_requests: u64,
    /// `POST /projects/export` (also in [`SimStats::export_requests`]).
    pub export_requests: u64,
    /// `GET /collections`.
    pub collection_list_requests: u64,
    /// `GET /groups`.
    pub group_list_requests: u64,
    /// `GET /users`.
    pub user_list_requests: u64,
}

impl EndpointStats {
    /// The counts of `self` minus those of an earlier snapshot: what happened in between.
    pub fn since(&self, earlier: &EndpointStats) -> EndpointStats {
        EndpointStats {
            data_connection_list_requests: self.data_connection_list_requests
                - earlier.data_connection_list_requests,
            data_connection_get_requests: self.data_connection_get_requests
                - earlier.data_connection_get_requests,
            cells_requests: self.cells_requests - earlier.cells_requests,
            runs_requests: self.runs_requests - earlier.runs_requests,
            queried_tables_requests: self.queried_tables_requests - earlier.queried_tables_requests,
            export_requests: self.export_requests - earlier.export_requests,
            collection_list_requests: self.collection_list_requests
                - earlier.collection_list_requests,
            group_list_requests: self.group_list_requests - earlier.group_list_requests,
            user_list_requests: self.user_list_requests - earlier.user_list_requests,
        }
    }
}

/// The per-project requests one project received, so a test can tell which projects a
/// connector asked about (an incremental run should skip the unchanged ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRequests {
    /// `GET /cells?projectId=` for this project (each page counts).
    pub cells: u64,
    /// `GET /projects/{id}/runs`.
    pub runs: u64,
    /// `GET /projects/{id}/queriedTables`.
    pub queried_tables: u64,
    /// `POST /projects/export` for this project.
    pub export: u64,
}

/// Which per-project endpoint a request was for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PerProject {
    Cells,
    Runs,
    QueriedTables,
    Export,
}

/// The body of `GET /__sim/stats`.
#[derive(Debug, Serialize)]
pub(crate) struct StatsBody {
    #[serde(flatten)]
    pub(crate) stats: SimStats,
    pub(crate) endpoints: EndpointStats,
}

/// The live counters behind [`SimStats`] and [`EndpointStats`].
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
    pub(crate) data_connection_list_requests: AtomicU64,
    pub(crate) data_connection_get_requests: AtomicU64,
    pub(crate) runs_requests: AtomicU64,
    pub(crate) queried_tables_requests: AtomicU64,
    pub(crate) collection_list_requests: AtomicU64,
    pub(crate) group_list_requests: AtomicU64,
    pub(crate) user_list_requests: AtomicU64,
    /// Per project id; only ids of projects that exist are recorded, so the map stays bounded.
    pub(crate) per_project: Mutex<HashMap<String, ProjectRequests>>,
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

    /// Counts one request about a project that exists.
    pub(crate) fn record_project(&self, project_id: &str, endpoint: PerProject) {
        let mut map = self
            .per_project
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let requests = map.entry(project_id.to_owned()).or_default();
        let counter = match endpoint {
            PerProject::Cells => &mut requests.cells,
            PerProject::Runs => &mut requests.runs,
            PerProject::QueriedTables => &mut requests.queried_tables,
            PerProject::Export => &mut requests.export,
        };
        *counter += 1;
    }

    /// The requests about one project so far.
    pub(crate) fn project(&self, project_id: &str) -> ProjectRequests {
        self.per_project
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(project_id)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn endpoint_snapshot(&self) -> EndpointStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        EndpointStats {
            data_connection_list_requests: read(&self.data_connection_list_requests),
            data_connection_get_requests: read(&self.data_connection_get_requests),
            cells_requests: read(&self.cells_requests),
            runs_requests: read(&self.runs_requests),
            queried_tables_requests: read(&self.queried_tables_requests),
            export_requests: read(&self.export_requests),
            collection_list_requests: read(&self.collection_list_requests),
            group_list_requests: read(&self.group_list_requests),
            user_list_requests: read(&self.user_list_requests),
        }
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
