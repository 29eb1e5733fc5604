//! The Hex API client: request URLs, cursor pagination, the client-side throttle, retries with
//! backoff, and the classification of failures into the contract's typed errors.
//!
//! It reaches the network and the clock only through [`Transport`] and [`Clock`], so every path
//! (a 429 burst, a repeating cursor, a truncated page) is unit-tested natively with scripted
//! answers and a clock that records sleeps without sleeping.

use std::collections::HashSet;
use std::time::Duration;

use crate::bindings::{ConnectorError, LogLevel, RateLimitedError, UpstreamError};
use crate::config::{DEFAULT_BASE_URL, HexConfig};
use crate::model::{Project, ProjectList};
use crate::ports::{Clock, HttpResponse, Log, Transport, TransportError};
use crate::timestamp::parse_http_date;

/// The most pages one listing may take; past it the listing is taken to be looping.
pub const MAX_PAGES: u32 = 10_000;
/// The longest wait a `Retry-After` header may impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The first backoff delay, before jitter.
const BACKOFF_BASE_MS: u64 = 1_000;
/// The longest backoff delay.
const BACKOFF_CAP_MS: u64 = 60_000;

/// Talks to one Hex API base URL for one `check` or `discover` call.
pub struct HexClient<T, C> {
    config: HexConfig,
    transport: T,
    clock: C,
    jitter: Jitter,
    /// When the last request started, for the throttle.
    last_start_ms: Option<i64>,
    requests: u32,
}

/// Where a listing of projects is: the next cursor and every cursor seen, so that a source that
/// hands back an old cursor fails the run instead of looping forever.
#[derive(Debug, Default)]
pub struct ProjectPager {
    next_cursor: Option<String>,
    seen: HashSet<String>,
    pages: u32,
    finished: bool,
}

impl ProjectPager {
    /// A listing from the first page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }
}

/// Why an attempt may be worth repeating.
enum Retryable {
    Status(HttpResponse),
    Transport(TransportError),
}

impl<T: Transport, C: Clock> HexClient<T, C> {
    /// A client for `config`'s base URL. The jitter generator is seeded from `clock`.
    pub fn new(config: HexConfig, transport: T, clock: C) -> Self {
        let seed = clock.now_ms().unsigned_abs();
        Self {
            config,
            transport,
            clock,
            jitter: Jitter(seed),
            last_start_ms: None,
            requests: 0,
        }
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// The URL `check` requests: the smallest page of projects.
    pub fn check_url(&self) -> String {
        format!("{}/projects?limit=1", self.config.base_url)
    }

    /// The URL of the page of projects after `cursor` (the first page for `None`).
    pub fn projects_url(&self, cursor: Option<&str>) -> String {
        let config = &self.config;
        let mut url = format!(
            "{}/projects?limit={}&includeSharing=true",
            config.base_url, config.page_size
        );
        for (wanted, parameter) in [
            (config.include_components, "includeComponents"),
            (config.include_archived, "includeArchived"),
            (config.include_trashed, "includeTrashed"),
        ] {
            if wanted {
                url.push_str(&format!("&{parameter}=true"));
            }
        }
        if let Some(cursor) = cursor {
            url.push_str("&after=");
            url.push_str(&percent_encode(cursor));
        }
        url
    }

    /// Verifies that the API answers and the token can list projects, with one request (plus
    /// retries).
    pub fn check(&mut self, log: &mut dyn Log) -> Result<(), ConnectorError> {
        let url = self.check_url();
        let what = "GET /projects?limit=1";
        let response = self.get(&url, what, log)?;
        match serde_json::from_slice::<ProjectList>(&response.body) {
            Ok(ProjectList {
                values: Some(_), ..
            }) => Ok(()),
            Ok(_) => Err(ConnectorError::MalformedResponse(format!(
                "{what} at {} answered JSON without a `values` list, so it is not the Hex API; \
                 check base_url (the default is {DEFAULT_BASE_URL})",
                self.config.base_url
            ))),
            Err(error) => Err(ConnectorError::MalformedResponse(format!(
                "{what} at {} is not valid JSON: {error}; check base_url (the default is \
                 {DEFAULT_BASE_URL})",
                self.config.base_url
            ))),
        }
    }

    /// Fetches the listing's next page into `body` and reads its projects, which borrow from it.
    /// Returns `Ok(None)` once the previous page said it was the last one.
    pub fn next_project_page<'b>(
        &mut self,
        pager: &mut ProjectPager,
        log: &mut dyn Log,
        body: &'b mut Vec<u8>,
    ) -> Result<Option<Vec<Project<'b>>>, ConnectorError> {
        if pager.finished {
            return Ok(None);
        }
        if pager.pages >= MAX_PAGES {
            return Err(ConnectorError::MalformedResponse(format!(
                "GET /projects still had more pages after {MAX_PAGES}; stopping rather than \
                 paging without end (raise page_size if the workspace really is this large)"
            )));
        }
        pager.pages += 1;
        let page = pager.pages;
        let url = self.projects_url(pager.next_cursor.as_deref());
        let what = format!("page {page} of GET /projects");
        let response = self.get(&url, &what, log)?;
        // Into the caller's buffer, which keeps its capacity from page to page: a fresh buffer
        // per page would leave holes in the heap that the run's long-lived allocations fill.
        body.clear();
        body.extend_from_slice(&response.body);
        drop(response);
        let body: &'b [u8] = body;
        let list: ProjectList<'b> = serde_json::from_slice(body).map_err(|error| {
            ConnectorError::MalformedResponse(format!("{what} is not valid JSON: {error}"))
        })?;
        let Some(values) = list.values else {
            return Err(ConnectorError::MalformedResponse(format!(
                "{what} has no `values` list of projects"
            )));
        };
        // An empty cursor cannot name a next page, so it ends the listing like null does.
        match list
            .pagination
            .and_then(|p| p.after)
            .filter(|c| !c.is_empty())
        {
            Some(cursor) => {
                if !pager.seen.insert(cursor.clone()) {
                    return Err(ConnectorError::MalformedResponse(format!(
                        "Hex repeated a pagination cursor at page {page} of GET /projects (one \
                         it had already returned); stopping rather than listing the same pages \
                         again"
                    )));
                }
                pager.next_cursor = Some(cursor);
            }
            None => {
                pager.next_cursor = None;
                pager.finished = true;
            }
        }
        Ok(Some(values))
    }

    /// Sends `GET url` under the throttle, retrying 429s, 5xx answers and network failures, and
    /// turns a final failure into a typed error. `what` names the request in messages.
    fn get(
        &mut self,
        url: &str,
        what: &str,
        log: &mut dyn Log,
    ) -> Result<HttpResponse, ConnectorError> {
        let max_retries = self.config.max_retries;
        let mut retry = 0;
        loop {
            self.throttle();
            self.requests = self.requests.saturating_add(1);
            log.log(LogLevel::Debug, &format!("GET {url}"));
            let failure = match self.transport.get(url, self.config.request_timeout) {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) if response.status == 429 || response.status >= 500 => {
                    Retryable::Status(response)
                }
                Ok(response) => return Err(self.classify(&response, what)),
                Err(error) if error.retryable => Retryable::Transport(error),
                Err(error) => {
                    return Err(ConnectorError::Network(format!(
                        "{what} to {} failed: {}",
                        self.config.base_url, error.message
                    )));
                }
            };
            if retry >= max_retries {
                return Err(self.exhausted(failure, what, retry));
            }
            retry += 1;
            let (delay, reason) = match &failure {
                Retryable::Status(response) => {
                    let delay = self
                        .retry_after(response)
                        .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
                        .unwrap_or_else(|| self.backoff(retry));
                    let trace = response
                        .header("x-trace-id")
                        .map(|id| format!(" (x-trace-id {id})"))
                        .unwrap_or_default();
                    (delay, format!("answered {}{trace}", response.status))
                }
                Retryable::Transport(error) => {
                    (self.backoff(retry), format!("failed: {}", error.message))
                }
            };
            log.log(
                LogLevel::Warn,
                &format!(
                    "{what} {reason}; retry {retry} of {max_retries} in {:.1} s",
                    delay.as_secs_f64()
                ),
            );
            self.clock.sleep(delay);
        }
    }

    /// Waits until the next request may start: requests start at least 60 s / rpm apart, and the
    /// first one starts at once.
    fn throttle(&mut self) {
        let rpm = self.config.requests_per_minute;
        if let (Some(last), true) = (self.last_start_ms, rpm > 0) {
            let spacing = 60_000 / i64::from(rpm);
            let wait = last + spacing - self.clock.now_ms();
            if let Ok(wait @ 1..) = u64::try_from(wait) {
                self.clock.sleep(Duration::from_millis(wait));
            }
        }
        self.last_start_ms = Some(self.clock.now_ms());
    }

    /// The delay before retry number `retry` (from 1): 1 s doubling up to 60 s, of which a random
    /// half is taken off, so that clients that failed together do not retry together.
    fn backoff(&mut self, retry: u32) -> Duration {
        let ceiling = BACKOFF_BASE_MS
            .saturating_mul(1_u64 << retry.saturating_sub(1).min(16))
            .min(BACKOFF_CAP_MS);
        let half = ceiling / 2;
        Duration::from_millis(ceiling - half + self.jitter.next() % (half + 1))
    }

    /// The seconds a response's `Retry-After` asks to wait, when it has a readable one.
    fn retry_after(&self, response: &HttpResponse) -> Option<u64> {
        let value = response.header("retry-after")?.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Some(value.parse().unwrap_or(u64::MAX));
        }
        let until = parse_http_date(value)?;
        let millis = until.saturating_sub(self.clock.now_ms()).max(0);
        u64::try_from(millis).ok().map(|ms| ms.div_ceil(1_000))
    }

    /// The error for a retryable failure that is still failing after `retries` retries.
    fn exhausted(&self, failure: Retryable, what: &str, retries: u32) -> ConnectorError {
        let after = match retries {
            0 => String::new(),
            1 => " after 1 retry".to_owned(),
            n => format!(" after {n} retries"),
        };
        match failure {
            Retryable::Status(response) if response.status == 429 => {
                let details = ErrorDetails::of(&response);
                ConnectorError::RateLimited(RateLimitedError {
                    message: format!(
                        "Hex kept rate-limiting {what}{after}: {}{}; lower requests_per_minute \
                         or run later",
                        details.message,
                        details.trace_suffix()
                    ),
                    retry_after_seconds: self
                        .retry_after(&response)
                        .map(|seconds| u32::try_from(seconds).unwrap_or(u32::MAX)),
                })
            }
            Retryable::Status(response) => {
                let details = ErrorDetails::of(&response);
                ConnectorError::Upstream(UpstreamError {
                    status: response.status,
                    message: format!(
                        "Hex failed {what} with {}{after}: {}",
                        response.status, details.message
                    ),
                    trace_id: details.trace_id,
                })
            }
            Retryable::Transport(error) => ConnectorError::Network(format!(
                "could not reach Hex at {} for {what}{after}: {}",
                self.config.base_url, error.message
            )),
        }
    }

    /// The error for a final, non-retryable answer.
    fn classify(&self, response: &HttpResponse, what: &str) -> ConnectorError {
        let details = ErrorDetails::of(response);
        let trace = details.trace_suffix();
        match response.status {
            401 => ConnectorError::Unauthorized(format!(
                "Hex rejected the API token (401): check the API token in the source's \
                 settings{trace}"
            )),
            403 => ConnectorError::Forbidden(format!(
                "Hex refused {what} (403): {}{trace}; the API token needs permission to read \
                 projects (the projects read scope)",
                details.message
            )),
            404 => ConnectorError::NotFound(format!(
                "Hex answered 404 to {what} at {}: {}{trace}; check base_url (the default is \
                 {DEFAULT_BASE_URL})",
                self.config.base_url, details.message
            )),
            status => ConnectorError::Upstream(UpstreamError {
                status,
                message: format!("Hex refused {what} with {status}: {}", details.message),
                trace_id: details.trace_id,
            }),
        }
    }
}

/// What an error answer says, from either of Hex's JSON error shapes or plain text.
struct ErrorDetails {
    message: String,
    trace_id: Option<String>,
}

impl ErrorDetails {
    /// The longest plain-text body quoted in a message.
    const MAX_TEXT: usize = 300;

    fn of(response: &HttpResponse) -> Self {
        let body = String::from_utf8_lossy(&response.body);
        let body = body.trim();
        let (message, body_trace) = match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(fields)) => {
                let text = |key: &str| fields.get(key).and_then(json_text);
                // `{"reason", "details", "traceId"}` or `{"code", "message", "issues"}`.
                let mut parts: Vec<String> = [
                    text("reason"),
                    text("code"),
                    text("details"),
                    text("message"),
                ]
                .into_iter()
                .flatten()
                .collect();
                if let Some(issues) = fields.get("issues").and_then(|i| i.as_array()) {
                    let issues: Vec<String> = issues
                        .iter()
                        .filter_map(|issue| issue.get("message").and_then(json_text))
                        .take(5)
                        .collect();
                    if !issues.is_empty() {
                        parts.push(format!("issues: {}", issues.join("; ")));
                    }
                }
                let message = (!parts.is_empty()).then(|| parts.join(": "));
                (message, text("traceId"))
            }
            _ => (
                (!body.is_empty()).then(|| truncate(body, Self::MAX_TEXT)),
                None,
            ),
        };
        // Quoted from the server into errors and log lines: one line, nothing a terminal acts on.
        Self {
            message: message.map_or_else(
                || format!("HTTP {} with no message", response.status),
                |message| printable(&message),
            ),
            trace_id: response
                .header("x-trace-id")
                .map(str::to_owned)
                .or(body_trace)
                .map(|trace| printable(&truncate(&trace, Self::MAX_TEXT))),
        }
    }

    fn trace_suffix(&self) -> String {
        self.trace_id
            .as_ref()
            .map(|id| format!(" (trace id {id})"))
            .unwrap_or_default()
    }
}

/// A JSON value as message text: strings as they are, other values as compact JSON.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) if text.trim().is_empty() => None,
        serde_json::Value::String(text) => Some(text.trim().to_owned()),
        other => Some(other.to_string()),
    }
}

/// `text` as one printable line: line breaks, tabs, other control characters and the bidi
/// controls written as escapes (`\n`, `\x1b`, `\u{202e}`). The host makes every message inert
/// too; an error that reads well does not depend on it.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            '\u{80}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so an opaque cursor is one
/// query value whatever it contains.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A small deterministic generator (SplitMix64) for backoff jitter; determinism given the seed
/// keeps runs reproducible, and seeding from the clock keeps parallel runs apart.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        FakeClock, ScriptedTransport, VecSink, entries, ok_json, response, transport_error,
    };
    use serde_json::json;

    const BASE: &str = "https://app.hex.tech/api/v1";

    fn new_client(
        settings: &[(&str, &str)],
        script: Vec<Result<HttpResponse, TransportError>>,
    ) -> (
        HexClient<ScriptedTransport, FakeClock>,
        ScriptedTransport,
        FakeClock,
    ) {
        let config = HexConfig::parse(&entries(settings)).expect("valid config");
        let transport = ScriptedTransport::new(script);
        let clock = FakeClock::new();
        let client = HexClient::new(config, transport.clone(), clock.clone());
        (client, transport, clock)
    }

    fn page(ids: &[&str], after: Option<&str>) -> Result<HttpResponse, TransportError> {
        let values: Vec<_> = ids
            .iter()
            .map(|id| json!({"id": id, "title": id}))
            .collect();
        ok_json(json!({"values": values, "pagination": {"after": after, "before": null}}))
    }

    /// Fetches every page, returning the ids per page or the error.
    fn list_all(
        client: &mut HexClient<ScriptedTransport, FakeClock>,
        sink: &mut VecSink,
    ) -> Result<Vec<Vec<String>>, ConnectorError> {
        let mut pager = ProjectPager::new();
        let mut pages = Vec::new();
        let mut body = Vec::new();
        while let Some(projects) = client.next_project_page(&mut pager, sink, &mut body)? {
            pages.push(
                projects
                    .into_iter()
                    .filter_map(|p| Some(p.id.as_deref()?.to_owned()))
                    .collect(),
            );
        }
        Ok(pages)
    }

    /// Settings without a throttle, so only retry delays show up as sleeps.
    const UNTHROTTLED: &[(&str, &str)] = &[("requests_per_minute", "0")];

    #[test]
    fn pages_through_three_pages_with_exact_urls() {
        let (mut client, transport, _) = new_client(
            &[
                ("page_size", "2"),
                ("include_components", "true"),
                ("include_trashed", "true"),
            ],
            vec![
                page(&["a", "b"], Some("djI6WyIyMDI0Il0=")),
                page(&["c", "d"], Some("cursor two/+&")),
                page(&["e"], None),
            ],
        );
        let pages = list_all(&mut client, &mut VecSink::default()).expect("lists");
        assert_eq!(pages, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        assert_eq!(
            transport.urls(),
            [
                format!(
                    "{BASE}/projects?limit=2&includeSharing=true&includeComponents=true&includeTrashed=true"
                ),
                format!(
                    "{BASE}/projects?limit=2&includeSharing=true&includeComponents=true&includeTrashed=true&after=djI6WyIyMDI0Il0%3D"
                ),
                format!(
                    "{BASE}/projects?limit=2&includeSharing=true&includeComponents=true&includeTrashed=true&after=cursor%20two%2F%2B%26"
                ),
            ]
        );
        assert_eq!(client.requests(), 3);
    }

    #[test]
    fn urls_take_the_defaults_and_ignore_a_trailing_slash() {
        let (client, _, _) = new_client(
            &[
                ("base_url", "https://hex.acme.com/api/v1/"),
                ("include_archived", "true"),
            ],
            vec![],
        );
        assert_eq!(
            client.projects_url(None),
            "https://hex.acme.com/api/v1/projects?limit=100&includeSharing=true&includeArchived=true"
        );
        assert_eq!(
            client.check_url(),
            "https://hex.acme.com/api/v1/projects?limit=1"
        );
    }

    #[test]
    fn the_throttle_spaces_request_starts() {
        // 30 per minute: 2 s apart. Each request takes 0.5 s, so the throttle sleeps 1.5 s.
        let (mut client, transport, clock) = new_client(
            &[],
            vec![
                page(&["a"], Some("1")),
                page(&["b"], Some("2")),
                page(&["c"], None),
            ],
        );
        transport.set_latency(&clock, Duration::from_millis(500));
        list_all(&mut client, &mut VecSink::default()).expect("lists");
        assert_eq!(clock.sleeps(), [Duration::from_millis(1_500); 2]);
        assert_eq!(transport.start_times(), [0, 2_000, 4_000]);
    }

    #[test]
    fn a_zero_rate_means_no_throttle() {
        let (mut client, _, clock) = new_client(
            UNTHROTTLED,
            vec![page(&["a"], Some("1")), page(&["b"], None)],
        );
        list_all(&mut client, &mut VecSink::default()).expect("lists");
        assert_eq!(clock.sleeps(), []);
    }

    #[test]
    fn a_429_waits_retry_after_seconds_then_succeeds() {
        let (mut client, _, clock) = new_client(
            UNTHROTTLED,
            vec![
                Ok(response(
                    429,
                    &[("retry-after", "7"), ("x-trace-id", "t-1")],
                    "slow down",
                )),
                page(&["a"], None),
            ],
        );
        let mut sink = VecSink::default();
        assert_eq!(
            list_all(&mut client, &mut sink),
            Ok(vec![vec!["a".to_owned()]])
        );
        assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
        assert_eq!(client.requests(), 2);
        let warnings = sink.logs_at(LogLevel::Warn);
        assert_eq!(
            warnings,
            ["page 1 of GET /projects answered 429 (x-trace-id t-1); retry 1 of 5 in 7.0 s"]
        );
    }

    #[test]
    fn a_429_waits_until_an_http_date_retry_after() {
        let (mut client, _, clock) = new_client(UNTHROTTLED, vec![]);
        let retry_at =
            crate::timestamp::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("valid date");
        clock.set_now(retry_at - 12_500);
        client.transport.push(Ok(response(
            429,
            &[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")],
            "",
        )));
        client.transport.push(page(&["a"], None));
        list_all(&mut client, &mut VecSink::default()).expect("lists");
        // 12.5 s rounds up to whole seconds.
        assert_eq!(clock.sleeps(), [Duration::from_secs(13)]);
    }

    #[test]
    fn a_long_retry_after_is_capped() {
        let (mut client, _, clock) = new_client(
            UNTHROTTLED,
            vec![
                Ok(response(429, &[("retry-after", "86400")], "")),
                page(&[], None),
            ],
        );
        list_all(&mut client, &mut VecSink::default()).expect("lists");
        assert_eq!(clock.sleeps(), [MAX_RETRY_AFTER]);
    }

    #[test]
    fn a_burst_of_5xx_and_network_errors_backs_off_exponentially_then_succeeds() {
        let (mut client, _, clock) = new_client(
            UNTHROTTLED,
            vec![
                Ok(response(500, &[], "")),
                Ok(response(502, &[], "bad gateway")),
                transport_error("connection refused", true),
                Ok(response(503, &[("x-trace-id", "t-9")], "")),
                page(&["a"], None),
            ],
        );
        let mut sink = VecSink::default();
        assert_eq!(
            list_all(&mut client, &mut sink),
            Ok(vec![vec!["a".to_owned()]])
        );
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 4);
        // Retry n waits between half and all of 1 s · 2^(n-1).
        for (n, sleep) in sleeps.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << n);
            assert!(
                *sleep >= ceiling / 2 && *sleep <= ceiling,
                "retry {n}: {sleep:?}"
            );
        }
        assert_eq!(client.requests(), 5);
        let warnings = sink.logs_at(LogLevel::Warn);
        assert_eq!(warnings.len(), 4);
        assert!(warnings[0].starts_with("page 1 of GET /projects answered 500; retry 1 of 5 in"));
        assert!(warnings[2].contains("failed: connection refused; retry 3 of 5"));
        assert!(warnings[3].contains("answered 503 (x-trace-id t-9); retry 4 of 5"));
    }

    #[test]
    fn backoff_is_capped_at_a_minute() {
        let (mut client, _, _) = new_client(UNTHROTTLED, vec![]);
        for retry in 7..40 {
            let delay = client.backoff(retry);
            assert!(delay >= Duration::from_secs(30) && delay <= Duration::from_secs(60));
        }
    }

    #[test]
    fn exhausted_429_retries_are_rate_limited() {
        let mut script = vec![
            Ok(response(
                429,
                &[("retry-after", "2")],
                "{\"reason\":\"Too Many Requests\"}"
            ));
            3
        ];
        script.push(page(&["never"], None));
        let (mut client, _, clock) = new_client(
            &[("max_retries", "2"), ("requests_per_minute", "0")],
            script,
        );
        let error = list_all(&mut client, &mut VecSink::default()).expect_err("gives up");
        assert_eq!(
            error,
            ConnectorError::RateLimited(RateLimitedError {
                message: "Hex kept rate-limiting page 1 of GET /projects after 2 retries: Too \
                          Many Requests; lower requests_per_minute or run later"
                    .to_owned(),
                retry_after_seconds: Some(2),
            })
        );
        assert_eq!(clock.sleeps(), [Duration::from_secs(2); 2]);
        assert_eq!(client.requests(), 3);
    }

    #[test]
    fn exhausted_5xx_retries_are_upstream_errors_with_the_trace_id() {
        let (mut client, _, _) = new_client(
            &[("max_retries", "1"), ("requests_per_minute", "0")],
            vec![
                Ok(response(
                    500,
                    &[("x-trace-id", "abc")],
                    "{\"reason\":\"Internal\",\"details\":\"boom\"}"
                ));
                2
            ],
        );
        let error = list_all(&mut client, &mut VecSink::default()).expect_err("gives up");
        assert_eq!(
            error,
            ConnectorError::Upstream(UpstreamError {
                status: 500,
                message: "Hex failed page 1 of GET /projects with 500 after 1 retry: Internal: \
                          boom"
                    .to_owned(),
                trace_id: Some("abc".to_owned()),
            })
        );
    }

    #[test]
    fn exhausted_network_retries_are_network_errors() {
        let (mut client, _, _) = new_client(
            &[("max_retries", "0")],
            vec![transport_error("connection timed out", true)],
        );
        let error = client.check(&mut VecSink::default()).expect_err("fails");
        assert_eq!(
            error,
            ConnectorError::Network(format!(
                "could not reach Hex at {BASE} for GET /projects?limit=1: connection timed out"
            ))
        );
    }

    #[test]
    fn a_request_the_host_denies_is_not_retried() {
        let (mut client, _, clock) =
            new_client(&[], vec![transport_error("HttpRequestDenied", false)]);
        let error = client.check(&mut VecSink::default()).expect_err("fails");
        assert!(matches!(error, ConnectorError::Network(m) if m.contains("HttpRequestDenied")));
        assert_eq!(client.requests(), 1);
        assert_eq!(clock.sleeps(), []);
    }

    #[test]
    fn a_plain_text_401_is_unauthorized() {
        let (mut client, _, _) = new_client(
            &[],
            vec![Ok(response(
                401,
                &[("x-trace-id", "t-401")],
                "Unauthorized",
            ))],
        );
        assert_eq!(
            client.check(&mut VecSink::default()),
            Err(ConnectorError::Unauthorized(
                "Hex rejected the API token (401): check the API token in the source's \
                 settings (trace id t-401)"
                    .to_owned()
            ))
        );
        assert_eq!(client.requests(), 1, "a 401 is not retried");
    }

    #[test]
    fn a_403_names_the_missing_scope_in_either_json_shape() {
        let (mut client, _, _) = new_client(
            &[],
            vec![Ok(response(
                403,
                &[],
                r#"{"reason":"Forbidden","details":"Token is missing required scope: PROJECTS_READ","traceId":"tr-1"}"#,
            ))],
        );
        let Err(ConnectorError::Forbidden(message)) = client.check(&mut VecSink::default()) else {
            panic!("expected Forbidden");
        };
        assert!(
            message.starts_with(
                "Hex refused GET /projects?limit=1 (403): Forbidden: Token is missing required \
                 scope: PROJECTS_READ (trace id tr-1)"
            ),
            "{message}"
        );

        let (mut client, _, _) = new_client(
            &[],
            vec![Ok(response(
                403,
                &[("x-trace-id", "hdr")],
                r#"{"code":"FORBIDDEN","message":"API token lacks the projects:read scope","issues":[{"message":"scope projects:read required"}]}"#,
            ))],
        );
        let Err(ConnectorError::Forbidden(message)) = client.check(&mut VecSink::default()) else {
            panic!("expected Forbidden");
        };
        assert!(
            message.contains(
                "FORBIDDEN: API token lacks the projects:read scope: issues: scope projects:read \
                 required (trace id hdr)"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_404_and_other_4xx_are_not_retried() {
        let (mut client, _, _) = new_client(&[], vec![Ok(response(404, &[], "Not Found"))]);
        let error = client.check(&mut VecSink::default());
        assert!(matches!(error, Err(ConnectorError::NotFound(m)) if m.contains("check base_url")));

        let (mut client, _, _) = new_client(
            &[],
            vec![Ok(response(
                400,
                &[("x-trace-id", "t4")],
                r#"{"code":"BAD_REQUEST","message":"limit must be at most 100"}"#,
            ))],
        );
        assert_eq!(
            client.check(&mut VecSink::default()),
            Err(ConnectorError::Upstream(UpstreamError {
                status: 400,
                message: "Hex refused GET /projects?limit=1 with 400: BAD_REQUEST: limit must be \
                          at most 100"
                    .to_owned(),
                trace_id: Some("t4".to_owned()),
            }))
        );
        assert_eq!(client.requests(), 1);
    }

    #[test]
    fn a_malformed_page_names_its_number() {
        let (mut client, _, _) = new_client(
            UNTHROTTLED,
            vec![
                page(&["a"], Some("next")),
                Ok(response(200, &[], r#"{"values": [{"id": "b"}, {"id": "#)),
            ],
        );
        let error = list_all(&mut client, &mut VecSink::default()).expect_err("fails");
        let ConnectorError::MalformedResponse(message) = error else {
            panic!("expected MalformedResponse, got {error:?}");
        };
        assert!(
            message.starts_with("page 2 of GET /projects is not valid JSON: EOF while parsing"),
            "{message}"
        );
    }

    #[test]
    fn a_page_without_values_is_malformed() {
        let (mut client, _, _) = new_client(UNTHROTTLED, vec![ok_json(json!({"data": []}))]);
        let error = list_all(&mut client, &mut VecSink::default());
        assert_eq!(
            error,
            Err(ConnectorError::MalformedResponse(
                "page 1 of GET /projects has no `values` list of projects".to_owned()
            ))
        );
    }

    #[test]
    fn a_repeating_cursor_stops_the_listing() {
        let (mut client, _, _) = new_client(
            UNTHROTTLED,
            vec![
                page(&["a"], Some("c1")),
                page(&["b"], Some("c2")),
                page(&["c"], Some("c1")),
                page(&["d"], None),
            ],
        );
        let error = list_all(&mut client, &mut VecSink::default()).expect_err("fails");
        assert!(
            matches!(&error, ConnectorError::MalformedResponse(m) if m.contains("repeated a pagination cursor at page 3")),
            "{error:?}"
        );
        assert_eq!(client.requests(), 3);
    }

    #[test]
    fn a_listing_stops_after_the_page_limit() {
        let (mut client, _, _) = new_client(UNTHROTTLED, vec![]);
        let mut pager = ProjectPager::new();
        pager.pages = MAX_PAGES;
        pager.next_cursor = Some("more".to_owned());
        let error = client
            .next_project_page(&mut pager, &mut VecSink::default(), &mut Vec::new())
            .expect_err("stops");
        assert!(matches!(error, ConnectorError::MalformedResponse(m) if m.contains("10000")));
        assert_eq!(client.requests(), 0);
    }

    #[test]
    fn an_empty_cursor_ends_the_listing() {
        let (mut client, _, _) = new_client(UNTHROTTLED, vec![page(&["a"], Some(""))]);
        let pages = list_all(&mut client, &mut VecSink::default()).expect("lists");
        assert_eq!(pages.len(), 1);
    }

    #[test]
    fn check_rejects_json_that_is_not_a_project_list() {
        let (mut client, _, _) =
            new_client(&[], vec![Ok(response(200, &[], "<html>login</html>"))]);
        let error = client.check(&mut VecSink::default());
        assert!(
            matches!(&error, Err(ConnectorError::MalformedResponse(m)) if m.contains("check base_url")),
            "{error:?}"
        );
    }

    #[test]
    fn an_error_body_is_quoted_as_one_printable_line() {
        let hostile = "nope\neuno-host: forged line\x1b[31mRED\u{202e}";
        let details = ErrorDetails::of(&response(404, &[("x-trace-id", "t\x1b]0;x")], hostile));
        assert_eq!(
            details.message,
            "nope\\neuno-host: forged line\\x1b[31mRED\\u{202e}"
        );
        assert_eq!(details.trace_id.as_deref(), Some("t\\x1b]0;x"));
        let json = r#"{"reason":"Not\r\nFound","traceId":"a\u0007b"}"#;
        let details = ErrorDetails::of(&response(404, &[], json));
        assert_eq!(details.message, "Not\\r\\nFound");
        assert_eq!(details.trace_id.as_deref(), Some("a\\x07b"));
    }

    #[test]
    fn error_details_fall_back_to_text_and_the_status() {
        let long = "x".repeat(400);
        let details = ErrorDetails::of(&response(418, &[], &long));
        assert_eq!(details.message.chars().count(), 301);
        let details = ErrorDetails::of(&response(418, &[], "  "));
        assert_eq!(details.message, "HTTP 418 with no message");
        assert_eq!(details.trace_id, None);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a b=c&d/é"), "a%20b%3Dc%26d%2F%C3%A9");
    }
}
