//! The connector's two operations, `check` and `discover`.
//!
//! `discover` asks for the first page of projects before anything else, so that a bad token or
//! a missing scope fails the run on its first request; then, when no workspace id is set, learns
//! it from `GET /users/me` for links; lists the data connections; pages through the projects in
//! a stable order (oldest first, so edits during the listing cannot skip or repeat one), each
//! with its lineage; and emits the data connections and, last, the workspace, which carries the
//! count of what was emitted.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use euno_connector_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::connections::Connection;
use crate::lineage::{Lineage, Mode};
use crate::mapping::{MappingContext, map_project, workspace_resource};
use crate::model::{Pagination, Project, ProjectList};
use crate::settings::{DEFAULT_BASE_URL, Settings};

/// Checks that the Hex API at the configured base URL answers and that the token can list
/// projects, with one request (plus retries). Returns a line for a person.
pub fn check(config: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
    let settings = Settings::read(config)?;
    let base = &settings.base_url;
    let what = "GET /projects?limit=1";
    let response = cx
        .http()
        .send(Request::get("/projects").query("limit", 1).kind("projects"))?;
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(body) if body.get("values").is_some_and(Value::is_array) => Ok(format!(
            "Hex API reachable at {base}; the token can list projects"
        )),
        Ok(_) => Err(ConnectorError::malformed(format!(
            "{what} at {base} answered JSON without a `values` list, so it is not the Hex API; \
             check base_url (the default is {DEFAULT_BASE_URL})"
        ))),
        Err(error) => Err(ConnectorError::malformed(format!(
            "{what} at {base} is not valid JSON: {error}; check base_url (the default is \
             {DEFAULT_BASE_URL})"
        ))),
    }
}

/// Discovers the workspace, its data connections and every project (and, when configured,
/// component, archived and trashed project) with its lineage.
pub fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
    let settings = Settings::read(config)?;
    let mut mapping = MappingContext::new(&settings, run.started_at());
    cx.info(&format!(
        "listing Hex projects at {} ({} per page, {}; lineage: {})",
        settings.base_url,
        settings.page_size,
        match settings.requests_per_minute {
            0 => "no client-side throttle".to_owned(),
            rpm => format!("at most {rpm} requests per minute"),
        },
        match settings.lineage {
            Mode::Off => "off",
            Mode::Changed => "projects changed since the last run",
            Mode::All => "every project",
        }
    ));
    let mut first = Request::get("/projects")
        .query("limit", settings.page_size)
        .query("includeSharing", true)
        .query("sortBy", "CREATED_AT")
        .query("sortDirection", "ASC")
        .kind("projects");
    for (wanted, parameter) in [
        (settings.include_components, "includeComponents"),
        (settings.include_archived, "includeArchived"),
        (settings.include_trashed, "includeTrashed"),
    ] {
        if wanted {
            first = first.query(parameter, true);
        }
    }
    let mut listing = pages(first, "after", |page: &ProjectList| {
        page.pagination.as_ref().and_then(|p| p.after.clone())
    });
    let mut page = listing.next(cx.http())?;

    if mapping.workspace_id.is_none() {
        mapping.workspace_id = workspace_id(cx)?;
    }
    let connections = data_connections(cx)?;
    // The relations a checkpoint vouches for name the workspace's URI: another one, another
    // checkpoint.
    let scope = mapping.workspace_uri.clone();
    let mut lineage = Lineage::new(settings.lineage, &scope, connections.clone(), run, cx);

    // Each URI emitted, with the id of its project when that id is not its own lowercase form.
    // URIs are lowercase, so two ids that differ only in case share one: the id kept here tells
    // such a pair from one project listed twice. Hex ids are lowercase UUIDs, so nearly every
    // value is `None` and the map costs little more than a set.
    let mut seen_uris: HashMap<String, Option<String>> = HashMap::new();
    let mut projects: u64 = 0;
    while let Some(list) = page {
        let number = listing.pages();
        let Some(values) = list.values else {
            return Err(ConnectorError::malformed(format!(
                "page {number} of GET /projects has no `values` list of projects"
            )));
        };
        for raw in &values {
            let mut warnings = Vec::new();
            let project = Project::read(raw, &mut warnings);
            for warning in &warnings {
                cx.warn(warning);
            }
            let Some(project) = project else {
                cx.warn(&format!(
                    "page {number} of GET /projects has a project without an id; skipped it"
                ));
                continue;
            };
            // A project created or moved while the listing runs can show up on two pages; the
            // host wants each URI once.
            let uri = mapping.project_uri(&project.id);
            let id = project.id.as_str();
            match seen_uris.entry(uri.clone()) {
                Entry::Vacant(entry) => {
                    let lowercase = id.to_lowercase();
                    entry.insert((lowercase != id).then(|| id.to_owned()));
                }
                Entry::Occupied(entry) => {
                    // Equal URIs mean equal lowercase ids: a first id stored as `None` was that.
                    let first = entry.get().clone().unwrap_or_else(|| id.to_lowercase());
                    if first == id {
                        cx.debug(&format!(
                            "{uri} appeared again on page {number}; kept the first"
                        ));
                    } else {
                        cx.warn(&format!(
                            "projects `{first}` and `{id}` have ids that differ only in case, so \
                             both map to {uri}; kept `{first}`, skipped `{id}`"
                        ));
                    }
                    continue;
                }
            }
            let found = lineage.project(cx, &project, raw, &mapping)?;
            let mut resource = map_project(&project, &mapping, found.last_run.as_ref());
            resource = match found.relations {
                Some(relations) => relations.into_iter().fold(resource, |r, relation| {
                    r.relation(&relation.kind, relation.target)
                }),
                None => resource.relations_unchanged(),
            };
            projects += 1;
            cx.emit(resource);
        }
        // Each page reaches the host once read, not a thousand resources later: `runs` and
        // `status` show a run's progress page by page, as they did before the SDK batched.
        cx.flush();
        cx.debug(&format!(
            "page {number}: {} projects, {projects} resources so far",
            values.len()
        ));
        page = listing.next(cx.http())?;
    }

    for connection in connections.iter().flatten() {
        let resource = connection.resource(&mapping);
        if seen_uris.contains_key(&resource.uri) {
            cx.warn(&format!(
                "the data connection {} has the id of a project, so both map to {}; kept the \
                 project",
                connection.id, resource.uri
            ));
            continue;
        }
        cx.emit(resource);
    }
    cx.emit(workspace_resource(&mapping, projects));
    lineage.finish(cx);
    let counts: Vec<String> = cx
        .http()
        .request_counts()
        .iter()
        .map(|count| format!("{} {}", count.kind, count.count))
        .collect();
    let requests = cx.http().requests();
    cx.info(&format!(
        "discovered {projects} Hex projects and components and {} data connections in \
         workspace {} ({} pages; {requests} requests: {})",
        connections.as_ref().map_or(0, Vec::len),
        mapping.workspace_uri,
        listing.pages(),
        counts.join(", ")
    ));
    Ok(())
}

/// `GET /users/me`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Me {
    org: Option<Org>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Org {
    id: Option<String>,
}

/// The workspace id from `GET /users/me` (`org.id`), for links when the source sets none, as
/// DataHub learns it. A token that may not read users (or a workspace token, which some Hex
/// deployments answer with a 500) only costs the links.
fn workspace_id(cx: &mut Context) -> Result<Option<String>, ConnectorError> {
    let request = Request::get("/users/me").kind("users-me");
    let id = match cx.http().json::<Me>(request) {
        Ok(me) => me.org.and_then(|org| org.id),
        Err(
            error @ (ConnectorError::Unauthorized(_)
            | ConnectorError::RateLimited(_)
            | ConnectorError::Network(_)),
        ) => return Err(error),
        Err(error) => {
            cx.warn(&format!(
                "workspace_id is not set and the workspace id cannot be learned ({}): projects \
                 get no links; set workspace_id to have them",
                crate::lineage::describe(&error)
            ));
            return Ok(None);
        }
    };
    match id {
        Some(id)
            if !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            cx.info(&format!(
                "workspace_id is not set: links use the workspace id `{id}` that GET /users/me \
                 reports"
            ));
            Ok(Some(id))
        }
        _ => {
            cx.warn(
                "workspace_id is not set and GET /users/me reports no usable workspace id: \
                 projects get no links; set workspace_id to have them",
            );
            Ok(None)
        }
    }
}

/// One page of `GET /data-connections`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectionList {
    values: Vec<Value>,
    pagination: Option<Pagination>,
}

/// The workspace's data connections, oldest first; `None` when the token may not list them.
fn data_connections(cx: &mut Context) -> Result<Option<Vec<Connection>>, ConnectorError> {
    let first = Request::get("/data-connections")
        .query("limit", 100)
        .query("sortBy", "CREATED_AT")
        .query("sortDirection", "ASC")
        .kind("data-connections");
    let mut listing = pages(first, "after", |page: &ConnectionList| {
        page.pagination.as_ref().and_then(|p| p.after.clone())
    });
    let mut connections = Vec::new();
    loop {
        match listing.next(cx.http()) {
            Ok(Some(page)) => {
                for value in &page.values {
                    match Connection::read(value) {
                        Some(connection) => connections.push(connection),
                        None => cx.warn(&format!(
                            "page {} of GET /data-connections has a data connection without an \
                             id; skipped it",
                            listing.pages()
                        )),
                    }
                }
            }
            Ok(None) => return Ok(Some(connections)),
            Err(ConnectorError::Forbidden(message)) => {
                cx.warn(&format!(
                    "{message}. Without the data connections there are no hex_data_connection \
                     resources, and the tables projects read cannot be qualified"
                ));
                return Ok(None);
            }
            Err(error) => return Err(error),
        }
    }
}
