//! Lineage and depth, per project: what it reads (`reads` to `<platform>.<db>.<schema>.<table>`),
//! the data connections it queries (`connects-to`), the components it imports (`uses`), and its
//! latest run; asked of Hex only for projects that changed since the last successful run.
//!
//! Per project, with `lineage = "changed"` (the default):
//! - when `lastEditedAt` changed (or the project is new to the checkpoint): its notebook, from
//!   the export (`POST /projects/export`) or, when the token may not export, `GET /cells`; for a
//!   published project the queried tables (`GET /projects/{id}/queriedTables`, Enterprise),
//!   preferred when they answer, and otherwise its SQL parsed in its warehouse's dialect. Else
//!   its relations are `unchanged` and the host keeps the stored ones;
//! - when `lastPublishedAt` or its schedules changed: its latest run
//!   (`GET /projects/{id}/runs?limit=1`; only published projects have runs). Else the latest run
//!   the checkpoint kept.
//!
//! Every request goes through the SDK's client (throttle, retries, `Retry-After`). A 403 turns
//! that endpoint off for the rest of the run (the token lacks a scope, or the workspace is below
//! Enterprise); a failure that concerns one project (404, a malformed answer) is a warning, and
//! that project keeps its stored relations and is asked again next run. Failures of the API as a
//! whole (401, rate limits or server errors past the retries, the network) fail the run.

use std::collections::{BTreeSet, HashMap};

use euno_connector_sdk::http::percent_encode;
use euno_connector_sdk::prelude::*;
use euno_connector_sdk::types::{Relation, UpstreamError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::checkpoint::{Checkpoint, Entry, hash32, hash64};
use crate::connections::Connection;
use crate::mapping::{LastRun, MappingContext};
use crate::model::{Pagination, Project};
use crate::notebook::{self, CellsPage, Export, Notebook};
use crate::sql;

// The `lineage` setting lives with the settings, which must not depend on this module.
pub use crate::settings::Mode;

/// A project's lineage in this run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectLineage {
    /// Its relations, or `None` for "unchanged": those the last successful run stored.
    pub relations: Option<Vec<Relation>>,
    /// Its latest run.
    pub last_run: Option<LastRun>,
}

/// The endpoints this run still asks: a 403 turns one off until the run ends.
#[derive(Debug, Clone, Copy)]
struct Endpoints {
    export: bool,
    cells: bool,
    queried_tables: bool,
    runs: bool,
}

/// What the run did, for its last log line.
#[derive(Debug, Default)]
struct Tally {
    read: u64,
    kept: u64,
    runs_read: u64,
    runs_kept: u64,
    unavailable: u64,
}

/// The lineage side of one run.
pub struct Lineage {
    mode: Mode,
    previous: Option<Checkpoint>,
    next: Checkpoint,
    /// Whether every project's lineage is read whatever the checkpoint says.
    read_all: bool,
    connections: HashMap<String, Connection>,
    /// Whether `GET /data-connections` answered, so that an unknown connection is worth a word.
    connections_listed: bool,
    endpoints: Endpoints,
    tally: Tally,
}

/// One page of `GET /projects/{id}/queriedTables`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QueriedTables {
    values: Vec<Value>,
    pagination: Option<Pagination>,
}

/// `GET /projects/{id}/runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Runs {
    runs: Vec<Value>,
}

impl Lineage {
    /// The lineage of a run in `mode`, for a source whose workspace URI is `scope`,
    /// with the workspace's data connections (`None` when they could not be listed) and the
    /// checkpoint of the last successful run.
    pub fn new(
        mode: Mode,
        scope: &str,
        connections: Option<Vec<Connection>>,
        run: &Run,
        cx: &mut Context,
    ) -> Lineage {
        let mut next = Checkpoint {
            scope: hash64(scope),
            ..Checkpoint::default()
        };
        let connections_listed = connections.is_some();
        let connections: HashMap<String, Connection> = connections
            .into_iter()
            .flatten()
            .map(|connection| (connection.id.clone(), connection))
            .collect();
        for connection in connections.values() {
            next.insert_connection(&connection.id, &connection.defaults_key());
        }
        let previous = match (mode, run.checkpoint_bytes()) {
            (Mode::Off, _) | (_, None) => None,
            (_, Some(bytes)) => match Checkpoint::decode(bytes) {
                Ok(previous) if previous.scope == next.scope => Some(previous),
                Ok(_) => {
                    cx.info(
                        "the workspace's URI changed since the last run: every project's \
                         lineage is read again",
                    );
                    None
                }
                Err(why) => {
                    cx.warn(&format!(
                        "the checkpoint of the last run cannot be used ({why}): every project's \
                         lineage is read again"
                    ));
                    None
                }
            },
        };
        let connections_changed = previous
            .as_ref()
            .is_some_and(|previous| previous.connections_changed(&next));
        if connections_changed {
            cx.info(
                "a data connection's default database or schema changed: every project's \
                 lineage is read again",
            );
        }
        Lineage {
            read_all: mode == Mode::All || connections_changed,
            mode,
            previous,
            next,
            connections,
            connections_listed,
            endpoints: Endpoints {
                export: true,
                cells: true,
                queried_tables: true,
                runs: true,
            },
            tally: Tally::default(),
        }
    }

    /// The lineage of `project` (whose JSON as listed is `raw`), asking Hex what changed.
    pub fn project(
        &mut self,
        cx: &mut Context,
        project: &Project,
        raw: &Value,
        mapping: &MappingContext,
    ) -> Result<ProjectLineage, ConnectorError> {
        if self.mode == Mode::Off {
            return Ok(ProjectLineage {
                relations: Some(Vec::new()),
                last_run: None,
            });
        }
        let id = project.id.as_str();
        let edited = fingerprint(raw, &["lastEditedAt"]);
        let published = fingerprint(raw, &["lastPublishedAt", "schedules"]);
        let previous = self
            .previous
            .as_ref()
            .and_then(|checkpoint| checkpoint.project(id))
            .cloned();
        let lineage_due = self.read_all
            || !previous
                .as_ref()
                .is_some_and(|p| p.lineage_read && p.edited == edited);
        let runs_due = self.mode == Mode::All
            || !previous
                .as_ref()
                .is_some_and(|p| p.runs_read && p.published == published);

        let (relations, lineage_read) = if lineage_due {
            match self.read_lineage(cx, project, mapping)? {
                Some((relations, complete)) => {
                    self.tally.read += 1;
                    // Through a connection the listing did not show, names went unqualified:
                    // ask again next run, when the listing may show it.
                    (Some(relations), complete)
                }
                None => {
                    self.tally.unavailable += 1;
                    (None, false)
                }
            }
        } else {
            self.tally.kept += 1;
            (None, true)
        };

        let kept_run = || previous.as_ref().and_then(|p| p.last_run.clone());
        let (last_run, runs_read) = if !project.last_published_at.is_set() {
            // Only published projects have runs.
            (None, true)
        } else if runs_due {
            match self.read_runs(cx, id)? {
                Some(run) => {
                    self.tally.runs_read += 1;
                    (run, true)
                }
                None => (kept_run(), false),
            }
        } else {
            self.tally.runs_kept += 1;
            (kept_run(), true)
        };

        self.next.insert(
            id,
            Entry {
                edited,
                published,
                lineage_read,
                runs_read,
                last_run: last_run.clone(),
            },
        );
        Ok(ProjectLineage {
            relations,
            last_run,
        })
    }

    /// Saves the checkpoint and says what the run asked and kept.
    pub fn finish(self, cx: &mut Context) {
        cx.save_checkpoint_bytes(&self.next.encode());
        if self.mode == Mode::Off {
            return;
        }
        let tally = &self.tally;
        cx.info(&format!(
            "lineage: read for {} projects, unchanged for {} (kept from the last run), \
             unavailable for {}; latest runs read for {}, kept for {}",
            tally.read, tally.kept, tally.unavailable, tally.runs_read, tally.runs_kept
        ));
    }

    /// The project's relations and whether every data connection they go through was listed,
    /// or `None` when its notebook could not be read.
    fn read_lineage(
        &mut self,
        cx: &mut Context,
        project: &Project,
        mapping: &MappingContext,
    ) -> Result<Option<(Vec<Relation>, bool)>, ConnectorError> {
        let id = project.id.as_str();
        let Some(notebook) = self.notebook(cx, id)? else {
            return Ok(None);
        };
        let mut relations: BTreeSet<(&'static str, String)> = BTreeSet::new();
        for cell in &notebook.sql {
            if let Some(connection) = &cell.connection {
                relations.insert(("connects-to", mapping.project_uri(connection)));
            }
        }
        for component in notebook.components.iter().flatten() {
            relations.insert(("uses", mapping.project_uri(component)));
        }
        let queried = if project.last_published_at.is_set() && self.endpoints.queried_tables {
            self.queried_tables(cx, id)?
        } else {
            None
        };
        let complete = notebook
            .sql
            .iter()
            .filter_map(|cell| cell.connection.as_deref())
            .chain(
                queried
                    .iter()
                    .flatten()
                    .map(|(connection, _)| connection.as_str()),
            )
            .all(|connection| self.connections.contains_key(connection));
        match queried {
            Some(tables) if !tables.is_empty() => {
                for (connection_id, name) in tables {
                    relations.insert(("connects-to", mapping.project_uri(&connection_id)));
                    let parts: Vec<String> = name.split('.').map(str::to_owned).collect();
                    match self.qualify(&connection_id, &parts) {
                        Ok(target) => {
                            relations.insert(("reads", target));
                        }
                        // Without the listing every name fails so: said once, at the listing.
                        Err(why) if self.connections_listed => cx.warn(&format!(
                            "Hex project {id}: the queried table `{name}` is not counted: {why}"
                        )),
                        Err(_) => {}
                    }
                }
            }
            _ => {
                for target in self.parsed_reads(cx, id, &notebook) {
                    relations.insert(("reads", target));
                }
            }
        }
        let relations = relations
            .into_iter()
            .map(|(kind, target)| Relation {
                kind: kind.to_owned(),
                target,
            })
            .collect();
        Ok(Some((relations, complete)))
    }

    /// What the notebook's warehouse SQL reads, each name qualified by its connection.
    fn parsed_reads(&self, cx: &mut Context, id: &str, notebook: &Notebook) -> BTreeSet<String> {
        let mut found: Vec<(&str, sql::Reads)> = Vec::new();
        for cell in &notebook.sql {
            // Dataframe SQL (no connection) reads other cells' dataframes, not the warehouse.
            let Some(connection_id) = cell.connection.as_deref() else {
                continue;
            };
            let platform = match self.connections.get(connection_id) {
                Some(connection) if connection.platform != "unknown" => connection.platform,
                Some(connection) => {
                    cx.warn(&format!(
                        "Hex project {id}: cell `{}` queries `{}`, of the type `{}`, whose \
                         warehouse is unknown; its tables are not counted",
                        cell.name(),
                        connection.label(),
                        connection.kind.as_deref().unwrap_or("none")
                    ));
                    continue;
                }
                None => {
                    if self.connections_listed {
                        cx.warn(&format!(
                            "Hex project {id}: cell `{}` queries the data connection \
                             {connection_id}, which GET /data-connections did not list; its \
                             tables are not counted",
                            cell.name()
                        ));
                    }
                    continue;
                }
            };
            let reads = sql::reads(&cell.source, platform);
            for statement in &reads.unparsable {
                cx.warn(&format!(
                    "Hex project {id}: cell `{}`: statement {} (line {}) does not parse as \
                     {platform} SQL ({}); its tables are not counted",
                    cell.name(),
                    statement.statement,
                    statement.line,
                    statement.error
                ));
            }
            found.push((connection_id, reads));
        }
        // A temporary table lives as long as the session, which spans the cells that share a
        // connection.
        let mut temporary: BTreeSet<(&str, &str)> = BTreeSet::new();
        for (connection_id, reads) in &found {
            for name in &reads.temporary {
                temporary.insert((connection_id, name));
            }
        }
        let mut targets = BTreeSet::new();
        for (connection_id, reads) in &found {
            for name in &reads.tables {
                let joined = name.join(".").to_lowercase();
                if temporary.contains(&(*connection_id, joined.as_str())) {
                    continue;
                }
                match self.qualify(connection_id, name) {
                    Ok(target) => {
                        targets.insert(target);
                    }
                    Err(why) => cx.warn(&format!(
                        "Hex project {id}: the table `{}` is not counted: {why}",
                        name.join(".")
                    )),
                }
            }
        }
        targets
    }

    fn qualify(&self, connection_id: &str, parts: &[String]) -> Result<String, String> {
        match self.connections.get(connection_id) {
            Some(connection) => connection.qualify(parts),
            None => Err(format!(
                "its data connection {connection_id} is not one GET /data-connections listed"
            )),
        }
    }

    /// The project's notebook: from the export, else from the cells API; `None` when neither
    /// can be read.
    fn notebook(&mut self, cx: &mut Context, id: &str) -> Result<Option<Notebook>, ConnectorError> {
        if self.endpoints.export {
            let request = Request::post("/projects/export")
                .json_body(&json!({"projectId": id, "version": "draft"}))
                .kind("export");
            match cx.http().json::<Export>(request) {
                Ok(export) => match notebook::from_export(&export.content) {
                    Ok(notebook) => return Ok(Some(notebook)),
                    Err(why) => cx.warn(&format!(
                        "Hex project {id}: its export cannot be read ({why}); its cells are \
                         read instead"
                    )),
                },
                Err(ConnectorError::Forbidden(message)) => {
                    self.endpoints.export = false;
                    cx.warn(&format!(
                        "{message}. Lineage comes from GET /cells for the rest of this run, \
                         where an imported component's SQL cannot be told from the project's \
                         own and component imports are not seen"
                    ));
                }
                Err(ConnectorError::MalformedResponse(message)) => cx.warn(&format!(
                    "Hex project {id}: {message}; its cells are read instead"
                )),
                Err(error) => return project_only(cx, id, error).map(|()| None),
            }
        }
        if !self.endpoints.cells {
            return Ok(None);
        }
        let first = Request::get("/cells")
            .query("projectId", id)
            .query("limit", 100)
            .kind("cells");
        let mut listing = pages(first, "after", |page: &CellsPage| {
            page.pagination.as_ref().and_then(|p| p.after.clone())
        });
        let mut notebook = Notebook::default();
        loop {
            match listing.next(cx.http()) {
                Ok(Some(page)) => notebook::add_cells(&mut notebook, &page),
                Ok(None) => return Ok(Some(notebook)),
                Err(ConnectorError::Forbidden(message)) => {
                    self.endpoints.cells = false;
                    cx.warn(&format!(
                        "{message}. Without the export or the cells, no project's lineage can be \
                         read for the rest of this run: each keeps what the last run found"
                    ));
                    return Ok(None);
                }
                Err(error) => return project_only(cx, id, error).map(|()| None),
            }
        }
    }

    /// The queried tables of a published project as `(connection id, table name)`; `None` when
    /// the endpoint does not answer.
    fn queried_tables(
        &mut self,
        cx: &mut Context,
        id: &str,
    ) -> Result<Option<Vec<(String, String)>>, ConnectorError> {
        let first = Request::get(format!("/projects/{}/queriedTables", percent_encode(id)))
            .query("limit", 100)
            .kind("queried-tables");
        let mut listing = pages(first, "after", |page: &QueriedTables| {
            page.pagination.as_ref().and_then(|p| p.after.clone())
        });
        let mut tables = Vec::new();
        loop {
            match listing.next(cx.http()) {
                Ok(Some(page)) => {
                    for item in &page.values {
                        let text = |key: &str| {
                            item.get(key)
                                .and_then(Value::as_str)
                                .filter(|text| !text.is_empty())
                        };
                        if let (Some(connection), Some(name)) =
                            (text("dataConnectionId"), text("tableName"))
                        {
                            tables.push((connection.to_owned(), name.to_owned()));
                        }
                    }
                }
                Ok(None) => return Ok(Some(tables)),
                Err(ConnectorError::Forbidden(message)) => {
                    self.endpoints.queried_tables = false;
                    // Expected below Enterprise, every run: worth a line, not a warning.
                    cx.info(&format!(
                        "{message}. The queried-tables endpoint (Enterprise only) is not asked \
                         again this run; lineage comes from parsing each project's SQL"
                    ));
                    return Ok(None);
                }
                Err(error) => return project_only(cx, id, error).map(|()| None),
            }
        }
    }

    /// The project's latest run: `Some(None)` when it has none, `None` when the runs cannot be
    /// read.
    fn read_runs(
        &mut self,
        cx: &mut Context,
        id: &str,
    ) -> Result<Option<Option<LastRun>>, ConnectorError> {
        if !self.endpoints.runs {
            return Ok(None);
        }
        let request = Request::get(format!("/projects/{}/runs", percent_encode(id)))
            .query("limit", 1)
            .kind("runs");
        match cx.http().json::<Runs>(request) {
            Ok(runs) => Ok(Some(runs.runs.first().map(last_run))),
            Err(ConnectorError::Forbidden(message)) => {
                self.endpoints.runs = false;
                cx.warn(&format!(
                    "{message}. Latest runs are not read for the rest of this run: each project \
                     keeps the one the last run found"
                ));
                Ok(None)
            }
            Err(error) => project_only(cx, id, error).map(|()| None),
        }
    }
}

/// A run as the three last-run properties: `startTime` is when it ran, `elapsedTime`
/// (milliseconds) how long it took, in whole seconds.
fn last_run(run: &Value) -> LastRun {
    let text = |key: &str| run.get(key).and_then(Value::as_str);
    let elapsed = run.get("elapsedTime").and_then(|ms| {
        ms.as_i64().or_else(|| {
            ms.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.round() as i64)
        })
    });
    LastRun {
        status: text("status").map(str::to_owned),
        at: text("startTime").and_then(parse_rfc3339),
        duration_seconds: elapsed.map(|ms| (ms + 500).div_euclid(1_000)),
    }
}

/// A fingerprint of the project's fields `keys`, as Hex sent them.
fn fingerprint(raw: &Value, keys: &[&str]) -> u32 {
    let text: Vec<String> = keys
        .iter()
        .map(|key| raw.get(key).map(Value::to_string).unwrap_or_default())
        .collect();
    hash32(&text.join("\u{0}"))
}

/// What a connector error says, whatever its kind.
pub fn describe(error: &ConnectorError) -> String {
    match error {
        ConnectorError::InvalidConfig(e) => format!("`{}` {}", e.field, e.message),
        ConnectorError::RateLimited(e) => e.message.clone(),
        ConnectorError::Upstream(e) => e.message.clone(),
        ConnectorError::Unauthorized(message)
        | ConnectorError::Forbidden(message)
        | ConnectorError::NotFound(message)
        | ConnectorError::MalformedResponse(message)
        | ConnectorError::Network(message) => message.clone(),
    }
}

/// For a failure that concerns one project only (it is gone, or Hex answered it with something
/// unreadable or refused it as a bad request): a warning, and `Ok`. For anything else, which
/// every later request would meet too: the error, which fails the run.
fn project_only(cx: &mut Context, id: &str, error: ConnectorError) -> Result<(), ConnectorError> {
    let message = match &error {
        ConnectorError::NotFound(message) | ConnectorError::MalformedResponse(message) => message,
        ConnectorError::Upstream(UpstreamError {
            status: 400..=499,
            message,
            ..
        }) => message,
        _ => return Err(error),
    };
    cx.warn(&format!(
        "Hex project {id}: {message}; it keeps what the last run found and is asked again next run"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_becomes_status_start_and_whole_seconds() {
        let run = json!({"status": "COMPLETED", "startTime": "2026-10-01T06:30:00.000Z",
                         "endTime": "2026-10-01T06:31:00.000Z", "elapsedTime": 61_499});
        assert_eq!(
            last_run(&run),
            LastRun {
                status: Some("COMPLETED".to_owned()),
                at: parse_rfc3339("2026-10-01T06:30:00.000Z"),
                duration_seconds: Some(61),
            }
        );
        let pending = json!({"status": "PENDING", "startTime": null, "elapsedTime": null});
        assert_eq!(
            last_run(&pending),
            LastRun {
                status: Some("PENDING".to_owned()),
                at: None,
                duration_seconds: None,
            }
        );
    }

    #[test]
    fn fingerprints_follow_the_fields_as_sent() {
        let a = json!({"lastEditedAt": "2026-01-01T00:00:00.000Z", "title": "x"});
        let b = json!({"lastEditedAt": "2026-01-01T00:00:00.000Z", "title": "y"});
        let c = json!({"lastEditedAt": "2026-01-02T00:00:00.000Z"});
        assert_eq!(
            fingerprint(&a, &["lastEditedAt"]),
            fingerprint(&b, &["lastEditedAt"])
        );
        assert_ne!(
            fingerprint(&a, &["lastEditedAt"]),
            fingerprint(&c, &["lastEditedAt"])
        );
        let scheduled = json!({"lastPublishedAt": null, "schedules": [{"cadence": "DAILY"}]});
        let unscheduled = json!({"lastPublishedAt": null, "schedules": []});
        let keys = ["lastPublishedAt", "schedules"];
        assert_ne!(
            fingerprint(&scheduled, &keys),
            fingerprint(&unscheduled, &keys)
        );
    }
}
