//! The ports implemented inside the sandbox: HTTP through `waki` over `wasi:http`, time through
//! `std` (which WASI 0.2 backs with `wasi:clocks`), and the host's `emit`, `log` and `progress`.
//!
//! This is the only module that needs a wasm32 build; everything it wraps is tested natively
//! through the traits in `ports`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::euno::connector::host;
use crate::bindings::{LogLevel, Resource};
use crate::ports::{Clock, HttpResponse, Log, Sink, Transport, TransportError};

/// HTTP over `wasi:http`. It never sets `Authorization`: the host adds the token.
pub struct WakiTransport;

impl Transport for WakiTransport {
    fn get(&mut self, url: &str, timeout: Duration) -> Result<HttpResponse, TransportError> {
        // waki offers only a connect timeout; the host applies that budget to the whole request.
        let response = waki::Client::new()
            .get(url)
            .header("accept", "application/json")
            .connect_timeout(timeout)
            .send()
            .map_err(|error| transport_error(&*error, timeout))?;
        let status = response.status_code();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    name.as_str().to_ascii_lowercase(),
                    value.to_str().ok()?.to_owned(),
                ))
            })
            .collect();
        let body = response.body().map_err(|error| TransportError {
            message: format!("reading the response body failed: {error}"),
            retryable: true,
        })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// Classifies a failed send: a request the host's policy denies, or a URL it cannot send, will
/// fail the same way every time; anything else (DNS, refused, reset, timeout) may pass.
/// Takes the error as `dyn Error` (what waki's `anyhow::Error` derefs to) so the crate needs no
/// `anyhow` of its own.
///
/// A timeout is told in words and tied to the setting that bounds it, rather than shown as
/// `ErrorCode::ConnectionReadTimeout`.
fn transport_error(
    error: &(dyn std::error::Error + Send + Sync + 'static),
    timeout: Duration,
) -> TransportError {
    let code = error.downcast_ref::<waki::ErrorCode>();
    let retryable = !matches!(
        code,
        Some(waki::ErrorCode::HttpRequestDenied | waki::ErrorCode::HttpRequestUriInvalid)
    );
    let timed_out = matches!(
        code,
        Some(
            waki::ErrorCode::ConnectionTimeout
                | waki::ErrorCode::ConnectionReadTimeout
                | waki::ErrorCode::ConnectionWriteTimeout
                | waki::ErrorCode::HttpResponseTimeout
        )
    );
    let message = if timed_out {
        format!(
            "no answer in time (request_timeout_seconds is {}; the source's \
             [limits] max_request_seconds also bounds each wait)",
            timeout.as_secs()
        )
    } else {
        error.to_string()
    };
    TransportError { message, retryable }
}

/// Wall-clock time and real sleeps.
pub struct SystemClock;

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
pub struct HostSink;

impl Log for HostSink {
    fn log(&mut self, level: LogLevel, message: &str) {
        host::log(level, message);
    }
}

impl Sink for HostSink {
    fn emit(&mut self, batch: Vec<Resource>) {
        host::emit(&batch);
    }

    fn progress(&mut self, done: u64, total: Option<u64>) {
        host::progress(done, total);
    }
}
