//! Lineage and depth (issue 16) against the simulator's ground truth: for every project of a
//! synthetic workspace, the connector's `reads`, `connects-to` and `uses` relations and its
//! last-run properties equal what `Workspace::expected_lineage` says a correct connector finds;
//! on a workspace below Enterprise (one 403 from the queried-tables endpoint, then no more
//! asking) and on an Enterprise one (its queried tables preferred); and a second run, after a
//! day of edits, asks only about what changed and still reaches the truth.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use euno_connector_sdk::testing::Harness;
use euno_connector_sdk::types::{LogLevel, PropertyValue, Relations};
use hex_connector::Hex;
use hex_sim::{Faults, Scope, SimHandle, Workspace};
use serde_json::json;

use crate::support::{hex, simulator};

/// What the connector reports for one project, in the ground truth's terms.
#[derive(Debug, Default, PartialEq, Eq)]
struct Found {
    reads: BTreeSet<String>,
    connects_to: BTreeSet<String>,
    uses: BTreeSet<String>,
    last_run_status: Option<String>,
    last_run_at: Option<i64>,
    last_run_duration_seconds: Option<i64>,
}

/// The workspace URI of a synthetic workspace discovered with its id set.
fn workspace_uri(workspace: &Workspace) -> String {
    format!("hex.{}", workspace.id.to_lowercase())
}

/// What the ground truth says the connector should find for `id`.
fn expected(workspace: &Workspace, id: &str) -> Found {
    let truth = workspace
        .expected_lineage(id)
        .expect("a project of the workspace");
    let under = |id: &String| format!("{}.{}", workspace_uri(workspace), id.to_lowercase());
    let run = truth.latest_run.as_ref();
    Found {
        reads: truth.tables.clone(),
        connects_to: truth.data_connections.iter().map(under).collect(),
        uses: truth.components.iter().map(under).collect(),
        last_run_status: run.and_then(|run| run.status.get().cloned()),
        last_run_at: run
            .and_then(|run| run.start_time.get())
            .map(|at| euno_connector_sdk::timestamp::parse_rfc3339(at).expect("RFC 3339")),
        last_run_duration_seconds: run
            .and_then(|run| run.elapsed_time.get())
            .map(|ms| (*ms as i64 + 500) / 1_000),
    }
}

/// What the last run reported for the project `id` (relations as the host resolves them).
fn found(harness: &Harness<Hex>, workspace: &Workspace, id: &str) -> Found {
    let uri = format!("{}.{}", workspace_uri(workspace), id.to_lowercase());
    let resource = harness
        .resource(&uri)
        .unwrap_or_else(|| panic!("{uri} was not emitted"));
    let mut found = Found::default();
    for relation in harness.relations(&uri) {
        let set = match relation.kind.as_str() {
            "reads" => &mut found.reads,
            "connects-to" => &mut found.connects_to,
            "uses" => &mut found.uses,
            other => panic!("{uri} has a relation of kind {other}"),
        };
        set.insert(relation.target);
    }
    for property in resource.properties {
        match (property.name.as_str(), property.value) {
            ("last_run_status", PropertyValue::Text(status)) => {
                found.last_run_status = Some(status);
            }
            ("last_run_at", PropertyValue::Timestamp(at)) => found.last_run_at = Some(at),
            ("last_run_duration_seconds", PropertyValue::Integer(s)) => {
                found.last_run_duration_seconds = Some(s);
            }
            _ => {}
        }
    }
    found
}

/// The connector against `sim` for every project of `workspace` (components, archived and
/// trashed ones included, so that each has a resource to compare).
fn everything(sim: &SimHandle, workspace: &Workspace) -> Harness<Hex> {
    let mut harness = hex(sim);
    harness
        .setting("workspace_id", workspace.id.as_str())
        .setting("include_components", true)
        .setting("include_archived", true)
        .setting("include_trashed", true);
    harness
}

/// Asserts that every project's lineage equals the ground truth; returns how many projects read
/// something, imported something and ran.
fn assert_truth(harness: &Harness<Hex>, workspace: &Workspace) -> (usize, usize, usize) {
    let (mut reading, mut importing, mut ran) = (0, 0, 0);
    for project in &workspace.projects {
        let want = expected(workspace, &project.id);
        let got = found(harness, workspace, &project.id);
        assert_eq!(got, want, "project {}", project.id);
        reading += usize::from(!want.reads.is_empty());
        importing += usize::from(!want.uses.is_empty());
        ran += usize::from(want.last_run_status.is_some());
    }
    (reading, importing, ran)
}

/// The unparsable-statement warnings of the last run.
fn unparsable(harness: &Harness<Hex>) -> Vec<String> {
    harness
        .logs_at(LogLevel::Warn)
        .into_iter()
        .filter(|line| line.contains("does not parse"))
        .collect()
}

fn by_kind(summary: &euno_connector_sdk::types::DiscoverSummary) -> Vec<(String, u32)> {
    summary
        .request_counts
        .iter()
        .map(|c| (c.kind.clone(), c.count))
        .collect()
}

#[test]
fn every_projects_lineage_and_last_run_match_the_ground_truth_below_enterprise() {
    let workspace = Workspace::synthetic(42, 300);
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = everything(&sim, &workspace);
    let summary = harness.discover().expect("discovers");
    let (reading, importing, ran) = assert_truth(&harness, &workspace);
    assert!(
        reading > 250 && importing > 10 && ran > 50,
        "{reading} {importing} {ran}"
    );

    // Every SQL statement that does not parse is one warning, naming project and cell.
    let truth: usize = workspace
        .projects
        .iter()
        .map(|p| workspace.expected_lineage(&p.id).unwrap().unparsable_cells)
        .sum();
    let warnings = unparsable(&harness);
    assert!(truth > 0);
    assert_eq!(warnings.len(), truth, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .all(|w| w.starts_with("Hex project ") && w.contains(": cell `")),
        "{warnings:#?}"
    );

    // Below Enterprise: the first published project's queried tables are a 403, and the
    // endpoint is not asked again this run.
    let stats = sim.endpoint_stats();
    assert_eq!(stats.queried_tables_requests, 1, "{stats:?}");
    let info = harness.logs_at(LogLevel::Info).join("\n");
    assert!(
        info.contains("requires the workspace to be at least ENTERPRISE"),
        "{info}"
    );
    // One export per project, one run request per published project, nothing else per project.
    let published = workspace
        .projects
        .iter()
        .filter(|p| p.last_published_at.get().is_some())
        .count() as u64;
    assert_eq!(stats.export_requests, workspace.projects.len() as u64);
    assert_eq!(stats.runs_requests, published);
    assert_eq!(stats.cells_requests, 0);
    let kinds: BTreeMap<String, u32> = by_kind(&summary).into_iter().collect();
    assert_eq!(kinds["export"], 300);
    assert_eq!(kinds["runs"] as u64, published);
    assert_eq!(kinds["queried-tables"], 1);
    assert_eq!(kinds["data-connections"], 1);
    assert!(!kinds.contains_key("users-me"), "the workspace id is set");
}

#[test]
fn an_enterprise_workspace_has_its_queried_tables_preferred_and_still_matches() {
    let mut workspace = Workspace::synthetic(43, 300);
    workspace.lineage.enterprise = true;
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = everything(&sim, &workspace);
    harness.discover().expect("discovers");
    assert_truth(&harness, &workspace);
    let mut asked = 0;
    for project in &workspace.projects {
        let requests = sim.project_requests(&project.id);
        let published = project.last_published_at.get().is_some();
        assert_eq!(requests.queried_tables > 0, published, "{}", project.id);
        asked += usize::from(published);
    }
    assert!(asked > 50);
    // Projects whose tables came from the endpoint: their SQL was not parsed, so a published
    // project's unparsable cell is no warning here.
    let parsed_unpublished: usize = workspace
        .projects
        .iter()
        .filter(|p| p.last_published_at.get().is_none())
        .map(|p| workspace.expected_lineage(&p.id).unwrap().unparsable_cells)
        .sum();
    assert!(unparsable(&harness).len() >= parsed_unpublished);
}

#[test]
fn a_second_run_asks_only_about_what_changed_and_still_matches() {
    let before = Workspace::synthetic(44, 300);
    let sim = simulator(before.clone(), Faults::default());
    let mut harness = everything(&sim, &before);
    harness.discover().expect("first run");
    drop(sim);

    let (after, edits) = before.edited_with_summary(7, 0.15);
    assert!(edits.edited.len() > 10 && !edits.published.is_empty());
    let sim = simulator(after.clone(), Faults::default());
    harness.setting("base_url", sim.base_url());
    let summary = harness.discover().expect("second run");
    assert_truth(&harness, &after);

    let edited: BTreeSet<&String> = edits.edited.iter().collect();
    let runs_changed: BTreeSet<&String> =
        edits.published.iter().chain(&edits.rescheduled).collect();
    let workspace_uri = workspace_uri(&after);
    for project in &after.projects {
        let requests = sim.project_requests(&project.id);
        let id = &project.id;
        assert_eq!(requests.export > 0, edited.contains(id), "export of {id}");
        let published = project.last_published_at.get().is_some();
        assert_eq!(
            requests.runs > 0,
            published && runs_changed.contains(id),
            "runs of {id}"
        );
        let uri = format!("{workspace_uri}.{}", id.to_lowercase());
        let relations = harness.resource(&uri).expect("emitted").relations;
        assert_eq!(
            relations == Relations::Unchanged,
            !edited.contains(id),
            "relations of {id}"
        );
    }
    let kinds: BTreeMap<String, u32> = by_kind(&summary).into_iter().collect();
    assert_eq!(kinds["export"] as usize, edits.edited.len());

    // Nothing changed since: no per-project request at all.
    let before_third = sim.endpoint_stats();
    harness.discover().expect("third run");
    assert_truth(&harness, &after);
    let third = sim.endpoint_stats().since(&before_third);
    assert_eq!(
        (
            third.export_requests,
            third.runs_requests,
            third.queried_tables_requests
        ),
        (0, 0, 0),
        "{third:?}"
    );
}

#[test]
fn lineage_all_asks_about_every_project_every_run_and_off_about_none() {
    let workspace = Workspace::synthetic(45, 60);
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = everything(&sim, &workspace);
    harness.setting("lineage", "all");
    harness.discover().expect("first run");
    let first = sim.endpoint_stats();
    harness.discover().expect("second run");
    let second = sim.endpoint_stats().since(&first);
    assert_eq!(second.export_requests, 60);
    assert_truth(&harness, &workspace);

    harness.setting("lineage", "off");
    let before = sim.endpoint_stats();
    harness.discover().expect("a run without lineage");
    let off = sim.endpoint_stats().since(&before);
    assert_eq!(
        (
            off.export_requests,
            off.runs_requests,
            off.queried_tables_requests,
            off.cells_requests
        ),
        (0, 0, 0, 0)
    );
    for resource in harness.resources() {
        assert_eq!(
            resource.relations,
            Relations::Set(Vec::new()),
            "{}",
            resource.uri
        );
    }
    // Back on: the checkpoint of the run without lineage vouches for nothing.
    harness.setting("lineage", "changed");
    harness.discover().expect("lineage again");
    assert_truth(&harness, &workspace);
}

#[test]
fn without_include_components_an_import_is_an_external_reference() {
    let workspace = Workspace::synthetic(42, 300);
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = hex(&sim);
    harness.setting("workspace_id", workspace.id.as_str());
    harness.discover().expect("discovers");
    let uris: BTreeSet<String> = harness.resources().into_iter().map(|r| r.uri).collect();
    let mut external = 0;
    for project in workspace
        .projects
        .iter()
        .filter(|p| !p.is_component() && !p.is_archived() && !p.is_trashed())
    {
        let want = expected(&workspace, &project.id);
        let got = found(&harness, &workspace, &project.id);
        assert_eq!(got.uses, want.uses, "{}", project.id);
        assert_eq!(
            got.reads, want.reads,
            "{}: a component's tables are its own",
            project.id
        );
        external += got.uses.iter().filter(|uri| !uris.contains(*uri)).count();
    }
    assert!(external > 10, "{external}");
    assert!(uris.iter().all(|uri| !uri.is_empty()));
}

#[test]
fn without_the_export_scope_lineage_comes_from_the_cells() {
    let workspace = Workspace::synthetic(42, 120);
    let sim = simulator(
        workspace.clone(),
        Faults {
            missing_scopes: vec![Scope::Export],
            ..Faults::default()
        },
    );
    let mut harness = everything(&sim, &workspace);
    harness.discover().expect("discovers");
    let stats = sim.endpoint_stats();
    assert_eq!(stats.export_requests, 1, "one 403, then no more exports");
    assert!(stats.cells_requests >= workspace.projects.len() as u64);
    let warnings = harness.logs_at(LogLevel::Warn);
    let about = warnings
        .iter()
        .filter(|w| w.contains("export:read") && w.contains("GET /cells"))
        .count();
    assert_eq!(about, 1, "{warnings:#?}");
    // The cells API cannot show imports, and inlines the components' SQL: projects without
    // imports still match the truth.
    let mut compared = 0;
    for project in &workspace.projects {
        let want = expected(&workspace, &project.id);
        if !want.uses.is_empty() {
            continue;
        }
        let got = found(&harness, &workspace, &project.id);
        assert_eq!(got.reads, want.reads, "{}", project.id);
        assert_eq!(got.connects_to, want.connects_to, "{}", project.id);
        compared += 1;
    }
    assert!(compared > 80, "{compared}");
}

#[test]
fn a_missing_runs_or_connections_scope_is_a_warning_and_the_run_goes_on() {
    let workspace = Workspace::synthetic(42, 80);
    let sim = simulator(
        workspace.clone(),
        Faults {
            missing_scopes: vec![Scope::Runs, Scope::DataConnections],
            ..Faults::default()
        },
    );
    let mut harness = everything(&sim, &workspace);
    harness.discover().expect("discovers");
    let stats = sim.endpoint_stats();
    assert_eq!(
        (stats.runs_requests, stats.data_connection_list_requests),
        (1, 1),
        "one 403 each"
    );
    let warnings = harness.logs_at(LogLevel::Warn).join("\n");
    assert!(warnings.contains("runs:read") && warnings.contains("data_connections:read"));
    assert!(
        harness
            .resources()
            .iter()
            .all(|r| r.resource_type != "hex_data_connection")
    );
    // What does not need them is still there: connections queried and components imported.
    for project in &workspace.projects {
        let want = expected(&workspace, &project.id);
        let got = found(&harness, &workspace, &project.id);
        assert_eq!(got.connects_to, want.connects_to, "{}", project.id);
        assert_eq!(got.uses, want.uses, "{}", project.id);
        assert_eq!(got.last_run_status, None);
    }

    // With the scopes back, the projects whose tables could not be qualified are read again,
    // and the rest keep what they had.
    drop(sim);
    let sim = simulator(workspace.clone(), Faults::default());
    harness.setting("base_url", sim.base_url());
    harness.discover().expect("discovers");
    assert_truth(&harness, &workspace);
    for project in &workspace.projects {
        let through_a_connection = !expected(&workspace, &project.id).connects_to.is_empty();
        let exported = sim.project_requests(&project.id).export > 0;
        assert_eq!(exported, through_a_connection, "{}", project.id);
    }
}

#[test]
fn data_connections_are_resources_under_the_workspace() {
    let workspace = Workspace::synthetic(42, 10);
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = hex(&sim);
    harness
        .setting("workspace_id", workspace.id.as_str())
        .setting("lineage", "off");
    harness.discover().expect("discovers");
    let connections: Vec<_> = harness
        .resources()
        .into_iter()
        .filter(|r| r.resource_type == "hex_data_connection")
        .collect();
    assert_eq!(connections.len(), workspace.lineage.data_connections.len());
    let workspace_uri = workspace_uri(&workspace);
    for (resource, connection) in connections.iter().zip(&workspace.lineage.data_connections) {
        assert_eq!(resource.uri, format!("{workspace_uri}.{}", connection.id));
        assert_eq!(resource.parent_uri.as_deref(), Some(workspace_uri.as_str()));
        let props = crate::support::properties(resource);
        let (database, schema) = connection.defaults();
        assert_eq!(
            props,
            json!({
                "name": connection.name.get(),
                "native_id": connection.id,
                "description": connection.description.get(),
                "connection_type": connection.kind(),
                "platform": connection.platform(),
                "database": database,
                "schema": schema,
                "external_links": [],
            }),
            "{}",
            connection.id
        );
    }
}

/// Requests and time of a first and a second run of `lineage = "changed"`, unthrottled, at
/// `size` projects; the second after a working day's edits (5% of the projects). Printed for
/// the benchmark table; asserted only for what must hold whatever the machine.
fn first_and_second_run(size: usize) {
    let workspace = Workspace::synthetic(7, size);
    let sim = simulator(workspace.clone(), Faults::default());
    let mut harness = hex(&sim);
    harness.setting("workspace_id", workspace.id.as_str());
    let started = Instant::now();
    let first = harness.discover().expect("first run");
    let first_wall = started.elapsed();
    let checkpoint = harness
        .saved_checkpoint_bytes()
        .expect("a checkpoint")
        .len();

    let started = Instant::now();
    let unchanged = harness.discover().expect("second run, nothing changed");
    let unchanged_wall = started.elapsed();
    drop(sim);

    let edited = workspace.edited(8, 0.05);
    let sim = simulator(edited, Faults::default());
    harness.setting("base_url", sim.base_url());
    let started = Instant::now();
    let second = harness.discover().expect("second run after edits");
    let second_wall = started.elapsed();

    let minutes = |requests: u32| f64::from(requests) / 30.0;
    for (name, summary, wall) in [
        ("first run", &first, first_wall),
        ("second run, unchanged", &unchanged, unchanged_wall),
        ("second run, 5% edited", &second, second_wall),
    ] {
        println!(
            "{size} projects, {name}: {} requests ({:.0} min at 30/min), {:.2} s unthrottled; {:?}",
            summary.requests,
            minutes(summary.requests),
            wall.as_secs_f64(),
            by_kind(summary)
        );
    }
    println!("{size} projects: checkpoint {checkpoint} bytes");
    assert!(checkpoint < 1 << 20);
    assert!(
        unchanged.requests * 10 < first.requests,
        "{unchanged:?} vs {first:?}"
    );
    assert!(
        second.requests < first.requests / 5,
        "{second:?} vs {first:?}"
    );
}

#[test]
fn request_counts_of_a_first_and_a_second_run_at_1k_projects() {
    first_and_second_run(1_000);
}

#[test]
#[ignore = "a benchmark figure: run with --ignored --nocapture"]
fn request_counts_of_a_first_and_a_second_run_at_10k_projects() {
    first_and_second_run(10_000);
}
