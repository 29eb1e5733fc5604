//! Where the time of a discovery goes, from the floor up to the full `euno-host run`:
//!
//! 1. the raw-fetch floor (fetch only);
//! 2. the connector's own code compiled natively (`hex-connector` as a Rust library: pagination,
//!    JSON parsing into its model, mapping), run by the SDK's harness against the simulator
//!    (`Harness::live`: one kept connection per origin, resources kept in memory): what the
//!    connector's work costs without a sandbox;
//! 3. the connector as a component in the host's sandbox (`Runtime::discover` in this process,
//!    `wasi:http`, the lift of every batch into the host), batches dropped on arrival;
//! 4. `euno-host run`: plus the host's checks and conversion, the inventory and the merge.

use std::path::Path;
use std::time::{Duration, Instant};

use euno_host::connectors::load_bundled;
use euno_host::contract::{LogLevel, Resource, RunContext};
use euno_host::run::{resolve, sandbox_for};
use euno_host::sandbox::{EmitError, Observer, Runtime};
use euno_host::source::SourceFile;

use euno_connector_sdk::testing::Harness;
use euno_connector_sdk::types::SettingValue as SdkValue;
use euno_host::contract::SettingValue;

use crate::floor::{self, Connections};
use crate::host::{self, HostRunner, ListFlags, TOKEN};
use crate::measure::median;
use crate::sim::Sim;

/// Counts what it is given and keeps nothing.
struct Discard;

impl Observer for Discard {
    fn emit(&mut self, batch: Vec<Resource>) -> Result<(), EmitError> {
        drop(batch);
        Ok(())
    }

    fn log(&mut self, _level: LogLevel, _message: String) {}

    fn progress(&mut self, _done: u64, _total: Option<u64>) {}
}

/// Runs `rounds` rounds at `projects` and prints the breakdown.
pub fn run(projects: usize, rounds: usize) -> anyhow::Result<()> {
    let sim = Sim::spawn(projects, &[])?;
    let base_url = sim.base_url();
    let flags = ListFlags::ALL;
    let settings = host::settings(&base_url, flags, 0);
    let source_text = format!(
        "name = \"bench\"\nconnector = \"hex\"\n\n[secrets]\napi_token = \"{TOKEN}\"\n\n[settings]\n{settings}"
    );
    let file = SourceFile::parse(Path::new("bench-source.toml"), &source_text)?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let runtime = Runtime::new(None)?;
    let connector = tokio.block_on(load_bundled(&runtime))?;
    let source = resolve(&file, &connector)?;
    let host_runner = HostRunner::new()?;

    let native_config: Vec<(String, SdkValue)> = source
        .config
        .iter()
        .map(|entry| {
            let value = match entry.value.clone() {
                SettingValue::Text(text) => SdkValue::Text(text),
                SettingValue::Integer(i) => SdkValue::Integer(i),
                SettingValue::Boolean(b) => SdkValue::Boolean(b),
                SettingValue::TextList(items) => SdkValue::TextList(items),
            };
            (entry.name.clone(), value)
        })
        .collect();
    let (mut floor_walls, mut native_walls, mut guest_walls, mut guest_cpus, mut host_walls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let floor = floor::fetch_all(&base_url, TOKEN, &flags.query(), Connections::KeepAlive)?;
        let mut harness = Harness::<hex_connector::Hex>::new();
        harness
            .live()
            .secret("api_token", TOKEN)
            .started_at(1_700_000_000_000);
        for (name, value) in &native_config {
            harness.setting(name, value.clone());
        }
        let started = Instant::now();
        let native = harness
            .discover()
            .map_err(|error| anyhow::anyhow!("the native connector failed: {error:?}"))?;
        let native_wall = started.elapsed();
        drop(harness);
        let context = RunContext {
            run_id: round.to_string(),
            source_name: source.name.clone(),
            started_at: 1_700_000_000_000,
            checkpoint: None,
            last_success_at: None,
        };
        let cpu_before = process_cpu();
        let started = Instant::now();
        let summary = tokio.block_on(runtime.discover(
            &connector,
            sandbox_for(&file, &source),
            Box::new(Discard),
            source.config.clone(),
            context,
        ))?;
        let guest_wall = started.elapsed();
        let guest_cpu = process_cpu().saturating_sub(cpu_before);
        let host = host_runner.run(&settings)?;
        eprintln!(
            "  round {round}/{rounds}: floor {:.3} s, native connector {:.3} s ({} resources), \
             connector in the sandbox {:.3} s (cpu {:.3} s, {} resources), euno-host run {:.3} s",
            floor.wall.as_secs_f64(),
            native_wall.as_secs_f64(),
            native.emitted,
            guest_wall.as_secs_f64(),
            guest_cpu.as_secs_f64(),
            summary.emitted,
            host.cost.wall.as_secs_f64()
        );
        floor_walls.push(floor.wall.as_secs_f64());
        native_walls.push(native_wall.as_secs_f64());
        guest_walls.push(guest_wall.as_secs_f64());
        guest_cpus.push(guest_cpu.as_secs_f64());
        host_walls.push(host.cost.wall.as_secs_f64());
    }
    println!("## Breakdown at {projects} projects (median of {rounds} rounds)\n");
    println!("| stage | wall | CPU |");
    println!("|---|---:|---:|");
    println!(
        "| raw-fetch floor (keep-alive) | {:.3} s | |",
        median(floor_walls)
    );
    println!(
        "| the connector's code compiled natively (keep-alive HTTP, parse, map), batches dropped \
         | {:.3} s | |",
        median(native_walls)
    );
    println!(
        "| the connector in the sandbox (`wasi:http`, parse, map, lift into the host), batches \
         dropped | {:.3} s | {:.3} s |",
        median(guest_walls),
        median(guest_cpus)
    );
    println!(
        "| `euno-host run` end to end | {:.3} s | |\n",
        median(host_walls)
    );
    Ok(())
}

/// CPU time (user plus system) of this whole process so far.
fn process_cpu() -> Duration {
    // SAFETY: plain old data, filled by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for writes.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |tv: libc::timeval| {
        Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
