//! Running this test binary as a child process that runs one probe.

use std::process::{Child, Command, Output, Stdio};

/// Set in the child: the probe tests run only then.
pub const PROBE_VAR: &str = "EUNO_TESTKIT_PROBE";

/// Whether this process is a child started by [`probe`] or [`spawn_probe`].
pub fn in_probe() -> bool {
    std::env::var_os(PROBE_VAR).is_some()
}

/// The command that runs the probe test `name` (e.g. `probe::pg_start`) in a child process.
fn probe_command(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the path of this test binary"));
    command
        .args([
            "--ignored",
            "--exact",
            "--test-threads=1",
            "--nocapture",
            name,
        ])
        .env(PROBE_VAR, "1")
        .stdin(Stdio::null());
    command
}

/// Runs the probe `name` to its end, with the harnesses' environment variables replaced by
/// `env`, and returns what it did.
pub fn probe(name: &str, env: &[(&str, &str)]) -> Output {
    let mut command = probe_command(name);
    for var in [
        testkit::postgres::REQUIRE_VAR,
        testkit::postgres::BIN_VAR,
        testkit::browser::REQUIRE_VAR,
        testkit::browser::EXECUTABLE_VAR,
    ] {
        command.env_remove(var);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("running this test binary as a probe")
}

/// Starts the probe `name` in this process's environment (so a skip or a requirement holds
/// there as here), with piped stdout, for a caller that reads it and then kills it.
pub fn spawn_probe(name: &str) -> Child {
    probe_command(name)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting this test binary as a probe")
}

/// The lines of `text` that start with `SKIPPED:`.
pub fn skipped_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|line| line.starts_with("SKIPPED:"))
        .map(str::to_owned)
        .collect()
}

/// Polls `done` every 50 ms until it holds, for at most `seconds`; whether it did.
pub fn eventually(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Reads the probe's stdout up to its `holding …` line, and returns the rest of that line;
/// `None` when the probe says it skipped.
///
/// # Panics
///
/// When the probe ends without saying either (it failed, e.g. because a harness is required).
pub fn holding(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take().expect("the probe's stdout");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let said = lines
        .find_map(|line| {
            let line = line.expect("reading the probe's stdout");
            // libtest has printed `test probe::… ... ` on the same line before the probe ran.
            if line.ends_with("skipped") {
                Some(None)
            } else {
                line.split_once("holding ")
                    .map(|(_, rest)| Some(rest.to_owned()))
            }
        })
        .unwrap_or_else(|| {
            let status = child.wait().expect("reaping the probe");
            panic!("the probe ended ({status}) without saying what it holds")
        });
    // Keep reading (and dropping) the rest, so that the probe never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    said
}
