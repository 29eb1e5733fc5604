//! Running the real `euno-host` binary, end to end, as a user would.
//!
//! Each measured run is `euno-host --data-dir DIR run --source FILE` in a child process, against
//! an empty inventory. The compiled component is cached in `DIR` by a warm-up before the first
//! measured run, so every run loads it the way a second run on a user's machine does.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::measure::{ChildCost, run_measured};

/// The token the simulators of the benchmarks accept.
pub const TOKEN: &str = "hxtp_bench_token";

/// An `euno-host` binary and a data directory of its own.
pub struct HostRunner {
    exe: PathBuf,
    data_dir: tempfile::TempDir,
}

/// What `euno-host run` reported, read from its summary.
#[derive(Debug, Clone)]
pub struct HostRun {
    /// The process's cost.
    pub cost: ChildCost,
    /// Resources discovered.
    pub emitted: u64,
    /// Requests the connector says it made.
    pub requests: u64,
}

impl HostRunner {
    /// Finds `euno-host` next to this benchmark binary (both are in `target/release`) and warms
    /// its component cache.
    pub fn new() -> anyhow::Result<Self> {
        let exe = sibling_binary("euno-host")?;
        let data_dir = tempfile::Builder::new()
            .prefix("euno-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let runner = Self { exe, data_dir };
        runner
            .command()
            .arg("spec")
            .output()
            .context("cannot run euno-host spec to warm the component cache")?;
        Ok(runner)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.exe);
        command.arg("--data-dir").arg(self.data_dir.path());
        command.env_remove("EUNO_LOG");
        command
    }

    /// Runs one discovery of the Hex source `settings` (the `[settings]` table's lines, without
    /// the token) into an empty inventory.
    pub fn run(&self, settings: &str) -> anyhow::Result<HostRun> {
        self.clear()?;
        self.run_again(settings)
    }

    /// Empties the inventory: the next run is a source's first.
    pub fn clear(&self) -> anyhow::Result<()> {
        for suffix in ["", "-wal", "-shm"] {
            let path = self
                .data_dir
                .path()
                .join(format!("inventory.sqlite3{suffix}"));
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Runs one discovery of the Hex source `settings` into the inventory as the last run left
    /// it: a second run sees the first's resources and checkpoint.
    pub fn run_again(&self, settings: &str) -> anyhow::Result<HostRun> {
        let source = self.data_dir.path().join("bench-source.toml");
        std::fs::write(
            &source,
            format!(
                "name = \"bench\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"{TOKEN}\"\n\n[settings]\n\
                 {settings}\n"
            ),
        )?;
        let cost = run_measured(self.command().arg("run").arg("--source").arg(&source))?;
        cost.ensure_success("euno-host run")?;
        let (emitted, requests) = parse_summary(&cost.stdout)
            .with_context(|| format!("unexpected summary from euno-host run:\n{}", cost.stdout))?;
        Ok(HostRun {
            cost,
            emitted,
            requests,
        })
    }
}

/// `discovered N resources (...) with R requests` from the run summary.
fn parse_summary(stdout: &str) -> Option<(u64, u64)> {
    let line = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("discovered "))?;
    let mut words = line.split_whitespace();
    let emitted = words.nth(1)?.parse().ok()?;
    let mut words = line.rsplit(" with ").next()?.split_whitespace();
    let requests = words.next()?.parse().ok()?;
    Some((emitted, requests))
}

/// A binary of this workspace, next to the running benchmark binary.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate the benchmark binary")?;
    let path = me
        .parent()
        .context("the benchmark binary has no directory")?
        .join(name);
    if !path.is_file() {
        bail!(
            "{} is missing; build it first: cargo build --release -p {name}",
            path.display()
        );
    }
    Ok(path)
}

/// The `[settings]` lines of an unthrottled Hex source at `base_url` with the given list flags.
pub fn settings(base_url: &str, flags: ListFlags, requests_per_minute: u32) -> String {
    format!(
        "base_url = \"{base_url}\"\nworkspace_id = \"bench-ws\"\nrequests_per_minute = \
         {requests_per_minute}\npage_size = 100\ninclude_components = {}\ninclude_archived = {}\n\
         include_trashed = {}\n",
        flags.components, flags.archived, flags.trashed
    )
}

/// Which kinds of project a listing asks for.
#[derive(Debug, Clone, Copy)]
pub struct ListFlags {
    /// `includeComponents`.
    pub components: bool,
    /// `includeArchived`.
    pub archived: bool,
    /// `includeTrashed`.
    pub trashed: bool,
}

impl ListFlags {
    /// Everything: every project of the workspace is listed.
    pub const ALL: Self = Self {
        components: true,
        archived: true,
        trashed: true,
    };
    /// What DataHub's Hex source lists: components, but neither archived nor trashed projects.
    pub const DATAHUB: Self = Self {
        components: true,
        archived: false,
        trashed: false,
    };

    /// The query the connector sends for the first page (see `guest/src/client.rs`).
    pub fn query(self) -> String {
        let mut query = "limit=100&includeSharing=true".to_owned();
        for (wanted, name) in [
            (self.components, "includeComponents"),
            (self.archived, "includeArchived"),
            (self.trashed, "includeTrashed"),
        ] {
            if wanted {
                query.push_str(&format!("&{name}=true"));
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_run_summary() {
        let stdout = "Source \"bench\": run 1 succeeded with hex 0.1.0 (digest 966a664e9caf)\n  \
                      discovered 92125 resources (7283 hex_component, 84841 hex_project, 1 \
                      hex_workspace) with 922 requests in 18.45 s\n";
        assert_eq!(parse_summary(stdout), Some((92125, 922)));
    }
}
