//! Fidelity: every promised property, and an API client that survives the real API.
//!
//! The host's `tests/e2e/fidelity.rs`, natively: the same hand-written workspace (every property
//! of the contract has an exact expected value) and the same misbehaviour on cue, seen through
//! what the connector emits, logs and returns.

use std::collections::{BTreeMap, BTreeSet};

use euno_connector_sdk::testing::Harness;
use euno_connector_sdk::types::{ConnectorError, LogLevel, Resource, SettingValue, WaitReason};
use hex_connector::Hex;
use hex_sim::{
    ErrorShape, Faults, RateLimitBurst, ServerErrorBurst, SimHandle, SlowPage, Workspace,
};
use serde_json::{Value, json};

use crate::support::{TOKEN, by_uri, hex, message, normal_instant, properties, simulator};

/// The workspace id the fixture's sources configure; mixed case, as a user may paste it.
const WS_ID: &str = "7C1F3A2E-5B4D-4E6F-8A9B-0C1D2E3F4A5B";
const WS_NAME: &str = "Acme Analytics";

/// A published project with every field set.
const FULL: &str = "0B7E3D4A-AAAA-4BBB-8CCC-0123456789AB";
/// A draft (never published), recently edited, owned by its creator.
const DRAFT: &str = "5f1c2d3e-1111-4222-8333-44445555d4af";
/// Every nullable field and object is `null`.
const NULLS: &str = "9a8b7c6d-2222-4333-8444-555566667777";
/// Objects present with `null` inside them.
const NESTED: &str = "1e2d3c4b-3333-4444-8555-666677778888";
/// Only an id and a title: every other key is absent.
const BARE: &str = "b0a7e000-4444-4555-8666-777788889999";
const COMPONENT: &str = "c0c0c0c0-5555-4666-8777-88889999aaaa";
const ARCHIVED: &str = "a1a1a1a1-6666-4777-8888-9999aaaabbbb";
const TRASHED: &str = "7a7a7a7a-7777-4888-8999-aaaabbbbcccc";
const ARCHIVED_AND_TRASHED: &str = "e2e2e2e2-8888-4999-8aaa-bbbbccccdddd";

/// What a default run lists: no component, nothing archived or trashed.
const VISIBLE_BY_DEFAULT: [&str; 5] = [FULL, DRAFT, NULLS, NESTED, BARE];

const DAY_MS: i64 = 86_400_000;

/// The instant the runs start, which `activity_status` is computed against.
const STARTED_AT: i64 = hex_sim::REFERENCE_MILLIS;

/// Instants relative to the runs' start: a margin of a day either side of the 30-day window keeps
/// the expectations exact.
struct Recent {
    now_ms: i64,
}

impl Recent {
    fn new() -> Self {
        Self { now_ms: STARTED_AT }
    }

    fn days_ago(&self, days: i64) -> i64 {
        self.now_ms - days * DAY_MS
    }

    /// The instant as Hex sends it: `2024-08-21T17:16:09.567Z`.
    fn sent(&self, days: i64) -> String {
        hex_sim::format_millis(self.days_ago(days))
    }

    /// The instant as the connector reports it.
    fn shown(&self, days: i64) -> String {
        crate::support::instant(self.days_ago(days))
    }
}

/// The hand-written workspace: every kind of project the contract distinguishes, with unknown
/// fields sprinkled at every level.
fn fixture(recent: &Recent) -> Workspace {
    let projects = json!([
        {
            "id": FULL,
            "title": "Revenue Dashboard",
            "description": "Weekly revenue by region",
            "type": "PROJECT",
            "creator": {"email": "grace.hopper@acme.example", "name": "Grace Hopper"},
            "owner": {"email": "ada.lovelace@acme.example"},
            "status": {"name": "Approved", "color": "#00ff00"},
            "categories": [
                {"name": "Finance", "description": "Money in, money out"},
                {"name": "KPI", "description": null}
            ],
            "reviews": {"required": true, "reviewers": ["x"]},
            "analytics": {
                "appViews": {"allTime": 1234, "lastSevenDays": 12, "lastFourteenDays": 30,
                             "lastThirtyDays": 77, "lastNinetyDays": 400},
                "lastViewedAt": recent.sent(2),
                "publishedResultsUpdatedAt": "2024-08-22T08:00:00.000+02:00",
                "heatmap": [1, 2, 3]
            },
            "createdAt": "2024-01-02T03:04:05.678Z",
            "lastEditedAt": "2024-08-21T17:16:09.567Z",
            "lastPublishedAt": "2024-08-20T10:00:00.000Z",
            "archivedAt": null,
            "trashedAt": null,
            "schedules": [
                {"cadence": "HOURLY", "enabled": true, "hourly": {"minute": 15, "timezone": "UTC"}},
                {"cadence": "DAILY", "enabled": true,
                 "daily": {"hour": 6, "minute": 0, "timezone": "Europe/Paris"}}
            ],
            "sharing": {
                "users": [{"user": {"email": "alan.turing@acme.example"}, "access": "CAN_EDIT"}],
                "collections": [
                    {"collection": {"name": "Executive", "id": "col-1"}, "access": "CAN_VIEW"},
                    {"collection": {"name": "Finance team"}, "access": "APP_ONLY"}
                ],
                "groups": [{"group": {"name": "Analysts"}, "access": "CAN_VIEW"}],
                "workspace": {"access": "APP_ONLY"},
                "publicWeb": {"access": "NONE"},
                "support": {"access": "CAN_VIEW"},
                "organizationRoles": []
            },
            "icon": "📊",
            "dataConnections": [{"id": "dc-1", "name": "Snowflake"}],
            "brandNewObject": {"nested": {"deep": true}}
        },
        {
            "id": DRAFT,
            "title": "Churn exploration",
            "description": "Exploratory churn analysis",
            "type": "PROJECT",
            "creator": {"email": "ada.lovelace@acme.example"},
            "owner": {"email": "Ada.Lovelace@acme.example"},
            "status": {"name": "In development"},
            "categories": [],
            "reviews": {"required": false},
            "analytics": {
                "appViews": {"allTime": 0, "lastSevenDays": 0, "lastFourteenDays": 0,
                             "lastThirtyDays": 0},
                "lastViewedAt": null,
                "publishedResultsUpdatedAt": null
            },
            "createdAt": "2025-03-04T05:06:07.890Z",
            "lastEditedAt": recent.sent(10),
            "lastPublishedAt": null,
            "archivedAt": null,
            "trashedAt": null,
            "schedules": [{"cadence": "WEEKLY", "enabled": false,
                           "weekly": {"dayOfWeek": "MONDAY", "hour": 9, "minute": 0}}],
            "sharing": {
                "users": [], "collections": [], "groups": [],
                "workspace": {"access": "CAN_EDIT"},
                "publicWeb": {"access": "APP_ONLY"},
                "support": {"access": "NONE"}
            }
        },
        {
            "id": NULLS,
            "title": "Legacy report",
            "description": null,
            "type": "PROJECT",
            "creator": null,
            "owner": null,
            "status": null,
            "categories": null,
            "reviews": null,
            "analytics": null,
            "createdAt": "2023-05-06T07:08:09.000Z",
            "lastEditedAt": recent.sent(31),
            "lastPublishedAt": null,
            "archivedAt": null,
            "trashedAt": null,
            "schedules": null,
            "sharing": null
        },
        {
            "id": NESTED,
            "title": "Ops monitor",
            "description": "",
            "type": "PROJECT",
            "creator": {"email": null},
            "owner": {"email": "ops@acme.example"},
            "status": {"name": null},
            "categories": [{"name": null}, {"name": "Operations"}],
            "reviews": {"required": null},
            "analytics": {"appViews": null, "lastViewedAt": recent.sent(29),
                          "publishedResultsUpdatedAt": null},
            "createdAt": "2023-02-03T04:05:06.007Z",
            "lastEditedAt": "2023-02-03T04:05:06.007Z",
            "lastPublishedAt": "2025-06-01T12:00:00.000Z",
            "archivedAt": null,
            "trashedAt": null,
            "schedules": [{"cadence": null, "enabled": null}],
            "sharing": {
                "collections": [{"collection": null, "access": "CAN_VIEW"},
                                {"collection": {"name": "Ops"}}],
                "workspace": null,
                "publicWeb": {"access": null}
            }
        },
        {"id": BARE, "title": "Scratchpad"},
        {
            "id": COMPONENT,
            "title": "Shared filters",
            "type": "COMPONENT",
            "owner": {"email": "ada.lovelace@acme.example"},
            "creator": {"email": "ada.lovelace@acme.example"},
            "createdAt": "2025-07-08T09:10:11.121Z",
            "lastEditedAt": recent.sent(3),
            "lastPublishedAt": "2025-07-09T00:00:00.000Z"
        },
        {
            "id": ARCHIVED,
            "title": "Q3 planning (old)",
            "type": "PROJECT",
            "createdAt": "2024-06-01T00:00:00.000Z",
            "lastEditedAt": recent.sent(3),
            "analytics": {"lastViewedAt": recent.sent(2)},
            "archivedAt": "2025-09-30T00:00:00.000Z",
            "trashedAt": null
        },
        {
            "id": TRASHED,
            "title": "Draft to delete",
            "type": "PROJECT",
            "createdAt": "2024-06-02T00:00:00.000Z",
            "lastEditedAt": recent.sent(3),
            "archivedAt": null,
            "trashedAt": "2025-10-15T08:30:00.000Z"
        },
        {
            "id": ARCHIVED_AND_TRASHED,
            "title": "Archived, then trashed",
            "type": "PROJECT",
            "createdAt": "2024-06-03T00:00:00.000Z",
            "lastEditedAt": recent.sent(3),
            "archivedAt": "2025-01-01T00:00:00.000Z",
            "trashedAt": "2025-02-01T00:00:00.000Z"
        }
    ]);
    let text = json!({"id": WS_ID.to_lowercase(), "name": WS_NAME, "projects": projects});
    Workspace::from_json_str(&text.to_string()).expect("the fixture is a valid workspace")
}

/// One expected resource.
struct Expected {
    resource_type: &'static str,
    name: &'static str,
    properties: Value,
}

/// Every fixture project's expected resource, by id, for a source whose base URL is `base_url`
/// and whose `workspace_id` is `workspace_id`.
fn expected_projects(
    recent: &Recent,
    base_url: &str,
    workspace_id: Option<&str>,
) -> BTreeMap<&'static str, Expected> {
    let origin = base_url
        .strip_suffix("/api/v1")
        .expect("the simulator's base URL ends in /api/v1");
    let links = |view: &str, id: &str| match workspace_id {
        Some(ws) => json!([format!("{origin}/{ws}/{view}/{id}")]),
        None => json!([]),
    };
    // What a project with no data beyond its id and title shows.
    let empty = |id: &str, title: &str| {
        json!({
            "name": title, "native_id": id, "description": null, "project_type": null,
            "created_at": null, "updated_at": null, "published_at": null, "archived_at": null,
            "trashed_at": null, "published_results_updated_at": null,
            "owner": null, "creator": null, "native_owners": [],
            "status": null, "is_published": false, "reviews_required": null,
            "activity_status": "inactive",
            "categories": [], "collections": [], "tags": [],
            "impressions_7d": null, "impressions_14d": null, "impressions_30d": null,
            "impressions_all_time": null, "last_viewed_at": null,
            "schedule_cadences": [], "has_enabled_schedule": null,
            "workspace_access": null, "public_web_access": null,
            "external_links": links("hex", id),
            "category_descriptions": [], "collection_access": [], "user_access": [],
            "group_access": [], "schedules": [],
            "last_run_status": null, "last_run_at": null, "last_run_duration_seconds": null,
        })
    };
    let with = |mut base: Value, changes: Value| {
        for (key, value) in changes.as_object().expect("an object") {
            assert!(base.get(key).is_some(), "{key} is not a contract property");
            base[key] = value.clone();
        }
        base
    };
    let project = |name, properties| Expected {
        resource_type: "hex_project",
        name,
        properties,
    };
    BTreeMap::from([
        (
            FULL,
            project(
                "Revenue Dashboard",
                json!({
                    "name": "Revenue Dashboard",
                    "native_id": FULL,
                    "description": "Weekly revenue by region",
                    "project_type": "PROJECT",
                    "created_at": "2024-01-02T03:04:05.678Z",
                    "updated_at": "2024-08-21T17:16:09.567Z",
                    "published_at": "2024-08-20T10:00:00Z",
                    "archived_at": null,
                    "trashed_at": null,
                    "published_results_updated_at": "2024-08-22T06:00:00Z",
                    "owner": "ada.lovelace@acme.example",
                    "creator": "grace.hopper@acme.example",
                    "native_owners": ["ada.lovelace@acme.example", "grace.hopper@acme.example"],
                    "status": "Approved",
                    "is_published": true,
                    "reviews_required": true,
                    "activity_status": "active",
                    "categories": ["Finance", "KPI"],
                    "collections": ["Executive", "Finance team"],
                    "tags": ["Finance", "KPI", "Executive", "Finance team"],
                    "impressions_7d": 12,
                    "impressions_14d": 30,
                    "impressions_30d": 77,
                    "impressions_all_time": 1234,
                    "last_viewed_at": recent.shown(2),
                    "schedule_cadences": ["HOURLY", "DAILY"],
                    "has_enabled_schedule": true,
                    "workspace_access": "APP_ONLY",
                    "public_web_access": "NONE",
                    "external_links": links("app", FULL),
                    "category_descriptions": ["Finance: Money in, money out"],
                    "collection_access": ["Executive: CAN_VIEW", "Finance team: APP_ONLY"],
                    "user_access": ["alan.turing@acme.example: CAN_EDIT"],
                    "group_access": ["Analysts: CAN_VIEW"],
                    "schedules": ["HOURLY at minute 15 UTC", "DAILY at 06:00 Europe/Paris"],
                    // Published, but the fixture has no runs.
                    "last_run_status": null,
                    "last_run_at": null,
                    "last_run_duration_seconds": null,
                }),
            ),
        ),
        (
            DRAFT,
            project(
                "Churn exploration",
                with(
                    empty(DRAFT, "Churn exploration"),
                    json!({
                        "description": "Exploratory churn analysis",
                        "project_type": "PROJECT",
                        "created_at": "2025-03-04T05:06:07.890Z",
                        "updated_at": recent.shown(10),
                        "owner": "Ada.Lovelace@acme.example",
                        "creator": "ada.lovelace@acme.example",
                        // One person, whatever the case of the address.
                        "native_owners": ["ada.lovelace@acme.example"],
                        "status": "In development",
                        "reviews_required": false,
                        "activity_status": "active",
                        "impressions_7d": 0,
                        "impressions_14d": 0,
                        "impressions_30d": 0,
                        "impressions_all_time": 0,
                        "schedule_cadences": ["WEEKLY"],
                        "has_enabled_schedule": false,
                        "workspace_access": "CAN_EDIT",
                        "public_web_access": "APP_ONLY",
                        "schedules": ["WEEKLY on MONDAY at 09:00 (disabled)"],
                    }),
                ),
            ),
        ),
        (
            NULLS,
            project(
                "Legacy report",
                with(
                    empty(NULLS, "Legacy report"),
                    json!({
                        "project_type": "PROJECT",
                        "created_at": "2023-05-06T07:08:09Z",
                        "updated_at": recent.shown(31),
                    }),
                ),
            ),
        ),
        (
            NESTED,
            project(
                "Ops monitor",
                with(
                    empty(NESTED, "Ops monitor"),
                    json!({
                        "description": "",
                        "project_type": "PROJECT",
                        "created_at": "2023-02-03T04:05:06.007Z",
                        "updated_at": "2023-02-03T04:05:06.007Z",
                        "published_at": "2025-06-01T12:00:00Z",
                        "owner": "ops@acme.example",
                        "native_owners": ["ops@acme.example"],
                        "is_published": true,
                        "activity_status": "active",
                        "categories": ["Operations"],
                        "collections": ["Ops"],
                        "tags": ["Operations", "Ops"],
                        "last_viewed_at": recent.shown(29),
                        "has_enabled_schedule": false,
                        "external_links": links("app", NESTED),
                        "collection_access": ["Ops"],
                        "schedules": ["UNKNOWN"],
                    }),
                ),
            ),
        ),
        (BARE, project("Scratchpad", empty(BARE, "Scratchpad"))),
        (
            COMPONENT,
            Expected {
                resource_type: "hex_component",
                name: "Shared filters",
                properties: with(
                    empty(COMPONENT, "Shared filters"),
                    json!({
                        "project_type": "COMPONENT",
                        "created_at": "2025-07-08T09:10:11.121Z",
                        "updated_at": recent.shown(3),
                        "published_at": "2025-07-09T00:00:00Z",
                        "owner": "ada.lovelace@acme.example",
                        "creator": "ada.lovelace@acme.example",
                        "native_owners": ["ada.lovelace@acme.example"],
                        "is_published": true,
                        "activity_status": "active",
                        "external_links": links("app", COMPONENT),
                    }),
                ),
            },
        ),
        (
            ARCHIVED,
            project(
                "Q3 planning (old)",
                with(
                    empty(ARCHIVED, "Q3 planning (old)"),
                    json!({
                        "project_type": "PROJECT",
                        "created_at": "2024-06-01T00:00:00Z",
                        "updated_at": recent.shown(3),
                        "archived_at": "2025-09-30T00:00:00Z",
                        "last_viewed_at": recent.shown(2),
                        // Recently viewed and edited, but archived first.
                        "activity_status": "archived",
                    }),
                ),
            ),
        ),
        (
            TRASHED,
            project(
                "Draft to delete",
                with(
                    empty(TRASHED, "Draft to delete"),
                    json!({
                        "project_type": "PROJECT",
                        "created_at": "2024-06-02T00:00:00Z",
                        "updated_at": recent.shown(3),
                        "trashed_at": "2025-10-15T08:30:00Z",
                        "activity_status": "trashed",
                    }),
                ),
            ),
        ),
        (
            ARCHIVED_AND_TRASHED,
            project(
                "Archived, then trashed",
                with(
                    empty(ARCHIVED_AND_TRASHED, "Archived, then trashed"),
                    json!({
                        "project_type": "PROJECT",
                        "created_at": "2024-06-03T00:00:00Z",
                        "updated_at": recent.shown(3),
                        "archived_at": "2025-01-01T00:00:00Z",
                        "trashed_at": "2025-02-01T00:00:00Z",
                        "activity_status": "trashed",
                    }),
                ),
            ),
        ),
    ])
}

/// The properties that hold an instant.
const TIMESTAMPS: [&str; 7] = [
    "created_at",
    "updated_at",
    "published_at",
    "archived_at",
    "trashed_at",
    "published_results_updated_at",
    "last_viewed_at",
];

/// Puts what the contract leaves open into one form: the sets of people (emails, compared
/// without case) and of tags are sorted, and instants are written with milliseconds.
fn normalise(properties: &Value) -> Value {
    let mut properties = properties.clone();
    for key in ["native_owners", "tags"] {
        if let Some(Value::Array(items)) = properties.get_mut(key) {
            for item in items.iter_mut() {
                if key == "native_owners" {
                    *item = item.as_str().map(str::to_lowercase).into();
                }
            }
            items.sort_by_key(|item| item.as_str().map(str::to_owned));
        }
    }
    for key in TIMESTAMPS {
        if let Some(Value::String(text)) = properties.get(key) {
            properties[key] = normal_instant(text).into();
        }
    }
    properties
}

/// Checks that `resources` holds the workspace and exactly the projects `ids`, each with exactly
/// its expected properties.
fn assert_resources(
    resources: &BTreeMap<String, Resource>,
    expected: &BTreeMap<&'static str, Expected>,
    ids: &[&str],
    workspace_uri: &str,
) {
    let mut wanted: BTreeSet<String> = ids
        .iter()
        .map(|id| format!("{workspace_uri}.{}", id.to_lowercase()))
        .collect();
    wanted.insert(workspace_uri.to_owned());
    let uris: BTreeSet<String> = resources.keys().cloned().collect();
    assert_eq!(uris, wanted, "the resources are not the expected ones");
    for id in ids {
        let uri = format!("{workspace_uri}.{}", id.to_lowercase());
        let want = &expected[id];
        let got = &resources[&uri];
        assert_eq!(got.resource_type, want.resource_type, "{uri}");
        assert_eq!(got.name, want.name, "{uri}");
        assert_eq!(got.parent_uri.as_deref(), Some(workspace_uri), "{uri}");
        assert_eq!(got.native_id.as_deref(), Some(*id), "{uri}");
        let (got, want) = (normalise(&properties(got)), normalise(&want.properties));
        let keys: BTreeSet<&String> = got
            .as_object()
            .unwrap()
            .keys()
            .chain(want.as_object().unwrap().keys())
            .collect();
        let wrong: Vec<String> = keys
            .into_iter()
            .filter(|key| got.get(key.as_str()) != want.get(key.as_str()))
            .map(|key| {
                format!(
                    "  {key}: got {}, want {}",
                    got.get(key.as_str())
                        .map_or("(missing)".into(), Value::to_string),
                    want.get(key.as_str())
                        .map_or("(none)".into(), Value::to_string)
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{uri} has wrong properties:\n{}",
            wrong.join("\n")
        );
    }
}

/// The connector against `sim`, starting runs at [`STARTED_AT`], with `settings`.
fn source(sim: &SimHandle, settings: &[(&str, Value)]) -> Harness<Hex> {
    let mut harness = hex(sim);
    harness.started_at(STARTED_AT);
    for (name, value) in settings {
        let value: SettingValue = match value {
            Value::Bool(flag) => (*flag).into(),
            Value::Number(number) => number.as_i64().expect("an integer").into(),
            Value::String(text) => text.as_str().into(),
            other => panic!("no setting takes {other}"),
        };
        harness.setting(name, value);
    }
    harness
}

/// The retry warnings of a run for `status`: `(trace id, the logged delay in seconds)`.
fn retries(harness: &Harness<Hex>, status: u16) -> Vec<(String, f64)> {
    let marker = format!("answered {status} (x-trace-id ");
    harness
        .logs_at(LogLevel::Warn)
        .iter()
        .filter_map(|line| {
            let rest = &line[line.find(&marker)? + marker.len()..];
            let (trace, rest) = rest.split_once(')')?;
            let delay = rest.split(" in ").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((trace.to_owned(), delay))
        })
        .collect()
}

#[test]
fn every_property_has_its_value_for_projects_with_and_without_nulls() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let mut harness = source(
        &sim,
        &[
            ("workspace_id", json!(WS_ID)),
            ("workspace_name", json!(WS_NAME)),
        ],
    );
    let summary = harness.discover().expect("discovers");
    assert_eq!(summary.emitted, 6);
    // Unknown fields and nulls are not worth a warning, let alone a failure.
    assert_eq!(harness.logs_at(LogLevel::Warn), Vec::<String>::new());

    let resources = by_uri(&harness);
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    assert_resources(&resources, &expected, &VISIBLE_BY_DEFAULT, &workspace_uri);

    let workspace = &resources[&workspace_uri];
    let origin = sim.base_url().replace("/api/v1", "");
    assert_eq!(workspace.resource_type, "hex_workspace");
    assert_eq!(workspace.name, WS_NAME);
    assert_eq!(workspace.native_id.as_deref(), Some(WS_ID));
    assert_eq!(workspace.parent_uri, None);
    assert_eq!(
        properties(workspace),
        json!({
            "name": WS_NAME,
            "native_id": WS_ID,
            "project_count": VISIBLE_BY_DEFAULT.len(),
            "external_links": [format!("{origin}/{WS_ID}")],
        })
    );
    assert_eq!(
        harness.resources().last().map(|r| r.uri.clone()),
        Some(workspace_uri),
        "the workspace comes last"
    );
}

#[test]
fn without_a_workspace_id_links_use_the_id_hex_reports_and_the_name_keys_the_uris() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let mut harness = source(&sim, &[("workspace_name", json!("acme_analytics"))]);
    harness.discover().expect("discovers");
    assert_eq!(sim.stats().users_me_requests, 1);
    // The simulator's `org.id`, as `GET /users/me` spells it.
    let learned = WS_ID.to_lowercase();
    let resources = by_uri(&harness);
    let expected = expected_projects(&recent, &sim.base_url(), Some(&learned));
    assert_resources(
        &resources,
        &expected,
        &VISIBLE_BY_DEFAULT,
        "hex.acme_analytics",
    );
    let workspace = &resources["hex.acme_analytics"];
    assert_eq!(workspace.native_id.as_deref(), Some(learned.as_str()));
    let origin = sim.base_url().replace("/api/v1", "");
    assert_eq!(
        properties(workspace),
        json!({
            "name": "acme_analytics",
            "native_id": learned,
            "project_count": VISIBLE_BY_DEFAULT.len(),
            "external_links": [format!("{origin}/{learned}")],
        })
    );
    let info = harness.logs_at(LogLevel::Info).join("\n");
    assert!(
        info.contains(&format!(
            "workspace_id is not set: links use the workspace id `{learned}` that GET /users/me \
             reports"
        )),
        "{info}"
    );
}

#[test]
fn components_archived_and_trashed_projects_appear_only_when_included() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    /// Include flags, and the projects they add to the default list.
    type Case = (&'static [(&'static str, bool)], &'static [&'static str]);
    let cases: [Case; 6] = [
        (&[], &[]),
        (
            &[
                ("include_components", false),
                ("include_archived", false),
                ("include_trashed", false),
            ],
            &[],
        ),
        (&[("include_components", true)], &[COMPONENT]),
        (&[("include_archived", true)], &[ARCHIVED]),
        (&[("include_trashed", true)], &[TRASHED]),
        (
            &[
                ("include_components", true),
                ("include_archived", true),
                ("include_trashed", true),
            ],
            &[COMPONENT, ARCHIVED, TRASHED, ARCHIVED_AND_TRASHED],
        ),
    ];
    for (flags, extra) in cases {
        let mut settings = vec![("workspace_id", json!(WS_ID))];
        settings.extend(flags.iter().map(|(name, on)| (*name, json!(on))));
        let mut harness = source(&sim, &settings);
        harness
            .discover()
            .unwrap_or_else(|e| panic!("{flags:?}: {e:?}"));
        let ids: Vec<&str> = VISIBLE_BY_DEFAULT.iter().chain(extra).copied().collect();
        let resources = by_uri(&harness);
        assert_resources(&resources, &expected, &ids, &workspace_uri);
        assert_eq!(
            properties(&resources[&workspace_uri])["project_count"],
            ids.len(),
            "{flags:?}"
        );
    }
}

#[test]
fn a_multi_page_workspace_is_discovered_with_exact_uris_and_parents() {
    let workspace = Workspace::synthetic(11, 250);
    let visible: BTreeSet<String> = workspace
        .projects
        .iter()
        .filter(|p| !p.is_component() && !p.is_archived() && !p.is_trashed())
        .map(|p| p.id.clone())
        .collect();
    let workspace_id = workspace.id.clone();
    let sim = simulator(workspace, Faults::default());
    let mut harness = source(
        &sim,
        &[
            ("workspace_id", json!(workspace_id)),
            ("lineage", json!("off")),
        ],
    );
    let summary = harness.discover().expect("discovers");
    let connections = 8;
    assert_eq!(summary.emitted, visible.len() as u64 + connections + 1);
    assert_eq!(
        sim.stats().project_list_requests,
        visible.len().div_ceil(100) as u64,
        "one request per page of 100"
    );
    let workspace_uri = format!("hex.{}", workspace_id.to_lowercase());
    let mut seen = BTreeSet::new();
    for resource in harness.resources() {
        if resource.resource_type == "hex_workspace" {
            assert_eq!(resource.uri, workspace_uri);
            continue;
        }
        if resource.resource_type == "hex_data_connection" {
            continue;
        }
        assert_eq!(resource.resource_type, "hex_project");
        assert_eq!(resource.parent_uri.as_deref(), Some(workspace_uri.as_str()));
        let id = resource.native_id.clone().expect("a native id");
        assert_eq!(
            resource.uri,
            format!("{workspace_uri}.{}", id.to_lowercase())
        );
        seen.insert(id);
    }
    assert_eq!(seen, visible);
}

#[test]
fn the_defaults_throttle_to_30_requests_a_minute_in_pages_of_100() {
    let workspace = Workspace::synthetic(21, 140);
    let sim = simulator(workspace, Faults::default());
    let mut harness = Harness::<Hex>::new();
    // No tuning setting at all: every value is the connector's default.
    harness
        .setting("base_url", sim.base_url())
        .secret("api_token", TOKEN)
        .live();
    let summary = harness.discover().expect("discovers");
    let info = harness.logs_at(LogLevel::Info).join("\n");
    assert!(
        info.contains("100 per page") && info.contains("at most 30 requests"),
        "{info}"
    );
    assert_eq!(sim.stats().project_list_requests, 2, "two pages of 100");
    // Every request but the first (lineage ones included) starts 60 s / 30 = 2 s after the one
    // before.
    let waits = harness.waits();
    assert_eq!(waits.len() + 1, summary.requests as usize);
    assert!(
        waits
            .iter()
            .all(|wait| *wait == (WaitReason::Throttle, 2_000))
    );
}

#[test]
fn a_run_through_a_429_storm_and_a_5xx_burst_completes_with_every_project() {
    let recent = Recent::new();
    let faults = Faults {
        // Page 2 is refused three times, then page 3 fails twice.
        rate_limit_burst: Some(RateLimitBurst {
            start_at: 2,
            count: 3,
            retry_after_secs: Some(0),
        }),
        server_errors: Some(ServerErrorBurst {
            start_at: 6,
            count: 2,
            status: 503,
        }),
        ..Faults::default()
    };
    let sim = simulator(fixture(&recent), faults);
    // Lineage off: no per-project requests between the pages.
    let mut harness = source(
        &sim,
        &[
            ("workspace_id", json!(WS_ID)),
            ("page_size", json!(2)),
            ("lineage", json!("off")),
        ],
    );
    let summary = harness.discover().expect("survives");
    assert_eq!(summary.emitted, 6);
    let stats = sim.stats();
    assert_eq!(
        (stats.rate_limited, stats.server_errors, stats.pages_served),
        (3, 2, 3),
        "{stats:?}"
    );
    // Every retry is logged with the status and the trace id the simulator sent.
    let limited = retries(&harness, 429);
    let failed = retries(&harness, 503);
    let traces: Vec<&str> = limited
        .iter()
        .chain(&failed)
        .map(|(trace, _)| trace.as_str())
        .collect();
    // The simulator numbers every request: the first page is 1, the data connections 2, and
    // then the listing's 429s and 503s.
    assert_eq!(traces, [3, 4, 5, 7, 8].map(|n| format!("sim-{n:016x}")));
    // `Retry-After: 0` is honoured as is; a 503 without one backs off.
    assert!(
        limited.iter().all(|(_, delay)| *delay == 0.0),
        "{limited:?}"
    );
    assert!(failed.iter().all(|(_, delay)| *delay > 0.0), "{failed:?}");
    let warnings = harness.logs_at(LogLevel::Warn).join("\n");
    assert!(
        warnings.contains("page 2 of GET /projects answered 429"),
        "{warnings}"
    );
    assert!(
        warnings.contains("page 3 of GET /projects answered 503"),
        "{warnings}"
    );

    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    assert_resources(
        &by_uri(&harness),
        &expected,
        &VISIBLE_BY_DEFAULT,
        &workspace_uri,
    );
}

#[test]
fn a_429_without_retry_after_backs_off_exponentially_with_jitter() {
    let faults = Faults {
        rate_limit_burst: Some(RateLimitBurst {
            start_at: 1,
            count: 2,
            retry_after_secs: None,
        }),
        ..Faults::default()
    };
    let sim = simulator(Workspace::synthetic(3, 10), faults);
    let mut harness = source(&sim, &[("max_retries", json!(3))]);
    harness.discover().expect("survives");
    let waits = harness.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits
            .iter()
            .all(|(reason, _)| *reason == WaitReason::Backoff)
    );
    // Retry n waits between half and all of 2^(n-1) seconds.
    assert!((500..=1_000).contains(&waits[0].1), "{waits:?}");
    assert!((1_000..=2_000).contains(&waits[1].1), "{waits:?}");
    let warnings = harness.logs_at(LogLevel::Warn).join("\n");
    assert!(warnings.contains("retry 1 of 3") && warnings.contains("retry 2 of 3"));
    assert_eq!(sim.stats().rate_limited, 2);
}

#[test]
fn a_retry_after_http_date_is_honoured() {
    let faults = Faults {
        rate_limit_burst: Some(RateLimitBurst {
            start_at: 1,
            count: 2,
            retry_after_secs: Some(0),
        }),
        retry_after_http_date: true,
        ..Faults::default()
    };
    let sim = simulator(Workspace::synthetic(3, 10), faults);
    let mut harness = hex(&sim);
    // The simulator dates `Retry-After` by the wall clock; so must the run's clock be.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    harness.started_at(i64::try_from(now.as_millis()).expect("in range"));
    harness.discover().expect("survives");
    // A date that has already come (the header has whole seconds) is a wait of at most one.
    let waits = harness.waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits
            .iter()
            .all(|(reason, ms)| *reason == WaitReason::RetryAfter && *ms <= 1_000),
        "{waits:?}"
    );
}

#[test]
fn retries_are_bounded_by_max_retries_then_the_run_fails_with_a_typed_error() {
    let limited = simulator(
        Workspace::synthetic(3, 10),
        Faults {
            rate_limit_burst: Some(RateLimitBurst {
                start_at: 1,
                count: 100,
                retry_after_secs: Some(0),
            }),
            ..Faults::default()
        },
    );
    let error = source(&limited, &[("max_retries", json!(2))])
        .discover()
        .expect_err("fails");
    let ConnectorError::RateLimited(error) = error else {
        panic!("not rate limited: {error:?}");
    };
    assert!(error.message.contains("after 2 retries"), "{error:?}");
    assert_eq!(error.retry_after_seconds, Some(0));
    assert_eq!(limited.stats().project_list_requests, 3);

    let failing = simulator(
        Workspace::synthetic(3, 10),
        Faults {
            server_errors: Some(ServerErrorBurst {
                start_at: 1,
                count: 100,
                status: 500,
            }),
            ..Faults::default()
        },
    );
    let mut harness = source(&failing, &[("max_retries", json!(1))]);
    let error = harness.discover().expect_err("fails");
    let ConnectorError::Upstream(error) = error else {
        panic!("not an upstream error: {error:?}");
    };
    assert_eq!(error.status, 500);
    assert!(error.message.contains("after 1 retry"), "{error:?}");
    assert!(error.trace_id.is_some_and(|id| id.starts_with("sim-")));
    assert_eq!(failing.stats().project_list_requests, 2);
    assert!(
        harness.resources().is_empty(),
        "nothing before the first page"
    );
}

#[test]
fn a_malformed_or_truncated_page_fails_the_run_cleanly_naming_the_page() {
    let recent = Recent::new();
    for (faults, page) in [
        (
            Faults {
                malformed_page: Some(2),
                ..Faults::default()
            },
            2,
        ),
        (
            Faults {
                truncated_page: Some(3),
                ..Faults::default()
            },
            3,
        ),
    ] {
        let sim = simulator(fixture(&recent), faults);
        let error = source(
            &sim,
            &[("workspace_id", json!(WS_ID)), ("page_size", json!(2))],
        )
        .discover()
        .expect_err("fails");
        let ConnectorError::MalformedResponse(message) = &error else {
            panic!("not malformed: {error:?}");
        };
        assert!(
            message.contains(&format!("page {page} of GET /projects"))
                && message.contains("not valid JSON"),
            "{message}"
        );
    }
}

#[test]
fn a_repeating_cursor_fails_the_run_instead_of_looping() {
    let sim = simulator(
        Workspace::synthetic(3, 10),
        Faults {
            repeat_cursor: true,
            ..Faults::default()
        },
    );
    let error = source(&sim, &[("page_size", json!(2))])
        .discover()
        .expect_err("fails");
    assert!(
        matches!(&error, ConnectorError::MalformedResponse(m) if m.contains("repeated a pagination cursor")),
        "{error:?}"
    );
    assert_eq!(sim.stats().project_list_requests, 2);
}

#[test]
fn a_missing_scope_is_named_whichever_error_shape_hex_sends() {
    for shape in [ErrorShape::ReasonDetails, ErrorShape::CodeMessage] {
        let sim = simulator(
            Workspace::synthetic(3, 10),
            Faults {
                forbidden: Some("projects:read".to_owned()),
                error_shape: shape,
                ..Faults::default()
            },
        );
        let error = hex(&sim).discover().expect_err("fails");
        let ConnectorError::Forbidden(message) = &error else {
            panic!("{shape}: not forbidden: {error:?}");
        };
        assert!(
            message.contains("missing required scope: projects:read")
                && message.contains("trace id sim-"),
            "{shape}: {message}"
        );
        assert_eq!(sim.stats().forbidden, 1, "403 is not retried");
    }
}

#[test]
fn a_bad_token_is_unauthorized_and_says_to_check_the_api_token() {
    let sim = simulator(Workspace::synthetic(3, 10), Faults::default());
    for call in ["check", "discover"] {
        let mut harness = hex(&sim);
        harness.secret("api_token", "hxtp_revoked_token_0000");
        let error = match call {
            "check" => harness.check().expect_err("refused"),
            _ => harness.discover().expect_err("refused"),
        };
        let ConnectorError::Unauthorized(message) = &error else {
            panic!("{call}: not unauthorized: {error:?}");
        };
        assert!(message.contains("check the API token"), "{call}: {message}");
        assert!(!message.contains("hxtp_revoked") && !message.contains(TOKEN));
    }
    assert_eq!(sim.stats().unauthorized, 2, "401 is not retried");
}

#[test]
fn check_reaches_the_api_with_one_request() {
    let sim = simulator(Workspace::synthetic(3, 10), Faults::default());
    let mut harness = hex(&sim);
    assert_eq!(
        harness.check(),
        Ok(format!(
            "Hex API reachable at {}; the token can list projects",
            sim.base_url()
        ))
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].url,
        format!("{}/projects?limit=1", sim.base_url())
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn a_response_slower_than_request_timeout_seconds_times_out() {
    let sim = simulator(
        Workspace::synthetic(3, 10),
        Faults {
            delay_ms: 2_500,
            ..Faults::default()
        },
    );
    let error = source(
        &sim,
        &[
            ("request_timeout_seconds", json!(1)),
            ("max_retries", json!(0)),
        ],
    )
    .discover()
    .expect_err("times out");
    let ConnectorError::Network(message) = &error else {
        panic!("not a network error: {error:?}");
    };
    assert!(
        message.contains("page 1 of GET /projects") && message.contains("request_timeout_seconds"),
        "{message}"
    );
}

#[test]
fn a_timed_out_request_is_retried_and_the_run_completes() {
    let sim = simulator(
        Workspace::synthetic(3, 10),
        Faults {
            slow_page: Some(SlowPage {
                page: 1,
                delay_ms: 2_500,
            }),
            ..Faults::default()
        },
    );
    let mut harness = source(
        &sim,
        &[
            ("request_timeout_seconds", json!(1)),
            ("max_retries", json!(2)),
        ],
    );
    harness.discover().expect("survives");
    let warnings = harness.logs_at(LogLevel::Warn).join("\n");
    assert!(
        warnings.contains("page 1 of GET /projects failed") && warnings.contains("retry 1 of 2"),
        "{warnings}"
    );
    assert_eq!(sim.stats().pages_served, 2);
}

#[test]
fn out_of_range_settings_are_configuration_errors_naming_the_field_and_value() {
    let sim = simulator(Workspace::synthetic(3, 10), Faults::default());
    for (field, value) in [
        ("page_size", 0),
        ("page_size", 101),
        ("requests_per_minute", -1),
        ("requests_per_minute", 10_001),
        ("max_retries", -1),
        ("max_retries", 21),
        ("request_timeout_seconds", 0),
        ("request_timeout_seconds", 601),
    ] {
        let error = source(&sim, &[(field, json!(value))])
            .discover()
            .expect_err("refused");
        assert!(
            matches!(&error, ConnectorError::InvalidConfig(e) if e.field == field),
            "{field} = {value}: {error:?}"
        );
        let text = message(&error);
        assert!(
            text.contains(&format!("`{value}`")),
            "{field} = {value}: {text}"
        );
    }
    assert_eq!(sim.stats().requests, 0, "no request with a bad setting");
}

#[test]
fn the_token_never_reaches_the_connector_or_its_log() {
    let sim = simulator(Workspace::synthetic(9, 30), Faults::default());
    let mut harness = hex(&sim);
    harness.discover().expect("discovers");
    let logs: Vec<String> = harness.logs().into_iter().map(|(_, line)| line).collect();
    assert!(!logs.is_empty());
    assert!(logs.iter().all(|line| !line.contains(TOKEN)));
    for resource in harness.resources() {
        assert!(!format!("{resource:?}").contains(TOKEN));
    }
    // The host, not the connector, presented it.
    assert!(
        harness
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {TOKEN}").as_str()))
    );
}
