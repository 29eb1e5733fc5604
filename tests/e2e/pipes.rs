//! A reader that leaves early (`euno-host run … | true`, `runs | head -1`) is not an error: no
//! command panics on a closed stdout, and the exit status still says what the command did.

use std::process::{Command, Stdio};

use crate::support::{EUNO_HOST, Host, test_guest_source};

/// Runs `euno-host args` with a stdout whose reader is gone before the process starts, so its
/// first write meets EPIPE. Returns the exit status and stderr.
fn with_closed_stdout(host: &Host, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(EUNO_HOST)
        .arg("--data-dir")
        .arg(host.data_dir())
        .args(args)
        .env_remove("EUNO_DATA_DIR")
        .env("EUNO_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("starting euno-host");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_command_panics_when_its_reader_has_gone() {
    let host = Host::new();
    let source = host.source_file(
        "guest.toml",
        &test_guest_source("Piped", "ok", "count = 3", ""),
    );
    let source = source.to_str().unwrap();
    let checked = host.source_file(
        "checked.toml",
        &test_guest_source("Piped check", "speak", "text = \"fine\"", ""),
    );
    let checked = checked.to_str().unwrap();
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let sources = sources.to_str().unwrap();

    // The run commits, then finds nobody to tell: still a success.
    let (code, stderr) = with_closed_stdout(&host, &["run", "--source", source]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["outcome"], "succeeded", "{runs:#}");
    assert_eq!(host.resources(None).len(), 3);

    for args in [
        &["run", "--dry-run", "--source", source][..],
        &["check", "--source", checked],
        &["resources"],
        &["resources", "--json"],
        &["resources", "--format", "euno"],
        &["runs"],
        &["runs", "--json"],
        &["spec"],
        &["spec", "--json"],
        &["status", "--sources", sources],
        &["status", "--json", "--sources", sources],
        &["connectors", "list"],
    ] {
        let (code, stderr) = with_closed_stdout(&host, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }

    // A failed run keeps its own status.
    let failing = host.source_file(
        "failing.toml",
        &test_guest_source("Piped failing", "fail", "", ""),
    );
    let (code, stderr) = with_closed_stdout(&host, &["run", "--source", failing.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("told to fail"), "{stderr}");
}
