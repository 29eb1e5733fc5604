//! Typed access to a source's settings, with errors that name the field at fault.
//!
//! The host hands a connector every non-secret setting the source sets, with defaults applied
//! and each value checked against its declared [`FieldKind`]. [`Config`] applies the spec's
//! defaults again (so a native test that sets nothing behaves like the host), reads values by
//! kind, and checks what only the connector knows (ranges, meaning), each failure an
//! [`InvalidConfig`](ConnectorError::InvalidConfig) error that names the field.

use std::ops::RangeInclusive;

use crate::spec::kind_name;
use crate::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, FieldKind, SettingValue,
};

/// A source's settings, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    entries: Vec<ConfigEntry>,
    fields: Vec<ConfigField>,
    base_url_field: Option<String>,
}

impl Config {
    /// The settings `entries`, completed with the defaults `spec` declares for fields they leave
    /// out.
    pub fn new(mut entries: Vec<ConfigEntry>, spec: &ConnectorSpec) -> Self {
        for field in &spec.fields {
            if let Some(default) = &field.default_value
                && !field.secret
                && !entries.iter().any(|entry| entry.name == field.name)
            {
                entries.push(ConfigEntry {
                    name: field.name.clone(),
                    value: default.clone(),
                });
            }
        }
        Self {
            entries,
            fields: spec.fields.clone(),
            base_url_field: spec.base_url_field.clone(),
        }
    }

    /// The value of `name`, if the source sets it or the spec has a default.
    pub fn get(&self, name: &str) -> Option<&SettingValue> {
        self.entries
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| &entry.value)
    }

    /// The spec's base-URL field's value, without a trailing `/`, when the spec names one and it
    /// has a value.
    pub fn base_url(&self) -> Result<Option<&str>, ConnectorError> {
        match &self.base_url_field {
            Some(field) if self.get(field).is_some() => self.url(field).map(Some),
            _ => Ok(None),
        }
    }

    /// A text, URL or choice setting that must have a value.
    pub fn text(&self, name: &str) -> Result<&str, ConnectorError> {
        self.optional_text(name)?
            .ok_or_else(|| ConnectorError::invalid_config(name, "is required but not set"))
    }

    /// A text, URL or choice setting that may be absent; an empty text counts as absent.
    pub fn optional_text(&self, name: &str) -> Result<Option<&str>, ConnectorError> {
        match self.get(name) {
            None => Ok(None),
            Some(SettingValue::Text(text)) if text.is_empty() => Ok(None),
            Some(SettingValue::Text(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_kind(name, "text", other)),
        }
    }

    /// An absolute `http` or `https` URL, without a trailing `/` so that paths append cleanly.
    pub fn url(&self, name: &str) -> Result<&str, ConnectorError> {
        let url = self.text(name)?.trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url),
            _ => Err(ConnectorError::invalid_config(
                name,
                format!("`{}` is not an absolute http or https URL", one_line(url)),
            )),
        }
    }

    /// A choice setting: its value, which must be one of the choices the spec declares.
    pub fn choice(&self, name: &str) -> Result<&str, ConnectorError> {
        let value = self.text(name)?;
        let declared = self.fields.iter().find(|field| field.name == name);
        if let Some(declared) = declared
            && let FieldKind::Choice(choices) = &declared.kind
            && !choices.iter().any(|choice| choice == value)
        {
            return Err(ConnectorError::invalid_config(
                name,
                format!("`{}` is not {}", one_line(value), kind_name(&declared.kind)),
            ));
        }
        Ok(value)
    }

    /// An integer setting that must have a value.
    pub fn integer(&self, name: &str) -> Result<i64, ConnectorError> {
        self.optional_integer(name)?
            .ok_or_else(|| ConnectorError::invalid_config(name, "is required but not set"))
    }

    /// An integer setting that may be absent.
    pub fn optional_integer(&self, name: &str) -> Result<Option<i64>, ConnectorError> {
        match self.get(name) {
            None => Ok(None),
            Some(SettingValue::Integer(value)) => Ok(Some(*value)),
            Some(other) => Err(wrong_kind(name, "an integer", other)),
        }
    }

    /// An integer setting within `range`, as the type the connector keeps it in (e.g. `u32`).
    pub fn integer_in<T: TryFrom<i64>>(
        &self,
        name: &str,
        range: RangeInclusive<i64>,
    ) -> Result<T, ConnectorError> {
        let value = self.integer(name)?;
        if !range.contains(&value) {
            return Err(ConnectorError::invalid_config(
                name,
                format!(
                    "is `{value}`; expected {} to {}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        T::try_from(value).map_err(|_| {
            ConnectorError::invalid_config(name, format!("is `{value}`, which is out of range"))
        })
    }

    /// A boolean setting that must have a value.
    pub fn boolean(&self, name: &str) -> Result<bool, ConnectorError> {
        match self.get(name) {
            None => Err(ConnectorError::invalid_config(
                name,
                "is required but not set",
            )),
            Some(SettingValue::Boolean(value)) => Ok(*value),
            Some(other) => Err(wrong_kind(name, "`true` or `false`", other)),
        }
    }

    /// A list-of-strings setting; absent is the empty list.
    pub fn list(&self, name: &str) -> Result<&[String], ConnectorError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(SettingValue::TextList(values)) => Ok(values),
            Some(other) => Err(wrong_kind(name, "a list of strings", other)),
        }
    }
}

fn wrong_kind(name: &str, expected: &str, got: &SettingValue) -> ConnectorError {
    let got = describe_value(got);
    ConnectorError::invalid_config(name, format!("should be {expected}, not {got}"))
}

/// `value` in words, e.g. "the text `abc`", for a message.
pub(crate) fn describe_value(value: &SettingValue) -> String {
    match value {
        SettingValue::Text(text) => format!("the text `{}`", one_line(text)),
        SettingValue::Integer(value) => format!("the integer {value}"),
        SettingValue::Boolean(value) => format!("the boolean {value}"),
        SettingValue::TextList(values) => format!("a list of {} strings", values.len()),
    }
}

/// `text` on one line, control characters escaped and cut at 200 characters, to quote a value
/// in a message.
pub(crate) fn one_line(text: &str) -> String {
    crate::http::excerpt(text, 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::InvalidConfigError;

    fn spec() -> ConnectorSpec {
        ConnectorSpec::new("t", "T", "1.0.0")
            .field(
                ConfigField::url("base_url", "Base URL").default_value("https://api.example/v1/"),
            )
            .field(ConfigField::text("workspace", "Workspace"))
            .field(ConfigField::integer("page_size", "Page size").default_value(100))
            .field(ConfigField::boolean("archived", "Archived").default_value(false))
            .field(ConfigField::text_list("tags", "Tags"))
            .field(ConfigField::choice("mode", "Mode", &["fast", "full"]).default_value("fast"))
            .field(ConfigField::secret("api_key", "API key"))
            .base_url_field("base_url")
    }

    fn config(entries: &[(&str, SettingValue)]) -> Config {
        let entries = entries
            .iter()
            .map(|(name, value)| ConfigEntry {
                name: (*name).to_owned(),
                value: value.clone(),
            })
            .collect();
        Config::new(entries, &spec())
    }

    fn invalid(field: &str, message: &str) -> ConnectorError {
        ConnectorError::InvalidConfig(InvalidConfigError {
            field: field.to_owned(),
            message: message.to_owned(),
        })
    }

    #[test]
    fn defaults_fill_what_the_source_leaves_out() {
        let config = config(&[("page_size", 20.into())]);
        assert_eq!(config.integer("page_size"), Ok(20));
        assert_eq!(config.boolean("archived"), Ok(false));
        assert_eq!(config.choice("mode"), Ok("fast"));
        assert_eq!(config.base_url(), Ok(Some("https://api.example/v1")));
        assert_eq!(config.list("tags"), Ok(&[][..]));
        assert_eq!(config.optional_text("workspace"), Ok(None));
        assert_eq!(
            config.get("api_key"),
            None,
            "no secret, and no default for one"
        );
    }

    #[test]
    fn missing_and_mistyped_values_name_the_field() {
        let config = config(&[("workspace", 5.into()), ("tags", "a".into())]);
        assert_eq!(
            config.text("workspace"),
            Err(invalid("workspace", "should be text, not the integer 5"))
        );
        assert_eq!(
            config.list("tags"),
            Err(invalid(
                "tags",
                "should be a list of strings, not the text `a`"
            ))
        );
        assert_eq!(
            config.integer("nothing"),
            Err(invalid("nothing", "is required but not set"))
        );
        assert_eq!(
            config.boolean("page_size"),
            Err(invalid(
                "page_size",
                "should be `true` or `false`, not the integer 100"
            ))
        );
    }

    #[test]
    fn ranges_choices_and_urls_are_checked() {
        let config = config(&[
            ("page_size", 500.into()),
            ("mode", "sl\now".into()),
            ("base_url", "ftp://x".into()),
            ("tags", ["a", "b"].into()),
        ]);
        assert_eq!(
            config.integer_in::<u32>("page_size", 1..=100),
            Err(invalid("page_size", "is `500`; expected 1 to 100"))
        );
        assert_eq!(
            config.choice("mode"),
            Err(invalid("mode", "`sl\\now` is not one of `fast`, `full`"))
        );
        assert_eq!(
            config.base_url(),
            Err(invalid(
                "base_url",
                "`ftp://x` is not an absolute http or https URL"
            ))
        );
        assert_eq!(config.list("tags").map(<[String]>::len), Ok(2));
        let config = self::config(&[("page_size", (-1).into())]);
        assert_eq!(
            config.integer_in::<u32>("page_size", -5..=5),
            Err(invalid("page_size", "is `-1`, which is out of range"))
        );
    }
}
