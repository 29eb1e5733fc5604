//! A native test harness: run a connector's `check` and `discover` without wasm, against canned
//! HTTP answers, and look at everything it did.
//!
//! [`Harness`] plays the host: it applies the spec's defaults, refuses settings the host would
//! refuse, keeps secrets out of the connector and presents them on requests by the spec's
//! credential scheme, serves requests from canned [`Reply`]s by route, runs a clock that moves
//! only when the connector sleeps, captures emitted resources, logs, progress, waits and the
//! checkpoint, and checks every rule the host checks. A run that breaks one (a URI twice, a
//! type the spec does not declare, a relation to nowhere) panics with the reason the host would
//! give. A successful run's checkpoint and relations carry into the next `discover`, as they do
//! in the host, so a test can show that a second run is cheaper. With [`Harness::live`] the
//! requests go to a real server instead (a simulator of the source on loopback), the host's
//! rules and the fake clock unchanged.
//!
//! ```
//! # use euno_connector_sdk::prelude::*;
//! # use euno_connector_sdk::testing::{Harness, Reply};
//! # struct Tiny;
//! # impl Connector for Tiny {
//! #     fn spec() -> ConnectorSpec {
//! #         ConnectorSpec::new("tiny", "Tiny", "1.0.0")
//! #             .field(ConfigField::url("base_url", "Base URL").required())
//! #             .resource_types(["tiny_thing"])
//! #             .base_url_field("base_url")
//! #     }
//! #     fn check(_: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
//! #         cx.http().send(Request::get("/things"))?;
//! #         Ok("reachable".to_owned())
//! #     }
//! #     fn discover(_: &Config, _: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
//! #         let things: Vec<String> = cx.http().get_json("/things")?;
//! #         for id in things {
//! #             cx.emit(Resource::new(uri(["tiny", &id]), "tiny_thing", id.as_str()));
//! #         }
//! #         Ok(())
//! #     }
//! # }
//! let mut harness = Harness::<Tiny>::new();
//! harness
//!     .setting("base_url", "https://tiny.example/api")
//!     .route("GET /things", Reply::json(serde_json::json!(["a", "b"])));
//! let summary = harness.discover().expect("discovers");
//! assert_eq!(summary.emitted, 2);
//! assert_eq!(harness.resource("tiny.b").map(|r| r.name), Some("b".to_owned()));
//! assert_eq!(harness.requests()[0].url, "https://tiny.example/api/things");
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;

mod live;

use crate::Connector;
use crate::config::Config;
use crate::config::describe_value;
use crate::connector::{Ports, run_check, run_discover};
use crate::http::{percent_decode, percent_encode, split_url};
use crate::ports::{Clock, Host, HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::spec::{fits, kind_name};
use crate::types::{
    ConfigEntry, ConnectorError, ConnectorSpec, CredentialScheme, DiscoverSummary, LogLevel,
    Relation, Relations, Resource, RunContext, SettingValue, WaitReason,
};

/// 2025-01-01T00:00:00Z: when harness runs start unless [`Harness::started_at`] says otherwise.
pub const DEFAULT_STARTED_AT: i64 = 1_735_689_600_000;

/// One canned answer: a response, or a request that got none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(Result<HttpResponse, TransportError>);

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self(Ok(HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }))
    }

    /// 200 with `body` as JSON.
    pub fn json(body: serde_json::Value) -> Self {
        Self::json_status(200, body)
    }

    /// `status` with `body` as JSON.
    pub fn json_status(status: u16, body: serde_json::Value) -> Self {
        Self::text(status, &body.to_string()).header("content-type", "application/json")
    }

    /// `status` with a text body.
    pub fn text(status: u16, body: &str) -> Self {
        Self(Ok(HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }))
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Ok(response) = &mut self.0 {
            response
                .headers
                .push((name.to_ascii_lowercase(), value.to_owned()));
        }
        self
    }

    /// No response: the connection failed with `message` (worth retrying).
    pub fn connection_error(message: &str) -> Self {
        Self(Err(TransportError {
            message: message.to_owned(),
            retryable: true,
            timed_out: false,
        }))
    }

    /// No response within the request's timeout.
    pub fn timeout() -> Self {
        Self(Err(TransportError {
            message: "timed out".to_owned(),
            retryable: true,
            timed_out: true,
        }))
    }
}

/// A request the connector sent, as the upstream would have received it (credential included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL, query included.
    pub url: String,
    /// The headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl RecordedRequest {
    /// The path, without the query.
    pub fn path(&self) -> String {
        split_url(&self.url)
            .map(|parts| {
                let path = parts.path_with_query;
                path.split('?').next().unwrap_or_default().to_owned()
            })
            .unwrap_or_default()
    }

    /// The decoded value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<String> {
        query_pairs(&self.url)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.body.as_deref()?).ok()
    }
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    let query = url.split('#').next().unwrap_or_default();
    let Some((_, query)) = query.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// A canned route: answers requests of one method to one path whose query has these pairs.
struct Route {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    replies: Vec<Reply>,
    served: usize,
}

#[derive(Default)]
struct HttpState {
    routes: Vec<Route>,
    requests: Vec<RecordedRequest>,
    /// The base URL's origin (`scheme://authority`) and path: requests elsewhere are denied,
    /// route paths are below the path.
    origin: Option<(String, String)>,
    /// What the host adds to each request.
    credential: Vec<AppliedCredential>,
    /// Set by [`CannedHttp::live`]: requests go to the real server at their URL, not to routes.
    live: Option<live::Connections>,
}

#[derive(Debug, Clone)]
enum AppliedCredential {
    Header(String, String),
    Query(String, String),
}

/// Canned HTTP: routes to replies, and a record of every request.
#[derive(Clone, Default)]
pub struct CannedHttp(Rc<RefCell<HttpState>>);

impl CannedHttp {
    /// Answers `route` (`"GET /books?shelf=s1"`: method, path below the base URL, and query pairs
    /// a request must have) with `reply`, replacing what the route answered before. Of several
    /// matching routes, the one naming more query pairs wins.
    ///
    /// # Panics
    ///
    /// When `route` is not `METHOD /path[?query]`.
    pub fn route(&self, route: &str, reply: Reply) {
        self.route_sequence(route, [reply]);
    }

    /// Answers `route` with `replies` in order, the last one again and again (e.g. a 429, then
    /// a page), replacing what the route answered before.
    ///
    /// # Panics
    ///
    /// When `route` is not `METHOD /path[?query]`, or `replies` is empty.
    pub fn route_sequence(&self, route: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies: Vec<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "the route `{route}` needs a reply");
        let (method, target) = route
            .split_once(' ')
            .unwrap_or_else(|| panic!("a route is `METHOD /path`, not `{route}`"));
        let (path, _) = target.split_once('?').unwrap_or((target, ""));
        let query = query_pairs(target);
        let mut state = self.0.borrow_mut();
        state
            .routes
            .retain(|r| !(r.method == method && r.path == path && r.query == query));
        state.routes.push(Route {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            replies,
            served: 0,
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.0.borrow().requests.clone()
    }

    /// Sends every later request, as the upstream would receive it (credential included, still
    /// only to the base URL's origin), to the real server at its URL instead of answering it
    /// from the routes: plain HTTP/1.1 over `std::net::TcpStream`, one kept connection per
    /// origin, for a server the test runs on loopback (`127.0.0.1:0`).
    pub fn live(&self) {
        self.0.borrow_mut().live = Some(live::Connections::default());
    }

    fn set_base(&self, base_url: Option<&str>) {
        self.0.borrow_mut().origin = base_url.and_then(split_url).map(|parts| {
            let origin = format!("{}://{}", parts.scheme, parts.authority);
            let path = parts.path_with_query.trim_end_matches('/').to_owned();
            (origin, path)
        });
    }

    fn set_credential(&self, credential: Vec<AppliedCredential>) {
        self.0.borrow_mut().credential = credential;
    }

    fn clear_requests(&self) {
        self.0.borrow_mut().requests.clear();
    }
}

impl Transport for CannedHttp {
    fn send(
        &mut self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, TransportError> {
        let mut state = self.0.borrow_mut();
        let denied = |message: String| TransportError {
            message,
            retryable: false,
            timed_out: false,
        };
        let parts = split_url(&request.url)
            .ok_or_else(|| denied(format!("`{}` is not an absolute URL", request.url)))?;
        let origin = format!("{}://{}", parts.scheme, parts.authority);
        let base_path = match &state.origin {
            Some((granted, path)) if *granted == origin => path.clone(),
            Some((granted, _)) => {
                return Err(denied(format!(
                    "the host denied the request (HttpRequestDenied): {origin} is not the \
                     source's origin {granted}"
                )));
            }
            None => String::new(),
        };
        // What the upstream receives: the request with the host's credential.
        let mut received = request.clone();
        for credential in &state.credential {
            match credential {
                AppliedCredential::Header(name, value) => {
                    received.headers.push((name.clone(), value.clone()));
                }
                AppliedCredential::Query(name, value) => {
                    let joiner = if received.url.contains('?') { '&' } else { '?' };
                    received.url = format!(
                        "{}{joiner}{}={}",
                        received.url,
                        percent_encode(name),
                        percent_encode(value)
                    );
                }
            }
        }
        let path = parts
            .path_with_query
            .split('?')
            .next()
            .unwrap_or_default()
            .to_owned();
        let relative = match path.strip_prefix(&base_path) {
            Some(rest) if rest.starts_with('/') || rest.is_empty() => rest.to_owned(),
            _ => path.clone(),
        };
        let query = query_pairs(&request.url);
        let method = request.method.as_str();
        state.requests.push(RecordedRequest {
            method: received.method,
            url: received.url.clone(),
            headers: received.headers.clone(),
            body: received.body.clone(),
        });
        if let Some(connections) = &mut state.live {
            return connections.send(&received, timeout);
        }
        let chosen = state
            .routes
            .iter_mut()
            .enumerate()
            .filter(|(_, route)| {
                route.method == method
                    && route.path == relative
                    && route.query.iter().all(|pair| query.contains(pair))
            })
            // The most specific route; of equals, the first added.
            .max_by_key(|(i, route)| (route.query.len(), usize::MAX - i))
            .map(|(_, route)| route);
        let Some(route) = chosen else {
            return Err(denied(format!(
                "the test harness has no route for {method} {relative} (query {query:?})"
            )));
        };
        let reply = route.replies[route.served.min(route.replies.len() - 1)].clone();
        route.served += 1;
        reply.0
    }
}

#[derive(Default)]
struct ClockState {
    now_ms: i64,
    sleeps: Vec<Duration>,
}

/// A clock that moves only when slept on (or set), and records every sleep.
#[derive(Clone, Default)]
pub struct FakeClock(Rc<RefCell<ClockState>>);

impl FakeClock {
    /// A clock at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        let clock = Self::default();
        clock.set_now(now_ms);
        clock
    }

    /// Moves the clock to `now_ms`.
    pub fn set_now(&self, now_ms: i64) {
        self.0.borrow_mut().now_ms = now_ms;
    }

    /// Every sleep so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.0.borrow().sleeps.clone()
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.borrow().now_ms
    }

    fn sleep(&mut self, duration: Duration) {
        let mut state = self.0.borrow_mut();
        state.now_ms = state
            .now_ms
            .saturating_add(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
        state.sleeps.push(duration);
    }
}

#[derive(Default)]
struct HostState {
    resource_types: HashSet<String>,
    discovering: bool,
    batches: Vec<Vec<Resource>>,
    seen: HashSet<String>,
    logs: Vec<(LogLevel, String)>,
    progress: Vec<(u64, Option<u64>)>,
    waits: Vec<(WaitReason, u64)>,
    checkpoint: Option<Vec<u8>>,
    violations: Vec<String>,
}

/// A host that captures what a connector hands it and checks the rules the host checks.
#[derive(Clone, Default)]
pub struct FakeHost(Rc<RefCell<HostState>>);

impl FakeHost {
    /// A host for a connector with `spec`, in a `discover` call.
    pub fn new(spec: &ConnectorSpec) -> Self {
        let host = Self::default();
        host.begin(spec, true);
        host
    }

    fn begin(&self, spec: &ConnectorSpec, discovering: bool) {
        *self.0.borrow_mut() = HostState {
            resource_types: spec.resource_types.iter().cloned().collect(),
            discovering,
            ..HostState::default()
        };
    }

    /// The batches emitted, in order.
    pub fn batches(&self) -> Vec<Vec<Resource>> {
        self.0.borrow().batches.clone()
    }

    /// Every resource emitted, in order.
    pub fn resources(&self) -> Vec<Resource> {
        self.0.borrow().batches.concat()
    }

    /// Every log line, in order.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.0.borrow().logs.clone()
    }

    /// The log lines at `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.0
            .borrow()
            .logs
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, message)| message.clone())
            .collect()
    }

    /// Every progress report, in order.
    pub fn progress(&self) -> Vec<(u64, Option<u64>)> {
        self.0.borrow().progress.clone()
    }

    /// Every announced wait, in order.
    pub fn waits(&self) -> Vec<(WaitReason, u64)> {
        self.0.borrow().waits.clone()
    }

    /// The checkpoint saved last, if any.
    pub fn checkpoint(&self) -> Option<Vec<u8>> {
        self.0.borrow().checkpoint.clone()
    }

    /// The rules broken so far, as the host would word them.
    pub fn violations(&self) -> Vec<String> {
        self.0.borrow().violations.clone()
    }
}

impl Host for FakeHost {
    fn emit(&self, batch: &[Resource]) {
        let mut state = self.0.borrow_mut();
        let mut violations = Vec::new();
        if !state.discovering {
            violations.push("the connector emitted during check".to_owned());
        }
        if batch.len() > crate::context::MAX_BATCH_SIZE {
            violations.push(format!(
                "a batch of {} resources is larger than limits.max_batch ({})",
                batch.len(),
                crate::context::MAX_BATCH_SIZE
            ));
        }
        for resource in batch {
            let uri = &resource.uri;
            if uri.is_empty() {
                violations.push("the connector emitted a resource with an empty URI".to_owned());
            } else if uri
                .chars()
                .any(|c| c.is_uppercase() || c.is_whitespace() || c.is_control())
            {
                violations.push(format!(
                    "the connector emitted URI `{uri}`, which is not lowercase without spaces"
                ));
            }
            if !state.resource_types.contains(&resource.resource_type) {
                violations.push(format!(
                    "the connector emitted `{uri}` with type `{}`, which its spec does not \
                     declare",
                    resource.resource_type
                ));
            }
            if !state.seen.insert(uri.clone()) {
                violations.push(format!("the connector emitted `{uri}` twice in one run"));
            }
            if let Relations::Set(relations) = &resource.relations {
                for relation in relations {
                    if relation.kind.is_empty()
                        || !relation
                            .kind
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    {
                        violations.push(format!(
                            "`{uri}` has a relation of kind `{}`, which is not lowercase \
                             letters, digits and `-`",
                            relation.kind
                        ));
                    }
                }
            }
        }
        state.violations.extend(violations);
        state.batches.push(batch.to_vec());
    }

    fn log(&self, level: LogLevel, message: &str) {
        self.0.borrow_mut().logs.push((level, message.to_owned()));
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        self.0.borrow_mut().progress.push((done, total));
    }

    fn waiting(&self, reason: WaitReason, duration_ms: u64) {
        self.0.borrow_mut().waits.push((reason, duration_ms));
    }

    fn save_checkpoint(&self, checkpoint: &[u8]) {
        let mut state = self.0.borrow_mut();
        if !state.discovering {
            state
                .violations
                .push("the connector saved a checkpoint during check".to_owned());
        }
        if checkpoint.len() > crate::context::MAX_CHECKPOINT_BYTES {
            state.violations.push(format!(
                "a checkpoint of {} bytes is larger than the host's budget of {} bytes",
                checkpoint.len(),
                crate::context::MAX_CHECKPOINT_BYTES
            ));
        }
        state.checkpoint = Some(checkpoint.to_vec());
    }
}

/// Runs a [`Connector`] natively, playing the host. See the [module docs](self).
pub struct Harness<C> {
    spec: ConnectorSpec,
    settings: Vec<ConfigEntry>,
    secrets: Vec<(String, String)>,
    http: CannedHttp,
    clock: FakeClock,
    host: FakeHost,
    started_at: i64,
    runs: u32,
    /// What the last successful run left for the next: its checkpoint, start and relations.
    checkpoint: Option<Vec<u8>>,
    last_success_at: Option<i64>,
    stored_relations: HashMap<String, Vec<Relation>>,
    /// The relations of the last run, with `unchanged` resolved.
    relations: HashMap<String, Vec<Relation>>,
    connector: PhantomData<C>,
}

impl<C: Connector> Default for Harness<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Connector> Harness<C> {
    /// A harness for `C`, with no settings, secrets or routes yet.
    ///
    /// # Panics
    ///
    /// When `C`'s spec has a problem the host would refuse it for.
    pub fn new() -> Self {
        let spec = C::spec();
        let problems = spec.problems();
        assert!(
            problems.is_empty(),
            "the host would refuse this connector's spec: {}",
            problems.join("; ")
        );
        Self {
            host: FakeHost::new(&spec),
            spec,
            settings: Vec::new(),
            secrets: Vec::new(),
            http: CannedHttp::default(),
            clock: FakeClock::new(DEFAULT_STARTED_AT),
            started_at: DEFAULT_STARTED_AT,
            runs: 0,
            checkpoint: None,
            last_success_at: None,
            stored_relations: HashMap::new(),
            relations: HashMap::new(),
            connector: PhantomData,
        }
    }

    /// Sets a non-secret setting, replacing an earlier value.
    ///
    /// # Panics
    ///
    /// When the spec has no such field, the field is a secret, or the value does not fit its
    /// kind: the host would refuse the source.
    pub fn setting(&mut self, name: &str, value: impl Into<SettingValue>) -> &mut Self {
        let value = value.into();
        let field = self
            .spec
            .fields
            .iter()
            .find(|field| field.name == name)
            .unwrap_or_else(|| panic!("the spec declares no setting `{name}`"));
        assert!(
            !field.secret,
            "`{name}` is a secret: the host never hands it to the connector; use `secret`"
        );
        assert!(
            fits(&field.kind, &value),
            "the host would refuse `{name}`: it takes {}, not {}",
            kind_name(&field.kind),
            describe_value(&value)
        );
        self.settings.retain(|entry| entry.name != name);
        self.settings.push(ConfigEntry {
            name: name.to_owned(),
            value,
        });
        self
    }

    /// Sets a secret: never handed to the connector, presented on its requests by the spec's
    /// credential scheme.
    ///
    /// # Panics
    ///
    /// When the spec has no secret field `name`.
    pub fn secret(&mut self, name: &str, value: &str) -> &mut Self {
        assert!(
            self.spec
                .fields
                .iter()
                .any(|field| field.name == name && field.secret),
            "the spec declares no secret `{name}`"
        );
        self.secrets.retain(|(key, _)| key != name);
        self.secrets.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets when the next runs start (and the clock).
    pub fn started_at(&mut self, epoch_ms: i64) -> &mut Self {
        self.started_at = epoch_ms;
        self
    }

    /// Sends the connector's requests to the real server at the base URL instead of answering
    /// them from routes; see [`CannedHttp::live`]. The host's rules still hold: the credential
    /// is added by the harness, other origins are denied, every request is recorded, and the
    /// clock still only moves when the connector sleeps (so retries and the throttle cost no
    /// time; leave `requests_per_minute` at 0 for speed anyway).
    pub fn live(&mut self) -> &mut Self {
        self.http.live();
        self
    }

    /// Answers `route` with `reply`; see [`CannedHttp::route`].
    pub fn route(&mut self, route: &str, reply: Reply) -> &mut Self {
        self.http.route(route, reply);
        self
    }

    /// Answers `route` with `replies` in order; see [`CannedHttp::route_sequence`].
    pub fn route_sequence(
        &mut self,
        route: &str,
        replies: impl IntoIterator<Item = Reply>,
    ) -> &mut Self {
        self.http.route_sequence(route, replies);
        self
    }

    /// Makes the next `discover` a full run: no checkpoint, as when the operator asks for one.
    pub fn forget_checkpoint(&mut self) -> &mut Self {
        self.checkpoint = None;
        self
    }

    /// The connector's spec.
    pub fn spec(&self) -> &ConnectorSpec {
        &self.spec
    }

    /// Calls `check`.
    ///
    /// # Panics
    ///
    /// When the connector breaks a rule of the host.
    pub fn check(&mut self) -> Result<String, ConnectorError> {
        let ports = self.begin(false);
        let outcome = run_check::<C>(self.settings.clone(), ports);
        self.assert_no_violations();
        outcome
    }

    /// Calls `discover` as run number n+1 of the source: with the checkpoint and the start of
    /// the last successful run. A successful run's checkpoint and relations are kept for the
    /// next.
    ///
    /// # Panics
    ///
    /// When the connector breaks a rule of the host.
    pub fn discover(&mut self) -> Result<DiscoverSummary, ConnectorError> {
        let ports = self.begin(true);
        self.runs += 1;
        let context = RunContext {
            run_id: format!("run-{}", self.runs),
            source_name: "test-source".to_owned(),
            started_at: self.started_at,
            checkpoint: self.checkpoint.clone(),
            last_success_at: self.last_success_at,
        };
        let outcome = run_discover::<C>(self.settings.clone(), context, ports);
        self.relations = self.resolve_relations();
        if let Ok(summary) = &outcome {
            self.check_summary(summary);
        }
        self.assert_no_violations();
        if outcome.is_ok() {
            self.checkpoint = self.host.checkpoint();
            self.last_success_at = Some(self.started_at);
            self.stored_relations = self.relations.clone();
        }
        outcome
    }

    fn begin(&mut self, discovering: bool) -> Ports {
        self.host.begin(&self.spec, discovering);
        self.http.clear_requests();
        self.clock = FakeClock::new(self.started_at);
        let config = Config::new(self.settings.clone(), &self.spec);
        self.http.set_base(config.base_url().ok().flatten());
        self.http.set_credential(self.credential());
        Ports {
            transport: Box::new(self.http.clone()),
            clock: Box::new(self.clock.clone()),
            host: Rc::new(self.host.clone()),
        }
    }

    /// What the host adds to every request, by the spec's scheme.
    fn credential(&self) -> Vec<AppliedCredential> {
        let secret = |name: &str| {
            self.secrets
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        match &self.spec.credential {
            None => Vec::new(),
            Some(CredentialScheme::Bearer(name)) => secret(name)
                .map(|s| AppliedCredential::Header("authorization".into(), format!("Bearer {s}")))
                .into_iter()
                .collect(),
            Some(CredentialScheme::Header(header)) => secret(&header.secret)
                .map(|s| {
                    AppliedCredential::Header(
                        header.header.to_ascii_lowercase(),
                        format!("{}{s}", header.prefix),
                    )
                })
                .into_iter()
                .collect(),
            Some(CredentialScheme::Query(query)) => secret(&query.secret)
                .map(|s| AppliedCredential::Query(query.parameter.clone(), s))
                .into_iter()
                .collect(),
            Some(CredentialScheme::Basic(basic)) => {
                let config = Config::new(self.settings.clone(), &self.spec);
                let user = secret(&basic.username)
                    .or_else(|| config.text(&basic.username).ok().map(str::to_owned));
                match (user, secret(&basic.password)) {
                    (Some(user), Some(password)) => vec![AppliedCredential::Header(
                        "authorization".into(),
                        format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
                    )],
                    _ => Vec::new(),
                }
            }
        }
    }

    /// Each resource's relations, `unchanged` replaced by what the last successful run stored,
    /// less the stored relations whose target is gone (as the host drops them).
    fn resolve_relations(&self) -> HashMap<String, Vec<Relation>> {
        let resources = self.host.resources();
        let uris: HashSet<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
        let live = |relation: &Relation| {
            let namespace = relation.target.split('.').next().unwrap_or_default();
            uris.contains(relation.target.as_str())
                || self
                    .spec
                    .external_namespaces
                    .iter()
                    .any(|ns| ns == namespace)
        };
        resources
            .iter()
            .map(|resource| {
                let relations = match &resource.relations {
                    Relations::Set(relations) => relations.clone(),
                    Relations::Unchanged => self
                        .stored_relations
                        .get(&resource.uri)
                        .into_iter()
                        .flatten()
                        .filter(|relation| live(relation))
                        .cloned()
                        .collect(),
                };
                (resource.uri.clone(), relations)
            })
            .collect()
    }

    /// The end-of-run rules: the summary's counts, and every relation's target.
    fn check_summary(&self, summary: &DiscoverSummary) {
        let mut state = self.host.0.borrow_mut();
        let emitted: usize = state.batches.iter().map(Vec::len).sum();
        if summary.emitted != emitted as u64 {
            state.violations.push(format!(
                "the connector reported {} resources but emitted {emitted}",
                summary.emitted
            ));
        }
        let by_kind: u32 = summary.request_counts.iter().map(|c| c.count).sum();
        if !summary.request_counts.is_empty() && by_kind != summary.requests {
            state.violations.push(format!(
                "the request counts add up to {by_kind}, not the {} requests reported",
                summary.requests
            ));
        }
        let mut targets: Vec<(&String, &Relation)> = self
            .relations
            .iter()
            .flat_map(|(uri, relations)| relations.iter().map(move |r| (uri, r)))
            .collect();
        targets.sort_by(|a, b| (a.0, &a.1.target).cmp(&(b.0, &b.1.target)));
        for (uri, relation) in targets {
            let namespace = relation.target.split('.').next().unwrap_or_default();
            if !self.relations.contains_key(&relation.target)
                && !self
                    .spec
                    .external_namespaces
                    .iter()
                    .any(|ns| ns == namespace)
            {
                state.violations.push(format!(
                    "`{uri}` {} `{}`, which is neither a resource of the run nor in an external \
                     namespace of the spec",
                    relation.kind, relation.target
                ));
            }
        }
    }

    fn assert_no_violations(&self) {
        let violations = self.host.violations();
        assert!(
            violations.is_empty(),
            "the host would fail this run: {}",
            violations.join("; ")
        );
    }

    /// The resources the last `discover` emitted, in order.
    pub fn resources(&self) -> Vec<Resource> {
        self.host.resources()
    }

    /// The resource with `uri` from the last `discover`.
    pub fn resource(&self, uri: &str) -> Option<Resource> {
        self.host.resources().into_iter().find(|r| r.uri == uri)
    }

    /// The relations of `uri` after the last `discover`, `unchanged` resolved as the host does.
    pub fn relations(&self, uri: &str) -> Vec<Relation> {
        self.relations.get(uri).cloned().unwrap_or_default()
    }

    /// The batches the last call emitted.
    pub fn batches(&self) -> Vec<Vec<Resource>> {
        self.host.batches()
    }

    /// The last call's log lines.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.host.logs()
    }

    /// The last call's log lines at `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.host.logs_at(level)
    }

    /// The last call's progress reports.
    pub fn progress(&self) -> Vec<(u64, Option<u64>)> {
        self.host.progress()
    }

    /// The waits the last call announced (reason, milliseconds).
    pub fn waits(&self) -> Vec<(WaitReason, u64)> {
        self.host.waits()
    }

    /// The sleeps the last call took (which took no time).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.clock.sleeps()
    }

    /// The last call's requests, as the upstream received them.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.http.requests()
    }

    /// The checkpoint the last `discover` saved, read as `T`.
    pub fn saved_checkpoint<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = self.host.checkpoint()?;
        serde_json::from_slice(bytes.get(1..)?).ok()
    }

    /// The bytes the last `discover` saved with
    /// [`Context::save_checkpoint_bytes`](crate::Context::save_checkpoint_bytes).
    pub fn saved_checkpoint_bytes(&self) -> Option<Vec<u8>> {
        let bytes = self.host.checkpoint()?;
        match bytes.split_first() {
            Some((2, payload)) => Some(payload.to_vec()),
            _ => None,
        }
    }
}

/// Standard base64 with padding, for HTTP basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::types::RequestCount;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    /// A connector whose `mode` setting picks what it does, to drive the harness.
    struct Probe;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Seen {
        items: u64,
    }

    impl Connector for Probe {
        fn spec() -> ConnectorSpec {
            ConnectorSpec::new("probe", "Probe", "0.1.0")
                .field(
                    ConfigField::url("base_url", "Base URL")
                        .default_value("https://probe.example/api"),
                )
                .field(ConfigField::secret("token", "Token"))
                .field(ConfigField::text("mode", "Mode").default_value("ok"))
                .field(ConfigField::integer("batch", "Batch").default_value(1000))
                .resource_types(["probe_item"])
                .external_namespaces(["warehouse"])
                .base_url_field("base_url")
                .credential(CredentialScheme::header_with_prefix(
                    "Authorization",
                    "Token ",
                    "token",
                ))
        }

        fn check(config: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
            if config.text("mode")? == "emit-in-check" {
                cx.emit(Resource::new("probe.x", "probe_item", "x"));
            }
            let items: Vec<String> = cx.http().get_json("/items")?;
            Ok(format!("{} items", items.len()))
        }

        fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
            let mode = config.text("mode")?;
            cx.set_batch_size(config.integer_in("batch", 1..=10_000)?);
            if mode == "bytes" || mode == "huge" {
                if let Some(bytes) = run.checkpoint_bytes() {
                    cx.info(&format!("the last run left {bytes:?}"));
                }
                let size = if mode == "huge" { 1 << 20 } else { 2 };
                cx.save_checkpoint_bytes(&vec![7; size]);
                return Ok(());
            }
            if let Some(seen) = run.checkpoint::<Seen>() {
                cx.info(&format!("the last run saw {} items", seen.items));
            }
            let items: Vec<String> = cx.http().get_json("/items")?;
            let first = uri(["probe", &items[0]]);
            for id in &items {
                let mut item = Resource::new(uri(["probe", id]), "probe_item", id.as_str());
                item = match mode {
                    "unchanged" => item.relations_unchanged(),
                    "dangling" => item.relation("reads", "elsewhere.x"),
                    _ => item
                        .relation("reads", "warehouse.db.t")
                        .relation("uses", &first),
                };
                if mode == "bad-type" {
                    item.resource_type = "nope".to_owned();
                }
                cx.emit(item);
            }
            if mode == "duplicate" {
                cx.emit(Resource::new(first, "probe_item", "again"));
            }
            cx.save_checkpoint(&Seen {
                items: items.len() as u64,
            });
            if mode == "fail" {
                return Err(ConnectorError::malformed("failed on purpose"));
            }
            Ok(())
        }
    }

    fn probe(mode: &str) -> Harness<Probe> {
        let mut harness = Harness::<Probe>::new();
        harness
            .setting("mode", mode)
            .secret("token", "s3cret")
            .route("GET /items", Reply::json(json!(["a", "b", "c", "d", "e"])));
        harness
    }

    #[test]
    fn emits_in_batches_and_builds_the_summary() {
        let mut harness = probe("ok");
        harness.setting("batch", 2);
        let summary = harness.discover().expect("discovers");
        assert_eq!(summary.emitted, 5);
        assert_eq!(summary.requests, 1);
        assert_eq!(
            summary.request_counts,
            [RequestCount {
                kind: "items".to_owned(),
                count: 1
            }]
        );
        let sizes: Vec<usize> = harness.batches().iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(harness.progress(), [(2, None), (4, None), (5, None)]);
        assert_eq!(
            harness.relations("probe.c"),
            [
                Relation {
                    kind: "reads".to_owned(),
                    target: "warehouse.db.t".to_owned()
                },
                Relation {
                    kind: "uses".to_owned(),
                    target: "probe.a".to_owned()
                }
            ]
        );
    }

    #[test]
    fn the_credential_reaches_the_upstream_but_not_the_connector() {
        let mut harness = probe("ok");
        assert_eq!(harness.check(), Ok("5 items".to_owned()));
        let request = &harness.requests()[0];
        assert_eq!(request.url, "https://probe.example/api/items");
        assert_eq!(request.header("authorization"), Some("Token s3cret"));
    }

    #[test]
    fn a_checkpoint_carries_to_the_next_run_only_from_a_successful_one() {
        let mut harness = probe("ok");
        harness.discover().expect("first run");
        assert_eq!(harness.saved_checkpoint(), Some(Seen { items: 5 }));
        assert!(harness.logs_at(LogLevel::Info).is_empty());

        harness.setting("mode", "fail");
        harness.discover().expect_err("fails on purpose");
        harness.setting("mode", "ok");
        harness.discover().expect("third run");
        assert_eq!(
            harness.logs_at(LogLevel::Info),
            ["the last run saw 5 items"]
        );

        harness.forget_checkpoint();
        harness.discover().expect("a full run");
        assert!(harness.logs_at(LogLevel::Info).is_empty());
    }

    #[test]
    fn an_unreadable_checkpoint_means_a_full_run_with_a_warning() {
        let mut harness = probe("ok");
        harness.checkpoint = Some(b"\x01{\"different\": true}".to_vec());
        harness.discover().expect("discovers");
        assert_eq!(
            harness.logs_at(LogLevel::Warn),
            [
                "the checkpoint of the last successful run could not be read (missing field \
              `items` at line 1 column 19); this run fetches everything"
            ]
        );
        harness.checkpoint = Some(b"\x07binary".to_vec());
        harness.discover().expect("discovers");
        assert!(
            harness.logs_at(LogLevel::Warn)[0].contains("not in a format this connector writes")
        );
    }

    #[test]
    fn a_checkpoint_of_raw_bytes_carries_over_and_a_json_one_is_not_read_as_bytes() {
        let mut harness = probe("bytes");
        harness.discover().expect("first run");
        assert_eq!(harness.saved_checkpoint_bytes(), Some(vec![7, 7]));
        harness.discover().expect("second run");
        assert_eq!(
            harness.logs_at(LogLevel::Info),
            ["the last run left [7, 7]"]
        );

        let mut harness = probe("ok");
        harness.discover().expect("a JSON checkpoint");
        assert_eq!(harness.saved_checkpoint_bytes(), None);
        harness.setting("mode", "bytes");
        harness.discover().expect("discovers");
        assert!(
            harness.logs_at(LogLevel::Warn)[0].contains("not in a format this connector writes")
        );
    }

    #[test]
    #[should_panic(
        expected = "a checkpoint of 1048577 bytes is larger than the host's budget of 1048576 bytes"
    )]
    fn a_checkpoint_past_the_budget_fails_the_test() {
        let _ = probe("huge").discover();
    }

    #[test]
    fn a_live_harness_sends_to_a_real_server_with_the_credential() {
        use std::io::{BufRead, BufReader, Write};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let base = format!("http://{}/api", listener.local_addr().expect("an address"));
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accepts");
            let mut head = Vec::new();
            for line in BufReader::new(&stream).lines() {
                let line = line.expect("reads");
                if line.is_empty() {
                    break;
                }
                head.push(line);
            }
            let body = r#"["a","b"]"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            (&stream).write_all(reply.as_bytes()).expect("writes");
            head
        });
        let mut harness = probe("ok");
        harness.setting("base_url", base.as_str()).live();
        let summary = harness.discover().expect("discovers");
        assert_eq!(summary.emitted, 2);
        let head = server.join().expect("the server");
        assert_eq!(head[0], "GET /api/items HTTP/1.1");
        assert!(
            head.contains(&"authorization: Token s3cret".to_owned()),
            "{head:?}"
        );
        assert_eq!(harness.requests()[0].url, format!("{base}/items"));
    }

    #[test]
    fn unchanged_relations_are_those_of_the_last_successful_run() {
        let mut harness = probe("ok");
        harness.discover().expect("first run");
        harness.setting("mode", "unchanged");
        harness.discover().expect("second run");
        assert_eq!(harness.relations("probe.b").len(), 2);
        assert_eq!(
            harness.resource("probe.b").map(|r| r.relations),
            Some(Relations::Unchanged)
        );
    }

    #[test]
    #[should_panic(
        expected = "the host would fail this run: the connector emitted `probe.a` twice in one run"
    )]
    fn a_uri_twice_fails_the_test() {
        let _ = probe("duplicate").discover();
    }

    #[test]
    #[should_panic(expected = "with type `nope`, which its spec does not declare")]
    fn an_undeclared_type_fails_the_test() {
        let _ = probe("bad-type").discover();
    }

    #[test]
    #[should_panic(
        expected = "`probe.a` reads `elsewhere.x`, which is neither a resource of the run"
    )]
    fn a_relation_to_nowhere_fails_the_test() {
        let _ = probe("dangling").discover();
    }

    #[test]
    #[should_panic(expected = "a connector emitted `probe.x` during check; only discover may emit")]
    fn emitting_during_check_fails_the_test() {
        let _ = probe("emit-in-check").check();
    }

    #[test]
    #[should_panic(expected = "`token` is a secret: the host never hands it to the connector")]
    fn a_secret_cannot_be_a_setting() {
        Harness::<Probe>::new().setting("token", "x");
    }

    #[test]
    #[should_panic(
        expected = "the host would refuse `batch`: it takes an integer, not the text `ten`"
    )]
    fn a_setting_must_fit_its_kind() {
        Harness::<Probe>::new().setting("batch", "ten");
    }

    #[test]
    fn requests_to_another_origin_are_denied() {
        let mut harness = Harness::<Probe>::new();
        let mut http = harness.http.clone();
        harness.begin(false);
        let error = http
            .send(
                &HttpRequest {
                    method: Method::Get,
                    url: "https://evil.example/items".to_owned(),
                    headers: Vec::new(),
                    body: None,
                },
                Duration::from_secs(1),
            )
            .expect_err("denied");
        assert_eq!(
            error.message,
            "the host denied the request (HttpRequestDenied): https://evil.example is not the \
             source's origin https://probe.example"
        );
    }

    /// A connector of each credential scheme, by `N`.
    struct Schemed<const N: usize>;

    impl<const N: usize> Connector for Schemed<N> {
        fn spec() -> ConnectorSpec {
            let scheme = match N {
                0 => CredentialScheme::bearer("secret"),
                1 => CredentialScheme::basic("user", "secret"),
                _ => CredentialScheme::query("api_key", "secret"),
            };
            ConnectorSpec::new("schemed", "Schemed", "0.1.0")
                .field(ConfigField::url("base_url", "Base URL").default_value("http://127.0.0.1:9"))
                .field(ConfigField::text("user", "User").default_value("ann"))
                .field(ConfigField::secret("secret", "Secret"))
                .resource_types(["schemed_thing"])
                .base_url_field("base_url")
                .credential(scheme)
        }

        fn check(_: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
            cx.http().send(Request::get("/me?x=1"))?;
            Ok(String::new())
        }

        fn discover(_: &Config, _: &Run, _: &mut Context) -> Result<(), ConnectorError> {
            Ok(())
        }
    }

    fn sent<C: Connector>() -> RecordedRequest {
        let mut harness = Harness::<C>::new();
        harness
            .secret("secret", "pa:ss")
            .route("GET /me", Reply::status(200));
        harness.check().expect("checks");
        harness.requests().remove(0)
    }

    #[test]
    fn each_credential_scheme_is_presented_as_the_host_does() {
        assert_eq!(
            sent::<Schemed<0>>().header("authorization"),
            Some("Bearer pa:ss")
        );
        assert_eq!(
            sent::<Schemed<1>>().header("authorization"),
            Some("Basic YW5uOnBhOnNz")
        );
        let query = sent::<Schemed<2>>();
        assert_eq!(query.url, "http://127.0.0.1:9/me?x=1&api_key=pa%3Ass");
        assert_eq!(query.query("api_key"), Some("pa:ss".to_owned()));
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
