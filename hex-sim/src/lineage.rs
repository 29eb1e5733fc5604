//! What a workspace holds beyond its project list: data connections, each project's cells,
//! component imports, runs and queried tables, and the ground truth of what each project reads.
//!
//! Lineage is the part of the Hex API a connector can get subtly wrong (a CTE taken for a table,
//! a component's SQL counted for its importer, a name qualified with the wrong defaults), so the
//! simulator keeps, next to what it serves, the answer a correct connector must reach: every
//! cell records the warehouse tables its SQL really reads ([`Cell::reads`]), and
//! [`crate::Workspace::expected_lineage`] derives a project's [`ExpectedLineage`] from them.
//! Those fields are never served.
//!
//! The objects follow `shared/hex-api-lineage.md`. As in [`crate::model`], optional fields are
//! [`Field`]s and unknown keys are kept in `extra`, so a fixture is served as written.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::model::{Field, Workspace};
use crate::synthetic::content::SyntheticLineage;

/// The lineage side of a workspace (`Workspace.lineage`), empty by default.
///
/// In JSON: `{"enterprise": bool, "dataConnections": [...], "projects": {"<project id>":
/// {"cells": [...], "runs": [...], "queriedTables": [...]}}}`, every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lineage {
    /// Whether the workspace is on Hex's Enterprise plan: `GET /projects/{id}/queriedTables`
    /// answers only then, and is 403 otherwise.
    #[serde(default)]
    pub enterprise: bool,
    /// The workspace's data connections, oldest first (the order `sortBy=CREATED_AT` follows;
    /// the API object has no creation time).
    #[serde(default)]
    pub data_connections: Vec<DataConnection>,
    /// Content given explicitly, by project id: a fixture's, or an edit's. It takes precedence
    /// over the content a synthetic workspace generates; read content through
    /// [`Lineage::content`], which sees both.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectContent>,
    /// The content of a synthetic workspace's projects, generated on demand.
    #[serde(skip)]
    pub(crate) synthetic: Option<Arc<SyntheticLineage>>,
}

impl Lineage {
    /// The data connection with this id.
    pub fn data_connection(&self, id: &str) -> Option<&DataConnection> {
        self.data_connections
            .iter()
            .find(|connection| connection.id == id)
    }

    /// What a project holds: its explicit content, else the synthetic content generated for it;
    /// `None` when there is neither (the API then serves no cells, runs or queried tables).
    pub fn content(&self, project_id: &str) -> Option<Cow<'_, ProjectContent>> {
        if let Some(content) = self.projects.get(project_id) {
            return Some(Cow::Borrowed(content));
        }
        let synthetic = self.synthetic.as_ref()?;
        synthetic.content(project_id).map(Cow::Owned)
    }
}

/// Serialized with the generated content written out, so that a synthetic workspace saved as a
/// fixture serves the same cells when loaded again.
impl Serialize for Lineage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Written<'a> {
            enterprise: bool,
            data_connections: &'a [DataConnection],
            projects: BTreeMap<&'a str, Cow<'a, ProjectContent>>,
        }
        let mut projects: BTreeMap<&str, Cow<'_, ProjectContent>> = self
            .projects
            .iter()
            .map(|(id, content)| (id.as_str(), Cow::Borrowed(content)))
            .collect();
        if let Some(synthetic) = &self.synthetic {
            for id in synthetic.project_ids() {
                if !projects.contains_key(id)
                    && let Some(content) = synthetic.content(id)
                {
                    projects.insert(id, Cow::Owned(content));
                }
            }
        }
        Written {
            enterprise: self.enterprise,
            data_connections: &self.data_connections,
            projects,
        }
        .serialize(serializer)
    }
}

/// A data connection, as `GET /data-connections` returns it: the short form (`id`, `name`,
/// `type`, maybe `description`) or the full one with `connectionDetails` and settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataConnection {
    /// The connection's uuid.
    pub id: String,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<String>,
    /// `snowflake`, `bigquery`, `postgres`, ... as Hex reports it (JSON key `type`); an open set.
    #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
    pub kind: Field<String>,
    /// What the connection is for; often absent.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub description: Field<String>,
    /// `{"<type>": {...}}`, the readable settings (database, schema, ...); absent in the short
    /// form, null when Hex has none to show. Kept as JSON: each type has its own keys.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub connection_details: Field<Value>,
    /// `connectViaSsh`, `includeMagic`, `sharing` and any other field, served as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DataConnection {
    /// The type as Hex reports it, or `""`.
    pub fn kind(&self) -> &str {
        self.kind.get().map_or("", String::as_str)
    }

    /// The warehouse platform of the connection's type, by DataHub's table (`motherduck` is
    /// `duckdb`, `alloydb` is `postgres`, ...), or `unknown` for a type it does not know.
    pub fn platform(&self) -> &'static str {
        platform_of(self.kind())
    }

    /// The database and schema an unqualified table name resolves to, as DataHub reads them
    /// from `connectionDetails` (with its fallback schemas: `public` for postgres and redshift,
    /// `default` for databricks, once a database is known). `(None, None)` for the short form.
    pub fn defaults(&self) -> (Option<String>, Option<String>) {
        let kind = self.kind();
        let details = self
            .connection_details
            .get()
            .and_then(|details| details.get(kind));
        let text = |key: &str| {
            details
                .and_then(|details| details.get(key))
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        let (database, schema, fallback) = match self.platform() {
            "bigquery" => (text("projectId"), None, None),
            "snowflake" => (text("database"), text("schema"), None),
            "postgres" | "redshift" => (text("database"), text("schema"), Some("public")),
            "mssql" => (text("database"), text("schema"), Some("dbo")),
            "databricks" => (text("catalog"), text("schema"), Some("default")),
            "trino" => (text("catalog"), text("schema"), None),
            _ => (None, None, None),
        };
        let schema = schema.or_else(|| database.as_ref().and(fallback).map(str::to_owned));
        (database, schema)
    }
}

/// The platform of a Hex connection type (`shared/hex-api-lineage.md`, after DataHub's
/// `constants.py`), or `unknown`.
pub fn platform_of(kind: &str) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "athena" => "athena",
        "bigquery" => "bigquery",
        "clickhouse" => "clickhouse",
        "databricks" => "databricks",
        "postgres" | "alloydb" | "cloudsql__postgres" => "postgres",
        "redshift" => "redshift",
        "snowflake" => "snowflake",
        "trino" | "starburst" => "trino",
        "presto" => "presto",
        "mysql" | "cloudsql__mysql" => "mysql",
        "mariadb" => "mariadb",
        "motherduck" => "duckdb",
        "sqlserver" | "cloudsql__sqlserver" => "mssql",
        _ => "unknown",
    }
}

/// Everything the simulator serves about one project beyond its list object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectContent {
    /// The draft's own cells, in notebook order. `GET /cells` serves them with the SQL cells of
    /// each imported component inlined after its `COMPONENT_IMPORT` cell; the export does not.
    #[serde(default)]
    pub cells: Vec<Cell>,
    /// The run history, in any order: `GET /projects/{id}/runs` serves it newest first.
    #[serde(default)]
    pub runs: Vec<Run>,
    /// What `GET /projects/{id}/queriedTables` answers on an Enterprise workspace.
    #[serde(default)]
    pub queried_tables: Vec<QueriedTable>,
}

impl ProjectContent {
    /// The runs newest first: runs not started yet (no `startTime`) first, then by `startTime`
    /// descending, ties by run id, so the order is total.
    pub fn runs_newest_first(&self) -> Vec<&Run> {
        let mut runs: Vec<&Run> = self.runs.iter().collect();
        runs.sort_by(|a, b| {
            let key = |run: &Run| {
                (
                    run.start_time.get().is_none(),
                    run.start_time.get().cloned(),
                )
            };
            key(b).cmp(&key(a)).then_with(|| b.run_id.cmp(&a.run_id))
        });
        runs
    }
}

/// One cell of a project's draft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// The cell's uuid, which changes with every version of the project.
    pub id: String,
    /// The uuid that stays the same across versions.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub static_id: Field<String>,
    /// The label shown in the notebook; often null.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub label: Field<String>,
    /// `SQL`, `CODE`, `MARKDOWN`, `COMPONENT_IMPORT`, ... (an open set).
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub cell_type: Field<String>,
    /// The connection a SQL cell queries; null for dataframe SQL and for non-SQL cells.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub data_connection_id: Field<String>,
    /// The cell's source, under the key of its kind.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub contents: Field<CellContents>,
    /// For a `COMPONENT_IMPORT` cell, the component it imports. Only the export shows it: the
    /// cells API strips it, as DataHub reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentRef>,
    /// Ground truth, never served: the warehouse tables this cell's own SQL reads, as
    /// `<platform>.<database>.<schema>.<table>`, lowercase. Empty for dataframe SQL, code,
    /// markdown, import cells and SQL that does not parse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    /// Ground truth, never served: the cell's SQL does not parse, so a connector should report
    /// a warning and go on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unparsable: bool,
    /// Fields this model does not know, served as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Cell {
    /// The cell type, or `""`.
    pub fn cell_type(&self) -> &str {
        self.cell_type.get().map_or("", String::as_str)
    }

    /// The SQL of a SQL cell (`contents.sqlCell.source`).
    pub fn sql_source(&self) -> Option<&str> {
        let sql = self.contents.get()?.sql_cell.get()?;
        sql.source.get().map(String::as_str)
    }

    /// The source of a code or markdown cell.
    pub fn text_source(&self) -> Option<&str> {
        let contents = self.contents.get()?;
        let cell = contents
            .code_cell
            .get()
            .or_else(|| contents.markdown_cell.get())?;
        cell.source.get().map(String::as_str)
    }

    /// Whether this is SQL run against a warehouse: a SQL cell with a data connection.
    pub fn is_warehouse_sql(&self) -> bool {
        self.cell_type() == "SQL" && self.data_connection_id.get().is_some()
    }
}

/// `contents`: one key per kind of source, the others null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellContents {
    /// A markdown cell's text.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub markdown_cell: Field<SourceContents>,
    /// A SQL cell's query and the dataframe it fills.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub sql_cell: Field<SqlContents>,
    /// A code (Python) cell's source.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub code_cell: Field<SourceContents>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{source}` of a markdown or code cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceContents {
    /// The text.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub source: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{outputDataframe, source}` of a SQL cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqlContents {
    /// The name of the dataframe the query fills, which later dataframe SQL may read.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub output_dataframe: Field<String>,
    /// The query, possibly with Jinja.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub source: Field<String>,
    /// Fields this model does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Which component, at which version, a `COMPONENT_IMPORT` cell brings in (the export's
/// `config.component`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRef {
    /// The component's project id.
    pub id: String,
    /// The component version imported, from 1.
    pub version: u64,
}

/// One run of a published project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The run's uuid.
    pub run_id: String,
    /// The published version that ran, from 1.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub project_version: Field<u64>,
    /// A link to the run in the Hex app.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub run_url: Field<String>,
    /// `API`, `SCHEDULED` or `APP_REFRESH`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub run_trigger: Field<String>,
    /// `PENDING`, `RUNNING`, `ERRORED`, `COMPLETED`, `KILLED` or `UNABLE_TO_ALLOCATE_KERNEL`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub status: Field<String>,
    /// When it started; null while pending.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub start_time: Field<String>,
    /// When it ended; null until it has.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub end_time: Field<String>,
    /// How long it took, in milliseconds; null until it ended.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub elapsed_time: Field<u64>,
    /// `traceId`, `stateEvents`, `notifications` and any other field, served as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `GET /projects/{id}/queriedTables`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueriedTable {
    /// The connection the table was queried through.
    pub data_connection_id: String,
    /// That connection's name.
    pub data_connection_name: String,
    /// The table as Hex reports it: `table`, `schema.table` or `database.schema.table`, in the
    /// warehouse's own case.
    pub table_name: String,
}

/// What a correct connector reports for one project: the ground truth e2e tests compare against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedLineage {
    /// The warehouse tables the project's own SQL reads, `<platform>.<database>.<schema>.<table>`,
    /// lowercase: not its components' SQL, not dataframe SQL, not CTE or temporary tables, not
    /// names in comments, strings, Python or Jinja, not SQL that does not parse.
    pub tables: BTreeSet<String>,
    /// The ids of the data connections the project's own SQL cells query (parsable or not).
    pub data_connections: BTreeSet<String>,
    /// The ids of the components the project imports.
    pub components: BTreeSet<String>,
    /// How many of its own warehouse SQL cells do not parse (each worth a warning).
    pub unparsable_cells: usize,
    /// The run `GET /projects/{id}/runs?limit=1` returns, if any.
    pub latest_run: Option<Run>,
}

impl Workspace {
    /// The ground truth for one project or component, derived from its own cells and runs;
    /// `None` when the workspace has no project with this id.
    ///
    /// A component's own SQL counts for the component; a project that imports it gets the
    /// component in `components`, not its tables.
    pub fn expected_lineage(&self, project_id: &str) -> Option<ExpectedLineage> {
        if !self.projects.iter().any(|project| project.id == project_id) {
            return None;
        }
        let Some(content) = self.lineage.content(project_id) else {
            return Some(ExpectedLineage::default());
        };
        let mut expected = ExpectedLineage::default();
        for cell in &content.cells {
            if let Some(component) = &cell.component {
                expected.components.insert(component.id.clone());
            }
            if cell.is_warehouse_sql() {
                if let Some(connection) = cell.data_connection_id.get() {
                    expected.data_connections.insert(connection.clone());
                }
                if cell.unparsable {
                    expected.unparsable_cells += 1;
                } else {
                    expected.tables.extend(cell.reads.iter().cloned());
                }
            }
        }
        expected.latest_run = content
            .runs_newest_first()
            .first()
            .map(|run| (*run).clone());
        Some(expected)
    }
}
