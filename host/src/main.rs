//! The `euno-host` executable: parse the arguments, run the command, map its outcome to the exit
//! status with a one-line error on stderr.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use euno_host::cli::{self, Cli, Outcome};
use euno_host::text::inert;
use tracing_subscriber::EnvFilter;

/// Writes `euno-host: {message}` on stderr, as one inert line (the message may quote a server
/// or a connector). A closed stderr is ignored: the exit status still tells what happened.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "euno-host: {}", inert(message));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Through the live line, which it lifts while a log line is written.
        .with_writer(cli::progress::LogWriter)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(cli::execute(cli));
    match &outcome {
        Outcome::Ok => {}
        Outcome::Config(message)
        | Outcome::RunFailed(message)
        | Outcome::CleanupRefused(message)
        | Outcome::Nonconforming(message)
        | Outcome::Internal(message) => report(message),
    }
    ExitCode::from(outcome.exit_code())
}
