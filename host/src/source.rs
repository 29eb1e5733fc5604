//! Source files: the TOML that says which connector discovers what, with which settings.
//!
//! ```toml
//! name = "Hex - Analytics Projects"
//! connector = "hex"                  # the bundled connector, or a path to a .wasm component
//! [secrets]
//! api_token = "${HEX_API_TOKEN}"     # ${VAR} is read from the environment
//! [settings]
//! base_url = "https://app.hex.tech/api/v1"
//! [network]
//! allow = ["https://hex.example.com"] # origins granted to the connector
//! [cleanup]
//! strategy = "immediate"
//! ```
//!
//! The operator decides what is secret and where requests may go, never the connector. `[secrets]`
//! never reach the connector, whatever its spec says: a connector may only ask, by name, that one
//! be sent as its bearer credential. A connector reaches the origins `[network]` grants and those
//! granted when it was installed, and nothing its spec names. The one exception is the bundled Hex
//! connector, whose spec is the host's own ([`Trust::Bundled`]): a setting its spec marks secret
//! is a secret even under `[settings]` (accepted with a note to move it), and the origin of its
//! `base_url` is granted.
//!
//! Parsing happens in two steps. [`SourceFile::load`] reads the file and checks its shape. Then
//! [`SourceFile::resolve`] checks the settings against the connector's spec (unknown keys,
//! missing required fields, value kinds), expands `${VAR}`, applies defaults, and splits the
//! secrets off, so that they reach the network policy and never the connector. No error quotes a
//! value read from the environment (it quotes the reference as written), and a setting that
//! carries a secret's value is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::bindings::{ConfigEntry, ConnectorSpec, FieldKind};
use crate::http_policy::{MIN_MASKED_SECRET_BYTES, Origin};
use crate::inventory::{CleanupPolicy, CleanupStrategy, is_removal_ratio};
use crate::runtime::{Limits, Trust};
use crate::secret::Secret;

/// The bundled Hex connector's id, the default connector of a source.
pub const BUNDLED_HEX: &str = "hex";

/// A source file that failed to load or to match its connector.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", .path.display())]
pub struct SourceError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, naming the field.
    pub message: String,
}

/// Which component a source runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorRef {
    /// The connector whose `spec()` reports this id: from the connectors directory, or the
    /// bundled one for `hex`.
    Id(String),
    /// A component file (relative paths are relative to the source file).
    File(PathBuf),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    #[serde(default = "default_connector")]
    connector: String,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    secrets: toml::Table,
    #[serde(default)]
    network: RawNetwork,
    schedule: Option<toml::Table>,
    #[serde(default)]
    cleanup: RawCleanup,
    #[serde(default)]
    limits: RawLimits,
}

fn default_connector() -> String {
    BUNDLED_HEX.to_owned()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCleanup {
    strategy: Option<String>,
    after_days: Option<u32>,
    max_removal_ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mib: Option<u32>,
    deadline_seconds: Option<u64>,
    max_request_seconds: Option<u64>,
    max_request_total_seconds: Option<u64>,
    max_response_bytes: Option<u64>,
    max_resources: Option<u64>,
    max_batch: Option<u64>,
    max_string_bytes: Option<u64>,
    max_log_bytes: Option<u64>,
}

/// A source file whose shape is valid; its settings are not yet checked against a connector.
/// Its `Debug` shows the settings' and secrets' names only: a credential may be written there
/// literally.
#[derive(Clone)]
pub struct SourceFile {
    /// The file it came from.
    pub path: PathBuf,
    /// The source's name: its identity in the inventory.
    pub name: String,
    /// The component that discovers it.
    pub connector: ConnectorRef,
    /// The `[settings]` table, as written.
    settings: toml::Table,
    /// The `[secrets]` table, as written.
    secrets: toml::Table,
    /// The origins the `[network]` table grants.
    pub network: Vec<Origin>,
    /// The `[schedule]` table, as written (read by the scheduler).
    pub schedule: Option<toml::Table>,
    /// What to do with resources a successful run no longer sees.
    pub cleanup: CleanupPolicy,
    /// The sandbox's budgets for this source.
    pub limits: Limits,
}

impl std::fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("connector", &self.connector)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("network", &self.network)
            .field("schedule", &self.schedule)
            .field("cleanup", &self.cleanup)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A source ready to run: settings checked, defaults applied, secrets split off.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    /// The source's name.
    pub name: String,
    /// Every non-secret setting, as the connector receives it.
    pub config: Vec<ConfigEntry>,
    /// The origins outgoing requests may reach; none means no network at all.
    pub allowed: Vec<Origin>,
    /// The credential the host adds to requests, when the connector asks for one by name and the
    /// source has a secret of that name.
    pub bearer: Option<Secret>,
    /// One-line notes for the operator: forms that still work but should change.
    pub notes: Vec<String>,
}

impl SourceFile {
    /// Reads and shape-checks a source file.
    pub fn load(path: &Path) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError {
            path: path.to_owned(),
            message: format!("cannot read the source file: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Shape-checks the text of a source file; `path` names it in errors and anchors relative
    /// connector paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SourceError> {
        let error = |message: String| SourceError {
            path: path.to_owned(),
            message,
        };
        let raw: RawSource = toml::from_str(text).map_err(|e| error(toml_message(text, &e)))?;
        if raw.name.trim().is_empty() {
            return Err(error("field `name` must not be empty".to_owned()));
        }
        let connector = if raw.connector.ends_with(".wasm") {
            let file = PathBuf::from(&raw.connector);
            let base = path.parent().unwrap_or(Path::new("."));
            ConnectorRef::File(if file.is_absolute() {
                file
            } else {
                base.join(file)
            })
        } else if !raw.connector.is_empty()
            && raw
                .connector
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            ConnectorRef::Id(raw.connector)
        } else {
            return Err(error(format!(
                "field `connector`: `{}` is neither a connector id (like `{BUNDLED_HEX}`) nor a path to a `.wasm` component",
                raw.connector
            )));
        };
        let mut network = Vec::new();
        for (i, text) in raw.network.allow.iter().enumerate() {
            // Grants are literal (no `${VAR}`), so quoting one shows nothing secret.
            let origin = Origin::grant(text).map_err(|e| {
                error(format!(
                    "`network.allow[{i}]`: `{text}` cannot be granted: {e}"
                ))
            })?;
            if !network.contains(&origin) {
                network.push(origin);
            }
        }
        Ok(Self {
            path: path.to_owned(),
            name: raw.name.trim().to_owned(),
            connector,
            settings: raw.settings,
            secrets: raw.secrets,
            network,
            schedule: raw.schedule,
            cleanup: cleanup_policy(raw.cleanup).map_err(error)?,
            limits: limits(raw.limits).map_err(error)?,
        })
    }

    /// Checks the settings and secrets against `spec` and reads `${VAR}` references through
    /// `env`. The spec's secret flags and base-URL field count only when `trust` is
    /// [`Trust::Bundled`]; otherwise the operator's `[secrets]` and grants alone decide.
    pub fn resolve(
        &self,
        spec: &ConnectorSpec,
        trust: &Trust,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ResolvedSource, SourceError> {
        let error = |message: String| SourceError {
            path: self.path.clone(),
            message,
        };
        let known = || {
            spec.fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        for key in self.settings.keys() {
            if !spec.fields.iter().any(|f| &f.name == key) {
                return Err(error(format!(
                    "unknown setting `settings.{key}`; the {} connector accepts: {}",
                    spec.id,
                    known()
                )));
            }
        }
        let bearer_field = spec.bearer_credential_field.as_deref();
        // Each secret with the key it was written under, for messages.
        let mut secrets: BTreeMap<&str, (String, Secret)> = BTreeMap::new();
        for (name, value) in &self.secrets {
            let key = format!("secrets.{name}");
            if self.settings.contains_key(name) {
                return Err(error(format!(
                    "`{name}` is set both in [settings] and in [secrets]; keep it in [secrets] only"
                )));
            }
            // A name the connector never mentions is a typo: the secret meant would be missing.
            if !spec.fields.iter().any(|f| &f.name == name) && bearer_field != Some(name) {
                return Err(error(format!(
                    "unknown secret `{key}`; the {} connector's settings are: {}{}",
                    spec.id,
                    known(),
                    bearer_field.map_or(String::new(), |f| format!(
                        " (it asks for `{f}` as its bearer credential)"
                    ))
                )));
            }
            let toml::Value::String(written) = value else {
                return Err(error(format!(
                    "secret `{key}` must be a string, not a {}",
                    value.type_str()
                )));
            };
            let text = expand_env(&key, written, &env).map_err(&error)?;
            if text.trim().is_empty() {
                return Err(error(format!("secret `{key}` must not be empty")));
            }
            secrets.insert(name, (key, Secret::new(text)));
        }
        let mut notes = Vec::new();
        for field in &spec.fields {
            let Some(value) = self.settings.get(&field.name) else {
                continue;
            };
            let bearer = bearer_field == Some(field.name.as_str());
            if !(field.secret || bearer) {
                continue;
            }
            let key = format!("settings.{}", field.name);
            // A credential the operator put under [settings]: a component would be handed it.
            if *trust != Trust::Bundled {
                let why = if field.secret {
                    "the connector marks it secret"
                } else {
                    "the connector asks for it as its bearer credential"
                };
                return Err(error(format!(
                    "setting `{key}` is a credential ({why}): move it to [secrets], which the connector never sees; under [settings] it would be handed to the connector"
                )));
            }
            let text = setting_text(&key, value, &env).map_err(&error)?;
            notes.push(format!(
                "{key}: move it to [secrets]; a credential under [settings] is accepted only for the bundled connector, and will not be for long"
            ));
            secrets.insert(&field.name, (key, Secret::new(text)));
        }

        let mut values = BTreeMap::new();
        let mut config = Vec::new();
        for field in &spec.fields {
            if let Some((key, secret)) = secrets.get(field.name.as_str()) {
                check_kind(key, field.kind, secret.expose(), None).map_err(&error)?;
                continue;
            }
            let key = format!("settings.{}", field.name);
            let (value, written) = match (self.settings.get(&field.name), &field.default_value) {
                (Some(raw), _) => {
                    let value = setting_text(&key, raw, &env).map_err(&error)?;
                    if let Some((name, _)) = secrets.iter().find(|(_, (_, s))| carries(&value, s)) {
                        return Err(error(format!(
                            "setting `{key}` carries the value of the secret `{name}`; settings are handed to the connector, so a secret may not be copied into one"
                        )));
                    }
                    (value, as_written(raw))
                }
                (None, Some(default)) if !field.secret => (default.clone(), default.clone()),
                (None, _) if field.required => {
                    let message = if field.secret || bearer_field == Some(field.name.as_str()) {
                        format!(
                            "missing required secret `secrets.{}` ({})",
                            field.name, field.label
                        )
                    } else {
                        format!("missing required setting `{key}` ({})", field.label)
                    };
                    return Err(error(message));
                }
                (None, _) => continue,
            };
            check_kind(&key, field.kind, &value, Some(&written)).map_err(&error)?;
            values.insert(field.name.as_str(), value.clone());
            config.push(ConfigEntry {
                name: field.name.clone(),
                value,
            });
        }

        let mut allowed = self.network.clone();
        let mut grant = |origin: Origin| {
            if !allowed.contains(&origin) {
                allowed.push(origin);
            }
        };
        match trust {
            Trust::Bundled => {
                if let Some(field) = &spec.base_url_field
                    && let Some(url) = values.get(field.as_str())
                {
                    grant(
                        Origin::of_url(url)
                            .map_err(|e| error(format!("setting `settings.{field}`: {e}")))?,
                    );
                }
            }
            Trust::Component { installed_origins } => {
                installed_origins.iter().cloned().for_each(grant);
            }
        }
        let bearer = match bearer_field.and_then(|field| secrets.get(field)) {
            Some((key, secret)) => {
                check_bearer(key, secret).map_err(&error)?;
                Some(secret.clone())
            }
            None => None,
        };
        Ok(ResolvedSource {
            name: self.name.clone(),
            config,
            allowed,
            bearer,
            notes,
        })
    }
}

/// Whether a setting's value carries `secret`: equals it, or contains it when the secret is long
/// enough for that to be no coincidence.
fn carries(value: &str, secret: &Secret) -> bool {
    let secret = secret.expose();
    !secret.is_empty()
        && (value == secret || (secret.len() >= MIN_MASKED_SECRET_BYTES && value.contains(secret)))
}

/// A setting as the source file wrote it, `${VAR}` unexpanded: what an error may quote.
fn as_written(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// toml's own rendering spans several lines (an excerpt with a caret); errors here are one line,
/// so say where and what instead.
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let message = without_quoted_string(&error.message().trim_end().replace('\n', " "));
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// serde quotes a string it did not expect (`invalid type: string "…", expected u32`); the string
/// may be a credential written in the wrong place, so the message keeps only its type.
fn without_quoted_string(message: &str) -> String {
    const START: &str = "string \"";
    const END: &str = "\", expected";
    match message.find(START) {
        Some(start) => match message[start + START.len()..].find(END) {
            Some(len) => format!(
                "{}string{}",
                &message[..start],
                &message[start + START.len() + len + 1..]
            ),
            None => message.to_owned(),
        },
        None => message.to_owned(),
    }
}

/// A setting as the text the connector receives, with `${VAR}` references expanded.
fn setting_text(
    key: &str,
    value: &toml::Value,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match value {
        toml::Value::String(s) => expand_env(key, s, env),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        other => Err(format!(
            "setting `{key}` must be a string, number or boolean, not a {}",
            other.type_str()
        )),
    }
}

/// Replaces each `${NAME}` with the environment variable `NAME`; a missing variable is an error.
fn expand_env(
    key: &str,
    text: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("setting `{key}`: `${{` without a closing `}}`"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "setting `{key}`: `${{{name}}}` is not a valid environment variable name"
            ));
        }
        let value = env(name).ok_or_else(|| {
            format!("setting `{key}` refers to the environment variable `{name}`, which is not set")
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a value against its field's kind. `shown` is the value as the source file wrote it
/// (`${VAR}` unexpanded), which is what a message quotes; a secret (`None`) is never quoted.
fn check_kind(key: &str, kind: FieldKind, value: &str, shown: Option<&str>) -> Result<(), String> {
    let shown = match shown {
        Some(text) => format!("`{text}`"),
        None => "the value (not shown: it is secret)".to_owned(),
    };
    match kind {
        FieldKind::Text if value.trim().is_empty() => {
            Err(format!("setting `{key}` must not be empty"))
        }
        FieldKind::Text => Ok(()),
        FieldKind::Integer => value
            .parse::<i64>()
            .map(drop)
            .map_err(|_| format!("setting `{key}` must be an integer, got {shown}")),
        FieldKind::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!(
                "setting `{key}` must be true or false, got {shown}"
            )),
        },
        FieldKind::Url => Origin::of_url(value).map(drop).map_err(|e| {
            format!("setting `{key}` must be an absolute http(s) URL, got {shown}: {e}")
        }),
    }
}

/// A credential must fit in an `Authorization` header. The value is never quoted: it is secret,
/// and a line break in it usually means a token read from a file with its newline.
fn check_bearer(key: &str, secret: &Secret) -> Result<(), String> {
    let value = secret.expose();
    if value.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!(
            "setting `{key}` contains a line break or another control character, which cannot              be sent in an HTTP header; check the value (it is not shown: it is secret)"
        ));
    }
    if value != value.trim() {
        return Err(format!(
            "setting `{key}` starts or ends with spaces; check the value (it is not shown: it              is secret)"
        ));
    }
    match http::HeaderValue::from_str(&format!("Bearer {value}")) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "setting `{key}` contains characters that cannot be sent in an HTTP header (it is              not shown: it is secret)"
        )),
    }
}

fn cleanup_policy(raw: RawCleanup) -> Result<CleanupPolicy, String> {
    let strategy = match (raw.strategy.as_deref().unwrap_or("immediate"), raw.after_days) {
        ("immediate", None) => CleanupStrategy::Immediate,
        ("none", None) => CleanupStrategy::None,
        ("after_days", Some(days)) if days > 0 => CleanupStrategy::AfterDays(days),
        ("after_days", _) => return Err("`cleanup.after_days` must be a whole number of days, 1 or more, with strategy \"after_days\"".to_owned()),
        ("immediate" | "none", Some(_)) => {
            return Err("`cleanup.after_days` is only allowed with strategy = \"after_days\"".to_owned());
        }
        (other, _) => {
            return Err(format!(
                "`cleanup.strategy` must be \"immediate\", \"none\" or \"after_days\", not \"{other}\""
            ));
        }
    };
    if let Some(ratio) = raw.max_removal_ratio
        && !is_removal_ratio(ratio)
    {
        return Err(format!(
            "`cleanup.max_removal_ratio` must be above 0 and at most 1, not {ratio}"
        ));
    }
    Ok(CleanupPolicy {
        strategy,
        max_removal_ratio: raw.max_removal_ratio,
    })
}

fn limits(raw: RawLimits) -> Result<Limits, String> {
    let defaults = Limits::default();
    let memory_bytes = match raw.memory_mib {
        None => defaults.memory_bytes,
        Some(mib @ 16..=4096) => (mib as usize) << 20,
        Some(other) => {
            return Err(format!(
                "`limits.memory_mib` must be between 16 and 4096, not {other}"
            ));
        }
    };
    let seconds =
        |name: &str, value: Option<u64>, default: std::time::Duration, max: u64| match value {
            None => Ok(default),
            Some(s) if (1..=max).contains(&s) => Ok(std::time::Duration::from_secs(s)),
            Some(s) => Err(format!(
                "`limits.{name}` must be between 1 and {max}, not {s}"
            )),
        };
    Ok(Limits {
        memory_bytes,
        deadline: seconds(
            "deadline_seconds",
            raw.deadline_seconds,
            defaults.deadline,
            7 * 24 * 3600,
        )?,
        request_timeout: seconds(
            "max_request_seconds",
            raw.max_request_seconds,
            defaults.request_timeout,
            3600,
        )?,
        request_total: seconds(
            "max_request_total_seconds",
            raw.max_request_total_seconds,
            defaults.request_total,
            86_400,
        )?,
        max_response_bytes: count(
            "max_response_bytes",
            raw.max_response_bytes,
            defaults.max_response_bytes,
            1024..=4 << 30,
        )?,
        max_resources: count(
            "max_resources",
            raw.max_resources,
            defaults.max_resources,
            1..=100_000_000,
        )?,
        max_batch: count(
            "max_batch",
            raw.max_batch,
            defaults.max_batch as u64,
            1..=1_000_000,
        )? as usize,
        max_string_bytes: count(
            "max_string_bytes",
            raw.max_string_bytes,
            defaults.max_string_bytes as u64,
            64..=64 << 20,
        )? as usize,
        max_log_bytes: count(
            "max_log_bytes",
            raw.max_log_bytes,
            defaults.max_log_bytes,
            0..=1 << 30,
        )?,
    })
}

/// A whole-number limit within `range`, or its default.
fn count(
    name: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(n) if range.contains(&n) => Ok(n),
        Some(n) => Err(format!(
            "`limits.{name}` must be between {} and {}, not {n}",
            range.start(),
            range.end()
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bindings::ConfigField;

    /// A config field for test specs; the fuzz targets use it too.
    pub(crate) fn field(
        name: &str,
        kind: FieldKind,
        required: bool,
        secret: bool,
        default: Option<&str>,
    ) -> ConfigField {
        ConfigField {
            name: name.to_owned(),
            label: name.to_owned(),
            description: String::new(),
            kind,
            required,
            secret,
            default_value: default.map(str::to_owned),
        }
    }

    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            id: "hex".to_owned(),
            display_name: "Hex".to_owned(),
            version: "0.1.0".to_owned(),
            description: String::new(),
            fields: vec![
                field("api_token", FieldKind::Text, true, true, None),
                field(
                    "base_url",
                    FieldKind::Url,
                    false,
                    false,
                    Some("https://app.hex.tech/api/v1"),
                ),
                field("workspace_id", FieldKind::Text, false, false, None),
                field("page_size", FieldKind::Integer, false, false, Some("100")),
            ],
            resource_types: vec![],
            base_url_field: Some("base_url".to_owned()),
            bearer_credential_field: Some("api_token".to_owned()),
        }
    }

    fn parse(text: &str) -> Result<SourceFile, SourceError> {
        SourceFile::parse(Path::new("/etc/euno/hex.toml"), text)
    }

    fn env(name: &str) -> Option<String> {
        (name == "HEX_API_TOKEN").then(|| "hxtp_secret".to_owned())
    }

    #[test]
    fn a_full_source_resolves_with_defaults_and_the_secret_split_off() {
        let file = parse(
            "name = \"Hex - Analytics Projects\"\nconnector = \"hex\"\n[settings]\napi_token = \"${HEX_API_TOKEN}\"\nworkspace_id = \"ws-1\"\npage_size = 50\n",
        )
        .unwrap();
        assert_eq!(file.connector, ConnectorRef::Id("hex".to_owned()));
        let resolved = file.resolve(&spec(), &Trust::Bundled, env).unwrap();
        let config: Vec<(&str, &str)> = resolved
            .config
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            config,
            [
                ("base_url", "https://app.hex.tech/api/v1"),
                ("workspace_id", "ws-1"),
                ("page_size", "50")
            ]
        );
        assert_eq!(resolved.bearer.unwrap().expose(), "hxtp_secret");
        assert_eq!(
            resolved.allowed,
            [Origin::grant("https://app.hex.tech").unwrap()]
        );
        assert_eq!(
            resolved.notes,
            [
                "settings.api_token: move it to [secrets]; a credential under [settings] is accepted only for the bundled connector, and will not be for long"
            ]
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let unknown = parse("name = \"x\"\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.starts_with("/etc/euno/hex.toml: "), "{unknown}");
        assert!(unknown.contains("colour"), "{unknown}");

        let file = parse("name = \"x\"\n[settings]\napi_token = \"t\"\npage_sise = 5\n").unwrap();
        let err = file
            .resolve(&spec(), &Trust::Bundled, env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("settings.page_sise"), "{err}");

        let file = parse("name = \"x\"\n").unwrap();
        let err = file
            .resolve(&spec(), &Trust::Bundled, env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing required secret `secrets.api_token`"),
            "{err}"
        );

        let file =
            parse("name = \"x\"\n[settings]\napi_token = \"t\"\npage_size = \"many\"\n").unwrap();
        let err = file
            .resolve(&spec(), &Trust::Bundled, env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("settings.page_size") && err.contains("integer"),
            "{err}"
        );

        for ftp in ["ftp://x", "ftp://127.0.0.1:21/api/v1"] {
            let file = parse(&format!(
                "name = \"x\"\n[secrets]\napi_token = \"t\"\n[settings]\nbase_url = \"{ftp}\"\n"
            ))
            .unwrap();
            let err = file
                .resolve(&spec(), &Trust::Bundled, env)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("settings.base_url") && err.contains("only http and https"),
                "{err}"
            );
        }
    }

    /// A spec that believed would take the token (`api_token` not secret) and send the bearer to
    /// its author (`exfil_url` as its base-URL field).
    fn hostile_spec() -> ConnectorSpec {
        ConnectorSpec {
            id: "hostile".to_owned(),
            fields: vec![
                field("api_token", FieldKind::Text, false, false, None),
                field("password", FieldKind::Text, false, true, None),
                field("base_url", FieldKind::Url, false, false, None),
                field(
                    "exfil_url",
                    FieldKind::Url,
                    false,
                    false,
                    Some("https://author.example"),
                ),
                field("note", FieldKind::Text, false, false, None),
            ],
            base_url_field: Some("exfil_url".to_owned()),
            ..spec()
        }
    }

    fn component(installed: &[&str]) -> Trust {
        Trust::Component {
            installed_origins: installed
                .iter()
                .map(|o| Origin::grant(o).unwrap())
                .collect(),
        }
    }

    #[test]
    fn the_operator_declares_the_secrets_of_a_component() {
        let file = parse(
            "name = \"x\"\nconnector = \"h.wasm\"\n[secrets]\napi_token = \"${HEX_API_TOKEN}\"\npassword = \"pw-literal\"\n[settings]\nbase_url = \"https://api.example.com\"\n",
        )
        .unwrap();
        let resolved = file.resolve(&hostile_spec(), &component(&[]), env).unwrap();
        let names: Vec<&str> = resolved.config.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["base_url", "exfil_url"]);
        assert_eq!(resolved.bearer.unwrap().expose(), "hxtp_secret");
        assert!(resolved.notes.is_empty());

        for (setting, why) in [
            ("api_token", "bearer credential"),
            ("password", "marks it secret"),
        ] {
            let file = parse(&format!(
                "name = \"x\"\n[settings]\n{setting} = \"${{HEX_API_TOKEN}}\"\n"
            ))
            .unwrap();
            let err = file
                .resolve(&hostile_spec(), &component(&[]), env)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("settings.{setting}"))
                    && err.contains(why)
                    && err.contains("move it to [secrets]"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_component_reaches_only_what_the_operator_granted() {
        let file =
            parse("name = \"x\"\n[settings]\nbase_url = \"https://api.example.com/v1\"\n").unwrap();
        let resolved = file.resolve(&hostile_spec(), &component(&[]), env).unwrap();
        assert!(resolved.allowed.is_empty(), "{:?}", resolved.allowed);

        let file = parse(
            "name = \"x\"\n[network]\nallow = [\"https://api.example.com\", \"http://127.0.0.1:8080/\", \"https://api.example.com:443\"]\n",
        )
        .unwrap();
        let resolved = file
            .resolve(
                &hostile_spec(),
                &component(&["https://installed.example"]),
                env,
            )
            .unwrap();
        let allowed: Vec<String> = resolved.allowed.iter().map(Origin::to_string).collect();
        assert_eq!(
            allowed,
            [
                "https://api.example.com:443",
                "http://127.0.0.1:8080",
                "https://installed.example:443"
            ]
        );

        // The bundled connector: its base URL's origin, and the [network] grants.
        let file = parse(
            "name = \"x\"\n[secrets]\napi_token = \"t\"\n[network]\nallow = [\"https://proxy.example\"]\n",
        )
        .unwrap();
        let resolved = file.resolve(&spec(), &Trust::Bundled, env).unwrap();
        let allowed: Vec<String> = resolved.allowed.iter().map(Origin::to_string).collect();
        assert_eq!(
            allowed,
            ["https://proxy.example:443", "https://app.hex.tech:443"]
        );
    }

    #[test]
    fn network_grants_are_http_origins_named_by_their_index() {
        for (grant, why) in [
            ("ftp://127.0.0.1:21", "only http and https"),
            ("https://api.example.com/v1", "without a path"),
            ("api.example.com", "no scheme"),
            ("https://user@api.example.com", "user information"),
        ] {
            let err = parse(&format!(
                "name = \"x\"\n[network]\nallow = [\"https://ok.example\", \"{grant}\"]\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("network.allow[1]") && err.contains(why),
                "{grant}: {err}"
            );
        }
        let err = parse("name = \"x\"\n[network]\ndeny = []\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("deny"), "{err}");
    }

    #[test]
    fn unknown_duplicated_and_non_text_secrets_are_refused() {
        for (text, expected) in [
            (
                "[secrets]\napi_tokn = \"t\"\n",
                "unknown secret `secrets.api_tokn`",
            ),
            (
                "[secrets]\napi_token = \"t\"\n[settings]\napi_token = \"t\"\n",
                "both in [settings] and in [secrets]",
            ),
            ("[secrets]\napi_token = 42\n", "must be a string"),
            ("[secrets]\napi_token = \" \"\n", "must not be empty"),
        ] {
            let file = parse(&format!("name = \"x\"\n{text}")).unwrap();
            let err = file
                .resolve(&spec(), &Trust::Bundled, env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn a_setting_may_not_carry_a_secret() {
        for (secrets, setting) in [
            (
                "[secrets]\napi_token = \"${HEX_API_TOKEN}\"\n",
                "workspace_id = \"${HEX_API_TOKEN}\"",
            ),
            (
                "[secrets]\napi_token = \"${HEX_API_TOKEN}\"\n",
                "workspace_id = \"ws-${HEX_API_TOKEN}\"",
            ),
            (
                "[secrets]\napi_token = \"hxtp_secret\"\n",
                "workspace_id = \"hxtp_secret\"",
            ),
            // The deprecated form: the bundled connector's token under [settings].
            (
                "",
                "api_token = \"${HEX_API_TOKEN}\"\npage_size = \"${HEX_API_TOKEN}\"",
            ),
        ] {
            let file = parse(&format!("name = \"x\"\n{secrets}[settings]\n{setting}\n")).unwrap();
            let err = file
                .resolve(&spec(), &Trust::Bundled, env)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("secret `api_token`") && !err.contains("hxtp_secret"),
                "{setting}: {err}"
            );
        }
        // A short secret is only refused when a setting equals it: containing it is coincidence.
        let file = parse(
            "name = \"x\"\n[secrets]\napi_token = \"42\"\n[settings]\nworkspace_id = \"ws-42\"\n",
        )
        .unwrap();
        assert!(file.resolve(&spec(), &Trust::Bundled, env).is_ok());
    }

    #[test]
    fn errors_quote_the_reference_never_the_expanded_value() {
        let env = |name: &str| match name {
            "HEX_API_TOKEN" => Some("hxtp_secret".to_owned()),
            _ => Some("hxtp_other_value".to_owned()),
        };
        for (setting, field) in [
            ("page_size = \"${PAGE}\"", "settings.page_size"),
            ("base_url = \"${BASE}\"", "settings.base_url"),
            ("base_url = \"https://${HOST}:x/\"", "settings.base_url"),
        ] {
            let file = parse(&format!(
                "name = \"x\"\n[secrets]\napi_token = \"${{HEX_API_TOKEN}}\"\n[settings]\n{setting}\n"
            ))
            .unwrap();
            let err = file
                .resolve(&spec(), &Trust::Bundled, env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field) && err.contains("${"), "{err}");
            assert!(!err.contains("hxtp_"), "{err}");
        }
    }

    #[test]
    fn a_missing_environment_variable_is_named_and_the_secret_never_quoted() {
        let file = parse("name = \"x\"\n[settings]\napi_token = \"${NOPE}\"\n").unwrap();
        let err = file
            .resolve(&spec(), &Trust::Bundled, env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`NOPE`") && err.contains("settings.api_token"),
            "{err}"
        );

        let file = parse("name = \"x\"\n[settings]\napi_token = \"   \"\n").unwrap();
        let err = file
            .resolve(&spec(), &Trust::Bundled, env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must not be empty"), "{err}");
    }

    #[test]
    fn every_limit_has_a_default_and_can_be_set() {
        let defaults = parse("name = \"x\"\n").unwrap().limits;
        assert_eq!(defaults, Limits::default());
        assert_eq!(defaults.max_response_bytes, 32 << 20);
        assert_eq!(defaults.max_resources, 2_000_000);
        assert_eq!(defaults.max_batch, 10_000);
        assert_eq!(defaults.max_string_bytes, 1 << 20);
        assert_eq!(defaults.max_log_bytes, 16 << 20);
        assert_eq!(defaults.request_total, std::time::Duration::from_secs(120));
        let set = parse(
            "name = \"x\"\n[limits]\nmax_response_bytes = 2048\nmax_resources = 7\nmax_batch = 3\nmax_string_bytes = 100\nmax_log_bytes = 0\nmax_request_total_seconds = 2\n",
        )
        .unwrap()
        .limits;
        assert_eq!(
            (
                set.max_response_bytes,
                set.max_resources,
                set.max_batch,
                set.max_string_bytes,
                set.max_log_bytes,
                set.request_total,
            ),
            (2048, 7, 3, 100, 0, std::time::Duration::from_secs(2))
        );
    }

    #[test]
    fn a_credential_that_cannot_be_a_header_is_refused_without_being_shown() {
        for bad in ["hxtp_abc\ndef", "hxtp_abc\r", " hxtp_abc", "hxtp\u{7f}abc"] {
            let file =
                parse("name = \"x\"\n[settings]\napi_token = \"${HEX_API_TOKEN}\"\n").unwrap();
            let err = file
                .resolve(&spec(), &Trust::Bundled, |_| Some(bad.to_owned()))
                .unwrap_err()
                .to_string();
            assert!(err.contains("settings.api_token"), "{err}");
            assert!(!err.contains("hxtp"), "{err}");
        }
    }

    #[test]
    fn debug_output_names_settings_without_their_values() {
        let file = parse("name = \"x\"\n[settings]\napi_token = \"hxtp_literal\"\n").unwrap();
        let shown = format!("{file:?}");
        assert!(
            shown.contains("api_token") && !shown.contains("hxtp_literal"),
            "{shown}"
        );
    }

    #[test]
    fn a_string_in_the_wrong_place_is_not_quoted() {
        let err = parse("name = \"x\"\n[limits]\nmemory_mib = \"hxtp_secret\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type: string, expected u32"), "{err}");
        assert!(!err.contains("hxtp_secret"), "{err}");
    }

    #[test]
    fn connector_paths_are_relative_to_the_source_file() {
        let file = parse("name = \"x\"\nconnector = \"connectors/other.wasm\"\n").unwrap();
        assert_eq!(
            file.connector,
            ConnectorRef::File(PathBuf::from("/etc/euno/connectors/other.wasm"))
        );
        let err = parse("name = \"x\"\nconnector = \"Tableau Cloud\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("field `connector`"), "{err}");
    }

    #[test]
    fn cleanup_and_limits_are_checked() {
        let file = parse("name = \"x\"\n[cleanup]\nstrategy = \"after_days\"\nafter_days = 7\nmax_removal_ratio = 0.5\n").unwrap();
        assert_eq!(file.cleanup.strategy, CleanupStrategy::AfterDays(7));
        assert_eq!(file.cleanup.max_removal_ratio, Some(0.5));
        for bad in [
            "[cleanup]\nstrategy = \"weekly\"\n",
            "[cleanup]\nstrategy = \"after_days\"\n",
            "[cleanup]\nafter_days = 3\n",
            "[cleanup]\nmax_removal_ratio = 1.5\n",
            "[cleanup]\nmax_removal_ratio = 0.0\n",
            "[cleanup]\nmax_removal_ratio = nan\n",
            "[limits]\nmemory_mib = 1\n",
            "[limits]\nmax_response_bytes = 10\n",
            "[limits]\nmax_resources = 0\n",
            "[limits]\nmax_batch = 0\n",
            "[limits]\nmax_string_bytes = 1\n",
            "[limits]\nmax_log_bytes = 2000000000\n",
            "[limits]\nmax_request_total_seconds = 0\n",
            "[limits]\nmax_request_total_seconds = 86401\n",
        ] {
            let err = parse(&format!("name = \"x\"\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("cleanup.") || err.contains("limits."),
                "{bad}: {err}"
            );
        }
    }
}
