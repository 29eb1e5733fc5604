//! `euno-bench`: the benchmarks of issue #7, each runnable alone, each printing its figures as
//! Markdown tables (the source of `BENCHMARKS.md`) and whether its target was met.
//!
//! ```sh
//! cargo build --release -p euno-host -p hex-sim -p euno-bench
//! target/release/euno-bench throughput   # 1; or memory (2), requests (3), rate-limit (4),
//!                                        # load (5), inventory [--postgres] (6), datahub (7),
//!                                        # breakdown, scale (8), lineage (9)
//! target/release/euno-bench all          # everything, as `just bench` does
//! ```
//!
//! `euno-host run`, `hex-sim` and DataHub run as child processes, measured from the outside (wall
//! time here; CPU time and peak RSS from `wait4`). No benchmark asserts a time, and none runs
//! under `cargo test`.

mod breakdown;
mod datahub;
mod floor;
mod host;
mod http;
mod inventory;
mod lineage;
mod load;
mod measure;
mod ratelimit;
mod report;
mod scale;
mod sim;
mod throughput;

use clap::{Parser, Subcommand};

/// Benchmarks of euno-host and the Hex connector.
#[derive(Debug, Parser)]
#[command(name = "euno-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// 1. Discovery throughput at 1k, 10k and 100k projects vs the raw-fetch floor.
    Throughput(Sizes),
    /// 2. Peak RSS of the 1k and the 100k runs.
    Memory(Sizes),
    /// 3. HTTP requests per discovery.
    Requests(Sizes),
    /// Benchmarks 1 to 3 from the same runs.
    Discovery(Sizes),
    /// Where the time of a discovery goes: floor, native connector, sandboxed connector, full run.
    Breakdown {
        /// Workspace size, in projects.
        #[arg(long, default_value_t = 100_000)]
        projects: usize,
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// 4. Rate limit: hex-sim at 600 requests a minute, 100 pages, vs the 10 s floor it sets.
    RateLimit {
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// 5. Component load: JIT compile vs the cached precompiled component; instantiation.
    Load {
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// 6. Inventory: upsert of 100k resources, then the cleanup diff of a run that drops 10%.
    Inventory {
        /// Resources in the first run.
        #[arg(long, default_value_t = 100_000)]
        resources: usize,
        /// Rounds; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// On a PostgreSQL inventory (a private cluster) instead of a SQLite file.
        #[arg(long)]
        postgres: bool,
    },
    /// Scale-out (8): sources of a shared schedule run by `serve` workers, SQLite with one
    /// worker against PostgreSQL with 1, 2 and 4.
    Scale {
        /// Sources, all due at once.
        #[arg(long, default_value_t = 200)]
        sources: usize,
        /// Projects in each source's workspace.
        #[arg(long, default_value_t = 1_000)]
        projects: usize,
        /// PostgreSQL worker counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        workers: Vec<usize>,
        /// Runs at once per worker.
        #[arg(long, default_value_t = 2)]
        max_parallel: usize,
    },
    /// 7. DataHub's Hex source vs euno-host on the same workspace (installs DataHub on first use).
    Datahub {
        /// Sizes run with DataHub's throttle a no-op, in projects.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        sizes: Vec<usize>,
        /// Rounds per size; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The size run as shipped, at the real rate limit (one round; 0 skips it).
        #[arg(long, default_value_t = 50)]
        shipped_projects: usize,
    },
    /// 9. Lineage: the requests and time of a first and a second run with `lineage = "changed"`,
    /// beside DataHub's requests for the same workspace.
    Lineage {
        /// Workspace sizes, in projects.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        sizes: Vec<usize>,
        /// Rounds per size; medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Also run DataHub 1.7.0.17 on each workspace (installs it under target/ on first use).
        #[arg(long)]
        datahub: bool,
    },
    /// Every benchmark, each in its own process, one after the other.
    All,
}

#[derive(Debug, clap::Args)]
struct Sizes {
    /// Workspace sizes, in projects.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// Rounds per size; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

impl Sizes {
    fn or(&self, default: &[usize]) -> Vec<usize> {
        self.sizes.clone().unwrap_or_else(|| default.to_vec())
    }
}

const ALL_SIZES: &[usize] = &[1_000, 10_000, 100_000];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Bench::Throughput(sizes) => {
            throughput::print_throughput(&throughput::measure(&sizes.or(ALL_SIZES), sizes.rounds)?);
        }
        Bench::Memory(sizes) => {
            let results = throughput::measure(&sizes.or(&[1_000, 100_000]), sizes.rounds)?;
            throughput::print_memory(&results);
        }
        Bench::Requests(sizes) => {
            throughput::print_requests(&throughput::measure(&sizes.or(ALL_SIZES), sizes.rounds)?);
        }
        Bench::Discovery(sizes) => {
            let results = throughput::measure(&sizes.or(ALL_SIZES), sizes.rounds)?;
            throughput::print_throughput(&results);
            throughput::print_memory(&results);
            throughput::print_requests(&results);
        }
        Bench::Breakdown { projects, rounds } => breakdown::run(projects, rounds)?,
        Bench::RateLimit { rounds } => ratelimit::run(rounds)?,
        Bench::Load { rounds } => load::run(rounds)?,
        Bench::Inventory {
            resources,
            rounds,
            postgres,
        } => inventory::run(resources, rounds, postgres)?,
        Bench::Scale {
            sources,
            projects,
            workers,
            max_parallel,
        } => scale::run(sources, projects, &workers, max_parallel)?,
        Bench::Datahub {
            sizes,
            rounds,
            shipped_projects,
        } => datahub::run(&sizes, rounds, shipped_projects)?,
        Bench::Lineage {
            sizes,
            rounds,
            datahub,
        } => lineage::run(&sizes, rounds, datahub)?,
        Bench::All => all()?,
    }
    Ok(())
}

/// Runs each benchmark as a child process of its own: this process stays small (Linux carries a
/// parent's peak RSS into a child's `ru_maxrss` across `exec`), and no benchmark inherits another's
/// heap or threads.
fn all() -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    print_machine();
    for bench in [
        "discovery",
        "breakdown",
        "rate-limit",
        "load",
        "inventory",
        "datahub",
        "lineage",
    ] {
        eprintln!("euno-bench {bench}");
        let status = std::process::Command::new(&me).arg(bench).status()?;
        if !status.success() {
            anyhow::bail!("euno-bench {bench} failed ({status})");
        }
    }
    Ok(())
}

/// The machine the figures come from.
fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, model)| model.trim());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .map_or_else(|| "unknown".to_owned(), |kib| kib.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("# euno-bench\n");
    println!(
        "Machine: {cores} cores ({model}), {memory} of memory; started {}.\n",
        jiff::Timestamp::now()
    );
}
