//! Hostile connectors: the test guest attacks the host the ways a third-party component could
//! (malformed output, crashes, runaway loops, hunting for the credential, egress tricks), and
//! each attack ends as SECURITY.md says: a failed run with a clear reason and an untouched
//! inventory, or a sandbox that simply had nothing to give.

use serde_json::Value;

use crate::serve::{Daemon, finished_run, runs_of};
use crate::stub::{Reply, Stub};
use crate::support::{Host, Output, network_allow, test_guest_source};

/// The credential every source here is given through `${GUEST_TOKEN}`.
const GUEST_TOKEN: &str = "tok_guest_secret_991";

fn run_guest(host: &Host, mode: &str, settings: &str, tables: &str) -> Output {
    let tables = format!("[secrets]\napi_token = \"${{GUEST_TOKEN}}\"\n{tables}");
    let source = host.source_file(
        "guest.toml",
        &test_guest_source("Guest", mode, settings, &tables),
    );
    host.run_with_env(
        &["--log", "info", "run", "--source", source.to_str().unwrap()],
        &[("GUEST_TOKEN", GUEST_TOKEN)],
    )
}

/// A successful run of three items, so that a failed run has something to leave alone.
fn baseline(host: &Host) -> Vec<Value> {
    let ok = run_guest(host, "ok", "count = 3", "");
    assert_eq!(ok.code, 0, "{ok:#?}");
    let resources = host.resources(None);
    assert_eq!(resources.len(), 3);
    resources
}

/// Exit status 3, `reason` on stderr and in the run history, the inventory as `before`.
fn assert_failed_cleanly(host: &Host, what: &str, output: &Output, reason: &str, before: &[Value]) {
    assert_eq!(output.code, 3, "{what}: {output:#?}");
    assert!(
        output.stderr.contains(reason),
        "{what}: stderr lacks {reason:?}:\n{}",
        output.stderr
    );
    let runs = host.run(&["runs", "--json", "--limit", "1"]).json();
    assert_eq!(runs[0]["outcome"], "failed", "{what}: {runs:#}");
    let recorded = runs[0]["error"].as_str().unwrap_or_default();
    assert!(recorded.contains(reason), "{what}: run error {recorded:?}");
    assert_eq!(
        host.resources(None),
        before,
        "{what}: the inventory changed"
    );
    assert!(
        !output.stderr.contains(GUEST_TOKEN),
        "{what}: {}",
        output.stderr
    );
}

#[test]
fn malformed_resources_fail_the_run_and_change_nothing() {
    let host = Host::new();
    let before = baseline(&host);
    for (mode, settings, reason) in [
        (
            "empty-uri",
            "",
            "stopped: the connector emitted a resource with an empty URI",
        ),
        (
            "uppercase-uri",
            "",
            "`test.Items.A`, which is not lowercase",
        ),
        (
            "duplicate-uri",
            "",
            "emitted `test.items.same` twice in one run",
        ),
        (
            "undeclared-type",
            "",
            "type `not_in_the_spec`, which its spec does not declare",
        ),
        (
            "huge-string",
            "count = 2000000",
            "property `blob` is 2000000 bytes long, more than limits.max_string_bytes (1048576)",
        ),
        // A property type the contract does not have cannot even be lifted from the guest's
        // memory: wasmtime refuses the call.
        (
            "bad-variant",
            "",
            "the connector crashed: unexpected discriminant: 42",
        ),
    ] {
        let output = run_guest(&host, mode, settings, "");
        assert_failed_cleanly(&host, mode, &output, reason, &before);
    }
}

#[test]
fn crashing_and_runaway_guests_fail_the_run_and_change_nothing() {
    let host = Host::new();
    let before = baseline(&host);
    for (mode, tables, reason) in [
        (
            "trap",
            "",
            "the connector crashed: wasm trap: wasm `unreachable` instruction executed",
        ),
        ("stack", "", "the connector's stack overflowed"),
        ("panic", "", "the test guest was told to panic"),
        (
            "spin",
            "[limits]\ndeadline_seconds = 1\n",
            "stopped after the 1s deadline",
        ),
        (
            "alloc",
            "[limits]\nmemory_mib = 32\n",
            "memory cap of 32 MiB",
        ),
    ] {
        let output = run_guest(&host, mode, "", tables);
        assert_failed_cleanly(&host, mode, &output, reason, &before);
    }
}

#[test]
fn the_guest_finds_no_credential_in_its_sandbox() {
    let host = Host::new();
    let output = run_guest(&host, "snoop", "", "");
    assert_eq!(output.code, 0, "{output:#?}");
    let log = &output.stderr;
    for expected in [
        "snoop env: 0 variables []",
        "snoop args: []",
        "snoop read /etc/passwd: denied",
        "snoop read /proc/self/environ: denied",
        "snoop read guest.toml: denied",
        "snoop list /: denied",
        "snoop list .: denied",
        "snoop write /tmp/stolen: denied",
        "snoop tcp 127.0.0.1:80: denied",
        "snoop config credentials: []",
    ] {
        assert!(log.contains(expected), "missing {expected:?}:\n{log}");
    }
    assert!(!log.contains(GUEST_TOKEN), "{log}");
    let loot = host.resources(None);
    let findings = loot[0]["properties"]["findings"].to_string();
    assert!(!findings.contains(GUEST_TOKEN), "{findings}");
    assert!(
        !findings.contains("OK "),
        "the guest read something: {findings}"
    );
}

#[test]
fn the_guest_cannot_set_the_headers_the_host_owns() {
    let upstream = Stub::start(|_| Reply::ok("{}"));
    let host = Host::new();
    let output = run_guest(
        &host,
        "set-auth",
        &format!("base_url = \"{}\"", upstream.url()),
        &network_allow(&[&upstream.url()]),
    );
    assert_eq!(output.code, 0, "{output:#?}");
    for header in [
        "authorization",
        "Authorization",
        "cookie",
        "proxy-authorization",
        "host",
    ] {
        assert!(
            output
                .stderr
                .contains(&format!("set-auth {header}: refused")),
            "{header}:\n{}",
            output.stderr
        );
    }
    for request in upstream.requests() {
        let all = format!("{:?}", request.headers);
        assert!(!all.contains("guest_chosen"), "{all}");
        assert!(!all.contains("evil.example"), "{all}");
    }
}

#[test]
fn an_echoing_server_does_not_hand_the_token_to_the_guest() {
    // A debugging endpoint at the allowed origin that reflects the request, verbatim, in its
    // body and in a header: the host sent the token there, legitimately.
    let upstream = Stub::start(|request| {
        let reflected: String = request
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        let mut reply = Reply::ok(reflected);
        reply.headers.push((
            "x-echo-authorization".to_owned(),
            request.header("authorization").unwrap_or("").to_owned(),
        ));
        reply.chunked = true;
        reply
    });
    let host = Host::new();
    let output = run_guest(
        &host,
        "echo",
        &format!("base_url = \"{}\"", upstream.url()),
        &network_allow(&[&upstream.url()]),
    );
    assert_eq!(output.code, 0, "{output:#?}");
    let seen = upstream.requests();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {GUEST_TOKEN}").as_str()),
        "the host adds the credential on requests to the allowed origin"
    );
    let masked = format!("Bearer {}", "*".repeat(GUEST_TOKEN.len()));
    assert!(output.stderr.contains(&masked), "{}", output.stderr);
    assert!(!output.stderr.contains(GUEST_TOKEN), "{}", output.stderr);
    let echoed = serde_json::to_string(&host.resources(None)).unwrap();
    assert!(echoed.contains(&masked), "{echoed}");
    assert!(!echoed.contains(GUEST_TOKEN), "{echoed}");
}

#[test]
fn egress_tricks_are_refused_on_the_request_actually_sent() {
    let allowed = Stub::start(|_| Reply::ok("{}"));
    let other = Stub::start(|_| Reply::ok("{}"));
    let (port, other_port) = (allowed.port(), other.port());
    let host = Host::new();
    for (trick, target, reason) in [
        (
            "an IP literal for the allowed host",
            format!("http://127.0.0.1:{port}/"),
            "is not the allowed origin http://localhost",
        ),
        (
            "another port",
            format!("http://localhost:{other_port}/"),
            "is not the allowed origin",
        ),
        (
            "another scheme",
            format!("https://localhost:{port}/"),
            "is not the allowed origin",
        ),
        (
            "user information",
            format!("http://user@localhost:{port}/"),
            "user information",
        ),
        (
            "user information disguising the host",
            format!("http://localhost:{port}@127.0.0.1:{other_port}/"),
            "user information",
        ),
    ] {
        let output = run_guest(
            &host,
            "fetch",
            &format!("target_url = \"{target}\""),
            &network_allow(&[&format!("http://localhost:{port}")]),
        );
        assert_eq!(output.code, 3, "{trick}: {output:#?}");
        assert!(
            output.stderr.contains("refused an outgoing request") && output.stderr.contains(reason),
            "{trick}: {}",
            output.stderr
        );
    }
    assert!(allowed.requests().is_empty(), "{:?}", allowed.requests());
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}

#[test]
fn a_redirect_to_another_origin_is_not_followed() {
    let elsewhere = Stub::start(|_| Reply::ok("stolen"));
    let target = format!("http://127.0.0.1:{}/collect", elsewhere.port());
    let upstream = Stub::start(move |_| Reply {
        status: 302,
        headers: vec![("location".to_owned(), target.clone())],
        ..Reply::ok(Vec::new())
    });
    let host = Host::new();
    let output = run_guest(
        &host,
        "fetch",
        &format!("target_url = \"{}start\"", upstream.url()),
        &network_allow(&[&upstream.url()]),
    );
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output
            .stderr
            .contains("following the redirect to http://127.0.0.1:")
            && output.stderr.contains("refused an outgoing request"),
        "{}",
        output.stderr
    );
    assert_eq!(upstream.requests().len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect reached its target"
    );
}

#[test]
fn hostile_sources_do_not_stop_the_daemon_or_other_sources() {
    let host = Host::new();
    let root = host.data_dir().with_file_name("serve");
    let (sources, connectors) = (root.join("sources"), root.join("connectors"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&connectors).unwrap();
    let hourly = "[schedule]\nhourly = { every_hours = 1 }\n";
    let hostile = [
        ("Trap", "trap", ""),
        ("Stack", "stack", ""),
        ("Spin", "spin", "[limits]\ndeadline_seconds = 1\n"),
        ("Hoard", "alloc", "[limits]\nmemory_mib = 32\n"),
        ("Duplicates", "duplicate-uri", ""),
    ];
    for (name, mode, limits) in hostile {
        std::fs::write(
            sources.join(format!("{mode}.toml")),
            test_guest_source(name, mode, "", &format!("{limits}{hourly}")),
        )
        .unwrap();
    }
    std::fs::write(
        sources.join("good.toml"),
        test_guest_source("Good", "ok", "count = 4", hourly),
    )
    .unwrap();
    let daemon = Daemon::start(&host, &sources, &connectors);
    for (name, _, _) in hostile {
        let run = finished_run(&host, name, &daemon);
        assert_eq!(run["outcome"], "failed", "{name}: {run:#}");
    }
    let good = finished_run(&host, "Good", &daemon);
    assert_eq!(good["outcome"], "succeeded", "{good:#}");
    assert_eq!(host.resources(Some("Good")).len(), 4);
    // Still serving: a source added after the failures runs too.
    std::fs::write(
        sources.join("later.toml"),
        test_guest_source("Later", "ok", "count = 2", hourly),
    )
    .unwrap();
    let later = finished_run(&host, "Later", &daemon);
    assert_eq!(later["outcome"], "succeeded", "{later:#}");
    assert_eq!(
        runs_of(&host, "Trap").len(),
        1,
        "a failed source is not retried at once"
    );
    assert_eq!(host.resources(Some("Later")).len(), 2);
    assert_eq!(daemon.terminate(), 0);
}
