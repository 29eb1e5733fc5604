//! A connector of the `euno:connector` world whose behaviour is chosen by its `mode` setting, so
//! that the host's integration tests can exercise the sandbox with a real component: one that
//! behaves, one that spins, one that allocates without bound, one that reaches for another host,
//! one that hunts for the credential (environment, files, headers, echoing servers), one that
//! emits malformed or oversized resources, floods the log, traps or overflows its stack, and one
//! that says whatever text it is given (in its log, its resources, its errors, its panic).
//!
//! Its spec is hostile too: it declares its bearer credential `api_token` *not* secret (so a host
//! that believed it would hand the token over), and names as its base-URL field `exfil_url`,
//! whose default is its author's server, while offering `base_url` as a decoy. Its id and that
//! default sit in the component's data at fixed markers, so that a test can patch a copy into an
//! impostor reporting another id, or aim the default at a loopback server it controls.
//!
//! Only built for `wasm32-wasip2` (by `host/build.rs`); on other targets it is empty.
#![cfg(target_arch = "wasm32")]

mod bindings {
    wit_bindgen::generate!({ world: "source-connector", path: "../../../wit/v0.1.0", generate_all });
    use super::TestGuest;
    export!(TestGuest);
}

use bindings::euno::connector::host;
use bindings::euno::connector::types::{
    ConfigEntry, ConfigField, ConnectorError, ConnectorSpec, DiscoverSummary, FieldKind, LogLevel,
    Property, PropertyValue, Resource, RunContext, UpstreamError,
};
use bindings::exports::euno::connector::connector::Guest;

struct TestGuest;

/// The id `spec()` reports, after a marker and padded with NULs: a test overwrites the bytes after
/// the marker in a copy of the component to make an impostor (one reporting `hex`, say).
static ID: &[u8] = b"euno-test-guest-id:test-guest\0\0\0\0\0\0\0\0\0\0\0";

/// The field `spec()` names as its bearer credential, marked and padded like [`ID`]: `api_token`,
/// which the spec declares not secret; a test patches it to `password`, which the spec declares
/// secret, to make a component that looks well-behaved about its credential.
static BEARER: &[u8] = b"euno-test-guest-bearer:api_token\0\0\0\0\0\0\0\0\0\0\0\0";

/// The default of `exfil_url`, the field the spec names as its base-URL field: "its author's
/// server". A test overwrites the port in a copy of the component with its own loopback server's.
const EXFIL_DEFAULT: &str = "http://127.0.0.1:65000/exfil";

/// The text after the marker (up to its `:`) in `bytes`, up to the padding. Read through
/// `black_box`, so that the compiler keeps the bytes in the data section instead of folding the
/// text into the code.
fn marked(bytes: &'static [u8]) -> String {
    let bytes = std::hint::black_box(bytes);
    let start = bytes.iter().position(|&b| b == b':').map_or(0, |at| at + 1);
    let text = &bytes[start..];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    String::from_utf8_lossy(&text[..end]).into_owned()
}

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

/// A text setting as the guest uses it: reversed when `reverse = true`.
fn unreversed(config: &[ConfigEntry], name: &str) -> String {
    let value = setting(config, name).unwrap_or_default();
    if setting(config, "reverse") == Some("true") {
        value.chars().rev().collect()
    } else {
        value.to_owned()
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
            id: marked(ID),
            display_name: "Test Guest".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Misbehaves on request, for tests.".to_owned(),
            fields: vec![
                field("mode", FieldKind::Text, false, Some("ok")),
                field("count", FieldKind::Integer, false, Some("3")),
                // The decoy: the origin an operator would grant.
                field(
                    "base_url",
                    FieldKind::Url,
                    false,
                    Some("http://127.0.0.1:9/"),
                ),
                // Its author's server, named below as the base-URL field.
                field(
                    "exfil_url",
                    FieldKind::Url,
                    false,
                    Some(std::hint::black_box(EXFIL_DEFAULT)),
                ),
                // Text, not a URL: the egress tests hand it URLs the host would refuse as a
                // setting (`user@host`), to show the request itself is refused.
                field("target_url", FieldKind::Text, false, None),
                // The bearer credential, declared not secret: a host that believed the spec would
                // pass it in the config.
                field("api_token", FieldKind::Text, false, None),
                // A field the spec does mark secret.
                field("password", FieldKind::Text, true, None),
                field("sleep_ms", FieldKind::Integer, false, Some("1000")),
                field("batch", FieldKind::Integer, false, Some("100")),
                // What the `speak` modes say, after `pad` dots.
                field("text", FieldKind::Text, false, None),
                field("pad", FieldKind::Integer, false, Some("0")),
                // Reverses `text` and `target_url` before use: how a test hands the guest a
                // credential the host will not let a setting carry, as if the guest had got
                // hold of it some other way.
                field("reverse", FieldKind::Boolean, false, Some("false")),
            ],
            resource_types: vec!["test_item".to_owned()],
            base_url_field: Some("exfil_url".to_owned()),
            bearer_credential_field: Some(marked(BEARER)),
        }
    }

    fn check(config: Vec<ConfigEntry>) -> Result<String, ConnectorError> {
        if setting(&config, "mode") == Some("speak") {
            return Ok(spoken(&config));
        }
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
                let target = unreversed(&config, "target_url");
                fetch(&target).map(|_| DiscoverSummary {
                    emitted: 0,
                    requests: 1,
                })
            }
            "config" => {
                // Echo every entry the host handed over, in the log and in the inventory, so a test
                // can prove no secret is among them.
                let listed: Vec<String> = config
                    .iter()
                    .map(|e| format!("{}={}", e.name, e.value))
                    .collect();
                host::log(LogLevel::Info, &listed.join(" "));
                host::emit(&[Resource {
                    uri: "test.config".to_owned(),
                    resource_type: "test_item".to_owned(),
                    name: "The config the guest received".to_owned(),
                    parent_uri: None,
                    native_id: None,
                    properties: vec![Property {
                        name: "entries".to_owned(),
                        value: PropertyValue::TextList(listed),
                    }],
                }]);
                Ok(summary(1, 0))
            }
            "exfil" => {
                // The decoy first, as a well-behaved connector would, then its author's server.
                let base = setting(&config, "base_url").unwrap_or_default();
                let exfil = setting(&config, "exfil_url").unwrap_or_default();
                let decoy = fetch(base);
                host::log(LogLevel::Info, &format!("exfil decoy: {decoy:?}"));
                let stolen = fetch(exfil);
                host::log(LogLevel::Info, &format!("exfil author: {stolen:?}"));
                stolen.map(|_| summary(0, 2))
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
            "fetch" => {
                let target = unreversed(&config, "target_url");
                fetch_following(&target).map(|_| summary(0, 2))
            }
            "snoop" => Ok(snoop(&config)),
            "echo" => echo(&config),
            "set-auth" => Ok(set_forbidden_headers(&config)),
            "empty-uri" => {
                host::emit(&[item("", 0, &context)]);
                Ok(summary(1, 0))
            }
            "uppercase-uri" => {
                host::emit(&[item("test.Items.A", 0, &context)]);
                Ok(summary(1, 0))
            }
            "duplicate-uri" => {
                host::emit(&[item("test.items.same", 0, &context)]);
                host::emit(&[item("test.items.same", 1, &context)]);
                Ok(summary(2, 0))
            }
            "undeclared-type" => {
                let mut resource = item("test.items.odd", 0, &context);
                resource.resource_type = "not_in_the_spec".to_owned();
                host::emit(&[resource]);
                Ok(summary(1, 0))
            }
            "huge-string" => {
                let mut resource = item("test.items.huge", 0, &context);
                resource.properties.push(Property {
                    name: "blob".to_owned(),
                    value: PropertyValue::Text("x".repeat(count(&config) as usize)),
                });
                host::emit(&[resource]);
                Ok(summary(1, 0))
            }
            "many" => {
                let batch = setting(&config, "batch")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100u64)
                    .max(1);
                let total = count(&config);
                let mut done = 0;
                while done < total {
                    let end = (done + batch).min(total);
                    let resources: Vec<Resource> = (done..end)
                        .map(|i| item(&format!("test.items.{i}"), i, &context))
                        .collect();
                    host::emit(&resources);
                    done = end;
                }
                Ok(summary(total, 0))
            }
            "bad-variant" => {
                emit_unknown_property_type();
                Ok(summary(1, 0))
            }
            "log-flood" => {
                let line = "flood ".repeat(16);
                for i in 0..count(&config) {
                    host::log(LogLevel::Warn, &format!("{i:08} {line}"));
                }
                Ok(emit_items(1, &context))
            }
            "speak" => {
                let text = spoken(&config);
                host::log(LogLevel::Warn, &text);
                let said = unreversed(&config, "text");
                let mut resource = item("test.items.spoken\u{202e}txt", 0, &context);
                resource.name = said.clone();
                resource.native_id = Some(said.clone());
                resource.properties.push(Property {
                    name: "said".to_owned(),
                    value: PropertyValue::Text(said),
                });
                host::emit(&[resource]);
                Ok(summary(1, 0))
            }
            "speak-fail" => {
                let text = spoken(&config);
                host::log(LogLevel::Error, &text);
                Err(ConnectorError::Upstream(UpstreamError {
                    status: 404,
                    message: text.clone(),
                    trace_id: Some(text),
                }))
            }
            "speak-panic" => panic!("{}", spoken(&config)),
            "trap" => core::arch::wasm32::unreachable(),
            "stack" => Ok(summary(recurse(1), 0)),
            _ => Ok(emit_items(count(&config), &context)),
        }
    }
}

/// The `speak` modes' line: `pad` dots, then `text`.
fn spoken(config: &[ConfigEntry]) -> String {
    let pad = setting(config, "pad")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!("{}{}", ".".repeat(pad), unreversed(config, "text"))
}

fn summary(emitted: u64, requests: u32) -> DiscoverSummary {
    DiscoverSummary { emitted, requests }
}

fn item(uri: &str, i: u64, context: &RunContext) -> Resource {
    Resource {
        uri: uri.to_owned(),
        resource_type: "test_item".to_owned(),
        name: format!("Item {i}"),
        parent_uri: None,
        native_id: Some(i.to_string()),
        properties: vec![Property {
            name: "seen_at".to_owned(),
            value: PropertyValue::Timestamp(context.started_at),
        }],
    }
}

/// GETs `url` and reads the whole body; follows one redirect by hand, as a connector that wanted
/// to would (wasi:http itself never follows one).
fn fetch_following(url: &str) -> Result<(), ConnectorError> {
    let failed = |url: &str, e: &dyn std::fmt::Display| {
        let message = format!("request to {url} failed: {e}");
        host::log(LogLevel::Error, &message);
        ConnectorError::Network(message)
    };
    let response = waki::Client::new()
        .get(url)
        .send()
        .map_err(|e| failed(url, &e))?;
    let status = response.status_code();
    let location = response
        .header("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.body().map_err(|e| failed(url, &e))?;
    host::log(
        LogLevel::Info,
        &format!("fetched {} bytes from {url} ({status})", body.len()),
    );
    if let (300..=399, Some(location)) = (status, location) {
        host::log(
            LogLevel::Info,
            &format!("following the redirect to {location}"),
        );
        return fetch_following(&location);
    }
    Ok(())
}

/// Looks everywhere a credential could be inside the sandbox, logs what it found, and emits it
/// as a resource so that a test can check the inventory too.
fn snoop(config: &[ConfigEntry]) -> DiscoverSummary {
    let mut found = Vec::new();
    let mut note = |what: &str, outcome: String| {
        host::log(LogLevel::Info, &format!("snoop {what}: {outcome}"));
        found.push(format!("{what}: {outcome}"));
    };
    let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    note("env", format!("{} variables {vars:?}", vars.len()));
    let args: Vec<String> = std::env::args().collect();
    note("args", format!("{args:?}"));
    let cwd = std::env::current_dir().map(|d| d.display().to_string());
    note("cwd", format!("{cwd:?}"));
    for path in [
        "/etc/passwd",
        "/proc/self/environ",
        "guest.toml",
        "./data/inventory.sqlite3",
    ] {
        let read = std::fs::read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        note(&format!("read {path}"), result_line(read));
    }
    for dir in ["/", ".", "/tmp"] {
        let listed = std::fs::read_dir(dir).map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        });
        note(&format!("list {dir}"), result_line(listed));
    }
    note(
        "write /tmp/stolen",
        result_line(std::fs::write("/tmp/stolen", b"x").map(|()| "written".to_owned())),
    );
    let connected = std::net::TcpStream::connect("127.0.0.1:80").map(|_| "connected".to_owned());
    note("tcp 127.0.0.1:80", result_line(connected));
    let secretish: Vec<String> = config
        .iter()
        .filter(|e| e.name == "api_token" || e.name == "password")
        .map(|e| e.value.clone())
        .collect();
    note("config credentials", format!("{secretish:?}"));
    host::emit(&[Resource {
        uri: "test.loot".to_owned(),
        resource_type: "test_item".to_owned(),
        name: "What the guest found".to_owned(),
        parent_uri: None,
        native_id: None,
        properties: vec![Property {
            name: "findings".to_owned(),
            value: PropertyValue::TextList(found),
        }],
    }]);
    summary(1, 0)
}

fn result_line<E: std::fmt::Display>(result: Result<String, E>) -> String {
    match result {
        Ok(text) => format!("OK {text}"),
        Err(e) => format!("denied ({e})"),
    }
}

/// Asks the allowed origin's echo endpoint to reflect the request, and keeps what came back:
/// whatever the host let through to the guest is in the log and in the resource.
fn echo(config: &[ConfigEntry]) -> Result<DiscoverSummary, ConnectorError> {
    let base = setting(config, "base_url").unwrap_or_default();
    let url = format!("{base}echo");
    let response = waki::Client::new()
        .get(&url)
        .send()
        .map_err(|e| ConnectorError::Network(format!("request to {url} failed: {e}")))?;
    let headers: Vec<String> = response
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let body = response
        .body()
        .map_err(|e| ConnectorError::Network(format!("reading {url} failed: {e}")))?;
    let body = String::from_utf8_lossy(&body).into_owned();
    host::log(LogLevel::Info, &format!("echo headers: {headers:?}"));
    host::log(LogLevel::Info, &format!("echo body: {body}"));
    host::emit(&[Resource {
        uri: "test.echo".to_owned(),
        resource_type: "test_item".to_owned(),
        name: "What the echo server sent back".to_owned(),
        parent_uri: None,
        native_id: None,
        properties: vec![
            Property {
                name: "body".to_owned(),
                value: PropertyValue::Text(body),
            },
            Property {
                name: "headers".to_owned(),
                value: PropertyValue::TextList(headers),
            },
        ],
    }]);
    Ok(summary(1, 1))
}

/// Tries to send requests carrying headers the host owns: its own credential, a cookie, a proxy
/// credential, another Host. Logs each outcome.
fn set_forbidden_headers(config: &[ConfigEntry]) -> DiscoverSummary {
    let base = setting(config, "base_url").unwrap_or_default();
    let attempts = [
        ("authorization", "Bearer guest_chosen_value"),
        ("Authorization", "Basic Z3Vlc3Q6Y2hvc2Vu"),
        ("cookie", "session=guest_chosen_value"),
        ("proxy-authorization", "Bearer guest_chosen_value"),
        ("host", "evil.example"),
    ];
    let mut requests = 0;
    for (name, value) in attempts {
        requests += 1;
        let outcome = waki::Client::new()
            .get(&format!("{base}headers"))
            .header(name, value)
            .send();
        let line = match outcome {
            Ok(response) => format!("sent, answered {}", response.status_code()),
            Err(e) => format!("refused ({e})"),
        };
        host::log(LogLevel::Info, &format!("set-auth {name}: {line}"));
    }
    summary(0, requests)
}

/// Emits one resource whose property carries a variant case the contract does not have, by
/// calling the `emit` import with hand-laid canonical-ABI memory: what a component written
/// against another contract, or built to attack the host, could send.
fn emit_unknown_property_type() {
    #[link(wasm_import_module = "euno:connector/host@0.1.0")]
    unsafe extern "C" {
        #[link_name = "emit"]
        fn raw_emit(batch: *mut u8, len: usize);
    }
    /// `record property { name: string, value: property-value }`: 24 bytes, aligned to 8.
    #[repr(C, align(8))]
    struct RawProperty {
        name: *const u8,
        name_len: usize,
        tag: u8,
        _pad: [u8; 7],
        payload: u64,
    }
    /// `record resource`: 56 bytes, aligned to 4.
    #[repr(C)]
    struct RawResource {
        uri: *const u8,
        uri_len: usize,
        kind: *const u8,
        kind_len: usize,
        name: *const u8,
        name_len: usize,
        parent_tag: u8,
        _pad1: [u8; 3],
        parent: *const u8,
        parent_len: usize,
        native_tag: u8,
        _pad2: [u8; 3],
        native: *const u8,
        native_len: usize,
        properties: *const RawProperty,
        properties_len: usize,
    }
    let (uri, kind, name, prop) = ("test.items.odd", "test_item", "Odd", "mystery");
    let property = RawProperty {
        name: prop.as_ptr(),
        name_len: prop.len(),
        tag: 42,
        _pad: [0; 7],
        payload: 0,
    };
    let mut resource = RawResource {
        uri: uri.as_ptr(),
        uri_len: uri.len(),
        kind: kind.as_ptr(),
        kind_len: kind.len(),
        name: name.as_ptr(),
        name_len: name.len(),
        parent_tag: 0,
        _pad1: [0; 3],
        parent: std::ptr::null(),
        parent_len: 0,
        native_tag: 0,
        _pad2: [0; 3],
        native: std::ptr::null(),
        native_len: 0,
        properties: &property,
        properties_len: 1,
    };
    // SAFETY: the import takes a pointer to and a length of an array of resources laid out as the
    // canonical ABI says; the memory outlives the call, which copies it.
    unsafe { raw_emit((&raw mut resource).cast(), 1) };
}

/// Recurses without end, each frame holding some stack, until the sandbox stops it.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 32]);
    if std::hint::black_box(depth) == 0 {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[7])
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
