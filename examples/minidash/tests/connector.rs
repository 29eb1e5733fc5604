//! The Minidash connector's behaviour, run natively through the SDK's test harness: canned
//! Minidash answers, a fake host, and the host's rules checked on every run.

use euno_connector_sdk::prelude::*;
use euno_connector_sdk::testing::{Harness, Reply};
use euno_connector_sdk::types::{PropertyValue, Relation, Relations, WaitReason};
use minidash_connector::{DASHBOARD, DATASET, Minidash};
use serde_json::{Value, json};

const BASE: &str = "https://minidash.example/api";

fn dataset(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "description": null, "source_table": "snowflake.sales.orders",
           "row_count": 42, "updated_at": "2025-01-01T10:00:00Z"})
}

fn dashboard(id: &str, tags: &[&str], updated_at: &str) -> Value {
    json!({"id": id, "title": format!("Board {id}"), "owner": "ann@acme.example", "tags": tags,
           "updated_at": updated_at})
}

/// A workspace of three datasets on two pages and two dashboards, one of which reads a dataset
/// the listing does not have.
fn minidash() -> Harness<Minidash> {
    let mut harness = Harness::<Minidash>::new();
    harness
        .setting("base_url", BASE)
        .setting("requests_per_minute", 0)
        .secret("api_key", "k-123")
        .route(
            "GET /datasets",
            Reply::json(
                json!({"items": [dataset("ds_1", "Orders"), dataset("ds_2", "Customers")],
                               "next_cursor": "p2"}),
            ),
        )
        .route(
            "GET /datasets?cursor=p2",
            Reply::json(json!({"items": [dataset("ds_3", "Revenue")], "next_cursor": null})),
        )
        .route(
            "GET /dashboards",
            Reply::json(
                json!({"items": [dashboard("db_1", &["finance"], "2025-01-02T00:00:00Z"),
                                         dashboard("db_2", &["ops"], "2025-01-03T00:00:00Z")],
                               "next_cursor": null}),
            ),
        )
        .route(
            "GET /dashboards/db_1",
            Reply::json(json!({"id": "db_1", "dataset_ids": ["ds_1", "ds_3"]})),
        )
        .route(
            "GET /dashboards/db_2",
            Reply::json(json!({"id": "db_2", "dataset_ids": ["ds_2", "ds_9"]})),
        );
    harness
}

fn reads(uris: &[&str]) -> Vec<Relation> {
    uris.iter()
        .map(|target| Relation {
            kind: "reads".to_owned(),
            target: (*target).to_owned(),
        })
        .collect()
}

fn paths(harness: &Harness<Minidash>) -> Vec<String> {
    harness.requests().iter().map(|r| r.path()).collect()
}

#[test]
fn check_lists_one_dataset_with_the_api_key() {
    let mut harness = minidash();
    assert_eq!(
        harness.check(),
        Ok(format!(
            "Minidash answers at {BASE}; the API key can list datasets"
        ))
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url, format!("{BASE}/datasets?limit=1"));
    assert_eq!(requests[0].header("x-api-key"), Some("k-123"));
}

#[test]
fn discovers_datasets_dashboards_and_what_each_dashboard_reads() {
    let mut harness = minidash();
    let summary = harness.discover().expect("discovers");
    assert_eq!(summary.emitted, 5);
    let counts: Vec<(String, u32)> = summary
        .request_counts
        .into_iter()
        .map(|c| (c.kind, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            ("datasets".to_owned(), 2),
            ("dashboards".to_owned(), 1),
            ("dashboard".to_owned(), 2)
        ]
    );
    let uris: Vec<String> = harness.resources().into_iter().map(|r| r.uri).collect();
    assert_eq!(
        uris,
        [
            "minidash.default.datasets.ds_1",
            "minidash.default.datasets.ds_2",
            "minidash.default.datasets.ds_3",
            "minidash.default.dashboards.db_1",
            "minidash.default.dashboards.db_2",
        ]
    );
    let orders = harness
        .resource("minidash.default.datasets.ds_1")
        .expect("Orders");
    assert_eq!(
        (orders.resource_type.as_str(), orders.name.as_str()),
        (DATASET, "Orders")
    );
    assert_eq!(orders.native_id.as_deref(), Some("ds_1"));
    let property = |name: &str| {
        orders
            .properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    assert_eq!(property("description"), Some(PropertyValue::Null));
    assert_eq!(property("row_count"), Some(PropertyValue::Integer(42)));
    assert_eq!(
        property("updated_at"),
        Some(PropertyValue::Timestamp(1_735_725_600_000))
    );
    let board = harness
        .resource("minidash.default.dashboards.db_1")
        .expect("a board");
    assert_eq!(board.resource_type, DASHBOARD);
    assert_eq!(
        harness.relations("minidash.default.dashboards.db_1"),
        reads(&[
            "minidash.default.datasets.ds_1",
            "minidash.default.datasets.ds_3"
        ])
    );
    assert_eq!(
        harness.relations("minidash.default.dashboards.db_2"),
        reads(&["minidash.default.datasets.ds_2"])
    );
    assert_eq!(
        harness.logs_at(LogLevel::Warn),
        ["dashboard db_2 reads dataset ds_9, not listed"]
    );
}

#[test]
fn a_second_run_fetches_only_the_dashboards_changed_since() {
    let mut harness = minidash();
    harness.discover().expect("first run");
    // Before the second run, db_2 changes and now reads ds_3.
    harness
        .route(
            "GET /dashboards",
            Reply::json(
                json!({"items": [dashboard("db_1", &["finance"], "2025-01-02T00:00:00Z"),
                                         dashboard("db_2", &["ops"], "2025-01-05T00:00:00Z")],
                               "next_cursor": null}),
            ),
        )
        .route(
            "GET /dashboards/db_2",
            Reply::json(json!({"id": "db_2", "dataset_ids": ["ds_3"]})),
        );
    let summary = harness.discover().expect("second run");
    assert_eq!(summary.emitted, 5, "every resource, changed or not");
    assert_eq!(summary.requests, 4, "one detail request fewer");
    assert!(!paths(&harness).contains(&"/api/dashboards/db_1".to_owned()));
    assert_eq!(
        harness
            .resource("minidash.default.dashboards.db_1")
            .map(|r| r.relations),
        Some(Relations::Unchanged)
    );
    assert_eq!(
        harness.relations("minidash.default.dashboards.db_1"),
        reads(&[
            "minidash.default.datasets.ds_1",
            "minidash.default.datasets.ds_3"
        ]),
        "kept from the first run"
    );
    assert_eq!(
        harness.relations("minidash.default.dashboards.db_2"),
        reads(&["minidash.default.datasets.ds_3"])
    );

    harness.forget_checkpoint();
    assert_eq!(harness.discover().expect("full run").requests, 5);
}

#[test]
fn the_tag_filter_keeps_matching_dashboards_and_a_new_filter_starts_afresh() {
    let mut harness = minidash();
    harness.setting("tags", ["ops", "sales"]);
    assert_eq!(harness.discover().expect("discovers").emitted, 4);
    assert!(
        harness
            .resource("minidash.default.dashboards.db_1")
            .is_none()
    );
    harness.setting("tags", ["finance", "ops"]);
    harness.discover().expect("discovers");
    assert!(paths(&harness).contains(&"/api/dashboards/db_1".to_owned()));
    assert_eq!(
        harness.relations("minidash.default.dashboards.db_1").len(),
        2
    );
}

#[test]
fn ids_with_odd_characters_become_one_safe_segment() {
    let mut harness = minidash();
    harness
        .setting("workspace", "Team A")
        .route(
            "GET /datasets",
            Reply::json(json!({"items": [dataset("Sales.EU", "EU")], "next_cursor": null})),
        )
        .route(
            "GET /dashboards",
            Reply::json(
                json!({"items": [dashboard("x/1", &[], "2025-01-02T00:00:00Z")],
                               "next_cursor": null}),
            ),
        )
        .route(
            "GET /dashboards/x%2F1",
            Reply::json(json!({"dataset_ids": ["Sales.EU"]})),
        );
    harness.discover().expect("discovers");
    assert_eq!(
        harness.relations("minidash.team%20a.dashboards.x/1"),
        reads(&["minidash.team%20a.datasets.sales%2eeu"])
    );
}

#[test]
fn a_rejected_api_key_is_unauthorized_naming_the_secret() {
    let mut harness = minidash();
    harness.route(
        "GET /datasets?limit=1",
        Reply::json_status(401, json!({"error": "invalid api key"})),
    );
    assert_eq!(
        harness.check(),
        Err(ConnectorError::Unauthorized(
            "Minidash rejected the credential (401) on GET /datasets: invalid api key; check \
             the `api_key` secret"
                .to_owned()
        ))
    );
}

#[test]
fn a_rate_limit_is_waited_out_and_announced() {
    let mut harness = minidash();
    harness.route_sequence(
        "GET /datasets?cursor=p2",
        [
            Reply::status(429).header("retry-after", "3"),
            Reply::json(json!({"items": [], "next_cursor": null})),
        ],
    );
    harness.discover().expect("discovers through the 429");
    assert_eq!(harness.waits(), [(WaitReason::RetryAfter, 3_000)]);
    assert_eq!(
        harness.logs_at(LogLevel::Warn)[0],
        "page 2 of GET /datasets answered 429; retry 1 of 5 in 3.0 s"
    );
}

#[test]
fn a_page_size_out_of_range_names_the_field_and_sends_nothing() {
    let mut harness = minidash();
    harness.setting("page_size", 500);
    assert_eq!(
        harness.discover(),
        Err(ConnectorError::invalid_config(
            "page_size",
            "is `500`; expected 1 to 200"
        ))
    );
    assert!(harness.requests().is_empty());
}
