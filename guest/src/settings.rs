//! The connector's settings: what `spec` declares, and the typed [`HexConfig`] that `check` and
//! `discover` parse from the host's text values.
//!
//! One table ([`FIELDS`]) holds every field's name, label, kind and default, so the declared
//! defaults and the parsed defaults cannot drift apart. The host checks kinds and required fields
//! before the connector runs; this module checks ranges and meaning and names the field at fault.

use std::time::Duration;

use crate::bindings::{ConfigEntry, ConfigField, ConnectorError, FieldKind, InvalidConfigError};

/// The Hex API of Hex's multi-tenant cloud.
pub const DEFAULT_BASE_URL: &str = "https://app.hex.tech/api/v1";

/// One field as the connector declares it.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Key in the source's settings.
    pub name: &'static str,
    /// Label, as on the product's setup page.
    pub label: &'static str,
    /// What the field means and when to change it.
    pub description: &'static str,
    /// The kind of value.
    pub kind: FieldKind,
    /// Whether a source must set it.
    pub required: bool,
    /// Whether it is a secret (the host keeps it from the connector).
    pub secret: bool,
    /// The value used when the source leaves it out.
    pub default: Option<&'static str>,
}

const fn field(
    name: &'static str,
    label: &'static str,
    description: &'static str,
    kind: FieldKind,
    default: Option<&'static str>,
) -> FieldDef {
    FieldDef {
        name,
        label,
        description,
        kind,
        required: false,
        secret: false,
        default,
    }
}

/// Every field, in display order: first those of Euno's Hex setup page, then the tuning knobs.
pub const FIELDS: [FieldDef; 11] = [
    FieldDef {
        name: "api_token",
        label: "API Token",
        description: "A Hex API token (personal `hxtp_...` or workspace `hxtw_...`) that can read \
                      projects. The host sends it as a bearer token; the connector never sees it.",
        kind: FieldKind::Text,
        required: true,
        secret: true,
        default: None,
    },
    field(
        "base_url",
        "Base URL",
        "The Hex API base URL. Only change this if you're using a custom Hex deployment \
         (single-tenant or EU).",
        FieldKind::Url,
        Some(DEFAULT_BASE_URL),
    ),
    field(
        "workspace_id",
        "Workspace ID",
        "Your Hex workspace ID. If provided, it is used to create direct links to projects in \
         the workspace, and it identifies the workspace in resource URIs.",
        FieldKind::Text,
        None,
    ),
    field(
        "workspace_name",
        "Workspace Name",
        "A friendly name for your Hex workspace. It identifies the workspace in resource URIs \
         when no workspace ID is set.",
        FieldKind::Text,
        Some("hex_workspace"),
    ),
    field(
        "include_components",
        "Include Components",
        "Also discover Hex components (reusable cells), as `hex_component` resources.",
        FieldKind::Boolean,
        Some("false"),
    ),
    field(
        "include_archived",
        "Include Archived",
        "Also discover archived projects.",
        FieldKind::Boolean,
        Some("false"),
    ),
    field(
        "include_trashed",
        "Include Trashed",
        "Also discover projects in the trash.",
        FieldKind::Boolean,
        Some("false"),
    ),
    field(
        "requests_per_minute",
        "Requests per Minute",
        "The most requests the connector starts per minute (Hex's documented default limit is \
         30). 0 turns the client-side throttle off; Hex's 429 answers are still honoured.",
        FieldKind::Integer,
        Some("30"),
    ),
    field(
        "page_size",
        "Page Size",
        "Projects per page of the Hex API's project list, 1 to 100.",
        FieldKind::Integer,
        Some("100"),
    ),
    field(
        "request_timeout_seconds",
        "Request Timeout (seconds)",
        "How long one request to Hex may take, 1 to 600 seconds.",
        FieldKind::Integer,
        Some("30"),
    ),
    field(
        "max_retries",
        "Max Retries",
        "How many times a request is retried after a rate limit (429), a server error (5xx) or a \
         network failure, 0 to 20.",
        FieldKind::Integer,
        Some("5"),
    ),
];

/// The fields as the contract declares them.
pub fn config_fields() -> Vec<ConfigField> {
    FIELDS
        .iter()
        .map(|def| ConfigField {
            name: def.name.to_owned(),
            label: def.label.to_owned(),
            description: def.description.to_owned(),
            kind: def.kind,
            required: def.required,
            secret: def.secret,
            default_value: def.default.map(str::to_owned),
        })
        .collect()
}

/// A source's settings, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexConfig {
    /// The API base URL without a trailing slash, e.g. `https://app.hex.tech/api/v1`.
    pub base_url: String,
    /// The workspace id, when the source sets a non-empty one.
    pub workspace_id: Option<String>,
    /// The workspace's friendly name.
    pub workspace_name: String,
    /// Whether to list components too.
    pub include_components: bool,
    /// Whether to list archived projects too.
    pub include_archived: bool,
    /// Whether to list trashed projects too.
    pub include_trashed: bool,
    /// The client-side request budget per minute; 0 means unthrottled.
    pub requests_per_minute: u32,
    /// Projects per page, 1 to 100.
    pub page_size: u32,
    /// The budget of one request.
    pub request_timeout: Duration,
    /// Retries after a retryable failure.
    pub max_retries: u32,
}

impl HexConfig {
    /// Parses the host's entries. Missing entries take their declared default; unknown entries
    /// are ignored (the host validated names); the secret `api_token` never arrives and is not
    /// needed. Fails with [`ConnectorError::InvalidConfig`] naming the first bad field.
    pub fn parse(entries: &[ConfigEntry]) -> Result<Self, ConnectorError> {
        let values = Values(entries);
        let workspace_id = values
            .text("workspace_id")
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        if let Some(id) = &workspace_id
            && !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "workspace_id",
                format!(
                    "`{id}` is not a Hex workspace id: expected letters, digits, `-` and `_` \
                     only (a UUID, as in the workspace's URLs)"
                ),
            ));
        }
        let workspace_name = values.text("workspace_name").unwrap_or_default().to_owned();
        if workspace_name.is_empty() {
            return Err(invalid(
                "workspace_name",
                "must not be empty: it names the workspace resource".to_owned(),
            ));
        }
        if workspace_id.is_none() && workspace_name.contains('.') {
            return Err(invalid(
                "workspace_name",
                format!(
                    "`{workspace_name}` contains `.`, which separates resource URI segments; \
                     without a workspace_id the name is the workspace's URI segment, so remove \
                     the `.` or set workspace_id"
                ),
            ));
        }
        Ok(Self {
            base_url: parse_base_url(values.text("base_url").unwrap_or_default())?,
            workspace_id,
            workspace_name,
            include_components: values.boolean("include_components")?,
            include_archived: values.boolean("include_archived")?,
            include_trashed: values.boolean("include_trashed")?,
            requests_per_minute: values.integer(
                "requests_per_minute",
                0,
                10_000,
                " (0 turns the client-side throttle off)",
            )?,
            page_size: values.integer("page_size", 1, 100, "")?,
            request_timeout: Duration::from_secs(u64::from(values.integer(
                "request_timeout_seconds",
                1,
                600,
                "",
            )?)),
            max_retries: values.integer("max_retries", 0, 20, "")?,
        })
    }

    /// The workspace's segment in resource URIs: its id when set, else its name; lowercase.
    pub fn workspace_key(&self) -> String {
        self.workspace_id
            .as_deref()
            .unwrap_or(&self.workspace_name)
            .to_lowercase()
    }

    /// The Hex web app's origin: the base URL without its `/api/v1` suffix, e.g.
    /// `https://app.hex.tech`, from which links into the app are built.
    pub fn app_origin(&self) -> &str {
        let base = self.base_url.as_str();
        base.strip_suffix("/api/v1")
            .unwrap_or(base)
            .trim_end_matches('/')
    }
}

/// The host's entries, looked up by name; the last entry of a name wins.
struct Values<'a>(&'a [ConfigEntry]);

impl Values<'_> {
    /// The trimmed value, or the field's declared default.
    fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|entry| entry.name == name)
            .map(|entry| entry.value.trim())
            .or_else(|| default_of(name))
    }

    fn boolean(&self, name: &str) -> Result<bool, ConnectorError> {
        match self.text(name).unwrap_or_default() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(invalid(
                name,
                format!("must be `true` or `false`, got `{other}`"),
            )),
        }
    }

    fn integer(&self, name: &str, min: u32, max: u32, note: &str) -> Result<u32, ConnectorError> {
        let text = self.text(name).unwrap_or_default();
        let out_of_range = || {
            invalid(
                name,
                format!("must be a whole number from {min} to {max}{note}, got `{text}`"),
            )
        };
        let value: i64 = text.parse().map_err(|_| out_of_range())?;
        u32::try_from(value)
            .ok()
            .filter(|value| (min..=max).contains(value))
            .ok_or_else(out_of_range)
    }
}

fn default_of(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|def| def.name == name)
        .and_then(|def| def.default)
}

fn parse_base_url(text: &str) -> Result<String, ConnectorError> {
    let base = text.trim_end_matches('/');
    let lower = base.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(invalid(
            "base_url",
            format!("`{text}` is not an http(s) URL; the default is {DEFAULT_BASE_URL}"),
        ));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("base_url", format!("`{text}` has no host")));
    }
    if base.contains(['?', '#']) || base.contains(char::is_whitespace) {
        return Err(invalid(
            "base_url",
            format!(
                "`{text}` must be the API's base URL without a query or fragment, e.g. \
                 {DEFAULT_BASE_URL}"
            ),
        ));
    }
    Ok(base.to_owned())
}

fn invalid(field: &str, message: String) -> ConnectorError {
    ConnectorError::InvalidConfig(InvalidConfigError {
        field: field.to_owned(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::entries;

    fn field_of(result: Result<HexConfig, ConnectorError>) -> (String, String) {
        match result {
            Err(ConnectorError::InvalidConfig(error)) => (error.field, error.message),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_config_takes_every_default() {
        let config = HexConfig::parse(&[]).expect("defaults are valid");
        assert_eq!(
            config,
            HexConfig {
                base_url: DEFAULT_BASE_URL.to_owned(),
                workspace_id: None,
                workspace_name: "hex_workspace".to_owned(),
                include_components: false,
                include_archived: false,
                include_trashed: false,
                requests_per_minute: 30,
                page_size: 100,
                request_timeout: Duration::from_secs(30),
                max_retries: 5,
            }
        );
        assert_eq!(config.workspace_key(), "hex_workspace");
        assert_eq!(config.app_origin(), "https://app.hex.tech");
    }

    #[test]
    fn values_override_defaults_and_unknown_entries_are_ignored() {
        let config = HexConfig::parse(&entries(&[
            ("base_url", "https://eu.hex.tech/api/v1/"),
            ("workspace_id", "3F2504E0-4F89-11D3-9A0C-0305E82C3301"),
            ("workspace_name", "Acme Analytics"),
            ("include_components", "true"),
            ("include_archived", "true"),
            ("include_trashed", "false"),
            ("requests_per_minute", "0"),
            ("page_size", "1"),
            ("request_timeout_seconds", "600"),
            ("max_retries", "0"),
            ("something_else", "whatever"),
        ]))
        .expect("valid");
        assert_eq!(config.base_url, "https://eu.hex.tech/api/v1");
        assert_eq!(config.app_origin(), "https://eu.hex.tech");
        assert_eq!(
            config.workspace_key(),
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        );
        assert!(config.include_components && config.include_archived && !config.include_trashed);
        assert_eq!(config.requests_per_minute, 0);
        assert_eq!(config.page_size, 1);
        assert_eq!(config.request_timeout, Duration::from_secs(600));
        assert_eq!(config.max_retries, 0);
    }

    #[test]
    fn an_empty_workspace_id_counts_as_unset() {
        let config = HexConfig::parse(&entries(&[("workspace_id", " ")])).expect("valid");
        assert_eq!(config.workspace_id, None);
    }

    #[test]
    fn out_of_range_integers_name_their_field() {
        for (name, value) in [
            ("page_size", "0"),
            ("page_size", "101"),
            ("request_timeout_seconds", "0"),
            ("request_timeout_seconds", "601"),
            ("max_retries", "21"),
            ("max_retries", "-1"),
            ("requests_per_minute", "10001"),
            ("requests_per_minute", "99999999999999999999"),
            ("page_size", "ten"),
            ("page_size", "1.5"),
        ] {
            let (field, message) = field_of(HexConfig::parse(&entries(&[(name, value)])));
            assert_eq!(field, name);
            assert!(message.contains(&format!("`{value}`")), "{message}");
        }
    }

    #[test]
    fn booleans_must_be_true_or_false() {
        let (field, message) = field_of(HexConfig::parse(&entries(&[("include_trashed", "yes")])));
        assert_eq!(field, "include_trashed");
        assert_eq!(message, "must be `true` or `false`, got `yes`");
    }

    #[test]
    fn bad_base_urls_are_rejected() {
        for value in [
            "app.hex.tech/api/v1",
            "ftp://x",
            "https://",
            "https://x/api?x=1",
        ] {
            let (field, _) = field_of(HexConfig::parse(&entries(&[("base_url", value)])));
            assert_eq!(field, "base_url", "{value}");
        }
    }

    #[test]
    fn workspace_keys_must_fit_in_a_uri() {
        let (field, _) = field_of(HexConfig::parse(&entries(&[("workspace_id", "a.b")])));
        assert_eq!(field, "workspace_id");
        let (field, _) = field_of(HexConfig::parse(&entries(&[("workspace_name", "acme.io")])));
        assert_eq!(field, "workspace_name");
        let (field, _) = field_of(HexConfig::parse(&entries(&[("workspace_name", "")])));
        assert_eq!(field, "workspace_name");
        // With an id the name is only a label, so a dot is fine.
        HexConfig::parse(&entries(&[
            ("workspace_name", "acme.io"),
            ("workspace_id", "w1"),
        ]))
        .expect("valid");
    }

    #[test]
    fn the_declared_fields_match_the_parser() {
        let fields = config_fields();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "api_token",
                "base_url",
                "workspace_id",
                "workspace_name",
                "include_components",
                "include_archived",
                "include_trashed",
                "requests_per_minute",
                "page_size",
                "request_timeout_seconds",
                "max_retries",
            ]
        );
        let token = &fields[0];
        assert!(token.required && token.secret && token.default_value.is_none());
        assert!(fields[1..].iter().all(|f| !f.required && !f.secret));
        // Every declared default parses: the defaults-only config above is valid.
        let declared: Vec<(String, String)> = fields
            .iter()
            .filter_map(|f| Some((f.name.clone(), f.default_value.clone()?)))
            .collect();
        let declared: Vec<(&str, &str)> = declared
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(HexConfig::parse(&entries(&declared)), HexConfig::parse(&[]));
    }
}
