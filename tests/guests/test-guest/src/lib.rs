//! A connector of the `euno:connector` world whose behaviour is chosen by its `mode` setting, so
//! that the host's integration tests can exercise the sandbox with a real component: one that
//! behaves, one that spins, one that allocates without bound, one that reaches for another host.
//!
//! Only built for `wasm32-wasip2` (by `host/build.rs`); on other targets it is empty.
#![cfg(target_arch = "wasm32")]

mod bindings {
    wit_bindgen::generate!({ world: "source-connector", path: "../../../wit", generate_all });
    use super::TestGuest;
    export!(TestGuest);
}

use bindings::euno::connector::host;
use bindings::euno::connector::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, DiscoverSummary, FieldKind, LogLevel,
    Property, PropertyValue, Resource, RunContext,
};
use bindings::exports::euno::connector::connector::Guest;

struct TestGuest;

fn field(name: &str, kind: FieldKind, secret: bool, default: Option<&str>) -> ConfigField {
    ConfigField {
        name: name.to_owned(),
        label: name.to_owned(),
        description: format!("test setting `{name}`"),
        kind,
        required: false,
        secret,
        default_value: default.map(str::to_owned),
    }
}

fn setting<'a>(config: &'a [ConfigEntry], name: &str) -> Option<&'a str> {
    config
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.value.as_str())
}

fn count(config: &[ConfigEntry]) -> u64 {
    setting(config, "count")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Sends a GET to `url` and turns the outcome into a line, so the test can see what the sandbox
/// let through.
fn fetch(url: &str) -> Result<String, ConnectorError> {
    match waki::Client::new().get(url).send() {
        Ok(response) => Ok(format!("{url} answered {}", response.status_code())),
        Err(e) => {
            let message = format!("request to {url} failed: {e:#}");
            host::log(LogLevel::Error, &message);
            Err(ConnectorError::Network(message))
        }
    }
}

impl Guest for TestGuest {
    fn spec() -> ConnectorSpec {
        ConnectorSpec {
            id: "test-guest".to_owned(),
            display_name: "Test Guest".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Misbehaves on request, for tests.".to_owned(),
            fields: vec![
                field("mode", FieldKind::Text, false, Some("ok")),
                field("count", FieldKind::Integer, false, Some("3")),
                field(
                    "base_url",
                    FieldKind::Url,
                    false,
                    Some("http://127.0.0.1:9/"),
                ),
                field("target_url", FieldKind::Url, false, None),
                field("token", FieldKind::Text, true, None),
                field("sleep_ms", FieldKind::Integer, false, Some("1000")),
            ],
            resource_types: vec!["test_item".to_owned()],
            base_url_field: Some("base_url".to_owned()),
            bearer_credential_field: Some("token".to_owned()),
        }
    }

    fn check(config: Vec<ConfigEntry>) -> Result<String, ConnectorError> {
        let base = setting(&config, "base_url").unwrap_or_default();
        fetch(base)
    }

    fn discover(
        config: Vec<ConfigEntry>,
        context: RunContext,
    ) -> Result<DiscoverSummary, ConnectorError> {
        let mode = setting(&config, "mode").unwrap_or("ok");
        host::log(
            LogLevel::Info,
            &format!("test guest starting in mode {mode}"),
        );
        match mode {
            "spin" => spin(),
            "alloc" => hoard(),
            "egress" => {
                let target = setting(&config, "target_url").unwrap_or_default();
                fetch(target).map(|_| DiscoverSummary {
                    emitted: 0,
                    requests: 1,
                })
            }
            "config" => {
                // Echo every entry the host handed over, so a test can prove no secret is among them.
                let listed: Vec<String> = config
                    .iter()
                    .map(|e| format!("{}={}", e.name, e.value))
                    .collect();
                host::log(LogLevel::Info, &listed.join(" "));
                Ok(DiscoverSummary {
                    emitted: 0,
                    requests: 0,
                })
            }
            "sleep" => {
                // A slow connector: long enough for a test to swap components under it.
                let ms = setting(&config, "sleep_ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(emit_items(count(&config), &context))
            }
            "fail" => Err(ConnectorError::Unauthorized(
                "the test guest was told to fail".to_owned(),
            )),
            "panic" => panic!("the test guest was told to panic"),
            _ => Ok(emit_items(count(&config), &context)),
        }
    }
}

fn emit_items(count: u64, context: &RunContext) -> DiscoverSummary {
    let batch: Vec<Resource> = (0..count)
        .map(|i| Resource {
            uri: format!("test.items.{i}"),
            resource_type: "test_item".to_owned(),
            name: format!("Item {i}"),
            parent_uri: None,
            native_id: Some(i.to_string()),
            properties: vec![
                Property {
                    name: "index".to_owned(),
                    value: PropertyValue::Integer(i as i64),
                },
                Property {
                    name: "seen_at".to_owned(),
                    value: PropertyValue::Timestamp(context.started_at),
                },
            ],
        })
        .collect();
    host::emit(&batch);
    host::progress(count, Some(count));
    DiscoverSummary {
        emitted: count,
        requests: 0,
    }
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn hoard() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&kept);
    }
}
