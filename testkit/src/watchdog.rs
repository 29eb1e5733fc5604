//! A helper process that stops a server and removes its files when the test process goes away.
//!
//! A cluster shared by a whole test binary lives in a `static`, and statics are never dropped,
//! so `Drop` alone cannot clean it up. `atexit` runs only on a normal exit: not when the process
//! is killed (SIGKILL, or the SIGINT of a Ctrl-C), aborts, or panics while panicking. A
//! parent-death signal (`PR_SET_PDEATHSIG`) fires when the *thread* that spawned the child ends,
//! and libtest ends one thread per test; it is also cleared when the child changes user, as the
//! server does when the tests run as root. A pipe has none of these gaps: the watchdog waits on
//! its stdin, whose only writer is the test process, and the kernel closes that end however the
//! process ends. The watchdog then runs the stop command and removes the directory.
//!
//! The watchdog is `/bin/sh` running a six-line script, in its own process group and ignoring
//! the terminal's signals, so that the Ctrl-C which stops the tests does not stop it first.
//! Dropping the server's owner sets it off at once and waits for it, so that `Drop` and a dying
//! process clean up along the one path.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// The script: `$1` is the directory to remove, the rest the stop command. It waits for a line
/// or the end of its stdin, whichever comes first.
const SCRIPT: &str = r#"trap '' INT HUP TERM QUIT PIPE
dir=$1
shift
read -r _ || true
"$@" >/dev/null 2>&1
rm -rf -- "$dir""#;

/// A running watchdog; see the module documentation.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
    /// The write end of the watchdog's stdin: closing it (or the process ending) sets it off.
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts a watchdog that, once set off, runs `stop` and then removes `dir`.
    pub(crate) fn spawn(dir: &Path, stop: &[OsString]) -> io::Result<Watchdog> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("euno-testkit-watchdog")
            .arg(dir)
            .args(stop)
            .current_dir("/")
            .stdin(Stdio::piped())
            // Holding the test's stdout or stderr would keep whoever reads them (cargo, a pipe)
            // waiting after the tests are done.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// Sets the watchdog off now and waits until it has cleaned up.
    pub(crate) fn finish(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // A watchdog that is already gone cannot be told anything; waiting below is all
            // that is left to do.
            let _ = stdin.write_all(b"now\n");
        }
        let _ = self.child.wait();
    }
}
