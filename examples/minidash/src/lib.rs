//! A minimal Euno connector: the datasets and dashboards of a Minidash API (see README.md), and
//! which datasets each dashboard reads.
//!
//! It shows what a connector built on `euno-connector-sdk` is made of: the API's JSON, the
//! settings, and the mapping. A checkpoint (the newest dashboard change seen) makes later runs
//! cheaper: a dashboard unchanged since then keeps its stored relations instead of being fetched.

use std::collections::HashSet;

use euno_connector_sdk::http::percent_encode;
use euno_connector_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The resource type of a dataset.
pub const DATASET: &str = "minidash_dataset";
/// The resource type of a dashboard.
pub const DASHBOARD: &str = "minidash_dashboard";

#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Dataset {
    id: String,
    name: String,
    description: Option<String>,
    source_table: Option<String>,
    row_count: Option<i64>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct Dashboard {
    id: String,
    title: String,
    owner: Option<String>,
    tags: Vec<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
struct DashboardDetail {
    dataset_ids: Vec<String>,
}

/// The newest dashboard `updated_at` a run saw, and the tag filter it ran with: a dashboard the
/// last run skipped has no relations stored, so a new filter starts afresh.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    dashboards_until: i64,
    tags: Vec<String>,
}

/// The connector.
pub struct Minidash;

impl Connector for Minidash {
    fn spec() -> ConnectorSpec {
        let (workspace, tags, page_size) = (
            ConfigField::text("workspace", "Workspace").default_value("default"),
            ConfigField::text_list("tags", "Dashboard Tags"),
            ConfigField::integer("page_size", "Page Size").default_value(100),
        );
        ConnectorSpec::new("minidash", "Minidash", env!("CARGO_PKG_VERSION"))
            .description("Discovers a Minidash workspace's datasets and dashboards.")
            .field(ConfigField::url("base_url", "Base URL").required())
            .field(ConfigField::secret("api_key", "API Key").description("Sent as X-Api-Key."))
            .field(workspace.description("Names the workspace in resource URIs."))
            .field(tags.description("Only dashboards with one of these tags; all when empty."))
            .field(page_size.description("Items per page, 1 to 200."))
            .field(fields::requests_per_minute(120))
            .field(fields::request_timeout_seconds(30))
            .field(fields::max_retries(5))
            .resource_types([DATASET, DASHBOARD])
            .base_url_field("base_url")
            .credential(CredentialScheme::header("x-api-key", "api_key"))
    }

    fn check(config: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
        let request = Request::get("/datasets").query("limit", 1);
        cx.http().json::<Page<Dataset>>(request)?;
        let base = config.url("base_url")?;
        Ok(format!(
            "Minidash answers at {base}; the API key can list datasets"
        ))
    }

    fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
        let workspace = config.text("workspace")?;
        let tags = config.list("tags")?;
        let limit: u32 = config.integer_in("page_size", 1..=200)?;
        let uri_of = |kind: &str, id: &str| uri(["minidash", workspace, kind, id]);
        let since = run.checkpoint::<Checkpoint>().filter(|c| c.tags == tags);
        let since = since.map(|checkpoint| checkpoint.dashboards_until);

        let mut datasets = HashSet::new();
        let first = Request::get("/datasets").query("limit", limit);
        let mut listing = pages(first, "cursor", |page: &Page<Dataset>| {
            page.next_cursor.clone()
        });
        while let Some(page) = listing.next(cx.http())? {
            for dataset in page.items {
                let updated = dataset.updated_at.as_deref().and_then(parse_rfc3339);
                let resource =
                    Resource::new(uri_of("datasets", &dataset.id), DATASET, dataset.name)
                        .native_id(&dataset.id)
                        .property("description", dataset.description)
                        .property("source_table", dataset.source_table)
                        .property("row_count", dataset.row_count)
                        .timestamp("updated_at", updated);
                cx.emit(resource);
                datasets.insert(dataset.id);
            }
        }

        let mut until = since;
        let first = Request::get("/dashboards").query("limit", limit);
        let mut listing = pages(first, "cursor", |page: &Page<Dashboard>| {
            page.next_cursor.clone()
        });
        while let Some(page) = listing.next(cx.http())? {
            for board in page.items {
                if !tags.is_empty() && !board.tags.iter().any(|tag| tags.contains(tag)) {
                    continue;
                }
                let updated = board.updated_at.as_deref().and_then(parse_rfc3339);
                until = until.max(updated);
                let uri = uri_of("dashboards", &board.id);
                let mut resource = Resource::new(uri, DASHBOARD, board.title)
                    .native_id(&board.id)
                    .property("owner", board.owner)
                    .property("tags", board.tags)
                    .timestamp("updated_at", updated);
                // Minidash moves `updated_at` on every change to a dashboard, its charts
                // included: one no newer than the last run's newest reads what it read then.
                if since.is_some() && updated.is_some() && updated <= since {
                    cx.emit(resource.relations_unchanged());
                    continue;
                }
                let path = format!("/dashboards/{}", percent_encode(&board.id));
                let request = Request::get(path).kind("dashboard");
                let detail: DashboardDetail = cx.http().json(request)?;
                for id in detail.dataset_ids {
                    if datasets.contains(&id) {
                        resource = resource.relation("reads", uri_of("datasets", &id));
                    } else {
                        let board = &board.id;
                        cx.warn(&format!("dashboard {board} reads dataset {id}, not listed"));
                    }
                }
                cx.emit(resource);
            }
        }
        if let Some(dashboards_until) = until {
            let tags = tags.to_vec();
            cx.save_checkpoint(&Checkpoint {
                dashboards_until,
                tags,
            });
        }
        Ok(())
    }
}

euno_connector_sdk::export!(Minidash);
