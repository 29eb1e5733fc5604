//! HTTP/1.1 over `std`'s `TcpStream`, for native tests against a real server on loopback.
//!
//! Canned replies show what a connector does with each answer; a real server (a simulator of the
//! source, bound to `127.0.0.1:0`) shows that the connector and the server agree on the wire:
//! paths, queries, bodies, pagination over many pages, error shapes. This is the smallest client
//! that does that: plain `http` only, one keep-alive connection per origin (a run of thousands of
//! requests would otherwise leave thousands of sockets in `TIME_WAIT`), `Content-Length` and
//! chunked bodies, and a deadline over the whole exchange. It is part of the `testing` feature
//! and never of a component.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::http::split_url;
use crate::ports::{HttpRequest, HttpResponse, TransportError};

/// The largest header section and chunk-size line read, against a server that never ends one.
const MAX_LINE: usize = 64 * 1024;

/// The open connections, by `host:port`.
#[derive(Default)]
pub(super) struct Connections {
    open: HashMap<String, TcpStream>,
}

impl Connections {
    /// Sends `request` (whose URL is absolute) and reads the whole response, within `timeout`.
    pub(super) fn send(
        &mut self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let deadline = Instant::now() + timeout;
        let parts = split_url(&request.url)
            .ok_or_else(|| failure(format!("`{}` is not an absolute URL", request.url), false))?;
        if parts.scheme != "http" {
            return Err(failure(
                format!(
                    "the live test transport speaks plain http only, not `{}`",
                    parts.scheme
                ),
                false,
            ));
        }
        let authority = parts.authority.clone();
        // A kept connection the server has closed since fails before any answer: then, and
        // only then, the request goes again on a new one.
        if let Some(stream) = self.open.remove(&authority) {
            match exchange(
                &stream,
                request,
                &parts.path_with_query,
                &authority,
                deadline,
            ) {
                Ok((response, keep)) => {
                    if keep {
                        self.open.insert(authority, stream);
                    }
                    return Ok(response);
                }
                Err(Exchange::Stale) => {}
                Err(Exchange::Failed(error)) => return Err(error),
            }
        }
        let stream = connect(&authority, deadline)?;
        match exchange(
            &stream,
            request,
            &parts.path_with_query,
            &authority,
            deadline,
        ) {
            Ok((response, keep)) => {
                if keep {
                    self.open.insert(authority, stream);
                }
                Ok(response)
            }
            Err(Exchange::Stale) => Err(failure(
                "the server closed the connection without answering".to_owned(),
                true,
            )),
            Err(Exchange::Failed(error)) => Err(error),
        }
    }
}

/// Why an exchange failed.
enum Exchange {
    /// The connection was closed before any byte of an answer: worth one more connection.
    Stale,
    Failed(TransportError),
}

fn failure(message: String, retryable: bool) -> TransportError {
    TransportError {
        message,
        retryable,
        timed_out: false,
    }
}

fn timed_out() -> TransportError {
    TransportError {
        message: "timed out".to_owned(),
        retryable: true,
        timed_out: true,
    }
}

/// The error for an I/O failure: a timeout as such, anything else retryable.
fn io_error(error: &std::io::Error) -> TransportError {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => timed_out(),
        _ => failure(error.to_string(), true),
    }
}

/// The time left before `deadline`, or a timeout.
fn remaining(deadline: Instant) -> Result<Duration, TransportError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out())
    } else {
        Ok(left)
    }
}

fn connect(authority: &str, deadline: Instant) -> Result<TcpStream, TransportError> {
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let resolved = address
        .to_socket_addrs()
        .map_err(|error| failure(format!("`{authority}` does not resolve: {error}"), true))?
        .next()
        .ok_or_else(|| failure(format!("`{authority}` has no address"), true))?;
    let stream = TcpStream::connect_timeout(&resolved, remaining(deadline)?)
        .map_err(|error| io_error(&error))?;
    // Small requests on a kept connection must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Writes `request` on `stream` and reads its response; also says whether the connection may
/// carry the next request.
fn exchange(
    stream: &TcpStream,
    request: &HttpRequest,
    path_with_query: &str,
    authority: &str,
    deadline: Instant,
) -> Result<(HttpResponse, bool), Exchange> {
    let failed = |error: TransportError| Exchange::Failed(error);
    let mut head = format!(
        "{} {path_with_query} HTTP/1.1\r\nhost: {authority}\r\n",
        request.method.as_str()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = request.body.as_deref().unwrap_or_default();
    if request.body.is_some() {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut writer = stream;
    writer
        .set_write_timeout(Some(remaining(deadline).map_err(failed)?))
        .map_err(|error| failed(io_error(&error)))?;
    let written = writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.write_all(body))
        .and_then(|()| writer.flush());
    if written.is_err() {
        return Err(Exchange::Stale);
    }

    let mut reader = Reader {
        inner: BufReader::new(stream),
        stream,
        deadline,
    };
    let status_line = match reader.line() {
        Ok(Some(line)) => line,
        Ok(None) => return Err(Exchange::Stale),
        Err(error) if error.timed_out => return Err(failed(error)),
        Err(_) => return Err(Exchange::Stale),
    };
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| {
            failed(failure(
                format!("`{}` is not an HTTP/1.1 status line", status_line.trim()),
                false,
            ))
        })?;
    let mut headers = Vec::new();
    loop {
        let line = reader
            .line()
            .map_err(failed)?
            .ok_or_else(|| failed(failure("the answer ended in its headers".to_owned(), true)))?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let chunked = header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|value| value.parse::<usize>().ok());
    let mut keep = !header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
    let body = if matches!(status, 100..=199 | 204 | 304) {
        Vec::new()
    } else if chunked {
        reader.chunked().map_err(failed)?
    } else if let Some(length) = length {
        reader.exact(length).map_err(failed)?
    } else {
        keep = false;
        reader.until_closed().map_err(failed)?
    };
    Ok((
        HttpResponse {
            status,
            headers,
            body,
        },
        keep,
    ))
}

/// Reads a response under the exchange's deadline.
struct Reader<'s> {
    inner: BufReader<&'s TcpStream>,
    stream: &'s TcpStream,
    deadline: Instant,
}

impl Reader<'_> {
    fn arm(&self) -> Result<(), TransportError> {
        let left = remaining(self.deadline)?;
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|error| io_error(&error))
    }

    /// One line without its `\r\n`; `None` at the end of the stream.
    fn line(&mut self) -> Result<Option<String>, TransportError> {
        let mut line = Vec::new();
        loop {
            self.arm()?;
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(io_error(&error)),
            };
            if available.is_empty() {
                return Ok((!line.is_empty()).then(|| String::from_utf8_lossy(&line).into()));
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            line.extend_from_slice(&available[..used]);
            self.inner.consume(used);
            if line.len() > MAX_LINE {
                return Err(failure("a header line is too long".to_owned(), false));
            }
            if done {
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                return Ok(Some(String::from_utf8_lossy(&line).into()));
            }
        }
    }

    fn exact(&mut self, length: usize) -> Result<Vec<u8>, TransportError> {
        let mut body = vec![0; length];
        let mut filled = 0;
        while filled < length {
            self.arm()?;
            match self.inner.read(&mut body[filled..]) {
                Ok(0) => {
                    return Err(failure(
                        format!("the answer was cut short after {filled} of {length} bytes"),
                        true,
                    ));
                }
                Ok(read) => filled += read,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error(&error)),
            }
        }
        Ok(body)
    }

    fn chunked(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        loop {
            let line = self
                .line()?
                .ok_or_else(|| failure("a chunked answer was cut short".to_owned(), true))?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| failure(format!("`{size}` is not a chunk size"), false))?;
            if size == 0 {
                // Trailers, up to the blank line.
                while self.line()?.is_some_and(|line| !line.is_empty()) {}
                return Ok(body);
            }
            body.extend(self.exact(size)?);
            self.line()?;
        }
    }

    fn until_closed(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        let mut buffer = [0; 8192];
        loop {
            self.arm()?;
            match self.inner.read(&mut buffer) {
                Ok(0) => return Ok(body),
                Ok(read) => body.extend_from_slice(&buffer[..read]),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(io_error(&error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;
    use crate::ports::Method;

    /// A server that answers each connection's requests with `answers` in turn (raw bytes), then
    /// closes it; returns its base URL and the requests it read.
    fn serve(answers: Vec<Vec<&'static [u8]>>) -> (String, thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let handle = thread::spawn(move || {
            let mut seen = Vec::new();
            for replies in answers {
                let (stream, _) = listener.accept().expect("accepts");
                let mut reader = BufReader::new(&stream);
                for reply in replies {
                    let mut request = String::new();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).expect("reads");
                        if let Some(value) =
                            line.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = value.trim().parse().expect("a length");
                        }
                        request.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).expect("a body");
                    request.push_str(&String::from_utf8_lossy(&body));
                    seen.push(request);
                    (&stream).write_all(reply).expect("writes");
                }
            }
            seen
        });
        (base, handle)
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: url.to_owned(),
            headers: vec![("accept".to_owned(), "application/json".to_owned())],
            body: None,
        }
    }

    #[test]
    fn keeps_the_connection_and_reads_both_body_framings() {
        let (base, server) = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-trace-id: t1\r\n\r\n{}",
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        ]]);
        let mut connections = Connections::default();
        let first = connections
            .send(&get(&format!("{base}/a?x=1")), Duration::from_secs(5))
            .expect("answers");
        assert_eq!((first.status, first.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(first.header("x-trace-id"), Some("t1"));
        let mut post = get(&format!("{base}/b"));
        post.method = Method::Post;
        post.body = Some(b"{\"k\":1}".to_vec());
        let second = connections
            .send(&post, Duration::from_secs(5))
            .expect("answers");
        assert_eq!(
            (second.status, second.body.as_slice()),
            (404, &b"abcde"[..])
        );
        let seen = server.join().expect("the server");
        assert!(
            seen[0].starts_with("GET /a?x=1 HTTP/1.1\r\nhost: 127.0.0.1:"),
            "{seen:?}"
        );
        assert!(seen[1].starts_with("POST /b HTTP/1.1\r\n") && seen[1].ends_with("{\"k\":1}"));
    }

    #[test]
    fn a_closed_kept_connection_is_replaced_once() {
        let (base, server) = serve(vec![
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\nb"],
        ]);
        let mut connections = Connections::default();
        let url = format!("{base}/x");
        let first = connections
            .send(&get(&url), Duration::from_secs(5))
            .expect("a");
        let second = connections
            .send(&get(&url), Duration::from_secs(5))
            .expect("b");
        assert_eq!((first.body, second.body), (b"a".to_vec(), b"b".to_vec()));
        assert_eq!(server.join().expect("the server").len(), 2);
        assert!(
            connections.open.is_empty(),
            "`connection: close` is honoured"
        );
    }

    #[test]
    fn a_silent_server_times_out_and_https_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let url = format!("http://{}/slow", listener.local_addr().expect("an address"));
        let error = Connections::default()
            .send(&get(&url), Duration::from_millis(200))
            .expect_err("times out");
        assert!(error.timed_out && error.retryable, "{error:?}");
        drop(listener);
        let error = Connections::default()
            .send(&get("https://127.0.0.1:1/x"), Duration::from_secs(1))
            .expect_err("refused");
        assert!(!error.retryable && error.message.contains("plain http only"));
    }
}
