//! `check` and `run`: one source, checked or discovered.

use std::sync::Arc;

use super::args::{RunArgs, SourceArgs};
use super::context::Context;
use super::outcome::Outcome;
use super::output::{print_notes, show};
use super::progress::LiveProgress;
use super::render::report_text;
use crate::connectors::{self, ConnectorRef};
use crate::contract::ConnectorError;
use crate::run::{self, RunEvents, RunOptions, Unwatched};
use crate::sandbox::{CallError, Connector};
use crate::source::SourceFile;
use crate::text::inert;
use crate::vault::Vault;

/// The source file `args` names and the connector it runs (or the one `--connector` gives).
async fn load_source(
    context: &Context,
    args: &SourceArgs,
) -> Result<(SourceFile, Arc<Connector>), Outcome> {
    // Secrets the Sources page sealed into the file open with this data directory's key.
    let file = SourceFile::load(&args.source)?
        .open_sealed(&Vault::new(&context.paths.data_dir))
        .map_err(|e| Outcome::Config(format!("{}: {e}", args.source.display())))?;
    let reference = match &args.connector {
        Some(path) => ConnectorRef::File(path.clone()),
        None => file.connector.clone(),
    };
    let connector =
        connectors::lookup(&context.runtime, context.connectors.as_deref(), &reference).await?;
    Ok((file, connector))
}

/// `check`: asks the connector whether the source is reachable with its credentials.
pub async fn check(context: &Context, args: SourceArgs) -> Outcome {
    let (file, connector) = match load_source(context, &args).await {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let source = match run::resolve(&file, &connector) {
        Ok(source) => source,
        Err(e) => return e.into(),
    };
    print_notes(&file.path, &source.notes);
    let sandbox = run::sandbox_for(&file, &source);
    match context
        .runtime
        .check(&connector, sandbox, &source.name, source.config.clone())
        .await
    {
        Ok(message) => show(
            &format!("Source \"{}\": OK: {message}\n", inert(&source.name)),
            Outcome::Ok,
        ),
        Err(e) => {
            let message = format!("source \"{}\": check failed: {e}", source.name);
            match e {
                CallError::Connector(ConnectorError::InvalidConfig(_)) => Outcome::Config(message),
                CallError::Connector(_)
                | CallError::ConnectorAfterCutOff { .. }
                | CallError::Deadline(_)
                | CallError::Memory(_)
                | CallError::Stopped(_)
                | CallError::Trap { .. }
                | CallError::Cancelled
                | CallError::Setup(_) => Outcome::RunFailed(message),
            }
        }
    }
}

/// `run`: one discovery, recorded in the inventory, with a live line on a terminal (none with
/// `--quiet`, which drops the summary too).
pub async fn run(context: &Context, args: RunArgs) -> Outcome {
    let (file, connector) = match load_source(context, &args.source).await {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    // Resolving again inside the run is cheap; this is only for the notes, which a failed
    // resolution has none of (the run reports its error).
    if let Ok(source) = run::resolve(&file, &connector) {
        print_notes(&file.path, &source.notes);
    }
    let options = RunOptions {
        dry_run: args.dry_run,
        scheduled_slot: None,
        allow_mass_removal: args.allow_mass_removal,
        full: args.full,
        lease: None,
    };
    let live = (!args.quiet).then(|| {
        Arc::new(LiveProgress::on_stderr(
            &file.name,
            &connector.spec.display_name,
        ))
    });
    let events: Arc<dyn RunEvents> = match &live {
        Some(live) => live.clone(),
        None => Arc::new(Unwatched),
    };
    let ran = run::run_source(
        &context.runtime,
        &context.paths.inventory(),
        &file,
        &connector,
        options,
        events,
        None,
    )
    .await;
    // Whatever happened, the line is gone before anything else is written.
    if let Some(live) = &live {
        live.clear();
    }
    match ran {
        Ok(report) => {
            // The run is committed: a reader that left early does not change its exit status.
            let outcome = match &report.summary.cleanup_refused {
                Some(reason) => Outcome::CleanupRefused(format!(
                    "source \"{}\": cleanup refused: {reason}",
                    report.source
                )),
                None => Outcome::Ok,
            };
            if args.quiet {
                return outcome;
            }
            show(&report_text(&report), outcome)
        }
        Err(e) => e.into(),
    }
}
