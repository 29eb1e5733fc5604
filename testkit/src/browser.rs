//! A headless Chromium for the web tests, driven over the DevTools protocol.
//!
//! [`Browser::launch`] starts the machine's Chromium (`$EUNO_CHROMIUM`, else `/usr/bin/chromium`,
//! `/usr/bin/chromium-browser`, `/usr/bin/google-chrome`, else one of those names on `PATH`)
//! headless, with a throwaway profile, and connects to it with
//! [chromiumoxide](https://docs.rs/chromiumoxide): the DevTools protocol over a websocket to the
//! browser itself, so there is no driver process to install and match to the browser's version,
//! and with the crate's default features off, no browser download. Where no browser is installed
//! it prints one loud `SKIPPED: …` line and returns `None`, unless `EUNO_REQUIRE_BROWSER=1`,
//! which makes it an error.
//!
//! [`Page`] has the few things a web test does, as a person would do them: open a URL, fill an
//! input found by CSS selector or by its label (typed key by key), pick an option, click (a real
//! mouse click at the element's centre), wait for a selector or a text, read text, save a
//! screenshot. Every wait is bounded ([`DEFAULT_TIMEOUT`], or [`Page::set_timeout`]) and polls
//! the page: nothing sleeps a fixed time in place of a condition.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::error::CdpError;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt as _;
use tokio::time::Instant;

use crate::watchdog::Watchdog;

/// Set to `1` to make a missing browser an error instead of a skip.
pub const REQUIRE_VAR: &str = "EUNO_REQUIRE_BROWSER";
/// The browser executable to use instead of looking for one.
pub const EXECUTABLE_VAR: &str = "EUNO_CHROMIUM";
/// How long a page helper waits for its condition unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The usual places, in order.
const CANDIDATES: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
/// The same names, looked for on `PATH` when none of the usual places has one.
const PATH_NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];
/// The window, and so the viewport and the screenshots.
const WINDOW: (u32, u32) = (1280, 900);
/// How long the browser may take to start and offer its DevTools endpoint.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two looks at the page while waiting for something.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The least time one look at the page may take, even past the deadline of a wait.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a browser that was asked to close may take to exit.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the watchdog runs when the browser is closed or dropped, or its test process is gone:
/// stop every process of this profile (`$1`), and wait until there are none, so that the profile
/// is removed after the last of them stopped writing to it. Every Chromium process, the browser
/// and its helpers (network service, renderers, GPU), names the profile on its command line,
/// which also makes a reused pid harmless. The `[u]` keeps grep from matching its own command
/// line. After ten seconds of asking, the stragglers are killed.
const STOP_BROWSER: &str = r#"pattern="[u]ser-data-dir=$1"
i=0
while pids=$(grep -las -- "$pattern" /proc/[0-9]*/cmdline | cut -d/ -f3) && [ -n "$pids" ]; do
  if [ "$i" -ge 100 ]; then
    kill -KILL $pids 2>/dev/null
    exit 0
  fi
  kill -TERM $pids 2>/dev/null
  sleep 0.1
  i=$((i+1))
done"#;

/// Why the browser could not be launched or a page helper failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// No browser, and `EUNO_REQUIRE_BROWSER=1` forbids skipping.
    #[error(
        "no Chromium found in {searched}, and {REQUIRE_VAR}=1 requires one: install chromium \
         (Debian: apt-get install chromium) or set {EXECUTABLE_VAR} to its path"
    )]
    NotFound {
        /// Where it was looked for.
        searched: String,
    },
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The browser did not start.
    #[error("launching {executable}: {source}")]
    Launch {
        /// The executable.
        executable: String,
        /// Why.
        #[source]
        source: CdpError,
    },
    /// A DevTools command failed.
    #[error("{what}: {source}")]
    Cdp {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: CdpError,
    },
    /// A page helper's condition did not come true in time.
    #[error("{what}: not within {waited:?} (last: {last})")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// What the last look at the page found.
        last: String,
    },
    /// A page helper found the page other than it expected.
    #[error("{what}: {problem}")]
    Page {
        /// What was being done.
        what: String,
        /// What was wrong.
        problem: String,
    },
}

/// A running headless Chromium with a throwaway profile; see the module documentation.
///
/// End it with [`close`](Self::close). Dropping it instead (a failed test) kills the browser and
/// removes the profile; so does its watchdog when the test process dies.
#[derive(Debug)]
pub struct Browser {
    /// The connection; `None` only while closing or dropping.
    inner: Option<chromiumoxide::Browser>,
    /// Drives the DevTools connection.
    handler: tokio::task::JoinHandle<()>,
    /// Stops the browser and removes the profile; `None` once finished.
    watchdog: Option<Watchdog>,
    /// The executable launched.
    executable: PathBuf,
    /// The throwaway profile (`--user-data-dir`).
    profile: PathBuf,
    /// The browser's process id, when it was known at launch.
    pid: Option<u32>,
}

impl Browser {
    /// Launches the browser: `Ok(None)` (after one loud `SKIPPED` line on stderr) where none is
    /// installed, an error instead when `EUNO_REQUIRE_BROWSER=1`.
    ///
    /// Call it inside a tokio runtime (the DevTools connection runs on a task of it).
    pub async fn launch() -> Result<Option<Browser>, BrowserError> {
        let (executable, searched) = locate_browser();
        let Some(executable) = executable else {
            if crate::required(REQUIRE_VAR) {
                return Err(BrowserError::NotFound { searched });
            }
            crate::announce_skip(&skip_line(&searched));
            return Ok(None);
        };
        Self::launch_executable(executable).await.map(Some)
    }

    /// The executable that was launched.
    pub fn executable(&self) -> &Path {
        &self.executable
    }

    /// The throwaway profile directory, removed when the browser is closed or dropped.
    pub fn profile_dir(&self) -> &Path {
        &self.profile
    }

    /// The browser's process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Opens `url` in a new tab and waits for it to load.
    pub async fn open(&self, url: &str) -> Result<Page, BrowserError> {
        let browser = self.inner.as_ref().ok_or_else(|| BrowserError::Page {
            what: format!("opening {url}"),
            problem: "the browser is closed".to_owned(),
        })?;
        let inner = browser
            .new_page(url)
            .await
            .map_err(|source| BrowserError::Cdp {
                what: format!("opening {url}"),
                source,
            })?;
        Ok(Page {
            inner,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Closes the browser, waits for it to exit, and removes its profile.
    pub async fn close(mut self) -> Result<(), BrowserError> {
        let mut browser = self.inner.take().ok_or_else(|| BrowserError::Page {
            what: "closing the browser".to_owned(),
            problem: "it is already closed".to_owned(),
        })?;
        let closed = async {
            browser.close().await.map_err(|source| BrowserError::Cdp {
                what: "closing the browser".to_owned(),
                source,
            })?;
            browser.wait().await.map_err(|source| BrowserError::Io {
                what: "waiting for the browser to exit".to_owned(),
                source,
            })
        };
        let outcome = tokio::time::timeout(CLOSE_TIMEOUT, closed).await;
        if let Some(watchdog) = self.watchdog.take() {
            // The browser's helpers may outlive it by a moment; the watchdog waits for them.
            watchdog.finish();
        }
        self.handler.abort();
        match outcome {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(BrowserError::Timeout {
                what: "closing the browser".to_owned(),
                waited: CLOSE_TIMEOUT,
                last: "it was still running".to_owned(),
            }),
        }
    }

    /// Starts `executable` headless with a fresh profile, under a watchdog.
    async fn launch_executable(executable: PathBuf) -> Result<Browser, BrowserError> {
        let profile = tempfile::Builder::new()
            .prefix("euno-chromium-")
            .tempdir()
            .map_err(|source| BrowserError::Io {
                what: "creating a temporary browser profile".to_owned(),
                source,
            })?;
        let launch_error = |source| BrowserError::Launch {
            executable: executable.display().to_string(),
            source,
        };
        let config = chromiumoxide::BrowserConfig::builder()
            .chrome_executable(&executable)
            // chromiumoxide's defaults are Puppeteer's; these are the flags known to work here,
            // written out so that a browser update cannot change what the tests run with.
            .disable_default_args()
            // Headless is chromiumoxide's default: `--headless`, which is the new headless mode
            // in the Chromium of today.
            // Root (CI) cannot use Chromium's sandbox, and the pages are our own.
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(WINDOW.0, WINDOW.1)
            .viewport(Viewport {
                width: WINDOW.0,
                height: WINDOW.1,
                ..Viewport::default()
            })
            .launch_timeout(LAUNCH_TIMEOUT)
            // chromiumoxide adds the leading `--`.
            .args([
                "disable-gpu",
                "disable-quic",
                "no-first-run",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                // A container's /dev/shm is often too small for Chromium; /tmp is not.
                "disable-dev-shm-usage",
                // No crash handler process, which would outlive the browser and write to
                // ~/.config/chromium.
                "disable-breakpad",
                "disable-crash-reporter",
            ])
            // No keyring to look for (and wait on) without a desktop session.
            .arg(("password-store", "basic"))
            .arg(("force-color-profile", "srgb"))
            .build()
            .map_err(|problem| BrowserError::Page {
                what: format!("configuring {}", executable.display()),
                problem,
            })?;
        let (mut browser, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .map_err(launch_error)?;
        let pid = browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().id());
        // The watchdog owns the profile from here on.
        let profile = profile.keep();
        let stop = [
            "/bin/sh".into(),
            "-c".into(),
            STOP_BROWSER.into(),
            "euno-testkit-stop-browser".into(),
            profile.clone().into_os_string(),
        ];
        let watchdog = match Watchdog::spawn(&profile, &stop) {
            Ok(watchdog) => watchdog,
            Err(source) => {
                // Dropping `browser` kills the process.
                drop(browser);
                let _ = std::fs::remove_dir_all(&profile);
                return Err(BrowserError::Io {
                    what: "starting the browser's watchdog (/bin/sh)".to_owned(),
                    source,
                });
            }
        };
        let handler = tokio::spawn(async move {
            // The handler yields an error only when the connection itself fails; there is
            // nothing left to drive then (chromiumoxide's own examples stop there too).
            while let Some(event) = handler.next().await {
                if event.is_err() {
                    break;
                }
            }
        });
        Ok(Browser {
            inner: Some(browser),
            handler,
            watchdog: Some(watchdog),
            executable,
            profile,
            pid,
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromiumoxide kills the process when its handle is dropped; do that first, so that
        // the profile is removed after the browser stopped writing to it.
        drop(self.inner.take());
        self.handler.abort();
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.finish();
        }
    }
}

/// One tab; see the module documentation.
#[derive(Debug)]
pub struct Page {
    inner: chromiumoxide::Page,
    timeout: Duration,
}

impl Page {
    /// The chromiumoxide page, for anything the helpers do not cover.
    pub fn inner(&self) -> &chromiumoxide::Page {
        &self.inner
    }

    /// How long the helpers wait for their condition (default [`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Navigates to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        let what = format!("navigating to {url}");
        let navigation = self.inner.goto(url);
        match tokio::time::timeout(self.timeout, navigation).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(BrowserError::Cdp { what, source }),
            Err(_) => Err(BrowserError::Timeout {
                what,
                waited: self.timeout,
                last: "still loading".to_owned(),
            }),
        }
    }

    /// The URL the tab shows.
    pub async fn url(&self) -> Result<String, BrowserError> {
        self.inner
            .url()
            .await
            .map(Option::unwrap_or_default)
            .map_err(|source| BrowserError::Cdp {
                what: "reading the page's URL".to_owned(),
                source,
            })
    }

    /// Waits until an element matches `selector`.
    pub async fn wait_for(&self, selector: &str) -> Result<(), BrowserError> {
        self.element(selector).await.map(drop)
    }

    /// Waits until the page's visible text contains `text`.
    pub async fn wait_for_text(&self, text: &str) -> Result<(), BrowserError> {
        let expression = format!(
            "!!document.body && document.body.innerText.includes({})",
            js_string(text)
        );
        self.poll(format!("waiting for the text {text:?}"), || async {
            match self.evaluate::<bool>(&expression).await {
                Ok(true) => Ok(Some(())),
                Ok(false) => Err("the page does not show it".to_owned()),
                Err(error) => Err(error),
            }
        })
        .await
    }

    /// The visible text of the first element matching `selector` (waited for).
    pub async fn text(&self, selector: &str) -> Result<String, BrowserError> {
        let element = self.element(selector).await?;
        element
            .inner_text()
            .await
            .map(Option::unwrap_or_default)
            .map_err(|source| BrowserError::Cdp {
                what: format!("reading the text of {selector}"),
                source,
            })
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> Result<String, BrowserError> {
        self.evaluate::<String>("document.body ? document.body.innerText : ''")
            .await
            .map_err(|problem| BrowserError::Page {
                what: "reading the page's text".to_owned(),
                problem,
            })
    }

    /// Clicks the element matching `selector` (waited for), with the mouse, at its centre.
    pub async fn click(&self, selector: &str) -> Result<(), BrowserError> {
        let element = self.element(selector).await?;
        element
            .click()
            .await
            .map(drop)
            .map_err(|source| BrowserError::Cdp {
                what: format!("clicking {selector}"),
                source,
            })
    }

    /// Empties the input matching `selector` (waited for) and types `value` into it, key by key.
    pub async fn fill(&self, selector: &str, value: &str) -> Result<(), BrowserError> {
        let what = || format!("filling {selector}");
        let element = self.element(selector).await?;
        element
            .call_js_fn(
                "function() { this.focus(); this.value = ''; \
                 this.dispatchEvent(new Event('input', { bubbles: true })); }",
                false,
            )
            .await
            .map_err(|source| BrowserError::Cdp {
                what: what(),
                source,
            })?;
        element
            .type_str(value)
            .await
            .map_err(|source| BrowserError::Cdp {
                what: what(),
                source,
            })?;
        let typed = element
            .property("value")
            .await
            .map_err(|source| BrowserError::Cdp {
                what: what(),
                source,
            })?;
        if typed.as_ref().and_then(|typed| typed.as_str()) == Some(value) {
            Ok(())
        } else {
            Err(BrowserError::Page {
                what: what(),
                problem: format!("it holds {typed:?} after typing {value:?}"),
            })
        }
    }

    /// Fills the control whose `<label>` reads `label` (whitespace collapsed; the control's own
    /// text, such as a select's options, does not count), as [`fill`](Self::fill) does.
    pub async fn fill_by_label(&self, label: &str, value: &str) -> Result<(), BrowserError> {
        let selector = self.labelled(label).await?;
        self.fill(&selector, value).await
    }

    /// Picks the option whose value is `value` in the `<select>` matching `selector` (waited
    /// for), firing `input` and `change` as a person's choice would.
    pub async fn select(&self, selector: &str, value: &str) -> Result<(), BrowserError> {
        let what = || format!("choosing {value:?} in {selector}");
        let element = self.element(selector).await?;
        let function = format!(
            "function() {{ const wanted = {}; \
             if (![...this.options].some(o => o.value === wanted)) return false; \
             this.focus(); this.value = wanted; \
             this.dispatchEvent(new Event('input', {{ bubbles: true }})); \
             this.dispatchEvent(new Event('change', {{ bubbles: true }})); return true; }}",
            js_string(value)
        );
        let chosen = element
            .call_js_fn(function, false)
            .await
            .map_err(|source| BrowserError::Cdp {
                what: what(),
                source,
            })?;
        match chosen.result.value {
            Some(serde_json::Value::Bool(true)) => Ok(()),
            _ => Err(BrowserError::Page {
                what: what(),
                problem: "it has no such option".to_owned(),
            }),
        }
    }

    /// Saves a PNG of the whole page (beyond the window if it is longer) at `path`, creating
    /// the directory.
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| BrowserError::Io {
                what: format!("creating {}", parent.display()),
                source,
            })?;
        }
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build();
        self.inner
            .save_screenshot(params, path)
            .await
            .map(drop)
            .map_err(|source| BrowserError::Cdp {
                what: format!("saving a screenshot to {}", path.display()),
                source,
            })
    }

    /// The first element matching `selector`, waited for.
    async fn element(&self, selector: &str) -> Result<chromiumoxide::Element, BrowserError> {
        self.poll(format!("waiting for {selector}"), || async {
            self.inner
                .find_element(selector)
                .await
                .map(Some)
                .map_err(|error| error.to_string())
        })
        .await
    }

    /// A CSS selector for the control labelled `label`, waited for. A control without an id
    /// gets one, so that it can be named.
    async fn labelled(&self, label: &str) -> Result<String, BrowserError> {
        // The answer is always a string (a JavaScript null arrives as no value at all): the
        // selector, or `?` for no such label, or `!` for a label of no control.
        let expression = format!(
            "(() => {{ const wanted = {}; \
             const norm = s => s.replace(/\\s+/g, ' ').trim(); \
             for (const label of document.querySelectorAll('label')) {{ \
               const copy = label.cloneNode(true); \
               copy.querySelectorAll('input, select, textarea, button').forEach(c => c.remove()); \
               if (norm(copy.textContent) !== wanted) continue; \
               const control = label.control; \
               if (!control) return '!'; \
               if (!control.id) control.id = 'euno-testkit-' + Math.random().toString(36).slice(2); \
               return '#' + CSS.escape(control.id); \
             }} \
             return '?'; }})()",
            js_string(label)
        );
        self.poll(
            format!("waiting for the field labelled {label:?}"),
            || async {
                match self.evaluate::<String>(&expression).await?.as_str() {
                    "?" => Err("no such label".to_owned()),
                    "!" => Err("the label is there but labels no control".to_owned()),
                    selector => Ok(Some(selector.to_owned())),
                }
            },
        )
        .await
    }

    /// Evaluates a JavaScript expression and reads its value as `T`.
    async fn evaluate<T: serde::de::DeserializeOwned>(
        &self,
        expression: &str,
    ) -> Result<T, String> {
        self.inner
            .evaluate_expression(expression)
            .await
            .map_err(|error| error.to_string())?
            .into_value()
            .map_err(|error| error.to_string())
    }

    /// Looks at the page with `attempt` until it finds something (`Ok(Some)`), or the timeout
    /// passes. An attempt that fails (`Err`, e.g. while the page is navigating) is tried again;
    /// its message becomes the timeout's `last`.
    async fn poll<T, F, Fut>(&self, what: String, mut attempt: F) -> Result<T, BrowserError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, String>>,
    {
        let deadline = Instant::now() + self.timeout;
        let mut last = "nothing yet".to_owned();
        loop {
            // The last look gets a fair time too, so that the error says what it found.
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(LOOK_TIMEOUT);
            match tokio::time::timeout(remaining, attempt()).await {
                Ok(Ok(Some(found))) => return Ok(found),
                Ok(Ok(None)) => {}
                Ok(Err(problem)) => last = problem,
                Err(_) => last = "the browser did not answer".to_owned(),
            }
            if Instant::now() >= deadline {
                return Err(BrowserError::Timeout {
                    what,
                    waited: self.timeout,
                    last,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// The loud line printed when the tests are skipped.
fn skip_line(searched: &str) -> String {
    format!(
        "SKIPPED: browser tests: no Chromium found in {searched} (install chromium, or set \
         {REQUIRE_VAR}=1 to make this a failure)"
    )
}

/// Finds the browser: the executable, or `None`, and where it was looked for.
fn locate_browser() -> (Option<PathBuf>, String) {
    if let Some(path) = std::env::var_os(EXECUTABLE_VAR) {
        let path = PathBuf::from(path);
        let searched = format!("{} ({EXECUTABLE_VAR})", path.display());
        return (crate::is_executable(&path).then_some(path), searched);
    }
    let searched = format!(
        "{}, or {} on PATH",
        CANDIDATES.join(", "),
        PATH_NAMES.join(", ")
    );
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let found = CANDIDATES
        .iter()
        .map(PathBuf::from)
        .chain(
            PATH_NAMES
                .iter()
                .flat_map(|name| path_dirs.iter().map(move |dir| dir.join(name))),
        )
        .find(|candidate| crate::is_executable(candidate));
    (found, searched)
}

/// `text` as a JavaScript string literal (JSON's string syntax is a subset of JavaScript's).
fn js_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}
