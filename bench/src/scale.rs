//! Benchmark 8: scale-out. `sources` Hex sources, all due at once, each discovering a workspace
//! of `projects` projects on the simulator, run by `euno-host serve`: one worker on a SQLite
//! inventory, then 1, 2 and 4 workers sharing a PostgreSQL inventory (a private cluster from
//! `euno-testkit`). Every worker is a real process; its CPU time comes from `wait4` once it is
//! stopped, the database server's from its postmaster (which reaps its backends).
//!
//! The sources share one simulator and so one workspace: after the first run the others find
//! its projects unchanged, which is what a scheduled re-discovery mostly finds too. The wall time
//! is from the first run's start to the last run's end, as the runs record them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use testkit::postgres::PgCluster;

use crate::host::{TOKEN, sibling_binary};
use crate::measure::{ChildCost, reap_measured};
use crate::sim::Sim;

/// How long one configuration may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(1800);

/// One configuration's figures.
struct Figures {
    backend: &'static str,
    workers: usize,
    wall: Duration,
    worker_cpu: Duration,
    database_cpu: Option<Duration>,
    by_worker: Vec<usize>,
}

/// Runs every configuration and prints the table.
pub fn run(
    sources: usize,
    projects: usize,
    workers: &[usize],
    max_parallel: usize,
) -> anyhow::Result<()> {
    let sim = Sim::spawn(projects, &[])?;
    let base_url = sim.base_url();
    let mut figures = vec![measure_sqlite(sources, &base_url, max_parallel)?];
    let cluster = PgCluster::start()?
        .context("no PostgreSQL server binaries on this machine (install postgresql)")?;
    for (round, &count) in workers.iter().enumerate() {
        figures.push(measure_postgres(
            &cluster,
            round,
            count,
            sources,
            &base_url,
            max_parallel,
        )?);
    }
    print(&figures, sources, projects, max_parallel);
    Ok(())
}

/// A data directory with `sources` source files, all due at once.
fn write_sources(dir: &Path, sources: usize, base_url: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..sources {
        std::fs::write(
            dir.join(format!("source-{i:04}.toml")),
            format!(
                "name = \"Bench {i:04}\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \
                 \"${{HEX_API_TOKEN}}\"\n\n[settings]\nbase_url = \"{base_url}\"\nworkspace_id = \
                 \"bench-ws\"\nrequests_per_minute = 0\npage_size = 100\n\n[schedule]\nenabled = \
                 true\nhourly = {{ every_hours = 1 }}\n"
            ),
        )?;
    }
    Ok(())
}

fn euno_host(data_dir: &Path, database: Option<&str>) -> anyhow::Result<Command> {
    let mut command = Command::new(sibling_binary("euno-host")?);
    command.arg("--data-dir").arg(data_dir);
    if let Some(url) = database {
        command.arg("--database").arg(url);
    }
    command
        .env_remove("EUNO_LOG")
        .env_remove("EUNO_DATABASE_URL")
        .env("HEX_API_TOKEN", TOKEN);
    Ok(command)
}

fn start_worker(mut command: Command, name: &str, max_parallel: usize) -> anyhow::Result<Child> {
    command
        .args([
            "serve",
            "--worker",
            name,
            "--poll-ms",
            "200",
            "--settle-ms",
            "0",
        ])
        .args(["--max-parallel", &max_parallel.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start euno-host serve")
}

/// SIGTERM, then the worker's cost.
fn stop_worker(child: Child, started: Instant) -> anyhow::Result<ChildCost> {
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    // SAFETY: sending a signal to a child this process started and has not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    reap_measured(child, started)
}

/// Polls `runs --json` until `sources` runs succeeded; returns them.
fn wait_for_runs(
    data_dir: &Path,
    database: Option<&str>,
    sources: usize,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let output = euno_host(data_dir, database)?
            .args(["runs", "--json", "--limit", "1000000"])
            .output()?;
        let runs: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let done: Vec<Value> = runs
            .into_iter()
            .filter(|run| run["outcome"] == "succeeded")
            .collect();
        if done.len() >= sources {
            return Ok(done);
        }
        if Instant::now() > deadline {
            bail!("only {} of {sources} runs succeeded in time", done.len());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// From the first start to the last finish, as the runs record them.
fn span(runs: &[Value]) -> anyhow::Result<Duration> {
    let instant = |value: &Value| -> anyhow::Result<jiff::Timestamp> {
        Ok(value.as_str().context("a timestamp")?.parse()?)
    };
    let first = runs
        .iter()
        .map(|run| instant(&run["started_at"]))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .min()
        .context("no runs")?;
    let last = runs
        .iter()
        .map(|run| instant(&run["finished_at"]))
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .max()
        .context("no runs")?;
    Ok(Duration::try_from(last.duration_since(first)).unwrap_or_default())
}

fn by_worker(runs: &[Value]) -> Vec<usize> {
    let workers: BTreeSet<&str> = runs
        .iter()
        .filter_map(|run| run["worker"].as_str())
        .collect();
    workers
        .iter()
        .map(|worker| runs.iter().filter(|run| run["worker"] == *worker).count())
        .collect()
}

fn measure_sqlite(sources: usize, base_url: &str, max_parallel: usize) -> anyhow::Result<Figures> {
    let root = tempfile::Builder::new().prefix("euno-scale-").tempdir()?;
    let (data_dir, dir) = (root.path().join("data"), root.path().join("sources"));
    write_sources(&dir, sources, base_url)?;
    eprintln!("  SQLite, 1 worker: {sources} sources");
    let started = Instant::now();
    let worker = euno_host(&data_dir, None)?
        .args(["serve", "--sources"])
        .arg(&dir)
        .args([
            "--worker",
            "sqlite-1",
            "--poll-ms",
            "200",
            "--settle-ms",
            "0",
        ])
        .args(["--max-parallel", &max_parallel.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start euno-host serve")?;
    let runs = wait_for_runs(&data_dir, None, sources)?;
    let cost = stop_worker(worker, started)?;
    Ok(Figures {
        backend: "SQLite",
        workers: 1,
        wall: span(&runs)?,
        worker_cpu: cost.cpu,
        database_cpu: None,
        by_worker: by_worker(&runs),
    })
}

/// CPU time of the PostgreSQL server so far: its postmaster's own and that of the backends it
/// has reaped (each client connection's backend exits when the client disconnects).
fn server_cpu(cluster: &PgCluster) -> Option<Duration> {
    let pid_file = cluster.socket_dir().join("data").join("postmaster.pid");
    let pid = std::fs::read_to_string(pid_file).ok()?;
    let stat =
        std::fs::read_to_string(format!("/proc/{}/stat", pid.lines().next()?.trim())).ok()?;
    // Fields after the command name (which may hold spaces): utime is field 14, cstime 17.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|field| field.parse().ok())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0)?;
    Some(Duration::from_millis(
        fields.iter().sum::<u64>() * 1000 / ticks,
    ))
}

fn measure_postgres(
    cluster: &PgCluster,
    round: usize,
    workers: usize,
    sources: usize,
    base_url: &str,
    max_parallel: usize,
) -> anyhow::Result<Figures> {
    let root = tempfile::Builder::new().prefix("euno-scale-").tempdir()?;
    let (data_dir, dir) = (root.path().join("data"), root.path().join("sources"));
    write_sources(&dir, sources, base_url)?;
    let url = cluster.create_database(&format!("scale_{round}_{workers}"))?;
    let applied = euno_host(&data_dir, Some(&url))?
        .args(["sources", "apply"])
        .arg(&dir)
        .output()?;
    if !applied.status.success() {
        bail!(
            "sources apply failed: {}",
            String::from_utf8_lossy(&applied.stderr)
        );
    }
    eprintln!("  PostgreSQL, {workers} workers: {sources} sources");
    let server_before = server_cpu(cluster);
    let started = Instant::now();
    let children = (1..=workers)
        .map(|i| {
            start_worker(
                euno_host(&data_dir, Some(&url))?,
                &format!("pg-{i}"),
                max_parallel,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runs = wait_for_runs(&data_dir, Some(&url), sources)?;
    let mut worker_cpu = Duration::ZERO;
    for child in children {
        worker_cpu += stop_worker(child, started)?.cpu;
    }
    let database_cpu = server_before
        .zip(server_cpu(cluster))
        .map(|(before, after)| after.saturating_sub(before));
    Ok(Figures {
        backend: "PostgreSQL",
        workers,
        wall: span(&runs)?,
        worker_cpu,
        database_cpu,
        by_worker: by_worker(&runs),
    })
}

fn print(figures: &[Figures], sources: usize, projects: usize, max_parallel: usize) {
    println!(
        "## 8. Scale-out: {sources} sources of {projects} projects, all due at once, \
         `--max-parallel {max_parallel}` per worker\n"
    );
    println!(
        "| inventory | workers | wall | sources/min | worker CPU per source | database CPU per \
         source | scaling efficiency | runs per worker |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let per_minute = |f: &Figures| sources as f64 * 60.0 / f.wall.as_secs_f64().max(0.001);
    let single = figures
        .iter()
        .find(|f| f.backend == "PostgreSQL" && f.workers == 1)
        .map(per_minute);
    for f in figures {
        let efficiency = match (f.backend, single) {
            ("PostgreSQL", Some(one)) => {
                format!("{:.0}%", per_minute(f) / (one * f.workers as f64) * 100.0)
            }
            _ => "–".to_owned(),
        };
        println!(
            "| {} | {} | {:.1} s | {:.0} | {:.0} ms | {} | {efficiency} | {:?} |",
            f.backend,
            f.workers,
            f.wall.as_secs_f64(),
            per_minute(f),
            f.worker_cpu.as_secs_f64() * 1000.0 / sources as f64,
            f.database_cpu.map_or_else(
                || "–".to_owned(),
                |cpu| format!("{:.0} ms", cpu.as_secs_f64() * 1000.0 / sources as f64)
            ),
            f.by_worker,
        );
    }
    println!();
}
