//! The terminal as a user sees it: `run` in a real pseudo-terminal (util-linux `script` gives the
//! binary one as its stdin, stdout and stderr), against a Hex that rate-limits it; and the same
//! run on pipes, where no live line may appear.
//!
//! With `EUNO_RECORD_TERMINAL=FILE`, the rate-limited run's recording is written to FILE (that is
//! how `docs/terminal-after.txt` was made).

use std::process::{Command, Stdio};

use hex_sim::{Faults, RateLimitBurst, Workspace};

use crate::support::{EUNO_HOST, Host, hex_source, simulator, token_env};

/// What a terminal 120 columns wide received while `euno-host ARGS` ran in it, stdout and stderr
/// interleaved as written.
fn in_terminal(host: &Host, args: &[&str]) -> String {
    let quote = |text: &str| format!("'{}'", text.replace('\'', r"'\''"));
    let mut line = format!(
        "stty cols 120 rows 30; exec {} --data-dir {}",
        quote(EUNO_HOST),
        quote(&host.data_dir().display().to_string())
    );
    for arg in args {
        line.push(' ');
        line += &quote(arg);
    }
    let output = Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            &line,
            "/dev/null",
        ])
        .envs(token_env())
        .env("TERM", "xterm-256color")
        .env("EUNO_LOG", "warn")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("EUNO_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("running `script` (util-linux) to get a pseudo-terminal");
    assert!(output.status.success(), "{output:#?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The lines a terminal shows once `raw` is written to it: carriage returns, newlines, erased
/// lines and cursor moves up are followed; colours and other sequences change no character.
fn screen(raw: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
                if lines.len() <= row {
                    lines.push(Vec::new());
                }
            }
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut parameters = String::new();
                let mut command = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        command = c;
                        break;
                    }
                    parameters.push(c);
                }
                let n = parameters.parse::<usize>().unwrap_or(0);
                match command {
                    'K' if n == 2 => lines[row].clear(),
                    'K' => lines[row].truncate(col),
                    'A' => row = row.saturating_sub(n.max(1)),
                    _ => {}
                }
            }
            c => {
                let line = &mut lines[row];
                if line.len() <= col {
                    line.resize(col, ' ');
                    line.push(c);
                } else {
                    line[col] = c;
                }
                col += 1;
            }
        }
    }
    lines
        .into_iter()
        .map(|line| line.into_iter().collect::<String>().trim_end().to_owned())
        .collect()
}

/// `raw` with its escape sequences written out (`␛[2K`, `\r`), one line per line written and
/// per erased line (each redraw of the live line).
fn visible(raw: &str) -> String {
    raw.replace("\r\x1b[2K", "\r\x1b[2K\n")
        .replace('\x1b', "␛")
        .replace("\r\n", "\\r\\n\n")
        .replace('\r', "\\r")
}

/// A recording as `docs/terminal-*.txt` keep it.
fn recording(title: &str, raw: &str) -> String {
    format!(
        "{title}\n\n== What the terminal shows at the end (long lines not wrapped) ==\n\n{}\n\n== What was written to it \
         (escape sequences written out: ␛ is ESC, \\r a carriage return) ==\n\n{}\n",
        screen(raw).join("\n").trim_end(),
        visible(raw)
    )
}

/// A Hex that refuses the third request with a 429 and `Retry-After: 3`, and a source for it.
fn rate_limited(host: &Host) -> (hex_sim::SimHandle, std::path::PathBuf) {
    let faults = Faults {
        rate_limit_burst: Some(RateLimitBurst {
            start_at: 3,
            count: 1,
            retry_after_secs: Some(3),
        }),
        ..Faults::default()
    };
    let sim = simulator(Workspace::synthetic(42, 3000), faults);
    let source = host.source_file("hex.toml", &hex_source("Hex", &sim.base_url(), ""));
    (sim, source)
}

#[test]
fn the_live_line_shows_a_rate_limited_run_and_is_cleared_before_the_summary() {
    let host = Host::new();
    let (_sim, source) = rate_limited(&host);
    let raw = in_terminal(&host, &["run", "--source", source.to_str().unwrap()]);
    if let Ok(path) = std::env::var("EUNO_RECORD_TERMINAL") {
        let title = "`euno-host run --source hex.toml` in a terminal 120 columns wide, after: \
                     3,000 projects, the third request answered 429 with Retry-After: 3.";
        std::fs::write(path, recording(title, &raw)).expect("writing the recording");
    }

    // The live line counted, and said why the run paused and for how long.
    assert!(
        raw.contains(" discovered · ") && raw.contains(" requests"),
        "{}",
        visible(&raw)
    );
    let waiting = raw
        .find("waiting ")
        .unwrap_or_else(|| panic!("no waiting notice: {}", visible(&raw)));
    assert!(
        raw[waiting..].contains(" s: rate-limited by Hex Technologies (Retry-After)"),
        "{}",
        visible(&raw)
    );

    // What stays on screen: the connector's warning on a line of its own, then the summary from
    // the first column, and nothing left of the live line.
    let shown = screen(&raw);
    let summary = shown
        .iter()
        .position(|line| line.starts_with("Source \"Hex\": run 1 succeeded"))
        .unwrap_or_else(|| panic!("no summary on a clean line: {shown:#?}"));
    assert!(
        shown.iter().all(|line| !line.contains("discovered ·")),
        "the live line is gone: {shown:#?}"
    );
    let warning = shown
        .iter()
        .position(|line| line.contains("answered 429"))
        .unwrap_or_else(|| panic!("no warning: {shown:#?}"));
    assert!(warning < summary, "{shown:#?}");
    assert!(shown[warning].contains("WARN"), "{shown:#?}");
    assert!(
        shown[summary + 1].starts_with("  discovered "),
        "{shown:#?}"
    );
}

#[test]
fn quiet_and_pipes_get_no_live_line() {
    let host = Host::new();
    let (_sim, source) = rate_limited(&host);

    // On pipes: the summary only.
    let piped = host.run_with_env(&["run", "--source", source.to_str().unwrap()], &token_env());
    assert_eq!(piped.code, 0, "{piped:#?}");
    assert!(piped.stdout.starts_with("Source \"Hex\": run 1 succeeded"));
    assert!(
        !piped.stderr.contains('\r') && !piped.stderr.contains("discovered"),
        "{piped:#?}"
    );

    // In a terminal with --quiet: neither the line nor the summary; the warning still shows.
    // (A fresh simulator, whose third request is refused again.)
    let (_sim, source) = rate_limited(&host);
    let raw = in_terminal(
        &host,
        &["run", "--quiet", "--source", source.to_str().unwrap()],
    );
    assert!(!raw.contains("discovered"), "{}", visible(&raw));
    assert!(!raw.contains("Source \"Hex\""), "{}", visible(&raw));
    assert!(raw.contains("answered 429"), "{}", visible(&raw));
    let runs = host.run(&["runs", "--json"]).json();
    assert_eq!(runs[0]["outcome"], "succeeded", "{runs:#}");
    assert_eq!(runs[0]["id"], 2, "{runs:#}");
}

#[test]
fn the_screen_model_follows_carriage_returns_and_erasures() {
    // The screen model the tests above rely on: a shorter line over a longer one leaves the
    // rest, unless the line is erased first.
    assert_eq!(
        screen("Hex: 2549 discovered\rHex: 2550/2550"),
        ["Hex: 2550/2550overed"]
    );
    assert_eq!(
        screen("Hex: 2549 discovered\r\x1b[2K\rSource\r\nnext"),
        ["Source", "next"]
    );
    assert_eq!(screen("a\r\nb\x1b[1A\r\x1b[2Kc"), ["c", "b"]);
}
