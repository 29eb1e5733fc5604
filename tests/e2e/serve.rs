//! `euno-host serve` end to end: due sources run, components swap under a running daemon
//! without disturbing runs in flight, bad components and bad source files are rejected while the
//! previous version stays, and `status` reports next-run times.
//!
//! These run the real daemon on the wall clock, so they use only what needs no time to pass for
//! the schedule (a never-run hourly source is due at once) and wait for conditions, never for a
//! time. What the scheduler decides as time goes by (settling, missed slots, the next slot, one
//! run per source, the parallel limit, shutdown) is tested in process on a clock of the test's
//! own: `host/src/scheduler/tick.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{EUNO_HOST, Host, TEST_GUEST};

/// How long a test waits for something the daemon should do before it fails. Not a timing
/// assertion: a bound so that a broken daemon fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

pub(crate) fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The test guest with a custom section appended: the same behaviour, another digest.
pub(crate) fn variant_of_test_guest(tag: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(TEST_GUEST).unwrap();
    let name = b"euno-test-variant";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    assert!(payload.len() < 128, "one-byte LEB128 size");
    bytes.push(0); // custom section id
    bytes.push(payload.len() as u8);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Replaces a file the way an installer would: write aside, then rename.
pub(crate) fn place(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A running `euno-host serve`, killed when dropped.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub(crate) fn start(host: &Host, sources: &Path, connectors: &Path) -> Self {
        Self::start_with(host, sources, connectors, &[])
    }

    /// With `extra` arguments to `serve`; source files settle for 200 ms unless they say
    /// otherwise.
    pub(crate) fn start_with(
        host: &Host,
        sources: &Path,
        connectors: &Path,
        extra: &[&str],
    ) -> Self {
        let log = host.data_dir().with_file_name("serve.log");
        std::fs::create_dir_all(host.data_dir()).unwrap();
        let settle: &[&str] = if extra.contains(&"--settle-ms") {
            &[]
        } else {
            &["--settle-ms", "200"]
        };
        let child = Command::new(EUNO_HOST)
            .arg("--data-dir")
            .arg(host.data_dir())
            .arg("--connectors")
            .arg(connectors)
            .args(["--log", "info", "serve", "--poll-ms", "100"])
            .args(settle)
            .args(extra)
            .arg("--sources")
            .arg(sources)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting euno-host serve");
        Self { child, log }
    }

    pub(crate) fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    pub(crate) fn wait_for_log(&self, needle: &str) {
        wait_until(
            &format!("the log to say {needle:?}"),
            || self.log().contains(needle).then_some(()),
            || self.log(),
        );
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn wait_until<T>(
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
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn runs_of(host: &Host, source: &str) -> Vec<Value> {
    let output = host.run(&["runs", "--json", "--source", source]);
    assert_eq!(output.code, 0, "{output:#?}");
    output.json().as_array().unwrap().clone()
}

pub(crate) fn finished_run(host: &Host, source: &str, daemon: &Daemon) -> Value {
    wait_until(
        &format!("a finished run of {source}"),
        || {
            runs_of(host, source)
                .into_iter()
                .find(|r| r["outcome"] != "running")
        },
        || daemon.log(),
    )
}

pub(crate) fn guest_source(name: &str, settings: &str, schedule: &str) -> String {
    format!(
        "name = \"{name}\"\nconnector = \"test-guest\"\n\n[settings]\n{settings}\n\n[schedule]\n{schedule}\n"
    )
}

pub(crate) const HOURLY: &str = "enabled = true\nhourly = { every_hours = 1 }";

#[test]
fn serve_runs_due_sources_and_swaps_components_without_disturbing_runs_in_flight() {
    let host = Host::new();
    let root = host.data_dir().with_file_name("serve");
    let (sources, connectors) = (root.join("sources"), root.join("connectors"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&connectors).unwrap();
    let component = connectors.join("test-guest.wasm");
    let version_a = variant_of_test_guest("a");
    let version_b = variant_of_test_guest("b");
    place(&component, &version_a);

    std::fs::write(
        sources.join("slow.toml"),
        guest_source(
            "Slow",
            "mode = \"sleep\"\nsleep_ms = 3000\ncount = 2",
            HOURLY,
        ),
    )
    .unwrap();
    let daemon = Daemon::start(&host, &sources, &connectors);

    // The never-run hourly source is due at once.
    wait_until(
        "the slow run to start",
        || {
            runs_of(&host, "Slow")
                .into_iter()
                .find(|r| r["outcome"] == "running")
        },
        || daemon.log(),
    );

    // A manual run of the same source is refused while the daemon's run is in flight.
    let manual = host.run(&[
        "--connectors",
        connectors.to_str().unwrap(),
        "run",
        "--source",
        sources.join("slow.toml").to_str().unwrap(),
    ]);
    assert_eq!(manual.code, 3, "{manual:#?}");
    assert!(manual.stderr.contains("in progress"), "{}", manual.stderr);

    // Swap the component while the slow run is in flight, then add a source: it runs on the new one.
    place(&component, &version_b);
    daemon.wait_for_log(&digest(&version_b));
    std::fs::write(
        sources.join("quick.toml"),
        guest_source("Quick", "mode = \"ok\"\ncount = 3", HOURLY),
    )
    .unwrap();
    let quick = finished_run(&host, "Quick", &daemon);
    assert_eq!(quick["outcome"], "succeeded", "{quick:#}");
    assert_eq!(quick["connector_digest"], digest(&version_b).as_str());
    // Hourly: the next run is one hour after the slot this run stood for.
    let slot: jiff::Timestamp = quick["scheduled_slot"].as_str().unwrap().parse().unwrap();
    let status = host.run(&["status", "--json", "--sources", sources.to_str().unwrap()]);
    assert_eq!(status.code, 0, "{status:#?}");
    let quick_status = status
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Quick")
        .unwrap()
        .clone();
    let next: jiff::Timestamp = quick_status["next_run"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        next,
        slot + jiff::SignedDuration::from_hours(1),
        "{quick_status:#}"
    );

    let slow = finished_run(&host, "Slow", &daemon);
    assert_eq!(slow["outcome"], "succeeded", "{slow:#}");
    assert_eq!(
        slow["connector_digest"],
        digest(&version_a).as_str(),
        "the in-flight run kept its component"
    );

    // A broken component is rejected; the previous one keeps working.
    place(&component, b"\0asm this is not a component");
    daemon.wait_for_log("rejected connector component");
    std::fs::write(
        sources.join("after.toml"),
        guest_source("After", "mode = \"ok\"", HOURLY),
    )
    .unwrap();
    let after = finished_run(&host, "After", &daemon);
    assert_eq!(after["outcome"], "succeeded", "{after:#}");
    assert_eq!(after["connector_digest"], digest(&version_b).as_str());

    // An invalid edit is reported and the previous version stays; a valid edit takes effect.
    let later = sources.join("later.toml");
    std::fs::write(
        &later,
        guest_source(
            "Later",
            "mode = \"ok\"",
            "enabled = false\nhourly = { every_hours = 1 }",
        ),
    )
    .unwrap();
    daemon.wait_for_log("source \"Later\" added");
    std::fs::write(
        &later,
        "name = \"Later\"\n[schedule]\nenabled = true\nhourly = { every_hours = 0 }\n",
    )
    .unwrap();
    daemon.wait_for_log("schedule.hourly.every_hours");
    assert!(
        runs_of(&host, "Later").is_empty(),
        "a disabled source runs only when asked"
    );
    std::fs::write(&later, guest_source("Later", "mode = \"ok\"", HOURLY)).unwrap();
    let later_run = finished_run(&host, "Later", &daemon);
    assert_eq!(later_run["outcome"], "succeeded", "{later_run:#}");

    assert_eq!(daemon.terminate(), 0);
}

#[test]
fn shutdown_cancels_runs_that_outlast_the_grace_period() {
    let host = Host::new();
    let root = host.data_dir().with_file_name("serve");
    let (sources, connectors) = (root.join("sources"), root.join("connectors"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&connectors).unwrap();
    place(
        &connectors.join("test-guest.wasm"),
        &std::fs::read(TEST_GUEST).unwrap(),
    );
    std::fs::write(
        sources.join("long.toml"),
        guest_source("Long", "mode = \"sleep\"\nsleep_ms = 600000", HOURLY),
    )
    .unwrap();

    let daemon = Daemon::start_with(
        &host,
        &sources,
        &connectors,
        &["--shutdown-grace-seconds", "1"],
    );
    wait_until(
        "the long run to start",
        || {
            runs_of(&host, "Long")
                .into_iter()
                .find(|r| r["outcome"] == "running")
        },
        || daemon.log(),
    );
    assert_eq!(daemon.terminate(), 0);
    let run = runs_of(&host, "Long").remove(0);
    assert_eq!(run["outcome"], "failed", "{run:#}");
    assert!(
        run["error"].as_str().unwrap().contains("shutting down"),
        "{run:#}"
    );
}

#[test]
fn status_shows_next_run_times_for_weekly_and_hourly_sources() {
    let host = Host::new();
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let guest = format!(
        "connector = \"{}\"\n[settings]\nmode = \"ok\"\n",
        TEST_GUEST
    );
    std::fs::write(
        sources.join("hourly.toml"),
        format!("name = \"Every six hours\"\n{guest}[schedule]\nenabled = true\nhourly = {{ every_hours = 6 }}\n"),
    )
    .unwrap();
    std::fs::write(
        sources.join("weekly.toml"),
        format!(
            "name = \"Weekly\"\n{guest}[schedule]\nenabled = true\nweekly = {{ days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"], times = [\"00:00\"], timezone = \"UTC\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        sources.join("broken.toml"),
        "name = \"Broken\"\n[schedule]\nweekly = { days = [\"someday\"], times = [\"09:00\"] }\n",
    )
    .unwrap();

    // A run on request does not move a schedule: the hourly source, never run by the scheduler,
    // is still due at once.
    let ran = host.run(&[
        "run",
        "--source",
        sources.join("hourly.toml").to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:#?}");

    let before = jiff::Timestamp::now();
    let output = host.run(&["status", "--json", "--sources", sources.to_str().unwrap()]);
    assert_eq!(output.code, 0, "{output:#?}");
    let list = output.json();
    let by_name = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {list:#}"))
            .clone()
    };
    let hourly = by_name("Every six hours");
    assert!(hourly["last_run"]["scheduled_slot"].is_null(), "{hourly:#}");
    let next: jiff::Timestamp = hourly["next_run"].as_str().unwrap().parse().unwrap();
    assert!(
        next >= before && next <= jiff::Timestamp::now(),
        "due now: {hourly:#}"
    );

    let weekly = by_name("Weekly");
    let next: jiff::Timestamp = weekly["next_run"].as_str().unwrap().parse().unwrap();
    let today = before.to_zoned(jiff::tz::TimeZone::UTC).date();
    let midnight = today
        .tomorrow()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    assert_eq!(next, midnight, "{weekly:#}");
    assert!(weekly["last_run"].is_null());

    let broken = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file"].as_str().unwrap().ends_with("broken.toml"))
        .unwrap();
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("schedule.weekly.days"),
        "{broken:#}"
    );
}

#[test]
fn connectors_install_validates_and_list_shows_id_version_and_digest() {
    let host = Host::new();
    let connectors = host.data_dir().with_file_name("connectors");
    let dir = connectors.to_str().unwrap();
    let installed = host.run(&["--connectors", dir, "connectors", "install", TEST_GUEST]);
    assert_eq!(installed.code, 0, "{installed:#?}");
    let bytes = std::fs::read(TEST_GUEST).unwrap();
    assert_eq!(
        std::fs::read(connectors.join("test-guest.wasm")).unwrap(),
        bytes
    );

    let bogus = host.source_file("bogus.wasm", "not a component");
    let rejected = host.run(&[
        "--connectors",
        dir,
        "connectors",
        "install",
        bogus.to_str().unwrap(),
    ]);
    assert_eq!(rejected.code, 2, "{rejected:#?}");
    assert!(
        rejected.stderr.contains("bogus.wasm"),
        "{}",
        rejected.stderr
    );
    assert!(!connectors.join("bogus.wasm").exists());

    let list = host.run(&["--connectors", dir, "connectors", "list", "--json"]);
    assert_eq!(list.code, 0, "{list:#?}");
    let list = list.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["hex", "test-guest"], "{list:#}");
    let guest = &list[1];
    assert_eq!(guest["digest"], digest(&bytes).as_str());
    assert_eq!(guest["version"], "0.1.0");
    assert!(
        list[0]["file"].is_null(),
        "the bundled connector has no file"
    );
}
