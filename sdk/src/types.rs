//! The types of the `euno:connector@0.2.0` contract, as the SDK's own types.
//!
//! They are generated from `wit/v0.2.0/connector.wit` (whose comments are their documentation)
//! and re-exported here item by item, so a connector's code names them as
//! `euno_connector_sdk::types::Resource` and never touches the generated modules. The SDK adds
//! builder methods to some of them ([`ConnectorSpec`], [`ConfigField`], [`Resource`]) and `From`
//! conversions into [`PropertyValue`] and [`SettingValue`].

pub use crate::bindings::euno::connector::types::{
    BasicCredential, ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, CredentialScheme,
    DiscoverSummary, FieldKind, HeaderCredential, InvalidConfigError, LogLevel, Property,
    PropertyValue, QueryCredential, RateLimitedError, Relation, Relations, RequestCount, Resource,
    RunContext, SettingValue, Timestamp, UpstreamError, WaitReason,
};

impl ConnectorError {
    /// An [`InvalidConfig`](ConnectorError::InvalidConfig) error naming `field`.
    pub fn invalid_config(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidConfig(InvalidConfigError {
            field: field.to_owned(),
            message: message.into(),
        })
    }

    /// A [`MalformedResponse`](ConnectorError::MalformedResponse) error.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::MalformedResponse(message.into())
    }
}

impl From<&str> for SettingValue {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for SettingValue {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for SettingValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<bool> for SettingValue {
    fn from(value: bool) -> Self {
        Self::Boolean(value)
    }
}

impl From<Vec<String>> for SettingValue {
    fn from(values: Vec<String>) -> Self {
        Self::TextList(values)
    }
}

impl From<&[&str]> for SettingValue {
    fn from(values: &[&str]) -> Self {
        Self::TextList(values.iter().map(|v| (*v).to_owned()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for SettingValue {
    fn from(values: [&str; N]) -> Self {
        Self::from(&values[..])
    }
}
