//! The sandbox holds: egress only to the granted origins, a wall-clock deadline, a memory cap,
//! and no secret inside the guest. Each test runs the misbehaving test guest for real.

use std::net::TcpListener;

use crate::support::{Host, network_allow, test_guest_source};

fn run_guest(host: &Host, mode: &str, settings: &str, tables: &str) -> crate::support::Output {
    let source = host.source_file(
        "guest.toml",
        &test_guest_source("Guest", mode, settings, tables),
    );
    host.run_with_env(
        &["--log", "info", "run", "--source", source.to_str().unwrap()],
        &[("GUEST_TOKEN", "tok_guest_secret_991")],
    )
}

#[test]
fn egress_to_another_origin_is_refused_and_logged() {
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let settings = format!(
        "base_url = \"http://{}/\"\ntarget_url = \"http://{}/steal\"",
        allowed.local_addr().unwrap(),
        other.local_addr().unwrap()
    );
    let host = Host::new();
    let granted = network_allow(&[&format!("http://{}", allowed.local_addr().unwrap())]);
    let output = run_guest(&host, "egress", &settings, &granted);
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("refused an outgoing request"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("is not the allowed origin"),
        "{}",
        output.stderr
    );
    // The guest saw the refusal as an error of its request and reported it.
    assert!(
        output.stderr.contains("network error: request to http://"),
        "{}",
        output.stderr
    );
    assert!(
        other.accept().is_err(),
        "nothing may have connected to the other origin"
    );
}

#[test]
fn a_spinning_guest_is_stopped_by_the_deadline() {
    let host = Host::new();
    // A guest that never returns: the run ends at all only because the deadline stops it.
    let output = run_guest(&host, "spin", "", "[limits]\ndeadline_seconds = 1\n");
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("stopped after the 1s deadline"),
        "{}",
        output.stderr
    );
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["outcome"], "failed");
    assert!(
        runs[0]["error"]
            .as_str()
            .is_some_and(|error| error.contains("stopped after the 1s deadline")),
        "{runs:#}"
    );
}

#[test]
fn a_hoarding_guest_is_stopped_by_the_memory_cap() {
    let host = Host::new();
    let output = run_guest(&host, "alloc", "", "[limits]\nmemory_mib = 32\n");
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("memory cap of 32 MiB"),
        "{}",
        output.stderr
    );
}

#[test]
fn secret_settings_never_enter_the_guest() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "config",
        "",
        "[secrets]\napi_token = \"${GUEST_TOKEN}\"\n",
    );
    assert_eq!(output.code, 0, "{output:#?}");
    // The guest logs every setting it received; the secret is not among them.
    assert!(output.stderr.contains("mode=config"), "{}", output.stderr);
    assert!(!output.stderr.contains("token="), "{}", output.stderr);
    assert!(
        !output.stderr.contains("tok_guest_secret_991"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_failed_run_changes_nothing() {
    let host = Host::new();
    let ok = run_guest(&host, "ok", "count = 5", "");
    assert_eq!(ok.code, 0, "{ok:#?}");
    let before = host.resources(None);
    assert_eq!(before.len(), 5);
    let failed = run_guest(&host, "panic", "", "");
    assert_eq!(failed.code, 3, "{failed:#?}");
    assert!(failed.stderr.contains("told to panic"), "{}", failed.stderr);
    assert_eq!(host.resources(None), before);
}
