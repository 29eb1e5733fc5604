//! What a connector warns about during a run is kept with the run: in `run`'s summary, in
//! `runs` (a `warning:` line each) and in `runs --json`. The case in point: two Hex projects
//! whose ids differ only in case share one lowercase URI, so one of them cannot be kept, and the
//! run says which two.

use hex_sim::{Faults, Project, Workspace};

use crate::support::{Host, hex_source, simulator, token_env};

const UPPER: &str = "0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB";
const LOWER: &str = "0b7e3d4a-aaaa-4bbb-8ccc-0123456789ab";

fn project(id: &str, title: &str) -> Project {
    Project {
        id: id.to_owned(),
        title: title.to_owned().into(),
        ..Project::default()
    }
}

#[test]
fn two_project_ids_that_differ_only_in_case_are_a_warning_naming_both() {
    let workspace = Workspace {
        id: "ws-case".to_owned(),
        name: "Case".to_owned(),
        projects: vec![
            project(UPPER, "Upper"),
            project(LOWER, "Lower"),
            project("11111111-2222-4333-8444-555555555555", "Other"),
        ],
        lineage: Default::default(),
    };
    let sim = simulator(workspace, Faults::default());
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &hex_source("Case", &sim.base_url(), "workspace_id = \"ws-case\""),
    );
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 0, "{output:#?}");
    let named_both = |line: &str| {
        line.contains(UPPER) && line.contains(LOWER) && line.contains("differ only in case")
    };
    assert!(
        output
            .stdout
            .lines()
            .any(|line| line.trim_start().starts_with("warning: ") && named_both(line)),
        "{}",
        output.stdout
    );
    // One of the two is in the inventory, with the other project and the workspace.
    let resources = host.resources(None);
    assert_eq!(resources.len(), 3, "{resources:#?}");

    let runs = host.run(&["runs", "--json"]).json();
    let warnings = runs[0]["warnings"].as_array().expect("a list of warnings");
    assert!(
        warnings.iter().any(|w| w.as_str().is_some_and(named_both)),
        "{runs:#}"
    );
    let table = host.run(&["runs"]);
    assert!(
        table
            .stdout
            .lines()
            .any(|line| line.trim_start().starts_with("warning: ") && named_both(line)),
        "{}",
        table.stdout
    );
}

#[test]
fn a_run_keeps_at_most_a_hundred_warnings_and_counts_the_rest() {
    let host = Host::new();
    let source = host.source_file(
        "flood.toml",
        &crate::support::test_guest_source("Flood", "log-flood", "count = 150", ""),
    );
    let output = host.run(&["run", "--source", source.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{output:#?}");
    let runs = host.run(&["runs", "--json"]).json();
    let warnings = runs[0]["warnings"].as_array().expect("a list of warnings");
    assert_eq!(warnings.len(), 101, "{runs:#}");
    assert!(warnings[0].as_str().unwrap().starts_with("00000000 flood"));
    assert_eq!(warnings[100], "50 more warnings");
}
