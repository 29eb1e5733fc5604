//! What a connector may do on the network, checked on every outgoing request it makes.
//!
//! A connector reaches only the origins (scheme, host and port) the operator granted: the source
//! file's `[network] allow`, those recorded when the component was installed, and, for the bundled
//! Hex connector, the origin of its `base_url` setting. Nothing a component says about itself
//! grants anything. The check is made on the request actually being sent (not on a URL the guest
//! announced earlier), before any DNS lookup. Credentials are added here, on the host side, and
//! only to requests to a granted origin, so a connector never holds them and cannot set the
//! header that carries them itself ([`Credential`]: a bearer token, a header of the connector's
//! choosing, HTTP basic, or a query parameter, which no URL the host logs shows). Redirects are not followed at all: the guest sees the 3xx
//! response, and a follow-up request to another origin is refused like any other.
//!
//! Responses are guarded on their way back: a body larger than the source's
//! `limits.max_response_bytes` is cut off with an error (and ends the run), and the credential is
//! masked wherever a server reflects it verbatim (headers, body, trailers), in every form the host
//! sent it (the secret itself, basic's base64 form, a query parameter's percent-encoded one), so
//! that even an echoing endpoint at the allowed origin does not hand it to the connector.
//!
//! The host owns the response's encoding: it asks for `identity` on every request (the guest may
//! not set `Accept-Encoding`), decodes a `gzip` or `deflate` body that comes back anyway (so that
//! the limit counts, and the mask sees, what the connector gets), and refuses any other
//! encoding. A request that outlives `limits.max_request_total_seconds`, from sending it to the
//! end of its body, is cut off: a server dripping a byte a second cannot hold a run until its
//! deadline.
//!
//! Allowed requests go out through the run's keep-alive connections (`http_pool`).
//!
//! What the run's caller may want to show of the traffic (each request, and each wait a server
//! asks for with `Retry-After`) goes to the call's [`Traffic`], when it has one.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use http_body::{Body, Frame};
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

use super::budget::Breach;
use super::http_pool::ConnectionPool;
use crate::contract::WaitReason;
use crate::secret::{Secret, redact};
use crate::text::inert;

/// Credentials shorter than this are not masked in responses: masking a short, guessable string
/// would corrupt ordinary data more often than it would hide a secret. (They are still scrubbed
/// from logs and errors.)
pub const MIN_MASKED_SECRET_BYTES: usize = 8;

/// An origin a connector may reach: an `http` or `https` scheme, a host and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

/// Why an outgoing request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressDenied {
    /// The URL is not absolute.
    #[error("the URL has no scheme or host")]
    NotAbsolute,
    /// A scheme other than `http` and `https` (`ftp://host:21`).
    #[error("only http and https URLs are allowed")]
    Scheme,
    /// The URL carries `user:password@`, which can disguise the real host.
    #[error("the URL carries user information (`…@`), which is never allowed")]
    UserInfo,
    /// Something after the host that is not a port number (`host:x`), which would otherwise
    /// pass for the scheme's default port.
    #[error("the port is not a number from 0 to 65535")]
    Port,
    /// The operator granted the connector no origin: it has no network at all.
    #[error("no origin is granted to this connector, so it may not make requests")]
    NoNetwork,
    /// An origin that was not granted.
    #[error("{}", other_origin(.requested, .allowed))]
    OtherOrigin {
        /// The origin of the refused request.
        requested: String,
        /// The origins granted.
        allowed: Vec<String>,
    },
}

fn other_origin(requested: &str, allowed: &[String]) -> String {
    match allowed {
        [one] => format!("{requested} is not the allowed origin {one}"),
        many => format!(
            "{requested} is none of the allowed origins {}",
            many.join(", ")
        ),
    }
}

/// Why a text cannot name an origin. The text itself is never quoted: it may have come from the
/// environment, where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not a URL at all.
    #[error("it is not a valid URL ({0})")]
    Malformed(String),
    /// A URL, but not one a connector may reach.
    #[error(transparent)]
    Refused(#[from] EgressDenied),
    /// A grant with a path or query: a grant is for a whole origin.
    #[error("an origin is scheme://host[:port], without a path or query")]
    NotAnOrigin,
}

impl Origin {
    /// The origin of an absolute `http` or `https` URL.
    pub fn of_url(url: &str) -> Result<Self, OriginError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| OriginError::Malformed(e.to_string()))?;
        Ok(Self::of_uri(&uri)?)
    }

    /// An origin an operator grants (`[network] allow`, `connectors install --allow-origin`):
    /// `scheme://host[:port]`, with no path other than `/`.
    pub fn grant(text: &str) -> Result<Self, OriginError> {
        let uri: Uri = text
            .parse()
            .map_err(|e: http::uri::InvalidUri| OriginError::Malformed(e.to_string()))?;
        let origin = Self::of_uri(&uri)?;
        let path = uri.path_and_query().map_or("", |pq| pq.as_str());
        if !(path.is_empty() || path == "/") {
            return Err(OriginError::NotAnOrigin);
        }
        Ok(origin)
    }

    fn of_uri(uri: &Uri) -> Result<Self, EgressDenied> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(EgressDenied::NotAbsolute);
        };
        // Checked before the port: `ftp://host:21` names a port, and must not pass for one.
        let default_port = if *scheme == Scheme::HTTPS {
            443
        } else if *scheme == Scheme::HTTP {
            80
        } else {
            return Err(EgressDenied::Scheme);
        };
        if authority.as_str().contains('@') {
            return Err(EgressDenied::UserInfo);
        }
        let after_host = &authority.as_str()[authority.host().len()..];
        let port = match authority.port_u16() {
            Some(port) => port,
            None if after_host.is_empty() => default_port,
            None => return Err(EgressDenied::Port),
        };
        Ok(Self {
            scheme: scheme.clone(),
            host: normalise_host(authority),
            port,
        })
    }
}

/// Hosts compare case-insensitively and without the brackets of an IPv6 literal.
fn normalise_host(authority: &Authority) -> String {
    authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// A credential the host presents on the requests it lets through, in the form it sends it,
/// with every form of its secret that a response, a log line or an error must not show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    carrier: Carrier,
    /// Every form of the secret the host sends, longest first (see [`Credential::secrets`]).
    secrets: Vec<Secret>,
}

/// Where a credential travels.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Carrier {
    /// A header the host sets, with its whole value.
    Header(HeaderName, Secret),
    /// `name=value`, percent-encoded, appended to every request's query.
    Query(Secret),
}

/// A credential the host cannot send. Never quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The header name is not a valid header name.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// The header is one a credential may never travel in.
    #[error("a credential may not travel in the `{0}` header")]
    ReservedHeader(String),
    /// The header value the secret makes is not a valid header value.
    #[error("the secret contains characters not allowed in a header")]
    HeaderValue,
    /// The query parameter's name is empty.
    #[error("the query parameter's name is empty")]
    EmptyParameter,
}

impl Credential {
    /// `Authorization: Bearer <secret>`.
    pub fn bearer(secret: &Secret) -> Result<Self, CredentialError> {
        Self::header("authorization", "Bearer ", secret)
    }

    /// `<name>: <prefix><secret>`. `authorization` and `cookie` are allowed (the guest may not set
    /// them itself anyway); `host`, `proxy-*` and the headers the host owns are not.
    pub fn header(name: &str, prefix: &str, secret: &Secret) -> Result<Self, CredentialError> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| CredentialError::HeaderName(name.to_owned()))?;
        let reserved = header == http::header::HOST
            || header.as_str().starts_with("proxy-")
            || header == http::header::ACCEPT_ENCODING
            || (DEFAULT_FORBIDDEN_HEADERS.contains(&header)
                && header != http::header::AUTHORIZATION
                && header != http::header::COOKIE);
        if reserved {
            return Err(CredentialError::ReservedHeader(header.as_str().to_owned()));
        }
        let value = format!("{prefix}{}", secret.expose());
        HeaderValue::from_str(&value).map_err(|_| CredentialError::HeaderValue)?;
        Ok(Self {
            carrier: Carrier::Header(header, Secret::new(value)),
            secrets: vec![secret.clone()],
        })
    }

    /// `Authorization: Basic base64(<username>:<password>)`. The user name is not secret (it may
    /// be a setting); the password and the encoded pair are.
    pub fn basic(username: &str, password: &Secret) -> Result<Self, CredentialError> {
        let encoded = base64(format!("{username}:{}", password.expose()).as_bytes());
        let mut credential = Self::header("authorization", "Basic ", &Secret::new(encoded))?;
        credential.secrets.push(password.clone());
        credential.sort();
        Ok(credential)
    }

    /// `?<parameter>=<secret>` (percent-encoded), appended to every request's URL.
    pub fn query(parameter: &str, secret: &Secret) -> Result<Self, CredentialError> {
        if parameter.is_empty() {
            return Err(CredentialError::EmptyParameter);
        }
        let encoded = percent_encode(secret.expose());
        let mut credential = Self {
            carrier: Carrier::Query(Secret::new(format!(
                "{}={encoded}",
                percent_encode(parameter)
            ))),
            secrets: vec![secret.clone()],
        };
        if encoded != secret.expose() {
            credential.secrets.push(Secret::new(encoded));
        }
        credential.sort();
        Ok(credential)
    }

    fn sort(&mut self) {
        // Longest first, so that redacting one form never leaves part of a longer one behind.
        self.secrets
            .sort_by_key(|secret| std::cmp::Reverse(secret.expose().len()));
    }

    /// Every form of the secret that the host sends: for redaction and masking.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// The header the credential travels in, if it does: the guest may not set it.
    pub fn header_name(&self) -> Option<&HeaderName> {
        match &self.carrier {
            Carrier::Header(name, _) => Some(name),
            Carrier::Query(_) => None,
        }
    }

    /// Adds the credential to `request`.
    fn apply(&self, request: &mut http::Request<WasiBody>) -> Result<(), CredentialError> {
        match &self.carrier {
            Carrier::Header(name, value) => {
                let mut value = HeaderValue::from_str(value.expose())
                    .map_err(|_| CredentialError::HeaderValue)?;
                value.set_sensitive(true);
                request.headers_mut().insert(name.clone(), value);
            }
            Carrier::Query(pair) => {
                let mut parts = request.uri().clone().into_parts();
                let path_and_query = parts.path_and_query.as_ref().map_or_else(
                    || format!("/?{}", pair.expose()),
                    |pq| match pq.query() {
                        Some(query) if !query.is_empty() => {
                            format!("{}?{query}&{}", pq.path(), pair.expose())
                        }
                        _ => format!("{}?{}", pq.path(), pair.expose()),
                    },
                );
                parts.path_and_query = Some(
                    path_and_query
                        .parse()
                        .map_err(|_| CredentialError::HeaderValue)?,
                );
                *request.uri_mut() =
                    Uri::from_parts(parts).map_err(|_| CredentialError::HeaderValue)?;
            }
        }
        Ok(())
    }
}

/// Standard base64 with padding (RFC 4648), as HTTP basic authentication writes its pair.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` with every byte but the URL-unreserved ones (`A-Z a-z 0-9 - . _ ~`) percent-encoded.
fn percent_encode(text: &str) -> String {
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

/// The network policy of one run.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// The granted origins; empty means no network at all.
    allowed: Vec<Origin>,
    credential: Option<Credential>,
    max_request_time: Duration,
}

impl EgressPolicy {
    /// A policy allowing the `allowed` origins (none: no network), adding `credential` to
    /// requests to them, and bounding each request's connect, first-byte and between-bytes waits
    /// by `max_request_time`.
    pub fn new(
        allowed: Vec<Origin>,
        credential: Option<Credential>,
        max_request_time: Duration,
    ) -> Self {
        Self {
            allowed,
            credential,
            max_request_time,
        }
    }

    /// Every form of the credential's secret the host sends (none without a credential): what
    /// must never reach a log, an error or the connector.
    pub fn secrets(&self) -> &[Secret] {
        match &self.credential {
            Some(credential) => credential.secrets(),
            None => &[],
        }
    }

    /// Whether a request to `uri` may leave the sandbox: only to a granted origin.
    pub fn check(&self, uri: &Uri) -> Result<(), EgressDenied> {
        if self.allowed.is_empty() {
            return Err(EgressDenied::NoNetwork);
        }
        let requested = Origin::of_uri(uri)?;
        if self.allowed.contains(&requested) {
            Ok(())
        } else {
            Err(EgressDenied::OtherOrigin {
                requested: requested.to_string(),
                allowed: self.allowed.iter().map(Origin::to_string).collect(),
            })
        }
    }

    /// The request's timeouts, each at most the policy's bound. A guest that set only a connect
    /// timeout (waki offers nothing else) gets that budget for the other waits too: a request
    /// must never hang past what either side asked for.
    fn clamp(&self, options: Option<RequestOptions>) -> RequestOptions {
        let options = options.unwrap_or_default();
        let bound = |asked: Option<Duration>| {
            Some(asked.map_or(self.max_request_time, |d| d.min(self.max_request_time)))
        };
        let fallback = options.connect_timeout;
        RequestOptions {
            connect_timeout: bound(options.connect_timeout),
            first_byte_timeout: bound(options.first_byte_timeout.or(fallback)),
            between_bytes_timeout: bound(options.between_bytes_timeout.or(fallback)),
        }
    }
}

/// The first request of a call that the host cut off at `limits.max_request_total_seconds`,
/// said in a line. Unlike a [`Breach`], it does not end the call: the connector sees a timeout
/// and may retry; if it fails in the end, its error is told with this.
#[derive(Debug, Clone, Default)]
pub struct CutOff(Breach);

impl CutOff {
    /// Records `what`, unless a request was cut off already (the first stays).
    pub fn record(&self, what: String) {
        self.0.record(what);
    }

    /// The first request cut off, if any.
    pub fn reason(&self) -> Option<&str> {
        self.0.reason()
    }
}

/// Who is told about a call's traffic as it happens: each request sent, and each wait the host
/// sees the connector must make. Called from the call's threads; it must not block.
pub trait Traffic: Send + Sync {
    /// A request passed the policy and is being sent.
    fn requested(&self);
    /// The connector must wait `duration` before it goes on: for 0.1 connectors, a 429 or 503
    /// whose `Retry-After` said so (the connector sleeps it itself).
    fn waiting(&self, reason: WaitReason, duration: Duration);
}

/// How long a `Retry-After` value asks to wait as of `now`: delay-seconds, or an HTTP-date (a
/// date past is no wait). `None` for a value that is neither.
pub fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

/// The `wasi:http` hooks of one run: the policy and the credential, the response budget, the
/// time budget of each request, and the run's keep-alive connections.
pub struct EgressHooks {
    policy: EgressPolicy,
    max_response_bytes: u64,
    max_request_total: Duration,
    breach: Breach,
    cut_off: CutOff,
    pool: Arc<ConnectionPool>,
    traffic: Option<Arc<dyn Traffic>>,
}

impl EgressHooks {
    /// Hooks enforcing `policy`, cutting off any response body past `max_response_bytes`
    /// (recorded in `breach`) and any request that takes longer than `max_request_total` from
    /// sending it to the end of its body (recorded in `cut_off`).
    pub fn new(
        policy: EgressPolicy,
        max_response_bytes: u64,
        max_request_total: Duration,
        breach: Breach,
        cut_off: CutOff,
    ) -> Self {
        Self {
            policy,
            max_response_bytes,
            max_request_total,
            breach,
            cut_off,
            pool: Arc::new(ConnectionPool::default()),
            traffic: None,
        }
    }

    /// These hooks, telling `traffic` (when there is one) about each request and wait.
    pub fn watched_by(mut self, traffic: Option<Arc<dyn Traffic>>) -> Self {
        self.traffic = traffic;
        self
    }

    /// `uri` as the host's log and errors show it: without its query, the credential redacted
    /// (a connector that got hold of it could put it in the path or the host name) and inert.
    fn shown(&self, uri: &Uri) -> String {
        inert(&redact(self.policy.secrets(), &without_query(uri))).into_owned()
    }

    /// Whether the guest may not set `name`: see [`forbidden`], and the credential's own header.
    fn forbids(&self, name: &HeaderName) -> bool {
        forbidden(name)
            || self
                .policy
                .credential
                .as_ref()
                .and_then(Credential::header_name)
                == Some(name)
    }
}

/// Headers a guest may never set: the defaults, the credential headers the host owns, and
/// `Accept-Encoding`, since the host decides which encodings it can unpack and mask.
fn forbidden(name: &HeaderName) -> bool {
    *name == http::header::AUTHORIZATION
        || *name == http::header::COOKIE
        || *name == http::header::ACCEPT_ENCODING
        || DEFAULT_FORBIDDEN_HEADERS.contains(name)
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        self.forbids(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let own = self
            .policy
            .credential
            .as_ref()
            .and_then(Credential::header_name)
            .cloned();
        Arc::new(move |name: &HeaderName| forbidden(name) || own.as_ref() == Some(name))
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let url = self.shown(request.uri());
        if let Err(reason) = self.policy.check(request.uri()) {
            let reason = inert(&redact(self.policy.secrets(), &reason.to_string())).into_owned();
            tracing::warn!(%url, %reason, "refused an outgoing request");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        // The host decodes what it asked for (nothing) and the two encodings it knows; asking
        // for identity keeps every well-behaved server's answer as it is.
        request.headers_mut().insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        // Past the check, the request goes to a granted origin: the only place the credential may.
        if let Some(credential) = &self.policy.credential
            && let Err(error) = credential.apply(&mut request)
        {
            tracing::error!("could not add the credential to a request to {url}: {error}");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = self.policy.clamp(options);
        let deadline = tokio::time::Instant::now() + self.max_request_total;
        let guard = ResponseGuard {
            url,
            limit: self.max_response_bytes,
            breach: self.breach.clone(),
            total: self.max_request_total,
            deadline,
            cut_off: self.cut_off.clone(),
            mask: self
                .policy
                .secrets()
                .iter()
                .map(|secret| secret.expose().as_bytes().to_vec())
                .filter(|secret| secret.len() >= MIN_MASKED_SECRET_BYTES)
                .collect(),
        };
        let pool = Arc::clone(&self.pool);
        let traffic = self.traffic.clone();
        if let Some(traffic) = &traffic {
            traffic.requested();
        }
        Box::new(async move {
            let response =
                match tokio::time::timeout_at(deadline, pool.send(request, &options)).await {
                    Ok(response) => response?,
                    Err(_elapsed) => return Err(guard.cut_off()),
                };
            if let Some(traffic) = &traffic
                && matches!(response.status().as_u16(), 429 | 503)
                && let Some(wait) = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| retry_after(value, jiff::Timestamp::now()))
            {
                traffic.waiting(WaitReason::RetryAfter, wait);
            }
            let response = guard.check(response)?;
            // The pool drives its connections itself.
            let io = async { Ok(()) };
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// What is checked on a response before the connector sees it.
struct ResponseGuard {
    /// The request's URL as shown ([`EgressHooks::shown`]).
    url: String,
    limit: u64,
    breach: Breach,
    /// `limits.max_request_total_seconds`, and when it runs out for this request.
    total: Duration,
    deadline: tokio::time::Instant,
    cut_off: CutOff,
    /// Every form of the credential's secret long enough to mask (none: nothing to mask).
    mask: Vec<Vec<u8>>,
}

impl ResponseGuard {
    /// Records that the request ran out of its total time, and the error the connector gets: a
    /// timeout, as from any slow server.
    fn cut_off(&self) -> HttpError {
        let what = format!(
            "the host cut off the request to {} after limits.max_request_total_seconds ({} s)",
            self.url,
            self.total.as_secs()
        );
        tracing::warn!("{what}");
        self.cut_off.record(what);
        HttpError::HttpResponseTimeout
    }

    /// Refuses a response that announces a body past the limit or an encoding the host cannot
    /// decode; masks the credential in the headers and wraps the body so that it is decoded,
    /// counted and masked as it streams, within the request's total time.
    fn check(
        self,
        response: http::Response<WasiBody>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let announced = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        if let Some(length) = announced
            && length > self.limit
        {
            let reason = format!(
                "a response from {} announced {length} bytes, more than limits.max_response_bytes ({})",
                self.url, self.limit
            );
            tracing::warn!("{reason}");
            self.breach.record(reason);
            return Err(HttpError::HttpResponseBodySize(Some(length)));
        }
        let (mut parts, body) = response.into_parts();
        let decoder = match content_codings(&parts.headers).as_slice() {
            [] => None,
            [coding] if Decoder::new(coding).is_some() => Decoder::new(coding),
            codings => {
                let codings = inert(&codings.join(", ")).into_owned();
                tracing::warn!(
                    "refused a response from {}: it is encoded with `{codings}`, which euno-host \
                     does not decode (it asks for identity, and decodes only gzip and deflate)",
                    self.url
                );
                return Err(HttpError::HttpResponseContentCoding(Some(codings)));
            }
        };
        if decoder.is_some() {
            // The connector gets the decoded body: these would describe the encoded one.
            parts.headers.remove(http::header::CONTENT_ENCODING);
            parts.headers.remove(http::header::CONTENT_LENGTH);
        }
        for mask in &self.mask {
            mask_headers(&mut parts.headers, mask);
        }
        let body = GuardedBody {
            inner: body,
            received: 0,
            finished: false,
            pending_trailers: None,
            masker: (!self.mask.is_empty()).then(|| Masker::many(self.mask.clone())),
            decoder,
            deadline: Box::pin(tokio::time::sleep_until(self.deadline)),
            guard: self,
        };
        Ok(http::Response::from_parts(
            parts,
            http_body_util::BodyExt::boxed_unsync(body),
        ))
    }
}

/// Replaces every header value that contains the credential with one where it is masked.
fn mask_headers(headers: &mut HeaderMap, secret: &[u8]) {
    for value in headers.values_mut() {
        let bytes = value.as_bytes();
        if memchr::memmem::find(bytes, secret).is_some() {
            let mut masked = bytes.to_vec();
            mask_all(&mut masked, secret);
            if let Ok(new) = HeaderValue::from_bytes(&masked) {
                *value = new;
            }
        }
    }
}

/// Overwrites each occurrence of `secret` in `buf` with as many `*`, so lengths stay the same.
fn mask_all(buf: &mut [u8], secret: &[u8]) {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&buf[from..], secret) {
        let start = from + at;
        buf[start..start + secret.len()].fill(b'*');
        from = start + secret.len();
    }
}

/// Masks a credential's forms in a byte stream that arrives in arbitrary pieces: the last
/// `longest.len() - 1` bytes of each piece are held back until the next one shows whether they
/// begin an occurrence (of any form: a shorter one that begins in the held bytes ends within the
/// next piece too).
#[derive(Debug)]
struct Masker {
    secrets: Vec<Vec<u8>>,
    held: Vec<u8>,
}

impl Masker {
    #[cfg(test)]
    fn new(secret: Vec<u8>) -> Self {
        Self::many(vec![secret])
    }

    /// A masker of every one of `secrets` (none empty).
    fn many(secrets: Vec<Vec<u8>>) -> Self {
        Self {
            secrets,
            held: Vec::new(),
        }
    }

    /// The bytes of `piece` (after those held back) that can be released, masked.
    fn push(&mut self, piece: &[u8]) -> Bytes {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(piece);
        for secret in &self.secrets {
            mask_all(&mut buf, secret);
        }
        let longest = self.secrets.iter().map(Vec::len).max().unwrap_or(1);
        let keep = (longest - 1).min(buf.len());
        self.held = buf.split_off(buf.len() - keep);
        Bytes::from(buf)
    }

    /// The bytes still held back, at the end of the stream.
    fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.held))
    }
}

/// The content codings a response says its body is in, in the order applied, lowercase, without
/// `identity`.
fn content_codings(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|coding| !coding.is_empty() && coding != "identity")
        .collect()
}

/// The compressed input decoded in one step: a deflate stream can expand about a thousandfold,
/// so a step yields at most a few MiB before the limit is checked again.
const DECODE_STEP: usize = 4 * 1024;

/// Decodes a `gzip` or `deflate` body as it streams.
struct Decoder {
    coding: Coding,
    /// Whether any encoded byte came: an empty body (a 204, a `HEAD`) is empty in any encoding.
    fed: bool,
}

enum Coding {
    /// `gzip` (and its old name `x-gzip`): checked against its CRC and length at the end.
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    /// `deflate`, which HTTP defines as the zlib format.
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    /// A decoder for `coding`, if the host can decode it.
    fn new(coding: &str) -> Option<Self> {
        let coding = match coding {
            "gzip" | "x-gzip" => Coding::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            "deflate" => Coding::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            _ => return None,
        };
        Some(Self { coding, fed: false })
    }

    fn name(&self) -> &'static str {
        match self.coding {
            Coding::Gzip(_) => "gzip",
            Coding::Deflate(_) => "deflate",
        }
    }

    /// Decodes `piece`, [`DECODE_STEP`] bytes at a time, and returns what came out; stops early
    /// once that is more than `room` bytes, which the caller then refuses.
    fn push(&mut self, piece: &[u8], room: u64) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for step in piece.chunks(DECODE_STEP) {
            self.fed = true;
            let decoded = match &mut self.coding {
                Coding::Gzip(decoder) => {
                    decoder.write_all(step)?;
                    decoder.get_mut()
                }
                Coding::Deflate(decoder) => {
                    decoder.write_all(step)?;
                    decoder.get_mut()
                }
            };
            out.append(decoded);
            if out.len() as u64 > room {
                break;
            }
        }
        Ok(out)
    }

    /// What is left at the end of the body; an error if the body ended early or was corrupt.
    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        if !self.fed {
            return Ok(Vec::new());
        }
        match &mut self.coding {
            Coding::Gzip(decoder) => {
                decoder.try_finish()?;
                Ok(std::mem::take(decoder.get_mut()))
            }
            Coding::Deflate(decoder) => {
                decoder.try_finish()?;
                Ok(std::mem::take(decoder.get_mut()))
            }
        }
    }
}

/// A response body decoded, counted against the limit and masked as it streams to the
/// connector, and cut off when the request's total time runs out.
struct GuardedBody {
    inner: WasiBody,
    guard: ResponseGuard,
    /// Bytes handed on so far (decoded ones, for an encoded body).
    received: u64,
    finished: bool,
    pending_trailers: Option<Frame<Bytes>>,
    masker: Option<Masker>,
    decoder: Option<Decoder>,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl GuardedBody {
    /// One piece of the body as the connector gets it: decoded, counted, masked.
    fn admit(&mut self, data: Bytes) -> Result<Bytes, HttpError> {
        let data = match &mut self.decoder {
            Some(decoder) => {
                let room = self.guard.limit.saturating_sub(self.received);
                let name = decoder.name();
                Bytes::from(
                    decoder
                        .push(&data, room)
                        .map_err(|error| self.undecodable(name, &error))?,
                )
            }
            None => data,
        };
        self.count(data.len())?;
        Ok(match &mut self.masker {
            Some(masker) => masker.push(&data),
            None => data,
        })
    }

    /// The end of the body: what the decoder and the masker still hold.
    fn finish(&mut self) -> Result<Bytes, HttpError> {
        let mut rest = Vec::new();
        if let Some(decoder) = self.decoder.take() {
            let name = decoder.name();
            let tail = decoder
                .finish()
                .map_err(|error| self.undecodable(name, &error))?;
            self.count(tail.len())?;
            match &mut self.masker {
                Some(masker) => rest.extend_from_slice(&masker.push(&tail)),
                None => rest = tail,
            }
        }
        if let Some(masker) = &mut self.masker {
            rest.extend_from_slice(&masker.finish());
        }
        Ok(Bytes::from(rest))
    }

    /// Counts `len` more bytes, and fails the body (and the call) past the limit.
    fn count(&mut self, len: usize) -> Result<(), HttpError> {
        self.received += len as u64;
        if self.received <= self.guard.limit {
            return Ok(());
        }
        self.finished = true;
        let reason = format!(
            "a response from {} was larger than limits.max_response_bytes ({} bytes)",
            self.guard.url, self.guard.limit
        );
        tracing::warn!("{reason}; cut off");
        self.guard.breach.record(reason);
        Err(HttpError::HttpResponseBodySize(Some(self.received)))
    }

    fn undecodable(&mut self, coding: &str, error: &std::io::Error) -> HttpError {
        self.finished = true;
        tracing::warn!(
            "the {coding} body of a response from {} could not be decoded: {error}",
            self.guard.url
        );
        HttpError::HttpResponseContentCoding(Some(format!("{coding} (corrupt or cut short)")))
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        if let Some(trailers) = this.pending_trailers.take() {
            return Poll::Ready(Some(Ok(trailers)));
        }
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            // Checked before every frame, not only while waiting: a server that drips a byte
            // at a time is never quiet long enough for the between-bytes timeout.
            if this.deadline.as_mut().poll(cx).is_ready() {
                this.finished = true;
                return Poll::Ready(Some(Err(this.guard.cut_off())));
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.finished = true;
                    return match this.finish() {
                        Ok(rest) if rest.is_empty() => Poll::Ready(None),
                        Ok(rest) => Poll::Ready(Some(Ok(Frame::data(rest)))),
                        Err(error) => Poll::Ready(Some(Err(error))),
                    };
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => match this.admit(data) {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Err(error) => {
                        this.finished = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                Err(frame) => {
                    let trailers = match frame.into_trailers() {
                        Ok(mut trailers) => {
                            for mask in &this.guard.mask {
                                mask_headers(&mut trailers, mask);
                            }
                            Frame::trailers(trailers)
                        }
                        Err(other) => other,
                    };
                    let held = match this.finish() {
                        Ok(held) => held,
                        Err(error) => return Poll::Ready(Some(Err(error))),
                    };
                    if held.is_empty() {
                        return Poll::Ready(Some(Ok(trailers)));
                    }
                    this.pending_trailers = Some(trailers);
                    return Poll::Ready(Some(Ok(Frame::data(held))));
                }
            }
        }
    }
}

/// The URL as logged: query strings may carry cursors or worse, and are not needed to say what
/// was refused.
fn without_query(uri: &Uri) -> String {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = parts.path_and_query.map(|pq| {
        pq.path()
            .parse()
            .expect("a path taken from a valid URI is a valid path")
    });
    Uri::from_parts(parts).map_or_else(|_| "<invalid URL>".to_owned(), |u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: &str) -> EgressPolicy {
        EgressPolicy::new(
            vec![Origin::of_url(base).unwrap()],
            None,
            Duration::from_secs(30),
        )
    }

    fn allowed(policy: &EgressPolicy, url: &str) -> bool {
        policy.check(&url.parse().unwrap()).is_ok()
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(retry_after("10", now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 10:00:12 GMT", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 09:59:00 GMT", now),
            Some(Duration::ZERO),
            "a date past is no wait"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }

    #[test]
    fn only_the_base_urls_scheme_host_and_port_pass() {
        let p = policy("https://app.hex.tech/api/v1");
        assert!(allowed(
            &p,
            "https://app.hex.tech/api/v1/projects?limit=100"
        ));
        assert!(allowed(&p, "https://APP.hex.tech:443/anything"));
        assert!(!allowed(&p, "http://app.hex.tech/api/v1/projects"));
        assert!(!allowed(&p, "https://app.hex.tech:8443/api/v1/projects"));
        assert!(!allowed(&p, "https://evil.example/api/v1/projects"));
        assert!(!allowed(&p, "https://app.hex.tech.evil.example/"));
        assert!(!allowed(&p, "https://1.2.3.4/"));
    }

    #[test]
    fn userinfo_is_refused_even_for_the_right_host() {
        let p = policy("http://127.0.0.1:8080/api/v1");
        assert_eq!(
            p.check(&"http://evil@127.0.0.1:8080/".parse().unwrap()),
            Err(EgressDenied::UserInfo)
        );
        assert!(!allowed(&p, "http://127.0.0.1:8080@evil.example/"));
    }

    #[test]
    fn ipv6_literals_compare_without_brackets() {
        let p = policy("http://[::1]:9000/");
        assert!(allowed(&p, "http://[::1]:9000/x"));
        assert!(!allowed(&p, "http://[::2]:9000/x"));
    }

    #[test]
    fn no_grant_means_no_network() {
        let p = EgressPolicy::new(Vec::new(), None, Duration::from_secs(1));
        assert_eq!(
            p.check(&"http://127.0.0.1/".parse().unwrap()),
            Err(EgressDenied::NoNetwork)
        );
    }

    #[test]
    fn every_granted_origin_passes_and_nothing_else() {
        let p = EgressPolicy::new(
            vec![
                Origin::grant("https://api.example.com").unwrap(),
                Origin::grant("http://127.0.0.1:8080/").unwrap(),
            ],
            None,
            Duration::from_secs(1),
        );
        assert!(allowed(&p, "https://api.example.com/v1/items"));
        assert!(allowed(&p, "http://127.0.0.1:8080/x"));
        let refused = p.check(&"https://evil.example/".parse().unwrap());
        assert_eq!(
            refused.unwrap_err().to_string(),
            "https://evil.example:443 is none of the allowed origins \
             https://api.example.com:443, http://127.0.0.1:8080"
        );
    }

    #[test]
    fn only_http_and_https_are_origins_even_with_a_port() {
        for url in [
            "ftp://127.0.0.1:21/",
            "ftp://x:21",
            "file://host:1/etc",
            "ws://h:80/",
        ] {
            assert_eq!(
                Origin::of_url(url),
                Err(OriginError::Refused(EgressDenied::Scheme)),
                "{url}"
            );
            assert!(Origin::grant(url).is_err(), "{url}");
        }
        let p = policy("http://127.0.0.1:21/");
        assert_eq!(
            p.check(&"ftp://127.0.0.1:21/".parse().unwrap()),
            Err(EgressDenied::Scheme)
        );
    }

    #[test]
    fn a_port_that_is_not_a_number_is_refused_not_defaulted() {
        for url in [
            "https://h:x/",
            "https://h:/",
            "https://h:99999/",
            "http://[::1]:y/",
        ] {
            assert_eq!(
                Origin::of_url(url),
                Err(OriginError::Refused(EgressDenied::Port)),
                "{url}"
            );
        }
        assert_eq!(
            Origin::of_url("https://h:080/").unwrap().to_string(),
            "https://h:80"
        );
        assert_eq!(
            Origin::of_url("http://[::1]/").unwrap().to_string(),
            "http://[::1]:80"
        );
    }

    #[test]
    fn a_grant_is_a_whole_origin() {
        assert_eq!(
            Origin::grant("https://api.example.com")
                .unwrap()
                .to_string(),
            "https://api.example.com:443"
        );
        assert!(Origin::grant("http://[::1]:9000/").is_ok());
        for bad in [
            "https://api.example.com/v1",
            "https://api.example.com/?x=1",
            "api.example.com",
            "https://user@api.example.com",
            "",
        ] {
            assert!(Origin::grant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_never_quote_the_url() {
        for url in [
            "not a url hxtp_secret",
            "ftp://hxtp_secret:21/",
            "hxtp_secret",
        ] {
            let shown = Origin::of_url(url).unwrap_err().to_string();
            assert!(!shown.contains("hxtp_secret"), "{shown}");
        }
    }

    #[test]
    fn timeouts_are_bounded_and_inherit_the_connect_budget() {
        let p = policy("http://127.0.0.1:1/");
        let clamped = p.clamp(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            ..RequestOptions::default()
        }));
        assert_eq!(clamped.first_byte_timeout, Some(Duration::from_secs(5)));
        assert_eq!(clamped.between_bytes_timeout, Some(Duration::from_secs(5)));
        let unbounded = p.clamp(None);
        assert_eq!(unbounded.connect_timeout, Some(Duration::from_secs(30)));
        let greedy = p.clamp(Some(RequestOptions {
            first_byte_timeout: Some(Duration::from_secs(3600)),
            ..RequestOptions::default()
        }));
        assert_eq!(greedy.first_byte_timeout, Some(Duration::from_secs(30)));
    }

    #[test]
    fn the_credential_is_masked_across_any_split_of_the_stream() {
        let secret = b"hxtp_secret_42".to_vec();
        let text =
            b"{\"echo\": \"Bearer hxtp_secret_42\", \"again\": \"hxtp_secret_42hxtp_secret_4\"}";
        let expected =
            b"{\"echo\": \"Bearer **************\", \"again\": \"**************hxtp_secret_4\"}";
        for piece in 1..text.len() {
            let mut masker = Masker::new(secret.clone());
            let mut out = Vec::new();
            for chunk in text.chunks(piece) {
                out.extend_from_slice(&masker.push(chunk));
            }
            out.extend_from_slice(&masker.finish());
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(expected),
                "pieces of {piece}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn masking_a_stream_equals_masking_the_whole(
            secret in "[a-z_]{8,16}",
            pieces in proptest::collection::vec(("[a-z_ ]{0,12}", proptest::bool::ANY), 0..12),
            cuts in proptest::collection::vec(1usize..20, 1..8),
        ) {
            let mut text = Vec::new();
            for (filler, with_secret) in &pieces {
                text.extend_from_slice(filler.as_bytes());
                if *with_secret {
                    text.extend_from_slice(secret.as_bytes());
                }
            }
            let mut whole = text.clone();
            mask_all(&mut whole, secret.as_bytes());
            let mut masker = Masker::new(secret.as_bytes().to_vec());
            let mut streamed = Vec::new();
            let mut rest = text.as_slice();
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*cut).min(rest.len()));
                streamed.extend_from_slice(&masker.push(piece));
                rest = tail;
            }
            streamed.extend_from_slice(&masker.finish());
            proptest::prop_assert_eq!(&streamed, &whole);
            proptest::prop_assert!(memchr::memmem::find(&streamed, secret.as_bytes()).is_none());
        }
    }

    #[test]
    fn headers_carrying_the_credential_are_masked() {
        let mut headers = HeaderMap::new();
        headers.insert("x-echo", HeaderValue::from_static("Bearer hxtp_secret_42"));
        headers.insert("x-other", HeaderValue::from_static("fine"));
        mask_headers(&mut headers, b"hxtp_secret_42");
        assert_eq!(headers["x-echo"], "Bearer **************");
        assert_eq!(headers["x-other"], "fine");
    }

    fn request(url: &str) -> http::Request<WasiBody> {
        use http_body_util::BodyExt;
        let body = http_body_util::Empty::<Bytes>::new()
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync();
        http::Request::get(url).body(body).unwrap()
    }

    #[test]
    fn every_scheme_presents_the_secret_as_it_says() {
        let secret = Secret::new("s3cret value/42".to_owned());
        let mut r = request("https://api.example/v1/items?limit=5");
        Credential::bearer(&secret).unwrap().apply(&mut r).unwrap();
        assert_eq!(r.headers()["authorization"], "Bearer s3cret value/42");

        let mut r = request("https://api.example/v1/items");
        let header = Credential::header("X-Api-Key", "Token ", &secret).unwrap();
        header.apply(&mut r).unwrap();
        assert_eq!(r.headers()["x-api-key"], "Token s3cret value/42");
        assert_eq!(header.header_name().unwrap(), "x-api-key");

        let mut r = request("https://api.example/v1/items");
        let basic = Credential::basic("Aladdin", &Secret::new("open sesame".to_owned())).unwrap();
        basic.apply(&mut r).unwrap();
        assert_eq!(
            r.headers()["authorization"],
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let forms: Vec<&str> = basic.secrets().iter().map(Secret::expose).collect();
        assert_eq!(forms, ["QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "open sesame"]);

        let query = Credential::query("api_key", &secret).unwrap();
        let mut r = request("https://api.example/v1/items?limit=5");
        query.apply(&mut r).unwrap();
        assert_eq!(
            r.uri().to_string(),
            "https://api.example/v1/items?limit=5&api_key=s3cret%20value%2F42"
        );
        let mut r = request("https://api.example/v1/items");
        query.apply(&mut r).unwrap();
        assert_eq!(r.uri().query(), Some("api_key=s3cret%20value%2F42"));
        let forms: Vec<&str> = query.secrets().iter().map(Secret::expose).collect();
        assert_eq!(forms, ["s3cret%20value%2F42", "s3cret value/42"]);
        assert!(query.header_name().is_none());
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn a_credential_never_travels_in_a_reserved_header() {
        let secret = Secret::new("hxtp_secret_42".to_owned());
        for header in [
            "host",
            "Proxy-Authorization",
            "accept-encoding",
            "connection",
        ] {
            assert!(
                matches!(
                    Credential::header(header, "", &secret),
                    Err(CredentialError::ReservedHeader(_))
                ),
                "{header}"
            );
        }
        assert!(Credential::header("cookie", "session=", &secret).is_ok());
        assert_eq!(
            Credential::header("bad header", "", &secret),
            Err(CredentialError::HeaderName("bad header".to_owned()))
        );
        assert_eq!(
            Credential::header("x-key", "", &Secret::new("a\nb".to_owned())),
            Err(CredentialError::HeaderValue)
        );
        assert_eq!(
            Credential::query("", &secret),
            Err(CredentialError::EmptyParameter)
        );
    }

    #[test]
    fn the_credentials_own_header_is_forbidden_to_the_guest() {
        let secret = Secret::new("hxtp_secret_42".to_owned());
        let mut hooks = EgressHooks::new(
            EgressPolicy::new(
                Vec::new(),
                Some(Credential::header("x-api-key", "", &secret).unwrap()),
                Duration::from_secs(1),
            ),
            1024,
            Duration::from_secs(1),
            Breach::default(),
            CutOff::default(),
        );
        let name = HeaderName::from_static("x-api-key");
        assert!(hooks.is_forbidden_header(&name));
        assert!((hooks.forbidden_header_filter())(&name));
        assert!(!hooks.is_forbidden_header(&HeaderName::from_static("x-other")));
    }

    #[test]
    fn every_form_of_the_secret_is_masked_in_a_stream() {
        let mut masker = Masker::many(vec![b"c2VjcmV0OnB3".to_vec(), b"pw-secret".to_vec()]);
        let mut out = Vec::new();
        for piece in [&b"a c2Vjc"[..], b"mV0OnB3 b pw-se", b"cret c"] {
            out.extend_from_slice(&masker.push(piece));
        }
        out.extend_from_slice(&masker.finish());
        assert_eq!(out, b"a ************ b ********* c");
    }

    #[test]
    fn logged_urls_drop_the_query() {
        let uri: Uri = "https://evil.example/steal?token=abc".parse().unwrap();
        assert_eq!(without_query(&uri), "https://evil.example/steal");
    }

    #[test]
    fn shown_urls_are_redacted_in_the_path_and_the_host() {
        let hooks = EgressHooks::new(
            EgressPolicy::new(
                Vec::new(),
                Some(Credential::bearer(&Secret::new("hxtp_secret_42".to_owned())).unwrap()),
                Duration::from_secs(1),
            ),
            1024,
            Duration::from_secs(1),
            Breach::default(),
            CutOff::default(),
        );
        let uri: Uri = "http://hxtp_secret_42.evil.example/x/hxtp_secret_42?t=hxtp_secret_42"
            .parse()
            .unwrap();
        assert_eq!(hooks.shown(&uri), "http://***.evil.example/x/***");
    }

    #[test]
    fn the_guest_may_not_choose_the_encoding() {
        assert!(forbidden(&http::header::ACCEPT_ENCODING));
        assert!(forbidden(&HeaderName::from_static("accept-encoding")));
        assert!(!forbidden(&http::header::ACCEPT));
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decoded_in_any_pieces() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"id\": {i}}}, ").into_bytes())
            .collect();
        for (coding, encoded) in [
            ("gzip", gzip(&text)),
            ("x-gzip", gzip(&text)),
            ("deflate", zlib(&text)),
        ] {
            for piece in [1, 7, 4096, 100_000] {
                let mut decoder = Decoder::new(coding).expect("decodable");
                let mut out = Vec::new();
                for chunk in encoded.chunks(piece) {
                    out.extend(decoder.push(chunk, u64::MAX).expect("decodes"));
                }
                out.extend(decoder.finish().expect("complete"));
                assert!(out == text, "{coding} in pieces of {piece}");
            }
        }
        assert!(Decoder::new("br").is_none());
        assert!(Decoder::new("zstd").is_none());
    }

    #[test]
    fn a_cut_short_or_corrupt_gzip_body_is_an_error_and_an_empty_one_is_empty() {
        let encoded = gzip(&[b'x'; 10_000]);
        let mut decoder = Decoder::new("gzip").unwrap();
        decoder
            .push(&encoded[..encoded.len() - 4], u64::MAX)
            .unwrap();
        assert!(decoder.finish().is_err(), "cut short");
        let mut decoder = Decoder::new("gzip").unwrap();
        let garbage = decoder.push(b"this is not gzip at all", u64::MAX);
        assert!(garbage.is_err() || decoder.finish().is_err(), "corrupt");
        assert_eq!(Decoder::new("gzip").unwrap().finish().unwrap(), b"");
    }

    #[test]
    fn a_small_body_that_expands_enormously_stops_soon_after_the_room() {
        // 64 MiB of zeros: about 64 KiB of gzip.
        let encoded = gzip(&vec![0; 64 << 20]);
        let mut decoder = Decoder::new("gzip").unwrap();
        let out = decoder.push(&encoded, 1 << 20).unwrap();
        assert!(out.len() > 1 << 20, "{}", out.len());
        // One step of input past the room at most: about a thousandfold of DECODE_STEP.
        assert!(out.len() < (1 << 20) + 1100 * DECODE_STEP, "{}", out.len());
    }

    #[test]
    fn content_codings_are_listed_in_order_without_identity() {
        let mut headers = HeaderMap::new();
        assert!(content_codings(&headers).is_empty());
        headers.append(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(content_codings(&headers).is_empty());
        headers.append(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("GZIP , br"),
        );
        headers.append(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("zstd"),
        );
        assert_eq!(content_codings(&headers), ["gzip", "br", "zstd"]);
    }

    fn guard(secret: &[u8], total: Duration) -> (ResponseGuard, Breach, CutOff) {
        let (breach, cut_off) = (Breach::default(), CutOff::default());
        let guard = ResponseGuard {
            url: "http://127.0.0.1:1/echo".to_owned(),
            limit: 1 << 20,
            breach: breach.clone(),
            total,
            deadline: tokio::time::Instant::now() + total,
            cut_off: cut_off.clone(),
            mask: vec![secret.to_vec()],
        };
        (guard, breach, cut_off)
    }

    fn response(encoding: Option<&str>, body: Vec<u8>) -> http::Response<WasiBody> {
        use http_body_util::BodyExt as _;
        let mut response =
            http::Response::builder().header(http::header::CONTENT_LENGTH, body.len().to_string());
        if let Some(encoding) = encoding {
            response = response.header(http::header::CONTENT_ENCODING, encoding);
        }
        let body = http_body_util::Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        response.body(body).unwrap()
    }

    #[tokio::test]
    async fn an_encoded_echo_of_the_credential_reaches_the_connector_decoded_and_masked() {
        use http_body_util::BodyExt as _;
        let secret = b"hxtp_secret_42";
        let echo = b"{\"authorization\": \"Bearer hxtp_secret_42\"}";
        for (coding, body) in [("gzip", gzip(echo)), ("deflate", zlib(echo))] {
            let (guard, breach, _) = guard(secret, Duration::from_secs(60));
            let response = guard
                .check(response(Some(coding), body))
                .expect("decodable");
            assert!(
                response
                    .headers()
                    .get(http::header::CONTENT_ENCODING)
                    .is_none()
            );
            assert!(
                response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .is_none()
            );
            let got = response
                .into_body()
                .collect()
                .await
                .expect("read")
                .to_bytes();
            assert_eq!(
                String::from_utf8_lossy(&got),
                "{\"authorization\": \"Bearer **************\"}",
                "{coding}"
            );
            assert_eq!(breach.reason(), None);
        }
        for coding in ["br", "zstd", "gzip, gzip", "compress"] {
            let (guard, _, _) = guard(secret, Duration::from_secs(60));
            let refused = guard.check(response(Some(coding), echo.to_vec())).err();
            assert!(
                matches!(refused, Some(HttpError::HttpResponseContentCoding(Some(_)))),
                "{coding}: {refused:?}"
            );
        }
    }

    #[tokio::test]
    async fn decoded_bytes_count_against_the_response_limit() {
        use http_body_util::BodyExt as _;
        let (guard, breach, _) = guard(b"hxtp_secret_42", Duration::from_secs(60));
        let response = guard
            .check(response(Some("gzip"), gzip(&vec![b'x'; 4 << 20])))
            .expect("small enough when encoded");
        let error = response.into_body().collect().await.err();
        assert!(
            matches!(error, Some(HttpError::HttpResponseBodySize(_))),
            "{error:?}"
        );
        assert!(
            breach
                .reason()
                .is_some_and(|r| r.contains("larger than limits.max_response_bytes")),
            "{:?}",
            breach.reason()
        );
    }

    /// A body that never sends anything, as a server that stalls after the head.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = HttpError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_past_the_total_time_is_cut_off_and_said_so() {
        use http_body_util::BodyExt as _;
        let (guard, breach, cut_off) = guard(b"hxtp_secret_42", Duration::from_millis(50));
        let response = http::Response::new(Stalled.boxed_unsync());
        let error = guard
            .check(response)
            .expect("a head")
            .into_body()
            .collect()
            .await
            .err();
        assert!(
            matches!(error, Some(HttpError::HttpResponseTimeout)),
            "{error:?}"
        );
        assert_eq!(
            cut_off.reason(),
            Some(
                "the host cut off the request to http://127.0.0.1:1/echo after \
                 limits.max_request_total_seconds (0 s)"
            )
        );
        assert_eq!(
            breach.reason(),
            None,
            "not a broken budget: the connector may retry"
        );
    }
}
