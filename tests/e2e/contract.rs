//! Contract versions end to end: the example connector (contract 0.2.0) through `run --source`
//! against the Minidash simulator (its header credential, relations, the checkpoint round trip),
//! the Hex connector as built for 0.1.0 running unchanged, a component of an unknown version
//! refused, and `connectors test` passing good connectors and failing a bad one by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hex_sim::minidash::{MinidashConfig, MinidashHandle, MinidashWorkspace};
use hex_sim::{Faults, Workspace};
use serde_json::Value;

use crate::support::{
    Host, Output, TEST_GUEST, hex_source, network_allow, simulator, test_guest_source, token_env,
};

/// The example connector, built by `host/build.rs`.
pub const MINIDASH: &str = env!("EUNO_MINIDASH_COMPONENT");

/// The Hex connector as built for contract 0.1.0, kept as a fixture.
pub fn fixture_0_1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hex-connector-0.1.0.wasm")
}

/// The key the Minidash simulator accepts, as the tests hand it to `${MINIDASH_KEY}`.
const KEY_ENV: [(&str, &str); 1] = [("MINIDASH_KEY", MinidashConfig::DEFAULT_API_KEY)];

/// A Minidash source for `sim`: the key under `[secrets]`, the simulator's origin granted.
fn minidash_source(name: &str, sim: &MinidashHandle) -> String {
    format!(
        "name = \"{name}\"\nconnector = \"{MINIDASH}\"\n\n[settings]\nbase_url = \"{}\"\nworkspace = \"analytics\"\nrequests_per_minute = 0\npage_size = 7\n\n[secrets]\napi_key = \"${{MINIDASH_KEY}}\"\n\n{}",
        sim.base_url(),
        network_allow(&[&format!("http://{}", sim.addr())])
    )
}

/// The relations `resources --json` shows, by the resource's native id: `(kind, target)`.
fn relations_by_native_id(
    resources: &[Value],
    kind: &str,
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    resources
        .iter()
        .filter(|r| r["type"] == kind)
        .map(|r| {
            let relations = r["relations"]
                .as_array()
                .expect("every resource lists its relations")
                .iter()
                .map(|rel| {
                    (
                        rel["kind"].as_str().unwrap().to_owned(),
                        rel["target"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (r["native_id"].as_str().unwrap().to_owned(), relations)
        })
        .collect()
}

/// What the dashboards should read, as relations to the datasets' URIs in `resources`.
fn expected_reads(
    workspace: &MinidashWorkspace,
    resources: &[Value],
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let dataset_uri: BTreeMap<&str, &str> = resources
        .iter()
        .filter(|r| r["type"] == "minidash_dataset")
        .map(|r| (r["native_id"].as_str().unwrap(), r["uri"].as_str().unwrap()))
        .collect();
    workspace
        .expected_reads()
        .into_iter()
        .map(|(board, datasets)| {
            let reads = datasets
                .iter()
                .map(|id| ("reads".to_owned(), dataset_uri[id.as_str()].to_owned()))
                .collect();
            (board, reads)
        })
        .collect()
}

fn assert_ok(output: &Output) {
    assert_eq!(output.code, 0, "{output:#?}");
}

#[test]
fn the_example_connector_runs_with_relations_and_a_cheaper_second_run() {
    let workspace = MinidashWorkspace::synthetic(7, 30, 20);
    let boards = workspace.dashboards.len() as u64;
    let sim = MinidashHandle::spawn(MinidashConfig::new(workspace.clone()))
        .expect("starting the Minidash simulator");
    let host = Host::new();
    let source = host.source_file("minidash.toml", &minidash_source("Minidash", &sim));
    let source = source.to_str().unwrap();

    let first = host.run_with_env(&["run", "--source", source], &KEY_ENV);
    assert_ok(&first);
    let after_first = sim.stats();
    assert_eq!(
        after_first.dashboard_get_requests, boards,
        "every dashboard read once"
    );
    assert_eq!(
        after_first.unauthorized, 0,
        "the key reached the simulator as X-Api-Key"
    );
    let resources = host.resources(Some("Minidash"));
    assert_eq!(resources.len(), 30 + workspace.dashboards.len());
    let stored = relations_by_native_id(&resources, "minidash_dashboard");
    assert_eq!(stored, expected_reads(&workspace, &resources));
    assert!(
        stored.values().any(|reads| !reads.is_empty()),
        "the workspace has relations to show"
    );

    // The checkpoint: nothing changed, so no dashboard is fetched again and every relation stays.
    let second = host.run_with_env(&["run", "--source", source], &KEY_ENV);
    assert_ok(&second);
    let during_second = sim.stats().since(&after_first);
    assert_eq!(during_second.dashboard_get_requests, 0, "{during_second:?}");
    let resources = host.resources(Some("Minidash"));
    assert_eq!(
        relations_by_native_id(&resources, "minidash_dashboard"),
        stored
    );

    // Three dashboards change what they read: only they are fetched, and their relations follow.
    let (edited, changed) = workspace.edited(3, 3);
    sim.replace(edited.clone())
        .expect("replacing the workspace");
    let before_third = sim.stats();
    let third = host.run_with_env(&["run", "--source", source], &KEY_ENV);
    assert_ok(&third);
    let during_third = sim.stats().since(&before_third);
    let fetched: BTreeSet<&String> = during_third
        .dashboard_gets
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(fetched, changed.iter().collect(), "{during_third:?}");
    let resources = host.resources(Some("Minidash"));
    assert_eq!(
        relations_by_native_id(&resources, "minidash_dashboard"),
        expected_reads(&edited, &resources)
    );

    // `--full` hands no checkpoint: every dashboard is read again.
    let before_full = sim.stats();
    let full = host.run_with_env(&["run", "--source", source, "--full"], &KEY_ENV);
    assert_ok(&full);
    assert_eq!(
        sim.stats().since(&before_full).dashboard_get_requests,
        boards
    );

    for output in [&first, &second, &third, &full] {
        assert!(
            !output.stdout.contains(MinidashConfig::DEFAULT_API_KEY)
                && !output.stderr.contains(MinidashConfig::DEFAULT_API_KEY),
            "the key leaked: {output:#?}"
        );
    }
    let listing = host.run(&["resources", "--format", "euno"]);
    assert_ok(&listing);
    assert!(
        listing.stdout.contains("\"relations\""),
        "{}",
        listing.stdout
    );
}

#[test]
fn a_failed_run_keeps_the_last_successful_checkpoint() {
    let workspace = MinidashWorkspace::synthetic(8, 10, 6);
    let sim = MinidashHandle::spawn(MinidashConfig::new(workspace.clone()))
        .expect("starting the Minidash simulator");
    let host = Host::new();
    let source = host.source_file("minidash.toml", &minidash_source("Minidash", &sim));
    let source = source.to_str().unwrap();
    assert_ok(&host.run_with_env(&["run", "--source", source], &KEY_ENV));

    // A wrong key fails the run: nothing it saved may replace the first run's checkpoint.
    let failed = host.run_with_env(
        &["run", "--source", source],
        &[("MINIDASH_KEY", "md_wrong")],
    );
    assert_eq!(failed.code, 3, "{failed:#?}");
    assert!(failed.stderr.contains("unauthorized"), "{}", failed.stderr);

    let before = sim.stats();
    assert_ok(&host.run_with_env(&["run", "--source", source], &KEY_ENV));
    assert_eq!(
        sim.stats().since(&before).dashboard_get_requests,
        0,
        "the first run's checkpoint survived the failed one"
    );
}

#[test]
fn the_hex_connector_built_for_0_1_runs_unchanged() {
    let workspace = Workspace::synthetic(5, 40);
    let sim = simulator(workspace, Faults::default());
    let host = Host::new();
    let fixture = fixture_0_1();
    let source = format!(
        "name = \"Hex 0.1\"\nconnector = \"{}\"\n\n[secrets]\napi_token = \"${{HEX_API_TOKEN}}\"\n\n[settings]\nbase_url = \"{}\"\nrequests_per_minute = 0\n\n{}",
        fixture.display(),
        sim.base_url(),
        network_allow(&[&format!("http://{}", sim.addr())])
    );
    let source = host.source_file("hex01.toml", &source);
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_ok(&output);
    let resources = host.resources(Some("Hex 0.1"));
    assert!(
        resources
            .iter()
            .filter(|r| r["type"] == "hex_project")
            .count()
            > 10,
        "{resources:#?}"
    );
    assert!(
        resources
            .iter()
            .all(|r| r["relations"] == serde_json::json!([]))
    );
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["connector_id"], "hex");
    assert_eq!(runs[0]["outcome"], "succeeded");
}

#[test]
fn a_component_of_an_unknown_contract_version_is_refused_naming_the_supported_ones() {
    let bytes = std::fs::read(fixture_0_1()).expect("reading the 0.1 fixture");
    let (from, to) = (
        b"euno:connector/connector@0.1.0".as_slice(),
        b"euno:connector/connector@0.3.0".as_slice(),
    );
    let mut patched = bytes.clone();
    let mut found = 0;
    let mut at = 0;
    while let Some(offset) = patched[at..].windows(from.len()).position(|w| w == from) {
        let start = at + offset;
        patched[start..start + from.len()].copy_from_slice(to);
        found += 1;
        at = start + from.len();
    }
    assert!(found > 0, "the fixture exports the 0.1 interface");
    let host = Host::new();
    let component = host.file("future.wasm", &patched);
    let source = host.source_file(
        "future.toml",
        &format!(
            "name = \"Future\"\nconnector = \"{}\"\n",
            component.display()
        ),
    );
    let output = host.run(&["run", "--source", source.to_str().unwrap()]);
    assert_eq!(output.code, 2, "{output:#?}");
    assert!(
        output
            .stderr
            .contains("exports `euno:connector@0.3.0`; this euno-host supports 0.1.0 and 0.2.0"),
        "{}",
        output.stderr
    );
}

/// `connectors test COMPONENT --source FILE` on this host.
fn conformance(host: &Host, component: &str, source: &Path, env: &[(&str, &str)]) -> Output {
    host.run_with_env(
        &[
            "connectors",
            "test",
            component,
            "--source",
            source.to_str().unwrap(),
        ],
        env,
    )
}

fn assert_conforms(output: &Output) {
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(!output.stdout.contains("FAIL"), "{}", output.stdout);
    for promise in [
        "PASS spec: the same on every call",
        "PASS check: succeeds without emitting",
        "PASS discover: succeeds",
        "PASS summary: emitted equals the resources emitted",
        "PASS relations: kinds and targets",
        "PASS checkpoint: round trip",
        "PASS discover: a run with a checkpoint emits every resource",
        "PASS relations: kept across runs",
    ] {
        assert!(
            output.stdout.contains(promise),
            "{promise}: {}",
            output.stdout
        );
    }
}

#[test]
fn connectors_test_passes_the_example_and_both_hex_builds() {
    let host = Host::new();

    let minidash =
        MinidashHandle::spawn(MinidashConfig::new(MinidashWorkspace::synthetic(9, 12, 8)))
            .expect("starting the Minidash simulator");
    let source = host.source_file("minidash.toml", &minidash_source("Minidash", &minidash));
    let output = conformance(&host, MINIDASH, &source, &KEY_ENV);
    assert_conforms(&output);
    assert!(
        output.stdout.contains("the second run was handed the"),
        "{}",
        output.stdout
    );

    let sim = simulator(Workspace::synthetic(4, 30), Faults::default());
    let hex = host.source_file(
        "hex.toml",
        &format!(
            "{}\n{}",
            hex_source("Hex", &sim.base_url(), ""),
            network_allow(&[&format!("http://{}", sim.addr())])
        ),
    );
    assert_conforms(&conformance(&host, "hex", &hex, &token_env()));
    let fixture = fixture_0_1();
    assert_conforms(&conformance(
        &host,
        fixture.to_str().unwrap(),
        &hex,
        &token_env(),
    ));
    assert!(
        !host.data_dir().join("inventory.sqlite3").exists(),
        "connectors test wrote to the user's inventory"
    );
}

#[test]
fn connectors_test_fails_a_connector_breaking_a_promise_and_names_it() {
    let host = Host::new();
    let source = host.source_file(
        "bad.toml",
        &test_guest_source("Bad", "uppercase-uri", "", ""),
    );
    let output = conformance(&host, TEST_GUEST, &source, &[]);
    assert_eq!(output.code, 5, "{output:#?}");
    assert!(
        output
            .stdout
            .contains("FAIL rules: URIs, types and budgets"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("not lowercase"), "{}", output.stdout);
    assert!(
        output.stderr.contains("rules: URIs, types and budgets"),
        "{}",
        output.stderr
    );
}
