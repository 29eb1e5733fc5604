//! Benchmark 4: a discovery under Hex's rate limit. `hex-sim` refuses more than 600 list requests
//! per minute (a fixed one-minute window, answering 429 with `Retry-After`), the workspace is 100
//! pages, and the source's `requests_per_minute` is set to that limit, as a user would: the floor
//! the limit sets is 100 requests at 10 a second, 10 s.
//!
//! For contrast it also runs the connector unthrottled against the same limit: because the
//! simulator's window is fixed, 100 requests fit in the first window and pass at once.

use crate::host::{self, HostRunner, ListFlags};
use crate::measure::{median, range};
use crate::sim::{self, Sim};
use crate::throughput::verdict;

/// The simulator's limit, requests per minute.
const LIMIT: u32 = 600;
/// Projects per page, and pages.
const PAGE: usize = 100;
const PAGES: usize = 100;

/// One run.
struct Sample {
    wall: f64,
    requests: u64,
    rate_limited: u64,
    succeeded: bool,
}

/// Runs `rounds` throttled runs (and one unthrottled) and prints the figures.
pub fn run(rounds: usize) -> anyhow::Result<()> {
    let runner = HostRunner::new()?;
    let floor = PAGES as f64 * 60.0 / f64::from(LIMIT);
    let mut throttled = Vec::new();
    for round in 1..=rounds {
        let sample = one(&runner, LIMIT)?;
        eprintln!(
            "  round {round}/{rounds}: {:.3} s, {} requests, {} answered 429",
            sample.wall, sample.requests, sample.rate_limited
        );
        throttled.push(sample);
    }
    let unthrottled = one(&runner, 0)?;

    println!(
        "## 4. Rate limit: hex-sim at {LIMIT} requests/minute, {PAGES} pages of {PAGE} projects\n"
    );
    println!(
        "| connector setting | runs | wall (median) | range | floor | ratio | requests | 429s | \
         failed runs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let walls = || throttled.iter().map(|s| s.wall);
    let (lo, hi) = range(walls());
    let wall = median(walls());
    let failed = throttled.iter().filter(|s| !s.succeeded).count();
    println!(
        "| `requests_per_minute = {LIMIT}` | {} | {wall:.3} s | {lo:.3}–{hi:.3} s | {floor:.1} s | \
         {:.3}× | {} | {} | {failed} |",
        throttled.len(),
        wall / floor,
        median(throttled.iter().map(|s| s.requests as f64)),
        throttled.iter().map(|s| s.rate_limited).sum::<u64>(),
    );
    println!(
        "| `requests_per_minute = 0` (unthrottled) | 1 | {:.3} s | | {floor:.1} s | {:.3}× | {} | \
         {} | {} |",
        unthrottled.wall,
        unthrottled.wall / floor,
        unthrottled.requests,
        unthrottled.rate_limited,
        usize::from(!unthrottled.succeeded)
    );
    println!(
        "\nTarget: the rate-limited run within 1.1× its floor with no failed run: {:.3}× with {failed} \
         failed → {}\n",
        wall / floor,
        verdict(wall / floor <= 1.1 && failed == 0)
    );
    println!(
        "The 429 column sums over all throttled runs. The unthrottled row is not the target: the \
         simulator's window is fixed, so {PAGES} requests pass within the first minute.\n"
    );
    Ok(())
}

fn one(runner: &HostRunner, requests_per_minute: u32) -> anyhow::Result<Sample> {
    // A fresh simulator per run, so each starts with a fresh window.
    let sim = Sim::spawn(
        PAGE * PAGES,
        &["--rate-limit-per-minute", &LIMIT.to_string()],
    )?;
    let settings = host::settings(&sim.base_url(), ListFlags::ALL, requests_per_minute);
    let before = sim.stats()?;
    let outcome = runner.run(&settings);
    let stats = sim::delta(&before, &sim.stats()?);
    let (wall, succeeded) = match &outcome {
        Ok(run) => (run.cost.wall.as_secs_f64(), true),
        Err(error) => {
            eprintln!("  the run failed: {error:#}");
            (f64::NAN, false)
        }
    };
    Ok(Sample {
        wall,
        requests: stats.requests,
        rate_limited: stats.rate_limited,
        succeeded,
    })
}
