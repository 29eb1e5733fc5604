//! The probes: what the child processes of the other tests run. Each does nothing unless run as
//! a probe (see `support`), so `cargo test -- --ignored` passes them.

use std::io::Write as _;

use testkit::browser::Browser;
use testkit::postgres::PgCluster;

use crate::support::in_probe;

/// Starts a cluster, and says on stdout whether it was skipped (`None`); panics on an error.
#[test]
#[ignore = "a probe, run in a child process by the skip tests"]
fn pg_start() {
    if !in_probe() {
        return;
    }
    let cluster = PgCluster::start().unwrap_or_else(|error| panic!("{error}"));
    println!(
        "cluster: {}",
        if cluster.is_some() { "Some" } else { "None" }
    );
}

/// Launches the browser, and says on stdout whether it was skipped; panics on an error.
#[test]
#[ignore = "a probe, run in a child process by the skip tests"]
fn browser_launch() {
    if !in_probe() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let browser = Browser::launch()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        println!(
            "browser: {}",
            if browser.is_some() { "Some" } else { "None" }
        );
        if let Some(browser) = browser {
            browser.close().await.expect("closing the browser");
        }
    });
}

/// Starts a cluster, prints `holding <port> <socket dir>` (or `skipped`) and waits, never
/// dropping it, until killed.
#[test]
#[ignore = "a probe, run in a child process by the clean-up tests"]
fn pg_hold() {
    if !in_probe() {
        return;
    }
    let Some(cluster) = PgCluster::start().unwrap_or_else(|error| panic!("{error}")) else {
        println!("skipped");
        return;
    };
    println!(
        "holding {} {}",
        cluster.port(),
        cluster.socket_dir().display()
    );
    std::io::stdout().flush().expect("flushing stdout");
    wait_forever();
}

/// Launches the browser, prints `holding <pid> <profile dir>` (or `skipped`) and waits, never
/// closing it, until killed.
#[test]
#[ignore = "a probe, run in a child process by the clean-up tests"]
fn browser_hold() {
    if !in_probe() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let browser = runtime
        .block_on(Browser::launch())
        .unwrap_or_else(|error| panic!("{error}"));
    let Some(browser) = browser else {
        println!("skipped");
        return;
    };
    println!(
        "holding {} {}",
        browser.pid().expect("the browser's pid"),
        browser.profile_dir().display()
    );
    std::io::stdout().flush().expect("flushing stdout");
    wait_forever();
}

/// Blocks until the process is killed.
fn wait_forever() -> ! {
    loop {
        std::thread::park();
    }
}
