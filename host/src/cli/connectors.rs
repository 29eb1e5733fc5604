//! `connectors install`, `connectors list` and `connectors test`.

use std::path::Path;

use serde::Serialize;

use super::context::Context;
use super::outcome::Outcome;
use super::output::{show, show_json};
use super::render::granted_text;
use super::table::{self, Column, Layout, Row as TableRow};
use crate::conformance;
use crate::connectors::{self, BUNDLED_ID, ConnectorRef, Registry};
use crate::inventory::Inventory;
use crate::sandbox::{Connector, Origin, Trust};
use crate::source::SourceFile;
use crate::text::inert;

/// `connectors install`: validates a component and places it, with the origins granted to it.
pub async fn install(
    context: &Context,
    file: &Path,
    allow_origin: &[String],
    replace: bool,
) -> Outcome {
    let mut allow = Vec::new();
    for text in allow_origin {
        match Origin::grant(text) {
            Ok(origin) if allow.contains(&origin) => {}
            Ok(origin) => allow.push(origin),
            Err(e) => {
                return Outcome::Config(format!(
                    "--allow-origin `{}` cannot be granted: {e}",
                    inert(text)
                ));
            }
        }
    }
    let options = connectors::InstallOptions { allow, replace };
    if context.paths.database.is_some() {
        return install_stored(context, file, options).await;
    }
    let Some(dir) = &context.connectors else {
        return Outcome::Config(
            "`connectors install` needs --connectors DIR (or EUNO_CONNECTORS_DIR), or \
             --database URL to install for every worker"
                .to_owned(),
        );
    };
    match connectors::install(&context.runtime, file, dir, options).await {
        Ok((path, connector)) => show(
            &format!(
                "Installed {} {} (digest {}) as {}{}\n",
                inert(&connector.spec.id),
                inert(&connector.spec.version),
                connector.digest,
                path.display(),
                granted_text(&connector)
            ),
            Outcome::Ok,
        ),
        Err(e) => e.into(),
    }
}

/// `connectors install --database`: validates a component and stores it for every worker.
async fn install_stored(
    context: &Context,
    file: &Path,
    options: connectors::InstallOptions,
) -> Outcome {
    let inventory = match Inventory::open(&context.paths.inventory()) {
        Ok(inventory) => inventory,
        Err(e) => return e.into(),
    };
    match connectors::install_stored(&context.runtime, file, &inventory, options).await {
        Ok(connector) => show(
            &format!(
                "Installed {} {} (digest {}) in the database, for every worker{}\n",
                inert(&connector.spec.id),
                inert(&connector.spec.version),
                connector.digest,
                granted_text(&connector)
            ),
            Outcome::Ok,
        ),
        Err(e) => e.into(),
    }
}

/// `connectors list`: the connectors in use, and the files rejected.
pub async fn list(context: &Context, json: bool) -> Outcome {
    let registry = match Registry::open(&context.runtime, context.connectors.as_deref()).await {
        Ok(registry) => registry,
        Err(e) => return e.into(),
    };
    #[derive(Serialize)]
    struct Row {
        /// Absent for a file that did not load.
        id: Option<String>,
        version: Option<String>,
        digest: Option<String>,
        /// Absent for the bundled connector.
        file: Option<String>,
        /// The origins granted at installation.
        allow: Vec<String>,
        /// Whether this file replaces the bundled connector.
        replaces_bundled: bool,
        /// Why the file is not in use, when it is not.
        error: Option<String>,
    }
    let row = |file: Option<&Path>, c: Option<&Connector>, error: Option<String>| {
        let allow = match c.map(|c| &c.trust) {
            Some(Trust::Component { installed_origins }) => {
                installed_origins.iter().map(Origin::to_string).collect()
            }
            _ => Vec::new(),
        };
        Row {
            id: c.map(|c| c.spec.id.clone()),
            version: c.map(|c| c.spec.version.clone()),
            digest: c.map(|c| c.digest.clone()),
            file: file.map(|f| f.display().to_string()),
            allow,
            replaces_bundled: error.is_none()
                && file.is_some()
                && c.is_some_and(|c| c.spec.id == BUNDLED_ID),
            error,
        }
    };
    let mut rows: Vec<Row> = registry
        .current()
        .list()
        .into_iter()
        .map(|(file, c)| row(file.as_deref(), Some(&c), None))
        .collect();
    let rejected = registry.rejected();
    rows.extend(rejected.iter().map(|r| {
        row(
            Some(&r.file),
            r.connector.as_deref(),
            Some(r.reason.to_string()),
        )
    }));
    if json {
        return show_json(&rows);
    }
    const COLUMNS: [Column; 5] = [
        Column::text("ID"),
        Column::text("VERSION"),
        Column::text("DIGEST"),
        Column::text("FILE"),
        Column::text("MAY REACH"),
    ];
    let table_rows: Vec<TableRow> = rows
        .iter()
        .filter(|row| row.error.is_none())
        .map(|row| {
            TableRow::new(vec![
                inert(row.id.as_deref().unwrap_or_default()).into_owned(),
                inert(row.version.as_deref().unwrap_or_default()).into_owned(),
                row.digest.clone().unwrap_or_default(),
                inert(row.file.as_deref().unwrap_or("(bundled)")).into_owned(),
                row.allow.join(", "),
            ])
        })
        .collect();
    let mut text = table::render(&COLUMNS, &table_rows, Layout::stdout());
    for r in &rejected {
        text += &format!(
            "REJECTED {}: {}\n",
            inert(&r.file.display().to_string()),
            inert(&r.reason.to_string())
        );
    }
    show(&text, Outcome::Ok)
}

/// `connectors test`: the conformance test of a component (or a connector by id) against a
/// source, one line per check, `PASS` or `FAIL` and why.
pub async fn test(context: &Context, connector: &str, source: &Path) -> Outcome {
    let file = match SourceFile::load(source) {
        Ok(file) => file,
        Err(e) => return e.into(),
    };
    let Some(reference) = ConnectorRef::parse(connector, Path::new(".")) else {
        return Outcome::Config(format!(
            "`{}` is neither a connector id (like `{BUNDLED_ID}`) nor a path to a `.wasm` component",
            inert(connector)
        ));
    };
    let connector =
        match connectors::lookup(&context.runtime, context.connectors.as_deref(), &reference).await
        {
            Ok(connector) => connector,
            Err(e) => return e.into(),
        };
    let report = conformance::test(&context.runtime, &connector, &file).await;
    let mut text = format!(
        "Conformance of {} {} ({}) against {}\n",
        inert(&connector.spec.id),
        inert(&connector.spec.version),
        inert(&connector.origin),
        file.path.display()
    );
    for check in &report.checks {
        text += &format!(
            "{} {}: {}\n",
            if check.passed { "PASS" } else { "FAIL" },
            check.promise,
            inert(&check.detail)
        );
    }
    let failed = report.failures().count();
    if failed == 0 {
        text += &format!("{} checks passed\n", report.checks.len());
        show(&text, Outcome::Ok)
    } else {
        show(
            &text,
            Outcome::Nonconforming(format!(
                "{failed} of {} checks failed: {}",
                report.checks.len(),
                report
                    .failures()
                    .map(|c| c.promise)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        )
    }
}
