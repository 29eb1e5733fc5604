//! The ways to run the simulator: `serve` in a caller's runtime, `SimHandle` from sync and async
//! code, and the `hex-sim` binary; and that the same seed serves the same bytes.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use hex_sim::{SimConfig, SimHandle, Workspace};

use crate::support::{TOKEN, get, request, synthetic};

#[test]
fn serve_runs_inside_the_callers_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime.spawn(hex_sim::serve(
        listener,
        SimConfig::new(Workspace::synthetic(42, 12)),
    ));

    let page = request(addr, "GET", "/api/v1/projects?limit=100", Some(TOKEN), "").json();
    assert!(!page["values"].as_array().unwrap().is_empty());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_handle_can_live_inside_another_runtime() {
    let sim = SimHandle::spawn(SimConfig::new(Workspace::synthetic(42, 12))).unwrap();
    let addr = sim.addr();
    let status = tokio::task::spawn_blocking(move || {
        request(addr, "GET", "/api/v1/users/me", Some(TOKEN), "").status
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(sim.base_url(), format!("http://{addr}/api/v1"));
    // Dropping here, on a runtime thread, must stop the server without panicking.
    drop(sim);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the server stopped listening"
    );
}

#[test]
fn shutdown_stops_listening() {
    let sim = synthetic(5);
    let addr = sim.addr();
    sim.shutdown().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn the_same_seed_serves_the_same_bytes() {
    let (one, two) = (synthetic(150), synthetic(150));
    for target in [
        "/api/v1/projects?limit=100&includeSharing=true&includeArchived=true",
        "/api/v1/projects?limit=7&includeComponents=true&includeTrashed=true",
    ] {
        let first = get(&one, target);
        assert_eq!(first.body, get(&two, target).body, "{target}");
        let after = first.json()["pagination"]["after"]
            .as_str()
            .unwrap()
            .to_owned();
        let next = format!("{target}&after={after}");
        assert_eq!(get(&one, &next).body, get(&two, &next).body, "{next}");
    }
    let other = SimHandle::spawn(SimConfig::new(Workspace::synthetic(43, 150))).unwrap();
    assert_ne!(
        get(&one, "/api/v1/projects").body,
        get(&other, "/api/v1/projects").body
    );
}

#[test]
fn the_binary_prints_its_url_and_applies_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hex-sim"))
        .args([
            "--projects",
            "40",
            "--seed",
            "7",
            "--token",
            "hxtp_cli",
            "--workspace-id",
            "ws-cli",
        ])
        .args([
            "--server-errors",
            "2:1:502",
            "--error-shape",
            "code-message",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run hex-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();

    let outcome = std::panic::catch_unwind(|| {
        let url = line
            .strip_prefix("hex-sim listening on http://")
            .and_then(|rest| rest.strip_suffix("/api/v1 (40 projects)\n"))
            .unwrap_or_else(|| panic!("unexpected banner {line:?}"));
        let addr: SocketAddr = url.parse().unwrap();
        assert_eq!(
            request(addr, "GET", "/api/v1/projects", Some(TOKEN), "").status,
            401
        );
        assert_eq!(
            request(addr, "GET", "/api/v1/projects", Some("hxtp_cli"), "").status,
            200
        );
        let failed = request(addr, "GET", "/api/v1/projects", Some("hxtp_cli"), "");
        assert_eq!(
            (failed.status, failed.json()["code"].as_str()),
            (502, Some("BAD_GATEWAY"))
        );
        let me = request(addr, "GET", "/api/v1/users/me", Some("hxtp_cli"), "").json();
        assert_eq!(me["org"]["id"], "ws-cli");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
