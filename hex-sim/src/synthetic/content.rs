//! Synthetic lineage: data connections, cells whose SQL is written from templates so that the
//! tables it reads are known by construction, runs, queried tables, and edits between two runs.
//!
//! Every trap a lineage parser meets in real notebooks is here on purpose: CTEs named like real
//! tables, joins and subqueries, quoted identifiers in the warehouse's own quoting, bare and
//! schema-only names that only the connection's defaults complete, table names inside comments,
//! string literals and Python, Jinja parameters, `sqlsafe` pastes and `{% if %}` blocks, temporary
//! tables, dataframe SQL, a few statements that do not parse, and component imports whose SQL is
//! inlined into the importer's cells. Each cell records the tables it really reads
//! ([`Cell::reads`]); the ground truth is derived from those records.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::SplitMix64;
use crate::lineage::{
    Cell, CellContents, ComponentRef, DataConnection, Lineage, ProjectContent, QueriedTable, Run,
    SourceContents, SqlContents,
};
use crate::model::{Field, Project, Schedule, Workspace};
use crate::timestamp::{REFERENCE_MILLIS, format_millis, parse_millis};

/// Mixed into the seeds of lineage streams, so that they never repeat a project's own stream.
const LINEAGE_SALT: u64 = 0x6c69_6e65_6167_6521;

/// Mixed into the seeds of edit streams.
const EDIT_SALT: u64 = 0x6564_6974_7321_2121;

/// One minute, in milliseconds.
const MINUTE_MILLIS: i64 = 60_000;

/// Warehouse table names, none of them an SQL keyword. `orders` and `customers` are also the
/// names the CTE templates use, so a parser that takes a CTE for a table reports a real-looking
/// table that the ground truth does not have.
const TABLES: &[&str] = &[
    "fct_orders",
    "dim_customers",
    "orders",
    "customers",
    "fct_payments",
    "dim_products",
    "subscriptions",
    "invoices",
    "fct_sessions",
    "page_views",
    "events",
    "ad_spend",
    "marketing_touches",
    "support_tickets",
    "churn_scores",
    "revenue_daily",
    "inventory_levels",
    "accounts",
    "plans",
    "dim_dates",
];

/// How one platform names and quotes things.
struct Flavor {
    /// Databases (catalogs, BigQuery projects) its tables live in, besides the default one.
    databases: &'static [&'static str],
    /// Schemas (datasets): two for the first database, two more for the second.
    schemas: &'static [&'static str; 4],
    /// Whether the warehouse stores unquoted names in upper case (Snowflake).
    upper: bool,
    /// The identifier quote.
    quote: char,
    /// Whether a query can name only its own database (Postgres, Redshift).
    one_database: bool,
}

fn flavor(platform: &str) -> Flavor {
    let flavor = |databases, schemas, upper, quote, one_database| Flavor {
        databases,
        schemas,
        upper,
        quote,
        one_database,
    };
    match platform {
        "snowflake" => flavor(
            &["ANALYTICS", "RAW"],
            &["MARTS", "STAGING", "SHOPIFY", "STRIPE"],
            true,
            '"',
            false,
        ),
        "bigquery" => flavor(
            &["acme-analytics-prod", "acme-data-lake"],
            &["marts", "staging", "ga4_export", "stripe"],
            false,
            '`',
            false,
        ),
        "postgres" => flavor(
            &["app"],
            &["public", "billing", "analytics", "audit"],
            false,
            '"',
            true,
        ),
        "redshift" => flavor(
            &["analytics"],
            &["public", "finance", "marketing", "ops"],
            false,
            '"',
            true,
        ),
        "databricks" => flavor(
            &["main", "lakehouse"],
            &["gold", "silver", "bronze", "ml"],
            false,
            '`',
            false,
        ),
        "duckdb" => flavor(
            &["acme_md", "sample_data"],
            &["main", "analytics", "raw_events", "sandbox"],
            false,
            '"',
            false,
        ),
        _ => flavor(
            &["warehouse"],
            &["public", "analytics", "staging", "raw"],
            false,
            '"',
            true,
        ),
    }
}

/// A warehouse table, in the warehouse's own case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableName {
    database: String,
    schema: String,
    table: String,
}

/// One data connection as the generator sees it: the tables behind it and how to name them.
#[derive(Debug, Clone, PartialEq)]
struct Warehouse {
    id: String,
    name: String,
    platform: &'static str,
    quote: char,
    upper: bool,
    database: Option<String>,
    schema: Option<String>,
    tables: Vec<TableName>,
}

impl Warehouse {
    /// The warehouse behind any connection: its defaults come from `connectionDetails` (as a
    /// connector reads them), its tables from the platform's flavor, so a fixture's connections
    /// get SQL too.
    fn of(connection: &DataConnection) -> Warehouse {
        let platform = connection.platform();
        let flavor = flavor(platform);
        let (database, schema) = connection.defaults();
        let case = |name: &str| {
            if flavor.upper {
                name.to_uppercase()
            } else {
                name.to_owned()
            }
        };
        let mut databases: Vec<String> = Vec::new();
        for name in database
            .iter()
            .cloned()
            .chain(flavor.databases.iter().map(|d| case(d)))
        {
            if !databases
                .iter()
                .any(|known| known.eq_ignore_ascii_case(&name))
            {
                databases.push(name);
            }
        }
        databases.truncate(if flavor.one_database { 1 } else { 2 });
        let mut tables = Vec::new();
        for (d, database_name) in databases.iter().enumerate() {
            let pool = if d == 0 {
                &flavor.schemas[..2]
            } else {
                &flavor.schemas[2..]
            };
            let mut schemas: Vec<String> = Vec::new();
            let default_schema = schema.as_ref().filter(|_| d == 0).cloned().into_iter();
            for name in default_schema.chain(pool.iter().map(|s| case(s))) {
                if !schemas
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(&name))
                {
                    schemas.push(name);
                }
            }
            for (s, schema_name) in schemas.iter().enumerate() {
                for t in 0..5 {
                    tables.push(TableName {
                        database: database_name.clone(),
                        schema: schema_name.clone(),
                        table: case(TABLES[((d * 3 + s) * 5 + t) % TABLES.len()]),
                    });
                }
            }
        }
        Warehouse {
            id: connection.id.clone(),
            name: connection.name.get().cloned().unwrap_or_default(),
            platform,
            quote: flavor.quote,
            upper: flavor.upper,
            database,
            schema,
            tables,
        }
    }

    /// The ground-truth name of a table: `<platform>.<database>.<schema>.<table>`, lowercase.
    fn truth(&self, table: &TableName) -> String {
        format!(
            "{}.{}.{}.{}",
            self.platform, table.database, table.schema, table.table
        )
        .to_lowercase()
    }

    /// How many trailing parts of `table`'s name the connection's defaults let a query leave
    /// out: 2 when the default database and schema are the table's, 1 for the database alone.
    fn omissible(&self, table: &TableName) -> usize {
        let same = |default: &Option<String>, part: &str| {
            default
                .as_deref()
                .is_some_and(|default| default.eq_ignore_ascii_case(part))
        };
        match (
            same(&self.database, &table.database),
            same(&self.schema, &table.schema),
        ) {
            (true, true) => 2,
            (true, false) => 1,
            _ => 0,
        }
    }

    /// A reference to `table` as an analyst might write it: bare, schema-only or full as the
    /// defaults allow, each part maybe quoted (in the warehouse's case) or in any case unquoted.
    fn reference(&self, rng: &mut SplitMix64, table: &TableName) -> String {
        self.reference_avoiding(rng, table, &[])
    }

    /// Like [`Self::reference`], but never bare when the table's name is one of `shadowed` (the
    /// CTE names of the query): whether a bare name means the CTE or the table then depends on
    /// where it stands, which would make the ground truth a matter of scoping rules.
    fn reference_avoiding(
        &self,
        rng: &mut SplitMix64,
        table: &TableName,
        shadowed: &[&str],
    ) -> String {
        let mut omissible = self.omissible(table);
        if shadowed
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&table.table))
        {
            omissible = omissible.min(1);
        }
        let omit = if omissible == 2 && rng.percent(45) {
            2
        } else if omissible >= 1 && rng.percent(50) {
            1
        } else {
            0
        };
        let parts = [&table.database, &table.schema, &table.table];
        parts[omit..]
            .iter()
            .map(|part| self.identifier(rng, part))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn identifier(&self, rng: &mut SplitMix64, part: &str) -> String {
        let plain = part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !part.starts_with(|c: char| c.is_ascii_digit());
        if !plain || rng.percent(20) {
            format!("{q}{part}{q}", q = self.quote)
        } else {
            match rng.below(5) {
                0 => part.to_uppercase(),
                1 => capitalized(part),
                _ if self.upper => part.to_lowercase(),
                _ => part.to_owned(),
            }
        }
    }

    /// How Hex's queried-tables endpoint names a table: at a depth the defaults make
    /// unambiguous, in the warehouse's case.
    fn queried_name(&self, rng: &mut SplitMix64, truth: &str) -> Option<String> {
        let parts: Vec<&str> = truth.splitn(4, '.').skip(1).collect();
        let [database, schema, table] = parts[..] else {
            return None;
        };
        let case = |part: &str| {
            if self.upper {
                part.to_uppercase()
            } else {
                part.to_owned()
            }
        };
        let table = TableName {
            database: case(database),
            schema: case(schema),
            table: case(table),
        };
        let omit = rng.below(self.omissible(&table) as u64 + 1) as usize;
        let parts = [&table.database, &table.schema, &table.table];
        Some(
            parts[omit..]
                .iter()
                .map(|part| part.as_str())
                .collect::<Vec<_>>()
                .join("."),
        )
    }
}

fn capitalized(part: &str) -> String {
    part.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// A SQL cell's text and what it really reads.
struct Sql {
    text: String,
    reads: Vec<String>,
    unparsable: bool,
}

/// Queries read by their comments, strings, Python or Jinja: table names that must not count.
const DECOYS: &[&str] = &[
    "legacy.orders_v1",
    "raw.customers_backup",
    "analytics.fct_orders_snapshot",
    "staging.tmp_refunds",
    "finance.revenue_2019",
];

/// Writes one warehouse query on `warehouse`, from a template chosen at random.
fn warehouse_sql(rng: &mut SplitMix64, warehouse: &Warehouse) -> Sql {
    // Templates that create temporary tables are kept to platforms whose SQL has them plainly.
    let temporary = matches!(
        warehouse.platform,
        "snowflake" | "postgres" | "redshift" | "duckdb"
    );
    let template = loop {
        let template = rng.below(11);
        if template != 9 || temporary {
            break template;
        }
    };
    let count = match template {
        0 | 4 | 5 | 6 | 7 => 1,
        1 | 2 | 9 | 10 => 2,
        _ => 3,
    };
    let tables: Vec<TableName> = rng
        .pick_distinct(&warehouse.tables, count)
        .into_iter()
        .cloned()
        .collect();
    // The CTE template names its CTEs after real tables, a trap for parsers that resolve names
    // without their scope.
    let shadowed: &[&str] = if template == 2 {
        &["orders", "customers"]
    } else {
        &[]
    };
    let refs: Vec<String> = tables
        .iter()
        .map(|table| warehouse.reference_avoiding(rng, table, shadowed))
        .collect();
    let r = |n: usize| refs[n.min(refs.len() - 1)].as_str();
    let decoy = *rng.pick(DECOYS);
    let limit = 100 * (rng.below(50) + 1);
    let text = match template {
        0 => format!("SELECT *\nFROM {}\nLIMIT {limit}", r(0)),
        1 => format!(
            "-- Orders with their customers; the old version read {decoy}\n\
             SELECT o.order_id, o.amount, c.region\n\
             FROM {} AS o\n\
             JOIN {} AS c ON o.customer_id = c.customer_id\n\
             WHERE o.status <> 'cancelled' AND c.source <> '{decoy}'",
            r(0),
            r(1)
        ),
        2 => format!(
            "WITH orders AS (\n    SELECT customer_id, SUM(amount) AS total\n    FROM {}\n    GROUP BY customer_id\n),\n\
             customers AS (\n    SELECT customer_id, total, RANK() OVER (ORDER BY total DESC) AS position\n    FROM orders\n)\n\
             SELECT customers.customer_id, customers.total, d.name\n\
             FROM customers\n\
             LEFT JOIN {} AS d ON d.customer_id = customers.customer_id\n\
             WHERE customers.position <= {limit}",
            r(0),
            r(1)
        ),
        3 => format!(
            "SELECT region, n\n\
             FROM (\n    SELECT c.region, COUNT(*) AS n\n    FROM {} AS c\n    WHERE c.customer_id IN (SELECT customer_id FROM {} WHERE amount > 100)\n    GROUP BY c.region\n) AS by_region\n\
             WHERE n > (SELECT AVG(cnt) FROM (SELECT customer_id, COUNT(*) AS cnt FROM {} GROUP BY customer_id) AS per_customer)\n\
             ORDER BY n DESC",
            r(0),
            r(1),
            r(2)
        ),
        4 => format!(
            "SELECT CAST(created_at AS DATE) AS day, SUM(amount) AS revenue\n\
             FROM {}\n\
             WHERE created_at >= {{{{ start_date }}}}\n  AND created_at < {{{{end_date}}}}\n\
             {{% if region != \"All\" %}}\n  AND region = {{{{ region }}}}\n{{% endif %}}\n\
             GROUP BY 1\nORDER BY 1",
            r(0)
        ),
        5 => format!(
            "SELECT {{{{ metric_column | sqlsafe }}}} AS metric, region\n\
             FROM {}\n\
             WHERE region IN ({{{{ regions | array }}}})\n\
             {{% for flag in flags %}}  AND {{{{ flag | sqlsafe }}}} = TRUE\n{{% endfor %}}",
            r(0)
        ),
        6 => format!(
            "/* Names built by Jinja cannot be known before the query runs. */\n\
             SELECT e.event_name, a.plan\n\
             FROM {{{{ events_schema | sqlsafe }}}}.events AS e\n\
             JOIN {} AS a ON a.account_id = e.account_id",
            r(0)
        ),
        7 => format!(
            "/* Data quality check.\n   Compare against {decoy} before trusting it. */\n\
             SELECT '{decoy}' AS checked_table, COUNT(*) AS row_count\n\
             FROM {}\n\
             WHERE note NOT LIKE '%FROM {decoy}%' -- not: SELECT * FROM {decoy}",
            r(0)
        ),
        8 => format!(
            "SELECT 'web' AS channel, session_id FROM {}\n\
             UNION ALL\n\
             SELECT 'app' AS channel, session_id FROM {}\n\
             UNION ALL\n\
             SELECT 'api' AS channel, session_id FROM {} WHERE session_id IS NOT NULL",
            r(0),
            r(1),
            r(2)
        ),
        9 => format!(
            "CREATE TEMPORARY TABLE recent_signups AS\n\
             SELECT customer_id, created_at FROM {} WHERE created_at > '2025-01-01';\n\n\
             SELECT s.customer_id, p.plan_name\n\
             FROM recent_signups AS s\n\
             JOIN {} AS p ON p.customer_id = s.customer_id;",
            r(0),
            r(1)
        ),
        _ => format!(
            "SELECT o.*, p.amount AS paid\n\
             FROM {} AS o\n\
             LEFT JOIN {} AS p\n  ON p.order_id = o.order_id\n \
             AND p.status = 'settled'\n\
             WHERE EXISTS (SELECT 1 FROM {} AS r WHERE r.order_id = o.order_id)",
            r(0),
            r(1),
            r(2)
        ),
    };
    Sql {
        text,
        reads: tables.iter().map(|table| warehouse.truth(table)).collect(),
        unparsable: false,
    }
}

/// Writes a query that no SQL parser accepts.
fn broken_sql(rng: &mut SplitMix64, warehouse: &Warehouse) -> Sql {
    let table = rng.pick(&warehouse.tables).clone();
    let r = warehouse.reference(rng, &table);
    let text = match rng.below(3) {
        0 => format!("SELECT customer_id, SUM(amount\nFROM {r}\nGROUP BY customer_id"),
        1 => format!("SELEC *\nFROM {r}"),
        _ => format!("SELECT *\nFROM {r}\nWHERE AND status = 'open'"),
    };
    Sql {
        text,
        reads: Vec::new(),
        unparsable: true,
    }
}

const SQL_LABELS: &[&str] = &[
    "Orders",
    "Revenue by region",
    "Customer base",
    "Weekly actives",
    "Raw pull",
    "Données ventes",
];

const DATAFRAME_NAMES: &[&str] = &["orders", "customers", "revenue", "sessions", "accounts"];

const MARKDOWN: &[&str] = &[
    "## How to read this\nNumbers come from the warehouse and refresh daily.",
    "# Revenue review\nAsk in #analytics before changing any query.",
    "Figures exclude test accounts. Source: `{decoy}` (deprecated).",
    "### Notes 📝\n- filters apply to every chart\n- times are UTC",
];

fn contents(
    markdown: Option<String>,
    sql: Option<(String, String)>,
    code: Option<String>,
) -> CellContents {
    let source = |text: String| SourceContents {
        source: text.into(),
        extra: Map::new(),
    };
    CellContents {
        markdown_cell: Field::nullable(markdown.map(source)),
        sql_cell: Field::nullable(sql.map(|(output, text)| SqlContents {
            output_dataframe: output.into(),
            source: text.into(),
            extra: Map::new(),
        })),
        code_cell: Field::nullable(code.map(source)),
        extra: Map::new(),
    }
}

fn cell(rng: &mut SplitMix64, cell_type: &str, label: Option<String>) -> Cell {
    Cell {
        id: rng.uuid(),
        static_id: rng.uuid().into(),
        label: Field::nullable(label),
        cell_type: cell_type.to_owned().into(),
        data_connection_id: Field::Null,
        ..Cell::default()
    }
}

fn sql_cell(rng: &mut SplitMix64, warehouse: &Warehouse, sql: Sql, output: String) -> Cell {
    let label = rng.percent(60).then(|| (*rng.pick(SQL_LABELS)).to_owned());
    Cell {
        data_connection_id: warehouse.id.clone().into(),
        contents: contents(None, Some((output, sql.text)), None).into(),
        reads: sql.reads,
        unparsable: sql.unparsable,
        ..cell(rng, "SQL", label)
    }
}

fn markdown_cell(rng: &mut SplitMix64) -> Cell {
    let template = *rng.pick(MARKDOWN);
    let decoy = *rng.pick(DECOYS);
    let text = template.replace("{decoy}", decoy);
    Cell {
        contents: contents(Some(text), None, None).into(),
        ..cell(rng, "MARKDOWN", None)
    }
}

fn dataframe_sql_cell(rng: &mut SplitMix64, input: &str, output: String) -> Cell {
    let text = format!(
        "SELECT region, SUM(amount) AS revenue\nFROM {input}\nGROUP BY region\nORDER BY revenue DESC"
    );
    Cell {
        contents: contents(None, Some((output, text)), None).into(),
        ..cell(rng, "SQL", Some("Dataframe SQL".to_owned()))
    }
}

fn code_cell(rng: &mut SplitMix64, input: &str, warehouse: &Warehouse) -> Cell {
    let text = if rng.percent(35) {
        // hextoolkit queries are invisible to lineage: DataHub gets none from Python either.
        let table = rng.pick(&warehouse.tables);
        format!(
            "import hextoolkit\n\nconn = hextoolkit.get_data_connection(\"{}\")\nextra = conn.query(\"SELECT * FROM {}.{}\")",
            warehouse.name, table.schema, table.table
        )
    } else {
        format!(
            "import pandas as pd\n\n# was read from {}\ndf = {input}.copy()\ndf[\"share\"] = df[\"revenue\"] / df[\"revenue\"].sum()\ndf.head()",
            rng.pick(DECOYS)
        )
    };
    Cell {
        contents: contents(None, None, Some(text)).into(),
        ..cell(rng, "CODE", None)
    }
}

fn import_cell(rng: &mut SplitMix64, component: ComponentRef) -> Cell {
    Cell {
        contents: contents(None, None, None).into(),
        component: Some(component),
        ..cell(
            rng,
            "COMPONENT_IMPORT",
            Some("Imported component".to_owned()),
        )
    }
}

/// Data connections of every kind the brief names: full forms with `connectionDetails`,
/// short forms without, a schema-less Snowflake, and `motherduck`, a type outside Hex's enum.
fn synthetic_connections(rng: &mut SplitMix64) -> Vec<DataConnection> {
    let full = |rng: &mut SplitMix64,
                name: &str,
                kind: &str,
                details: Value,
                description: Option<&str>| {
        let mut extra = Map::new();
        extra.insert("connectViaSsh".to_owned(), json!(false));
        extra.insert("includeMagic".to_owned(), json!(true));
        extra.insert("allowWritebackCells".to_owned(), json!(rng.percent(30)));
        extra.insert("schemaRefreshAccess".to_owned(), json!("ADMINS"));
        extra.insert(
            "sharing".to_owned(),
            json!({"workspace": {"public": "NONE", "guests": "NONE", "members": "QUERY"}, "groups": []}),
        );
        let mut keyed = Map::new();
        keyed.insert(kind.to_owned(), details);
        DataConnection {
            id: rng.uuid(),
            name: name.to_owned().into(),
            kind: kind.to_owned().into(),
            description: description.map_or(Field::Absent, |text| Field::Present(text.to_owned())),
            connection_details: Field::Present(Value::Object(keyed)),
            extra,
        }
    };
    let short = |rng: &mut SplitMix64, name: &str, kind: &str| DataConnection {
        id: rng.uuid(),
        name: name.to_owned().into(),
        kind: kind.to_owned().into(),
        ..DataConnection::default()
    };
    vec![
        full(
            rng,
            "Snowflake (prod)",
            "snowflake",
            json!({"accountName": "acme-xy12345", "warehouse": "REPORTING_WH", "database": "ANALYTICS",
                   "schema": "MARTS", "role": "REPORTER", "username": "HEX_SERVICE"}),
            Some("The production warehouse: marts and staging."),
        ),
        full(
            rng,
            "BigQuery",
            "bigquery",
            json!({"projectId": "acme-analytics-prod", "enableStorageApi": true, "enableDriveAccess": false}),
            None,
        ),
        full(
            rng,
            "App replica (Postgres)",
            "postgres",
            json!({"hostname": "replica.db.acme.example", "port": 5432, "database": "app", "username": "hex_readonly"}),
            Some("Read replica of the application database."),
        ),
        full(
            rng,
            "Redshift finance",
            "redshift",
            json!({"host": "finance.abc123.eu-west-1.redshift.amazonaws.com", "port": 5439, "database": "analytics",
                   "username": "hex"}),
            None,
        ),
        full(
            rng,
            "Databricks lakehouse",
            "databricks",
            json!({"jdbcUrl": "jdbc:databricks://adb-1234.5.azuredatabricks.net:443/default;transportMode=http;ssl=1"}),
            Some("Unity Catalog; qualify every table."),
        ),
        full(
            rng,
            "Snowflake raw",
            "snowflake",
            json!({"accountName": "acme-xy12345", "warehouse": "LOADING_WH", "database": "RAW", "schema": null,
                   "role": null, "username": "HEX_SERVICE"}),
            None,
        ),
        short(rng, "MotherDuck", "motherduck"),
        short(rng, "BigQuery sandbox", "bigquery"),
    ]
}

/// The content of a synthetic workspace's projects, generated when asked for.
///
/// Generating every notebook up front costs seconds and hundreds of megabytes at the 100k
/// projects the benchmarks serve, while a connector asks for the cells of few of them. So the
/// workspace keeps, per project, only the seed of its content and the few project facts the
/// content depends on, and [`crate::Lineage::content`] grows the content from them on demand:
/// the same seed always grows the same content.
#[derive(Debug, PartialEq)]
pub(crate) struct SyntheticLineage {
    workspace_id: String,
    warehouses: Vec<Warehouse>,
    seeds: HashMap<String, Seed>,
    /// Every component, in the order the projects were generated.
    components: Vec<ComponentRef>,
}

/// What one project's content grows from.
#[derive(Debug, Clone, PartialEq)]
struct Seed {
    stream: u64,
    /// How many components were generated before this project: the ones it may import.
    components_before: usize,
    is_component: bool,
    /// `lastPublishedAt`, in epoch milliseconds: only published projects have runs.
    published: Option<i64>,
    scheduled: bool,
}

impl SyntheticLineage {
    /// The content of a synthetic project, or `None` for an id the workspace never generated.
    pub(crate) fn content(&self, project_id: &str) -> Option<ProjectContent> {
        let seed = self.seeds.get(project_id)?;
        let mut rng = SplitMix64::new(seed.stream ^ LINEAGE_SALT);
        Some(if seed.is_component {
            // The version is the stream's first draw, made when the component was registered.
            rng.next_u64();
            self.component_content(&mut rng)
        } else {
            self.project_content(&mut rng, project_id, seed)
        })
    }

    /// The ids of every project with synthetic content.
    pub(crate) fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.seeds.keys().map(String::as_str)
    }

    /// Picks a connection, most projects on the main warehouses.
    fn pick_warehouse(&self, rng: &mut SplitMix64) -> &Warehouse {
        let weights = [30, 14, 12, 10, 10, 8, 8, 8];
        let mut roll = rng.below(weights.iter().sum());
        for (warehouse, weight) in self.warehouses.iter().zip(weights) {
            if roll < weight {
                return warehouse;
            }
            roll -= weight;
        }
        &self.warehouses[0]
    }

    fn component_content(&self, rng: &mut SplitMix64) -> ProjectContent {
        let warehouse = self.pick_warehouse(rng);
        let mut cells = Vec::new();
        if rng.percent(40) {
            cells.push(markdown_cell(rng));
        }
        for n in 0..=rng.below(2) {
            let sql = warehouse_sql(rng, warehouse);
            cells.push(sql_cell(
                rng,
                warehouse,
                sql,
                format!("component_df_{}", n + 1),
            ));
        }
        ProjectContent {
            cells,
            ..ProjectContent::default()
        }
    }

    fn project_content(
        &self,
        rng: &mut SplitMix64,
        project_id: &str,
        seed: &Seed,
    ) -> ProjectContent {
        if rng.percent(4) {
            // An empty notebook: no cells, though it may still have been published and run.
            return self.finish_content(rng, project_id, seed, Vec::new());
        }
        let warehouse = self.pick_warehouse(rng);
        let mut cells = Vec::new();
        if rng.percent(60) {
            cells.push(markdown_cell(rng));
        }
        let mut outputs: Vec<String> = Vec::new();
        let output = |rng: &mut SplitMix64, outputs: &mut Vec<String>| {
            let name = if rng.percent(50) {
                (*rng.pick(DATAFRAME_NAMES)).to_owned()
            } else if outputs.is_empty() {
                "dataframe".to_owned()
            } else {
                format!("dataframe_{}", outputs.len() + 1)
            };
            outputs.push(name.clone());
            name
        };
        let broken = rng.percent(6).then(|| rng.below(4));
        for n in 0..=rng.below(4) {
            let sql = if broken == Some(n) {
                broken_sql(rng, warehouse)
            } else {
                warehouse_sql(rng, warehouse)
            };
            let name = output(rng, &mut outputs);
            cells.push(sql_cell(rng, warehouse, sql, name));
        }
        if rng.percent(15) {
            let other = self.pick_warehouse(rng);
            let sql = warehouse_sql(rng, other);
            let name = output(rng, &mut outputs);
            cells.push(sql_cell(rng, other, sql, name));
        }
        let components = &self.components[..seed.components_before];
        if !components.is_empty() && rng.percent(20) {
            let imports = if rng.percent(15) { 2 } else { 1 };
            for component in rng.pick_distinct(components, imports) {
                cells.push(import_cell(rng, component.clone()));
            }
        }
        if rng.percent(30) {
            let input = rng.pick(&outputs).clone();
            let name = output(rng, &mut outputs);
            cells.push(dataframe_sql_cell(rng, &input, name));
        }
        if rng.percent(40) {
            let input = rng.pick(&outputs).clone();
            cells.push(code_cell(rng, &input, warehouse));
        }
        self.finish_content(rng, project_id, seed, cells)
    }

    /// Adds the runs and queried tables of a published project.
    fn finish_content(
        &self,
        rng: &mut SplitMix64,
        project_id: &str,
        seed: &Seed,
        cells: Vec<Cell>,
    ) -> ProjectContent {
        let mut content = ProjectContent {
            cells,
            ..ProjectContent::default()
        };
        let Some(published) = seed.published else {
            return content;
        };
        let count = match rng.below(100) {
            0..30 => 1,
            30..60 => 2,
            60..85 => 3,
            _ => 5,
        };
        let span = (REFERENCE_MILLIS - published).max(count * MINUTE_MILLIS);
        let mut starts: Vec<i64> = (0..count)
            .map(|_| published + rng.below(span as u64) as i64)
            .collect();
        starts.sort_unstable();
        for (n, start) in starts.into_iter().enumerate() {
            let newest = n as i64 == count - 1;
            let status = match rng.below(100) {
                0..2 if newest => "PENDING",
                2..5 if newest => "RUNNING",
                0..72 => "COMPLETED",
                72..87 => "ERRORED",
                87..93 => "KILLED",
                _ => "UNABLE_TO_ALLOCATE_KERNEL",
            };
            let trigger = if seed.scheduled && rng.percent(70) {
                "SCHEDULED"
            } else if rng.percent(70) {
                "APP_REFRESH"
            } else {
                "API"
            };
            let plan = RunPlan {
                version: n as u64 + 1,
                start,
                status,
                trigger,
                ends_by: REFERENCE_MILLIS,
            };
            content
                .runs
                .push(new_run(rng, &self.workspace_id, project_id, &plan));
        }
        content.queried_tables = queried_tables(rng, &content.cells, &self.warehouses);
        content
    }
}

/// Builds the lineage of a synthetic workspace, one project at a time, in the order the
/// projects are generated (so a smaller workspace's lineage is a part of a larger one's).
pub(super) struct Builder {
    connections: Vec<DataConnection>,
    lineage: SyntheticLineage,
}

impl Builder {
    pub(super) fn new(seed: u64, workspace_id: &str) -> Builder {
        let connections = synthetic_connections(&mut SplitMix64::new(seed ^ LINEAGE_SALT));
        Builder {
            lineage: SyntheticLineage {
                workspace_id: workspace_id.to_owned(),
                warehouses: connections.iter().map(Warehouse::of).collect(),
                seeds: HashMap::new(),
                components: Vec::new(),
            },
            connections,
        }
    }

    /// Registers `project`, whose content grows from `stream`.
    pub(super) fn add(&mut self, stream: u64, project: &Project) {
        let is_component = project.is_component();
        if is_component {
            let version = SplitMix64::new(stream ^ LINEAGE_SALT).next_u64() % 5 + 1;
            self.lineage.components.push(ComponentRef {
                id: project.id.clone(),
                version,
            });
        }
        let seed = Seed {
            stream,
            components_before: self.lineage.components.len() - usize::from(is_component),
            is_component,
            published: project
                .last_published_at
                .get()
                .and_then(|at| parse_millis(at)),
            scheduled: has_enabled_schedule(project),
        };
        self.lineage.seeds.insert(project.id.clone(), seed);
    }

    pub(super) fn finish(self) -> Lineage {
        Lineage {
            enterprise: false,
            data_connections: self.connections,
            projects: BTreeMap::new(),
            synthetic: Some(Arc::new(self.lineage)),
        }
    }
}

fn has_enabled_schedule(project: &Project) -> bool {
    project.schedules.get().is_some_and(|schedules| {
        schedules
            .iter()
            .any(|schedule| schedule.enabled.get() == Some(&true))
    })
}

/// What a new run is to be.
struct RunPlan<'a> {
    version: u64,
    /// When it starts, at the latest.
    start: i64,
    status: &'a str,
    trigger: &'a str,
    /// The instant a finished run must have ended before: runs start earlier when needed.
    ends_by: i64,
}

/// A run as Hex reports it: pending runs have no times, running ones no end.
fn new_run(rng: &mut SplitMix64, workspace_id: &str, project_id: &str, plan: &RunPlan<'_>) -> Run {
    let run_id = rng.uuid();
    let elapsed = match plan.status {
        "UNABLE_TO_ALLOCATE_KERNEL" => rng.below(5_000) as i64 + 500,
        _ => rng.below(900_000) as i64 + 4_000,
    };
    let start = plan.start.min(plan.ends_by.saturating_sub(elapsed + 1));
    let (start_time, end_time, elapsed_time) = match plan.status {
        "PENDING" => (Field::Null, Field::Null, Field::Null),
        "RUNNING" => (format_millis(start).into(), Field::Null, Field::Null),
        _ => (
            format_millis(start).into(),
            format_millis(start + elapsed).into(),
            Field::Present(elapsed as u64),
        ),
    };
    let mut extra = Map::new();
    extra.insert("traceId".to_owned(), json!(format!("run-{}", &run_id[..8])));
    Run {
        run_url: format!(
            "https://app.hex.tech/{workspace_id}/app/{project_id}/latest?runId={run_id}"
        )
        .into(),
        run_id,
        project_version: Field::Present(plan.version),
        run_trigger: plan.trigger.to_owned().into(),
        status: plan.status.to_owned().into(),
        start_time,
        end_time,
        elapsed_time,
        extra,
    }
}

/// What Hex's queried-tables endpoint reports for a published project: the tables its own
/// parsable warehouse SQL reads, named at the depths Hex uses.
fn queried_tables(
    rng: &mut SplitMix64,
    cells: &[Cell],
    warehouses: &[Warehouse],
) -> Vec<QueriedTable> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for cell in cells
        .iter()
        .filter(|cell| cell.is_warehouse_sql() && !cell.unparsable)
    {
        let Some(connection) = cell.data_connection_id.get() else {
            continue;
        };
        let Some(warehouse) = warehouses.iter().find(|w| w.id == *connection) else {
            continue;
        };
        for truth in &cell.reads {
            if seen.contains(&(connection.as_str(), truth.as_str())) {
                continue;
            }
            seen.push((connection, truth));
            if let Some(table_name) = warehouse.queried_name(rng, truth) {
                out.push(QueriedTable {
                    data_connection_id: warehouse.id.clone(),
                    data_connection_name: warehouse.name.clone(),
                    table_name,
                });
            }
        }
    }
    out
}

/// Who changed what in [`Workspace::edited_with_summary`], by project id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditSummary {
    /// Projects and components whose SQL changed, with a new `lastEditedAt`.
    pub edited: Vec<String>,
    /// Projects with a new `lastPublishedAt` (first publication or republication).
    pub published: Vec<String>,
    /// Projects whose schedules changed.
    pub rescheduled: Vec<String>,
    /// Projects with a new newest run.
    pub new_runs: Vec<String>,
}

impl Workspace {
    /// A copy of this workspace after a working day: about `fraction` (0 to 1) of the projects
    /// changed, each in one way, and the ground truth changed with them. See
    /// [`Self::edited_with_summary`].
    pub fn edited(&self, seed: u64, fraction: f64) -> Workspace {
        self.edited_with_summary(seed, fraction).0
    }

    /// Like [`Self::edited`], also saying which projects changed how.
    ///
    /// Each project picked (trashed and archived ones are left alone) gets one of:
    /// - **SQL edit**: one warehouse SQL cell gets new SQL (a new cell `id`, the same
    ///   `staticId`), or one is added; `lastEditedAt` moves. A published project is also
    ///   republished (`lastPublishedAt` moves) with a new `APP_REFRESH` run, and its queried
    ///   tables follow. Components get this edit only.
    /// - **Publication** (unpublished projects): `lastPublishedAt` is set and a first run added.
    /// - **Schedule** (published projects): an enabled daily schedule is added and a new
    ///   `SCHEDULED` run follows.
    ///
    /// So every change of ground truth comes with a change a connector can see in the project
    /// list (`lastEditedAt`, `lastPublishedAt` or `schedules`). New timestamps lie after
    /// [`crate::REFERENCE_TIMESTAMP`] and after every timestamp the project already had, so
    /// editing an edited workspace moves time forward again. The same seed makes the same
    /// edits.
    pub fn edited_with_summary(&self, seed: u64, fraction: f64) -> (Workspace, EditSummary) {
        let mut workspace = self.clone();
        let mut summary = EditSummary::default();
        let warehouses: Vec<Warehouse> = workspace
            .lineage
            .data_connections
            .iter()
            .map(Warehouse::of)
            .collect();
        let chance = (fraction.clamp(0.0, 1.0) * 1_000_000.0) as u64;
        let workspace_id = workspace.id.clone();
        for (index, project) in workspace.projects.iter_mut().enumerate() {
            let mut rng =
                SplitMix64::new(SplitMix64::new(seed ^ EDIT_SALT ^ index as u64).next_u64());
            if rng.below(1_000_000) >= chance || project.is_archived() || project.is_trashed() {
                continue;
            }
            let mut content = workspace
                .lineage
                .content(&project.id)
                .map(Cow::into_owned)
                .unwrap_or_default();
            let now = latest_millis(project, &content).max(REFERENCE_MILLIS)
                + (rng.below(600) as i64 + 1) * MINUTE_MILLIS;
            let published = project.last_published_at.get().is_some();
            let kind = if project.is_component() {
                0
            } else {
                rng.below(3)
            };
            let mut edit = EditContext {
                rng: &mut rng,
                project,
                content: &mut content,
                warehouses: &warehouses,
                workspace_id: &workspace_id,
                now,
                summary: &mut summary,
            };
            match kind {
                1 if !published => edit.publish(),
                2 if published => edit.schedule(),
                _ => edit.sql(),
            }
            workspace
                .lineage
                .projects
                .insert(project.id.clone(), content);
        }
        (workspace, summary)
    }
}

/// The latest timestamp a project or its runs carry, in epoch milliseconds.
fn latest_millis(project: &Project, content: &ProjectContent) -> i64 {
    let project_times = [
        &project.last_edited_at,
        &project.last_published_at,
        &project.created_at,
    ];
    let run_times = content
        .runs
        .iter()
        .flat_map(|run| [&run.start_time, &run.end_time]);
    project_times
        .into_iter()
        .chain(run_times)
        .filter_map(|at| at.get().and_then(|at| parse_millis(at)))
        .max()
        .unwrap_or(REFERENCE_MILLIS)
}

/// One project being edited.
struct EditContext<'a> {
    rng: &'a mut SplitMix64,
    project: &'a mut Project,
    content: &'a mut ProjectContent,
    warehouses: &'a [Warehouse],
    workspace_id: &'a str,
    now: i64,
    summary: &'a mut EditSummary,
}

impl EditContext<'_> {
    fn sql(&mut self) {
        let rng = &mut *self.rng;
        let warehouses = self.warehouses;
        let target = self
            .content
            .cells
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.is_warehouse_sql())
            .filter_map(|(at, cell)| {
                let id = cell.data_connection_id.get()?;
                let warehouse = warehouses.iter().find(|w| w.id == *id)?;
                Some((at, warehouse))
            })
            .collect::<Vec<_>>();
        if let Some(&(at, warehouse)) = (!target.is_empty()).then(|| rng.pick(&target)) {
            let sql = warehouse_sql(rng, warehouse);
            let old = &self.content.cells[at];
            let output = old
                .contents
                .get()
                .and_then(|contents| contents.sql_cell.get())
                .and_then(|sql| sql.output_dataframe.get().cloned())
                .unwrap_or_else(|| "dataframe".to_owned());
            let static_id = old.static_id.clone();
            let label = old.label.clone();
            self.content.cells[at] = Cell {
                static_id,
                label,
                ..sql_cell(rng, warehouse, sql, output)
            };
        } else if !warehouses.is_empty() {
            let warehouse = rng.pick(warehouses);
            let sql = warehouse_sql(rng, warehouse);
            let output = format!("dataframe_{}", self.content.cells.len() + 1);
            self.content
                .cells
                .push(sql_cell(rng, warehouse, sql, output));
        }
        self.project.last_edited_at = format_millis(self.now).into();
        self.summary.edited.push(self.project.id.clone());
        if self.project.last_published_at.get().is_some() {
            self.publish_and_run("APP_REFRESH");
        }
    }

    fn publish(&mut self) {
        self.publish_and_run("APP_REFRESH");
    }

    fn schedule(&mut self) {
        let mut extra = Map::new();
        extra.insert(
            "daily".to_owned(),
            json!({"hour": 6, "minute": 30, "timezone": "Europe/Paris"}),
        );
        let schedule = Schedule {
            cadence: "DAILY".to_owned().into(),
            enabled: true.into(),
            extra,
        };
        match &mut self.project.schedules {
            Field::Present(schedules) => schedules.push(schedule),
            other => *other = Field::Present(vec![schedule]),
        }
        self.summary.rescheduled.push(self.project.id.clone());
        self.add_run("SCHEDULED");
    }

    fn publish_and_run(&mut self, trigger: &str) {
        self.project.last_published_at = format_millis(self.now).into();
        self.summary.published.push(self.project.id.clone());
        self.add_run(trigger);
    }

    fn add_run(&mut self, trigger: &str) {
        let version = self
            .content
            .runs
            .iter()
            .filter_map(|run| run.project_version.get().copied())
            .max()
            .unwrap_or(0)
            + 1;
        // Starts a minute after the change, so it is the newest run whatever came before.
        let plan = RunPlan {
            version,
            start: self.now + MINUTE_MILLIS,
            status: "COMPLETED",
            trigger,
            ends_by: i64::MAX,
        };
        let run = new_run(self.rng, self.workspace_id, &self.project.id, &plan);
        self.content.runs.push(run);
        self.content.queried_tables =
            queried_tables(self.rng, &self.content.cells, self.warehouses);
        self.summary.new_runs.push(self.project.id.clone());
    }
}
