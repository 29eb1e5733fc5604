//! The connector's two operations, `check` and `discover`.
//!
//! `discover` pages through the project list, maps each project and emits it, and emits the
//! workspace last because it carries the count of what was emitted.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use euno_connector_sdk::prelude::*;

use crate::mapping::{MappingContext, map_project, workspace_resource};
use crate::model::{Project, ProjectList};
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
    match serde_json::from_slice::<serde_json::Value>(&response.body) {
        Ok(body) if body.get("values").is_some_and(serde_json::Value::is_array) => Ok(format!(
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

/// Discovers the workspace and every project (and, when configured, component, archived and
/// trashed project), and the workspace last.
pub fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
    let settings = Settings::read(config)?;
    let mapping = MappingContext::new(&settings, run.started_at());
    cx.info(&format!(
        "listing Hex projects at {} ({} per page, {})",
        settings.base_url,
        settings.page_size,
        match settings.requests_per_minute {
            0 => "no client-side throttle".to_owned(),
            rpm => format!("at most {rpm} requests per minute"),
        }
    ));
    let mut first = Request::get("/projects")
        .query("limit", settings.page_size)
        .query("includeSharing", true)
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
    // Each URI emitted, with the id of its project when that id is not its own lowercase form.
    // URIs are lowercase, so two ids that differ only in case share one: the id kept here tells
    // such a pair from one project listed twice. Hex ids are lowercase UUIDs, so nearly every
    // value is `None` and the map costs little more than a set.
    let mut seen_uris: HashMap<String, Option<String>> = HashMap::new();
    let mut projects: u64 = 0;
    while let Some(page) = listing.next(cx.http())? {
        let number = listing.pages();
        let Some(values) = page.values else {
            return Err(ConnectorError::malformed(format!(
                "page {number} of GET /projects has no `values` list of projects"
            )));
        };
        let mut warnings = Vec::new();
        for raw in &values {
            let Some(project) = Project::read(raw, &mut warnings) else {
                warnings.push(format!(
                    "page {number} of GET /projects has a project without an id; skipped it"
                ));
                continue;
            };
            let resource = map_project(&project, &mapping, None);
            // A project created or moved while the listing runs can show up on two pages; the
            // host wants each URI once.
            let id = project.id.as_str();
            match seen_uris.entry(resource.uri.clone()) {
                Entry::Vacant(entry) => {
                    let lowercase = id.to_lowercase();
                    entry.insert((lowercase != id).then(|| id.to_owned()));
                }
                Entry::Occupied(entry) => {
                    // Equal URIs mean equal lowercase ids: a first id stored as `None` was that.
                    let first = entry.get().clone().unwrap_or_else(|| id.to_lowercase());
                    if first == id {
                        cx.debug(&format!(
                            "{} appeared again on page {number}; kept the first",
                            resource.uri
                        ));
                    } else {
                        warnings.push(format!(
                            "projects `{first}` and `{id}` have ids that differ only in case, so \
                             both map to {}; kept `{first}`, skipped `{id}`",
                            resource.uri
                        ));
                    }
                    continue;
                }
            }
            projects += 1;
            cx.emit(resource);
        }
        for warning in &warnings {
            cx.warn(warning);
        }
        cx.debug(&format!(
            "page {number}: {} projects, {projects} resources so far",
            values.len()
        ));
    }
    cx.emit(workspace_resource(&mapping, projects));
    let requests = cx.http().requests();
    cx.info(&format!(
        "discovered {projects} Hex projects and components in workspace {} ({} pages, \
         {requests} requests)",
        mapping.workspace_uri,
        listing.pages(),
    ));
    Ok(())
}
