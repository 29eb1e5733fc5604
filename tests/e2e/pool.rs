//! A pool of `euno-host serve` workers sharing one PostgreSQL inventory (issue 13), end to end:
//! real worker processes, a private PostgreSQL cluster (from `euno-testkit`; skipped loudly where
//! the machine has none) and the Hex API simulator on loopback. Failures are real: `kill -9`,
//! `SIGSTOP`/`SIGCONT`, the database stopped and started again. Everything is observed through
//! `runs --json`, `resources --json` and the workers' logs, polling for conditions with a bound.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hex_sim::{Faults, SlowPage, Workspace};
use serde_json::Value;

use crate::inventory::{expected_uris, projects, uris};
use crate::support::{Host, ReplaceableSim, hex_source, token_env};

/// How long a test waits for something the workers should do before it fails: a bound, so that
/// a broken pool fails the test instead of hanging it, never a timing assertion.
const PATIENCE: Duration = Duration::from_secs(90);

/// The lease of the workers in these tests, in seconds: short, so that a takeover comes soon.
const LEASE_SECONDS: &str = "3";

/// Every hour, due at once when never run.
const HOURLY: &str = "[schedule]\nenabled = true\nhourly = { every_hours = 1 }\n";

/// A running `euno-host serve --database …` worker, killed when dropped.
struct Worker {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Worker {
    /// Starts worker `name` on `host`'s database, with no sources directory: it schedules the
    /// sources the database holds.
    fn start(host: &Host, name: &str) -> Self {
        let log = host.data_dir().with_file_name(format!("{name}.log"));
        std::fs::create_dir_all(host.data_dir()).unwrap();
        let child = host
            .command()
            .args(["--log", "info", "serve", "--worker", name])
            .args([
                "--poll-ms",
                "100",
                "--settle-ms",
                "0",
                "--max-parallel",
                "4",
            ])
            .args(["--lease-seconds", LEASE_SECONDS])
            .envs(token_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting euno-host serve");
        let worker = Self {
            child,
            log,
            name: name.to_owned(),
        };
        worker.wait_for_log("euno-host serve started");
        worker
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    fn wait_for_log(&self, needle: &str) {
        wait_until(
            &format!("worker {} to log {needle:?}", self.name),
            || self.log().contains(needle).then_some(()),
            || self.log(),
        );
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`) with `kill`, as an operator would.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A stopped process must be continued to die of SIGKILL promptly; harmless otherwise.
        let _ = Command::new("kill").args(["-CONT", &self.pid()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until<T>(
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every run, newest first.
fn all_runs(host: &Host) -> Vec<Value> {
    let output = host.run(&["runs", "--json", "--limit", "100000"]);
    assert_eq!(output.code, 0, "{output:#?}");
    output.json().as_array().unwrap().clone()
}

/// Writes a Hex source for `workspace` on `sim` into `dir` as `<file>.toml`, on an hourly
/// schedule, with extra `[settings]` lines.
fn write_source(
    dir: &Path,
    file: &str,
    name: &str,
    sim: &ReplaceableSim,
    workspace: &Workspace,
    settings: &str,
) {
    std::fs::create_dir_all(dir).unwrap();
    let settings = format!("workspace_id = \"{}\"\n{settings}", workspace.id);
    let text = hex_source(name, &sim.base_url(), &settings) + HOURLY;
    std::fs::write(dir.join(format!("{file}.toml")), text).unwrap();
}

/// `sources apply DIR`, which must succeed.
fn apply(host: &Host, dir: &Path) -> String {
    let output = host.run(&["sources", "apply", dir.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{output:#?}");
    output.stdout
}

/// A source whose page 2 takes a minute, two projects a page: a run of it stays in progress
/// with a page staged.
fn slow_setup(host: &Host, seed: u64) -> (ReplaceableSim, Workspace, PathBuf) {
    let workspace = projects(seed, 10);
    let slow = Faults {
        slow_page: Some(SlowPage {
            page: 2,
            delay_ms: 60_000,
        }),
        ..Faults::default()
    };
    let sim = ReplaceableSim::new(workspace.clone(), slow);
    let dir = host.data_dir().with_file_name("sources");
    write_source(&dir, "hex", "Hex", &sim, &workspace, "page_size = 2");
    (sim, workspace, dir)
}

/// The run of `source` in progress with at least one page staged, by `worker`.
fn wait_for_staged_run(host: &Host, worker: &Worker) -> Value {
    wait_until(
        &format!("a run by {} with a page staged", worker.name),
        || {
            all_runs(host).into_iter().find(|run| {
                run["outcome"] == "running"
                    && run["worker"] == worker.name.as_str()
                    && run["emitted"].as_u64() >= Some(2)
            })
        },
        || worker.log(),
    )
}

/// The succeeded runs, by worker name.
fn succeeded(runs: &[Value]) -> Vec<&Value> {
    runs.iter()
        .filter(|run| run["outcome"] == "succeeded")
        .collect()
}

#[test]
fn two_workers_run_each_of_40_due_sources_exactly_once_and_both_take_some() {
    let Some(host) = Host::on_postgres() else {
        return;
    };
    let workspace = projects(131, 3);
    let sim = ReplaceableSim::new(workspace.clone(), Faults::default());
    let one = Worker::start(&host, "worker-one");
    let two = Worker::start(&host, "worker-two");

    // All 40 come due in the same minute, for both workers at once.
    let dir = host.data_dir().with_file_name("sources");
    let names: BTreeSet<String> = (0..40).map(|i| format!("Hex {i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        write_source(&dir, &format!("hex-{i:02}"), name, &sim, &workspace, "");
    }
    let applied = apply(&host, &dir);
    assert_eq!(applied.lines().filter(|l| l.starts_with("new")).count(), 40);

    let runs = wait_until(
        "a succeeded run of each of the 40 sources",
        || {
            let runs = all_runs(&host);
            let done: BTreeSet<String> = succeeded(&runs)
                .iter()
                .map(|run| run["source"].as_str().unwrap().to_owned())
                .collect();
            (done == names).then_some(runs)
        },
        || format!("{}\n---\n{}", one.log(), two.log()),
    );
    // A worker that claims a slot after another ran it finds the slot done and starts no run,
    // so the history is final once every source has succeeded.
    let settled = runs;
    let mut per_source: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for run in &settled {
        per_source
            .entry(run["source"].as_str().unwrap())
            .or_default()
            .push(run);
    }
    for (source, list) in &per_source {
        assert_eq!(
            list.len(),
            1,
            "source {source} ran {} times: {list:#?}",
            list.len()
        );
    }
    let workers: BTreeSet<&str> = settled
        .iter()
        .map(|run| run["worker"].as_str().unwrap())
        .collect();
    assert_eq!(
        workers,
        BTreeSet::from(["worker-one", "worker-two"]),
        "both workers took some"
    );
    // What the issue asks to show: each source once, with its worker.
    for run in settled.iter().rev() {
        eprintln!(
            "run {:>3}  {:<8}  {:<10}  {}",
            run["id"], run["source"], run["worker"], run["outcome"]
        );
    }
    assert_eq!(uris(&host.resources(None)), expected_uris(&workspace));
}

#[test]
fn a_worker_killed_mid_run_loses_its_slot_to_another_that_completes_it_once() {
    let Some(host) = Host::on_postgres() else {
        return;
    };
    let (mut sim, workspace, dir) = slow_setup(&host, 132);
    apply(&host, &dir);
    let one = Worker::start(&host, "worker-one");
    let killed = wait_for_staged_run(&host, &one);
    let two = Worker::start(&host, "worker-two");

    one.signal("KILL");
    // The page the killed worker waited for is served at once from now on.
    sim.replace(workspace.clone(), Faults::default());

    let runs = wait_until(
        "the slot to be run again to the end by worker-two",
        || {
            let runs = all_runs(&host);
            (!succeeded(&runs).is_empty()).then_some(runs)
        },
        || two.log(),
    );
    let done = succeeded(&runs);
    assert_eq!(done.len(), 1, "{runs:#?}");
    assert_eq!(done[0]["worker"], "worker-two");
    assert_eq!(done[0]["scheduled_slot"], killed["scheduled_slot"]);
    let first = runs.iter().find(|run| run["id"] == killed["id"]).unwrap();
    assert_eq!(first["outcome"], "abandoned", "{first:#}");
    two.wait_for_log("took over a slot whose worker stopped renewing its lease");
    // Exactly what one complete run sees: nothing of the killed run's staged page, nothing lost.
    assert_eq!(uris(&host.resources(None)), expected_uris(&workspace));
    for resource in host.resources(None) {
        assert_eq!(
            resource["sponsors"],
            serde_json::json!(["Hex"]),
            "{resource:#}"
        );
    }
}

#[test]
fn a_paused_worker_resumed_after_losing_its_lease_cannot_commit() {
    let Some(host) = Host::on_postgres() else {
        return;
    };
    let (mut sim, workspace, dir) = slow_setup(&host, 133);
    apply(&host, &dir);
    let one = Worker::start(&host, "worker-one");
    let paused = wait_for_staged_run(&host, &one);
    one.signal("STOP");
    let two = Worker::start(&host, "worker-two");

    // worker-two takes the lease over once worker-one's heartbeat is stale, and begins the slot
    // again; from then on the page worker-one waited for is served at once (its own request is
    // cut off).
    wait_until(
        "worker-two to take the slot over",
        || {
            all_runs(&host)
                .into_iter()
                .find(|run| run["worker"] == "worker-two")
        },
        || two.log(),
    );
    sim.replace(workspace.clone(), Faults::default());
    wait_until(
        "worker-two to complete the slot",
        || (!succeeded(&all_runs(&host)).is_empty()).then_some(()),
        || two.log(),
    );
    let after_two = host.resources(None);
    assert_eq!(uris(&after_two), expected_uris(&workspace));

    // worker-one wakes up holding a lease that is no longer its own: it is refused.
    one.signal("CONT");
    one.wait_for_log("has already ended");
    let runs = all_runs(&host);
    let done = succeeded(&runs);
    assert_eq!(done.len(), 1, "{runs:#?}");
    assert_eq!(done[0]["worker"], "worker-two");
    let first = runs.iter().find(|run| run["id"] == paused["id"]).unwrap();
    assert_eq!(first["outcome"], "abandoned", "{first:#}");
    assert!(
        first["error"]
            .as_str()
            .is_some_and(|e| e.contains("lost the lease") && e.contains("worker-two")),
        "{first:#}"
    );
    // Nothing worker-one staged landed: the inventory is worker-two's run, byte for byte.
    assert_eq!(host.resources(None), after_two);
}

#[test]
fn the_database_restarting_mid_run_never_half_applies_and_the_worker_reconnects() {
    // A cluster of its own: this test stops and starts it.
    let Some(mut cluster) = testkit::postgres::PgCluster::start().expect("a PostgreSQL cluster")
    else {
        return;
    };
    let url = cluster
        .create_database("restart")
        .expect("create a database");
    let host = Host::with_database(url);
    let workspace = projects(134, 10);
    let slow = Faults {
        slow_page: Some(SlowPage {
            page: 2,
            delay_ms: 8_000,
        }),
        ..Faults::default()
    };
    let sim = ReplaceableSim::new(workspace.clone(), slow);
    let dir = host.data_dir().with_file_name("sources");
    write_source(&dir, "hex", "Hex", &sim, &workspace, "page_size = 2");
    apply(&host, &dir);
    let worker = Worker::start(&host, "worker-one");
    let in_flight = wait_for_staged_run(&host, &worker);

    cluster.stop().expect("stop the database");
    cluster.start_again().expect("start the database again");

    let outcome = wait_until(
        "the run in flight to end",
        || {
            all_runs(&host)
                .into_iter()
                .find(|run| run["id"] == in_flight["id"] && run["outcome"] != "running")
        },
        || worker.log(),
    );
    // Completed, or failed and left nothing: never half of it.
    let held = uris(&host.resources(None));
    match outcome["outcome"].as_str().unwrap() {
        "succeeded" => assert_eq!(held, expected_uris(&workspace)),
        _ => assert!(held.is_empty(), "{outcome:#}: {held:?}"),
    }

    // The worker is still connected, through new connections: a source applied now runs.
    let quick_workspace = projects(135, 2);
    let quick = ReplaceableSim::new(quick_workspace.clone(), Faults::default());
    let later = host.data_dir().with_file_name("later");
    write_source(&later, "quick", "Quick", &quick, &quick_workspace, "");
    apply(&host, &later);
    wait_until(
        "the source applied after the restart to run",
        || {
            all_runs(&host)
                .into_iter()
                .find(|run| run["source"] == "Quick" && run["outcome"] == "succeeded")
        },
        || worker.log(),
    );
}

#[test]
fn a_connector_installed_in_the_database_reaches_a_running_worker_without_a_restart() {
    let Some(host) = Host::on_postgres() else {
        return;
    };
    let components = host.data_dir().with_file_name("components");
    std::fs::create_dir_all(&components).unwrap();
    let (a, b) = (components.join("a.wasm"), components.join("b.wasm"));
    std::fs::write(&a, crate::serve::variant_of_test_guest("a")).unwrap();
    std::fs::write(&b, crate::serve::variant_of_test_guest("b")).unwrap();
    let digest_of = |path: &Path| crate::serve::digest(&std::fs::read(path).unwrap());

    let installed = host.run(&["connectors", "install", a.to_str().unwrap()]);
    assert_eq!(installed.code, 0, "{installed:#?}");
    assert!(
        installed.stdout.contains("in the database"),
        "{installed:#?}"
    );
    let worker = Worker::start(&host, "worker-one");
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let source = |name: &str| {
        crate::serve::guest_source(
            name,
            "mode = \"sleep\"\nsleep_ms = 10\ncount = 2",
            crate::serve::HOURLY,
        )
    };
    std::fs::write(sources.join("first.toml"), source("First")).unwrap();
    apply(&host, &sources);
    let first = wait_until(
        "the first source to run",
        || {
            all_runs(&host)
                .into_iter()
                .find(|run| run["source"] == "First" && run["outcome"] == "succeeded")
        },
        || worker.log(),
    );
    assert_eq!(first["connector_digest"], digest_of(&a).as_str());

    // Replaced in the database: the running worker picks it up for its next runs.
    let taken = host.run(&["connectors", "install", b.to_str().unwrap()]);
    assert_eq!(
        taken.code, 2,
        "the id is taken without --replace: {taken:#?}"
    );
    let replaced = host.run(&["connectors", "install", b.to_str().unwrap(), "--replace"]);
    assert_eq!(replaced.code, 0, "{replaced:#?}");
    wait_until(
        "the worker to load the replaced connector",
        || {
            worker
                .log()
                .contains(&format!("digest={}", digest_of(&b)))
                .then_some(())
        },
        || worker.log(),
    );
    std::fs::write(sources.join("second.toml"), source("Second")).unwrap();
    apply(&host, &sources);
    let second = wait_until(
        "the second source to run",
        || {
            all_runs(&host)
                .into_iter()
                .find(|run| run["source"] == "Second" && run["outcome"] == "succeeded")
        },
        || worker.log(),
    );
    assert_eq!(second["connector_digest"], digest_of(&b).as_str());
}
