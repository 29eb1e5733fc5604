//! Which tables a SQL cell reads: Jinja stripped, then a real SQL parser (sqlparser-rs) in the
//! dialect of the cell's warehouse, then the table names in `FROM` and `JOIN` positions, less the
//! names the SQL itself defines.
//!
//! A regular expression would take a table named in a comment or a string, a CTE named like a
//! table, or a temporary table for a read; a parser does not. What it cannot know is left out on
//! purpose: a name pasted in by Jinja (`{{ schema | sqlsafe }}.events`) or built by Python. A
//! statement that does not parse is reported and skipped; the cell's other statements still
//! count.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, ObjectNamePart, Query, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::{
    BigQueryDialect, ClickHouseDialect, DatabricksDialect, Dialect, DuckDbDialect, GenericDialect,
    HiveDialect, MsSqlDialect, MySqlDialect, PostgreSqlDialect, RedshiftSqlDialect,
    SnowflakeDialect,
};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// What `{{ x | sqlsafe }}` becomes: an identifier no warehouse table has, so that a name built
/// from it is recognised and left out.
const SQLSAFE: &str = "hex_jinja_sqlsafe";

/// What a cell's SQL reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Table names as written, one entry per part (`["analytics", "orders"]`), quotes removed.
    pub tables: BTreeSet<Vec<String>>,
    /// Temporary tables the SQL creates, lowercase and dot-joined: reading one later (in this
    /// cell or another on the same connection) is not reading the warehouse.
    pub temporary: BTreeSet<String>,
    /// The statements that do not parse.
    pub unparsable: Vec<Unparsable>,
}

/// A statement the parser refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsable {
    /// Its place in the cell, from 1.
    pub statement: usize,
    /// The line it starts on, from 1.
    pub line: u64,
    /// What the parser said.
    pub error: String,
}

/// The tables `sql` reads, in the SQL dialect of `platform` (as [`crate::connections`] names
/// platforms).
pub fn reads(sql: &str, platform: &str) -> Reads {
    let dialect = dialect(platform);
    let sql = strip_jinja(sql);
    let mut found = Found::default();
    let mut unparsable = Vec::new();
    match Parser::parse_sql(&*dialect, &sql) {
        Ok(statements) => {
            let _ = statements.visit(&mut found);
        }
        // Parse the statements one by one, so that a broken one does not hide the others.
        Err(_) => match Tokenizer::new(&*dialect, &sql).tokenize_with_location() {
            Ok(tokens) => {
                for (n, statement) in split_statements(tokens).into_iter().enumerate() {
                    let line = statement.first().map_or(1, |token| token.span.start.line);
                    let parsed = Parser::new(&*dialect)
                        .with_tokens_with_locations(statement)
                        .parse_statements();
                    match parsed {
                        Ok(statements) => {
                            let _ = statements.visit(&mut found);
                        }
                        Err(error) => unparsable.push(Unparsable {
                            statement: n + 1,
                            line,
                            error: error.to_string(),
                        }),
                    }
                }
            }
            Err(error) => unparsable.push(Unparsable {
                statement: 1,
                line: error.location.line,
                error: error.to_string(),
            }),
        },
    }
    let tables = found
        .tables
        .into_iter()
        .filter(|name| {
            let joined = name.join(".").to_lowercase();
            let cte = name.len() == 1 && found.ctes.contains(&joined);
            let temporary = found.temporary.contains(&joined);
            let pasted = name.iter().any(|part| part.eq_ignore_ascii_case(SQLSAFE));
            !(cte || temporary || pasted)
        })
        .collect();
    Reads {
        tables,
        temporary: found.temporary,
        unparsable,
    }
}

/// The tokens of each statement, without the `;` between them; statements of nothing but
/// whitespace and comments are dropped.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = Vec::new();
    let mut current = Vec::new();
    for token in tokens {
        if token.token == Token::SemiColon {
            statements.push(std::mem::take(&mut current));
        } else {
            current.push(token);
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .filter(|tokens| {
            tokens
                .iter()
                .any(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        })
        .map(|tokens| {
            tokens
                .into_iter()
                .skip_while(|t| matches!(t.token, Token::Whitespace(_)))
                .collect()
        })
        .collect()
}

/// Collects table factors, CTE names and temporary tables.
#[derive(Default)]
struct Found {
    tables: BTreeSet<Vec<String>>,
    ctes: BTreeSet<String>,
    temporary: BTreeSet<String>,
}

fn parts(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident.value.clone()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        for cte in query.with.iter().flat_map(|with| &with.cte_tables) {
            self.ctes.insert(cte.alias.name.value.to_lowercase());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        if let Statement::CreateTable(create) = statement
            && create.temporary
            && let Some(name) = parts(&create.name)
        {
            self.temporary.insert(name.join(".").to_lowercase());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        // A name with arguments is a table function (`generate_series(1, 10)`), not a table.
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
            && let Some(name) = parts(name)
        {
            self.tables.insert(name);
        }
        ControlFlow::Continue(())
    }
}

/// The parser's dialect for a platform; ANSI-leaning `Generic` for those sqlparser has no own
/// dialect for (Trino, Presto, Athena).
fn dialect(platform: &str) -> Box<dyn Dialect> {
    match platform {
        "snowflake" => Box::new(SnowflakeDialect),
        "bigquery" => Box::new(BigQueryDialect),
        "postgres" => Box::new(PostgreSqlDialect {}),
        "redshift" => Box::new(RedshiftSqlDialect {}),
        "databricks" | "spark" => Box::new(DatabricksDialect {}),
        "duckdb" => Box::new(DuckDbDialect {}),
        "mysql" | "mariadb" => Box::new(MySqlDialect {}),
        "mssql" => Box::new(MsSqlDialect {}),
        "clickhouse" => Box::new(ClickHouseDialect {}),
        "hive" => Box::new(HiveDialect {}),
        _ => Box::new(GenericDialect {}),
    }
}

/// Removes Jinja as Hex renders it, so that what is left is SQL: `{% ... %}` blocks and
/// `{# ... #}` comments go (both branches of an `if` stay, which reads no fewer tables), a
/// `{{ x | sqlsafe }}` paste becomes an identifier that yields no table, and any other
/// `{{ ... }}`, which Hex binds as a value, becomes `NULL`.
pub fn strip_jinja(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let (close, replacement) = match tail.get(..2) {
            Some("{{") => (tail.find("}}"), "}}"),
            Some("{%") => (tail.find("%}"), "%}"),
            Some("{#") => (tail.find("#}"), "#}"),
            _ => (None, ""),
        };
        match close {
            Some(end) => {
                let inner = &tail[2..end];
                if replacement == "}}" {
                    let filters = inner.split('|').skip(1).map(str::trim);
                    if filters.clone().any(|filter| filter.starts_with("sqlsafe")) {
                        out.push_str(SQLSAFE);
                    } else {
                        out.push_str("NULL");
                    }
                }
                rest = &tail[end + 2..];
            }
            // Not Jinja, or never closed: keep the brace as text.
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str, platform: &str) -> Vec<String> {
        let reads = reads(sql, platform);
        assert!(reads.unparsable.is_empty(), "{:?}", reads.unparsable);
        reads
            .tables
            .into_iter()
            .map(|name| name.join("."))
            .collect()
    }

    #[test]
    fn jinja_becomes_values_identifiers_or_nothing() {
        assert_eq!(
            strip_jinja(
                "SELECT {{ col | sqlsafe }} FROM t WHERE a = {{a}} {% if x %}AND b{% endif %}\
                 {# note #} AND c IN ({{ cs | array }}) AND d = '{'"
            ),
            "SELECT hex_jinja_sqlsafe FROM t WHERE a = NULL AND b AND c IN (NULL) AND d = '{'"
        );
        assert_eq!(
            strip_jinja("SELECT '{{ never closed"),
            "SELECT '{{ never closed"
        );
    }

    #[test]
    fn tables_in_from_and_join_count_and_nothing_else_does() {
        let sql = "-- the old version read legacy.orders_v1
            WITH orders AS (SELECT * FROM analytics.fct_orders),
                 top AS (SELECT * FROM orders)
            SELECT o.*, c.region, 'FROM raw.customers_backup' AS note
            FROM top AS o
            JOIN \"Marts\".\"DIM_CUSTOMERS\" AS c ON c.id = o.id
            WHERE EXISTS (SELECT 1 FROM payments p WHERE p.id = o.id) /* FROM x.y */";
        assert_eq!(
            names(sql, "snowflake"),
            ["Marts.DIM_CUSTOMERS", "analytics.fct_orders", "payments"]
        );
    }

    #[test]
    fn temporary_tables_and_sqlsafe_names_are_not_reads() {
        let sql = "CREATE TEMPORARY TABLE recent AS SELECT * FROM raw.signups;
                   SELECT * FROM recent JOIN {{ schema | sqlsafe }}.events e ON TRUE
                   JOIN public.plans p ON TRUE;";
        let reads = reads(sql, "postgres");
        let tables: Vec<String> = reads.tables.iter().map(|n| n.join(".")).collect();
        assert_eq!(tables, ["public.plans", "raw.signups"]);
        assert_eq!(reads.temporary, BTreeSet::from(["recent".to_owned()]));
    }

    #[test]
    fn each_dialect_reads_its_own_quoting() {
        assert_eq!(
            names(
                "SELECT * FROM `acme-analytics-prod`.marts.fct_orders JOIN `acme-data-lake.stripe.invoices` USING (id)",
                "bigquery"
            ),
            [
                "acme-analytics-prod.marts.fct_orders",
                "acme-data-lake.stripe.invoices"
            ]
        );
        assert_eq!(
            names("SELECT * FROM `main`.gold.events", "databricks"),
            ["main.gold.events"]
        );
        assert_eq!(
            names(
                "SELECT * FROM generate_series(1, 3) AS s, app.billing.invoices",
                "postgres"
            ),
            ["app.billing.invoices"]
        );
    }

    #[test]
    fn a_statement_that_does_not_parse_is_reported_and_the_others_still_count() {
        let sql = "SELECT * FROM a.ok_one;\n\nSELEC * FROM b.broken;\nSELECT * FROM c.ok_two";
        let reads = reads(sql, "snowflake");
        let tables: Vec<String> = reads.tables.iter().map(|n| n.join(".")).collect();
        assert_eq!(tables, ["a.ok_one", "c.ok_two"]);
        assert_eq!(reads.unparsable.len(), 1);
        let broken = &reads.unparsable[0];
        assert_eq!((broken.statement, broken.line), (2, 3));
        assert!(broken.error.contains("SELEC"), "{}", broken.error);

        let reads = reads_of("SELECT 'never closed FROM t", "snowflake");
        assert_eq!(reads.unparsable.len(), 1);
        assert!(reads.tables.is_empty());
    }

    fn reads_of(sql: &str, platform: &str) -> Reads {
        reads(sql, platform)
    }
}
