//! The Minidash API over HTTP: the three routes, the key check, paging, the knobs and the counts.
//!
//! Like the Hex server, one middleware wraps every route: it counts the request, checks the key
//! and stamps `X-Trace-Id` on every error. Unlike Hex, the workspace and the knobs can be replaced
//! while serving (behind a lock), so a test can change what the API holds between two runs
//! without moving it to another address.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;

use super::model::{Dashboard, Dataset, MinidashWorkspace};
use crate::error::SimError;
use crate::faults::{Faults, RateLimitBurst, ServerErrorBurst, in_run};
use crate::stats::bump;

/// What a Minidash simulator serves and how it misbehaves.
#[derive(Debug, Clone)]
pub struct MinidashConfig {
    /// The key every API request must carry as `X-Api-Key`.
    pub api_key: String,
    /// The datasets and dashboards.
    pub workspace: MinidashWorkspace,
    /// The knobs; `MinidashFaults::default()` for a well-behaved server.
    pub faults: MinidashFaults,
}

impl MinidashConfig {
    /// The key the binary accepts unless told otherwise.
    pub const DEFAULT_API_KEY: &str = "md_sim_key";

    /// A well-behaved server for `workspace`, accepting [`Self::DEFAULT_API_KEY`].
    pub fn new(workspace: MinidashWorkspace) -> MinidashConfig {
        MinidashConfig {
            api_key: Self::DEFAULT_API_KEY.to_owned(),
            workspace,
            faults: MinidashFaults::default(),
        }
    }
}

/// Misbehaviour on cue, by request number.
///
/// Requests are numbered from 1 over every request to the three API routes that carries the
/// right key (a 401 takes no number), counting the ones a knob answered: a retry is the next
/// request. Numbering starts when the server starts, and again at
/// [`MinidashServer::set_faults`]. When both knobs cover a request, the 429 wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinidashFaults {
    /// These requests are answered `429 {"error": "rate limited"}`, with `Retry-After` unless
    /// its seconds are `None`.
    pub rate_limit_burst: Option<RateLimitBurst>,
    /// These requests are answered with this error status (500 unless set otherwise).
    pub server_errors: Option<ServerErrorBurst>,
}

impl MinidashFaults {
    /// Answers request `number` (1-based) with 429 and `Retry-After: <retry_after_secs>`.
    pub fn rate_limit_on(self, number: u64, retry_after_secs: u32) -> MinidashFaults {
        MinidashFaults {
            rate_limit_burst: Some(RateLimitBurst {
                start_at: number,
                count: 1,
                retry_after_secs: Some(retry_after_secs),
            }),
            ..self
        }
    }

    /// Answers request `number` (1-based) with 500.
    pub fn server_error_on(self, number: u64) -> MinidashFaults {
        MinidashFaults {
            server_errors: Some(ServerErrorBurst {
                start_at: number,
                count: 1,
                status: 500,
            }),
            ..self
        }
    }

    /// Rejects knobs that cannot be served, naming them as the CLI spells them.
    fn validate(&self) -> Result<(), SimError> {
        Faults {
            rate_limit_burst: self.rate_limit_burst,
            server_errors: self.server_errors,
            ..Faults::default()
        }
        .validate()
    }
}

/// A snapshot of a Minidash simulator's counters.
///
/// `requests` and the status counts cover every request under `/api`; the route counts cover
/// requests with the right key, including those a knob answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinidashStats {
    /// Every API request.
    pub requests: u64,
    /// `GET /datasets`.
    pub dataset_list_requests: u64,
    /// `GET /dashboards`.
    pub dashboard_list_requests: u64,
    /// `GET /dashboards/{id}`, whether the dashboard exists or not.
    pub dashboard_get_requests: u64,
    /// Requests to paths or methods the API does not have.
    pub other_requests: u64,
    /// `GET /dashboards/{id}` per dashboard that exists (by its decoded id), so a test can tell
    /// which dashboards a connector fetched.
    pub dashboard_gets: BTreeMap<String, u64>,
    /// Responses with status 400.
    pub bad_requests: u64,
    /// Responses with status 401.
    pub unauthorized: u64,
    /// Responses with status 404.
    pub not_found: u64,
    /// Responses with status 429.
    pub rate_limited: u64,
    /// Responses with a 5xx status.
    pub server_errors: u64,
}

impl MinidashStats {
    /// The counts of `self` minus those of an earlier snapshot: what happened in between (a
    /// dashboard not fetched in between is left out of `dashboard_gets`).
    pub fn since(&self, earlier: &MinidashStats) -> MinidashStats {
        let dashboard_gets = self
            .dashboard_gets
            .iter()
            .filter_map(|(id, count)| {
                let before = earlier.dashboard_gets.get(id).copied().unwrap_or(0);
                (*count > before).then(|| (id.clone(), count - before))
            })
            .collect();
        MinidashStats {
            requests: self.requests - earlier.requests,
            dataset_list_requests: self.dataset_list_requests - earlier.dataset_list_requests,
            dashboard_list_requests: self.dashboard_list_requests - earlier.dashboard_list_requests,
            dashboard_get_requests: self.dashboard_get_requests - earlier.dashboard_get_requests,
            other_requests: self.other_requests - earlier.other_requests,
            dashboard_gets,
            bad_requests: self.bad_requests - earlier.bad_requests,
            unauthorized: self.unauthorized - earlier.unauthorized,
            not_found: self.not_found - earlier.not_found,
            rate_limited: self.rate_limited - earlier.rate_limited,
            server_errors: self.server_errors - earlier.server_errors,
        }
    }
}

/// The live counters behind [`MinidashStats`].
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    dataset_list_requests: AtomicU64,
    dashboard_list_requests: AtomicU64,
    dashboard_get_requests: AtomicU64,
    other_requests: AtomicU64,
    bad_requests: AtomicU64,
    unauthorized: AtomicU64,
    not_found: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    /// Only ids of dashboards that exist, so the map stays bounded.
    dashboard_gets: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn record_status(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            400 => &self.bad_requests,
            401 => &self.unauthorized,
            404 => &self.not_found,
            429 => &self.rate_limited,
            500..=599 => &self.server_errors,
            _ => return,
        };
        bump(counter);
    }

    fn snapshot(&self) -> MinidashStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MinidashStats {
            requests: read(&self.requests),
            dataset_list_requests: read(&self.dataset_list_requests),
            dashboard_list_requests: read(&self.dashboard_list_requests),
            dashboard_get_requests: read(&self.dashboard_get_requests),
            other_requests: read(&self.other_requests),
            dashboard_gets: self
                .dashboard_gets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            bad_requests: read(&self.bad_requests),
            unauthorized: read(&self.unauthorized),
            not_found: read(&self.not_found),
            rate_limited: read(&self.rate_limited),
            server_errors: read(&self.server_errors),
        }
    }
}

/// A Minidash API ready to serve, its workspace and knobs replaceable while it runs.
#[derive(Debug, Clone)]
pub struct MinidashServer {
    state: Arc<AppState>,
}

#[derive(Debug)]
struct AppState {
    api_key: String,
    workspace: RwLock<Arc<Served>>,
    knobs: Mutex<Knobs>,
    counters: Counters,
    traces: AtomicU64,
}

/// The faults and the number of the last request they have seen.
#[derive(Debug)]
struct Knobs {
    faults: MinidashFaults,
    numbered: u64,
}

/// A workspace as served: both listings sorted by id, which is the paging order.
#[derive(Debug)]
struct Served {
    datasets: Vec<Dataset>,
    dashboards: Vec<Dashboard>,
}

impl Served {
    fn new(mut workspace: MinidashWorkspace) -> Result<Served, SimError> {
        if let Some(reason) = workspace.duplicate_id() {
            return Err(SimError::InvalidMinidashWorkspace {
                fixture: None,
                reason,
            });
        }
        workspace.datasets.sort_by(|a, b| a.id.cmp(&b.id));
        workspace.dashboards.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Served {
            datasets: workspace.datasets,
            dashboards: workspace.dashboards,
        })
    }
}

impl MinidashServer {
    /// Checks the knobs and the workspace (no id twice in a listing) and prepares to serve.
    pub fn new(config: MinidashConfig) -> Result<MinidashServer, SimError> {
        config.faults.validate()?;
        let state = AppState {
            api_key: config.api_key,
            workspace: RwLock::new(Arc::new(Served::new(config.workspace)?)),
            knobs: Mutex::new(Knobs {
                faults: config.faults,
                numbered: 0,
            }),
            counters: Counters::default(),
            traces: AtomicU64::new(0),
        };
        Ok(MinidashServer {
            state: Arc::new(state),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> MinidashStats {
        self.state.counters.snapshot()
    }

    /// Serves `workspace` from now on, at the same address and with the same counters; a
    /// request already being answered finishes with the old one. Refused, leaving the old
    /// workspace served, when an id is twice in one listing.
    pub fn replace(&self, workspace: MinidashWorkspace) -> Result<(), SimError> {
        let served = Arc::new(Served::new(workspace)?);
        *self
            .state
            .workspace
            .write()
            .unwrap_or_else(PoisonError::into_inner) = served;
        Ok(())
    }

    /// Uses `faults` from now on, numbering requests from 1 again.
    pub fn set_faults(&self, faults: MinidashFaults) -> Result<(), SimError> {
        faults.validate()?;
        *self
            .state
            .knobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Knobs {
            faults,
            numbered: 0,
        };
        Ok(())
    }

    /// How many datasets and dashboards the workspace being served holds.
    pub fn counts(&self) -> (usize, usize) {
        let served = self.state.served();
        (served.datasets.len(), served.dashboards.len())
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), SimError> {
        // Small responses on a keep-alive connection must not wait for Nagle's algorithm.
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| SimError::Serve { source })
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/api/datasets", get(list_datasets))
            .route("/api/dashboards", get(list_dashboards))
            .route("/api/dashboards/{id}", get(get_dashboard))
            .route("/__sim/stats", get(stats))
            .fallback(no_route)
            .method_not_allowed_fallback(not_allowed)
            .layer(middleware::from_fn_with_state(self.state.clone(), gate))
            .with_state(self.state.clone())
    }
}

impl AppState {
    fn served(&self) -> Arc<Served> {
        self.workspace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts a request to `route` and numbers it; the knob due for that number, if any.
    fn admit(&self, route: &AtomicU64) -> Result<(), ApiError> {
        bump(route);
        let mut knobs = self.knobs.lock().unwrap_or_else(PoisonError::into_inner);
        knobs.numbered += 1;
        let number = knobs.numbered;
        if let Some(burst) = knobs.faults.rate_limit_burst
            && in_run(number, burst.start_at, burst.count)
        {
            return Err(ApiError {
                retry_after: burst.retry_after_secs,
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limited")
            });
        }
        if let Some(burst) = knobs.faults.server_errors
            && in_run(number, burst.start_at, burst.count)
        {
            // Validated to be an error status.
            let status =
                StatusCode::from_u16(burst.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ApiError::new(
                status,
                format!("simulated failure of request {number}"),
            ));
        }
        Ok(())
    }
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// An error answer: `{"error": "<message>"}`, [`gate`] adds the trace id.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message }).to_string();
        let mut response = (self.status, [(header::CONTENT_TYPE, JSON)], body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The middleware around every route: counting, the key check, and the trace id of errors.
async fn gate(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__sim/") {
        // The simulator's own endpoints: no key, not counted.
        return next.run(request).await;
    }
    bump(&state.counters.requests);
    let authorized = request
        .headers()
        .get("x-api-key")
        .is_some_and(|key| key.as_bytes() == state.api_key.as_bytes());
    let mut response = if authorized {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid api key").into_response()
    };
    let status = response.status();
    state.counters.record_status(status);
    if status.is_client_error() || status.is_server_error() {
        let trace_id = format!("md-{:016x}", bump(&state.traces));
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            response.headers_mut().insert("x-trace-id", value);
        }
    }
    response
}

/// Which listing a cursor belongs to, so one listing's cursor is refused by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Datasets,
    Dashboards,
}

impl Listing {
    fn name(self) -> &'static str {
        match self {
            Listing::Datasets => "datasets",
            Listing::Dashboards => "dashboards",
        }
    }
}

/// The opaque cursor after the item `id`: base64url (unpadded) of `["<listing>","<id>"]`, a
/// keyset position, so it stays valid when items are added or removed between pages.
fn encode_cursor(listing: Listing, id: &str) -> String {
    // Serializing two strings cannot fail.
    let key = serde_json::to_string(&[listing.name(), id]).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(key)
}

/// The id a cursor points after, or `None` when it is not one this listing made.
fn decode_cursor(listing: Listing, cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let [name, id]: [String; 2] = serde_json::from_slice(&bytes).ok()?;
    (name == listing.name()).then_some(id)
}

/// A listing's query: the page size, and the id the page starts after.
struct PageQuery {
    limit: usize,
    after: Option<String>,
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

impl PageQuery {
    /// Reads `limit` and `cursor` (other parameters are ignored; a repeated one counts last).
    fn parse(listing: Listing, query: Option<&str>) -> Result<PageQuery, ApiError> {
        let mut page = PageQuery {
            limit: DEFAULT_LIMIT,
            after: None,
        };
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    page.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| ApiError::bad_request("limit must be between 1 and 200"))?;
                }
                "cursor" => {
                    // Only a cursor this listing made is known; the last page's `null` (or an
                    // empty string) means there is nothing to ask for, so `cursor=` is not one.
                    page.after = Some(
                        decode_cursor(listing, &value)
                            .ok_or_else(|| ApiError::bad_request("invalid cursor"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(page)
    }

    /// The page of `items` (sorted by id) and its `next_cursor`.
    fn page<'a, T>(
        &self,
        listing: Listing,
        items: &'a [T],
        id: impl Fn(&T) -> &str,
    ) -> (&'a [T], Option<String>) {
        let start = self
            .after
            .as_deref()
            .map_or(0, |after| items.partition_point(|item| id(item) <= after));
        let end = items.len().min(start + self.limit);
        let page = &items[start..end];
        let next = (end < items.len())
            .then(|| page.last().map(|item| encode_cursor(listing, id(item))))
            .flatten();
        (page, next)
    }
}

/// The listing form of a dashboard: everything but `dataset_ids`.
#[derive(Serialize)]
struct DashboardSummary<'a> {
    id: &'a str,
    title: &'a str,
    owner: Option<&'a str>,
    tags: &'a [String],
    updated_at: Option<&'a str>,
}

impl<'a> From<&'a Dashboard> for DashboardSummary<'a> {
    fn from(board: &'a Dashboard) -> Self {
        DashboardSummary {
            id: &board.id,
            title: &board.title,
            owner: board.owner.as_deref(),
            tags: &board.tags,
            updated_at: board.updated_at.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

fn json_response(body: &impl Serialize) -> Response {
    // The models hold strings, numbers and nulls only: serializing cannot fail.
    let body = serde_json::to_string(body).unwrap_or_default();
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}

/// `GET /datasets`.
async fn list_datasets(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state.admit(&state.counters.dataset_list_requests)?;
    let query = PageQuery::parse(Listing::Datasets, query.as_deref())?;
    let served = state.served();
    let (items, next_cursor) = query.page(Listing::Datasets, &served.datasets, |item| &item.id);
    Ok(json_response(&Page {
        items: items.iter().collect(),
        next_cursor,
    }))
}

/// `GET /dashboards`.
async fn list_dashboards(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state.admit(&state.counters.dashboard_list_requests)?;
    let query = PageQuery::parse(Listing::Dashboards, query.as_deref())?;
    let served = state.served();
    let (items, next_cursor) = query.page(Listing::Dashboards, &served.dashboards, |item| &item.id);
    Ok(json_response(&Page {
        items: items.iter().map(DashboardSummary::from).collect(),
        next_cursor,
    }))
}

/// `GET /dashboards/{id}`: the id arrives percent-decoded (`x%2F1` is `x/1`).
async fn get_dashboard(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    state.admit(&state.counters.dashboard_get_requests)?;
    let no_such = || ApiError::new(StatusCode::NOT_FOUND, "no such dashboard");
    // A segment that does not decode to UTF-8 names no dashboard.
    let Path(id) = id.map_err(|_| no_such())?;
    let served = state.served();
    let found = served
        .dashboards
        .binary_search_by(|board| board.id.as_str().cmp(&id))
        .map_err(|_| no_such())?;
    *state
        .counters
        .dashboard_gets
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(id)
        .or_default() += 1;
    Ok(json_response(&served.dashboards[found]))
}

/// `GET /__sim/stats`: the counters, for clients in another process.
async fn stats(State(state): State<Arc<AppState>>) -> Response {
    json_response(&state.counters.snapshot())
}

/// Any other path.
async fn no_route(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> ApiError {
    bump(&state.counters.other_requests);
    let message = format!("no such route: {method} {}", uri.path());
    ApiError::new(StatusCode::NOT_FOUND, message)
}

/// A route with a method other than `GET`.
async fn not_allowed(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> ApiError {
    bump(&state.counters.other_requests);
    let message = format!("{method} is not allowed on {}", uri.path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_one_listing() {
        let cursor = encode_cursor(Listing::Datasets, "x/1");
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            decode_cursor(Listing::Datasets, &cursor).as_deref(),
            Some("x/1")
        );
        assert_eq!(decode_cursor(Listing::Dashboards, &cursor), None);
        assert_eq!(decode_cursor(Listing::Datasets, ""), None);
        assert_eq!(decode_cursor(Listing::Datasets, "ZHNfMQ"), None);
    }
}
