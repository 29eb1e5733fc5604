//! Tables that fit: the columns of `resources`, `runs`, `status` and `connectors list`, laid out
//! by comfy-table, narrowed to the terminal's width by shortening long values in the middle
//! (`hex.workspace.…/project/42`), with the header in bold unless colour is off.
//!
//! The width is `COLUMNS` when set, else the terminal's when standard output is one; a table
//! written to a pipe or a file is never shortened, so that `grep` and scripts see every value
//! whole. Colour follows `NO_COLOR` and `CLICOLOR`/`CLICOLOR_FORCE`, through `console`.
//!
//! Every cell is text already made inert by the caller; this module only measures and cuts it.

use comfy_table::{CellAlignment, ContentArrangement, Table};
use unicode_width::UnicodeWidthChar;

/// Spaces between two columns.
const GAP: usize = 2;

/// How narrow a shortened column may become: enough to show its start, `…` and its end.
const MIN_SHORTENED: usize = 9;

/// Where a table is going: how wide it may be and whether it may be bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The widest a line may be; `None` for no limit.
    pub width: Option<usize>,
    /// Whether the header is drawn in bold.
    pub color: bool,
}

impl Layout {
    /// The layout of standard output as this process finds it.
    pub fn stdout() -> Self {
        let term = console::Term::stdout();
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok())
            .filter(|&columns| columns > 0);
        let width = columns.or_else(|| {
            term.is_term()
                .then(|| term.size_checked().map(|(_, columns)| usize::from(columns)))
                .flatten()
        });
        Self {
            width,
            color: console::colors_enabled(),
        }
    }

    /// No limit and no colour: what a pipe gets, and what the tests compare.
    #[cfg(test)]
    pub const PLAIN: Self = Self {
        width: None,
        color: false,
    };
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its header.
    pub header: &'static str,
    /// Numbers are right-aligned.
    pub right: bool,
    /// Whether its values may be shortened to fit (names, URIs, files; never numbers or times).
    pub shrink: bool,
}

impl Column {
    /// A left-aligned column that may be shortened.
    pub const fn text(header: &'static str) -> Self {
        Self {
            header,
            right: false,
            shrink: true,
        }
    }

    /// A left-aligned column kept whole (an outcome, a time, a digest).
    pub const fn fixed(header: &'static str) -> Self {
        Self {
            header,
            right: false,
            shrink: false,
        }
    }

    /// A right-aligned number, kept whole.
    pub const fn number(header: &'static str) -> Self {
        Self {
            header,
            right: true,
            shrink: false,
        }
    }
}

/// One row: its cells, then the lines written under it, indented and whole (an error, a
/// warning: free text that the terminal may wrap, never cut).
#[derive(Debug, Default)]
pub struct Row {
    /// One per column.
    pub cells: Vec<String>,
    /// Written under the row.
    pub notes: Vec<String>,
}

impl Row {
    /// A row of `cells` without notes.
    pub fn new(cells: Vec<String>) -> Self {
        Self {
            cells,
            notes: Vec::new(),
        }
    }
}

/// How many terminal cells `text` takes.
pub fn width_of(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` in at most `width` terminal cells: whole when it fits, else its start and its end
/// around `…` (the end of a URI or a path says most, its start says where it belongs).
pub fn shorten_middle(text: &str, width: usize) -> String {
    if width_of(text) <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let head_room = room - room / 2;
    let mut head = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        used += w;
        head.push(c);
    }
    // What a wide character left unused at the head goes to the tail.
    let tail_room = room - used;
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_room {
            break;
        }
        used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

/// The width of each column so that the table fits `width`: each column as wide as its widest
/// value, then the widest shortenable column narrowed by one, again and again, until the table
/// fits or no column may give more (then the terminal wraps, as it would anyway).
fn fit(columns: &[Column], natural: &[usize], width: Option<usize>) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let Some(width) = width else {
        return widths;
    };
    let gaps = GAP * columns.len().saturating_sub(1);
    let floor = |i: usize| MIN_SHORTENED.max(width_of(columns[i].header));
    while widths.iter().sum::<usize>() + gaps > width {
        let widest = (0..columns.len())
            .filter(|&i| columns[i].shrink && widths[i] > floor(i))
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
    widths
}

/// The table's text: a header line, one line per row (each followed by its notes), every line
/// ending in a newline and without trailing spaces.
pub fn render(columns: &[Column], rows: &[Row], layout: Layout) -> String {
    let mut natural: Vec<usize> = columns.iter().map(|c| width_of(c.header)).collect();
    for row in rows {
        for (i, cell) in row.cells.iter().enumerate().take(columns.len()) {
            natural[i] = natural[i].max(width_of(cell));
        }
    }
    let widths = fit(columns, &natural, layout.width);

    let mut table = Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        // The cells are cut to fit already: comfy-table must not wrap them.
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| c.header));
    for row in rows {
        table.add_row(row.cells.iter().zip(&widths).zip(columns).map(
            |((cell, &width), column)| {
                if column.shrink {
                    shorten_middle(cell, width)
                } else {
                    cell.clone()
                }
            },
        ));
    }
    // Each column is as wide as its widest (shortened) cell or its header: what `fit` chose.
    let last = columns.len().saturating_sub(1);
    for (i, (column, spec)) in table.column_iter_mut().zip(columns).enumerate() {
        let gap = if i == last { 0 } else { GAP as u16 };
        column.set_padding((0, gap));
        column.set_cell_alignment(if spec.right {
            CellAlignment::Right
        } else {
            CellAlignment::Left
        });
    }

    let mut text = String::new();
    let mut lines = table.lines();
    if let Some(header) = lines.next() {
        let header = header.trim_end();
        if layout.color {
            text += &format!("\x1b[1m{header}\x1b[0m\n");
        } else {
            text += header;
            text.push('\n');
        }
    }
    for (line, row) in lines.zip(rows) {
        text += line.trim_end();
        text.push('\n');
        for note in &row.notes {
            text += &format!("  {note}\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column::fixed("TYPE"),
        Column::text("URI"),
        Column::number("COUNT"),
    ];

    fn rows() -> Vec<Row> {
        vec![
            Row::new(vec![
                "hex_project".into(),
                "hex.workspace.demo.project.0123456789abcdef0123456789abcdef".into(),
                "7".into(),
            ]),
            Row {
                cells: vec![
                    "hex_workspace".into(),
                    "hex.workspace.demo".into(),
                    "12".into(),
                ],
                notes: vec!["error: whole, however long it is".into()],
            },
        ]
    }

    #[test]
    fn shortening_keeps_the_start_and_the_end() {
        assert_eq!(shorten_middle("abcdefghij", 10), "abcdefghij");
        assert_eq!(shorten_middle("abcdefghij", 5), "ab…ij");
        assert_eq!(shorten_middle("abcdefghij", 6), "abc…ij");
        assert_eq!(shorten_middle("abcdefghij", 1), "…");
        // Wide characters count twice, and are never split.
        assert_eq!(shorten_middle("日本語のテキスト", 7), "日…スト");
        assert!(width_of(&shorten_middle("日本語のテキスト", 7)) <= 7);
    }

    #[test]
    fn without_a_width_nothing_is_shortened_and_columns_align() {
        let text = render(&COLUMNS, &rows(), Layout::PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("TYPE           URI"), "{text}");
        assert!(
            lines[1].contains("0123456789abcdef0123456789abcdef"),
            "{text}"
        );
        // The URI column starts at the same place on every line; numbers end together.
        let at = |line: &str, what: &str| line.find(what).unwrap();
        assert_eq!(at(lines[0], "URI"), at(lines[1], "hex.workspace"));
        assert_eq!(at(lines[0], "URI"), at(lines[2], "hex.workspace"));
        assert_eq!(lines[1].len(), lines[2].len(), "{text}");
        assert_eq!(lines[0].len(), lines[1].len(), "{text}");
        assert_eq!(lines[3], "  error: whole, however long it is");
        assert!(!text.contains('\x1b'));
        assert!(text.lines().all(|line| line == line.trim_end()));
    }

    #[test]
    fn a_narrow_terminal_shortens_the_long_column_in_the_middle() {
        let layout = Layout {
            width: Some(50),
            color: false,
        };
        let text = render(&COLUMNS, &rows(), layout);
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[..3] {
            assert!(width_of(line) <= 50, "{line:?} in\n{text}");
        }
        assert!(
            lines[1].starts_with("hex_project    hex.workspace.") && lines[1].contains('…'),
            "{text}"
        );
        assert!(lines[1].contains("cdef"), "the end stays: {text}");
        assert!(
            lines[1].ends_with(" 7") && lines[2].ends_with("12"),
            "{text}"
        );
        assert_eq!(width_of(lines[1]), width_of(lines[2]), "{text}");
        // Notes are never cut.
        assert_eq!(lines[3], "  error: whole, however long it is");
    }

    #[test]
    fn columns_that_may_not_shrink_overflow_rather_than_lie() {
        let layout = Layout {
            width: Some(10),
            color: false,
        };
        let text = render(&COLUMNS, &rows(), layout);
        assert!(
            text.contains("hex_workspace") && text.contains("12"),
            "{text}"
        );
    }

    #[test]
    fn colour_makes_only_the_header_bold() {
        let layout = Layout {
            width: None,
            color: true,
        };
        let text = render(&COLUMNS, &rows(), layout);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("\x1b[1mTYPE") && first.ends_with("\x1b[0m"));
        assert_eq!(text.matches('\x1b').count(), 2, "{text}");
    }
}
