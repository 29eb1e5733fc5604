//! Text from servers and components stays inert: an error body, a connector's log line, error,
//! panic, `check` answer and resource names reach stderr, `serve`'s log, the run history and the
//! human tables as one line each, with every control and bidi character escaped, while the
//! inventory and `--json` keep the exact data.

use std::path::Path;

use crate::serve::{Daemon, finished_run};
use crate::stub::{Reply, Stub};
use crate::support::{Host, Output, hex_source, test_guest_source, token_env};

/// An error page that tries to forge a line of `euno-host`'s own, recolour the terminal and
/// reverse the rest of the line.
const HOSTILE_BODY: &str = "nope\neuno-host: forged line\x1b[31mRED\u{202e}";

/// The same text, as the escapes a reader sees.
// The Hex connector (on the SDK since contract 0.2) quotes an error body on one line with its
// control characters escaped Rust-style (`\\u{1b}`) before the host sees it; the host's own
// escaping (`\\x1b`) then has nothing left to do.
const HOSTILE_SHOWN: &str = "nope\\neuno-host: forged line\\u{1b}[31mRED\\u{202e}";

/// Asserts that `text` holds nothing a terminal would act on and no forged `euno-host:` line,
/// and that it does show `shown` (so the message is there, escaped, not merely absent).
fn assert_inert(what: &str, text: &str, shown: &str) {
    for raw in ['\x1b', '\u{202e}', '\r', '\u{7}'] {
        assert!(!text.contains(raw), "{what}: a raw {raw:?} in:\n{text}");
    }
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("euno-host: forged"),
            "{what}: a forged line: {line:?}"
        );
    }
    assert!(text.contains(shown), "{what}: {shown:?} is not in:\n{text}");
}

#[test]
fn a_hostile_error_body_stays_one_inert_line_on_stderr_in_runs_and_in_serves_log() {
    let upstream = Stub::start(|_| Reply {
        status: 404,
        ..Reply::ok(HOSTILE_BODY)
    });
    let host = Host::new();
    let base = format!("{}api/v1", upstream.url());
    let text = hex_source("Hostile Hex", &base, "max_retries = 0");
    let source = host.source_file("hex.toml", &text);
    let output = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(output.stderr.contains("not found"), "{}", output.stderr);
    assert_inert("run's stderr", &output.stderr, HOSTILE_SHOWN);

    let table = host.run(&["runs"]);
    assert_eq!(table.code, 0, "{table:#?}");
    assert_inert("the runs table", &table.stdout, HOSTILE_SHOWN);
    let runs = host.run(&["runs", "--json"]).json();
    let recorded = runs[0]["error"].as_str().unwrap();
    assert_inert("the recorded error", recorded, HOSTILE_SHOWN);

    // `serve`, with the same source on a schedule: its log is a file an operator tails.
    let root = host.data_dir().with_file_name("serve");
    let (sources, connectors) = (root.join("sources"), root.join("connectors"));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&connectors).unwrap();
    let literal = text.replace("${HEX_API_TOKEN}", "hxtp_serve_token_0123");
    std::fs::write(
        sources.join("hex.toml"),
        literal.replace("Hostile Hex", "Hostile Hex served")
            + "\n[schedule]\nhourly = { every_hours = 1 }\n",
    )
    .unwrap();
    let daemon = Daemon::start(&host, &sources, &connectors);
    let run = finished_run(&host, "Hostile Hex served", &daemon);
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let log = daemon.log();
    assert_eq!(daemon.terminate(), 0);
    assert_inert("serve's log", &log, HOSTILE_SHOWN);
}

/// A source running the test guest in a `speak` mode, saying `text` (TOML-escaped).
fn speaking(host: &Host, mode: &str, text: &str) -> std::path::PathBuf {
    host.source_file(
        "speak.toml",
        &test_guest_source(
            "Speaker",
            mode,
            &format!("text = \"{text}\""),
            "[secrets]\napi_token = \"${SPEAK_TOKEN}\"\n",
        ),
    )
}

fn run_speaker(host: &Host, command: &str, source: &Path) -> Output {
    host.run_with_env(
        &[command, "--source", source.to_str().unwrap()],
        &[("SPEAK_TOKEN", "tok_speaker_secret_77a1")],
    )
}

/// What the test guest says: the hostile line, in TOML.
const SAID_TOML: &str = "said\\neuno-host: forged line\\u001b[31mRED\\u202E\\r";
const SAID: &str = "said\neuno-host: forged line\x1b[31mRED\u{202e}\r";
const SAID_SHOWN: &str = "said\\neuno-host: forged line\\x1b[31mRED\\u{202e}\\r";

#[test]
fn hostile_text_from_a_connector_stays_inert_while_its_data_is_kept_exactly() {
    let host = Host::new();
    // A log line at warn, a resource named with it, under a URI with a bidi override.
    let source = speaking(&host, "speak", SAID_TOML);
    let output = run_speaker(&host, "run", &source);
    assert_eq!(output.code, 0, "{output:#?}");
    assert_inert("run's stderr", &output.stderr, SAID_SHOWN);
    assert_inert(
        "run's summary",
        &output.stdout,
        &format!("warning: {SAID_SHOWN}"),
    );

    let table = host.run(&["resources"]);
    assert_eq!(table.code, 0, "{table:#?}");
    assert_inert("the resources table", &table.stdout, SAID_SHOWN);
    assert!(
        table.stdout.contains("test.items.spoken\\u{202e}txt"),
        "{}",
        table.stdout
    );
    let resources = host.resources(None);
    assert_eq!(resources[0]["uri"], "test.items.spoken\u{202e}txt");
    assert_eq!(resources[0]["name"], SAID, "stored as it was said");
    assert_eq!(resources[0]["properties"]["said"], SAID);

    let runs = host.run(&["runs"]);
    assert_inert(
        "the runs table",
        &runs.stdout,
        &format!("warning: {SAID_SHOWN}"),
    );
    let recorded = host.run(&["runs", "--json"]).json();
    assert_eq!(recorded[0]["warnings"][0], SAID_SHOWN, "{recorded:#}");

    // `check`'s answer for a person.
    let checked = run_speaker(&host, "check", &source);
    assert_eq!(checked.code, 0, "{checked:#?}");
    assert_inert(
        "check's answer",
        &checked.stdout,
        &format!("OK: {SAID_SHOWN}"),
    );

    // An error whose message and trace id are the hostile line; then a panic that says it (a
    // crash's stderr has its lines joined with ` / ` before it is made inert).
    let panic_shown = "said / euno-host: forged line\\x1b[31mRED\\u{202e}";
    for (mode, shown) in [("speak-fail", SAID_SHOWN), ("speak-panic", panic_shown)] {
        let source = speaking(&host, mode, SAID_TOML);
        let output = run_speaker(&host, "run", &source);
        assert_eq!(output.code, 3, "{mode}: {output:#?}");
        assert_inert(mode, &output.stderr, shown);
        let table = host.run(&["runs", "--limit", "1"]);
        assert_inert(&format!("{mode} in the runs table"), &table.stdout, shown);
    }
}
