//! Each fault does what the connector's robustness tests rely on.

use std::time::{Duration, Instant};

use hex_sim::{ErrorShape, Faults, RateLimitBurst, ServerErrorBurst, SlowPage};
use serde_json::Value;

use crate::support::{get, synthetic, with_faults};

const PAGE: &str = "/api/v1/projects?limit=10";

fn statuses(sim: &hex_sim::SimHandle, count: usize) -> Vec<u16> {
    (0..count).map(|_| get(sim, PAGE).status).collect()
}

#[test]
fn per_minute_limit_answers_429_with_retry_after_until_the_window_resets() {
    let sim = with_faults(
        20,
        Faults {
            rate_limit_per_minute: Some(2),
            ..Faults::default()
        },
    );
    assert_eq!(statuses(&sim, 2), [200, 200]);
    let refused = get(&sim, PAGE);
    assert_eq!(refused.status, 429);
    let wait: u64 = refused
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.json()["reason"].is_string());
    // Only the list endpoint is limited.
    assert_eq!(get(&sim, "/api/v1/users/me").status, 200);
    assert_eq!(sim.stats().rate_limited, 1);
}

#[test]
fn per_minute_limit_can_omit_retry_after() {
    let faults = Faults {
        rate_limit_per_minute: Some(1),
        retry_after: false,
        ..Faults::default()
    };
    let sim = with_faults(20, faults);
    assert_eq!(get(&sim, PAGE).status, 200);
    let refused = get(&sim, PAGE);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), None);
}

#[test]
fn a_burst_of_server_errors_starts_at_the_given_request() {
    let burst = ServerErrorBurst {
        start_at: 2,
        count: 2,
        status: 503,
    };
    let sim = with_faults(
        20,
        Faults {
            server_errors: Some(burst),
            ..Faults::default()
        },
    );
    assert_eq!(statuses(&sim, 5), [200, 503, 503, 200, 200]);
    let stats = sim.stats();
    assert_eq!(
        (
            stats.server_errors,
            stats.project_list_requests,
            stats.pages_served
        ),
        (2, 5, 3)
    );
}

#[test]
fn a_burst_of_429s_with_and_without_retry_after() {
    let burst = RateLimitBurst {
        start_at: 1,
        count: 2,
        retry_after_secs: Some(0),
    };
    let sim = with_faults(
        20,
        Faults {
            rate_limit_burst: Some(burst),
            ..Faults::default()
        },
    );
    let first = get(&sim, PAGE);
    assert_eq!(
        (first.status, first.header("retry-after")),
        (429, Some("0"))
    );
    assert_eq!(statuses(&sim, 2), [429, 200]);

    let burst = RateLimitBurst {
        start_at: 2,
        count: 1,
        retry_after_secs: None,
    };
    let sim = with_faults(
        20,
        Faults {
            rate_limit_burst: Some(burst),
            ..Faults::default()
        },
    );
    assert_eq!(get(&sim, PAGE).status, 200);
    let refused = get(&sim, PAGE);
    assert_eq!((refused.status, refused.header("retry-after")), (429, None));
    assert_eq!(sim.stats().rate_limited, 1);
}

#[test]
fn retry_after_can_be_an_http_date() {
    let burst = RateLimitBurst {
        start_at: 1,
        count: 1,
        retry_after_secs: Some(120),
    };
    let sim = with_faults(
        20,
        Faults {
            rate_limit_burst: Some(burst),
            retry_after_http_date: true,
            ..Faults::default()
        },
    );
    let refused = get(&sim, PAGE);
    assert_eq!(refused.status, 429);
    let date = refused.header("retry-after").expect("a Retry-After header");
    // `Sun, 06 Nov 1994 08:49:37 GMT`: a weekday, a day, a month, a year, a time and `GMT`.
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 6, "{date}");
    assert!(parts[0].ends_with(',') && parts[5] == "GMT", "{date}");
    assert!(
        parts[4].len() == 8 && parts[4].matches(':').count() == 2,
        "{date}"
    );
    assert_eq!(get(&sim, PAGE).status, 200);
}

#[test]
fn delays_hold_back_responses() {
    // Lower bounds only: the server waited at least this long. Nothing here measures speed.
    let sim = with_faults(
        20,
        Faults {
            delay_ms: 150,
            ..Faults::default()
        },
    );
    let start = Instant::now();
    assert_eq!(get(&sim, "/api/v1/users/me").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));

    let sim = with_faults(
        20,
        Faults {
            slow_page: Some(SlowPage {
                page: 2,
                delay_ms: 150,
            }),
            ..Faults::default()
        },
    );
    get(&sim, PAGE);
    let start = Instant::now();
    assert_eq!(get(&sim, PAGE).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[test]
fn a_malformed_page_is_not_json_and_the_retry_is_fine() {
    let sim = with_faults(
        50,
        Faults {
            malformed_page: Some(2),
            ..Faults::default()
        },
    );
    let first = get(&sim, PAGE).json();
    let after = first["pagination"]["after"].as_str().unwrap();
    let next = format!("{PAGE}&after={after}");
    let broken = get(&sim, &next);
    assert_eq!(broken.status, 200);
    assert!(
        serde_json::from_slice::<Value>(&broken.body).is_err(),
        "{}",
        broken.text()
    );
    let retried = get(&sim, &next).json();
    assert_eq!(retried["values"].as_array().unwrap().len(), 10);
}

#[test]
fn a_truncated_page_is_the_first_half_of_the_real_one() {
    let real = get(&synthetic(50), PAGE).body;
    let sim = with_faults(
        50,
        Faults {
            truncated_page: Some(1),
            ..Faults::default()
        },
    );
    let cut = get(&sim, PAGE);
    assert_eq!(cut.status, 200);
    // `request` has already checked that Content-Length matches the cut body.
    assert!(cut.body.len() <= real.len() / 2 && cut.body.len() > real.len() / 2 - 4);
    assert!(real.starts_with(&cut.body));
    assert!(serde_json::from_slice::<Value>(&cut.body).is_err());
    assert_eq!(get(&sim, PAGE).body, real, "only that page is cut");
}

#[test]
fn repeat_cursor_never_ends() {
    let sim = with_faults(
        30,
        Faults {
            repeat_cursor: true,
            ..Faults::default()
        },
    );
    let mut cursors = Vec::new();
    let mut target = PAGE.to_owned();
    for _ in 0..6 {
        let page = get(&sim, &target).json();
        let after = page["pagination"]["after"]
            .as_str()
            .expect("a non-null after")
            .to_owned();
        target = format!("{PAGE}&after={after}");
        cursors.push(after);
    }
    assert!(
        cursors.windows(2).all(|pair| pair[0] == pair[1]),
        "{cursors:?}"
    );
}

#[test]
fn forbidden_answers_403_naming_the_scope_but_a_bad_token_is_still_401() {
    let sim = with_faults(
        5,
        Faults {
            forbidden: Some("projects:read".to_owned()),
            ..Faults::default()
        },
    );
    for target in [PAGE, "/api/v1/users/me", "/api/v1/projects/x"] {
        let response = get(&sim, target);
        assert_eq!(response.status, 403, "{target}");
        let body = response.json();
        assert_eq!(body["reason"], "Forbidden");
        assert!(
            body["details"].as_str().unwrap().contains("projects:read"),
            "{body}"
        );
    }
    let anonymous = crate::support::request(sim.addr(), "GET", PAGE, None, "");
    assert_eq!(anonymous.status, 401);
    assert_eq!(sim.stats().forbidden, 3);
}

#[test]
fn errors_can_use_the_code_message_shape() {
    let faults = Faults {
        error_shape: ErrorShape::CodeMessage,
        server_errors: Some(ServerErrorBurst {
            start_at: 2,
            count: 1,
            status: 500,
        }),
        ..Faults::default()
    };
    let sim = with_faults(5, faults);
    let invalid = get(&sim, "/api/v1/projects?limit=500").json();
    assert_eq!(invalid["code"], "BAD_REQUEST");
    assert!(invalid["message"].as_str().unwrap().contains("limit"));
    assert_eq!(invalid["issues"][0]["path"], serde_json::json!(["limit"]));
    assert!(invalid.get("reason").is_none());

    let failed = get(&sim, PAGE).json();
    assert_eq!(failed["code"], "INTERNAL_SERVER_ERROR");
    assert_eq!(failed["issues"], serde_json::json!([]));
}

#[test]
fn a_missing_scope_forbids_only_its_endpoints() {
    let sim = with_faults(
        20,
        Faults {
            missing_scopes: vec![hex_sim::Scope::Cells, hex_sim::Scope::DataConnections],
            ..Faults::default()
        },
    );
    let id = hex_sim::Workspace::synthetic(42, 1).projects[0].id.clone();
    for target in [
        format!("/api/v1/cells?projectId={id}"),
        "/api/v1/data-connections".to_owned(),
    ] {
        let refused = get(&sim, &target);
        assert_eq!(refused.status, 403, "{target}");
        assert!(
            refused.json()["details"]
                .as_str()
                .unwrap()
                .contains("scope"),
            "{target}"
        );
    }
    assert_eq!(get(&sim, PAGE).status, 200);
    assert_eq!(
        get(&sim, &format!("/api/v1/projects/{id}/runs")).status,
        200
    );
    assert_eq!(sim.stats().forbidden, 2);
    assert_eq!(
        sim.endpoint_stats().cells_requests,
        1,
        "counted, then refused"
    );
    assert_eq!(sim.project_requests(&id).cells, 0);
    assert_eq!("queried-tables".parse(), Ok(hex_sim::Scope::QueriedTables));
    assert!("projects".parse::<hex_sim::Scope>().is_err());
}
