//! The raw-fetch floor: the least work that gets the same pages from the same server.
//!
//! A native, sequential HTTP/1.1 client over `std::net::TcpStream`: it requests exactly the URLs
//! the connector requests (same query, same bearer token), reads each body into one reused
//! buffer, finds `pagination.after` near its end, and throws the rest away: no JSON parsing of
//! the projects, no mapping, no storage. Nothing a real discovery could do costs less.
//!
//! Two variants: one keep-alive connection for the whole listing (the true floor), and a new
//! connection per request, which is what the host's `wasi:http` (`default_send_request`, no
//! pooling) does, to tell how much of the gap is connection setup.

use std::io::{BufReader, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::http::read_response;
use crate::measure::thread_cpu;

/// How the floor client uses connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// One keep-alive connection for every page.
    KeepAlive,
    /// A new TCP connection for each page, like the host's `wasi:http`.
    PerRequest,
}

/// What one listing cost.
#[derive(Debug, Clone)]
pub struct FloorRun {
    /// Pages fetched.
    pub pages: u32,
    /// Body bytes received.
    pub bytes: u64,
    /// Wall time of the whole listing.
    pub wall: Duration,
    /// CPU time of the fetching thread.
    pub cpu: Duration,
}

/// Fetches every page of `GET {base_url}/projects?{query}`, following `pagination.after`.
/// `base_url` is `http://HOST:PORT/PATH`.
pub fn fetch_all(
    base_url: &str,
    token: &str,
    query: &str,
    connections: Connections,
) -> anyhow::Result<FloorRun> {
    let rest = base_url
        .strip_prefix("http://")
        .context("the floor client speaks plain http only")?;
    let (authority, base_path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{base_path}/projects");

    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut connection: Option<BufReader<TcpStream>> = None;
    let mut body = Vec::new();
    let mut cursor: Option<String> = None;
    let (mut pages, mut bytes) = (0u32, 0u64);
    loop {
        let mut target = format!("{path}?{query}");
        if let Some(cursor) = &cursor {
            target.push_str("&after=");
            target.push_str(cursor);
        }
        if connections == Connections::PerRequest {
            connection = None;
        }
        let stream = match &mut connection {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(authority)
                    .with_context(|| format!("cannot connect to {authority}"))?;
                stream.set_nodelay(true)?;
                connection.insert(BufReader::with_capacity(64 * 1024, stream))
            }
        };
        let close = if connections == Connections::PerRequest {
            "Connection: close\r\n"
        } else {
            ""
        };
        write!(
            stream.get_mut(),
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
             Accept: application/json\r\n{close}\r\n"
        )?;
        read_response(stream, &mut body).with_context(|| format!("GET {target}"))?;
        pages += 1;
        bytes += body.len() as u64;
        cursor = next_cursor(&body)?;
        if cursor.is_none() {
            break;
        }
    }
    Ok(FloorRun {
        pages,
        bytes,
        wall: started.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu_before),
    })
}

/// The `pagination.after` cursor of a page, percent-encoded for a query; `None` on the last page.
/// Only the small `pagination` object at the end of the body is parsed.
fn next_cursor(body: &[u8]) -> anyhow::Result<Option<String>> {
    const KEY: &[u8] = b"\"pagination\":";
    let at = body
        .windows(KEY.len())
        .rposition(|w| w == KEY)
        .context("a page without `pagination`")?;
    let mut values = serde_json::Deserializer::from_slice(&body[at + KEY.len()..])
        .into_iter::<serde_json::Value>();
    let pagination = values.next().context("an empty `pagination`")??;
    Ok(pagination
        .get("after")
        .and_then(serde_json::Value::as_str)
        .filter(|after| !after.is_empty())
        .map(percent_encode))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
