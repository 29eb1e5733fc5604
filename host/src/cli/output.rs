//! Writing to standard output and standard error: the only place `euno-host` writes to the
//! terminal. A reader that leaves early (`euno-host runs | head -1`) neither panics the process
//! nor changes its exit status.

use std::io::Write;

use serde::Serialize;

use super::outcome::Outcome;
use crate::text::inert;

/// Writes `text` to standard output and returns `outcome`: see [`written_out`].
pub fn show(text: &str, outcome: Outcome) -> Outcome {
    show_bytes(text.as_bytes(), outcome)
}

/// Writes `bytes` to standard output and returns `outcome`: see [`written_out`].
pub fn show_bytes(bytes: &[u8], outcome: Outcome) -> Outcome {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(bytes).and_then(|()| out.flush());
    written_out(written, outcome)
}

/// `value` as pretty JSON on standard output, then success: see [`written_out`].
pub fn show_json<T: Serialize + ?Sized>(value: &T) -> Outcome {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    written_out(written, Outcome::Ok)
}

/// The outcome of a command once its output is written. A reader that left early (EPIPE: `|
/// head -1`, a closed pager) is no failure of the command, which did what it was asked: the
/// outcome stands. Any other failure to write turns a success into an internal error (exit 1), so
/// that lost output is never silent; a failure already reported keeps its own status.
pub fn written_out(written: std::io::Result<()>, outcome: Outcome) -> Outcome {
    match written {
        Ok(()) => outcome,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => outcome,
        Err(e) => match outcome {
            Outcome::Ok => Outcome::Internal(format!("writing to standard output failed: {e}")),
            other => other,
        },
    }
}

/// Writes `euno-host: note: {file}: {note}` on stderr for each note, one inert line each.
pub fn print_notes(file: &std::path::Path, notes: &[String]) {
    let mut err = std::io::stderr().lock();
    for note in notes {
        // A closed stderr is no reason to fail: the command's outcome says what happened.
        let _ = writeln!(err, "euno-host: note: {}: {}", file.display(), inert(note));
    }
}
