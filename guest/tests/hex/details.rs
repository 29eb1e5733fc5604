//! The fidelity details issue 16 found against recorded Hex responses, one test each: odd field
//! types, the behaviours to keep (an unreadable `archivedAt`, a lower-case `component`, an id
//! with a space, owners' case), a stable order, and how a statement that does not parse is
//! reported.

use euno_connector_sdk::testing::{Harness, Reply};
use euno_connector_sdk::types::{LogLevel, PropertyValue, Resource};
use hex_connector::Hex;
use hex_sim::{Faults, Workspace};
use serde_json::{Value, json};

use crate::support::{hex, properties, simulator};

fn property(resource: &Resource, name: &str) -> PropertyValue {
    resource
        .properties
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.clone())
        .unwrap_or_else(|| panic!("{} has no {name}", resource.uri))
}

/// The simulator types every field it knows, so odd types are served by the harness's routes:
/// what a recorded response held.
#[test]
fn an_oddly_typed_field_is_coerced_or_nulled_with_a_warning_and_the_project_kept() {
    let mut harness = Harness::<Hex>::new();
    harness
        .setting("workspace_id", "ws")
        .setting("lineage", "off")
        .setting("requests_per_minute", 0)
        .secret("api_token", "hxtp_x")
        .route(
            "GET /projects",
            Reply::json(json!({"values": [
                {"id": "p1", "title": "Epoch and strings",
                 "createdAt": 1_700_000_000_000_i64, "lastEditedAt": 1_700_000_000,
                 "analytics": {"appViews": {"allTime": "16"}},
                 "reviews": {"required": "false"},
                 "owner": "ada@acme.example"},
                {"id": "p2", "title": "Hopeless",
                 "createdAt": 500_000_000_000_i64,
                 "analytics": {"appViews": {"allTime": [1]}},
                 "owner": 12.5}
            ], "pagination": {"after": null}})),
        )
        .route(
            "GET /data-connections",
            Reply::json(json!({"values": [], "pagination": {"after": null}})),
        );
    let summary = harness
        .discover()
        .expect("one odd field does not fail the run");
    assert_eq!(summary.emitted, 3, "both projects and the workspace");
    let p1 = harness.resource("hex.ws.p1").expect("kept");
    assert_eq!(
        property(&p1, "created_at"),
        PropertyValue::Timestamp(1_700_000_000_000)
    );
    assert_eq!(
        property(&p1, "updated_at"),
        PropertyValue::Timestamp(1_700_000_000_000)
    );
    assert_eq!(
        property(&p1, "impressions_all_time"),
        PropertyValue::Integer(16)
    );
    assert_eq!(
        property(&p1, "reviews_required"),
        PropertyValue::Boolean(false)
    );
    assert_eq!(
        property(&p1, "owner"),
        PropertyValue::Text("ada@acme.example".to_owned())
    );
    let p2 = harness.resource("hex.ws.p2").expect("never dropped");
    for name in ["created_at", "impressions_all_time", "owner"] {
        assert_eq!(property(&p2, name), PropertyValue::Null, "{name}");
    }
    assert_eq!(
        harness.logs_at(LogLevel::Warn),
        [
            "Hex project p2: `analytics.appViews.allTime` is [1], not a count; recorded as null",
            "Hex project p2: `owner` is 12.5, not a user; recorded as null",
            "Hex project p2: `createdAt` is 500000000000, not an epoch time in seconds or \
             milliseconds; recorded as null",
        ]
    );
}

#[test]
fn what_recorded_responses_showed_is_kept() {
    let text = json!({"id": "ws-1", "name": "Acme", "projects": [
        {"id": "archived-odd", "title": "Archived, date unreadable",
         "createdAt": "2026-01-01T00:00:00.000Z", "archivedAt": "sometime in May"},
        {"id": "lower-component", "title": "A lower-case component", "type": "component",
         "createdAt": "2026-01-02T00:00:00.000Z"},
        {"id": "with space", "title": "An id with a space",
         "createdAt": "2026-01-03T00:00:00.000Z"},
        {"id": "owners", "title": "Owners", "createdAt": "2026-01-04T00:00:00.000Z",
         "owner": {"email": "Ada.Lovelace@acme.example"},
         "creator": {"email": "ada.lovelace@acme.example"}}
    ]});
    let workspace = Workspace::from_json_str(&text.to_string()).expect("a fixture");
    let sim = simulator(workspace, Faults::default());
    let mut harness = hex(&sim);
    harness
        .setting("workspace_id", "ws-1")
        .setting("include_archived", true);
    harness.discover().expect("discovers");

    let archived = harness.resource("hex.ws-1.archived-odd").expect("listed");
    assert_eq!(property(&archived, "archived_at"), PropertyValue::Null);
    assert_eq!(
        property(&archived, "activity_status"),
        PropertyValue::Text("archived".to_owned())
    );
    assert!(
        harness
            .logs_at(LogLevel::Warn)
            .iter()
            .any(|w| w.starts_with("Hex project archived-odd: `archivedAt`"))
    );
    // Hex's own filter lists it without `includeComponents`, as a project.
    let component = harness
        .resource("hex.ws-1.lower-component")
        .expect("listed");
    assert_eq!(component.resource_type, "hex_project");
    let spaced = harness.resource("hex.ws-1.with%20space").expect("listed");
    let origin = sim.base_url().replace("/api/v1", "");
    assert_eq!(
        property(&spaced, "external_links"),
        PropertyValue::TextList(vec![format!("{origin}/ws-1/hex/with space")])
    );
    let owners = harness.resource("hex.ws-1.owners").expect("listed");
    assert_eq!(
        property(&owners, "native_owners"),
        PropertyValue::TextList(vec!["Ada.Lovelace@acme.example".to_owned()]),
        "one person, spelled as the owner has it"
    );
}

#[test]
fn projects_are_listed_oldest_first_so_edits_cannot_skip_or_repeat_one() {
    let sim = simulator(Workspace::synthetic(3, 30), Faults::default());
    let mut harness = hex(&sim);
    harness.setting("lineage", "off").setting("page_size", 10);
    harness.discover().expect("discovers");
    let listings: Vec<_> = harness
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with("/projects"))
        .collect();
    assert!(listings.len() >= 3);
    for request in listings {
        assert_eq!(request.query("sortBy").as_deref(), Some("CREATED_AT"));
        assert_eq!(request.query("sortDirection").as_deref(), Some("ASC"));
    }
}

/// A project whose one cell holds three statements, the second broken, on a Snowflake
/// connection with defaults; it ran once.
fn parse_fixture() -> Workspace {
    let text = json!({"id": "ws-1", "name": "Acme", "projects": [
        {"id": "p-1", "title": "Revenue", "type": "PROJECT",
         "createdAt": "2026-01-01T00:00:00.000Z", "lastEditedAt": "2026-02-01T00:00:00.000Z",
         "lastPublishedAt": "2026-02-02T00:00:00.000Z"}
    ], "lineage": {
        "dataConnections": [
            {"id": "dc-snow", "name": "Snowflake (prod)", "type": "snowflake",
             "connectionDetails": {"snowflake": {"database": "ANALYTICS", "schema": "MARTS"}}}
        ],
        "projects": {"p-1": {
            "cells": [
                {"id": "c-1", "staticId": "s-1", "label": "Orders", "cellType": "SQL",
                 "dataConnectionId": "dc-snow",
                 "contents": {"sqlCell": {"outputDataframe": "orders",
                   "source": "SELECT * FROM orders;\nSELEC * FROM legacy.broken;\nSELECT * FROM raw.stripe.charges"}}}
            ],
            "runs": [
                {"runId": "r-1", "status": "COMPLETED", "startTime": "2026-02-03T06:00:00.000Z",
                 "endTime": "2026-02-03T06:01:01.000Z", "elapsedTime": 61_000}
            ]
        }}
    }});
    Workspace::from_json_str(&text.to_string()).expect("a fixture")
}

#[test]
fn a_statement_that_does_not_parse_is_a_warning_and_the_others_still_count() {
    let sim = simulator(parse_fixture(), Faults::default());
    let mut harness = hex(&sim);
    harness.setting("workspace_id", "ws-1");
    harness.discover().expect("a parse error is no failure");
    let warnings = harness.logs_at(LogLevel::Warn);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].starts_with(
            "Hex project p-1: cell `Orders`: statement 2 (line 2) does not parse as snowflake SQL \
             (sql parser error: "
        ) && warnings[0].ends_with("); its tables are not counted"),
        "{}",
        warnings[0]
    );
    let targets: Vec<(String, String)> = harness
        .relations("hex.ws-1.p-1")
        .into_iter()
        .map(|r| (r.kind, r.target))
        .collect();
    assert_eq!(
        targets,
        [
            ("connects-to".to_owned(), "hex.ws-1.dc-snow".to_owned()),
            (
                "reads".to_owned(),
                "snowflake.analytics.marts.orders".to_owned()
            ),
            (
                "reads".to_owned(),
                "snowflake.raw.stripe.charges".to_owned()
            ),
        ]
    );
    let project = harness.resource("hex.ws-1.p-1").expect("emitted");
    assert_eq!(
        property(&project, "last_run_status"),
        PropertyValue::Text("COMPLETED".to_owned())
    );
    assert_eq!(
        property(&project, "last_run_duration_seconds"),
        PropertyValue::Integer(61)
    );
    // What `resources --json` would show of it, for a person reading the test output.
    let relations: Vec<Value> = harness
        .relations("hex.ws-1.p-1")
        .into_iter()
        .map(|r| json!({"kind": r.kind, "target": r.target}))
        .collect();
    let shown = json!({
        "uri": project.uri,
        "type": project.resource_type,
        "name": project.name,
        "parent": project.parent_uri,
        "properties": properties(&project),
        "relations": relations,
    });
    println!("{}", serde_json::to_string_pretty(&shown).expect("JSON"));
    println!("warning: {}", warnings[0]);
}

#[test]
fn without_a_workspace_id_or_the_users_scope_there_are_no_links_and_a_warning() {
    let mut harness = Harness::<Hex>::new();
    harness
        .setting("lineage", "off")
        .setting("requests_per_minute", 0)
        .secret("api_token", "hxtp_x")
        .route(
            "GET /projects",
            Reply::json(
                json!({"values": [{"id": "p1", "lastPublishedAt": "2026-01-01T00:00:00Z"}],
                               "pagination": {"after": null}}),
            ),
        )
        .route(
            "GET /users/me",
            Reply::json_status(
                403,
                json!({"reason": "Forbidden", "details": "missing users:read"}),
            ),
        )
        .route(
            "GET /data-connections",
            Reply::json(json!({"values": [], "pagination": {"after": null}})),
        );
    harness
        .discover()
        .expect("links are not worth failing a run");
    let project = harness.resource("hex.hex_workspace.p1").expect("emitted");
    assert_eq!(
        property(&project, "external_links"),
        PropertyValue::TextList(Vec::new())
    );
    let warnings = harness.logs_at(LogLevel::Warn);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("workspace_id is not set and the workspace id cannot be learned")
            && warnings[0].contains("missing users:read"),
        "{}",
        warnings[0]
    );
}
