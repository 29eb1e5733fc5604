//! What the commands print: the tables and summaries, and the progress line of a run. Every text
//! that came from a connector or a server (names, URIs, types, errors, warnings, a connector's
//! own description) is [`inert`] here; `--json` keeps the exact data, escaped by JSON itself.

use std::io::{IsTerminal, Write};

use crate::contract::FieldKind;
use crate::inventory::{RunRecord, format_timestamp};
use crate::run::{RunEvents, RunReport};
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

/// `status`'s text.
pub fn status_text(list: &[SourceStatus]) -> String {
    let mut text = String::new();
    for s in list {
        match (&s.name, &s.error) {
            (_, Some(error)) => text += &format!("INVALID  {}\n", inert(error)),
            (Some(name), None) => {
                text += &format!("{}  ({})\n", inert(name), inert(&s.file));
                let schedule = s.schedule.as_deref().unwrap_or("");
                let state = if s.enabled {
                    ""
                } else {
                    " [disabled: runs only when asked]"
                };
                text += &format!("  schedule: {schedule}{state}\n");
                text += &format!("  next run: {}\n", s.next_run.as_deref().unwrap_or("-"));
                match &s.last_run {
                    Some(r) => {
                        text += &format!(
                            "  last run: {} {} at {} by {} (added {}, updated {}, unchanged {}, removed {}){}\n",
                            r.id,
                            r.outcome,
                            r.started_at,
                            inert(r.worker.as_deref().unwrap_or("-")),
                            r.added,
                            r.updated,
                            r.unchanged,
                            r.removed,
                            if s.running {
                                "; a run is in progress"
                            } else {
                                ""
                            }
                        );
                        if let Some(error) = &r.error {
                            text += &format!("    error: {}\n", inert(error));
                        }
                        if let Some(reason) = &r.cleanup_refused {
                            text += &format!("    cleanup refused: {}\n", inert(reason));
                        }
                    }
                    None => text += "  last run: never\n",
                }
            }
            (None, None) => {}
        }
    }
    text
}

/// `runs`'s table.
pub fn runs_text(list: &[RunRecord]) -> String {
    let mut text = format!(
        "{:>5}  {:<24} {:<10} {:<25} {:>7} {:>6} {:>7} {:>9} {:>7}  {}\n",
        "RUN",
        "SOURCE",
        "OUTCOME",
        "STARTED",
        "EMITTED",
        "ADDED",
        "UPDATED",
        "UNCHANGED",
        "REMOVED",
        "WORKER"
    );
    for r in list {
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text += &format!(
            "{:>5}  {:<24} {:<10} {:<25} {:>7} {:>6} {:>7} {:>9} {:>7}  {}\n",
            r.id,
            truncate(&inert(&r.source), 24),
            outcome,
            format_timestamp(r.started_at),
            r.emitted,
            r.added,
            r.updated,
            r.unchanged,
            r.removed,
            inert(r.worker.as_deref().unwrap_or("-"))
        );
        if let Some(error) = &r.error {
            text += &format!("       error: {}\n", inert(error));
        }
        if let Some(reason) = &r.cleanup_refused {
            text += &format!("       cleanup refused: {}\n", inert(reason));
        }
        for warning in &r.warnings {
            text += &format!("       warning: {}\n", inert(warning));
        }
    }
    text
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
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

/// The progress line of a run on a terminal: `\r{source}: {done}/{total}` on stderr, rewritten
/// in place, and ended when the discovery is over. Draws nothing when stderr is not a terminal.
pub struct ProgressLine {
    on_terminal: bool,
}

impl ProgressLine {
    /// A progress line on stderr, if stderr is a terminal.
    pub fn on_stderr() -> Self {
        Self {
            on_terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl RunEvents for ProgressLine {
    fn progress(&self, source: &str, done: u64, total: Option<u64>) {
        if !self.on_terminal {
            return;
        }
        // A closed stderr is no reason to fail (or panic).
        let mut err = std::io::stderr().lock();
        let _ = match total {
            Some(total) => write!(err, "\r{source}: {done}/{total}"),
            None => write!(err, "\r{source}: {done} discovered"),
        };
        let _ = err.flush();
    }

    fn discovered(&self, _source: &str) {
        if self.on_terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}
