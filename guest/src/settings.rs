//! The connector's settings: the fields `spec` declares, in display order, and the typed
//! [`Settings`] that `check` and `discover` read from a source's config.
//!
//! The host checks each value's kind and applies the declared defaults; this module checks what
//! only the Hex connector knows (ranges, a workspace id that fits a URI, a base URL without a
//! query) and names the field at fault.

use euno_connector_sdk::prelude::*;

/// The `lineage` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No per-project calls: no relations, no last run.
    Off,
    /// Per-project calls only for projects that changed since the last successful run.
    Changed,
    /// Per-project calls for every project, every run.
    All,
}

impl Mode {
    /// The setting's choices, in order.
    pub const CHOICES: [&str; 3] = ["off", "changed", "all"];

    /// The mode a choice names.
    pub fn from_choice(choice: &str) -> Mode {
        match choice {
            "off" => Mode::Off,
            "all" => Mode::All,
            _ => Mode::Changed,
        }
    }
}

/// The Hex API of Hex's multi-tenant cloud.
pub const DEFAULT_BASE_URL: &str = "https://app.hex.tech/api/v1";
/// The secret holding the API token.
pub const API_TOKEN: &str = "api_token";
/// The setting holding the API's base URL.
pub const BASE_URL: &str = "base_url";

const WORKSPACE_ID: &str = "workspace_id";
const WORKSPACE_NAME: &str = "workspace_name";
const INCLUDE_COMPONENTS: &str = "include_components";
const INCLUDE_ARCHIVED: &str = "include_archived";
const INCLUDE_TRASHED: &str = "include_trashed";
const PAGE_SIZE: &str = "page_size";
const LINEAGE: &str = "lineage";

/// The most requests per minute the throttle may be set to.
const MAX_REQUESTS_PER_MINUTE: i64 = 10_000;

/// Every field, in display order: first those of Euno's Hex setup page, then the tuning knobs.
pub fn fields() -> Vec<ConfigField> {
    let flag = |name: &str, label: &str, description: &str| {
        ConfigField::boolean(name, label)
            .description(description)
            .default_value(false)
    };
    vec![
        ConfigField::secret(API_TOKEN, "API Token").description(
            "A Hex API token (personal `hxtp_...` or workspace `hxtw_...`) that can read \
             projects. The host sends it as a bearer token; the connector never sees it.",
        ),
        ConfigField::url(BASE_URL, "Base URL")
            .description(
                "The Hex API base URL. Only change this if you're using a custom Hex deployment \
                 (single-tenant or EU).",
            )
            .default_value(DEFAULT_BASE_URL),
        ConfigField::text(WORKSPACE_ID, "Workspace ID").description(
            "Your Hex workspace ID. If provided, it is used to create direct links to projects \
             in the workspace, and it identifies the workspace in resource URIs.",
        ),
        ConfigField::text(WORKSPACE_NAME, "Workspace Name")
            .description(
                "A friendly name for your Hex workspace. It identifies the workspace in resource \
                 URIs when no workspace ID is set.",
            )
            .default_value("hex_workspace"),
        flag(
            INCLUDE_COMPONENTS,
            "Include Components",
            "Also discover Hex components (reusable cells), as `hex_component` resources.",
        ),
        flag(
            INCLUDE_ARCHIVED,
            "Include Archived",
            "Also discover archived projects.",
        ),
        flag(
            INCLUDE_TRASHED,
            "Include Trashed",
            "Also discover projects in the trash.",
        ),
        fields::requests_per_minute(30).description(
            "The most requests the connector starts per minute (Hex's documented default limit \
             is 30). 0 turns the client-side throttle off; Hex's 429 answers are still honoured.",
        ),
        ConfigField::integer(PAGE_SIZE, "Page Size")
            .description("Projects per page of the Hex API's project list, 1 to 100.")
            .default_value(100),
        fields::request_timeout_seconds(30)
            .description("How long one request to Hex may take, 1 to 600 seconds."),
        fields::max_retries(5),
        ConfigField::choice(LINEAGE, "Lineage", &Mode::CHOICES)
            .description(
                "What each project reads (warehouse tables), the data connections it queries, the                  components it imports, and its latest run, at 1 to 3 requests per project:                  `changed` asks only about projects edited, published or rescheduled since the                  last successful run (the rest keep what that run found), `all` asks about every                  project every run, `off` asks nothing.",
            )
            .default_value("changed"),
    ]
}

/// A source's settings, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
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
    /// Projects per page, 1 to 100.
    pub page_size: u32,
    /// The client-side request budget per minute; 0 means unthrottled.
    pub requests_per_minute: u32,
    /// Which projects' lineage to ask Hex about.
    pub lineage: Mode,
}

impl Settings {
    /// Reads and checks `config`, naming the first field at fault.
    pub fn read(config: &Config) -> Result<Self, ConnectorError> {
        let workspace_id = config
            .optional_text(WORKSPACE_ID)?
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        if let Some(id) = &workspace_id
            && !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConnectorError::invalid_config(
                WORKSPACE_ID,
                format!(
                    "`{id}` is not a Hex workspace id: expected letters, digits, `-` and `_` \
                     only (a UUID, as in the workspace's URLs)"
                ),
            ));
        }
        let workspace_name = config
            .optional_text(WORKSPACE_NAME)?
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if workspace_name.is_empty() {
            return Err(ConnectorError::invalid_config(
                WORKSPACE_NAME,
                "must not be empty: it names the workspace resource",
            ));
        }
        if workspace_id.is_none() && workspace_name.contains('.') {
            return Err(ConnectorError::invalid_config(
                WORKSPACE_NAME,
                format!(
                    "`{workspace_name}` contains `.`, which separates resource URI segments; \
                     without a workspace_id the name is the workspace's URI segment, so remove \
                     the `.` or set workspace_id"
                ),
            ));
        }
        Ok(Self {
            base_url: base_url(config)?.to_owned(),
            workspace_id,
            workspace_name,
            include_components: config.boolean(INCLUDE_COMPONENTS)?,
            include_archived: config.boolean(INCLUDE_ARCHIVED)?,
            include_trashed: config.boolean(INCLUDE_TRASHED)?,
            page_size: config.integer_in(PAGE_SIZE, 1..=100)?,
            requests_per_minute: config
                .integer_in(fields::REQUESTS_PER_MINUTE, 0..=MAX_REQUESTS_PER_MINUTE)?,
            lineage: Mode::from_choice(config.choice(LINEAGE)?),
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

/// The base URL, checked to be one the API's paths can be appended to.
fn base_url(config: &Config) -> Result<&str, ConnectorError> {
    let base = config.url(BASE_URL)?;
    if base.contains(['?', '#']) || base.contains(char::is_whitespace) {
        return Err(ConnectorError::invalid_config(
            BASE_URL,
            format!(
                "`{base}` must be the API's base URL without a query or fragment, e.g. \
                 {DEFAULT_BASE_URL}"
            ),
        ));
    }
    Ok(base)
}

/// The HTTP client's options: the SDK's, from the standard tuning settings, with Hex's own
/// throttle range and the words a person needs after a 401.
pub fn http_options(config: &Config) -> Result<HttpOptions, ConnectorError> {
    base_url(config)?;
    config.integer_in::<u32>(fields::REQUESTS_PER_MINUTE, 0..=MAX_REQUESTS_PER_MINUTE)?;
    Ok(HttpOptions {
        credential_hint: Some(format!(
            "the API token (`{API_TOKEN}` under the source's [secrets]): it must be valid and \
             allowed to read projects"
        )),
        ..HttpOptions::from_config(config)?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use euno_connector_sdk::types::{ConfigEntry, FieldKind, SettingValue};
    use std::time::Duration;

    fn config(entries: &[(&str, SettingValue)]) -> Config {
        let spec = crate::Hex::spec();
        let entries = entries
            .iter()
            .map(|(name, value)| ConfigEntry {
                name: (*name).to_owned(),
                value: value.clone(),
            })
            .collect();
        Config::new(entries, &spec)
    }

    fn invalid(result: Result<Settings, ConnectorError>) -> (String, String) {
        match result {
            Err(ConnectorError::InvalidConfig(error)) => (error.field, error.message),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_config_takes_every_default() {
        let config = config(&[]);
        let settings = Settings::read(&config).expect("defaults are valid");
        assert_eq!(
            settings,
            Settings {
                base_url: DEFAULT_BASE_URL.to_owned(),
                workspace_id: None,
                workspace_name: "hex_workspace".to_owned(),
                include_components: false,
                include_archived: false,
                include_trashed: false,
                page_size: 100,
                requests_per_minute: 30,
                lineage: Mode::Changed,
            }
        );
        assert_eq!(settings.workspace_key(), "hex_workspace");
        assert_eq!(settings.app_origin(), "https://app.hex.tech");
        let options = http_options(&config).expect("valid");
        assert_eq!(options.requests_per_minute, 30);
        assert_eq!(options.timeout, Duration::from_secs(30));
        assert_eq!(options.max_retries, 5);
        assert_eq!(options.base_url.as_deref(), Some(DEFAULT_BASE_URL));
    }

    #[test]
    fn values_override_defaults() {
        let config = config(&[
            ("base_url", "https://eu.hex.tech/api/v1/".into()),
            (
                "workspace_id",
                "3F2504E0-4F89-11D3-9A0C-0305E82C3301".into(),
            ),
            ("workspace_name", "Acme Analytics".into()),
            ("include_components", true.into()),
            ("include_archived", true.into()),
            ("requests_per_minute", 0.into()),
            ("page_size", 1.into()),
            ("request_timeout_seconds", 600.into()),
            ("max_retries", 0.into()),
        ]);
        let settings = Settings::read(&config).expect("valid");
        assert_eq!(settings.base_url, "https://eu.hex.tech/api/v1");
        assert_eq!(settings.app_origin(), "https://eu.hex.tech");
        assert_eq!(
            settings.workspace_key(),
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        );
        assert!(settings.include_components && settings.include_archived);
        assert!(!settings.include_trashed);
        assert_eq!((settings.page_size, settings.requests_per_minute), (1, 0));
        let options = http_options(&config).expect("valid");
        assert_eq!(options.timeout, Duration::from_secs(600));
        assert_eq!(options.max_retries, 0);
    }

    #[test]
    fn an_empty_workspace_id_counts_as_unset() {
        let settings = Settings::read(&config(&[("workspace_id", " ".into())])).expect("valid");
        assert_eq!(settings.workspace_id, None);
    }

    #[test]
    fn out_of_range_integers_name_their_field_and_value() {
        for (name, value) in [
            ("page_size", 0),
            ("page_size", 101),
            ("requests_per_minute", -1),
            ("requests_per_minute", 10_001),
            ("request_timeout_seconds", 0),
            ("request_timeout_seconds", 601),
            ("max_retries", -1),
            ("max_retries", 21),
        ] {
            let config = config(&[(name, value.into())]);
            let error = Settings::read(&config)
                .err()
                .or_else(|| http_options(&config).err())
                .expect("out of range");
            let ConnectorError::InvalidConfig(error) = error else {
                panic!("{name} = {value}: {error:?}");
            };
            assert_eq!(error.field, name);
            assert!(error.message.contains(&format!("`{value}`")), "{error:?}");
        }
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for value in [
            "app.hex.tech/api/v1",
            "ftp://x",
            "https://",
            "https://x/api?x=1",
        ] {
            let config = config(&[("base_url", value.into())]);
            let (field, _) = invalid(Settings::read(&config));
            assert_eq!(field, "base_url", "{value}");
            assert!(http_options(&config).is_err(), "{value}");
        }
    }

    #[test]
    fn workspace_keys_must_fit_in_a_uri() {
        let (field, _) = invalid(Settings::read(&config(&[("workspace_id", "a.b".into())])));
        assert_eq!(field, "workspace_id");
        let (field, _) = invalid(Settings::read(&config(&[(
            "workspace_name",
            "acme.io".into(),
        )])));
        assert_eq!(field, "workspace_name");
        let (field, _) = invalid(Settings::read(&config(&[("workspace_name", "".into())])));
        assert_eq!(field, "workspace_name");
        // With an id the name is only a label, so a dot is fine.
        Settings::read(&config(&[
            ("workspace_name", "acme.io".into()),
            ("workspace_id", "w1".into()),
        ]))
        .expect("valid");
    }

    #[test]
    fn the_fields_keep_their_names_kinds_and_defaults() {
        let fields = fields();
        let summary: Vec<(&str, &FieldKind, Option<&SettingValue>)> = fields
            .iter()
            .map(|f| (f.name.as_str(), &f.kind, f.default_value.as_ref()))
            .collect();
        let text = |t: &str| SettingValue::Text(t.to_owned());
        assert_eq!(
            summary,
            [
                ("api_token", &FieldKind::Text, None),
                ("base_url", &FieldKind::Url, Some(&text(DEFAULT_BASE_URL))),
                ("workspace_id", &FieldKind::Text, None),
                (
                    "workspace_name",
                    &FieldKind::Text,
                    Some(&text("hex_workspace"))
                ),
                (
                    "include_components",
                    &FieldKind::Boolean,
                    Some(&false.into())
                ),
                ("include_archived", &FieldKind::Boolean, Some(&false.into())),
                ("include_trashed", &FieldKind::Boolean, Some(&false.into())),
                ("requests_per_minute", &FieldKind::Integer, Some(&30.into())),
                ("page_size", &FieldKind::Integer, Some(&100.into())),
                (
                    "request_timeout_seconds",
                    &FieldKind::Integer,
                    Some(&30.into())
                ),
                ("max_retries", &FieldKind::Integer, Some(&5.into())),
                (
                    "lineage",
                    &FieldKind::Choice(Mode::CHOICES.map(str::to_owned).to_vec()),
                    Some(&text("changed"))
                ),
            ]
        );
        let token = &fields[0];
        assert!(token.required && token.secret);
        assert!(fields[1..].iter().all(|f| !f.required && !f.secret));
    }
}
