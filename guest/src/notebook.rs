//! A project's notebook as lineage needs it: its own SQL cells (with their data connection) and
//! the components it imports, from the export (`POST /projects/export`, YAML) or, when the
//! token may not export, from the cells API (`GET /cells`).
//!
//! The export is the better source: it is the only place component ids appear, and it does not
//! inline an imported component's SQL into the importer (the cells API does, unmarked), so a
//! component's tables count for the component and not for everything that imports it.

use serde::Deserialize;
use serde_json::Value;
use yaml_rust2::Yaml;
use yaml_rust2::parser::{Event, EventReceiver, Parser};

/// A SQL cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlCell {
    /// The cell's id.
    pub id: String,
    /// Its label, when it has one.
    pub label: Option<String>,
    /// The data connection it queries; `None` for dataframe SQL, which reads other cells.
    pub connection: Option<String>,
    /// The query, Jinja included.
    pub source: String,
}

impl SqlCell {
    /// How a warning names the cell: its label, else its id.
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

/// What lineage reads from one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notebook {
    /// Its own SQL cells, in order.
    pub sql: Vec<SqlCell>,
    /// The ids of the components it imports; `None` when the source cannot tell (the cells API).
    pub components: Option<Vec<String>>,
}

/// The response of `POST /projects/export`.
#[derive(Debug, Deserialize)]
pub struct Export {
    /// The project as YAML.
    pub content: String,
}

/// One page of `GET /cells`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CellsPage {
    /// The cells, read one by one.
    pub values: Vec<Value>,
    /// The cursor of the next page.
    pub pagination: Option<crate::model::Pagination>,
}

/// Refuses YAML with aliases before it is loaded: the loader copies what an alias names, so a
/// few lines of nested aliases would grow into gigabytes. Hex's exports use none.
struct AliasGuard {
    aliases: usize,
}

impl EventReceiver for AliasGuard {
    fn on_event(&mut self, event: Event) {
        if matches!(event, Event::Alias(_)) {
            self.aliases += 1;
        }
    }
}

/// Reads an export's YAML: its `cells`, with a collapsible section's `config.cells` inside.
pub fn from_export(content: &str) -> Result<Notebook, String> {
    let mut guard = AliasGuard { aliases: 0 };
    Parser::new_from_str(content)
        .load(&mut guard, true)
        .map_err(|error| format!("it is not YAML ({error})"))?;
    if guard.aliases > 0 {
        return Err("it uses YAML aliases, which a Hex export does not".to_owned());
    }
    let documents = yaml_rust2::YamlLoader::load_from_str(content)
        .map_err(|error| format!("it is not YAML ({error})"))?;
    let Some(document) = documents.first() else {
        return Err("it is empty".to_owned());
    };
    let cells = match &document["cells"] {
        Yaml::Array(cells) => cells.as_slice(),
        Yaml::Null | Yaml::BadValue => &[],
        _ => return Err("its `cells` is not a list".to_owned()),
    };
    let mut notebook = Notebook {
        sql: Vec::new(),
        components: Some(Vec::new()),
    };
    collect(cells, &mut notebook, 0);
    Ok(notebook)
}

/// How deep collapsible sections may nest before the rest is ignored.
const MAX_DEPTH: usize = 16;

fn collect(cells: &[Yaml], notebook: &mut Notebook, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for cell in cells {
        let text = |value: &Yaml| match value {
            Yaml::String(text) if !text.is_empty() => Some(text.clone()),
            Yaml::Integer(number) => Some(number.to_string()),
            _ => None,
        };
        let config = &cell["config"];
        match cell["cellType"].as_str().unwrap_or_default() {
            "SQL" => notebook.sql.push(SqlCell {
                id: text(&cell["cellId"]).unwrap_or_default(),
                label: text(&cell["cellLabel"]),
                connection: text(&config["dataConnectionId"]),
                source: config["source"].as_str().unwrap_or_default().to_owned(),
            }),
            "COMPONENT_IMPORT" => {
                if let (Some(id), Some(components)) =
                    (text(&config["component"]["id"]), &mut notebook.components)
                    && !components.contains(&id)
                {
                    components.push(id);
                }
            }
            _ => {}
        }
        if let Yaml::Array(children) = &config["cells"] {
            collect(children, notebook, depth + 1);
        }
    }
}

/// Adds one page of `GET /cells` to `notebook` (whose `components` stay unknown).
pub fn add_cells(notebook: &mut Notebook, page: &CellsPage) {
    for cell in &page.values {
        if cell.get("cellType").and_then(Value::as_str) != Some("SQL") {
            continue;
        }
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        let sql = cell.get("contents").and_then(|c| c.get("sqlCell"));
        notebook.sql.push(SqlCell {
            id: text(cell.get("id")).unwrap_or_default(),
            label: text(cell.get("label")),
            connection: text(cell.get("dataConnectionId")),
            source: text(sql.and_then(|s| s.get("source"))).unwrap_or_default(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_export_gives_own_sql_and_component_imports() {
        let content = "schemaVersion: 1
meta:
  projectId: \"p1\"
cells:
  - cellType: \"MARKDOWN\"
    cellId: \"m1\"
    config:
      source: \"FROM legacy.orders\"
  - cellType: \"SQL\"
    cellId: \"s1\"
    cellLabel: \"Orders\"
    config:
      dataConnectionId: \"dc1\"
      source: |-
        SELECT *
        FROM analytics.orders
  - cellType: \"SQL\"
    cellId: \"s2\"
    cellLabel: null
    config:
      dataConnectionId: null
      source: \"SELECT * FROM dataframe\"
  - cellType: \"COMPONENT_IMPORT\"
    cellId: \"i1\"
    config:
      component:
        id: \"comp-1\"
        version: 3
  - cellType: \"COLLAPSIBLE\"
    cellId: \"g1\"
    config:
      cells:
        - cellType: \"SQL\"
          cellId: \"s3\"
          config:
            dataConnectionId: \"dc2\"
            source: \"SELECT 1 FROM x.y\"
";
        let notebook = from_export(content).expect("reads");
        assert_eq!(notebook.components, Some(vec!["comp-1".to_owned()]));
        let cells: Vec<(&str, Option<&str>, &str)> = notebook
            .sql
            .iter()
            .map(|c| (c.id.as_str(), c.connection.as_deref(), c.source.as_str()))
            .collect();
        assert_eq!(
            cells,
            [
                ("s1", Some("dc1"), "SELECT *\nFROM analytics.orders"),
                ("s2", None, "SELECT * FROM dataframe"),
                ("s3", Some("dc2"), "SELECT 1 FROM x.y"),
            ]
        );
        assert_eq!(notebook.sql[0].name(), "Orders");
        assert_eq!(notebook.sql[1].name(), "s2");
    }

    #[test]
    fn an_empty_or_broken_export_is_told_apart() {
        let empty = from_export("schemaVersion: 1\ncells: []\n").expect("reads");
        assert!(empty.sql.is_empty());
        assert_eq!(empty.components, Some(vec![]));
        assert!(from_export("cells: [unclosed").is_err());
        assert!(from_export("cells: 3").is_err());
        let bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\ncells: []\n";
        assert_eq!(
            from_export(bomb),
            Err("it uses YAML aliases, which a Hex export does not".to_owned())
        );
    }

    #[test]
    fn the_cells_api_gives_sql_but_no_components() {
        let page: CellsPage = serde_json::from_value(json!({"values": [
            {"id": "s1", "cellType": "SQL", "dataConnectionId": "dc1", "label": "Orders",
             "contents": {"sqlCell": {"source": "SELECT * FROM t", "outputDataframe": "df"}}},
            {"id": "c1", "cellType": "CODE", "contents": {"codeCell": {"source": "x = 1"}}},
            {"id": "i1", "cellType": "COMPONENT_IMPORT"}
        ], "pagination": {"after": null}}))
        .expect("a page");
        let mut notebook = Notebook::default();
        add_cells(&mut notebook, &page);
        assert_eq!(notebook.components, None);
        assert_eq!(
            notebook.sql,
            [SqlCell {
                id: "s1".to_owned(),
                label: Some("Orders".to_owned()),
                connection: Some("dc1".to_owned()),
                source: "SELECT * FROM t".to_owned(),
            }]
        );
    }
}
