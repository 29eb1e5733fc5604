//! The browser harness against the machine's Chromium: a form served from loopback is filled,
//! submitted and read back as a person would, the waits are bounded, and the browser is gone
//! after `close` or after its test process is killed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Form;
use axum::Router;
use axum::response::Html;
use axum::routing::{get, post};
use testkit::browser::{Browser, BrowserError};

use crate::support::{eventually, holding, spawn_probe};

/// The page with the form.
const FORM: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Add a source</title>
<style>
  body { font-family: sans-serif; margin: 2em; }
  label { display: block; margin-top: 1em; }
  input, select { display: block; margin-top: .3em; padding: .3em; width: 20em; }
  button { margin-top: 1.5em; padding: .5em 1.5em; }
</style></head>
<body>
<h1>Add a source</h1>
<form method="post" action="/submit">
  <label for="name">Source name</label>
  <input id="name" name="name" value="to be replaced">
  <label>API token <input name="token" type="password"></label>
  <label for="strategy">Cleanup</label>
  <select id="strategy" name="strategy">
    <option value="immediate">immediate</option>
    <option value="none">none</option>
  </select>
  <button id="save" type="submit">Save</button>
</form>
</body></html>"#;

/// What the form sends.
#[derive(serde::Deserialize)]
struct Submission {
    name: String,
    token: String,
    strategy: String,
}

/// The page after saving: what arrived, escaped.
async fn saved(Form(submission): Form<Submission>) -> Html<String> {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Saved</title></head>\
         <body style=\"font-family: sans-serif; margin: 2em\">\
         <h1 id=\"result\">Saved {}</h1>\
         <p id=\"strategy\">{}</p>\
         <p id=\"token\">a token of {} characters</p></body></html>",
        escape(&submission.name),
        escape(&submission.strategy),
        submission.token.chars().count()
    ))
}

/// Serves the form on a loopback port; returns its base URL.
async fn serve_form() -> String {
    let app = Router::new()
        .route("/", get(|| async { Html(FORM) }))
        .route("/submit", post(saved));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serving the form");
    });
    format!("http://{address}")
}

/// Where the screenshots of these tests go.
fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("testkit-selftest")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_is_filled_submitted_and_read_back() {
    let Some(browser) = Browser::launch().await.expect("launching the browser") else {
        return;
    };
    let profile = browser.profile_dir().to_owned();
    let base = serve_form().await;

    let page = browser.open(&base).await.expect("opening the form");
    page.fill("#name", "Hex - Analytics <Projects>")
        .await
        .expect("filling the name");
    page.fill_by_label("API token", "hxtp_selftest_token")
        .await
        .expect("filling the token by its label");
    page.select("#strategy", "none")
        .await
        .expect("choosing a cleanup strategy");
    let before = screenshot_path("form-filled.png");
    page.screenshot(&before)
        .await
        .expect("a screenshot of the form");
    page.click("#save").await.expect("clicking Save");

    page.wait_for_text("Saved Hex - Analytics <Projects>")
        .await
        .expect("the result page");
    assert_eq!(
        page.text("#result").await.expect("reading the result"),
        "Saved Hex - Analytics <Projects>"
    );
    assert_eq!(
        page.text("#strategy").await.expect("reading the strategy"),
        "none"
    );
    assert_eq!(
        page.text("#token").await.expect("reading the token length"),
        "a token of 19 characters"
    );
    assert_eq!(
        page.url().await.expect("the page's URL"),
        format!("{base}/submit")
    );
    let after = screenshot_path("form-saved.png");
    page.screenshot(&after)
        .await
        .expect("a screenshot of the result");
    for path in [&before, &after] {
        let png = std::fs::read(path).expect("reading the screenshot");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
            "{} is no screenshot",
            path.display()
        );
    }

    browser.close().await.expect("closing the browser");
    assert!(!profile.exists(), "{} is still there", profile.display());
    assert_eq!(
        profile_users(&profile),
        Vec::<String>::new(),
        "browser processes outlived close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_are_bounded_and_say_what_they_waited_for() {
    let Some(browser) = Browser::launch().await.expect("launching the browser") else {
        return;
    };
    let base = serve_form().await;
    let mut page = browser.open(&base).await.expect("opening the form");
    page.set_timeout(Duration::from_millis(500));

    let error = page
        .wait_for("#no-such-thing")
        .await
        .expect_err("a missing element");
    assert!(
        matches!(&error, BrowserError::Timeout { what, .. } if what.contains("#no-such-thing")),
        "{error}"
    );
    let error = page
        .fill_by_label("No such label", "x")
        .await
        .expect_err("a missing label");
    assert!(
        matches!(&error, BrowserError::Timeout { last, .. } if last == "no such label"),
        "{error}"
    );
    let error = page
        .wait_for_text("words that are not there")
        .await
        .expect_err("missing text");
    assert!(matches!(error, BrowserError::Timeout { .. }), "{error}");
    let error = page
        .select("#strategy", "after_days")
        .await
        .expect_err("a missing option");
    assert!(error.to_string().contains("no such option"), "{error}");

    browser.close().await.expect("closing the browser");
}

#[test]
fn a_killed_test_process_leaves_no_browser_behind() {
    let mut child = spawn_probe("probe::browser_hold");
    let Some(line) = holding(&mut child) else {
        return;
    };
    let (pid, profile) = line
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("the probe said {line:?}"));
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let profile = PathBuf::from(profile);
    assert!(proc_dir.exists(), "the probe's browser is not running");

    // SIGKILL: no unwinding, no Drop, nothing of the process runs again.
    child.kill().expect("killing the probe");
    child.wait().expect("reaping the probe");

    let gone = |proc_dir: &Path| {
        std::fs::read_to_string(proc_dir.join("stat"))
            .map_or(true, |stat| stat.split(' ').nth(2) == Some("Z"))
    };
    assert!(
        eventually(60, || gone(&proc_dir)
            && profile_users(&profile).is_empty()
            && !profile.exists()),
        "the browser (pid {pid}, helpers {:?}) or its profile {} outlived its test process",
        profile_users(&profile),
        profile.display()
    );
}

/// The processes running with `profile` as their user data directory.
fn profile_users(profile: &Path) -> Vec<String> {
    let wanted = format!("--user-data-dir={}", profile.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .split(|&byte| byte == 0)
                    .any(|arg| arg == wanted.as_bytes())
            })
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}
