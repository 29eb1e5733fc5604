//! What the commands print: the tables and the summaries. Every text
//! that came from a connector or a server (names, URIs, types, errors, warnings, a connector's
//! own description) is [`inert`] here; `--json` keeps the exact data, escaped by JSON itself.

use jiff::Timestamp;

use super::table::{self, Column, Layout, Row};
use crate::contract::FieldKind;
use crate::inventory::{RunRecord, StoredResource, format_timestamp};
use crate::run::RunReport;
use crate::sandbox::{Connector, Origin, Trust};
use crate::scheduler::SourceStatus;
use crate::text::inert;

/// The summary `run` and `demo` print.
pub fn report_text(report: &RunReport) -> String {
    let s = &report.summary;
    let kinds: Vec<String> = report
        .by_type
        .iter()
        .map(|(t, n)| format!("{n} {}", inert(t)))
        .collect();
    let mut text = format!(
        "Source \"{}\": run {} {} with {} {} (digest {})\n",
        inert(&report.source),
        s.run_id,
        if report.dry_run {
            "(dry run) succeeded"
        } else {
            "succeeded"
        },
        inert(&report.connector.id),
        inert(&report.connector.version),
        &report.connector.digest[..12.min(report.connector.digest.len())],
    );
    text += &format!(
        "  discovered {} resources ({}) with {} requests in {:.2} s\n",
        report.emitted,
        if kinds.is_empty() {
            "none".to_owned()
        } else {
            kinds.join(", ")
        },
        report.requests,
        report.elapsed.as_secs_f64(),
    );
    let verb = if report.dry_run { "would be " } else { "" };
    text += &format!(
        "  {verb}added {}, {verb}updated {}, unchanged {}, {verb}removed {}\n",
        s.added, s.updated, s.unchanged, s.removed
    );
    if let Some(reason) = &s.cleanup_refused {
        text += &format!("  cleanup refused: {}\n", inert(reason));
    }
    for warning in &report.warnings {
        text += &format!("  warning: {}\n", inert(warning));
    }
    if report.dry_run {
        // What a refused cleanup would have removed is listed apart: the run would not remove it.
        let remove = if s.cleanup_refused.is_some() {
            "refused: would remove"
        } else {
            "would remove"
        };
        for (label, uris) in [
            ("would add", &s.added_uris),
            ("would update", &s.updated_uris),
            (remove, &s.removed_uris),
        ] {
            for uri in uris {
                text += &format!("  {label} {}\n", inert(uri));
            }
        }
    }
    text
}

/// `status`'s table as of `now`: times are relative (`in 2h 5m`, `3m ago`; `--json` has them
/// exact); under each source, its file, the last run's error or refused cleanup, and the latest
/// error when an older run had it.
pub fn status_text(list: &[SourceStatus], now: Timestamp, layout: Layout) -> String {
    const COLUMNS: [Column; 5] = [
        Column::text("SOURCE"),
        Column::text("SCHEDULE"),
        Column::fixed("NEXT RUN"),
        Column::fixed("LAST RUN"),
        Column::fixed("CHANGES"),
    ];
    let mut rows = Vec::new();
    for s in list {
        let mut notes = Vec::new();
        if let Some(file) = &s.file {
            let changed = if s.changed_since_last_run {
                " (changed since its last run)"
            } else {
                ""
            };
            notes.push(format!("file: {}{changed}", inert(file)));
        }
        let Some(name) = &s.name else {
            notes.push(format!(
                "error: {}",
                inert(s.error.as_deref().unwrap_or_default())
            ));
            rows.push(Row {
                cells: vec![
                    "(invalid file)".to_owned(),
                    String::new(),
                    "-".to_owned(),
                    String::new(),
                    String::new(),
                ],
                notes,
            });
            continue;
        };
        let (last, changes) = match &s.last_run {
            Some(r) => {
                if let Some(error) = &r.error {
                    notes.push(format!("error: {}", inert(error)));
                }
                if let Some(reason) = &r.cleanup_refused {
                    notes.push(format!("cleanup refused: {}", inert(reason)));
                }
                (
                    match &r.worker {
                        Some(worker) => format!(
                            "#{} {} {} by {}",
                            r.id,
                            r.outcome,
                            relative(r.started_at, now),
                            inert(worker)
                        ),
                        None => format!("#{} {} {}", r.id, r.outcome, relative(r.started_at, now)),
                    },
                    format!("+{} ~{} -{}", r.added, r.updated, r.removed),
                )
            }
            None => ("never".to_owned(), String::new()),
        };
        if let Some(e) = s
            .last_error
            .as_ref()
            .filter(|e| s.last_run.as_ref().is_none_or(|r| r.id != e.run_id))
        {
            notes.push(format!(
                "last error: run {} at {}: {}",
                e.run_id,
                e.at,
                inert(&e.error)
            ));
        }
        if s.running {
            notes.push("a run is in progress".to_owned());
        }
        let next = match (&s.next_run, s.enabled) {
            (Some(next), true) => next
                .parse::<Timestamp>()
                .map_or_else(|_| next.clone(), |at| relative(at, now)),
            _ => "-".to_owned(),
        };
        rows.push(Row {
            cells: vec![
                inert(name).into_owned(),
                s.schedule.as_deref().unwrap_or("unknown").to_owned(),
                next,
                last,
                changes,
            ],
            notes,
        });
    }
    if rows.is_empty() {
        return "No sources: none has run in this inventory (give --sources DIR to list the \
                files of a sources directory)\n"
            .to_owned();
    }
    let mut text = table::render(&COLUMNS, &rows, layout);
    text += "CHANGES of the last run: +added ~updated -removed\n";
    text
}

/// `at` relative to `now`, to the minute or the second: `in 2h 5m`, `3m ago`, `now`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = at.duration_since(now).as_secs();
    let span = seconds.unsigned_abs();
    let amount = match span {
        0 => return "now".to_owned(),
        1..60 => format!("{span}s"),
        60..3600 => format!("{}m", span / 60),
        3600..172_800 => match span % 3600 / 60 {
            0 => format!("{}h", span / 3600),
            minutes => format!("{}h {minutes}m", span / 3600),
        },
        _ => format!("{}d", span / 86_400),
    };
    if seconds > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// `runs`'s table; each run's error, refused cleanup and warnings under it.
pub fn runs_text(list: &[RunRecord], layout: Layout) -> String {
    const COLUMNS: [Column; 10] = [
        Column::number("RUN"),
        Column::text("SOURCE"),
        Column::fixed("OUTCOME"),
        Column::fixed("STARTED"),
        Column::number("EMITTED"),
        Column::number("ADDED"),
        Column::number("UPDATED"),
        Column::number("UNCHANGED"),
        Column::number("REMOVED"),
        Column::text("WORKER"),
    ];
    let rows: Vec<Row> = list
        .iter()
        .map(|r| {
            let mut notes = Vec::new();
            if let Some(error) = &r.error {
                notes.push(format!("error: {}", inert(error)));
            }
            if let Some(reason) = &r.cleanup_refused {
                notes.push(format!("cleanup refused: {}", inert(reason)));
            }
            for warning in &r.warnings {
                notes.push(format!("warning: {}", inert(warning)));
            }
            Row {
                cells: vec![
                    r.id.to_string(),
                    inert(&r.source).into_owned(),
                    r.outcome.to_string(),
                    format_timestamp(r.started_at),
                    r.emitted.to_string(),
                    r.added.to_string(),
                    r.updated.to_string(),
                    r.unchanged.to_string(),
                    r.removed.to_string(),
                    inert(r.worker.as_deref().unwrap_or("-")).into_owned(),
                ],
                notes,
            }
        })
        .collect();
    table::render(&COLUMNS, &rows, layout)
}

/// `resources`' table, and how many there are.
pub fn resources_text(list: &[StoredResource], layout: Layout) -> String {
    const COLUMNS: [Column; 4] = [
        Column::text("TYPE"),
        Column::text("URI"),
        Column::number("RELATIONS"),
        Column::text("NAME"),
    ];
    let rows: Vec<Row> = list
        .iter()
        .map(|r| {
            Row::new(vec![
                inert(&r.resource_type).into_owned(),
                inert(&r.uri).into_owned(),
                r.relations.len().to_string(),
                inert(&r.name).into_owned(),
            ])
        })
        .collect();
    let mut text = table::render(&COLUMNS, &rows, layout);
    text += &format!("{} resources\n", list.len());
    text
}

/// The origins granted at installation, in words, for the table and install's summary.
pub fn granted_text(connector: &Connector) -> String {
    match &connector.trust {
        Trust::Component { installed_origins } if !installed_origins.is_empty() => {
            let origins: Vec<String> = installed_origins.iter().map(Origin::to_string).collect();
            format!("; may reach {}", origins.join(", "))
        }
        _ => String::new(),
    }
}

pub fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Integer => "integer",
        FieldKind::Boolean => "boolean",
        FieldKind::Url => "url",
        FieldKind::Choice(_) => "choice",
        FieldKind::TextList => "list",
    }
}

/// `spec`'s text. Every word of it but the digest is the component's own, so all of it is inert.
pub fn spec_text(connector: &Connector) -> String {
    let spec = &connector.spec;
    let mut text = format!(
        "{} ({} {}, from {}, digest {})\n{}\n\nResource types: {}\n\nSettings:\n",
        inert(&spec.display_name),
        inert(&spec.id),
        inert(&spec.version),
        inert(&connector.origin),
        &connector.digest[..12],
        inert(&spec.description),
        inert(&spec.resource_types.join(", "))
    );
    for f in &spec.fields {
        let mut flags = vec![match &f.kind {
            FieldKind::Choice(choices) => format!("one of {}", inert(&choices.join(", "))),
            kind => kind_name(kind).to_owned(),
        }];
        if f.required {
            flags.push("required".to_owned());
        }
        if f.secret {
            flags.push("secret".to_owned());
        }
        if let Some(default) = &f.default_value {
            flags.push(format!("default {}", inert(&default.to_string())));
        }
        text += &format!(
            "  {:<26} {} [{}]\n      {}\n",
            inert(&f.name),
            inert(&f.label),
            flags.join(", "),
            inert(&f.description)
        );
    }
    text
}
