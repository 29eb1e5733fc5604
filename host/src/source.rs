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
//! never reach the connector, whatever its spec says: a connector may only ask, by name, that the
//! host present one through its credential scheme (bearer, a named header, HTTP basic or a query
//! parameter; see [`Credential`]). A connector reaches the origins `[network]` grants and those
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

use crate::connectors::{BUNDLED_ID, ConnectorRef};
use crate::contract::{ConfigEntry, ConnectorSpec, CredentialScheme, FieldKind, SettingValue};
use crate::inventory::{CleanupPolicy, CleanupStrategy, is_removal_ratio};
use crate::sandbox::egress::{Credential, CredentialError, MIN_MASKED_SECRET_BYTES, OriginError};
use crate::sandbox::limits::{LimitsError, LimitsTable};
use crate::sandbox::{Limits, Origin, Trust};
use crate::secret::Secret;
use crate::vault::{Vault, VaultError, is_sealed};

/// A source file that failed to load or to match its connector.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", .path.display())]
pub struct SourceError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong, naming the field (boxed: errors stay small on the happy path).
    pub problem: Box<SourceProblem>,
}

/// What is wrong with a source file. Each says which field; none quotes a value read from the
/// environment or a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceProblem {
    /// The file cannot be read.
    #[error("cannot read the source file: {0}")]
    Read(std::io::Error),
    /// Not TOML, or a key or type the file may not have.
    #[error("{0}")]
    Syntax(String),
    /// `name` is blank.
    #[error("field `name` must not be empty")]
    EmptyName,
    /// `connector` is neither an id nor a component file.
    #[error(
        "field `connector`: `{0}` is neither a connector id (like `{BUNDLED_ID}`) nor a path to a \
         `.wasm` component"
    )]
    Connector(String),
    /// A `[network] allow` entry that is not an origin.
    #[error("`network.allow[{index}]`: `{text}` cannot be granted: {source}")]
    Grant {
        /// Its position.
        index: usize,
        /// The grant as written (literal: `[network]` has no `${VAR}`).
        text: String,
        /// Why it is no origin.
        source: OriginError,
    },
    /// The `[cleanup]` table.
    #[error(transparent)]
    Cleanup(#[from] CleanupError),
    /// The `[limits]` table.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// A setting the connector does not have.
    #[error("unknown setting `settings.{key}`; the {connector} connector accepts: {known}")]
    UnknownSetting {
        /// The key.
        key: String,
        /// The connector's id.
        connector: String,
        /// The settings it has.
        known: String,
    },
    /// A name in both tables.
    #[error("`{0}` is set both in [settings] and in [secrets]; keep it in [secrets] only")]
    SettingAndSecret(String),
    /// A secret the connector never mentions: a typo, and the secret meant is missing.
    #[error(
        "unknown secret `{key}`; the {connector} connector's settings are: {known}{}",
        credential.as_ref().map_or(String::new(), |f| format!(" (it asks for {f})"))
    )]
    UnknownSecret {
        /// The key, `secrets.<name>`.
        key: String,
        /// The connector's id.
        connector: String,
        /// The settings it has.
        known: String,
        /// What the connector's credential scheme asks for, e.g. "`api_token` as its bearer
        /// credential", if it has one.
        credential: Option<String>,
    },
    /// A secret that is not a string.
    #[error("secret `{key}` must be a string, not a {found}")]
    SecretType {
        /// The key.
        key: String,
        /// The TOML type written.
        found: &'static str,
    },
    /// A blank secret.
    #[error("secret `{0}` must not be empty")]
    EmptySecret(String),
    /// A `${VAR}` reference that cannot be read.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A credential written under `[settings]` for a component.
    #[error(
        "setting `{key}` is a credential ({why}): move it to [secrets], which the connector never \
         sees; under [settings] it would be handed to the connector"
    )]
    CredentialInSettings {
        /// The key.
        key: String,
        /// Why it is one.
        why: &'static str,
    },
    /// A setting that is a table, an array or a date (or, for a list, not an array of strings).
    #[error("setting `{key}` must be {expected}, not a {found}")]
    SettingType {
        /// What it must be.
        expected: &'static str,
        /// The key.
        key: String,
        /// The TOML type written.
        found: &'static str,
    },
    /// A setting that carries a secret's value.
    #[error(
        "setting `{key}` carries the value of the secret `{secret}`; settings are handed to the \
         connector, so a secret may not be copied into one"
    )]
    CarriesSecret {
        /// The key.
        key: String,
        /// The secret's name.
        secret: String,
    },
    /// A required secret is missing.
    #[error("missing required secret `secrets.{name}` ({label})")]
    MissingSecret {
        /// Its name.
        name: String,
        /// Its label.
        label: String,
    },
    /// A required setting is missing.
    #[error("missing required setting `{key}` ({label})")]
    MissingSetting {
        /// Its key.
        key: String,
        /// Its label.
        label: String,
    },
    /// A value that does not fit its field's kind.
    #[error(transparent)]
    Kind(#[from] KindError),
    /// The bundled connector's base URL has no origin to grant.
    #[error("setting `settings.{field}`: {source}")]
    BaseUrl {
        /// The field.
        field: String,
        /// Why.
        source: OriginError,
    },
    /// A credential that cannot be sent in an HTTP header.
    #[error(transparent)]
    Bearer(#[from] BearerError),
    /// A credential the connector's scheme cannot present (its header or parameter name, or
    /// the secret's characters).
    #[error("secret `{key}`: {source}")]
    Credential {
        /// The key holding the secret, `secrets.<name>`.
        key: String,
        /// Why.
        source: CredentialError,
    },
    /// The basic scheme's password is set but its user name is not.
    #[error(
        "the connector sends `{password}` with HTTP basic authentication, which needs the user          name `{username}` too: set `settings.{username}` or `secrets.{username}`"
    )]
    BasicWithoutUser {
        /// The user name's setting.
        username: String,
        /// The password's secret.
        password: String,
    },
}

/// A `[cleanup]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CleanupError {
    /// `after_days` missing or zero with `strategy = "after_days"`.
    #[error(
        "`cleanup.after_days` must be a whole number of days, 1 or more, with strategy \"after_days\""
    )]
    AfterDaysMissing,
    /// `after_days` with another strategy.
    #[error("`cleanup.after_days` is only allowed with strategy = \"after_days\"")]
    AfterDaysUnused,
    /// An unknown strategy.
    #[error("`cleanup.strategy` must be \"immediate\", \"none\" or \"after_days\", not \"{0}\"")]
    Strategy(String),
    /// A removal ratio out of range.
    #[error("`cleanup.max_removal_ratio` must be above 0 and at most 1, not {0}")]
    Ratio(f64),
}

/// A `${VAR}` reference that cannot be read. Only the reference is quoted, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `${` without `}`.
    #[error("setting `{key}`: `${{` without a closing `}}`")]
    Unclosed {
        /// The key.
        key: String,
    },
    /// A name that cannot be a variable's.
    #[error("setting `{key}`: `${{{name}}}` is not a valid environment variable name")]
    BadName {
        /// The key.
        key: String,
        /// The name as written.
        name: String,
    },
    /// A variable that is not set.
    #[error("setting `{key}` refers to the environment variable `{name}`, which is not set")]
    Unset {
        /// The key.
        key: String,
        /// The variable.
        name: String,
    },
}

/// A value that does not fit its field's kind. `shown` is what the file wrote (`${VAR}`
/// unexpanded), or that it is not shown because it is secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KindError {
    /// Blank text.
    #[error("setting `{key}` must not be empty")]
    Empty {
        /// The key.
        key: String,
    },
    /// Not an integer.
    #[error("setting `{key}` must be an integer, got {shown}")]
    Integer {
        /// The key.
        key: String,
        /// The value as shown.
        shown: String,
    },
    /// Not `true` or `false`.
    #[error("setting `{key}` must be true or false, got {shown}")]
    Boolean {
        /// The key.
        key: String,
        /// The value as shown.
        shown: String,
    },
    /// Not an absolute http(s) URL.
    #[error("setting `{key}` must be an absolute http(s) URL, got {shown}: {source}")]
    Url {
        /// The key.
        key: String,
        /// The value as shown.
        shown: String,
        /// Why.
        source: OriginError,
    },
    /// Not one of the field's choices.
    #[error("setting `{key}` must be one of {choices}, got {shown}")]
    Choice {
        /// The key.
        key: String,
        /// The value as shown.
        shown: String,
        /// The values allowed, quoted and separated by commas.
        choices: String,
    },
    /// Not a list of strings.
    #[error("setting `{key}` must be a list of strings, got {shown}")]
    List {
        /// The key.
        key: String,
        /// The value as shown.
        shown: String,
    },
}

/// A credential that cannot go in an `Authorization` header. The value is never quoted: it is
/// secret, and a line break in it usually means a token read from a file with its newline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// A control character.
    #[error(
        "setting `{0}` contains a line break or another control character, which cannot be sent \
         in an HTTP header; check the value (it is not shown: it is secret)"
    )]
    Control(String),
    /// Leading or trailing spaces.
    #[error(
        "setting `{0}` starts or ends with spaces; check the value (it is not shown: it is secret)"
    )]
    Spaces(String),
    /// Another character a header cannot carry.
    #[error(
        "setting `{0}` contains characters that cannot be sent in an HTTP header (it is not \
         shown: it is secret)"
    )]
    Header(String),
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
    limits: LimitsTable,
}

fn default_connector() -> String {
    BUNDLED_ID.to_owned()
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
    /// Secrets opened from sealed values of `[secrets]` (see `vault`), by name: used in place
    /// of the table's entry of that name.
    stored: BTreeMap<String, Secret>,
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
            .field("stored", &self.stored.keys().collect::<Vec<_>>())
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
    /// The credential the host adds to requests, when the connector's scheme asks for one and
    /// the source has the secret it names.
    pub credential: Option<Credential>,
    /// One-line notes for the operator: forms that still work but should change.
    pub notes: Vec<String>,
}

impl SourceFile {
    /// Reads and shape-checks a source file.
    pub fn load(path: &Path) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SourceError {
            path: path.to_owned(),
            problem: Box::new(SourceProblem::Read(e)),
        })?;
        Self::parse(path, &text)
    }

    /// Shape-checks the text of a source file; `path` names it in errors and anchors relative
    /// connector paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SourceError> {
        let error = |problem: SourceProblem| SourceError {
            path: path.to_owned(),
            problem: Box::new(problem),
        };
        let raw: RawSource = toml::from_str(text)
            .map_err(|e| error(SourceProblem::Syntax(toml_message(text, &e))))?;
        if raw.name.trim().is_empty() {
            return Err(error(SourceProblem::EmptyName));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let connector = ConnectorRef::parse(&raw.connector, base)
            .ok_or_else(|| error(SourceProblem::Connector(raw.connector.clone())))?;
        let mut network = Vec::new();
        for (index, text) in raw.network.allow.iter().enumerate() {
            // Grants are literal (no `${VAR}`), so quoting one shows nothing secret.
            let origin = Origin::grant(text).map_err(|source| {
                error(SourceProblem::Grant {
                    index,
                    text: text.clone(),
                    source,
                })
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
            stored: BTreeMap::new(),
            network,
            schedule: raw.schedule,
            cleanup: cleanup_policy(raw.cleanup).map_err(|e| error(e.into()))?,
            limits: Limits::try_from(raw.limits).map_err(|e| error(e.into()))?,
        })
    }

    /// The keys that hold a secret value in clear, which a shared inventory must not store: every
    /// `[secrets]` value that is not wholly one `${VAR}` reference, and for the bundled
    /// connector a `settings.api_token` likewise (its credential, still accepted there).
    pub fn literal_secrets(&self) -> Vec<String> {
        let is_reference = |value: &toml::Value| {
            value.as_str().is_some_and(|text| {
                text.strip_prefix("${")
                    .and_then(|rest| rest.strip_suffix('}'))
                    .is_some_and(|name| {
                        !name.is_empty()
                            && !name.starts_with(|c: char| c.is_ascii_digit())
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
            })
        };
        let mut keys: Vec<String> = self
            .secrets
            .iter()
            .filter(|(_, value)| !is_reference(value))
            .map(|(name, _)| format!("secrets.{name}"))
            .collect();
        let bundled = matches!(&self.connector, ConnectorRef::Id(id) if id == BUNDLED_ID);
        if bundled
            && let Some(token) = self.settings.get("api_token")
            && !is_reference(token)
        {
            keys.push("settings.api_token".to_owned());
        }
        keys
    }

    /// This source with its sealed secrets (`[secrets]` values written by the Sources page as
    /// `euno-sealed:…`) opened with `vault`'s key, each in place of its sealed text. A file with
    /// none needs no key.
    pub fn open_sealed(mut self, vault: &Vault) -> Result<Self, VaultError> {
        for (name, value) in &self.secrets {
            if let Some(text) = value.as_str()
                && is_sealed(text)
            {
                let opened = vault.open(&self.name, name, text)?;
                self.stored.insert(name.clone(), opened);
            }
        }
        Ok(self)
    }

    /// This source with `extra` secrets (typed into a form, not yet stored), in place of the
    /// table's entries of the same names.
    pub fn with_stored_secrets(mut self, extra: BTreeMap<String, Secret>) -> Self {
        self.stored.extend(extra);
        self
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
        let error = |problem: SourceProblem| SourceError {
            path: self.path.clone(),
            problem: Box::new(problem),
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
                return Err(error(SourceProblem::UnknownSetting {
                    key: key.clone(),
                    connector: spec.id.clone(),
                    known: known(),
                }));
            }
        }
        let scheme = spec.credential.as_ref();
        // The names the scheme reads a secret from: always secrets, whatever the spec's fields say.
        let credential_secrets = scheme
            .map(CredentialScheme::secret_names)
            .unwrap_or_default();
        let is_credential = |name: &str| credential_secrets.contains(&name);
        // Each secret with the key it was written under, for messages.
        let mut secrets: BTreeMap<&str, (String, Secret)> = BTreeMap::new();
        for (name, value) in &self.secrets {
            if self.stored.contains_key(name) {
                continue;
            }
            let key = format!("secrets.{name}");
            if self.settings.contains_key(name) {
                return Err(error(SourceProblem::SettingAndSecret(name.clone())));
            }
            // A name the connector never mentions is a typo: the secret meant would be missing.
            let mentioned = spec.fields.iter().any(|f| &f.name == name)
                || scheme.is_some_and(|scheme| scheme.names().contains(&name.as_str()));
            if !mentioned {
                return Err(error(SourceProblem::UnknownSecret {
                    key,
                    connector: spec.id.clone(),
                    known: known(),
                    credential: scheme.map(asks_for),
                }));
            }
            let toml::Value::String(written) = value else {
                return Err(error(SourceProblem::SecretType {
                    key,
                    found: value.type_str(),
                }));
            };
            let text = expand_env(&key, written, &env).map_err(|e| error(e.into()))?;
            if text.trim().is_empty() {
                return Err(error(SourceProblem::EmptySecret(key)));
            }
            secrets.insert(name, (key, Secret::new(text)));
        }
        for (name, secret) in &self.stored {
            let key = format!("secrets.{name}");
            if self.settings.contains_key(name) {
                return Err(error(SourceProblem::SettingAndSecret(name.clone())));
            }
            let mentioned = spec.fields.iter().any(|f| &f.name == name)
                || scheme.is_some_and(|scheme| scheme.names().contains(&name.as_str()));
            if !mentioned {
                return Err(error(SourceProblem::UnknownSecret {
                    key,
                    connector: spec.id.clone(),
                    known: known(),
                    credential: scheme.map(asks_for),
                }));
            }
            if secret.expose().trim().is_empty() {
                return Err(error(SourceProblem::EmptySecret(key)));
            }
            // Never expanded: a stored secret is the value typed, `${` and all.
            secrets.insert(name, (key, secret.clone()));
        }
        let mut notes = Vec::new();
        for field in &spec.fields {
            let Some(value) = self.settings.get(&field.name) else {
                continue;
            };
            let credential = is_credential(&field.name);
            if !(field.secret || credential) {
                continue;
            }
            let key = format!("settings.{}", field.name);
            // A credential the operator put under [settings]: a component would be handed it.
            if *trust != Trust::Bundled {
                let why = match scheme {
                    _ if field.secret => "the connector marks it secret",
                    Some(CredentialScheme::Bearer(_)) => {
                        "the connector asks for it as its bearer credential"
                    }
                    _ => "the connector asks for it as its credential",
                };
                return Err(error(SourceProblem::CredentialInSettings { key, why }));
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
                check_text(key, &field.kind, secret.expose(), None).map_err(|e| error(e.into()))?;
                continue;
            }
            let key = format!("settings.{}", field.name);
            let value = match (self.settings.get(&field.name), &field.default_value) {
                (Some(raw), _) => {
                    // Before the kind: a setting carrying a secret is refused as such, whatever
                    // else is wrong with it.
                    let texts = raw_texts(&key, raw, &env).map_err(&error)?;
                    let carried = secrets
                        .iter()
                        .find(|(_, (_, s))| texts.iter().any(|text| carries(text, s)));
                    if let Some((name, _)) = carried {
                        return Err(error(SourceProblem::CarriesSecret {
                            key,
                            secret: (*name).to_owned(),
                        }));
                    }
                    setting_value(&key, &field.kind, raw, &env).map_err(&error)?
                }
                (None, Some(default)) if !field.secret => {
                    check_default(&key, &field.kind, default).map_err(|e| error(e.into()))?;
                    default.clone()
                }
                (None, _) if field.required => {
                    let label = field.label.clone();
                    let problem = if field.secret || is_credential(&field.name) {
                        SourceProblem::MissingSecret {
                            name: field.name.clone(),
                            label,
                        }
                    } else {
                        SourceProblem::MissingSetting { key, label }
                    };
                    return Err(error(problem));
                }
                (None, _) => continue,
            };
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
                    && let Some(url) = values.get(field.as_str()).and_then(SettingValue::as_text)
                {
                    grant(Origin::of_url(url).map_err(|source| {
                        error(SourceProblem::BaseUrl {
                            field: field.clone(),
                            source,
                        })
                    })?);
                }
            }
            Trust::Component { installed_origins } => {
                installed_origins.iter().cloned().for_each(grant);
            }
        }
        let credential = match scheme {
            Some(scheme) => credential(scheme, &secrets, &values).map_err(&error)?,
            None => None,
        };
        Ok(ResolvedSource {
            name: self.name.clone(),
            config,
            allowed,
            credential,
            notes,
        })
    }
}

/// What a credential scheme asks for, for a message: "`api_token` as its bearer credential".
fn asks_for(scheme: &CredentialScheme) -> String {
    match scheme {
        CredentialScheme::Bearer(name) => format!("`{name}` as its bearer credential"),
        CredentialScheme::Header { header, secret, .. } => {
            format!("`{secret}` as its credential, in the `{header}` header")
        }
        CredentialScheme::Basic { username, password } => format!(
            "`{username}` and `{password}` as its credential, with HTTP basic authentication"
        ),
        CredentialScheme::Query { parameter, secret } => {
            format!("`{secret}` as its credential, in the `{parameter}` query parameter")
        }
    }
}

/// The credential `scheme` makes of the source's secrets (and, for basic, its user-name
/// setting), or none when the source has no value for the secret it names.
fn credential(
    scheme: &CredentialScheme,
    secrets: &BTreeMap<&str, (String, Secret)>,
    values: &BTreeMap<&str, SettingValue>,
) -> Result<Option<Credential>, SourceProblem> {
    let problem = |key: &str| {
        let key = key.to_owned();
        move |source| SourceProblem::Credential { key, source }
    };
    let made = match scheme {
        CredentialScheme::Bearer(name) => match secrets.get(name.as_str()) {
            Some((key, secret)) => {
                check_bearer(key, secret)?;
                Credential::bearer(secret).map_err(problem(key))?
            }
            None => return Ok(None),
        },
        CredentialScheme::Header {
            header,
            prefix,
            secret,
        } => match secrets.get(secret.as_str()) {
            Some((key, secret)) => {
                check_bearer(key, secret)?;
                Credential::header(header, prefix, secret).map_err(problem(key))?
            }
            None => return Ok(None),
        },
        CredentialScheme::Basic { username, password } => {
            let Some((key, secret)) = secrets.get(password.as_str()) else {
                return Ok(None);
            };
            let user = match (
                secrets.get(username.as_str()),
                values.get(username.as_str()),
            ) {
                (Some((_, user)), _) => user.expose().to_owned(),
                (None, Some(value)) => value.to_string(),
                (None, None) => {
                    return Err(SourceProblem::BasicWithoutUser {
                        username: username.clone(),
                        password: password.clone(),
                    });
                }
            };
            Credential::basic(&user, secret).map_err(problem(key))?
        }
        CredentialScheme::Query { parameter, secret } => match secrets.get(secret.as_str()) {
            Some((key, secret)) => Credential::query(parameter, secret).map_err(problem(key))?,
            None => return Ok(None),
        },
    };
    Ok(Some(made))
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
) -> Result<String, SourceProblem> {
    match value {
        toml::Value::String(s) => Ok(expand_env(key, s, env)?),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        other => Err(SourceProblem::SettingType {
            key: key.to_owned(),
            expected: "a string, number or boolean",
            found: other.type_str(),
        }),
    }
}

/// Every text a setting holds, `${VAR}` references expanded: a string, each string of a list,
/// a number or boolean as written.
fn raw_texts(
    key: &str,
    raw: &toml::Value,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, SourceProblem> {
    Ok(match raw {
        toml::Value::String(text) => vec![expand_env(key, text, env)?],
        toml::Value::Array(items) => {
            let mut texts = Vec::new();
            for (index, item) in items.iter().enumerate() {
                if let toml::Value::String(text) = item {
                    texts.push(expand_env(&format!("{key}[{index}]"), text, env)?);
                }
            }
            texts
        }
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
            vec![as_written(raw)]
        }
        _ => Vec::new(),
    })
}

/// A setting as the value the connector receives, read as its field's `kind` says, `${VAR}`
/// references expanded, and checked against the kind.
fn setting_value(
    key: &str,
    kind: &FieldKind,
    raw: &toml::Value,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<SettingValue, SourceProblem> {
    let shown = as_written(raw);
    let value = match (kind, raw) {
        (FieldKind::TextList, toml::Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let toml::Value::String(text) = item else {
                    return Err(SourceProblem::SettingType {
                        key: format!("{key}[{index}]"),
                        expected: "a string",
                        found: item.type_str(),
                    });
                };
                list.push(expand_env(&format!("{key}[{index}]"), text, env)?);
            }
            SettingValue::TextList(list)
        }
        (FieldKind::TextList, _) => {
            return Err(KindError::List {
                key: key.to_owned(),
                shown: format!("`{shown}`"),
            }
            .into());
        }
        (FieldKind::Integer, toml::Value::Integer(i)) => SettingValue::Integer(*i),
        (FieldKind::Boolean, toml::Value::Boolean(b)) => SettingValue::Boolean(*b),
        (FieldKind::Integer, _) => {
            let text = setting_text(key, raw, env)?;
            match text.trim().parse() {
                Ok(i) => SettingValue::Integer(i),
                Err(_) => {
                    return Err(KindError::Integer {
                        key: key.to_owned(),
                        shown: format!("`{shown}`"),
                    }
                    .into());
                }
            }
        }
        (FieldKind::Boolean, _) => match setting_text(key, raw, env)?.as_str() {
            "true" => SettingValue::Boolean(true),
            "false" => SettingValue::Boolean(false),
            _ => {
                return Err(KindError::Boolean {
                    key: key.to_owned(),
                    shown: format!("`{shown}`"),
                }
                .into());
            }
        },
        (FieldKind::Text | FieldKind::Url | FieldKind::Choice(_), _) => {
            let text = setting_text(key, raw, env)?;
            check_text(key, kind, &text, Some(&shown))?;
            SettingValue::Text(text)
        }
    };
    Ok(value)
}

/// Checks the connector's default for a field against the field's kind: a connector whose
/// default does not fit is refused before it is handed a value it did not expect.
fn check_default(key: &str, kind: &FieldKind, default: &SettingValue) -> Result<(), KindError> {
    let shown = default.to_string();
    let key = key.to_owned();
    match (kind, default) {
        (FieldKind::Integer, SettingValue::Integer(_))
        | (FieldKind::Boolean, SettingValue::Boolean(_))
        | (FieldKind::TextList, SettingValue::TextList(_)) => Ok(()),
        (FieldKind::Text | FieldKind::Url | FieldKind::Choice(_), SettingValue::Text(text)) => {
            check_text(&key, kind, text, Some(&shown))
        }
        (FieldKind::Integer, _) => Err(KindError::Integer {
            key,
            shown: format!("the connector's default `{shown}`"),
        }),
        (FieldKind::Boolean, _) => Err(KindError::Boolean {
            key,
            shown: format!("the connector's default `{shown}`"),
        }),
        (FieldKind::TextList, _) => Err(KindError::List {
            key,
            shown: format!("the connector's default `{shown}`"),
        }),
        (_, _) => Err(KindError::Empty { key }),
    }
}

/// Replaces each `${NAME}` with the environment variable `NAME`; a missing variable is an error.
fn expand_env(
    key: &str,
    text: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| EnvError::Unclosed {
            key: key.to_owned(),
        })?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EnvError::BadName {
                key: key.to_owned(),
                name: name.to_owned(),
            });
        }
        let value = env(name).ok_or_else(|| EnvError::Unset {
            key: key.to_owned(),
            name: name.to_owned(),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Checks a text value against its field's kind. `shown` is the value as the source file wrote
/// it (`${VAR}` unexpanded), which is what a message quotes; a secret (`None`) is never quoted.
fn check_text(
    key: &str,
    kind: &FieldKind,
    value: &str,
    shown: Option<&str>,
) -> Result<(), KindError> {
    let key = key.to_owned();
    let shown = || match shown {
        Some(text) => format!("`{text}`"),
        None => "the value (not shown: it is secret)".to_owned(),
    };
    match kind {
        FieldKind::Text if value.trim().is_empty() => Err(KindError::Empty { key }),
        FieldKind::Text => Ok(()),
        FieldKind::Integer => value
            .parse::<i64>()
            .map(drop)
            .map_err(|_| KindError::Integer {
                key,
                shown: shown(),
            }),
        FieldKind::Boolean => match value {
            "true" | "false" => Ok(()),
            _ => Err(KindError::Boolean {
                key,
                shown: shown(),
            }),
        },
        FieldKind::Url => Origin::of_url(value)
            .map(drop)
            .map_err(|source| KindError::Url {
                key,
                shown: shown(),
                source,
            }),
        FieldKind::Choice(choices) if choices.iter().any(|c| c == value) => Ok(()),
        FieldKind::Choice(choices) => Err(KindError::Choice {
            key,
            shown: shown(),
            choices: choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        FieldKind::TextList => Err(KindError::List {
            key,
            shown: shown(),
        }),
    }
}

/// A credential must fit in an `Authorization` header.
fn check_bearer(key: &str, secret: &Secret) -> Result<(), BearerError> {
    let value = secret.expose();
    if value.bytes().any(|b| b.is_ascii_control()) {
        return Err(BearerError::Control(key.to_owned()));
    }
    if value != value.trim() {
        return Err(BearerError::Spaces(key.to_owned()));
    }
    match http::HeaderValue::from_str(&format!("Bearer {value}")) {
        Ok(_) => Ok(()),
        Err(_) => Err(BearerError::Header(key.to_owned())),
    }
}

fn cleanup_policy(raw: RawCleanup) -> Result<CleanupPolicy, CleanupError> {
    let strategy = match (
        raw.strategy.as_deref().unwrap_or("immediate"),
        raw.after_days,
    ) {
        ("immediate", None) => CleanupStrategy::Immediate,
        ("none", None) => CleanupStrategy::None,
        ("after_days", Some(days)) if days > 0 => CleanupStrategy::AfterDays(days),
        ("after_days", _) => return Err(CleanupError::AfterDaysMissing),
        ("immediate" | "none", Some(_)) => return Err(CleanupError::AfterDaysUnused),
        (other, _) => return Err(CleanupError::Strategy(other.to_owned())),
    };
    if let Some(ratio) = raw.max_removal_ratio
        && !is_removal_ratio(ratio)
    {
        return Err(CleanupError::Ratio(ratio));
    }
    Ok(CleanupPolicy {
        strategy,
        max_removal_ratio: raw.max_removal_ratio,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::contract::ConfigField;

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
            required,
            secret,
            default_value: default.map(|text| match kind {
                FieldKind::Integer => SettingValue::Integer(text.parse().expect("an integer")),
                FieldKind::Boolean => SettingValue::Boolean(text == "true"),
                _ => SettingValue::Text(text.to_owned()),
            }),
            kind,
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
            external_namespaces: vec![],
            base_url_field: Some("base_url".to_owned()),
            credential: Some(CredentialScheme::Bearer("api_token".to_owned())),
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
        let config: Vec<(&str, String)> = resolved
            .config
            .iter()
            .map(|e| (e.name.as_str(), e.value.to_string()))
            .collect();
        assert_eq!(
            config,
            [
                ("base_url", "https://app.hex.tech/api/v1".to_owned()),
                ("workspace_id", "ws-1".to_owned()),
                ("page_size", "50".to_owned())
            ]
        );
        assert_eq!(
            resolved.credential.unwrap().secrets()[0].expose(),
            "hxtp_secret"
        );
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

    /// A 0.2 spec with a choice, a list and a url, and a header credential.
    fn spec_0_2() -> ConnectorSpec {
        let mut choice = field("mode", FieldKind::Text, false, false, None);
        choice.kind = FieldKind::Choice(vec!["all".to_owned(), "changed".to_owned()]);
        choice.default_value = Some(SettingValue::Text("changed".to_owned()));
        let mut tags = field("tags", FieldKind::Text, false, false, None);
        tags.kind = FieldKind::TextList;
        ConnectorSpec {
            id: "md".to_owned(),
            fields: vec![
                field("base_url", FieldKind::Url, true, false, None),
                field("api_key", FieldKind::Text, true, true, None),
                choice,
                tags,
            ],
            credential: Some(CredentialScheme::Header {
                header: "x-api-key".to_owned(),
                prefix: String::new(),
                secret: "api_key".to_owned(),
            }),
            ..ConnectorSpec::default()
        }
    }

    #[test]
    fn choice_list_and_url_settings_are_checked_and_typed() {
        let component = Trust::Component {
            installed_origins: Vec::new(),
        };
        let resolve = |settings: &str| {
            parse(&format!(
                "name = \"M\"\n[settings]\nbase_url = \"https://md.example/api\"\n{settings}\n[secrets]\napi_key = \"k-123456789\"\n"
            ))
            .unwrap()
            .resolve(&spec_0_2(), &component, env)
        };
        let resolved = resolve("tags = [\"a\", \"b\"]").unwrap();
        assert_eq!(
            resolved.config,
            [
                ConfigEntry {
                    name: "base_url".to_owned(),
                    value: SettingValue::Text("https://md.example/api".to_owned()),
                },
                ConfigEntry {
                    name: "mode".to_owned(),
                    value: SettingValue::Text("changed".to_owned()),
                },
                ConfigEntry {
                    name: "tags".to_owned(),
                    value: SettingValue::TextList(vec!["a".to_owned(), "b".to_owned()]),
                },
            ]
        );
        let credential = resolved.credential.unwrap();
        assert_eq!(credential.header_name().unwrap(), "x-api-key");
        for (settings, message) in [
            (
                "mode = \"some\"",
                "setting `settings.mode` must be one of `all`, `changed`, got `some`",
            ),
            (
                "tags = \"a\"",
                "setting `settings.tags` must be a list of strings, got `a`",
            ),
            (
                "tags = [\"a\", 1]",
                "setting `settings.tags[1]` must be a string, not a integer",
            ),
        ] {
            let error = resolve(settings).unwrap_err().to_string();
            assert_eq!(
                error,
                format!("/etc/euno/hex.toml: {message}"),
                "{settings}"
            );
        }
        let error = parse(
            "name = \"M\"\n[settings]\nbase_url = \"ftp://md.example\"\n[secrets]\napi_key = \"k\"\n",
        )
        .unwrap()
        .resolve(&spec_0_2(), &component, env)
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("setting `settings.base_url` must be an absolute http(s) URL"),
            "{error}"
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
        assert_eq!(
            resolved.credential.unwrap().secrets()[0].expose(),
            "hxtp_secret"
        );
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
            assert!(!err.contains("  "), "one line, without gaps: {err}");
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
