//! What a connector may do on the network, checked on every outgoing request it makes.
//!
//! A connector reaches only the origins (scheme, host and port) the operator granted: the source
//! file's `[network] allow`, those recorded when the component was installed, and, for the bundled
//! Hex connector, the origin of its `base_url` setting. Nothing a component says about itself
//! grants anything. The check is made on the request actually being sent (not on a URL the guest
//! announced earlier), before any DNS lookup. Credentials are added here, on the host side, and
//! only to requests to a granted origin, so a connector never holds them and cannot set the
//! `Authorization` header itself. Redirects are not followed at all: the guest sees the 3xx
//! response, and a follow-up request to another origin is refused like any other.
//!
//! Responses are guarded on their way back: a body larger than the source's
//! `limits.max_response_bytes` is cut off with an error (and ends the run), and the credential is
//! masked wherever a server reflects it verbatim (headers, body, trailers), so that even an
//! echoing endpoint at the allowed origin does not hand the token to the connector.
//!
//! Allowed requests go out through the run's keep-alive connections (`http_pool`).

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

use crate::budget::Breach;
use crate::http_pool::ConnectionPool;
use crate::secret::Secret;

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

/// The network policy of one run.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// The granted origins; empty means no network at all.
    allowed: Vec<Origin>,
    bearer: Option<Secret>,
    max_request_time: Duration,
}

impl EgressPolicy {
    /// A policy allowing the `allowed` origins (none: no network), adding `bearer` as the
    /// credential to requests to them, and bounding each request's connect, first-byte and
    /// between-bytes waits by `max_request_time`.
    pub fn new(allowed: Vec<Origin>, bearer: Option<Secret>, max_request_time: Duration) -> Self {
        Self {
            allowed,
            bearer,
            max_request_time,
        }
    }

    /// The credential the host adds, if any.
    pub fn bearer(&self) -> Option<&Secret> {
        self.bearer.as_ref()
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

/// The `wasi:http` hooks of one run: the policy and the credential, the response budget, and the
/// run's keep-alive connections.
pub struct EgressHooks {
    policy: EgressPolicy,
    max_response_bytes: u64,
    breach: Breach,
    pool: Arc<ConnectionPool>,
}

impl EgressHooks {
    /// Hooks enforcing `policy`, cutting off any response body past `max_response_bytes` and
    /// recording that in `breach`.
    pub fn new(policy: EgressPolicy, max_response_bytes: u64, breach: Breach) -> Self {
        Self {
            policy,
            max_response_bytes,
            breach,
            pool: Arc::new(ConnectionPool::default()),
        }
    }
}

/// Headers a guest may never set: the defaults, plus the credential headers the host owns.
fn forbidden(name: &HeaderName) -> bool {
    *name == http::header::AUTHORIZATION
        || *name == http::header::COOKIE
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
        forbidden(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(forbidden)
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        drop(fut);
        if let Err(reason) = self.policy.check(request.uri()) {
            let url = without_query(request.uri());
            tracing::warn!(%url, %reason, "refused an outgoing request");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        // Past the check, the request goes to a granted origin: the only place the credential may.
        if let Some(token) = &self.policy.bearer {
            match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request
                        .headers_mut()
                        .insert(http::header::AUTHORIZATION, value);
                }
                Err(_) => {
                    tracing::error!("the credential contains characters not allowed in a header");
                    return Box::new(async { Err(HttpError::HttpRequestDenied) });
                }
            }
        }
        let options = self.policy.clamp(options);
        let guard = ResponseGuard {
            url: without_query(request.uri()),
            limit: self.max_response_bytes,
            breach: self.breach.clone(),
            mask: self
                .policy
                .bearer
                .as_ref()
                .map(|secret| secret.expose().as_bytes().to_vec())
                .filter(|secret| secret.len() >= MIN_MASKED_SECRET_BYTES),
        };
        let pool = Arc::clone(&self.pool);
        Box::new(async move {
            let response = pool.send(request, &options).await?;
            let response = guard.check(response)?;
            // The pool drives its connections itself.
            let io = async { Ok(()) };
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// What is checked on a response before the connector sees it.
struct ResponseGuard {
    url: String,
    limit: u64,
    breach: Breach,
    /// The credential's bytes, when long enough to mask.
    mask: Option<Vec<u8>>,
}

impl ResponseGuard {
    /// Refuses a response that announces a body past the limit; masks the credential in the
    /// headers and wraps the body so that it is counted and masked as it streams.
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
        if let Some(mask) = &self.mask {
            mask_headers(&mut parts.headers, mask);
        }
        let body = GuardedBody {
            inner: body,
            received: 0,
            finished: false,
            pending_trailers: None,
            masker: self.mask.clone().map(Masker::new),
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

/// Masks a credential in a byte stream that arrives in arbitrary pieces: the last
/// `secret.len() - 1` bytes of each piece are held back until the next one shows whether they
/// begin an occurrence.
#[derive(Debug)]
struct Masker {
    secret: Vec<u8>,
    held: Vec<u8>,
}

impl Masker {
    fn new(secret: Vec<u8>) -> Self {
        Self {
            secret,
            held: Vec::new(),
        }
    }

    /// The bytes of `piece` (after those held back) that can be released, masked.
    fn push(&mut self, piece: &[u8]) -> Bytes {
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(piece);
        mask_all(&mut buf, &self.secret);
        let keep = (self.secret.len() - 1).min(buf.len());
        self.held = buf.split_off(buf.len() - keep);
        Bytes::from(buf)
    }

    /// The bytes still held back, at the end of the stream.
    fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.held))
    }
}

/// A response body counted against the limit and masked as it streams to the connector.
struct GuardedBody {
    inner: WasiBody,
    guard: ResponseGuard,
    received: u64,
    finished: bool,
    pending_trailers: Option<Frame<Bytes>>,
    masker: Option<Masker>,
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
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.finished = true;
                    let rest = this.masker.as_mut().map(Masker::finish).unwrap_or_default();
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(rest))));
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => {
                    this.received += data.len() as u64;
                    if this.received > this.guard.limit {
                        this.finished = true;
                        let reason = format!(
                            "a response from {} was larger than limits.max_response_bytes ({} bytes)",
                            this.guard.url, this.guard.limit
                        );
                        tracing::warn!("{reason}; cut off");
                        this.guard.breach.record(reason);
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                            this.received,
                        )))));
                    }
                    let data = match &mut this.masker {
                        Some(masker) => masker.push(&data),
                        None => data,
                    };
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Err(frame) => {
                    let trailers = match (frame.into_trailers(), &this.guard.mask) {
                        (Ok(mut trailers), Some(mask)) => {
                            mask_headers(&mut trailers, mask);
                            Frame::trailers(trailers)
                        }
                        (Ok(trailers), None) => Frame::trailers(trailers),
                        (Err(other), _) => other,
                    };
                    let held = this.masker.as_mut().map(Masker::finish).unwrap_or_default();
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

    #[test]
    fn logged_urls_drop_the_query() {
        let uri: Uri = "https://evil.example/steal?token=abc".parse().unwrap();
        assert_eq!(without_query(&uri), "https://evil.example/steal");
    }
}
