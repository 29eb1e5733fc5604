//! Who may use the Sources page and its API, and the checks every request passes first.
//!
//! - Without an admin token the server binds loopback only (the caller refuses any other
//!   address), and answers only requests whose `Host` is a loopback name, so that a web page
//!   elsewhere cannot reach it through DNS rebinding.
//! - With one, the API takes `Authorization: Bearer <token>`, and the pages a session that a
//!   login form opened (an `HttpOnly; SameSite=Strict` cookie).
//! - A browser's state-changing request from another origin (`Origin` or `Sec-Fetch-Site` say
//!   so) is refused; every state-changing form also carries its session's CSRF token, checked by
//!   [`Session::check_csrf`]. There are no CORS headers at all.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "euno_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The most sessions kept; past it the oldest is forgotten.
const MAX_SESSIONS: usize = 10_000;
/// How long secrets typed into a form before a connection test are kept for its Save.
const DRAFT_TTL: Duration = Duration::from_secs(3600);

/// One browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its id, the cookie's value.
    pub id: String,
    /// Whether it has logged in (always, when there is no admin token).
    pub authenticated: bool,
    /// The token every state-changing form of this session carries.
    pub csrf: String,
    created: Instant,
}

impl Session {
    /// Whether `token` (from a submitted form) is this session's CSRF token.
    pub fn check_csrf(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| same(token, &self.csrf))
    }
}

/// Secrets typed into a form and kept, server-side, for the Save that follows a connection test:
/// a page never sends a secret back, so the form cannot carry it.
struct Draft {
    session: String,
    secrets: BTreeMap<String, Secret>,
    created: Instant,
}

/// The access policy and the sessions.
pub struct Access {
    token: Option<Secret>,
    sessions: Mutex<HashMap<String, Session>>,
    drafts: Mutex<HashMap<String, Draft>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, URL-safe base64.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // Without randomness a session could be guessed: better no server than a weak one.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    B64.encode(bytes)
}

/// Compares two texts in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Access {
    /// The policy for an admin token, or none.
    pub fn new(token: Option<Secret>) -> Self {
        Self {
            token,
            sessions: Mutex::new(HashMap::new()),
            drafts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an admin token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `typed` is the admin token.
    pub fn is_token(&self, typed: &str) -> bool {
        self.token.as_ref().is_some_and(|t| same(typed, t.expose()))
    }

    fn session(&self, id: Option<&str>) -> Option<Session> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        id.and_then(|id| sessions.get(id))
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .cloned()
    }

    fn new_session(&self, authenticated: bool) -> Session {
        let session = Session {
            id: random_id(),
            authenticated,
            csrf: random_id(),
            created: Instant::now(),
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .values()
                .min_by_key(|s| s.created)
                .map(|s| s.id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(session.id.clone(), session.clone());
        session
    }

    /// Logs in: a fresh, authenticated session replaces `old` (a session id is never promoted,
    /// so one planted before the login is worthless).
    pub fn log_in(&self, old: &Session) -> Session {
        self.log_out(old);
        self.new_session(true)
    }

    /// Forgets `session` and its drafts.
    pub fn log_out(&self, session: &Session) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&session.id);
        self.drafts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, d| d.session != session.id);
    }

    /// Keeps `secrets` for `session`'s next Save; returns the draft's id.
    pub fn keep_draft(&self, session: &Session, secrets: BTreeMap<String, Secret>) -> String {
        let id = random_id();
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts.retain(|_, d| d.created.elapsed() < DRAFT_TTL);
        drafts.insert(
            id.clone(),
            Draft {
                session: session.id.clone(),
                secrets,
                created: Instant::now(),
            },
        );
        id
    }

    /// The secrets of draft `id`, if it is `session`'s.
    pub fn draft(&self, session: &Session, id: &str) -> BTreeMap<String, Secret> {
        let drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts
            .get(id)
            .filter(|d| d.session == session.id && d.created.elapsed() < DRAFT_TTL)
            .map(|d| d.secrets.clone())
            .unwrap_or_default()
    }

    /// The session cookie for `session`.
    pub fn cookie(session: &Session) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            session.id
        ))
        .expect("a base64 id is a valid header value")
    }
}

/// The cookie's value in `headers`.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Whether `host` (a `Host` header) names this machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a browser says this request comes from another origin than `host`.
fn is_cross_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    // A browser that says where the request comes from is believed: `same-origin`, or `none`
    // (typed, a bookmark). Otherwise the `Origin` it sends must be this host.
    if let Some(site) = text("sec-fetch-site") {
        return !(site == "same-origin" || site == "none");
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => {
            let authority = origin
                .split_once("://")
                .map_or(origin, |(_, authority)| authority);
            !authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn refuse(status: StatusCode, api: bool, message: &str) -> Response {
    if api {
        let body = serde_json::json!({"errors": [{"field": null, "message": message}]});
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    } else {
        (status, message.to_owned()).into_response()
    }
}

/// The checks of the module documentation, before any handler; gives page handlers their
/// [`Session`] (as a request extension) and sets its cookie when it is new.
pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let headers = request.headers();
    if !access.has_token() {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_loopback_host(host) {
            return refuse(
                StatusCode::MISDIRECTED_REQUEST,
                api,
                "without an admin token this server answers only to a loopback name (127.0.0.1, localhost)",
            );
        }
    }
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state && is_cross_origin(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            api,
            "a request from another origin may not change anything here",
        );
    }
    if api {
        if access.has_token() {
            let bearer = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !bearer.is_some_and(|typed| access.is_token(typed.trim())) {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    true,
                    "this API needs `Authorization: Bearer <admin token>`",
                );
            }
        }
        return next.run(request).await;
    }
    if path.starts_with("/static/") {
        return next.run(request).await;
    }
    let (session, fresh) = match access.session(session_cookie(headers)) {
        Some(session) => (session, false),
        None => (access.new_session(!access.has_token()), true),
    };
    if !session.authenticated && path != "/login" {
        let mut response = Redirect::to("/login").into_response();
        if fresh {
            response
                .headers_mut()
                .insert(header::SET_COOKIE, Access::cookie(&session));
        }
        return response;
    }
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    if fresh && !response.headers().contains_key(header::SET_COOKIE) {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, Access::cookie(&session));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_recognised_and_others_are_not() {
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "10.0.0.1",
            "",
            "[::2]:80",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_request_from_another_origin_is_told_apart() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_str(value).unwrap());
            }
            map
        };
        assert!(!is_cross_origin(&headers(&[("host", "127.0.0.1:1")])));
        assert!(!is_cross_origin(&headers(&[
            ("host", "127.0.0.1:1"),
            ("origin", "http://127.0.0.1:1")
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:1"),
            ("origin", "http://evil.example")
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:1"),
            ("sec-fetch-site", "cross-site")
        ])));
    }
}
