//! The connector's two operations, `check` and `discover`, as plain functions over the ports.
//!
//! `discover` pages through the project list, maps each page and emits it as one batch, reports
//! progress, and emits the workspace last because it carries the count of what was emitted.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::bindings::{ConfigEntry, ConnectorError, DiscoverSummary, LogLevel, RunContext};
use crate::client::{HexClient, ProjectPager};
use crate::config::HexConfig;
use crate::mapping::{MappingContext, map_project, workspace_resource};
use crate::ports::{Clock, Log, Sink, Transport};

/// Checks that the Hex API at the configured base URL answers and that the token can list
/// projects. Returns a line for a person.
pub fn check(
    config: &[ConfigEntry],
    transport: impl Transport,
    clock: impl Clock,
    log: &mut dyn Log,
) -> Result<String, ConnectorError> {
    let config = HexConfig::parse(config)?;
    let mut client = HexClient::new(config, transport, clock);
    client.check(log)?;
    Ok(format!(
        "Hex API reachable at {}; the token can list projects",
        client.base_url()
    ))
}

/// Discovers the workspace and every project (and, when configured, component, archived and
/// trashed project), emitting one batch per page and the workspace last.
pub fn discover<S: Sink>(
    config: &[ConfigEntry],
    context: &RunContext,
    transport: impl Transport,
    clock: impl Clock,
    sink: &mut S,
) -> Result<DiscoverSummary, ConnectorError> {
    let config = HexConfig::parse(config)?;
    let mapping = MappingContext::new(&config, context.started_at);
    sink.log(
        LogLevel::Info,
        &format!(
            "listing Hex projects at {} ({} per page, {})",
            config.base_url,
            config.page_size,
            match config.requests_per_minute {
                0 => "no client-side throttle".to_owned(),
                rpm => format!("at most {rpm} requests per minute"),
            }
        ),
    );
    let mut client = HexClient::new(config, transport, clock);
    let mut pager = ProjectPager::new();
    // Each URI emitted, with the id of its project when that id is not its own lowercase form.
    // URIs are lowercase, so two ids that differ only in case share one: the id kept here tells
    // such a pair from one project listed twice. Hex ids are lowercase UUIDs, so nearly every
    // value is `None` and the map costs little more than a set.
    let mut seen_uris: HashMap<String, Option<String>> = HashMap::new();
    let mut emitted: u64 = 0;
    // One page's body at a time; its projects borrow their text from it.
    let mut body = Vec::new();
    while let Some(projects) = client.next_project_page(&mut pager, sink, &mut body)? {
        let page = pager.pages();
        let mut warnings = Vec::new();
        let mut batch = Vec::with_capacity(projects.len());
        for project in &projects {
            let Some(resource) = map_project(project, &mapping, &mut warnings) else {
                warnings.push(format!(
                    "page {page} of GET /projects has a project without an id; skipped it"
                ));
                continue;
            };
            // A project created or moved while the listing runs can show up on two pages; the
            // host wants each URI once.
            let id = resource.native_id.as_deref().unwrap_or_default();
            match seen_uris.entry(resource.uri.clone()) {
                Entry::Vacant(entry) => {
                    let lowercase = id.to_lowercase();
                    entry.insert((lowercase != id).then(|| id.to_owned()));
                }
                Entry::Occupied(entry) => {
                    // Equal URIs mean equal lowercase ids: a first id stored as `None` was that.
                    let first = entry.get().clone().unwrap_or_else(|| id.to_lowercase());
                    if first == id {
                        sink.log(
                            LogLevel::Debug,
                            &format!(
                                "{} appeared again on page {page}; kept the first",
                                resource.uri
                            ),
                        );
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
            batch.push(resource);
        }
        for warning in &warnings {
            sink.log(LogLevel::Warn, warning);
        }
        sink.log(
            LogLevel::Debug,
            &format!(
                "page {page}: {} projects, {} new resources",
                projects.len(),
                batch.len()
            ),
        );
        if !batch.is_empty() {
            emitted += batch.len() as u64;
            sink.emit(batch);
        }
        sink.progress(emitted, None);
    }
    let project_count = emitted;
    sink.emit(vec![workspace_resource(&mapping, project_count)]);
    emitted += 1;
    sink.progress(emitted, Some(emitted));
    sink.log(
        LogLevel::Info,
        &format!(
            "discovered {project_count} Hex projects and components in workspace {} ({} pages, \
             {} requests)",
            mapping.workspace_uri,
            pager.pages(),
            client.requests()
        ),
    );
    Ok(DiscoverSummary {
        emitted,
        requests: client.requests(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::PropertyValue;
    use crate::testing::{
        FakeClock, ScriptedTransport, VecSink, entries, full_project_json, ok_json, response,
    };
    use serde_json::json;

    fn run_context() -> RunContext {
        RunContext {
            run_id: "run-1".to_owned(),
            source_name: "hex-prod".to_owned(),
            started_at: 1_725_148_800_000,
        }
    }

    #[test]
    fn discovers_pages_then_the_workspace() {
        let transport = ScriptedTransport::new(vec![
            ok_json(
                json!({"values": [full_project_json(), {"id": "P2", "title": "Two"}],
                           "pagination": {"after": "c1"}}),
            ),
            ok_json(json!({"values": [], "pagination": {"after": "c2"}})),
            ok_json(
                json!({"values": [{"id": "C3", "type": "COMPONENT"}, {"title": "no id"},
                                      {"id": "p2"}],
                           "pagination": {"after": null}}),
            ),
        ]);
        let mut sink = VecSink::default();
        let summary = discover(
            &entries(&[("workspace_id", "WS"), ("include_components", "true")]),
            &run_context(),
            transport.clone(),
            FakeClock::new(),
            &mut sink,
        )
        .expect("discovers");
        assert_eq!(
            summary,
            DiscoverSummary {
                emitted: 4,
                requests: 3
            }
        );
        let uris: Vec<Vec<&str>> = sink
            .batches
            .iter()
            .map(|batch| batch.iter().map(|r| r.uri.as_str()).collect())
            .collect();
        assert_eq!(
            uris,
            [
                vec!["hex.ws.0b7e3d4a-aaaa-4bbb-8ccc-0123456789ab", "hex.ws.p2"],
                vec!["hex.ws.c3"],
                vec!["hex.ws"],
            ]
        );
        assert_eq!(sink.batches[1][0].resource_type, "hex_component");
        let workspace = &sink.batches[2][0];
        assert_eq!(workspace.resource_type, "hex_workspace");
        let count = workspace
            .properties
            .iter()
            .find(|p| p.name == "project_count")
            .map(|p| p.value.clone());
        assert_eq!(count, Some(PropertyValue::Integer(3)));
        assert_eq!(
            sink.progress,
            [(2, None), (2, None), (3, None), (4, Some(4))]
        );
        let warnings = sink.logs_at(LogLevel::Warn);
        assert!(warnings.contains(
            &"page 3 of GET /projects has a project without an id; skipped it".to_owned()
        ));
        // `P2` and `p2` share a URI: the second is skipped, and said so.
        assert!(
            warnings.contains(
                &"projects `P2` and `p2` have ids that differ only in case, so both map to \
                  hex.ws.p2; kept `P2`, skipped `p2`"
                    .to_owned()
            ),
            "{warnings:?}"
        );
        assert!(transport.urls()[0].contains("includeComponents=true"));
    }

    #[test]
    fn an_empty_workspace_still_emits_the_workspace() {
        let mut sink = VecSink::default();
        let summary = discover(
            &[],
            &run_context(),
            ScriptedTransport::new(vec![ok_json(json!({"values": [], "pagination": null}))]),
            FakeClock::new(),
            &mut sink,
        )
        .expect("discovers");
        assert_eq!(summary.emitted, 1);
        assert_eq!(sink.batches.len(), 1);
        assert_eq!(sink.batches[0][0].uri, "hex.hex_workspace");
    }

    #[test]
    fn a_failing_page_fails_the_run_after_emitting_earlier_pages() {
        let mut sink = VecSink::default();
        let error = discover(
            &entries(&[("requests_per_minute", "0")]),
            &run_context(),
            ScriptedTransport::new(vec![
                ok_json(json!({"values": [{"id": "a"}], "pagination": {"after": "c"}})),
                Ok(response(200, &[], "{\"values\": [")),
            ]),
            FakeClock::new(),
            &mut sink,
        )
        .expect_err("fails");
        assert!(matches!(error, ConnectorError::MalformedResponse(m) if m.starts_with("page 2 ")));
        assert_eq!(
            sink.batches.len(),
            1,
            "no workspace is emitted for a failed run"
        );
    }

    #[test]
    fn bad_config_fails_before_any_request() {
        let transport = ScriptedTransport::new(vec![]);
        let error = discover(
            &entries(&[("page_size", "500")]),
            &run_context(),
            transport.clone(),
            FakeClock::new(),
            &mut VecSink::default(),
        )
        .expect_err("fails");
        assert!(matches!(error, ConnectorError::InvalidConfig(e) if e.field == "page_size"));
        assert!(transport.urls().is_empty());
    }

    #[test]
    fn a_project_listed_twice_is_kept_once_without_a_warning() {
        let mut sink = VecSink::default();
        let summary = discover(
            &entries(&[("requests_per_minute", "0")]),
            &run_context(),
            ScriptedTransport::new(vec![
                ok_json(
                    json!({"values": [{"id": "a"}, {"id": "B"}], "pagination": {"after": "c"}}),
                ),
                ok_json(
                    json!({"values": [{"id": "a"}, {"id": "B"}, {"id": "b"}, {"id": "A"}],
                               "pagination": null}),
                ),
            ]),
            FakeClock::new(),
            &mut sink,
        )
        .expect("discovers");
        assert_eq!(summary.emitted, 3, "a, B and the workspace");
        let warnings = sink.logs_at(LogLevel::Warn);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`B` and `b`"), "{warnings:?}");
        assert!(warnings[1].contains("`a` and `A`"), "{warnings:?}");
    }

    #[test]
    fn check_reports_the_base_url() {
        let transport = ScriptedTransport::new(vec![ok_json(json!({"values": []}))]);
        let message = check(
            &entries(&[("base_url", "https://hex.acme.com/api/v1/")]),
            transport.clone(),
            FakeClock::new(),
            &mut VecSink::default(),
        )
        .expect("reachable");
        assert_eq!(
            message,
            "Hex API reachable at https://hex.acme.com/api/v1; the token can list projects"
        );
        assert_eq!(
            transport.urls(),
            ["https://hex.acme.com/api/v1/projects?limit=1"]
        );
    }
}
