//! Measuring a child process from the outside (wall time, CPU time, peak RSS) and summarising
//! repeated measurements.
//!
//! The child's CPU time and peak RSS come from `wait4`, which reports the rusage of exactly that
//! child (and its own waited-for children), so a simulator or floor client running in this process
//! is never counted against it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// What a finished child cost.
#[derive(Debug, Clone)]
pub struct ChildCost {
    /// From spawn to exit, measured here.
    pub wall: Duration,
    /// User plus system CPU time of the child.
    pub cpu: Duration,
    /// Peak resident set size of the child, in KiB (`ru_maxrss` on Linux).
    pub max_rss_kib: u64,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// Its exit status, when it exited normally.
    pub exit_code: Option<i32>,
}

impl ChildCost {
    /// Peak RSS in MiB.
    pub fn max_rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// Fails with the child's stderr unless it exited with status 0.
    pub fn ensure_success(&self, what: &str) -> anyhow::Result<()> {
        if self.exit_code != Some(0) {
            bail!(
                "{what} exited with {:?}:\n{}\n{}",
                self.exit_code,
                self.stdout.trim(),
                self.stderr.trim()
            );
        }
        Ok(())
    }
}

/// Runs `command` to completion, capturing its output, and measures it.
pub fn run_measured(command: &mut Command) -> anyhow::Result<ChildCost> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut cost = reap_measured(child, started)?;
    cost.stdout = stdout.join().unwrap_or_default();
    cost.stderr = stderr.join().unwrap_or_default();
    Ok(cost)
}

/// Waits for `child` (started at `started`) to exit and measures it; its output is not read.
pub fn reap_measured(child: Child, started: Instant) -> anyhow::Result<ChildCost> {
    let (status, usage) = wait4(&child)?;
    let wall = started.elapsed();
    // The `Child` must not wait again: the process is reaped.
    std::mem::forget(child);
    Ok(ChildCost {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        stdout: String::new(),
        stderr: String::new(),
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
    })
}

fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

fn wait4(child: &Child) -> anyhow::Result<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data; an all-zero value is valid and wait4 overwrites it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid for writes for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("wait4 on the measured child");
        }
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// CPU time (user plus system) the calling thread has used so far.
pub fn thread_cpu() -> Duration {
    // SAFETY: as in `wait4`: plain old data, filled by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for writes.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &raw mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

/// The smallest and largest of `values`, for showing the spread next to a median.
pub fn range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}
