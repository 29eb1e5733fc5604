//! The output and response budgets of the `[limits]` table, each set low and broken by the test
//! guest: response body size, resources per run, resources per batch, string size, log volume.

use serde_json::Value;

use crate::stub::{Reply, Stub};
use crate::support::{Host, Output, network_allow, test_guest_source};

fn run_guest(host: &Host, mode: &str, settings: &str, tables: &str) -> Output {
    let source = host.source_file(
        "guest.toml",
        &test_guest_source("Guest", mode, settings, tables),
    );
    host.run(&["--log", "info", "run", "--source", source.to_str().unwrap()])
}

fn assert_failed(host: &Host, output: &Output, reason: &str, before: &[Value]) {
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains(reason),
        "{reason:?}:\n{}",
        output.stderr
    );
    let runs = host.run(&["runs", "--json", "--limit", "1"]).json();
    assert_eq!(runs[0]["outcome"], "failed", "{runs:#}");
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains(reason),
        "{runs:#}"
    );
    assert_eq!(host.resources(None), before, "the inventory changed");
}

#[test]
fn a_response_larger_than_max_response_bytes_fails_the_run() {
    let upstream = Stub::start(|request| {
        let mut reply = Reply::ok(vec![
            b'x';
            if request.path == "/small" {
                10_000
            } else {
                300_000
            }
        ]);
        reply.chunked = request.path == "/streamed";
        reply
    });
    let host = Host::new();
    let limits = "[limits]\nmax_response_bytes = 102400\n";
    let fetch = |path: &str| {
        run_guest(
            &host,
            "fetch",
            &format!("target_url = \"{}{path}\"", upstream.url()),
            &format!("{limits}{}", network_allow(&[&upstream.url()])),
        )
    };
    let small = fetch("small");
    assert_eq!(small.code, 0, "{small:#?}");
    assert!(
        small.stderr.contains("fetched 10000 bytes"),
        "{}",
        small.stderr
    );

    // Without a Content-Length the body is counted as it streams, and cut off.
    let streamed = fetch("streamed");
    assert_failed(
        &host,
        &streamed,
        &format!(
            "stopped: a response from {}streamed was larger than limits.max_response_bytes (102400 bytes)",
            upstream.url()
        ),
        &[],
    );
    // With one, the response is refused before its body is read.
    let announced = fetch("announced");
    assert_failed(
        &host,
        &announced,
        "announced 300000 bytes, more than limits.max_response_bytes (102400)",
        &[],
    );
}

#[test]
fn more_resources_than_max_resources_fail_the_run() {
    let host = Host::new();
    let ok = run_guest(
        &host,
        "many",
        "count = 10\nbatch = 5",
        "[limits]\nmax_resources = 10\n",
    );
    assert_eq!(ok.code, 0, "{ok:#?}");
    let before = host.resources(None);
    assert_eq!(before.len(), 10);
    let output = run_guest(
        &host,
        "many",
        "count = 11\nbatch = 5",
        "[limits]\nmax_resources = 10\n",
    );
    assert_failed(
        &host,
        &output,
        "stopped: the connector emitted more than limits.max_resources (10) resources in one run",
        &before,
    );
}

#[test]
fn a_batch_larger_than_max_batch_fails_the_run() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "many",
        "count = 6\nbatch = 6",
        "[limits]\nmax_batch = 5\n",
    );
    assert_failed(
        &host,
        &output,
        "the connector emitted a batch of 6 resources, more than limits.max_batch (5)",
        &[],
    );
    // The default, 10,000.
    let output = run_guest(&host, "many", "count = 10001\nbatch = 10001", "");
    assert_failed(&host, &output, "more than limits.max_batch (10000)", &[]);
}

#[test]
fn a_string_longer_than_max_string_bytes_fails_the_run() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "huge-string",
        "count = 200",
        "[limits]\nmax_string_bytes = 100\n",
    );
    assert_failed(
        &host,
        &output,
        "`test.items.huge` whose property `blob` is 200 bytes long, more than limits.max_string_bytes (100)",
        &[],
    );
}

#[test]
fn a_flooding_guest_is_silenced_with_one_warning_and_its_run_kept() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "log-flood",
        "count = 2000",
        "[limits]\nmax_log_bytes = 2000\n",
    );
    assert_eq!(output.code, 0, "{output:#?}");
    let warning = "the connector has written limits.max_log_bytes (2000 bytes) of log in this call; its further log lines are dropped";
    assert_eq!(
        output.stderr.matches(warning).count(),
        1,
        "{}",
        output.stderr
    );
    let flood_lines = output
        .stderr
        .lines()
        .filter(|l| l.contains("flood flood"))
        .count();
    assert!(
        (1..=20).contains(&flood_lines),
        "{flood_lines} lines of the flood were logged"
    );
    assert_eq!(host.resources(None).len(), 1, "the run's data is kept");
}
