//! The YAML of `POST /projects/export`, written by hand.
//!
//! The export is the only place Hex names the component a `COMPONENT_IMPORT` cell imports, so a
//! connector parses it with a real YAML parser. A dozen lines of writing keep a YAML crate out of
//! the simulator: every single-line string is a double-quoted scalar (JSON string escapes are
//! valid YAML ones), and multi-line sources are literal blocks (`|-`) when they can be written
//! as one exactly, as Hex's own export does for SQL, and double-quoted otherwise.

use std::fmt::Write as _;

use crate::lineage::{Cell, ProjectContent};

/// What the export says about the project itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExportMeta<'a> {
    pub(crate) project_id: &'a str,
    pub(crate) title: Option<&'a str>,
    pub(crate) hex_type: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    /// The version asked for: `draft`, `latest` or a number.
    pub(crate) version: &'a str,
}

/// The file name Hex gives the export: the title, with path separators replaced.
pub(crate) fn filename(meta: &ExportMeta<'_>) -> String {
    let stem = meta
        .title
        .unwrap_or(meta.project_id)
        .replace(['/', '\\'], "-");
    format!("{stem}.yaml")
}

/// The export's `content`: `schemaVersion`, `meta` and the project's own cells, with component
/// imports as `config.component: {id, version}` and no component SQL inlined.
pub(crate) fn content(meta: &ExportMeta<'_>, project: Option<&ProjectContent>) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("schemaVersion: 1\nmeta:\n");
    field(&mut out, 2, "projectId", Some(meta.project_id));
    field(&mut out, 2, "title", meta.title);
    field(&mut out, 2, "hexType", meta.hex_type);
    field(&mut out, 2, "description", meta.description);
    field(&mut out, 2, "version", Some(meta.version));
    let cells = project.map_or(&[][..], |project| &project.cells);
    if cells.is_empty() {
        out.push_str("cells: []\n");
        return out;
    }
    out.push_str("cells:\n");
    for cell in cells {
        write_cell(&mut out, cell);
    }
    out
}

fn write_cell(out: &mut String, cell: &Cell) {
    out.push_str("  - ");
    // The first key shares the line with the sequence dash; the rest align under it.
    out.push_str("cellType: ");
    scalar(out, 4, Some(cell.cell_type()));
    out.push('\n');
    field(out, 4, "cellId", Some(&cell.id));
    field(out, 4, "cellLabel", cell.label.get().map(String::as_str));
    let contents = cell.contents.get();
    match cell.cell_type() {
        "SQL" => {
            let sql = contents.and_then(|contents| contents.sql_cell.get());
            out.push_str("    config:\n");
            field(
                out,
                6,
                "dataConnectionId",
                cell.data_connection_id.get().map(String::as_str),
            );
            field(
                out,
                6,
                "resultVariable",
                sql.and_then(|sql| sql.output_dataframe.get().map(String::as_str)),
            );
            field(out, 6, "source", cell.sql_source());
        }
        "CODE" | "MARKDOWN" => {
            out.push_str("    config:\n");
            field(out, 6, "source", cell.text_source());
        }
        "COMPONENT_IMPORT" => match &cell.component {
            Some(component) => {
                out.push_str("    config:\n      component:\n");
                field(out, 8, "id", Some(&component.id));
                let _ = writeln!(out, "        version: {}", component.version);
            }
            None => out.push_str("    config: {}\n"),
        },
        _ => out.push_str("    config: {}\n"),
    }
}

/// `key: value` at `indent` spaces, `null` for `None`.
fn field(out: &mut String, indent: usize, key: &str, value: Option<&str>) {
    push_indent(out, indent);
    out.push_str(key);
    out.push_str(": ");
    scalar(out, indent + 2, value);
    out.push('\n');
}

/// A string scalar whose continuation lines (in a literal block) sit at `indent` spaces.
fn scalar(out: &mut String, indent: usize, value: Option<&str>) {
    match value {
        None => out.push_str("null"),
        Some(text) if fits_literal_block(text) => {
            out.push_str("|-");
            for line in text.split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    push_indent(out, indent);
                    out.push_str(line);
                }
            }
        }
        // A JSON string is a valid YAML double-quoted scalar.
        Some(text) => out.push_str(&serde_json::Value::from(text).to_string()),
    }
}

/// Whether a literal block (`|-`) reproduces `text` exactly: several lines, no trailing
/// whitespace (a parser may keep or drop it), no leading space on the first line (it would set
/// the indentation), no line break at the end (`-` strips it), no control characters.
fn fits_literal_block(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && !text.ends_with('\n')
        && text
            .split('\n')
            .all(|line| !line.ends_with([' ', '\t']) && !line.starts_with('\t'))
        && !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal_blocks() {
        let mut out = String::new();
        scalar(&mut out, 2, Some("one: line # not a comment"));
        assert_eq!(out, r##""one: line # not a comment""##);

        let mut out = String::new();
        scalar(&mut out, 4, Some("SELECT *\n\nFROM t"));
        assert_eq!(out, "|-\n    SELECT *\n\n    FROM t");

        for awkward in [
            "  indented\nx",
            "trailing \nx",
            "ends\n",
            "tab\t\nx",
            "\r\nx",
        ] {
            let mut out = String::new();
            scalar(&mut out, 4, Some(awkward));
            assert!(out.starts_with('"'), "{awkward:?} -> {out}");
        }
    }

    #[test]
    fn filename_is_the_title_without_separators() {
        let meta = ExportMeta {
            project_id: "p",
            title: Some("A/B test readout"),
            ..ExportMeta::default()
        };
        assert_eq!(filename(&meta), "A-B test readout.yaml");
        let untitled = ExportMeta {
            project_id: "p",
            ..ExportMeta::default()
        };
        assert_eq!(filename(&untitled), "p.yaml");
    }
}
