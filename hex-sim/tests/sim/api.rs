//! The well-behaved API: pagination, filters, validation, authentication and the other endpoints.

use std::collections::HashSet;

use hex_sim::{Project, SimConfig, SimHandle, Workspace};
use serde_json::Value;

use crate::support::{get, ids, request, synthetic, walk};

const EVERYTHING: &str = "includeArchived=true&includeComponents=true&includeTrashed=true";

#[test]
fn pagination_visits_every_project_exactly_once_newest_first() {
    let sim = synthetic(250);
    let pages = walk(&sim, &format!("limit=100&{EVERYTHING}"));

    assert_eq!(pages.len(), 3);
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page["values"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert!(
        pages[..2]
            .iter()
            .all(|page| page["pagination"]["after"].is_string())
    );
    assert_eq!(pages[2]["pagination"]["after"], Value::Null);
    assert_eq!(pages[0]["pagination"]["before"], Value::Null);
    assert!(pages[1]["pagination"]["before"].is_string());

    let seen = ids(&pages);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 250, "no project twice");
    let expected: HashSet<String> = Workspace::synthetic(42, 250)
        .projects
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(unique, expected.iter().collect(), "every project once");

    let created: Vec<String> = pages
        .iter()
        .flat_map(|page| page["values"].as_array().unwrap().iter())
        .map(|project| project["createdAt"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        created.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first"
    );
    assert_eq!(sim.stats().pages_served, 3);
}

#[test]
fn cursors_are_real_hex_style_and_before_goes_back() {
    let sim = synthetic(60);
    let first = get(&sim, &format!("/api/v1/projects?limit=20&{EVERYTHING}")).json();
    let after = first["pagination"]["after"].as_str().unwrap();
    assert!(
        after
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url without padding"
    );

    let second = get(
        &sim,
        &format!("/api/v1/projects?limit=20&after={after}&{EVERYTHING}"),
    )
    .json();
    let before = second["pagination"]["before"].as_str().unwrap();
    let back = get(
        &sim,
        &format!("/api/v1/projects?limit=20&before={before}&{EVERYTHING}"),
    )
    .json();
    assert_eq!(back["values"], first["values"]);
}

#[test]
fn default_list_hides_archived_trashed_components_and_sharing() {
    let workspace = Workspace::synthetic(42, 250);
    let visible = |project: &&Project| {
        !project.is_archived() && !project.is_trashed() && !project.is_component()
    };
    let expected: Vec<&Project> = workspace.projects.iter().filter(visible).collect();
    assert!(
        expected.len() < 250,
        "the sample must contain hidden projects"
    );

    let sim = synthetic(250);
    let pages = walk(&sim, "limit=100");
    let listed = ids(&pages);
    assert_eq!(listed.len(), expected.len());
    for project in pages
        .iter()
        .flat_map(|page| page["values"].as_array().unwrap())
    {
        assert_eq!(project["type"], "PROJECT");
        assert_eq!(project["archivedAt"], Value::Null);
        assert_eq!(project["trashedAt"], Value::Null);
        assert!(
            project.get("sharing").is_none(),
            "sharing only with includeSharing"
        );
    }
}

#[test]
fn each_include_flag_adds_its_kind_and_accepts_any_case() {
    let workspace = Workspace::synthetic(42, 400);
    let count = |predicate: fn(&Project) -> bool| {
        workspace.projects.iter().filter(|p| predicate(p)).count()
    };
    let sim = synthetic(400);
    let listed = |query: &str| ids(&walk(&sim, &format!("limit=100&{query}"))).len();

    let plain = |p: &Project| !p.is_archived() && !p.is_trashed() && !p.is_component();
    assert_eq!(listed(""), count(plain));
    assert_eq!(
        listed("includeComponents=True"),
        count(|p| !p.is_archived() && !p.is_trashed())
    );
    assert_eq!(
        listed("includeArchived=TRUE"),
        count(|p| !p.is_trashed() && !p.is_component())
    );
    assert_eq!(
        listed("includeTrashed=true"),
        count(|p| !p.is_archived() && !p.is_component())
    );
    assert_eq!(
        listed("includeTrashed=false&includeArchived=False"),
        count(plain)
    );
    assert_eq!(listed(EVERYTHING), 400);

    let page = get(&sim, "/api/v1/projects?limit=100&includeSharing=TRUE").json();
    let values = page["values"].as_array().unwrap();
    assert!(values.iter().all(|project| project["sharing"].is_object()));
    assert!(values.iter().any(|project| {
        !project["sharing"]["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    }));
}

#[test]
fn limit_defaults_to_25_and_other_params_are_ignored() {
    let sim = synthetic(100);
    let page = get(
        &sim,
        "/api/v1/projects?sortBy=CREATED_AT&sortDirection=ASC&statuses[]=Published",
    )
    .json();
    assert_eq!(page["values"].as_array().unwrap().len(), 25);
}

#[test]
fn bad_parameters_get_400_with_a_reason_details_body() {
    let sim = synthetic(10);
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=",
        "includeArchived=yes",
        "after=not-a-cursor",
    ] {
        let response = get(&sim, &format!("/api/v1/projects?{query}"));
        assert_eq!(response.status, 400, "{query}");
        assert!(
            response
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let body = response.json();
        assert!(
            body["reason"].is_string() && body["details"].is_string(),
            "{query}: {body}"
        );
        assert_eq!(
            body["traceId"].as_str(),
            response.header("x-trace-id"),
            "{query}"
        );
    }
    assert_eq!(get(&sim, "/api/v1/projects?limit=1").status, 200);
    assert_eq!(get(&sim, "/api/v1/projects?limit=100").status, 200);
    assert_eq!(sim.stats().bad_requests, 6);
}

#[test]
fn a_bad_or_missing_token_gets_a_plain_text_401() {
    let sim = synthetic(10);
    for token in [None, Some("hxtp_wrong"), Some("")] {
        for target in [
            "/api/v1/projects",
            "/api/v1/users/me",
            "/api/v1/projects/x",
            "/api/v1/nope",
        ] {
            let response = request(sim.addr(), "GET", target, token, "");
            assert_eq!(response.status, 401, "{target} with {token:?}");
            assert!(
                response
                    .header("content-type")
                    .unwrap()
                    .starts_with("text/plain")
            );
            assert_eq!(response.text(), "Unauthorized");
            assert!(response.header("x-trace-id").is_some());
        }
    }
    assert_eq!(sim.stats().unauthorized, 12);
    assert_eq!(
        sim.stats().project_list_requests,
        0,
        "refused before the endpoint"
    );
}

#[test]
fn every_response_has_a_distinct_trace_id() {
    let sim = synthetic(10);
    let traces: HashSet<String> = (0..5)
        .map(|_| {
            get(&sim, "/api/v1/projects")
                .header("x-trace-id")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(traces.len(), 5);
}

#[test]
fn one_project_by_id_and_404_for_unknown() {
    let sim = synthetic(30);
    let page = get(&sim, &format!("/api/v1/projects?limit=100&{EVERYTHING}")).json();
    let listed = &page["values"][7];
    let id = listed["id"].as_str().unwrap();

    let response = get(&sim, &format!("/api/v1/projects/{id}"));
    assert_eq!(response.status, 200);
    assert_eq!(&response.json(), listed);
    assert!(
        get(&sim, &format!("/api/v1/projects/{id}?includeSharing=true")).json()["sharing"]
            .is_object()
    );

    let missing = get(
        &sim,
        "/api/v1/projects/00000000-0000-0000-0000-000000000000",
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["reason"], "Not found");
    assert_eq!(get(&sim, "/api/v1/dashboards").status, 404);
}

#[test]
fn users_me_reports_the_workspace_as_org() {
    let mut workspace = Workspace::synthetic(1, 3);
    workspace.id = "ws-1234".to_owned();
    workspace.name = "Quarterly Café ☕".to_owned();
    let sim = SimHandle::spawn(SimConfig::new(workspace)).unwrap();
    let me = get(&sim, "/api/v1/users/me").json();
    assert_eq!(me["org"]["id"], "ws-1234");
    assert_eq!(me["org"]["name"], "Quarterly Café ☕");
    assert!(me["id"].is_string() && me["email"].is_string() && me["name"].is_string());
}

#[test]
fn json_fixtures_are_served_as_written() {
    let projects = serde_json::json!([
        {"id": "b", "title": null, "createdAt": "2025-01-02T00:00:00.000Z", "owner": null, "icon": "🦀",
         "analytics": {"appViews": null, "lastViewedAt": null}, "sharing": {"collections": [{"collection": {"name": "X"}}]}},
        {"id": "a", "createdAt": "2025-03-04T00:00:00.000Z", "categories": [], "status": {"name": "Live", "color": "red"}},
        {"id": "c", "type": "COMPONENT", "createdAt": "2024-01-01T00:00:00.000Z"}
    ]);
    let path = std::env::temp_dir().join(format!("hex-sim-fixture-{}.json", std::process::id()));
    std::fs::write(&path, projects.to_string()).unwrap();
    let workspace = Workspace::from_json_file(&path);
    std::fs::remove_file(&path).unwrap();
    let sim = SimHandle::spawn(SimConfig::new(workspace.unwrap())).unwrap();

    let page = get(
        &sim,
        "/api/v1/projects?includeSharing=true&includeComponents=true",
    )
    .json();
    assert_eq!(
        page["values"],
        serde_json::json!([projects[1], projects[0], projects[2]])
    );
    let without = get(&sim, "/api/v1/projects").json();
    assert_eq!(without["values"][1].get("sharing"), None);
    assert_eq!(without["values"].as_array().unwrap().len(), 2);
}

#[test]
fn sim_stats_are_served_without_auth() {
    let sim = synthetic(10);
    get(&sim, "/api/v1/projects");
    get(&sim, "/api/v1/users/me");
    request(sim.addr(), "GET", "/api/v1/projects", None, "");
    let response = request(sim.addr(), "GET", "/__sim/stats", None, "");
    assert_eq!(response.status, 200);
    let stats: hex_sim::SimStats = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        stats,
        sim.stats(),
        "polling the stats does not count as a request"
    );
    assert_eq!(
        (
            stats.requests,
            stats.project_list_requests,
            stats.users_me_requests
        ),
        (3, 1, 1)
    );
    assert_eq!((stats.pages_served, stats.unauthorized), (1, 1));
}
