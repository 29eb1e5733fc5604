//! The skip path: where the machine lacks the server or the browser, one loud line and a pass;
//! with the `EUNO_REQUIRE_…` variable set, a failure instead. Each case runs in a child process
//! whose environment points the harness at nothing.

use crate::support::{probe, skipped_lines};

#[test]
fn postgres_without_binaries_skips_with_one_loud_line() {
    let empty = tempfile::tempdir().expect("an empty directory");
    let bin = empty.path().to_str().expect("a UTF-8 temporary path");
    let output = probe("probe::pg_start", &[(testkit::postgres::BIN_VAR, bin)]);
    assert!(output.status.success(), "the probe failed: {output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("cluster: None"),
        "{output:?}"
    );
    let lines = skipped_lines(&output.stderr);
    assert_eq!(
        lines,
        [format!(
            "SKIPPED: PostgreSQL tests: no server binaries found in {bin} (EUNO_PG_BIN) \
             (install postgresql, or set EUNO_REQUIRE_POSTGRES=1 to make this a failure)"
        )],
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn postgres_without_binaries_fails_when_required() {
    let empty = tempfile::tempdir().expect("an empty directory");
    let bin = empty.path().to_str().expect("a UTF-8 temporary path");
    let output = probe(
        "probe::pg_start",
        &[
            (testkit::postgres::BIN_VAR, bin),
            (testkit::postgres::REQUIRE_VAR, "1"),
        ],
    );
    assert!(!output.status.success(), "the probe passed: {output:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        all.contains("EUNO_REQUIRE_POSTGRES=1 requires them"),
        "{all}"
    );
    assert!(skipped_lines(all.as_bytes()).is_empty(), "{all}");
}

#[test]
fn browser_without_chromium_skips_with_one_loud_line() {
    let empty = tempfile::tempdir().expect("an empty directory");
    let missing = empty.path().join("chromium");
    let missing = missing.to_str().expect("a UTF-8 temporary path");
    let output = probe(
        "probe::browser_launch",
        &[(testkit::browser::EXECUTABLE_VAR, missing)],
    );
    assert!(output.status.success(), "the probe failed: {output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("browser: None"),
        "{output:?}"
    );
    assert_eq!(
        skipped_lines(&output.stderr),
        [format!(
            "SKIPPED: browser tests: no Chromium found in {missing} (EUNO_CHROMIUM) (install \
             chromium, or set EUNO_REQUIRE_BROWSER=1 to make this a failure)"
        )],
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn browser_without_chromium_fails_when_required() {
    let empty = tempfile::tempdir().expect("an empty directory");
    let missing = empty.path().join("chromium");
    let missing = missing.to_str().expect("a UTF-8 temporary path");
    let output = probe(
        "probe::browser_launch",
        &[
            (testkit::browser::EXECUTABLE_VAR, missing),
            (testkit::browser::REQUIRE_VAR, "1"),
        ],
    );
    assert!(!output.status.success(), "the probe passed: {output:?}");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("EUNO_REQUIRE_BROWSER=1 requires one"), "{all}");
    assert!(skipped_lines(all.as_bytes()).is_empty(), "{all}");
}
