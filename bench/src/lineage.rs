//! Benchmark 9: lineage under the rate limit (issue 16). The Hex connector discovers a synthetic
//! workspace with lineage (data connections, SQL and component cells, runs) twice with
//! `lineage = "changed"`: the first run asks about every project, the second, with nothing edited
//! in between, only lists. Each run's requests are counted by kind by the simulator, its time is
//! measured unthrottled, and the time Hex's documented 30 requests a minute would impose is
//! computed from the requests (2 s each).
//!
//! Beside it, DataHub's requests for the same workspace: its release 1.7.0.17 run on the
//! simulator (benchmark 7's settings, where DataHub has the simulator's lineage to read), and its
//! newest code's requests computed from what it asks, as `../shared/hex-api-lineage.md` records
//! (export per edited project, runs per published project on every run).

use hex_sim::{EndpointStats, SimStats, Workspace};
use serde::Deserialize;

use crate::host::{self, HostRunner, ListFlags};
use crate::measure::median;
use crate::sim::{self, SEED, Sim};

/// The seconds one request costs at Hex's documented 30 requests a minute.
const SECONDS_PER_REQUEST_AT_30: f64 = 2.0;

/// One `euno-host run`'s figures.
struct Pass {
    wall: f64,
    list: SimStats,
    lineage: EndpointStats,
}

impl Pass {
    fn requests(&self) -> u64 {
        self.list.requests
    }
}

/// Both runs of one round.
struct Round {
    first: Pass,
    second: Pass,
}

/// What the workspace holds, for DataHub's computed requests.
struct Shape {
    listed: u64,
    published: u64,
}

/// Runs the benchmark at `sizes` (projects), `rounds` times each; DataHub is run too when
/// `datahub` is set (it installs DataHub under `target/` on first use).
pub fn run(sizes: &[usize], rounds: usize, datahub: bool) -> anyhow::Result<()> {
    let runner = HostRunner::new()?;
    println!(
        "## 9. Lineage under the rate limit: `lineage = \"changed\"`, a first and a second run\n"
    );
    println!(
        "| projects | run | requests | list pages | users/me | data connections | export | cells | \
         queried tables | runs | wall, unthrottled (median) | at 30 requests a minute |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut shapes = Vec::new();
    for &projects in sizes {
        let mut results = Vec::new();
        for round in 1..=rounds {
            let sim = Sim::spawn(projects, &[])?;
            let settings = host::settings(&sim.base_url(), ListFlags::DATAHUB, 0);
            runner.clear()?;
            let first = pass(&sim, || runner.run_again(&settings))?;
            let second = pass(&sim, || runner.run_again(&settings))?;
            eprintln!(
                "  {projects} projects, round {round}/{rounds}: first run {} requests in {:.3} s, \
                 second {} in {:.3} s",
                first.requests(),
                first.wall,
                second.requests(),
                second.wall
            );
            results.push(Round { first, second });
        }
        for (label, pick) in [
            ("first", (|r: &Round| &r.first) as fn(&Round) -> &Pass),
            ("second, nothing edited", |r: &Round| &r.second),
        ] {
            let passes: Vec<&Pass> = results.iter().map(pick).collect();
            let Some(p) = passes.first() else { continue };
            println!(
                "| {projects} | {label} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3} s | {} |",
                p.requests(),
                p.list.project_list_requests,
                p.list.users_me_requests,
                p.lineage.data_connection_list_requests,
                p.lineage.export_requests,
                p.lineage.cells_requests,
                p.lineage.queried_tables_requests,
                p.lineage.runs_requests,
                median(passes.iter().map(|p| p.wall)),
                at_30(p.requests()),
            );
        }
        shapes.push((projects, shape(projects)));
    }
    println!(
        "\nThe second run's floor is ⌈N/100⌉ list pages plus the data connections' page: \
         {}.\n",
        sizes
            .iter()
            .map(|n| format!("{} at {n}", n.div_ceil(100) + 1))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!(
        "DataHub's requests for the same workspaces (what it lists: components, not archived or trashed):\n"
    );
    println!(
        "| projects | DataHub | first run | second run | at 30 requests a minute (both runs) | how |"
    );
    println!("|---:|---|---:|---:|---:|---|");
    for (projects, shape) in &shapes {
        if datahub {
            let measured = crate::datahub::requests(*projects)?;
            println!(
                "| {projects} | 1.7.0.17 | {measured} | {measured} | {} + {} | measured: run on the \
                 simulator; no state between runs, so the second run asks the same |",
                at_30(measured),
                at_30(measured)
            );
        }
        let pages = shape.listed.div_ceil(100);
        let first = pages + shape.listed + shape.published;
        let second = pages + shape.published;
        println!(
            "| {projects} | newest (computed) | {first} | {second} | {} + {} | ⌈{}/100⌉ pages, an \
             export per listed project, runs of each of the {} published projects; the second \
             run skips the exports of unedited projects but not the runs |",
            at_30(first),
            at_30(second),
            shape.listed,
            shape.published
        );
    }
    Ok(())
}

/// One run of `run` against `sim`, its requests counted by kind.
fn pass(sim: &Sim, run: impl FnOnce() -> anyhow::Result<host::HostRun>) -> anyhow::Result<Pass> {
    let (list_before, lineage_before) = (sim.stats()?, endpoint_stats(sim)?);
    let result = run()?;
    Ok(Pass {
        wall: result.cost.wall.as_secs_f64(),
        list: sim::delta(&list_before, &sim.stats()?),
        lineage: endpoint_stats(sim)?.since(&lineage_before),
    })
}

/// The simulator's counts of the lineage endpoints.
fn endpoint_stats(sim: &Sim) -> anyhow::Result<EndpointStats> {
    #[derive(Deserialize)]
    struct Body {
        endpoints: EndpointStats,
    }
    Ok(serde_json::from_slice::<Body>(&sim.stats_body()?)?.endpoints)
}

/// What DataHub lists of the benchmark workspace of `projects` projects, and how many of those
/// are published: the same synthetic workspace `hex-sim` serves (same seed).
fn shape(projects: usize) -> Shape {
    let workspace = Workspace::synthetic(SEED, projects);
    let listed: Vec<_> = workspace
        .projects
        .iter()
        .filter(|p| !p.is_archived() && !p.is_trashed())
        .collect();
    Shape {
        listed: listed.len() as u64,
        published: listed
            .iter()
            .filter(|p| p.last_published_at.get().is_some())
            .count() as u64,
    }
}

/// `requests` at 30 a minute, in words.
fn at_30(requests: u64) -> String {
    let seconds = requests as f64 * SECONDS_PER_REQUEST_AT_30;
    if seconds >= 3600.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}
