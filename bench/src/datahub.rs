//! Benchmark 7: the peer. DataHub's Hex source (`acryl-datahub[hex]`, pinned) and `euno-host`
//! discover the same simulated workspace, one after the other in each round, on this machine.
//!
//! DataHub lists projects and components (not archived or trashed ones), and for every item also
//! asks `POST /projects/export` (and `GET /cells` when an export has no cells); `hex-sim` serves
//! both. `euno-host` runs with the same list flags. As shipped DataHub throttles itself to
//! 57 requests a minute, so it runs as shipped only at 50 projects (to record its requests and
//! its time at the real limit); at 1k and 10k `bench/datahub/run_hex_source.py --no-throttle`
//! makes that throttle a no-op and `euno-host` runs unthrottled too, which compares the work
//! each does rather than the limit both obey.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use hex_sim::SimStats;

use crate::host::{self, HostRunner, ListFlags, TOKEN};
use crate::measure::{ChildCost, median, run_measured};
use crate::sim::{self, Sim};
use crate::throughput::verdict;

/// The DataHub release measured.
const DATAHUB: &str = "acryl-datahub[hex]==1.7.0.17";

/// One tool's run.
struct ToolRun {
    cost: ChildCost,
    sim: SimStats,
}

/// One round at one size: both tools.
struct Round {
    datahub: ToolRun,
    euno: ToolRun,
}

/// One size.
struct Size {
    projects: usize,
    throttled: bool,
    rounds: Vec<Round>,
}

/// Installs DataHub if needed and runs the comparison at the given sizes.
pub fn run(sizes: &[usize], rounds: usize, shipped_projects: usize) -> anyhow::Result<()> {
    let python = ensure_venv()?;
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("datahub/run_hex_source.py");
    let runner = HostRunner::new()?;
    let work = tempfile::Builder::new()
        .prefix("euno-bench-datahub-")
        .tempdir()?;

    let mut results = Vec::new();
    let plan = std::iter::once((shipped_projects, true, 1))
        .filter(|(projects, ..)| *projects > 0)
        .chain(sizes.iter().map(|&projects| (projects, false, rounds)));
    for (projects, throttled, rounds) in plan {
        let mut size = Size {
            projects,
            throttled,
            rounds: Vec::new(),
        };
        for round in 1..=rounds {
            let sim = Sim::spawn(projects, &[])?;
            let recipe = write_recipe(work.path(), &sim.base_url())?;
            let mut command = Command::new(&python);
            command
                .arg(&wrapper)
                .arg(&recipe)
                .env("DATAHUB_TELEMETRY_ENABLED", "false");
            if !throttled {
                command.arg("--no-throttle");
            }
            let before = sim.stats()?;
            let cost = run_measured(&mut command)?;
            cost.ensure_success("DataHub's Hex source")?;
            let datahub = ToolRun {
                cost,
                sim: sim::delta(&before, &sim.stats()?),
            };
            // euno-host as shipped throttles itself to 30 requests a minute; unthrottled otherwise.
            let rpm = if throttled { 30 } else { 0 };
            let before = sim.stats()?;
            let run = runner.run(&host::settings(&sim.base_url(), ListFlags::DATAHUB, rpm))?;
            let euno = ToolRun {
                cost: run.cost,
                sim: sim::delta(&before, &sim.stats()?),
            };
            eprintln!(
                "  {projects} projects{}, round {round}/{rounds}: DataHub {:.3} s (cpu {:.3} s, \
                 {:.0} MiB, {} requests); euno-host {:.3} s (cpu {:.3} s, {:.0} MiB, {} requests)",
                if throttled { " as shipped" } else { "" },
                datahub.cost.wall.as_secs_f64(),
                datahub.cost.cpu.as_secs_f64(),
                datahub.cost.max_rss_mib(),
                datahub.sim.requests,
                euno.cost.wall.as_secs_f64(),
                euno.cost.cpu.as_secs_f64(),
                euno.cost.max_rss_mib(),
                euno.sim.requests,
            );
            size.rounds.push(Round { datahub, euno });
        }
        results.push(size);
    }
    print(&results);
    Ok(())
}

/// The requests one unthrottled run of DataHub's Hex source makes on a fresh simulator serving
/// the benchmark workspace of `projects` projects (benchmark 8 puts them beside euno-host's).
pub fn requests(projects: usize) -> anyhow::Result<u64> {
    let python = ensure_venv()?;
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("datahub/run_hex_source.py");
    let work = tempfile::Builder::new()
        .prefix("euno-bench-datahub-")
        .tempdir()?;
    let sim = Sim::spawn(projects, &[])?;
    let recipe = write_recipe(work.path(), &sim.base_url())?;
    let before = sim.stats()?;
    let cost = run_measured(
        Command::new(&python)
            .arg(&wrapper)
            .arg(&recipe)
            .arg("--no-throttle")
            .env("DATAHUB_TELEMETRY_ENABLED", "false"),
    )?;
    cost.ensure_success("DataHub's Hex source")?;
    Ok(sim::delta(&before, &sim.stats()?).requests)
}

fn print(sizes: &[Size]) {
    println!("## 7. The peer: DataHub's Hex source ({DATAHUB}) vs euno-host, same workspace\n");
    println!(
        "| projects | mode | runs | tool | wall | CPU | peak RSS | requests (list + export + cells + \
         users/me) |"
    );
    println!("|---:|---|---:|---|---:|---:|---:|---|");
    for size in sizes {
        let mode = if size.throttled {
            "as shipped (DataHub 57/min, euno-host 30/min)"
        } else {
            "unthrottled (DataHub's limiter a no-op)"
        };
        for (tool, pick) in [
            (
                "DataHub",
                (|r: &Round| &r.datahub) as fn(&Round) -> &ToolRun,
            ),
            ("euno-host", |r: &Round| &r.euno),
        ] {
            let runs: Vec<&ToolRun> = size.rounds.iter().map(pick).collect();
            let Some(first) = runs.first() else { continue };
            let s = &first.sim;
            println!(
                "| {} | {mode} | {} | {tool} | {:.3} s | {:.3} s | {:.1} MiB | {} ({} + {} + {} + {}) |",
                size.projects,
                runs.len(),
                median(runs.iter().map(|r| r.cost.wall.as_secs_f64())),
                median(runs.iter().map(|r| r.cost.cpu.as_secs_f64())),
                median(runs.iter().map(|r| r.cost.max_rss_mib())),
                s.requests,
                s.project_list_requests,
                s.export_requests,
                s.cells_requests,
                s.users_me_requests,
            );
        }
    }
    println!("\nRatios, per round then median:\n");
    println!(
        "| projects | mode | wall DataHub / euno-host | CPU DataHub / euno-host | peak RSS euno-host / DataHub |"
    );
    println!("|---:|---|---:|---:|---:|");
    for size in sizes {
        let ratio = |f: fn(&Round) -> f64| median(size.rounds.iter().map(f));
        println!(
            "| {} | {} | {:.1}× | {:.1}× | {:.3} |",
            size.projects,
            if size.throttled {
                "as shipped"
            } else {
                "unthrottled"
            },
            ratio(|r| r.datahub.cost.wall.as_secs_f64() / r.euno.cost.wall.as_secs_f64()),
            ratio(|r| r.datahub.cost.cpu.as_secs_f64() / r.euno.cost.cpu.as_secs_f64()),
            ratio(|r| r.euno.cost.max_rss_mib() / r.datahub.cost.max_rss_mib()),
        );
    }
    if let Some(largest) = sizes
        .iter()
        .filter(|s| !s.throttled)
        .max_by_key(|s| s.projects)
    {
        let ratio = |f: fn(&Round) -> f64| median(largest.rounds.iter().map(f));
        let speed = ratio(|r| r.datahub.cost.wall.as_secs_f64() / r.euno.cost.wall.as_secs_f64());
        let memory = ratio(|r| r.euno.cost.max_rss_mib() / r.datahub.cost.max_rss_mib());
        println!(
            "\nTarget: on {} projects at least 50× faster than DataHub's source: {speed:.1}× → {}; \
             at most a fifth of its peak memory: {memory:.3} → {}\n",
            largest.projects,
            verdict(speed >= 50.0),
            verdict(memory <= 0.2)
        );
    }
}

/// The virtualenv under `target/bench-venv` with DataHub's Hex source, created on first use.
fn ensure_venv() -> anyhow::Result<PathBuf> {
    let target = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .context("the benchmark binary is not under target/")?
        .to_owned();
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    let has_datahub = || {
        Command::new(&python)
            .args(["-c", "import datahub.ingestion.source.hex.hex"])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if has_datahub() {
        return Ok(python);
    }
    let started = Instant::now();
    let system_python = ["python3.11", "python3"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok())
        .context("DataHub needs python3.11 or python3 on PATH")?;
    eprintln!(
        "  creating {} with {system_python} and installing {DATAHUB}…",
        venv.display()
    );
    let status = Command::new(system_python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?;
    if !status.success() {
        bail!("{system_python} -m venv {} failed", venv.display());
    }
    let output = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", DATAHUB])
        .output()?;
    if !output.status.success() || !has_datahub() {
        bail!(
            "pip install '{DATAHUB}' failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    eprintln!(
        "  installed {DATAHUB} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(python)
}

/// The recipe: the source type `hex` with the settings of issue 7, and a `file` sink.
fn write_recipe(dir: &Path, base_url: &str) -> anyhow::Result<PathBuf> {
    let recipe = serde_json::json!({
        "source": {
            "type": "hex",
            "config": {
                "token": TOKEN,
                "workspace_name": "bench-ws",
                "workspace_id": "bench-ws",
                "base_url": base_url,
                "page_size": 100,
                "include_components": true,
                "include_lineage": false,
                "use_queried_tables_lineage": false,
                "include_run_history": false,
                "include_context_documents": false,
                "patch_metadata": false,
                "stateful_ingestion": { "enabled": false },
            }
        },
        "sink": {
            "type": "file",
            "config": { "filename": dir.join("datahub-output.json") }
        }
    });
    let path = dir.join("recipe.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&recipe)?)?;
    Ok(path)
}
