//! The credential appears nowhere but on the wire to the allowed origin: not in any command's
//! output, not in the log at its most verbose, not in any file under the data directory, not in
//! the error about a malformed token.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hex_sim::{Faults, Workspace};

use crate::support::{EUNO_HOST, Host, Output, TOKEN, hex_source, simulator, token_env};

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn the_token_appears_in_no_output_log_or_file() {
    let sim = simulator(Workspace::synthetic(5, 30), Faults::default());
    let host = Host::new();
    let sources = host.data_dir().with_file_name("sources");
    std::fs::create_dir_all(&sources).unwrap();
    let file = sources.join("hex.toml");
    std::fs::write(
        &file,
        hex_source("Hex redaction", &sim.base_url(), "")
            + "\n[schedule]\nhourly = { every_hours = 1 }\n",
    )
    .unwrap();
    let (file, sources) = (file.to_str().unwrap(), sources.to_str().unwrap());
    let traced = |args: &[&str]| {
        let mut all = vec!["--log", "trace"];
        all.extend_from_slice(args);
        host.run_with_env(&all, &token_env())
    };

    // Compile the bundled connector once, quietly: at trace level wasmtime logs its compilation
    // at length, and no credential is involved in it.
    assert_eq!(host.run(&["spec"]).code, 0);
    let mut outputs: Vec<(String, Output)> = Vec::new();
    for args in [
        &["spec"][..],
        &["spec", "--json"],
        &["check", "--source", file],
        &["run", "--source", file],
        &["run", "--dry-run", "--source", file],
        &["resources"],
        &["resources", "--json"],
        &["resources", "--format", "euno"],
        &["runs"],
        &["runs", "--json"],
        &["status", "--sources", sources],
        &["status", "--json", "--sources", sources],
    ] {
        let output = traced(args);
        assert!(
            output.code == 0,
            "{args:?} failed: {}",
            &output.stderr[output.stderr.len().saturating_sub(2000)..]
        );
        outputs.push((args.join(" "), output));
    }
    // A rejected token is as secret as a good one.
    let wrong = "hxtp_rejected_secret_8c1d";
    let rejected = host.run_with_env(
        &["--log", "trace", "run", "--source", file],
        &[("HEX_API_TOKEN", wrong)],
    );
    assert_eq!(rejected.code, 3, "{}", rejected.stderr.len());
    assert!(rejected.stderr.contains("unauthorized"));

    // `serve`, until its first run is over.
    let serve_log = host.data_dir().with_file_name("serve.log");
    let mut serve = Command::new(EUNO_HOST)
        .arg("--data-dir")
        .arg(host.data_dir())
        .args([
            "--log",
            "trace",
            "serve",
            "--poll-ms",
            "100",
            "--sources",
            sources,
        ])
        .env("HEX_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&serve_log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while host
        .run(&["runs", "--json"])
        .json()
        .as_array()
        .unwrap()
        .len()
        < 4
        || host.run(&["runs", "--json"]).json()[0]["outcome"] == "running"
    {
        assert!(Instant::now() < deadline, "serve did not run the source");
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(serve.wait().unwrap().success());
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["outcome"], "succeeded", "{runs:#}");

    for (what, output) in &outputs {
        for secret in [TOKEN, wrong] {
            assert!(!output.stdout.contains(secret), "{what}: stdout has it");
            assert!(!output.stderr.contains(secret), "{what}: the log has it");
        }
    }
    for secret in [TOKEN, wrong] {
        assert!(!rejected.stderr.contains(secret), "rejected run");
    }
    let serve_log = std::fs::read(&serve_log).unwrap();
    assert!(serve_log.len() > 1000, "the trace log was written");
    assert!(!contains(&serve_log, TOKEN), "the serve log has it");
    let files = files_under(&host.data_dir());
    assert!(files.iter().any(|f| f.ends_with("inventory.sqlite3")));
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        for secret in [TOKEN, wrong] {
            assert!(!contains(&bytes, secret), "{} has it", path.display());
        }
    }
}

#[test]
fn a_malformed_token_is_refused_without_being_shown() {
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &hex_source("Hex", "http://127.0.0.1:9/api/v1", ""),
    );
    let source = source.to_str().unwrap();
    for (token, command) in [
        ("hxtp_first_line\nhxtp_second_line_secret", "check"),
        ("hxtp_first_line\nhxtp_second_line_secret", "run"),
        ("hxtp_trailing_newline_secret\n", "check"),
        ("hxtp_carriage_secret\r", "run"),
    ] {
        let output = host.run_with_env(
            &["--log", "debug", command, "--source", source],
            &[("HEX_API_TOKEN", token)],
        );
        assert_eq!(output.code, 2, "{command}: {output:#?}");
        assert!(
            output.stderr.contains("secrets.api_token") && output.stderr.contains("line break"),
            "{command}: {}",
            output.stderr
        );
        assert!(!output.stderr.contains("_secret"), "{}", output.stderr);
        assert!(!output.stderr.contains("hxtp_"), "{}", output.stderr);
    }
}

#[test]
fn a_literal_token_in_a_broken_source_file_is_not_echoed() {
    let host = Host::new();
    let secret = "hxtp_literal_secret_55";
    for text in [
        format!("name = \"x\"\n[settings]\napi_token = \"{secret}\n"),
        format!("name = \"x\"\n[settings]\napi_token = {secret}\n"),
        format!("name = \"x\"\n[settings]\napi_token = \"{secret}\" trailing\n"),
        format!("name = \"x\"\n[limits]\nmemory_mib = \"{secret}\"\n"),
    ] {
        let source = host.source_file("broken.toml", &text);
        let output = host.run(&["check", "--source", source.to_str().unwrap()]);
        assert_eq!(output.code, 2, "{output:#?}");
        assert!(output.stderr.contains("broken.toml"), "{}", output.stderr);
        assert!(!output.stderr.contains(secret), "{}", output.stderr);
    }
}
