//! The ground truth of the synthetic lineage is right: a real SQL parser (sqlparser-rs, which the
//! connector uses too) reading every generated cell in its connection's dialect finds exactly the
//! tables the cell records, and the truth changes with edits exactly where the project list
//! shows a change.

use std::collections::{BTreeSet, HashSet};
use std::ops::ControlFlow;

use hex_sim::{Cell, DataConnection, ExpectedLineage, Workspace};
use sqlparser::ast::{ObjectName, ObjectNamePart, Query, Statement, Visit, Visitor};
use sqlparser::dialect::{
    BigQueryDialect, DatabricksDialect, Dialect, DuckDbDialect, PostgreSqlDialect,
    RedshiftSqlDialect, SnowflakeDialect,
};
use sqlparser::parser::Parser;

fn dialect(platform: &str) -> Box<dyn Dialect> {
    match platform {
        "snowflake" => Box::new(SnowflakeDialect),
        "bigquery" => Box::new(BigQueryDialect),
        "postgres" => Box::new(PostgreSqlDialect {}),
        "redshift" => Box::new(RedshiftSqlDialect {}),
        "databricks" => Box::new(DatabricksDialect {}),
        "duckdb" => Box::new(DuckDbDialect {}),
        other => panic!("no dialect for {other}"),
    }
}

/// A name standing for a table built by Jinja, which no lineage can know.
const JINJA_NAME: &str = "jinja_sqlsafe_placeholder";

/// Removes Jinja as a connector might: blocks go, `sqlsafe` pastes become an identifier, other
/// expressions a value.
fn strip_jinja(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find(['{']) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let (close, replacement) = if tail.starts_with("{{") {
            let end = tail.find("}}").expect("closed Jinja expression");
            let inner = &tail[2..end];
            let replacement = if inner.contains("sqlsafe") {
                JINJA_NAME
            } else {
                "NULL"
            };
            (end + 2, replacement)
        } else if tail.starts_with("{%") {
            (tail.find("%}").expect("closed Jinja block") + 2, "")
        } else {
            (1, "{")
        };
        out.push_str(replacement);
        rest = &tail[close..];
    }
    out.push_str(rest);
    out
}

/// The relations of some statements, minus CTE names and the temporary tables they create.
#[derive(Default)]
struct Relations {
    ctes: HashSet<String>,
    temporary: HashSet<String>,
    names: Vec<Vec<String>>,
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.clone(),
            other => panic!("unexpected name part {other:?}"),
        })
        .collect()
}

impl Visitor for Relations {
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
        {
            self.temporary
                .insert(parts(&create.name).join(".").to_lowercase());
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.names.push(parts(relation));
        ControlFlow::Continue(())
    }
}

/// The tables a cell's SQL reads, qualified and lowercased as the ground truth writes them, or
/// `Err` with the parser's message.
fn parsed_reads(cell: &Cell, connection: &DataConnection) -> Result<BTreeSet<String>, String> {
    let sql = strip_jinja(cell.sql_source().expect("a SQL cell has SQL"));
    let statements = Parser::parse_sql(&*dialect(connection.platform()), &sql)
        .map_err(|error| error.to_string())?;
    let mut relations = Relations::default();
    let _ = statements.visit(&mut relations);
    let (database, schema) = connection.defaults();
    let mut reads = BTreeSet::new();
    for name in relations.names {
        let joined = name.join(".").to_lowercase();
        if name.len() == 1 && relations.ctes.contains(&joined)
            || relations.temporary.contains(&joined)
            || joined.contains(JINJA_NAME)
        {
            continue;
        }
        let full = match &name[..] {
            [table] => [
                database
                    .clone()
                    .expect("a bare name needs a default database"),
                schema.clone().expect("a bare name needs a default schema"),
                table.clone(),
            ],
            [schema, table] => [
                database
                    .clone()
                    .expect("a schema-only name needs a default database"),
                schema.clone(),
                table.clone(),
            ],
            [database, schema, table] => [database.clone(), schema.clone(), table.clone()],
            _ => panic!("unexpected name {name:?} in {sql}"),
        };
        reads.insert(format!("{}.{}", connection.platform(), full.join(".")).to_lowercase());
    }
    Ok(reads)
}

#[test]
fn a_real_parser_finds_exactly_the_recorded_tables_in_every_cell() {
    let workspace = Workspace::synthetic(42, 700);
    let (mut checked, mut unparsable, mut platforms) = (0, 0, BTreeSet::new());
    for project in &workspace.projects {
        let content = workspace.lineage.content(&project.id).unwrap();
        for cell in content.cells.iter().filter(|cell| cell.is_warehouse_sql()) {
            let id = cell.data_connection_id.get().unwrap();
            let connection = workspace.lineage.data_connection(id).unwrap();
            platforms.insert(connection.platform());
            let sql = cell.sql_source().unwrap();
            match parsed_reads(cell, connection) {
                Ok(reads) => {
                    assert!(!cell.unparsable, "parses but is marked unparsable:\n{sql}");
                    let recorded: BTreeSet<String> = cell.reads.iter().cloned().collect();
                    assert_eq!(reads, recorded, "in {}:\n{sql}", connection.platform());
                    checked += 1;
                }
                Err(error) => {
                    assert!(
                        cell.unparsable,
                        "{error} in {}:\n{sql}",
                        connection.platform()
                    );
                    assert!(cell.reads.is_empty());
                    unparsable += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
    assert!(unparsable > 5, "{unparsable}");
    assert_eq!(
        platforms,
        BTreeSet::from([
            "bigquery",
            "databricks",
            "duckdb",
            "postgres",
            "redshift",
            "snowflake"
        ])
    );
}

#[test]
fn expected_tables_appear_in_the_sql_and_exclude_ctes_comments_and_components() {
    let workspace = Workspace::synthetic(42, 700);
    let mut importers = 0;
    for project in &workspace.projects {
        let content = workspace.lineage.content(&project.id).unwrap();
        let expected = workspace.expected_lineage(&project.id).unwrap();
        let own_sql: String = content
            .cells
            .iter()
            .filter(|cell| cell.is_warehouse_sql() && !cell.unparsable)
            .filter_map(Cell::sql_source)
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        for table in &expected.tables {
            let name = table.rsplit('.').next().unwrap();
            assert!(own_sql.contains(name), "{table} is not in\n{own_sql}");
            assert_eq!(table.split('.').count(), 4, "{table}");
            assert_eq!(*table, table.to_lowercase());
            for never in [
                "recent_signups",
                "events_schema",
                "orders_v1",
                "customers_backup",
            ] {
                assert!(!table.contains(never), "{table}");
            }
        }
        for component in &expected.components {
            importers += 1;
            let theirs = workspace.expected_lineage(component).unwrap();
            let only_theirs: Vec<&String> = theirs
                .tables
                .iter()
                .filter(|table| {
                    !content
                        .cells
                        .iter()
                        .any(|cell| !cell.unparsable && cell.reads.contains(table))
                })
                .collect();
            for table in only_theirs {
                assert!(!expected.tables.contains(table), "{table}");
            }
        }
    }
    assert!(importers > 10, "{importers}");
}

#[test]
fn the_synthetic_mix_has_every_kind_of_cell_and_run() {
    let workspace = Workspace::synthetic(42, 1000);
    let mut kinds = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    let mut published_without_runs = 0;
    for project in &workspace.projects {
        let content = workspace.lineage.content(&project.id).unwrap();
        for cell in &content.cells {
            let kind = match (cell.cell_type(), cell.data_connection_id.get()) {
                ("SQL", None) => "dataframe SQL",
                ("SQL", Some(_)) if cell.unparsable => "unparsable SQL",
                (kind, _) => kind,
            };
            kinds.insert(kind.to_owned());
            let text = cell.sql_source().unwrap_or_default();
            for marker in [
                "{{", "{%", "sqlsafe", "--", "/*", "WITH ", "JOIN", "\"", "`",
            ] {
                if text.contains(marker) {
                    kinds.insert(marker.to_owned());
                }
            }
        }
        for run in &content.runs {
            statuses.insert(run.status.get().unwrap().clone());
        }
        assert!(
            content.runs.is_empty() || project.last_published_at.get().is_some(),
            "only published projects have runs"
        );
        if project.last_published_at.get().is_some() && content.runs.is_empty() {
            published_without_runs += 1;
        }
    }
    for kind in [
        "SQL",
        "dataframe SQL",
        "unparsable SQL",
        "CODE",
        "MARKDOWN",
        "COMPONENT_IMPORT",
        "{{",
        "{%",
        "sqlsafe",
        "--",
        "/*",
        "WITH ",
        "JOIN",
        "\"",
        "`",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    for status in ["COMPLETED", "ERRORED", "KILLED", "RUNNING", "PENDING"] {
        assert!(statuses.contains(status), "no {status} run in {statuses:?}");
    }
    assert_eq!(published_without_runs, 0);
}

#[test]
fn the_latest_run_is_the_newest_and_pending_runs_have_no_times() {
    let workspace = Workspace::synthetic(42, 400);
    let mut seen = 0;
    for project in &workspace.projects {
        let content = workspace.lineage.content(&project.id).unwrap();
        let Some(latest) = workspace.expected_lineage(&project.id).unwrap().latest_run else {
            continue;
        };
        seen += 1;
        for run in &content.runs {
            match (run.start_time.get(), latest.start_time.get()) {
                (Some(start), Some(newest)) => assert!(start <= newest),
                (Some(_), None) => assert_eq!(latest.status.get().unwrap(), "PENDING"),
                (None, _) => assert_eq!(run.status.get().unwrap(), "PENDING"),
            }
            let finished = !matches!(run.status.get().unwrap().as_str(), "PENDING" | "RUNNING");
            assert_eq!(run.end_time.get().is_some(), finished);
            assert_eq!(run.elapsed_time.get().is_some(), finished);
        }
    }
    assert!(seen > 50, "{seen}");
}

fn snapshot(workspace: &Workspace) -> Vec<(String, ExpectedLineage)> {
    workspace
        .projects
        .iter()
        .map(|project| {
            (
                project.id.clone(),
                workspace.expected_lineage(&project.id).unwrap(),
            )
        })
        .collect()
}

#[test]
fn edits_change_the_truth_only_where_the_project_list_shows_a_change() {
    let before = Workspace::synthetic(42, 400);
    let (after, summary) = before.edited_with_summary(7, 0.25);
    assert_eq!(
        after,
        before.edited(7, 0.25),
        "the same seed makes the same edits"
    );
    assert!(summary.edited.len() > 20, "{summary:?}");
    assert!(!summary.published.is_empty() && !summary.rescheduled.is_empty());

    let changed: HashSet<&String> = summary
        .edited
        .iter()
        .chain(&summary.published)
        .chain(&summary.rescheduled)
        .collect();
    let mut tables_changed = 0;
    for ((id, old), (_, new)) in snapshot(&before).iter().zip(snapshot(&after)) {
        let project = |workspace: &Workspace| {
            workspace
                .projects
                .iter()
                .find(|project| project.id == *id)
                .unwrap()
                .clone()
        };
        let (old_project, new_project) = (project(&before), project(&after));
        if !changed.contains(id) {
            assert_eq!(*old, new, "{id} changed without a visible sign");
            assert_eq!(old_project, new_project);
            continue;
        }
        let visible = old_project.last_edited_at != new_project.last_edited_at
            || old_project.last_published_at != new_project.last_published_at
            || old_project.schedules != new_project.schedules;
        assert!(visible, "{id}");
        if summary.edited.contains(id) {
            assert!(new_project.last_edited_at.get() > old_project.last_edited_at.get());
            assert!(
                new_project.last_edited_at.get().unwrap().as_str() > hex_sim::REFERENCE_TIMESTAMP
            );
        }
        if summary.new_runs.contains(id) {
            let run = new.latest_run.as_ref().unwrap();
            assert_eq!(run.status.get().unwrap(), "COMPLETED");
            assert_ne!(old.latest_run.as_ref(), Some(run));
        }
        if old.tables != new.tables {
            tables_changed += 1;
        }
    }
    assert!(tables_changed > 10, "{tables_changed}");

    // Editing again moves time forward again.
    let (again, second) = after.edited_with_summary(8, 0.5);
    for id in &second.edited {
        let at = |workspace: &Workspace| {
            workspace
                .projects
                .iter()
                .find(|project| project.id == *id)
                .unwrap()
                .last_edited_at
                .clone()
        };
        assert!(at(&again).get() > at(&after).get());
    }
}

#[test]
fn a_synthetic_workspace_saved_as_json_serves_the_same_content() {
    let workspace = Workspace::synthetic(42, 60).edited(3, 0.2);
    let text = serde_json::to_string(&workspace).unwrap();
    let loaded = Workspace::from_json_str(&text).unwrap();
    for project in &workspace.projects {
        assert_eq!(
            loaded.lineage.content(&project.id),
            workspace.lineage.content(&project.id)
        );
        assert_eq!(
            loaded.expected_lineage(&project.id),
            workspace.expected_lineage(&project.id)
        );
    }
    assert_eq!(
        loaded.lineage.data_connections,
        workspace.lineage.data_connections
    );
    assert_eq!(serde_json::to_string(&loaded).unwrap(), text);
}

#[test]
fn a_smaller_workspace_has_the_same_lineage_for_its_projects() {
    let big = Workspace::synthetic(5, 300);
    let small = Workspace::synthetic(5, 120);
    for project in &small.projects {
        assert_eq!(
            small.lineage.content(&project.id),
            big.lineage.content(&project.id)
        );
    }
    assert_eq!(small.lineage.data_connections, big.lineage.data_connections);
}
