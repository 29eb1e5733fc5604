//! Benchmarks 1–3: discovery throughput against the raw-fetch floor, peak memory, and the
//! requests a discovery costs.
//!
//! Each round fetches the listing with the floor client (both connection modes) and then runs
//! `euno-host run` over the same pages, against the same simulator, so every ratio compares
//! figures taken moments apart on the same (noisy, shared) machine.

use hex_sim::SimStats;

use crate::floor::{self, Connections, FloorRun};
use crate::host::{self, HostRun, HostRunner, ListFlags, TOKEN};
use crate::measure::{median, range};
use crate::report::{mib, secs};
use crate::sim::{self, Sim};

/// One round at one size.
pub struct Round {
    /// The floor over one keep-alive connection.
    pub floor: FloorRun,
    /// The floor with a new connection per request.
    pub floor_per_request: FloorRun,
    /// The discovery.
    pub host: HostRun,
    /// What the simulator counted during the discovery.
    pub sim: SimStats,
}

/// Every round at one size.
pub struct Size {
    /// Projects in the workspace (all listed: components, archived and trashed included).
    pub projects: usize,
    /// The rounds.
    pub rounds: Vec<Round>,
}

/// Runs `rounds` rounds at each of `sizes`.
pub fn measure(sizes: &[usize], rounds: usize) -> anyhow::Result<Vec<Size>> {
    let runner = HostRunner::new()?;
    let flags = ListFlags::ALL;
    let mut results = Vec::new();
    for &projects in sizes {
        let sim = Sim::spawn(projects, &[])?;
        let base_url = sim.base_url();
        let settings = host::settings(&base_url, flags, 0);
        let mut size = Size {
            projects,
            rounds: Vec::new(),
        };
        for round in 1..=rounds {
            let floor = floor::fetch_all(&base_url, TOKEN, &flags.query(), Connections::KeepAlive)?;
            let floor_per_request =
                floor::fetch_all(&base_url, TOKEN, &flags.query(), Connections::PerRequest)?;
            let before = sim.stats()?;
            let host = runner.run(&settings)?;
            let sim_stats = sim::delta(&before, &sim.stats()?);
            eprintln!(
                "  {projects} projects, round {round}/{rounds}: euno-host {} (cpu {}, {} MiB), \
                 floor {} / {} per-request",
                secs(host.cost.wall),
                secs(host.cost.cpu),
                mib(host.cost.max_rss_kib),
                secs(floor.wall),
                secs(floor_per_request.wall),
            );
            size.rounds.push(Round {
                floor,
                floor_per_request,
                host,
                sim: sim_stats,
            });
        }
        results.push(size);
    }
    Ok(results)
}

impl Size {
    fn median(&self, f: impl Fn(&Round) -> f64) -> f64 {
        median(self.rounds.iter().map(f))
    }

    fn range(&self, f: impl Fn(&Round) -> f64) -> (f64, f64) {
        range(self.rounds.iter().map(f))
    }
}

/// Prints benchmark 1.
pub fn print_throughput(sizes: &[Size]) {
    println!("## 1. Discovery throughput (median of rounds; ratios per round, then median)\n");
    println!(
        "| projects | rounds | euno-host wall | euno-host CPU | projects/s | floor wall (keep-alive) \
         | floor CPU | floor wall (conn/request) | ratio vs floor | ratio vs conn/request floor \
         | pages, MiB fetched |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for size in sizes {
        let wall = size.median(|r| r.host.cost.wall.as_secs_f64());
        let (lo, hi) = size.range(|r| r.host.cost.wall.as_secs_f64());
        println!(
            "| {} | {} | {wall:.3} s ({lo:.3}–{hi:.3}) | {:.3} s | {:.0} | {:.3} s | {:.3} s | {:.3} s \
             | {:.2}× | {:.2}× | {}, {:.1} |",
            size.projects,
            size.rounds.len(),
            size.median(|r| r.host.cost.cpu.as_secs_f64()),
            size.median(|r| r.host.emitted as f64 / r.host.cost.wall.as_secs_f64()),
            size.median(|r| r.floor.wall.as_secs_f64()),
            size.median(|r| r.floor.cpu.as_secs_f64()),
            size.median(|r| r.floor_per_request.wall.as_secs_f64()),
            size.median(|r| r.host.cost.wall.as_secs_f64() / r.floor.wall.as_secs_f64()),
            size.median(|r| r.host.cost.wall.as_secs_f64()
                / r.floor_per_request.wall.as_secs_f64()),
            size.rounds.first().map_or(0, |r| r.floor.pages),
            size.rounds.first().map_or(0, |r| r.floor.bytes) as f64 / (1 << 20) as f64,
        );
    }
    if let Some(largest) = sizes.iter().max_by_key(|s| s.projects) {
        let ratio = largest.median(|r| r.host.cost.wall.as_secs_f64() / r.floor.wall.as_secs_f64());
        println!(
            "\nTarget: {} projects within 2× the raw-fetch floor: {ratio:.2}× → {}\n",
            largest.projects,
            verdict(ratio <= 2.0)
        );
    }
}

/// Prints benchmark 2 from the same runs.
pub fn print_memory(sizes: &[Size]) {
    println!("## 2. Memory: peak RSS of `euno-host run` (median of rounds)\n");
    println!("| projects | peak RSS | range |");
    println!("|---:|---:|---:|");
    for size in sizes {
        let (lo, hi) = size.range(|r| r.host.cost.max_rss_kib as f64);
        println!(
            "| {} | {:.1} MiB | {:.1}–{:.1} MiB |",
            size.projects,
            size.median(|r| r.host.cost.max_rss_kib as f64) / 1024.0,
            lo / 1024.0,
            hi / 1024.0
        );
    }
    let smallest = sizes.iter().min_by_key(|s| s.projects);
    let largest = sizes.iter().max_by_key(|s| s.projects);
    if let (Some(small), Some(large)) = (smallest, largest)
        && small.projects != large.projects
    {
        let growth = (large.median(|r| r.host.cost.max_rss_kib as f64)
            - small.median(|r| r.host.cost.max_rss_kib as f64))
            / 1024.0;
        println!(
            "\nTarget: peak RSS at {} within 50 MB of the {} run: +{growth:.1} MiB → {}\n",
            large.projects,
            small.projects,
            verdict(growth * 1.048_576 <= 50.0)
        );
    }
}

/// Prints benchmark 3 from the same runs.
pub fn print_requests(sizes: &[Size]) {
    println!("## 3. API economy: HTTP requests per discovery\n");
    println!(
        "| projects | requests (connector) | requests (simulator) | list pages | floor ⌈N/100⌉ | 429s \
         | time they imply at 60/min | at the default 30/min |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut exact = true;
    for size in sizes {
        let Some(round) = size.rounds.first() else {
            continue;
        };
        let floor = size.projects.div_ceil(100).max(1) as u64;
        let requests = round.sim.requests;
        exact &= size.rounds.iter().all(|r| {
            r.sim.project_list_requests == floor
                && r.sim.requests <= floor + 1
                && r.host.requests == r.sim.requests
        });
        println!(
            "| {} | {} | {} | {} | {floor} | {} | {} | {} |",
            size.projects,
            round.host.requests,
            requests,
            round.sim.project_list_requests,
            round.sim.rate_limited,
            minutes(requests, 60),
            minutes(requests, 30),
        );
    }
    println!(
        "\nTarget: exactly ⌈N/100⌉ list pages plus at most one workspace call, in every round → {}\n",
        verdict(exact)
    );
}

/// `requests` at `per_minute`, as the minimum wall time it implies.
fn minutes(requests: u64, per_minute: u64) -> String {
    let seconds = requests as f64 * 60.0 / per_minute as f64;
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// "met" or "MISSED".
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
