//! The HTTP client every connector needs: JSON requests against the source's base URL, a
//! client-side throttle, retries of 429 (honouring `Retry-After`), 5xx and connection failures
//! with exponential backoff and jitter, per-request timeouts, typed errors, cursor pagination
//! with a loop guard, and request counts by kind for the run's summary.
//!
//! It reaches the network, the clock and the host only through the [`ports`](crate::ports)
//! traits, so every path (a 429 burst, a repeating cursor, a truncated page) is unit-tested
//! natively with canned answers and a clock that records sleeps without sleeping. Before every
//! sleep it tells the host why and for how long (`host.waiting`).

use std::collections::HashSet;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::ports::{Clock, Host, HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::spec::fields;
use crate::timestamp::parse_http_date;
use crate::types::{
    ConnectorError, ConnectorSpec, LogLevel, RateLimitedError, RequestCount, UpstreamError,
    WaitReason,
};

/// The first backoff delay, before jitter.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest backoff delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// The longest error text quoted in a message, in characters.
const MAX_EXCERPT: usize = 300;

/// How the client behaves; [`HttpOptions::from_config`] reads it from a source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// What relative request paths are resolved against, without a trailing `/`.
    pub base_url: Option<String>,
    /// At most this many requests start per minute; 0 turns the throttle off.
    pub requests_per_minute: u32,
    /// How long one request may take, from connecting to the end of its body.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx or a connection failure.
    pub max_retries: u32,
    /// The response header carrying the source's trace id, e.g. `x-trace-id`.
    pub trace_header: String,
    /// The longest wait a `Retry-After` header may impose.
    pub max_retry_after: Duration,
    /// The most pages one [`Pages`] listing may take; past it the listing is taken to be looping.
    pub max_pages: u32,
    /// What a person should check when the source rejects the credential (a 401), e.g. "the
    /// API token (`api_token` under [secrets])"; by default the spec's credential secret, named.
    pub credential_hint: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            base_url: None,
            requests_per_minute: 0,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            trace_header: "x-trace-id".to_owned(),
            max_retry_after: Duration::from_secs(300),
            max_pages: 10_000,
            credential_hint: None,
        }
    }
}

impl HttpOptions {
    /// The defaults, with the base URL from the spec's base-URL field and the settings of
    /// [`spec::fields`](crate::spec::fields) that the config has (each range-checked and named
    /// when wrong).
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        let mut options = Self {
            base_url: config.base_url()?.map(str::to_owned),
            ..Self::default()
        };
        if config.get(fields::REQUESTS_PER_MINUTE).is_some() {
            options.requests_per_minute =
                config.integer_in(fields::REQUESTS_PER_MINUTE, 0..=60_000)?;
        }
        if config.get(fields::REQUEST_TIMEOUT_SECONDS).is_some() {
            let seconds = config.integer_in(fields::REQUEST_TIMEOUT_SECONDS, 1..=600)?;
            options.timeout = Duration::from_secs(seconds);
        }
        if config.get(fields::MAX_RETRIES).is_some() {
            options.max_retries = config.integer_in(fields::MAX_RETRIES, 0..=20)?;
        }
        Ok(options)
    }
}

/// A request to build, then send with [`Client::send`] or [`Client::json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    target: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    kind: Option<String>,
}

impl Request {
    fn new(method: Method, target: impl Into<String>) -> Self {
        Self {
            method,
            target: target.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            kind: None,
        }
    }

    /// `GET target`: a path relative to the base URL (`/books`), or an absolute URL (a `next`
    /// link a source hands out).
    pub fn get(target: impl Into<String>) -> Self {
        Self::new(Method::Get, target)
    }

    /// `POST target`.
    pub fn post(target: impl Into<String>) -> Self {
        Self::new(Method::Post, target)
    }

    /// Adds a query parameter; name and value are percent-encoded.
    #[must_use]
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    #[must_use]
    pub fn query_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    /// Adds a header. The host forbids `authorization`, `cookie`, `host` and `proxy-*`: it
    /// presents the credential itself.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets a JSON body (and `content-type: application/json`).
    #[must_use]
    pub fn json_body(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    /// Names the kind of request in the run's `request-counts`, e.g. `books`. By default, the
    /// first segment of the path below the base URL.
    #[must_use]
    pub fn kind(mut self, kind: &str) -> Self {
        self.kind = Some(kind.to_owned());
        self
    }
}

/// Who the client talks to, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    /// The connector's display name, e.g. `Bookshelf`.
    pub name: String,
    /// Where a person fixes a rejected credential, e.g. "the `api_key` secret".
    pub credential_hint: String,
    /// The setting holding the base URL.
    pub base_url_field: Option<String>,
    /// `user-agent` on every request.
    pub user_agent: String,
    /// The setting that sets the request timeout, when the spec declares it: a timeout names it.
    pub timeout_field: Option<String>,
}

impl Service {
    pub(crate) fn of(spec: &ConnectorSpec) -> Self {
        let secrets = spec.credential_secrets();
        let credential_hint = match secrets.as_slice() {
            [] => "the source's credentials".to_owned(),
            [secret] => format!("the `{secret}` secret"),
            [user, secret] => format!("the `{user}` and `{secret}` settings"),
            _ => "the source's secrets".to_owned(),
        };
        Self {
            name: spec.display_name.clone(),
            credential_hint,
            base_url_field: spec.base_url_field.clone(),
            user_agent: format!("{}/{} (euno-connector-sdk)", spec.id, spec.version),
            timeout_field: spec
                .fields
                .iter()
                .find(|field| field.name == fields::REQUEST_TIMEOUT_SECONDS)
                .map(|field| field.name.clone()),
        }
    }
}

/// The HTTP client of one `check` or `discover` call. Get it from
/// [`Context::http`](crate::Context::http).
pub struct Client {
    options: HttpOptions,
    service: Service,
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    host: Rc<dyn Host>,
    jitter: Jitter,
    /// When the last request started, for the throttle.
    last_start_ms: Option<i64>,
    /// Requests by kind, in order of first use.
    counts: Vec<RequestCount>,
}

/// A failure that may pass when tried again.
enum Retryable {
    Status(HttpResponse),
    Transport(TransportError),
}

impl Client {
    pub(crate) fn new(
        options: HttpOptions,
        service: Service,
        transport: Box<dyn Transport>,
        clock: Box<dyn Clock>,
        host: Rc<dyn Host>,
    ) -> Self {
        let seed = clock.now_ms().unsigned_abs();
        Self {
            options,
            service,
            transport,
            clock,
            host,
            jitter: Jitter(seed),
            last_start_ms: None,
            counts: Vec::new(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u32 {
        self.counts
            .iter()
            .fold(0, |sum, count| sum.saturating_add(count.count))
    }

    /// The requests sent so far, by kind, in order of first use.
    pub fn request_counts(&self) -> &[RequestCount] {
        &self.counts
    }

    /// Sends `request` and parses its body as JSON into `T`; a body that does not parse is a
    /// [`MalformedResponse`](ConnectorError::MalformedResponse) naming the request.
    pub fn json<T: DeserializeOwned>(&mut self, request: Request) -> Result<T, ConnectorError> {
        let what = self.describe(&request);
        let response = self.send_as(request, &what)?;
        parse_json(&response.body, &what)
    }

    /// `GET target` parsed as JSON: shorthand for `json(Request::get(target))`.
    pub fn get_json<T: DeserializeOwned>(&mut self, target: &str) -> Result<T, ConnectorError> {
        self.json(Request::get(target))
    }

    /// Sends `request` under the throttle, retrying what may pass, and returns the first 2xx
    /// answer, or the final failure as a typed error.
    pub fn send(&mut self, request: Request) -> Result<HttpResponse, ConnectorError> {
        let what = self.describe(&request);
        self.send_as(request, &what)
    }

    /// `METHOD /path`, naming the request in messages.
    fn describe(&self, request: &Request) -> String {
        format!(
            "{} {}",
            request.method.as_str(),
            self.path_of(&request.target)
        )
    }

    /// The path of `target` below the base URL (without its query), or the whole URL when it is
    /// elsewhere.
    fn path_of<'t>(&self, target: &'t str) -> &'t str {
        let target = target.split(['?', '#']).next().unwrap_or_default();
        match &self.options.base_url {
            Some(base) if is_absolute(target) => match target.strip_prefix(base.as_str()) {
                Some(path) if path.is_empty() || path.starts_with('/') => path,
                _ => target,
            },
            _ => target,
        }
    }

    /// The absolute URL of `request`, query included.
    fn url(&self, request: &Request) -> Result<String, ConnectorError> {
        let mut url = if is_absolute(&request.target) {
            request.target.clone()
        } else {
            let Some(base) = &self.options.base_url else {
                let field = self.service.base_url_field.as_deref().unwrap_or("base_url");
                return Err(ConnectorError::invalid_config(
                    field,
                    format!(
                        "is not set, so the connector cannot tell where to send `{}`",
                        request.target
                    ),
                ));
            };
            let separator = if request.target.starts_with('/') {
                ""
            } else {
                "/"
            };
            format!("{base}{separator}{}", request.target)
        };
        for (i, (name, value)) in request.query.iter().enumerate() {
            let joiner = if i == 0 && !url.contains('?') {
                '?'
            } else {
                '&'
            };
            url.push(joiner);
            url.push_str(&percent_encode(name));
            url.push('=');
            url.push_str(&percent_encode(value));
        }
        Ok(url)
    }

    fn count(&mut self, request: &Request) {
        let kind = match &request.kind {
            Some(kind) => kind.as_str(),
            None => self
                .path_of(&request.target)
                .trim_start_matches('/')
                .split('/')
                .next()
                .filter(|segment| !segment.is_empty())
                .unwrap_or("root"),
        };
        match self.counts.iter_mut().find(|count| count.kind == kind) {
            Some(count) => count.count = count.count.saturating_add(1),
            None => {
                let kind = kind.to_owned();
                self.counts.push(RequestCount { kind, count: 1 });
            }
        }
    }

    fn send_as(&mut self, request: Request, what: &str) -> Result<HttpResponse, ConnectorError> {
        let mut http = HttpRequest {
            method: request.method,
            url: self.url(&request)?,
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        for (name, value) in [
            ("accept", "application/json"),
            ("user-agent", self.service.user_agent.as_str()),
        ] {
            if !http.headers.iter().any(|(key, _)| key == name) {
                http.headers.push((name.to_owned(), value.to_owned()));
            }
        }
        if let Some(error) = forbidden_header(&http.headers) {
            return Err(ConnectorError::Network(format!(
                "{what} failed: {}",
                error.message
            )));
        }
        let max_retries = self.options.max_retries;
        let mut retry = 0;
        loop {
            self.throttle();
            self.count(&request);
            self.host.log(
                LogLevel::Debug,
                &format!("{} {}", http.method.as_str(), http.url),
            );
            let failure = match self.transport.send(&http, self.options.timeout) {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) if response.status == 429 || response.status >= 500 => {
                    Retryable::Status(response)
                }
                Ok(response) => return Err(self.classify(&response, what)),
                Err(error) if error.retryable => Retryable::Transport(error),
                Err(error) => {
                    return Err(ConnectorError::Network(format!(
                        "{what} failed: {}",
                        self.transport_message(&error)
                    )));
                }
            };
            if retry >= max_retries {
                return Err(self.exhausted(failure, what, retry));
            }
            retry += 1;
            let (delay, reason, cause) = match &failure {
                Retryable::Status(response) => {
                    let (delay, reason) = match self.retry_after(response) {
                        Some(seconds) => (
                            Duration::from_secs(seconds).min(self.options.max_retry_after),
                            WaitReason::RetryAfter,
                        ),
                        None => (self.backoff(retry), WaitReason::Backoff),
                    };
                    let trace = self.retry_trace(response);
                    (
                        delay,
                        reason,
                        format!("answered {}{trace}", response.status),
                    )
                }
                Retryable::Transport(error) => (
                    self.backoff(retry),
                    WaitReason::Backoff,
                    format!("failed: {}", self.transport_message(error)),
                ),
            };
            self.host.log(
                LogLevel::Warn,
                &format!(
                    "{what} {cause}; retry {retry} of {max_retries} in {:.1} s",
                    delay.as_secs_f64()
                ),
            );
            self.wait(reason, delay);
        }
    }

    /// Tells the host, then sleeps.
    fn wait(&mut self, reason: WaitReason, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.host.waiting(reason, millis);
        self.clock.sleep(delay);
    }

    /// Waits until the next request may start: starts are at least 60 s / rpm apart, and the
    /// first one starts at once.
    fn throttle(&mut self) {
        let rpm = self.options.requests_per_minute;
        if let (Some(last), true) = (self.last_start_ms, rpm > 0) {
            let spacing = 60_000 / i64::from(rpm);
            let wait = last
                .saturating_add(spacing)
                .saturating_sub(self.clock.now_ms());
            if let Ok(wait @ 1..) = u64::try_from(wait) {
                self.wait(WaitReason::Throttle, Duration::from_millis(wait));
            }
        }
        self.last_start_ms = Some(self.clock.now_ms());
    }

    /// The delay before retry number `retry` (from 1): [`BACKOFF_BASE`] doubling up to
    /// [`BACKOFF_CAP`], of which a random part up to half is taken off, so that clients that
    /// failed together do not retry together.
    fn backoff(&mut self, retry: u32) -> Duration {
        let base = u64::try_from(BACKOFF_BASE.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(BACKOFF_CAP.as_millis()).unwrap_or(u64::MAX);
        let ceiling = base
            .saturating_mul(1_u64 << retry.saturating_sub(1).min(16))
            .min(cap);
        let half = ceiling / 2;
        Duration::from_millis(ceiling - half + self.jitter.next() % (half + 1))
    }

    /// The seconds a response's `Retry-After` asks to wait (a number of seconds or an
    /// HTTP-date), when it has a readable one.
    fn retry_after(&self, response: &HttpResponse) -> Option<u64> {
        let value = response.header("retry-after")?.trim();
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            return Some(value.parse().unwrap_or(u64::MAX));
        }
        let until = parse_http_date(value)?;
        let millis = until.saturating_sub(self.clock.now_ms()).max(0);
        u64::try_from(millis).ok().map(|ms| ms.div_ceil(1_000))
    }

    /// The trace id of a response about to be retried, for the warning: named by the header it
    /// came in (` (x-trace-id …)`), so that a reader can find the request in the source's logs,
    /// or ` (trace id …)` when only the body had one.
    fn retry_trace(&self, response: &HttpResponse) -> String {
        let header = &self.options.trace_header;
        match response.header(header) {
            Some(id) => format!(" ({header} {})", excerpt(id, 100)),
            None => ErrorDetails::of(response, header)
                .trace_id
                .map(|id| format!(" (trace id {id})"))
                .unwrap_or_default(),
        }
    }

    fn transport_message(&self, error: &TransportError) -> String {
        if error.timed_out {
            let seconds = self.options.timeout.as_secs();
            let limit = match &self.service.timeout_field {
                Some(field) => format!("{field} ({seconds} s)"),
                None => format!("the request timeout of {seconds} s"),
            };
            format!(
                "no answer within {limit}; the source's [limits] max_request_seconds also bounds \
                 each wait"
            )
        } else {
            excerpt(&error.message, MAX_EXCERPT)
        }
    }

    /// The error for a retryable failure still failing after `retries` retries.
    fn exhausted(&self, failure: Retryable, what: &str, retries: u32) -> ConnectorError {
        let service = &self.service.name;
        let after = match retries {
            0 => String::new(),
            1 => " after 1 retry".to_owned(),
            n => format!(" after {n} retries"),
        };
        match failure {
            Retryable::Status(response) if response.status == 429 => {
                let details = ErrorDetails::of(&response, &self.options.trace_header);
                ConnectorError::RateLimited(RateLimitedError {
                    message: format!(
                        "{service} kept rate-limiting {what}{after}: {}{}; lower \
                         requests_per_minute or run later",
                        details.message,
                        details.trace_suffix()
                    ),
                    retry_after_seconds: self
                        .retry_after(&response)
                        .map(|seconds| u32::try_from(seconds).unwrap_or(u32::MAX)),
                })
            }
            Retryable::Status(response) => {
                let details = ErrorDetails::of(&response, &self.options.trace_header);
                ConnectorError::Upstream(UpstreamError {
                    status: response.status,
                    message: format!(
                        "{service} failed {what} with {}{after}: {}",
                        response.status, details.message
                    ),
                    trace_id: details.trace_id,
                })
            }
            Retryable::Transport(error) => ConnectorError::Network(format!(
                "could not reach {service} for {what}{after}: {}",
                self.transport_message(&error)
            )),
        }
    }

    /// The error for a final answer that is neither a success nor worth retrying.
    fn classify(&self, response: &HttpResponse, what: &str) -> ConnectorError {
        let service = &self.service.name;
        let details = ErrorDetails::of(response, &self.options.trace_header);
        let (message, trace) = (&details.message, details.trace_suffix());
        match response.status {
            401 => ConnectorError::Unauthorized(format!(
                "{service} rejected the credential (401) on {what}: {message}{trace}; check {}",
                self.options
                    .credential_hint
                    .as_deref()
                    .unwrap_or(&self.service.credential_hint)
            )),
            403 => ConnectorError::Forbidden(format!(
                "{service} refused {what} (403): {message}{trace}; the credential lacks a \
                 permission it needs"
            )),
            404 => {
                let hint = match (&self.service.base_url_field, &self.options.base_url) {
                    (Some(field), Some(base)) => format!("; check {field} (now {base})"),
                    _ => String::new(),
                };
                ConnectorError::NotFound(format!(
                    "{service} answered 404 to {what}: {message}{trace}{hint}"
                ))
            }
            status @ 300..=399 => ConnectorError::Upstream(UpstreamError {
                status,
                message: format!(
                    "{service} redirected {what} with {status} to `{}`, and redirects are not \
                     followed; check the base URL",
                    excerpt(response.header("location").unwrap_or(""), MAX_EXCERPT)
                ),
                trace_id: details.trace_id,
            }),
            status => ConnectorError::Upstream(UpstreamError {
                status,
                message: format!("{service} refused {what} with {status}: {message}"),
                trace_id: details.trace_id,
            }),
        }
    }
}

/// Reads a 2xx body as `T`, or says what `what` answered instead.
fn parse_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|error| {
        if error.is_data() {
            ConnectorError::malformed(format!(
                "{what} answered JSON of an unexpected shape: {error}"
            ))
        } else {
            let start = String::from_utf8_lossy(&body[..body.len().min(400)]);
            ConnectorError::malformed(format!(
                "{what} answered something that is not valid JSON ({error}): `{}`",
                excerpt(&start, 80)
            ))
        }
    })
}

/// A cursor-paged listing, read one page at a time with [`Pages::next`].
///
/// `request` builds the request for a cursor (`None` for the first page); `cursor_of` reads the
/// next cursor from a page (`None` or an empty cursor: that was the last page). A source that
/// hands back a cursor it already gave fails the listing rather than looping, and so does one
/// that goes past [`HttpOptions::max_pages`].
///
/// Not an [`Iterator`]: between pages a connector emits through the same
/// [`Context`](crate::Context) that holds the client, so the client is lent to each
/// [`next`](Pages::next) call rather than held.
pub struct Pages<T, R, C> {
    request: R,
    cursor_of: C,
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: u32,
    finished: bool,
    page: PhantomData<fn() -> T>,
}

impl<T, R, C> Pages<T, R, C>
where
    T: DeserializeOwned,
    R: FnMut(Option<&str>) -> Request,
    C: FnMut(&T) -> Option<String>,
{
    /// A listing from its first page.
    pub fn new(request: R, cursor_of: C) -> Self {
        Self {
            request,
            cursor_of,
            cursor: None,
            seen: HashSet::new(),
            pages: 0,
            finished: false,
            page: PhantomData,
        }
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// The next page, or `None` after the last one.
    pub fn next(&mut self, client: &mut Client) -> Result<Option<T>, ConnectorError> {
        if self.finished {
            return Ok(None);
        }
        let request = (self.request)(self.cursor.as_deref());
        let listing = client.describe(&request);
        if self.pages >= client.options.max_pages {
            return Err(ConnectorError::malformed(format!(
                "{listing} still had more pages after {}; stopping rather than paging without \
                 end",
                client.options.max_pages
            )));
        }
        self.pages += 1;
        let what = format!("page {} of {listing}", self.pages);
        let response = client.send_as(request, &what)?;
        let page: T = parse_json(&response.body, &what)?;
        match (self.cursor_of)(&page).filter(|cursor| !cursor.is_empty()) {
            Some(cursor) => {
                if !self.seen.insert(cursor.clone()) {
                    return Err(ConnectorError::malformed(format!(
                        "{what} repeated a pagination cursor it had already returned \
                         (`{}`); stopping rather than listing the same pages again",
                        excerpt(&cursor, 80)
                    )));
                }
                self.cursor = Some(cursor);
            }
            None => self.finished = true,
        }
        Ok(Some(page))
    }
}

/// The pages of the common listing: every page is `first` with the cursor as query parameter
/// `param` (absent on the first page); `cursor_of` reads the next cursor from a page.
///
/// ```
/// # use euno_connector_sdk::http::{pages, Request};
/// #[derive(serde::Deserialize)]
/// struct Page {
///     items: Vec<String>,
///     next_cursor: Option<String>,
/// }
/// let first = Request::get("/books").query("limit", 100);
/// let listing = pages(first, "cursor", |page: &Page| page.next_cursor.clone());
/// ```
pub fn pages<T, C>(
    first: Request,
    param: &str,
    cursor_of: C,
) -> Pages<T, impl FnMut(Option<&str>) -> Request, C>
where
    T: DeserializeOwned,
    C: FnMut(&T) -> Option<String>,
{
    let param = param.to_owned();
    Pages::new(
        move |cursor: Option<&str>| first.clone().query_opt(&param, cursor),
        cursor_of,
    )
}

/// What an error answer says: the usual message fields of a JSON error body, or its text, and
/// the source's trace id.
struct ErrorDetails {
    message: String,
    trace_id: Option<String>,
}

impl ErrorDetails {
    fn of(response: &HttpResponse, trace_header: &str) -> Self {
        let body = String::from_utf8_lossy(&response.body);
        let body = body.trim();
        let (message, body_trace) = match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(fields)) => {
                let text = |key: &str| fields.get(key).and_then(json_text);
                let mut parts: Vec<String> = Vec::new();
                for key in [
                    "code",
                    "reason",
                    "error",
                    "title",
                    "message",
                    "detail",
                    "details",
                    "error_description",
                ] {
                    if let Some(part) = text(key)
                        && !parts.contains(&part)
                    {
                        parts.push(part);
                    }
                }
                for key in ["errors", "issues"] {
                    let Some(list) = fields.get(key).and_then(|l| l.as_array()) else {
                        continue;
                    };
                    let items: Vec<String> = list.iter().filter_map(json_text).take(5).collect();
                    if !items.is_empty() {
                        parts.push(format!("{key}: {}", items.join("; ")));
                    }
                }
                let trace = ["traceId", "trace_id", "requestId", "request_id"]
                    .into_iter()
                    .find_map(text);
                ((!parts.is_empty()).then(|| parts.join(": ")), trace)
            }
            _ => ((!body.is_empty()).then(|| body.to_owned()), None),
        };
        Self {
            message: message.map_or_else(
                || format!("HTTP {} with no message", response.status),
                |m| excerpt(&m, MAX_EXCERPT),
            ),
            trace_id: response
                .header(trace_header)
                .map(str::to_owned)
                .or(body_trace)
                .map(|id| excerpt(&id, 100)),
        }
    }

    fn trace_suffix(&self) -> String {
        self.trace_id
            .as_ref()
            .map(|id| format!(" (trace id {id})"))
            .unwrap_or_default()
    }
}

/// A JSON value as message text: strings as they are, an object by its `message`, other values
/// as compact JSON.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) if text.trim().is_empty() => None,
        serde_json::Value::String(text) => Some(text.trim().to_owned()),
        serde_json::Value::Object(fields) => fields
            .get("message")
            .and_then(json_text)
            .or_else(|| Some(value.to_string())),
        other => Some(other.to_string()),
    }
}

/// `text` trimmed, on one line (control characters escaped: `\n`, `\t`, `\u{1b}`) and cut at
/// `max` characters with `…`, to quote what a source said in a one-line message.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.trim().chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

fn is_absolute(target: &str) -> bool {
    target.starts_with("https://") || target.starts_with("http://")
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so that any text is one
/// query name or value.
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

/// Decodes `%XX` escapes (and `+` as a space, as in a query), leaving malformed escapes as they
/// are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An absolute URL's parts as `wasi:http` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `http` or `https` (or another scheme, passed on as it is).
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// The path and query, starting with `/`; the fragment is dropped.
    pub path_with_query: String,
}

/// Splits an absolute URL, or `None` when it is not one.
pub fn split_url(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.split_once("://")?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path_with_query) = match rest.find(['/', '?']) {
        Some(at) if rest.as_bytes()[at] == b'?' => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if scheme.is_empty() || authority.is_empty() {
        return None;
    }
    Some(UrlParts {
        scheme: scheme.to_owned(),
        authority: authority.to_owned(),
        path_with_query,
    })
}

/// A small deterministic generator (SplitMix64) for backoff jitter: deterministic given the seed
/// so that runs can be reproduced, seeded from the clock so that parallel runs differ.
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

/// The headers the host sets itself and refuses from a connector.
fn is_forbidden_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "cookie" | "host") || name.starts_with("proxy-")
}

/// The error for a request that sets a header the host owns, if it does.
fn forbidden_header(headers: &[(String, String)]) -> Option<TransportError> {
    let (name, _) = headers.iter().find(|(name, _)| is_forbidden_header(name))?;
    Some(TransportError {
        message: format!(
            "the sandbox forbids the `{name}` header: the host presents the source's credential \
             itself (see the spec's credential scheme)"
        ),
        retryable: false,
        timed_out: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CannedHttp, FakeClock, FakeHost, Reply};
    use crate::types::{ConfigEntry, ConfigField, CredentialScheme, SettingValue};
    use serde_json::json;

    const BASE: &str = "https://api.example";
    const START: i64 = 1_000_000;

    struct Fixture {
        client: Client,
        http: CannedHttp,
        clock: FakeClock,
        host: FakeHost,
    }

    fn spec() -> ConnectorSpec {
        ConnectorSpec::new("tally", "Tally", "1.2.3")
            .field(ConfigField::url("base_url", "Base URL").default_value(BASE))
            .field(ConfigField::secret("api_key", "API key"))
            .field(fields::requests_per_minute(0))
            .field(fields::max_retries(5))
            .field(fields::request_timeout_seconds(30))
            .resource_types(["tally_item"])
            .base_url_field("base_url")
            .credential(CredentialScheme::header("x-api-key", "api_key"))
    }

    fn fixture(settings: &[(&str, SettingValue)]) -> Fixture {
        let spec = spec();
        let entries = settings
            .iter()
            .map(|(name, value)| ConfigEntry {
                name: (*name).to_owned(),
                value: value.clone(),
            })
            .collect();
        let config = Config::new(entries, &spec);
        let options = HttpOptions::from_config(&config).expect("valid settings");
        let http = CannedHttp::default();
        let clock = FakeClock::new(START);
        let host = FakeHost::new(&spec);
        let client = Client::new(
            options,
            Service::of(&spec),
            Box::new(http.clone()),
            Box::new(clock.clone()),
            Rc::new(host.clone()),
        );
        Fixture {
            client,
            http,
            clock,
            host,
        }
    }

    fn ok_page(ids: &[&str], next: Option<&str>) -> Reply {
        Reply::json(json!({"items": ids, "next": next}))
    }

    #[derive(serde::Deserialize)]
    struct Page {
        items: Vec<String>,
        next: Option<String>,
    }

    /// Lists `/items` by cursor, returning the ids per page.
    fn list_all(client: &mut Client) -> Result<Vec<Vec<String>>, ConnectorError> {
        let mut pages = Pages::new(
            |cursor| {
                Request::get("/items")
                    .query("limit", 2)
                    .query_opt("after", cursor)
            },
            |page: &Page| page.next.clone(),
        );
        let mut all = Vec::new();
        while let Some(page) = pages.next(client)? {
            all.push(page.items);
        }
        Ok(all)
    }

    fn millis(seconds: u64) -> u64 {
        seconds * 1_000
    }

    #[test]
    fn pages_follow_the_cursor_with_exact_urls() {
        let mut f = fixture(&[]);
        f.http
            .route("GET /items", ok_page(&["a", "b"], Some("djI6WyIy=")));
        f.http.route(
            "GET /items?after=djI6WyIy=",
            ok_page(&["c", "d"], Some("two/+&")),
        );
        f.http
            .route("GET /items?after=two%2F%2B%26", ok_page(&["e"], None));
        let pages = list_all(&mut f.client).expect("lists");
        assert_eq!(pages, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        let urls: Vec<String> = f.http.requests().into_iter().map(|r| r.url).collect();
        assert_eq!(
            urls,
            [
                format!("{BASE}/items?limit=2"),
                format!("{BASE}/items?limit=2&after=djI6WyIy%3D"),
                format!("{BASE}/items?limit=2&after=two%2F%2B%26"),
            ]
        );
        let request = &f.http.requests()[0];
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(
            request.header("user-agent"),
            Some("tally/1.2.3 (euno-connector-sdk)")
        );
        assert_eq!(f.client.requests(), 3);
    }

    #[test]
    fn pages_of_the_common_kind_put_the_cursor_in_a_query_parameter() {
        let mut f = fixture(&[]);
        f.http.route("GET /items", ok_page(&["a"], Some("c 1")));
        f.http
            .route("GET /items?after=c%201", ok_page(&["b"], None));
        let first = Request::get("/items").query("limit", 1);
        let mut listing = pages(first, "after", |page: &Page| page.next.clone());
        let mut ids = Vec::new();
        while let Some(page) = listing.next(&mut f.client).expect("lists") {
            ids.extend(page.items);
        }
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(listing.pages(), 2);
        assert_eq!(
            f.http.requests()[1].url,
            format!("{BASE}/items?limit=1&after=c%201")
        );
    }

    #[test]
    fn a_repeating_cursor_stops_the_listing() {
        let mut f = fixture(&[]);
        f.http.route("GET /items", ok_page(&["a"], Some("c1")));
        f.http
            .route("GET /items?after=c1", ok_page(&["b"], Some("c2")));
        f.http
            .route("GET /items?after=c2", ok_page(&["c"], Some("c1")));
        let error = list_all(&mut f.client).expect_err("stops");
        assert_eq!(
            error,
            ConnectorError::MalformedResponse(
                "page 3 of GET /items repeated a pagination cursor it had already returned \
                 (`c1`); stopping rather than listing the same pages again"
                    .to_owned()
            )
        );
        assert_eq!(f.client.requests(), 3);
    }

    #[test]
    fn a_listing_stops_at_the_page_cap_and_an_empty_cursor_ends_it() {
        let mut f = fixture(&[]);
        f.client.options.max_pages = 2;
        f.http.route("GET /items", ok_page(&["a"], Some("c1")));
        f.http
            .route("GET /items?after=c1", ok_page(&["b"], Some("c2")));
        let error = list_all(&mut f.client).expect_err("stops");
        assert_eq!(
            error,
            ConnectorError::MalformedResponse(
                "GET /items still had more pages after 2; stopping rather than paging without \
                 end"
                .to_owned()
            )
        );
        assert_eq!(f.client.requests(), 2);

        let mut f = fixture(&[]);
        f.http.route("GET /items", ok_page(&["a"], Some("")));
        assert_eq!(list_all(&mut f.client), Ok(vec![vec!["a".to_owned()]]));
    }

    #[test]
    fn a_malformed_page_names_its_number_and_what_came_instead() {
        let mut f = fixture(&[]);
        f.http.route("GET /items", ok_page(&["a"], Some("n")));
        f.http.route(
            "GET /items?after=n",
            Reply::text(200, "<html>\n<body>Sign in</body>"),
        );
        let Err(ConnectorError::MalformedResponse(message)) = list_all(&mut f.client) else {
            panic!("expected a malformed response");
        };
        assert_eq!(
            message,
            "page 2 of GET /items answered something that is not valid JSON (expected value at \
             line 1 column 1): `<html>\\n<body>Sign in</body>`"
        );

        let mut f = fixture(&[]);
        f.http.route("GET /items", Reply::json(json!({"data": []})));
        let Err(ConnectorError::MalformedResponse(message)) = list_all(&mut f.client) else {
            panic!("expected a malformed response");
        };
        assert!(
            message.starts_with(
                "page 1 of GET /items answered JSON of an unexpected shape: missing field \
                 `items`"
            ),
            "{message}"
        );
    }

    #[test]
    fn the_throttle_spaces_request_starts_and_says_so() {
        let mut f = fixture(&[("requests_per_minute", 30.into())]);
        f.http.route("GET /ping", Reply::status(204));
        for _ in 0..3 {
            f.client.send(Request::get("/ping")).expect("answers");
        }
        assert_eq!(f.clock.sleeps(), [Duration::from_secs(2); 2]);
        assert_eq!(f.host.waits(), [(WaitReason::Throttle, 2_000); 2]);
    }

    #[test]
    fn a_429_waits_retry_after_seconds_then_succeeds() {
        let mut f = fixture(&[]);
        f.http.route_sequence(
            "GET /ping",
            [
                Reply::text(429, "slow down")
                    .header("retry-after", "7")
                    .header("x-trace-id", "t-1"),
                Reply::status(200),
            ],
        );
        f.client.send(Request::get("/ping")).expect("answers");
        assert_eq!(f.clock.sleeps(), [Duration::from_secs(7)]);
        assert_eq!(f.host.waits(), [(WaitReason::RetryAfter, millis(7))]);
        assert_eq!(
            f.host.logs_at(LogLevel::Warn),
            ["GET /ping answered 429 (x-trace-id t-1); retry 1 of 5 in 7.0 s"]
        );
        assert_eq!(f.client.requests(), 2);
    }

    #[test]
    fn a_429_waits_until_an_http_date_and_a_long_wait_is_capped() {
        let mut f = fixture(&[]);
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let at = parse_http_date(date).expect("a date");
        f.clock.set_now(at - 12_500);
        f.http.route_sequence(
            "GET /ping",
            [
                Reply::status(429).header("retry-after", date),
                Reply::status(200),
            ],
        );
        f.client.send(Request::get("/ping")).expect("answers");
        // 12.5 s rounds up to whole seconds.
        assert_eq!(f.clock.sleeps(), [Duration::from_secs(13)]);

        let mut f = fixture(&[]);
        f.http.route_sequence(
            "GET /ping",
            [
                Reply::status(503).header("retry-after", "86400"),
                Reply::status(200),
            ],
        );
        f.client.send(Request::get("/ping")).expect("answers");
        assert_eq!(f.clock.sleeps(), [Duration::from_secs(300)]);
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter_then_succeed() {
        let mut f = fixture(&[]);
        f.http.route_sequence(
            "GET /ping",
            [
                Reply::status(500),
                Reply::text(502, "bad gateway"),
                Reply::connection_error("connection refused"),
                Reply::status(503).header("x-trace-id", "t-9"),
                Reply::status(200),
            ],
        );
        f.client.send(Request::get("/ping")).expect("answers");
        let sleeps = f.clock.sleeps();
        assert_eq!(sleeps.len(), 4);
        for (n, sleep) in sleeps.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << n);
            assert!(
                *sleep >= ceiling / 2 && *sleep <= ceiling,
                "retry {n}: {sleep:?}"
            );
        }
        let waits = f.host.waits();
        assert!(
            waits
                .iter()
                .all(|(reason, _)| *reason == WaitReason::Backoff)
        );
        let warnings = f.host.logs_at(LogLevel::Warn);
        assert!(warnings[0].starts_with("GET /ping answered 500; retry 1 of 5 in "));
        assert!(warnings[2].contains("failed: connection refused; retry 3 of 5"));
        assert!(warnings[3].contains("answered 503 (x-trace-id t-9); retry 4 of 5"));
        assert_eq!(f.client.requests(), 5);
    }

    #[test]
    fn backoff_is_capped_at_a_minute() {
        let mut f = fixture(&[]);
        for retry in 7..40 {
            let delay = f.client.backoff(retry);
            assert!(delay >= Duration::from_secs(30) && delay <= Duration::from_secs(60));
        }
    }

    #[test]
    fn exhausted_retries_become_typed_errors() {
        let mut f = fixture(&[("max_retries", 2.into())]);
        f.http.route(
            "GET /ping",
            Reply::json_status(429, json!({"error": "Too Many Requests"}))
                .header("retry-after", "2"),
        );
        assert_eq!(
            f.client.send(Request::get("/ping")),
            Err(ConnectorError::RateLimited(RateLimitedError {
                message: "Tally kept rate-limiting GET /ping after 2 retries: Too Many \
                          Requests; lower requests_per_minute or run later"
                    .to_owned(),
                retry_after_seconds: Some(2),
            }))
        );
        assert_eq!(f.client.requests(), 3);

        let mut f = fixture(&[("max_retries", 1.into())]);
        f.http.route(
            "GET /ping",
            Reply::json_status(
                500,
                json!({"code": "INTERNAL", "message": "boom", "traceId": "abc"}),
            ),
        );
        assert_eq!(
            f.client.send(Request::get("/ping")),
            Err(ConnectorError::Upstream(UpstreamError {
                status: 500,
                message: "Tally failed GET /ping with 500 after 1 retry: INTERNAL: boom".to_owned(),
                trace_id: Some("abc".to_owned()),
            }))
        );

        let mut f = fixture(&[("max_retries", 0.into())]);
        f.http.route("GET /ping", Reply::timeout());
        assert_eq!(
            f.client.send(Request::get("/ping")),
            Err(ConnectorError::Network(
                "could not reach Tally for GET /ping: no answer within \
                 request_timeout_seconds (30 s); the source's [limits] max_request_seconds also \
                 bounds each wait"
                    .to_owned()
            ))
        );
    }

    #[test]
    fn a_request_the_host_denies_is_not_retried() {
        let mut f = fixture(&[]);
        let error = f.client.send(Request::get("/nowhere")).expect_err("fails");
        assert!(
            matches!(&error, ConnectorError::Network(m) if m.starts_with("GET /nowhere failed: the test harness has no route")),
            "{error:?}"
        );
        assert_eq!(f.client.requests(), 1);
        assert_eq!(f.clock.sleeps(), []);
    }

    #[test]
    fn final_statuses_map_to_their_errors_with_hints() {
        let cases = [
            (
                Reply::text(401, "Unauthorized").header("x-trace-id", "t-401"),
                ConnectorError::Unauthorized(
                    "Tally rejected the credential (401) on GET /ping: Unauthorized (trace id \
                     t-401); check the `api_key` secret"
                        .to_owned(),
                ),
            ),
            (
                Reply::json_status(403, json!({"error": {"message": "needs scope items:read"}})),
                ConnectorError::Forbidden(
                    "Tally refused GET /ping (403): needs scope items:read; the credential \
                     lacks a permission it needs"
                        .to_owned(),
                ),
            ),
            (
                Reply::status(404),
                ConnectorError::NotFound(format!(
                    "Tally answered 404 to GET /ping: HTTP 404 with no message; check base_url \
                     (now {BASE})"
                )),
            ),
            (
                Reply::json_status(400, json!({"errors": [{"message": "limit too big"}, "x"]})),
                ConnectorError::Upstream(UpstreamError {
                    status: 400,
                    message: "Tally refused GET /ping with 400: errors: limit too big; x"
                        .to_owned(),
                    trace_id: None,
                }),
            ),
            (
                Reply::status(302).header("location", "https://elsewhere/login"),
                ConnectorError::Upstream(UpstreamError {
                    status: 302,
                    message: "Tally redirected GET /ping with 302 to `https://elsewhere/login`, \
                              and redirects are not followed; check the base URL"
                        .to_owned(),
                    trace_id: None,
                }),
            ),
        ];
        for (reply, expected) in cases {
            let mut f = fixture(&[]);
            f.http.route("GET /ping", reply);
            assert_eq!(f.client.send(Request::get("/ping")), Err(expected));
            assert_eq!(f.client.requests(), 1, "not retried");
        }
    }

    #[test]
    fn a_retry_names_where_its_trace_id_came_from() {
        let mut f = fixture(&[]);
        f.http.route_sequence(
            "GET /ping",
            [
                Reply::json_status(503, json!({"message": "busy", "traceId": "b-1"})),
                Reply::status(200),
            ],
        );
        f.client.send(Request::get("/ping")).expect("answers");
        let warnings = f.host.logs_at(LogLevel::Warn);
        assert!(
            warnings[0].starts_with("GET /ping answered 503 (trace id b-1); retry 1 of 5 in "),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_connector_may_say_what_to_check_after_a_401() {
        let mut f = fixture(&[]);
        f.client.options.credential_hint = Some("the API token (`api_key`)".to_owned());
        f.http.route("GET /ping", Reply::text(401, "Unauthorized"));
        assert_eq!(
            f.client.send(Request::get("/ping")),
            Err(ConnectorError::Unauthorized(
                "Tally rejected the credential (401) on GET /ping: Unauthorized; check the API \
                 token (`api_key`)"
                    .to_owned()
            ))
        );
    }

    #[test]
    fn a_timeout_without_a_timeout_setting_gives_the_seconds() {
        let mut f = fixture(&[("max_retries", 0.into())]);
        f.client.service.timeout_field = None;
        f.http.route("GET /ping", Reply::timeout());
        let Err(ConnectorError::Network(message)) = f.client.send(Request::get("/ping")) else {
            panic!("expected a network error");
        };
        assert!(
            message.contains("no answer within the request timeout of 30 s;"),
            "{message}"
        );
    }

    #[test]
    fn error_bodies_are_quoted_on_one_line_and_cut() {
        let mut f = fixture(&[]);
        let body = format!("line one\nline\ttwo\u{1b}[31m {}", "x".repeat(400));
        f.http.route("GET /ping", Reply::text(418, &body));
        let Err(ConnectorError::Upstream(error)) = f.client.send(Request::get("/ping")) else {
            panic!("expected an upstream error");
        };
        let quoted = error
            .message
            .strip_prefix("Tally refused GET /ping with 418: ")
            .expect("the prefix");
        assert!(
            quoted.starts_with("line one\\nline\\ttwo\\u{1b}[31m xxx"),
            "{quoted}"
        );
        assert!(quoted.ends_with('…'));
        assert!(!error.message.contains(['\n', '\t', '\u{1b}']));
    }

    #[test]
    fn headers_the_host_owns_are_refused_before_sending() {
        let mut f = fixture(&[]);
        f.http.route("GET /ping", Reply::status(200));
        let error = f
            .client
            .send(Request::get("/ping").header("Authorization", "Bearer x"))
            .expect_err("refused");
        assert_eq!(
            error,
            ConnectorError::Network(
                "GET /ping failed: the sandbox forbids the `authorization` header: the host \
                 presents the source's credential itself (see the spec's credential scheme)"
                    .to_owned()
            )
        );
        assert!(f.http.requests().is_empty());
    }

    #[test]
    fn urls_resolve_against_the_base_and_requests_count_by_kind() {
        let mut f = fixture(&[("base_url", "https://api.example/v2/".into())]);
        f.http.route("GET /v2/items/7", Reply::json(json!({})));
        f.http.route("POST /v2/search", Reply::json(json!({})));
        f.http.route("GET /v2/items", Reply::json(json!({})));
        f.http.route("GET /v2", Reply::json(json!({})));
        let _: serde_json::Value = f.client.get_json("items/7").expect("answers");
        let _: serde_json::Value = f
            .client
            .json(
                Request::post("/search")
                    .json_body(&json!({"q": 1}))
                    .kind("search"),
            )
            .expect("answers");
        let _: serde_json::Value = f
            .client
            .get_json("https://api.example/v2/items?page=2")
            .expect("answers");
        let _: serde_json::Value = f
            .client
            .get_json("https://api.example/v2")
            .expect("answers");
        let requests = f.http.requests();
        assert_eq!(requests[0].url, "https://api.example/v2/items/7");
        assert_eq!(requests[1].body_json(), Some(json!({"q": 1})));
        assert_eq!(requests[1].header("content-type"), Some("application/json"));
        assert_eq!(requests[2].url, "https://api.example/v2/items?page=2");
        let counts: Vec<(&str, u32)> = f
            .client
            .request_counts()
            .iter()
            .map(|c| (c.kind.as_str(), c.count))
            .collect();
        assert_eq!(counts, [("items", 2), ("search", 1), ("root", 1)]);
        assert_eq!(f.client.requests(), 4);
    }

    #[test]
    fn a_relative_request_without_a_base_url_names_the_field() {
        let mut f = fixture(&[]);
        f.client.options.base_url = None;
        assert_eq!(
            f.client.send(Request::get("/x")),
            Err(ConnectorError::invalid_config(
                "base_url",
                "is not set, so the connector cannot tell where to send `/x`"
            ))
        );
    }

    #[test]
    fn options_come_from_the_standard_settings_and_are_checked() {
        let f = fixture(&[
            ("requests_per_minute", 120.into()),
            ("request_timeout_seconds", 5.into()),
            ("max_retries", 0.into()),
        ]);
        assert_eq!(
            f.client.options(),
            &HttpOptions {
                base_url: Some(BASE.to_owned()),
                requests_per_minute: 120,
                timeout: Duration::from_secs(5),
                max_retries: 0,
                ..HttpOptions::default()
            }
        );
        let config = Config::new(
            vec![ConfigEntry {
                name: "max_retries".to_owned(),
                value: 99.into(),
            }],
            &spec(),
        );
        assert_eq!(
            HttpOptions::from_config(&config),
            Err(ConnectorError::invalid_config(
                "max_retries",
                "is `99`; expected 0 to 20"
            ))
        );
    }

    #[test]
    fn urls_split_and_escapes_round_trip() {
        assert_eq!(
            split_url("https://h.example:8443/a/b?c=d#frag"),
            Some(UrlParts {
                scheme: "https".to_owned(),
                authority: "h.example:8443".to_owned(),
                path_with_query: "/a/b?c=d".to_owned(),
            })
        );
        assert_eq!(
            split_url("http://h?x=1").map(|p| p.path_with_query),
            Some("/?x=1".to_owned())
        );
        assert_eq!(
            split_url("http://h").map(|p| p.path_with_query),
            Some("/".to_owned())
        );
        assert_eq!(split_url("/relative"), None);
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a b=c&d/é"), "a%20b%3Dc%26d%2F%C3%A9");
        assert_eq!(
            percent_decode("a%20b%3Dc%26d%2F%C3%A9+x%zz%"),
            "a b=c&d/é x%zz%"
        );
    }
}
