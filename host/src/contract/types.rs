//! The contract's types as the host knows them: everything that crosses the WIT boundary (a
//! connector's spec, the configuration handed to it, the resources it emits, its errors and log
//! lines), and the `host` interface a store's data serves. Plain Rust, written once; each
//! contract version's module converts its generated types into these.

use std::fmt;

/// The kind of value a config field takes. The host checks a value against its kind before the
/// connector sees it; the connector checks ranges and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, not empty.
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// An absolute `http` or `https` URL.
    Url,
    /// Exactly one of these values (text). Contract 0.2 and later.
    Choice(Vec<String>),
    /// A list of strings (a TOML array of strings in a source file). Contract 0.2 and later.
    TextList,
}

/// A setting's value, as a source file gives it and the connector receives it. `url`, `choice`
/// and `text` settings are text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingValue {
    /// Text.
    Text(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// A list of strings.
    TextList(Vec<String>),
}

impl SettingValue {
    /// The text, for a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// As a source file would write it: text as is, a list as a TOML array.
impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Boolean(b) => write!(f, "{b}"),
            Self::TextList(items) => {
                let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
                write!(f, "[{}]", quoted.join(", "))
            }
        }
    }
}

/// How the host presents a source's credential on the requests it lets through. The connector
/// names secrets (and, for basic, a user-name setting); their values never enter the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialScheme {
    /// `Authorization: Bearer <secret>`, naming the secret.
    Bearer(String),
    /// `<header>: <prefix><secret>`.
    Header {
        /// The header's name, e.g. `x-api-key`.
        header: String,
        /// Text put before the secret, e.g. `Token `; empty for none.
        prefix: String,
        /// The name of the secret.
        secret: String,
    },
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic {
        /// The name of the setting or secret holding the user name.
        username: String,
        /// The name of the secret holding the password.
        password: String,
    },
    /// A query parameter appended to every request's URL.
    Query {
        /// The parameter's name, e.g. `api_key`.
        parameter: String,
        /// The name of the secret.
        secret: String,
    },
}

impl CredentialScheme {
    /// The names the scheme reads a secret from (basic's user name may be a setting instead).
    pub fn secret_names(&self) -> Vec<&str> {
        match self {
            Self::Bearer(secret) | Self::Header { secret, .. } | Self::Query { secret, .. } => {
                vec![secret]
            }
            Self::Basic { password, .. } => vec![password],
        }
    }

    /// Every name the scheme mentions: its secrets, and basic's user name.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::Basic { username, password } => vec![username, password],
            other => other.secret_names(),
        }
    }
}

/// One field of a connector's configuration, as a source file or a form would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigField {
    /// Key in the source file's `[settings]` table, in `snake_case`.
    pub name: String,
    /// Short human label, as on the product's setup page.
    pub label: String,
    /// What the field means and when to change it.
    pub description: String,
    /// The kind of value the field takes.
    pub kind: FieldKind,
    /// Whether a source must set the field.
    pub required: bool,
    /// Whether the connector calls the value a secret (believed only of the bundled connector).
    pub secret: bool,
    /// The value used when the source leaves the field out.
    pub default_value: Option<SettingValue>,
}

/// What a connector is and what it needs, as its `spec()` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorSpec {
    /// Stable identifier, lowercase, e.g. `hex`.
    pub id: String,
    /// Name shown to people, e.g. `Hex Technologies`.
    pub display_name: String,
    /// The connector's own semantic version.
    pub version: String,
    /// One paragraph on what the connector discovers.
    pub description: String,
    /// Every field the connector accepts, in display order.
    pub fields: Vec<ConfigField>,
    /// Every resource type the connector emits, e.g. `hex_project`.
    pub resource_types: Vec<String>,
    /// First URI segments, e.g. `snowflake`, that relations may target outside the run (none
    /// before contract 0.2).
    pub external_namespaces: Vec<String>,
    /// The `url` field naming the service the connector talks to.
    pub base_url_field: Option<String>,
    /// How the connector asks the host to present the credential, if it needs one (contract
    /// 0.1's `bearer-credential-field` is [`CredentialScheme::Bearer`]).
    pub credential: Option<CredentialScheme>,
}

/// One configuration value handed to the connector (contract 0.1 receives it as text: `42`,
/// `true`, `https://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The field's name, as in [`ConfigField::name`].
    pub name: String,
    /// The field's value.
    pub value: SettingValue,
}

/// Facts about the run that the connector must use instead of asking the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    /// The host's identifier of this run.
    pub run_id: String,
    /// The name of the source being discovered.
    pub source_name: String,
    /// When the run started, in milliseconds since the Unix epoch.
    pub started_at: i64,
    /// The checkpoint the source's last successful run saved, if any (contract 0.2 and later).
    pub checkpoint: Option<Vec<u8>>,
    /// When the source's last successful run started, if there was one.
    pub last_success_at: Option<i64>,
}

/// A typed property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    /// Known to be absent upstream.
    Null,
    /// Text.
    Text(String),
    /// A signed integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// An instant, in milliseconds since the Unix epoch; stored as RFC 3339 UTC.
    Timestamp(i64),
    /// A list of text values, order preserved.
    TextList(Vec<String>),
}

/// A named property of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property name in `snake_case`, e.g. `created_at`.
    pub name: String,
    /// Its value.
    pub value: PropertyValue,
}

/// One discovered resource, as a connector emitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Unique, lowercase, hierarchical, dot-separated URI, e.g. `hex.acme.<project id>`.
    pub uri: String,
    /// The resource type, one of the spec's `resource_types`.
    pub resource_type: String,
    /// Human name.
    pub name: String,
    /// URI of the parent resource, when there is one.
    pub parent_uri: Option<String>,
    /// The source system's own identifier, when it has one.
    pub native_id: Option<String>,
    /// Everything else the connector knows about the resource.
    pub properties: Vec<Property>,
    /// References to other resources (none before contract 0.2).
    pub relations: Relations,
}

/// A typed reference from one resource to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Relation {
    /// What the reference means, e.g. `reads`, `uses`, `connects-to`.
    pub kind: String,
    /// The URI referred to: a resource of the run, or in one of the spec's external namespaces.
    pub target: String,
}

/// A resource's relations in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relations {
    /// Exactly these (empty: none).
    Set(Vec<Relation>),
    /// The same as the source's last successful run stored for this URI.
    Unchanged,
}

impl Default for Relations {
    fn default() -> Self {
        Self::Set(Vec::new())
    }
}

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfigError {
    /// The field's name.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// The source asked the connector to slow down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitedError {
    /// What the source said.
    pub message: String,
    /// Seconds the source asked to wait, when it said.
    pub retry_after_seconds: Option<u32>,
}

/// The source answered with an error status the connector could not recover from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// HTTP status code.
    pub status: u16,
    /// What the source said, or what the status means.
    pub message: String,
    /// The source's trace id for the failed request, when it sent one.
    pub trace_id: Option<String>,
}

/// Every expected way a connector call can fail. Its `Display` is the one line summaries and
/// logs show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorError {
    /// A config value is wrong.
    InvalidConfig(InvalidConfigError),
    /// The source rejected the credentials.
    Unauthorized(String),
    /// The credentials lack a permission.
    Forbidden(String),
    /// Something the connector asked for does not exist.
    NotFound(String),
    /// The source kept rate-limiting after the connector's retries.
    RateLimited(RateLimitedError),
    /// The source failed with another status after the connector's retries.
    Upstream(UpstreamError),
    /// The source answered with something the connector could not read.
    MalformedResponse(String),
    /// The source could not be reached.
    Network(String),
}

impl ConnectorError {
    /// The same error with `f` applied to every text in it (the connector's or a server's words):
    /// for scrubbing a secret out and making the text inert.
    pub fn map_text(self, f: impl Fn(String) -> String) -> Self {
        match self {
            Self::InvalidConfig(InvalidConfigError { field, message }) => {
                Self::InvalidConfig(InvalidConfigError {
                    field: f(field),
                    message: f(message),
                })
            }
            Self::Unauthorized(m) => Self::Unauthorized(f(m)),
            Self::Forbidden(m) => Self::Forbidden(f(m)),
            Self::NotFound(m) => Self::NotFound(f(m)),
            Self::RateLimited(e) => Self::RateLimited(RateLimitedError {
                message: f(e.message),
                ..e
            }),
            Self::Upstream(e) => Self::Upstream(UpstreamError {
                message: f(e.message),
                trace_id: e.trace_id.map(&f),
                ..e
            }),
            Self::MalformedResponse(m) => Self::MalformedResponse(f(m)),
            Self::Network(m) => Self::Network(f(m)),
        }
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(e) => write!(f, "invalid setting `{}`: {}", e.field, e.message),
            Self::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            Self::Forbidden(m) => write!(f, "forbidden: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::RateLimited(e) => match e.retry_after_seconds {
                Some(s) => write!(f, "rate limited: {} (retry after {s} s)", e.message),
                None => write!(f, "rate limited: {}", e.message),
            },
            Self::Upstream(e) => match &e.trace_id {
                Some(trace) => write!(
                    f,
                    "upstream error {}: {} (trace id {trace})",
                    e.status, e.message
                ),
                None => write!(f, "upstream error {}: {}", e.status, e.message),
            },
            Self::MalformedResponse(m) => write!(f, "malformed response: {m}"),
            Self::Network(m) => write!(f, "network error: {m}"),
        }
    }
}

impl std::error::Error for ConnectorError {}

/// What a successful discovery did, as the connector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverSummary {
    /// Resources emitted, over all batches.
    pub emitted: u64,
    /// HTTP requests made, retries included.
    pub requests: u32,
    /// The same requests by kind (empty before contract 0.2, and when the connector does not
    /// say).
    pub request_counts: Vec<RequestCount>,
}

/// How many requests of one kind a discovery made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCount {
    /// The kind, in the connector's words.
    pub kind: String,
    /// Requests made, retries included.
    pub count: u32,
}

/// Severity of a connector's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal progress.
    Info,
    /// Something recovered from, such as a retry.
    Warn,
    /// Something failed.
    Error,
}

/// Why a connector is waiting instead of sending its next request: contract 0.2's `wait-reason`
/// (`host.waiting`), and what the host sees for itself of a 0.1 connector (a 429 answered with
/// `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The connector's own client throttle (`requests_per_minute`).
    Throttle,
    /// The server said how long to wait (`Retry-After` on a 429 or a 503).
    RetryAfter,
    /// Backing off before retrying a failed request.
    Backoff,
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Throttle => "client throttle",
            Self::RetryAfter => "Retry-After",
            Self::Backoff => "retry backoff",
        })
    }
}

/// What the host offers a connector during a call (the contract's `host` interface), in the
/// host's types: the store's data implements it, and [`add_to_linker`] wires it to the imports of
/// every contract version.
pub trait HostImports: Send {
    /// A batch of resources. An error ends the call (the guest traps) with that reason.
    fn emit(&mut self, batch: Vec<Resource>) -> wasmtime::Result<()>;
    /// A log line.
    fn log(&mut self, level: LogLevel, message: String);
    /// Progress: items done and, when known, expected.
    fn progress(&mut self, done: u64, total: Option<u64>);
    /// The connector is about to wait this long (contract 0.2 and later).
    fn waiting(&mut self, reason: WaitReason, duration_ms: u64);
    /// The checkpoint for the source's next run (contract 0.2 and later). An error ends the call
    /// (the guest traps) with that reason.
    fn save_checkpoint(&mut self, checkpoint: Vec<u8>) -> wasmtime::Result<()>;
}
