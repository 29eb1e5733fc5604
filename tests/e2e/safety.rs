//! Issue 11's safety nets end to end, each test playing the attack first: a server that answers
//! "200, nothing" must not empty the inventory; `serve` must not act on half a source file; a
//! source that cannot even start under `serve` must leave a failed run; a tampered compiled
//! component must not be loaded; and a run of another machine sharing the data volume must not be
//! judged abandoned. (How settling goes as time passes is tested in process, on the scheduler's
//! own clock: `scheduler::tick` and `scheduler::sources`; here the real daemon is attacked once.)

use std::io::Write;

use hex_sim::Faults;

use crate::inventory::{
    FIRST_RUN, assert_run, expected_uris, projects, resources_text, run, run_ok, runs, uris,
    workspace_uri, write_source,
};
use crate::serve::{Daemon, HOURLY, finished_run, guest_source, place, runs_of};
use crate::support::{Host, ReplaceableSim, TEST_GUEST, test_guest_source};

/// A sources and a connectors directory for `serve`, the test guest installed as `test-guest`.
fn serve_dirs(host: &Host) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = host.data_dir().with_file_name("serve");
    let (sources, connectors) = (root.join("sources"), root.join("connectors"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&connectors).unwrap();
    place(
        &connectors.join("test-guest.wasm"),
        &std::fs::read(TEST_GUEST).unwrap(),
    );
    (sources, connectors)
}

#[test]
fn an_empty_answer_does_not_empty_the_inventory() {
    let ten = projects(111, 10);
    let mut empty = ten.clone();
    empty.projects.clear();
    let host = Host::new();
    let mut sim = ReplaceableSim::new(ten.clone(), Faults::default());
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let source = write_source(&host, "sources/hex.toml", "Hex", &sim, &ten, "", "");
    run_ok(&host, &source, FIRST_RUN);
    let before = resources_text(&host);

    // The attack: Hex answers 200 with an empty `values` list. The workspace is still there, its
    // 10 projects are not: cleanup would remove 10 of the 11 resources.
    sim.replace(empty.clone(), Faults::default());
    let project_uris: Vec<String> = expected_uris(&ten)
        .into_iter()
        .filter(|uri| *uri != workspace_uri(&ten))
        .collect();

    // A dry run shows the would-be removal and the refusal.
    let dry = run(&host, &source, &["--dry-run"]);
    assert_eq!(dry.code, 4, "{dry:#?}");
    assert!(
        dry.stdout
            .contains("cleanup refused: cleanup would remove 10 of the 11"),
        "{}",
        dry.stdout
    );
    for uri in &project_uris {
        assert!(
            dry.stdout
                .contains(&format!("refused: would remove {uri}\n")),
            "{}",
            dry.stdout
        );
    }
    assert_eq!(resources_text(&host), before, "a dry run wrote");

    // The real run merges what it saw, removes nothing, exits 4 and says how to opt out.
    let refused = run(&host, &source, &[]);
    assert_eq!(refused.code, 4, "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("added 0, updated 1, unchanged 0, removed 0"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("cleanup refused")
            && refused.stderr.contains("--allow-mass-removal"),
        "{}",
        refused.stderr
    );
    assert_eq!(uris(&host.resources(None)), expected_uris(&ten));
    let latest = runs(&host, None).remove(0);
    assert_run(&latest, "succeeded", [0, 1, 0, 0]);
    let reason = latest["cleanup_refused"].as_str().expect("the reason");
    assert!(
        reason.contains("remove 10 of the 11")
            && reason.contains("default max_removal_ratio of 0.5")
            && reason.contains("max_removal_ratio = 1.0"),
        "{reason}"
    );

    // `status` shows it too, as JSON and as text.
    let status = host.run(&["status", "--json", "--sources", sources.to_str().unwrap()]);
    assert_eq!(status.code, 0, "{status:#?}");
    let status = status.json();
    assert_eq!(
        status[0]["last_run"]["cleanup_refused"], reason,
        "{status:#}"
    );
    let text = host.run(&["status", "--sources", sources.to_str().unwrap()]);
    assert!(
        text.stdout.contains(&format!("cleanup refused: {reason}")),
        "{}",
        text.stdout
    );

    // The opt-outs: one run with --allow-mass-removal (dry, here), or max_removal_ratio = 1.0.
    let dry = run(&host, &source, &["--dry-run", "--allow-mass-removal"]);
    assert_eq!(dry.code, 0, "{dry:#?}");
    assert!(dry.stdout.contains("would be removed 10"), "{}", dry.stdout);
    let source = write_source(
        &host,
        "sources/hex.toml",
        "Hex",
        &sim,
        &ten,
        "",
        "[cleanup]\nmax_removal_ratio = 1.0",
    );
    run_ok(
        &host,
        &source,
        "added 0, updated 0, unchanged 1, removed 10",
    );
    assert_eq!(
        uris(&host.resources(None)),
        expected_uris(&empty),
        "only the workspace is left"
    );
}

#[test]
fn serve_acts_only_on_a_source_file_once_it_has_settled() {
    let host = Host::new();
    let (sources, connectors) = serve_dirs(&host);
    // A settle interval long enough that the test's second write surely falls within it.
    let daemon = Daemon::start_with(&host, &sources, &connectors, &["--settle-ms", "3000"]);
    daemon.wait_for_log("euno-host serve started");

    // The attack: a source file written in two steps whose first half parses. It is a never-run
    // hourly source, due at once, that would discover 3 items (the default count).
    let file = sources.join("settle.toml");
    std::fs::write(
        &file,
        "name = \"Settle\"\nconnector = \"test-guest\"\n\n[schedule]\nenabled = true\n\
         hourly = { every_hours = 1 }\n\n[settings]\nmode = \"ok\"\n",
    )
    .unwrap();
    daemon.wait_for_log("settle.toml is new or changed; waiting");
    // The rest of the file, within the settle interval.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"count = 7\n")
        .unwrap();

    let run = finished_run(&host, "Settle", &daemon);
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(run["emitted"], 7, "the complete file ran: {run:#}");
    assert_eq!(
        runs_of(&host, "Settle").len(),
        1,
        "the first half never ran"
    );
    assert_eq!(
        daemon.log().matches("source \"Settle\" added").count(),
        1,
        "{}",
        daemon.log()
    );
    assert_eq!(daemon.terminate(), 0);
}

#[test]
fn a_source_that_cannot_start_under_serve_leaves_one_failed_run_per_slot() {
    let host = Host::new();
    let (sources, connectors) = serve_dirs(&host);
    // The attack: sources that never get as far as a run. Before, `serve` logged them and
    // recorded nothing: `runs` had no trace and `status` said "never".
    std::fs::write(
        sources.join("unset.toml"),
        guest_source(
            "Unset",
            "text = \"${EUNO_TEST_VARIABLE_NOBODY_SETS}\"",
            HOURLY,
        ),
    )
    .unwrap();
    std::fs::write(
        sources.join("unknown.toml"),
        format!("name = \"Unknown\"\nconnector = \"no-such-connector\"\n[schedule]\n{HOURLY}\n"),
    )
    .unwrap();
    let daemon = Daemon::start(&host, &sources, &connectors);

    let unset = finished_run(&host, "Unset", &daemon);
    assert_eq!(unset["outcome"], "failed", "{unset:#}");
    let error = unset["error"].as_str().unwrap();
    assert!(
        error.contains("unset.toml")
            && error.contains("EUNO_TEST_VARIABLE_NOBODY_SETS")
            && error.contains("not set"),
        "{error}"
    );
    assert_eq!(unset["connector_id"], "test-guest", "{unset:#}");
    assert!(unset["scheduled_slot"].is_string(), "{unset:#}");

    let unknown = finished_run(&host, "Unknown", &daemon);
    assert_eq!(unknown["outcome"], "failed", "{unknown:#}");
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .contains("no-such-connector"),
        "{unknown:#}"
    );
    assert_eq!(
        (&unknown["connector_id"], &unknown["connector_digest"]),
        (&"no-such-connector".into(), &"".into())
    );
    assert!(
        daemon.log().contains("EUNO_TEST_VARIABLE_NOBODY_SETS"),
        "{}",
        daemon.log()
    );

    // `status` shows the failure, and the slot is used up: next run in an hour.
    let status = host.run(&["status", "--json", "--sources", sources.to_str().unwrap()]);
    assert_eq!(status.code, 0, "{status:#?}");
    let status = status.json();
    let unset_status = status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Unset")
        .unwrap();
    assert_eq!(unset_status["last_run"]["error"], error, "{status:#}");
    let slot: jiff::Timestamp = unset["scheduled_slot"].as_str().unwrap().parse().unwrap();
    let next: jiff::Timestamp = unset_status["next_run"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        next,
        slot + jiff::SignedDuration::from_hours(1),
        "{status:#}"
    );
    let text = host.run(&["status", "--sources", sources.to_str().unwrap()]);
    assert!(
        text.stdout.contains(&format!("error: {error}")),
        "{}",
        text.stdout
    );

    // Many polls later (a new source settles and runs meanwhile), still one failed run each:
    // the same unchanged problem is recorded once per slot, not on every poll.
    std::fs::write(
        sources.join("later.toml"),
        guest_source("Later", "mode = \"ok\"", HOURLY),
    )
    .unwrap();
    let later = finished_run(&host, "Later", &daemon);
    assert_eq!(later["outcome"], "succeeded", "{later:#}");
    assert_eq!(runs_of(&host, "Unset").len(), 1);
    assert_eq!(runs_of(&host, "Unknown").len(), 1);
    assert_eq!(daemon.terminate(), 0);
}

/// The compiled components in the cache, by file name.
fn cached_artifacts(host: &Host) -> Vec<std::path::PathBuf> {
    let dir = host.data_dir().join("cache").join("wasmtime-48.0.8");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_tampered_compiled_component_is_compiled_again_not_loaded() {
    let host = Host::new();
    let source = host.source_file(
        "guest.toml",
        &test_guest_source("Guest", "ok", "count = 4", ""),
    );
    let run_guest = || host.run(&["run", "--source", source.to_str().unwrap()]);
    let first = run_guest();
    assert_eq!(first.code, 0, "{first:#?}");
    // `spec` compiles (and caches) the bundled Hex connector too.
    assert_eq!(host.run(&["spec"]).code, 0);
    let guest_digest = crate::serve::digest(&std::fs::read(TEST_GUEST).unwrap());
    let artifacts = cached_artifacts(&host);
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    let (guest, hex): (Vec<_>, Vec<_>) = artifacts.into_iter().partition(|p| {
        p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&guest_digest)
    });
    let (guest, hex) = (&guest[0], &hex[0]);

    // After tampering, the host must say so, compile again, run the right connector and rewrite
    // the cache, which the next run then loads without a word.
    let compiled_again = |what: &str| {
        let run = run_guest();
        assert_eq!(run.code, 0, "{what}: {run:#?}");
        assert!(
            run.stderr.contains("failed its integrity check")
                && run
                    .stderr
                    .contains(guest.file_name().unwrap().to_str().unwrap()),
            "{what}: {}",
            run.stderr
        );
        assert!(
            run.stdout.contains("discovered 4 resources"),
            "{what}: {}",
            run.stdout
        );
        let latest = runs(&host, Some("Guest")).remove(0);
        assert_eq!(
            (
                &latest["outcome"],
                &latest["connector_id"],
                &latest["emitted"]
            ),
            (&"succeeded".into(), &"test-guest".into(), &4.into()),
            "{what}"
        );
        let again = run_guest();
        assert_eq!(again.code, 0, "{what}: {again:#?}");
        assert!(
            !again.stderr.contains("integrity"),
            "{what}: {}",
            again.stderr
        );
    };

    // The attack, twice: another component's compiled code renamed into place (loaded as is, the
    // Hex connector's code would run as the test guest), then a flipped byte.
    std::fs::copy(hex, guest).unwrap();
    compiled_again("another component's artifact");
    let mut bytes = std::fs::read(guest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(guest, bytes).unwrap();
    compiled_again("a flipped byte");

    // The key that seals the cache is the data directory's own, readable by its owner only.
    use std::os::unix::fs::PermissionsExt;
    let key = std::fs::metadata(host.data_dir().join("cache").join("key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_live_run_of_another_machine_sharing_the_volume_is_not_abandoned() {
    let host = Host::new();
    let source = host.source_file(
        "shared.toml",
        &test_guest_source("Shared", "ok", "count = 2", ""),
    );
    let run_shared = || host.run(&["run", "--source", source.to_str().unwrap()]);
    let first = run_shared();
    assert_eq!(first.code, 0, "{first:#?}");
    let mine = runs(&host, Some("Shared")).remove(0);
    assert!(
        mine["machine"].as_str().is_some_and(|m| !m.is_empty()) && mine["heartbeat_at"].is_string(),
        "runs record their machine and heartbeat: {mine:#}"
    );

    // The attack: a second machine sharing the data volume is running the source. Its row has
    // this host's name (containers on several hosts often share one) and a pid that does not
    // exist here; only its machine identity and its fresh heartbeat tell it apart.
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(mine["host"], host_name.as_str());
    const ELSEWHERE_PID: u32 = 2_147_483_646;
    let db = rusqlite::Connection::open(host.data_dir().join("inventory.sqlite3")).unwrap();
    db.execute(
        "INSERT INTO runs (source, connector_id, connector_version, connector_digest, started_at,
                           outcome, pid, host, machine, run_token, heartbeat_at)
         VALUES ('Shared', 'test-guest', '0.1.0', '', ?1, 'running', ?2, ?3,
                 'boot 0e1f-another-machine pid:[4026531836]', '00112233445566778899aabbccddeeff',
                 ?1)",
        (
            jiff::Timestamp::now().as_millisecond(),
            ELSEWHERE_PID,
            &host_name,
        ),
    )
    .unwrap();

    // A run here is refused as busy; the other machine's run stays running.
    let busy = run_shared();
    assert_eq!(busy.code, 3, "{busy:#?}");
    assert!(
        busy.stderr.contains("in progress") && busy.stderr.contains(&ELSEWHERE_PID.to_string()),
        "{}",
        busy.stderr
    );
    let history = runs(&host, Some("Shared"));
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[0]["outcome"], "running", "{:#}", history[0]);

    // Once its heartbeat is older than the timeout (60 s), it is taken for dead.
    db.execute(
        "UPDATE runs SET heartbeat_at = heartbeat_at - 120000 WHERE pid = ?1",
        [ELSEWHERE_PID],
    )
    .unwrap();
    let next = run_shared();
    assert_eq!(next.code, 0, "{next:#?}");
    let history = runs(&host, Some("Shared"));
    assert_eq!(history[0]["outcome"], "succeeded", "{:#}", history[0]);
    assert_eq!(history[1]["outcome"], "abandoned", "{:#}", history[1]);
    let error = history[1]["error"].as_str().unwrap();
    assert!(
        error.contains("no heartbeat") && error.contains("nothing it reported was kept"),
        "{error}"
    );
}
