//! Property-based fuzzing of Hex JSON → resources: whatever the API answers (arbitrary bytes, or
//! JSON shaped like a project list with every field of every type, hostile strings, odd
//! timestamps, error statuses and `Retry-After` values), the connector never panics, and every
//! resource it emits is one the host accepts. The SDK's harness plays the host and fails the case
//! on any rule the host would enforce (a URI that is not lowercase or has a space, a URI twice, an
//! undeclared type, a relation to nowhere, a summary that does not add up); this module adds what
//! is Hex's own: every project sits one segment under the workspace, which comes last.
//!
//! Runs with `cargo test` (256 cases per property); `just fuzz` runs many more. A failing case is
//! kept by proptest under `proptest-regressions/` and, once understood, as a plain test below.

use euno_connector_sdk::prelude::*;
use euno_connector_sdk::testing::{Harness, Reply};
use euno_connector_sdk::types::SettingValue;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::Hex;
use crate::mapping::{MappingContext, WORKSPACE_TYPE, map_project};
use crate::model::{Project, ProjectList};
use crate::settings::Settings;

/// Strings that break naive code: empty, spaces, dots, controls, uppercase that does not
/// lowercase to ASCII, long runs, percent signs.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        ".{0,8}",
        Just(String::new()),
        Just(" ".to_owned()),
        Just("A.B".to_owned()),
        Just("İSTANBUL".to_owned()),
        Just("ǅ%2e".to_owned()),
        Just("\u{0}\n\t".to_owned()),
        "[0-9a-fA-F-]{36}",
    ]
}

fn timestamp_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,15})?([Zz]|[+-][0-9]{2}:[0-9]{2})",
        Just("9999-12-31T23:59:59.999-23:59".to_owned()),
        Just("0000-01-01T00:00:00+23:59".to_owned()),
        Just("2024-02-30T00:00:00Z".to_owned()),
        nasty_string(),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(nasty_string(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A field's value: usually the right type, sometimes anything at all, sometimes absent.
fn field(right: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => right.prop_map(Some),
        1 => any_json().prop_map(Some),
        2 => Just(None),
    ]
}

fn text() -> BoxedStrategy<Value> {
    nasty_string().prop_map(Value::from).boxed()
}

fn stamp() -> BoxedStrategy<Value> {
    timestamp_like().prop_map(Value::from).boxed()
}

fn named_list() -> BoxedStrategy<Value> {
    prop::collection::vec(text().prop_map(|name| json!({"name": name})), 0..3)
        .prop_map(Value::from)
        .boxed()
}

fn project() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(Value::from),
        text(),
    ]
    .boxed();
    let kind = prop_oneof![Just(json!("PROJECT")), Just(json!("COMPONENT")), text()].boxed();
    let user = text().prop_map(|email| json!({"email": email})).boxed();
    let views = any::<i64>()
        .prop_map(|n| json!({"allTime": n, "lastSevenDays": n / 2, "lastThirtyDays": 1.5e300}))
        .boxed();
    let analytics = (views, stamp())
        .prop_map(|(views, at)| json!({"appViews": views, "lastViewedAt": at}))
        .boxed();
    let schedules = prop::collection::vec(
        (text(), any::<bool>()).prop_map(|(c, e)| json!({"cadence": c, "enabled": e})),
        0..3,
    )
    .prop_map(Value::from)
    .boxed();
    let sharing = (named_list(), text())
        .prop_map(|(collections, access)| {
            let collections: Vec<Value> = collections
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| json!({"collection": c}))
                .collect();
            json!({"collections": collections, "workspace": {"access": access}, "publicWeb": null})
        })
        .boxed();
    let fields = (
        (field(id), field(text()), field(text()), field(kind)),
        (field(user.clone()), field(user), field(named_list())),
        (
            field(stamp()),
            field(stamp()),
            field(stamp()),
            field(stamp()),
        ),
        (field(analytics), field(schedules), field(sharing)),
    );
    fields.prop_map(|(a, b, c, d)| {
        let names = [
            ("id", a.0),
            ("title", a.1),
            ("description", a.2),
            ("type", a.3),
            ("owner", b.0),
            ("creator", b.1),
            ("categories", b.2),
            ("createdAt", c.0),
            ("lastEditedAt", c.1),
            ("lastPublishedAt", c.2),
            ("archivedAt", c.3),
            ("analytics", d.0),
            ("schedules", d.1),
            ("sharing", d.2),
        ];
        Value::Object(
            names
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_owned(), value?)))
                .collect(),
        )
    })
}

/// One answer of the API: a page of projects (with a cursor or not), or an error.
fn answer() -> impl Strategy<Value = Reply> {
    let page = (
        prop::collection::vec(project(), 0..6),
        prop_oneof![Just(Value::Null), text(), any_json()],
    )
        .prop_map(|(values, after)| {
            Reply::json(json!({"values": values, "pagination": {"after": after}}))
        });
    let failure = (
        prop_oneof![
            Just(429u16),
            Just(500),
            Just(503),
            Just(401),
            Just(404),
            Just(302),
            100u16..600
        ],
        prop_oneof![
            Just(None),
            "[0-9]{1,12}".prop_map(Some),
            Just(Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned())),
            nasty_string().prop_map(Some),
        ],
        any_json(),
    )
        .prop_map(|(status, retry_after, body)| {
            let reply = Reply::json_status(status, body);
            match retry_after {
                Some(value) => reply.header("retry-after", &value),
                None => reply,
            }
        });
    let garbage = prop::collection::vec(any::<u8>(), 0..64)
        .prop_map(|body| Reply::text(200, &String::from_utf8_lossy(&body)));
    let network = any::<bool>().prop_map(|timeout| {
        if timeout {
            Reply::timeout()
        } else {
            Reply::connection_error("connection reset")
        }
    });
    prop_oneof![6 => page, 2 => failure, 1 => garbage, 1 => network]
}

/// Settings a source may have: with or without an id, names with spaces, each include flag.
fn settings() -> impl Strategy<Value = Vec<(&'static str, SettingValue)>> {
    (
        prop_oneof![Just(None), "[A-Za-z0-9_-]{1,12}".prop_map(Some)],
        prop_oneof![
            Just("hex_workspace".to_owned()),
            "[^.]{1,12}".prop_map(String::from),
            Just("Data Team".to_owned()),
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(id, name, components, archived)| {
            let mut settings = vec![
                ("lineage", "off".into()),
                ("requests_per_minute", 0.into()),
                ("max_retries", 2.into()),
                ("workspace_name", name.into()),
                ("include_components", components.into()),
                ("include_archived", archived.into()),
            ];
            if let Some(id) = id {
                settings.push(("workspace_id", id.into()));
            }
            settings
        })
}

fn mapping(settings: &[(&str, SettingValue)]) -> Option<MappingContext> {
    let entries = settings
        .iter()
        .map(|(name, value)| euno_connector_sdk::types::ConfigEntry {
            name: (*name).to_owned(),
            value: value.clone(),
        })
        .collect();
    let config = Config::new(entries, &Hex::spec());
    Some(MappingContext::new(&Settings::read(&config).ok()?, 0))
}

proptest! {
    #[test]
    fn any_bytes_as_a_page_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(list) = serde_json::from_slice::<ProjectList>(&body) {
            let context = mapping(&[]).expect("the defaults are valid");
            for value in list.values.iter().flatten() {
                if let Some(project) = Project::read(value, &mut Vec::new()) {
                    let resource = map_project(&project, &context, None);
                    prop_assert!(resource.uri.starts_with("hex.hex_workspace."));
                }
            }
        }
    }

    #[test]
    fn hex_json_maps_to_resources_the_host_accepts(
        settings in settings(),
        script in prop::collection::vec(answer(), 1..6),
    ) {
        let Some(context) = mapping(&settings) else {
            return Ok(());
        };
        let mut harness = Harness::<Hex>::new();
        for (name, value) in &settings {
            harness.setting(name, value.clone());
        }
        harness
            .secret("api_token", "hxtp_fuzz")
            .route_sequence("GET /projects", script)
            .route("GET /users/me", Reply::json(json!({"org": {"id": "ws-fuzz"}})))
            .route(
                "GET /data-connections",
                Reply::json(json!({"values": [], "pagination": {"after": null}})),
            );
        // The harness panics, failing the case, on any rule the host would enforce.
        let outcome = harness.discover();
        let resources = harness.resources();
        for resource in &resources {
            if resource.resource_type == WORKSPACE_TYPE {
                continue;
            }
            prop_assert_eq!(resource.parent_uri.as_deref(), Some(context.workspace_uri.as_str()));
            // One segment under the workspace: an id cannot fake a deeper hierarchy.
            let rest = resource
                .uri
                .strip_prefix(&format!("{}.", context.workspace_uri))
                .unwrap_or_default();
            prop_assert!(!rest.is_empty() && !rest.contains('.'), "{}", resource.uri);
        }
        if outcome.is_ok() {
            let last = resources.last().map(|r| r.resource_type.as_str());
            prop_assert_eq!(last, Some(WORKSPACE_TYPE));
        }
    }
}

/// Inputs the fuzzer found, kept as plain tests.
mod found {
    use super::*;

    fn uri_of(id: &str, settings: &[(&str, SettingValue)]) -> String {
        let project = Project::read(&json!({"id": id}), &mut Vec::new()).expect("an id");
        let context = mapping(settings).expect("valid settings");
        map_project(&project, &context, None).uri
    }

    #[test]
    fn ids_with_spaces_dots_and_controls_become_one_valid_uri_segment() {
        assert_eq!(uri_of("a b", &[]), "hex.hex_workspace.a%20b");
        assert_eq!(uri_of("a.b", &[]), "hex.hex_workspace.a%2eb");
        assert_eq!(uri_of("x\u{0}", &[]), "hex.hex_workspace.x%00");
        assert_eq!(uri_of("50%", &[]), "hex.hex_workspace.50%25");
        assert_eq!(uri_of("İ", &[]), "hex.hex_workspace.i\u{307}");
        // A UUID, the ids Hex actually uses, is unchanged but for case.
        assert_eq!(
            uri_of("0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB", &[]),
            "hex.hex_workspace.0b7e3d4a-aaaa-4bbb-8ccc-0123456789ab"
        );
    }

    #[test]
    fn a_workspace_name_with_spaces_is_a_valid_uri_segment() {
        assert_eq!(
            uri_of("p", &[("workspace_name", "Data Team".into())]),
            "hex.data%20team.p"
        );
    }
}
