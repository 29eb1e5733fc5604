//! The ports inside the sandbox: HTTP straight over `wasi:http`, time through `std` (which WASI
//! 0.2 backs with `wasi:clocks`), and the `euno:connector/host` imports.
//!
//! The only module that needs a wasm32 build; everything it serves is tested natively through
//! the traits in [`ports`](crate::ports). HTTP uses the raw `wasi:http` bindings (generated with
//! the contract anyway) rather than a client crate, for one reason a connector feels: the
//! timeout. `wasi:http`'s request options bound each wait (connect, first byte, between bytes);
//! polling the response and the body against a `wasi:clocks` deadline bounds the whole request
//! as [`HttpOptions::timeout`](crate::http::HttpOptions::timeout) promises.

use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::euno::connector::host;
use crate::bindings::wasi::clocks::monotonic_clock;
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::poll::{Pollable, poll};
use crate::bindings::wasi::io::streams::StreamError;
use crate::connector::Ports;
use crate::http::split_url;
use crate::ports::{Clock, Host, HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::types::{LogLevel, Resource, WaitReason};

/// The ports of a call inside the component.
pub(crate) fn ports() -> Ports {
    Ports {
        transport: Box::new(WasiHttp),
        clock: Box::new(SystemClock),
        host: Rc::new(WasiHost),
    }
}

/// The most bytes read from a response body at once.
const READ_CHUNK: u64 = 64 * 1024;
/// The most bytes `blocking-write-and-flush` takes at once.
const WRITE_CHUNK: usize = 4_096;

/// HTTP over `wasi:http`. It never sets a credential: the host does.
struct WasiHttp;

impl Transport for WasiHttp {
    fn send(
        &mut self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let timeout_ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        let deadline = monotonic_clock::now().saturating_add(timeout_ns);
        let parts = split_url(&request.url)
            .ok_or_else(|| fatal(format!("`{}` is not an absolute URL", request.url)))?;
        let entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
            .collect();
        let headers = Fields::from_list(&entries).map_err(|error| match error {
            HeaderError::Forbidden => {
                fatal("the sandbox refused one of the request's headers as forbidden".to_owned())
            }
            other => fatal(format!("a request header is not valid HTTP ({other:?})")),
        })?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
        };
        let scheme = match parts.scheme.as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_owned()),
        };
        let bad_url = |_| {
            fatal(format!(
                "`{}` is not a URL the sandbox can send",
                request.url
            ))
        };
        outgoing.set_method(&method).map_err(bad_url)?;
        outgoing.set_scheme(Some(&scheme)).map_err(bad_url)?;
        outgoing
            .set_authority(Some(&parts.authority))
            .map_err(bad_url)?;
        outgoing
            .set_path_with_query(Some(&parts.path_with_query))
            .map_err(bad_url)?;
        let body = outgoing
            .body()
            .map_err(|()| fatal("the request body was already taken".to_owned()))?;
        let options = RequestOptions::new();
        // Each wait gets the whole budget; the deadline below bounds their sum. A host that does
        // not support an option keeps its own bound, which is fine.
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(error_code)?;
        if let Some(bytes) = &request.body {
            write_body(&body, bytes)?;
        }
        OutgoingBody::finish(body, None).map_err(error_code)?;
        let pollable = future.subscribe();
        wait_until(&pollable, deadline)?;
        drop(pollable);
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_code(code)),
            Some(Err(())) | None => {
                return Err(retryable("the response was lost by the sandbox".to_owned()));
            }
        };
        drop(future);
        read_response(response, deadline)
    }
}

fn read_response(
    response: IncomingResponse,
    deadline: u64,
) -> Result<HttpResponse, TransportError> {
    let status = response.status();
    let fields = response.headers();
    let headers = fields
        .entries()
        .into_iter()
        .filter_map(|(name, value)| {
            Some((name.to_ascii_lowercase(), String::from_utf8(value).ok()?))
        })
        .collect();
    drop(fields);
    let incoming = response
        .consume()
        .map_err(|()| fatal("the response body was already taken".to_owned()))?;
    let stream = incoming
        .stream()
        .map_err(|()| fatal("the response body stream was already taken".to_owned()))?;
    let mut body = Vec::new();
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                let pollable = stream.subscribe();
                wait_until(&pollable, deadline)?;
            }
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                return Err(retryable(format!(
                    "reading the response body failed: {}",
                    error.to_debug_string()
                )));
            }
        }
    }
    drop(stream);
    drop(incoming);
    drop(response);
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), TransportError> {
    let stream = body
        .write()
        .map_err(|()| fatal("the request body stream was already taken".to_owned()))?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk).map_err(|error| {
            let detail = match error {
                StreamError::LastOperationFailed(error) => error.to_debug_string(),
                StreamError::Closed => "the stream closed".to_owned(),
            };
            retryable(format!("sending the request body failed: {detail}"))
        })?;
    }
    Ok(())
}

/// Blocks until `pollable` is ready, or fails as timed out at `deadline` (monotonic ns).
fn wait_until(pollable: &Pollable, deadline: u64) -> Result<(), TransportError> {
    if pollable.ready() {
        return Ok(());
    }
    let timer = monotonic_clock::subscribe_instant(deadline);
    let ready = poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err(TransportError {
            message: "timed out".to_owned(),
            retryable: true,
            timed_out: true,
        })
    }
}

/// Classifies a failed send: a request the host's policy denies, or one it cannot send, fails
/// the same way every time; anything else (DNS, refused, reset, timeout) may pass.
fn error_code(code: ErrorCode) -> TransportError {
    let timed_out = matches!(
        code,
        ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout
            | ErrorCode::DnsTimeout
    );
    let (message, retryable) = match code {
        ErrorCode::HttpRequestDenied => (
            "the host denied the request (HttpRequestDenied): its origin is not one the \
             operator granted this source"
                .to_owned(),
            false,
        ),
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestMethodInvalid => {
            (describe(&code), false)
        }
        other => (describe(&other), true),
    };
    TransportError {
        message,
        retryable,
        timed_out,
    }
}

/// A `wasi:http` error code in words: the common ones spelled out, the rest by name.
fn describe(code: &ErrorCode) -> String {
    let words = match code {
        ErrorCode::DnsError(_) => "the host name could not be resolved",
        ErrorCode::ConnectionRefused => "connection refused",
        ErrorCode::ConnectionTerminated => "the connection closed before the answer ended",
        ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => "timed out",
        ErrorCode::TlsCertificateError => "the server's TLS certificate was not accepted",
        ErrorCode::TlsProtocolError => "the TLS handshake failed",
        ErrorCode::HttpResponseIncomplete => "the answer was cut short",
        _ => {
            let name = format!("{code:?}");
            return name.trim_start_matches("ErrorCode::").to_owned();
        }
    };
    words.to_owned()
}

fn fatal(message: String) -> TransportError {
    TransportError {
        message,
        retryable: false,
        timed_out: false,
    }
}

fn retryable(message: String) -> TransportError {
    TransportError {
        message,
        retryable: true,
        timed_out: false,
    }
}

/// Wall-clock time and real sleeps.
struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            })
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The host's imports.
struct WasiHost;

impl Host for WasiHost {
    fn emit(&self, batch: &[Resource]) {
        host::emit(batch);
    }

    fn log(&self, level: LogLevel, message: &str) {
        host::log(level, message);
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        host::progress(done, total);
    }

    fn waiting(&self, reason: WaitReason, duration_ms: u64) {
        host::waiting(reason, duration_ms);
    }

    fn save_checkpoint(&self, checkpoint: &[u8]) {
        host::save_checkpoint(checkpoint);
    }
}
