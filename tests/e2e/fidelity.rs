//! Hex connector fidelity end to end: every promised property and an API client that survives the real API.
//!
//! Issue #3's "must show", seen the way a user sees it: `euno-host run` (exit status, stdout and
//! stderr) and `euno-host resources --json`, with the bundled connector against the simulator
//! serving a hand-written workspace (every property of the contract has an exact expected value)
//! or misbehaving on cue.

use std::collections::{BTreeMap, BTreeSet};

use hex_sim::{
    ErrorShape, Faults, RateLimitBurst, ServerErrorBurst, SimHandle, SlowPage, Workspace,
};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::support::{Host, Output, TOKEN, simulator, token_env};

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

/// Instants relative to when the test builds its fixture, which is shortly before the run starts:
/// `activity_status` compares against the run's start, and a margin of a day either side of the
/// 30-day window keeps the expectations exact.
struct Recent {
    now_ms: i64,
}

impl Recent {
    fn new() -> Self {
        Self {
            now_ms: Timestamp::now().as_millisecond(),
        }
    }

    fn days_ago(&self, days: i64) -> i64 {
        self.now_ms - days * DAY_MS
    }

    /// The instant as Hex sends it: `2024-08-21T17:16:09.567Z`.
    fn sent(&self, days: i64) -> String {
        hex_sim::format_millis(self.days_ago(days))
    }

    /// The instant as `resources --json` shows it: RFC 3339 in UTC.
    fn shown(&self, days: i64) -> String {
        Timestamp::from_millisecond(self.days_ago(days))
            .expect("a valid instant")
            .to_string()
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

/// A Hex source file; unlike `support::hex_source` it leaves every tuning setting to `settings`,
/// so that defaults are the connector's own.
fn source_text(name: &str, base_url: &str, settings: &str) -> String {
    format!(
        "name = \"{name}\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"${{HEX_API_TOKEN}}\"\n\n[settings]\nbase_url = \"{base_url}\"\n{settings}\n"
    )
}

/// `euno-host --log LEVEL run` of a source with `settings` against `sim`.
fn run(host: &Host, sim: &SimHandle, log: &str, settings: &str) -> Output {
    let source = host.source_file("hex.toml", &source_text("Hex", &sim.base_url(), settings));
    host.run_with_env(
        &["--log", log, "run", "--source", source.to_str().unwrap()],
        &token_env(),
    )
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
/// without case) and of tags are sorted, and instants, which must be RFC 3339 in UTC, are written
/// with milliseconds (`…07.89Z` and `…07.890Z` are the same instant).
/// Project properties the Hex connector added with contract 0.2.
const ADDED_IN_0_2: [&str; 8] = [
    "category_descriptions",
    "collection_access",
    "group_access",
    "user_access",
    "schedules",
    "last_run_at",
    "last_run_duration_seconds",
    "last_run_status",
];

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
            let instant: Timestamp = text
                .parse()
                .unwrap_or_else(|e| panic!("{key} `{text}` is not RFC 3339: {e}"));
            assert!(text.ends_with('Z'), "{key} `{text}` is not in UTC");
            properties[key] = instant
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
                .into();
        }
    }
    properties
}

/// Checks that `resources` holds the workspace and exactly the projects `ids`, each with exactly
/// its expected properties.
fn assert_resources(
    resources: &[Value],
    expected: &BTreeMap<&'static str, Expected>,
    ids: &[&str],
    workspace_uri: &str,
) {
    let uris: BTreeSet<&str> = resources
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    let mut wanted: BTreeSet<String> = ids
        .iter()
        .map(|id| format!("{workspace_uri}.{}", id.to_lowercase()))
        .collect();
    wanted.insert(workspace_uri.to_owned());
    assert_eq!(
        uris,
        wanted.iter().map(String::as_str).collect(),
        "the resources are not the expected ones"
    );
    for id in ids {
        let uri = format!("{workspace_uri}.{}", id.to_lowercase());
        let want = &expected[id];
        let got = resources.iter().find(|r| r["uri"] == uri.as_str()).unwrap();
        assert_eq!(got["type"], want.resource_type, "{uri}");
        assert_eq!(got["name"], want.name, "{uri}");
        assert_eq!(got["parent"], workspace_uri, "{uri}");
        assert_eq!(got["native_id"], *id, "{uri}");
        let (got, want) = (normalise(&got["properties"]), normalise(&want.properties));
        // The properties the connector gained with contract 0.2 (sharing, categories,
        // schedules, the latest run) are checked by its own tests, not modelled here.
        let keys: BTreeSet<&String> = got
            .as_object()
            .unwrap()
            .keys()
            .filter(|key| !ADDED_IN_0_2.contains(&key.as_str()))
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

fn workspace_of<'a>(resources: &'a [Value], uri: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["uri"] == uri)
        .unwrap_or_else(|| panic!("no workspace {uri} in {resources:#?}"))
}

#[test]
fn every_property_has_its_value_for_projects_with_and_without_nulls() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let host = Host::new();
    let settings = format!(
        "workspace_id = \"{WS_ID}\"\nworkspace_name = \"{WS_NAME}\"\nrequests_per_minute = 0"
    );
    let output = run(&host, &sim, "warn", &settings);
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(output.stdout.contains("added 6"), "{}", output.stdout);
    // Unknown fields and nulls are not worth a warning, let alone a failure.
    assert!(output.stderr.is_empty(), "{}", output.stderr);

    let resources = host.resources(Some("Hex"));
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    assert_resources(&resources, &expected, &VISIBLE_BY_DEFAULT, &workspace_uri);

    let workspace = workspace_of(&resources, &workspace_uri);
    let origin = sim.base_url().replace("/api/v1", "");
    assert_eq!(workspace["type"], "hex_workspace");
    assert_eq!(workspace["name"], WS_NAME);
    assert_eq!(workspace["native_id"], WS_ID);
    assert_eq!(workspace["parent"], Value::Null);
    assert_eq!(
        workspace["properties"],
        json!({
            "name": WS_NAME,
            "native_id": WS_ID,
            "project_count": VISIBLE_BY_DEFAULT.len(),
            "external_links": [format!("{origin}/{WS_ID}")],
        })
    );
}

#[test]
fn without_a_workspace_id_there_are_no_links_and_the_name_keys_the_uris() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let host = Host::new();
    let output = run(
        &host,
        &sim,
        "warn",
        "workspace_name = \"acme_analytics\"\nrequests_per_minute = 0",
    );
    assert_eq!(output.code, 0, "{output:#?}");

    let resources = host.resources(Some("Hex"));
    // Since contract 0.2 the connector learns the workspace id from `GET /users/me`, so the
    // projects have links even without the setting; the name still keys the URIs.
    let expected = expected_projects(&recent, &sim.base_url(), Some(&WS_ID.to_lowercase()));
    assert_resources(
        &resources,
        &expected,
        &VISIBLE_BY_DEFAULT,
        "hex.acme_analytics",
    );
    // The workspace's id, from `GET /users/me`, is its native id now; the name still keys it.
    let workspace = workspace_of(&resources, "hex.acme_analytics");
    assert_eq!(workspace["native_id"], WS_ID.to_lowercase());
    assert_eq!(workspace["properties"]["name"], "acme_analytics");
    assert_eq!(
        workspace["properties"]["project_count"],
        VISIBLE_BY_DEFAULT.len()
    );
}

#[test]
fn components_archived_and_trashed_projects_appear_only_when_included() {
    let recent = Recent::new();
    let sim = simulator(fixture(&recent), Faults::default());
    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    let cases: [(&str, &[&str]); 6] = [
        ("", &[]),
        (
            "include_components = false\ninclude_archived = false\ninclude_trashed = false",
            &[],
        ),
        ("include_components = true", &[COMPONENT]),
        ("include_archived = true", &[ARCHIVED]),
        ("include_trashed = true", &[TRASHED]),
        (
            "include_components = true\ninclude_archived = true\ninclude_trashed = true",
            &[COMPONENT, ARCHIVED, TRASHED, ARCHIVED_AND_TRASHED],
        ),
    ];
    for (flags, extra) in cases {
        let host = Host::new();
        let settings = format!("workspace_id = \"{WS_ID}\"\nrequests_per_minute = 0\n{flags}");
        let output = run(&host, &sim, "warn", &settings);
        assert_eq!(output.code, 0, "{flags}: {output:#?}");
        let ids: Vec<&str> = VISIBLE_BY_DEFAULT.iter().chain(extra).copied().collect();
        let resources = host.resources(Some("Hex"));
        assert_resources(&resources, &expected, &ids, &workspace_uri);
        assert_eq!(
            workspace_of(&resources, &workspace_uri)["properties"]["project_count"],
            ids.len(),
            "{flags}"
        );
    }
}

#[test]
fn the_defaults_throttle_to_30_requests_a_minute_in_pages_of_100() {
    let workspace = Workspace::synthetic(21, 140);
    let visible = workspace
        .projects
        .iter()
        .filter(|p| !p.is_component() && !p.is_archived() && !p.is_trashed())
        .count();
    assert!(
        (101..=200).contains(&visible),
        "the test needs two pages of 100, got {visible} projects"
    );
    let sim = simulator(workspace, Faults::default());
    let host = Host::new();
    // No tuning setting at all: every value is the connector's default.
    let output = run(&host, &sim, "info", "");
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output.stderr.contains("100 per page") && output.stderr.contains("at most 30 requests"),
        "{}",
        output.stderr
    );
    assert_eq!(sim.stats().project_list_requests, 2, "two pages of 100");
    let resources = host.resources(Some("Hex"));
    assert_eq!(
        resources
            .iter()
            .filter(|r| r["type"] == "hex_project")
            .count(),
        visible
    );
    assert!(resources.iter().all(|r| r["type"] != "hex_component"));

    // The throttle holds requests back, as the API sees it (no stopwatch): at 6 requests a minute
    // the second page may start only 10 s after the first, so a run whose deadline is 2 s asks
    // for the first page and is stopped before it may ask for the second.
    let before = sim.stats().project_list_requests;
    let output = run(
        &host,
        &sim,
        "info",
        "requests_per_minute = 6\n[limits]\ndeadline_seconds = 2",
    );
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("at most 6 requests per minute")
            && output.stderr.contains("stopped after the 2s deadline"),
        "{}",
        output.stderr
    );
    assert_eq!(
        sim.stats().project_list_requests - before,
        1,
        "the second page was held back"
    );
}

/// The retry lines of a run's stderr for `status`: `(trace id, the logged delay in seconds)`.
fn retries(stderr: &str, status: u16) -> Vec<(String, f64)> {
    let marker = format!("answered {status} (x-trace-id ");
    stderr
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(&marker)? + marker.len()..];
            let (trace, rest) = rest.split_once(')')?;
            let delay = rest.split(" in ").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((trace.to_owned(), delay))
        })
        .collect()
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
    let host = Host::new();
    let settings = format!("workspace_id = \"{WS_ID}\"\nrequests_per_minute = 0\npage_size = 2");
    let output = run(&host, &sim, "warn", &settings);
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(output.stdout.contains("added 6"), "{}", output.stdout);

    let stats = sim.stats();
    assert_eq!(
        (stats.rate_limited, stats.server_errors, stats.pages_served),
        (3, 2, 3),
        "{stats:?}"
    );
    // Every retry is logged with the status and the trace id the simulator sent.
    let limited = retries(&output.stderr, 429);
    let failed = retries(&output.stderr, 503);
    let traces: Vec<&str> = limited
        .iter()
        .chain(&failed)
        .map(|(trace, _)| trace.as_str())
        .collect();
    // Three 429s, then two 503s, each with its own trace id, in order (their numbers depend on
    // how many requests the connector makes before the listing, which contract 0.2 changed).
    assert_eq!((limited.len(), failed.len()), (3, 2), "{}", output.stderr);
    let mut sorted = traces.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, traces, "{}", output.stderr);
    assert!(
        traces
            .iter()
            .all(|t| t.starts_with("sim-") && t.len() == 20),
        "{traces:?}"
    );
    // `Retry-After: 0` is honoured as is; a 503 without one backs off.
    assert!(
        limited.iter().all(|(_, delay)| *delay == 0.0),
        "{limited:?}"
    );
    assert!(failed.iter().all(|(_, delay)| *delay > 0.0), "{failed:?}");
    assert!(
        output
            .stderr
            .contains("page 2 of GET /projects answered 429")
    );
    assert!(
        output
            .stderr
            .contains("page 3 of GET /projects answered 503")
    );

    let expected = expected_projects(&recent, &sim.base_url(), Some(WS_ID));
    let resources = host.resources(Some("Hex"));
    let workspace_uri = format!("hex.{}", WS_ID.to_lowercase());
    assert_resources(&resources, &expected, &VISIBLE_BY_DEFAULT, &workspace_uri);
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
    let host = Host::new();
    let output = run(
        &host,
        &sim,
        "warn",
        "requests_per_minute = 0\nmax_retries = 3",
    );
    assert_eq!(output.code, 0, "{output:#?}");
    let delays: Vec<f64> = retries(&output.stderr, 429)
        .into_iter()
        .map(|(_, delay)| delay)
        .collect();
    assert_eq!(delays.len(), 2, "{}", output.stderr);
    // Retry n waits between half and all of 2^(n-1) seconds.
    assert!((0.5..=1.0).contains(&delays[0]), "{delays:?}");
    assert!((1.0..=2.0).contains(&delays[1]), "{delays:?}");
    assert!(output.stderr.contains("retry 1 of 3"), "{}", output.stderr);
    assert!(output.stderr.contains("retry 2 of 3"), "{}", output.stderr);
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
    let host = Host::new();
    let output = run(&host, &sim, "warn", "requests_per_minute = 0");
    assert_eq!(output.code, 0, "{output:#?}");
    // A date that has already come means "now": no backoff of half a second or more.
    let delays: Vec<f64> = retries(&output.stderr, 429)
        .into_iter()
        .map(|(_, delay)| delay)
        .collect();
    assert_eq!(delays, [0.0, 0.0], "{}", output.stderr);
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
    let host = Host::new();
    let output = run(
        &host,
        &limited,
        "warn",
        "requests_per_minute = 0\nmax_retries = 2",
    );
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("rate limited") && output.stderr.contains("after 2 retries"),
        "{}",
        output.stderr
    );
    assert_eq!(limited.stats().project_list_requests, 3);
    assert_eq!(retries(&output.stderr, 429).len(), 2, "{}", output.stderr);

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
    let output = run(
        &host,
        &failing,
        "warn",
        "requests_per_minute = 0\nmax_retries = 1",
    );
    assert_eq!(output.code, 3, "{output:#?}");
    assert!(
        output.stderr.contains("upstream error 500") && output.stderr.contains("after 1 retry"),
        "{}",
        output.stderr
    );
    assert_eq!(failing.stats().project_list_requests, 2);
    // Nothing was recorded by either failed run.
    assert!(host.resources(Some("Hex")).is_empty());
}

/// The one-line error of a failed run.
fn error_line(output: &Output) -> &str {
    output
        .stderr
        .lines()
        .rfind(|line| line.starts_with("euno-host: "))
        .unwrap_or_else(|| panic!("no error line: {output:#?}"))
}

#[test]
fn a_malformed_or_truncated_page_fails_the_run_cleanly_naming_the_page() {
    let recent = Recent::new();
    let host = Host::new();
    let settings = format!("workspace_id = \"{WS_ID}\"\nrequests_per_minute = 0\npage_size = 2");
    let good = simulator(fixture(&recent), Faults::default());
    let output = run(&host, &good, "warn", &settings);
    assert_eq!(output.code, 0, "{output:#?}");
    let before = host.resources(Some("Hex"));
    assert_eq!(before.len(), 6);

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
        let bad = simulator(fixture(&recent), faults);
        let output = run(&host, &bad, "warn", &settings);
        assert_eq!(output.code, 3, "{output:#?}");
        let line = error_line(&output);
        assert!(
            line.contains("malformed response")
                && line.contains(&format!("page {page} of GET /projects"))
                && line.contains("not valid JSON"),
            "{line}"
        );
        // The failed run changed nothing: the earlier run's resources are all still there.
        let after = host.resources(Some("Hex"));
        let view = |list: &[Value]| -> Vec<(Value, Value)> {
            list.iter()
                .map(|r| (r["uri"].clone(), r["properties"].clone()))
                .collect()
        };
        assert_eq!(view(&after), view(&before));
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
    let host = Host::new();
    let output = run(
        &host,
        &sim,
        "warn",
        "requests_per_minute = 0\npage_size = 2",
    );
    assert_eq!(output.code, 3, "{output:#?}");
    let line = error_line(&output);
    assert!(line.contains("repeated a pagination cursor"), "{line}");
    assert_eq!(sim.stats().project_list_requests, 2);
    assert!(host.resources(Some("Hex")).is_empty());
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
        let host = Host::new();
        let output = run(&host, &sim, "warn", "requests_per_minute = 0");
        assert_eq!(output.code, 3, "{shape}: {output:#?}");
        let line = error_line(&output);
        assert!(
            line.contains("forbidden")
                && line.contains("missing required scope: projects:read")
                && line.contains("trace id sim-"),
            "{shape}: {line}"
        );
        assert_eq!(sim.stats().forbidden, 1, "403 is not retried");
    }
}

#[test]
fn a_bad_token_is_unauthorized_and_says_to_check_the_api_token() {
    let sim = simulator(Workspace::synthetic(3, 10), Faults::default());
    let host = Host::new();
    let source = host.source_file(
        "hex.toml",
        &source_text("Hex", &sim.base_url(), "requests_per_minute = 0"),
    );
    let output = host.run_with_env(
        &["run", "--source", source.to_str().unwrap()],
        &[("HEX_API_TOKEN", "hxtp_revoked_token_0000")],
    );
    assert_eq!(output.code, 3, "{output:#?}");
    let line = error_line(&output);
    assert!(
        line.contains("unauthorized") && line.contains("check the API token"),
        "{line}"
    );
    assert!(!output.stderr.contains("hxtp_revoked_token_0000"));
    assert!(!output.stderr.contains(TOKEN));
    assert_eq!(sim.stats().unauthorized, 1, "401 is not retried");
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
    let host = Host::new();
    let output = run(
        &host,
        &sim,
        "warn",
        "requests_per_minute = 0\nrequest_timeout_seconds = 1\nmax_retries = 0",
    );
    assert_eq!(output.code, 3, "{output:#?}");
    let line = error_line(&output);
    assert!(
        line.contains("network error")
            && line.contains("page 1 of GET /projects")
            && line.contains("request_timeout_seconds"),
        "{line}"
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
    let host = Host::new();
    let output = run(
        &host,
        &sim,
        "warn",
        "requests_per_minute = 0\nrequest_timeout_seconds = 1\nmax_retries = 2",
    );
    assert_eq!(output.code, 0, "{output:#?}");
    assert!(
        output.stderr.contains("page 1 of GET /projects failed")
            && output.stderr.contains("retry 1 of 2"),
        "{}",
        output.stderr
    );
    assert_eq!(sim.stats().pages_served, 2);
}

#[test]
fn out_of_range_settings_are_configuration_errors_naming_the_field() {
    let sim = simulator(Workspace::synthetic(3, 10), Faults::default());
    let host = Host::new();
    for (field, value) in [
        ("page_size", "0"),
        ("page_size", "101"),
        ("requests_per_minute", "-1"),
        ("requests_per_minute", "10001"),
        ("max_retries", "-1"),
        ("max_retries", "21"),
        ("request_timeout_seconds", "0"),
        ("request_timeout_seconds", "601"),
    ] {
        let output = run(&host, &sim, "warn", &format!("{field} = {value}"));
        assert_eq!(output.code, 2, "{field} = {value}: {output:#?}");
        let line = error_line(&output);
        assert!(
            line.contains(&format!("`{field}`")) && line.contains(&format!("`{value}`")),
            "{field} = {value}: {line}"
        );
    }
    assert_eq!(sim.stats().requests, 0, "no request with a bad setting");
}
