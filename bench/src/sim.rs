//! The Hex API simulator the benchmarks run against: the `hex-sim` binary in its own process,
//! serving a synthetic workspace on loopback.
//!
//! A separate process, not a thread of this one, for two reasons: its CPU time must not be
//! confused with the client's, and Linux carries a process's peak RSS across `exec` into the
//! child's `ru_maxrss`, so a benchmark process holding a 100k-project workspace would inflate
//! every child's measured peak. This process stays small.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};
use hex_sim::SimStats;

use crate::host::{TOKEN, sibling_binary};
use crate::http;

/// The seed of every benchmark workspace, so that runs compare the same bytes.
pub const SEED: u64 = 42;

/// A running `hex-sim`, stopped when dropped.
pub struct Sim {
    child: Child,
    authority: String,
}

impl Sim {
    /// Serves a synthetic workspace of `projects` projects, with `extra` fault flags (e.g.
    /// `["--rate-limit-per-minute", "600"]`).
    pub fn spawn(projects: usize, extra: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new(sibling_binary("hex-sim")?)
            .args(["--projects", &projects.to_string()])
            .args(["--seed", &SEED.to_string()])
            .args([
                "--token",
                TOKEN,
                "--workspace-id",
                "bench-ws",
                "--port",
                "0",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start hex-sim")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("hex-sim has no stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        // `hex-sim listening on http://127.0.0.1:PORT/api/v1 (N projects)`
        let Some(authority) = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("hex-sim did not say where it listens: {line:?}");
        };
        Ok(Self {
            authority: authority.to_owned(),
            child,
        })
    }

    /// The API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.authority)
    }

    /// Its counters so far.
    pub fn stats(&self) -> anyhow::Result<SimStats> {
        Ok(serde_json::from_slice(&self.stats_body()?)?)
    }

    /// The body of `GET /__sim/stats`: [`SimStats`]' fields and the lineage endpoints' counts
    /// under `endpoints`.
    pub fn stats_body(&self) -> anyhow::Result<Vec<u8>> {
        http::get(&self.authority, "/__sim/stats")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the counters moved between two snapshots.
pub fn delta(before: &SimStats, after: &SimStats) -> SimStats {
    SimStats {
        requests: after.requests - before.requests,
        project_list_requests: after.project_list_requests - before.project_list_requests,
        project_get_requests: after.project_get_requests - before.project_get_requests,
        users_me_requests: after.users_me_requests - before.users_me_requests,
        export_requests: after.export_requests - before.export_requests,
        cells_requests: after.cells_requests - before.cells_requests,
        other_requests: after.other_requests - before.other_requests,
        pages_served: after.pages_served - before.pages_served,
        bad_requests: after.bad_requests - before.bad_requests,
        unauthorized: after.unauthorized - before.unauthorized,
        forbidden: after.forbidden - before.forbidden,
        not_found: after.not_found - before.not_found,
        rate_limited: after.rate_limited - before.rate_limited,
        server_errors: after.server_errors - before.server_errors,
    }
}
