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
//! `status`), `spec`, and [`demo`]; this module dispatches.

use crate::sandbox::Runtime;

pub mod args;
mod connectors;
pub mod context;
pub mod demo;
mod inventory;
pub mod outcome;
mod output;
mod render;
mod run;
pub mod serve;
mod spec;

pub use args::{Cli, Command, ConnectorsCommand, SourcesCommand};
pub use context::{Context, Paths, default_data_dir};
pub use outcome::Outcome;

/// Runs the parsed command.
pub async fn execute(cli: Cli) -> Outcome {
    let paths = Paths {
        data_dir: cli.data_dir.unwrap_or_else(default_data_dir),
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
        Command::Connectors(ConnectorsCommand::Test { connector, source }) => {
            connectors::test(&context, &connector, &source).await
        }
    }
}
