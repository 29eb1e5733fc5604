//! Builders for what a connector declares in `spec`, the settings every HTTP connector shares,
//! and the checks the host makes of a spec.
//!
//! ```
//! use euno_connector_sdk::spec::fields;
//! use euno_connector_sdk::types::{ConfigField, ConnectorSpec, CredentialScheme};
//!
//! let spec = ConnectorSpec::new("bookshelf", "Bookshelf", "1.0.0")
//!     .description("Discovers the shelves and books of a Bookshelf library.")
//!     .field(ConfigField::url("base_url", "Base URL").required())
//!     .field(ConfigField::secret("api_key", "API key"))
//!     .field(fields::requests_per_minute(60))
//!     .resource_types(["bookshelf_shelf", "bookshelf_book"])
//!     .base_url_field("base_url")
//!     .credential(CredentialScheme::header("x-api-key", "api_key"));
//! assert!(spec.problems().is_empty());
//! ```

use crate::types::{
    BasicCredential, ConfigField, ConnectorSpec, CredentialScheme, FieldKind, HeaderCredential,
    QueryCredential, SettingValue,
};

impl ConnectorSpec {
    /// A spec with an identity and nothing else; add to it with the methods below.
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            version: version.into(),
            description: String::new(),
            fields: Vec::new(),
            resource_types: Vec::new(),
            external_namespaces: Vec::new(),
            base_url_field: None,
            credential: None,
        }
    }

    /// Sets the paragraph on what the connector discovers.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds a setting, after those added before.
    #[must_use]
    pub fn field(mut self, field: ConfigField) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds resource types the connector emits.
    #[must_use]
    pub fn resource_types<S: Into<String>>(mut self, types: impl IntoIterator<Item = S>) -> Self {
        self.resource_types
            .extend(types.into_iter().map(Into::into));
        self
    }

    /// Adds first URI segments that relations may target outside the run, e.g. `snowflake`.
    #[must_use]
    pub fn external_namespaces<S: Into<String>>(
        mut self,
        namespaces: impl IntoIterator<Item = S>,
    ) -> Self {
        self.external_namespaces
            .extend(namespaces.into_iter().map(Into::into));
        self
    }

    /// Names the `url` setting of the service the connector talks to; the HTTP client resolves
    /// relative paths against its value.
    #[must_use]
    pub fn base_url_field(mut self, name: impl Into<String>) -> Self {
        self.base_url_field = Some(name.into());
        self
    }

    /// Says how the host presents the credential.
    #[must_use]
    pub fn credential(mut self, scheme: CredentialScheme) -> Self {
        self.credential = Some(scheme);
        self
    }

    /// The names of the secrets the credential scheme uses.
    pub fn credential_secrets(&self) -> Vec<&str> {
        match &self.credential {
            None => Vec::new(),
            Some(CredentialScheme::Bearer(secret)) => vec![secret],
            Some(CredentialScheme::Header(header)) => vec![&header.secret],
            Some(CredentialScheme::Query(query)) => vec![&query.secret],
            Some(CredentialScheme::Basic(basic)) => vec![&basic.username, &basic.password],
        }
    }

    /// What is wrong with the spec, as the host would say it (empty when nothing is). The host
    /// refuses a component whose spec has a problem; the native test harness checks it first.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |text: String| problems.push(text);
        if self.id.is_empty()
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            problem(format!(
                "the id `{}` must be lowercase letters, digits, `-` and `_`",
                self.id
            ));
        }
        for (i, field) in self.fields.iter().enumerate() {
            if self.fields[..i]
                .iter()
                .any(|other| other.name == field.name)
            {
                problem(format!("the field `{}` is declared twice", field.name));
            }
            if field.name.is_empty()
                || !field
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                problem(format!("the field name `{}` is not snake_case", field.name));
            }
            if let Some(default) = &field.default_value {
                if field.secret {
                    problem(format!("the secret `{}` has a default", field.name));
                } else if !fits(&field.kind, default) {
                    problem(format!(
                        "the default of `{}` does not fit its kind",
                        field.name
                    ));
                }
            }
            if let FieldKind::Choice(choices) = &field.kind
                && choices.is_empty()
            {
                problem(format!("the choice `{}` offers no values", field.name));
            }
        }
        let field = |name: &str| self.fields.iter().find(|field| field.name == name);
        if let Some(name) = &self.base_url_field {
            match field(name) {
                Some(ConfigField {
                    kind: FieldKind::Url,
                    ..
                }) => {}
                _ => problem(format!(
                    "the base-URL field `{name}` is not a declared url field"
                )),
            }
        }
        let basic_username = match &self.credential {
            Some(CredentialScheme::Basic(basic)) => Some(basic.username.as_str()),
            _ => None,
        };
        for secret in self.credential_secrets() {
            match field(secret) {
                Some(field) if field.secret || basic_username == Some(secret) => {}
                _ => problem(format!(
                    "the credential names `{secret}`, which is not a declared secret field"
                )),
            }
        }
        if let Some(CredentialScheme::Header(header)) = &self.credential {
            let name = header.header.to_ascii_lowercase();
            if name.is_empty() || name == "host" || name.starts_with("proxy-") {
                problem(format!(
                    "the credential header `{}` is not one the host can set",
                    header.header
                ));
            }
        }
        if self.resource_types.is_empty() {
            problem("the spec declares no resource types".to_owned());
        }
        problems
    }
}

/// Whether `value` is a value of `kind`.
pub(crate) fn fits(kind: &FieldKind, value: &SettingValue) -> bool {
    match (kind, value) {
        (FieldKind::Text | FieldKind::Url, SettingValue::Text(_))
        | (FieldKind::Integer, SettingValue::Integer(_))
        | (FieldKind::Boolean, SettingValue::Boolean(_))
        | (FieldKind::TextList, SettingValue::TextList(_)) => true,
        (FieldKind::Choice(choices), SettingValue::Text(text)) => choices.contains(text),
        _ => false,
    }
}

/// What a value of `kind` is, in words, for a message.
pub(crate) fn kind_name(kind: &FieldKind) -> String {
    match kind {
        FieldKind::Text => "text".to_owned(),
        FieldKind::Integer => "an integer".to_owned(),
        FieldKind::Boolean => "`true` or `false`".to_owned(),
        FieldKind::Url => "an http or https URL".to_owned(),
        FieldKind::TextList => "a list of strings".to_owned(),
        FieldKind::Choice(choices) => format!(
            "one of {}",
            choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ConfigField {
    fn of_kind(name: &str, label: &str, kind: FieldKind) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            description: String::new(),
            kind,
            required: false,
            secret: false,
            default_value: None,
        }
    }

    /// An optional free-text setting.
    pub fn text(name: &str, label: &str) -> Self {
        Self::of_kind(name, label, FieldKind::Text)
    }

    /// An optional integer setting.
    pub fn integer(name: &str, label: &str) -> Self {
        Self::of_kind(name, label, FieldKind::Integer)
    }

    /// An optional boolean setting.
    pub fn boolean(name: &str, label: &str) -> Self {
        Self::of_kind(name, label, FieldKind::Boolean)
    }

    /// An optional absolute `http`/`https` URL setting.
    pub fn url(name: &str, label: &str) -> Self {
        Self::of_kind(name, label, FieldKind::Url)
    }

    /// An optional setting that takes one of `choices`.
    pub fn choice(name: &str, label: &str, choices: &[&str]) -> Self {
        let choices = choices.iter().map(|c| (*c).to_owned()).collect();
        Self::of_kind(name, label, FieldKind::Choice(choices))
    }

    /// An optional list-of-strings setting.
    pub fn text_list(name: &str, label: &str) -> Self {
        Self::of_kind(name, label, FieldKind::TextList)
    }

    /// A required secret, such as an API token: the host applies it to requests through the
    /// spec's credential scheme and never hands it to the connector.
    pub fn secret(name: &str, label: &str) -> Self {
        Self {
            required: true,
            secret: true,
            ..Self::text(name, label)
        }
    }

    /// Sets what the field means and when to change it.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Makes the field required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Makes a secret optional (a secret is required by default).
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Sets the value used when a source leaves the field out.
    #[must_use]
    pub fn default_value(mut self, value: impl Into<SettingValue>) -> Self {
        self.default_value = Some(value.into());
        self
    }
}

impl CredentialScheme {
    /// `Authorization: Bearer <secret>`.
    pub fn bearer(secret: &str) -> Self {
        Self::Bearer(secret.to_owned())
    }

    /// `<header>: <secret>`, e.g. `X-API-Key`.
    pub fn header(header: &str, secret: &str) -> Self {
        Self::header_with_prefix(header, "", secret)
    }

    /// `<header>: <prefix><secret>`, e.g. `Authorization: Token <secret>`.
    pub fn header_with_prefix(header: &str, prefix: &str, secret: &str) -> Self {
        Self::Header(HeaderCredential {
            header: header.to_owned(),
            prefix: prefix.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// HTTP basic authentication; `username` names a setting or a secret, `password` a secret.
    pub fn basic(username: &str, password: &str) -> Self {
        Self::Basic(BasicCredential {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    /// A query parameter appended to every request's URL.
    pub fn query(parameter: &str, secret: &str) -> Self {
        Self::Query(QueryCredential {
            parameter: parameter.to_owned(),
            secret: secret.to_owned(),
        })
    }
}

/// The settings that tune the HTTP client, which [`HttpOptions::from_config`] reads when a spec
/// declares them: declare them to let an operator tune the client per source.
///
/// [`HttpOptions::from_config`]: crate::http::HttpOptions::from_config
pub mod fields {
    use crate::types::ConfigField;

    /// The name of the throttle setting.
    pub const REQUESTS_PER_MINUTE: &str = "requests_per_minute";
    /// The name of the per-request timeout setting.
    pub const REQUEST_TIMEOUT_SECONDS: &str = "request_timeout_seconds";
    /// The name of the retry setting.
    pub const MAX_RETRIES: &str = "max_retries";

    /// The client-side throttle: at most this many requests start per minute; 0 turns it off.
    pub fn requests_per_minute(default: i64) -> ConfigField {
        ConfigField::integer(REQUESTS_PER_MINUTE, "Requests per Minute")
            .description(
                "The most requests the connector starts per minute, to stay under the \
                 source's rate limit. 0 turns the client-side throttle off; the source's 429 \
                 answers are still honoured.",
            )
            .default_value(default)
    }

    /// How long one request may take, 1 to 600 seconds.
    pub fn request_timeout_seconds(default: i64) -> ConfigField {
        ConfigField::integer(REQUEST_TIMEOUT_SECONDS, "Request Timeout (seconds)")
            .description("How long one request may take, 1 to 600 seconds.")
            .default_value(default)
    }

    /// How many times a failed request is retried, 0 to 20.
    pub fn max_retries(default: i64) -> ConfigField {
        ConfigField::integer(MAX_RETRIES, "Max Retries")
            .description(
                "How many times a request is retried after a rate limit (429), a server error \
                 (5xx) or a network failure, 0 to 20.",
            )
            .default_value(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sound_spec_has_no_problems() {
        let spec = ConnectorSpec::new("bookshelf", "Bookshelf", "1.0.0")
            .field(ConfigField::url("base_url", "Base URL").required())
            .field(ConfigField::text("user", "User").required())
            .field(ConfigField::secret("password", "Password"))
            .field(ConfigField::choice("mode", "Mode", &["a", "b"]).default_value("b"))
            .field(fields::max_retries(5))
            .resource_types(["bookshelf_book"])
            .base_url_field("base_url")
            .credential(CredentialScheme::basic("user", "password"));
        assert_eq!(spec.problems(), Vec::<String>::new());
        assert_eq!(spec.credential_secrets(), ["user", "password"]);
    }

    #[test]
    fn problems_name_what_the_host_would_refuse() {
        let spec = ConnectorSpec::new("Book Shelf", "Bookshelf", "1.0.0")
            .field(ConfigField::text("base_url", "Base URL"))
            .field(ConfigField::integer("size", "Size").default_value("ten"))
            .field(ConfigField::integer("size", "Size"))
            .field(ConfigField::choice("mode", "Mode", &["a"]).default_value("c"))
            .field(ConfigField::text("token", "Token"))
            .base_url_field("base_url")
            .credential(CredentialScheme::header("Host", "token"));
        assert_eq!(
            spec.problems(),
            [
                "the id `Book Shelf` must be lowercase letters, digits, `-` and `_`",
                "the default of `size` does not fit its kind",
                "the field `size` is declared twice",
                "the default of `mode` does not fit its kind",
                "the base-URL field `base_url` is not a declared url field",
                "the credential names `token`, which is not a declared secret field",
                "the credential header `Host` is not one the host can set",
                "the spec declares no resource types",
            ]
        );
    }
}
