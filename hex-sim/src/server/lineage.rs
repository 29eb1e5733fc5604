//! The lineage endpoints: data connections, cells, runs, queried tables, the export, and the
//! workspace directory (collections, groups, users).
//!
//! These lists are short (a project's cells, a workspace's connections), so unlike `/projects`
//! nothing is serialized ahead: a synthetic project's content is even generated per request
//! (see [`Lineage::content`]), which keeps startup and memory what they were for the 100k-project
//! benchmarks. Cursor lists are keyset-paged like `/projects`: a cursor is the sort key of the
//! last item, in Hex's `v2:[...]` form.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{ApiError, AppState, TraceId, json_response, parse_direction, parse_limit};
use crate::catalog::Position;
use crate::cursor;
use crate::export::{self, ExportMeta};
use crate::faults::Scope;
use crate::lineage::{Cell, DataConnection, Lineage, ProjectContent};
use crate::model::{Field, Project};
use crate::stats::{PerProject, bump};

/// What DataHub's mock answers a workspace below Enterprise, in its own undocumented shape.
const NOT_ENTERPRISE: &str =
    "Querying project tables requires the workspace to be at least ENTERPRISE tier.";

/// The lineage data, prepared for serving.
#[derive(Debug)]
pub(super) struct LineageIndex {
    lineage: Lineage,
    /// What the export needs to know about each project and component; also which ids exist.
    projects: HashMap<Box<str>, ProjectFacts>,
    directory: Directory,
}

/// The few project fields the export repeats.
#[derive(Debug, Default)]
struct ProjectFacts {
    title: Option<Box<str>>,
    kind: Option<Box<str>>,
    description: Option<Box<str>>,
}

impl LineageIndex {
    /// Indexes `lineage` for the workspace's `projects` (read before the catalog takes them).
    pub(super) fn new(lineage: Lineage, projects: &[Project]) -> LineageIndex {
        let text = |field: &Field<String>| field.get().map(|text| text.as_str().into());
        let facts = projects
            .iter()
            .map(|project| {
                let facts = ProjectFacts {
                    title: text(&project.title),
                    kind: text(&project.kind),
                    description: text(&project.description),
                };
                (project.id.as_str().into(), facts)
            })
            .collect();
        LineageIndex {
            lineage,
            projects: facts,
            directory: Directory::of(projects),
        }
    }

    fn exists(&self, project_id: &str) -> bool {
        self.projects.contains_key(project_id)
    }

    /// The project's content, or a 404 naming it when there is no such project.
    fn content(&self, project_id: &str) -> Result<Option<ProjectContent>, ApiError> {
        if !self.exists(project_id) {
            return Err(project_not_found(project_id));
        }
        Ok(self
            .lineage
            .content(project_id)
            .map(std::borrow::Cow::into_owned))
    }
}

impl AppState {
    /// A 403 when the token lacks `scope` (the `missing_scopes` fault).
    fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.faults.missing_scopes.contains(&scope) {
            let details = format!("Token is missing required scope: {}", scope.permission());
            return Err(ApiError::new(StatusCode::FORBIDDEN, "Forbidden", details));
        }
        Ok(())
    }
}

fn project_not_found(project_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        format!("Project {project_id} not found"),
    )
}

/// The common query of a cursor-paged list.
#[derive(Debug)]
struct CursorQuery {
    limit: usize,
    position: Position,
    /// `sortBy`, when given.
    sort_by: Option<String>,
    descending: Option<bool>,
    /// Every other parameter, for the endpoint to read.
    rest: Vec<(String, String)>,
}

impl CursorQuery {
    fn parse(query: Option<&str>, max_limit: usize) -> Result<CursorQuery, ApiError> {
        let mut list = CursorQuery {
            limit: 25,
            position: Position::First,
            sort_by: None,
            descending: None,
            rest: Vec::new(),
        };
        let (mut after, mut before) = (None, None);
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" if max_limit == 100 => list.limit = parse_limit(&value)?,
                "limit" => list.limit = parse_wide_limit(&value, max_limit)?,
                "after" => after = Some(value.into_owned()).filter(|value| !value.is_empty()),
                "before" => before = Some(value.into_owned()).filter(|value| !value.is_empty()),
                "sortBy" => list.sort_by = Some(value.into_owned()),
                "sortDirection" => list.descending = Some(parse_direction(&value)?),
                _ => list.rest.push((key.into_owned(), value.into_owned())),
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

    fn param(&self, name: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The `sortBy` value among `allowed`, `allowed[0]` by default; a 400 otherwise.
    fn sort_by(&self, allowed: &[&'static str]) -> Result<&'static str, ApiError> {
        match &self.sort_by {
            None => Ok(allowed[0]),
            Some(value) => allowed
                .iter()
                .find(|name| **name == value.as_str())
                .copied()
                .ok_or_else(|| {
                    ApiError::bad_param(
                        "sortBy",
                        format!(
                            "sortBy must be one of {}, got {value:?}",
                            allowed.join(", ")
                        ),
                    )
                }),
        }
    }
}

/// `limit` for the lists that allow more than 100 (groups and users: 500).
fn parse_wide_limit(value: &str, max: usize) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
        _ => Err(ApiError::bad_param(
            "limit",
            format!("limit must be an integer from 1 to {max}, got {value:?}"),
        )),
    }
}

/// One item of a cursor list: its sort key, its id, and its JSON.
struct Item {
    sort: String,
    id: String,
    json: Value,
}

/// Sorts `items` by `(sort, id)` in the direction asked, and renders the page at `query`'s
/// position: `{"values": [...], "pagination": {"after", "before"}}`, plus `traceId` when given.
fn render_page(
    mut items: Vec<Item>,
    descending: bool,
    query: &CursorQuery,
    trace_id: Option<&str>,
) -> String {
    items.sort_by(|a, b| {
        let order = (&a.sort, &a.id).cmp(&(&b.sort, &b.id));
        if descending { order.reverse() } else { order }
    });
    // `precedes(item, cursor)`: whether the item comes strictly before the cursor in list order.
    let precedes = |item: &Item, key: (&str, &str)| {
        let item_key = (item.sort.as_str(), item.id.as_str());
        if descending {
            item_key > key
        } else {
            item_key < key
        }
    };
    let len = items.len();
    let (start, end) = match &query.position {
        Position::First => (0, query.limit.min(len)),
        Position::After(cursor) => {
            let key = cursor.key();
            let start = items.partition_point(|item| {
                precedes(item, key) || (item.sort.as_str(), item.id.as_str()) == key
            });
            (start, (start + query.limit).min(len))
        }
        Position::Before(cursor) => {
            let end = items.partition_point(|item| precedes(item, cursor.key()));
            (end.saturating_sub(query.limit), end)
        }
    };
    let cursor_of = |item: &Item| Value::from(cursor::encode(&item.sort, &item.id));
    let after = (end < len && end > start).then(|| cursor_of(&items[end - 1]));
    let before = (start > 0 && end > start).then(|| cursor_of(&items[start]));
    let values: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|item| item.json)
        .collect();
    let mut body = json!({
        "values": values,
        "pagination": { "after": after, "before": before },
    });
    if let Some(trace_id) = trace_id {
        body["traceId"] = Value::from(trace_id);
    }
    body.to_string()
}

/// A creation position as a sort key that orders like the number.
fn position_key(position: usize) -> String {
    format!("{position:08}")
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    // The model types hold only strings, numbers, booleans and JSON values: always serializable.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `GET /data-connections`: cursor-paged, `sortBy` CREATED_AT (default) or NAME.
pub(super) async fn list_data_connections(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.data_connection_list_requests);
    state.require(Scope::DataConnections)?;
    let query = CursorQuery::parse(query.as_deref(), 100)?;
    let by_name = query.sort_by(&["CREATED_AT", "NAME"])? == "NAME";
    let items = state
        .lineage
        .lineage
        .data_connections
        .iter()
        .enumerate()
        .map(|(at, connection)| Item {
            sort: if by_name {
                connection.name.get().cloned().unwrap_or_default()
            } else {
                position_key(at)
            },
            id: connection.id.clone(),
            json: to_json(connection),
        })
        .collect();
    Ok(json_response(render_page(
        items,
        query.descending.unwrap_or(true),
        &query,
        None,
    )))
}

/// `GET /data-connections/{id}`: one connection. Hex documents no 404 here; a client must
/// handle one anyway, and this is what it gets.
pub(super) async fn get_data_connection(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    bump(&state.counters.data_connection_get_requests);
    state.require(Scope::DataConnections)?;
    let connection: &DataConnection =
        state.lineage.lineage.data_connection(&id).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "Not found",
                format!("Data connection {id} not found"),
            )
        })?;
    Ok(json_response(to_json(connection).to_string()))
}

/// A cell as the cells API serves it: with `projectId`, without what only the export or the
/// ground truth knows.
fn served_cell(cell: &Cell, project_id: &str) -> Value {
    let mut json = to_json(cell);
    if let Value::Object(object) = &mut json {
        for hidden in ["component", "reads", "unparsable"] {
            object.remove(hidden);
        }
        object
            .entry("projectId")
            .or_insert_with(|| Value::from(project_id));
    }
    json
}

/// A stable uuid for a component cell inlined into an importer, so that each copy has its own
/// id (as Hex gives it) and the same bytes come back on every request.
fn inlined_id(import_id: &str, cell_id: &str) -> String {
    let hash = |salt: u64| {
        // FNV-1a: deterministic across builds, unlike std's hasher.
        let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ salt;
        for byte in import_id.bytes().chain([0]).chain(cell_id.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    };
    let high = (hash(1) & !0xF000) | 0x4000;
    let low = (hash(2) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// `GET /cells?projectId=`: the draft's cells, with each imported component's SQL cells inlined
/// after its import cell and unmarked, as DataHub reports Hex does.
pub(super) async fn list_cells(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.cells_requests);
    state.require(Scope::Cells)?;
    let query = CursorQuery::parse(query.as_deref(), 100)?;
    let project_id = query
        .param("projectId")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_param("projectId", "projectId is required"))?
        .to_owned();
    let content = state.lineage.content(&project_id)?;
    state
        .counters
        .record_project(&project_id, PerProject::Cells);

    let mut served = Vec::new();
    for cell in content.iter().flat_map(|content| &content.cells) {
        served.push(served_cell(cell, &project_id));
        let Some(component) = &cell.component else {
            continue;
        };
        let Some(imported) = state.lineage.lineage.content(&component.id) else {
            continue;
        };
        for inner in imported
            .cells
            .iter()
            .filter(|inner| inner.cell_type() == "SQL")
        {
            let mut json = served_cell(inner, &project_id);
            json["id"] = Value::from(inlined_id(&cell.id, &inner.id));
            if let Some(static_id) = inner.static_id.get() {
                json["staticId"] = Value::from(inlined_id(&cell.id, static_id));
            }
            json["projectId"] = Value::from(project_id.as_str());
            served.push(json);
        }
    }
    let items = served
        .into_iter()
        .enumerate()
        .map(|(at, json)| Item {
            sort: position_key(at),
            id: json["id"].as_str().unwrap_or_default().to_owned(),
            json,
        })
        .collect();
    Ok(json_response(render_page(items, false, &query, None)))
}

/// `GET /projects/{id}/runs`: newest first, paged by `limit` and `offset`, with `nextPage` and
/// `previousPage` URLs.
pub(super) async fn list_runs(
    State(state): State<Arc<AppState>>,
    Extension(trace): Extension<TraceId>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    bump(&state.counters.runs_requests);
    state.require(Scope::Runs)?;
    let (mut limit, mut offset) = (25, 0);
    let (mut status, mut trigger) = (None, None);
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "limit" => limit = parse_limit(&value)?,
            "offset" => {
                offset = value.parse::<usize>().map_err(|_| {
                    ApiError::bad_param(
                        "offset",
                        format!("offset must be a whole number, got {value:?}"),
                    )
                })?
            }
            "statusFilter" => status = Some(parse_run_status(&value)?),
            "runTriggerFilter" => trigger = parse_run_trigger(&value)?,
            _ => {}
        }
    }
    let content = state.lineage.content(&project_id)?;
    state.counters.record_project(&project_id, PerProject::Runs);

    let runs: Vec<Value> = content
        .as_ref()
        .map(ProjectContent::runs_newest_first)
        .unwrap_or_default()
        .into_iter()
        .filter(|run| status.is_none_or(|status| run.status.get().is_some_and(|s| s == status)))
        .filter(|run| {
            trigger.is_none_or(|trigger| run.run_trigger.get().is_some_and(|t| t == trigger))
        })
        .map(|run| {
            let mut json = to_json(run);
            if let Value::Object(object) = &mut json {
                object
                    .entry("projectId")
                    .or_insert_with(|| Value::from(project_id.as_str()));
            }
            json
        })
        .collect();
    let total = runs.len();
    let page: Vec<Value> = runs.into_iter().skip(offset).take(limit).collect();

    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    let filters: String = [("statusFilter", status), ("runTriggerFilter", trigger)]
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| format!("&{key}={value}")))
        .collect();
    let url = |offset: usize| {
        Value::from(format!(
            "http://{host}/api/v1/projects/{project_id}/runs?limit={limit}&offset={offset}{filters}"
        ))
    };
    let next = (offset + limit < total).then(|| url(offset + limit));
    let previous = (offset > 0).then(|| url(offset.saturating_sub(limit)));
    let body = json!({
        "runs": page,
        "nextPage": next,
        "previousPage": previous,
        "traceId": trace.0,
    });
    Ok(json_response(body.to_string()))
}

const RUN_STATUSES: &[&str] = &[
    "PENDING",
    "RUNNING",
    "ERRORED",
    "COMPLETED",
    "KILLED",
    "UNABLE_TO_ALLOCATE_KERNEL",
];

fn parse_run_status(value: &str) -> Result<&'static str, ApiError> {
    RUN_STATUSES
        .iter()
        .find(|status| **status == value)
        .copied()
        .ok_or_else(|| {
            ApiError::bad_param(
                "statusFilter",
                format!(
                    "statusFilter must be one of {}, got {value:?}",
                    RUN_STATUSES.join(", ")
                ),
            )
        })
}

/// `runTriggerFilter`: `None` for `ALL`.
fn parse_run_trigger(value: &str) -> Result<Option<&'static str>, ApiError> {
    match value {
        "ALL" => Ok(None),
        "API" => Ok(Some("API")),
        "SCHEDULED" => Ok(Some("SCHEDULED")),
        "APP_REFRESH" => Ok(Some("APP_REFRESH")),
        _ => Err(ApiError::bad_param(
            "runTriggerFilter",
            format!("runTriggerFilter must be API, SCHEDULED, APP_REFRESH or ALL, got {value:?}"),
        )),
    }
}

/// `GET /projects/{id}/queriedTables`: Enterprise only; below it, a 403 in DataHub's mock's shape.
pub(super) async fn list_queried_tables(
    State(state): State<Arc<AppState>>,
    Extension(trace): Extension<TraceId>,
    Path(project_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.queried_tables_requests);
    state.require(Scope::QueriedTables)?;
    if !state.lineage.lineage.enterprise {
        let body = json!({ "message": NOT_ENTERPRISE }).to_string();
        return Ok((
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, super::JSON)],
            body,
        )
            .into_response());
    }
    let query = CursorQuery::parse(query.as_deref(), 100)?;
    let content = state.lineage.content(&project_id)?;
    state
        .counters
        .record_project(&project_id, PerProject::QueriedTables);
    let items = content
        .iter()
        .flat_map(|content| &content.queried_tables)
        .enumerate()
        .map(|(at, table)| Item {
            sort: position_key(at),
            id: String::new(),
            json: to_json(table),
        })
        .collect();
    Ok(json_response(render_page(
        items,
        false,
        &query,
        Some(&trace.0),
    )))
}

/// `POST /projects/export` with `{"projectId", "version"}` (the project id may also come in the
/// query): `{"filename", "content"}`, the content being the project's YAML.
pub(super) async fn export_project(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    bump(&state.counters.export_requests);
    state.require(Scope::Export)?;
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                format!("Body is not JSON: {error}"),
            )
        })?
    };
    let from_query = form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "projectId")
        .map(|(_, value)| value.into_owned());
    let project_id = request
        .get("projectId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(from_query)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_param("projectId", "projectId is required"))?;
    let version = match request.get("version") {
        None | Some(Value::Null) => "draft".to_owned(),
        Some(Value::String(version)) if version == "draft" || version == "latest" => {
            version.clone()
        }
        Some(Value::Number(number)) if number.as_u64().is_some_and(|n| n >= 1) => {
            number.to_string()
        }
        Some(other) => {
            return Err(ApiError::bad_param(
                "version",
                format!("version must be \"draft\", \"latest\" or a number from 1, got {other}"),
            ));
        }
    };
    let content = state.lineage.content(&project_id)?;
    state
        .counters
        .record_project(&project_id, PerProject::Export);
    let facts = state
        .lineage
        .projects
        .get(project_id.as_str())
        .ok_or_else(|| project_not_found(&project_id))?;
    let meta = ExportMeta {
        project_id: &project_id,
        title: facts.title.as_deref(),
        hex_type: facts.kind.as_deref(),
        description: facts.description.as_deref(),
        version: &version,
    };
    let body = json!({
        "filename": export::filename(&meta),
        "content": export::content(&meta, content.as_ref()),
    });
    Ok(json_response(body.to_string()))
}

/// The workspace's collections, groups and users, as the projects' sharing and people reveal
/// them (the model has no directory of its own).
#[derive(Debug, Default)]
struct Directory {
    /// Collection name -> the access levels projects in it are shared with.
    collections: BTreeMap<String, Vec<String>>,
    groups: BTreeSet<String>,
    /// Email -> whether the person created or owns any project (editors) or is only shared with.
    users: BTreeMap<String, bool>,
    /// The earliest `createdAt` in the workspace, which groups report as theirs.
    epoch: String,
}

impl Directory {
    fn of(projects: &[Project]) -> Directory {
        let mut directory = Directory::default();
        let email = |person: &Field<crate::model::Person>| {
            person.get().and_then(|person| person.email.get().cloned())
        };
        for project in projects {
            for person in [&project.creator, &project.owner] {
                if let Some(email) = email(person) {
                    directory.users.insert(email, true);
                }
            }
            if let Some(created) = project.created_at.get()
                && (directory.epoch.is_empty() || *created < directory.epoch)
            {
                directory.epoch.clone_from(created);
            }
            let Some(sharing) = project.sharing.get() else {
                continue;
            };
            for collection in sharing.collections.get().into_iter().flatten() {
                if let Some(name) = collection
                    .collection
                    .get()
                    .and_then(|named| named.name.get())
                {
                    let access = collection.access.get().cloned().unwrap_or_default();
                    directory
                        .collections
                        .entry(name.clone())
                        .or_default()
                        .push(access);
                }
            }
            for group in sharing.groups.get().into_iter().flatten() {
                if let Some(name) = group.group.get().and_then(|named| named.name.get()) {
                    directory.groups.insert(name.clone());
                }
            }
            for user in sharing.users.get().into_iter().flatten() {
                if let Some(email) = email(&user.user) {
                    directory.users.entry(email).or_insert(false);
                }
            }
        }
        directory
    }
}

/// `GET /collections`: cursor-paged, `sortBy=NAME` only.
pub(super) async fn list_collections(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.collection_list_requests);
    let query = CursorQuery::parse(query.as_deref(), 100)?;
    query.sort_by(&["NAME"])?;
    let items = state
        .lineage
        .directory
        .collections
        .iter()
        .map(|(name, accesses)| {
            let id = inlined_id("collection", name);
            // The widest access any project in it is shared with stands for the collection's.
            let members = ["CAN_EDIT", "CAN_VIEW", "APP_ONLY"]
                .into_iter()
                .find(|level| accesses.iter().any(|access| access == level))
                .unwrap_or("NONE");
            Item {
                sort: name.clone(),
                id: id.clone(),
                json: json!({
                    "id": id,
                    "name": name,
                    "description": format!("Projects shared with the {name} collection"),
                    "sharing": {"users": [], "groups": [], "workspace": {"members": members}},
                }),
            }
        })
        .collect();
    Ok(json_response(render_page(
        items,
        query.descending.unwrap_or(false),
        &query,
        None,
    )))
}

/// `GET /groups`: cursor-paged up to 500, `sortBy` CREATED_AT or NAME.
pub(super) async fn list_groups(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.group_list_requests);
    state.require(Scope::Users)?;
    let query = CursorQuery::parse(query.as_deref(), 500)?;
    query.sort_by(&["CREATED_AT", "NAME"])?;
    let directory = &state.lineage.directory;
    let items = directory
        .groups
        .iter()
        .map(|name| {
            let id = inlined_id("group", name);
            Item {
                sort: name.clone(),
                id: id.clone(),
                json: json!({"id": id, "name": name, "createdAt": directory.epoch}),
            }
        })
        .collect();
    Ok(json_response(render_page(
        items,
        query.descending.unwrap_or(false),
        &query,
        None,
    )))
}

/// `ada.lovelace` -> `Ada`, `Lovelace`: a display name from an email's local part.
fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `GET /users`: cursor-paged up to 500, `sortBy` NAME or EMAIL.
pub(super) async fn list_users(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    bump(&state.counters.user_list_requests);
    state.require(Scope::Users)?;
    let query = CursorQuery::parse(query.as_deref(), 500)?;
    query.sort_by(&["NAME", "EMAIL"])?;
    let items = state
        .lineage
        .directory
        .users
        .iter()
        .map(|(email, editor)| {
            let id = inlined_id("user", email);
            let name = email
                .split('@')
                .next()
                .unwrap_or_default()
                .split('.')
                .map(capitalized)
                .collect::<Vec<_>>()
                .join(" ");
            let mut object = Map::new();
            object.insert("id".to_owned(), Value::from(id.as_str()));
            object.insert("name".to_owned(), Value::from(name));
            object.insert("email".to_owned(), Value::from(email.as_str()));
            object.insert(
                "role".to_owned(),
                Value::from(if *editor { "EDITOR" } else { "EXPLORER" }),
            );
            object.insert("lastLoginDate".to_owned(), Value::Null);
            Item {
                sort: email.clone(),
                id,
                json: Value::Object(object),
            }
        })
        .collect();
    Ok(json_response(render_page(
        items,
        query.descending.unwrap_or(false),
        &query,
        None,
    )))
}
