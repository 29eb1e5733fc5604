//! What a connector may do on the network, checked on every outgoing request it makes.
//!
//! A connector reaches exactly one origin: the scheme, host and port of its base URL. The check is
//! made on the request actually being sent (not on a URL the guest announced earlier), before any
//! DNS lookup. Credentials are added here, on the host side, so a connector never holds them and
//! cannot set the `Authorization` header itself. Redirects are not followed at all: the guest sees
//! the 3xx response, and a follow-up request to another origin is refused like any other.

use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderName, HeaderValue, Uri};
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

use crate::secret::Secret;

/// The one origin a connector may reach.
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
    /// The request has no absolute URL.
    #[error("the request has no scheme or host")]
    NotAbsolute,
    /// The URL carries `user:password@`, which can disguise the real host.
    #[error("the URL carries user information (`…@`), which is never allowed")]
    UserInfo,
    /// The connector has no network at all.
    #[error("this connector has no base URL, so it may not make requests")]
    NoNetwork,
    /// Another scheme, host or port than the base URL's.
    #[error("{requested} is not the allowed origin {allowed}")]
    OtherOrigin {
        /// The origin of the refused request.
        requested: String,
        /// The only origin allowed.
        allowed: String,
    },
}

impl Origin {
    /// The origin of an absolute `http` or `https` URL.
    pub fn of_url(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
        Self::of_uri(&uri).map_err(|e| format!("`{url}` cannot be a base URL: {e}"))
    }

    fn of_uri(uri: &Uri) -> Result<Self, EgressDenied> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(EgressDenied::NotAbsolute);
        };
        if authority.as_str().contains('@') {
            return Err(EgressDenied::UserInfo);
        }
        let port = match authority.port_u16() {
            Some(port) => port,
            None if *scheme == Scheme::HTTPS => 443,
            None if *scheme == Scheme::HTTP => 80,
            None => return Err(EgressDenied::NotAbsolute),
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
    allowed: Option<Origin>,
    bearer: Option<Secret>,
    max_request_time: Duration,
}

impl EgressPolicy {
    /// A policy allowing `allowed` (or nothing), adding `bearer` as the credential, and bounding
    /// each request's connect, first-byte and between-bytes waits by `max_request_time`.
    pub fn new(
        allowed: Option<Origin>,
        bearer: Option<Secret>,
        max_request_time: Duration,
    ) -> Self {
        Self {
            allowed,
            bearer,
            max_request_time,
        }
    }

    /// Whether a request to `uri` may leave the sandbox.
    pub fn check(&self, uri: &Uri) -> Result<(), EgressDenied> {
        let allowed = self.allowed.as_ref().ok_or(EgressDenied::NoNetwork)?;
        let requested = Origin::of_uri(uri)?;
        if &requested == allowed {
            Ok(())
        } else {
            Err(EgressDenied::OtherOrigin {
                requested: requested.to_string(),
                allowed: allowed.to_string(),
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

/// The `wasi:http` hooks of one run: the policy and the credential.
pub struct EgressHooks {
    policy: EgressPolicy,
}

impl EgressHooks {
    /// Hooks enforcing `policy`.
    pub fn new(policy: EgressPolicy) -> Self {
        Self { policy }
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
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
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
            Some(Origin::of_url(base).unwrap()),
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
    fn no_base_url_means_no_network() {
        let p = EgressPolicy::new(None, None, Duration::from_secs(1));
        assert_eq!(
            p.check(&"http://127.0.0.1/".parse().unwrap()),
            Err(EgressDenied::NoNetwork)
        );
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
    fn logged_urls_drop_the_query() {
        let uri: Uri = "https://evil.example/steal?token=abc".parse().unwrap();
        assert_eq!(without_query(&uri), "https://evil.example/steal");
    }
}
