//! Discovery with the bundled Hex connector against the simulator, observed through the CLI.

use std::collections::HashSet;

use hex_sim::{Faults, Workspace};

use crate::support::{Host, TOKEN, hex_source, simulator, token_env};

fn visible_by_default(workspace: &Workspace) -> Vec<&hex_sim::Project> {
    workspace
        .projects
        .iter()
        .filter(|p| p.kind.get().map(String::as_str) != Some("COMPONENT"))
        .filter(|p| p.archived_at.get().is_none() && p.trashed_at.get().is_none())
        .collect()
}

#[test]
fn check_accepts_a_good_token_and_names_a_bad_one() {
    let sim = simulator(Workspace::synthetic(3, 20), Faults::default());
    let host = Host::new();
    let source = host.source_file("hex.toml", &hex_source("Hex check", &sim.base_url(), ""));
    let source = source.to_str().unwrap();

    let good = host.run_with_env(&["check", "--source", source], &token_env());
    assert_eq!(good.code, 0, "{good:#?}");
    assert!(good.stdout.contains("OK"), "{}", good.stdout);

    let bad = host.run_with_env(
        &["check", "--source", source],
        &[("HEX_API_TOKEN", "hxtp_wrong")],
    );
    assert_eq!(bad.code, 3, "{bad:#?}");
    assert!(bad.stderr.contains("unauthorized"), "{}", bad.stderr);
    assert!(bad.stderr.contains("API token"), "{}", bad.stderr);
    assert!(
        !bad.stderr.contains("hxtp_wrong"),
        "the token leaked: {}",
        bad.stderr
    );
}

#[test]
fn a_multi_page_workspace_is_discovered_with_exact_uris_and_parents() {
    let workspace = Workspace::synthetic(11, 250);
    let expected = visible_by_default(&workspace).len();
    let expected_ids: HashSet<String> = visible_by_default(&workspace)
        .iter()
        .map(|p| p.id.to_lowercase())
        .collect();
    let workspace_id = workspace.id.clone();
    // Since contract 0.2 the connector emits the workspace's data connections too.
    let connections = workspace.lineage.data_connections.len();
    let sim = simulator(workspace, Faults::default());
    let host = Host::new();
    let extra = format!("workspace_id = \"{workspace_id}\"");
    let source = host.source_file(
        "hex.toml",
        &hex_source("Hex - Analytics Projects", &sim.base_url(), &extra),
    );

    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output
            .stdout
            .contains(&format!("added {}", expected + 1 + connections)),
        "{}",
        output.stdout
    );
    let pages = expected.div_ceil(100) as u64;
    assert_eq!(
        sim.stats().project_list_requests,
        pages,
        "one request per page of 100"
    );

    let resources = host.resources(Some("Hex - Analytics Projects"));
    let workspace_uri = format!("hex.{}", workspace_id.to_lowercase());
    let workspaces: Vec<_> = resources
        .iter()
        .filter(|r| r["type"] == "hex_workspace")
        .collect();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0]["uri"], workspace_uri.as_str());
    let projects: Vec<_> = resources
        .iter()
        .filter(|r| r["type"] == "hex_project")
        .collect();
    assert_eq!(projects.len(), expected);
    let mut seen = HashSet::new();
    for project in &projects {
        let uri = project["uri"].as_str().unwrap();
        assert_eq!(uri, uri.to_lowercase());
        let id = uri
            .strip_prefix(&format!("{workspace_uri}."))
            .expect("project URI under the workspace");
        assert!(expected_ids.contains(id), "unexpected project {uri}");
        assert_eq!(project["parent"], workspace_uri.as_str());
        assert_eq!(project["native_id"].as_str().unwrap().to_lowercase(), id);
        seen.insert(id.to_owned());
    }
    assert_eq!(seen, expected_ids);
}

#[test]
fn project_identity_and_ownership_are_right() {
    let workspace = Workspace::synthetic(5, 40);
    let sim = simulator(workspace.clone(), Faults::default());
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &hex_source(
            "Hex",
            &sim.base_url(),
            "workspace_name = \"Acme_Analytics\"",
        ),
    );
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 0, "{output:#?}");
    let resources = host.resources(None);
    assert!(
        resources
            .iter()
            .any(|r| r["uri"] == "hex.acme_analytics" && r["name"] == "Acme_Analytics")
    );
    for project in visible_by_default(&workspace) {
        let uri = format!("hex.acme_analytics.{}", project.id.to_lowercase());
        let found = resources
            .iter()
            .find(|r| r["uri"] == uri.as_str())
            .unwrap_or_else(|| panic!("{uri} missing"));
        let props = &found["properties"];
        assert_eq!(
            found["name"],
            project
                .title
                .get()
                .map(String::as_str)
                .unwrap_or(project.id.as_str())
        );
        assert_eq!(props["native_id"], project.id.as_str());
        match project.description.get() {
            Some(description) => assert_eq!(props["description"], description.as_str()),
            None => assert!(props["description"].is_null()),
        }
        let email = |person: &hex_sim::Field<hex_sim::Person>| {
            person.get().and_then(|p| p.email.get().cloned())
        };
        assert_eq!(
            props["owner"].as_str().map(str::to_owned),
            email(&project.owner),
            "{uri}"
        );
        assert_eq!(
            props["creator"].as_str().map(str::to_owned),
            email(&project.creator),
            "{uri}"
        );
        let created = project.created_at.get().unwrap();
        let stored = props["created_at"].as_str().unwrap();
        assert_eq!(
            stored.parse::<jiff::Timestamp>().unwrap(),
            created.parse::<jiff::Timestamp>().unwrap(),
            "{uri}"
        );
    }
}

#[test]
fn the_token_never_reaches_stdout_stderr_or_the_database() {
    let sim = simulator(Workspace::synthetic(9, 30), Faults::default());
    let host = Host::new();
    let source = host.source_file("hex.toml", &hex_source("Hex", &sim.base_url(), ""));
    let output = host.run_with_env(
        &[
            "--log",
            "debug",
            "run",
            "--source",
            source.to_str().unwrap(),
        ],
        &token_env(),
    );
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(!output.stdout.contains(TOKEN) && !output.stderr.contains(TOKEN));
    for entry in walk(&host.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_demo_discovers_the_simulated_workspace() {
    let host = Host::new();
    let output = host.run(&["demo", "--projects", "120"]);
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(output.stdout.contains("1 workspace"), "{}", output.stdout);
    assert!(output.stdout.contains("projects"), "{}", output.stdout);
    let resources = host.resources(Some("Hex demo"));
    let projects = resources
        .iter()
        .filter(|r| r["type"] == "hex_project")
        .count();
    let workspace = Workspace::synthetic(42, 120);
    let expected = visible_by_default(&workspace).len();
    assert_eq!(projects, expected);
    // It says why fewer were discovered than served, and what would include the rest.
    assert!(
        output.stdout.contains(&format!(
            "serves 120 projects and components; {expected} were discovered"
        )),
        "{}",
        output.stdout
    );
    let components = workspace
        .projects
        .iter()
        .filter(|p| p.is_component())
        .count();
    assert!(
        output.stdout.contains(&format!(
            "{components:>5} components    include them with `include_components = true`"
        )),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("euno-host --data-dir"),
        "{}",
        output.stdout
    );
}
