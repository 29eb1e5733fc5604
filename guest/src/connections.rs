//! Hex data connections (`GET /data-connections`): the warehouse platform behind each, the
//! database and schema an unqualified table name resolves to, the qualified names of what a
//! project reads, and the `hex_data_connection` resource.
//!
//! Platforms and defaults follow DataHub's Hex source (`shared/hex-api-lineage.md`): the same
//! table a Euno user would meet there, so that lineage from both agrees.

use euno_connector_sdk::prelude::*;
use serde_json::Value;

use crate::mapping::MappingContext;

/// The resource type of a data connection.
pub const DATA_CONNECTION_TYPE: &str = "hex_data_connection";

/// Every platform a `reads` relation may start with: the spec's external namespaces.
pub const PLATFORMS: [&str; 15] = [
    "athena",
    "bigquery",
    "clickhouse",
    "databricks",
    "duckdb",
    "hive",
    "mariadb",
    "mssql",
    "mysql",
    "postgres",
    "presto",
    "redshift",
    "snowflake",
    "spark",
    "trino",
];

/// The platform of a Hex connection type, or `unknown`: Hex's eight documented types, the
/// others DataHub has met, and the older names it used to accept.
pub fn platform_of(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "athena" => "athena",
        "bigquery" => "bigquery",
        "clickhouse" => "clickhouse",
        "databricks" => "databricks",
        "postgres" | "postgresql" | "alloydb" | "cloudsql__postgres" => "postgres",
        "redshift" => "redshift",
        "snowflake" => "snowflake",
        "trino" | "starburst" => "trino",
        "presto" => "presto",
        "mysql" | "cloudsql__mysql" => "mysql",
        "mariadb" => "mariadb",
        "motherduck" | "duckdb" => "duckdb",
        "sqlserver" | "cloudsql__sqlserver" | "mssql" => "mssql",
        "spark" => "spark",
        "hive" => "hive",
        _ => "unknown",
    }
}

/// Whether a platform names tables in two parts (`database.table`): its `database` then fills
/// the schema's place.
fn two_level(platform: &str) -> bool {
    matches!(platform, "mysql" | "mariadb" | "clickhouse")
}

/// One data connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its type as Hex reports it, e.g. `snowflake`, `motherduck`.
    pub kind: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// The platform of its type, or `unknown`.
    pub platform: &'static str,
    /// The database (catalog, BigQuery project) an unqualified name resolves to.
    pub database: Option<String>,
    /// The schema (dataset) an unqualified name resolves to.
    pub schema: Option<String>,
}

impl Connection {
    /// Reads one element of `GET /data-connections`, the short form (no `connectionDetails`)
    /// or the full one; `None` without a text id.
    pub fn read(value: &Value) -> Option<Connection> {
        let id = value.get("id")?.as_str().filter(|id| !id.is_empty())?;
        let text = |value: Option<&Value>, key: &str| {
            value?
                .get(key)?
                .as_str()
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        let kind = text(Some(value), "type");
        let platform = platform_of(kind.as_deref().unwrap_or_default());
        // `{"<type>": {...}}`: one key, named after the type as Hex spells it.
        let details = value
            .get("connectionDetails")
            .and_then(Value::as_object)
            .and_then(|details| {
                kind.as_deref()
                    .and_then(|kind| details.get(kind))
                    .or_else(|| (details.len() == 1).then(|| details.values().next())?)
            });
        let (database, schema, fallback) = match platform {
            "bigquery" => (text(details, "projectId"), None, None),
            "postgres" | "redshift" => (
                text(details, "database"),
                text(details, "schema"),
                Some("public"),
            ),
            "mssql" => (
                text(details, "database"),
                text(details, "schema"),
                Some("dbo"),
            ),
            "databricks" | "spark" => (
                text(details, "catalog"),
                text(details, "schema"),
                Some("default"),
            ),
            "trino" | "presto" => (text(details, "catalog"), text(details, "schema"), None),
            "athena" => (text(details, "catalog"), None, None),
            _ => (text(details, "database"), text(details, "schema"), None),
        };
        // A fallback schema applies only once a database is known.
        let schema = schema.or_else(|| database.as_ref().and(fallback).map(str::to_owned));
        Some(Connection {
            id: id.to_owned(),
            name: text(Some(value), "name"),
            kind,
            description: text(Some(value), "description"),
            platform,
            database,
            schema,
        })
    }

    /// The name, or the id when it has none.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// A fingerprint of what qualifying a name depends on: when it changes, every stored
    /// `reads` through this connection may be wrong.
    pub fn defaults_key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}",
            self.platform,
            self.database.as_deref().unwrap_or_default(),
            self.schema.as_deref().unwrap_or_default()
        )
    }

    /// The `reads` target of a table named `parts` (as written, one to three parts): the
    /// connection's defaults fill what is left out, `<platform>.<database>.<schema>.<table>`
    /// (`<platform>.<database>.<table>` where tables have two parts), lowercase. `Err` says why
    /// it cannot be qualified.
    pub fn qualify(&self, parts: &[String]) -> Result<String, String> {
        if self.platform == "unknown" {
            return Err(format!(
                "the data connection `{}` has the type `{}`, whose warehouse is unknown",
                self.label(),
                self.kind.as_deref().unwrap_or("none")
            ));
        }
        let depth = if two_level(self.platform) { 2 } else { 3 };
        let given = &parts[parts.len().saturating_sub(depth)..];
        let mut full: Vec<&str> = Vec::with_capacity(depth + 1);
        full.push(self.platform);
        let missing = depth - given.len();
        let defaults = if depth == 2 {
            vec![self.database.as_deref()]
        } else {
            vec![self.database.as_deref(), self.schema.as_deref()]
        };
        for (n, default) in defaults.into_iter().take(missing).enumerate() {
            let what = if n == 0 { "database" } else { "schema" };
            let Some(default) = default else {
                return Err(format!(
                    "`{}` leaves out the {what}, and the data connection `{}` has no default \
                     {what}",
                    parts.join("."),
                    self.label()
                ));
            };
            full.push(default);
        }
        full.extend(given.iter().map(String::as_str));
        Ok(uri(full))
    }

    /// The `hex_data_connection` resource, under the workspace.
    pub fn resource(&self, mapping: &MappingContext) -> Resource {
        // Hex documents no link to a data connection's page, so none is made up.
        Resource::new(
            mapping.project_uri(&self.id),
            DATA_CONNECTION_TYPE,
            self.label(),
        )
        .parent(&mapping.workspace_uri)
        .native_id(&self.id)
        .property("name", self.label())
        .property("native_id", self.id.as_str())
        .property("description", self.description.clone())
        .property("connection_type", self.kind.clone())
        .property("platform", self.platform)
        .property("database", self.database.clone())
        .property("schema", self.schema.clone())
        .property("external_links", Vec::<String>::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connection(value: Value) -> Connection {
        Connection::read(&value).expect("a connection")
    }

    fn names(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn defaults_follow_datahub_for_each_platform() {
        let snowflake = connection(json!({"id": "c1", "name": "Prod", "type": "snowflake",
            "connectionDetails": {"snowflake": {"database": "ANALYTICS", "schema": "MARTS"}}}));
        assert_eq!(snowflake.platform, "snowflake");
        assert_eq!(
            snowflake.qualify(&names(&["ORDERS"])),
            Ok("snowflake.analytics.marts.orders".to_owned())
        );
        assert_eq!(
            snowflake.qualify(&names(&["raw", "shopify", "Orders"])),
            Ok("snowflake.raw.shopify.orders".to_owned())
        );
        let postgres = connection(json!({"id": "c2", "type": "postgres",
            "connectionDetails": {"postgres": {"hostname": "h", "database": "app"}}}));
        assert_eq!(postgres.schema.as_deref(), Some("public"), "the fallback");
        assert_eq!(
            postgres.qualify(&names(&["invoices"])),
            Ok("postgres.app.public.invoices".to_owned())
        );
        let bigquery = connection(json!({"id": "c3", "type": "bigquery",
            "connectionDetails": {"bigquery": {"projectId": "acme-prod"}}}));
        assert_eq!(
            bigquery.qualify(&names(&["marts", "orders"])),
            Ok("bigquery.acme-prod.marts.orders".to_owned())
        );
        assert!(bigquery.qualify(&names(&["orders"])).is_err(), "no dataset");
        let databricks = connection(json!({"id": "c4", "type": "databricks",
            "connectionDetails": {"databricks": {"jdbcUrl": "jdbc:databricks://x"}}}));
        assert_eq!(
            (databricks.database.as_deref(), databricks.schema.as_deref()),
            (None, None)
        );
        let mysql = connection(json!({"id": "c5", "type": "cloudsql__mysql",
            "connectionDetails": {"cloudsql__mysql": {"database": "shop"}}}));
        assert_eq!(mysql.platform, "mysql");
        assert_eq!(
            mysql.qualify(&names(&["carts"])),
            Ok("mysql.shop.carts".to_owned())
        );
    }

    #[test]
    fn short_forms_unknown_types_and_odd_names_are_handled() {
        let short = connection(json!({"id": "c6", "name": "MotherDuck", "type": "motherduck"}));
        assert_eq!(short.platform, "duckdb");
        assert_eq!(
            short.qualify(&names(&["orders"])),
            Err(
                "`orders` leaves out the database, and the data connection `MotherDuck` has no \
                 default database"
                    .to_owned()
            )
        );
        let odd = connection(json!({"id": "c7", "type": "oracle"}));
        assert_eq!(odd.platform, "unknown");
        assert!(odd.qualify(&names(&["a", "b", "c"])).is_err());
        // A name with a dot or a space stays one segment.
        assert_eq!(
            short.qualify(&names(&["my db", "main", "t.x"])),
            Ok("duckdb.my%20db.main.t%2ex".to_owned())
        );
        assert_eq!(Connection::read(&json!({"name": "no id"})), None);
    }
}
