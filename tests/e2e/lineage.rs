//! Issue 16 on the host's side: the bundled Hex connector's lineage (what each project reads,
//! the data connections it queries, the components it uses) stored as relations exactly as the
//! simulator's ground truth says, and kept through `unchanged` for the projects an edit left
//! alone, which the connector does not fetch again.

use std::collections::{BTreeMap, BTreeSet};

use hex_sim::{Faults, Workspace};
use serde_json::Value;

use crate::support::{Host, ReplaceableSim, hex_source, token_env};

/// Every project resource's relations, by its native id: kind to targets.
fn stored(resources: &[Value]) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    resources
        .iter()
        .filter(|r| r["type"] == "hex_project")
        .map(|r| {
            let mut by_kind: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for relation in r["relations"].as_array().expect("relations are listed") {
                by_kind
                    .entry(relation["kind"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(relation["target"].as_str().unwrap().to_owned());
            }
            (r["native_id"].as_str().unwrap().to_owned(), by_kind)
        })
        .collect()
}

/// The relations the ground truth gives each project in `projects`, as the connector names them.
fn expected(
    workspace: &Workspace,
    workspace_uri: &str,
    projects: impl Iterator<Item = String>,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let project_uri = |id: &String| format!("{workspace_uri}.{}", id.to_lowercase());
    projects
        .map(|id| {
            let truth = workspace
                .expected_lineage(&id)
                .expect("a project of the workspace");
            let mut by_kind = BTreeMap::new();
            for (kind, targets) in [
                ("reads", truth.tables.clone()),
                ("uses", truth.components.iter().map(project_uri).collect()),
                (
                    "connects-to",
                    truth.data_connections.iter().map(project_uri).collect(),
                ),
            ] {
                if !targets.is_empty() {
                    by_kind.insert(kind.to_owned(), targets);
                }
            }
            (id, by_kind)
        })
        .collect()
}

#[test]
fn hex_lineage_is_stored_and_kept_for_projects_an_edit_left_alone() {
    let workspace = Workspace::synthetic(17, 60);
    let mut sim = ReplaceableSim::new(workspace.clone(), Faults::default());
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &hex_source("Hex", &sim.base_url(), "lineage = \"changed\""),
    );
    let source = source.to_str().unwrap();

    let first = host.run_with_env(&["run", "--source", source], &token_env());
    assert_eq!(first.code, 0, "{first:#?}");
    let resources = host.resources(Some("Hex"));
    let workspace_uri = resources
        .iter()
        .find(|r| r["type"] == "hex_workspace")
        .expect("the workspace resource")["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let after_first = stored(&resources);
    assert!(after_first.len() > 20, "{}", after_first.len());
    assert_eq!(
        after_first,
        expected(&workspace, &workspace_uri, after_first.keys().cloned()),
        "the first run's relations"
    );
    assert!(
        after_first
            .values()
            .any(|kinds| kinds.contains_key("reads")),
        "the workspace has lineage to store"
    );

    let (edited, summary) = workspace.edited_with_summary(5, 0.25);
    sim.replace(edited.clone(), Faults::default());
    let second = host.run_with_env(&["run", "--source", source], &token_env());
    assert_eq!(second.code, 0, "{second:#?}");
    let after_second = stored(&host.resources(Some("Hex")));
    assert_eq!(
        after_second,
        expected(&edited, &workspace_uri, after_second.keys().cloned()),
        "the second run's relations, the unedited projects' kept"
    );

    let changed: BTreeSet<&String> = summary
        .edited
        .iter()
        .chain(&summary.published)
        .chain(&summary.rescheduled)
        .collect();
    let fetched: BTreeSet<&String> = after_second
        .keys()
        .filter(|id| {
            let asked = sim.project_requests(id);
            asked.cells + asked.export + asked.queried_tables > 0
        })
        .collect();
    let changed_listed: BTreeSet<&String> = after_second
        .keys()
        .filter(|id| changed.contains(id))
        .collect();
    let edited_listed: BTreeSet<&String> = after_second
        .keys()
        .filter(|id| summary.edited.contains(id))
        .collect();
    assert!(
        !edited_listed.is_empty(),
        "the edit changed listed projects' SQL"
    );
    // Every project whose SQL changed is read again; nothing the edit left alone is (a project
    // only rescheduled or published may be, for its runs and queried tables).
    assert!(
        edited_listed.is_subset(&fetched),
        "edited {edited_listed:?}, fetched {fetched:?}"
    );
    assert!(
        fetched.is_subset(&changed_listed),
        "fetched {fetched:?}, changed {changed_listed:?}"
    );
    assert!(
        fetched.len() < after_second.len(),
        "the unchanged projects' relations came from `unchanged`"
    );
}
