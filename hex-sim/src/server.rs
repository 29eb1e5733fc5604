//! The HTTP side: routes, authentication, error bodies and fault injection.
//!
//! One middleware wraps every API route and does what Hex does for all of them: stamp an
//! `x-trace-id`, refuse a bad token with a plain-text 401, and render JSON errors in the
//! configured shape. Handlers stay small: they return an [`ApiError`] and the middleware turns it
//! into the body Hex would send, with the same trace id as the header.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;

mod lineage;

use crate::catalog::{Catalog, Filter, Position, Sort, SortKey};
use crate::cursor;
use crate::error::SimError;
use crate::faults::{ErrorShape, Faults, in_run};
use crate::model::Workspace;
use crate::stats::{Counters, EndpointStats, ProjectRequests, SimStats, StatsBody, bump};
use crate::timestamp::format_http_date;

/// Everything the simulator serves and how it misbehaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The bearer token every API request must carry.
    pub token: String,
    /// The workspace and its projects.
    pub workspace: Workspace,
    /// Injected faults; `Faults::default()` for a well-behaved server.
    pub faults: Faults,
}

impl SimConfig {
    /// The token the binary uses unless told otherwise.
    pub const DEFAULT_TOKEN: &str = "hxtp_sim_token";

    /// A well-behaved server for `workspace`, accepting [`Self::DEFAULT_TOKEN`].
    pub fn new(workspace: Workspace) -> SimConfig {
        SimConfig {
            token: Self::DEFAULT_TOKEN.to_owned(),
            workspace,
            faults: Faults::default(),
        }
    }
}

/// The id `/users/me` reports for the simulated API user.
const USER_ID: &str = "00000000-0000-4000-8000-00000000a11c";

/// What the malformed-page fault sends instead of JSON: what a misbehaving proxy might.
const MALFORMED_BODY: &str = "<html><head><title>502 Bad Gateway</title></head><body>upstream sent an invalid response</body></html>";

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A simulator ready to serve: the workspace already serialized and indexed.
///
/// Building one does all the startup work (about a second for 100k projects in a release
/// build), so that serving starts fast and [`Simulator::stats`] can be read from outside.
#[derive(Debug, Clone)]
pub struct Simulator {
    state: Arc<AppState>,
}

#[derive(Debug)]
struct AppState {
    token: String,
    workspace_id: String,
    workspace_name: String,
    project_count: usize,
    catalog: Catalog,
    lineage: lineage::LineageIndex,
    faults: Faults,
    counters: Counters,
    traces: AtomicU64,
    window: Mutex<RateWindow>,
}

/// The fixed window of `rate_limit_per_minute`.
#[derive(Debug, Default)]
struct RateWindow {
    started: Option<Instant>,
    count: u32,
}

const MINUTE: Duration = Duration::from_secs(60);

impl Simulator {
    /// Validates the faults and prepares the workspace for serving.
    pub fn new(config: SimConfig) -> Result<Simulator, SimError> {
        config.faults.validate()?;
        let Workspace {
            id,
            name,
            projects,
            lineage,
        } = config.workspace;
        let project_count = projects.len();
        let lineage = lineage::LineageIndex::new(lineage, &projects);
        let state = AppState {
            token: config.token,
            workspace_id: id,
            workspace_name: name,
            project_count,
            catalog: Catalog::new(projects)?,
            lineage,
            faults: config.faults,
            counters: Counters::default(),
            traces: AtomicU64::new(0),
            window: Mutex::new(RateWindow::default()),
        };
        Ok(Simulator {
            state: Arc::new(state),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.state.counters.snapshot()
    }

    /// The lineage endpoints' counters so far.
    pub fn endpoint_stats(&self) -> EndpointStats {
        self.state.counters.endpoint_snapshot()
    }

    /// The requests about one project so far (all zero for a project never asked about).
    pub fn project_requests(&self, project_id: &str) -> ProjectRequests {
        self.state.counters.project(project_id)
    }

    /// How many projects the workspace holds, whatever their visibility.
    pub fn project_count(&self) -> usize {
        self.state.project_count
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
            .route("/api/v1/projects", get(list_projects))
            .route("/api/v1/projects/export", post(lineage::export_project))
            .route("/api/v1/projects/{id}", get(get_project))
            .route("/api/v1/projects/{id}/runs", get(lineage::list_runs))
            .route(
                "/api/v1/projects/{id}/queriedTables",
                get(lineage::list_queried_tables),
            )
            .route("/api/v1/users/me", get(users_me))
            .route("/api/v1/users", get(lineage::list_users))
            .route("/api/v1/groups", get(lineage::list_groups))
            .route("/api/v1/collections", get(lineage::list_collections))
            .route("/api/v1/cells", get(lineage::list_cells))
            .route(
                "/api/v1/data-connections",
                get(lineage::list_data_connections),
            )
            .route(
                "/api/v1/data-connections/{id}",
                get(lineage::get_data_connection),
            )
            .route("/__sim/stats", get(stats))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(self.state.clone(), gate))
            .with_state(self.state.clone())
    }
}

/// Builds a [`Simulator`] from `config` and serves on `listener` until the task is dropped.
///
/// The startup work runs on the calling task; for very large workspaces build the
/// [`Simulator`] first (or use [`crate::SimHandle`]) to keep it off the async runtime.
pub async fn serve(listener: TcpListener, config: SimConfig) -> Result<(), SimError> {
    Simulator::new(config)?
        .serve(listener, std::future::pending())
        .await
}

/// An error a handler reports; [`gate`] renders its body.
#[derive(Debug, Clone)]
struct ApiError {
    status: StatusCode,
    reason: &'static str,
    details: String,
    /// The query parameter at fault, for the `issues` of the code/message shape.
    param: Option<&'static str>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason,
            details: details.into(),
            param: None,
            retry_after: None,
        }
    }

    fn bad_param(param: &'static str, details: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param),
            ..ApiError::new(StatusCode::BAD_REQUEST, "Invalid request", details)
        }
    }

    fn rate_limited(retry_after: Option<u64>) -> ApiError {
        let details = "Too many requests: the API rate limit for this workspace was exceeded";
        ApiError {
            retry_after,
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded",
                details,
            )
        }
    }

    /// The `code` of the code/message shape: the status's reason phrase in upper snake case.
    fn code(&self) -> String {
        self.status
            .canonical_reason()
            .unwrap_or("ERROR")
            .to_ascii_uppercase()
            .replace([' ', '-'], "_")
    }

    fn render(&self, shape: ErrorShape, trace_id: &str) -> String {
        let body = match shape {
            ErrorShape::ReasonDetails => {
                json!({ "reason": self.reason, "details": self.details, "traceId": trace_id })
            }
            ErrorShape::CodeMessage => {
                let issues: Vec<Value> = self
                    .param
                    .map(|param| json!({ "path": [param], "message": self.details }))
                    .into_iter()
                    .collect();
                json!({ "code": self.code(), "message": self.details, "issues": issues })
            }
        };
        body.to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The trace id of the request being served, for handlers whose bodies repeat it.
#[derive(Debug, Clone)]
struct TraceId(String);

/// The middleware around every route: trace id, counting, slowness, auth, and error bodies.
async fn gate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let trace_id = format!("sim-{:016x}", bump(&state.traces));
    request.extensions_mut().insert(TraceId(trace_id.clone()));
    let mut response = if request.uri().path().starts_with("/__sim/") {
        // The simulator's own endpoints: no auth, no faults, not counted.
        next.run(request).await
    } else {
        bump(&state.counters.requests);
        if state.faults.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(state.faults.delay_ms)).await;
        }
        let mut response = if !state.authorized(request.headers()) {
            // Hex answers a bad token in plain text, not JSON.
            let text_plain = HeaderValue::from_static("text/plain; charset=utf-8");
            (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, text_plain)],
                "Unauthorized",
            )
                .into_response()
        } else if let Some(scope) = &state.faults.forbidden {
            let details = format!("Token is missing required scope: {scope}");
            ApiError::new(StatusCode::FORBIDDEN, "Forbidden", details).into_response()
        } else {
            next.run(request).await
        };
        if let Some(error) = response.extensions_mut().remove::<ApiError>() {
            *response.body_mut() = Body::from(error.render(state.faults.error_shape, &trace_id));
            response.headers_mut().insert(header::CONTENT_TYPE, JSON);
            if let (Some(seconds), true) = (error.retry_after, state.faults.retry_after_http_date)
                && let Ok(date) = HeaderValue::from_str(&http_date_in(seconds))
            {
                response.headers_mut().insert(header::RETRY_AFTER, date);
            }
        }
        state.counters.record_status(response.status().as_u16());
        response
    };
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert("x-trace-id", value);
    }
    response
}

/// The HTTP date `seconds` from now, to the second (rounded down, as the format cannot say more).
fn http_date_in(seconds: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(Duration::from_secs(seconds));
    format_http_date(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
}

impl AppState {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
        else {
            return false;
        };
        value.split_once(' ').is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token == self.token
        })
    }

    /// Answers list request `number` with a fault, if one is due.
    fn list_request_fault(&self, number: u64) -> Result<(), ApiError> {
        if let Some(burst) = self.faults.rate_limit_burst
            && in_run(number, burst.start_at, burst.count)
        {
            return Err(ApiError::rate_limited(
                burst.retry_after_secs.map(u64::from),
            ));
        }
        if let Some(burst) = self.faults.server_errors
            && in_run(number, burst.start_at, burst.count)
        {
            // Validated at startup to be an error status.
            let status =
                StatusCode::from_u16(burst.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let details = format!("Simulated upstream failure on request {number}");
            return Err(ApiError::new(
                status,
                status.canonical_reason().unwrap_or("Server error"),
                details,
            ));
        }
        if let Some(limit) = self.faults.rate_limit_per_minute
            && let Some(reset_in) = self.over_rate_limit(limit)
        {
            return Err(ApiError::rate_limited(
                self.faults.retry_after.then_some(reset_in),
            ));
        }
        Ok(())
    }

    /// Counts a request in the current fixed window; when it is over `limit`, the whole seconds
    /// until the window resets.
    fn over_rate_limit(&self, limit: u32) -> Option<u64> {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let started = *window.started.get_or_insert(now);
        let started = if now.duration_since(started) >= MINUTE {
            *window = RateWindow {
                started: Some(now),
                count: 0,
            };
            now
        } else {
            started
        };
        window.count = window.count.saturating_add(1);
        (window.count > limit).then(|| {
            let left = MINUTE.saturating_sub(now.duration_since(started));
            left.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// The query of `GET /projects`.
#[derive(Debug)]
struct ListQuery {
    limit: usize,
    position: Position,
    filter: Filter,
    sort: Sort,
    include_sharing: bool,
}

impl ListQuery {
    fn parse(query: &str) -> Result<ListQuery, ApiError> {
        let mut list = ListQuery {
            limit: 25,
            position: Position::First,
            filter: Filter::default(),
            sort: Sort::default(),
            include_sharing: false,
        };
        let (mut after, mut before) = (None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "limit" => list.limit = parse_limit(&value)?,
                // An empty cursor is the same as none: some clients send `after=` on the first page.
                "after" => after = Some(value).filter(|value| !value.is_empty()),
                "before" => before = Some(value).filter(|value| !value.is_empty()),
                "includeArchived" => list.filter.archived = parse_bool("includeArchived", &value)?,
                "includeComponents" => {
                    list.filter.components = parse_bool("includeComponents", &value)?
                }
                "includeTrashed" => list.filter.trashed = parse_bool("includeTrashed", &value)?,
                "includeSharing" => list.include_sharing = parse_bool("includeSharing", &value)?,
                "sortBy" => {
                    list.sort.key = SortKey::parse(&value).ok_or_else(|| {
                        ApiError::bad_param(
                            "sortBy",
                            format!(
                                "sortBy must be CREATED_AT, LAST_EDITED_AT or LAST_PUBLISHED_AT, got {value:?}"
                            ),
                        )
                    })?
                }
                "sortDirection" => list.sort.descending = parse_direction(&value)?,
                // Hex's other filters are accepted and ignored.
                _ => {}
            }
        }
        let decode = |param, cursor: &str| {
            cursor::decode(cursor).ok_or_else(|| {
                ApiError::bad_param(param, format!("Invalid {param} cursor: {cursor}"))
            })
        };
        list.position = match (after, before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_param(
                    "after",
                    "Pass at most one of after and before",
                ));
            }
            (Some(after), None) => Position::After(decode("after", &after)?),
            (None, Some(before)) => Position::Before(decode("before", &before)?),
            (None, None) => Position::First,
        };
        Ok(list)
    }
}

fn parse_limit(value: &str) -> Result<usize, ApiError> {
    match value.parse::<i64>() {
        Ok(limit @ 1..=100) => Ok(limit as usize),
        _ => Err(ApiError::bad_param(
            "limit",
            format!("limit must be an integer from 1 to 100, got {value:?}"),
        )),
    }
}

/// `sortDirection`: whether the list is newest (or last by name) first.
fn parse_direction(value: &str) -> Result<bool, ApiError> {
    match value {
        "DESC" => Ok(true),
        "ASC" => Ok(false),
        _ => Err(ApiError::bad_param(
            "sortDirection",
            format!("sortDirection must be ASC or DESC, got {value:?}"),
        )),
    }
}

fn parse_bool(param: &'static str, value: &str) -> Result<bool, ApiError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ApiError::bad_param(
            param,
            format!("{param} must be true or false, got {value:?}"),
        ))
    }
}

fn json_response(body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, JSON)], body.into()).into_response()
}

/// `GET /projects`: a page of projects, or the fault due for this request or page.
async fn list_projects(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let number = bump(&state.counters.project_list_requests);
    state.list_request_fault(number)?;
    let query = ListQuery::parse(query.as_deref().unwrap_or_default())?;
    let page_number = bump(&state.counters.pages_served);
    let is_page = |fault: Option<u32>| fault.is_some_and(|fault| u64::from(fault) == page_number);

    let page = state
        .catalog
        .page(query.filter, query.sort, &query.position, query.limit);
    let after = if state.faults.repeat_cursor {
        Some(page.constant_cursor())
    } else {
        page.after()
    };
    let mut body = page.render(
        query.include_sharing,
        after.as_deref(),
        page.before().as_deref(),
    );

    if let Some(slow) = state.faults.slow_page
        && u64::from(slow.page) == page_number
    {
        tokio::time::sleep(Duration::from_millis(slow.delay_ms)).await;
    }
    if is_page(state.faults.malformed_page) {
        return Ok(json_response(MALFORMED_BODY));
    }
    if is_page(state.faults.truncated_page) {
        let mut cut = body.len() / 2;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
    }
    Ok(json_response(body))
}

/// `GET /projects/{id}`: one project, whatever its visibility.
async fn get_project(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.project_get_requests);
    let mut include_sharing = false;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        if key == "includeSharing" {
            include_sharing = parse_bool("includeSharing", &value)?;
        }
    }
    match state.catalog.project_json(&id, include_sharing) {
        Some(body) => Ok(json_response(body)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Not found",
            format!("Project {id} not found"),
        )),
    }
}

/// `GET /users/me`: the token's user, and the workspace as `org`.
async fn users_me(State(state): State<Arc<AppState>>) -> Response {
    bump(&state.counters.users_me_requests);
    let body = json!({
        "id": USER_ID,
        "name": "Hex Sim API User",
        "email": "api.user@acme-analytics.example",
        "org": { "id": state.workspace_id, "name": state.workspace_name },
    });
    json_response(body.to_string())
}

/// `GET /__sim/stats`: the counters, for clients in another process.
async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let body = StatsBody {
        stats: state.counters.snapshot(),
        endpoints: state.counters.endpoint_snapshot(),
    };
    json_response(serde_json::to_string(&body).unwrap_or_default())
}

/// Any other path.
async fn not_found(State(state): State<Arc<AppState>>, method: Method, uri: Uri) -> ApiError {
    bump(&state.counters.other_requests);
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("No such endpoint: {method} {}", uri.path()),
    )
}
