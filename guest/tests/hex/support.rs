//! Builders shared by the tests: a simulator, a harness pointed at it, and resources as JSON.

use std::collections::BTreeMap;

use euno_connector_sdk::testing::Harness;
use euno_connector_sdk::timestamp::{format_rfc3339, parse_rfc3339};
use euno_connector_sdk::types::{ConnectorError, PropertyValue, Resource};
use hex_connector::Hex;
use hex_sim::{Faults, SimConfig, SimHandle, Workspace};
use serde_json::{Value, json};

/// The token every simulator in these tests accepts.
pub const TOKEN: &str = "hxtp_native_secret_token_5d1e";

/// A simulator serving `workspace` with `faults`.
pub fn simulator(workspace: Workspace, faults: Faults) -> SimHandle {
    SimHandle::spawn(SimConfig {
        token: TOKEN.to_owned(),
        workspace,
        faults,
    })
    .expect("starting the Hex API simulator")
}

/// The connector against `sim` with the right token and no client-side throttle (the clock is
/// fake anyway: this only keeps the recorded sleeps to the retries).
pub fn hex(sim: &SimHandle) -> Harness<Hex> {
    let mut harness = Harness::<Hex>::new();
    harness
        .setting("base_url", sim.base_url())
        .setting("requests_per_minute", 0)
        .secret("api_token", TOKEN)
        .live();
    harness
}

/// A resource's properties as JSON, instants as RFC 3339 in UTC with milliseconds.
pub fn properties(resource: &Resource) -> Value {
    let map: serde_json::Map<String, Value> = resource
        .properties
        .iter()
        .map(|property| {
            let value = match &property.value {
                PropertyValue::Null => Value::Null,
                PropertyValue::Text(text) => json!(text),
                PropertyValue::Integer(value) => json!(value),
                PropertyValue::Boolean(value) => json!(value),
                PropertyValue::Timestamp(at) => json!(instant(*at)),
                PropertyValue::TextList(values) => json!(values),
            };
            (property.name.clone(), value)
        })
        .collect();
    Value::Object(map)
}

/// `at` as RFC 3339 in UTC with exactly three fraction digits, so that equal instants compare
/// equal as text.
pub fn instant(at: i64) -> String {
    let text = format_rfc3339(at);
    match text.strip_suffix('Z') {
        Some(stem) if !stem.contains('.') => format!("{stem}.000Z"),
        _ => text,
    }
}

/// RFC 3339 `text` in the form [`instant`] writes.
pub fn normal_instant(text: &str) -> String {
    instant(parse_rfc3339(text).unwrap_or_else(|| panic!("`{text}` is not RFC 3339")))
}

/// The resources of the last run, by URI.
pub fn by_uri(harness: &Harness<Hex>) -> BTreeMap<String, Resource> {
    harness
        .resources()
        .into_iter()
        .map(|resource| (resource.uri.clone(), resource))
        .collect()
}

/// The message of a connector error, whatever its kind.
pub fn message(error: &ConnectorError) -> String {
    match error {
        ConnectorError::InvalidConfig(e) => format!("invalid setting `{}`: {}", e.field, e.message),
        ConnectorError::Unauthorized(m)
        | ConnectorError::Forbidden(m)
        | ConnectorError::NotFound(m)
        | ConnectorError::MalformedResponse(m)
        | ConnectorError::Network(m) => m.clone(),
        ConnectorError::RateLimited(e) => e.message.clone(),
        ConnectorError::Upstream(e) => e.message.clone(),
    }
}
