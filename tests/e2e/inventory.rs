//! The inventory end to end (issue #4): change detection, the cleanup strategies and their guard,
//! atomic runs (a failed run and a killed process change nothing), several sources sponsoring one
//! workspace, the run history and the Euno export. The real binary discovers the simulator with
//! the bundled Hex connector; everything is observed through `resources` and `runs`.
//!
//! "10 projects then 7" is literal: the workspaces are built from the projects the connector sees
//! by default (no components, archived or trashed projects), and the 7 are the first 7 of the 10
//! under the same workspace id, served in place of the 10 at the same base URL (the connector
//! builds project links from the base URL, so a new address would change every project).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hex_sim::{Faults, SlowPage, Workspace};
use jiff::Timestamp;
use serde_json::Value;

use crate::support::{Host, Output, ReplaceableSim, hex_source, token_env};

/// Instantiates each named test (a `fn(Host)`) on both inventories: `on_sqlite::NAME` and
/// `on_postgres::NAME` (skipped, loudly, where the machine has no PostgreSQL).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(crate::support::Host::new());
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(host) = crate::support::Host::on_postgres() {
                        super::$name(host);
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    immediate_cleanup_is_the_default_and_removes_what_a_run_no_longer_sees,
    with_cleanup_none_every_resource_stays,
    after_days_keeps_unseen_resources_until_they_are_older_than_the_limit,
    a_failed_run_in_between_changes_nothing,
    a_run_killed_mid_way_leaves_the_inventory_as_it_was,
    two_sources_sponsoring_one_workspace_keep_what_either_still_sees,
    the_removal_guard_refuses_a_cleanup_that_removes_too_much,
);

/// A workspace of exactly `n` projects that the connector discovers with its default settings.
/// The same seed gives the same workspace id, and `projects(seed, 7)` holds the first 7 projects
/// of `projects(seed, 10)`.
pub(crate) fn projects(seed: u64, n: usize) -> Workspace {
    let mut workspace = Workspace::synthetic(seed, 4 * n + 8);
    workspace
        .projects
        .retain(|p| !p.is_component() && !p.is_archived() && !p.is_trashed());
    assert!(
        workspace.projects.len() >= n,
        "seed {seed} has too few visible projects"
    );
    workspace.projects.truncate(n);
    // No lineage: its data connections would be resources too (since contract 0.2), which the
    // counts of these tests do not mean.
    workspace.lineage = Default::default();
    workspace
}

/// The URI of the workspace resource, identified by the workspace id.
pub(crate) fn workspace_uri(workspace: &Workspace) -> String {
    format!("hex.{}", workspace.id.to_lowercase())
}

/// The URIs the connector gives `workspace` and its projects.
pub(crate) fn expected_uris(workspace: &Workspace) -> BTreeSet<String> {
    let parent = workspace_uri(workspace);
    workspace
        .projects
        .iter()
        .map(|p| format!("{parent}.{}", p.id.to_lowercase()))
        .chain([parent.clone()])
        .collect()
}

/// Writes (or rewrites) the Hex source file `file` for `name`, reading `sim` with the workspace id
/// of `workspace`; `settings` are extra `[settings]` lines and `tables` further tables, such as
/// `[cleanup]`.
pub(crate) fn write_source(
    host: &Host,
    file: &str,
    name: &str,
    sim: &ReplaceableSim,
    workspace: &Workspace,
    settings: &str,
    tables: &str,
) -> PathBuf {
    let settings = format!("workspace_id = \"{}\"\n{settings}", workspace.id);
    let text = hex_source(name, &sim.base_url(), &settings) + tables;
    host.source_file(file, &text)
}

/// The summary of the first run over 10 projects: the workspace and its projects are new.
pub(crate) const FIRST_RUN: &str = "added 11, updated 0, unchanged 0, removed 0";

/// `euno-host run --source FILE [extra…]` with the right token.
pub(crate) fn run(host: &Host, source: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--source", source.to_str().unwrap()];
    args.extend(extra);
    host.run_with_env(&args, &token_env())
}

/// Runs and expects success with this exact change summary line.
pub(crate) fn run_ok(host: &Host, source: &Path, summary: &str) -> Output {
    let output = run(host, source, &[]);
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output.stdout.contains(summary),
        "expected `{summary}` in:\n{}",
        output.stdout
    );
    output
}

/// `runs --json`, newest first, optionally for one source.
pub(crate) fn runs(host: &Host, source: Option<&str>) -> Vec<Value> {
    let mut args = vec!["runs", "--json"];
    if let Some(source) = source {
        args.extend(["--source", source]);
    }
    let output = host.run(&args);
    assert_eq!(output.code, 0, "{output:#?}");
    output.json().as_array().expect("a JSON array").clone()
}

/// `resources --json` exactly as printed, to compare byte for byte.
pub(crate) fn resources_text(host: &Host) -> String {
    let output = host.run(&["resources", "--json"]);
    assert_eq!(output.code, 0, "{output:#?}");
    output.stdout
}

pub(crate) fn uris(resources: &[Value]) -> BTreeSet<String> {
    resources
        .iter()
        .map(|r| r["uri"].as_str().expect("a string uri").to_owned())
        .collect()
}

fn find<'a>(resources: &'a [Value], uri: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["uri"] == uri)
        .unwrap_or_else(|| panic!("{uri} is not in the inventory"))
}

fn time(value: &Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a timestamp string"))
        .parse()
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
}

fn sponsors(resource: &Value) -> Vec<&str> {
    resource["sponsors"]
        .as_array()
        .expect("sponsors is an array")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Asserts a run record's outcome and change counts.
pub(crate) fn assert_run(
    run: &Value,
    outcome: &str,
    [added, updated, unchanged, removed]: [u64; 4],
) {
    assert_eq!(run["outcome"], outcome, "{run:#}");
    let counts = ["added", "updated", "unchanged", "removed"].map(|k| run[k].as_u64().unwrap());
    assert_eq!(
        counts,
        [added, updated, unchanged, removed],
        "added, updated, unchanged, removed of {run:#}"
    );
}

fn immediate_cleanup_is_the_default_and_removes_what_a_run_no_longer_sees(host: Host) {
    let ten = projects(101, 10);
    let mut seven = projects(101, 7);
    let renamed = format!(
        "{}.{}",
        workspace_uri(&ten),
        seven.projects[0].id.to_lowercase()
    );
    seven.projects[0].title = "Renamed in Hex".to_owned().into();
    let dropped: BTreeSet<String> = expected_uris(&ten)
        .difference(&expected_uris(&seven))
        .cloned()
        .collect();
    assert_eq!(dropped.len(), 3);
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, "", "");

    run_ok(&host, &source, FIRST_RUN);
    let before_text = resources_text(&host);
    let before = host.resources(None);
    assert_eq!(uris(&before), expected_uris(&ten));
    for resource in &before {
        assert_eq!(sponsors(resource), ["Hex"]);
        let first_seen = time(&resource["first_seen"]);
        assert_eq!(time(&resource["last_seen"]), first_seen);
        assert_eq!(time(&resource["last_changed"]), first_seen);
    }

    // The workspace now holds 7 projects, one of them renamed.
    sim.replace(seven.clone(), Faults::default());

    // A dry run says what would change and what cleanup would remove, and writes nothing.
    let dry = run(&host, &source, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:#?}");
    assert!(
        dry.stdout
            .contains("would be added 0, would be updated 2, unchanged 6, would be removed 3"),
        "{}",
        dry.stdout
    );
    for uri in &dropped {
        assert!(
            dry.stdout.contains(&format!("would remove {uri}\n")),
            "{}",
            dry.stdout
        );
    }
    for uri in [&renamed, &workspace_uri(&ten)] {
        assert!(
            dry.stdout.contains(&format!("would update {uri}\n")),
            "{}",
            dry.stdout
        );
    }
    assert_eq!(resources_text(&host), before_text, "a dry run wrote");
    assert_run(&runs(&host, None)[0], "dry_run", [0, 2, 6, 3]);

    let output = run_ok(&host, &source, "added 0, updated 2, unchanged 6, removed 3");
    assert!(output.stdout.contains("7 hex_project"), "{}", output.stdout);
    let after = host.resources(None);
    assert_eq!(uris(&after), expected_uris(&seven));
    let history = runs(&host, None);
    assert_eq!(history.len(), 3, "{history:#?}");
    assert_run(&history[0], "succeeded", [0, 2, 6, 3]);
    assert_run(&history[2], "succeeded", [11, 0, 0, 0]);
    let latest = &history[0];
    assert_eq!(latest["source"], "Hex");
    assert_eq!(latest["connector_id"], "hex");
    assert!(latest["error"].is_null() && latest["cleanup_refused"].is_null());
    assert!(time(&latest["finished_at"]) >= time(&latest["started_at"]));
    let (run1, run3) = (time(&history[2]["started_at"]), time(&latest["started_at"]));

    // Change detection shows in the timestamps: everything was seen again, only the renamed
    // project and the workspace (whose project count changed) changed.
    for resource in &after {
        let uri = resource["uri"].as_str().unwrap();
        assert_eq!(time(&resource["first_seen"]), run1, "{uri}");
        assert_eq!(time(&resource["last_seen"]), run3, "{uri}");
        let changed = if uri == renamed || uri == workspace_uri(&ten) {
            run3
        } else {
            run1
        };
        assert_eq!(time(&resource["last_changed"]), changed, "{uri}");
    }
    assert_eq!(find(&after, &renamed)["name"], "Renamed in Hex");
    assert_eq!(
        find(&after, &workspace_uri(&ten))["properties"]["project_count"],
        7
    );

    // The same workspace again: nothing changes.
    run_ok(&host, &source, "added 0, updated 0, unchanged 8, removed 0");

    // The Euno export: one observation a line, the same resources.
    let euno = host.run(&["resources", "--format", "euno"]);
    assert_eq!(euno.code, 0, "{euno:#?}");
    let observations: Vec<Value> = euno
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("`{line}` is not JSON: {e}"))
        })
        .collect();
    assert_eq!(uris(&observations), expected_uris(&seven));
    for observation in &observations {
        let properties = &observation["properties"];
        assert!(
            ["hex_workspace", "hex_project"].contains(&properties["type"].as_str().unwrap()),
            "{observation}"
        );
        let uri = observation["uri"].as_str().unwrap();
        assert_eq!(properties["name"], find(&after, uri)["name"], "{uri}");
    }
}

fn with_cleanup_none_every_resource_stays(host: Host) {
    let ten = projects(102, 10);
    let seven = projects(102, 7);
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let cleanup = "[cleanup]\nstrategy = \"none\"";
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, "", cleanup);
    run_ok(&host, &source, FIRST_RUN);

    sim.replace(seven.clone(), Faults::default());
    run_ok(&host, &source, "added 0, updated 1, unchanged 7, removed 0");

    let resources = host.resources(None);
    assert_eq!(uris(&resources), expected_uris(&ten));
    let history = runs(&host, Some("Hex"));
    assert_run(&history[0], "succeeded", [0, 1, 7, 0]);
    let (first, second) = (
        time(&history[1]["started_at"]),
        time(&history[0]["started_at"]),
    );
    // The projects no longer reported are kept, last seen by the first run.
    let still_seen = expected_uris(&seven);
    for resource in &resources {
        let uri = resource["uri"].as_str().unwrap();
        let last_seen = if still_seen.contains(uri) {
            second
        } else {
            first
        };
        assert_eq!(time(&resource["last_seen"]), last_seen, "{uri}");
        assert_eq!(sponsors(resource), ["Hex"]);
    }
}

/// Moves every time the inventory holds back by `days`, as if all its runs had happened that
/// much earlier: the only way to let days pass for the `after_days` strategy without a clock
/// the binary would have to expose. Everything else is observed through the CLI.
fn backdate(host: &Host, days: i64) {
    let ms = days * 86_400_000;
    host.execute_sql(&format!(
        "UPDATE runs SET started_at = started_at - {ms}, finished_at = finished_at - {ms};
         UPDATE sponsorships SET last_seen = last_seen - {ms};
         UPDATE resources SET first_seen = first_seen - {ms}, last_changed = last_changed - {ms};"
    ));
}

fn after_days_keeps_unseen_resources_until_they_are_older_than_the_limit(host: Host) {
    let ten = projects(103, 10);
    let seven = projects(103, 7);
    let cleanup = "[cleanup]\nstrategy = \"after_days\"\nafter_days = 7";
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, "", cleanup);
    run_ok(&host, &source, FIRST_RUN);

    // The same day, the 3 projects no longer reported are kept.
    sim.replace(seven.clone(), Faults::default());
    run_ok(&host, &source, "added 0, updated 1, unchanged 7, removed 0");
    assert_eq!(uris(&host.resources(None)), expected_uris(&ten));

    // Six days later they were last seen six days ago: still kept.
    backdate(&host, 6);
    run_ok(&host, &source, "added 0, updated 0, unchanged 8, removed 0");
    assert_eq!(uris(&host.resources(None)), expected_uris(&ten));

    // Two more days: last seen eight days ago, more than 7, so they go; the 7 projects the last
    // run saw (two days ago) stay.
    backdate(&host, 2);
    run_ok(&host, &source, "added 0, updated 0, unchanged 8, removed 3");
    let resources = host.resources(None);
    assert_eq!(uris(&resources), expected_uris(&seven));
    let history = runs(&host, None);
    assert_run(&history[0], "succeeded", [0, 0, 8, 3]);
    assert_run(&history[1], "succeeded", [0, 0, 8, 0]);
    for resource in &resources {
        // first seen by the first run, eight days (and a few seconds) ago
        assert_eq!(
            time(&resource["first_seen"]),
            time(&history[3]["started_at"])
        );
    }
}

fn a_failed_run_in_between_changes_nothing(host: Host) {
    let ten = projects(104, 10);
    let seven = projects(104, 7);
    // Two projects a page, so that a failing run has already staged pages when it fails.
    let settings = "page_size = 2";
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, settings, "");
    run_ok(&host, &source, FIRST_RUN);
    let before = resources_text(&host);

    // Pages 1 and 2 arrive, page 3 is not JSON: had the run succeeded, cleanup would have
    // removed 3 projects.
    let faults = Faults {
        malformed_page: Some(3),
        ..Faults::default()
    };
    sim.replace(seven.clone(), faults);
    let failed = run(&host, &source, &[]);
    assert_eq!(failed.code, 3, "{failed:#?}");
    assert!(failed.stderr.contains("failed"), "{}", failed.stderr);
    assert_eq!(
        resources_text(&host),
        before,
        "a failed run changed the inventory"
    );
    let history = runs(&host, None);
    assert_run(&history[0], "failed", [0, 0, 0, 0]);
    let error = history[0]["error"]
        .as_str()
        .expect("the failure is recorded");
    assert!(error.contains("page 3"), "{error}");
    // The connector hands the host each page once read: the first two pages were staged before
    // page 3 failed, and none of it landed.
    assert_eq!(
        history[0]["emitted"], 4,
        "two pages were staged before the failure"
    );
    assert!(history[0]["finished_at"].is_string());

    // A bad token fails the same way.
    sim.replace(seven.clone(), Faults::default());
    let source_arg = source.to_str().unwrap();
    let unauthorized = host.run_with_env(
        &["run", "--source", source_arg],
        &[("HEX_API_TOKEN", "hxtp_wrong")],
    );
    assert_eq!(unauthorized.code, 3, "{unauthorized:#?}");
    assert_eq!(
        resources_text(&host),
        before,
        "a failed run changed the inventory"
    );
    let history = runs(&host, None);
    assert_run(&history[0], "failed", [0, 0, 0, 0]);
    assert!(
        history[0]["error"]
            .as_str()
            .unwrap()
            .contains("unauthorized"),
        "{:#}",
        history[0]
    );

    // So does a run stopped by a sandbox limit, after it staged a page: here the deadline,
    // while Hex is slow to send page 2.
    let slow = Faults {
        slow_page: Some(SlowPage {
            page: 2,
            delay_ms: 30_000,
        }),
        ..Faults::default()
    };
    sim.replace(seven.clone(), slow);
    let limited = write_source(
        &host,
        "hex.toml",
        "Hex",
        &sim,
        &seven,
        settings,
        "[limits]\ndeadline_seconds = 1",
    );
    let stopped = run(&host, &limited, &[]);
    assert_eq!(stopped.code, 3, "{stopped:#?}");
    assert_eq!(
        resources_text(&host),
        before,
        "a failed run changed the inventory"
    );
    let history = runs(&host, None);
    assert_run(&history[0], "failed", [0, 0, 0, 0]);
    // Page 1 was staged before the deadline struck, and none of it landed.
    assert_eq!(history[0]["emitted"], 2);
    assert!(
        history[0]["error"].as_str().unwrap().contains("deadline"),
        "{:#}",
        history[0]
    );

    // The next good run compares with the inventory as the first run left it.
    sim.replace(seven.clone(), Faults::default());
    run_ok(&host, &source, "added 0, updated 1, unchanged 7, removed 3");
    assert_eq!(uris(&host.resources(None)), expected_uris(&seven));
    assert_eq!(
        runs(&host, None)
            .iter()
            .map(|r| r["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["succeeded", "failed", "failed", "failed", "succeeded"]
    );
}

fn a_run_killed_mid_way_leaves_the_inventory_as_it_was(host: Host) {
    let ten = projects(105, 10);
    let seven = projects(105, 7);
    let settings = "page_size = 2";
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, settings, "");
    run_ok(&host, &source, FIRST_RUN);
    let before = resources_text(&host);

    // Page 1 arrives at once, page 2 not for a minute: the run stays in progress with a page
    // staged until it is killed.
    let faults = Faults {
        slow_page: Some(SlowPage {
            page: 2,
            delay_ms: 60_000,
        }),
        ..Faults::default()
    };
    sim.replace(seven.clone(), faults);
    let mut child = host
        .command()
        .args(["run", "--source", source.to_str().unwrap()])
        .envs(token_env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting euno-host run");
    let pid = child.id();
    let started = Instant::now();
    loop {
        let latest = runs(&host, None).remove(0);
        // Under way with page 1 staged while page 2 is dripping.
        if latest["outcome"] == "running" && latest["emitted"].as_u64() >= Some(2) {
            assert_eq!(latest["pid"], pid);
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended by itself ({status}): {latest:#}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the run never got going: {latest:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    // Reaped, so that the next command sees the process gone.
    child.wait().unwrap();

    // The next command notices the dead run and marks it; nothing it staged was kept.
    assert_eq!(
        resources_text(&host),
        before,
        "a killed run changed the inventory"
    );
    let history = runs(&host, None);
    assert_run(&history[0], "abandoned", [0, 0, 0, 0]);
    assert!(history[0]["finished_at"].is_null());
    let error = history[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("pid {pid}")) && error.contains("nothing it reported was kept"),
        "{error}"
    );

    // The next run of the source succeeds, compared with the inventory as it was.
    sim.replace(seven.clone(), Faults::default());
    run_ok(&host, &source, "added 0, updated 1, unchanged 7, removed 3");
    assert_eq!(uris(&host.resources(None)), expected_uris(&seven));
    let history = runs(&host, None);
    assert_eq!(history[0]["outcome"], "succeeded");
    assert_eq!(history[1]["outcome"], "abandoned");
}

fn two_sources_sponsoring_one_workspace_keep_what_either_still_sees(host: Host) {
    let ten = projects(106, 10);
    let seven = projects(106, 7);
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let a = write_source(&host, "a.toml", "Hex A", &sim, &ten, "", "");
    let b = write_source(&host, "b.toml", "Hex B", &sim, &ten, "", "");
    run_ok(&host, &a, FIRST_RUN);
    run_ok(&host, &b, "added 0, updated 0, unchanged 11, removed 0");
    let resources = host.resources(None);
    assert_eq!(uris(&resources), expected_uris(&ten));
    for resource in &resources {
        assert_eq!(sponsors(resource), ["Hex A", "Hex B"]);
    }

    // B now sees 7 projects (A is not run again): it stops sponsoring 3, which A still
    // sponsors.
    sim.replace(seven.clone(), Faults::default());
    run_ok(&host, &b, "added 0, updated 1, unchanged 7, removed 3");
    let resources = host.resources(None);
    assert_eq!(uris(&resources), expected_uris(&ten));
    let seen_by_b = expected_uris(&seven);
    for resource in &resources {
        let uri = resource["uri"].as_str().unwrap();
        let expected: &[&str] = if seen_by_b.contains(uri) {
            &["Hex A", "Hex B"]
        } else {
            &["Hex A"]
        };
        assert_eq!(sponsors(resource), expected, "{uri}");
    }
    assert_eq!(uris(&host.resources(Some("Hex B"))), seen_by_b);
    assert_eq!(uris(&host.resources(Some("Hex A"))), expected_uris(&ten));

    let b_runs = runs(&host, Some("Hex B"));
    assert_eq!(b_runs.len(), 2);
    assert!(b_runs.iter().all(|r| r["source"] == "Hex B"));
    assert_run(&b_runs[0], "succeeded", [0, 1, 7, 3]);
    assert_eq!(runs(&host, None).len(), 3);

    // Removing a source that is not there is a mistake, and changes nothing.
    let before = resources_text(&host);
    let typo = host.run(&["sources", "remove", "Hex C"]);
    assert_eq!(typo.code, 2, "{typo:#?}");
    assert!(typo.stderr.contains("Hex C"), "{}", typo.stderr);
    assert_eq!(resources_text(&host), before);

    // Removing A drops its sponsorships, and the 3 resources only A sponsored.
    let removed = host.run(&["sources", "remove", "Hex A"]);
    assert_eq!(removed.code, 0, "{removed:#?}");
    assert!(removed.stdout.contains("3 resources"), "{}", removed.stdout);
    let resources = host.resources(None);
    assert_eq!(uris(&resources), seen_by_b);
    for resource in &resources {
        assert_eq!(sponsors(resource), ["Hex B"]);
    }
    assert!(host.resources(Some("Hex A")).is_empty());
    // Its history stays.
    assert_eq!(runs(&host, Some("Hex A")).len(), 1);
}

fn the_removal_guard_refuses_a_cleanup_that_removes_too_much(host: Host) {
    let ten = projects(107, 10);
    let seven = projects(107, 7);
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let guarded = "[cleanup]\nstrategy = \"immediate\"\nmax_removal_ratio = 0.2";
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, "", guarded);
    run_ok(&host, &source, FIRST_RUN);

    // 3 of the 11 resources (27%) is more than 20%.
    sim.replace(seven.clone(), Faults::default());
    let refused = run(&host, &source, &[]);
    assert_eq!(refused.code, 4, "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("added 0, updated 1, unchanged 7, removed 0"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("cleanup refused: ")
            && refused.stdout.contains("remove 3 of the 11")
            && refused.stdout.contains("max_removal_ratio"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("cleanup refused"),
        "{}",
        refused.stderr
    );
    assert_eq!(uris(&host.resources(None)), expected_uris(&ten));
    let latest = runs(&host, None).remove(0);
    assert_run(&latest, "succeeded", [0, 1, 7, 0]);
    let reason = latest["cleanup_refused"]
        .as_str()
        .expect("the reason is recorded");
    assert!(
        reason.contains("remove 3 of the 11") && reason.contains("0.2"),
        "{reason}"
    );
    let table = host.run(&["runs"]);
    assert!(
        table.stdout.contains(&format!("cleanup refused: {reason}")),
        "{}",
        table.stdout
    );

    // A looser guard lets the same cleanup through.
    let looser = "[cleanup]\nstrategy = \"immediate\"\nmax_removal_ratio = 0.3";
    let source = write_source(&host, "hex.toml", "Hex", &sim, &ten, "", looser);
    run_ok(&host, &source, "added 0, updated 0, unchanged 8, removed 3");
    assert_eq!(uris(&host.resources(None)), expected_uris(&seven));
    assert!(runs(&host, None)[0]["cleanup_refused"].is_null());
}
