//! Benchmark 6: the inventory alone. A run that stages and merges 100k resources into an empty
//! inventory, then a run that reports 90% of them, whose merge finds the rest unchanged and
//! whose cleanup drops the 10% it no longer saw.
//!
//! Resources look like the Hex connector's projects: about 930 bytes of properties each, in
//! batches of 100 (one page). They are given as a connector emits them (typed properties) and
//! staged the way `euno-host run`'s writer does, so the measured staging includes rendering the
//! properties as stored JSON.

use std::time::{Duration, Instant};

use euno_host::contract::{Property, PropertyValue, Resource};
use euno_host::inventory::{CleanupPolicy, ConnectorIdentity, Database, Inventory};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::measure::{median, range};

/// Picks one figure of a sample.
type Pick = fn(&Sample) -> Duration;

/// The timings of one pair of runs.
struct Sample {
    stage_full: Duration,
    merge_full: Duration,
    stage_partial: Duration,
    merge_partial: Duration,
    removed: u64,
    unchanged: u64,
}

/// Runs `rounds` rounds of the two runs at `resources` resources and prints the figures; with
/// `postgres`, on a PostgreSQL inventory (a private cluster, a new database each round) instead
/// of a SQLite file.
pub fn run(resources: usize, rounds: usize, postgres: bool) -> anyhow::Result<()> {
    let cluster = if postgres {
        Some(
            testkit::postgres::PgCluster::start()?
                .ok_or_else(|| anyhow::anyhow!("no PostgreSQL server binaries on this machine"))?,
        )
    } else {
        None
    };
    let all: Vec<Resource> = (0..resources).map(resource).collect();
    // Every tenth resource is gone in the second run.
    let kept: Vec<Resource> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 3)
        .map(|(_, r)| r.clone())
        .collect();
    let kept_len = kept.len();
    let mut samples = Vec::new();
    for round in 1..=rounds {
        let dir = tempfile::tempdir()?;
        let database = match &cluster {
            Some(cluster) => {
                Database::Postgres(cluster.create_database(&format!("bench_{round}"))?)
            }
            None => Database::Sqlite(dir.path().join("inventory.sqlite3")),
        };
        let mut inventory = Inventory::open(&database)?;
        // Staging consumes what it is given, as the run's writer does: a fresh copy per round.
        let (stage_full, merge_full, _, _) = one_run(&mut inventory, all.clone(), 0)?;
        let (stage_partial, merge_partial, removed, unchanged) =
            one_run(&mut inventory, kept.clone(), 1)?;
        eprintln!(
            "  round {round}/{rounds}: {resources} staged {:.3} s, merged {:.3} s; {} staged \
             {:.3} s, merged with cleanup {:.3} s ({unchanged} unchanged, {removed} removed)",
            stage_full.as_secs_f64(),
            merge_full.as_secs_f64(),
            kept_len,
            stage_partial.as_secs_f64(),
            merge_partial.as_secs_f64(),
        );
        samples.push(Sample {
            stage_full,
            merge_full,
            stage_partial,
            merge_partial,
            removed,
            unchanged,
        });
    }
    let med = |f: Pick| median(samples.iter().map(|s| f(s).as_secs_f64()));
    let spread = |f: Pick| range(samples.iter().map(|s| f(s).as_secs_f64()));
    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    println!(
        "## 6. Inventory ({backend}): {resources} resources, then a run that drops 10% (median of \
         {rounds})\n"
    );
    println!("| step | median | range |");
    println!("|---|---:|---:|");
    let rows: [(&str, Pick); 6] = [
        ("run 1: stage 100% in batches of 100", |s| s.stage_full),
        ("run 1: merge (all added)", |s| s.merge_full),
        ("run 2: stage 90%", |s| s.stage_partial),
        (
            "run 2: merge + cleanup diff (90% unchanged, 10% removed)",
            |s| s.merge_partial,
        ),
        ("merges only: run 1 + run 2", |s| {
            s.merge_full + s.merge_partial
        }),
        ("total: both runs, staging and merges", |s| {
            s.stage_full + s.merge_full + s.stage_partial + s.merge_partial
        }),
    ];
    for (label, f) in rows {
        let (lo, hi) = spread(f);
        println!("| {label} | {:.3} s | {lo:.3}–{hi:.3} s |", med(f));
    }
    let total = med(|s| s.stage_full + s.merge_full + s.stage_partial + s.merge_partial);
    let merges = med(|s| s.merge_full + s.merge_partial);
    if let Some(sample) = samples.first() {
        println!(
            "\nSecond run: {} unchanged, {} removed.",
            sample.unchanged, sample.removed
        );
    }
    println!(
        "\nTarget: upsert of {resources} resources plus the cleanup run under 2 s: {total:.3} s with \
         staging → {}; {merges:.3} s for the two merges alone → {}\n",
        crate::throughput::verdict(total < 2.0),
        crate::throughput::verdict(merges < 2.0)
    );
    Ok(())
}

/// Stages `resources` in batches of 100 and completes the run; returns the stage and merge times
/// and what the merge removed and found unchanged.
fn one_run(
    inventory: &mut Inventory,
    resources: Vec<Resource>,
    day: i64,
) -> anyhow::Result<(Duration, Duration, u64, u64)> {
    let identity = ConnectorIdentity {
        id: "hex".to_owned(),
        version: "bench".to_owned(),
        digest: "bench".to_owned(),
    };
    let started_at = Timestamp::from_second(1_790_000_000 + day * 86_400)?;
    let run = inventory.begin_run("bench", &identity, started_at)?;
    let clock = Instant::now();
    let mut resources = resources.into_iter();
    loop {
        let batch: Vec<_> = resources
            .by_ref()
            .take(100)
            .map(euno_host::run::to_new_resource)
            .collect();
        if batch.is_empty() {
            break;
        }
        inventory.stage(run, &batch)?;
    }
    let staged = clock.elapsed();
    let clock = Instant::now();
    let summary = inventory.complete_run(run, started_at, &CleanupPolicy::default(), false)?;
    Ok((staged, clock.elapsed(), summary.removed, summary.unchanged))
}

/// The `i`-th resource: a Hex-project-shaped record with a random-looking id, typed as the
/// connector emits it (timestamps as instants).
fn resource(i: usize) -> Resource {
    let id = uuid_like(i as u64);
    let properties = json!({
        "activity_status": if i.is_multiple_of(3) { "active" } else { "inactive" },
        "archived_at": null,
        "categories": ["Finance", "Quarterly"],
        "collections": ["Company KPIs"],
        "created_at": "2026-10-08T05:32:52.807Z",
        "creator": "dennis.ritchie@acme-analytics.example",
        "description": format!("Quarterly business review {i}. Ask in #analytics before changing the queries."),
        "external_links": [format!("https://app.hex.tech/bench-ws/hex/{id}")],
        "has_enabled_schedule": i.is_multiple_of(5),
        "impressions_14d": i % 17,
        "impressions_30d": i % 31,
        "impressions_7d": i % 7,
        "impressions_all_time": i % 1000,
        "is_published": i.is_multiple_of(4),
        "last_viewed_at": "2026-10-11T08:58:42.407Z",
        "name": format!("Project {i}"),
        "native_id": id,
        "native_owners": ["dennis.ritchie@acme-analytics.example"],
        "owner": "dennis.ritchie@acme-analytics.example",
        "project_type": "PROJECT",
        "public_web_access": "NONE",
        "published_at": null,
        "published_results_updated_at": null,
        "reviews_required": false,
        "schedule_cadences": [],
        "status": "In development",
        "tags": [],
        "trashed_at": null,
        "updated_at": "2026-10-11T06:36:36.704Z",
        "workspace_access": "NONE",
    });
    let Value::Object(properties) = properties else {
        unreachable!("a JSON object literal")
    };
    Resource {
        uri: format!("hex.bench-ws.{id}"),
        resource_type: "hex_project".to_owned(),
        name: format!("Project {i}"),
        parent_uri: Some("hex.bench-ws".to_owned()),
        native_id: Some(id),
        properties: properties
            .into_iter()
            .map(|(name, value)| Property {
                value: typed(&name, value),
                name,
            })
            .collect(),
        relations: euno_host::contract::Relations::default(),
    }
}

/// A JSON value of [`resource`]'s literal as the typed property a connector would emit.
fn typed(name: &str, value: Value) -> PropertyValue {
    match value {
        Value::Null => PropertyValue::Null,
        Value::Bool(b) => PropertyValue::Boolean(b),
        Value::Number(n) => PropertyValue::Integer(n.as_i64().unwrap_or_default()),
        Value::String(text) if name.ends_with("_at") => text
            .parse::<Timestamp>()
            .map_or(PropertyValue::Text(text), |at| {
                PropertyValue::Timestamp(at.as_millisecond())
            }),
        Value::String(text) => PropertyValue::Text(text),
        Value::Array(items) => PropertyValue::TextList(
            items
                .into_iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::Object(_) => PropertyValue::Null,
    }
}

/// A UUID-shaped, well-mixed id (SplitMix64 of `i`), so URIs arrive in no particular order.
fn uuid_like(i: u64) -> String {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let a = mix(i.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1));
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}
