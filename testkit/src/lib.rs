//! Real services for the tests and benchmarks, started from what the machine has installed.
//!
//! - [`postgres`]: a private, throwaway PostgreSQL cluster ([`postgres::PgCluster`]) from the
//!   server binaries on the machine, one per test binary, removed afterwards.
//! - [`browser`]: a headless Chromium ([`browser::Browser`]) driven over the DevTools protocol,
//!   with the few page helpers a web test needs.
//!
//! Neither downloads anything. Where the machine lacks the server or the browser, the harness
//! prints one loud `SKIPPED: …` line to stderr and hands back `None`, so that `cargo test` works
//! on a fresh machine; CI sets `EUNO_REQUIRE_POSTGRES=1` and `EUNO_REQUIRE_BROWSER=1` (see
//! `.ci/run`), which turn the same situation into an error.
//!
//! Both harnesses leave nothing behind, even when the test process dies without unwinding: each
//! server gets a [watchdog](watchdog) that stops it and removes its files when the test process
//! goes away, however it goes.

pub mod browser;
pub mod postgres;
mod watchdog;

use std::io::Write as _;

/// Whether the environment variable `name` is set to `1`: the harness must not skip.
fn required(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|value| value == "1")
}

/// Prints the one loud line that says a group of tests was skipped.
///
/// Written to the stderr handle directly, not with `eprintln!`: libtest captures what the print
/// macros write in a passing test, and a skipped test passes, so the line would never be seen.
fn announce_skip(line: &str) {
    let mut stderr = std::io::stderr().lock();
    // Nothing useful can be done when stderr is gone; the caller still skips.
    let _ = writeln!(stderr, "{line}");
}

/// Whether `path` is a file someone may execute.
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
