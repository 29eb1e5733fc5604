//! `completions` and `man`: shell completion scripts and the manual page, generated from the
//! argument definitions in [`super::args`] so that they never fall behind `--help`.

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use super::outcome::Outcome;
use super::output::show_bytes;

/// `completions SHELL`: the completion script for `shell` on standard output.
pub fn completions(args: &CompletionsArgs) -> Outcome {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, &name, &mut script);
    if args.shell == clap_complete::Shell::Bash {
        script = bash_fixed(&script, &name);
    }
    show_bytes(&script, Outcome::Ok)
}

/// The bash script with clap_complete's spelling of a hyphenated program name made consistent:
/// its dispatch loop names the state of `euno-host status` `euno__host__subcmd__status`, but the
/// case arms it must match spell it `euno__subcmd__host__subcmd__status`, so no subcommand's
/// options ever complete (clap-rs/clap#6421, fixed upstream, not yet released in 4.6.12).
fn bash_fixed(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", name.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", name.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}

/// `man`: the manual page, in roff, on standard output.
pub fn man() -> Outcome {
    let mut page = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut page) {
        Ok(()) => show_bytes(&page, Outcome::Ok),
        Err(e) => Outcome::Internal(format!("rendering the manual page failed: {e}")),
    }
}
