//! The Minidash API, as `examples/minidash/README.md` documents it: every route, the key check,
//! paging, the errors, the knobs, edits between runs, the counts and the binary's subcommand.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hex_sim::minidash::{
    Dashboard, Dataset, MinidashConfig, MinidashFaults, MinidashHandle, MinidashWorkspace,
};
use hex_sim::{RateLimitBurst, ServerErrorBurst};
use serde_json::{Value, json};

use crate::support::{Response, send};

const KEY: &str = MinidashConfig::DEFAULT_API_KEY;

fn spawn(workspace: MinidashWorkspace) -> MinidashHandle {
    with_faults(workspace, MinidashFaults::default())
}

fn with_faults(workspace: MinidashWorkspace, faults: MinidashFaults) -> MinidashHandle {
    let config = MinidashConfig {
        faults,
        ..MinidashConfig::new(workspace)
    };
    MinidashHandle::spawn(config).expect("start the Minidash simulator")
}

/// `GET /api<route>` with the right key.
fn get(api: &MinidashHandle, route: &str) -> Response {
    get_at(api.addr(), route, KEY)
}

fn get_at(addr: SocketAddr, route: &str, key: &str) -> Response {
    send(
        addr,
        "GET",
        &format!("/api{route}"),
        &[("X-Api-Key", key)],
        "",
    )
}

/// Percent-encodes everything but unreserved characters, as a client encodes one path segment
/// or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Follows `next_cursor` through a listing, returning every page.
fn walk(api: &MinidashHandle, listing: &str, limit: Option<u32>) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query: Vec<String> = limit
            .map(|limit| format!("limit={limit}"))
            .into_iter()
            .collect();
        query.extend(cursor.map(|cursor| format!("cursor={}", encode(&cursor))));
        let response = get(api, &format!("/{listing}?{}", query.join("&")));
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(
            response.header("x-trace-id"),
            None,
            "trace ids are for errors"
        );
        let page = response.json();
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 1000, "paging does not end");
    }
}

fn item_ids(pages: &[Value]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|page| page["items"].as_array().expect("an items array"))
        .map(|item| item["id"].as_str().expect("a string id").to_owned())
        .collect()
}

fn sorted<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.cloned().collect();
    ids.sort();
    ids
}

/// Asserts an error answer: its status, its `{"error"}` body, JSON, and a trace id.
fn assert_error(response: &Response, status: u16, message: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({ "error": message }));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(
        response
            .header("x-trace-id")
            .is_some_and(|id| !id.is_empty()),
        "an error carries X-Trace-Id"
    );
}

fn dataset(id: &str) -> Dataset {
    Dataset {
        id: id.to_owned(),
        name: format!("Dataset {id}"),
        description: None,
        source_table: None,
        row_count: None,
        updated_at: None,
    }
}

fn dashboard(id: &str, reads: &[&str]) -> Dashboard {
    Dashboard {
        id: id.to_owned(),
        title: format!("Dashboard {id}"),
        owner: None,
        tags: Vec::new(),
        updated_at: Some("2025-01-02T00:00:00Z".to_owned()),
        dataset_ids: reads.iter().map(|id| (*id).to_owned()).collect(),
    }
}

/// A scratch file path for this test (the directory is Cargo's, for integration tests).
fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("minidash-{name}"))
}

#[test]
fn listings_page_by_id_and_visit_every_item_once() {
    let workspace = MinidashWorkspace::synthetic(42, 23, 37);
    let api = spawn(workspace.clone());

    let pages = walk(&api, "datasets", Some(5));
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page["items"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    assert_eq!(
        pages[4]["next_cursor"],
        Value::Null,
        "null on the last page"
    );
    let expected = sorted(workspace.datasets.iter().map(|item| &item.id));
    assert_eq!(item_ids(&pages), expected, "every dataset once, by id");
    let served: Vec<Dataset> = pages
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().clone())
        .map(|item| serde_json::from_value(item).expect("a dataset with exactly the API's fields"))
        .collect();
    for item in &served {
        assert!(workspace.datasets.contains(item), "{item:?} as written");
    }

    let pages = walk(&api, "dashboards", Some(200));
    assert_eq!(pages.len(), 1);
    let expected = sorted(workspace.dashboards.iter().map(|item| &item.id));
    assert_eq!(item_ids(&pages), expected);
    for item in pages[0]["items"].as_array().unwrap() {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "title", "owner", "tags", "updated_at"]),
            "the listing has no dataset_ids"
        );
        assert!(item["tags"].is_array());
    }
    // The same pages again: stable while nothing changes.
    assert_eq!(
        walk(&api, "dashboards", Some(7)),
        walk(&api, "dashboards", Some(7))
    );
    assert_eq!(item_ids(&walk(&api, "dashboards", Some(7))), expected);
}

#[test]
fn limit_defaults_to_50_and_must_be_between_1_and_200() {
    let api = spawn(MinidashWorkspace::synthetic(1, 260, 3));
    let first = get(&api, "/datasets").json();
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert!(first["next_cursor"].is_string());
    let widest = get(&api, "/datasets?limit=200").json();
    assert_eq!(widest["items"].as_array().unwrap().len(), 200);
    assert_eq!(
        get(&api, "/datasets?limit=1").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(item_ids(&walk(&api, "datasets", None)).len(), 260);

    for limit in ["0", "201", "-1", "ten", "", "1.5"] {
        for listing in ["datasets", "dashboards"] {
            let response = get(&api, &format!("/{listing}?limit={limit}"));
            assert_error(&response, 400, "limit must be between 1 and 200");
        }
    }
    assert_eq!(api.stats().bad_requests, 12);
}

#[test]
fn a_cursor_this_listing_did_not_make_is_400() {
    let api = spawn(MinidashWorkspace::synthetic(3, 12, 12));
    let datasets_cursor = get(&api, "/datasets?limit=2").json()["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let dashboards_cursor = get(&api, "/dashboards?limit=2").json()["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for (listing, cursor) in [
        ("datasets", "garbage!".to_owned()),
        ("datasets", String::new()),
        ("datasets", "ZHNfMQ".to_owned()),
        ("datasets", dashboards_cursor.clone()),
        ("dashboards", datasets_cursor.clone()),
    ] {
        let response = get(
            &api,
            &format!("/{listing}?limit=2&cursor={}", encode(&cursor)),
        );
        assert_error(&response, 400, "invalid cursor");
    }
    // A cursor percent-encoded byte by byte is the same cursor.
    let escaped: String = datasets_cursor
        .bytes()
        .map(|byte| format!("%{byte:02X}"))
        .collect();
    let plain = get(&api, &format!("/datasets?limit=2&cursor={datasets_cursor}"));
    let encoded = get(&api, &format!("/datasets?limit=2&cursor={escaped}"));
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, encoded.body);
}

#[test]
fn a_cursor_stays_valid_when_the_workspace_changes_under_it() {
    let mut workspace = MinidashWorkspace {
        datasets: ["a", "b", "c", "d"].map(dataset).to_vec(),
        dashboards: Vec::new(),
    };
    let api = spawn(workspace.clone());
    let first = get(&api, "/datasets?limit=2").json();
    assert_eq!(item_ids(std::slice::from_ref(&first)), ["a", "b"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // `b`, the item the cursor points after, goes; `bb` comes: the listing goes on after `b`.
    workspace.datasets.retain(|item| item.id != "b");
    workspace.datasets.push(dataset("bb"));
    api.replace(workspace).unwrap();
    let next = get(&api, &format!("/datasets?limit=2&cursor={cursor}")).json();
    assert_eq!(item_ids(std::slice::from_ref(&next)), ["bb", "c"]);
    assert!(next["next_cursor"].is_string());
}

#[test]
fn every_route_needs_the_api_key() {
    let api = spawn(MinidashWorkspace::synthetic(5, 4, 4));
    let bearer = format!("Bearer {KEY}");
    for route in [
        "/datasets",
        "/dashboards?limit=3",
        "/dashboards/db_1",
        "/nowhere",
    ] {
        let target = format!("/api{route}");
        for headers in [
            vec![],
            vec![("X-Api-Key", "wrong")],
            vec![("X-Api-Key", "")],
            vec![("Authorization", bearer.as_str())],
        ] {
            let response = send(api.addr(), "GET", &target, &headers, "");
            assert_error(&response, 401, "invalid api key");
        }
    }
    // The header name is case-insensitive, as in all of HTTP.
    let lower = send(
        api.addr(),
        "GET",
        "/api/datasets",
        &[("x-api-key", KEY)],
        "",
    );
    assert_eq!(lower.status, 200);
    let stats = api.stats();
    assert_eq!((stats.requests, stats.unauthorized), (17, 16));
    assert_eq!(
        (
            stats.dataset_list_requests,
            stats.dashboard_list_requests,
            stats.dashboard_get_requests
        ),
        (1, 0, 0),
        "a refused request reaches no route"
    );
}

#[test]
fn a_dashboard_is_fetched_by_its_percent_encoded_id() {
    let workspace = MinidashWorkspace::synthetic(42, 30, 30);
    let api = spawn(workspace.clone());
    for board in &workspace.dashboards {
        let response = get(&api, &format!("/dashboards/{}", encode(&board.id)));
        assert_eq!(response.status, 200, "{}: {}", board.id, response.text());
        assert_eq!(response.header("content-type"), Some("application/json"));
        let detail = response.json();
        assert_eq!(detail["id"], board.id.as_str());
        assert_eq!(detail["title"], board.title.as_str());
        assert_eq!(detail["dataset_ids"], json!(board.dataset_ids));
    }
    let slash = get(&api, "/dashboards/x%2F1").json();
    assert_eq!(slash["id"], "x/1", "the README's own example");
    assert_eq!(get(&api, "/dashboards/Q3.Review").json()["id"], "Q3.Review");

    for unknown in [
        "/dashboards/db_999",
        "/dashboards/x",
        "/dashboards/X%2F1",
        "/dashboards/%FF",
    ] {
        assert_error(&get(&api, unknown), 404, "no such dashboard");
    }
    // An unescaped slash is another path, which the API does not have.
    let other = get(&api, "/dashboards/x/1");
    assert_eq!(other.status, 404);
    assert!(
        other.json()["error"]
            .as_str()
            .unwrap()
            .contains("no such route")
    );
    let stats = api.stats();
    assert_eq!(stats.dashboard_get_requests, 30 + 2 + 4);
    assert_eq!(stats.other_requests, 1);
    assert_eq!(stats.not_found, 5);
}

#[test]
fn other_paths_and_methods_get_json_errors() {
    let api = spawn(MinidashWorkspace::synthetic(5, 4, 4));
    let key = [("X-Api-Key", KEY)];
    let missing = send(api.addr(), "GET", "/api/widgets", &key, "");
    assert_error(&missing, 404, "no such route: GET /api/widgets");
    let post = send(api.addr(), "POST", "/api/datasets", &key, "{}");
    assert_error(&post, 405, "POST is not allowed on /api/datasets");
    let stats = api.stats();
    assert_eq!((stats.other_requests, stats.dataset_list_requests), (2, 0));
}

#[test]
fn the_synthetic_workspace_is_deterministic_and_has_the_awkward_parts() {
    let workspace = MinidashWorkspace::synthetic(42, 40, 60);
    assert_eq!(workspace, MinidashWorkspace::synthetic(42, 40, 60));
    assert_ne!(workspace, MinidashWorkspace::synthetic(43, 40, 60));
    assert_eq!(
        (workspace.datasets.len(), workspace.dashboards.len()),
        (40, 60)
    );

    let dataset_ids: HashSet<&str> = workspace.datasets.iter().map(|d| d.id.as_str()).collect();
    let dashboard_ids: HashSet<&str> = workspace.dashboards.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        (dataset_ids.len(), dashboard_ids.len()),
        (40, 60),
        "unique ids"
    );
    let lowered: HashSet<String> = dataset_ids.iter().map(|id| id.to_lowercase()).collect();
    assert_eq!(lowered.len(), 40, "no two dataset ids differ only by case");
    for odd in ["x/1", "Sales.EU"] {
        assert!(dataset_ids.contains(odd), "dataset {odd}");
    }
    for odd in ["x/1", "Q3.Review"] {
        assert!(dashboard_ids.contains(odd), "dashboard {odd}");
    }
    let generated: Vec<&str> = workspace.datasets.iter().map(|d| d.id.as_str()).collect();
    let mut by_id = generated.clone();
    by_id.sort_unstable();
    assert_ne!(
        generated, by_id,
        "not generated in id order, so the server's sorting shows"
    );

    let expected = workspace.expected_reads();
    let missing = workspace.missing_reads();
    assert_eq!(expected.len(), 60, "every dashboard has an entry");
    for board in &workspace.dashboards {
        let reads = &expected[&board.id];
        assert!(reads.len() <= 5, "{}: {reads:?}", board.id);
        assert!(reads.iter().all(|id| dataset_ids.contains(id.as_str())));
        let named: BTreeSet<String> = board.dataset_ids.iter().cloned().collect();
        assert_eq!(
            named.len(),
            board.dataset_ids.len(),
            "no dataset named twice"
        );
        let absent = missing.get(&board.id).cloned().unwrap_or_default();
        assert_eq!(
            &named,
            &reads.union(&absent).cloned().collect(),
            "{}",
            board.id
        );
        assert!(
            board.updated_at.is_some(),
            "set when the dashboard is created"
        );
    }
    assert!(
        (5..=15).contains(&missing.len()),
        "a few name a missing dataset: {missing:?}"
    );
    assert!(
        missing
            .values()
            .flatten()
            .all(|id| !dataset_ids.contains(id.as_str()))
    );
    let sizes: BTreeSet<usize> = expected.values().map(BTreeSet::len).collect();
    assert!(
        sizes.contains(&0) && sizes.contains(&5),
        "0 to 5 reads: {sizes:?}"
    );
    assert!(
        expected
            .values()
            .flatten()
            .any(|id| id == "Sales.EU" || id == "x/1"),
        "some dashboard reads an odd-id dataset"
    );
    let nulls = |count: usize| count > 0 && count < 40;
    assert!(nulls(
        workspace
            .datasets
            .iter()
            .filter(|d| d.description.is_none())
            .count()
    ));
    assert!(nulls(
        workspace
            .datasets
            .iter()
            .filter(|d| d.description.is_some())
            .count()
    ));
    assert!(workspace.dashboards.iter().any(|d| d.tags.is_empty()));
    assert!(workspace.dashboards.iter().any(|d| d.tags.len() > 1));

    let empty = MinidashWorkspace::synthetic(42, 0, 8);
    assert!(empty.expected_reads().values().all(BTreeSet::is_empty));
}

#[test]
fn the_same_seed_serves_the_same_bytes() {
    let (one, two) = (
        spawn(MinidashWorkspace::synthetic(9, 30, 30)),
        spawn(MinidashWorkspace::synthetic(9, 30, 30)),
    );
    for route in [
        "/datasets?limit=11",
        "/dashboards?limit=200",
        "/dashboards/x%2F1",
    ] {
        assert_eq!(get(&one, route).body, get(&two, route).body, "{route}");
    }
}

#[test]
fn a_fixture_round_trips_and_its_errors_name_the_file() {
    let workspace = MinidashWorkspace::synthetic(4, 9, 9);
    let path = scratch("round-trip.json");
    std::fs::write(&path, workspace.to_json()).unwrap();
    assert_eq!(MinidashWorkspace::from_json_file(&path).unwrap(), workspace);

    let minimal = r#"{"datasets": [{"id": "ds_1", "name": "Orders"}],
                      "dashboards": [{"id": "db_1", "title": "Revenue", "dataset_ids": ["ds_1"]}]}"#;
    let parsed = MinidashWorkspace::from_json_str(minimal).unwrap();
    assert_eq!(
        parsed.dashboards[0].tags,
        Vec::<String>::new(),
        "tags default to []"
    );
    assert_eq!(parsed.datasets[0].row_count, None);

    let cases = [
        (
            "typo.json",
            r#"{"datasets": [{"id": "a", "name": "A", "rows": 3}]}"#,
            "unknown field `rows`",
        ),
        (
            "twice.json",
            r#"{"dashboards": [{"id": "d", "title": "D"}, {"id": "d", "title": "E"}]}"#,
            "two dashboards have the id `d`",
        ),
        ("not-json.json", "datasets: []", "expected value"),
    ];
    for (name, text, reason) in cases {
        let path = scratch(name);
        std::fs::write(&path, text).unwrap();
        let error = MinidashWorkspace::from_json_file(&path)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(reason), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let absent = scratch("absent.json");
    let error = MinidashWorkspace::from_json_file(&absent)
        .unwrap_err()
        .to_string();
    assert!(error.contains(&absent.display().to_string()), "{error}");
}

#[test]
fn a_workspace_with_an_id_twice_is_not_served() {
    let twice = MinidashWorkspace {
        datasets: vec![dataset("a"), dataset("a")],
        dashboards: Vec::new(),
    };
    let error = MinidashHandle::spawn(MinidashConfig::new(twice.clone())).unwrap_err();
    assert!(
        error.to_string().contains("two datasets have the id `a`"),
        "{error}"
    );

    let api = spawn(MinidashWorkspace {
        datasets: vec![dataset("a")],
        dashboards: Vec::new(),
    });
    assert!(api.replace(twice).is_err());
    assert_eq!(
        item_ids(&walk(&api, "datasets", None)),
        ["a"],
        "the old workspace stays"
    );
}

#[test]
fn the_rate_limit_knob_answers_the_nth_request_429_with_retry_after() {
    let faults = MinidashFaults::default().rate_limit_on(2, 3);
    let api = with_faults(MinidashWorkspace::synthetic(2, 5, 5), faults);
    // A refused key takes no number.
    assert_eq!(get_at(api.addr(), "/datasets", "wrong").status, 401);
    assert_eq!(get(&api, "/datasets").status, 200);
    let refused = get(&api, "/dashboards");
    assert_error(&refused, 429, "rate limited");
    assert_eq!(refused.header("retry-after"), Some("3"));
    assert_eq!(
        get(&api, "/dashboards").status,
        200,
        "the retry, request 3, is fine"
    );

    let burst = RateLimitBurst {
        start_at: 1,
        count: 2,
        retry_after_secs: None,
    };
    let faults = MinidashFaults {
        rate_limit_burst: Some(burst),
        ..MinidashFaults::default()
    };
    let api = with_faults(MinidashWorkspace::synthetic(2, 5, 5), faults);
    let responses: Vec<Response> = (0..4).map(|_| get(&api, "/dashboards/db_1")).collect();
    let statuses: Vec<u16> = responses.iter().map(|response| response.status).collect();
    assert_eq!(statuses, [429, 429, 200, 200]);
    assert_eq!(
        responses[0].header("retry-after"),
        None,
        "no Retry-After when told so"
    );
    let stats = api.stats();
    assert_eq!((stats.rate_limited, stats.dashboard_get_requests), (2, 4));
    assert_eq!(
        stats.dashboard_gets["db_1"], 2,
        "only answered requests fetch a dashboard"
    );
}

#[test]
fn the_server_error_knob_fails_the_nth_request() {
    let faults = MinidashFaults::default().server_error_on(3);
    let api = with_faults(MinidashWorkspace::synthetic(2, 5, 5), faults);
    let routes = [
        "/datasets",
        "/dashboards",
        "/dashboards/db_1",
        "/dashboards/db_1",
    ];
    let statuses: Vec<u16> = routes.iter().map(|route| get(&api, route).status).collect();
    assert_eq!(statuses, [200, 200, 500, 200]);

    let faults = MinidashFaults {
        server_errors: Some(ServerErrorBurst {
            start_at: 1,
            count: 1,
            status: 503,
        }),
        // Both cover request 1: the 429 wins.
        ..MinidashFaults::default().rate_limit_on(1, 0)
    };
    let api = with_faults(MinidashWorkspace::synthetic(2, 5, 5), faults);
    let first = get(&api, "/datasets");
    assert_eq!(
        (first.status, first.header("retry-after")),
        (429, Some("0"))
    );
    assert_eq!(get(&api, "/datasets").status, 200);
    let stats = api.stats();
    assert_eq!((stats.rate_limited, stats.server_errors), (1, 0));

    let faults = MinidashFaults {
        server_errors: Some(ServerErrorBurst {
            start_at: 2,
            count: 2,
            status: 502,
        }),
        ..MinidashFaults::default()
    };
    let api = with_faults(MinidashWorkspace::synthetic(2, 5, 5), faults);
    let statuses: Vec<u16> = (0..4).map(|_| get(&api, "/datasets").status).collect();
    assert_eq!(statuses, [200, 502, 502, 200]);
    let failed = with_faults(
        MinidashWorkspace::default(),
        MinidashFaults::default().server_error_on(1),
    );
    let response = get(&failed, "/dashboards");
    assert_eq!(response.status, 500);
    assert!(response.json()["error"].is_string());
    assert!(response.header("x-trace-id").is_some());
}

#[test]
fn new_faults_number_requests_from_one_again() {
    let api = spawn(MinidashWorkspace::synthetic(2, 5, 5));
    for _ in 0..3 {
        assert_eq!(get(&api, "/datasets").status, 200);
    }
    api.set_faults(MinidashFaults::default().server_error_on(2))
        .unwrap();
    let statuses: Vec<u16> = (0..3).map(|_| get(&api, "/datasets").status).collect();
    assert_eq!(statuses, [200, 500, 200]);

    let invalid = MinidashFaults::default().server_error_on(0);
    let error = api.set_faults(invalid.clone()).unwrap_err().to_string();
    assert!(error.contains("server-errors"), "{error}");
    let error = MinidashHandle::spawn(MinidashConfig {
        faults: invalid,
        ..MinidashConfig::new(MinidashWorkspace::default())
    })
    .unwrap_err();
    assert!(error.to_string().contains("numbered from 1"), "{error}");
}

#[test]
fn edits_change_what_dashboards_read_and_move_their_updated_at() {
    let workspace = MinidashWorkspace::synthetic(42, 40, 60);
    let (edited, changed) = workspace.edited(7, 5);
    assert_eq!(changed.len(), 5);
    assert!(
        changed.windows(2).all(|pair| pair[0] < pair[1]),
        "sorted: {changed:?}"
    );
    assert_eq!(
        (edited.clone(), changed.clone()),
        workspace.edited(7, 5),
        "deterministic"
    );
    assert_ne!(changed, workspace.edited(8, 5).1);
    assert_eq!(
        edited.datasets, workspace.datasets,
        "datasets are left alone"
    );

    let newest_before = workspace
        .dashboards
        .iter()
        .filter_map(|board| board.updated_at.clone())
        .chain(
            workspace
                .datasets
                .iter()
                .filter_map(|d| d.updated_at.clone()),
        )
        .max()
        .unwrap();
    let (before, after) = (workspace.expected_reads(), edited.expected_reads());
    for (old, new) in workspace.dashboards.iter().zip(&edited.dashboards) {
        assert_eq!(old.id, new.id);
        if changed.contains(&old.id) {
            assert_ne!(old.dataset_ids, new.dataset_ids, "{}", old.id);
            assert_ne!(
                before[&old.id], after[&old.id],
                "{}: the ground truth moves",
                old.id
            );
            // Same format, so the text order is the time order.
            assert!(new.updated_at.as_ref().unwrap() > &newest_before, "{new:?}");
            assert_eq!((&old.title, &old.tags), (&new.title, &new.tags));
        } else {
            assert_eq!(old, new);
        }
    }
    // Editing again moves time forward again.
    let (twice, again) = edited.edited(8, 60);
    assert_eq!(again.len(), 60, "at most every dashboard");
    let newest_edit = edited
        .dashboards
        .iter()
        .filter_map(|b| b.updated_at.clone())
        .max();
    assert!(twice.dashboards.iter().all(|b| b.updated_at > newest_edit));

    let mut no_datasets = MinidashWorkspace::synthetic(1, 0, 3);
    let (edited, changed) = no_datasets.edited(1, 1);
    let board = edited
        .dashboards
        .iter()
        .find(|b| b.id == changed[0])
        .unwrap();
    assert!(
        !board.dataset_ids.is_empty(),
        "names a missing dataset, the only change left"
    );

    assert!(no_datasets.edit_dashboard("db_1", vec!["ds_9".to_owned()]));
    assert_eq!(no_datasets.dashboards[0].dataset_ids, ["ds_9"]);
    assert!(!no_datasets.edit_dashboard("db_404", Vec::new()));
}

#[test]
fn a_replaced_workspace_is_served_at_the_same_address_and_gets_are_counted_per_dashboard() {
    let workspace = MinidashWorkspace::synthetic(42, 20, 25);
    let api = spawn(workspace.clone());
    let base_url = api.base_url();
    assert_eq!(base_url, format!("http://{}/api", api.addr()));
    for board in &workspace.dashboards {
        assert_eq!(
            get(&api, &format!("/dashboards/{}", encode(&board.id))).status,
            200
        );
    }
    let first_run = api.stats();
    assert_eq!(first_run.dashboard_gets.len(), 25);
    assert!(first_run.dashboard_gets.values().all(|count| *count == 1));

    let (edited, changed) = workspace.edited(3, 4);
    api.replace(edited.clone()).unwrap();
    assert_eq!(api.base_url(), base_url);
    // A second run with a checkpoint: the listing, then only the changed dashboards.
    let listed = walk(&api, "dashboards", Some(10));
    for item in listed
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap())
    {
        let id = item["id"].as_str().unwrap();
        let board = edited.dashboards.iter().find(|b| b.id == id).unwrap();
        assert_eq!(item["updated_at"], json!(board.updated_at));
        if changed.iter().any(|c| c == id) {
            let detail = get(&api, &format!("/dashboards/{}", encode(id))).json();
            assert_eq!(detail["dataset_ids"], json!(board.dataset_ids));
        }
    }
    let second_run = api.stats().since(&first_run);
    let expected: BTreeMap<String, u64> = changed.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(second_run.dashboard_gets, expected);
    assert_eq!(second_run.dashboard_get_requests, 4);
    assert_eq!(second_run.dashboard_list_requests, 3);
    assert_eq!(
        (second_run.requests, second_run.dataset_list_requests),
        (7, 0)
    );
}

#[test]
fn the_stats_endpoint_needs_no_key_and_is_not_counted() {
    let api = spawn(MinidashWorkspace::synthetic(2, 3, 3));
    get(&api, "/datasets");
    get(&api, "/dashboards/db_1");
    let response = send(api.addr(), "GET", "/__sim/stats", &[], "");
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["requests"], 2);
    assert_eq!(body["dashboard_gets"], json!({ "db_1": 1 }));
    assert_eq!(api.stats().requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_handle_lives_inside_another_runtime_and_stops_when_dropped() {
    let api = spawn(MinidashWorkspace::synthetic(2, 3, 3));
    let addr = api.addr();
    let status = tokio::task::spawn_blocking(move || get_at(addr, "/datasets", KEY).status)
        .await
        .unwrap();
    assert_eq!(status, 200);
    drop(api);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped listening"
    );

    let api = spawn(MinidashWorkspace::default());
    let addr = api.addr();
    api.shutdown().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn the_binary_serves_minidash_with_its_flags() {
    let fixture = scratch("cli.json");
    let workspace = MinidashWorkspace {
        datasets: vec![dataset("Sales.EU")],
        dashboards: vec![dashboard("x/1", &["Sales.EU", "gone"])],
    };
    std::fs::write(&fixture, workspace.to_json()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hex-sim"))
        .args([
            "minidash",
            "--api-key",
            "md_cli",
            "--server-errors",
            "2:1:503",
        ])
        .arg("--from-json")
        .arg(&fixture)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run hex-sim minidash");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();

    let outcome = std::panic::catch_unwind(|| {
        let addr: SocketAddr = line
            .strip_prefix("hex-sim listening on http://")
            .and_then(|rest| rest.strip_suffix("/api (Minidash: 1 datasets, 1 dashboards)\n"))
            .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
            .parse()
            .unwrap();
        assert_eq!(get_at(addr, "/datasets", KEY).status, 401);
        assert_eq!(get_at(addr, "/datasets", "md_cli").status, 200);
        assert_eq!(get_at(addr, "/datasets", "md_cli").status, 503);
        let detail = get_at(addr, "/dashboards/x%2F1", "md_cli").json();
        assert_eq!(detail["dataset_ids"], json!(["Sales.EU", "gone"]));
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }

    let refused = Command::new(env!("CARGO_BIN_EXE_hex-sim"))
        .args(["minidash", "--datasets", "3", "--from-json"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "--datasets and --from-json conflict"
    );
}
