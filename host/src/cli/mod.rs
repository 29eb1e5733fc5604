//! The `euno-host` command line: the arguments, one handler per command group, and the one place
//! that writes to the terminal.
//!
//! Every command returns an [`Outcome`] that `main` maps to the process exit status: 0 success,
//! 2 a configuration error (bad arguments, source file or connector), 3 a failed run, 4 a run
//! whose cleanup the safety guard refused, 1 anything else. The library's typed errors become
//! outcomes here, each variant mapped by name.
//!
//! Its modules, bottom-up: [`args`] (what `--help` shows), [`outcome`] (exit statuses),
//! [`context`], `output` (stdout and stderr, a reader that leaves early included), `render`
//! (tables, summaries, the progress line), then one module per command group: `run` (`check`,
//! `run`), `inventory` (`resources`, `runs`, `sources remove`), `connectors`, `serve` (`serve`,
//! `status`), `spec`, [`demo`], and `docs` (`completions`, `man`); this module dispatches.

use crate::inventory::Database;
use crate::sandbox::Runtime;

pub mod args;
mod connectors;
pub mod context;
pub mod demo;
mod docs;
mod inventory;
pub mod outcome;
mod output;
pub mod progress;
mod render;
mod run;
pub mod serve;
mod spec;
mod table;

pub use args::{Cli, Command, ConnectorsCommand, SourcesCommand};
pub use context::{Context, Paths, default_data_dir};
pub use outcome::Outcome;

/// Runs the parsed command.
pub async fn execute(cli: Cli) -> Outcome {
    // These need neither the engine nor the data directory.
    match &cli.command {
        Command::Completions(args) => return docs::completions(args),
        Command::Man => return docs::man(),
        _ => {}
    }
    let database = match cli.database.as_deref().map(Database::postgres).transpose() {
        Ok(database) => database,
        // A malformed `--database` is a configuration error, like a bad argument.
        Err(error) => return Outcome::Config(error.to_string()),
    };
    let paths = Paths {
        data_dir: cli.data_dir.unwrap_or_else(default_data_dir),
        database,
    };
    let runtime = match Runtime::new(Some(paths.cache())) {
        Ok(runtime) => runtime,
        Err(e) => return Outcome::Internal(e.to_string()),
    };
    let context = Context {
        runtime,
        paths,
        connectors: cli.connectors,
    };
    let paths = &context.paths;
    match cli.command {
        Command::Demo(args) => demo::demo(&context, args).await,
        Command::Spec(args) => spec::spec(&context, args).await,
        Command::Check(args) => run::check(&context, args).await,
        Command::Run(args) => run::run(&context, args).await,
        Command::Resources(args) => inventory::resources(paths, args),
        Command::Runs(args) => inventory::runs(paths, args),
        Command::Sources(SourcesCommand::Remove { name }) => inventory::remove_source(paths, &name),
        Command::Sources(SourcesCommand::Apply { path }) => inventory::apply_sources(paths, &path),
        Command::Sources(SourcesCommand::List { json }) => inventory::list_sources(paths, json),
        Command::Serve(args) => serve::serve(&context, args).await,
        Command::Status(args) => serve::status(paths, args),
        Command::Connectors(ConnectorsCommand::Install {
            file,
            allow_origin,
            replace,
        }) => connectors::install(&context, &file, &allow_origin, replace).await,
        Command::Connectors(ConnectorsCommand::List { json }) => {
            connectors::list(&context, json).await
        }
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
        Command::Connectors(ConnectorsCommand::Test { connector, source }) => {
            connectors::test(&context, &connector, &source).await
        }
    }
}
