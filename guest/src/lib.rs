//! Euno's Hex connector: a WASI 0.2 component that discovers a Hex workspace and its projects,
//! built on `euno-connector-sdk` (contract `euno:connector@0.2.0`).
//!
//! The SDK does the plumbing (HTTP with throttle, retries and `Retry-After`, cursor pages,
//! timestamps, batching, the component export), so this crate is the Hex API and nothing else:
//! - [`settings`]: the connector's settings, their defaults and their checks;
//! - [`model`]: the project JSON, read leniently;
//! - [`mapping`]: projects and the workspace as Euno resources;
//! - [`connections`]: data connections, their platforms and defaults, qualified table names;
//! - [`notebook`]: a project's SQL cells and component imports, from the export or the cells;
//! - [`sql`]: the tables a SQL cell reads, by a real SQL parser;
//! - [`lineage`]: what each project reads, connects to and uses, and its latest run, asked only
//!   of projects that changed;
//! - [`checkpoint`]: what a run leaves for the next, compactly;
//! - [`discover`]: `check` and `discover`, tying the above together.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod connections;
pub mod discover;
pub mod lineage;
pub mod mapping;
pub mod model;
pub mod notebook;
pub mod settings;
pub mod sql;

#[cfg(test)]
mod fuzz;

use euno_connector_sdk::prelude::*;

use crate::connections::{DATA_CONNECTION_TYPE, PLATFORMS};
use crate::mapping::{COMPONENT_TYPE, PROJECT_TYPE, WORKSPACE_TYPE};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: the component is single-threaded, and nothing else manages the memory talc grows.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

/// The Hex connector.
pub struct Hex;

impl Connector for Hex {
    fn spec() -> ConnectorSpec {
        let spec = ConnectorSpec::new("hex", "Hex Technologies", env!("CARGO_PKG_VERSION"));
        settings::fields()
            .into_iter()
            .fold(spec, ConnectorSpec::field)
            .description(
                "Discovers a Hex workspace, its data connections and its projects (and \
                 optionally components, archived and trashed projects) through the Hex public \
                 API: names, descriptions, owners and creators, status and activity, usage \
                 (impressions and last view), categories, collections, sharing and schedules, \
                 the latest run, a direct link to each project, and lineage: the warehouse \
                 tables each project reads, the data connections it queries and the components \
                 it imports.",
            )
            .resource_types([
                WORKSPACE_TYPE,
                PROJECT_TYPE,
                COMPONENT_TYPE,
                DATA_CONNECTION_TYPE,
            ])
            // `reads` targets start with their warehouse's platform; a component a source does
            // not discover (`include_components = false`) is still `used`, by its `hex.` URI.
            .external_namespaces(PLATFORMS.into_iter().chain(["hex"]))
            .base_url_field(settings::BASE_URL)
            .credential(CredentialScheme::bearer(settings::API_TOKEN))
    }

    fn check(config: &Config, cx: &mut Context) -> Result<String, ConnectorError> {
        discover::check(config, cx)
    }

    fn discover(config: &Config, run: &Run, cx: &mut Context) -> Result<(), ConnectorError> {
        discover::discover(config, run, cx)
    }

    fn http_options(config: &Config) -> Result<HttpOptions, ConnectorError> {
        settings::http_options(config)
    }
}

euno_connector_sdk::export!(Hex);

#[cfg(test)]
mod tests {
    use super::*;
    use euno_connector_sdk::types::FieldKind;

    #[test]
    fn the_spec_names_its_url_field_and_bearer_secret() {
        let spec = Hex::spec();
        assert_eq!(spec.problems(), Vec::<String>::new());
        assert_eq!(spec.id, "hex");
        assert_eq!(spec.display_name, "Hex Technologies");
        assert_eq!(spec.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            spec.resource_types,
            [
                "hex_workspace",
                "hex_project",
                "hex_component",
                "hex_data_connection"
            ]
        );
        assert!(spec.external_namespaces.contains(&"hex".to_owned()));
        for platform in [
            "snowflake",
            "bigquery",
            "postgres",
            "redshift",
            "databricks",
            "duckdb",
        ] {
            assert!(spec.external_namespaces.contains(&platform.to_owned()));
        }
        assert_eq!(spec.base_url_field.as_deref(), Some("base_url"));
        assert_eq!(spec.credential, Some(CredentialScheme::bearer("api_token")));
        let base = spec
            .fields
            .iter()
            .find(|f| f.name == "base_url")
            .expect("base_url");
        assert_eq!(base.kind, FieldKind::Url);
    }
}
