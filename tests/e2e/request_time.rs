//! A server that drips one byte a second never goes quiet long enough for the between-bytes
//! timeout, so without a bound on each request's total time it holds a run until the run's
//! deadline. `limits.max_request_total_seconds` cuts such a request off, and the run's error
//! names the limit.

use std::time::Duration;

use crate::stub::{Reply, Stub};
use crate::support::{Host, hex_source, token_env};

#[test]
fn a_server_that_drips_is_cut_off_at_max_request_total_seconds() {
    let upstream = Stub::start(|_| Reply {
        drip: Some(Duration::from_secs(1)),
        ..Reply::ok(format!(
            "{{\"values\": [], \"padding\": \"{}\"}}",
            "x".repeat(1000)
        ))
    });
    let host = Host::new();
    let base = format!("{}api/v1", upstream.url());
    // Each wait is short (a byte comes every second), the run's deadline long: only the total
    // time of the one request can end it.
    let source = host.source_file(
        "drip.toml",
        &(hex_source(
            "Drip",
            &base,
            "max_retries = 0\nrequest_timeout_seconds = 30",
        ) + "\n[limits]\nmax_request_total_seconds = 2\ndeadline_seconds = 120\n"),
    );
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 3, "{output:#?}");
    let named = "after limits.max_request_total_seconds (2 s)";
    assert!(output.stderr.contains(named), "{}", output.stderr);
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["outcome"], "failed", "{runs:#}");
    let error = runs[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains(named), "{error}");
    assert!(!error.contains("deadline"), "{error}");
}
