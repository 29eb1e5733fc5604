//! The lineage endpoints over real HTTP: data connections, cells, runs, queried tables, the
//! export, the directory lists, `/projects` sorting, and their counts.

use std::collections::{BTreeSet, HashSet};

use hex_sim::{ExpectedLineage, Project, SimConfig, SimHandle, Workspace};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{TOKEN, get, request};

const SIZE: usize = 300;

fn workspace() -> Workspace {
    Workspace::synthetic(42, SIZE)
}

fn serve(workspace: Workspace) -> SimHandle {
    SimHandle::spawn(SimConfig::new(workspace)).expect("start the simulator")
}

/// Follows `pagination.after` from `target` (which has a query string), returning every item.
fn walk_values(sim: &SimHandle, target: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let cursor = after
            .map(|after| format!("&after={after}"))
            .unwrap_or_default();
        let response = get(sim, &format!("{target}{cursor}"));
        assert_eq!(response.status, 200, "{target}: {}", response.text());
        let page = response.json();
        values.extend(page["values"].as_array().unwrap().iter().cloned());
        after = page["pagination"]["after"].as_str().map(str::to_owned);
        if after.is_none() {
            return values;
        }
    }
    panic!("{target} does not end");
}

fn ids(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|value| value["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The first project (not component) for which `predicate` holds.
fn find(workspace: &Workspace, predicate: impl Fn(&Project, &ExpectedLineage) -> bool) -> Project {
    workspace
        .projects
        .iter()
        .find(|project| {
            !project.is_component()
                && predicate(project, &workspace.expected_lineage(&project.id).unwrap())
        })
        .expect("the synthetic workspace has such a project")
        .clone()
}

fn assert_error(response: &crate::support::Response, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert!(
        body["reason"].is_string() && body["details"].is_string(),
        "{body}"
    );
    assert_eq!(body["traceId"].as_str(), response.header("x-trace-id"));
}

#[test]
fn data_connections_page_in_creation_or_name_order_both_ways() {
    let workspace = workspace();
    let sim = serve(workspace.clone());
    let created: Vec<String> = workspace
        .lineage
        .data_connections
        .iter()
        .map(|connection| connection.id.clone())
        .collect();
    assert_eq!(created.len(), 8);

    let newest_first = ids(&walk_values(&sim, "/api/v1/data-connections?limit=3"));
    assert_eq!(
        newest_first,
        created.iter().rev().cloned().collect::<Vec<_>>()
    );
    let oldest_first = ids(&walk_values(
        &sim,
        "/api/v1/data-connections?limit=3&sortBy=CREATED_AT&sortDirection=ASC",
    ));
    assert_eq!(oldest_first, created);

    let by_name = walk_values(
        &sim,
        "/api/v1/data-connections?limit=2&sortBy=NAME&sortDirection=ASC",
    );
    let names: Vec<&str> = by_name
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);

    // Full and short forms, and a type outside Hex's enum.
    let types: BTreeSet<&str> = by_name
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    for kind in [
        "snowflake",
        "bigquery",
        "postgres",
        "redshift",
        "databricks",
        "motherduck",
    ] {
        assert!(types.contains(kind), "{types:?}");
    }
    let snowflake = by_name
        .iter()
        .find(|c| c["name"] == "Snowflake (prod)")
        .unwrap();
    assert_eq!(
        snowflake["connectionDetails"]["snowflake"]["database"],
        "ANALYTICS"
    );
    assert!(
        by_name.iter().any(|c| c.get("connectionDetails").is_none()),
        "a short form"
    );

    // `before` goes back to the previous page.
    let first = get(&sim, "/api/v1/data-connections?limit=3").json();
    let second = get(
        &sim,
        &format!(
            "/api/v1/data-connections?limit=3&after={}",
            first["pagination"]["after"].as_str().unwrap()
        ),
    )
    .json();
    let back = get(
        &sim,
        &format!(
            "/api/v1/data-connections?limit=3&before={}",
            second["pagination"]["before"].as_str().unwrap()
        ),
    )
    .json();
    assert_eq!(back["values"], first["values"]);

    let one = get(&sim, &format!("/api/v1/data-connections/{}", created[0]));
    assert_eq!(one.status, 200);
    let listed = oldest_first_json(&sim)[0].clone();
    assert_eq!(one.json(), listed);
    assert_error(&get(&sim, "/api/v1/data-connections/nope"), 404);
    for query in [
        "limit=0",
        "limit=101",
        "sortBy=LAST_EDITED_AT",
        "sortDirection=UP",
        "after=x",
    ] {
        assert_error(
            &get(&sim, &format!("/api/v1/data-connections?{query}")),
            400,
        );
    }
    let stats = sim.endpoint_stats();
    assert_eq!(stats.data_connection_get_requests, 2);
    assert!(stats.data_connection_list_requests >= 14);
}

fn oldest_first_json(sim: &SimHandle) -> Vec<Value> {
    walk_values(sim, "/api/v1/data-connections?limit=100&sortDirection=ASC")
}

#[test]
fn cells_inline_component_sql_unmarked_and_hide_the_ground_truth() {
    let workspace = workspace();
    let importer = find(&workspace, |_, expected| !expected.components.is_empty());
    let sim = serve(workspace.clone());
    let own = workspace.lineage.content(&importer.id).unwrap();

    let served = walk_values(
        &sim,
        &format!("/api/v1/cells?projectId={}&limit=2", importer.id),
    );
    let mut expected_count = 0;
    for cell in &own.cells {
        expected_count += 1;
        if let Some(component) = &cell.component {
            let theirs = workspace.lineage.content(&component.id).unwrap();
            expected_count += theirs
                .cells
                .iter()
                .filter(|c| c.cell_type() == "SQL")
                .count();
        }
    }
    assert_eq!(served.len(), expected_count);
    let unique: HashSet<String> = ids(&served).into_iter().collect();
    assert_eq!(
        unique.len(),
        served.len(),
        "every served cell has its own id"
    );
    for cell in &served {
        assert_eq!(cell["projectId"], importer.id.as_str());
        for hidden in ["component", "reads", "unparsable"] {
            assert!(cell.get(hidden).is_none(), "{hidden} is served: {cell}");
        }
        assert!(cell["staticId"].is_string() && cell["cellType"].is_string());
        assert!(cell["contents"].is_object());
    }
    // The import cell is there, without a component id; the component's SQL follows it.
    let import = served
        .iter()
        .position(|cell| cell["cellType"] == "COMPONENT_IMPORT")
        .unwrap();
    assert!(served[import]["contents"]["sqlCell"].is_null());
    assert_eq!(served[import + 1]["cellType"], "SQL");
    let own_ids: HashSet<&str> = own.cells.iter().map(|cell| cell.id.as_str()).collect();
    assert!(!own_ids.contains(served[import + 1]["id"].as_str().unwrap()));

    // Pages walk the same list as one big page.
    let whole = get(
        &sim,
        &format!("/api/v1/cells?projectId={}&limit=100", importer.id),
    )
    .json();
    assert_eq!(whole["values"].as_array().unwrap(), &served);
    assert_eq!(whole["pagination"]["after"], Value::Null);

    assert_error(&get(&sim, "/api/v1/cells"), 400);
    assert_error(&get(&sim, "/api/v1/cells?projectId="), 400);
    assert_error(&get(&sim, "/api/v1/cells?projectId=no-such-project"), 404);
    assert_error(
        &get(
            &sim,
            &format!("/api/v1/cells?projectId={}&limit=0", importer.id),
        ),
        400,
    );

    let pages = served.len().div_ceil(2) as u64 + 1;
    assert_eq!(sim.project_requests(&importer.id).cells, pages);
    assert_eq!(sim.stats().cells_requests, pages + 4);
    assert_eq!(sim.endpoint_stats().cells_requests, pages + 4);
}

#[test]
fn dataframe_sql_has_no_connection_and_warehouse_sql_has_one() {
    let workspace = workspace();
    let project = find(&workspace, |project, _| {
        workspace
            .lineage
            .content(&project.id)
            .unwrap()
            .cells
            .iter()
            .any(|cell| cell.cell_type() == "SQL" && cell.data_connection_id.get().is_none())
    });
    let sim = serve(workspace);
    let cells = walk_values(
        &sim,
        &format!("/api/v1/cells?projectId={}&limit=100", project.id),
    );
    let sql: Vec<&Value> = cells
        .iter()
        .filter(|cell| cell["cellType"] == "SQL")
        .collect();
    assert!(sql.iter().any(|cell| cell["dataConnectionId"].is_null()));
    assert!(sql.iter().any(|cell| cell["dataConnectionId"].is_string()));
    for cell in sql {
        assert!(cell["contents"]["sqlCell"]["source"].is_string());
        assert!(cell["contents"]["sqlCell"]["outputDataframe"].is_string());
    }
}

#[test]
fn runs_are_newest_first_offset_paged_and_only_for_published_projects() {
    let workspace = workspace();
    let published = find(&workspace, |project, expected| {
        project.last_published_at.get().is_some()
            && workspace.lineage.content(&project.id).unwrap().runs.len() >= 3
            && expected.latest_run.is_some()
    });
    let unpublished = find(&workspace, |project, _| {
        project.last_published_at.get().is_none()
    });
    let sim = serve(workspace.clone());

    let latest = get(
        &sim,
        &format!("/api/v1/projects/{}/runs?limit=1", published.id),
    );
    assert_eq!(latest.status, 200);
    let body = latest.json();
    assert_eq!(body["traceId"].as_str(), latest.header("x-trace-id"));
    let expected = workspace
        .expected_lineage(&published.id)
        .unwrap()
        .latest_run
        .unwrap();
    let mut expected_json = serde_json::to_value(&expected).unwrap();
    expected_json["projectId"] = Value::from(published.id.as_str());
    assert_eq!(body["runs"][0], expected_json);
    assert_eq!(body["previousPage"], Value::Null);
    let next = body["nextPage"].as_str().unwrap();
    assert!(next.starts_with(&format!(
        "http://{}/api/v1/projects/{}/runs?",
        sim.addr(),
        published.id
    )));

    // Following nextPage visits every run once, newest first.
    let count = workspace.lineage.content(&published.id).unwrap().runs.len();
    let mut starts = Vec::new();
    let mut target = format!("/api/v1/projects/{}/runs?limit=2", published.id);
    loop {
        let page = get(&sim, &target).json();
        for run in page["runs"].as_array().unwrap() {
            starts.push(run["startTime"].as_str().map(str::to_owned));
        }
        let Some(next) = page["nextPage"].as_str() else {
            break;
        };
        target = next
            .split_once(&sim.addr().to_string())
            .unwrap()
            .1
            .to_owned();
    }
    assert_eq!(starts.len(), count);
    let with_times: Vec<&String> = starts.iter().flatten().collect();
    assert!(
        with_times.windows(2).all(|pair| pair[0] >= pair[1]),
        "{starts:?}"
    );

    let page = get(
        &sim,
        &format!("/api/v1/projects/{}/runs?limit=2&offset=2", published.id),
    )
    .json();
    assert!(page["previousPage"].as_str().unwrap().contains("offset=0"));

    let none = get(&sim, &format!("/api/v1/projects/{}/runs", unpublished.id)).json();
    assert_eq!(none["runs"], serde_json::json!([]));
    assert_eq!(none["nextPage"], Value::Null);

    let completed = get(
        &sim,
        &format!(
            "/api/v1/projects/{}/runs?statusFilter=COMPLETED&runTriggerFilter=ALL",
            published.id
        ),
    )
    .json();
    assert!(
        completed["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["status"] == "COMPLETED")
    );

    for query in [
        "limit=0",
        "limit=101",
        "offset=-1",
        "statusFilter=DONE",
        "runTriggerFilter=CRON",
    ] {
        assert_error(
            &get(
                &sim,
                &format!("/api/v1/projects/{}/runs?{query}", published.id),
            ),
            400,
        );
    }
    assert_error(&get(&sim, "/api/v1/projects/nope/runs"), 404);
    assert_eq!(sim.project_requests(&unpublished.id).runs, 1);
}

#[test]
fn queried_tables_are_403_below_enterprise_and_name_the_expected_tables_on_it() {
    let mut workspace = workspace();
    let published = find(&workspace, |project, expected| {
        project.last_published_at.get().is_some() && expected.tables.len() >= 3
    });
    let unpublished = find(&workspace, |project, expected| {
        project.last_published_at.get().is_none() && !expected.tables.is_empty()
    });

    let team = serve(workspace.clone());
    let refused = get(
        &team,
        &format!("/api/v1/projects/{}/queriedTables", published.id),
    );
    assert_eq!(refused.status, 403);
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("requires the workspace to be at least ENTERPRISE tier"),
        "{message}"
    );
    assert_eq!(team.stats().forbidden, 1);
    assert_eq!(team.endpoint_stats().queried_tables_requests, 1);

    workspace.lineage.enterprise = true;
    let enterprise = serve(workspace.clone());
    let response = get(
        &enterprise,
        &format!("/api/v1/projects/{}/queriedTables?limit=100", published.id),
    );
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["traceId"].as_str(), response.header("x-trace-id"));
    let tables = walk_values(
        &enterprise,
        &format!("/api/v1/projects/{}/queriedTables?limit=1", published.id),
    );
    assert_eq!(&tables, body["values"].as_array().unwrap());

    // Padded with the connection's defaults and lowercased, they are the expected tables.
    let mut named = BTreeSet::new();
    for table in &tables {
        let connection = workspace
            .lineage
            .data_connection(table["dataConnectionId"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            table["dataConnectionName"],
            connection.name.get().unwrap().as_str()
        );
        let (database, schema) = connection.defaults();
        let parts: Vec<&str> = table["tableName"].as_str().unwrap().split('.').collect();
        let full = match parts[..] {
            [table] => format!(
                "{}.{}.{table}",
                database.clone().unwrap(),
                schema.clone().unwrap()
            ),
            [schema, table] => format!("{}.{schema}.{table}", database.clone().unwrap()),
            _ => parts.join("."),
        };
        named.insert(format!("{}.{full}", connection.platform()).to_lowercase());
    }
    assert_eq!(
        named,
        workspace.expected_lineage(&published.id).unwrap().tables
    );

    let empty = get(
        &enterprise,
        &format!("/api/v1/projects/{}/queriedTables", unpublished.id),
    )
    .json();
    assert_eq!(
        empty["values"],
        serde_json::json!([]),
        "only published runs query tables"
    );
    assert_error(
        &get(&enterprise, "/api/v1/projects/nope/queriedTables"),
        404,
    );
    assert_error(
        &get(
            &enterprise,
            &format!("/api/v1/projects/{}/queriedTables?limit=500", published.id),
        ),
        400,
    );
}

fn yaml(text: &str) -> Yaml {
    let mut documents =
        YamlLoader::load_from_str(text).unwrap_or_else(|error| panic!("{error}:\n{text}"));
    assert_eq!(documents.len(), 1);
    documents.remove(0)
}

#[test]
fn the_export_is_yaml_with_component_ids_and_without_component_sql() {
    let workspace = workspace();
    let importer = find(&workspace, |_, expected| {
        !expected.components.is_empty() && !expected.tables.is_empty()
    });
    let sim = serve(workspace.clone());
    let body = format!(r#"{{"projectId": "{}", "version": "draft"}}"#, importer.id);
    let response = request(
        sim.addr(),
        "POST",
        "/api/v1/projects/export",
        Some(TOKEN),
        &body,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let export = response.json();
    let title = importer.title.get().unwrap().replace('/', "-");
    assert_eq!(export["filename"], format!("{title}.yaml"));

    let document = yaml(export["content"].as_str().unwrap());
    assert_eq!(document["schemaVersion"].as_i64(), Some(1));
    assert_eq!(
        document["meta"]["projectId"].as_str(),
        Some(importer.id.as_str())
    );
    assert_eq!(
        document["meta"]["title"].as_str(),
        importer.title.get().map(String::as_str)
    );
    assert_eq!(document["meta"]["hexType"].as_str(), Some("PROJECT"));

    let own = workspace.lineage.content(&importer.id).unwrap();
    let cells = document["cells"].as_vec().unwrap();
    assert_eq!(cells.len(), own.cells.len(), "the project's own cells only");
    for (exported, cell) in cells.iter().zip(&own.cells) {
        assert_eq!(exported["cellId"].as_str(), Some(cell.id.as_str()));
        assert_eq!(exported["cellType"].as_str(), Some(cell.cell_type()));
        match cell.cell_type() {
            "SQL" => {
                assert_eq!(exported["config"]["source"].as_str(), cell.sql_source());
                assert_eq!(
                    exported["config"]["dataConnectionId"].as_str(),
                    cell.data_connection_id.get().map(String::as_str)
                );
            }
            "CODE" | "MARKDOWN" => {
                assert_eq!(exported["config"]["source"].as_str(), cell.text_source())
            }
            "COMPONENT_IMPORT" => {
                let component = cell.component.as_ref().unwrap();
                assert_eq!(
                    exported["config"]["component"]["id"].as_str(),
                    Some(component.id.as_str())
                );
                assert_eq!(
                    exported["config"]["component"]["version"].as_i64(),
                    Some(component.version as i64)
                );
            }
            other => panic!("unexpected cell type {other}"),
        }
    }
    let components: BTreeSet<String> = cells
        .iter()
        .filter_map(|cell| {
            cell["config"]["component"]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        components,
        workspace.expected_lineage(&importer.id).unwrap().components
    );

    // The project id may come in the query, as the earlier stub allowed; the version is checked.
    let by_query = request(
        sim.addr(),
        "POST",
        &format!("/api/v1/projects/export?projectId={}", importer.id),
        Some(TOKEN),
        "",
    );
    assert_eq!(by_query.json()["content"], export["content"]);
    for (body, status) in [
        ("{}".to_owned(), 400),
        ("not json".to_owned(), 400),
        (r#"{"projectId": "nope"}"#.to_owned(), 404),
        (
            format!(r#"{{"projectId": "{}", "version": 0}}"#, importer.id),
            400,
        ),
        (
            format!(r#"{{"projectId": "{}", "version": "old"}}"#, importer.id),
            400,
        ),
        (
            format!(r#"{{"projectId": "{}", "version": 3}}"#, importer.id),
            200,
        ),
        (
            format!(r#"{{"projectId": "{}", "version": "latest"}}"#, importer.id),
            200,
        ),
    ] {
        let response = request(
            sim.addr(),
            "POST",
            "/api/v1/projects/export",
            Some(TOKEN),
            &body,
        );
        assert_eq!(response.status, status, "{body}: {}", response.text());
    }
    assert_eq!(sim.project_requests(&importer.id).export, 4);
    assert_eq!(sim.stats().export_requests, 9);
}

#[test]
fn every_synthetic_export_parses_and_round_trips_its_sources() {
    let workspace = Workspace::synthetic(11, 120);
    let sim = serve(workspace.clone());
    for project in &workspace.projects {
        let body = format!(r#"{{"projectId": "{}"}}"#, project.id);
        let export = request(
            sim.addr(),
            "POST",
            "/api/v1/projects/export",
            Some(TOKEN),
            &body,
        )
        .json();
        let document = yaml(export["content"].as_str().unwrap());
        let own = workspace.lineage.content(&project.id).unwrap();
        let cells = document["cells"].as_vec().unwrap();
        assert_eq!(cells.len(), own.cells.len());
        for (exported, cell) in cells.iter().zip(&own.cells) {
            let source = cell.sql_source().or(cell.text_source());
            if source.is_some() {
                assert_eq!(
                    exported["config"]["source"].as_str(),
                    source,
                    "{}",
                    project.id
                );
            }
        }
    }
}

#[test]
fn projects_sort_by_each_key_in_both_directions_with_stable_cursors() {
    let workspace = workspace();
    let sim = serve(workspace.clone());
    let everything = "includeArchived=true&includeComponents=true&includeTrashed=true";
    for (sort, field) in [
        ("CREATED_AT", "createdAt"),
        ("LAST_EDITED_AT", "lastEditedAt"),
        ("LAST_PUBLISHED_AT", "lastPublishedAt"),
    ] {
        for direction in ["ASC", "DESC"] {
            let target = format!(
                "/api/v1/projects?limit=37&{everything}&sortBy={sort}&sortDirection={direction}"
            );
            let values = walk_values(&sim, &target);
            assert_eq!(values.len(), SIZE, "{sort} {direction}");
            let unique: HashSet<String> = ids(&values).into_iter().collect();
            assert_eq!(unique.len(), SIZE, "{sort} {direction}: no project twice");
            let keys: Vec<(String, String)> = values
                .iter()
                .map(|p| {
                    let key = p[field].as_str().unwrap_or_default().to_owned();
                    (key, p["id"].as_str().unwrap().to_owned())
                })
                .collect();
            let ordered = keys.windows(2).all(|pair| match direction {
                "ASC" => pair[0] < pair[1],
                _ => pair[0] > pair[1],
            });
            assert!(ordered, "{sort} {direction}");

            // `before` from the second page gives back the first.
            let first = get(&sim, &target).json();
            let after = first["pagination"]["after"].as_str().unwrap();
            let second = get(&sim, &format!("{target}&after={after}")).json();
            let before = second["pagination"]["before"].as_str().unwrap();
            let back = get(&sim, &format!("{target}&before={before}")).json();
            assert_eq!(back["values"], first["values"], "{sort} {direction}");
        }
    }
    // The default is newest created first.
    let default = ids(&walk_values(
        &sim,
        &format!("/api/v1/projects?limit=100&{everything}"),
    ));
    let explicit = ids(&walk_values(
        &sim,
        &format!("/api/v1/projects?limit=100&{everything}&sortBy=CREATED_AT&sortDirection=DESC"),
    ));
    assert_eq!(default, explicit);
    for query in ["sortBy=NAME", "sortBy=created_at", "sortDirection=asc"] {
        assert_error(&get(&sim, &format!("/api/v1/projects?{query}")), 400);
    }
}

#[test]
fn collections_groups_and_users_are_listed_from_the_workspace() {
    let sim = serve(workspace());
    let collections = walk_values(&sim, "/api/v1/collections?limit=2");
    assert!(collections.len() >= 5);
    assert!(
        collections
            .iter()
            .all(|c| c["sharing"]["workspace"]["members"].is_string())
    );
    let groups = walk_values(&sim, "/api/v1/groups?limit=500");
    assert_eq!(groups.len(), 4);
    let users = walk_values(&sim, "/api/v1/users?limit=3&sortBy=EMAIL");
    assert!(users.len() >= 10);
    assert!(
        users
            .iter()
            .all(|u| u["email"].as_str().unwrap().contains('@') && u["role"].is_string())
    );
    assert_error(&get(&sim, "/api/v1/users?limit=501"), 400);
    assert_error(&get(&sim, "/api/v1/collections?sortBy=CREATED_AT"), 400);
    let stats = sim.endpoint_stats();
    assert!(stats.collection_list_requests >= 3 && stats.group_list_requests == 1);
}

#[test]
fn lineage_endpoints_need_the_token_and_their_counts_are_served() {
    let sim = serve(workspace());
    let id = Workspace::synthetic(42, 1).projects[0].id.clone();
    for target in [
        "/api/v1/data-connections".to_owned(),
        format!("/api/v1/cells?projectId={id}"),
        format!("/api/v1/projects/{id}/runs"),
        format!("/api/v1/projects/{id}/queriedTables"),
    ] {
        let response = request(sim.addr(), "GET", &target, None, "");
        assert_eq!(response.status, 401, "{target}");
        assert_eq!(response.text(), "Unauthorized");
    }
    assert_eq!(
        sim.endpoint_stats(),
        hex_sim::EndpointStats::default(),
        "refused before the endpoint"
    );

    get(&sim, &format!("/api/v1/cells?projectId={id}"));
    get(&sim, &format!("/api/v1/projects/{id}/runs"));
    get(&sim, &format!("/api/v1/projects/{id}/runs"));
    let served = request(sim.addr(), "GET", "/__sim/stats", None, "").json();
    assert_eq!(served["endpoints"]["cells_requests"], 1);
    assert_eq!(served["endpoints"]["runs_requests"], 2);
    assert_eq!(served["cells_requests"], 1);
    let endpoints: hex_sim::EndpointStats =
        serde_json::from_value(served["endpoints"].clone()).unwrap();
    assert_eq!(endpoints, sim.endpoint_stats());
    let before = endpoints;
    get(&sim, &format!("/api/v1/projects/{id}/runs"));
    assert_eq!(sim.endpoint_stats().since(&before).runs_requests, 1);
    assert_eq!(sim.project_requests(&id).runs, 3);
    assert_eq!(
        sim.project_requests("never-asked"),
        hex_sim::ProjectRequests::default()
    );
}

#[test]
fn an_edited_workspace_serves_its_edits() {
    let before = workspace();
    let (after, summary) = before.edited_with_summary(1, 0.3);
    let id = summary
        .edited
        .iter()
        .find(|id| {
            let project = after.projects.iter().find(|p| &p.id == *id).unwrap();
            !project.is_component()
        })
        .unwrap();
    let sim = serve(after.clone());
    let project = get(&sim, &format!("/api/v1/projects/{id}")).json();
    let edited_at = after
        .projects
        .iter()
        .find(|p| &p.id == id)
        .unwrap()
        .last_edited_at
        .get()
        .unwrap()
        .clone();
    assert_eq!(project["lastEditedAt"], edited_at.as_str());
    let cells = walk_values(&sim, &format!("/api/v1/cells?projectId={id}&limit=100"));
    let own = after.lineage.content(id).unwrap();
    for cell in &own.cells {
        assert!(cells.iter().any(|served| served["id"] == cell.id.as_str()));
    }
}

#[test]
fn a_json_fixture_with_lineage_is_served_as_written() {
    let fixture = serde_json::json!({
        "id": "ws-1",
        "name": "Fixture",
        "projects": [
            {"id": "p1", "title": "Orders", "type": "PROJECT", "createdAt": "2025-01-01T00:00:00.000Z",
             "lastPublishedAt": "2025-02-01T00:00:00.000Z"},
            {"id": "c1", "title": "Shared CTE", "type": "COMPONENT", "createdAt": "2024-01-01T00:00:00.000Z"}
        ],
        "lineage": {
            "enterprise": true,
            "dataConnections": [
                {"id": "dc1", "name": "Warehouse", "type": "snowflake", "futureField": 1,
                 "connectionDetails": {"snowflake": {"database": "DB", "schema": "S"}}},
                {"id": "dc2", "name": "Ducks", "type": "motherduck"}
            ],
            "projects": {
                "p1": {
                    "cells": [
                        {"id": "a", "staticId": "sa", "cellType": "SQL", "dataConnectionId": "dc1", "label": null,
                         "contents": {"sqlCell": {"source": "SELECT * FROM t", "outputDataframe": "df"},
                                      "codeCell": null, "markdownCell": null},
                         "reads": ["snowflake.db.s.t"], "newCellField": true},
                        {"id": "b", "cellType": "SQL", "dataConnectionId": "dc2",
                         "contents": {"sqlCell": {"source": "SELEC 1"}}, "unparsable": true},
                        {"id": "i", "cellType": "COMPONENT_IMPORT", "component": {"id": "c1", "version": 2}},
                        {"id": "x", "cellType": "VEGA_CHART"}
                    ],
                    "runs": [
                        {"runId": "r1", "status": "ERRORED", "startTime": "2025-02-02T00:00:00.000Z"},
                        {"runId": "r2", "status": "COMPLETED", "startTime": "2025-02-03T00:00:00.000Z",
                         "endTime": "2025-02-03T00:01:00.000Z", "elapsedTime": 60000}
                    ],
                    "queriedTables": [{"dataConnectionId": "dc1", "dataConnectionName": "Warehouse", "tableName": "T"}]
                },
                "c1": {"cells": [{"id": "k", "cellType": "SQL", "dataConnectionId": "dc2",
                                  "contents": {"sqlCell": {"source": "SELECT * FROM md.main.k"}},
                                  "reads": ["duckdb.md.main.k"]}]}
            }
        }
    });
    let workspace = Workspace::from_json_str(&fixture.to_string()).unwrap();
    let expected = workspace.expected_lineage("p1").unwrap();
    assert_eq!(
        expected.tables,
        BTreeSet::from(["snowflake.db.s.t".to_owned()])
    );
    assert_eq!(
        expected.data_connections,
        BTreeSet::from(["dc1".to_owned(), "dc2".to_owned()])
    );
    assert_eq!(expected.components, BTreeSet::from(["c1".to_owned()]));
    assert_eq!(expected.unparsable_cells, 1);
    assert_eq!(expected.latest_run.unwrap().run_id, "r2");
    assert_eq!(
        workspace.expected_lineage("c1").unwrap().tables,
        BTreeSet::from(["duckdb.md.main.k".to_owned()])
    );
    assert_eq!(workspace.expected_lineage("missing"), None);
    let ducks = workspace.lineage.data_connection("dc2").unwrap();
    assert_eq!(
        (ducks.platform(), ducks.defaults()),
        ("duckdb", (None, None))
    );
    let warehouse = workspace.lineage.data_connection("dc1").unwrap();
    assert_eq!(
        warehouse.defaults(),
        (Some("DB".to_owned()), Some("S".to_owned()))
    );

    let sim = serve(workspace);
    let connection = get(&sim, "/api/v1/data-connections/dc1").json();
    assert_eq!(connection, fixture["lineage"]["dataConnections"][0]);
    let cells = get(&sim, "/api/v1/cells?projectId=p1").json()["values"].clone();
    let cells = cells.as_array().unwrap();
    assert_eq!(
        cells.len(),
        5,
        "four own cells and the component's one SQL cell"
    );
    assert_eq!(cells[0]["newCellField"], true);
    assert_eq!(
        cells[0]["contents"],
        fixture["lineage"]["projects"]["p1"]["cells"][0]["contents"]
    );
    assert_eq!(
        cells[3]["contents"]["sqlCell"]["source"],
        "SELECT * FROM md.main.k"
    );
    assert_eq!(cells[4]["cellType"], "VEGA_CHART");
    let runs = get(&sim, "/api/v1/projects/p1/runs").json();
    assert_eq!(runs["runs"][0]["runId"], "r2");
    let tables = get(&sim, "/api/v1/projects/p1/queriedTables").json();
    assert_eq!(
        tables["values"],
        fixture["lineage"]["projects"]["p1"]["queriedTables"]
    );
    let export = request(
        sim.addr(),
        "POST",
        "/api/v1/projects/export",
        Some(TOKEN),
        r#"{"projectId":"p1"}"#,
    )
    .json();
    let document = yaml(export["content"].as_str().unwrap());
    assert_eq!(
        document["cells"][2]["config"]["component"]["version"].as_i64(),
        Some(2)
    );
    assert_eq!(
        document["cells"][3]["cellType"].as_str(),
        Some("VEGA_CHART")
    );
    // A component serves its own cells.
    assert_eq!(
        get(&sim, "/api/v1/cells?projectId=c1").json()["values"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
