//! A minimal blocking HTTP/1.1 client and helpers to start simulators.
//!
//! Each request opens a connection with `Connection: close` and reads until the server closes
//! it, which is all these tests need and keeps the bytes on the wire fully visible.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use hex_sim::{Faults, SimConfig, SimHandle, Workspace};
use serde_json::Value;

/// The token the simulators in these tests accept.
pub const TOKEN: &str = SimConfig::DEFAULT_TOKEN;

/// A response as received.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }
}

/// Sends one request to `addr`; `target` is the path and query.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    token: Option<&str>,
    body: &str,
) -> Response {
    let auth = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = auth
        .iter()
        .map(|auth| ("Authorization", auth.as_str()))
        .collect();
    send(addr, method, target, &headers, body)
}

/// Sends one request to `addr` with these extra headers; `target` is the path and query.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the simulator");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");

    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).expect("an ASCII response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let body = raw[split + 4..].to_vec();
    let response = Response {
        status: status.expect("a status line"),
        headers,
        body,
    };
    if let Some(length) = response.header("content-length") {
        assert_eq!(
            length.parse::<usize>().ok(),
            Some(response.body.len()),
            "Content-Length must match the body"
        );
    }
    response
}

/// `GET` with the right token.
pub fn get(sim: &SimHandle, target: &str) -> Response {
    request(sim.addr(), "GET", target, Some(TOKEN), "")
}

/// A well-behaved simulator over `Workspace::synthetic(42, size)`.
pub fn synthetic(size: usize) -> SimHandle {
    with_faults(size, Faults::default())
}

/// A simulator over `Workspace::synthetic(42, size)` with faults.
pub fn with_faults(size: usize, faults: Faults) -> SimHandle {
    let config = SimConfig {
        faults,
        ..SimConfig::new(Workspace::synthetic(42, size))
    };
    SimHandle::spawn(config).expect("start the simulator")
}

/// Follows `after` cursors from the first page of `query`, returning every page body.
pub fn walk(sim: &SimHandle, query: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let cursor = after
            .as_ref()
            .map(|after| format!("&after={after}"))
            .unwrap_or_default();
        let response = get(sim, &format!("/api/v1/projects?{query}{cursor}"));
        assert_eq!(response.status, 200, "{}", response.text());
        let page = response.json();
        after = page["pagination"]["after"].as_str().map(str::to_owned);
        pages.push(page);
        if after.is_none() {
            return pages;
        }
        assert!(pages.len() < 10_000, "pagination does not end");
    }
}

/// The `id`s of every project on these pages, in order.
pub fn ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|page| page["values"].as_array().expect("a values array").iter())
        .map(|project| project["id"].as_str().expect("a string id").to_owned())
        .collect()
}
